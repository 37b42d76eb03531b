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
 *   parameter per column), and one statement per statistics table, in one transaction under the
 *   knowledge bases' advisory write locks (so the dimension check, the rows and the statistics agree,
 *   as the memory index's synchronous check does). Deletes take the same lock and subtract what
 *   they remove (`DELETE ... RETURNING`). Upserts made while a commit of this process runs wait and
 *   share the next one (group commit, per knowledge base): one transaction per knowledge base and
 *   vector dimension instead of one per call, so concurrent document runs make fewer, larger writes (fewer postings
 *   rows, statistics rows and segment merges per chunk).
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
 *   ordinal, term frequency and field length, a few rows per token) are read in one query, and
 *   every candidate is scored here, to the bit. The best are fetched by
 *   ordinal, in rounds until the page is full: an ordinal whose row was replaced or deleted finds
 *   nothing, unavailable rows and metadata conditions are filtered then; a document filter is
 *   applied before scoring (the documents' ordinals are read first). A search is one read-only
 *   REPEATABLE READ transaction, so the statistics, postings and rows it reads agree. Each write
 *   adds a segment of postings per knowledge base and 10,000 rows; small segments are merged (in
 *   SQL, by concatenation) and segments whose rows are mostly gone are rewritten, in the write's
 *   transaction, so a knowledge base keeps a few segments per size class.
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
import { Deferred, Effect, Layer, Option } from "effect"
import * as Bm25 from "./internal/chunkIndexBm25.js"
import * as Postings from "./internal/chunkIndexPostings.js"
import { toChunkIndexError } from "./internal/chunkIndexErrors.js"
import * as Rows from "./internal/chunkIndexRows.js"
import * as Schema from "./internal/chunkIndexSchema.js"
import * as Stats from "./internal/chunkIndexStats.js"

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
}

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

/** The most rows in a segment written by an upsert (a larger write writes several). */
const segmentRows = 10_000
/**
 * The most chunks one group commit takes (more if one upsert alone is larger): a commit holds the
 * term counts of every row it writes until their segment is written, so this bounds its memory.
 */
