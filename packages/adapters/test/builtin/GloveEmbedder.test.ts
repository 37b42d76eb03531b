import { NodeContext } from "@effect/platform-node"
import { describe, expect, it, layer } from "@effect/vitest"
import { Caller, Embedder, ModelError, Models, RecordStore, Tokenizer } from "@ragkit/core"
import { anId, EmbedderSuite } from "@ragkit/core/testing"
import { Deferred, Effect, Exit, Fiber, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { BuiltinModels, GloveEmbedder } from "../../src/builtin/index.js"

const cacheDir = mkdtempSync(join(tmpdir(), "ragkit-glove-"))
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }))

const caller = new Caller({ tenantId: anId(), userId: anId() })

/** Models with the Builtin plugin, over an in-memory record store. */
const ModelsLive = BuiltinModels.layer({ cacheDir }).pipe(
  Layer.provideMerge(Models.layer()),
  Layer.provide(RecordStore.layerMemory),
  Layer.provide(Tokenizer.layer),
  Layer.provide(NodeContext.layer)
)

const resolved = (ref: string) =>
  Layer.effect(Embedder.Embedder, Effect.flatMap(Models.Models, (models) => models.embedder(caller, ref))).pipe(
    Layer.provide(ModelsLive)
  )

EmbedderSuite("glove-100d@Builtin via Models", resolved("glove-100d@Builtin"), {
  normalized: true,
  sampleTexts: [
    "The cat sat on the mat.",
    "Stock market prices fell sharply on Tuesday.",
    "Vitamin D deficiency is associated with an increased risk of infection.",
    "A quick brown fox jumps over the lazy dog."
  ]
})

const cosine = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => a.reduce((s, x, i) => s + x * b[i]!, 0)

layer(ModelsLive, { timeout: 120_000 })("glove-100d@Builtin", (it) => {
  it.effect("resolves by its aliases, with model id glove-100d@Builtin and 100 dimensions", () =>
    Effect.gen(function*() {
      const models = yield* Models.Models
      for (const ref of ["glove-100d@Builtin", "glove@Builtin", "GloVe-100d@Builtin"]) {
        const embedder = yield* models.embedder(caller, ref)
        expect(embedder.modelId).toBe("glove-100d@Builtin")
        expect(embedder.dimensions).toBe(100)
      }
      const unknown = yield* Effect.exit(models.embedder(caller, "bge-m3@Builtin"))
      expect(Exit.isFailure(unknown)).toBe(true)
      expect((yield* models.listPlugins(caller, {})).find((p) => p.kind === "builtin")?.providers).toEqual(["Builtin"])
    }))

  it.effect("a cat on a mat is closer to a kitten on a rug than to falling stock prices", () =>
    Effect.gen(function*() {
      const embedder = yield* (yield* Models.Models).embedder(caller, "glove-100d@Builtin")
      const [cat, kitten, stocks] = yield* embedder.embedDocuments([
        "the cat sat on the mat",
        "a kitten sits on a rug",
        "stock market prices fell"
      ])
      expect(cosine(cat!, kitten!)).toBeGreaterThan(cosine(cat!, stocks!) + 0.1)
      const query = yield* embedder.embedQuery("Which drugs lower blood pressure?")
      const [medicine, sports] = yield* embedder.embedDocuments([
        "Antihypertensive medication reduces hypertension in patients.",
        "The football team won the championship game."
      ])
      expect(cosine(query, medicine!)).toBeGreaterThan(cosine(query, sports!))
    }))

  it.effect("a text without a known word is the zero vector", () =>
    Effect.gen(function*() {
      const embedder = yield* (yield* Models.Models).embedder(caller, "glove-100d@Builtin")
      for (const vector of yield* embedder.embedDocuments(["", "🚀🎉", "检索增强生成", "12345 67.8"])) {
        expect(vector.every((x) => x === 0)).toBe(true)
      }
    }))
})

