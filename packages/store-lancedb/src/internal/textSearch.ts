/**
 * Text search: exact BM25 (core's `ChunkIndexScoring`: the memory index's statistics, terms and
 * sums) without reading the text of the matches.
 *
 * LanceDB full-text indexes (whitespace tokenizer, no lower-casing, stemming or stop words: tokens
 * come pre-segmented) on the four search fields and on `rep_tks` answer, per query token and field,
 * which rows hold it (row ids), which gives the document frequencies exactly; `rep_tks` lists, per
 * row, the `field:token` pairs occurring more than once, so one more full-text query finds the few
 * matches whose term frequency may not be 1. Field lengths and counts (for the average lengths), and
 * the unavailable rows, come from a scan cached per table version (`corpus.ts`).
 *
 * Every match gets its exact score, or for a row with a repeated pair an upper bound (those pairs'
 * frequencies as large as their field). Rows are then visited best bound first, in growing batches,
 * until no bound left reaches the `limit`-th accepted score; a row is read only for what is unknown:
 * its repeated pairs' frequencies, its document and metadata when a filter needs them, and its id
 * when it ties with another (ties are ordered by id). The chunks of the best `limit` are read last.
 * The searched table versions are checked before and after: a search that saw a write is run again
 * (row ids change on compaction), and when writes keep moving rows the matches are read instead
 * (`textSearchReading.ts`).
 *
 * LanceDB's own BM25 cannot give these scores: it scores one column at a time with statistics of its
 * index segments (rows deleted or not yet indexed are counted differently), cannot sum weighted
 * fields, and knows nothing of the other knowledge bases searched together; asking it for its top N
 * per field would make the results approximate. The price of exact scores and an exact top k is
 * touching every match's row id: a top-k cut before the postings are fetched (WAND, block-max) would
 * need an inverted index of our own with per-block score maxima.
 */
import * as lancedb from "@lancedb/lancedb"
import { ChunkIndexScoring } from "@ragkit/core"
import type { Chunk, ChunkIndex, ChunkIndexError } from "@ragkit/core"
import { Effect, Option } from "effect"
import { type Corpus, corpusOf, sumStatistics } from "./corpus.js"
import { lance, rowIdsOf, rowsOf } from "./lance.js"
import * as Postings from "./postings.js"
import * as Rows from "./rows.js"
import type { Tables, TableState } from "./tables.js"
import { version } from "./tables.js"
import * as Reading from "./textSearchReading.js"

const { searchFields } = ChunkIndexScoring

/** The text search over the knowledge bases' tables. */
export const searchText = <A extends ChunkIndex.ChunkSummary>(
  tables: Tables,
  search: ChunkIndex.ResolvedTextSearch,
  reading: Rows.Reading<A>
): Effect.Effect<ReadonlyArray<{ readonly chunk: A | Chunk; readonly score: number }>, ChunkIndexError> =>
  Effect.gen(function*() {
    if (search.filter.docIds !== undefined && search.filter.docIds.length === 0) return []
    const states = (yield* Effect.forEach([...new Set(search.kbIds)], tables.open, { concurrency: 4 }))
      .flatMap(Option.toArray)
    if (states.length === 0) return []
    for (let attempt = 0; attempt < 3; attempt++) {
      const found = yield* searchPostings(search, states, reading)
      if (Option.isSome(found)) return found.value
    }
    // Writes kept moving rows: read the matches.
    return yield* Reading.searchText(search, states)
  })

/** What the full-text indexes say of one table. */
interface TableMatches {
  readonly state: TableState
  readonly corpus: Corpus
  /** Per search field and query token, the row ids holding it (absent: none). */
  readonly matches: ReadonlyArray<ReadonlyMap<string, ReadonlyArray<number>>>
  /** The rows where some searched (field, token) is repeated (their frequencies may not be 1). */
  readonly repeated: ReadonlySet<number>
  /** A query returned as many rows as the scan saw: rows were added since (the search is run again). */
  readonly full: boolean
}

/**
 * The matches of one table, from one full-text query per (field, token) that some row may hold and
 * one for the repeated tokens; `None` when the table has no rows.
 */
