/**
 * What a chunk index search means, in one place, so that every implementation (memory, pgvector,
 * LanceDB) calls the same functions and they agree by construction, to the last bit of a score:
 *
 * - the search fields of a chunk, their order and weights, and how each is split into tokens;
 * - BM25: statistics per field (Lucene's: over the chunks where the field is not empty), the
 *   expansion of a query into terms (`queryTerms`: fields in order, then query tokens in order) and
 *   the sum of a candidate's term scores in that order (`score`). Floating-point addition is not
 *   associative: an index that added the same terms in another order could differ in the last bits,
 *   and equal scores (ordered by id) would then come out in another order;
 * - metadata filters, cosine similarity and the order of results.
 *
 * Where the statistics and term frequencies come from is each implementation's own business (a scan
 * in memory, side tables and postings in Postgres, full-text indexes in LanceDB).
 */
import type { Chunk } from "../domain/Chunk.js"
import type { MetadataCondition, ResolvedFilter, WeightedToken } from "./ChunkIndexService.js"

// --- Search fields ------------------------------------------------------------------------------

/**
 * Per-field weights of the text search; a chunk's score is the weighted sum of the fields' BM25
 * scores. RAGFlow boosts important keywords ×30, questions ×20 and the title ×10 against content ×2
 * on Elasticsearch, whose scores per field are much smaller for the short fields; with plain BM25
 * per field these lighter weights keep the same order of importance without letting one keyword
 * drown the content.
 */
export const SearchFieldWeights = {
  content_ltks: 1,
  title_tks: 2,
  important_keywords: 5,
  questions: 3
} as const

export type SearchField = keyof typeof SearchFieldWeights

/** The search fields in the order of `SearchFieldWeights`; a field's number is its index here. */
export const searchFields = Object.keys(SearchFieldWeights) as ReadonlyArray<SearchField>

/** Search tokens of raw text (keywords, questions): lower-cased runs of letters, marks and digits. */
export const keywordTokens = (text: string): ReadonlyArray<string> =>
  text.toLowerCase().split(/[^\p{L}\p{M}\p{N}_]+/u).filter((t) => t.length > 0)

/** Search tokens of pre-tokenized text (`content_ltks`, `title_tks`): split on white space. */
export const spaceTokens = (text: string): ReadonlyArray<string> => text.split(/\s+/).filter((t) => t.length > 0)

/** The tokens of each search field of a chunk. */
export const searchFieldTokens = (chunk: Chunk): Readonly<Record<SearchField, ReadonlyArray<string>>> => ({
  content_ltks: spaceTokens(chunk.content_ltks),
  title_tks: spaceTokens(chunk.title_tks),
  important_keywords: chunk.important_keywords.flatMap(keywordTokens),
  questions: chunk.questions.flatMap(keywordTokens)
})

/** One search field of a chunk: its length in tokens and each distinct token's count. */
export interface FieldCounts {
  readonly length: number
  readonly counts: ReadonlyMap<string, number>
}

export const countTokens = (tokens: ReadonlyArray<string>): FieldCounts => {
  const counts = new Map<string, number>()
  for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1)
  return { length: tokens.length, counts }
}

/** A chunk's search fields, counted, in `searchFields` order. */
export const fieldCounts = (chunk: Chunk): ReadonlyArray<FieldCounts> => {
  const tokens = searchFieldTokens(chunk)
  return searchFields.map((field) => countTokens(tokens[field]))
}

// --- BM25 ---------------------------------------------------------------------------------------

/** BM25 parameters (Lucene's defaults). */
export const Bm25Parameters = { k1: 1.2, b: 0.75 } as const

/** Lucene's BM25 idf: `ln(1 + (N - df + 0.5) / (df + 0.5))`. */
export const bm25Idf = (documents: number, documentFrequency: number): number =>
  Math.log(1 + (documents - documentFrequency + 0.5) / (documentFrequency + 0.5))

/** BM25 term score for one field: `idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))`. */
export const bm25Term = (idf: number, tf: number, length: number, averageLength: number): number => {
  const { b, k1 } = Bm25Parameters
  return (idf * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * length) / averageLength))
}

/** A search field's statistics over the searched chunks: where it is not empty, and its total length. */
export interface FieldStatistics {
  readonly documents: number
  readonly totalLength: number
}

