/**
 * What importing `@ragkit/adapters` costs a host: the root entry and `/openai` load none of the
 * optional peers (onnxruntime-node, @huggingface/tokenizers, the GloVe weights) nor any store or
 * parser library; the ONNX plugin imports its peers when its first model opens (the control: the
 * same check sees them then).
 */
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { heavy, loadedBy, matching } from "../../../test/support/importCost.js"

const packageDir = fileURLToPath(new URL("..", import.meta.url))
const embedderFolder = fileURLToPath(new URL("./fixtures/tiny-bert-embedder", import.meta.url))
const everyHeavy = Object.values(heavy)

describe("importing @ragkit/adapters", () => {
  it("the root entry (every plugin's namespace) loads no heavy or native package", async () => {
    const loaded = await loadedBy(packageDir, `const adapters = await import("@ragkit/adapters")
if (typeof adapters.OnnxModels.layer !== "function" || typeof adapters.BuiltinModels.layer !== "function") throw new Error("no plugins")`)
    expect(loaded.some((url) => url.includes("packages/adapters/src/onnx/OnnxSession.ts"))).toBe(true)
    expect(matching(loaded, everyHeavy)).toEqual([])
  }, 60_000)

  it("/openai loads no heavy or native package", async () => {
    const loaded = await loadedBy(packageDir, `const { OpenAiModels } = await import("@ragkit/adapters/openai")
if (typeof OpenAiModels.make !== "function") throw new Error("no OpenAiModels")`)
    expect(loaded.some((url) => url.includes("packages/adapters/src/openai/index.ts"))).toBe(true)
    expect(matching(loaded, everyHeavy)).toEqual([])
  }, 60_000)

  it("/onnx loads onnxruntime-node and the tokenizers when a model opens (the check sees them)", async () => {
    const loaded = await loadedBy(packageDir, `const { SentenceEmbedder } = await import("@ragkit/adapters/onnx")
const { Effect } = await import("effect")
await Effect.runPromise(Effect.scoped(Effect.flatMap(SentenceEmbedder.make({ folder: ${JSON.stringify(embedderFolder)} }), (e) => e.embedQuery("hello"))))`)
    expect(matching(loaded, [heavy.onnxruntime])).not.toEqual([])
    expect(matching(loaded, [heavy.hfTokenizers])).not.toEqual([])
  }, 60_000)
})
