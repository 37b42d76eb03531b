/**
 * Vector search: cosine distance, exact (flat) while a table has no ANN index; with one (built by
 * maintenance past `annThreshold` vectors, retrained as the table grows: `annIndex.ts`), `nprobes`
 * IVF partitions and exact re-ranking of `refineFactor × limit` candidates, both sized by the table
 * when not set (`nprobesFor`, `refineFactorFor`). Scores are recomputed from the stored float32
 * vectors in float64 (core's `ChunkIndexScoring.vectorScores`). Availability and document ids are
 * LanceDB filters; metadata conditions are pushed down as a necessary key test and checked exactly in
 * process over an over-fetched candidate set, fetching more until the page is full or the table
 * exhausted.
 */
import { ChunkIndexScoring } from "@ragkit/core"
import type { Chunk, ChunkIndex, ChunkIndexError, KnowledgeBaseId } from "@ragkit/core"
import { Effect, Option } from "effect"
import { partitionsFor, trainedVectors } from "./annIndex.js"
import { lance, rowsOf } from "./lance.js"
import * as Rows from "./rows.js"
import * as Sql from "./sql.js"
import { type Tables, type TableState, vectorDimension, version } from "./tables.js"

export interface Settings {
  /** IVF partitions probed; `undefined`: sized by the index (`nprobesFor`). */
  readonly nprobes: number | undefined
  /** Candidates re-ranked exactly, as a multiple of the limit; `undefined`: sized by the table (`refineFactorFor`). */
  readonly refineFactor: number | undefined
  /** The vector count an index that did not record its own was trained on (`annThreshold`). */
  readonly annThreshold: number
}

/**
 * Partitions probed: a tenth of the index's (`partitionsFor` the vectors it was trained on), at least
 * 20: the PQ codes of about 100,000 rows at 1M (25 of 244 partitions).
 */
export const nprobesFor = (partitions: number): number => Math.max(20, Math.ceil(partitions / 10))

/**
 * Candidates re-ranked with exact distances, as a multiple of the limit: 10 up to 100,000 rows, then
 * growing with √rows (32 at 1M). In a larger table more rows lie about as near the query as its true
 * neighbours, and PQ's approximate distances cannot order them: the re-ranked candidates must grow.
 */
export const refineFactorFor = (rows: number): number => Math.max(10, Math.ceil(10 * Math.sqrt(rows / 100_000)))

/** The table's row count, read again when the table version changes. */
const rowCount = (state: TableState) =>
  Effect.flatMap(version(state), (current) =>
    state.rows?.version === current ? Effect.succeed(state.rows.value) : Effect.tap(
      lance("count rows", () => state.table.countRows()),
      (value) => Effect.sync(() => void (state.rows = { version: current, value }))
    ))

/** `nprobes` and `refineFactor` for an ANN search of the table. */
const annSettings = (settings: Settings, state: TableState) =>
  Effect.all({
    nprobes: settings.nprobes !== undefined
      ? Effect.succeed(settings.nprobes)
      : Effect.map(trainedVectors(state, settings.annThreshold), (trained) => nprobesFor(partitionsFor(trained))),
    refineFactor: settings.refineFactor !== undefined
      ? Effect.succeed(settings.refineFactor)
      : Effect.map(rowCount(state), refineFactorFor)
  })

/** Whether the vector column has an ANN index, looked up again after the table changed. */
const hasAnn = (state: TableState) =>
  state.ann ? Effect.succeed(true) : Effect.gen(function*() {
    const current = yield* version(state)
    if (state.annSeen === current) return state.ann
    const indexes = yield* lance("list indexes", () => state.table.listIndices())
    state.ann = indexes.some((i) => i.columns.includes("vector"))
    state.annSeen = current
    return state.ann
  })

/**
 * The nearest chunks of one table that pass the filter, read as `reading` says; unsorted. A
 * metadata filter reads whole chunks to check them.
 */
const searchTable = <A extends ChunkIndex.ChunkSummary>(
  settings: Settings,
  state: TableState,
  search: ChunkIndex.ResolvedVectorSearch,
  reading: Rows.Reading<A>
): Effect.Effect<Array<{ readonly chunk: A | Chunk; readonly score: number }>, ChunkIndexError> =>
  Effect.gen(function*() {
    if ((yield* vectorDimension(state)) !== search.vector.length) return []
    const ann = (yield* hasAnn(state)) ? Option.some(yield* annSettings(settings, state)) : Option.none()
    const where = Sql.and("has_vector", Sql.searchWhere(search.filter))
    const exact = (search.filter.metadata ?? []).length > 0
    // A margin over the limit, so that float32 rounding in LanceDB cannot push out a neighbour.
    let fetch = exact ? search.limit * 4 + 8 : search.limit + 8
    for (;;) {
      const query = state.table.query()
        .nearestTo([...search.vector])
        .distanceType("cosine")
        .where(where)
        .select([...(exact ? Rows.readColumns : reading.columns), "_distance"])
        .limit(fetch)
      const rows = yield* rowsOf(
        Option.isSome(ann)
          ? query.nprobes(ann.value.nprobes).refineFactor(ann.value.refineFactor)
          : query.bypassVectorIndex(),
        "vector search"
      )
      const kept: Array<A | Chunk> = exact
        ? rows.map(Rows.fromRow).filter((chunk) => ChunkIndexScoring.matchesFilter(chunk, search.filter))
        : rows.map(reading.of)
      if (kept.length >= search.limit || rows.length < fetch) return ChunkIndexScoring.vectorScores(kept, search)
      fetch *= 4
    }
  })

/** The vector search, its results read as `reading` says (whole chunks when a filter needs them). */
export const searchVector = <A extends ChunkIndex.ChunkSummary>(
  tables: Tables,
  settings: Settings,
  search: ChunkIndex.ResolvedVectorSearch,
  reading: Rows.Reading<A>
) =>
  search.filter.docIds !== undefined && search.filter.docIds.length === 0
    ? Effect.succeed([])
    : Effect.map(
      Effect.forEach([...new Set(search.kbIds)], (kbId: KnowledgeBaseId) =>
        Effect.flatMap(tables.open(kbId), (state) =>
          Option.isNone(state) ? Effect.succeed([]) : searchTable(settings, state.value, search, reading)), {
        concurrency: 4
      }),
      (results) => ChunkIndexScoring.best(results.flat(), search.limit)
    )
