/**
 * An in-process Postgres: PGlite in a data directory (or in memory), behind `@effect/sql-pg`'s
 * `PgClient`, so the same SQL runs embedded and on a real server.
 *
 * PGlite is single-connection: node-postgres talks to it through a `pg.Pool` of one client, so
 * statements and transactions take turns. One process per data directory.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { type Extensions, PGlite } from "@electric-sql/pglite"
import { createPgConfig } from "@electric-sql/pglite/node-postgres"
import { Effect, Layer, type Scope } from "effect"
import * as Pg from "pg"

export interface Options {
  /** A directory for the database files; in memory when absent or `"memory"`. */
  readonly dataDir?: string | undefined
  /** PGlite extensions to load, e.g. `PgChunkIndex.extensions` (pgvector). */
  readonly extensions?: Extensions | undefined
}

const location = (options: Options): string =>
  options.dataDir === undefined || options.dataDir === "memory" || options.dataDir === ""
    ? "memory://"
    : options.dataDir

/** Opens PGlite (closed with the scope) and a one-client `pg.Pool` on it (ended first). */
export const acquirePool = (options: Options): Effect.Effect<Pg.Pool, SqlError, Scope.Scope> =>
  Effect.gen(function* () {
    const dataDir = location(options)
    const db = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => PGlite.create(dataDir, options.extensions === undefined ? {} : { extensions: options.extensions }),
        catch: (cause) => new SqlError({ cause, message: `PGlite: could not open ${dataDir}` })
      }),
      (db) => Effect.ignoreLogged(Effect.tryPromise(() => db.close()))
    )
    return yield* Effect.acquireRelease(
      Effect.sync(() => {
        // idleTimeoutMillis 0: keep the one client for good (it wraps the one PGlite connection).
        const pool = new Pg.Pool({ ...createPgConfig(db), max: 1, idleTimeoutMillis: 0 } as Pg.PoolConfig)
        pool.on("error", () => {})
        return pool
      }),
      (pool) => Effect.ignoreLogged(Effect.tryPromise(() => pool.end()))
    )
  }).pipe(Effect.withSpan("StorePg.openPGlite"))

/** `PgClient` and `SqlClient` on PGlite; the database lives as long as the layer. */
export const layer = (options: Options = {}): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError> =>
  PgClient.layerFromPool({ acquire: acquirePool(options), applicationName: "ragkit" })
