/**
 * What the conformance suite does not cover, for the pgvector chunk index on PGlite and on a real
 * Postgres: BM25 scores equal the memory index's (also after replaces, updates and deletes, with
 * statistics equal to a recount of the rows), the HNSW index is built when the vectors pass the
 * exact threshold and serves searches with good recall.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, layer, type Vitest } from "@effect/vitest"
import { Chunk, ChunkIndex, type ChunkIndexError, DocumentId, KnowledgeBaseId, randomHex32 } from "@ragkit/core"
import { makeTestChunk } from "@ragkit/core/testing"
import { Effect, type Layer } from "effect"
import * as Postings from "../src/internal/chunkIndexPostings.js"
import type * as PgChunkIndex from "../src/PgChunkIndex.js"
import * as Rows from "../src/internal/chunkIndexRows.js"
import * as Statistics from "../src/migrations/0004_chunk_index_statistics.js"
import * as PlannerStatistics from "../src/migrations/0010_chunk_planner_statistics.js"

/** A seeded generator, so failures reproduce. */
export const random = (seed: number) => () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
  return seed / 2_147_483_648
}

/** A knowledge base's ordinals: given out, and the end of the indexed ones (0 and 0 when it has none). */
export const ordsOf = (kbId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ readonly next_ord: number; readonly indexed_ord: number }>`
      SELECT next_ord, indexed_ord FROM chunk_ords WHERE kb_id = ${kbId}`
    return { next: row?.next_ord ?? 0, indexed: row?.indexed_ord ?? 0 }
  })

/**
 * The postings and segments of knowledge bases against their rows: segments cover the ordinals
 * below `indexed_ord` without gaps or overlaps, count their live rows exactly and are in shape; the
 * postings of live rows below `indexed_ord` are exactly the rows' term keys, each once; no row has an
 * ordinal not given out yet.
 */
export const checkPostings = (kbIds: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    for (const kbId of kbIds) {
      const ords = yield* ordsOf(kbId)
      const segments = yield* sql.unsafe<Postings.Segment>(
        `SELECT id::float8 AS id, first_ord, end_ord, size, live FROM chunk_segments WHERE kb_id = $1 ORDER BY first_ord`,
        [kbId]
      )
      const rows = yield* sql.unsafe<{ readonly ord: number; readonly term_keys: ReadonlyArray<string>; readonly lengths: ReadonlyArray<number> }>(
        `SELECT ord, term_keys, ARRAY[content_len, title_len, keyword_len, question_len] AS lengths FROM chunk WHERE kb_id = $1`,
        [kbId]
      )
      let end = 0
      for (const segment of segments) {
        expect(segment.first_ord).toBe(end)
        end = segment.end_ord
        const live = rows.filter((r) => r.ord >= segment.first_ord && r.ord < segment.end_ord).length
        expect(segment.live).toBe(live)
        expect(Postings.needsRewrite(segment)).toBe(false)
      }
      expect(Postings.nextMerge(segments)).toBeUndefined()
      expect(end).toBe(ords.indexed)
      for (const row of rows) expect(row.ord).toBeLessThan(ords.next)
      const indexed = rows.filter((row) => row.ord < ords.indexed)
      const live = new Set(indexed.map((r) => r.ord))
      const expected = indexed.flatMap((row) =>
        row.term_keys.map((key) => {
          const space = key.indexOf(" ")
          const field = Number(key.slice(0, 1))
          return `${row.ord} ${field} ${key.slice(space + 1)} ${key.slice(2, space)} ${row.lengths[field]}`
        })
      ).sort()
      const postings = yield* sql.unsafe<{ readonly token: string; readonly field: number; readonly n: number; readonly data: unknown }>(
        `SELECT token, field, n, data FROM chunk_postings WHERE kb_id = $1`,
        [kbId]
      )
      const actual: Array<string> = []
      for (const { data, field, n, token } of postings) {
        const records = new Postings.Records(Postings.bytesOf(data))
        expect(records.n).toBe(n)
        for (let i = 0; i < records.n; i++) {
          if (i > 0) expect(records.ord(i)).toBeGreaterThan(records.ord(i - 1))
          if (live.has(records.ord(i))) actual.push(`${records.ord(i)} ${field} ${token} ${records.tf(i)} ${records.length(i)}`)
        }
      }
      expect(actual.sort()).toEqual(expected)
    }
  })

