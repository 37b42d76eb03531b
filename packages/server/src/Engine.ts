/**
 * The engine the server runs: embedded defaults (PGlite, blobs and a LanceDB chunk index under the
 * data directory) or Postgres for records and tasks when a URL is configured, the chunk index in
 * LanceDB or pgvector (on that Postgres, or on PGlite, which bundles it), blobs in a directory;
 * every parser and chunk method; the ingestion worker in this process unless `workers` is 0. The
 * layers also provide `ServerConfig`, the settings they were built with.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { ApiTokens, BlobStore, BlobStoreError, Models, OptionalPeer, Rag, Tokenizer, Users } from "@ragkit/core"
import { BuiltinModels, OllamaModels, OnnxModels, OpenAiModels } from "@ragkit/adapters"
import { TestModels } from "@ragkit/core/doubles"
import * as Parsers from "@ragkit/parsers"
import * as ParserThreads from "@ragkit/parsers/threads"
import { LanceChunkIndex } from "@ragkit/store-lancedb"
import * as StorePg from "@ragkit/store-pg"
import * as StorePglite from "@ragkit/store-pg/pglite"
import { Duration, Effect, Layer, Option } from "effect"
import { join } from "node:path"
import { ConfigFileError, ServerConfig, type ServerSettings } from "./Config.js"
import * as SecretKey from "./SecretKey.js"

/** LanceDB's options: its URI, storage options, and S3 credentials from the environment (redacted). */
const lanceOptions = (config: ServerSettings): LanceChunkIndex.Options => {
  const settings = config.chunkIndex
  if (settings.kind !== "lancedb") return { uri: join(config.dataDir, "lancedb") }
  const credentials = settings.credentials
  const storageOptions = {
    ...settings.storageOptions,
    ...(credentials === undefined
      ? {}
      : { aws_access_key_id: credentials.accessKeyId, aws_secret_access_key: credentials.secretAccessKey })
  }
  return { uri: settings.uri, ...(Object.keys(storageOptions).length === 0 ? {} : { storageOptions }) }
}

/**
 * Records and tasks (PGlite under the data directory, or the configured Postgres) and the chunk
 * index (LanceDB, or pgvector on the same database). Building it runs the stores' migrations.
 */
/** The pgvector chunk index's options from the settings (`chunkIndex.tailRows`, `chunkIndex.efSearch`, ...). */
export const pgvectorOptions = (config: ServerSettings): StorePg.PgChunkIndex.Options => {
  if (config.chunkIndex.kind !== "pgvector") return {}
  const { kind: _, ...options } = config.chunkIndex
  return options
}

export const stores = (config: ServerSettings) => {
  const pgvector = config.chunkIndex.kind === "pgvector"
  const embedded = { dataDir: join(config.dataDir, "pg"), sharedBuffersMb: config.pgliteSharedBuffersMb }
  return Option.match(config.databaseUrl, {
    onNone: () =>
      pgvector
        ? StorePglite.layerEmbeddedWithChunkIndex({ ...embedded, chunkIndex: pgvectorOptions(config) })
        : Layer.merge(StorePglite.layerEmbedded(embedded), LanceChunkIndex.layer(lanceOptions(config))),
    onSome: (url) =>
      pgvector
        ? Layer.provideMerge(StorePg.PgChunkIndex.layer(pgvectorOptions(config)), StorePg.layer({ url }))
        : Layer.merge(StorePg.layer({ url }), LanceChunkIndex.layer(lanceOptions(config)))
  })
}

/** Records, tasks, blobs, chunks, parsers, chunk methods and the tokenizer. */
export const ports = (config: ServerSettings) => {
  const parsing = (config.ocr ? Parsers.layer : Parsers.layerWithoutOcr)({ limits: config.limits.parser }).pipe(
    Layer.provideMerge(Tokenizer.layer)
  )
  return Layer.mergeAll(
    stores(config),
    blobStore(config),
    parsing
  )
}

/** `@ragkit/store-s3` (and the AWS SDK), an optional peer: imported only for blobs on S3. */
const storeS3 = OptionalPeer.load("@ragkit/store-s3", () => import("@ragkit/store-s3"), { neededFor: `blobStore kind "s3"` })

