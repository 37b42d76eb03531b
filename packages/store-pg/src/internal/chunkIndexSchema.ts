/**
 * Prepares a database for the chunk index when its layer is built: `CREATE EXTENSION vector`, then
 * the chunk index's own migrations, under a transaction advisory lock (so concurrent start-ups take
 * turns). A database without pgvector fails here, with a clear `ChunkIndexError`, never later.
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { ChunkIndexError } from "@ragkit/core"
import { Effect } from "effect"
import chunkIndex from "../migrations/0003_chunk_index.js"
import statistics from "../migrations/0004_chunk_index_statistics.js"
import postings from "../migrations/0005_chunk_postings.js"
import plannerStatistics from "../migrations/0010_chunk_planner_statistics.js"
import textTail from "../migrations/0011_chunk_text_tail.js"
import { toChunkIndexError } from "./chunkIndexErrors.js"
import { sqlState } from "./errors.js"

/**
 * The chunk index's migrations, in their own table: the record store's migrations must keep working
 * on a server without pgvector.
 */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "0001_chunk_index": chunkIndex,
  "0002_chunk_index_statistics": statistics,
  "0003_chunk_postings": postings,
  "0004_chunk_planner_statistics": plannerStatistics,
  "0005_chunk_text_tail": textTail
}

export const table = "ragkit_chunk_index_migrations"

/** An arbitrary constant, not the record store's. */
const lockKey = 7_238_411_590_003

const migrator = Migrator.make({})

class ExtensionMissing {
  readonly _tag = "ExtensionMissing"
  constructor(readonly cause: SqlError) {}
}

const pgMessage = (error: SqlError): string => {
  const cause = error.cause
  return typeof cause === "object" && cause !== null && typeof (cause as { message?: unknown }).message === "string"
    ? (cause as { message: string }).message
    : error.message
}

/**
 * The oldest pgvector the chunk index works with: filtered approximate searches set
 * `hnsw.iterative_scan` (0.8.0), and dimensions above 2,000 are indexed as `halfvec` (0.7.0).
 */
export const minimumPgvector = "0.8.0"

const versionParts = (version: string): ReadonlyArray<number> | undefined => {
  const match = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(version)
  return match === null ? undefined : [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)]
}

/**
 * Why pgvector `version` (the database's `extversion`) cannot serve the chunk index, or `undefined`
 * when it can (or when the version does not read as numbers: then it is not second-guessed).
 */
export const pgvectorTooOld = (version: string): string | undefined => {
  const have = versionParts(version)
  const need = versionParts(minimumPgvector)!
  if (have === undefined) return undefined
  for (let i = 0; i < need.length; i++) {
    if (have[i]! > need[i]!) return undefined
    if (have[i]! < need[i]!) {
      return `pgvector ${version} in this database is older than ${minimumPgvector}, which the chunk index needs ` +
        `(filtered searches set hnsw.iterative_scan): install pgvector ${minimumPgvector} or later on the server, ` +
        `then run ALTER EXTENSION vector UPDATE in this database`
    }
  }
  return undefined
}

class ExtensionTooOld {
  readonly _tag = "ExtensionTooOld"
  constructor(readonly message: string) {}
}

/** Creates the extension and the tables if needed; returns pgvector's version. */
export const setup: Effect.Effect<string, ChunkIndexError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return yield* sql.withTransaction(
    Effect.gen(function*() {
      yield* sql`SELECT pg_advisory_xact_lock(${lockKey})`
      yield* sql`CREATE EXTENSION IF NOT EXISTS vector`.pipe(
        Effect.mapError((error) => new ExtensionMissing(error))
      )
      const rows = yield* sql<{ readonly extversion: string }>`
        SELECT extversion FROM pg_extension WHERE extname = 'vector'`
      const version = rows[0]?.extversion ?? "unknown"
      const tooOld = pgvectorTooOld(version)
      if (tooOld !== undefined) return yield* Effect.fail(new ExtensionTooOld(tooOld))
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
        migration_id integer PRIMARY KEY,
        created_at timestamp with time zone NOT NULL DEFAULT now(),
        name text NOT NULL
      )`
      yield* migrator({ loader: Migrator.fromRecord(migrations), table })
      return version
    })
  )
}).pipe(
  Effect.catchAll((error) => {
    if (error instanceof ExtensionTooOld) {
      return Effect.fail(new ChunkIndexError({ reason: "Unsupported", message: error.message }))
    }
    if (error instanceof ExtensionMissing) {
      // insufficient_privilege: the server has pgvector, this database not yet, and pgvector is not
      // a trusted extension (a superuser creates it once per database).
      const message = sqlState(error.cause) === "42501"
        ? `pgvector is not created in this database and this user may not create it: run CREATE EXTENSION vector ` +
          `in this database as a superuser once (${pgMessage(error.cause)})`
        : `pgvector is not installed in this database: CREATE EXTENSION vector failed: ${pgMessage(error.cause)}`
      return Effect.fail(new ChunkIndexError({ reason: "Unsupported", message, cause: error.cause }))
    }
    if (error instanceof SqlError) return Effect.fail(toChunkIndexError("chunk index setup")(error))
    return Effect.fail(
      new ChunkIndexError({ reason: "Unknown", message: `chunk index migrations: ${error.message}`, cause: error })
    )
  }),
  Effect.withSpan("PgChunkIndex.setup")
)
