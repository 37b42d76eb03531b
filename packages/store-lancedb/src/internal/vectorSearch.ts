/**
 * Vector search: cosine distance, exact (flat) while a table has no ANN index; with one (built by
 * maintenance past `annThreshold` vectors), `nprobes` IVF partitions and exact re-ranking of
 * `refineFactor × limit` candidates. Scores are recomputed from the stored float32 vectors in float64
 * (core's `ChunkIndexScoring.vectorScores`). Availability and document ids are LanceDB filters;
 * metadata conditions are pushed down as a necessary key test and checked exactly in process over an
 * over-fetched candidate set, fetching more until the page is full or the table exhausted.
 */
import { ChunkIndexScoring } from "@ragkit/core"
import type { ChunkIndex, KnowledgeBaseId } from "@ragkit/core"
import { Effect, Option } from "effect"
import { lance, rowsOf } from "./lance.js"
import * as Rows from "./rows.js"
import * as Sql from "./sql.js"
import { type Tables, type TableState, vectorDimension, version } from "./tables.js"

export interface Settings {
  readonly nprobes: number
  readonly refineFactor: number
}

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

/** The nearest chunks of one table that pass the filter; unsorted. */
const searchTable = (settings: Settings, state: TableState, search: ChunkIndex.ResolvedVectorSearch) =>
  Effect.gen(function*() {
    if ((yield* vectorDimension(state)) !== search.vector.length) return []
    const ann = yield* hasAnn(state)
    const where = Sql.and("has_vector", Sql.searchWhere(search.filter))
    const exact = (search.filter.metadata ?? []).length > 0
    // A margin over the limit, so that float32 rounding in LanceDB cannot push out a neighbour.
    let fetch = exact ? search.limit * 4 + 8 : search.limit + 8
    for (;;) {
      const query = state.table.query()
        .nearestTo([...search.vector])
        .distanceType("cosine")
        .where(where)
        .select([...Rows.readColumns, "_distance"])
        .limit(fetch)
      const rows = yield* rowsOf(
        ann ? query.nprobes(settings.nprobes).refineFactor(settings.refineFactor) : query.bypassVectorIndex(),
        "vector search"
      )
      const chunks = rows.map(Rows.fromRow)
      const kept = exact ? chunks.filter((chunk) => ChunkIndexScoring.matchesFilter(chunk, search.filter)) : chunks
      if (kept.length >= search.limit || rows.length < fetch) return ChunkIndexScoring.vectorScores(kept, search)
      fetch *= 4
    }
  })

export const searchVector = (tables: Tables, settings: Settings, search: ChunkIndex.ResolvedVectorSearch) =>
  search.filter.docIds !== undefined && search.filter.docIds.length === 0
    ? Effect.succeed([])
    : Effect.map(
      Effect.forEach([...new Set(search.kbIds)], (kbId: KnowledgeBaseId) =>
        Effect.flatMap(tables.open(kbId), (state) =>
          Option.isNone(state) ? Effect.succeed([]) : searchTable(settings, state.value, search)), { concurrency: 4 }),
      (results) => ChunkIndexScoring.best(results.flat(), search.limit)
    )
