/**
 * The task queue on Postgres (or PGlite): one `task` table, claimed with
 * `SELECT ... FOR UPDATE SKIP LOCKED` so any number of workers share it and no task is handed out
 * twice, and a `task_worker` table where each worker's latest status report replaces its last.
 * Every time is `Clock.currentTimeMillis` sent as a parameter, never the database's clock, so
 * leases follow the Effect clock (and the TestClock in tests). Semantics are those of core's
 * memory queue.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { randomHex32, StoreError, TaskQueue, type TaskId } from "@ragkit/core"
import { Clock, Effect, Layer, Option, ParseResult, Schema } from "effect"
import { mapSqlError } from "./internal/errors.js"

interface TaskRow {
  readonly id: string
  readonly kind: string
  readonly key: string
  readonly payload: unknown
  readonly status: string
  readonly attempts: number
  readonly max_attempts: number
  readonly lease_owner: string | null
  readonly lease_expires_at: string | number | null
  readonly error: string | null
  readonly created_at: string | number
  readonly updated_at: string | number
}

const columns =
  "id, kind, key, payload, status, attempts, max_attempts, lease_owner, lease_expires_at, error, created_at, updated_at"

const decodeTask = Schema.decodeUnknown(TaskQueue.Task)
const decodeWorker = Schema.decodeUnknown(TaskQueue.WorkerStatus)
const encodeWorker = Schema.encode(TaskQueue.WorkerStatus)

const corrupt = (what: string) => (error: ParseResult.ParseError) =>
  new StoreError({
    reason: "Corrupt",
    message: `a ${what} row does not match its schema: ${ParseResult.TreeFormatter.formatErrorSync(error)}`,
    cause: error
  })

/** A row as a `Task`; `bigint` columns arrive as strings from `pg`. */
const toTask = (row: TaskRow): Effect.Effect<TaskQueue.Task, StoreError> =>
  decodeTask({
    ...row,
    lease_expires_at: row.lease_expires_at === null ? null : Number(row.lease_expires_at),
    created_at: Number(row.created_at),
    updated_at: Number(row.updated_at)
  }).pipe(Effect.mapError(corrupt("task")))

