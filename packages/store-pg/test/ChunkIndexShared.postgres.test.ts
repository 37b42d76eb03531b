/**
 * One pgvector chunk index shared by two pools on a real Postgres, as two `ragkit worker` processes
 * share it: the layers are built at once on an empty database, both pools write the same and
 * different knowledge bases at once (the HNSW index gets built meanwhile) while both search, and the
 * end state is exact (rows, statistics, postings, BM25 scores equal to the memory index's). Two
 * writes passing the exact threshold together build the HNSW index without deadlock (they did
 * deadlock when the index was built inside the write's transaction); a large write rebuilds it
 * while the other pool writes and searches. A text search reads one snapshot while another pool
 * rewrites what it reads, also while it moves rows from the text-search tail into the postings.
 *
 * Needs `RAGKIT_TEST_PG_URL` and pgvector on that server (`scripts/install-pgvector.sh`; `.ci/run`
 * installs it and sets `RAGKIT_TEST_PGVECTOR=1`, and then this file never skips).
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, ChunkIndex, DocumentId, KnowledgeBaseId, randomHex32 } from "@ragkit/core"
import { makeTestChunk } from "@ragkit/core/testing"
import { Context, Effect, Layer, Redacted } from "effect"
import * as Pg from "pg"
import * as Rows from "../src/internal/chunkIndexRows.js"
import * as StorePg from "../src/index.js"
import { admin, freshDatabase, hasPgvector } from "../src/Testing.js"
import { checkPostings, checkStatistics, random, tailIndexed } from "./chunkIndexChecks.js"

const adminUrl = process.env["RAGKIT_TEST_PG_URL"]
const runnable = adminUrl !== undefined &&
  (process.env["RAGKIT_TEST_PGVECTOR"] === "1" || (await Effect.runPromise(hasPgvector(adminUrl))))

/** What one worker process has: a pool of its own and a chunk index on it. */
const processLayer = (url: string, options: StorePg.PgChunkIndex.Options) =>
  StorePg.PgChunkIndex.layer(options).pipe(
    Layer.provideMerge(PgClient.layer({ url: Redacted.make(url), maxConnections: 4 }))
  )

/** Two "processes" on one fresh database, their layers built at the same time. */
const twoProcesses = (options: StorePg.PgChunkIndex.Options) =>
  Effect.gen(function*() {
    const db = yield* freshDatabase(adminUrl!)
    const contexts = yield* Effect.all([Layer.build(processLayer(db.url, options)), Layer.build(processLayer(db.url, options))], {
      concurrency: 2
    })
    return contexts.map((context) => ({
      index: Context.get(context, ChunkIndex.ChunkIndex),
      sql: Context.get(context, SqlClient.SqlClient)
    }))
  })

const words = ["amber", "basil", "cedar", "dune", "ember", "fjord", "grove", "heath", "inlet"]