const tableMatches = (state: TableState, tokens: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const corpus = yield* corpusOf(state)
    if (corpus.rows === 0) return Option.none<TableMatches>()
    // Every match, at the scanned version. LanceDB sizes its result heap by the limit, so a query
    // asks for at most `firstLimit` rows first, and for all of them when that was not enough. A
    // result that fills `limit` means rows were added since: the search is run again.
    const limit = corpus.rows + 1
    const firstLimit = Math.min(limit, 16_384)
    // Fields no row has are skipped (no row holds a token there), and so are tokens with white
    // space inside (fields are split on white space).
    const searched = searchFields.flatMap((field, f) =>
      corpus.statistics[f]!.documents === 0
        ? []
        : [...new Set(tokens)].filter((token) => !/\s/.test(token)).map((token) => ({ field, f, token }))
    )
    const fullTextUpTo = (query: string, column: string, upTo: number) =>
      lance("full-text search", () =>
        state.table.query()
          .fullTextSearch(new lancedb.MatchQuery(query, column))
          .withRowId()
          .select(["_score"])
          .limit(upTo)
          .toArrow())
    const fullText = (query: string, column: string) =>
      Effect.map(
        Effect.flatMap(
          fullTextUpTo(query, column, firstLimit),
          (first) => first.numRows < firstLimit ? Effect.succeed(first) : fullTextUpTo(query, column, limit)
        ),
        rowIdsOf
      )
    const [results, repeated] = yield* Effect.all([
      Effect.forEach(searched, ({ field, token }) => fullText(token, Rows.tokenColumns[field]), { concurrency: 4 }),
      searched.length === 0
        ? Effect.succeed([])
        : fullText(searched.map(({ field, token }) => Rows.repeatedToken(field, token)).join(" "), Rows.repeatedColumn)
    ], { concurrency: 2 })
    const matches = searchFields.map(() => new Map<string, ReadonlyArray<number>>())
    searched.forEach(({ f, token }, i) => {
      if (results[i]!.length > 0) matches[f]!.set(token, results[i]!)
    })
    return Option.some<TableMatches>({
      state,
      corpus,
      matches,
      repeated: new Set(repeated),
      full: results.some((ids) => ids.length >= limit)
    })
  })

/** The searched tables' versions, to tell whether a write happened during a search. */
const versions = (states: ReadonlyArray<TableState>) =>
  Effect.map(Effect.forEach(states, version, { concurrency: 4 }), (vs) => vs.join(","))

/**
 * Text search from the full-text indexes' postings (see the module documentation); `None` when a
 * write changed a table during the search (row ids may have moved: the caller tries again).
 */
const searchPostings = <A extends ChunkIndex.ChunkSummary>(
  search: ChunkIndex.ResolvedTextSearch,
  states: ReadonlyArray<TableState>,
  reading: Rows.Reading<A>
) =>
  Effect.gen(function*() {
    const before = yield* versions(states)
    const tokens = search.tokens.map((t) => t.token)
    const tables = (yield* Effect.forEach(states, (state) => tableMatches(state, tokens), { concurrency: 4 }))
      .flatMap(Option.toArray)
    if (tables.some((t) => t.full)) return Option.none()
    const terms = ChunkIndexScoring.queryTerms(
      search.tokens,
      sumStatistics(tables.map((t) => t.corpus.statistics)),
      (field, token) => tables.reduce((df, t) => df + (t.matches[field]!.get(token)?.length ?? 0), 0)
    )
    const fields = terms.map((term) => term.field)
    const postings = tables.map((t) =>
      Postings.collect(t.corpus.lengths, terms.map((term) => t.matches[term.field]!.get(term.token)), fields)
    )
    if (postings.some((p) => p.moved)) return Option.none()
    const candidates = new Candidates(
      terms,
      tables.map((t, i) => ({ postings: postings[i]!, repeated: t.repeated, unavailable: t.corpus.unavailable })),
      search.filter.available
    )
    const read = tables.map((t) => t.state)
    const accepted = yield* visit(search, read, candidates)
    if (Option.isNone(accepted) || !(yield* readTiedIds(read, accepted.value, search.limit))) return Option.none()
    const results = yield* readBest(read, accepted.value.slice(0, search.limit), reading)
    if (Option.isNone(results) || (yield* versions(states)) !== before) return Option.none()
    return results
  })

/** A row of a searched table (`table`: its index among the searched tables that have rows). */
interface RowRef {
  readonly table: number
  readonly rowId: number
}

/** A match that passed the filter, with its exact score. */
interface Accepted extends RowRef {
  /** The chunk id, once read (needed to order ties). */
  id: string | undefined
  readonly score: number
}

