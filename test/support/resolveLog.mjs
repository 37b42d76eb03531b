// A module hook (registered with `module.register`) that appends every URL the ESM loader resolves
// to the file named by RAGKIT_RESOLVE_LOG: what an import pulled in, for the `ImportCost.test.ts` of each package (through `importCost.ts`).
import { appendFileSync } from "node:fs"

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context)
  if (process.env.RAGKIT_RESOLVE_LOG) appendFileSync(process.env.RAGKIT_RESOLVE_LOG, `${resolved.url}\n`)
  return resolved
}
