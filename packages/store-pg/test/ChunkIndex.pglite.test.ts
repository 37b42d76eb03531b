/**
 * The pgvector chunk index on PGlite: the conformance suite and the checks it does not cover
 * (`chunkIndexChecks.ts`), a database without pgvector fails at layer build, data survives a reopen,
 * and a database written by the first schema migrates to the statistics and term keys.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { ChunkIndex, DocumentId, KnowledgeBaseId, randomHex32 } from "@ragkit/core"
import type { Chunk } from "@ragkit/core"
import { ChunkIndexSuite, makeTestChunk } from "@ragkit/core/testing"
import { Context, Effect, Exit, Layer, Logger, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Migrator from "@effect/sql/Migrator"
import * as Rows from "../src/internal/chunkIndexRows.js"
import * as StorePg from "../src/index.js"
import * as StorePglite from "../src/Embedded.js"
import firstSchema from "../src/migrations/0003_chunk_index.js"
import { checkPostings, checkStatistics, chunkIndexChecks, ordsOf, tailIndexed } from "./chunkIndexChecks.js"

const Embedded = StorePglite.layerEmbeddedWithChunkIndex()

ChunkIndexSuite("pgvector (PGlite)", Embedded)
chunkIndexChecks("PGlite", (chunkIndex) => StorePglite.layerEmbeddedWithChunkIndex({ chunkIndex }))

describe("pgvector chunk index setup", () => {
  it.effect("fails at layer build with a clear error on a database without pgvector", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Layer.build(StorePg.layerChunkIndex.pipe(Layer.provide(StorePglite.PgliteClient.layer()))))
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
        expect(error?._tag).toBe("ChunkIndexError")
        expect(error?._tag === "ChunkIndexError" && error.reason).toBe("Unsupported")
        expect(error?.message).toMatch(/^pgvector is not installed in this database: CREATE EXTENSION vector failed: /)
      }
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.effect("keeps chunks, vectors and the HNSW index across a reopen of the data directory", () =>
    Effect.gen(function*() {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "ragkit-chunk-index-"))
      const kb = KnowledgeBaseId.make(randomHex32())
      const doc = DocumentId.make(randomHex32())
      const chunk = makeTestChunk(kb, doc, { content: "persistent lighthouse", vector: [0.5, 0.25, 1] })
      // Threshold 0: the first vector builds the HNSW index.
      const open = () => StorePglite.layerEmbeddedWithChunkIndex({ dataDir, chunkIndex: { exactSearchThreshold: 0 } })
      yield* Effect.gen(function*() {
        const index = yield* ChunkIndex.ChunkIndex
        yield* index.upsert([chunk])
      }).pipe(Effect.provide(open()))
      yield* Effect.gen(function*() {
        const index = yield* ChunkIndex.ChunkIndex
        const sql = yield* SqlClient.SqlClient
        expect({ ...Option.getOrThrow(yield* index.get(kb, chunk.id)) }).toEqual({ ...chunk })
        const text = yield* index.searchText({ kbIds: [kb], tokens: "lighthouse", limit: 5 })
        expect(text.map((r) => r.chunk.id)).toEqual([chunk.id])
        const near = yield* index.searchVector({ kbIds: [kb], vector: [0.5, 0.25, 1], limit: 5 })
        expect(near[0]!.score).toBeCloseTo(1, 6)
        const indexes = yield* sql<{ readonly indexname: string }>`
          SELECT indexname FROM pg_indexes WHERE indexname = ${Rows.hnswIndexName(3)}`
        expect(indexes).toHaveLength(1)
        const failing = yield* Effect.flip(index.upsert([makeTestChunk(kb, doc, { content: "x", vector: [1, 0] })]))
        expect(failing.reason).toBe("Mismatch")
      }).pipe(Effect.provide(open()))
      fs.rmSync(dataDir, { recursive: true, force: true })
    }), { timeout: 120_000 })

  it.live("a tail is indexed once writes stop, and when the layer closes", () =>
    Effect.gen(function*() {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "ragkit-chunk-tail-"))
      const kb = KnowledgeBaseId.make(randomHex32())
      const doc = DocumentId.make(randomHex32())
      const chunks = Array.from({ length: 40 }, (_, i) => makeTestChunk(kb, doc, { content: `tail row ${i % 7} ${i}`, vector: [i, 1, 2] }))
      const open = (tailIdleMillis: number) => StorePglite.layerEmbeddedWithChunkIndex({ dataDir, chunkIndex: { tailIdleMillis } })
      // A process that never idles long enough indexes its tail when it stops.
      yield* Effect.gen(function*() {
        yield* (yield* ChunkIndex.ChunkIndex).upsert(chunks.slice(0, 30))
        expect(yield* ordsOf(kb)).toEqual({ next: 30, indexed: 0 })
      }).pipe(Effect.provide(open(3_600_000)))
      yield* Effect.gen(function*() {
        const index = yield* ChunkIndex.ChunkIndex
        expect(yield* ordsOf(kb)).toEqual({ next: 30, indexed: 30 })
        yield* checkPostings([kb])
        yield* checkStatistics([kb])
        // One that idles indexes its writes once they stop.
        yield* index.upsert(chunks.slice(30))
        expect(yield* tailIndexed(kb)).toEqual({ next: 40, indexed: 40 })
        yield* checkPostings([kb])
        yield* checkStatistics([kb])
        const found = yield* index.searchText({ kbIds: [kb], tokens: "tail", limit: 100 })
        expect(found).toHaveLength(40)
      }).pipe(Effect.provide(open(50)))
      fs.rmSync(dataDir, { recursive: true, force: true })
    }), { timeout: 120_000 })

  it.live("a tail whose indexing fails is tried again after a back-off, not in a loop, and indexed once it can be", () =>
    Effect.gen(function*() {
      const kb = KnowledgeBaseId.make(randomHex32())
      const doc = DocumentId.make(randomHex32())
      const warnings: Array<string> = []
      const capture = Logger.make(({ logLevel, message }) => {
        if (logLevel._tag === "Warning") warnings.push(String(Array.isArray(message) ? message[0] : message))
      })
      yield* Effect.gen(function*() {
        const index = yield* ChunkIndex.ChunkIndex
        const sql = yield* SqlClient.SqlClient
        // Indexing needs the token statistics: without the table every attempt fails. Writes do not.
        yield* sql`ALTER TABLE chunk_token_stats RENAME TO chunk_token_stats_away`
        yield* index.upsert(Array.from({ length: 5 }, (_, i) => makeTestChunk(kb, doc, { content: `retried row ${i}`, vector: [i, 1, 2] })))
        yield* Effect.sleep("1500 millis")
        // At once when idle (tailIdleMillis 0), then 1 s later: two attempts, not one per loop turn.
        expect(warnings.length).toBeGreaterThanOrEqual(1)
        expect(warnings.length).toBeLessThanOrEqual(2)
        expect(warnings[0]).toMatch(/text-search tail of knowledge base \w+ failed \(1 in a row\); retried in 1000 ms/)
        expect(yield* ordsOf(kb)).toEqual({ next: 5, indexed: 0 })
        // A commit during the back-off does not try it inline (tailRows 1 would).
        yield* index.upsert([makeTestChunk(kb, doc, { content: "retried row 5", vector: [5, 1, 2] })])
        expect(warnings.length).toBeLessThanOrEqual(2)
        yield* sql`ALTER TABLE chunk_token_stats_away RENAME TO chunk_token_stats`
        expect(yield* tailIndexed(kb)).toEqual({ next: 6, indexed: 6 })
        yield* checkPostings([kb])
        yield* checkStatistics([kb])
        expect(yield* index.searchText({ kbIds: [kb], tokens: "retried", limit: 10 })).toHaveLength(6)
      }).pipe(
        Effect.provide(StorePglite.layerEmbeddedWithChunkIndex({ chunkIndex: { tailRows: 1, tailIdleMillis: 0 } })),
        Effect.provide(Logger.add(capture))
      )
    }), { timeout: 120_000 })

  it.effect("a database written by the first schema migrates: searches and statistics as if freshly written", () =>
    Effect.gen(function*() {
      const client = yield* Layer.build(StorePglite.PgliteClient.layer({ pgvector: true }))
      const sql = Context.get(client, SqlClient.SqlClient)
      const kb = KnowledgeBaseId.make(randomHex32())
      const doc = DocumentId.make(randomHex32())
      const words = ["amber", "basil", "cedar", "dune", "ember"]
      const chunks = Array.from({ length: 40 }, (_, i) =>
        makeTestChunk(kb, doc, {
          content: Array.from({ length: 2 + (i % 5) }, (_, j) => words[(i * j + i) % 5]).join(" "),
          title_tks: i % 3 === 0 ? words[i % 5]! : "",
          important_keywords: i % 4 === 0 ? [`${words[(i + 1) % 5]} ${words[(i + 1) % 5]}`] : [],
          vector: [i, 1, 0.5]
        }))
      // The first schema, and rows as its writer stored them (token lists, no statistics).
      yield* sql`CREATE EXTENSION vector`
      yield* sql`CREATE TABLE ${sql(StorePg.PgChunkIndex.migrationsTable)} (
        migration_id integer PRIMARY KEY, created_at timestamp with time zone NOT NULL DEFAULT now(), name text NOT NULL)`
      yield* Migrator.make({})({
        loader: Migrator.fromRecord({ "0001_chunk_index": firstSchema }),
        table: StorePg.PgChunkIndex.migrationsTable
      }).pipe(Effect.provide(client))
      const oldRow = (c: Chunk) => {
        const tokens = ChunkIndex.searchFieldTokens(c)
        const fields = [tokens.content_ltks, tokens.title_tks, tokens.important_keywords, tokens.questions]
        return [
          c.kb_id, c.id, c.doc_id, c.tenant_id, c.docnm_kwd, c.content, c.content_ltks, c.content_sm_ltks, c.title_tks,
          JSON.stringify(c.important_keywords), JSON.stringify(c.questions), c.available, c.token_num, "[]", "[]", c.index,
          JSON.stringify(c.metadata), c.create_time, Rows.formatVector(c.vector!), c.vector!.length,
          ...fields, ...fields.map((f) => f.length), [...new Set(fields.flat())]
        ]
      }
      for (const c of chunks) {
        yield* sql.unsafe(
          `INSERT INTO chunk (kb_id, id, doc_id, tenant_id, docnm_kwd, content, content_ltks, content_sm_ltks, title_tks,
            important_keywords, questions, available, token_num, page_num, positions, "index", metadata, create_time,
            embedding, dims, content_tokens, title_tokens, keyword_tokens, question_tokens,
            content_len, title_len, keyword_len, question_len, search_tokens)
          VALUES (${Array.from({ length: 29 }, (_, i) => `$${i + 1}`).join(", ")})`,
          oldRow(c)
        )
      }
      const migrated = Context.get(
        // Every write indexed at once: the statistics compared below are complete.
        yield* Layer.build(StorePg.PgChunkIndex.layer({ tailRows: 0 }).pipe(Layer.provide(Layer.succeedContext(client)))),
        ChunkIndex.ChunkIndex
      )
      // PGlite has no autovacuum: the layer analysed the table that never was.
      const [analysed] = yield* sql<{ readonly n: number }>`SELECT reltuples::int AS n FROM pg_class WHERE relname = 'chunk'`
      expect(analysed!.n).toBe(40)
      const memory = yield* ChunkIndex.makeMemory
      yield* memory.upsert(chunks)
      for (const tokens of ["amber", "basil cedar", "dune ember amber"]) {
        const search = { kbIds: [kb], tokens, limit: 50 }
        const expected = yield* memory.searchText(search)
        expect(expected.length).toBeGreaterThan(0)
        expect((yield* migrated.searchText(search)).map((r) => [r.chunk.id, r.score])).toEqual(expected.map((r) => [r.chunk.id, r.score]))
      }
      // The same chunks written anew (into another knowledge base) give the same statistics.
      const kb2 = KnowledgeBaseId.make(randomHex32())
      yield* migrated.upsert(chunks.map((c) => makeTestChunk(kb2, doc, { ...c, kb_id: kb2 })))
      for (const table of ["chunk_kb_stats", "chunk_token_stats", "chunk_vector_stats"]) {
        const rows = (id: string) =>
          Effect.map(sql.unsafe<Record<string, unknown>>(`SELECT * FROM ${table} WHERE kb_id = $1`, [id]), (rs) =>
            rs.map(({ kb_id: _, ...rest }) => rest).sort((a, b) => JSON.stringify(a) < JSON.stringify(b) ? -1 : 1))
        const old = yield* rows(kb)
        expect(old.length).toBeGreaterThan(0)
        expect(old).toEqual(yield* rows(kb2))
      }
      const keys = yield* sql<{ readonly id: string; readonly term_keys: ReadonlyArray<string> }>`
        SELECT id, term_keys FROM chunk WHERE kb_id = ${kb} AND id = ${chunks[4]!.id}`
      // content "ember dune cedar basil amber ember", important keywords ["amber amber"]
      expect([...keys[0]!.term_keys].sort()).toEqual(["0:1 amber", "0:1 basil", "0:1 cedar", "0:1 dune", "0:2 ember", "2:2 amber"])
    }).pipe(Effect.scoped), { timeout: 120_000 })
})
