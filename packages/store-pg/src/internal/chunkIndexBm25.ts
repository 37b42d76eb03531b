/**
 * BM25 with the memory index's statistics and arithmetic (`ChunkIndex.makeMemory`), so both give the
 * same scores, to the bit.
 *
 * The statistics come from the side tables (`migrations/0004_chunk_index_statistics.ts`): per
 * knowledge base and field the number of chunks where the field is not empty and the sum of its
 * lengths, per token and field its document frequency, summed over the searched knowledge bases.
 * The idfs and average lengths are computed here, with core's functions; Postgres then scores the
 * candidates (chunks with a query token in a search field, found through the GIN index on
 * `search_tokens`, that pass the knowledge base, availability and document filters) with the same
 * IEEE double operations in the same order as `bm25Term` and the memory index's sum, and returns only
 * the best page. A term whose token is absent from a field (tf 0) adds exactly +0, so terms are not
 * skipped as the memory index skips them; terms of a token no chunk holds in that field are left out.
 */
import { ChunkIndex } from "@ragkit/core"

export const searchFields = Object.keys(ChunkIndex.SearchFieldWeights) as ReadonlyArray<ChunkIndex.SearchField>

/** The stored token lists and lengths of the search fields, in the order of `searchFields`. */
const tokenColumns = ["content_tokens", "title_tokens", "keyword_tokens", "question_tokens"] as const
const lengthColumns = ["content_len", "title_len", "keyword_len", "question_len"] as const

/** Field statistics of the knowledge bases `$1`; columns follow `searchFields`. */
export const statsQuery = `SELECT
  coalesce(sum(n0), 0)::float8 AS n0, coalesce(sum(l0), 0)::float8 AS l0,
  coalesce(sum(n1), 0)::float8 AS n1, coalesce(sum(l1), 0)::float8 AS l1,
  coalesce(sum(n2), 0)::float8 AS n2, coalesce(sum(l2), 0)::float8 AS l2,
  coalesce(sum(n3), 0)::float8 AS n3, coalesce(sum(l3), 0)::float8 AS l3
FROM chunk_kb_stats WHERE kb_id = ANY($1::text[])`

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

/** Document frequencies of the tokens `$2` in the knowledge bases `$1`. */
export const frequencyQuery = `SELECT token,
  sum(df0)::float8 AS df0, sum(df1)::float8 AS df1, sum(df2)::float8 AS df2, sum(df3)::float8 AS df3
FROM chunk_token_stats WHERE kb_id = ANY($1::text[]) AND token = ANY($2::text[]) GROUP BY token`

export interface FrequencyRow {
  readonly token: string
  readonly df0: number
  readonly df1: number
  readonly df2: number
  readonly df3: number
}

/** A float8 literal that reads back as exactly this double. */
const float = (x: number): string => {
  if (!Number.isFinite(x)) throw new Error(`BM25: non-finite constant ${x}`)
  return `'${String(x)}'::float8`
}

export interface ScoreQuery {
  /** The query: `$1` the knowledge bases, `$2` the query tokens, `$3` availability, `$4` limit, `$5` offset, `$6` the document ids. */
  readonly text: string
  /** The tokens with at least one term (`$2`). */
  readonly tokens: ReadonlyArray<string>
}

/**
 * The scoring query, `undefined` when no query token occurs in the knowledge bases. Rows: the
 * chunk's columns (`select`) and `score`, best first, ties by id.
 */
export const scoreQuery = (
  stats: StatsRow,
  frequencies: ReadonlyArray<FrequencyRow>,
  tokens: ReadonlyArray<ChunkIndex.WeightedToken>,
  options: { readonly select: string; readonly withDocIds: boolean }
): ScoreQuery | undefined => {
  const documents = [stats.n0, stats.n1, stats.n2, stats.n3]
  const totals = [stats.l0, stats.l1, stats.l2, stats.l3]
  const byToken = new Map(frequencies.map((row) => [row.token, [row.df0, row.df1, row.df2, row.df3]] as const))
  const { b, k1 } = ChunkIndex.Bm25Parameters
  const used: Array<string> = []
  const param = (token: string) => {
    let i = used.indexOf(token)
    if (i < 0) i = used.push(token) - 1
    return `($2::text[])[${i + 1}]`
  }
  const terms: Array<string> = []
  searchFields.forEach((field, f) => {
    const averageLength = totals[f]! / Math.max(documents[f]!, 1)
    for (const { token, weight } of tokens) {
      const df = byToken.get(token)?.[f] ?? 0
      if (df === 0) continue
      const idf = ChunkIndex.bm25Idf(documents[f]!, df)
      const tf = `cardinality(array_positions(${tokenColumns[f]}, ${param(token)}))::float8`
      // bm25Term: (idf * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * length) / averageLength))
      const term = `((${float(idf)} * ${tf}) * ${float(k1 + 1)}) / (${tf} + ${float(k1)} * (${float(1 - b)} + ` +
        `(${float(b)} * ${lengthColumns[f]}::float8) / ${float(averageLength)}))`
      // the memory index: score += tokenWeight * fieldWeight * bm25Term(...)
      terms.push(`${float(weight * ChunkIndex.SearchFieldWeights[field])} * (${term})`)
    }
  })
  if (terms.length === 0) return undefined
  const score = `(${["'0'::float8", ...terms].join("\n    + ")})`
  const filters = `kb_id = ANY($1::text[]) AND search_tokens && $2::text[] AND available = $3` +
    (options.withDocIds ? ` AND doc_id = ANY($6::text[])` : "")
  return {
    text: `SELECT ${options.select}, s.score FROM (
  SELECT kb_id, id, ${score} AS score
  FROM chunk WHERE ${filters}
  ORDER BY score DESC, id LIMIT $4 OFFSET $5
) s JOIN chunk c USING (kb_id, id) WHERE s.score > 0 ORDER BY s.score DESC, s.id`,
    tokens: used
  }
}
