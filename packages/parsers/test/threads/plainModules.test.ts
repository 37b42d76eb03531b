import { describe, expect, it } from "@effect/vitest"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
// @ts-expect-error -- a JavaScript module without declarations for the test's TypeScript
import { load } from "../../src/threads/plainModules.mjs"

type Next = (url: string, context: { format?: string }) => Promise<unknown>

describe("parser thread module hooks (run from the sources)", () => {
  it("loads installed ES modules and data: modules without tsx, their source maps dropped; leaves the rest to tsx", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ragkit-plain-modules-"))
    try {
      mkdirSync(join(dir, "node_modules", "pkg"), { recursive: true })
      const file = join(dir, "node_modules", "pkg", "index.js")
      writeFileSync(file, "export const x = 1\n//# sourceMappingURL=index.js.map\n")
      const passed: Array<string> = []
      const next: Next = async (url) => {
        passed.push(url)
        return { format: "module", source: "from tsx" }
      }
      const url = pathToFileURL(file).href
      expect(await load(url, { format: "module" }, next)).toEqual({ format: "module", source: "export const x = 1\n", shortCircuit: true })
      const data = `data:text/javascript;base64,${Buffer.from("export default 2\n//# sourceMappingURL=w.mjs.map").toString("base64")}`
      expect(await load(data, {}, next)).toEqual({ format: "module", source: "export default 2\n", shortCircuit: true })
      expect(passed).toEqual([])
      // CommonJS of a package, and our own TypeScript: tsx's
      const ours = pathToFileURL(join(dir, "src", "thread.ts")).href
      expect(await load(url, { format: "commonjs" }, next)).toEqual({ format: "module", source: "from tsx" })
      expect(await load(ours, {}, next)).toEqual({ format: "module", source: "from tsx" })
      expect(passed).toEqual([url, ours])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