/**
 * The statistics tables of knowledge bases equal a recount of their rows (the migration's backfill
 * queries): the BM25 statistics of the rows below `indexed_ord` (the tail is not in them), the
 * vector counts of every row. `expectRows`: each table has rows for them.
 */
export const checkStatistics = (kbIds: ReadonlyArray<string>, expectRows = true) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const backfill = (table: string, rows: string) => {
      const statement = Statistics.statements.find((st) => st.startsWith(`INSERT INTO ${table} `))!
      const select = statement.slice(statement.indexOf("SELECT")).replace(/\bFROM chunk\b/, `FROM (${rows}) chunk`)
      return `SELECT * FROM (${select}) r WHERE kb_id = ANY($1)`
    }
    const indexedRows = `SELECT c.* FROM chunk c JOIN chunk_ords o ON o.kb_id = c.kb_id AND c.ord < o.indexed_ord`
    const compared = [
      ["chunk_kb_stats", "*", indexedRows],
      ["chunk_token_stats", "kb_id, token, df0, df1, df2, df3", indexedRows],
      ["chunk_vector_stats", "*", `SELECT * FROM chunk`]
    ] as const
    for (const [table, columns, rows] of compared) {
      const recount = `SELECT ${columns} FROM (${backfill(table, rows)}) r`
      const stored = `SELECT ${columns} FROM ${table} WHERE kb_id = ANY($1)`
      const difference = yield* sql.unsafe(`(${recount} EXCEPT ${stored}) UNION ALL (${stored} EXCEPT ${recount})`, [kbIds])
      expect(difference).toEqual([])
      if (expectRows) expect((yield* sql.unsafe(stored, [kbIds])).length).toBeGreaterThan(0)
    }
  })

const words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo"]

type Services = ChunkIndex.ChunkIndex | SqlClient.SqlClient
type It = Vitest.MethodsNonLive<Services>

/**
 * Text searches against the memory index's, and the postings and statistics against their rows:
 * run with the tail indexed after every write and with a tail kept.
 */
