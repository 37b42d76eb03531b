/**
 * Changes to the chunk index's statistics tables (`migrations/0004_chunk_index_statistics.ts`):
 * collected in process from the rows a write removes and adds, then applied with one statement per
 * table, in the write's transaction.
 */
import type { ChunkIndexScoring } from "@ragkit/core"

/** A chunk's search fields, counted (`ChunkIndexScoring.fieldCounts`): content, title, keywords, questions. */
export type Fields = ReadonlyArray<ChunkIndexScoring.FieldCounts>

/** The term keys of a chunk (`chunk.term_keys`): `<field>:<count> <token>`. */
export const termKey = (field: number, count: number, token: string): string => `${field}:${count} ${token}`

export const termKeys = (fields: Fields): Array<string> =>
  fields.flatMap((field, f) => [...field.counts].map(([token, count]) => termKey(f, count, token)))

/** Calls `each` with the field, count and token of every term key (the inverse of `termKey`). */
export const forEachTermKey = (
  keys: ReadonlyArray<string>,
  each: (field: number, count: number, token: string) => void
): void => {
  for (const key of keys) {
    const space = key.indexOf(" ")
    let count = 0
    for (let i = 2; i < space; i++) count = count * 10 + key.charCodeAt(i) - 48
    each(key.charCodeAt(0) - 48, count, key.slice(space + 1))
  }
}

/** The fields of a stored row, from its term keys and lengths. */
export const fieldsOfKeys = (keys: ReadonlyArray<string>, lengths: ReadonlyArray<number>): Fields => {
  const counts = lengths.map(() => new Map<string, number>())
  forEachTermKey(keys, (field, count, token) => counts[field]!.set(token, count))
  return counts.map((c, f) => ({ length: lengths[f]!, counts: c }))
}

/** Adds per-token document frequencies (`df0..df3`) into `into`. */
export const addFrequencies = (
  into: Map<string, Array<number>>,
  add: ReadonlyMap<string, ReadonlyArray<number>>
): void => {
  for (const [token, counts] of add) {
    const df = into.get(token)
    if (df === undefined) into.set(token, [...counts])
    else for (let f = 0; f < 4; f++) df[f] = df[f]! + counts[f]!
  }
}

/** What a write changes: a row removed counts -1, a row added +1. */
export class Deltas {
  /** Per knowledge base: `n0, l0, n1, l1, n2, l2, n3, l3`. */
  readonly kbs = new Map<string, Array<number>>()
  /** Per knowledge base and token: `df0..df3`. */
  readonly tokens = new Map<string, Map<string, Array<number>>>()
  /** Per knowledge base and dimension: the number of vectors. */
  readonly vectors = new Map<string, Map<number, number>>()

  /**
   * Counts added in bulk: to a knowledge base's `n0, l0, ..., n3, l3` and to its tokens' document
   * frequencies (`df0..df3` per token).
   */
  addCounts(kbId: string, kb: ReadonlyArray<number>, frequencies: ReadonlyMap<string, ReadonlyArray<number>>): void {
    let totals = this.kbs.get(kbId)
    if (totals === undefined) this.kbs.set(kbId, totals = [0, 0, 0, 0, 0, 0, 0, 0])
    for (let i = 0; i < 8; i++) totals[i] = totals[i]! + kb[i]!
    let tokens = this.tokens.get(kbId)
    if (tokens === undefined) this.tokens.set(kbId, tokens = new Map())
    addFrequencies(tokens, frequencies)
  }

  /** A row's search fields only (the BM25 statistics). */
  addText(kbId: string, fields: Fields, sign: 1 | -1): void {
    let kb = this.kbs.get(kbId)
    if (kb === undefined) this.kbs.set(kbId, kb = [0, 0, 0, 0, 0, 0, 0, 0])
    let tokens = this.tokens.get(kbId)
    if (tokens === undefined) this.tokens.set(kbId, tokens = new Map())
    for (let f = 0; f < 4; f++) {
      const field = fields[f]!
      if (field.length === 0) continue
      kb[2 * f] = kb[2 * f]! + sign
      kb[2 * f + 1] = kb[2 * f + 1]! + sign * field.length
      for (const token of field.counts.keys()) {
        let df = tokens.get(token)
        if (df === undefined) tokens.set(token, df = [0, 0, 0, 0])
        df[f] = df[f]! + sign
      }
    }
  }

  /** A row's vector only (the vector counts). */
  addVector(kbId: string, dims: number | null, sign: 1 | -1): void {
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
  const kbIds = [...new Set([...deltas.kbs.keys(), ...deltas.vectors.keys()])].sort()
  const kbRows = kbIds.flatMap((kb) => {
    const d = deltas.kbs.get(kb)
    return d !== undefined && d.some((x) => x !== 0) ? [[kb, d] as const] : []
  })
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
export const removedColumns = `kb_id, term_keys, content_len, title_len, keyword_len, question_len, dims, ord`

export interface RemovedRow {
  readonly kb_id: string
  readonly term_keys: ReadonlyArray<string>
  readonly content_len: number
  readonly title_len: number
  readonly keyword_len: number
  readonly question_len: number
  readonly dims: number | null
  readonly ord: number
}

export const removedFields = (row: RemovedRow): Fields =>
  fieldsOfKeys(row.term_keys, [row.content_len, row.title_len, row.keyword_len, row.question_len])

/** The statistics, postings and ordinals of a knowledge base go with it. */
export const deleteKnowledgeBaseStatements = (kbId: string): Array<Statement> =>
  ["chunk_kb_stats", "chunk_token_stats", "chunk_vector_stats", "chunk_postings", "chunk_segments", "chunk_ords"].map((table) => ({
    text: `DELETE FROM ${table} WHERE kb_id = $1`,
    params: [kbId]
  }))
