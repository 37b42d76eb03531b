/**
 * System: the deployment's health, as RAGFlow's `GET /system/status` reports it. Each store is
 * checked with a real round trip, timed:
 *
 * - the record store (`database`): a read of one record by id;
 * - the chunk index (`doc_engine`): a count of a document's chunks (a table lookup or query);
 * - the blob store (`storage`): a small blob written, read back and removed under `ragkit-status/`
 *   (a store that can be read but not written, e.g. a full disk, shows red);
 * - the task queue (`task_queue`): its depth and its worker registry, read together.
 *
 * The workers are those of the queue's registry (`TaskQueue.listWorkers`): each one's latest
 * report with `alive` (it reported within `workerAliveWithin` and has not stopped). Redis is not
 * used (the queue and the registry live in the record store's database), and reported so.
 *
 * A failing check is red with its error's kind (`StoreError: Unavailable`, `Timeout`), never the
 * error's message, which may name hosts, paths or connection strings. A check that takes longer
 * than `timeout` is red too, so a store that hangs never hangs the status.
 */
import { Cause, Clock, Context, Duration, Effect, Exit, Layer, Option, Schema } from "effect"
import type { Caller } from "../domain/Caller.js"
import * as Fields from "../domain/Fields.js"
import { type DocumentId, type KnowledgeBaseId, randomHex32 } from "../domain/Ids.js"
import { BlobStore } from "../ports/BlobStore.js"
import { ChunkIndex } from "../ports/ChunkIndex.js"
import { RecordStore } from "../ports/RecordStore.js"
import { TaskQueue, WorkerStatus } from "../ports/TaskQueue.js"

// ---------------------------------------------------------------------------------------------
// Requests and results

export const StatusRequest = Schema.Struct({})
export type StatusRequest = typeof StatusRequest.Type

/** What one check found: `green`, or `red` with the error's kind. */
const checkFields = {
  status: Schema.Literal("green", "red"),
  /** How long the round trip took, in milliseconds (one decimal). */
  elapsed: Schema.Number,
  /** Why it is red: the error's kind (`StoreError: Unavailable`, `Timeout`), never its message. */
  error: Schema.optional(Schema.String)
}
export const Check = Schema.Struct(checkFields)
export type Check = typeof Check.Type

/** A worker's latest report, and whether it is alive (reported recently, not stopped). */
export const WorkerHeartbeat = Schema.Struct({ ...WorkerStatus.fields, alive: Schema.Boolean })
export type WorkerHeartbeat = typeof WorkerHeartbeat.Type

/** RAGFlow's status shape (`doc_engine`, `storage`, `database`, `redis`, `task_executor_heartbeats`) and the queue's depth. */
export const StatusResult = Schema.Struct({
  /** The chunk index; `type` is the deployment's name for it (`lancedb`, `pgvector`, `memory`). */
  doc_engine: Schema.Struct({ type: Schema.String, ...checkFields }),
  /** The blob store; `storage` names it (`file`, `memory`). */
  storage: Schema.Struct({ storage: Schema.String, ...checkFields }),
  /** The record store; `database` names it (`postgres`, `pglite`, `memory`). */
  database: Schema.Struct({ database: Schema.String, ...checkFields }),
  /** Not used by ragkit: always `not_used`. */
  redis: Schema.Struct({ status: Schema.Literal("not_used"), elapsed: Schema.Number }),
  /** The task queue's depth (tasks queued and running), read with the worker registry. */
  task_queue: Schema.Struct({ ...checkFields, queued: Schema.Number, running: Schema.Number }),
  /**
   * Every worker in the registry by its id, as RAGFlow keys its task executors: a list holding the
   * worker's latest report (the registry keeps no older ones). Empty when the queue can't be read.
   */
  task_executor_heartbeats: Schema.Record({ key: Schema.String, value: Schema.Array(WorkerHeartbeat) })
})
export type StatusResult = typeof StatusResult.Type

/** Each method's request and result, for the surfaces that decode what callers send. */
export const Operations = {
  status: Fields.operation(StatusRequest, StatusResult)
}

// ---------------------------------------------------------------------------------------------
// The service

export interface SystemService {
  /** Checks every store (at once) and reads the workers; never fails: a failed check is red. */
  readonly status: (caller: Caller, request: StatusRequest) => Effect.Effect<StatusResult>
}

export class System extends Context.Tag("@ragkit/core/System")<System, SystemService>() {}