const textChecks = (it: It): void => {
      it.effect("BM25 scores equal the memory index's, with every field, weights and filters", () =>
        Effect.gen(function*() {
          const pg = yield* ChunkIndex.ChunkIndex
          const memory = yield* ChunkIndex.makeMemory
          const next = random(7)
          const pick = () => words[Math.floor(next() * words.length)]!
          const kbA = KnowledgeBaseId.make(randomHex32())
          const kbB = KnowledgeBaseId.make(randomHex32())
          const docs = [DocumentId.make(randomHex32()), DocumentId.make(randomHex32())]
          const chunks = Array.from({ length: 120 }, (_, i) =>
            makeTestChunk(i % 3 === 0 ? kbB : kbA, docs[i % 2]!, {
              content: Array.from({ length: 3 + (i % 9) }, pick).join(" "),
              title_tks: i % 4 === 0 ? `${pick()} ${pick()}` : "",
              important_keywords: i % 5 === 0 ? [pick().toUpperCase()] : [],
              questions: i % 7 === 0 ? [`What about ${pick()}?`] : [],
              available: i % 11 !== 0,
              metadata: { n: i % 4 }
            }))
          yield* pg.upsert(chunks)
          yield* memory.upsert(chunks)
          const searches: Array<ChunkIndex.TextSearch> = [
            { kbIds: [kbA], tokens: "alpha", limit: 200 },
            { kbIds: [kbA, kbB], tokens: "alpha echo kilo", limit: 200 },
            { kbIds: [kbA, kbB], tokens: [{ token: "delta", weight: 2.5 }, { token: "golf", weight: 0.3 }], limit: 7 },
            { kbIds: [kbB], tokens: "hotel india", limit: 200, filter: { docIds: [docs[0]!] } },
            { kbIds: [kbA], tokens: "juliet bravo", limit: 200, filter: { available: false } },
            { kbIds: [kbA, kbB], tokens: "charlie foxtrot", limit: 5, filter: { metadata: [{ key: "n", op: "gte", value: 2 }] } }
          ]
          for (const search of searches) {
            const expected = yield* memory.searchText(search)
            const actual = yield* pg.searchText(search)
            expect(actual.map((r) => r.chunk.id)).toEqual(expected.map((r) => r.chunk.id))
            expect(actual.map((r) => r.score)).toEqual(expected.map((r) => r.score))
            expect(expected.length).toBeGreaterThan(0)
          }
        }))

      it.effect("BM25 statistics stay exact through replaces, updates and deletes, and equal a recount of the rows", () =>
        Effect.gen(function*() {
          const pg = yield* ChunkIndex.ChunkIndex
          const sql = yield* SqlClient.SqlClient
          const memory = yield* ChunkIndex.makeMemory
          const next = random(11)
          const pick = () => words[Math.floor(next() * words.length)]!
          const kbA = KnowledgeBaseId.make(randomHex32())
          const kbB = KnowledgeBaseId.make(randomHex32())
          const docs = [DocumentId.make(randomHex32()), DocumentId.make(randomHex32()), DocumentId.make(randomHex32())]
          const make = (i: number) =>
            makeTestChunk(i % 2 === 0 ? kbA : kbB, docs[i % 3]!, {
              content: Array.from({ length: 2 + (i % 6) }, pick).join(" "),
              title_tks: i % 3 === 0 ? pick() : "",
              important_keywords: i % 4 === 0 ? [`${pick()} ${pick()}`] : [],
              questions: i % 5 === 0 ? [`Why ${pick()}?`] : [],
              vector: [next(), next(), next()]
            })
          const chunks = Array.from({ length: 90 }, (_, i) => make(i))
          const both = <A>(f: (index: ChunkIndex.ChunkIndexService) => Effect.Effect<A, ChunkIndexError>) =>
            Effect.all([f(pg), f(memory)])
          yield* both((index) => index.upsert(chunks))
          // replace some chunks (new tokens, fields emptied), one of them twice in one batch
          const replaced = chunks.slice(0, 30).map((c, i) =>
            new Chunk({ ...c, content: `${pick()} ${pick()}`, content_ltks: `${pick()} ${pick()}`, title_tks: "", important_keywords: i % 2 === 0 ? [pick()] : [] }))
          yield* both((index) => index.upsert([...replaced, new Chunk({ ...replaced[0]!, content_ltks: "alpha alpha" })]))
          yield* both((index) => index.update(kbA, chunks[40]!.id, { content_ltks: "kilo kilo kilo", questions: [] }))
          // A replace that keeps a token's document frequency but raises its count in the chunk.
          const zulu = makeTestChunk(kbA, docs[0]!, { content: "zulu" })
          yield* both((index) => index.upsert([zulu]))
          yield* both((index) => index.upsert([new Chunk({ ...zulu, content_ltks: "zulu zulu zulu zulu" })]))
          expect((yield* pg.searchText({ kbIds: [kbA], tokens: "zulu", limit: 5 })).map((r) => r.chunk.id)).toEqual([zulu.id])
          expect(yield* both((index) => index.deleteChunks(kbB, [chunks[41]!.id, chunks[43]!.id, chunks[40]!.id]))).toEqual([2, 2])
          const [removed] = yield* both((index) => index.deleteByDocument(kbA, docs[1]!))
          expect(removed).toBeGreaterThan(0)
          const searches: Array<ChunkIndex.TextSearch> = words.flatMap((w) => [
            { kbIds: [kbA], tokens: w, limit: 100 },
            { kbIds: [kbA, kbB], tokens: `${w} ${pick()}`, limit: 100 }
          ])
          for (const search of searches) {
            const expected = yield* memory.searchText(search)
            const actual = yield* pg.searchText(search)
            expect(actual.map((r) => [r.chunk.id, r.score])).toEqual(expected.map((r) => [r.chunk.id, r.score]))
          }
          yield* checkStatistics([kbA, kbB])
          yield* checkPostings([kbA, kbB])
          yield* both((index) => index.deleteKnowledgeBase(kbB))
          const left = yield* sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM chunk_token_stats WHERE kb_id = ${kbB}`
          expect(left[0]!.n).toBe(0)
          const postingsLeft = yield* sql<{ readonly n: number }>`
            SELECT (SELECT count(*) FROM chunk_postings WHERE kb_id = ${kbB})::int + (SELECT count(*) FROM chunk_segments WHERE kb_id = ${kbB})::int AS n`
          expect(postingsLeft[0]!.n).toBe(0)
          // the dimension is free again
          yield* pg.upsert([makeTestChunk(kbB, docs[0]!, { content: "other", vector: [1, 0] })])
        }))

      it.effect("postings: small writes merge into few segments, rows gone are dropped from them, ordinals are never reused", () =>
        Effect.gen(function*() {
          const pg = yield* ChunkIndex.ChunkIndex
          const sql = yield* SqlClient.SqlClient
          const memory = yield* ChunkIndex.makeMemory
          const next = random(23)
          const pick = () => words[Math.floor(next() * words.length)]!
          const kb = KnowledgeBaseId.make(randomHex32())
          const docs = Array.from({ length: 6 }, () => DocumentId.make(randomHex32()))
          const make = (i: number) =>
            makeTestChunk(kb, docs[i % docs.length]!, {
              content: Array.from({ length: 1 + (i % 5) }, pick).join(" "),
              title_tks: i % 3 === 0 ? pick() : "",
              questions: i % 4 === 0 ? [`Why ${pick()}?`] : []
            })
          const both = <A>(f: (index: ChunkIndex.ChunkIndexService) => Effect.Effect<A, ChunkIndexError>) =>
            Effect.all([f(pg), f(memory)])
          const segmentCount = Effect.map(
            sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM chunk_segments WHERE kb_id = ${kb}`,
            (rows) => rows[0]!.n
          )
          const same = Effect.gen(function*() {
            for (const w of words) {
              const search = { kbIds: [kb], tokens: `${w} ${pick()}`, limit: 1000 }
              const expected = yield* memory.searchText(search)
              expect((yield* pg.searchText(search)).map((r) => [r.chunk.id, r.score])).toEqual(
                expected.map((r) => [r.chunk.id, r.score])
              )
            }
          })
          // 120 writes of 5 rows: 120 segments written, kept to a few by merges.
          const chunks = Array.from({ length: 600 }, (_, i) => make(i))
          for (let i = 0; i < chunks.length; i += 5) yield* both((index) => index.upsert(chunks.slice(i, i + 5)))
          expect(yield* segmentCount).toBeLessThanOrEqual(3 * (Postings.mergeFactor - 1))
          yield* checkPostings([kb])
          yield* same
          // Replace two thirds of the rows and delete a document: old postings go dead, and
          // segments that are mostly dead are rewritten.
          const replaced = chunks.filter((_, i) => i % 3 !== 0).map((c) => new Chunk({ ...c, content_ltks: `${pick()} ${pick()} ${pick()}` }))
          for (let i = 0; i < replaced.length; i += 50) yield* both((index) => index.upsert(replaced.slice(i, i + 50)))
          yield* both((index) => index.deleteByDocument(kb, docs[0]!))
          yield* checkPostings([kb])
          yield* same
          const [{ end }] = yield* sql<{ readonly end: number }>`SELECT max(end_ord) AS end FROM chunk_segments WHERE kb_id = ${kb}`
          // Everything gone: no postings left, the ordinals given out stay given out.
          for (const doc of docs) yield* both((index) => index.deleteByDocument(kb, doc))
          const [{ n }] = yield* sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM chunk_postings WHERE kb_id = ${kb}`
          expect(n).toBe(0)
          const fresh = make(1)
          yield* both((index) => index.upsert([fresh]))
          const [{ ord }] = yield* sql<{ readonly ord: number }>`SELECT ord FROM chunk WHERE kb_id = ${kb} AND id = ${fresh.id}`
          expect(ord).toBeGreaterThanOrEqual(end)
          yield* checkPostings([kb])
          yield* same
        }))

}

/** Polls until a knowledge base's tail is indexed (at most `seconds`); returns its ordinals then. */
export const tailIndexed = (kbId: string, seconds = 20) =>
  Effect.gen(function*() {
    const deadline = Date.now() + seconds * 1000
    while (true) {
      const ords = yield* ordsOf(kbId)
      if (ords.indexed === ords.next || Date.now() > deadline) return ords
      yield* Effect.sleep(20)
    }
  })

/** The tail (with the layer's `tailRows: 50` and no idle indexing). */
const tailChecks = (it: It): void => {
  it.effect("rows not yet indexed are searched with the memory index's scores, and indexed at tailRows", () =>
    Effect.gen(function*() {
      const pg = yield* ChunkIndex.ChunkIndex
      const memory = yield* ChunkIndex.makeMemory
      const next = random(41)
      const pick = () => words[Math.floor(next() * words.length)]!
      const kb = KnowledgeBaseId.make(randomHex32())
      const docs = [DocumentId.make(randomHex32()), DocumentId.make(randomHex32()), DocumentId.make(randomHex32())]
      const make = (i: number) =>
        makeTestChunk(kb, docs[i % 3]!, {
          content: Array.from({ length: 2 + (i % 5) }, pick).join(" "),
          title_tks: i % 3 === 0 ? pick() : "",
          important_keywords: i % 4 === 0 ? [pick()] : [],
          questions: i % 5 === 0 ? [`Why ${pick()}?`] : [],
          available: i % 7 !== 0,
          vector: [next(), next(), next()]
        })
      const both = <A>(f: (index: ChunkIndex.ChunkIndexService) => Effect.Effect<A, ChunkIndexError>) =>
        Effect.all([f(pg), f(memory)])
      let step = "tail only"
      const same = Effect.gen(function*() {
        for (const w of words) {
          const searches: Array<ChunkIndex.TextSearch> = [
            { kbIds: [kb], tokens: `${w} ${pick()}`, limit: 100 },
            { kbIds: [kb], tokens: w, limit: 100, filter: { docIds: [docs[1]!] } },
            { kbIds: [kb], tokens: w, limit: 3, filter: { available: false } }
          ]
          for (const search of searches) {
            const expected = yield* memory.searchText(search)
            expect((yield* pg.searchText(search)).map((r) => [r.chunk.id, r.score]), `${step}: ${JSON.stringify(search)}`)
              .toEqual(expected.map((r) => [r.chunk.id, r.score]))
          }
        }
      })
      const chunks = Array.from({ length: 60 }, (_, i) => make(i))
      // 30 rows: all in the tail, nothing in the postings or the BM25 statistics.
      yield* both((index) => index.upsert(chunks.slice(0, 30)))
      expect(yield* ordsOf(kb)).toEqual({ next: 30, indexed: 0 })
      expect(yield* pg.searchText({ kbIds: [kb], tokens: words.join(" "), limit: 100 })).toHaveLength(
        (yield* memory.searchText({ kbIds: [kb], tokens: words.join(" "), limit: 100 })).length
      )
      yield* same
      yield* checkPostings([kb])
      yield* checkStatistics([kb], false)
      // 30 more: the tail passes 50 and is indexed.
      step = "indexed"
      yield* both((index) => index.upsert(chunks.slice(30)))
      expect(yield* ordsOf(kb)).toEqual({ next: 60, indexed: 60 })
      yield* same
      yield* checkPostings([kb])
      yield* checkStatistics([kb])
      // Replace indexed rows (they leave the statistics, their new versions join the tail), replace
      // and delete rows of the tail, update one: postings, statistics and tail together stay exact.
      step = "replaced"
      const replaced = chunks.slice(0, 10).map((c) => new Chunk({ ...c, content_ltks: `${pick()} ${pick()}` }))
      yield* both((index) => index.upsert(replaced))
      const again = chunks.slice(0, 4).map((c) => new Chunk({ ...c, title_tks: pick() }))
      yield* both((index) => index.upsert(again))
      expect(yield* both((index) => index.deleteChunks(kb, [chunks[1]!.id, chunks[20]!.id]))).toEqual([2, 2])
      const question = `When ${pick()}?`
      yield* both((index) => index.update(kb, chunks[2]!.id, { questions: [question] }))
      expect((yield* ordsOf(kb)).indexed).toBe(60)
      yield* checkPostings([kb])
      yield* checkStatistics([kb])
      yield* same
      step = "document deleted"
      yield* both((index) => index.deleteByDocument(kb, docs[0]!))
      yield* same
      yield* checkPostings([kb])
      yield* checkStatistics([kb])
      // More writes pass 50 rows of tail again: indexed, and the rows gone stay out.
      step = "indexed again"
      const more = Array.from({ length: 50 }, (_, i) => make(100 + i))
      yield* both((index) => index.upsert(more))
      const ords = yield* ordsOf(kb)
      expect(ords.indexed).toBe(ords.next)
      yield* same
      yield* checkPostings([kb])
      yield* checkStatistics([kb])
    }))
}

export const chunkIndexChecks = (
  name: string,
  indexLayer: (options: PgChunkIndex.Options) => Layer.Layer<Services, unknown>
): void => {
  describe(`pgvector chunk index with a text-search tail (${name})`, () => {
    // A tail indexed at 50 rows and never when idle: searches read the postings and a tail together.
    layer(indexLayer({ tailRows: 50, tailIdleMillis: 3_600_000 }), { timeout: 180_000 })((it) => {
      textChecks(it)
      tailChecks(it)
    })
  })
  describe(`pgvector chunk index (${name})`, () => {
    // Every write's rows indexed right after it commits.
    layer(indexLayer({ tailRows: 0 }), { timeout: 180_000 })((it) => {
      textChecks(it)
      it.effect("ANALYZE keeps statistics of the columns queries filter on, and skips the text, token and vector columns", () =>
        Effect.gen(function*() {
          const index = yield* ChunkIndex.ChunkIndex
          const sql = yield* SqlClient.SqlClient
          const kb = KnowledgeBaseId.make(randomHex32())
          const doc = DocumentId.make(randomHex32())
          yield* index.upsert(Array.from({ length: 40 }, (_, i) =>
            makeTestChunk(kb, doc, { content: `${words[i % words.length]} row ${i}`, vector: [i, 1, 2, 3] })))
          yield* sql`ANALYZE chunk`
          const columns = (yield* sql<{ readonly attname: string }>`
            SELECT attname FROM pg_stats WHERE schemaname = current_schema() AND tablename = 'chunk'`).map((r) => r.attname)
          expect(columns).toContain("kb_id")
          expect(columns).toContain("doc_id")
          expect(columns).toContain("dims")
          for (const column of PlannerStatistics.unplannedColumns) expect(columns).not.toContain(column)
        }))

      it.effect("upserts made at once share commits; one whose vectors disagree with the knowledge base fails alone", () =>
        Effect.gen(function*() {
          const index = yield* ChunkIndex.ChunkIndex
          const sql = yield* SqlClient.SqlClient
          const next = random(11)
          const kb = KnowledgeBaseId.make(randomHex32())
          const doc = DocumentId.make(randomHex32())
          const chunk = (i: number, dims: number) =>
            makeTestChunk(kb, doc, {
              content: `${words[i % words.length]} ${words[(i * 7) % words.length]} row ${i}`,
              vector: Array.from({ length: dims }, () => Math.fround(next() - 0.5))
            })
          yield* index.upsert([chunk(0, 8)])
          /** Segment ids given out so far: each commit writes a segment per knowledge base (merges take more). */
          const segmentIds = Effect.map(
            sql<{ readonly n: number }>`SELECT last_value::float8 AS n FROM chunk_segment_id_seq`,
            (rows) => rows[0]!.n
          )
          const before = yield* segmentIds
          // 30 upserts of 4 rows at once, and a 31st (the 16th to start) with 16-dimensional vectors.
          const upserts = Array.from({ length: 31 }, (_, u) =>
            Array.from({ length: 4 }, (_, i) => chunk(1 + u * 4 + i, u === 15 ? 16 : 8)))
          const exits = yield* Effect.forEach(upserts, (chunks) => Effect.exit(index.upsert(chunks)), { concurrency: "unbounded" })
          exits.forEach((exit, u) => {
            if (u !== 15) return expect(exit._tag).toBe("Success")
            expect(exit._tag).toBe("Failure")
            expect(String(exit)).toContain("Mismatch")
          })
          expect(yield* index.countByDocument(kb, doc)).toBe(1 + 30 * 4)
          const missing = upserts[15]!.map((c) => c.id)
          expect((yield* Effect.forEach(missing, (id) => index.get(kb, id))).every((o) => o._tag === "None")).toBe(true)
          // One commit per upsert would take 31 segment ids (and more for merges); grouped, a few.
          expect((yield* segmentIds) - before).toBeLessThanOrEqual(8)
          yield* checkPostings([kb])
          yield* checkStatistics([kb])
          const query = upserts[3]![2]!
          expect((yield* index.searchVector({ kbIds: [kb], vector: query.vector!, limit: 1 }))[0]!.chunk.id).toBe(query.id)
        }))

      it.effect("upserts larger together than one commit takes are committed in several, each whole", () =>
        Effect.gen(function*() {
          const index = yield* ChunkIndex.ChunkIndex
          const kb = KnowledgeBaseId.make(randomHex32())
          const doc = DocumentId.make(randomHex32())
          // Three upserts of 1,100 rows at once: no two fit in one commit (2,000 rows).
          const upserts = Array.from({ length: 3 }, (_, u) =>
            Array.from({ length: 1_100 }, (_, i) =>
              makeTestChunk(kb, doc, { content: `${words[(u + i) % words.length]} row ${u}-${i}`, vector: [u, i, 1, 2] })))
          yield* Effect.forEach(upserts, (chunks) => index.upsert(chunks), { concurrency: "unbounded", discard: true })
          expect(yield* index.countByDocument(kb, doc)).toBe(3_300)
          yield* checkPostings([kb])
          yield* checkStatistics([kb])
        }))

      it.effect("the HNSW index of a dimension is built by the write that passes the exact threshold, rebuilt by large writes", () =>
        Effect.gen(function*() {
          const index = yield* ChunkIndex.ChunkIndex
          const sql = yield* SqlClient.SqlClient
          const next = random(5)
          const dims = 24
          const kb = KnowledgeBaseId.make(randomHex32())
          const doc = DocumentId.make(randomHex32())
          const batch = () => Array.from({ length: 600 }, (_, i) =>
            makeTestChunk(kb, doc, { content: `row ${i}`, vector: Array.from({ length: dims }, () => Math.fround(next() - 0.5)) }))
          const hasIndex = Effect.map(
            sql<{ readonly indexname: string }>`SELECT indexname FROM pg_indexes WHERE indexname = ${Rows.hnswIndexName(dims)}`,
            (rows) => rows.length === 1
          )
          const first = batch()
          yield* index.upsert(first)
          expect(yield* hasIndex).toBe(false)
          const query = first[7]!.vector!
          expect((yield* index.searchVector({ kbIds: [kb], vector: query, limit: 1 }))[0]!.chunk.id).toBe(first[7]!.id)
          yield* index.upsert(batch())
          expect(yield* hasIndex).toBe(true)
          expect((yield* index.searchVector({ kbIds: [kb], vector: query, limit: 1 }))[0]!.chunk.id).toBe(first[7]!.id)
          // A write of a quarter of the vectors or more builds the index again, a smaller one inserts.
          const indexOid = Effect.map(
            sql<{ readonly oid: number }>`SELECT oid::int AS oid FROM pg_class WHERE relname = ${Rows.hnswIndexName(dims)}`,
            (rows) => rows[0]?.oid
          )
          const built = yield* indexOid
          yield* index.upsert(batch().slice(0, 50))
          expect(yield* indexOid).toBe(built)
          yield* index.upsert(batch())
          const rebuilt = yield* indexOid
          expect(rebuilt).toBeDefined()
          expect(rebuilt).not.toBe(built)
          expect((yield* index.searchVector({ kbIds: [kb], vector: query, limit: 1 }))[0]!.chunk.id).toBe(first[7]!.id)
        }))

      it.effect("a vector search on a few thousand rows uses the HNSW index, with recall@10 >= 0.95", () =>
        Effect.gen(function*() {
          const index = yield* ChunkIndex.ChunkIndex
          const sql = yield* SqlClient.SqlClient
          const next = random(42)
          const dims = 64
          const vector = () => Array.from({ length: dims }, () => Math.fround(next() * 2 - 1))
          const kb = KnowledgeBaseId.make(randomHex32())
          const doc = DocumentId.make(randomHex32())
          const chunks = Array.from({ length: 3000 }, (_, i) => makeTestChunk(kb, doc, { content: `row ${i}`, vector: vector() }))
          yield* index.upsert(chunks)
          yield* sql`ANALYZE chunk`

          const query = vector()
          const plan = yield* sql.withTransaction(Effect.gen(function*() {
            yield* sql.unsafe(`SET LOCAL hnsw.iterative_scan = strict_order`)
            return yield* sql.unsafe<{ readonly "QUERY PLAN": string }>(
              `EXPLAIN ${Rows.vectorQuery({ dims, approximate: true, withDocIds: false })}`,
              [[kb], Rows.formatVector(query), true, 18]
            )
          }))
          const text = plan.map((row) => row["QUERY PLAN"]).join("\n")
          expect(text).toContain(`Index Scan using ${Rows.hnswIndexName(dims)}`)

          let hits = 0
          const queries = 20
          for (let q = 0; q < queries; q++) {
            const v = vector()
            const exact = chunks
              .map((c) => ({ id: c.id, score: ChunkIndex.cosineSimilarity(v, c.vector!) }))
              .sort((a, b) => b.score - a.score)
              .slice(0, 10)
              .map((r) => r.id)
            const found = new Set((yield* index.searchVector({ kbIds: [kb], vector: v, limit: 10 })).map((r) => r.chunk.id))
            hits += exact.filter((id) => found.has(id)).length
          }
          expect(hits / (queries * 10)).toBeGreaterThanOrEqual(0.95)
        }))
    })
  })
}
