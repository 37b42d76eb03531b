/**
 * The record store and the task queue on Postgres: layers for a real server (`layer`,
 * `layerConfig`), for embedded PGlite (`layerEmbedded`), and for an `SqlClient` the host already
 * has (`layerFromClient`). Every layer migrates the database when it is built.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { type ChunkIndex, type ChunkIndexError, type RecordStore, StoreError, type TaskQueue } from "@ragkit/core"
import { Config, type ConfigError, Layer, Redacted } from "effect"
import { toStoreError } from "./internal/errors.js"
import * as Migrations from "./Migrations.js"
import * as PgChunkIndex from "./PgChunkIndex.js"
import * as PgliteClient from "./PgliteClient.js"
import * as PgRecordStore from "./PgRecordStore.js"
import * as PgTaskQueue from "./PgTaskQueue.js"

/** `RecordStore` on the context's `SqlClient`, after migrating. */
export const layerRecordStore: Layer.Layer<RecordStore.RecordStore, StoreError, SqlClient.SqlClient> =
  PgRecordStore.layer.pipe(Layer.provide(Migrations.layer))

/** `TaskQueue` on the context's `SqlClient`, after migrating. */
export const layerTaskQueue: Layer.Layer<TaskQueue.TaskQueue, StoreError, SqlClient.SqlClient> =
  PgTaskQueue.layer.pipe(Layer.provide(Migrations.layer))

/**
 * `ChunkIndex` (pgvector) on the context's `SqlClient`, after `CREATE EXTENSION vector` and the chunk
 * index's migrations; fails when built if the database has no pgvector.
 */
export const layerChunkIndex: Layer.Layer<ChunkIndex.ChunkIndex, ChunkIndexError, SqlClient.SqlClient> =
  PgChunkIndex.layer()

/** Both stores on the context's `SqlClient`; the migrations run once. */
export const layerFromClient: Layer.Layer<
  RecordStore.RecordStore | TaskQueue.TaskQueue,
  StoreError,
  SqlClient.SqlClient
> = Layer.merge(layerRecordStore, layerTaskQueue)

export type Services = RecordStore.RecordStore | TaskQueue.TaskQueue | PgClient.PgClient | SqlClient.SqlClient

export interface Options {
  /** `postgres://user:password@host:port/database` */
  readonly url: Redacted.Redacted | string
  /** Pool size; default 10 (node-postgres). */
  readonly maxConnections?: number | undefined
  readonly applicationName?: string | undefined
}

const unavailable = (error: SqlError): StoreError => {
  const mapped = toStoreError("connect")(error)
  return mapped.reason === "Unknown" ? new StoreError({ ...mapped, reason: "Unavailable" }) : mapped
}

/** Both stores on a real Postgres server, with the pool as `PgClient`/`SqlClient` for other users. */
export const layer = (options: Options): Layer.Layer<Services, StoreError> =>
  layerFromClient.pipe(
    Layer.provideMerge(
      PgClient.layer({
        url: typeof options.url === "string" ? Redacted.make(options.url) : options.url,
        maxConnections: options.maxConnections,
        applicationName: options.applicationName ?? "ragkit"
      }).pipe(Layer.mapError(unavailable))
    )
  )

export interface ConfigOptions {
  readonly url: Redacted.Redacted
  readonly maxConnections?: number | undefined
}

/**
 * `layer` from `Config`, e.g.
 * `layerConfig({ url: Config.redacted("DATABASE_URL"), maxConnections: Config.integer("DB_POOL").pipe(Config.withDefault(10)) })`.
 */
export const layerConfig = (
  config: Config.Config.Wrap<ConfigOptions>
): Layer.Layer<Services, StoreError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Config.map(Config.unwrap(config), (options) => layer(options)))

export interface EmbeddedOptions {
  /** The database directory (e.g. `<data-dir>/pg`); in memory when absent or `"memory"`. */
  readonly dataDir?: string | undefined
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
      PgliteClient.layer({ dataDir: options.dataDir, extensions: PgChunkIndex.extensions }).pipe(
        Layer.mapError(unavailable)
      )
    )
  )