/** Best score first; ties by id, ids not read yet last (they are read when they matter). */
const byScoreThenKnownId = (x: Accepted, y: Accepted) =>
  y.score - x.score || (x.id === y.id ? 0 : x.id === undefined ? 1 : y.id === undefined ? -1 : x.id < y.id ? -1 : 1)

/**
 * The matches of all searched tables, numbered across them (`g`: table `i`'s candidate `c` is
 * `offsets[i] + c`), each with its exact score or, for a row with a repeated pair, an upper bound
 * (those pairs' frequencies as large as their field). Rows of the other availability are left out.
 */
class Candidates {
  readonly offsets: Array<number> = []
  readonly bounds: Float64Array
  /** 1 where the bound is the exact score. */
  readonly exact: Uint8Array
  /** The candidates with a positive bound. */
  readonly kept: Array<number> = []
  /** The frequencies of a candidate's terms, counted in its row's token columns. */
  private readonly counted: Float64Array

  constructor(
    readonly terms: ReadonlyArray<ChunkIndexScoring.Term>,
    readonly tables: ReadonlyArray<{
      readonly postings: Postings.TablePostings
      readonly repeated: ReadonlySet<number>
      readonly unavailable: ReadonlySet<number>
    }>,
    available: boolean
  ) {
    let total = 0
    for (const t of tables) {
      this.offsets.push(total)
      total += t.postings.rowIds.length
    }
    this.bounds = new Float64Array(total)
    this.exact = new Uint8Array(total)
    this.counted = new Float64Array(terms.length)
    const width = terms.length
    const saturated = new Float64Array(width)
    tables.forEach((t, i) => {
      const { has, lengths, rowIds } = t.postings
      for (let c = 0; c < rowIds.length; c++) {
        const rowId = rowIds[c]!
        if (t.unavailable.has(rowId) === available) continue
        const g = this.offsets[i]! + c
        if (t.repeated.has(rowId)) {
          for (let k = 0; k < width; k++) {
            saturated[k] = has[c * width + k] === 1 ? lengths[c * 4 + terms[k]!.field]! : 0
          }
          this.bounds[g] = ChunkIndexScoring.score(terms, saturated, 0, lengths, c * 4)
        } else {
          this.exact[g] = 1
          this.bounds[g] = ChunkIndexScoring.score(terms, has, c * width, lengths, c * 4)
        }
        if (this.bounds[g]! > 0) this.kept.push(g)
      }
    })
  }

  private tableOf(g: number): number {
    let i = this.offsets.length - 1
    while (this.offsets[i]! > g) i--
    return i
  }

  ref(g: number): RowRef {
    const table = this.tableOf(g)
    return { table, rowId: this.tables[table]!.postings.rowIds[g - this.offsets[table]!]! }
  }

  /** The search fields in which a candidate holds a term. */
  fieldsHeld(g: number): Array<ChunkIndexScoring.SearchField> {
    const table = this.tableOf(g)
    const c = g - this.offsets[table]!
    const { has } = this.tables[table]!.postings
    const width = this.terms.length
    return [...new Set(this.terms.filter((_, k) => has[c * width + k] === 1).map((term) => searchFields[term.field]!))]
  }

  /** The exact score of a candidate, its frequencies counted in its row's token columns. */
  countedScore(g: number, row: Rows.Row): number {
    const table = this.tableOf(g)
    const c = g - this.offsets[table]!
    const { has, lengths } = this.tables[table]!.postings
    const width = this.terms.length
    this.terms.forEach((term, k) => {
      const text = String(row[Rows.tokenColumns[searchFields[term.field]!]] ?? "")
      this.counted[k] = has[c * width + k] === 1 ? Math.max(1, Rows.tokenFrequency(text, term.token)) : 0
    })
    return ChunkIndexScoring.score(this.terms, this.counted, 0, lengths, c * 4)
  }
}

/** Columns of rows, by `<table>/<row id>`. */
const readRows = (
  states: ReadonlyArray<TableState>,
  refs: ReadonlyArray<RowRef>,
  columns: ReadonlyArray<string>
) =>
  Effect.map(
    Effect.forEach(states, (state, i) => {
      const ids = refs.filter((p) => p.table === i).map((p) => p.rowId)
      return ids.length === 0
        ? Effect.succeed([])
        : Effect.map(
          rowsOf(state.table.takeRowIds(ids).withRowId().select([...columns]), "read chunks"),
          (rows) => rows.map((row) => [`${i}/${Number(row["_rowid"])}`, row] as const)
        )
    }, { concurrency: 4 }),
    (perTable) => new Map<string, Rows.Row>(perTable.flat())
  )

