/**
 * Runs of a document against the worker: a task out of attempts, documents whose task is gone,
 * cancel and re-parse racing on the index (run generations), and extracted images.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { NodeContext } from "@effect/platform-node"
import { Deferred, Duration, Effect, Fiber, Layer, Option } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { DocumentId } from "../../src/domain/Ids.js"
import { Document } from "../../src/domain/Records.js"
import * as BlobStore from "../../src/ports/BlobStore.js"
import * as ChunkIndex from "../../src/ports/ChunkIndex.js"
import * as RecordStore from "../../src/ports/RecordStore.js"
import * as TaskQueue from "../../src/ports/TaskQueue.js"
import { Ingestion } from "../../src/services/Ingestion.js"
import { makeTestChunk } from "../../src/testing/ChunkIndexSuite.js"
import { engine, expectCountsMatchIndex, Gate, runOf, setup, text, waitFor } from "./ingestionHelpers.js"

const Engine = engine()

/** Paragraphs of a document: `n` of them. */
const body = (n: number, word = "Paragraph") => Array.from({ length: n }, (_, i) => `${word} ${i}.`).join("\n\n")

describe("Ingestion: runs", () => {
  layer(Engine, { excludeTestServices: true })((it) => {
    it.effect("a task out of attempts ends its document FAIL with the reason, and what its workers wrote goes", () =>
      Effect.gen(function* () {
        const worker = yield* Ingestion
        const queue = yield* TaskQueue.TaskQueue
        const index = yield* ChunkIndex.ChunkIndex
        const { docs, me, kb } = yield* setup()
        const [doc] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "poison.txt", bytes: text("A.\n\nB.") }] })
        yield* docs.parse(me, { doc_ids: [doc!.id] })
        // Three workers claim the task and die (say the file crashes the process), the first after writing a chunk.
        yield* index.upsert([makeTestChunk(kb.id, doc!.id, { content: "written by a worker that died" })])
        for (let i = 0; i < 3; i++) {
          expect((yield* queue.claim({ worker: `dead-${i}`, leaseMs: 1, kinds: ["parse"] })).map((t) => t.key)).toEqual([doc!.id])
          yield* Effect.sleep(Duration.millis(5))
        }
        yield* worker.runOnce
        const after = yield* docs.get(me, { doc_id: doc!.id })
        expect([after.run, after.progress, after.chunk_num]).toEqual(["FAIL", -1, 0])
        expect(after.progress_msg).toMatch(/\[ERROR\] Gave up after 3 attempts/)
        expect((yield* queue.listByKey(doc!.id)).map((t) => t.status)).toEqual(["failed"])
        expect(yield* index.countByDocument(kb.id, doc!.id)).toBe(0)
      }))

    it.effect("when it starts, a worker ends as FAIL the running documents whose task failed, was canceled or is gone", () =>
      Effect.gen(function* () {
        const worker = yield* Ingestion
        const queue = yield* TaskQueue.TaskQueue
        const store = yield* RecordStore.RecordStore
        const { docs, me, kb } = yield* setup()
        const [canceled, failed, missing, stuck, queued, fresh] = yield* docs.upload(me, {
          kb_id: kb.id,
          files: ["canceled", "failed", "missing", "stuck", "queued", "fresh"].map((name) => ({ name: `${name}.txt`, bytes: text(`${name}.`) }))
        })
        // Each as a crash left it: the task canceled (or failed) but the document still RUNNING...
        yield* docs.parse(me, { doc_ids: [canceled!.id, failed!.id] })
        yield* queue.cancelKey(canceled!.id)
        const [task] = yield* queue.claim({ worker: "w-gone", leaseMs: 60_000, kinds: ["parse"] })
        expect(task?.key).toBe(failed!.id)
        yield* queue.fail(task!.id, "w-gone", "disk full")
        // ... RUNNING with no task at all, and a run whose lease-holding worker is still alive.
        const running = (d: Document) => new Document({ ...d, run: "RUNNING", run_generation: 1 })
        yield* store.documents.update(running(missing!))
        yield* docs.parse(me, { doc_ids: [stuck!.id] })
        yield* queue.claim({ worker: "w-alive", leaseMs: 60_000, kinds: ["parse"] })
        yield* docs.parse(me, { doc_ids: [queued!.id] })
        yield* store.documents.update(running(fresh!))
        // All but `fresh` have been like this for a while (longer than a lease).
        const longAgo = Date.now() - 60_000
        for (const d of [canceled, failed, missing, stuck, queued]) {
          yield* store.documents.modify(d!.id, (doc) => Effect.succeed(new Document({ ...doc, update_time: longAgo })))
        }

        const worker_ = yield* Effect.fork(worker.run)
        const ended = yield* waitFor(
          "the orphaned documents to fail",
          Effect.forEach([canceled, failed, missing], (d) => runOf(d!.id)),
          (ds) => ds.every((d) => d?.run === "FAIL")
        )
        expect(ended.map((d) => d!.progress_msg.replace(/^\d\d:\d\d:\d\d /gm, "").split("\n").at(-1))).toEqual([
          "[ERROR] No worker is parsing this document: its parse task was canceled without finishing it. Parse it again.",
          "[ERROR] No worker is parsing this document: its parse task failed (disk full). Parse it again.",
          "[ERROR] No worker is parsing this document: its parse task is missing. Parse it again."
        ])
        yield* waitFor("the queued document", runOf(queued!.id), (d) => d?.run === "DONE")
        // A run with a live task, and one changed within a lease (it may be being queued), are left alone.
        expect([(yield* runOf(stuck!.id))!.run, (yield* runOf(fresh!.id))!.run]).toEqual(["RUNNING", "RUNNING"])
        yield* Fiber.interrupt(worker_)
        yield* docs.cancel(me, { doc_ids: [stuck!.id, fresh!.id] })
      }))

    it.effect("a re-parse right after a cancel ends DONE with its chunks indexed", () =>
      Effect.gen(function* () {
        const worker = yield* Ingestion
        const index = yield* ChunkIndex.ChunkIndex
        const { docs, me, kb } = yield* setup("hash-32@Gated")
        const [doc] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "a.txt", bytes: text(body(5)) }] })
        const hold = yield* Gate.holdNext
        yield* docs.parse(me, { doc_ids: [doc!.id] })
        const running = yield* Effect.fork(worker.run)
        // The first run is embedding (held) when the caller cancels and parses again.
        yield* hold.entered
        yield* docs.cancel(me, { doc_ids: [doc!.id] })
        yield* docs.parse(me, { doc_ids: [doc!.id] })
        const done = yield* waitFor("the re-parse to end", runOf(doc!.id), (d) => d?.run === "DONE" || d?.run === "FAIL")
        expect([done!.run, done!.chunk_num]).toEqual(["DONE", 5])
        // The canceled run notices within a heartbeat and cleans up after itself only.
        yield* Effect.sleep(Duration.millis(400))
        yield* hold.release
        yield* Effect.sleep(Duration.millis(200))
        expect(yield* index.countByDocument(kb.id, doc!.id)).toBe(5)
        yield* expectCountsMatchIndex(kb.id, [doc!.id])
        yield* Fiber.interrupt(running)
      }))

    it.effect("canceling a re-parse leaves counts that match the index (not 20 shown, 0 indexed)", () =>
      Effect.gen(function* () {
        const worker = yield* Ingestion
        const index = yield* ChunkIndex.ChunkIndex
        const { docs, kbs, me, kb } = yield* setup("hash-32@Gated")
        const [doc] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "a.txt", bytes: text(body(20)) }] })
        yield* docs.parse(me, { doc_ids: [doc!.id] })
        const running = yield* Effect.fork(worker.run)
        yield* waitFor("the first parse", runOf(doc!.id), (d) => d?.run === "DONE")
        expect((yield* kbs.get(me, { kb_id: kb.id })).chunk_count).toBe(20)

        const hold = yield* Gate.holdNext
        yield* docs.parse(me, { doc_ids: [doc!.id] })
        yield* hold.entered
        yield* docs.cancel(me, { doc_ids: [doc!.id] })
        yield* Effect.sleep(Duration.millis(400))
        yield* hold.release
        const after = yield* docs.get(me, { doc_id: doc!.id })
        expect([after.run, after.chunk_num, yield* index.countByDocument(kb.id, doc!.id)]).toEqual(["CANCEL", 0, 0])
        expect((yield* kbs.get(me, { kb_id: kb.id })).chunk_count).toBe(0)
        yield* expectCountsMatchIndex(kb.id, [doc!.id])
        yield* Fiber.interrupt(running)
      }))

    it.effect("after interleaved parses, cancels, re-parses and deletes, every count equals what the index holds", () =>
      Effect.gen(function* () {
        const worker = yield* Ingestion
        const { docs, me, kb } = yield* setup("slowhash-32-3@Test")
        const running = yield* Effect.fork(worker.run)
        // mulberry32, seeded: the same interleavings every run.
        let seed = 20_240_611
        const random = (n: number) => {
          seed = (seed + 0x6d2b79f5) | 0
          let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
          t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
          return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4_294_967_296) * n)
        }
        /** Until the worker took the document's run (or it ended). */
        const underWay = (id: DocumentId) =>
          Effect.ignore(waitFor("the run to start", runOf(id), (d) => d?.run !== "RUNNING" || /received/.test(d.progress_msg), 2))
        const everyDoc: Array<DocumentId> = []
        const live: Array<DocumentId> = []
        for (let round = 0; round < 3; round++) {
          const uploaded = yield* docs.upload(me, {
            kb_id: kb.id,
            files: Array.from({ length: 3 }, (_, i) => ({ name: `r${round}-${i}.txt`, bytes: text(body(5 + random(20), `Round ${round} doc ${i}`)) }))
          })
          for (const d of uploaded) {
            everyDoc.push(d.id)
            live.push(d.id)
          }
          for (let step = 0; step < 12 && live.length > 0; step++) {
            const id = live[random(live.length)]!
            const op = random(12)
            if (op < 4) yield* docs.parse(me, { doc_ids: [id] })
            else if (op < 7) {
              // Canceled while the worker is at it.
              yield* docs.parse(me, { doc_ids: [id] })
              yield* underWay(id)
              yield* Effect.ignore(docs.cancel(me, { doc_ids: [id] }))
            } else if (op < 10) {
              // Canceled at work, and parsed again at once.
              yield* docs.parse(me, { doc_ids: [id] })
              yield* underWay(id)
              yield* Effect.ignore(docs.cancel(me, { doc_ids: [id] }))
              yield* docs.parse(me, { doc_ids: [id] })
            } else if (op < 11) yield* Effect.ignore(docs.cancel(me, { doc_ids: [id] }))
            else {
              yield* docs.remove(me, { doc_ids: [id] })
              live.splice(live.indexOf(id), 1)
            }
            yield* Effect.sleep(Duration.millis(random(40)))
          }
        }
        // Settle: no document running, the worker idle, its canceled runs cleaned up.
        yield* waitFor(
          "every run to end",
          Effect.zip(Effect.forEach(live, runOf), worker.status),
          ([ds, status]) => ds.every((d) => d?.run !== "RUNNING") && status.in_flight === 0,
          30
        )
        yield* Effect.sleep(Duration.millis(300))
        const final = yield* expectCountsMatchIndex(kb.id, everyDoc)
        expect(final.some((d) => d.run === "DONE" && d.chunk_num > 0)).toBe(true)
        for (const d of final) if (d.run === "DONE") expect(d.chunk_num).toBeGreaterThan(0)
        yield* Fiber.interrupt(running)
      }), { timeout: 60_000 })

    it.effect("extracted images go with their document: on delete, on re-parse and on reset", () =>
      Effect.gen(function* () {
        const worker = yield* Ingestion
        const blobs = yield* BlobStore.BlobStore
        const { docs, me, kb } = yield* setup()
        const [doc] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "a.txt", bytes: text("[img] one\n\nplain\n\n[img] two") }] })
        const imagesOf = Effect.map(blobs.list(`${kb.id}/`), (keys) => keys.filter((k) => k !== doc!.location))

        yield* docs.parse(me, { doc_ids: [doc!.id] })
        yield* worker.drain
        expect((yield* imagesOf).length).toBe(2)
        // Re-parsing replaces the images with the new run's.
        yield* docs.parse(me, { doc_ids: [doc!.id] })
        yield* worker.drain
        expect((yield* imagesOf).length).toBe(2)
        // A reset (another chunk method) drops them.
        yield* docs.changeParser(me, { doc_id: doc!.id, parser_id: "qa" })
        expect(yield* imagesOf).toEqual([])
        yield* docs.changeParser(me, { doc_id: doc!.id, parser_id: "naive" })
        yield* docs.parse(me, { doc_ids: [doc!.id] })
        yield* worker.drain
        expect((yield* imagesOf).length).toBe(2)
        // Deleting the document leaves nothing of it in the blob store.
        yield* docs.remove(me, { doc_ids: [doc!.id] })
        expect(yield* blobs.list(`${kb.id}/`)).toEqual([])
      }))
  })

  it.effect("a second parse queued while the first one clears the index queues the document again", () =>
    Effect.gen(function* () {
      const worker = yield* Ingestion
      const index = yield* ChunkIndex.ChunkIndex
      const gate = HeldClear
      const { docs, me, kb } = yield* setup()
      const [doc] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "a.txt", bytes: text(body(4)) }] })
      yield* docs.parse(me, { doc_ids: [doc!.id] })
      yield* worker.drain
      // The first re-parse stops in its clear; a second one runs to the end meanwhile.
      const entered = yield* gate.holdNext
      const first = yield* Effect.fork(docs.parse(me, { doc_ids: [doc!.id] }))
      yield* entered
      yield* docs.parse(me, { doc_ids: [doc!.id] })
      yield* worker.drain
      expect((yield* runOf(doc!.id))!.run).toBe("DONE")
      // The first clear lands now, on the second run's chunks: that run is queued again.
      yield* gate.release
      const [queuedAgain] = yield* Fiber.join(first)
      expect(queuedAgain!.run).toBe("RUNNING")
      yield* worker.drain
      const done = yield* runOf(doc!.id)
      expect([done!.run, done!.chunk_num, yield* index.countByDocument(kb.id, doc!.id)]).toEqual(["DONE", 4, 4])
      yield* expectCountsMatchIndex(kb.id, [doc!.id])
    }).pipe(
      Effect.provide(
        engine({
          stores: Layer.mergeAll(
            RecordStore.layerMemory,
            TaskQueue.layerMemory,
            BlobStore.layerMemory,
            HeldClear.layer.pipe(Layer.provide(ChunkIndex.layerMemory))
          )
        })
      )
    ))

  it.effect("on a file system blob store, a document with images is indexed and leaves no file behind", () =>
    Effect.gen(function* () {
      const worker = yield* Ingestion
      const store = yield* RecordStore.RecordStore
      const { docs, me, kb } = yield* setup()
      const [doc] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "scan.txt", bytes: text("[img] a table\n\ntext") }] })
      yield* docs.parse(me, { doc_ids: [doc!.id] })
      yield* worker.drain
      const done = Option.getOrThrow(yield* store.documents.get(doc!.id))
      expect([done.run, done.chunk_num, done.progress_msg.includes("ERROR")]).toEqual(["DONE", 2, false])
      yield* docs.remove(me, { doc_ids: [doc!.id] })
      const blobs = yield* BlobStore.BlobStore
      expect(yield* blobs.list("")).toEqual([])
    }).pipe(Effect.provide(engine({ stores: fileSystemStores(mkdtempSync(join(tmpdir(), "ragkit-blobs-"))) }))))
})

