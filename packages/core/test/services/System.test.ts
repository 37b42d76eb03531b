import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { afterAll, expect, layer } from "@effect/vitest"
import { Clock, Effect, Layer, TestClock } from "effect"
import { Caller } from "../../src/domain/Caller.js"
import { randomHex32, type TenantId, type UserId } from "../../src/domain/Ids.js"
import * as BlobStore from "../../src/ports/BlobStore.js"
import * as ChunkIndex from "../../src/ports/ChunkIndex.js"
import * as RecordStore from "../../src/ports/RecordStore.js"
import * as TaskQueue from "../../src/ports/TaskQueue.js"
import { decoding } from "../../src/RagClient.js"
import * as System from "../../src/services/System.js"
import * as StoreFaults from "../../src/testing/StoreFaults.js"

const directory = mkdtempSync(join(tmpdir(), "ragkit-status-"))
afterAll(() => rmSync(directory, { recursive: true, force: true }))

const Ports = Layer.mergeAll(
  StoreFaults.recordStore.pipe(Layer.provide(RecordStore.layerMemory)),
  StoreFaults.taskQueue().pipe(Layer.provide(TaskQueue.layerMemory)),
  ChunkIndex.layerMemory,
  BlobStore.layerFileSystem(directory).pipe(Layer.provide(NodeContext.layer))
)
const TestLayer = System.layer({ database: "memory", docEngine: "memory", storage: "file", workerAliveWithin: "20 seconds" }).pipe(
  Layer.provideMerge(Ports)
)

const caller = new Caller({ tenantId: randomHex32() as TenantId, userId: randomHex32() as UserId })
const status = Effect.flatMap(System.System, (system) => decoding(system, System.Operations).status(caller, {}))

const worker = (id: string, state: TaskQueue.WorkerState, heartbeat_at: number) =>
  new TaskQueue.WorkerStatus({
    id,
    state,
    concurrency: 2,
    in_flight: 0,
    processed: 3,
    errors: 0,
    last_error: null,
    last_error_at: null,
    started_at: 0,
    heartbeat_at
  })

layer(TestLayer)("System.status", (it) => {
  it.effect("checks every store with a round trip, and reports the queue's depth and workers", () =>
    Effect.gen(function* () {
      const queue = yield* TaskQueue.TaskQueue
      const blobs = yield* BlobStore.BlobStore
      yield* TestClock.adjust("1 hour")
      const now = yield* Clock.currentTimeMillis
      yield* queue.enqueue({ kind: "parse", key: "a" })
      yield* queue.enqueue({ kind: "parse", key: "b" })
      yield* queue.claim({ worker: "w1", leaseMs: 60_000, kinds: ["parse"] })
      yield* queue.reportWorker(worker("w1", "working", now - 5_000))
      yield* queue.reportWorker(worker("w2", "idle", now - 60_000))
      yield* queue.reportWorker(worker("w3", "stopped", now))

      const result = yield* status
      expect(result.database).toMatchObject({ database: "memory", status: "green" })
      expect(result.doc_engine).toMatchObject({ type: "memory", status: "green" })
      expect(result.storage).toMatchObject({ storage: "file", status: "green" })
      expect(result.redis).toEqual({ status: "not_used", elapsed: 0 })
      expect(result.task_queue).toMatchObject({ status: "green", queued: 1, running: 1 })
      for (const check of [result.database, result.doc_engine, result.storage, result.task_queue]) {
        expect(check.elapsed).toBeGreaterThanOrEqual(0)
        expect(check.error).toBeUndefined()
      }
      expect(Object.keys(result.task_executor_heartbeats).sort()).toEqual(["w1", "w2", "w3"])
      const alive = Object.fromEntries(Object.entries(result.task_executor_heartbeats).map(([id, [beat]]) => [id, beat!.alive]))
      expect(alive).toEqual({ w1: true, w2: false, w3: false })
      expect(result.task_executor_heartbeats.w1![0]).toMatchObject({ state: "working", processed: 3, heartbeat_at: now - 5_000 })
      // The blob probe leaves nothing behind.
      expect(yield* blobs.list(System.BLOB_PROBE_PREFIX)).toEqual([])
    }))

  it.effect("a failing store is red with the error's kind, never its message; the others stay green", () =>
    Effect.gen(function* () {
      const records = yield* StoreFaults.RecordStoreFaults
      const queue = yield* StoreFaults.TaskQueueFaults
      yield* records.failNext(1)
      const result = yield* status
      expect(result.database).toMatchObject({ status: "red", error: "StoreError: Unavailable" })
      expect(result.task_queue.status).toBe("green")
      expect(JSON.stringify(result)).not.toContain("injected")

      yield* queue.failNext(2)
      const queueDown = yield* status
      expect(queueDown.task_queue).toMatchObject({ status: "red", error: "StoreError: Unavailable", queued: 0, running: 0 })
      expect(queueDown.task_executor_heartbeats).toEqual({})
      expect(queueDown.database.status).toBe("green")
    }))

  it.effect("a blob store that can't be written is red", () =>
    Effect.gen(function* () {
      // The store's directory becomes a file: reads and writes under it fail.
      rmSync(directory, { recursive: true, force: true })
      writeFileSync(directory, "not a directory")
      const result = yield* status
      expect(result.storage.status).toBe("red")
      expect(result.storage.error).toMatch(/^BlobStoreError/)
      expect(JSON.stringify(result)).not.toContain(directory)
      expect([result.database.status, result.doc_engine.status]).toEqual(["green", "green"])
      rmSync(directory, { force: true })
    }))
})
