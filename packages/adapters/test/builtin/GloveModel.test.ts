import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Embedder } from "@ragkit/core"
import { Effect, Layer } from "effect"
import { readFileSync } from "node:fs"
import { GloveEmbedder, GloveModel } from "../../src/builtin/index.js"
import { makeWinkReader } from "../../src/builtin/internal/winkJson.js"

const tempDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "ragkit-glove-" }))

const mtime = (file: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.stat(file)).pipe(
    Effect.map((info) => info.mtime.pipe((m) => (m._tag === "Some" ? m.value.getTime() : -1)))
  )

/** Float64 throughout: the weighted mean of the rows, L2-normalised (zeros for no rows). */
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

const maxDifference = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((max, x, k) => Math.max(max, Math.abs(x - b[k]!)), 0)

/** Some 200 SciFact sentences, and texts with nothing GloVe knows. */
const sampleTexts = () => {
  const docs = readFileSync("/work/shared/datasets/scifact/corpus.jsonl", "utf8").split("\n").filter((l) => l.trim() !== "")
    .slice(0, 400).map((l) => JSON.parse(l) as { title: string; text: string })
  const sentences = docs.flatMap((d) => [d.title, ...d.text.split(/(?<=[.!?])\s+/)]).filter((_, i) => i % 20 === 0)
  return [...sentences, "", "🚀 检索", "12345 67.8", "Don't stop: TNF-α, IL-1β & café!", "the the the"]
}

/** Feeds a JSON text to the wink reader in pieces of `size` bytes. */
const readWink = (json: string, size: number) => {
  const reader = makeWinkReader()
  const bytes = new TextEncoder().encode(json)
  for (let i = 0; i < bytes.length; i += size) reader.push(bytes.subarray(i, i + size))
  return reader.end()
}

describe("wink JSON reader", () => {
  const json = JSON.stringify({
    precision: 8,
    dimensions: 2,
    meta: { words: ["not", "these"], vectors: { x: [9, 9] } },
    words: ["vectors", "caf\u00e9", "quote\"back\\slash", "\u2603 snow\nline"],
    vectors: {
      "quote\"back\\slash": [-1.5e-7, 2.25, 3, 2],
      vectors: [0.1, -0.2, 0.2236, 0],
      "\u2603 snow\nline": [12345678.125, 0, 1, 3],
      "caf\u00e9": [1e3, 4e-7, 0.5, 1]
    },
    unkVector: [0, 0, -1]
  }, null, 1).replaceAll("caf\u00e9", "caf\\u00e9")

  it("keeps `dimensions`, `words` and the first components of each vector in row order, at any chunk size", () => {
    for (const size of [1, 2, 3, 7, 64, 1 << 20]) {
      const wink = readWink(json, size)
      expect(wink.dimensions).toBe(2)
      expect(wink.words).toEqual(["vectors", "café", "quote\"back\\slash", "☃ snow\nline"])
      expect(Array.from(wink.matrix)).toEqual(
        [0.1, -0.2, 1e3, 4e-7, -1.5e-7, 2.25, 12345678.125, 0].map(Math.fround)
      )
    }
  })

  it("refuses a truncated file, a word without a vector and a vector without a word", () => {
    expect(() => readWink(json.slice(0, -2), 5)).toThrow(/ends early/)
    expect(json).toContain(`"caf\\u00e9": [`)
    expect(() => readWink(json.replace(/"caf\\u00e9": \[[^\]]*\],?/, ""), 5)).toThrow(/no vector for "café"/)
    expect(() => readWink(json.replace(`"vectors": [`, `"vector": [`), 5)).toThrow(/"vector", which `words` lacks/)
    expect(() => readWink(json.replace("-0.2", "-0.2x"), 5)).toThrow(/not a number/)
  })
})

