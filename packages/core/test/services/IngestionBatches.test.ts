/**
 * Many small documents: the worker takes a claim's small documents at once, and the runs ending
 * together share one index write and one transaction of ends (each commit costs an index tens of
 * milliseconds whatever its size). The index here is the memory index, observed (not replaced) to
 * count its writes.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as ChunkIndex from "../../src/ports/ChunkIndex.js"
import * as Rag from "../../src/Rag.js"
import { Ingestion } from "../../src/services/Ingestion.js"
import { engine, expectCountsMatchIndex, setup, text } from "./ingestionHelpers.js"

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