/** The blob store: a directory, or an S3-compatible bucket (its layer checks the bucket at start-up). */
export const blobStore = (config: ServerSettings): Layer.Layer<BlobStore.BlobStore, BlobStoreError> => {
  const settings = config.blobStore
  if (settings.kind === "file") return BlobStore.layerFileSystem(settings.dir).pipe(Layer.provide(NodeContext.layer))
  return Layer.unwrapEffect(
    storeS3.pipe(
      Effect.mapError((error) => new BlobStoreError({ reason: "Unknown", message: error.message })),
      Effect.map(({ S3BlobStore }) =>
        S3BlobStore.layer({
          bucket: settings.bucket,
          prefix: settings.prefix,
          region: settings.region,
          endpoint: settings.endpoint,
          forcePathStyle: settings.forcePathStyle,
          credentials: Option.getOrUndefined(settings.credentials)
        })
      )
    )
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
export const plugins = (config: ServerSettings) => [
  BuiltinModels.layer({ cacheDir: join(config.dataDir, "models") }).pipe(Layer.provide(NodeContext.layer)),
  OnnxModels.layer({ modelsDir: join(config.dataDir, "models", "onnx") }),
  OpenAiModels.layerFetch(),
  OllamaModels.layerFetch(),
  ...(config.testModels ? [TestModels.layer] : [])
]

/** New tenants' default models: the config file's, else the built-in ones (no reranker). */
export const tenantDefaults = (config: ServerSettings) => ({
  embd_id: config.models.defaults.embedding ?? DefaultEmbeddingModel,
  llm_id: config.models.defaults.chat ?? DefaultChatModel,
  ...(config.models.defaults.rerank === undefined ? {} : { rerank_id: config.models.defaults.rerank })
})

/**
 * Checks, once the engine is up, that the config file's default models exist with their types and
 * can be used, as `Models.checkModel` tells without loading them or calling a server: a misspelt
 * default stops the start instead of reaching every new tenant.
 */
const checkDefaults = (config: ServerSettings) =>
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
            Effect.fail(new ConfigFileError({ message: `config file ${Option.getOrElse(config.configFile, () => "")}: models.defaults.${key}: ${error.message}` }))
          )
        )
      }
    })
  )

/**
 * The services over the ports, with the model provider plugins, the deployment's providers and
 * default models (the config file), the secret key (configured, or `<data-dir>/secret.key`), the
 * rule on tenants' providers, the session lifetime and the largest uploaded file (`limits.uploadMb`).
 */
export const layer = (config: ServerSettings) =>
  Layer.unwrapEffect(
    Effect.map(SecretKey.resolve(config), (secretKey) =>
      Layer.provideMerge(
        checkDefaults(config),
        Rag.layer(ports(config), plugins(config), {
          tenantDefaults: tenantDefaults(config),
          providers: config.models.providers,
          secretKey,
          allowPrivateProviders: config.allowPrivateProviders,
          documents: { maxFileBytes: config.limits.uploadMb * 1024 * 1024 },
          users: usersOptions(config),
          system: {
            database: Option.isSome(config.databaseUrl) ? "postgres" : "pglite",
            docEngine: config.chunkIndex.kind,
            storage: config.blobStore.kind
          }
        })
      ))
  ).pipe(Layer.merge(ServerConfig.layer(config)))

/** The users' options the deployment sets (`auth`), with new tenants' default models. */
const usersOptions = (config: ServerSettings) => ({
  tenantDefaults: tenantDefaults(config),
  sessionLifetime: Duration.hours(config.auth.sessionHours),
  registration: config.auth.registration,
  loginLimits: config.auth.loginLimits
})

/**
 * Accounts and API keys on the record store alone, for the commands that manage them (`ragkit
 * user create`, `ragkit token create`): no chunk index, parsers or models to open.
 */
export const accounts = (config: ServerSettings) => {
  const records = Option.match(config.databaseUrl, {
    onNone: () => StorePglite.layerEmbedded({ dataDir: join(config.dataDir, "pg"), sharedBuffersMb: config.pgliteSharedBuffersMb }),
    onSome: (url) => StorePg.layer({ url })
  })
  return Layer.mergeAll(Users.layer(usersOptions(config)), ApiTokens.layer).pipe(Layer.provideMerge(records))
}

/**
 * Runs `workers` ingestion loops for as long as the layer lives, parsing on up to `parserThreads`
 * threads (each with the same parsers as the server: OCR and parser limits as configured; 0: one).
 * Parsing always runs on a thread, where the parse time limit can stop it. The threads start when
 * documents come (none at start-up) and stop after `parserThreadIdleMs` without one (unless 0),
 * since each idle thread holds a few hundred MiB. When the layer is released (the server stops),
 * the loops claim nothing more, documents in hand get `shutdownGraceMs` to finish, and those still
 * in hand then go back to the queue.
 */
export const workerLoop = (config: ServerSettings) => {
  const options = { concurrency: Math.max(1, config.workers), leaseMs: config.leaseMs }
  const worker = Rag.layerWorkerWith(
    ParserThreads.layer({
      threads: Math.max(1, config.parserThreads),
      startOnDemand: true,
      ...(config.parserThreadIdleMs > 0 ? { idleTimeoutMs: config.parserThreadIdleMs } : {}),
      setupOptions: { ocr: config.ocr, limits: config.limits.parser },
      maxMemoryMb: config.limits.parserThreadMemoryMb,
      parseTimeoutMs: config.limits.parseTimeoutMs
    }),
    options
  )
  return Rag.layerWorkerRunning(config.shutdownGraceMs).pipe(Layer.provide(worker))
}

/** The engine, and the worker loops when `workers` > 0. */
export const layerWithWorkers = (config: ServerSettings) => {
  const engine = layer(config)
  return config.workers === 0 ? engine : Layer.provideMerge(workerLoop(config), engine)
}
