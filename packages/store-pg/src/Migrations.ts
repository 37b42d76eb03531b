/**
 * The schema of the record store and the task queue, applied with `@effect/sql`'s Migrator when a
 * store layer is built. Concurrent start-ups (several workers on one database) take a transaction
 * advisory lock first, so exactly one of them migrates and the others find the work done.
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import { StoreError } from "@ragkit/core"
import { Effect, Layer } from "effect"
import { toStoreError } from "./internal/errors.js"
import records from "./migrations/0001_records.js"
import taskQueue from "./migrations/0002_task_queue.js"
import taskProgressDropped from "./migrations/0006_task_progress_dropped.js"
import taskWorkers from "./migrations/0007_task_workers.js"
import sessions from "./migrations/0008_sessions.js"
import loginFailures from "./migrations/0009_login_failures.js"
import documentLookups from "./migrations/0012_document_lookups.js"

/** The migrations in order; a schema change is a new entry, never an edit of an old one. */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "0001_records": records,
  "0002_task_queue": taskQueue,
  "0003_task_progress_dropped": taskProgressDropped,
  "0004_task_workers": taskWorkers,
  "0005_sessions": sessions,
  "0006_login_failures": loginFailures,
  "0007_document_lookups": documentLookups
}

/** Where the applied migrations are recorded. */
export const table = "ragkit_migrations"

/** An arbitrary constant: the advisory lock key that serialises migrations of this package. */
const lockKey = 7_238_411_590_001

const migrator = Migrator.make({})

/** Applies the migrations that are not applied yet; returns the ones it applied. */
export const run: Effect.Effect<ReadonlyArray<readonly [id: number, name: string]>, StoreError, SqlClient.SqlClient> =
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    return yield* sql.withTransaction(
      Effect.gen(function* () {
        yield* sql`SELECT pg_advisory_xact_lock(${lockKey})`
        // The Migrator's own check (`select table::regclass`) would abort this transaction when
        // the table is missing, so the table is made here, under the lock.
        yield* sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
          migration_id integer PRIMARY KEY,
          created_at timestamp with time zone NOT NULL DEFAULT now(),
          name text NOT NULL
        )`
        return yield* migrator({ loader: Migrator.fromRecord(migrations), table })
      })
    )
  }).pipe(
    Effect.mapError((error) =>
      error._tag === "MigrationError"
        ? new StoreError({ reason: "Unknown", message: `migrations: ${error.message}`, cause: error })
        : toStoreError("migrations")(error)
    ),
    Effect.withSpan("StorePg.migrate")
  )

/** Runs the migrations when built. */
export const layer: Layer.Layer<never, StoreError, SqlClient.SqlClient> = Layer.effectDiscard(run)
