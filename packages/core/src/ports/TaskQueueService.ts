/**
 * The contract of the `TaskQueue` port: the service, its task record and errors. Implementations
 * (the memory queue, the Postgres queue) build on this module; hosts and services use `TaskQueue`,
 * which re-exports it.
 */
import { Effect, Option, Schema } from "effect"
import { StoreError } from "../domain/Errors.js"
import { TaskId } from "../domain/Ids.js"
import { JsonObject } from "../domain/Records.js"

export const TaskStatus = Schema.Literal("queued", "running", "done", "failed", "canceled")
export type TaskStatus = typeof TaskStatus.Type

export class Task extends Schema.Class<Task>("Task")({
  id: TaskId,
  /** What kind of work, e.g. `parse`. */
  kind: Schema.String,
  /** What the work is about, e.g. the document id; several tasks may share a key over time. */
  key: Schema.String,
  payload: JsonObject,
  status: TaskStatus,
  /** How many times the task was claimed. */
  attempts: Schema.Number,
  max_attempts: Schema.Number,
  lease_owner: Schema.NullOr(Schema.String),
  lease_expires_at: Schema.NullOr(Schema.Number),
  error: Schema.NullOr(Schema.String),
  created_at: Schema.Number,
  updated_at: Schema.Number
}) {}

/** The worker no longer holds the task: its lease expired and another took it, or it was canceled. */
export class LeaseLost extends Schema.TaggedError<LeaseLost>()("LeaseLost", {
  task_id: Schema.String,
  reason: Schema.Literal("Canceled", "Expired", "NotFound"),
  message: Schema.String
}) {}

export interface EnqueueInput {
  readonly kind: string
  readonly key: string
  readonly payload?: JsonObject
  /** Claims after this many failed or expired attempts give up and mark the task failed. Default 3. */
  readonly maxAttempts?: number
}

export interface ClaimOptions {
  readonly worker: string
  readonly leaseMs: number
  /** How many tasks at most. Default 1. */
  readonly limit?: number
  readonly kinds?: ReadonlyArray<string>
  /**
   * Also return the tasks this claim gave up on (out of attempts, now `failed`, not counted against
   * `limit`), so that the caller can end what they were about. Default false.
   */
  readonly includeExhausted?: boolean
}

export const WorkerState = Schema.Literal("idle", "working", "backing-off", "stopped")
export type WorkerState = typeof WorkerState.Type

/**
 * What a worker last said about itself: kept by the queue so that every process sharing it can
 * see every worker (a status check reads `listWorkers`). A worker reports every few seconds; one
 * whose `heartbeat_at` is much older than that is gone.
 */
export class WorkerStatus extends Schema.Class<WorkerStatus>("WorkerStatus")({
  /** The name the worker claims tasks under. */
  id: Schema.String,
  /** `backing-off`: waiting to try again after store errors. */
  state: WorkerState,
  /** How many tasks it works on at once, at most. */
  concurrency: Schema.Number,
  /** Tasks it works on now. */
  in_flight: Schema.Number,
  /** Tasks it ended (done or failed) since it started. */
  processed: Schema.Number,
  /** Store errors it met since it started (each retried after a pause). */
  errors: Schema.Number,
  /** The latest of those: what failed and why (never a credential). */
  last_error: Schema.NullOr(Schema.String),
  last_error_at: Schema.NullOr(Schema.Number),
  started_at: Schema.Number,
  /** When it last reported. */
  heartbeat_at: Schema.Number
}) {}

/**
 * How much work the queue holds: tasks waiting to be claimed, and tasks leased to a worker (an
 * expired lease counts as running until a claim takes the task again).
 */
export const QueueDepth = Schema.Struct({ queued: Schema.Number, running: Schema.Number })
export type QueueDepth = typeof QueueDepth.Type

export interface TaskQueueService {
  readonly enqueue: (input: EnqueueInput) => Effect.Effect<Task, StoreError>
  /**
   * Queues several tasks at once (all or none, in one write where the store has transactions),
   * claimed in the order given; returns them in that order.
   */
  readonly enqueueMany: (inputs: ReadonlyArray<EnqueueInput>) => Effect.Effect<ReadonlyArray<Task>, StoreError>
  /**
   * Takes up to `limit` tasks that are queued or whose lease expired, oldest first, leases them to
   * `worker` and counts an attempt. A task out of attempts is marked failed instead (and returned,
   * `failed`, with `includeExhausted`). Two claimers never get the same task.
   */
  readonly claim: (options: ClaimOptions) => Effect.Effect<ReadonlyArray<Task>, StoreError>
  /** Extends the lease; fails with `LeaseLost` when the task was canceled or taken over. */
  readonly heartbeat: (id: TaskId, worker: string, leaseMs: number) => Effect.Effect<void, StoreError | LeaseLost>
  readonly complete: (id: TaskId, worker: string) => Effect.Effect<void, StoreError | LeaseLost>
  /**
   * `complete` for several tasks in one write, all or none: when `worker` holds every one, ends them
   * all and returns no error; otherwise changes nothing and returns, for each task it does not hold
   * (canceled, taken over, gone), why. Joins the caller's transaction where the store has them, so
   * that a batch of runs and their tasks end together.
   */
  readonly completeMany: (ids: ReadonlyArray<TaskId>, worker: string) => Effect.Effect<ReadonlyArray<LeaseLost>, StoreError>
  /** Ends the task as failed with the reason; with `retry`, puts it back in the queue while attempts remain. */
  readonly fail: (
    id: TaskId,
    worker: string,
    error: string,
    options?: { readonly retry?: boolean }
  ) => Effect.Effect<void, StoreError | LeaseLost>
  /** Cancels queued and running tasks with this key; returns how many. */
  readonly cancelKey: (key: string) => Effect.Effect<number, StoreError>
  readonly get: (id: TaskId) => Effect.Effect<Option.Option<Task>, StoreError>
  /** Tasks of a key, newest first. */
  readonly listByKey: (key: string) => Effect.Effect<ReadonlyArray<Task>, StoreError>
  /** How many tasks are queued and running now, over every kind: one cheap read (a status check shows it). */
  readonly depth: Effect.Effect<QueueDepth, StoreError>
  /** Records a worker's status, replacing what it reported before: one write. */
  readonly reportWorker: (status: WorkerStatus) => Effect.Effect<void, StoreError>
  /** Every worker that reported, the most recent report first. */
  readonly listWorkers: Effect.Effect<ReadonlyArray<WorkerStatus>, StoreError>
  /** Forgets workers whose last report is older than `before` (epoch ms); returns how many. */
  readonly forgetWorkers: (before: number) => Effect.Effect<number, StoreError>
}
