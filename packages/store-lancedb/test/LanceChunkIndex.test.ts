import { describe, expect, it } from "@effect/vitest"
import * as lancedb from "@lancedb/lancedb"
import { ChunkIndex } from "@ragkit/core"
import type { ChunkId, DocumentId } from "@ragkit/core"
import { makeTestChunk } from "@ragkit/core/testing"
import { Effect, Option } from "effect"
import { LanceChunkIndex } from "../src/index.js"
import { expectSameResults, ids, newDoc, newKb, random, randomPoints, sample, tempDir, withIndex, words } from "./sample.js"

/** The version of a knowledge base's table, read through a connection of its own. */
const tableVersion = (uri: string, kb: ReturnType<typeof newKb>) =>
  Effect.promise(async () => {
    const db = await lancedb.connect(uri)
    const table = await db.openTable(LanceChunkIndex.tableName(kb))
    const v = await table.version()
    table.close()
    db.close()
    return v
  })

describe("LanceChunkIndex", () => {
  it.live("gives the memory index's BM25 scores exactly, through writes, deletes, updates and optimize runs", () =>
    Effect.gen(function*() {
      const { chunks, docs, kbs, queries } = sample(42)
      const memory = yield* ChunkIndex.makeMemory
      const lance = LanceChunkIndex.layer({ uri: tempDir(), optimizeEvery: 60 })
      // The same operations on both indexes; updates draw tokens from generators with the same seed.
      const expected: Array<ReadonlyArray<ChunkIndex.ScoredChunk>> = []
      const memorySeeded = random(7)
      const lanceSeeded = random(7)
      const runOps = (index: ChunkIndex.ChunkIndexService, gen: () => number) =>
        Effect.gen(function*() {
          const local = <T>(items: ReadonlyArray<T>): T => items[Math.floor(gen() * items.length)]!
          const localPhrase = (n: number) => Array.from({ length: n }, () => local(words)).join(" ")
          for (let i = 0; i < chunks.length; i += 40) yield* index.upsert(chunks.slice(i, i + 40))
          expect(yield* index.deleteByDocument(kbs[0]!, docs[0]!)).toBeGreaterThan(0)
          yield* index.deleteChunks(kbs[1]!, chunks.slice(0, 30).map((c) => c.id))
          for (const chunk of chunks.slice(100, 110)) {
            yield* index.update(chunk.kb_id, chunk.id, { content_ltks: localPhrase(5), important_keywords: [local(words)] })
          }
        })
      yield* runOps(memory, memorySeeded)
      for (const query of queries) expected.push(yield* memory.searchText({ ...query, limit: 25 }))
      const actual = yield* withIndex(lance, (index) =>
        Effect.gen(function*() {
          yield* runOps(index, lanceSeeded)
          return yield* Effect.forEach(queries, (query) => index.searchText({ ...query, limit: 25 }))
        }))
      expected.forEach((want, i) => expectSameResults(actual[i]!, want))
    }))

  it.live("keeps its data when the layer is closed and built again on the same folder", () =>
    Effect.gen(function*() {
      const uri = tempDir()
      const kb = newKb()
      const doc = newDoc()
      const chunks = Array.from({ length: 5 }, (_, i) =>
        makeTestChunk(kb, doc, { content: `persistent note ${i}`, index: i, vector: [1, i, 0.5] }))
      yield* withIndex(LanceChunkIndex.layer({ uri }), (index) =>
        Effect.gen(function*() {
          yield* index.upsert(chunks)
          yield* index.update(kb, chunks[0]!.id, { available: false })
        }))
      yield* withIndex(LanceChunkIndex.layer({ uri }), (index) =>
        Effect.gen(function*() {
          expect(yield* index.countByDocument(kb, doc)).toBe(5)
          expect({ ...Option.getOrThrow(yield* index.get(kb, chunks[1]!.id)) }).toEqual({ ...chunks[1]! })
          const page = yield* index.list({ kbId: kb, docId: doc, offset: 0, limit: 10 })
          expect(page.chunks.map((c) => c.id)).toEqual(chunks.map((c) => c.id))
          expect(page.chunks[0]!.available).toBe(false)
          expect((yield* index.searchText({ kbIds: [kb], tokens: "persistent", limit: 10 })).length).toBe(4)
          expect(ids(yield* index.searchVector({ kbIds: [kb], vector: [1, 4, 0.5], limit: 1 }))).toEqual([chunks[4]!.id])
          const wrong = yield* Effect.flip(index.searchVector({ kbIds: [kb], vector: [1, 0], limit: 1 }))
          expect(wrong.reason).toBe("Mismatch")
        }))
    }))

  it.live("answers nearest neighbours through the ANN index past the threshold with recall@10 >= 0.9", () =>
    Effect.gen(function*() {
      const uri = tempDir()
      const rand = random(1234)
      const kb = newKb()
      const doc = newDoc()
      const dimension = 16
      const vector = () => Array.from({ length: dimension }, () => Math.fround(rand() * 2 - 1))
      const chunks = Array.from({ length: 400 }, (_, i) =>
        makeTestChunk(kb, doc, { content: `point ${i}`, index: i, vector: vector() }))
      const queries = Array.from({ length: 20 }, vector)
      const recall = yield* withIndex(LanceChunkIndex.layer({ uri, annThreshold: 300 }), (index) =>
        Effect.gen(function*() {
          yield* index.upsert(chunks.slice(0, 200))
          yield* index.upsert(chunks.slice(200, 350))
          // Rows added after the index was built are searched too.
          yield* index.upsert(chunks.slice(350))
          let hits = 0
          for (const query of queries) {
            const truth = chunks
              .map((c) => ({ id: c.id, score: ChunkIndex.cosineSimilarity(query, c.vector!) }))
              .sort((a, b) => b.score - a.score)
              .slice(0, 10)
              .map((t) => t.id)
            const found = yield* index.searchVector({ kbIds: [kb], vector: query, limit: 10 })
            expect(found).toHaveLength(10)
            hits += ids(found).filter((id) => truth.includes(id)).length
          }
          return hits / (queries.length * 10)
        }))
      expect(recall).toBeGreaterThanOrEqual(0.9)
      const db = yield* Effect.promise(() => lancedb.connect(uri))
      const table = yield* Effect.promise(() => db.openTable(LanceChunkIndex.tableName(kb)))
      const indexes = yield* Effect.promise(() => table.listIndices())
      expect(indexes.find((i) => i.columns.includes("vector"))?.indexType).toBe("IvfPq")
      table.close()
      db.close()
    }))

  it.live("trains the ANN index again once the table has doubled; searches stay exact while it does", () =>
    Effect.gen(function*() {
      const uri = tempDir()
      const { chunks, kb, vector } = randomPoints(4321, 700)
      const queries = Array.from({ length: 5 }, vector)
      const memory = yield* ChunkIndex.makeMemory
      const trained = () =>
        Effect.promise(async () => {
          const db = await lancedb.connect(uri)
          const table = await db.openTable(LanceChunkIndex.tableName(kb))
          const field = (await table.schema()).fields.find((f) => f.name === "vector")
          const indexes = (await table.listIndices()).filter((i) => i.columns.includes("vector"))
          table.close()
          db.close()
          return { vectors: Number(field?.metadata.get("ragkit.ann_trained_vectors")), indexes: indexes.length }
        })
      // Every partition probed and every candidate re-ranked: the ANN path must give the exact answer.
      const layer = LanceChunkIndex.layer({ uri, annThreshold: 300, optimizeEvery: 50, nprobes: 1000, refineFactor: 100 })
      const check = (index: ChunkIndex.ChunkIndexService) =>
        Effect.forEach(queries, (query) =>
          Effect.gen(function*() {
            const want = yield* memory.searchVector({ kbIds: [kb], vector: query, limit: 10 })
            expectSameResults(yield* index.searchVector({ kbIds: [kb], vector: query, limit: 10 }), want)
          }))
      yield* withIndex(layer, (index) => index.upsert(chunks.slice(0, 320)))
      yield* memory.upsert(chunks.slice(0, 320))
      expect(yield* trained()).toEqual({ vectors: 320, indexes: 1 })
      yield* withIndex(layer, (index) =>
        Effect.gen(function*() {
          // Below twice the trained count: no retrain. Then past it, searching while maintenance runs.
          yield* index.upsert(chunks.slice(320, 600))
          yield* memory.upsert(chunks.slice(320, 600))
          yield* check(index)
          yield* index.upsert(chunks.slice(600, 660))
          yield* memory.upsert(chunks.slice(600, 660))
          yield* check(index)
        }))
      expect(yield* trained()).toEqual({ vectors: 660, indexes: 1 })
      // Another process (a new layer) searches the retrained index and adds rows that it does not cover yet.
      yield* withIndex(layer, (index) =>
        Effect.gen(function*() {
          yield* index.upsert(chunks.slice(660))
          yield* memory.upsert(chunks.slice(660))
          yield* check(index)
        }))
      expect(yield* trained()).toEqual({ vectors: 660, indexes: 1 })
    }))

  it.live("a reader without writes of its own uses the ANN index another process built after it opened", () =>
    Effect.gen(function*() {
      const uri = tempDir()
      const { chunks, kb, vector } = randomPoints(99, 401)
      const query = vector()
      // A search with a limit above the table size: exact search returns every row, the IVF index
      // probed in one of its ~20 partitions returns only the rows found there.
      const everything = { kbIds: [kb], vector: query, limit: 1000 }
      yield* withIndex(LanceChunkIndex.layer({ uri, annThreshold: 1_000_000 }), (writer) =>
        writer.upsert(chunks.slice(0, 400)))
      const [before, after] = yield* withIndex(LanceChunkIndex.layer({ uri, nprobes: 1 }), (reader) =>
        Effect.gen(function*() {
          const before = yield* reader.searchVector(everything)
          // Another writer (its own layer, as another process would be) passes the threshold; closing
          // its layer waits for its maintenance, which builds the index.
          yield* withIndex(LanceChunkIndex.layer({ uri, annThreshold: 300 }), (writer) => writer.upsert(chunks.slice(400)))
          return [before, yield* reader.searchVector(everything)] as const
        }))
      expect(before).toHaveLength(400)
      expect(after.length).toBeGreaterThan(0)
      expect(after.length).toBeLessThan(401)
    }))

  it.live("quotes and other SQL characters in ids, metadata and keywords do not break filters", () =>
    withIndex(LanceChunkIndex.layer({ uri: tempDir() }), (index) =>
      Effect.gen(function*() {
        const kb = newKb()
        const doc = newDoc()
        const quoted = makeTestChunk(kb, doc, {
          content: "O'Brien's 100% pure_water \\ report",
          content_ltks: "o'brien 100% pure_water water \\ report",
          index: 0,
          metadata: { author: "O'Brien", "it's": "a'b\\'c", note: "50%_off" },
          vector: [1, 0]
        })
        const plainChunk = makeTestChunk(kb, doc, {
          content: "plain water report",
          index: 1,
          metadata: { author: "Ann" },
          vector: [1, 0.1]
        })
        yield* index.upsert([quoted, plainChunk])
        const injection = "x' OR '1'='1" as DocumentId
        const both = (filter: ChunkIndex.ChunkFilter) =>
          Effect.gen(function*() {
            const text = ids(yield* index.searchText({ kbIds: [kb], tokens: "water", limit: 10, filter }))
            const vector = ids(yield* index.searchVector({ kbIds: [kb], vector: [1, 0], limit: 10, filter }))
            expect(new Set(text)).toEqual(new Set(vector))
            return new Set(text)
          })
        expect(yield* both({ docIds: [injection] })).toEqual(new Set())
        expect(yield* both({ docIds: [injection, doc] })).toEqual(new Set([quoted.id, plainChunk.id]))
        expect(yield* both({ metadata: [{ key: "author", op: "eq", value: "O'Brien" }] })).toEqual(new Set([quoted.id]))
        expect(yield* both({ metadata: [{ key: "it's", op: "eq", value: "a'b\\'c" }] })).toEqual(new Set([quoted.id]))
        expect(yield* both({ metadata: [{ key: "note", op: "contains", value: "%_" }] })).toEqual(new Set([quoted.id]))
        expect(yield* both({ metadata: [{ key: "author", op: "ne", value: "O'Brien" }] })).toEqual(
          new Set([plainChunk.id])
        )
        expect(yield* index.countByDocument(kb, injection)).toBe(0)
        expect(Option.isNone(yield* index.get(kb, "x' OR '1'='1" as ChunkId))).toBe(true)
        expect(yield* index.deleteChunks(kb, ["x' OR '1'='1" as ChunkId])).toBe(0)
        expect(yield* index.deleteByDocument(kb, injection)).toBe(0)
        const list = (keywords: string) =>
          Effect.map(index.list({ kbId: kb, docId: doc, keywords, offset: 0, limit: 10 }), (page) =>
            page.chunks.map((c) => c.id))
        expect(yield* list("o'brien's")).toEqual([quoted.id])
        expect(yield* list("100%")).toEqual([quoted.id])
        expect(yield* list("%")).toEqual([quoted.id])
        expect(yield* list("_")).toEqual([quoted.id])
        expect(yield* list("\\")).toEqual([quoted.id])
        expect(yield* list("' OR '1'='1")).toEqual([])
        expect(yield* index.countByDocument(kb, doc)).toBe(2)
      })))

  it.live("finds metadata matches beyond the nearest neighbours, and takes vectors once a vectorless table has them", () =>
    withIndex(LanceChunkIndex.layer({ uri: tempDir() }), (index) =>
      Effect.gen(function*() {
        const kb = newKb()
        const doc = newDoc()
        const textOnly = makeTestChunk(kb, doc, { content: "no embedding yet" })
        yield* index.upsert([textOnly])
        expect(yield* index.searchVector({ kbIds: [kb], vector: [1, 0, 0], limit: 5 })).toEqual([])
        const near = Array.from({ length: 60 }, (_, i) =>
          makeTestChunk(kb, doc, { content: `near ${i}`, vector: [1, i / 100, 0], metadata: { lang: "en" } }))
        const far = makeTestChunk(kb, doc, { content: "far", vector: [0, 0, 1], metadata: { lang: "fr" } })
        yield* index.upsert([...near, far])
        const found = yield* index.searchVector({
          kbIds: [kb],
          vector: [1, 0, 0],
          limit: 2,
          filter: { metadata: [{ key: "lang", op: "eq", value: "fr" }] }
        })
        expect(ids(found)).toEqual([far.id])
        expect(found[0]!.score).toBe(0)
        const all = yield* index.searchVector({ kbIds: [kb], vector: [1, 0, 0], limit: 100 })
        expect(all).toHaveLength(61)
        expect(all[0]!.chunk.id).toBe(near[0]!.id)
      })))

  it.live("merges concurrent upserts into few commits, and each caller sees its own outcome", () =>
    Effect.gen(function*() {
      const uri = tempDir()
      const kb = newKb()
      const doc = newDoc()
      const version = () => tableVersion(uri, kb)
      yield* withIndex(LanceChunkIndex.layer({ uri, optimizeEvery: 1_000_000 }), (index) =>
        Effect.gen(function*() {
          yield* index.upsert([makeTestChunk(kb, doc, { content: "first", vector: [1, 0] })])
          const before = yield* version()
          const batches = Array.from({ length: 20 }, (_, i) => [
            makeTestChunk(kb, doc, { content: `chunk ${i} a`, index: i, vector: [1, i] }),
            makeTestChunk(kb, doc, { content: `chunk ${i} b`, index: i, vector: [i, 1] })
          ])
          yield* Effect.forEach(batches, (batch) => index.upsert(batch), { concurrency: "unbounded", discard: true })
          const after = yield* version()
          expect(after - before).toBeGreaterThan(0)
          expect(after - before).toBeLessThan(20)
          expect(yield* index.countByDocument(kb, doc)).toBe(41)
          // Another dimension while the knowledge base holds vectors: that caller fails, the others not.
          const results = yield* Effect.forEach(
            [[1, 2], [1, 2, 3], [3, 4]],
            (vector, i) => Effect.either(index.upsert([makeTestChunk(kb, doc, { content: `late ${i}`, vector })])),
            { concurrency: "unbounded" }
          )
          expect(results.map((r) => r._tag)).toEqual(["Right", "Left", "Right"])
          expect(yield* index.countByDocument(kb, doc)).toBe(43)
        }))
    }))

  it.live("keeps one row per id when a run's writes are repeated or its document is parsed again (new ids are appended, known ones merged)", () =>
    Effect.gen(function*() {
      const uri = tempDir()
      const kb = newKb()
      const [doc, other] = [newDoc(), newDoc()]
      const run = (docId: DocumentId, n: number, text: string) =>
        Array.from({ length: n }, (_, i) => makeTestChunk(kb, docId, { content: `${text} ${i}`, index: i, vector: [1, i] }))
      /** Every id in the table with its row count, read through a connection of its own. */
      const idCounts = Effect.promise(async () => {
        const db = await lancedb.connect(uri)
        const table = await db.openTable(LanceChunkIndex.tableName(kb))
        const rows = (await table.query().select(["id"]).toArray()) as Array<{ id: string }>
        table.close()
        db.close()
        const counts = new Map<string, number>()
        for (const row of rows) counts.set(row.id, (counts.get(row.id) ?? 0) + 1)
        return counts
      })
      // Optimize after every few commits, so that ids are looked up both in indexed and in new fragments.
      yield* withIndex(LanceChunkIndex.layer({ uri, optimizeEvery: 25, optimizeEveryCommits: 3 }), (index) =>
        Effect.gen(function*() {
          yield* index.upsert(run(other, 3, "other"))
          const first = run(doc, 60, "first")
          for (let i = 0; i < first.length; i += 20) yield* index.upsert(first.slice(i, i + 20))
          // The run's writes again (a retried write, a run taken over by another worker), one batch
          // changed and one overlapping the next: every id once, the last write's content.
          const retried = first.map((c) => c.index < 20 ? makeTestChunk(kb, doc, { ...c, content: `retried ${c.index}` }) : c)
          yield* index.upsert(retried.slice(0, 30))
          yield* index.upsert(retried.slice(10, 60))
          // Two upserts of the same ids in one group commit.
          yield* Effect.forEach([retried.slice(40), retried.slice(40)], (batch) => index.upsert(batch), { concurrency: "unbounded", discard: true })
          expect(yield* index.countByDocument(kb, doc)).toBe(60)
          let counts = yield* idCounts
          expect([...counts.values()].every((n) => n === 1)).toBe(true)
          expect(counts.size).toBe(63)
          expect(Option.getOrThrow(yield* index.get(kb, first[5]!.id)).content).toBe("retried 5")
          expect(Option.getOrThrow(yield* index.get(kb, first[45]!.id)).content).toBe("first 45")
          // Parsed again: the old chunks are dropped, the new run's are appended.
          yield* index.deleteByDocument(kb, doc)
          const second = run(doc, 40, "second")
          for (let i = 0; i < second.length; i += 20) yield* index.upsert(second.slice(i, i + 20))
          yield* index.upsert(second.slice(0, 20))
          expect(yield* index.countByDocument(kb, doc)).toBe(40)
          counts = yield* idCounts
          expect(counts.size).toBe(43)
          expect([...counts.values()].every((n) => n === 1)).toBe(true)
          expect(first.some((c) => counts.has(c.id))).toBe(false)
          expect(ids(yield* index.searchText({ kbIds: [kb], tokens: "second", limit: 100 }))).toHaveLength(40)
        }))
    }))

  it.live("during a bulk load an optimize waits for the writes to pause; text search stays exact meanwhile", () =>
    Effect.gen(function*() {
      const uri = tempDir()
      const kb = newKb()
      const doc = newDoc()
      const version = () => tableVersion(uri, kb)
      yield* withIndex(LanceChunkIndex.layer({ uri, optimizeEveryCommits: 2, optimizeQuietMs: 3_000 }), (index) =>
        Effect.gen(function*() {
          // Eight commits, an optimize due from the second on.
          for (let i = 0; i < 8; i++) {
            yield* index.upsert([makeTestChunk(kb, doc, { content: `otter note ${i}`, index: i, vector: [1, i] })])
          }
          const loaded = yield* version()
          expect((yield* index.searchText({ kbIds: [kb], tokens: "otter", limit: 20 })).length).toBe(8)
          yield* Effect.sleep("500 millis")
          expect(yield* version()).toBe(loaded)
          // Once the writes paused, the optimize runs (new table versions), and the search still finds all.
          let later = loaded
          for (let waited = 0; later === loaded && waited < 20_000; waited += 200) {
            yield* Effect.sleep("200 millis")
            later = yield* version()
          }
          expect(later).toBeGreaterThan(loaded)
          expect((yield* index.searchText({ kbIds: [kb], tokens: "otter", limit: 20 })).length).toBe(8)
        }))
    }))

  it.live("concurrent first upserts of different dimensions into an empty knowledge base: one wins", () =>
    withIndex(LanceChunkIndex.layer({ uri: tempDir() }), (index) =>
      Effect.gen(function*() {
        const kb = newKb()
        const doc = newDoc()
        const results = yield* Effect.forEach(
          [[1, 0], [1, 0, 0]],
          (vector, i) => Effect.either(index.upsert([makeTestChunk(kb, doc, { content: `racer ${i}`, vector })])),
          { concurrency: "unbounded" }
        )
        expect(results.filter((r) => r._tag === "Right")).toHaveLength(1)
        const failure = results.find((r) => r._tag === "Left")
        expect(failure?._tag === "Left" ? failure.left.reason : undefined).toBe("Mismatch")
        expect(yield* index.countByDocument(kb, doc)).toBe(1)
      })))
})