const groupCommitChunks = 2_000

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
): Effect.Effect<ChunkIndex.ChunkIndexService, ChunkIndexError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const exactSearchThreshold = options.exactSearchThreshold ?? 1000
    const indexBuildMemory = options.indexBuildMemory ?? "512MB"
    const indexRebuildRatio = options.indexRebuildRatio ?? 0.25
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

    /** Writes a new segment of a knowledge base: rows with consecutive ordinals, in order. */
    const writeSegment = (kbId: string, rows: ReadonlyArray<{ readonly ord: number; readonly fields: Stats.Fields }>) =>
      Effect.gen(function*() {
        const first = rows[0]!.ord
        const segment = yield* insertSegment(kbId, {
          first_ord: first,
          end_ord: first + rows.length,
          size: rows.length,
          live: rows.length
        })
        for (const lists of Postings.batches(Postings.build(rows))) {
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

    /**
     * Writes whole chunks (the last of a duplicated id wins), re-checking dimensions under the
     * knowledge bases' write locks, and updates the statistics. Runs inside a transaction; returns
     * the dimensions it wrote vectors of, those whose HNSW index it dropped and those it rebuilt
     * (see `buildIndexes`).
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
        const deltas = new Stats.Deltas()
        /** Per knowledge base: the next ordinal to give out, and the ordinals of the rows replaced. */
        const nextOrd = new Map<string, number>(kbIds.map((kb) => [kb, 0]))
        for (const { kb_id, next } of yield* run<{ readonly kb_id: string; readonly next: number }>(
          "upsert",
          `SELECT kb_id, max(end_ord) AS next FROM chunk_segments WHERE kb_id = ANY($1::text[]) GROUP BY kb_id`,
          [kbIds]
        )) nextOrd.set(kb_id, next)
        const replaced = new Map<string, Array<number>>()
        /** Per knowledge base, the rows written and not yet in a segment. */
        const pending = new Map<string, Array<{ readonly ord: number; readonly fields: Stats.Fields }>>()
        const flush = (kbId: string) =>
          Effect.suspend(() => {
            const rows = pending.get(kbId) ?? []
            pending.delete(kbId)
            return rows.length === 0 ? Effect.void : writeSegment(kbId, rows)
          })
        for (let i = 0; i < unique.length; i += Rows.upsertBatch) {
          const batch = unique.slice(i, i + Rows.upsertBatch)
          // The rows this batch replaces leave the statistics; their vectors' dimension is the
          // knowledge base's, checked above.
          const old = yield* run<Stats.RemovedRow>(
            "upsert",
            `SELECT ${Stats.removedColumns} FROM chunk WHERE (kb_id, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
            [batch.map((c) => c.kb_id), batch.map((c) => c.id)]
          )
          for (const row of old) {
            deltas.add(row.kb_id, Stats.removedFields(row), row.dims, -1)
            let ords = replaced.get(row.kb_id)
            if (ords === undefined) replaced.set(row.kb_id, ords = [])
            ords.push(row.ord)
          }
          // Rows get their knowledge base's next ordinals; a segment is written per knowledge base
          // and `segmentRows` rows (the postings of a segment are built in memory).
          const cells: Array<ReadonlyArray<Rows.Param>> = []
          for (const chunk of batch) {
            const fields = Rows.fieldsOf(chunk)
            deltas.add(chunk.kb_id, fields, chunk.vector?.length ?? null, 1)
            const ord = nextOrd.get(chunk.kb_id)!
            if (ord >= maxOrd) {
              return yield* new ChunkIndexError({
                reason: "Unknown",
                message: `upsert: knowledge base ${chunk.kb_id} has used up its ${maxOrd} row ordinals; copy it into a new one`
              })
            }
            nextOrd.set(chunk.kb_id, ord + 1)
            let rows = pending.get(chunk.kb_id)
            if (rows === undefined) pending.set(chunk.kb_id, rows = [])
            rows.push({ ord, fields })
            if (rows.length === segmentRows) yield* flush(chunk.kb_id)
            cells.push(Rows.encode(chunk, fields, ord))
          }
          yield* run("upsert", Rows.upsertStatement, Rows.upsertParams(cells))
        }
        for (const kbId of pending.keys()) yield* flush(kbId)
        for (const [kbId, ords] of replaced) yield* segmentsLost(kbId, ords)
        for (const kbId of kbIds) yield* maintain(kbId)
        yield* applyDeltas(deltas)
        const rebuilt = new Set<number>()
        for (const dims of dropped) {
          if (yield* buildIndex(dims)) rebuilt.add(dims)
        }
        return { written: new Set(written.keys()), dropped, rebuilt }
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
        const deltas = new Stats.Deltas()
        for (const row of rows) deltas.add(row.kb_id, Stats.removedFields(row), row.dims, -1)
        yield* applyDeltas(deltas)
        if (rows.length > 0) {
          yield* segmentsLost(kbId, rows.map((row) => row.ord))
          yield* maintain(kbId)
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
        const [stats] = yield* run<Bm25.StatsRow>("text search", Bm25.statsQuery, [kbIds, tokens])
        const terms = Bm25.queryTerms(stats!, search.tokens)
        if (terms.length === 0) return []
        const docIds = search.filter.docIds
        const [postings, allowed] = yield* Effect.all([
          run<{ readonly kb_id: string; readonly token: string; readonly field: number; readonly data: unknown }>(
            "text search",
            `SELECT kb_id, token, field, data FROM chunk_postings WHERE kb_id = ANY($1::text[]) AND token = ANY($2::text[])`,
            [kbIds, [...new Set(terms.map((t) => t.token))]]
          ),
          docIds === undefined ? Effect.succeed(undefined) : allowedOrds(kbIds, docIds, search.filter.available)
        ])
        const candidates = Postings.score(terms, postings, allowed)
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

    /** One commit: the rows and statistics in a transaction, then the HNSW indexes it makes due. */
    const commit = (chunks: ReadonlyArray<Chunk>) =>
      Effect.zipRight(Effect.flatMap(transaction(write(chunks)), buildIndexes), analyseAfter(chunks.length))

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
        })).pipe(Effect.flatMap((changed) => changed === false ? Effect.succeed(false) : Effect.as(buildIndexes(changed), true))),
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
  Layer.effect(ChunkIndex.ChunkIndex, Effect.zipRight(Schema.setup, make(options)))

export { migrations, table as migrationsTable } from "./internal/chunkIndexSchema.js"
