/**
 * BM25 with the memory index's statistics and arithmetic (`ChunkIndex.makeMemory`), so both give the
 * same scores, to the bit.
 *
 * Postgres does the counting: per knowledge base and field the number of chunks where the field is
 * not empty and the sum of its lengths (one pass over four integer columns), and per candidate (a
 * chunk with a query token in a search field, found through the GIN index on `search_tokens`) the
 * field lengths and each query token's frequency in each field. Document frequencies are counted
 * over all candidates, fetched without filters for that reason; the sums are done here, in the
 * memory index's order.
 */
import { ChunkIndex } from "@ragkit/core"

export const searchFields = Object.keys(ChunkIndex.SearchFieldWeights) as ReadonlyArray<ChunkIndex.SearchField>

/** The statistics query: `$1` the knowledge bases. Columns follow `searchFields`. */
export const statsQuery = `SELECT
  count(*) FILTER (WHERE content_len > 0)::float8 AS n0, coalesce(sum(content_len), 0)::float8 AS l0,
  count(*) FILTER (WHERE title_len > 0)::float8 AS n1, coalesce(sum(title_len), 0)::float8 AS l1,
  count(*) FILTER (WHERE keyword_len > 0)::float8 AS n2, coalesce(sum(keyword_len), 0)::float8 AS l2,
  count(*) FILTER (WHERE question_len > 0)::float8 AS n3, coalesce(sum(question_len), 0)::float8 AS l3
FROM chunk WHERE kb_id = ANY($1::text[])`

export interface StatsRow {
  readonly n0: number
  readonly l0: number
  readonly n1: number
  readonly l1: number
  readonly n2: number
  readonly l2: number
  readonly n3: number
  readonly l3: number
}

const tf = (column: string) =>
  `ARRAY(SELECT coalesce(cardinality(array_positions(${column}, q.t)), 0) ` +
  `FROM unnest($2::text[]) WITH ORDINALITY AS q(t, i) ORDER BY q.i) `

/**
 * The candidates: `$1` the knowledge bases, `$2` the query tokens, `$3` availability, `$4` the
 * document ids (when `withDocIds`). `keep` says whether the candidate passes those filters.
 */
export const candidatesQuery = (withDocIds: boolean): string =>
  `SELECT kb_id, id, (available = $3${withDocIds ? " AND doc_id = ANY($4::text[])" : ""}) AS keep,
  content_len AS l0, title_len AS l1, keyword_len AS l2, question_len AS l3,
  ${tf("content_tokens")} AS f0, ${tf("title_tokens")} AS f1, ${tf("keyword_tokens")} AS f2, ${tf("question_tokens")} AS f3
FROM chunk WHERE kb_id = ANY($1::text[]) AND search_tokens && $2::text[]`

export interface CandidateRow {
  readonly kb_id: string
  readonly id: string
  readonly keep: boolean
  readonly l0: number
  readonly l1: number
  readonly l2: number
  readonly l3: number
  readonly f0: ReadonlyArray<number>
  readonly f1: ReadonlyArray<number>
  readonly f2: ReadonlyArray<number>
  readonly f3: ReadonlyArray<number>
}

export interface Scored {
  readonly kbId: string
  readonly id: string
  readonly score: number
}

const lengthsOf = (c: CandidateRow) => [c.l0, c.l1, c.l2, c.l3] as const
const frequenciesOf = (c: CandidateRow) => [c.f0, c.f1, c.f2, c.f3] as const

/** Scores the kept candidates; best first (ties by id), positive scores only. */
export const score = (
  stats: StatsRow,
  candidates: ReadonlyArray<CandidateRow>,
  tokens: ReadonlyArray<ChunkIndex.WeightedToken>
): Array<Scored> => {
  const documents = [stats.n0, stats.n1, stats.n2, stats.n3]
  const totals = [stats.l0, stats.l1, stats.l2, stats.l3]
  const fieldStats = searchFields.map((field, f) => {
    const frequency = tokens.map(() => 0)
    for (const candidate of candidates) {
      if (lengthsOf(candidate)[f] === 0) continue
      const counts = frequenciesOf(candidate)[f]
      for (let t = 0; t < tokens.length; t++) if (counts[t]! > 0) frequency[t]!++
    }
    return {
      weight: ChunkIndex.SearchFieldWeights[field],
      idf: frequency.map((df) => ChunkIndex.bm25Idf(documents[f]!, df)),
      averageLength: totals[f]! / Math.max(documents[f]!, 1)
    }
  })
  const results: Array<Scored> = []
  for (const candidate of candidates) {
    if (!candidate.keep) continue
    const lengths = lengthsOf(candidate)
    const frequencies = frequenciesOf(candidate)
    let total = 0
    for (let f = 0; f < fieldStats.length; f++) {
      const { averageLength, idf, weight } = fieldStats[f]!
      const length = lengths[f]!
      if (length === 0) continue
      for (let t = 0; t < tokens.length; t++) {
        const count = frequencies[f]![t]!
        if (count === 0) continue
        total += tokens[t]!.weight * weight * ChunkIndex.bm25Term(idf[t]!, count, length, averageLength)
      }
    }
    if (total > 0) results.push({ kbId: candidate.kb_id, id: candidate.id, score: total })
  }
  return results.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}
