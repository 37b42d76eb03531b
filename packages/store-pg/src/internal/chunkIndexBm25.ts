/**
 * BM25 with the memory index's statistics and arithmetic (`ChunkIndex.makeMemory`), so both give the
 * same scores, to the bit.
 *
 * The statistics come from the side tables (`migrations/0004_chunk_index_statistics.ts`): per
 * knowledge base and field the number of chunks where the field is not empty and the sum of its
 * lengths, per token and field its document frequency, summed over the searched knowledge bases.
 * The idfs and average lengths are computed here, with core's functions. Postgres finds the
 * candidates (chunks with a query token in a search field, through the GIN index on `term_keys`,
 * that pass the knowledge base, availability and document filters) and ranks them by a sum of their
 * term scores in SQL; the best are scored exactly here, with `bm25Term` in the memory index's order
 * (`scoreQuery`).
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

/** A (field, token) pair of the query that occurs in the knowledge bases. */
export interface Term {
  readonly field: number
  readonly token: string
  /** The query token's weight times the field's weight. */
  readonly weight: number
  readonly idf: number
}

export interface ScoreQuery {
  /**
   * The candidates query: `$1` the knowledge bases, `$2` the term keys to probe, `$3` the term of
   * each key, `$4` its count, `$5` availability, `$6` how many of the best are wanted, `$7` the
   * document ids; per key, `$8` its field, `$9` its term's weight times idf times (k1 + 1), `$10`
   * its field's average length.
   */
  readonly text: string
  readonly params: (
    kbIds: ReadonlyArray<string>,
    available: boolean,
    wanted: number,
    docIds: ReadonlyArray<string> | undefined
  ) => ReadonlyArray<unknown>
  /** The exact score of a candidate row (the memory index's operations, in its order). */
  readonly score: (row: CandidateRow) => number
}

/** A candidate: a chunk with a query token, its field lengths and the term frequencies it has. */
export interface CandidateRow {
  readonly kb_id: string
  readonly id: string
  readonly l0: number
  readonly l1: number
  readonly l2: number
  readonly l3: number
  /** Terms (indexes into the query's terms) and their frequencies in this chunk. */
  readonly terms: ReadonlyArray<number>
  readonly tfs: ReadonlyArray<number>
}

/**
 * The query for the best candidates, `undefined` when no query token occurs in the knowledge bases.
 *
 * A term is a (field, token) pair that occurs in the knowledge bases. Its keys `<field>:<count>
 * <token>` for every count up to the token's largest are probed in the GIN index on `term_keys`, one
 * index scan per key (the lateral subquery, kept apart by `OFFSET 0`, is what makes the planner probe
 * the index per key rather than scan the table); a chunk matches at most one key per term, which
 * gives its term frequency. Each match adds its term's BM25 to a sum per row (`ctid`: within one
 * snapshot it names one row version). That sum adds the same terms as the memory index in another
 * order, so it may differ from the exact score in the last bits: the query returns every row whose
 * sum is within a relative 1e-9 of the `$6`-th best sum, with its lengths and term frequencies, and
 * `score` computes the exact score of those in process. Every row among the exact best `$6` is in
 * (the two sums differ by far less than 1e-9 relative).
 */