describe.skipIf(!runnable)("pgvector chunk index shared by two processes (Postgres)", () => {
  it.live("two pools upsert into one index and search it at once; the end state is exact", () =>
    Effect.gen(function*() {
      // Tails indexed at 120 rows: each knowledge base ends with rows in the postings and in its tail.
      const [a, b] = yield* twoProcesses({ exactSearchThreshold: 300, tailRows: 120 })
      const next = random(31)
      const pick = () => words[Math.floor(next() * words.length)]!
      const dims = 16
      const vector = () => Array.from({ length: dims }, () => Math.fround(next() * 2 - 1))
      const [shared, onlyA, onlyB] = [0, 1, 2].map(() => KnowledgeBaseId.make(randomHex32()))
      const doc = DocumentId.make(randomHex32())
      const chunksOf = (kb: KnowledgeBaseId) =>
        Array.from({ length: 200 }, (_, i) =>
          makeTestChunk(kb, doc, {
            content: Array.from({ length: 2 + (i % 7) }, pick).join(" "),
            title_tks: i % 5 === 0 ? pick() : "",
            vector: vector()
          }))
      const [sharedChunks, aChunks, bChunks] = [chunksOf(shared), chunksOf(onlyA), chunksOf(onlyB)]
      const batches = (chunks: ReadonlyArray<Chunk>) =>
        Array.from({ length: chunks.length / 25 }, (_, i) => chunks.slice(i * 25, i * 25 + 25))
      // Both write every chunk of the shared knowledge base (the same rows, in opposite orders: each
      // write replaces rows the other wrote), and one knowledge base of their own; 600 vectors of
      // one dimension pass the exact threshold, so one of the writes builds the HNSW index.
      const writes = [
        ...batches(sharedChunks).map((batch) => a.index.upsert(batch)),
        ...batches(aChunks).map((batch) => a.index.upsert(batch)),
        ...batches(sharedChunks).reverse().map((batch) => b.index.upsert(batch)),
        ...batches(bChunks).map((batch) => b.index.upsert(batch))
      ]
      let writing = true
      const searches = (index: ChunkIndex.ChunkIndexService) =>
        Effect.gen(function*() {
          let n = 0
          while (writing || n === 0) {
            const kbIds = [shared, onlyA, onlyB]
            for (const result of yield* index.searchText({ kbIds, tokens: `${pick()} ${pick()}`, limit: 10 })) {
              expect(result.score).toBeGreaterThan(0)
            }
            yield* index.searchVector({ kbIds, vector: vector(), limit: 10 })
            n++
          }
          return n
        })
      const [, searched] = yield* Effect.all([
        Effect.ensuring(
          Effect.all(writes, { concurrency: 4, discard: true }),
          Effect.sync(() => {
            writing = false
          })
        ),
        Effect.all([searches(a.index), searches(b.index)], { concurrency: 2 })
      ], { concurrency: 2 })
      expect(searched.every((n) => n > 0)).toBe(true)

      const memory = yield* ChunkIndex.makeMemory
      yield* memory.upsert([...sharedChunks, ...aChunks, ...bChunks])
      const hnsw = yield* a.sql<{ readonly n: number }>`
        SELECT count(*)::int AS n FROM pg_indexes WHERE indexname = ${Rows.hnswIndexName(dims)}`
      expect(hnsw[0]!.n).toBe(1)
      yield* Effect.provideService(
        Effect.all([checkStatistics([shared, onlyA, onlyB]), checkPostings([shared, onlyA, onlyB])]),
        SqlClient.SqlClient,
        a.sql
      )
      for (const { index } of [a, b]) {
        for (const kb of [shared, onlyA, onlyB]) expect(yield* index.countByDocument(kb, doc)).toBe(200)
        for (const kbIds of [[shared], [onlyA, onlyB], [shared, onlyA, onlyB]]) {
          for (const w of words) {
            const search = { kbIds, tokens: `${w} ${pick()}`, limit: 20 }
            const expected = yield* memory.searchText(search)
            expect(expected.length).toBeGreaterThan(0)
            expect((yield* index.searchText(search)).map((r) => [r.chunk.id, r.score])).toEqual(
              expected.map((r) => [r.chunk.id, r.score])
            )
          }
        }
        // 200 vectors in a knowledge base: exact searches, the memory index's results.
        for (const kb of [shared, onlyA, onlyB]) {
          const search = { kbIds: [kb], vector: vector(), limit: 10 }
          const expected = yield* memory.searchVector(search)
          const actual = yield* index.searchVector(search)
          expect(actual.map((r) => r.chunk.id)).toEqual(expected.map((r) => r.chunk.id))
          actual.forEach((r, i) => expect(r.score).toBeCloseTo(expected[i]!.score, 6))
        }
        // 600 over all three: the HNSW index, which finds a stored vector first.
        for (const chunk of [sharedChunks[3]!, aChunks[77]!, bChunks[150]!]) {
          const [first] = yield* index.searchVector({ kbIds: [shared, onlyA, onlyB], vector: chunk.vector!, limit: 5 })
          expect(first!.chunk.id).toBe(chunk.id)
        }
      }
    }).pipe(Effect.scoped), 120_000)

  it.live("writes of two pools that pass the exact threshold together build the HNSW index once, without deadlock", () =>
    Effect.gen(function*() {
      const [a, b] = yield* twoProcesses({ exactSearchThreshold: 300 })
      const next = random(47)
      const doc = DocumentId.make(randomHex32())
      // A dimension per round: 290 vectors committed, then two writes of 25 at once (in knowledge
      // bases of their own, so no write lock orders them), each of which sees 315 vectors.
      for (let dims = 4; dims < 10; dims++) {
        const write = (n: number) => {
          const kb = KnowledgeBaseId.make(randomHex32())
          return Array.from({ length: n }, (_, i) =>
            makeTestChunk(kb, doc, { content: `row ${i}`, vector: Array.from({ length: dims }, () => next() - 0.5) }))
        }
        yield* a.index.upsert(write(290))
        yield* Effect.all([a.index.upsert(write(25)), b.index.upsert(write(25))], { concurrency: 2 })
        const hnsw = yield* a.sql<{ readonly n: number }>`
          SELECT count(*)::int AS n FROM pg_indexes WHERE indexname = ${Rows.hnswIndexName(dims)}`
        expect(hnsw[0]!.n).toBe(1)
      }
    }).pipe(Effect.scoped), 120_000)

  it.live("a large write rebuilds the HNSW index while the other pool writes and searches the same dimension", () =>
    Effect.gen(function*() {
      const [a, b] = yield* twoProcesses({ exactSearchThreshold: 100 })
      const next = random(53)
      const dims = 12
      const doc = DocumentId.make(randomHex32())
      const [kbA, kbB] = [0, 1].map(() => KnowledgeBaseId.make(randomHex32()))
      const write = (kb: KnowledgeBaseId, n: number) =>
        Array.from({ length: n }, (_, i) =>
          makeTestChunk(kb, doc, { content: `row ${i}`, vector: Array.from({ length: dims }, () => next() - 0.5) }))
      const first = write(kbA, 400)
      yield* a.index.upsert(first)
      yield* b.index.upsert(write(kbB, 20))
      const indexOid = Effect.map(
        a.sql<{ readonly oid: number | null }>`SELECT to_regclass(${Rows.hnswIndexName(dims)})::oid::int AS oid`,
        (rows) => rows[0]?.oid ?? null
      )
      const built = yield* indexOid
      expect(built).not.toBeNull()
      // 200 into 420: a quarter or more, so the write drops the index and builds it again.
      const large = write(kbA, 200)
      const small = Array.from({ length: 8 }, () => write(kbB, 20))
      yield* Effect.all([
        a.index.upsert(large),
        Effect.forEach(small, (batch) =>
          Effect.zipRight(b.index.upsert(batch), b.index.searchVector({ kbIds: [kbA, kbB], vector: batch[0]!.vector!, limit: 3 })), {
          discard: true
        })
      ], { concurrency: 2 })
      const rebuilt = yield* indexOid
      expect(rebuilt).not.toBeNull()
      expect(rebuilt).not.toBe(built)
      expect(yield* a.index.countByDocument(kbA, doc)).toBe(600)
      expect(yield* b.index.countByDocument(kbB, doc)).toBe(180)
      for (const chunk of [first[5]!, large[60]!, small[7]![3]!]) {
        const [hit] = yield* b.index.searchVector({ kbIds: [kbA, kbB], vector: chunk.vector!, limit: 3 })
        expect(hit!.chunk.id).toBe(chunk.id)
      }
    }).pipe(Effect.scoped), 120_000)

  it.live("a text search reads one snapshot while another pool rewrites what it reads", () =>
    Effect.gen(function*() {
      // Each version's rows join the tail, which is indexed right after (40 rows): a search sees
      // a version whole, before and after its tail is indexed.
      const [writer, reader] = yield* twoProcesses({ tailRows: 40 })
      const kb = KnowledgeBaseId.make(randomHex32())
      const doc = DocumentId.make(randomHex32())
      const ids = Array.from({ length: 40 }, () => makeTestChunk(kb, doc, { content: "x" }).id)
      // Version v: every chunk rewritten, "amber" in a share of them and as often as v says, so
      // each version has its own document frequencies, lengths and scores.
      const version = (v: number) =>
        ids.map((id, i) =>
          new Chunk({
            ...makeTestChunk(kb, doc, { content: "" }),
            id,
            content_ltks: [...Array((i + v) % 3 === 0 ? 1 + (v % 4) : 0).fill("amber"), ...Array(1 + ((i * v) % 5)).fill("basil")].join(" ")
          }))
      const versions = 12
      const search = { kbIds: [kb], tokens: "amber basil", limit: 40 }
      const expected = new Set<string>()
      for (let v = 0; v < versions; v++) {
        const memory = yield* ChunkIndex.makeMemory
        yield* memory.upsert(version(v))
        expected.add(JSON.stringify((yield* memory.searchText(search)).map((r) => [r.chunk.id, r.score])))
      }
      expect(expected.size).toBe(versions)
      yield* writer.index.upsert(version(0))
      let writing = true
      const seen = new Set<string>()
      yield* Effect.all([
        Effect.ensuring(
          Effect.forEach(Array.from({ length: versions - 1 }, (_, i) => i + 1), (v) => writer.index.upsert(version(v)), { discard: true }),
          Effect.sync(() => {
            writing = false
          })
        ),
        Effect.gen(function*() {
          while (writing) {
            const result = JSON.stringify((yield* reader.index.searchText(search)).map((r) => [r.chunk.id, r.score]))
            expect(expected.has(result), `a search mixing two versions: ${result}`).toBe(true)
            seen.add(result)
          }
        })
      ], { concurrency: 2 })
      expect(seen.size).toBeGreaterThan(1)
    }).pipe(Effect.scoped), 120_000)

  it.live("a process built while another left a tail (and never idles) indexes that tail", () =>
    Effect.gen(function*() {
      const db = yield* freshDatabase(adminUrl!)
      const build = (tailIdleMillis: number) =>
        Effect.map(Layer.build(processLayer(db.url, { tailIdleMillis })), (context) => ({
          index: Context.get(context, ChunkIndex.ChunkIndex),
          sql: Context.get(context, SqlClient.SqlClient)
        }))
      const kb = KnowledgeBaseId.make(randomHex32())
      const doc = DocumentId.make(randomHex32())
      // The first one's rows stay in its tail (it never idles long enough, and it does not stop).
      const first = yield* build(3_600_000)
      yield* first.index.upsert(Array.from({ length: 30 }, (_, i) => makeTestChunk(kb, doc, { content: `left ${i}`, vector: [i, 1] })))
      const [before] = yield* first.sql<{ readonly indexed_ord: number }>`SELECT indexed_ord FROM chunk_ords WHERE kb_id = ${kb}`
      expect(before!.indexed_ord).toBe(0)
      // A second process finds the tail when built and indexes it once idle.
      const second = yield* build(50)
      const ords = yield* Effect.provideService(tailIndexed(kb), SqlClient.SqlClient, second.sql)
      expect(ords).toEqual({ next: 30, indexed: 30 })
      yield* Effect.provideService(Effect.all([checkStatistics([kb]), checkPostings([kb])]), SqlClient.SqlClient, second.sql)
      expect(yield* first.index.searchText({ kbIds: [kb], tokens: "left", limit: 50 })).toHaveLength(30)
    }).pipe(Effect.scoped), 120_000)

  it.live("a database whose pgvector is older than 0.8.0 is refused when the layer is built, naming the fix", () =>
    Effect.gen(function*() {
      const db = yield* freshDatabase(adminUrl!)
      yield* admin(db.url, "CREATE EXTENSION vector")
      // What a database created under pgvector 0.7 and never updated reads as (the test user is a superuser).
      yield* admin(db.url, "UPDATE pg_extension SET extversion = '0.7.4' WHERE extname = 'vector'")
      const error = yield* Effect.flip(Layer.build(processLayer(db.url, {})))
      expect(error).toMatchObject({ _tag: "ChunkIndexError", reason: "Unsupported" })
      expect(error.message).toContain("pgvector 0.7.4 in this database is older than 0.8.0")
      expect(error.message).toContain("ALTER EXTENSION vector UPDATE")
      // Nothing was created: the refusal comes before the chunk index's tables.
      const tables = yield* Effect.promise(async () => {
        const client = new Pg.Client({ connectionString: db.url })
        await client.connect()
        try {
          return (await client.query("SELECT to_regclass('chunk') AS chunk")).rows[0]
        } finally {
          await client.end()
        }
      })
      expect(tables).toEqual({ chunk: null })
    }).pipe(Effect.scoped), 60_000)
})
