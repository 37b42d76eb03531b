/**
 * An in-process Postgres: PGlite in a data directory (or in memory), behind `@effect/sql-pg`'s
 * `PgClient`, so the same SQL runs embedded and on a real server.
 *
 * PGlite is single-connection: node-postgres talks to it through a `pg.Pool` of one client, so
 * statements and transactions take turns. One process per data directory.
 *
 * With pgvector (the embedded chunk index), PGlite runs by default in a thread of its own, reached
 * through the wire protocol (`internal/pgliteSocket.ts`): PGlite runs each statement synchronously
 * in the thread that holds it, and in the opening thread the chunk index's long statements (an HNSW
 * build, a document's thousands of chunks and postings) stopped the process's event loop: an HTTP
 * server answered nothing for up to 18 s, and reset keep-alive connections. Records and tasks alone
 * are short statements, and the thread costs 17-35 MiB of an idle server: they stay in the opening
 * thread unless `thread: true`. `extensions`, which cannot be sent to a thread, keep it there too.
 *
 * `@electric-sql/pglite` (and `@electric-sql/pglite-pgvector` for `pgvector: true`) are optional
 * peer dependencies, imported when the layer is built; without them the layer fails with an
 * `SqlError` whose message says `npm install ...`.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import type { Extensions } from "@electric-sql/pglite"
import { OptionalPeer } from "@ragkit/core"
import { Effect, Layer, type Scope } from "effect"
import * as Pg from "pg"
import { startThread, ThreadOpenError } from "./internal/pgliteSocket.js"

export interface Options {
  /** A directory for the database files; in memory when absent or `"memory"`. */
  readonly dataDir?: string | undefined
  /** Loads pgvector, which the chunk index needs (`@electric-sql/pglite-pgvector`). */
  readonly pgvector?: boolean | undefined
  /** Further PGlite extensions to load (PGlite then runs in the opening thread). */
  readonly extensions?: Extensions | undefined
  /**
   * Runs PGlite in a thread of its own, so that its statements never stop this thread's event loop
   * (default: when `pgvector` is on). Ignored when `extensions` are given.
   */
  readonly thread?: boolean | undefined
  /**
   * Postgres's `shared_buffers` in MiB (its default: 128). They are memory of the process for as
   * long as the database is open: a smaller cache keeps an idle process small.
   */
  readonly sharedBuffersMb?: number | undefined
}

const location = (options: Options): string =>
  options.dataDir === undefined || options.dataDir === "memory" || options.dataDir === ""
    ? "memory://"
    : options.dataDir

const neededFor = "the embedded Postgres (@ragkit/store-pg/pglite)"

const pglite = OptionalPeer.load(
  "@electric-sql/pglite",
  async () => {
    const [{ PGlite }, { createPgConfig }] = await Promise.all([
      import("@electric-sql/pglite"),
      import("@electric-sql/pglite/node-postgres")
    ])
    return { PGlite, createPgConfig }
  },
  { neededFor }
)

const pgvectorNeededFor = "the embedded chunk index (@ragkit/store-pg/pglite)"

const pgvector = OptionalPeer.load("@electric-sql/pglite-pgvector", () => import("@electric-sql/pglite-pgvector"), {
  neededFor: pgvectorNeededFor
})

const asSqlError = (error: OptionalPeer.OptionalPeerError) => new SqlError({ cause: error, message: error.message })

/** Postgres settings beyond PGlite's default start parameters (in this thread or in PGlite's own). */
const extraStartParams = (options: Options): ReadonlyArray<string> =>
  options.sharedBuffersMb === undefined ? [] : ["-c", `shared_buffers=${Math.max(1, Math.floor(options.sharedBuffersMb))}MB`]

/** The failure of the thread to open the database, as the in-thread open reports it. */
const threadOpenError = (options: Options, dataDir: string) => (cause: unknown): SqlError => {
  const error = Object.assign(new Error(cause instanceof Error ? cause.message : String(cause)), {
    code: cause instanceof ThreadOpenError ? cause.code : undefined
  })
  for (const name of ["@electric-sql/pglite-pgvector", "@electric-sql/pglite"]) {
    if (OptionalPeer.isNotInstalled(error, name)) {
      return asSqlError(OptionalPeer.toError([name], error, name === "@electric-sql/pglite" ? neededFor : pgvectorNeededFor))
    }
  }
  return new SqlError({ cause, message: `PGlite: could not open ${dataDir}: ${error.message}` })
}

/** PGlite in a thread of its own (closed with the scope) and a one-client `pg.Pool` on it (ended first). */
const acquireThreadPool = (options: Options, dataDir: string): Effect.Effect<Pg.Pool, SqlError, Scope.Scope> =>
  Effect.gen(function* () {
    const thread = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => startThread({ dataDir, pgvector: options.pgvector === true, startParams: extraStartParams(options) }),
        catch: threadOpenError(options, dataDir)
      }),
      (thread) => Effect.ignoreLogged(Effect.tryPromise(() => thread.close()))
    )
    return yield* Effect.acquireRelease(
      Effect.sync(() => {
        // idleTimeoutMillis 0: keep the one client for good (its connection is PGlite's one).
        const pool = new Pg.Pool({ stream: thread.socket, user: "postgres", database: "postgres", max: 1, idleTimeoutMillis: 0 })
        pool.on("error", () => {})
        return pool
      }),
      (pool) => Effect.ignoreLogged(Effect.tryPromise(() => pool.end()))
    )
  })

/** Opens PGlite (closed with the scope) and a one-client `pg.Pool` on it (ended first). */
export const acquirePool = (options: Options): Effect.Effect<Pg.Pool, SqlError, Scope.Scope> =>
  Effect.gen(function* () {
    const dataDir = location(options)
    if ((options.thread ?? options.pgvector === true) && options.extensions === undefined) {
      return yield* acquireThreadPool(options, dataDir)
    }
    const { PGlite, createPgConfig } = yield* Effect.mapError(pglite, asSqlError)
    const extra = extraStartParams(options)
    const extensions: Extensions = options.pgvector === true
      ? { vector: (yield* Effect.mapError(pgvector, asSqlError)).vector, ...options.extensions }
      : { ...options.extensions }
    const db = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () =>
          PGlite.create(dataDir, {
            extensions,
            ...(extra.length === 0 ? {} : { startParams: [...PGlite.defaultStartParams, ...extra] })
          }),
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
