/**
 * Changes to the chunk index's statistics tables (`migrations/0004_chunk_index_statistics.ts`):
 * collected in process from the rows a write removes and adds, then applied with one statement per
 * table, in the write's transaction.
 */

/** A chunk's search-field tokens as stored (content, title, important keywords, questions). */
export type FieldTokens = readonly [
  ReadonlyArray<string>,
  ReadonlyArray<string>,
  ReadonlyArray<string>,
  ReadonlyArray<string>
]

/** What a write changes: a row removed counts -1, a row added +1. */
export class Deltas {
  /** Per knowledge base: `n0, l0, n1, l1, n2, l2, n3, l3`. */
  readonly kbs = new Map<string, Array<number>>()
  /** Per knowledge base and token: `df0..df3`. */
  readonly tokens = new Map<string, Map<string, Array<number>>>()
  /** Per knowledge base and dimension: the number of vectors. */
  readonly vectors = new Map<string, Map<number, number>>()

  add(kbId: string, fields: FieldTokens, dims: number | null, sign: 1 | -1): void {
    let kb = this.kbs.get(kbId)
    if (kb === undefined) this.kbs.set(kbId, kb = [0, 0, 0, 0, 0, 0, 0, 0])
    let tokens = this.tokens.get(kbId)
    if (tokens === undefined) this.tokens.set(kbId, tokens = new Map())
    for (let f = 0; f < 4; f++) {
      const field = fields[f]!
      if (field.length === 0) continue
      kb[2 * f] = kb[2 * f]! + sign
      kb[2 * f + 1] = kb[2 * f + 1]! + sign * field.length
      for (const token of new Set(field)) {
        let df = tokens.get(token)
        if (df === undefined) tokens.set(token, df = [0, 0, 0, 0])
        df[f] = df[f]! + sign
      }
    }
    if (dims !== null) {
      let vectors = this.vectors.get(kbId)
      if (vectors === undefined) this.vectors.set(kbId, vectors = new Map())
      vectors.set(dims, (vectors.get(dims) ?? 0) + sign)
    }
  }
}

export interface Statement {
  readonly text: string
  readonly params: ReadonlyArray<unknown>
}

const kbStatsColumns = ["n0", "l0", "n1", "l1", "n2", "l2", "n3", "l3"] as const

/** The statements that apply the deltas, in an order that takes row locks by key. */
export const statements = (deltas: Deltas): Array<Statement> => {
  const out: Array<Statement> = []
  const kbIds = [...deltas.kbs.keys()].sort()
  const kbRows = kbIds.map((kb) => [kb, deltas.kbs.get(kb)!] as const).filter(([, d]) => d.some((x) => x !== 0))
  if (kbRows.length > 0) {
    out.push({
      text: `INSERT INTO chunk_kb_stats AS s (kb_id, ${kbStatsColumns.join(", ")}) ` +
        `SELECT * FROM unnest($1::text[], ${kbStatsColumns.map((_, i) => `$${i + 2}::bigint[]`).join(", ")}) ` +
        `ON CONFLICT (kb_id) DO UPDATE SET ${kbStatsColumns.map((c) => `${c} = s.${c} + EXCLUDED.${c}`).join(", ")}`,
      params: [kbRows.map(([kb]) => kb), ...kbStatsColumns.map((_, i) => kbRows.map(([, d]) => d[i]!))]
    })
  }
  for (const kbId of kbIds) {
    const rows = [...(deltas.tokens.get(kbId) ?? [])].filter(([, d]) => d.some((x) => x !== 0))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    if (rows.length === 0) continue
    out.push({
      text: `INSERT INTO chunk_token_stats AS s (kb_id, token, df0, df1, df2, df3) ` +
        `SELECT $1, * FROM unnest($2::text[], $3::int[], $4::int[], $5::int[], $6::int[]) ` +
        `ON CONFLICT (kb_id, token) DO UPDATE SET ` +
        `df0 = s.df0 + EXCLUDED.df0, df1 = s.df1 + EXCLUDED.df1, df2 = s.df2 + EXCLUDED.df2, df3 = s.df3 + EXCLUDED.df3`,
      params: [kbId, rows.map(([t]) => t), ...[0, 1, 2, 3].map((f) => rows.map(([, d]) => d[f]!))]
    })
    const lowered = rows.filter(([, d]) => d.some((x) => x < 0)).map(([t]) => t)
    if (lowered.length > 0) {
      out.push({
        text: `DELETE FROM chunk_token_stats WHERE kb_id = $1 AND token = ANY($2::text[]) ` +
          `AND df0 = 0 AND df1 = 0 AND df2 = 0 AND df3 = 0`,
        params: [kbId, lowered]
      })
    }
  }
  const vectorRows = kbIds.flatMap((kb) =>
    [...(deltas.vectors.get(kb) ?? [])].filter(([, n]) => n !== 0).map(([dims, n]) => [kb, dims, n] as const)
  )
  if (vectorRows.length > 0) {
    out.push({
      text: `INSERT INTO chunk_vector_stats AS s (kb_id, dims, n) ` +
        `SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[]) ` +
        `ON CONFLICT (kb_id, dims) DO UPDATE SET n = s.n + EXCLUDED.n`,
      params: [vectorRows.map((r) => r[0]), vectorRows.map((r) => r[1]), vectorRows.map((r) => r[2])]
    })
    if (vectorRows.some((r) => r[2] < 0)) {
      out.push({
        text: `DELETE FROM chunk_vector_stats WHERE kb_id = ANY($1::text[]) AND n = 0`,
        params: [[...new Set(vectorRows.map((r) => r[0]))]]
      })
    }
  }
  return out
}

/** Columns a write reads back from the rows it removes or replaces. */
export const removedColumns = `kb_id, content_tokens, title_tokens, keyword_tokens, question_tokens, dims`

export interface RemovedRow {
  readonly kb_id: string
  readonly content_tokens: ReadonlyArray<string>
  readonly title_tokens: ReadonlyArray<string>
  readonly keyword_tokens: ReadonlyArray<string>
  readonly question_tokens: ReadonlyArray<string>
  readonly dims: number | null
}

export const removedFields = (row: RemovedRow): FieldTokens => [
  row.content_tokens,
  row.title_tokens,
  row.keyword_tokens,
  row.question_tokens
]

/** The statistics of a knowledge base go with it. */
export const deleteKnowledgeBaseStatements = (kbId: string): Array<Statement> =>
  ["chunk_kb_stats", "chunk_token_stats", "chunk_vector_stats"].map((table) => ({
    text: `DELETE FROM ${table} WHERE kb_id = $1`,
    params: [kbId]
  }))