/** The deployment's names for its stores and the limits of the checks. */
export interface SystemOptions {
  /** The record store's name in `database.database`: `postgres`, `pglite`, `memory`. Default `unknown`. */
  readonly database?: string
  /** The chunk index's name in `doc_engine.type`: `lancedb`, `pgvector`, `memory`. Default `unknown`. */
  readonly docEngine?: string
  /** The blob store's name in `storage.storage`: `file`, `memory`. Default `unknown`. */
  readonly storage?: string
  /** A check that takes longer is red (`Timeout`). Default 5 s. */
  readonly timeout?: Duration.DurationInput
  /**
   * A worker is alive when its latest report is at most this old (and it has not stopped). Workers
   * report every 5 s by default (`Ingestion`'s `statusEveryMs`); default 20 s, four reports.
   */
  readonly workerAliveWithin?: Duration.DurationInput
}

/** Where the blob store check writes (and removes) its probe; knowledge bases use hex ids, never this. */
export const BLOB_PROBE_PREFIX = "ragkit-status/"

const PROBE_BYTES = new TextEncoder().encode("ragkit status probe")

/** The kind of a failure, safe to show: the error's tag and reason, never its message. */
export const errorKind = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (Option.isNone(failure)) return Cause.isInterruptedOnly(cause) ? "Interrupted" : "Defect"
  const error = failure.value
  if (error instanceof Cause.TimeoutException) return "Timeout"
  if (typeof error === "object" && error !== null && "_tag" in error) {
    const { _tag, reason } = error as { readonly _tag: unknown; readonly reason?: unknown }
    return typeof reason === "string" ? `${String(_tag)}: ${reason}` : String(_tag)
  }
  return "Error"
}

export const make = (options: SystemOptions = {}) =>
  Effect.gen(function* () {
    const records = yield* RecordStore
    const chunks = yield* ChunkIndex
    const blobs = yield* BlobStore
    const queue = yield* TaskQueue
    const timeout = Duration.decode(options.timeout ?? Duration.seconds(5))
    const aliveWithinMs = Duration.toMillis(Duration.decode(options.workerAliveWithin ?? Duration.seconds(20)))

    /** Runs a round trip under the timeout: its value (when it worked) and the check. */
    const timed = <A, E>(roundTrip: Effect.Effect<A, E>) =>
      Effect.gen(function* () {
        const start = yield* Clock.currentTimeNanos
        const exit = yield* Effect.exit(Effect.timeout(roundTrip, timeout))
        const elapsed = Math.round(Number((yield* Clock.currentTimeNanos) - start) / 100_000) / 10
        const check: Check = Exit.isSuccess(exit)
          ? { status: "green", elapsed }
          : { status: "red", elapsed, error: errorKind(exit.cause) }
        return { value: Exit.isSuccess(exit) ? Option.some(exit.value) : Option.none<A>(), check }
      })

    const database = records.tenants.get(randomHex32())

    const docEngine = chunks.countByDocument(randomHex32() as KnowledgeBaseId, randomHex32() as DocumentId)

    const storage = Effect.gen(function* () {
      const key = `${BLOB_PROBE_PREFIX}${randomHex32()}`
      yield* Effect.ensuring(
        Effect.gen(function* () {
          yield* blobs.put(key, PROBE_BYTES)
          const back = yield* blobs.get(key)
          if (back.length !== PROBE_BYTES.length || back.some((b, i) => b !== PROBE_BYTES[i])) {
            return yield* Effect.fail({ _tag: "BlobStoreError", reason: "Mismatch" } as const)
          }
        }),
        Effect.ignore(blobs.delete(key))
      )
    })

    const taskQueue = Effect.all([queue.depth, queue.listWorkers])

    const status = Effect.fn("System.status")(function* (_caller: Caller, _request: StatusRequest) {
      const [db, engine, store, work] = yield* Effect.all([timed(database), timed(docEngine), timed(storage), timed(taskQueue)], {
        concurrency: "unbounded"
      })
      const now = yield* Clock.currentTimeMillis
      const depth = Option.match(work.value, { onNone: () => ({ queued: 0, running: 0 }), onSome: ([d]) => d })
      const workers = Option.match(work.value, { onNone: () => [], onSome: ([, w]) => w })
      const heartbeats: Record<string, ReadonlyArray<WorkerHeartbeat>> = {}
      for (const worker of workers) {
        heartbeats[worker.id] = [{ ...worker, alive: worker.state !== "stopped" && now - worker.heartbeat_at <= aliveWithinMs }]
      }
      return {
        doc_engine: { type: options.docEngine ?? "unknown", ...engine.check },
        storage: { storage: options.storage ?? "unknown", ...store.check },
        database: { database: options.database ?? "unknown", ...db.check },
        redis: { status: "not_used" as const, elapsed: 0 },
        task_queue: { ...work.check, ...depth },
        task_executor_heartbeats: heartbeats
      }
    })

    return System.of({ status })
  })

/** Requires `RecordStore`, `ChunkIndex`, `BlobStore` and `TaskQueue`. */
export const layer = (options: SystemOptions = {}) => Layer.effect(System, make(options))
