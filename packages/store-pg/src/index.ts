/**
 * @ragkit/store-pg: the record store, the task queue and the chunk index (pgvector) on a Postgres
 * server. Embedded PGlite is the `@ragkit/store-pg/pglite` entry point (its packages are optional
 * peers, loaded only there).
 *
 *   const Stores = StorePg.layer({ url: Redacted.make("postgres://...") })
 *   const Stores = StorePglite.layerEmbedded({ dataDir: "./data/pg" }) // from "@ragkit/store-pg/pglite"
 */
export * from "./StorePg.js"
export * as Migrations from "./Migrations.js"
export * as PgChunkIndex from "./PgChunkIndex.js"
export * as PgRecordStore from "./PgRecordStore.js"
export * as PgTaskQueue from "./PgTaskQueue.js"
