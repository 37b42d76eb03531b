/**
 * Many small documents: the worker takes a claim's small documents at once, and the runs ending
 * together share one index write and one transaction of ends (each commit costs an index tens of
 * milliseconds whatever its size). The index here is the memory index, observed (not replaced) to
 * count its writes.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer } from "effect"
import * as ChunkIndex from "../../src/ports/ChunkIndex.js"
import * as Rag from "../../src/Rag.js"
import { Ingestion } from "../../src/services/Ingestion.js"
import * as Embedder from "../../src/ports/Embedder.js"
import * as ModelProvider from "../../src/ports/ModelProvider.js"
import * as HashEmbedder from "../../src/testing/HashEmbedder.js"
import { engine, expectCountsMatchIndex, setup, text, waitFor } from "./ingestionHelpers.js"

/** Chunks per index write, in the order written. */
const writes: Array<number> = []

/** The memory stores, their chunk index's upserts counted on the way through. */
const stores = Layer.effect(
  ChunkIndex.ChunkIndex,
  Effect.map(ChunkIndex.ChunkIndex, (index): ChunkIndex.ChunkIndexService => ({
    ...index,
    upsert: (chunks) => Effect.zipRight(Effect.sync(() => void writes.push(chunks.length)), index.upsert(chunks))
  }))
).pipe(Layer.provideMerge(Rag.layerMemoryStores))

const body = (n: number) => Array.from({ length: n }, (_, i) => `Paragraph ${i}.`).join("\n\n")

describe("Ingestion: many small documents", () => {
  layer(engine({ stores, ingestion: { concurrency: 1 } }), { excludeTestServices: true })((it) => {
    it.effect("share index writes: 60 documents of 2 chunks in a few writes, a large one in writes of at most 256 chunks", () =>
      Effect.gen(function* () {
        const worker = yield* Ingestion
        const { docs, me, kb } = yield* setup()
        const small = yield* docs.upload(me, {
          kb_id: kb.id,
          files: Array.from({ length: 60 }, (_, i) => ({ name: `small-${i}.txt`, bytes: text(body(2)) }))
        })
        const [large] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "large.txt", bytes: text(body(600)) }] })
        writes.length = 0
        yield* docs.parse(me, { doc_ids: [...small.map((d) => d.id), large!.id] })
        expect(yield* worker.drain).toBe(61)

        const stored = yield* expectCountsMatchIndex(kb.id, [...small.map((d) => d.id), large!.id])
        expect(stored.map((d) => [d.name, d.run, d.chunk_num]).sort()).toEqual(
          [...small.map((d) => [d.name, "DONE", 2]), ["large.txt", "DONE", 600]].sort()
        )
        // One write per document would be 61 writes; the large document alone needs 3.
        expect(writes.reduce((a, b) => a + b, 0)).toBe(60 * 2 + 600)
        expect(writes.every((n) => n <= 256 * 4)).toBe(true)
        expect(writes.length).toBeLessThanOrEqual(12)
        // Every document has its "received" and "done" lines, written with its end.
        for (const d of stored) expect(d.progress_msg).toMatch(/Task has been received[\s\S]*Indexed \d+ chunks/)
      }))
  })
})

/** Index writes wait until this opens: an index slower than the parsers (pgvector on a busy Postgres). */
const indexOpen = Effect.unsafeMakeLatch(false)
const slowStores = Layer.effect(
  ChunkIndex.ChunkIndex,
  Effect.map(ChunkIndex.ChunkIndex, (index): ChunkIndex.ChunkIndexService => ({
    ...index,
    upsert: (chunks) => Effect.zipRight(indexOpen.await, index.upsert(chunks))
  }))
).pipe(Layer.provideMerge(Rag.layerMemoryStores))

/** The documents whose chunk `hash-32@Counted` embedded (its text starts `w<i>x0`). */
const embedded = new Set<string>()
const counted = (() => {
  const inner = HashEmbedder.make({ dimensions: 32, modelId: "hash-32@Counted" })
  return ModelProvider.plugin({
    kind: "counted",
    providers: ["Counted"],
    embedder: () =>
      Effect.succeed(Embedder.make({
        modelId: "hash-32@Counted",
        dimensions: 32,
        maxBatchSize: 64,
        embedBatch: (texts) =>
          Effect.zipRight(
            Effect.sync(() => texts.forEach((t) => /^w(\d+)x0 /.test(t) && embedded.add(t.slice(0, t.indexOf("x"))))),
            inner.embedDocuments(texts)
          )
      }))
  })
})()

describe("Ingestion: the chunk text left writing", () => {
  // One document at a time (no small documents taken together), ~9,000 characters of chunk text
  // each (content and its two token fields): 20,000 hold two, and a third waits.
  const ingestion = { concurrency: 1, pipelineChars: 20_000, smallDocumentBytes: 0, endLingerMs: 0 }
  layer(engine({ stores: slowStores, ingestion, plugins: [counted] }), { excludeTestServices: true })((it) => {
    it.effect("is bounded by pipelineChars: while the index does not write, the worker stops taking documents", () =>
      Effect.gen(function* () {
        const worker = yield* Ingestion
        const { docs, me, kb } = yield* setup("hash-32@Counted")
        const uploaded = yield* docs.upload(me, {
          kb_id: kb.id,
          files: Array.from({ length: 10 }, (_, i) => ({
            name: `doc-${i}.txt`,
            bytes: text(Array.from({ length: 400 }, (_, j) => `w${i}x${j}`).join(" "))
          }))
        })
        const ids = uploaded.map((d) => d.id)
        yield* docs.parse(me, { doc_ids: ids })
        const draining = yield* Effect.fork(worker.drain)
        yield* waitFor("two documents left writing", Effect.sync(() => embedded.size), (n) => n >= 2)
        // Time enough for the pipeline (64 documents) to take all ten, were it not for their text.
        yield* Effect.sleep(Duration.millis(500))
        expect(embedded.size).toBeLessThanOrEqual(3)
        yield* indexOpen.open
        expect(yield* Fiber.join(draining)).toBe(10)
        expect(embedded.size).toBe(10)
        const stored = yield* expectCountsMatchIndex(kb.id, ids)
        expect(stored.every((d) => d.run === "DONE" && d.chunk_num === 1)).toBe(true)
      }).pipe(Effect.ensuring(indexOpen.open)))
  })
})
