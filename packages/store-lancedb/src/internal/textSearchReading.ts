/**
 * Text search by reading the matches: one full-text query per table returns every row holding a
 * query token in a search field, with its token columns. Term frequencies are counted in those
 * columns and document frequencies over the matches (which hold every row with a query token: they
 * are read without filters for that reason); terms and scores are core's, as everywhere.
 *
 * It reads the text of every match, so it is slower than the postings (`textSearch.ts`), but it does
 * not rely on row ids staying put between queries: the text search falls back to it when writes
 * keep moving rows.
 */
import * as lancedb from "@lancedb/lancedb"
import { ChunkIndexScoring } from "@ragkit/core"
import type { Chunk, ChunkIndex } from "@ragkit/core"
import { Effect } from "effect"
import { corpusOf, sumStatistics } from "./corpus.js"
import { rowsOf } from "./lance.js"
import { chunksByIds } from "./reads.js"
import * as Rows from "./rows.js"
import type { TableState } from "./tables.js"

const { searchFields } = ChunkIndexScoring

const tokenColumnNames = searchFields.map((field) => Rows.tokenColumns[field])
const lengthColumnNames = searchFields.map((field) => Rows.lengthColumns[field])

/** A match: its row and its search fields, counted for the query's tokens only. */
interface Match {
  readonly table: number
  readonly row: Rows.Row
  readonly fields: ReadonlyArray<ChunkIndexScoring.FieldCounts>
}

/** The lengths (stored) and the query tokens' frequencies of a row's search fields. */
const countFields = (row: Rows.Row, tokens: ReadonlyArray<string>): Array<ChunkIndexScoring.FieldCounts> =>
  searchFields.map((field) => {
    const text = String(row[Rows.tokenColumns[field]] ?? "")
    const counts = new Map<string, number>()
    for (const token of tokens) {
      const tf = Rows.tokenFrequency(text, token)
      if (tf > 0) counts.set(token, tf)
    }
    return { length: Number(row[Rows.lengthColumns[field]]), counts }
  })

/** Every row of a table that holds a query token; `undefined` when the table has no rows. */
const tableMatches = (state: TableState, tokens: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const corpus = yield* corpusOf(state)
    if (corpus.rows === 0) return undefined
    const rows = yield* rowsOf(
      state.table.query()
        .fullTextSearch(new lancedb.MultiMatchQuery(tokens.join(" "), tokenColumnNames))
        .withRowId()
        .select(["id", "doc_id", "available", "metadata", ...tokenColumnNames, ...lengthColumnNames, "_score"])
        // Every match (a margin for rows written since the statistics were read).
        .limit(corpus.rows * 2 + 1000),
      "full-text search"
    )
    return { state, corpus, rows }
  })

/**
 * The chunks of matches of one table, by id: read by row id, and a match whose row moved in between
 * (a concurrent compaction) read again by id.
 */
const chunksOf = (state: TableState, matches: ReadonlyArray<Match>) =>
  Effect.gen(function*() {
    if (matches.length === 0) return new Map<string, Chunk>()
    const rows = yield* rowsOf(
      state.table.takeRowIds(matches.map((m) => m.row["_rowid"] as bigint)).select([...Rows.readColumns]),
      "read chunks"
    )
    const found = new Map<string, Chunk>(rows.map(Rows.fromRow).map((chunk) => [chunk.id, chunk] as const))
    const missing = matches.map((m) => String(m.row["id"])).filter((id) => !found.has(id))
    if (missing.length > 0) for (const [id, chunk] of yield* chunksByIds(state, missing)) found.set(id, chunk)
    return found
  })

export const searchText = (search: ChunkIndex.ResolvedTextSearch, states: ReadonlyArray<TableState>) =>
  Effect.gen(function*() {
    const tokens = search.tokens.map((t) => t.token)
    const tables = (yield* Effect.forEach(states, (state) => tableMatches(state, tokens), { concurrency: 4 }))
      .filter((t) => t !== undefined)
    const matches = tables.flatMap((t, table) =>
      t.rows.map((row): Match => ({ table, row, fields: countFields(row, tokens) }))
    )
    const counted = matches.map((m) => m.fields)
    const terms = ChunkIndexScoring.queryTerms(
      search.tokens,
      sumStatistics(tables.map((t) => t.corpus.statistics)),
      ChunkIndexScoring.documentFrequencies(counted, search.tokens)
    )
    const scoreOf = ChunkIndexScoring.countedScorer(terms)
    const metadata = (search.filter.metadata ?? []).length > 0
    const scored: Array<{ readonly match: Match; readonly chunk: { readonly id: string }; readonly score: number }> = []
    for (const match of matches) {
      const passes = ChunkIndexScoring.matchesFilter({
        available: Boolean(match.row["available"]),
        doc_id: String(match.row["doc_id"]),
        metadata: metadata ? Rows.metadataOf(match.row["metadata"]) : {}
      }, search.filter)
      if (!passes) continue
      const score = scoreOf(match.fields)
      if (score > 0) scored.push({ match, chunk: { id: String(match.row["id"]) }, score })
    }
    const best = ChunkIndexScoring.best(scored, search.limit)
    const chunks = yield* Effect.forEach(
      tables,
      (t, table) => chunksOf(t.state, best.filter((s) => s.match.table === table).map((s) => s.match)),
      { concurrency: 4 }
    )
    return best.flatMap(({ chunk, match, score }): Array<ChunkIndex.ScoredChunk> => {
      const found = chunks[match.table]!.get(chunk.id)
      return found === undefined ? [] : [{ chunk: found, score }]
    })
  })
