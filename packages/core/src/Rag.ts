/**
 * The engine as one layer: the services over the ports a host supplies.
 *
 *   const Engine = Rag.layer(ports, plugins)            // ports: stores, parsers, tokenizer; plugins: model providers
 *   const Memory = Rag.layer(Rag.layerMemoryPorts)      // everything in memory, for tests
 */
import { Duration, Effect, Layer, type Redacted } from "effect"
import * as BlobStore from "./ports/BlobStore.js"
import * as ChunkIndex from "./ports/ChunkIndex.js"
import * as DocumentPreparer from "./ports/DocumentPreparer.js"
import * as ModelProvider from "./ports/ModelProvider.js"
import * as Parser from "./ports/Parser.js"
import * as RecordStore from "./ports/RecordStore.js"
import * as TaskQueue from "./ports/TaskQueue.js"
import * as Tokenizer from "./text/Tokenizer.js"
import * as ApiTokens from "./services/ApiTokens.js"
import * as Chunks from "./services/Chunks.js"
import * as Completions from "./services/Completions.js"
import * as Conversations from "./services/Conversations.js"
import * as Dialogs from "./services/Dialogs.js"
import * as DocumentChanges from "./services/DocumentChanges.js"
import * as Documents from "./services/Documents.js"
import * as Ingestion from "./services/Ingestion.js"
import * as KnowledgeBases from "./services/KnowledgeBases.js"
import * as Models from "./services/Models.js"
import * as Retrieval from "./services/Retrieval.js"
import * as System from "./services/System.js"
import * as Tenants from "./services/Tenants.js"
import * as Users from "./services/Users.js"

/** The ports the services need. */
export type Ports =
  | Tokenizer.Tokenizer
  | RecordStore.RecordStore
  | TaskQueue.TaskQueue
  | BlobStore.BlobStore
  | ChunkIndex.ChunkIndex
  | Parser.ParserRegistry

/** Every service of the engine. */
export type Services =
  | Users.Users
  | Tenants.Tenants
  | ApiTokens.ApiTokens
  | Models.Models
  | ModelProvider.ModelPlugins
  | KnowledgeBases.KnowledgeBases
  | Documents.Documents
  | DocumentChanges.DocumentChanges
  | Chunks.Chunks
  | Dialogs.Dialogs
  | Conversations.Conversations
  | Retrieval.Retrieval
  | Completions.Completions
  | System.System

export interface Options {
  readonly documents?: Documents.DocumentsOptions
  /** Default models of every new user's tenant, e.g. `{ embd_id: "glove-100d@Builtin" }`. */
  readonly tenantDefaults?: Users.TenantDefaults
  /**
   * Login sessions and passwords: `sessionLifetime` (7 days), `passwordCost` (scrypt N, 2^17),
   * `registration` (`open`), `loginLimits` (failed logins per account and per address).
   */
  readonly users?: Omit<Users.UsersOptions, "tenantDefaults">
  /**
   * The deployment's secret key (at least 32 characters): tenants' model provider API keys are
   * encrypted under it. Without it, providers can be added only without a key.
   */
  readonly secretKey?: Redacted.Redacted<string>
  /** Let tenants' model providers reach loopback, private and link-local addresses (false by default). */
  readonly allowPrivateProviders?: boolean
  /**
   * The deployment's own model providers, seen by every tenant ahead of plugins' fixed providers
   * and tenants' own (e.g. `{ name: "BAAI", kind: "onnx", models: [{ name: "BAAI/bge-large-zh-v1.5",
   * type: "embedding", path: "/models/bge-large-zh-v1.5" }] }`); see `Models.DeploymentProvider`.
   */
  readonly providers?: ReadonlyArray<Models.DeploymentProvider>
  /** The status check: the stores' names it shows, its timeout, when a worker counts as alive. */
  readonly system?: System.SystemOptions
}

