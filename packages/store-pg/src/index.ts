/**
 * @ragkit/store-pg: the record store and the task queue on Postgres, embedded (PGlite) or a server.
 *
 *   const Stores = StorePg.layerEmbedded({ dataDir: "./data/pg" })
 *   const Stores = StorePg.layer({ url: Redacted.make("postgres://...") })
 */
export * from "./StorePg.js"
export * as Migrations from "./Migrations.js"
export * as PgliteClient from "./PgliteClient.js"
export * as PgRecordStore from "./PgRecordStore.js"
export * as PgTaskQueue from "./PgTaskQueue.js"
