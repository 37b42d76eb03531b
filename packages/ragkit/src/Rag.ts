/**
 * The engine (`@ragkit/core`'s `Rag`), with the embedded preset: everything in one folder, in this
 * process.
 *
 *   const Engine = Rag.embedded({ dataDir: "./data" })   // a Layer of every service, worker running
 *
 * Under `dataDir`: records and tasks in PGlite (`pg/`), the chunk index in LanceDB (`lancedb/`), the
 * uploaded files (`blobs/`) and the built-in models' cache (`models/`). New tenants start with the
 * built-in models, which need no download or API key: `glove-100d@Builtin` (embeddings) and
 * `extractive@Builtin` (answers by quoting the sources). Parsing runs in this process, on the
 * ingestion worker's fibers (no OCR unless `ocr` is set).
 */
import { NodeContext } from "@effect/platform-node"
import { BuiltinModels } from "@ragkit/adapters/builtin"
import { BlobStore, Rag as CoreRag, Tokenizer } from "@ragkit/core"
import * as Parsers from "@ragkit/parsers"
import { LanceChunkIndex } from "@ragkit/store-lancedb"
import { layerEmbedded } from "@ragkit/store-pg/pglite"
import { Layer } from "effect"
import { join } from "node:path"

export const { layer, layerServices, layerMemoryStores, layerMemoryPorts, layerWorker, layerWorkerWith, layerWorkerRunning } = CoreRag
export type Ports = CoreRag.Ports
export type Services = CoreRag.Services
export type Options = CoreRag.Options

/** The embedding model new tenants start with: needs no download. */
export const DefaultEmbeddingModel = "glove-100d@Builtin"

/** The chat model new tenants start with: quotes the sources, needs no language model. */
export const DefaultChatModel = "extractive@Builtin"

export interface EmbeddedOptions {
  /** The folder of everything the engine keeps: created when missing. */
  readonly dataDir: string
  /** Documents the ingestion worker parses at once; 0 runs no worker (another process does). Default 2. */
  readonly workers?: number
  /** Read text in images and scanned PDFs (loads the OCR models on first use). Default false. */
  readonly ocr?: boolean
  /** More model provider plugins (e.g. `OpenAiModels.layerFetch()` of `@ragkit/adapters/openai`). */
  readonly plugins?: ReadonlyArray<Layer.Layer<never, any, never>>
  /** The engine's options (`Rag.Options`); `tenantDefaults` defaults to the built-in models. */
  readonly engine?: CoreRag.Options
}

/** Where each store keeps its files under `dataDir`. */
export const paths = (dataDir: string) => ({
  records: join(dataDir, "pg"),
  chunkIndex: join(dataDir, "lancedb"),
  blobs: join(dataDir, "blobs"),
  models: join(dataDir, "models")
})

/** Records, tasks, chunks and blobs under `dataDir`; the parsers, chunk methods and tokenizer. */
export const embeddedPorts = (options: Pick<EmbeddedOptions, "dataDir" | "ocr">) => {
  const at = paths(options.dataDir)
  return Layer.mergeAll(
    layerEmbedded({ dataDir: at.records }),
    LanceChunkIndex.layer({ uri: at.chunkIndex }),
    BlobStore.layerFileSystem(at.blobs).pipe(Layer.provide(NodeContext.layer)),
    (options.ocr === true ? Parsers.layer : Parsers.layerWithoutOcr)().pipe(Layer.provideMerge(Tokenizer.layer))
  )
}

/**
 * Every service over the embedded ports, the built-in models, and the ingestion worker running in
 * this process until the layer is released (documents in hand then get 5 s to finish).
 */
export const embedded = (options: EmbeddedOptions) => {
  const engine = CoreRag.layer(
    embeddedPorts(options),
    [BuiltinModels.layer({ cacheDir: paths(options.dataDir).models }).pipe(Layer.provide(NodeContext.layer)), ...(options.plugins ?? [])],
    { tenantDefaults: { embd_id: DefaultEmbeddingModel, llm_id: DefaultChatModel }, ...options.engine }
  )
  const workers = options.workers ?? 2
  if (workers === 0) return engine
  return Layer.provideMerge(CoreRag.layerWorkerRunning().pipe(Layer.provide(CoreRag.layerWorker({ concurrency: workers }))), engine)
}