/** Builds the queue on the `SqlClient` of the context. The `task` table must exist. */
export const make: Effect.Effect<TaskQueue.TaskQueueService, never, SqlClient.SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const cols = sql.literal(columns)

  const store =
    (what: string) =>
    <A, E>(effect: Effect.Effect<A, E | SqlError>): Effect.Effect<A, Exclude<E, SqlError> | StoreError> =>
      Effect.mapError(effect, mapSqlError(`task.${what}`)) as Effect.Effect<A, Exclude<E, SqlError> | StoreError>

  /** Why `worker` does not hold task `id` (after an update that required it found nothing). */
  const lost = (id: TaskId, worker: string): Effect.Effect<never, TaskQueue.LeaseLost | SqlError> =>
    Effect.flatMap(whyLost(id, worker), Effect.fail)

  const whyLost = (id: TaskId, worker: string): Effect.Effect<TaskQueue.LeaseLost, SqlError> =>
    Effect.map(
      sql<{ readonly status: string }>`SELECT status FROM task WHERE id = ${id}`,
      ([row]) =>
          row === undefined
            ? new TaskQueue.LeaseLost({ task_id: id, reason: "NotFound", message: `task ${id} not found` })
            : row.status === "canceled"
              ? new TaskQueue.LeaseLost({ task_id: id, reason: "Canceled", message: `task ${id} was canceled` })
              : new TaskQueue.LeaseLost({
                  task_id: id,
                  reason: "Expired",
                  message: `task ${id} is no longer leased to ${worker}`
                })
    )

  /**
   * Runs an `UPDATE ... WHERE id AND held by worker RETURNING id`; when it touches nothing, fails
   * with the reason. A lease that ran out but was not taken over yet still lets its holder finish.
   */
  const whileHeld = (id: TaskId, worker: string, update: Effect.Effect<ReadonlyArray<unknown>, SqlError>) =>
    Effect.flatMap(update, (rows) => (rows.length > 0 ? Effect.void : lost(id, worker)))

  const held = (id: TaskId, worker: string) => sql`id = ${id} AND status = 'running' AND lease_owner = ${worker}`

  /** One statement per 1,000 tasks, all in one transaction; `seq` follows the order given. `enqueue` is one of them. */
  const enqueueMany = Effect.fn("PgTaskQueue.enqueueMany")(function* (inputs: ReadonlyArray<TaskQueue.EnqueueInput>) {
    if (inputs.length === 0) return []
    const now = yield* Clock.currentTimeMillis
    const ids = inputs.map(() => randomHex32())
    const insert = (from: number) => {
      const part = inputs.slice(from, from + 1_000)
      return sql.unsafe<TaskRow>(
        `INSERT INTO task (id, kind, key, payload, status, attempts, max_attempts, lease_owner,
            lease_expires_at, error, created_at, updated_at)
          SELECT t.id, t.kind, t.key, t.payload::jsonb, 'queued', 0, t.max_attempts, NULL, NULL, NULL, $6, $6
          FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[]) WITH ORDINALITY
            AS t(id, kind, key, payload, max_attempts, n)
          ORDER BY t.n
          RETURNING ${columns}`,
        [
          ids.slice(from, from + 1_000),
          part.map((input) => input.kind),
          part.map((input) => input.key),
          part.map((input) => JSON.stringify(input.payload ?? {})),
          part.map((input) => input.maxAttempts ?? 3),
          now
        ]
      )
    }
    const statements = Effect.forEach(Array.from({ length: Math.ceil(inputs.length / 1_000) }, (_, i) => i * 1_000), insert)
    const rows = yield* store("enqueue")(inputs.length > 1_000 ? sql.withTransaction(statements) : statements)
    const byId = new Map(rows.flat().map((row) => [row.id, row] as const))
    return yield* Effect.forEach(ids, (id) => toTask(byId.get(id)!))
  })

  const enqueue = (input: TaskQueue.EnqueueInput) => Effect.map(enqueueMany([input]), (tasks) => tasks[0]!)

  const claim = Effect.fn("PgTaskQueue.claim")(function* (options: TaskQueue.ClaimOptions) {
    const limit = options.limit ?? 1
    if (!(limit > 0) || (options.kinds !== undefined && options.kinds.length === 0)) return []
    const now = yield* Clock.currentTimeMillis
    const expires = Math.round(now + options.leaseMs)
    const kinds = options.kinds === undefined ? sql.literal("true") : sql`kind IN ${sql.in(options.kinds)}`
    return yield* store("claim")(
      sql.withTransaction(
        Effect.gen(function* () {
          const claimed: Array<TaskQueue.Task> = []
          const givenUp: Array<TaskQueue.Task> = []
          while (claimed.length < limit) {
            const want = Math.ceil(limit - claimed.length)
            const candidates = yield* sql<{ readonly id: string; readonly attempts: number; readonly max_attempts: number }>`
              SELECT id, attempts, max_attempts FROM task
              WHERE ${kinds} AND (status = 'queued' OR (status = 'running' AND lease_expires_at < ${now}))
              ORDER BY created_at, seq
              LIMIT ${want}
              FOR UPDATE SKIP LOCKED`
            if (candidates.length === 0) break
            const exhausted = candidates.filter((t) => t.attempts >= t.max_attempts).map((t) => t.id)
            const take = candidates.filter((t) => t.attempts < t.max_attempts).map((t) => t.id)
            if (exhausted.length > 0) {
              const failed = yield* sql<TaskRow>`UPDATE task SET status = 'failed', lease_owner = NULL, lease_expires_at = NULL,
                  error = COALESCE(error, 'gave up after ' || attempts || ' attempts'), updated_at = ${now}
                WHERE id IN ${sql.in(exhausted)}
                RETURNING ${cols}`
              if (options.includeExhausted === true) {
                const byId = new Map(failed.map((row) => [row.id, row] as const))
                for (const id of exhausted) givenUp.push(yield* toTask(byId.get(id)!))
              }
            }
            if (take.length > 0) {
              const leased = yield* sql<TaskRow>`UPDATE task SET status = 'running', attempts = attempts + 1,
                  lease_owner = ${options.worker}, lease_expires_at = ${expires}, updated_at = ${now}
                WHERE id IN ${sql.in(take)}
                RETURNING ${cols}`
              const byId = new Map(leased.map((row) => [row.id, row] as const))
              for (const id of take) claimed.push(yield* toTask(byId.get(id)!))
            }
            // Fewer candidates than asked for: nothing more to take. No exhausted ones: the limit is met.
            if (candidates.length < want || exhausted.length === 0) break
          }
          return [...claimed, ...givenUp]
        })
      )
    )
  })

  const heartbeat = Effect.fn("PgTaskQueue.heartbeat")(function* (id: TaskId, worker: string, leaseMs: number) {
    const now = yield* Clock.currentTimeMillis
    yield* store("heartbeat")(
      whileHeld(
        id,
        worker,
        sql`UPDATE task SET lease_expires_at = ${Math.round(now + leaseMs)}, updated_at = ${now}
          WHERE ${held(id, worker)} RETURNING id`
      )
    )
  })

  const complete = Effect.fn("PgTaskQueue.complete")(function* (id: TaskId, worker: string) {
    const now = yield* Clock.currentTimeMillis
    yield* store("complete")(
      whileHeld(
        id,
        worker,
        sql`UPDATE task SET status = 'done', lease_owner = NULL, lease_expires_at = NULL,
            updated_at = ${now}
          WHERE ${held(id, worker)} RETURNING id`
      )
    )
  })

  const completeMany = Effect.fn("PgTaskQueue.completeMany")(function* (ids: ReadonlyArray<TaskId>, worker: string) {
    const unique = [...new Set(ids)]
    if (unique.length === 0) return []
    const now = yield* Clock.currentTimeMillis
    const mine = sql`id IN ${sql.in(unique)} AND status = 'running' AND lease_owner = ${worker}`
    return yield* store("completeMany")(
      Effect.gen(function* () {
        // All or none: the update applies only when every task is held (their rows locked meanwhile).
        const done = yield* sql<{ readonly id: string }>`WITH held AS (SELECT id FROM task WHERE ${mine} FOR UPDATE)
          UPDATE task SET status = 'done', lease_owner = NULL, lease_expires_at = NULL, updated_at = ${now}
          WHERE id IN (SELECT id FROM held) AND (SELECT count(*) FROM held) = ${unique.length}
          RETURNING id`
        if (done.length === unique.length) return []
        const held = new Set((yield* sql<{ readonly id: string }>`SELECT id FROM task WHERE ${mine}`).map((row) => row.id))
        return yield* Effect.forEach(unique.filter((id) => !held.has(id)), (id) => whyLost(id, worker))
      })
    )
  })

  const fail = Effect.fn("PgTaskQueue.fail")(function* (
    id: TaskId,
    worker: string,
    error: string,
    options?: { readonly retry?: boolean }
  ) {
    const now = yield* Clock.currentTimeMillis
    const status =
      options?.retry === true
        ? sql.literal("CASE WHEN attempts < max_attempts THEN 'queued' ELSE 'failed' END")
        : sql.literal("'failed'")
    yield* store("fail")(
      whileHeld(
        id,
        worker,
        sql`UPDATE task SET status = ${status}, error = ${error}, lease_owner = NULL, lease_expires_at = NULL,
            updated_at = ${now}
          WHERE ${held(id, worker)} RETURNING id`
      )
    )
  })

  const cancelKey = Effect.fn("PgTaskQueue.cancelKey")(function* (key: string) {
    const now = yield* Clock.currentTimeMillis
    const rows = yield* store("cancelKey")(
      sql`UPDATE task SET status = 'canceled', lease_owner = NULL, lease_expires_at = NULL, updated_at = ${now}
        WHERE key = ${key} AND status IN ('queued', 'running') RETURNING id`
    )
    return rows.length
  })

  const get = Effect.fn("PgTaskQueue.get")(function* (id: TaskId) {
    const [row] = yield* store("get")(sql<TaskRow>`SELECT ${cols} FROM task WHERE id = ${id}`)
    return row === undefined ? Option.none() : Option.some(yield* toTask(row))
  })

  const listByKey = Effect.fn("PgTaskQueue.listByKey")(function* (key: string) {
    const rows = yield* store("listByKey")(
      sql<TaskRow>`SELECT ${cols} FROM task WHERE key = ${key} ORDER BY created_at DESC, seq DESC`
    )
    return yield* Effect.forEach(rows, toTask)
  })

  const depth = Effect.gen(function* () {
    // The claim index is partial over exactly these two statuses, so this reads only open tasks.
    const rows = yield* store("depth")(
      sql<{ readonly status: string; readonly n: number }>`SELECT status, count(*)::int AS n FROM task
        WHERE status IN ('queued', 'running') GROUP BY status`
    )
    const of = (status: string) => rows.find((row) => row.status === status)?.n ?? 0
    return { queued: of("queued"), running: of("running") }
  }).pipe(Effect.withSpan("PgTaskQueue.depth"))

  const reportWorker = Effect.fn("PgTaskQueue.reportWorker")(function* (status: TaskQueue.WorkerStatus) {
    const encoded = yield* Effect.mapError(encodeWorker(status), corrupt("task_worker"))
    yield* store("reportWorker")(
      sql`INSERT INTO task_worker (id, status, heartbeat_at)
        VALUES (${status.id}, ${JSON.stringify(encoded)}::jsonb, ${Math.round(status.heartbeat_at)})
        ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, heartbeat_at = EXCLUDED.heartbeat_at`
    )
  })

  const listWorkers = Effect.gen(function* () {
    const rows = yield* store("listWorkers")(
      sql<{ readonly status: unknown }>`SELECT status FROM task_worker ORDER BY heartbeat_at DESC, id`
    )
    return yield* Effect.forEach(rows, (row) => Effect.mapError(decodeWorker(row.status), corrupt("task_worker")))
  }).pipe(Effect.withSpan("PgTaskQueue.listWorkers"))

  const forgetWorkers = Effect.fn("PgTaskQueue.forgetWorkers")(function* (before: number) {
    const rows = yield* store("forgetWorkers")(sql`DELETE FROM task_worker WHERE heartbeat_at < ${Math.round(before)} RETURNING id`)
    return rows.length
  })

  const shape: TaskQueue.TaskQueueService = {
    enqueue,
    enqueueMany,
    claim,
    heartbeat,
    complete,
    completeMany,
    fail,
    cancelKey,
    get,
    listByKey,
    depth,
    reportWorker,
    listWorkers,
    forgetWorkers
  }
  return shape
})

/** Provides `TaskQueue` on an `SqlClient` whose database is migrated (see `Migrations.layer`). */
export const layer: Layer.Layer<TaskQueue.TaskQueue, never, SqlClient.SqlClient> = Layer.effect(
  TaskQueue.TaskQueue,
  make
)
