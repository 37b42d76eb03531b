/**
 * The record store and the task queue on Postgres: layers for a real server (`layer`,
 * `layerConfig`) and for an `SqlClient` the host already has (`layerFromClient`); embedded PGlite
 * is `@ragkit/store-pg/pglite` (`layerEmbedded`). Every layer migrates the database when it is built.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { ChunkIndex, ChunkIndexError, RecordStore, StoreError, TaskQueue } from "@ragkit/core"
import { Config, type ConfigError, Layer, Redacted } from "effect"
import { unavailable } from "./internal/errors.js"
import * as Migrations from "./Migrations.js"
import * as PgChunkIndex from "./PgChunkIndex.js"
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
