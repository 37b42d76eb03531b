import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Embedder } from "@ragkit/core"
import { Effect, Layer } from "effect"
import { InferenceSession } from "onnxruntime-node"
import { GloveEmbedder, GloveModel } from "../../src/builtin/index.js"

const tempDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "ragkit-glove-" }))

const mtime = (file: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.stat(file)).pipe(
    Effect.map((info) => info.mtime.pipe((m) => (m._tag === "Some" ? m.value.getTime() : -1)))
  )

/** Builds the embedder layer in a scope of its own and embeds one text. */
const buildLayerOnce = (cacheDir: string) =>
  Effect.scoped(
    Effect.gen(function*() {
      const context = yield* Layer.build(GloveEmbedder.layer({ cacheDir }))
      const embedder = yield* Effect.provide(Embedder.Embedder, context)
      return yield* embedder.embedQuery("the immune system fights infection")
    })
  )

/** Plain JS: the weighted mean of the rows, L2-normalised. */
const reference = (vectors: GloveModel.GloveVectors, bag: GloveEmbedder.Bag): Array<number> => {
  const d = vectors.dimensions
  const mean = new Array<number>(d).fill(0)
  const total = bag.weights.reduce((s, w) => s + w, 0)
  bag.ids.forEach((id, i) => {
    for (let k = 0; k < d; k++) mean[k]! += (bag.weights[i]! * vectors.matrix[id * d + k]!) / total
  })
  const norm = Math.sqrt(mean.reduce((s, x) => s + x * x, 0))
  return norm === 0 ? mean : mean.map((x) => x / norm)
}

describe("GloveModel", () => {
  it.scoped("the ONNX graph equals a plain JS weighted mean + L2 normalisation (within 1e-6)", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempDir
      const files = yield* GloveModel.ensure({ cacheDir })
      const vectors = yield* GloveModel.readWinkVectors
      expect(files.words.length).toBe(vectors.words.length)
      expect(files.words.join("\n") === vectors.words.join("\n")).toBe(true)
      expect(vectors.words.length).toBeGreaterThan(300_000)
      const session = yield* Effect.acquireRelease(
        Effect.promise(() => InferenceSession.create(files.modelPath)),
        (s) => Effect.promise(() => s.release())
      )
      const featurizer = GloveEmbedder.makeFeaturizer(files.words)
      const texts = [
        "The cat sat on the mat.",
        "Vitamin D deficiency increases the risk of respiratory infections in children.",
        "stock market prices fell",
        "kitten",
        "🚀 检索"
      ]
      const bags = texts.map(featurizer.bag)
      // a hand-made bag with repeated rows, uneven weights and row 0 (also the padding row)
      bags.push({ ids: [0, 5_000, 5_000, 300_000], weights: [0.5, 2, 1, 0.25] })
      const output = yield* Effect.promise(() => session.run(GloveEmbedder.batchInput(bags)))
      const data = output["embeddings"]!.data as Float32Array
      expect(output["embeddings"]!.dims).toEqual([bags.length, 100])
      bags.forEach((bag, i) => {
        const expected = reference(vectors, bag)
        const actual = Array.from(data.subarray(i * 100, (i + 1) * 100))
        const diff = Math.max(...actual.map((x, k) => Math.abs(x - expected[k]!)))
        expect(diff, `text ${i}`).toBeLessThanOrEqual(1e-6)
      })
      expect(bags[4]!.ids).toEqual([])
      expect(Array.from(data.subarray(400, 500)).every((x) => x === 0)).toBe(true)
    }).pipe(Effect.provide(NodeContext.layer)), 120_000)

  it.scoped("writes the cache once, reuses it, and rebuilds a truncated, corrupt or outdated one", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const cacheDir = yield* tempDir
      const modelPath = path.join(cacheDir, "glove-100d", "model.onnx")
      const vocabPath = path.join(cacheDir, "glove-100d", "vocab.json")

      const first = yield* buildLayerOnce(cacheDir)
      const size = Number((yield* fs.stat(modelPath)).size)
      const [modelTime, vocabTime] = [yield* mtime(modelPath), yield* mtime(vocabPath)]
      expect(size).toBeGreaterThan(100_000_000)
      expect((yield* fs.readDirectory(path.join(cacheDir, "glove-100d"))).sort()).toEqual(["model.onnx", "vocab.json"])

      // a second layer build loads the cache: files untouched, same vectors
      const second = yield* buildLayerOnce(cacheDir)
      expect(yield* mtime(modelPath)).toBe(modelTime)
      expect(yield* mtime(vocabPath)).toBe(vocabTime)
      expect(second).toEqual(first)
      expect((yield* GloveModel.ensure({ cacheDir })).built).toBe(false)

      // truncated model (an interrupted copy): rebuilt
      const bytes = yield* fs.readFile(modelPath)
      yield* fs.writeFile(modelPath, bytes.subarray(0, 1_000_000))
      expect(yield* buildLayerOnce(cacheDir)).toEqual(first)
      expect(Number((yield* fs.stat(modelPath)).size)).toBe(size)

      // same size but garbage: onnxruntime refuses it, and the layer rebuilds it once
      yield* fs.writeFile(modelPath, new Uint8Array(size).fill(7))
      expect(yield* buildLayerOnce(cacheDir)).toEqual(first)

      // unreadable vocab.json, or one stamped by another builder: rebuilt
      yield* fs.writeFileString(vocabPath, "{\"stamp\":")
      expect((yield* GloveModel.ensure({ cacheDir })).built).toBe(true)
      const vocab = JSON.parse(yield* fs.readFileString(vocabPath)) as Record<string, unknown>
      yield* fs.writeFileString(vocabPath, JSON.stringify({ ...vocab, stamp: "an older builder" }))
      expect((yield* GloveModel.ensure({ cacheDir })).built).toBe(true)
      expect((yield* GloveModel.ensure({ cacheDir })).built).toBe(false)
    }).pipe(Effect.provide(NodeContext.layer)), 240_000)
})