describe("GloveEmbedder text to words", () => {
  const vocabulary = ["the", "not", "do", "cell", "cells", "drug", "resistant", "tnf-alpha", "beta", "il-1", "cafe", "can", "kitten", "rug"]
  const uniform = GloveEmbedder.makeFeaturizer(vocabulary, { scheme: "uniform", stopWordWeight: 1 })
  const words = (text: string) => {
    const bag = uniform.bag(text)
    return bag.ids.map((id, i) => `${vocabulary[id]}:${bag.weights[i]}`)
  }

  it("lower-cases, handles possessives, contractions, hyphens, accents and Greek letters", () => {
    expect(words("The Cell's cells' cells")).toEqual(["the:1", "cell:1", "cells:2"])
    expect(words("Don't CAN’T")).toEqual(["do:1", "not:2", "can:1"])
    expect(words("drug-resistant TNF-α IL-1β")).toEqual(["drug:1", "resistant:1", "tnf-alpha:1", "il-1:1", "beta:1"])
    expect(words("Café, kitten; rug!")).toEqual(["cafe:1", "kitten:1", "rug:1"])
    expect(words("42 🚀 检索 unknownword")).toEqual([])
  })

  it("SIF fades frequent words, stop words can be dropped, and repeats count or are damped", () => {
    const sif = GloveEmbedder.makeFeaturizer(vocabulary, { scheme: "sif", a: 1e-3, stopWordWeight: 1 })
    const bag = sif.bag("the kitten")
    expect(bag.weights[0]!).toBeLessThan(bag.weights[1]!)
    const dropped = GloveEmbedder.makeFeaturizer(vocabulary, { scheme: "sif", a: 1e-3, stopWordWeight: 0 }).bag("the kitten")
    expect(dropped.ids).toEqual([vocabulary.indexOf("kitten")])
    const log = GloveEmbedder.makeFeaturizer(vocabulary, { scheme: "uniform", termFrequency: "log" }).bag("rug rug rug")
    expect(log.weights[0]).toBeCloseTo(1 + Math.log(3), 12)
    expect(uniform.bag("rug rug rug").weights).toEqual([3])
  })
})

describe("GloveEmbedder loading", () => {
  const vectors = {
    words: ["cat", "kitten", "stock"],
    dimensions: 100,
    matrix: Float32Array.from({ length: 300 }, (_, i) => ((i * 7) % 11) - 5)
  }

  it.scoped("loads on the first call, once for concurrent callers (one of them interrupted), and retries a failed load", () =>
    Effect.gen(function*() {
      let loads = 0
      const gate = yield* Deferred.make<void>()
      const load = Effect.suspend(() => {
        loads++
        return loads === 1
          ? Effect.fail(new ModelError({ reason: "Unavailable", model: GloveEmbedder.MODEL_ID, message: "disk full" }))
          : Effect.as(Deferred.await(gate), vectors)
      })
      const embedder = yield* GloveEmbedder.makeLazy(load)
      expect(loads).toBe(0)
      const failure = yield* Effect.flip(embedder.embedQuery("cat"))
      expect([failure.reason, failure.message]).toEqual(["Unavailable", "disk full"])

      const fibers = yield* Effect.forEach(["cat", "kitten", "stock cat"], (text) => Effect.fork(embedder.embedQuery(text)))
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow()
      yield* Fiber.interrupt(fibers[0]!)
      yield* Deferred.succeed(gate, undefined)
      const [kitten, mixed] = yield* Fiber.joinAll(fibers.slice(1))
      const expected = GloveEmbedder.make({ vectors })
      expect(kitten).toEqual(yield* expected.embedQuery("kitten"))
      expect(mixed).toEqual(yield* expected.embedQuery("stock cat"))
      expect(yield* embedder.embedDocuments(["cat"])).toEqual(yield* expected.embedDocuments(["cat"]))
      expect(loads).toBe(2)
    }))
})
