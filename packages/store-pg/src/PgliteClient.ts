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
 * PGlite runs no autovacuum: rows updated or deleted (a document's progress, the task queue's
 * claims) would stay in the tables and their indexes, which only grow, and the planner would have no
 * statistics. The layer checks `pg_stat_user_tables` every `vacuumIntervalMillis` (60 s) and runs
 * `VACUUM (ANALYZE)` or `ANALYZE` on the tables past autovacuum's default thresholds.
 *
 * `@electric-sql/pglite` (and `@electric-sql/pglite-pgvector` for `pgvector: true`) are optional
 * peer dependencies, imported when the layer is built; without them the layer fails with an
 * `SqlError` whose message says `npm install ...`.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import type { Extensions } from "@electric-sql/pglite"
import { OptionalPeer } from "@ragkit/core"
import { Cause, Effect, Layer, type Scope } from "effect"
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
  /**
   * How often the tables are checked for a `VACUUM` or an `ANALYZE` (milliseconds; default 60,000;
   * 0: never). PGlite runs no autovacuum: without this, rows updated or deleted stay in the tables
   * and their indexes for good, and the planner has no statistics. The thresholds are autovacuum's
   * defaults (`vacuumDue`).
   */
  readonly vacuumIntervalMillis?: number | undefined
}

/** What `pg_stat_user_tables` says of a table since its last vacuum and analyze. */
export interface TableActivity {
  readonly table: string
  /** Rows the planner statistics count (`pg_class.reltuples`; -1 before the first analyze). */
  readonly rows: number
  readonly liveRows: number
  readonly deadRows: number
  readonly modifiedSinceAnalyze: number
}

/**
 * What a table is due, with autovacuum's default thresholds: a `VACUUM` past 50 dead rows + 20% of
 * its rows, else an `ANALYZE` past 50 rows written + 10% (the rows counted live before the first
 * analyze).
 */
export const vacuumDue = (table: TableActivity): "vacuum" | "analyze" | "none" => {
  const rows = table.rows >= 0 ? table.rows : table.liveRows
  if (table.deadRows > 50 + 0.2 * rows) return "vacuum"
  if (table.modifiedSinceAnalyze > 50 + 0.1 * rows) return "analyze"
  return "none"
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

/**
 * Vacuums (and analyses) or analyses the tables that are due (`vacuumDue`), one statement at a time
 * on the database's one connection. Returns what it did, table by table.
 */
export const vacuumTables: Effect.Effect<ReadonlyArray<readonly [string, "vacuum" | "analyze"]>, SqlError, SqlClient.SqlClient> =
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const tables = yield* sql<{
      readonly schema: string
      readonly table: string
      readonly rows: number
      readonly live_rows: string | number
      readonly dead_rows: string | number
      readonly modified: string | number
    }>`SELECT s.schemaname AS schema, s.relname AS table, c.reltuples AS rows, s.n_live_tup AS live_rows, s.n_dead_tup AS dead_rows,
          s.n_mod_since_analyze AS modified
        FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid ORDER BY s.schemaname, s.relname`
    const done: Array<readonly [string, "vacuum" | "analyze"]> = []
    for (const row of tables) {
      const due = vacuumDue({
        table: row.table,
        rows: Number(row.rows),
        liveRows: Number(row.live_rows),
        deadRows: Number(row.dead_rows),
        modifiedSinceAnalyze: Number(row.modified)
      })
      if (due === "none") continue
      const table = sql`${sql(row.schema)}.${sql(row.table)}`
      yield* due === "vacuum" ? sql`VACUUM (ANALYZE) ${table}` : sql`ANALYZE ${table}`
      done.push([row.table, due])
    }
    return done
  })

/** Every `intervalMillis`, `vacuumTables` (a failure is logged, and tried again next time). */
const autovacuum = (intervalMillis: number): Effect.Effect<void, never, SqlClient.SqlClient | Scope.Scope> =>
  Effect.forkScoped(
    Effect.sleep(intervalMillis).pipe(
      Effect.zipRight(
        vacuumTables.pipe(
          Effect.tap((done) =>
            done.length === 0
              ? Effect.void
              : Effect.logDebug(`PGlite: ${done.map(([table, what]) => `${what} ${table}`).join(", ")}`)
          ),
          Effect.catchAllCause((cause) =>
            Cause.isInterruptedOnly(cause)
              ? Effect.failCause(cause)
              : Effect.logWarning("PGlite: vacuuming the tables failed; tried again later", cause)
          )
        )
      ),
      Effect.forever
    )
  ).pipe(Effect.asVoid)

/**
 * `PgClient` and `SqlClient` on PGlite; the database lives as long as the layer. The layer vacuums
 * and analyses the tables as they need it (`vacuumIntervalMillis`), since PGlite has no autovacuum.
 */
export const layer = (options: Options = {}): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError> => {
  const client = PgClient.layerFromPool({ acquire: acquirePool(options), applicationName: "ragkit" })
  const interval = options.vacuumIntervalMillis ?? 60_000
  return interval > 0 ? Layer.provideMerge(Layer.scopedDiscard(autovacuum(interval)), client) : client
}
