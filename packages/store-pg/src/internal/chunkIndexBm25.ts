/**
 * BM25 with the memory index's statistics and arithmetic (`ChunkIndex.makeMemory`), so both give the
 * same scores, to the bit.
 *
 * The statistics come from the side tables (`migrations/0004_chunk_index_statistics.ts`): per
 * knowledge base and field the number of chunks where the field is not empty and the sum of its
 * lengths, per token and field its document frequency, summed over the searched knowledge bases.
 * The idfs and average lengths are computed here, with core's functions; Postgres then scores the
 * candidates (chunks with a query token in a search field, found through the GIN index on
 * `term_keys`, that pass the knowledge base, availability and document filters) with the same
 * IEEE double operations in the same order as `bm25Term` and the memory index's sum, and returns only
 * the best page. A term whose token is absent from a field (tf 0) adds exactly +0, so terms are not
 * skipped as the memory index skips them; terms of a token no chunk holds in that field are left out.
 */
import { ChunkIndex } from "@ragkit/core"
import { termKey } from "./chunkIndexStats.js"

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
    SELECT token, sum(df0)::float8 AS df0, sum(df1)::float8 AS df1, sum(df2)::float8 AS df2, sum(df3)::float8 AS df3,
      max(mx0) AS mx0, max(mx1) AS mx1, max(mx2) AS mx2, max(mx3) AS mx3
    FROM chunk_token_stats WHERE kb_id = ANY($1::text[]) AND token = ANY($2::text[]) GROUP BY token
  ) f) AS frequencies
FROM chunk_kb_stats WHERE kb_id = ANY($1::text[])`

export interface FrequencyRow {
  readonly token: string
  readonly df0: number
  readonly df1: number
  readonly df2: number
  readonly df3: number
  readonly mx0: number
  readonly mx1: number
  readonly mx2: number
  readonly mx3: number
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

/** A float8 literal that reads back as exactly this double. */
const float = (x: number): string => {
  if (!Number.isFinite(x)) throw new Error(`BM25: non-finite constant ${x}`)
  return `'${String(x)}'::float8`
}

export interface ScoreQuery {
  /**
   * The query: `$1` the knowledge bases, `$2` the term keys to probe, `$3` the term of each key,
   * `$4` its count, `$5` availability, `$6` limit, `$7` offset, `$8` the document ids.
   */
  readonly text: string
  readonly keys: ReadonlyArray<string>
  readonly terms: ReadonlyArray<number>
  readonly counts: ReadonlyArray<number>
}

/**
 * The scoring query, `undefined` when no query token occurs in the knowledge bases. Rows: the
 * chunk's columns (`select`) and `score`, best first, ties by id.
 *
 * A term is a (field, token) pair that occurs in the knowledge bases. Its keys `<field>:<count>
 * <token>` for every count up to the token's largest are probed in the GIN index on `term_keys`, one
 * index scan per key (the lateral subquery, kept apart by `OFFSET 0`, is what makes the planner probe
 * the index per key rather than scan the table); a chunk matches at most one key per term, which
 * gives its term frequency. The matches are grouped by row (`ctid`, hashed; within one snapshot it
 * names one row version), not by the text key, whose sort cost as much as the probes.
 */
export const scoreQuery = (
  stats: StatsRow,
  tokens: ReadonlyArray<ChunkIndex.WeightedToken>,
  options: { readonly select: string; readonly withDocIds: boolean }
): ScoreQuery | undefined => {
  const documents = [stats.n0, stats.n1, stats.n2, stats.n3]
  const totals = [stats.l0, stats.l1, stats.l2, stats.l3]
  const byToken = new Map(stats.frequencies.map((row) => [row.token, row] as const))
  const { b, k1 } = ChunkIndex.Bm25Parameters
  const keys: Array<string> = []
  const terms: Array<number> = []
  const counts: Array<number> = []
  const columns: Array<string> = []
  const sum: Array<string> = []
  searchFields.forEach((field, f) => {
    const averageLength = totals[f]! / Math.max(documents[f]!, 1)
    for (const { token, weight } of tokens) {
      const row = byToken.get(token)
      const df = row === undefined ? 0 : [row.df0, row.df1, row.df2, row.df3][f]!
      if (df === 0) continue
      const largest = [row!.mx0, row!.mx1, row!.mx2, row!.mx3][f]!
      const term = columns.length
      for (let count = 1; count <= largest; count++) {
        keys.push(termKey(f, count, token))
        terms.push(term)
        counts.push(count)
      }
      columns.push(`coalesce(max(k.tf) FILTER (WHERE k.term = ${term}), 0) AS t${term}`)
      const idf = ChunkIndex.bm25Idf(documents[f]!, df)
      const tf = `t${term}`
      // bm25Term: (idf * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * length) / averageLength))
      const bm25 = `((${float(idf)} * ${tf}) * ${float(k1 + 1)}) / (${tf} + ${float(k1)} * (${float(1 - b)} + ` +
        `(${float(b)} * l${f}) / ${float(averageLength)}))`
      // the memory index: score += tokenWeight * fieldWeight * bm25Term(...)
      sum.push(`${float(weight * ChunkIndex.SearchFieldWeights[field])} * (${bm25})`)
    }
  })
  if (sum.length === 0) return undefined
  const score = `(${["'0'::float8", ...sum].join("\n      + ")})`
  const filters = `c.kb_id = ANY($1::text[]) AND c.available = $5` +
    (options.withDocIds ? ` AND c.doc_id = ANY($8::text[])` : "")
  return {
    text: `SELECT ${options.select}, s.score FROM (
  SELECT kb_id, id, ${score} AS score FROM (
    SELECT min(c.kb_id) AS kb_id, min(c.id) AS id,
      min(c.content_len)::float8 AS l0, min(c.title_len)::float8 AS l1,
      min(c.keyword_len)::float8 AS l2, min(c.question_len)::float8 AS l3,
      ${columns.join(",\n      ")}
    FROM unnest($2::text[], $3::int[], $4::float8[]) AS k(key, term, tf)
    CROSS JOIN LATERAL (
      SELECT ctid, kb_id, id, content_len, title_len, keyword_len, question_len FROM chunk c
      WHERE c.term_keys @> ARRAY[k.key] AND ${filters}
      OFFSET 0
    ) c
    GROUP BY c.ctid
  ) g
  ORDER BY score DESC, id LIMIT $6 OFFSET $7
) s JOIN chunk c USING (kb_id, id) WHERE s.score > 0 ORDER BY s.score DESC, s.id`,
    keys,
    terms,
    counts
  }
}
