/**
 * @ragkit/store-pg/pglite: the record store, the task queue and the chunk index on PGlite, an
 * in-process Postgres in a data directory. `@electric-sql/pglite` and
 * `@electric-sql/pglite-pgvector` are optional peer dependencies of `@ragkit/store-pg`, imported
 * when a layer here is built (a host on a real Postgres never loads them); without them the layer
 * fails with a `StoreError` saying `npm install @electric-sql/pglite ...`.
 *
 *   const Stores = layerEmbedded({ dataDir: "./data/pg" })
 */
import type { ChunkIndex, ChunkIndexError, StoreError } from "@ragkit/core"
import { Layer } from "effect"
import { unavailable } from "./internal/errors.js"
import * as PgChunkIndex from "./PgChunkIndex.js"
import * as PgliteClient from "./PgliteClient.js"
import { layerFromClient, type Services } from "./StorePg.js"

export * as PgliteClient from "./PgliteClient.js"

export interface EmbeddedOptions {
  /** The database directory (e.g. `<data-dir>/pg`); in memory when absent or `"memory"`. */
  readonly dataDir?: string | undefined
  /** Postgres's `shared_buffers` in MiB (default 128): memory held while the database is open. */
  readonly sharedBuffersMb?: number | undefined
  /** How often tables are checked for a vacuum or an analyze (`PgliteClient`'s option; default 60,000 ms, 0: never). */
  readonly vacuumIntervalMillis?: number | undefined
}

/** Both stores on PGlite in this process. Opening takes a few seconds: build it once. */
export const layerEmbedded = (options: EmbeddedOptions = {}): Layer.Layer<Services, StoreError> =>
  layerFromClient.pipe(Layer.provideMerge(PgliteClient.layer(options).pipe(Layer.mapError(unavailable))))

/**
 * Both stores and the `ChunkIndex` on PGlite in this process, with pgvector loaded. Opening takes a
 * few seconds: build it once.
 */
export const layerEmbeddedWithChunkIndex = (
  options: EmbeddedOptions & { readonly chunkIndex?: PgChunkIndex.Options | undefined } = {}
): Layer.Layer<Services | ChunkIndex.ChunkIndex, StoreError | ChunkIndexError> =>
  Layer.merge(layerFromClient, PgChunkIndex.layer(options.chunkIndex)).pipe(
    Layer.provideMerge(
      PgliteClient.layer({
        dataDir: options.dataDir,
        sharedBuffersMb: options.sharedBuffersMb,
        vacuumIntervalMillis: options.vacuumIntervalMillis,
        pgvector: true
      }).pipe(
        Layer.mapError(unavailable)
      )
    )
  )