const keyOf = (ref: RowRef) => `${ref.table}/${ref.rowId}`

/**
 * Visits the candidates best bound first (a heap: most searches stop after a few dozen), in growing
 * batches, until no candidate left can reach the `limit`-th accepted score; returns the accepted
 * matches in order. A row is read only when the document or metadata filter must see it, or to count
 * its repeated tokens. `None` when a row is gone (a write moved it).
 */
const visit = (search: ChunkIndex.ResolvedTextSearch, states: ReadonlyArray<TableState>, candidates: Candidates) =>
  Effect.gen(function*() {
    const { bounds, exact } = candidates
    const heap = new Postings.MaxHeap(bounds, Int32Array.from(candidates.kept))
    const metadata = (search.filter.metadata ?? []).length > 0
    const filtered = metadata || search.filter.docIds !== undefined
    const filterColumns = ["id", ...(filtered ? ["doc_id"] : []), ...(metadata ? ["metadata"] : [])]
    const accepted: Array<Accepted> = []
    const lowest = () => accepted.length < search.limit ? -Infinity : accepted[search.limit - 1]!.score
    let batch = search.limit
    while (heap.length > 0 && heap.peekKey() >= lowest()) {
      const slice: Array<number> = []
      while (slice.length < batch && heap.length > 0) slice.push(heap.pop())
      batch *= 4
      const read = slice.filter((g) => filtered || exact[g] === 0)
      const fields = [...new Set(read.filter((g) => exact[g] === 0).flatMap((g) => candidates.fieldsHeld(g)))]
      const rows = read.length === 0
        ? new Map<string, Rows.Row>()
        : yield* readRows(states, read.map((g) => candidates.ref(g)), [
          ...filterColumns,
          ...fields.map((field) => Rows.tokenColumns[field])
        ])
      for (const g of slice) {
        const ref = candidates.ref(g)
        if (exact[g] === 1 && !filtered) {
          accepted.push({ ...ref, id: undefined, score: bounds[g]! })
          continue
        }
        const row = rows.get(keyOf(ref))
        if (row === undefined) return Option.none<Array<Accepted>>()
        const passes = ChunkIndexScoring.matchesFilter({
          available: search.filter.available,
          doc_id: String(row["doc_id"]),
          metadata: metadata ? Rows.metadataOf(row["metadata"]) : {}
        }, search.filter)
        if (!passes) continue
        const score = exact[g] === 1 ? bounds[g]! : candidates.countedScore(g, row)
        if (score > 0) accepted.push({ ...ref, id: String(row["id"]), score })
      }
      accepted.sort(byScoreThenKnownId)
    }
    return Option.some(accepted)
  })

/**
 * Equal scores are ordered by chunk id: reads the ids not read yet of the matches tied with another
 * among the best `limit` and those tied with the last of them, and sorts again. `false` when a row is
 * gone (a write moved it).
 */
const readTiedIds = (states: ReadonlyArray<TableState>, accepted: Array<Accepted>, limit: number) =>
  Effect.gen(function*() {
    if (accepted.length <= 1) return true
    const last = accepted[Math.min(limit, accepted.length) - 1]!.score
    const head = accepted.filter((a, i) => i < limit || a.score === last)
    const tied = head.filter((a, i) =>
      a.id === undefined && (head[i - 1]?.score === a.score || head[i + 1]?.score === a.score)
    )
    if (tied.length === 0) return true
    const rows = yield* readRows(states, tied, ["id"])
    for (const a of tied) {
      const row = rows.get(keyOf(a))
      if (row === undefined) return false
      a.id = String(row["id"])
    }
    accepted.sort(byScoreThenKnownId)
    return true
  })

/** The best matches, read as `reading` says; `None` when a row is gone (a write moved it). */
const readBest = <A extends ChunkIndex.ChunkSummary>(
  states: ReadonlyArray<TableState>,
  best: ReadonlyArray<Accepted>,
  reading: Rows.Reading<A>
) =>
  Effect.map(readRows(states, best, reading.columns), (rows) => {
    const results: Array<{ readonly chunk: A; readonly score: number }> = []
    for (const match of best) {
      const row = rows.get(keyOf(match))
      if (row === undefined) return Option.none()
      results.push({ chunk: reading.of(row), score: match.score })
    }
    return Option.some(results)
  })
