/**
 * The worker against stores that fail for a while (`StoreFaults`: the real memory store, whose
 * next N calls fail with `StoreError` `Unavailable`): it keeps running, every queued document still
 * ends DONE, and its status (and the worker registry) shows the errors.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import type { DocumentId } from "../../src/domain/Ids.js"
import * as BlobStore from "../../src/ports/BlobStore.js"
import * as ChunkIndex from "../../src/ports/ChunkIndex.js"
import * as RecordStore from "../../src/ports/RecordStore.js"
import * as TaskQueue from "../../src/ports/TaskQueue.js"
import { Ingestion } from "../../src/services/Ingestion.js"
import * as StoreFaults from "../../src/testing/StoreFaults.js"
import { engine, expectCountsMatchIndex, runOf, setup, text, waitFor, waitThrough } from "./ingestionHelpers.js"

const FailingRecords = Layer.mergeAll(
  StoreFaults.recordStore.pipe(Layer.provide(RecordStore.layerMemory)),
  TaskQueue.layerMemory,
  BlobStore.layerMemory,
  ChunkIndex.layerMemory
)

const FailingClaims = Layer.mergeAll(
  RecordStore.layerMemory,
  StoreFaults.taskQueue(["claim"]).pipe(Layer.provide(TaskQueue.layerMemory)),
  BlobStore.layerMemory,
  ChunkIndex.layerMemory
)

const FailingEnqueues = Layer.mergeAll(
  RecordStore.layerMemory,
  StoreFaults.taskQueue(["enqueueMany"]).pipe(Layer.provide(TaskQueue.layerMemory)),
  BlobStore.layerMemory,
  ChunkIndex.layerMemory
)

/** Uploads and queues `n` documents of a few paragraphs. */
const queueDocuments = (n: number) =>
  Effect.gen(function* () {
    const { docs, me, kb } = yield* setup()
    const uploaded = yield* docs.upload(me, {
      kb_id: kb.id,
      files: Array.from({ length: n }, (_, i) => ({ name: `doc-${i}.txt`, bytes: text(`First ${i}.\n\nSecond ${i}.\n\nThird ${i}.`) }))
    })
    yield* docs.parse(me, { doc_ids: uploaded.map((d) => d.id) })
    return { docs, me, kb, ids: uploaded.map((d) => d.id) }
  })

const allDone = (ids: ReadonlyArray<DocumentId>) =>
  waitThrough("every document to be DONE", Effect.forEach(ids, runOf), (ds) => ds.every((d) => d?.run === "DONE"), 20)

describe("Ingestion: store faults", () => {
  layer(engine({ stores: FailingRecords }), { excludeTestServices: true })((it) => {
    it.effect("while the record store fails for a while, the running worker retries and every document ends DONE", () =>
      Effect.gen(function* () {
        const worker = yield* Ingestion
        const faults = yield* StoreFaults.RecordStoreFaults
        const queue = yield* TaskQueue.TaskQueue
        const { docs, me, kb, ids } = yield* queueDocuments(4)
        // The store goes away as the worker starts: its next 12 calls fail.
        yield* faults.failNext(12)
        const running = yield* Effect.fork(worker.run)
        // Only the worker calls the store until the failures are spent (or it gave up).
        yield* Effect.ignore(waitFor("the failures to be spent", faults.failed, (n) => n === 12, 5))
        const done = yield* allDone(ids)
        expect(done.map((d) => d!.chunk_num)).toEqual([3, 3, 3, 3])
        expect(yield* faults.failed).toBe(12)
        yield* expectCountsMatchIndex(kb.id, ids)

        // The worker's status says what happened, and so does its entry in the registry.
        const status = yield* worker.status
        expect(status.errors).toBeGreaterThanOrEqual(12)
        expect(status.last_error).toMatch(/StoreError Unavailable: RecordStore\.[a-zA-Z.]+: the store is unavailable/)
        const entry = yield* waitFor(
          "the registry to show the errors",
          Effect.map(queue.listWorkers, (ws) => ws.find((w) => w.id === worker.workerId)),
          (w) => w !== undefined && w.errors >= 12 && w.in_flight === 0
        )
        expect([entry!.state, entry!.concurrency, entry!.processed]).toEqual(["idle", 2, 4])
        expect(entry!.last_error).toBe(status.last_error)

        // Still running: a document queued now is parsed too, even with another short outage.
        const [later] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "later.txt", bytes: text("Later.") }] })
        yield* docs.parse(me, { doc_ids: [later!.id] })
        yield* faults.failNext(3)
        yield* allDone([later!.id])
        yield* Fiber.interrupt(running)
        expect((yield* queue.listWorkers).find((w) => w.id === worker.workerId)?.state).toBe("stopped")
      }))
  })

  layer(engine({ stores: FailingClaims }), { excludeTestServices: true })((it) => {
    it.effect("while claims fail, the running worker backs off, tries again and every document ends DONE", () =>
      Effect.gen(function* () {
        const worker = yield* Ingestion
        const faults = yield* StoreFaults.TaskQueueFaults
        const { ids } = yield* queueDocuments(3)
        yield* faults.failNext(6)
        const running = yield* Effect.fork(worker.run)
        yield* allDone(ids)
        expect(yield* faults.failed).toBe(6)
        const status = yield* worker.status
        expect(status.errors).toBe(6)
        expect(status.last_error).toBe("claiming a task: StoreError Unavailable: TaskQueue.claim: the store is unavailable (injected fault)")
        yield* Fiber.interrupt(running)
      }))
  })

  layer(engine({ stores: FailingEnqueues }), { excludeTestServices: true })((it) => {
    it.effect("documents queued together whose tasks cannot be written end FAIL with the reason; queued again, they end DONE", () =>
      Effect.gen(function* () {
        const worker = yield* Ingestion
        const faults = yield* StoreFaults.TaskQueueFaults
        const queue = yield* TaskQueue.TaskQueue
        const { docs, me, kb } = yield* setup()
        const uploaded = yield* docs.upload(me, {
          kb_id: kb.id,
          files: Array.from({ length: 3 }, (_, i) => ({ name: `doc-${i}.txt`, bytes: text(`First ${i}.\n\nSecond ${i}.`) }))
        })
        const ids = uploaded.map((d) => d.id)
        yield* faults.failNext(1)
        const error = yield* Effect.flip(docs.parse(me, { doc_ids: ids }))
        expect(error._tag).toBe("StoreError")
        for (const id of ids) {
          const doc = yield* runOf(id)
          expect([doc!.run, doc!.progress_msg]).toEqual(["FAIL", expect.stringMatching(/could not queue the parse task: .*injected fault/)])
          expect(yield* queue.listByKey(id)).toEqual([])
        }
        // Queued again (no longer never run: one by one), they are parsed.
        yield* docs.parse(me, { doc_ids: ids })
        const running = yield* Effect.fork(worker.run)
        const done = yield* allDone(ids)
        expect(done.map((d) => [d!.chunk_num, d!.run_generation])).toEqual([[2, 2], [2, 2], [2, 2]])
        yield* Fiber.interrupt(running)
      }))
  })
})
