/**
 * A `ChunkIndex` on Postgres with pgvector: one `chunk` table for all knowledge bases and its
 * statistics tables (see `migrations/0003_chunk_index.ts` and `0004_chunk_index_statistics.ts`), on
 * a server or on PGlite (which bundles pgvector: open it with `PgliteClient.layer({ pgvector: true })`,
 * as `layerEmbeddedWithChunkIndex` of `@ragkit/store-pg/pglite` does).
 *
 * - Building the layer runs `CREATE EXTENSION IF NOT EXISTS vector` and the chunk index's
 *   migrations; a database without pgvector fails then with `ChunkIndexError` reason `Unsupported`
 *   ("pgvector is not installed in this database: CREATE EXTENSION vector failed: ..."; when the
 *   server has it but the user may not create it: "pgvector is not created in this database and this
 *   user may not create it: ...").
 * - Writes: an upsert is one `INSERT ... SELECT FROM unnest(...)` per 1,000 rows (one array
 *   parameter per column), the vector counts and the knowledge base's ordinals, in one transaction
 *   under the knowledge bases' advisory write locks (so the dimension check, the rows and the
 *   counts agree, as the memory index's synchronous check does). Deletes take the same lock and
 *   subtract what they remove (`DELETE ... RETURNING`). Upserts made while a commit of this process
 *   runs wait and share the next one (group commit, per knowledge base): one transaction per
 *   knowledge base and vector dimension instead of one per call.
 * - The text-search tail (`migrations/0011_chunk_text_tail.ts`): the rows an upsert writes join
 *   their knowledge base's tail and go into the postings and the BM25 statistics later, in pages of
 *   `tailPage` rows, each page a segment (`indexTail`): at once after the commit that brings the tail
 *   to `tailRows`, else once this process has not written to the knowledge base for
 *   `tailIdleMillis` (a fiber per knowledge base in the layer's scope), when the layer is closed, and
 *   when a layer is built over tails a stopped process left. A failed attempt is logged and tried
 *   again after a back-off (1 s, doubling up to a minute; meanwhile commits do not try it inline).
 *   During a bulk load that is a few large segments instead of one per commit (fewer postings and
 *   statistics rows, few merges) and no text index work in the commits. A text search counts and scores the tail from its rows' term keys
 *   (`internal/chunkIndexTail.ts`): the same results as if it were indexed.
 * - Vectors: an untyped `vector` column and its dimension in `dims`; one partial HNSW expression
 *   index per dimension (`(embedding::vector(d)) vector_cosine_ops WHERE dims = d`, `halfvec` for
 *   2000 < d <= 4000, none above). It is built (`CREATE INDEX`, with `maintenance_work_mem` =
 *   `indexBuildMemory`) by the write that takes the vectors of that dimension above
 *   `exactSearchThreshold`, once its rows are committed, in a transaction of its own under an
 *   advisory lock (inside the write's transaction, two writes passing the threshold at once would
 *   deadlock: each `CREATE INDEX` waits for the other's row locks): a bulk load into an empty
 *   dimension builds the graph once, which is several times faster than inserting into it row by
 *   row. A write large enough (`indexRebuildRatio`) drops it and builds it again within the write's
 *   transaction. A search over at most `exactSearchThreshold` vectors (of the searched knowledge
 *   bases, counted in `chunk_vector_stats`) is exact (ordered by the plain distance, which no index serves); above it
 *   the query orders by the indexed expression, so the planner uses HNSW, with `hnsw.ef_search` =
 *   `efSearch` (by default growing with the vectors searched, `defaultEfSearch`; raised to twice the
 *   fetch size) and `hnsw.iterative_scan = strict_order`, so filtered
 *   scans still fill the page. Scores are cosine similarities recomputed in float64 from the stored
 *   float32 vectors with core's `ChunkIndexScoring.vectorScores`, and the page re-sorted by them.
 * - Filters: knowledge bases, availability and document ids in SQL; metadata conditions with core's
 *   `matchesFilter` over an over-fetched candidate set, fetching more until the page is full or the
 *   rows run out.
 * - Text search: BM25 with the memory index's statistics and core's arithmetic (`ChunkIndexScoring`:
 *   the same terms and sums as every index) over postings of our own
 *   (`migrations/0005_chunk_postings.ts`, `internal/chunkIndexPostings.ts`): the statistics come from
 *   the side tables (`internal/chunkIndexBm25.ts`), the postings of the query's tokens (packed rows of
 *   ordinal, term frequency and field length, a few rows per token) are read in one query, those
 *   of the tail from its rows, and every candidate is scored here, to the bit. The best are fetched by
 *   ordinal, in rounds until the page is full: an ordinal whose row was replaced or deleted finds
 *   nothing, unavailable rows and metadata conditions are filtered then; a document filter is
 *   applied before scoring (the documents' ordinals are read first). A search is one read-only
 *   REPEATABLE READ transaction, so the statistics, postings, tail and rows it reads agree.
 *   Indexing a tail adds segments; small segments are merged (in SQL, by concatenation) and
 *   segments whose rows are mostly gone are rewritten (by the write or delete that leaves them so),
 *   so a knowledge base keeps a few segments per size class.
 *   pg_textsearch is not used: its BM25 indexes one column with a Postgres text-search configuration
 *   (its own tokenizer), with no field weights, no query token weights and statistics of its own
 *   segments, so it cannot give the memory index's scores.
 * - Planner statistics: after this process's writes have grown the table by a tenth, it runs
 *   `ANALYZE chunk`, and the layer analyses a table that never was (PGlite has no autovacuum, and
 *   without statistics the planner sorts the knowledge base instead of using the HNSW index).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Chunk, ChunkIndex, ChunkIndexError, ChunkIndexScoring } from "@ragkit/core"
import type { ChunkId, DocumentId, KnowledgeBaseId } from "@ragkit/core"
import { Deferred, Effect, Layer, Option, type Scope } from "effect"
import * as Bm25 from "./internal/chunkIndexBm25.js"
import * as Postings from "./internal/chunkIndexPostings.js"
import { toChunkIndexError } from "./internal/chunkIndexErrors.js"
import * as Rows from "./internal/chunkIndexRows.js"
import * as Schema from "./internal/chunkIndexSchema.js"
import * as Stats from "./internal/chunkIndexStats.js"
import * as Tail from "./internal/chunkIndexTail.js"

export interface Options {
  /**
   * Vector searches over at most this many vectors are exact (no HNSW); default 1000. The HNSW
   * index of a dimension is built by the write that takes the vectors of that dimension (over all
   * knowledge bases) above this number, once its rows are committed.
   */
  readonly exactSearchThreshold?: number | undefined
  /**
   * `hnsw.ef_search` of approximate searches (at least twice the fetch size, at most 1000). Default:
   * it grows with the number of vectors searched, `defaultEfSearch(n)`: 126 at 100,000, 400 at
   * 1,000,000 (recall@10 0.93 there on the search benchmark, against 0.80 with a fixed 100).
   */
  readonly efSearch?: number | undefined
  /** `maintenance_work_mem` while an HNSW index is built (a graph that does not fit is built far slower); default "512MB". */
  readonly indexBuildMemory?: string | undefined
  /**
   * An upsert that writes at least this fraction of a dimension's vectors (e.g. 0.25: 25,000 vectors
   * into 100,000) drops the dimension's HNSW index and builds it again after writing, since
   * inserting into the graph row by row costs several times more per vector than building it (about
   * 8x on PGlite). The drop locks the table until the write commits: other connections' searches of
   * the chunk index wait meanwhile. Default 0.25; `Infinity` never rebuilds.
   */
  readonly indexRebuildRatio?: number | undefined
  /**
   * The text-search tail: rows an upsert writes go into the postings and the BM25 statistics later,
   * in batches, not in the upsert's transaction (a text search scores the tail from its rows
   * meanwhile, with the same results, reading every tail row's term keys: ~60 ms more per search for
   * 1,000 rows of 200 tokens). A knowledge base's tail is indexed as soon as it holds this many rows;
   * default 1,000. 0 indexes every upsert's rows right after it commits.
   */
  readonly tailRows?: number | undefined
  /**
   * ... and once no upsert of this process has written to the knowledge base for this many
   * milliseconds; default 1,000.
   */
  readonly tailIdleMillis?: number | undefined
}