/** Per search field (in `searchFields` order), the statistics of counted chunks. */
export const fieldStatistics = (corpus: ReadonlyArray<ReadonlyArray<FieldCounts>>): Array<FieldStatistics> =>
  searchFields.map((_, f) => {
    let documents = 0
    let totalLength = 0
    for (const fields of corpus) {
      const { length } = fields[f]!
      if (length === 0) continue
      documents++
      totalLength += length
    }
    return { documents, totalLength }
  })

/** Per search field and query token, how many of the counted chunks hold the token in the field. */
export const documentFrequencies = (
  corpus: ReadonlyArray<ReadonlyArray<FieldCounts>>,
  tokens: ReadonlyArray<WeightedToken>
): (field: number, token: string) => number => {
  const frequencies = searchFields.map(() => new Map<string, number>())
  for (const fields of corpus) {
    fields.forEach(({ counts }, f) => {
      for (const { token } of tokens) {
        if (counts.has(token)) frequencies[f]!.set(token, (frequencies[f]!.get(token) ?? 0) + 1)
      }
    })
  }
  return (field, token) => frequencies[field]!.get(token) ?? 0
}

/** One term of a query's BM25 sum: a search field and a query token that some searched chunk holds. */
export interface Term {
  /** The search field's number (its index in `searchFields`). */
  readonly field: number
  readonly token: string
  /** The query token's weight times the field's weight. */
  readonly weight: number
  readonly idf: number
  readonly averageLength: number
}

/**
 * The terms of a query, in the order their scores are summed: per search field in order, per query
 * token in order; a (field, token) that no searched chunk holds has no term.
 */
export const queryTerms = (
  tokens: ReadonlyArray<WeightedToken>,
  statistics: ReadonlyArray<FieldStatistics>,
  documentFrequency: (field: number, token: string) => number
): Array<Term> =>
  searchFields.flatMap((field, f) => {
    const { documents, totalLength } = statistics[f]!
    const averageLength = totalLength / Math.max(documents, 1)
    return tokens.flatMap(({ token, weight }): Array<Term> => {
      const df = documentFrequency(f, token)
      if (df === 0) return []
      const termWeight = weight * SearchFieldWeights[field]
      return [{ field: f, token, weight: termWeight, idf: bm25Idf(documents, df), averageLength }]
    })
  })

/**
 * A candidate's BM25 score: the scores of the terms it holds, added in term order. `tf[tfBase + i]`
 * is its frequency of term `i` (0 when it does not hold it), `lengths[lengthBase + f]` its length of
 * field `f`; flat arrays, so that an index scoring many candidates keeps them in typed arrays.
 */
export const score = (
  terms: ReadonlyArray<Term>,
  tf: ArrayLike<number>,
  tfBase: number,
  lengths: ArrayLike<number>,
  lengthBase: number
): number => {
  let sum = 0
  for (let i = 0; i < terms.length; i++) {
    const n = tf[tfBase + i]!
    if (n === 0) continue
    const term = terms[i]!
    sum += term.weight * bm25Term(term.idf, n, lengths[lengthBase + term.field]!, term.averageLength)
  }
  return sum
}

/** `score` of chunks whose fields are counted (`FieldCounts`, in `searchFields` order). */
export const countedScorer = (terms: ReadonlyArray<Term>): (fields: ReadonlyArray<FieldCounts>) => number => {
  const tf = new Float64Array(terms.length)
  const lengths = new Float64Array(searchFields.length)
  return (fields) => {
    for (let f = 0; f < lengths.length; f++) lengths[f] = fields[f]!.length
    for (let i = 0; i < terms.length; i++) tf[i] = fields[terms[i]!.field]!.counts.get(terms[i]!.token) ?? 0
    return score(terms, tf, 0, lengths, 0)
  }
}

// --- Filters ------------------------------------------------------------------------------------

const asNumber = (value: unknown): number | undefined => {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined
  if (typeof value === "string" && value.trim() !== "") {
    const n = Number(value)
    return Number.isFinite(n) ? n : undefined
  }
  return undefined
}

const asText = (value: unknown): string =>
  typeof value === "string" ? value : typeof value === "object" && value !== null ? JSON.stringify(value) : String(value)

const compare = (a: unknown, b: unknown): number => {
  const na = asNumber(a)
  const nb = asNumber(b)
  if (na !== undefined && nb !== undefined) return na - nb
  const sa = asText(a)
  const sb = asText(b)
  return sa < sb ? -1 : sa > sb ? 1 : 0
}

const lower = (value: unknown) => asText(value).toLowerCase()