export const scoreQuery = (
  stats: StatsRow,
  tokens: ReadonlyArray<ChunkIndex.WeightedToken>
): ScoreQuery | undefined => {
  const documents = [stats.n0, stats.n1, stats.n2, stats.n3]
  const totals = [stats.l0, stats.l1, stats.l2, stats.l3]
  const averages = documents.map((n, f) => totals[f]! / Math.max(n, 1))
  const byToken = new Map(stats.frequencies.map((row) => [row.token, row] as const))
  const { k1 } = ChunkIndex.Bm25Parameters
  /** Per field, per query token (in order): the term index, or -1 when the pair occurs nowhere. */
  const termOf: Array<Array<number>> = []
  const terms: Array<Term & { readonly largest: number }> = []
  searchFields.forEach((field, f) => {
    termOf.push(tokens.map(({ token, weight }) => {
      const row = byToken.get(token)
      const df = row === undefined ? 0 : [row.df0, row.df1, row.df2, row.df3][f]!
      if (df === 0) return -1
      const fieldWeight = ChunkIndex.SearchFieldWeights[field]
      const existing = terms.findIndex((t) => t.field === f && t.token === token)
      if (existing >= 0) {
        // A token given twice counts twice (as in the memory index's sum).
        terms[existing] = { ...terms[existing]!, weight: terms[existing]!.weight + weight * fieldWeight }
        return existing
      }
      const largest = [row!.mx0, row!.mx1, row!.mx2, row!.mx3][f]!
      terms.push({ field: f, token, weight: weight * fieldWeight, idf: ChunkIndex.bm25Idf(documents[f]!, df), largest })
      return terms.length - 1
    }))
  })
  const keys: Array<string> = []
  const keyTerms: Array<number> = []
  const counts: Array<number> = []
  const keyFields: Array<number> = []
  const factors: Array<number> = []
  const keyAverages: Array<number> = []
  terms.forEach(({ field, idf, largest, token, weight }, term) => {
    for (let count = 1; count <= largest; count++) {
      keys.push(termKey(field, count, token))
      keyTerms.push(term)
      counts.push(count)
      keyFields.push(field)
      factors.push(weight * idf * (k1 + 1))
      keyAverages.push(averages[field]!)
    }
  })
  if (terms.length === 0) return undefined
  const { b } = ChunkIndex.Bm25Parameters
  const length = `CASE k.field WHEN 0 THEN c.content_len WHEN 1 THEN c.title_len WHEN 2 THEN c.keyword_len ` +
    `ELSE c.question_len END`
  const text = `WITH m AS MATERIALIZED (
  SELECT c.ctid AS row, k.term, k.tf,
    k.factor * k.tf / (k.tf + ${float(k1)} * (${float(1 - b)} + ${float(b)} * (${length}) / k.average)) AS part
  FROM unnest($2::text[], $3::int[], $4::float8[], $8::int[], $9::float8[], $10::float8[])
    AS k(key, term, tf, field, factor, average)
  CROSS JOIN LATERAL (
    SELECT ctid, content_len, title_len, keyword_len, question_len FROM chunk c
    WHERE c.term_keys @> ARRAY[k.key] AND c.kb_id = ANY($1::text[]) AND c.available = $5
      AND ($7::text[] IS NULL OR c.doc_id = ANY($7::text[]))
    OFFSET 0
  ) c
), g AS MATERIALIZED (
  SELECT row, sum(part) AS approx FROM m GROUP BY row
), kept AS (
  SELECT row FROM g
  WHERE approx >= coalesce((SELECT approx FROM g ORDER BY approx DESC OFFSET $6 - 1 LIMIT 1), 0) * (1 - 1e-9)
)
SELECT c.kb_id, c.id, c.content_len AS l0, c.title_len AS l1, c.keyword_len AS l2, c.question_len AS l3, x.terms, x.tfs
FROM (
  SELECT row, array_agg(term) AS terms, array_agg(tf) AS tfs FROM m WHERE row IN (SELECT row FROM kept) GROUP BY row
) x
JOIN chunk c ON c.ctid = x.row`
  return {
    text,
    params: (kbIds, available, wanted, docIds) => [
      kbIds, keys, keyTerms, counts, available, wanted, docIds ?? null, keyFields, factors, keyAverages
    ],
    score: (row) => {
      const lengths = [row.l0, row.l1, row.l2, row.l3]
      const tf = new Map<number, number>()
      for (let i = 0; i < row.terms.length; i++) tf.set(row.terms[i]!, row.tfs[i]!)
      // The memory index: for each field in order, each query token in order, score += w * bm25Term.
      let score = 0
      for (let f = 0; f < searchFields.length; f++) {
        tokens.forEach(({ weight }, i) => {
          const term = termOf[f]![i]!
          const count = term < 0 ? undefined : tf.get(term)
          if (count === undefined) return
          score += weight * ChunkIndex.SearchFieldWeights[searchFields[f]!] *
            ChunkIndex.bm25Term(terms[term]!.idf, count, lengths[f]!, averages[f]!)
        })
      }
      return score
    }
  }
}
