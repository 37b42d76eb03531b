/** The ONNX plugin: resolution of `<folder>@ONNX`, refusals, caching, and the CUDA fallback. */
import { describe, expect, it, layer } from "@effect/vitest"
import { Models, RecordStore } from "@ragkit/core"
import { OnnxModels, OnnxSession, SentenceEmbedder } from "@ragkit/adapters/onnx"
import { Context, Effect, Layer, Logger } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { embedderExpected, embedderFolder, maxAbsError, modelsDir } from "./fixtures.js"
import { caller, ModelsLive } from "./models.js"

layer(ModelsLive)("OnnxModels plugin", (it) => {
  it.effect("serves the ONNX provider to every tenant", () =>
    Effect.gen(function*() {
      const models = yield* Models.Models
      expect(yield* models.listPlugins(caller, {})).toContainEqual({ kind: "onnx", providers: ["ONNX"] })
      const embedder = yield* models.embedder(caller, "tiny-bert-embedder@ONNX")
      expect(embedder.modelId).toBe("tiny-bert-embedder@ONNX")
      expect(embedder.dimensions).toBe(64)
      const reranker = yield* models.reranker(caller, "tiny-bert-reranker@ONNX")
      expect(reranker.modelId).toBe("tiny-bert-reranker@ONNX")
    }))

  it.effect("builds each folder once and shares it, also between concurrent requests", () =>
    Effect.gen(function*() {
      const models = yield* Models.Models
      const all = yield* Effect.all(
        Array.from({ length: 4 }, () => models.embedder(caller, "tiny-bert-embedder@ONNX")),
        { concurrency: "unbounded" }
      )
      const again = yield* models.embedder(caller, "tiny-bert-embedder@ONNX")
      for (const embedder of all) expect(embedder).toBe(again)
    }))

  it.effect("refuses a folder that does not exist", () =>
    Effect.gen(function*() {
      const models = yield* Models.Models
      const error = yield* Effect.flip(models.embedder(caller, "x@ONNX"))
      expect(error._tag).toBe("ModelError")
      expect(error).toMatchObject({ reason: "NotConfigured", message: `Unsupported model: x@ONNX (no folder x in ${modelsDir})` })
    }))

  it.effect("refuses names that would leave the models directory", () =>
    Effect.gen(function*() {
      const models = yield* Models.Models
      for (const ref of ["../x@ONNX", "../fixtures/tiny-bert-embedder@ONNX", "a/b@ONNX", "..@ONNX", "tiny-bert-embedder/..@ONNX"]) {
        const error = yield* Effect.flip(models.embedder(caller, ref))
        expect(error, ref).toMatchObject({ _tag: "ModelError", reason: "InvalidInput" })
        expect(error.message, ref).toMatch(/^Unsupported model: .*@ONNX \(a model name is a folder name/)
      }
    }))

  it.effect("refuses an embedder as a reranker and the other way round", () =>
    Effect.gen(function*() {
      const models = yield* Models.Models
      expect(yield* Effect.flip(models.reranker(caller, "tiny-bert-embedder@ONNX"))).toMatchObject({ reason: "NotConfigured" })
      expect(yield* Effect.flip(models.embedder(caller, "tiny-bert-reranker@ONNX"))).toMatchObject({ reason: "NotConfigured" })
    }))
})

/** Runs the effect with a logger that keeps every message with its level. */
const captureLogs = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const logs: Array<{ level: string; message: string }> = []
    const logger = Logger.make(({ logLevel, message }) => {
      logs.push({ level: logLevel.label, message: Array.isArray(message) ? message.join(" ") : String(message) })
    })
    const result = yield* Effect.provide(effect, Logger.replace(Logger.defaultLogger, logger))
    return { result, logs }
  })