/** The memory stores with a file system blob store in `dir`. */
function fileSystemStores(dir: string) {
  return Layer.mergeAll(
    RecordStore.layerMemory,
    TaskQueue.layerMemory,
    BlobStore.layerFileSystem(dir).pipe(Layer.provide(NodeContext.layer)),
    ChunkIndex.layerMemory
  )
}

/** A chunk index over the one in the context whose next `deleteByDocument` can be held until released. */
const HeldClear = (() => {
  let held: { readonly entered: Deferred.Deferred<void>; readonly release: Deferred.Deferred<void> } | undefined
  let last: Deferred.Deferred<void> | undefined
  const layer = Layer.effect(
    ChunkIndex.ChunkIndex,
    Effect.map(ChunkIndex.ChunkIndex, (inner) => ({
      ...inner,
      deleteByDocument: (kbId, docId) =>
        Effect.suspend(() => {
          const hold = held
          held = undefined
          return hold === undefined
            ? inner.deleteByDocument(kbId, docId)
            : Deferred.succeed(hold.entered, undefined).pipe(
                Effect.zipRight(Deferred.await(hold.release)),
                Effect.zipRight(inner.deleteByDocument(kbId, docId))
              )
        })
    } satisfies ChunkIndex.ChunkIndexService))
  )
  /** Holds the next clear; the effect returned completes when it started. */
  const holdNext = Effect.gen(function* () {
    const hold = { entered: yield* Deferred.make<void>(), release: yield* Deferred.make<void>() }
    held = hold
    last = hold.release
    return Deferred.await(hold.entered)
  })
  const release = Effect.suspend(() => (last === undefined ? Effect.void : Deferred.succeed(last, undefined)))
  return { layer, holdNext, release }
})()
