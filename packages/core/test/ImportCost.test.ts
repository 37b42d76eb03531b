/**
 * What importing `@ragkit/core` costs a host: none of the heavy or native packages (jieba's binary,
 * tiktoken's WebAssembly, onnxruntime, PGlite, LanceDB) is loaded until it is used.
 *
 * A plain `node` process imports the package (its sources, through tsx) with a loader hook that logs
 * every module the ESM loader resolves, and then lists the CommonJS modules it required
 * (`test/support/importCost.ts`). The second case is the control: counting tokens does load
 * tiktoken, and the same check sees it.
 */
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { heavy, loadedBy, matching } from "../../../test/support/importCost.js"

const packageDir = fileURLToPath(new URL("..", import.meta.url))
const notAtImport = [heavy.tiktoken, heavy.jieba, heavy.onnxruntime, heavy.pglite, heavy.lancedb]

describe("importing @ragkit/core", () => {
  it("loads no heavy or native package", async () => {
    const loaded = await loadedBy(packageDir, `const core = await import("@ragkit/core"); if (typeof core.Tokenizer.layer !== "object") throw new Error("no Tokenizer")`)
    expect(loaded.some((url) => url.includes("packages/core/src/index.ts"))).toBe(true)
    expect(matching(loaded, notAtImport)).toEqual([])
  }, 60_000)

  it("loads tiktoken on the first count, and jieba on the first Chinese text (the check sees them)", async () => {
    const loaded = await loadedBy(packageDir, `const { Tokenizer } = await import("@ragkit/core")
const { Effect } = await import("effect")
await Effect.runPromise(Effect.scoped(Effect.map(Tokenizer.make, (t) => [t.countTokens("hello world"), t.tokenize("中文分词")])))`)
    expect(matching(loaded, [heavy.tiktoken])).not.toEqual([])
    expect(matching(loaded, [heavy.jieba])).not.toEqual([])
  }, 60_000)
})
