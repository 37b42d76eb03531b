/**
 * What a text search needs to know of a whole table, as Lucene and the memory index take it (over
 * all chunks of the searched knowledge bases, before filters): the number of rows, per search field
 * the rows where it is not empty and the sum of its lengths, and every row's field lengths by row id
 * (`Lengths`), plus the unavailable rows. One scan of four Int32 columns, cached per table version.
 */
import type * as lancedb from "@lancedb/lancedb"
import { ChunkIndexScoring } from "@ragkit/core"
import type { ChunkIndexError } from "@ragkit/core"
import { Effect } from "effect"
import { lance, rowIdsOf } from "./lance.js"
import * as Lengths from "./lengths.js"
import * as Rows from "./rows.js"

export interface Corpus {
  /** The table version scanned. */
  readonly version: number
  readonly rows: number
  /** Per search field, in `ChunkIndexScoring.searchFields` order. */
  readonly statistics: ReadonlyArray<ChunkIndexScoring.FieldStatistics>
  readonly lengths: Lengths.Lengths
  /** Row ids of the unavailable chunks (usually none). */
  readonly unavailable: ReadonlySet<number>
}

const lengthColumnNames = ChunkIndexScoring.searchFields.map((field) => Rows.lengthColumns[field])

const fieldStatistics = (lengths: ArrayLike<number>): ChunkIndexScoring.FieldStatistics => {
  let documents = 0
  let totalLength = 0
  for (let i = 0; i < lengths.length; i++) {
    const length = lengths[i]!
    if (length > 0) {
      documents++
      totalLength += length
    }
  }
  return { documents, totalLength }
}

const scan = (table: lancedb.Table, version: number): Effect.Effect<Corpus, ChunkIndexError> =>
  Effect.map(
    Effect.all([
      lance("read field lengths", () => table.query().withRowId().select(lengthColumnNames).toArrow()),
      lance("read unavailable rows", () =>
        table.query().where("available = false").withRowId().select(["id"]).toArrow())
    ], { concurrency: 2 }),
    ([arrow, unavailable]) => {
      const columns = lengthColumnNames.map((column) =>
        (arrow.getChild(column)?.toArray() ?? new Int32Array(arrow.numRows)) as ArrayLike<number>
      )
      return {
        version,
        rows: arrow.numRows,
        statistics: columns.map(fieldStatistics),
        lengths: Lengths.make(rowIdsOf(arrow), columns),
        unavailable: new Set(rowIdsOf(unavailable))
      }
    }
  )

/**
 * The corpus of a table at its current version, from the cache in `state` or scanned (and cached
 * when no write came between the version read and the scan).
 */
export const corpusOf = (
  state: { readonly table: lancedb.Table; corpus: Corpus | undefined }
): Effect.Effect<Corpus, ChunkIndexError> =>
  Effect.gen(function*() {
    const version = yield* lance("read version", () => state.table.version())
    if (state.corpus !== undefined && state.corpus.version === version) return state.corpus
    const corpus = yield* scan(state.table, version)
    if ((yield* lance("read version", () => state.table.version())) === version) state.corpus = corpus
    return corpus
  })

/** The statistics of several tables searched together. */
export const sumStatistics = (
  tables: ReadonlyArray<ReadonlyArray<ChunkIndexScoring.FieldStatistics>>
): Array<ChunkIndexScoring.FieldStatistics> =>
  ChunkIndexScoring.searchFields.map((_, f) => ({
    documents: tables.reduce((sum, statistics) => sum + statistics[f]!.documents, 0),
    totalLength: tables.reduce((sum, statistics) => sum + statistics[f]!.totalLength, 0)
  }))
