/**
 * The text-search tail (`migrations/0011_chunk_text_tail.ts`): rows of a knowledge base at or above
 * its `indexed_ord`, not yet in the postings nor in the BM25 statistics. A text search reads the
 * tail's rows (their field lengths and the term keys of the query's tokens) in its snapshot and
 * adds them here to what the side tables say: to the field counts and lengths, to the document
 * frequencies, and as posting lists of their own. So a search sees every row written, with the
 * same scores as if the tail were indexed.
 */
import type * as Bm25 from "./chunkIndexBm25.js"
import * as Postings from "./chunkIndexPostings.js"
import * as Stats from "./chunkIndexStats.js"

/**
 * The tail rows of the knowledge bases `$1`, in ordinal order per knowledge base: field lengths and
 * the term keys (`<field>:<count> <token>`) of the tokens `$2` only.
 */
export const rowsQuery = `SELECT c.kb_id, c.ord, c.content_len, c.title_len, c.keyword_len, c.question_len,
  ARRAY(SELECT k FROM unnest(c.term_keys) AS k WHERE substr(k, strpos(k, ' ') + 1) = ANY($2::text[])) AS term_keys
FROM chunk_ords o JOIN chunk c ON c.kb_id = o.kb_id AND c.ord >= o.indexed_ord
WHERE o.kb_id = ANY($1::text[]) AND o.next_ord > o.indexed_ord
ORDER BY c.kb_id, c.ord`

export interface Row extends Postings.KeyedRow {
  readonly kb_id: string
}

type PostingsRow = { readonly kb_id: string; readonly token: string; readonly field: number; readonly data: unknown }

/**
 * The statistics with the tail rows added, and the tail's posting lists of the query's tokens (rows
 * as `chunk_postings` gives them): the tail of each knowledge base counted as if it were a segment.
 */
export const add = (
  stats: Bm25.StatsRow,
  rows: ReadonlyArray<Row>
): { readonly stats: Bm25.StatsRow; readonly postings: Array<PostingsRow> } => {
  if (rows.length === 0) return { stats, postings: [] }
  const counts = [stats.n0, stats.l0, stats.n1, stats.l1, stats.n2, stats.l2, stats.n3, stats.l3]
  const frequencies = new Map(stats.frequencies.map((row) => [row.token, [row.df0, row.df1, row.df2, row.df3]]))
  const postings: Array<PostingsRow> = []
  const byKb = new Map<string, Array<Row>>()
  for (const row of rows) {
    let list = byKb.get(row.kb_id)
    if (list === undefined) byKb.set(row.kb_id, list = [])
    list.push(row)
  }
  for (const [kbId, kbRows] of byKb) {
    const tail = Postings.build(kbRows)
    tail.kb.forEach((x, i) => counts[i] = counts[i]! + x)
    Stats.addFrequencies(frequencies, tail.frequencies)
    for (const { field, hex, token } of tail.lists) postings.push({ kb_id: kbId, token, field, data: Buffer.from(hex, "hex") })
  }
  const [n0, l0, n1, l1, n2, l2, n3, l3] = counts as [number, number, number, number, number, number, number, number]
  return {
    stats: {
      n0, l0, n1, l1, n2, l2, n3, l3,
      frequencies: [...frequencies].map(([token, [df0, df1, df2, df3]]) => ({ token, df0: df0!, df1: df1!, df2: df2!, df3: df3! }))
    },
    postings
  }
}