/** The services, needing the ports. Model plugins are added with `withPlugins`. */
export const layerServices = (options: Options = {}): Layer.Layer<Services, never, Ports> =>
  Layer.mergeAll(
    Users.layer({ ...options.users, tenantDefaults: options.tenantDefaults }),
    Tenants.layer,
    ApiTokens.layer,
    KnowledgeBases.layer,
    Documents.layer(options.documents),
    Chunks.layer,
    Dialogs.layer,
    Conversations.layer,
    Retrieval.layer,
    System.layer(options.system)
  ).pipe(
    (services) => Layer.provideMerge(Completions.layer, services),
    Layer.provideMerge(
      Models.layer({ secretKey: options.secretKey, allowPrivateProviders: options.allowPrivateProviders, providers: options.providers })
    ),
    // One hub for the services and a worker built over them (`layerWorker`): its changes reach `Documents.changes`.
    Layer.provideMerge(DocumentChanges.layer)
  )

/**
 * The engine over the given ports, with these model plugin layers registered
 * (e.g. `TestModels.layer`, the built-in embedder, an OpenAI-compatible provider).
 */
export const layer = <L extends Layer.Layer<Ports, any, any>, P extends Layer.Layer<never, any, any> = never>(
  ports: L,
  plugins: ReadonlyArray<P> = [],
  options: Options = {}
): Layer.Layer<
  Services | Layer.Layer.Success<L>,
  Layer.Layer.Error<L> | Layer.Layer.Error<P>,
  Layer.Layer.Context<L> | Exclude<Layer.Layer.Context<P>, ModelProvider.ModelPlugins | Services | Layer.Layer.Success<L>>
> => {
  const services = layerServices(options)
  const withPlugins =
    plugins.length === 0
      ? services
      : Layer.provideMerge(Layer.mergeAll(...(plugins as unknown as [Layer.Layer<never>])), services)
  // Every port the services need is in the ports' output, so nothing is left to require but theirs.
  return withPlugins.pipe(Layer.provideMerge(ports)) as never
}

/** Memory implementations of the stores: records, tasks, blobs, chunks. Nothing persists. */
export const layerMemoryStores: Layer.Layer<
  RecordStore.RecordStore | TaskQueue.TaskQueue | BlobStore.BlobStore | ChunkIndex.ChunkIndex
> = Layer.mergeAll(RecordStore.layerMemory, TaskQueue.layerMemory, BlobStore.layerMemory, ChunkIndex.layerMemory)

/** The memory stores with the plain-text parser and the tokenizer. */
export const layerMemoryPorts: Layer.Layer<Ports> = Layer.mergeAll(
  layerMemoryStores,
  Parser.layer([Parser.TextParser]),
  Tokenizer.layer
)

/**
 * The ingestion worker over the engine, parsing on the calling thread: it also needs the chunk
 * methods (`ChunkMethodRegistry`). Build it with the services (`Layer.provideMerge(Rag.layer(...))`);
 * its `run` works until interrupted. No time limit can stop a parse on the calling thread: for
 * files you do not trust, parse on threads (`layerWorkerWith(ParserThreads.layer(...))`).
 */
export const layerWorker = (options: Ingestion.IngestionOptions = {}) =>
  Ingestion.layer(options).pipe(Layer.provide(DocumentPreparer.layerLocal))

/**
 * The ingestion worker with another `DocumentPreparer`, e.g. `ParserThreads.layer(...)` of `@ragkit/parsers`,
 * which parses on a pool of worker threads.
 */
export const layerWorkerWith = <E, R>(
  preparer: Layer.Layer<DocumentPreparer.DocumentPreparer, E, R>,
  options: Ingestion.IngestionOptions = {}
) => Ingestion.layer(options).pipe(Layer.provide(preparer))

/**
 * Runs the worker's loops (`Ingestion.run`) for as long as the layer lives. When the layer is
 * released, the loops claim nothing more, documents in hand get `graceMs` to finish, and those
 * still in hand then go back to the queue. Provide it a worker (`layerWorker`, `layerWorkerWith`).
 */
export const layerWorkerRunning = (graceMs = 5_000) =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const ingestion = yield* Ingestion.Ingestion
      yield* Effect.forkScoped(ingestion.run)
      // Released before the loops are interrupted: claim nothing more, give the documents in hand
      // `graceMs` to finish; the rest go back to the queue.
      yield* Effect.addFinalizer(() =>
        Effect.zipRight(
          Effect.logInfo(`stopping the ingestion worker: documents in hand have ${graceMs} ms to finish`),
          ingestion.stop(Duration.millis(graceMs))
        )
      )
    })
  )
