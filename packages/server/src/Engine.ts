/**
 * The engine the server runs: embedded defaults (PGlite, blobs and a LanceDB chunk index under the
 * data directory) or Postgres for records and tasks when a URL is configured; every parser and chunk method; the ingestion worker in this
 * process unless `workers` is 0.
 */
import { NodeContext } from "@effect/platform-node"
import { BlobStore, Ingestion, Rag, Tokenizer } from "@ragkit/core"
import { BuiltinModels, OllamaModels, OnnxModels, OpenAiModels } from "@ragkit/adapters"
import { TestModels } from "@ragkit/core/doubles"
import * as Parsers from "@ragkit/parsers"
import * as ParserThreads from "@ragkit/parsers/threads"
import { LanceChunkIndex } from "@ragkit/store-lancedb"
import * as StorePg from "@ragkit/store-pg"
import { Duration, Effect, Layer, Option } from "effect"
import { join } from "node:path"
import type { ServerConfig } from "./Config.js"
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

/**
 * Model provider plugins: the built-in GloVe embedder (built once into `<data-dir>/models`), ONNX
 * model folders under `<data-dir>/models/onnx` (`<folder>@ONNX`), OpenAI-compatible and Ollama
 * providers that tenants configure. The deterministic `Test` provider (hash embedders, echo chat
 * model) only when `testModels` is set, for tests and benchmarks: a real deployment never serves it.
 */
export const plugins = (config: ServerConfig) => [
  BuiltinModels.layer({ cacheDir: join(config.dataDir, "models") }).pipe(Layer.provide(NodeContext.layer)),
  OnnxModels.layer({ modelsDir: join(config.dataDir, "models", "onnx") }),
  OpenAiModels.layerFetch(),
  OllamaModels.layerFetch(),
  ...(config.testModels ? [TestModels.layer] : [])
]

/**
 * The services over the ports, with the model provider plugins, the secret key (configured, or
 * `<data-dir>/secret.key`), the rule on tenants' providers and the session lifetime.
 */
export const layer = (config: ServerConfig) =>
  Layer.unwrapEffect(
    Effect.map(SecretKey.resolve(config), (secretKey) =>
      Rag.layer(ports(config), plugins(config), {
        tenantDefaults: { embd_id: DefaultEmbeddingModel },
        secretKey,
        allowPrivateProviders: config.allowPrivateProviders,
        users: { sessionLifetime: Duration.hours(config.sessionHours) }
      }))
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
