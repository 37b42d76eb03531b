/**
 * The engine the server runs: embedded defaults (PGlite, blobs and a LanceDB chunk index under the
 * data directory) or Postgres for records and tasks when a URL is configured; every parser and chunk method; the ingestion worker in this
 * process unless `workers` is 0.
 */
import { NodeContext } from "@effect/platform-node"
import { BlobStore, Ingestion, Models, Rag, Tokenizer } from "@ragkit/core"
import { BuiltinModels, OllamaModels, OnnxModels, OpenAiModels } from "@ragkit/adapters"
import { TestModels } from "@ragkit/core/doubles"
import * as Parsers from "@ragkit/parsers"
import * as ParserThreads from "@ragkit/parsers/threads"
import { LanceChunkIndex } from "@ragkit/store-lancedb"
import * as StorePg from "@ragkit/store-pg"
import { Duration, Effect, Layer, Option } from "effect"
import { join } from "node:path"
import { ConfigFileError, type ServerConfig } from "./Config.js"
import * as SecretKey from "./SecretKey.js"

/** Records, tasks, blobs, chunks, parsers, chunk methods and the tokenizer. */
export const ports = (config: ServerConfig) => {
  const records = Option.match(config.databaseUrl, {
    onNone: () => StorePg.layerEmbedded({ dataDir: join(config.dataDir, "pg") }),
    onSome: (url) => StorePg.layer({ url })
  })
  const parsing = (config.ocr ? Parsers.layer : Parsers.layerWithoutOcr)({ limits: config.parserLimits }).pipe(
    Layer.provideMerge(Tokenizer.layer)
  )
  return Layer.mergeAll(
    records,
    BlobStore.layerFileSystem(join(config.dataDir, "blobs")).pipe(Layer.provide(NodeContext.layer)),
    LanceChunkIndex.layer({ uri: join(config.dataDir, "lancedb") }),
    parsing
  )
}

/** The embedding model every new tenant starts with: needs no download. */
export const DefaultEmbeddingModel = "glove-100d@Builtin"

/** The chat model every new tenant starts with: quotes the sources, needs no language model. */
export const DefaultChatModel = "extractive@Builtin"

/**
 * Model provider plugins: the built-in GloVe embedder (built once into `<data-dir>/models`), ONNX
 * model folders under `<data-dir>/models/onnx` (`<folder>@ONNX`) and the config file's `onnx`
 * providers' folders, OpenAI-compatible and Ollama providers that the config file declares or
 * tenants add. The deterministic `Test` provider (hash embedders, echo chat
 * model) only when `testModels` is set, for tests and benchmarks: a real deployment never serves it.
 */
export const plugins = (config: ServerConfig) => [
  BuiltinModels.layer({ cacheDir: join(config.dataDir, "models") }).pipe(Layer.provide(NodeContext.layer)),
  OnnxModels.layer({ modelsDir: join(config.dataDir, "models", "onnx") }),
  OpenAiModels.layerFetch(),
  OllamaModels.layerFetch(),
  ...(config.testModels ? [TestModels.layer] : [])
]

/** New tenants' default models: the config file's, else the built-in ones (no reranker). */
export const tenantDefaults = (config: ServerConfig) => ({
  embd_id: config.models.defaults.embedding ?? DefaultEmbeddingModel,
  llm_id: config.models.defaults.chat ?? DefaultChatModel,
  ...(config.models.defaults.rerank === undefined ? {} : { rerank_id: config.models.defaults.rerank })
})

/**
 * Checks, once the engine is up, that the config file's default models exist with their types and
 * can be used, as `Models.checkModel` tells without loading them or calling a server: a misspelt
 * default stops the start instead of reaching every new tenant.
 */
const checkDefaults = (config: ServerConfig) =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const models = yield* Models.Models
      const configured: ReadonlyArray<readonly [keyof typeof config.models.defaults, Models.ModelInfo["model_type"]]> = [
        ["chat", "chat"],
        ["embedding", "embedding"],
        ["rerank", "rerank"]
      ]
      for (const [key, type] of configured) {
        const ref = config.models.defaults[key]
        if (ref === undefined) continue
        yield* models.checkModel(undefined, ref, type).pipe(
          Effect.catchTag("ModelError", (error) =>
            Effect.fail(new ConfigFileError({ message: `config file ${Option.getOrElse(config.configFile, () => "")}: defaults.${key}: ${error.message}` }))
          )
        )
      }
    })
  )

/**
 * The services over the ports, with the model provider plugins, the deployment's providers and
 * default models (the config file), the secret key (configured, or `<data-dir>/secret.key`), the
 * rule on tenants' providers and the session lifetime.
 */
export const layer = (config: ServerConfig) =>
  Layer.unwrapEffect(
    Effect.map(SecretKey.resolve(config), (secretKey) =>
      Layer.provideMerge(
        checkDefaults(config),
        Rag.layer(ports(config), plugins(config), {
          tenantDefaults: tenantDefaults(config),
          providers: config.models.providers,
          secretKey,
          allowPrivateProviders: config.allowPrivateProviders,
          users: { sessionLifetime: Duration.hours(config.sessionHours) }
        })
      ))
  )

/**
 * Runs `workers` ingestion loops for as long as the layer lives, parsing on `parserThreads`
 * threads (each with the same parsers as the server: OCR and parser limits as configured). Parsing
 * always runs on a thread, where the parse time limit can stop it: with `parserThreads` 0, on one
 * thread started when the first document comes.
 */
export const workerLoop = (config: ServerConfig) => {
  const options = { concurrency: Math.max(1, config.workers), leaseMs: config.leaseMs }
  const worker = Rag.layerWorkerWith(
    ParserThreads.layer({
      threads: Math.max(1, config.parserThreads),
      startOnDemand: config.parserThreads === 0,
      setupOptions: { ocr: config.ocr, limits: config.parserLimits },
      maxMemoryMb: config.parserThreadMemoryMb,
      parseTimeoutMs: config.parseTimeoutMs
    }),
    options
  )
  return Layer.scopedDiscard(Effect.flatMap(Ingestion.Ingestion, (w) => Effect.forkScoped(w.run))).pipe(Layer.provide(worker))
}

/** The engine, and the worker loops when `workers` > 0. */
export const layerWithWorkers = (config: ServerConfig) => {
  const engine = layer(config)
  return config.workers === 0 ? engine : Layer.provideMerge(workerLoop(config), engine)
}
