/**
 * Chunks as rows of the `chunk` table and back, and the SQL text shared by the chunk index's
 * queries. Search tokens are split here, with core's `ChunkIndexScoring.fieldCounts`, so BM25 sees exactly the
 * memory index's tokens.
 */
import { Chunk, ChunkIndexScoring } from "@ragkit/core"
import type { ChunkPosition } from "@ragkit/core"
import * as Stats from "./chunkIndexStats.js"

/** Columns that make up a `Chunk` (the vector as pgvector's text form). */
export const chunkColumns =
  `kb_id, id, doc_id, tenant_id, docnm_kwd, content, content_ltks, content_sm_ltks, title_tks, important_keywords, ` +
  `questions, available, token_num, page_num, positions, "index", img_id, metadata, create_time, ` +
  `embedding::text AS embedding`

export interface ChunkRow {
  readonly kb_id: string
  readonly id: string
  readonly doc_id: string
  readonly tenant_id: string
  readonly docnm_kwd: string
  readonly content: string
  readonly content_ltks: string
  readonly content_sm_ltks: string
  readonly title_tks: string
  readonly important_keywords: ReadonlyArray<string>
  readonly questions: ReadonlyArray<string>
  readonly available: boolean
  readonly token_num: number
  readonly page_num: ReadonlyArray<number>
  readonly positions: ReadonlyArray<ChunkPosition>
  readonly index: number
  readonly img_id: string | null
  readonly metadata: Readonly<Record<string, unknown>>
  readonly create_time: number
  readonly embedding: string | null
}

/** pgvector's text form `[1,2.5,-3]` is JSON. */
export const parseVector = (text: string): ReadonlyArray<number> => JSON.parse(text) as ReadonlyArray<number>

export const formatVector = (vector: ReadonlyArray<number>): string => `[${vector.join(",")}]`

export const decode = (row: ChunkRow): Chunk =>
  new Chunk(
    {
      id: row.id,
      tenant_id: row.tenant_id,
      kb_id: row.kb_id,
      doc_id: row.doc_id,
      docnm_kwd: row.docnm_kwd,
      content: row.content,
      content_ltks: row.content_ltks,
      content_sm_ltks: row.content_sm_ltks,
      title_tks: row.title_tks,
      important_keywords: row.important_keywords,
      questions: row.questions,
      available: row.available,
      token_num: row.token_num,
      page_num: row.page_num,
      positions: row.positions,
      index: row.index,
      ...(row.img_id === null ? {} : { img_id: row.img_id }),
      metadata: row.metadata,
      ...(row.embedding === null ? {} : { vector: parseVector(row.embedding) }),
      create_time: row.create_time
    } as ConstructorParameters<typeof Chunk>[0],
    { disableValidation: true }
  )

/** The columns written by an upsert, in the order of `encode`. */
export const writeColumns = [
  "kb_id", "id", "doc_id", "tenant_id", "docnm_kwd", "content", "content_ltks", "content_sm_ltks", "title_tks",
  "important_keywords", "questions", "available", "token_num", "page_num", "positions", "\"index\"", "img_id",
  "metadata", "create_time", "embedding", "dims", "content_len", "title_len", "keyword_len", "question_len",
  "term_keys", "ord"
] as const

/**
 * How each column travels: one array parameter per column (`unnest`), of the element type before
 * `::`, turned into the column's value by the expression (`u.cN` is the column's element). Term keys
 * travel as one string per row, separated by a newline (keys never hold one: tokens hold no white
 * space), since Postgres arrays of arrays must be rectangular.
 */
const writeTypes: ReadonlyArray<readonly [type: string, expression: (cell: string) => string]> = [
  ...["text", "text", "text", "text", "text", "text", "text", "text", "text"].map((t) => [t, (c: string) => c] as const),
  ["text", (c) => `${c}::jsonb`],
  ["text", (c) => `${c}::jsonb`],
  ["boolean", (c) => c],
  ["float8", (c) => c],
  ["text", (c) => `${c}::jsonb`],
  ["text", (c) => `${c}::jsonb`],
  ["float8", (c) => c],
  ["text", (c) => c],
  ["text", (c) => `${c}::jsonb`],
  ["float8", (c) => c],
  ["text", (c) => `${c}::vector`],
  ["int", (c) => c],
  ...[0, 1, 2, 3].map(() => ["int", (c: string) => c] as const),
  ["text", (c) => `string_to_array(${c}, E'\\n')`],
  ["int", (c) => c]
]

export type Param = string | number | boolean | null

/** A chunk's search fields, counted: content, title, important keywords, questions. */
export const fieldsOf = (chunk: Chunk): Stats.Fields => ChunkIndexScoring.fieldCounts(chunk)