describe("GloveModel", () => {
  it.scoped("the embedder equals a float64 weighted mean + L2 normalisation of the cached rows (within 1e-6)", () =>
    Effect.gen(function*() {
      const cacheDir = yield* tempDir
      const vectors = yield* GloveModel.ensure({ cacheDir })
      expect(vectors.words.length).toBe(341_479)
      expect(vectors.matrix.length).toBe(341_479 * 100)
      // the first and the last entries of wink's file
      expect(vectors.words[0]).toBe("the")
      expect(vectors.matrix[0]).toBe(Math.fround(-0.038194))
      expect(vectors.matrix[341_479 * 100 - 1]).toBe(Math.fround(-0.15701))

      const featurizer = GloveEmbedder.makeFeaturizer(vectors.words)
      const embedder = GloveEmbedder.make({ vectors })
      const texts = sampleTexts()
      const actual = yield* embedder.embedDocuments(texts)
      let max = 0
      texts.forEach((text, i) => (max = Math.max(max, maxDifference(actual[i]!, reference(vectors, featurizer.bag(text))))))
      expect(max).toBeLessThanOrEqual(1e-6)
      expect(actual.at(-4)!.every((x) => x === 0)).toBe(true)
      // a hand-made bag with repeated rows and uneven weights
      const bag = { ids: [0, 5_000, 5_000, 300_000], weights: [0.5, 2, 1, 0.25] }
      expect(maxDifference(GloveEmbedder.embedBag(vectors, bag), reference(vectors, bag))).toBeLessThanOrEqual(1e-6)
      expect(Array.from(GloveEmbedder.embedBag(vectors, { ids: [], weights: [] })).every((x) => x === 0)).toBe(true)

      // opened with the first 1 000 rows in memory, the rest read from the file: the same vectors
      const opened = yield* GloveModel.open({ cacheDir, residentRows: 1_000 })
      expect([opened.built, opened.matrix.length]).toEqual([false, 1_000 * 100])
      expect(Array.from(opened.rowAt(300_000))).toEqual(Array.from(vectors.matrix.subarray(300_000 * 100, 300_001 * 100)))
      expect(yield* GloveEmbedder.make({ vectors: opened }).embedDocuments(texts)).toEqual(actual)
      expect(GloveEmbedder.embedBag(opened, bag)).toEqual(GloveEmbedder.embedBag(vectors, bag))
    }).pipe(Effect.provide(NodeContext.layer)), 120_000)

  it.scoped("builds the cache on the first embedding, reuses it, and rebuilds a partial, corrupt or outdated one", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const cacheDir = yield* tempDir
      const folder = path.join(cacheDir, "glove-100d")
      const vectorsPath = path.join(folder, "vectors.f32")
      const headerPath = path.join(folder, "glove.json")
      // what an older ragkit left there
      yield* fs.makeDirectory(folder)
      yield* fs.writeFileString(path.join(folder, "model.onnx"), "an ONNX graph")

      // the layer reads nothing; the first embedding builds the cache
      const context = yield* Layer.build(GloveEmbedder.layer({ cacheDir }))
      expect(yield* fs.exists(headerPath)).toBe(false)
      const first = yield* Effect.flatMap(Embedder.Embedder, (e) => e.embedQuery("the immune system")).pipe(Effect.provide(context))
      expect((yield* fs.readDirectory(folder)).sort()).toEqual(["glove.json", "vectors.f32", "words.txt"])
      expect(Number((yield* fs.stat(vectorsPath)).size)).toBe(341_479 * 100 * 4)
      const times = [yield* mtime(vectorsPath), yield* mtime(headerPath)]

      const embedWith = (vectors: GloveModel.GloveVectors) => GloveEmbedder.make({ vectors }).embedQuery("the immune system")
      const cached = yield* GloveModel.ensure({ cacheDir })
      expect(cached.built).toBe(false)
      expect([yield* mtime(vectorsPath), yield* mtime(headerPath)]).toEqual(times)
      expect(yield* embedWith(cached)).toEqual(first)

      // a write cut short: the vectors' size no longer matches the header
      const bytes = yield* fs.readFile(vectorsPath)
      yield* fs.writeFile(vectorsPath, bytes.subarray(0, 1_000_000))
      const rebuilt = yield* GloveModel.ensure({ cacheDir })
      expect(rebuilt.built).toBe(true)
      expect(yield* embedWith(rebuilt)).toEqual(first)

      // no header (the build stopped before writing it), or one stamped by another builder: rebuilt
      yield* fs.remove(headerPath)
      expect((yield* GloveModel.ensure({ cacheDir })).built).toBe(true)
      const header = JSON.parse(yield* fs.readFileString(headerPath)) as Record<string, unknown>
      yield* fs.writeFileString(headerPath, JSON.stringify({ ...header, stamp: "an older builder" }))
      expect((yield* GloveModel.ensure({ cacheDir })).built).toBe(true)
      expect((yield* GloveModel.ensure({ cacheDir })).built).toBe(false)
    }).pipe(Effect.provide(NodeContext.layer)), 240_000)
})