/** How long after `failures` failed attempts in a row a tail is indexed again: 1 s, doubling, at most a minute. */
export const retryDelay = (failures: number): number => Math.min(60_000, 1_000 * 2 ** Math.max(0, failures - 1))

/**
 * The default `hnsw.ef_search` for a search over `vectors` vectors: `400 * sqrt(vectors / 1e6)`
 * between 100 and 1000. HNSW's recall at a fixed `ef_search` falls as the graph grows, and a larger
 * `ef_search` buys it back for a little latency: the search benchmark's figures at 1M are in
 * bench/README.md (Search latency, `efSearch` at 1M).
 */
export const defaultEfSearch = (vectors: number): number =>
  Math.min(1000, Math.max(100, Math.round(400 * Math.sqrt(vectors / 1_000_000))))

/** First key of the per-knowledge-base write locks (the second is `hashtext(kb_id)`). */
const writeLockClass = 72_384_115

/** The ordinals of a knowledge base's rows are int4s, given out once each. */
const maxOrd = 2_147_483_647

/**
 * The most chunks one group commit takes (more if one upsert alone is larger): a commit holds the
 * term counts of every row it writes until their segment is written, so this bounds its memory.
 */
const groupCommitChunks = 2_000

/** The most rows of a tail read at once: each page becomes a segment. */
const tailPage = 1_000

/** Posting lists per page when a segment is rewritten. */
const rewritePage = 2000

/** Lock serialising the creation of HNSW indexes. */
const indexLockKey = 7_238_411_590_004

const mismatch = (message: string) => new ChunkIndexError({ reason: "Mismatch", message })

/** An upsert of one knowledge base's chunks waiting for a commit. */
interface QueuedUpsert {
  readonly chunks: ReadonlyArray<Chunk>
  /** The dimension of its vectors (undefined without vectors). */
  readonly dimension: number | undefined
  readonly done: Deferred.Deferred<void, ChunkIndexError>
}

const pairKey = (kbId: string, id: string) => `${kbId}\u0000${id}`

