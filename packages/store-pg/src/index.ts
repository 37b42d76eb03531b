/**
 * @ragkit/store-pg: the record store, the task queue and the chunk index (pgvector) on Postgres,
 * embedded (PGlite) or a server.
 *
 *   const Stores = StorePg.layerEmbedded({ dataDir: "./data/pg" })
 *   const Stores = StorePg.layer({ url: Redacted.make("postgres://...") })
 */
export * from "./StorePg.js"
export * as Migrations from "./Migrations.js"
export * as PgChunkIndex from "./PgChunkIndex.js"
export * as PgliteClient from "./PgliteClient.js"
export * as PgRecordStore from "./PgRecordStore.js"
export * as PgTaskQueue from "./PgTaskQueue.js"