/** The cells of one row, in the order of `writeColumns`; `ord` its ordinal in its knowledge base. */
export const encode = (chunk: Chunk, fields: Stats.Fields, ord: number): ReadonlyArray<Param> => {
  return [
    chunk.kb_id,
    chunk.id,
    chunk.doc_id,
    chunk.tenant_id,
    chunk.docnm_kwd,
    chunk.content,
    chunk.content_ltks,
    chunk.content_sm_ltks,
    chunk.title_tks,
    JSON.stringify(chunk.important_keywords),
    JSON.stringify(chunk.questions),
    chunk.available,
    chunk.token_num,
    JSON.stringify(chunk.page_num),
    JSON.stringify(chunk.positions),
    chunk.index,
    chunk.img_id ?? null,
    JSON.stringify(chunk.metadata),
    chunk.create_time,
    chunk.vector === undefined ? null : formatVector(chunk.vector),
    chunk.vector === undefined ? null : chunk.vector.length,
    ...fields.map((f) => f.length),
    Stats.termKeys(fields).join("\n"),
    ord
  ]
}

/**
 * `INSERT ... SELECT FROM unnest(...) ON CONFLICT DO UPDATE`: one array parameter per column, so a
 * statement writes any number of rows with 30 parameters.
 */
export const upsertStatement: string = (() => {
  const arrays = writeTypes.map(([type], c) => `$${c + 1}::${type}[]`).join(", ")
  const cells = writeTypes.map(([, expression], c) => expression(`u.c${c}`)).join(", ")
  const names = writeTypes.map((_, c) => `c${c}`).join(", ")
  const updates = writeColumns.filter((c) => c !== "kb_id" && c !== "id").map((c) => `${c} = EXCLUDED.${c}`)
  return `INSERT INTO chunk (${writeColumns.join(", ")}) SELECT ${cells} FROM unnest(${arrays}) AS u(${names}) ` +
    `ON CONFLICT (kb_id, id) DO UPDATE SET ${updates.join(", ")}`
})()

/** The parameters of `upsertStatement`: the rows' cells, column by column. */
export const upsertParams = (rows: ReadonlyArray<ReadonlyArray<Param>>): Array<Array<Param>> =>
  writeColumns.map((_, c) => rows.map((row) => row[c]!))

/** Rows per upsert statement: bounds the size of one statement's parameters (~10 kB a row). */
export const upsertBatch = 1000

/** The largest dimension pgvector's HNSW indexes `vector` (`halfvec` up to 4000). */
export const maxHnswVector = 2000
export const maxHnswHalfvec = 4000

/** How vectors of a dimension are indexed, `undefined` when they are not. */
export const hnswKind = (dims: number): "vector" | "halfvec" | undefined =>
  dims <= maxHnswVector ? "vector" : dims <= maxHnswHalfvec ? "halfvec" : undefined

export const hnswIndexName = (dims: number): string => `chunk_embedding_hnsw_${dims}`

/** The partial HNSW expression index for one dimension. */
export const hnswIndexStatement = (dims: number): string | undefined => {
  const kind = hnswKind(dims)
  if (kind === undefined) return undefined
  const ops = kind === "vector" ? "vector_cosine_ops" : "halfvec_cosine_ops"
  return `CREATE INDEX IF NOT EXISTS ${hnswIndexName(dims)} ON chunk USING hnsw ((embedding::${kind}(${dims})) ${ops}) ` +
    `WHERE dims = ${dims}`
}

export interface VectorQueryParts {
  readonly dims: number
  /** Whether to order by the HNSW index's expression (approximate) or the plain distance (exact). */
  readonly approximate: boolean
  readonly withDocIds: boolean
}

/**
 * A vector search: `$1` the knowledge bases, `$2` the query vector (text), `$3` availability,
 * `$4` the limit, `$5` the document ids (when `withDocIds`).
 */
export const vectorQuery = ({ approximate, dims, withDocIds }: VectorQueryParts): string => {
  const kind = hnswKind(dims)
  const distance = approximate && kind !== undefined
    ? `(embedding::${kind}(${dims}) <=> $2::${kind}(${dims}))`
    : `(embedding <=> $2::vector)`
  // The columns (the vector as text above all) are computed for the page only, not for every row
  // the inner query orders.
  return `SELECT ${chunkColumns} FROM (SELECT * FROM chunk ` +
    `WHERE dims = ${dims} AND kb_id = ANY($1::text[]) AND available = $3` +
    (withDocIds ? ` AND doc_id = ANY($5::text[])` : "") +
    ` ORDER BY ${distance}${approximate ? "" : ", kb_id, id"} LIMIT $4) c`
}
