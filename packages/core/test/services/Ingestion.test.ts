import { describe, expect, layer } from "@effect/vitest"
import { Duration, Effect, Either, Fiber, Layer, Option, Schedule, TestClock } from "effect"
import { ModelError, ParseError } from "../../src/domain/Errors.js"
import { ChunkIndex } from "../../src/ports/ChunkIndex.js"
import * as ChunkMethod from "../../src/ports/ChunkMethod.js"
import * as DocumentPreparer from "../../src/ports/DocumentPreparer.js"
import * as Embedder from "../../src/ports/Embedder.js"
import { RecordStore } from "../../src/ports/RecordStore.js"
import { TaskQueue } from "../../src/ports/TaskQueue.js"
import * as Rag from "../../src/Rag.js"
import { decoding } from "../../src/RagClient.js"
import * as Documents from "../../src/services/Documents.js"
import { Ingestion, layer as ingestionLayer } from "../../src/services/Ingestion.js"
import * as DocumentRuns from "../../src/services/internal/DocumentRuns.js"
import * as KnowledgeBases from "../../src/services/KnowledgeBases.js"
import * as ModelProvider from "../../src/ports/ModelProvider.js"
import * as Tokenizer from "../../src/text/Tokenizer.js"
import * as HashEmbedder from "../../src/testing/HashEmbedder.js"
import * as TestModels from "../../src/testing/TestModels.js"
import { newCaller, text } from "./helpers.js"

/** One chunk per paragraph section: enough to drive the worker; real methods live in @ragkit/parsers. */
const paragraphs: ChunkMethod.ChunkMethod = {
  id: "naive",
  accepts: ["txt"],
  chunk: (doc) =>
    doc.sections.length === 0
      ? Effect.fail(new ParseError({ reason: "Empty", message: "no text" }))
      : Effect.succeed(doc.sections.map((s) => ({ content: s.text, page_num: [], positions: [] })))
}


/** A model provider whose embedder is slow, or fails a number of times first: `slow-<ms>@Flaky`, `fail-<n>@Flaky`. */
/** When the slow embedder last started a batch (ms since the epoch). */
let lastEmbedAt = 0

const flaky = (() => {
  let failures = 0
  return ModelProvider.plugin({
    kind: "flaky",
    providers: ["Flaky"],
    embedder: ({ model }) => {
      const inner = HashEmbedder.make({ dimensions: 16, modelId: `${model}@Flaky` })
      const [kind, n] = model.split("-") as [string, string]
      return Effect.succeed(
        Embedder.make({
          modelId: `${model}@Flaky`,
          dimensions: 16,
          maxBatchSize: 1,
          embedBatch: (texts) =>
            kind === "slow"
              ? Effect.suspend(() => {
                  lastEmbedAt = Date.now()
                  return Effect.delay(inner.embedDocuments(texts), Duration.millis(Number(n)))
                })
              : failures++ < Number(n)
                ? Effect.fail(new ModelError({ reason: "Unavailable", model, message: "embedding service unavailable" }))
                : inner.embedDocuments(texts)
        })
      )
    }
  })
})()

const Engine = ingestionLayer({ workerId: "w1", concurrency: 2, heartbeatMs: 100, leaseMs: 2_000, pollMs: 20 }).pipe(
  Layer.provide(DocumentPreparer.layerLocal),
  Layer.provideMerge(Rag.layer(Rag.layerMemoryPorts, [TestModels.layer, flaky])),
  Layer.provideMerge(Layer.mergeAll(ChunkMethod.layer([paragraphs]), Tokenizer.layer))
)

/** The services as the surfaces call them: requests decoded first. */
const services = Effect.gen(function* () {
  return {
    docs: decoding(yield* Documents.Documents, Documents.Operations),
    kbs: decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations)
  }
})

const setup = (embedding_model = "hash-32@Test") =>
  Effect.gen(function* () {
    const { docs, kbs } = yield* services
    const me = yield* newCaller()
    const kb = yield* kbs.create(me, { name: "Shelf", embedding_model })
    return { docs, kbs, me, kb }
  })

