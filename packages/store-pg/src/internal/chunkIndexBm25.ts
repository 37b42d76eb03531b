/**
 * The BM25 statistics of a text search, read from the side tables
 * (`migrations/0004_chunk_index_statistics.ts`): per knowledge base and field the number of chunks
 * where the field is not empty and the sum of its lengths, per token and field its document
 * frequency, summed over the searched knowledge bases. What is done with them (the query's terms,
 * their idfs and average lengths) is core's `ChunkIndexScoring.queryTerms`, as in every index.
 */
import { ChunkIndexScoring } from "@ragkit/core"
import type { ChunkIndex } from "@ragkit/core"

/**
 * The statistics of the knowledge bases `$1` for the tokens `$2`, in one row: per field (columns
 * follow `ChunkIndexScoring.searchFields`) the number of chunks where it is not empty and the sum of
 * its lengths, the document frequencies of the tokens that occur (`frequencies`, JSON), and whether
 * any of them has rows in its text-search tail (`tails`).
 */
export const statsQuery = `SELECT
  coalesce(sum(n0), 0)::float8 AS n0, coalesce(sum(l0), 0)::float8 AS l0,
  coalesce(sum(n1), 0)::float8 AS n1, coalesce(sum(l1), 0)::float8 AS l1,
  coalesce(sum(n2), 0)::float8 AS n2, coalesce(sum(l2), 0)::float8 AS l2,
  coalesce(sum(n3), 0)::float8 AS n3, coalesce(sum(l3), 0)::float8 AS l3,
  (SELECT coalesce(json_agg(f), '[]') FROM (
    SELECT token, sum(df0)::float8 AS df0, sum(df1)::float8 AS df1, sum(df2)::float8 AS df2, sum(df3)::float8 AS df3
    FROM chunk_token_stats WHERE kb_id = ANY($1::text[]) AND token = ANY($2::text[]) GROUP BY token
  ) f) AS frequencies,
  EXISTS (SELECT 1 FROM chunk_ords WHERE kb_id = ANY($1::text[]) AND next_ord > indexed_ord) AS tails
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
  readonly tails?: boolean
}

/** The terms of a search over the knowledge bases with these statistics. */
export const queryTerms = (
  stats: StatsRow,
  tokens: ReadonlyArray<ChunkIndex.WeightedToken>
): Array<ChunkIndexScoring.Term> => {
  const byToken = new Map(stats.frequencies.map((row) => [row.token, [row.df0, row.df1, row.df2, row.df3]] as const))
  return ChunkIndexScoring.queryTerms(
    tokens,
    [
      { documents: stats.n0, totalLength: stats.l0 },
      { documents: stats.n1, totalLength: stats.l1 },
      { documents: stats.n2, totalLength: stats.l2 },
      { documents: stats.n3, totalLength: stats.l3 }
    ],
    (field, token) => byToken.get(token)?.[field] ?? 0
  )
}
