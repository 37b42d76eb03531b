/**
 * BM25 with the memory index's statistics and arithmetic (`ChunkIndex.makeMemory`), so both give the
 * same scores, to the bit.
 *
 * The statistics come from the side tables (`migrations/0004_chunk_index_statistics.ts`): per
 * knowledge base and field the number of chunks where the field is not empty and the sum of its
 * lengths, per token and field its document frequency, summed over the searched knowledge bases.
 * The idfs and average lengths are computed here, with core's functions (`queryTerms`); the
 * postings (`chunkIndexPostings.ts`) give each candidate's term frequencies and field lengths, and
 * `PgChunkIndex` sums `weight * bm25Term(...)` over the terms in the memory index's order.
 */
import { ChunkIndex } from "@ragkit/core"

export const searchFields = Object.keys(ChunkIndex.SearchFieldWeights) as ReadonlyArray<ChunkIndex.SearchField>

/**
 * The statistics of the knowledge bases `$1` for the tokens `$2`, in one row: per field (columns
 * follow `searchFields`) the number of chunks where it is not empty and the sum of its lengths, and
 * the document frequencies of the tokens that occur (`frequencies`, JSON).
 */
export const statsQuery = `SELECT
  coalesce(sum(n0), 0)::float8 AS n0, coalesce(sum(l0), 0)::float8 AS l0,
  coalesce(sum(n1), 0)::float8 AS n1, coalesce(sum(l1), 0)::float8 AS l1,
  coalesce(sum(n2), 0)::float8 AS n2, coalesce(sum(l2), 0)::float8 AS l2,
  coalesce(sum(n3), 0)::float8 AS n3, coalesce(sum(l3), 0)::float8 AS l3,
  (SELECT coalesce(json_agg(f), '[]') FROM (
    SELECT token, sum(df0)::float8 AS df0, sum(df1)::float8 AS df1, sum(df2)::float8 AS df2, sum(df3)::float8 AS df3
    FROM chunk_token_stats WHERE kb_id = ANY($1::text[]) AND token = ANY($2::text[]) GROUP BY token
  ) f) AS frequencies
FROM chunk_kb_stats WHERE kb_id = ANY($1::text[])`

export interface FrequencyRow {
  readonly token: string
  readonly df0: number
  readonly df1: number
  readonly df2: number
  readonly df3: number
}

export interface StatsRow {
  readonly n0: number
  readonly l0: number
  readonly n1: number
  readonly l1: number
  readonly n2: number
  readonly l2: number
  readonly n3: number
  readonly l3: number
  readonly frequencies: ReadonlyArray<FrequencyRow>
}

/**
 * One (field, query token) pair of a search whose token occurs in the field somewhere in the
 * knowledge bases, in the memory index's order of summing (fields in order, then the query's tokens
 * in order; a token given twice is two terms).
 */
export interface Term {
  readonly field: number
  readonly token: string
  /** The query token's weight times the field's weight. */
  readonly weight: number
  readonly idf: number
  readonly averageLength: number
}

/** The terms of a search over the knowledge bases with these statistics. */
export const queryTerms = (stats: StatsRow, tokens: ReadonlyArray<ChunkIndex.WeightedToken>): Array<Term> => {
  const documents = [stats.n0, stats.n1, stats.n2, stats.n3]
  const totals = [stats.l0, stats.l1, stats.l2, stats.l3]
  const byToken = new Map(stats.frequencies.map((row) => [row.token, row] as const))
  return searchFields.flatMap((field, f) =>
    tokens.flatMap(({ token, weight }) => {
      const row = byToken.get(token)
      const df = row === undefined ? 0 : [row.df0, row.df1, row.df2, row.df3][f]!
      if (df === 0) return []
      return [{
        field: f,
        token,
        weight: weight * ChunkIndex.SearchFieldWeights[field],
        idf: ChunkIndex.bm25Idf(documents[f]!, df),
        averageLength: totals[f]! / Math.max(documents[f]!, 1)
      }]
    })
  )
}
