import { describe, expect, it } from "@effect/vitest"
import { Effect, Ref } from "effect"
import { ModelError } from "../src/domain/Errors.js"
import * as Embedder from "../src/ports/Embedder.js"
import * as HashEmbedder from "../src/testing/HashEmbedder.js"

const cosine = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => a.reduce((sum, x, i) => sum + x * b[i]!, 0)
const norm = (v: ReadonlyArray<number>) => Math.sqrt(v.reduce((sum, x) => sum + x * x, 0))

describe("HashEmbedder", () => {
  it.effect("is deterministic, normalised and of the asked dimension", () =>
    Effect.gen(function*() {
      const embedder = yield* Embedder.Embedder
      expect(embedder.dimensions).toBe(32)
      const [a, b] = yield* embedder.embedDocuments(["The Cat sat on the mat", "the cat SAT on the mat"])
      const again = yield* HashEmbedder.make({ dimensions: 32 }).embedQuery("The Cat sat on the mat")
      expect(a).toHaveLength(32)
      expect(norm(a!)).toBeCloseTo(1, 12)
      expect(b).toEqual(a)
      expect(again).toEqual(a)
    }).pipe(Effect.provide(HashEmbedder.layer({ dimensions: 32 }))))

  it.effect("gives similar texts a higher cosine than unrelated ones", () =>
    Effect.gen(function*() {
      const embedder = HashEmbedder.make()
      expect(embedder.dimensions).toBe(64)
      const [query, near, far] = yield* embedder.embedDocuments([
        "database indexing strategies",
        "strategies for indexing a database",
        "chocolate cake recipe with berries"
      ])
      expect(cosine(query!, near!)).toBeGreaterThan(0.6)
      expect(cosine(query!, near!)).toBeGreaterThan(cosine(query!, far!) + 0.3)
      const [misspelt] = yield* embedder.embedDocuments(["databse indexng"])
      expect(cosine(query!, misspelt!)).toBeGreaterThan(cosine(far!, misspelt!))
    }))

  it("reads a text in pieces, ASCII ones on their own path, to the vector of the whole text read the general way", () => {
    // A seeded generator (mulberry32): the same 3,000 texts every run.
    let seed = 20261206
    const random = () => {
      seed = (seed + 0x6d2b79f5) | 0
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    }
    const ascii = "aAbBzZ09 _-.,;:!?'\"#\t\n\r()[]{}@^`~\u0000\u007f"
    // Final sigma (lower-cased by its context), a mark, a letter that lower-cases to two, surrogate pairs, NBSP.
    const other = ["Σ", "ς", "é", "\u0301", "İ", "日本", "😀", "\u00a0", "Ⅻ"]
    const alphabet = [...ascii, ...ascii, ...other]
    const texts = Array.from({ length: 3_000 }, () =>
      Array.from({ length: Math.floor(random() * 60) }, () => alphabet[Math.floor(random() * alphabet.length)]).join(""))
    texts.push("", "A", "ab", "Hello, World! 2026 ABCdef_ghi", "x".repeat(5_000), "ΑΣ.Β ΑΣ. Σ", "naïve café\tOK ΟΔΟΣ")
    for (const text of texts) {
      for (const dimensions of [8, 64]) expect(HashEmbedder.embed(text, dimensions)).toEqual(HashEmbedder.embedUnicode(text, dimensions))
    }
  })

  it("embeds a text without words as the zero vector", () => {
    expect(HashEmbedder.embed("  ...  ", 8)).toEqual([0, 0, 0, 0, 0, 0, 0, 0])
  })
})

describe("Embedder.make", () => {
  it.effect("splits documents into batches and keeps their order", () =>
    Effect.gen(function*() {
      const batches = yield* Ref.make<ReadonlyArray<ReadonlyArray<string>>>([])
      const embedder = Embedder.make({
        modelId: "length",
        dimensions: 2,
        maxBatchSize: 3,
        embedBatch: (texts) =>
          Effect.as(
            Ref.update(batches, (all) => [...all, texts]),
            texts.map((text) => Float32Array.from([text.length, 1]))
          )
      })
      const texts = ["a", "bb", "ccc", "dddd", "eeeee", "ffffff", "g"]
      const vectors = yield* embedder.embedDocuments(texts)
      expect(vectors).toEqual(texts.map((t) => [t.length, 1]))
      expect(Array.isArray(vectors[0])).toBe(true)
      expect(yield* Ref.get(batches)).toEqual([["a", "bb", "ccc"], ["dddd", "eeeee", "ffffff"], ["g"]])
      expect(yield* embedder.embedDocuments([])).toEqual([])
      expect((yield* Ref.get(batches)).length).toBe(3)
      expect(yield* embedder.embedQuery("xyz")).toEqual([3, 1])
    }))

  it.effect("fails with BadResponse on a vector of the wrong dimension or a missing vector", () =>
    Effect.gen(function*() {
      const wrongDimension = Embedder.make({
        modelId: "broken",
        dimensions: 3,
        maxBatchSize: 2,
        embedBatch: (texts) => Effect.succeed(texts.map((t) => (t === "bad" ? [1, 2] : [1, 2, 3])))
      })
      expect(yield* wrongDimension.embedDocuments(["ok", "ok"])).toHaveLength(2)
      const error = yield* Effect.flip(wrongDimension.embedDocuments(["ok", "ok", "bad"]))
      expect(error).toBeInstanceOf(ModelError)
      expect(error.reason).toBe("BadResponse")
      expect(error.model).toBe("broken")
      expect(error.message).toContain("vector 2")
      const tooFew = Embedder.make({
        modelId: "short",
        dimensions: 1,
        maxBatchSize: 10,
        embedBatch: () => Effect.succeed([[1]])
      })
      expect((yield* Effect.flip(tooFew.embedDocuments(["a", "b"]))).reason).toBe("BadResponse")
      const notFinite = Embedder.make({
        modelId: "nan",
        dimensions: 1,
        maxBatchSize: 10,
        embedBatch: (texts) => Effect.succeed(texts.map(() => [Number.NaN]))
      })
      expect((yield* Effect.flip(notFinite.embedQuery("a"))).reason).toBe("BadResponse")
    }))

  it.effect("uses the query primitive when given and checks it too", () =>
    Effect.gen(function*() {
      const embedder = Embedder.make({
        modelId: "asym",
        dimensions: 2,
        maxBatchSize: 4,
        embedBatch: (texts) => Effect.succeed(texts.map(() => [1, 0])),
        embedQuery: (text) => Effect.succeed(text === "bad" ? [1] : [0, 1])
      })
      expect(yield* embedder.embedQuery("q")).toEqual([0, 1])
      expect((yield* Effect.flip(embedder.embedQuery("bad"))).reason).toBe("BadResponse")
    }))
})
