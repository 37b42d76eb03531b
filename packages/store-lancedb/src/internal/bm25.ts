/**
 * BM25 computed in process, with the same statistics and arithmetic as the memory index
 * (`ChunkIndex.makeMemory`), so that both give the same scores.
 *
 * LanceDB's full-text index only finds the candidates: every row with a query token in one of the
 * search fields. Its own BM25 cannot be used: it scores one column at a time with statistics of its
 * index segments (rows deleted or not yet indexed are counted differently), cannot sum weighted
 * fields, and knows nothing of the other knowledge bases searched together.
 *
 * Statistics, as Lucene and the memory index take them (over all chunks of the searched knowledge
 * bases, before filters):
 * - per field, the number of rows where it is not empty and the sum of its lengths: a scan of four
 *   Int32 columns, cached per table version;
 * - per field and query token, the document frequency: counted over the candidates, which hold
 *   every row that contains a query token (fetched without filters for that reason).
 */
import { ChunkIndex } from "@ragkit/core"
import { searchFields } from "./rows.js"

export interface FieldStats {
  readonly documents: number
  readonly totalLength: number
}

export type CorpusStats = Readonly<Record<ChunkIndex.SearchField, FieldStats>>

export const emptyStats: CorpusStats = {
  content_ltks: { documents: 0, totalLength: 0 },
  title_tks: { documents: 0, totalLength: 0 },
  important_keywords: { documents: 0, totalLength: 0 },
  questions: { documents: 0, totalLength: 0 }
}

export const addStats = (a: CorpusStats, b: CorpusStats): CorpusStats => {
  const sum = (field: ChunkIndex.SearchField): FieldStats => ({
    documents: a[field].documents + b[field].documents,
    totalLength: a[field].totalLength + b[field].totalLength
  })
  return {
    content_ltks: sum("content_ltks"),
    title_tks: sum("title_tks"),
    important_keywords: sum("important_keywords"),
    questions: sum("questions")
  }
}

export interface FieldCounts {
  readonly length: number
  readonly counts: ReadonlyMap<string, number>
}

export const countTokens = (tokens: ReadonlyArray<string>): FieldCounts => {
  const counts = new Map<string, number>()
  for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1)
  return { length: tokens.length, counts }
}

export interface Candidate {
  readonly fields: Readonly<Record<ChunkIndex.SearchField, FieldCounts>>
}

/** Document frequency of each query token, per search field. */
export type DocumentFrequencies = Readonly<Record<ChunkIndex.SearchField, ReadonlyMap<string, number>>>

/** Document frequencies counted over candidates that hold every row with a query token. */
export const countFrequencies = (
  candidates: ReadonlyArray<Candidate>,
  tokens: ReadonlyArray<ChunkIndex.WeightedToken>
): DocumentFrequencies => {
  const count = (field: ChunkIndex.SearchField) => {
    const frequency = new Map<string, number>()
    for (const candidate of candidates) {
      const counts = candidate.fields[field]
      if (counts.length === 0) continue
      for (const { token } of tokens) {
        if (counts.counts.has(token)) frequency.set(token, (frequency.get(token) ?? 0) + 1)
      }
    }
    return frequency
  }
  return {
    content_ltks: count("content_ltks"),
    title_tks: count("title_tks"),
    important_keywords: count("important_keywords"),
    questions: count("questions")
  }
}

/**
 * The BM25 score of a candidate, summed in the memory index's order (fields in
 * `SearchFieldWeights` order, then query tokens in order), so that the floating-point result is the
 * same to the last bit.
 */
export const scorer = (
  stats: CorpusStats,
  frequencies: DocumentFrequencies,
  tokens: ReadonlyArray<ChunkIndex.WeightedToken>
): (candidate: Candidate) => number => {
  const fieldStats = searchFields.map((field) => {
    const { documents, totalLength } = stats[field]
    const idf = new Map(
      [...frequencies[field]].map(([token, df]) => [token, ChunkIndex.bm25Idf(documents, df)] as const)
    )
    return {
      field,
      weight: ChunkIndex.SearchFieldWeights[field],
      idf,
      averageLength: totalLength / Math.max(documents, 1)
    }
  })
  return (candidate) => {
    let score = 0
    for (const { averageLength, field, idf, weight } of fieldStats) {
      const counts = candidate.fields[field]
      if (counts.length === 0) continue
      for (const { token, weight: tokenWeight } of tokens) {
        const tf = counts.counts.get(token)
        if (tf === undefined) continue
        score += tokenWeight * weight * ChunkIndex.bm25Term(idf.get(token)!, tf, counts.length, averageLength)
      }
    }
    return score
  }
}

/**
 * Scores the candidates that pass `keep`; document frequencies are counted over all candidates.
 * Returns the positive scores, unsorted.
 */
export const scoreCandidates = <C extends Candidate>(
  stats: CorpusStats,
  candidates: ReadonlyArray<C>,
  tokens: ReadonlyArray<ChunkIndex.WeightedToken>,
  keep: (candidate: C) => boolean
): Array<{ readonly candidate: C; readonly score: number }> => {
  const score = scorer(stats, countFrequencies(candidates, tokens), tokens)
  const results: Array<{ readonly candidate: C; readonly score: number }> = []
  for (const candidate of candidates) {
    if (!keep(candidate)) continue
    const value = score(candidate)
    if (value > 0) results.push({ candidate, score: value })
  }
  return results
}

/**
 * One term of the memory index's sum for a query: a search field and a query token (in the order
 * the memory index adds them: fields in `SearchFieldWeights` order, then query tokens in order), with
 * the pair of `Postings` it reads; tokens no row holds in that field have no term.
 */
export interface Term {
  readonly field: number
  readonly pair: number
  /** The token's weight times the field's weight. */
  readonly coefficient: number
  readonly idf: number
  readonly averageLength: number
}

export const terms = (
  stats: CorpusStats,
  frequencies: DocumentFrequencies,
  tokens: ReadonlyArray<ChunkIndex.WeightedToken>,
  pairOf: (field: number, token: string) => number
): Array<Term> =>
  searchFields.flatMap((field, f) => {
    const { documents, totalLength } = stats[field]
    const averageLength = totalLength / Math.max(documents, 1)
    return tokens.flatMap(({ token, weight }): Array<Term> => {
      const df = frequencies[field].get(token)
      const pair = pairOf(f, token)
      if (df === undefined || pair < 0) return []
      return [{
        field: f,
        pair,
        coefficient: weight * ChunkIndex.SearchFieldWeights[field],
        idf: ChunkIndex.bm25Idf(documents, df),
        averageLength
      }]
    })
  })

/**
 * The BM25 score of a candidate from its term frequencies by pair (`tf[tfBase + pair]`, 0 when it
 * does not hold the pair) and its field lengths (`lengths[lengthBase + field]`): the memory index's
 * operations, in its order, so the result is the same to the last bit.
 */
export const scoreOf = (
  terms: ReadonlyArray<Term>,
  tf: ArrayLike<number>,
  tfBase: number,
  lengths: ArrayLike<number>,
  lengthBase: number
): number => {
  let score = 0
  for (let i = 0; i < terms.length; i++) {
    const term = terms[i]!
    const n = tf[tfBase + term.pair]!
    if (n === 0) continue
    score += term.coefficient * ChunkIndex.bm25Term(term.idf, n, lengths[lengthBase + term.field]!, term.averageLength)
  }
  return score
}
