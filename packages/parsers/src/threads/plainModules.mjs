// Module hooks of a parser thread run from the sources (registered by `boot.mjs` after tsx's): the
// ES modules of installed packages (`node_modules`) and `data:` modules load as Node loads them,
// without tsx's transform and without their source maps. tsx is for our `.ts` files; through it,
// pdf.js (a 1 MB module, its 2.4 MB worker code and their source maps) alone took ~300 MiB more of
// the thread's memory. Stack traces inside those packages then show their own lines.
import { readFile } from "node:fs/promises"
import { fileURLToPath } from "node:url"

const SOURCE_MAP_COMMENT = /\n\/\/# sourceMappingURL=\S+\s*$/
const DATA_MODULE = "data:text/javascript;base64,"

/** @type {import("node:module").LoadHook} */
export const load = async (url, context, nextLoad) => {
  if (url.startsWith("file:") && url.includes("/node_modules/") && (context.format === "module" || url.endsWith(".mjs"))) {
    const source = await readFile(fileURLToPath(url), "utf8")
    return { format: "module", source: source.replace(SOURCE_MAP_COMMENT, "\n"), shortCircuit: true }
  }
  if (url.startsWith(DATA_MODULE)) {
    const source = Buffer.from(url.slice(DATA_MODULE.length), "base64").toString("utf8")
    return { format: "module", source: source.replace(SOURCE_MAP_COMMENT, "\n"), shortCircuit: true }
  }
  return nextLoad(url, context)
}