describe("Ingestion", () => {
  layer(Engine)((it) => {
    it.effect("parses, chunks, embeds and indexes a document, with progress and counts", () =>
      Effect.gen(function* () {
        const worker = yield* Ingestion
        const index = yield* ChunkIndex
        const { docs, kbs, me, kb } = yield* setup()
        const [doc] = yield* docs.upload(me, {
          kb_id: kb.id,
          files: [{ name: "guide.txt", bytes: text("Install the engine.\n\nRun the server.\n\nAsk a question.") }]
        })
        yield* docs.parse(me, { doc_ids: [doc!.id] })
        expect(yield* worker.drain).toBe(1)

        const done = yield* docs.get(me, { doc_id: doc!.id })
        expect([done.run, done.progress, done.chunk_num, done.token_num]).toEqual(["DONE", 1, 3, 12])
        expect(done.progress_msg).toMatch(/Task has been received/)
        expect(done.progress_msg).toMatch(/Parsed 3 sections/)
        expect(done.progress_msg).toMatch(/Generated 3 chunks with the naive method/)
        expect(done.progress_msg).toMatch(/Indexed 3 chunks \(12 tokens\)/)

        const after = yield* kbs.get(me, { kb_id: kb.id })
        expect([after.chunk_count, after.token_num]).toEqual([3, 12])
        expect(after.embedder).toEqual({ model: "hash-32@Test", dimensions: 32 })

        const page = yield* index.list({ kbId: kb.id, docId: doc!.id, offset: 0, limit: 10 })
        expect(page.chunks.map((c) => c.content)).toEqual(["Install the engine.", "Run the server.", "Ask a question."])
        expect(page.chunks.map((c) => c.index)).toEqual([0, 1, 2])
        expect(page.chunks[0]!.content_ltks).toBe("instal the engin")
        expect(page.chunks[0]!.title_tks).toBe("guid")
        expect(page.chunks[0]!.docnm_kwd).toBe("guide.txt")
        expect(page.chunks.every((c) => c.vector?.length === 32)).toBe(true)
        const hits = yield* index.searchText({ kbIds: [kb.id], tokens: "server", limit: 5 })
        expect(hits.map((h) => h.chunk.content)).toEqual(["Run the server."])
      }))

    it.effect("re-parsing replaces the chunks; counts are not doubled", () =>
      Effect.gen(function* () {
        const worker = yield* Ingestion
        const index = yield* ChunkIndex
        const { docs, kbs, me, kb } = yield* setup()
        const [doc] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "a.txt", bytes: text("One.\n\nTwo.") }] })
        yield* docs.parse(me, { doc_ids: [doc!.id] })
        yield* worker.drain
        yield* docs.parse(me, { doc_ids: [doc!.id] })
        yield* worker.drain
        expect(yield* index.countByDocument(kb.id, doc!.id)).toBe(2)
        const after = yield* kbs.get(me, { kb_id: kb.id })
        expect([after.chunk_count, after.token_num]).toEqual([2, 4])
      }))

    it.effect("a bad file fails with a clear message and the worker goes on with the next", () =>
      Effect.gen(function* () {
        const worker = yield* Ingestion
        const { docs, me, kb } = yield* setup()
        const uploaded = yield* docs.upload(me, {
          kb_id: kb.id,
          files: [
            { name: "binary.txt", bytes: new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0, 0, 1, 2, 3]) },
            { name: "empty.txt", bytes: new Uint8Array() },
            { name: "good.txt", bytes: text("Fine text.") }
          ]
        })
        yield* docs.parse(me, { doc_ids: uploaded.map((d) => d.id) })
        expect(yield* worker.drain).toBe(3)
        const [binary, empty, good] = yield* Effect.forEach(uploaded, (d) => docs.get(me, { doc_id: d.id }))
        expect([binary!.run, binary!.progress]).toEqual(["FAIL", -1])
        expect(binary!.progress_msg).toMatch(/\[ERROR\] .*binary/)
        expect(empty!.run).toBe("FAIL")
        expect(empty!.progress_msg).toMatch(/\[ERROR\] .*empty/)
        expect([good!.run, good!.chunk_num]).toEqual(["DONE", 1])
      }))

    it.effect("retries a document when the embedding service was away", () =>
      Effect.gen(function* () {
        const worker = yield* Ingestion
        const queue = yield* TaskQueue
        const { docs, me, kb } = yield* setup("fail-1@Flaky")
        const [doc] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "a.txt", bytes: text("Some text.") }] })
        yield* docs.parse(me, { doc_ids: [doc!.id] })
        yield* worker.drain
        const done = yield* docs.get(me, { doc_id: doc!.id })
        expect([done.run, done.chunk_num]).toEqual(["DONE", 1])
        expect(done.progress_msg).toMatch(/Will retry: embedding service unavailable/)
        expect((yield* queue.listByKey(doc!.id)).map((t) => [t.status, t.attempts])).toEqual([["done", 2]])
      }))

    it.effect("a task whose worker died is finished by the next one, with the exact chunk count", () =>
      Effect.gen(function* () {
        const worker = yield* Ingestion
        const queue = yield* TaskQueue
        const index = yield* ChunkIndex
        const { docs, me, kb } = yield* setup()
        const [doc] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "a.txt", bytes: text("A.\n\nB.\n\nC.\n\nD.") }] })
        yield* docs.parse(me, { doc_ids: [doc!.id] })
        // Another worker claims the task and dies without a word.
        const [taken] = yield* queue.claim({ worker: "dead", leaseMs: 2_000, kinds: ["parse"] })
        expect(taken?.key).toBe(doc!.id)
        expect(yield* worker.drain).toBe(0)
        yield* TestClock.adjust(Duration.millis(2_500))
        expect(yield* worker.drain).toBe(1)
        expect((yield* docs.get(me, { doc_id: doc!.id })).chunk_num).toBe(4)
        expect(yield* index.countByDocument(kb.id, doc!.id)).toBe(4)
      }))

    it.effect("writes each progress report once, on the document", () =>
      Effect.gen(function* () {
        const worker = yield* Ingestion
        const queue = yield* TaskQueue
        const { docs, me, kb } = yield* setup()
        const [doc] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "a.txt", bytes: text("One.\n\nTwo.") }] })
        yield* docs.parse(me, { doc_ids: [doc!.id] })
        expect(yield* worker.drain).toBe(1)
        const done = yield* docs.get(me, { doc_id: doc!.id })
        // Every line once, in order, each stamped with the time of day.
        expect(done.progress_msg.split("\n")).toEqual([
          expect.stringMatching(/^\d\d:\d\d:\d\d Task has been received by w1 \(attempt 1\)\.$/),
          expect.stringMatching(/^\d\d:\d\d:\d\d Parsed 2 sections in \d+\.\d\ds\.$/),
          expect.stringMatching(/^\d\d:\d\d:\d\d Generated 2 chunks with the naive method in \d+\.\d\ds\.$/),
          expect.stringMatching(/^\d\d:\d\d:\d\d Embedded 2\/2 chunks\.$/),
          expect.stringMatching(/^\d\d:\d\d:\d\d Indexed 2 chunks \(4 tokens\); done in \d+\.\d\ds\.$/)
        ])
        // The task row only says how the task ended; progress lives on the document.
        const [task] = yield* queue.listByKey(doc!.id)
        expect([task!.status, task!.error]).toEqual(["done", null])
      }))

    it.effect("a worker writes a run only while it lasts: a late DONE never overwrites a cancel", () =>
      Effect.gen(function* () {
        const runs = yield* DocumentRuns.make
        const { docs, kbs, me, kb } = yield* setup()
        const [doc] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "a.txt", bytes: text("One.\n\nTwo.") }] })
        const [parsed] = yield* docs.parse(me, { doc_ids: [doc!.id] })
        const run = { docId: doc!.id, generation: parsed!.run_generation }
        yield* runs.report(run, 0.5, ["Halfway."])
        yield* docs.cancel(me, { doc_ids: [doc!.id] })
        const result = { line: "Indexed 2 chunks.", chunks: 2, tokens: 4, durationMs: 10, embedder: { model: "hash-32@Test", dimensions: 32 } }
        const late = yield* Effect.either(runs.done(run, result))
        expect(Either.isLeft(late) && late.left).toMatchObject({ _tag: "RunEnded", run: "CANCEL" })
        const lateReport = yield* Effect.either(runs.report(run, 0.9, ["Embedded 2/2 chunks."]))
        expect(Either.isLeft(lateReport) && lateReport.left._tag).toBe("RunEnded")
        yield* runs.failed(run, "too late", false)

        const after = yield* docs.get(me, { doc_id: doc!.id })
        expect([after.run, after.progress, after.chunk_num, after.token_num]).toEqual(["CANCEL", 0.5, 0, 0])
        expect(after.progress_msg.split("\n").map((line) => line.slice(9))).toEqual(["Halfway.", "Canceled."])
        const kbAfter = yield* kbs.get(me, { kb_id: kb.id })
        expect([kbAfter.chunk_count, kbAfter.token_num, kbAfter.embedder]).toEqual([0, 0, null])
      }))
  })

  layer(Engine, { excludeTestServices: true })((it) => {
    it.effect("cancel stops a running document within a second and leaves no chunks of it", () =>
      Effect.gen(function* () {
        const worker = yield* Ingestion
        const index = yield* ChunkIndex
        const store = yield* RecordStore
        const { docs, me, kb } = yield* setup("slow-40@Flaky")
        const body = Array.from({ length: 200 }, (_, i) => `Paragraph ${i}.`).join("\n\n")
        const [doc] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "long.txt", bytes: text(body) }] })
        yield* docs.parse(me, { doc_ids: [doc!.id] })
        const running = yield* Effect.fork(worker.run)
        // Wait until embedding is under way.
        yield* Effect.repeat(docs.get(me, { doc_id: doc!.id }), {
          until: (d) => /Embedded/.test(d.progress_msg),
          schedule: Schedule.spaced(Duration.millis(20))
        }).pipe(Effect.timeout(Duration.seconds(20)))
        const canceledAt = Date.now()
        yield* docs.cancel(me, { doc_ids: [doc!.id] })
        // The worker notices within a heartbeat: no embedding starts a second after the cancel.
        yield* Effect.sleep(Duration.millis(1_500))
        expect(lastEmbedAt).toBeGreaterThan(0)
        expect(lastEmbedAt - canceledAt).toBeLessThan(1_000)
        expect(yield* index.countByDocument(kb.id, doc!.id)).toBe(0)
        const after = Option.getOrThrow(yield* store.documents.get(doc!.id))
        expect(after.run).toBe("CANCEL")
        expect(after.chunk_num).toBe(0)
        // The worker is still alive and takes new work.
        const [next] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "next.txt", bytes: text("Next.") }] })
        yield* docs.parse(me, { doc_ids: [next!.id] })
        yield* Effect.repeat(docs.get(me, { doc_id: next!.id }), {
          until: (d) => d.run === "DONE",
          schedule: Schedule.spaced(Duration.millis(50))
        }).pipe(Effect.timeout(Duration.seconds(20)))
        yield* Fiber.interrupt(running)
      }))
  })

  layer(Engine)((it) => {
    it.effect("runs that end together end with their tasks: one whose task was taken over is left to its new holder", () =>
      Effect.gen(function* () {
        const runs = yield* DocumentRuns.make
        const queue = yield* TaskQueue
        const { docs, kbs, me, kb } = yield* setup()
        const uploaded = yield* docs.upload(me, {
          kb_id: kb.id,
          files: ["a", "b", "c"].map((n) => ({ name: `${n}.txt`, bytes: text(`${n}.`) }))
        })
        const parsed = yield* docs.parse(me, { doc_ids: uploaded.map((d) => d.id) })
        const tasks = yield* queue.claim({ worker: "w1", leaseMs: 1_000, kinds: ["parse"], limit: 3 })
        expect(tasks.map((t) => t.key)).toEqual(parsed.map((d) => d.id))
        // w1 keeps the first and the last; the middle one's lease runs out and w2 takes it.
        yield* TestClock.adjust(Duration.millis(800))
        yield* queue.heartbeat(tasks[0]!.id, "w1", 1_000)
        yield* queue.heartbeat(tasks[2]!.id, "w1", 1_000)
        yield* TestClock.adjust(Duration.millis(400))
        expect((yield* queue.claim({ worker: "w2", leaseMs: 1_000, kinds: ["parse"] })).map((t) => t.id)).toEqual([tasks[1]!.id])

        const result = (chunks: number) => ({ line: `Indexed ${chunks} chunks.`, chunks, tokens: 2 * chunks, durationMs: 5, embedder: { model: "hash-32@Test", dimensions: 32 } })
        const outcomes = yield* runs.doneMany(
          parsed.map((d, i) => ({ run: { docId: d.id, generation: d.run_generation }, result: result(i + 1), noted: [], task: tasks[i]!.id })),
          "w1"
        )
        expect(outcomes.map((o) => (Either.isRight(o) ? o.right.run : o.left._tag))).toEqual(["DONE", "LeaseLost", "DONE"])
        const after = yield* Effect.forEach(parsed, (d) => docs.get(me, { doc_id: d.id }))
        expect(after.map((d) => [d.run, d.chunk_num])).toEqual([["DONE", 1], ["RUNNING", 0], ["DONE", 3]])
        const status = yield* Effect.forEach(tasks, (t) => Effect.map(queue.get(t.id), (o) => Option.getOrThrow(o).status))
        expect(status).toEqual(["done", "running", "done"])
        // The counters moved once, by the runs that ended.
        expect((yield* kbs.get(me, { kb_id: kb.id })).chunk_count).toBe(4)

        // The new holder ends its run (alone, as any batch of one).
        const [last] = yield* runs.doneMany([{ run: { docId: parsed[1]!.id, generation: parsed[1]!.run_generation }, result: result(2), noted: [], task: tasks[1]!.id }], "w2")
        expect(Either.isRight(last!) && last.right.chunk_num).toBe(2)
        expect((yield* kbs.get(me, { kb_id: kb.id })).chunk_count).toBe(6)
      }))
  })
})