/** Whether a chunk's metadata satisfies one condition. */
export const matchesCondition = (
  metadata: Readonly<Record<string, unknown>>,
  condition: MetadataCondition
): boolean => {
  const raw = Object.prototype.hasOwnProperty.call(metadata, condition.key) ? metadata[condition.key] : undefined
  const values: ReadonlyArray<unknown> = raw === undefined || raw === null ? [] : Array.isArray(raw) ? raw : [raw]
  const operand = condition.value
  const any = (p: (value: unknown) => boolean) => values.some(p)
  const operands: ReadonlyArray<unknown> = Array.isArray(operand) ? operand : [operand]
  switch (condition.op) {
    case "eq":
      return any((v) => compare(v, operand) === 0)
    case "ne":
      return !any((v) => compare(v, operand) === 0)
    case "gt":
      return any((v) => compare(v, operand) > 0)
    case "gte":
      return any((v) => compare(v, operand) >= 0)
    case "lt":
      return any((v) => compare(v, operand) < 0)
    case "lte":
      return any((v) => compare(v, operand) <= 0)
    case "in":
      return any((v) => operands.some((o) => compare(v, o) === 0))
    case "not_in":
      return !any((v) => operands.some((o) => compare(v, o) === 0))
    case "contains":
      return any((v) => lower(v).includes(lower(operand)))
    case "not_contains":
      return !any((v) => lower(v).includes(lower(operand)))
    case "starts_with":
      return any((v) => lower(v).startsWith(lower(operand)))
    case "ends_with":
      return any((v) => lower(v).endsWith(lower(operand)))
    case "empty":
      return values.every((v) => asText(v).trim() === "")
    case "not_empty":
      return !values.every((v) => asText(v).trim() === "")
  }
}

/** What a filter looks at: a chunk, or the columns of a stored row that hold these fields. */
export interface Filterable {
  readonly available: boolean
  readonly doc_id: string
  readonly metadata: Readonly<Record<string, unknown>>
}

/** Whether a chunk passes a resolved search filter. */
export const matchesFilter = (chunk: Filterable, filter: ResolvedFilter): boolean => {
  if (chunk.available !== filter.available) return false
  if (filter.docIds !== undefined && !(filter.docIds as ReadonlyArray<string>).includes(chunk.doc_id)) return false
  const conditions = filter.metadata ?? []
  if (conditions.length === 0) return true
  return filter.metadataLogic === "or"
    ? conditions.some((c) => matchesCondition(chunk.metadata, c))
    : conditions.every((c) => matchesCondition(chunk.metadata, c))
}

// --- Vectors ------------------------------------------------------------------------------------

/** Cosine similarity; 0 when either vector is all zeros. */
export const cosineSimilarity = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): number => {
  let dot = 0
  let na = 0
  let nb = 0
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!
    const y = b[i]!
    dot += x * y
    na += x * x
    nb += y * y
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb)
}

/**
 * The chunks that have a vector of the query's dimension, scored by cosine similarity in float64
 * (whatever precision the index stores), those reaching `minSimilarity`; unsorted.
 */
export const vectorScores = <C extends { readonly vector?: ReadonlyArray<number> | undefined } = Chunk>(
  chunks: Iterable<C>,
  query: { readonly vector: ReadonlyArray<number>; readonly minSimilarity: number }
): Array<{ readonly chunk: C; readonly score: number }> => {
  const results: Array<{ readonly chunk: C; readonly score: number }> = []
  for (const chunk of chunks) {
    if (chunk.vector === undefined || chunk.vector.length !== query.vector.length) continue
    const score = cosineSimilarity(query.vector, chunk.vector)
    if (score >= query.minSimilarity) results.push({ chunk, score })
  }
  return results
}

// --- Order --------------------------------------------------------------------------------------

const compareIds = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/** A search result, or what a store knows of one before it reads the chunk. */
export interface Ranked {
  readonly score: number
  readonly chunk: { readonly id: string }
}

/** The order of search results: best score first, equal scores by chunk id. */
export const byScoreThenId = (a: Ranked, b: Ranked): number => b.score - a.score || compareIds(a.chunk.id, b.chunk.id)

/** The order of a document's chunks in a listing. */
export const byIndexThenId = (a: Chunk, b: Chunk): number => a.index - b.index || compareIds(a.id, b.id)

/** The first `limit` results in `byScoreThenId` order (sorts `results`). */
export const best = <A extends Ranked>(results: Array<A>, limit: number): Array<A> =>
  results.sort(byScoreThenId).slice(0, limit)