/** Builds the index on the context's `SqlClient`; the tables must exist (see `layer`). */
export const make = (
  options: Options = {}
): Effect.Effect<ChunkIndex.ChunkIndexService, ChunkIndexError, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const scope = yield* Effect.scope
    const exactSearchThreshold = options.exactSearchThreshold ?? 1000
    const indexBuildMemory = options.indexBuildMemory ?? "512MB"
    const indexRebuildRatio = options.indexRebuildRatio ?? 0.25
    const tailRows = options.tailRows ?? 1_000
    const tailIdleMillis = options.tailIdleMillis ?? 1_000
    if (!/^\d+\s*(kB|MB|GB)$/.test(indexBuildMemory)) {
      return yield* new ChunkIndexError({ reason: "Unknown", message: `indexBuildMemory: not a size: ${indexBuildMemory}` })
    }

    const run = <A extends object>(what: string, text: string, params: ReadonlyArray<unknown> = []) =>
      sql.unsafe<A>(text, params as Array<unknown>).pipe(Effect.mapError(toChunkIndexError(what)))

    const transaction = <A, E>(effect: Effect.Effect<A, E>) =>
      sql.withTransaction(effect).pipe(
        Effect.mapError((error) =>
          error instanceof ChunkIndexError ? error : toChunkIndexError("transaction")(error as SqlError)
        )
      ) as Effect.Effect<A, ChunkIndexError | Exclude<E, SqlError>>

    /** Dimensions with an HNSW index, as far as this process knows. */
    const indexed = new Set<number>()
    const readIndexes = Effect.map(
      run<{ readonly indexname: string }>(
        "chunk index setup",
        `SELECT indexname FROM pg_indexes WHERE tablename = 'chunk' AND indexname LIKE 'chunk\\_embedding\\_hnsw\\_%'`
      ),
      (rows) => {
        for (const { indexname } of rows) {
          const dims = Number(indexname.slice("chunk_embedding_hnsw_".length))
          if (Number.isInteger(dims)) indexed.add(dims)
        }
      }
    )
    yield* readIndexes

    /**
     * Planner statistics: a server's autovacuum keeps them, PGlite has none, and without them the
     * planner neither uses the HNSW index nor the GIN index well. The table is analysed after writes
     * of this process have added a tenth of the rows it had when last analysed (at least 500).
     */
    const [reltuples] = yield* run<{ readonly n: number }>(
      "chunk index setup",
      `SELECT reltuples::float8 AS n FROM pg_class WHERE oid = 'chunk'::regclass`
    )
    // Never analysed (-1), e.g. written by an earlier version on PGlite: analysed now, when built.
    if ((reltuples?.n ?? 0) < 0) yield* run("chunk index setup", `ANALYZE chunk`)
    let analysedRows = Math.max(reltuples?.n ?? 0, 0)
    let writtenRows = 0
    const analyseAfter = (rows: number) =>
      Effect.suspend(() => {
        writtenRows += rows
        if (writtenRows < Math.max(500, analysedRows / 10)) return Effect.void
        analysedRows += writtenRows
        writtenRows = 0
        // Only an optimisation (and concurrent ANALYZEs of one table may fail): never fails a write.
        return run("analyze", `ANALYZE chunk`).pipe(
          Effect.catchAll((error) => Effect.logDebug(`PgChunkIndex: ANALYZE chunk failed: ${error.message}`))
        )
      })

    const dimension = (kbId: KnowledgeBaseId) =>
      Effect.map(
        run<{ readonly dims: number }>(
          "dimension",
          `SELECT dims FROM chunk_vector_stats WHERE kb_id = $1 AND n > 0 LIMIT 1`,
          [kbId]
        ),
        (rows) => Option.fromNullable(rows[0]?.dims)
      )

    const lock = (kbIds: ReadonlyArray<string>) =>
      Effect.forEach([...new Set(kbIds)].sort(), (kbId) =>
        run("lock", `SELECT pg_advisory_xact_lock(${writeLockClass}, hashtext($1))`, [kbId]), { discard: true })

    const applyDeltas = (deltas: Stats.Deltas) =>
      Effect.forEach(Stats.statements(deltas), ({ params, text }) => run("statistics", text, params), { discard: true })

    /**
     * Builds the HNSW index of a dimension once its vectors (all knowledge bases) pass the exact
     * threshold, in a transaction of its own after the write that passed it committed. Never inside
     * that write's transaction: its `CREATE INDEX` waits for the other writers' row locks on `chunk`,
     * and two writes passing the threshold at once would each wait for the other (a deadlock). A
     * rebuild (`dropForRebuild`) runs it inside the write's transaction, which holds the table
     * exclusively by then. Returns whether the index exists.
     */
    const buildIndex = (dims: number) =>
      transaction(Effect.gen(function*() {
        const statement = Rows.hnswIndexStatement(dims)
        if (statement === undefined) return false
        yield* run("create HNSW index", `SELECT pg_advisory_xact_lock(${indexLockKey})`)
        const [row] = yield* run<{ readonly n: number; readonly exists: boolean }>(
          "create HNSW index",
          `SELECT coalesce(sum(n), 0)::float8 AS n, to_regclass($2) IS NOT NULL AS exists FROM chunk_vector_stats WHERE dims = $1`,
          [dims, Rows.hnswIndexName(dims)]
        )
        // Another process built it meanwhile.
        if (row?.exists === true) return true
        if ((row?.n ?? 0) <= exactSearchThreshold) return false
        yield* run("create HNSW index", `SET LOCAL maintenance_work_mem = '${indexBuildMemory}'`)
        yield* run("create HNSW index", statement)
        return true
      }))

    const vectorCount = (dims: number) =>
      Effect.map(
        run<{ readonly n: number }>(
          "upsert",
          `SELECT coalesce(sum(n), 0)::float8 AS n FROM chunk_vector_stats WHERE dims = $1`,
          [dims]
        ),
        (rows) => rows[0]?.n ?? 0
      )

    /** Drops the HNSW index of a dimension when a write is large enough to rather build it again. */
    const dropForRebuild = (dims: number, writing: number) =>
      Effect.gen(function*() {
        if (!indexed.has(dims) || !(writing >= indexRebuildRatio * (yield* vectorCount(dims)))) return false
        yield* run("rebuild HNSW index", `SELECT pg_advisory_xact_lock(${indexLockKey})`)
        yield* run("rebuild HNSW index", `DROP INDEX IF EXISTS ${Rows.hnswIndexName(dims)}`)
        return true
      })

    /** Records a new segment of a knowledge base; returns it with its id. */
    const insertSegment = (kbId: string, segment: Omit<Postings.Segment, "id">) =>
      Effect.map(
        run<{ readonly id: number }>(
          "segments",
          `INSERT INTO chunk_segments (kb_id, first_ord, end_ord, size, live) VALUES ($1, $2, $3, $4, $5) ` +
            `RETURNING id::float8 AS id`,
          [kbId, segment.first_ord, segment.end_ord, segment.size, segment.live]
        ),
        (rows): Postings.Segment => ({ id: rows[0]!.id, ...segment })
      )

    /** Writes a new segment of a knowledge base: the ordinals `[first, end)`, `size` rows, their posting lists. */
    const writeSegment = (kbId: string, first: number, end: number, size: number, postings: ReadonlyArray<Postings.PostingList>) =>
      Effect.gen(function*() {
        const segment = yield* insertSegment(kbId, { first_ord: first, end_ord: end, size, live: size })
        for (const lists of Postings.batches(postings)) {
          yield* run("upsert", Postings.insertStatement, Postings.insertParams(kbId, segment.id, lists))
        }
      })

    /** Rows of a knowledge base left `chunk` (deleted or replaced): their segments count them out. */
    const segmentsLost = (kbId: string, ords: ReadonlyArray<number>) =>
      run(
        "segments",
        `UPDATE chunk_segments s SET live = s.live - d.n FROM (
          SELECT g.id, count(*)::int AS n FROM unnest($2::int[]) AS o(ord)
          JOIN chunk_segments g ON g.kb_id = $1 AND o.ord >= g.first_ord AND o.ord < g.end_ord GROUP BY g.id
        ) d WHERE s.kb_id = $1 AND s.id = d.id`,
        [kbId, ords]
      )

    /** The live ordinals of a segment, as a mask over its range. */
    const liveMask = (kbId: string, segment: Postings.Segment) =>
      Effect.map(
        run<{ readonly ord: number }>(
          "segments",
          `SELECT ord FROM chunk WHERE kb_id = $1 AND ord >= $2 AND ord < $3`,
          [kbId, segment.first_ord, segment.end_ord]
        ),
        (rows) => {
          const mask = new Uint8Array(segment.end_ord - segment.first_ord)
          for (const { ord } of rows) mask[ord - segment.first_ord] = 1
          return { mask, live: rows.length }
        }
      )

    /**
     * Rewrites a segment's postings without the rows gone from `chunk`, a page of lists at a time;
     * its live count is recounted. Returns the segment as it is now.
     */
    const rewrite = (kbId: string, segment: Postings.Segment) =>
      Effect.gen(function*() {
        const { live, mask } = yield* liveMask(kbId, segment)
        if (live === 0) {
          yield* run("segments", `DELETE FROM chunk_postings WHERE kb_id = $1 AND segment = $2`, [kbId, segment.id])
        } else {
          const keep = (ord: number) => mask[ord - segment.first_ord] === 1
          let after: readonly [string, number] = ["", -1]
          while (true) {
            const page = yield* run<{ readonly token: string; readonly field: number; readonly data: unknown }>(
              "segments",
              `SELECT token, field, data FROM chunk_postings WHERE kb_id = $1 AND segment = $2 AND (token, field) > ($3, $4) ` +
                `ORDER BY token, field LIMIT ${rewritePage}`,
              [kbId, segment.id, after[0], after[1]]
            )
            if (page.length === 0) break
            after = [page[page.length - 1]!.token, page[page.length - 1]!.field]
            const kept: Array<Postings.PostingList> = []
            for (const { data, field, token } of page) {
              const { hex, n } = new Postings.Records(Postings.bytesOf(data)).filter(keep)
              if (n > 0) kept.push({ field, token, n, hex })
            }
            yield* run(
              "segments",
              `DELETE FROM chunk_postings WHERE kb_id = $1 AND segment = $2 ` +
                `AND (token, field) IN (SELECT * FROM unnest($3::text[], $4::smallint[]))`,
              [kbId, segment.id, page.map((p) => p.token), page.map((p) => p.field)]
            )
            for (const lists of Postings.batches(kept)) {
              yield* run("segments", Postings.insertStatement, Postings.insertParams(kbId, segment.id, lists))
            }
            if (page.length < rewritePage) break
          }
        }
        yield* run("segments", `UPDATE chunk_segments SET size = $3, live = $3 WHERE kb_id = $1 AND id = $2`, [
          kbId,
          segment.id,
          live
        ])
        return { ...segment, size: live, live }
      })

    /** Merges consecutive segments into one: their postings concatenated, in ordinal order. */
    const merge = (kbId: string, group: ReadonlyArray<Postings.Segment>) =>
      Effect.gen(function*() {
        const ids = group.map((g) => g.id)
        const merged = {
          first_ord: group[0]!.first_ord,
          end_ord: group[group.length - 1]!.end_ord,
          size: group.reduce((n, g) => n + g.size, 0),
          live: group.reduce((n, g) => n + g.live, 0)
        }
        yield* run("segments", `DELETE FROM chunk_segments WHERE kb_id = $1 AND id = ANY($2::bigint[])`, [kbId, ids])
        const segment = yield* insertSegment(kbId, merged)
        yield* run(
          "segments",
          `INSERT INTO chunk_postings (kb_id, token, field, segment, n, data) ` +
            `SELECT kb_id, token, field, $3, sum(n)::int, string_agg(data, ''::bytea ORDER BY array_position($2::bigint[], segment)) ` +
            `FROM chunk_postings WHERE kb_id = $1 AND segment = ANY($2::bigint[]) GROUP BY kb_id, token, field`,
          [kbId, ids, segment.id]
        )
        yield* run("segments", `DELETE FROM chunk_postings WHERE kb_id = $1 AND segment = ANY($2::bigint[])`, [kbId, ids])
        return segment
      })

    /**
     * Keeps a knowledge base's segments in shape after a write (under its write lock, in the write's
     * transaction): segments whose rows are mostly gone are rewritten without them, then small
     * segments are merged (`Postings.nextMerge`).
     */
    const maintain = (kbId: string) =>
      Effect.gen(function*() {
        const segments = [
          ...(yield* run<Postings.Segment>(
            "segments",
            `SELECT id::float8 AS id, first_ord, end_ord, size, live FROM chunk_segments WHERE kb_id = $1 ORDER BY first_ord`,
            [kbId]
          ))
        ]
        for (let i = 0; i < segments.length; i++) {
          if (Postings.needsRewrite(segments[i]!)) segments[i] = yield* rewrite(kbId, segments[i]!)
        }
        for (let next = Postings.nextMerge(segments); next !== undefined; next = Postings.nextMerge(segments)) {
          const [from, to] = next
          segments.splice(from, to - from, yield* merge(kbId, segments.slice(from, to)))
        }
      })

    /** The ordinals of knowledge bases: given out so far, and the end of the indexed ones (see `chunk_ords`). */
    const ordsOf = (kbIds: ReadonlyArray<string>) =>
      Effect.map(
        run<{ readonly kb_id: string; readonly next_ord: number; readonly indexed_ord: number }>(
          "ordinals",
          `SELECT kb_id, next_ord, indexed_ord FROM chunk_ords WHERE kb_id = ANY($1::text[])`,
          [kbIds]
        ),
        (rows) => {
          const ords = new Map<string, { readonly next: number; readonly indexed: number }>(
            kbIds.map((kb) => [kb, { next: 0, indexed: 0 }])
          )
          for (const row of rows) ords.set(row.kb_id, { next: row.next_ord, indexed: row.indexed_ord })
          return ords
        }
      )

    /**
     * Rows that left `chunk` (deleted or replaced): those below their knowledge base's `indexed_ord`
     * leave the BM25 statistics and their segments (which are kept in shape); the tail's were never
     * counted. Every one leaves the vector counts. The statistics' changes go to `deltas`.
     */
    const rowsGone = (
      rows: ReadonlyArray<Stats.RemovedRow>,
      indexedOrd: ReadonlyMap<string, { readonly indexed: number }>,
      deltas: Stats.Deltas
    ) =>
      Effect.gen(function*() {
        const lost = new Map<string, Array<number>>()
        for (const row of rows) {
          deltas.addVector(row.kb_id, row.dims, -1)
          if (row.ord >= (indexedOrd.get(row.kb_id)?.indexed ?? 0)) continue
          deltas.addText(row.kb_id, Stats.removedFields(row), -1)
          let ords = lost.get(row.kb_id)
          if (ords === undefined) lost.set(row.kb_id, ords = [])
          ords.push(row.ord)
        }
        for (const [kbId, ords] of lost) {
          yield* segmentsLost(kbId, ords)
          yield* maintain(kbId)
        }
      })

    /**
     * Writes whole chunks (the last of a duplicated id wins), re-checking dimensions under the
     * knowledge bases' write locks, and updates the vector counts; the rows join their knowledge
     * base's text-search tail (`indexTail` puts them in the postings and BM25 statistics). Runs
     * inside a transaction; returns the dimensions it wrote vectors of, those whose HNSW index it
     * dropped and those it rebuilt (see `buildIndexes`), and the tails' sizes.
     */
    const write = (chunks: ReadonlyArray<Chunk>) =>
      Effect.gen(function*() {
        const unique = [...new Map(chunks.map((c) => [pairKey(c.kb_id, c.id), c] as const)).values()]
        const kbIds = [...new Set(unique.map((c) => c.kb_id))].sort()
        yield* lock(kbIds)
        /** Vectors written per dimension. */
        const written = new Map<number, number>()
        for (const kbId of kbIds) {
          const lengths = new Set(unique.flatMap((c) => c.kb_id === kbId && c.vector !== undefined ? [c.vector.length] : []))
          if (lengths.size === 0) continue
          if (lengths.size > 1) return yield* mismatch(`upsert: vectors of several dimensions for knowledge base ${kbId}`)
          const [length] = lengths
          const current = yield* dimension(kbId)
          if (Option.isSome(current) && current.value !== length) {
            return yield* mismatch(`upsert: vector of dimension ${length}, knowledge base ${kbId} has ${current.value}`)
          }
          written.set(length!, (written.get(length!) ?? 0) + unique.filter((c) => c.kb_id === kbId).length)
        }
        const dropped = new Set<number>()
        for (const [dims, writing] of written) {
          if (yield* dropForRebuild(dims, writing)) dropped.add(dims)
        }
        const ords = yield* ordsOf(kbIds)
        const deltas = new Stats.Deltas()
        const old: Array<Stats.RemovedRow> = []
        for (let i = 0; i < unique.length; i += Rows.upsertBatch) {
          const batch = unique.slice(i, i + Rows.upsertBatch)
          // The rows this batch replaces leave the statistics; their vectors' dimension is the
          // knowledge base's, checked above.
          old.push(...yield* run<Stats.RemovedRow>(
            "upsert",
            `SELECT ${Stats.removedColumns} FROM chunk WHERE (kb_id, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
            [batch.map((c) => c.kb_id), batch.map((c) => c.id)]
          ))
          // Rows get their knowledge base's next ordinals.
          const cells: Array<ReadonlyArray<Rows.Param>> = []
          for (const chunk of batch) {
            deltas.addVector(chunk.kb_id, chunk.vector?.length ?? null, 1)
            const kbOrds = ords.get(chunk.kb_id)!
            if (kbOrds.next >= maxOrd) {
              return yield* new ChunkIndexError({
                reason: "Unknown",
                message: `upsert: knowledge base ${chunk.kb_id} has used up its ${maxOrd} row ordinals; copy it into a new one`
              })
            }
            cells.push(Rows.encode(chunk, Rows.fieldsOf(chunk), kbOrds.next))
            ords.set(chunk.kb_id, { ...kbOrds, next: kbOrds.next + 1 })
          }
          yield* run("upsert", Rows.upsertStatement, Rows.upsertParams(cells))
        }
        yield* run(
          "ordinals",
          `INSERT INTO chunk_ords (kb_id, next_ord, indexed_ord) SELECT * FROM unnest($1::text[], $2::int[], $3::int[]) ` +
            `ON CONFLICT (kb_id) DO UPDATE SET next_ord = EXCLUDED.next_ord`,
          [kbIds, kbIds.map((kb) => ords.get(kb)!.next), kbIds.map((kb) => ords.get(kb)!.indexed)]
        )
        yield* rowsGone(old, ords, deltas)
        yield* applyDeltas(deltas)
        const rebuilt = new Set<number>()
        for (const dims of dropped) {
          if (yield* buildIndex(dims)) rebuilt.add(dims)
        }
        const tails = new Map(kbIds.map((kb) => [kb, ords.get(kb)!.next - ords.get(kb)!.indexed] as const))
        return { written: new Set(written.keys()), dropped, rebuilt, tails }
      })

    /**
     * Puts a knowledge base's tail (its rows at or above `indexed_ord`) into the postings and the BM25
     * statistics: segments of at most `tailPage` rows, read from `chunk` in ordinal order, then
     * the segments kept in shape. Runs inside a transaction; returns the rows indexed.
     */
    const indexTail = (kbId: string) =>
      Effect.gen(function*() {
        yield* lock([kbId])
        const { indexed, next } = (yield* ordsOf([kbId])).get(kbId)!
        if (indexed === next) return 0
        let first = indexed
        let count = 0
        while (first < next) {
          const rows = yield* run<Postings.KeyedRow>(
            "index tail",
            `SELECT ord, term_keys, content_len, title_len, keyword_len, question_len FROM chunk ` +
              `WHERE kb_id = $1 AND ord >= $2 ORDER BY ord LIMIT ${tailPage}`,
            [kbId, first]
          )
          const end = rows.length < tailPage ? next : rows[rows.length - 1]!.ord + 1
          const { frequencies, kb, lists } = Postings.build(rows)
          // A range whose rows are all gone still gets its (empty) segment: segments cover every
          // ordinal given out.
          yield* writeSegment(kbId, first, end, rows.length, lists)
          const deltas = new Stats.Deltas()
          deltas.addCounts(kbId, kb, frequencies)
          yield* applyDeltas(deltas)
          count += rows.length
          first = end
        }
        yield* run("index tail", `UPDATE chunk_ords SET indexed_ord = next_ord WHERE kb_id = $1`, [kbId])
        yield* maintain(kbId)
        return count
      })

    /**
     * After a write committed: remembers the indexes it dropped and rebuilt, and builds those of
     * the dimensions it wrote that have none.
     */
    const buildIndexes = (
      { dropped, rebuilt, written }: { readonly written: Set<number>; readonly dropped: Set<number>; readonly rebuilt: Set<number> }
    ) =>
      Effect.forEach(written, (dims) =>
        Effect.gen(function*() {
          if (dropped.has(dims)) indexed.delete(dims)
          if (rebuilt.has(dims)) indexed.add(dims)
          if (!indexed.has(dims) && (yield* buildIndex(dims))) indexed.add(dims)
        }), { discard: true })

    /** Deletes rows and takes them out of the statistics, under the knowledge base's write lock. */
    const remove = (what: string, kbId: KnowledgeBaseId, where: string, params: ReadonlyArray<unknown>) =>
      transaction(Effect.gen(function*() {
        yield* lock([kbId])
        const rows = yield* run<Stats.RemovedRow>(
          what,
          `DELETE FROM chunk WHERE kb_id = $1 AND ${where} RETURNING ${Stats.removedColumns}`,
          [kbId, ...params]
        )
        if (rows.length > 0) {
          const deltas = new Stats.Deltas()
          yield* rowsGone(rows, yield* ordsOf([kbId]), deltas)
          yield* applyDeltas(deltas)
        }
        return rows.length
      }))

    const getRows = (what: string, where: string, params: ReadonlyArray<unknown>) =>
      Effect.map(run<Rows.ChunkRow>(what, `SELECT ${Rows.chunkColumns} FROM chunk WHERE ${where}`, params), (rows) =>
        rows.map(Rows.decode))

    const count = (what: string, text: string, params: ReadonlyArray<unknown>) =>
      Effect.map(run<{ readonly n: number }>(what, text, params), (rows) => rows[0]?.n ?? 0)

    const hasMetadata = (filter: ChunkIndex.ResolvedFilter) => (filter.metadata ?? []).length > 0

    /**
     * BM25 over the postings: the terms' postings are read (a few rows per term), every candidate is
     * scored here in the memory index's order, and the best are fetched by ordinal in rounds until
     * the page is full: a fetched ordinal whose row is gone (replaced or deleted), unavailable or
     * filtered out by metadata makes room for the next best.
     */
    const searchText = (search: ChunkIndex.ResolvedTextSearch) =>
      transaction(Effect.gen(function*() {
        // One snapshot for the statistics, the postings and the rows: a write committing meanwhile
        // is either wholly seen or not at all.
        yield* run("text search", `SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`)
        const kbIds = [...new Set(search.kbIds)]
        const tokens = [...new Set(search.tokens.map((t) => t.token))]
        const [indexedStats] = yield* run<Bm25.StatsRow>("text search", Bm25.statsQuery, [kbIds, tokens])
        // The rows not yet indexed (the tails), counted and scored from their term keys.
        const inTails = indexedStats!.tails === true
          ? yield* run<Tail.Row>("text search", Tail.rowsQuery, [kbIds, tokens])
          : []
        const tail = Tail.add(indexedStats!, inTails)
        const terms = Bm25.queryTerms(tail.stats, search.tokens)
        if (terms.length === 0) return []
        const docIds = search.filter.docIds
        const [indexedPostings, allowed] = yield* Effect.all([
          run<{ readonly kb_id: string; readonly token: string; readonly field: number; readonly data: unknown }>(
            "text search",
            `SELECT kb_id, token, field, data FROM chunk_postings WHERE kb_id = ANY($1::text[]) AND token = ANY($2::text[])`,
            [kbIds, [...new Set(terms.map((t) => t.token))]]
          ),
          docIds === undefined ? Effect.succeed(undefined) : allowedOrds(kbIds, docIds, search.filter.available)
        ])
        const candidates = Postings.score(terms, [...indexedPostings, ...tail.postings], allowed)
        const metadata = hasMetadata(search.filter)
        const results: Array<ChunkIndex.ScoredChunk> = []
        let above = Infinity
        for (let wanted = metadata ? Math.max(search.limit * 2, 50) : search.limit; ; wanted *= 4) {
          const remaining = candidates.scores.filter((x) => x < above)
          if (remaining.length === 0) break
          const least = Postings.kthLargest(remaining, wanted)
          const picked: Array<number> = []
          for (let i = 0; i < candidates.scores.length; i++) {
            const x = candidates.scores[i]!
            if (x >= least && x < above) picked.push(i)
          }
          const rows = yield* run<Rows.ChunkRow & { readonly ord: number }>(
            "text search",
            `SELECT ${Rows.chunkColumns}, ord FROM chunk JOIN unnest($1::text[], $2::int[]) AS k(kb_id, ord) ` +
              `USING (kb_id, ord) WHERE available = $3`,
            [picked.map((i) => candidates.kbIds[i]!), picked.map((i) => candidates.ords[i]!), search.filter.available]
          )
          for (const row of rows) {
            const chunk = Rows.decode(row)
            if (!ChunkIndexScoring.matchesFilter(chunk, search.filter)) continue
            results.push({ chunk, score: candidates.scoreOf(row.kb_id, row.ord) })
          }
          above = least
          if (results.length >= search.limit) break
        }
        return ChunkIndexScoring.best(results, search.limit)
      }))

    /** The ordinals of the documents' rows with this availability, as a mask per knowledge base. */
    const allowedOrds = (kbIds: ReadonlyArray<string>, docIds: ReadonlyArray<string>, available: boolean) =>
      Effect.map(
        run<{ readonly kb_id: string; readonly ord: number }>(
          "text search",
          `SELECT kb_id, ord FROM chunk WHERE kb_id = ANY($1::text[]) AND doc_id = ANY($2::text[]) AND available = $3`,
          [kbIds, docIds, available]
        ),
        (rows) => {
          const largest = new Map<string, number>()
          for (const { kb_id, ord } of rows) largest.set(kb_id, Math.max(largest.get(kb_id) ?? 0, ord))
          const masks = new Map([...largest].map(([kb, n]) => [kb, new Uint8Array(n + 1)] as const))
          for (const { kb_id, ord } of rows) masks.get(kb_id)![ord] = 1
          return masks as ReadonlyMap<string, Uint8Array>
        }
      )

    const searchVector = (search: ChunkIndex.ResolvedVectorSearch) =>
      Effect.gen(function*() {
        const kbIds = [...new Set(search.kbIds)]
        const dims = search.vector.length
        const size = yield* count(
          "vector search",
          `SELECT coalesce(sum(n), 0)::float8 AS n FROM chunk_vector_stats WHERE kb_id = ANY($1::text[]) AND dims = ${dims}`,
          [kbIds]
        )
        if (size === 0) return []
        const indexable = size > exactSearchThreshold && Rows.hnswKind(dims) !== undefined
        // Another process may have built the index.
        if (indexable && !indexed.has(dims)) yield* readIndexes
        const approximate = indexable && indexed.has(dims)
        const docIds = search.filter.docIds
        const text = Rows.vectorQuery({ dims, approximate, withDocIds: docIds !== undefined })
        const query = Rows.formatVector(search.vector)
        // A margin over the limit: the database orders by float32 distances, the page by float64.
        let fetch = hasMetadata(search.filter) ? search.limit * 4 + 16 : search.limit + 8
        while (true) {
          const params = [kbIds, query, search.filter.available, fetch, ...(docIds === undefined ? [] : [docIds])]
          const rows = approximate
            ? yield* transaction(Effect.gen(function*() {
              yield* run(
                "vector search",
                `SELECT set_config('hnsw.ef_search', $1, true), set_config('hnsw.iterative_scan', 'strict_order', true)`,
                [String(Math.min(1000, Math.max(options.efSearch ?? defaultEfSearch(size), 2 * fetch)))]
              )
              return yield* run<Rows.ChunkRow>("vector search", text, params)
            }))
            : yield* run<Rows.ChunkRow>("vector search", text, params)
          const results = ChunkIndexScoring.vectorScores(
            rows.map(Rows.decode).filter((chunk) => ChunkIndexScoring.matchesFilter(chunk, search.filter)),
            search
          )
          if (results.length >= search.limit || rows.length < fetch || fetch >= size) {
            return ChunkIndexScoring.best(results, search.limit)
          }
          fetch *= 4
        }
      })

    /** Knowledge bases whose last tail indexing failed: how many times in a row, and when to try again. */
    const failures = new Map<string, { count: number; retryAt: number }>()
    const backingOff = (kbId: string) => (failures.get(kbId)?.retryAt ?? 0) > Date.now()

    /**
     * Indexes a knowledge base's tail in a transaction of its own. A failure is logged, never raised
     * (the rows are written, and searches see the tail): the knowledge base is watched again, and
     * its watcher retries after a back-off (`retryDelay`).
     */
    const indexTailNow = (kbId: string): Effect.Effect<void> =>
      transaction(indexTail(kbId)).pipe(
        Effect.zipRight(Effect.sync(() => void failures.delete(kbId))),
        Effect.catchAllCause((cause) =>
          Effect.suspend(() => {
            const count = (failures.get(kbId)?.count ?? 0) + 1
            const delay = retryDelay(count)
            failures.set(kbId, { count, retryAt: Date.now() + delay })
            return Effect.zipRight(
              Effect.logWarning(
                `PgChunkIndex: indexing the text-search tail of knowledge base ${kbId} failed (${count} in a row); retried in ${delay} ms`,
                cause
              ),
              watchTail(kbId)
            )
          })
        )
      )

    /** Per knowledge base whose tail this process watches: when this process last wrote to it, and how often. */
    const watched = new Map<string, { lastWrite: number; writes: number }>()

    /**
     * Indexes a knowledge base's tail once no write of this process has touched it for
     * `tailIdleMillis` (a fiber in the layer's scope, one per knowledge base), under the knowledge
     * base's commit permit: during a bulk load the tail grows to `tailRows` and is indexed in one go.
     */
    const watchTail = (kbId: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        const current = watched.get(kbId)
        if (current !== undefined) {
          current.lastWrite = Date.now()
          current.writes++
          return Effect.void
        }
        const watch = { lastWrite: Date.now(), writes: 0 }
        watched.set(kbId, watch)
        const wait: Effect.Effect<void> = Effect.suspend(() => {
          const left = Math.max(watch.lastWrite + tailIdleMillis, failures.get(kbId)?.retryAt ?? 0) - Date.now()
          if (left > 0) return Effect.zipRight(Effect.sleep(left), wait)
          const seen = watch.writes
          return Effect.zipRight(
            withCommitPermit(kbId, indexTailNow(kbId)),
            // Written meanwhile (or failed, which counts as a write): wait for idle again.
            Effect.suspend(() => watch.writes !== seen ? wait : Effect.sync(() => void watched.delete(kbId)))
          )
        })
        // Interruptible even when forked by a commit (which is not): the layer's scope ends it.
        return Effect.asVoid(Effect.forkIn(Effect.interruptible(wait), scope))
      })

    /** After a write committed: a tail of `tailRows` or more is indexed now, a smaller one when idle. */
    const afterWrite = (tails: ReadonlyMap<string, number>) =>
      Effect.forEach(tails, ([kbId, tail]) =>
        tail === 0 ? Effect.void : tail >= tailRows && !backingOff(kbId) ? indexTailNow(kbId) : watchTail(kbId), {
          discard: true
        })

    /**
     * One commit: the rows and vector counts in a transaction, then the HNSW indexes it makes due,
     * then the text-search tail (now or later).
     */
    const commit = (chunks: ReadonlyArray<Chunk>) =>
      Effect.gen(function*() {
        const result = yield* transaction(write(chunks))
        yield* buildIndexes(result)
        yield* analyseAfter(chunks.length)
        yield* afterWrite(result.tails)
      })

    /** Per knowledge base, the upserts waiting for its next commit, in arrival order. */
    const queued = new Map<string, Array<QueuedUpsert>>()
    /** Per knowledge base with upserts queued or committing, this process's commit permit. */
    const permits = new Map<string, { readonly semaphore: Effect.Semaphore; users: number }>()
    const withCommitPermit = <A, E>(kbId: string, effect: Effect.Effect<A, E>) =>
      Effect.acquireUseRelease(
        Effect.sync(() => {
          let permit = permits.get(kbId)
          if (permit === undefined) permits.set(kbId, permit = { semaphore: Effect.unsafeMakeSemaphore(1), users: 0 })
          permit.users++
          return permit
        }),
        (permit) => permit.semaphore.withPermits(1)(effect),
        (permit) => Effect.sync(() => void (--permit.users === 0 && permits.delete(kbId)))
      )

    /**
     * Commits every upsert of a knowledge base queued by now, cut in arrival order into runs whose
     * vectors agree on a dimension: a run is one transaction, and a failed one fails the upserts in
     * it, and only those.
     */
    const commitQueued = (kbId: string) =>
      Effect.suspend(() => {
        const queue = queued.get(kbId) ?? []
        // At most `groupCommitChunks` chunks (at least one upsert).
        let taken = 0
        let chunks = 0
        while (taken < queue.length && (taken === 0 || chunks + queue[taken]!.chunks.length <= groupCommitChunks)) {
          chunks += queue[taken++]!.chunks.length
        }
        const runs = ChunkIndex.dimensionRuns(queue.splice(0, taken))
        if (queue.length === 0) queued.delete(kbId)
        return Effect.forEach(runs, (entries) =>
          Effect.flatMap(
            Effect.exit(commit(entries.flatMap((entry) => entry.chunks))),
            (exit) => Effect.forEach(entries, (entry) => Deferred.done(entry.done, exit), { discard: true })
          ), { discard: true })
      })

    /**
     * Group commit, per knowledge base: queues the chunks, then takes the knowledge base's commit
     * permit in this process; whoever holds it commits the upserts queued by then, from the head, in
     * commits of at most `groupCommitChunks` chunks, until its own is committed (by it or by an
     * earlier holder). Upserts arriving during a commit share the next one: fewer, larger writes,
     * which cost less per row in postings, statistics and segment merges than many small ones.
     * Other knowledge bases' writes do not wait for it.
     */
    const upsertQueued = (kbId: string, chunks: ReadonlyArray<Chunk>) =>
      Effect.gen(function*() {
        const done = yield* Deferred.make<void, ChunkIndexError>()
        const entry: QueuedUpsert = { chunks, dimension: ChunkIndex.dimensionOf(chunks), done }
        let queue = queued.get(kbId)
        if (queue === undefined) queued.set(kbId, queue = [])
        queue.push(entry)
        // Holding the permit, commits from the head of the queue until its own upsert is committed
        // (by this holder or an earlier one).
        const ownQueued = () => queued.get(kbId)?.includes(entry) ?? false
        const commitOwn = Effect.whileLoop({ while: ownQueued, body: () => commitQueued(kbId), step: () => {} })
        yield* withCommitPermit(kbId, Effect.uninterruptible(commitOwn)).pipe(
          // Interrupted while waiting for the permit: withdraw the chunks unless a commit took them.
          Effect.onInterrupt(() =>
            Effect.sync(() => {
              const waiting = queued.get(kbId)
              const at = waiting?.indexOf(entry) ?? -1
              if (at >= 0) waiting!.splice(at, 1)
              if (waiting?.length === 0) queued.delete(kbId)
            })
          )
        )
        yield* Deferred.await(done)
      })

    const upsert = (chunks: ReadonlyArray<Chunk>) =>
      Effect.forEach(ChunkIndex.byKnowledgeBase(chunks), ([kbId, list]) => upsertQueued(kbId, list), {
        concurrency: "unbounded",
        discard: true
      })

    // Stopping: the tails this process still watches are indexed first (its watchers were forked
    // later, so they are interrupted before this runs), so the next process finds them done.
    yield* Effect.addFinalizer(() =>
      Effect.forEach([...watched.keys()], (kbId) => indexTailNow(kbId), { discard: true })
    )
    // Tails left by processes that stopped before indexing them: indexed once this one is idle.
    const tails = yield* run<{ readonly kb_id: string }>(
      "chunk index setup",
      `SELECT kb_id FROM chunk_ords WHERE next_ord > indexed_ord`
    )
    yield* Effect.forEach(tails, ({ kb_id }) => watchTail(kb_id), { discard: true })

    return ChunkIndex.make({
      dimension,
      upsert,
      get: (kbId, chunkId) =>
        Effect.map(getRows("get", `kb_id = $1 AND id = $2`, [kbId, chunkId]), (chunks) => Option.fromNullable(chunks[0])),
      deleteByDocument: (kbId, docId) => remove("deleteByDocument", kbId, `doc_id = $2`, [docId]),
      deleteChunks: (kbId, chunkIds) => remove("deleteChunks", kbId, `id = ANY($2::text[])`, [[...chunkIds]]),
      deleteKnowledgeBase: (kbId) =>
        transaction(Effect.gen(function*() {
          yield* lock([kbId])
          yield* run("deleteKnowledgeBase", `DELETE FROM chunk WHERE kb_id = $1`, [kbId])
          for (const { params, text } of Stats.deleteKnowledgeBaseStatements(kbId)) {
            yield* run("deleteKnowledgeBase", text, params)
          }
        })),
      update: (kbId: KnowledgeBaseId, chunkId: ChunkId, patch: ChunkIndex.ChunkPatch) =>
        transaction(Effect.gen(function*() {
          // The knowledge base's write lock first (as upserts take it), then the read.
          yield* lock([kbId])
          const [old] = yield* getRows("update", `kb_id = $1 AND id = $2`, [kbId, chunkId])
          if (old === undefined) return false
          const changes = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined))
          return yield* write([new Chunk({ ...old, ...changes })])
        })).pipe(Effect.flatMap((changed) =>
          changed === false
            ? Effect.succeed(false)
            : Effect.as(Effect.zipRight(buildIndexes(changed), afterWrite(changed.tails)), true)
        )),
      list: (query) =>
        Effect.gen(function*() {
          const needle = query.keywords?.trim().toLowerCase() ?? ""
          const conditions = [`kb_id = $1`, `doc_id = $2`]
          const params: Array<unknown> = [query.kbId, query.docId]
          if (query.available !== undefined) {
            params.push(query.available)
            conditions.push(`available = $${params.length}`)
          }
          if (needle !== "") {
            params.push(needle)
            conditions.push(`strpos(lower(content), $${params.length}) > 0`)
          }
          const where = conditions.join(" AND ")
          const [total, chunks] = yield* Effect.all([
            count("list", `SELECT count(*)::int AS n FROM chunk WHERE ${where}`, params),
            getRows(
              "list",
              `${where} ORDER BY "index", id LIMIT ${query.limit} OFFSET ${query.offset}`,
              params
            )
          ])
          return { chunks, total }
        }),
      countByDocument: (kbId: KnowledgeBaseId, docId: DocumentId) =>
        count("countByDocument", `SELECT count(*)::int AS n FROM chunk WHERE kb_id = $1 AND doc_id = $2`, [kbId, docId]),
      searchText,
      searchVector
    })
  })

/** `ChunkIndex` on the context's `SqlClient`: creates the extension and migrates when built. */
export const layer = (
  options: Options = {}
): Layer.Layer<ChunkIndex.ChunkIndex, ChunkIndexError, SqlClient.SqlClient> =>
  Layer.scoped(ChunkIndex.ChunkIndex, Effect.zipRight(Schema.setup, make(options)))

export { migrations, table as migrationsTable } from "./internal/chunkIndexSchema.js"