describe("CUDA execution provider", () => {
  // onnxruntime-node installed without ONNXRUNTIME_NODE_INSTALL=cuda12 has no CUDA provider library.
  it.scoped("falls back to CPU with one warning and gives the same embeddings", () =>
    Effect.gen(function*() {
      const { result: embedder, logs } = yield* captureLogs(
        SentenceEmbedder.make({ folder: embedderFolder, executionProvider: "cuda" })
      )
      const warnings = logs.filter((log) => log.level === "WARN")
      expect(warnings, JSON.stringify(logs)).toHaveLength(1)
      expect(warnings[0]!.message).toMatch(/^CUDA execution provider unavailable: .+; running on CPU$/)
      const vectors = yield* embedder.embedDocuments(embedderExpected.sentences)
      const errors = vectors.map((v, i) => maxAbsError(v, embedderExpected.mean_pooled_normalized[i]!))
      expect(Math.max(...errors)).toBeLessThanOrEqual(1e-5)
    }))

  it.scoped("the session reports the provider it runs on", () =>
    Effect.gen(function*() {
      const { result: session, logs } = yield* captureLogs(
        OnnxSession.make({ modelPath: `${embedderFolder}/onnx/model.onnx`, executionProvider: "cuda" })
      )
      expect(session.executionProvider).toBe("cpu")
      expect(logs.filter((log) => log.level === "WARN")).toHaveLength(1)
      expect(session.inputNames).toEqual(["input_ids", "attention_mask", "token_type_ids"])
    }))

  it.scoped("a missing model file is reported as itself, without the CUDA warning", () =>
    Effect.gen(function*() {
      const { result: error, logs } = yield* captureLogs(
        Effect.flip(OnnxSession.make({ modelPath: `${embedderFolder}/missing.onnx`, executionProvider: "cuda" }))
      )
      expect(error).toMatchObject({ _tag: "ModelError", reason: "NotConfigured" })
      expect(error.message).toContain("missing.onnx")
      expect(logs.filter((log) => log.level === "WARN")).toHaveLength(0)
    }))
})

describe("OnnxModels with a models directory that changes", () => {
  /** A fresh models directory, removed when the test's scope closes. */
  const tempModelsDir = Effect.acquireRelease(
    Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "ragkit-onnx-"))),
    (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
  )

  it.scoped("a folder that failed is tried again, and a folder of neither kind is refused", () =>
    Effect.gen(function*() {
      const dir = yield* tempModelsDir
      const context = yield* Layer.build(
        OnnxModels.layer({ modelsDir: dir }).pipe(Layer.provideMerge(Models.layer()), Layer.provide(RecordStore.layerMemory))
      )
      const models = Context.get(context, Models.Models)
      expect(yield* Effect.flip(models.embedder(caller, "late@ONNX"))).toMatchObject({
        message: `Unsupported model: late@ONNX (no folder late in ${dir})`
      })
      yield* Effect.promise(() => fs.cp(embedderFolder, path.join(dir, "late"), { recursive: true }))
      const embedder = yield* models.embedder(caller, "late@ONNX")
      const [vector] = yield* embedder.embedDocuments([embedderExpected.sentences[1]!])
      expect(maxAbsError(vector!, embedderExpected.mean_pooled_normalized[1]!)).toBeLessThanOrEqual(1e-5)

      yield* Effect.promise(() => fs.mkdir(path.join(dir, "plain")))
      yield* Effect.promise(() => fs.writeFile(path.join(dir, "plain", "config.json"), JSON.stringify({ architectures: ["BertModel"] })))
      const error = yield* Effect.flip(models.embedder(caller, "plain@ONNX"))
      expect(error).toMatchObject({ reason: "NotConfigured" })
      expect(error.message).toContain("neither a sentence-transformers embedder nor a sequence-classification reranker")
    }))
})

describe("OnnxModels after its layer is closed", () => {
  it.effect("answers with a typed error instead of waiting forever", () =>
    Effect.gen(function*() {
      // Provided and released at once: the service outlives its layer.
      const models = yield* Effect.provide(Models.Models, ModelsLive)
      const error = yield* Effect.flip(models.embedder(caller, "tiny-bert-embedder@ONNX"))
      expect(error).toMatchObject({ _tag: "ModelError", reason: "Unavailable" })
    }))
})
