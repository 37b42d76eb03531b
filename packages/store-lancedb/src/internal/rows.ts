/**
 * The table layout of a knowledge base and the mapping between chunks and rows.
 *
 * Lists and metadata are JSON strings; the search fields are kept as space-separated tokens with
 * their token counts, so that BM25 can be computed exactly without re-tokenizing the raw text.
 *
 * The small fields of a chunk are also kept together, as JSON, in one column (`chunk`), so that
 * reading a chunk reads 7 columns rather than 28: LanceDB reads a few rows column by column, and each
 * column costs about as much as its bytes. They stay in their own columns too, for filters and
 * listing.
 *
 * Writes hand LanceDB an Arrow table built column by column (`toTable`): LanceDB's own conversion
 * of row objects took about as long as computing the rows.
 */
import { createRequire } from "node:module"
import type * as ArrowTypes from "apache-arrow"
import { Chunk, ChunkIndexScoring } from "@ragkit/core"
import type { ChunkId, ChunkIndex, DocumentId, KnowledgeBaseId } from "@ragkit/core"

/**
 * `@lancedb/lancedb` is CommonJS and checks Arrow classes with `instanceof`: the schema must be built
 * with the CommonJS build of apache-arrow it loads, not the ESM one an `import` would give.
 */
const Arrow: typeof ArrowTypes = createRequire(import.meta.url)("apache-arrow")

type SearchField = ChunkIndexScoring.SearchField

/** Search-field columns, in the order of `SearchFieldWeights`. */
export const tokenColumns = {
  content_ltks: "content_ltks",
  title_tks: "title_tks",
  important_keywords: "kw_tks",
  questions: "q_tks"
} as const satisfies Record<SearchField, string>

export const lengthColumns = {
  content_ltks: "len_content",
  title_tks: "len_title",
  important_keywords: "len_kw",
  questions: "len_q"
} as const satisfies Record<SearchField, string>

/**
 * The column of repeated tokens: for every search field and every token that occurs in it more than
 * once, one `<field code>:<token>` entry. It has a full-text index, so that a text search learns which
 * rows hold a query token more than once without reading their text: every other match holds it once.
 */
export const repeatedColumn = "rep_tks"

export const fieldCodes = {
  content_ltks: "c",
  title_tks: "t",
  important_keywords: "k",
  questions: "q"
} as const satisfies Record<SearchField, string>

export const repeatedToken = (field: SearchField, token: string): string => `${fieldCodes[field]}:${token}`

/** The entries of the repeated-tokens column for a chunk's search-field tokens. */
export const repeatedTokens = (fields: Readonly<Record<SearchField, ReadonlyArray<string>>>): string => {
  const entries: Array<string> = []
  for (const field of ChunkIndexScoring.searchFields) {
    const seen = new Set<string>()
    const repeated = new Set<string>()
    for (const token of fields[field]) {
      if (seen.has(token)) repeated.add(token)
      else seen.add(token)
    }
    for (const token of repeated) entries.push(repeatedToken(field, token))
  }
  return entries.join(" ")
}

export const payloadColumn = "chunk"

/** The long text fields: kept in their own columns only, not in the `chunk` column. */
const textColumns = ["content", "content_ltks", "content_sm_ltks", "title_tks"] as const

/** The columns read to build a chunk. */
export const readColumns: ReadonlyArray<string> = [payloadColumn, ...textColumns, "has_vector", "vector"]

/** The fields kept in the `chunk` column: every chunk field but the long texts and the vector. */
const payloadFields = [
  "id",
  "tenant_id",
  "kb_id",
  "doc_id",
  "docnm_kwd",
  "important_keywords",
  "questions",
  "available",
  "token_num",
  "page_num",
  "positions",
  "index",
  "img_id",
  "metadata",
  "create_time"
] as const satisfies ReadonlyArray<keyof Chunk>

export const vectorField = (dimension: number): ArrowTypes.Field =>
  new Arrow.Field(
    "vector",
    new Arrow.FixedSizeList(dimension, new Arrow.Field("item", new Arrow.Float32(), true)),
    true
  )

export const vectorSchema = (dimension: number): ArrowTypes.Schema => new Arrow.Schema([vectorField(dimension)])

/** The dimension of a table's vector column while the table holds no vector. */
export const placeholderDimension = 1

/** The schema of a knowledge base's table; `dimension` is a placeholder while it holds no vector. */
export const tableSchema = (dimension: number): ArrowTypes.Schema => {
  const text = (name: string, nullable = false) => new Arrow.Field(name, new Arrow.Utf8(), nullable)
  const float = (name: string) => new Arrow.Field(name, new Arrow.Float64(), false)
  const int = (name: string) => new Arrow.Field(name, new Arrow.Int32(), false)
  const bool = (name: string) => new Arrow.Field(name, new Arrow.Bool(), false)
  return new Arrow.Schema([
    text("id"),
    text("tenant_id"),
    text("kb_id"),
    text("doc_id"),
    text("docnm_kwd"),
    text("content"),
    text("content_ltks"),
    text("content_sm_ltks"),
    text("title_tks"),
    text("important_keywords"),
    text("questions"),
    text("kw_tks"),
    text("q_tks"),
    text(repeatedColumn),
    text(payloadColumn),
    int("len_content"),
    int("len_title"),
    int("len_kw"),
    int("len_q"),
    bool("available"),
    float("token_num"),
    text("page_num"),
    text("positions"),
    float("index"),
    text("img_id", true),
    text("metadata"),
    bool("has_vector"),
    vectorField(dimension),
    float("create_time")
  ])
}

/** The dimension of the table's vector column. */
export const schemaDimension = (schema: ArrowTypes.Schema): number | undefined => {
  const field = schema.fields.find((f) => f.name === "vector")
  return field !== undefined && Arrow.DataType.isFixedSizeList(field.type) ? field.type.listSize : undefined
}

/** The columns of a ragkit chunk table. */
export const requiredColumns: ReadonlyArray<string> = tableSchema(placeholderDimension).fields.map((f) => f.name)

export type Row = Record<string, unknown>

/** The values of a chunk's columns but the vector. */
const rowOf = (chunk: Chunk): Row => {
  const fields = ChunkIndexScoring.searchFieldTokens(chunk)
  return {
    [repeatedColumn]: repeatedTokens(fields),
    [payloadColumn]: payloadOf(chunk),
    id: chunk.id,
    tenant_id: chunk.tenant_id,
    kb_id: chunk.kb_id,
    doc_id: chunk.doc_id,
    docnm_kwd: chunk.docnm_kwd,
    content: chunk.content,
    content_ltks: chunk.content_ltks,
    content_sm_ltks: chunk.content_sm_ltks,
    title_tks: chunk.title_tks,
    important_keywords: JSON.stringify(chunk.important_keywords),
    questions: JSON.stringify(chunk.questions),
    kw_tks: fields.important_keywords.join(" "),
    q_tks: fields.questions.join(" "),
    len_content: fields.content_ltks.length,
    len_title: fields.title_tks.length,
    len_kw: fields.important_keywords.length,
    len_q: fields.questions.length,
    available: chunk.available,
    token_num: chunk.token_num,
    page_num: JSON.stringify(chunk.page_num),
    positions: JSON.stringify(chunk.positions),
    index: chunk.index,
    img_id: chunk.img_id ?? null,
    metadata: JSON.stringify(chunk.metadata),
    has_vector: chunk.vector !== undefined,
    create_time: chunk.create_time
  }
}

/** A validity bitmap (Arrow's null bitmap) of `valid`, or `undefined` when every value is valid. */
const validity = (valid: ReadonlyArray<boolean>): Uint8Array | undefined => {
  if (valid.every((v) => v)) return undefined
  const bitmap = new Uint8Array(Math.ceil(valid.length / 8))
  for (let i = 0; i < valid.length; i++) if (valid[i]) bitmap[i >> 3]! |= 1 << (i & 7)
  return bitmap
}

/** A UTF-8 column: every value encoded once into one buffer (`null` values are empty and invalid). */
const utf8Data = (values: ReadonlyArray<string | null>): ArrowTypes.Data => {
  let bytes = 0
  for (const value of values) if (value !== null) bytes += Buffer.byteLength(value, "utf8")
  const data = Buffer.allocUnsafe(bytes)
  const offsets = new Int32Array(values.length + 1)
  let at = 0
  for (let i = 0; i < values.length; i++) {
    const value = values[i]
    if (value !== null && value !== undefined) at += data.write(value, at, "utf8")
    offsets[i + 1] = at
  }
  const nulls = validity(values.map((v) => v !== null))
  return Arrow.makeData({
    type: new Arrow.Utf8(),
    length: values.length,
    valueOffsets: offsets,
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    ...(nulls === undefined ? { nullCount: 0 } : { nullBitmap: nulls })
  })
}

const boolData = (values: ReadonlyArray<boolean>): ArrowTypes.Data => {
  const bits = new Uint8Array(Math.ceil(values.length / 8))
  for (let i = 0; i < values.length; i++) if (values[i]) bits[i >> 3]! |= 1 << (i & 7)
  return Arrow.makeData({ type: new Arrow.Bool(), length: values.length, nullCount: 0, data: bits })
}

/** The vectors as a `FixedSizeList<Float32>` of `dimension`; chunks without one are null. */
const vectorData = (chunks: ReadonlyArray<Chunk>, type: ArrowTypes.FixedSizeList): ArrowTypes.Data => {
  const dimension = type.listSize
  const values = new Float32Array(chunks.length * dimension)
  chunks.forEach((chunk, i) => {
    if (chunk.vector !== undefined) values.set(chunk.vector, i * dimension)
  })
  const child = Arrow.makeData({ type: type.children[0]!.type as ArrowTypes.Float32, length: values.length, nullCount: 0, data: values })
  const nulls = validity(chunks.map((chunk) => chunk.vector !== undefined))
  return Arrow.makeData({
    type,
    length: chunks.length,
    child,
    ...(nulls === undefined ? { nullCount: 0 } : { nullBitmap: nulls })
  })
}

/**
 * The chunks as an Arrow table of the knowledge base's schema (`tableSchema(dimension)`), built
 * column by column: what LanceDB writes, without a row object per chunk for it to convert.
 */
export const toTable = (chunks: ReadonlyArray<Chunk>, dimension: number): ArrowTypes.Table => {
  const schema = tableSchema(dimension)
  const rows = chunks.map(rowOf)
  const columns = schema.fields.map((field): ArrowTypes.Data => {
    const name = field.name
    if (name === "vector") return vectorData(chunks, field.type as ArrowTypes.FixedSizeList)
    if (Arrow.DataType.isUtf8(field.type)) return utf8Data(rows.map((row) => row[name] as string | null))
    if (Arrow.DataType.isBool(field.type)) return boolData(rows.map((row) => row[name] as boolean))
    const values = rows.map((row) => row[name] as number)
    const data = Arrow.DataType.isInt(field.type) ? Int32Array.from(values) : Float64Array.from(values)
    return Arrow.makeData({ type: field.type, length: values.length, nullCount: 0, data })
  })
  const batch = new Arrow.RecordBatch(
    schema,
    Arrow.makeData({ type: new Arrow.Struct(schema.fields), length: chunks.length, nullCount: 0, children: columns })
  )
  return new Arrow.Table(schema, [batch])
}

/** The `chunk` column of a chunk: its small fields as JSON (`img_id` absent when it has none). */
const payloadOf = (chunk: Chunk): string => {
  const payload: Record<string, unknown> = {}
  for (const field of payloadFields) {
    const value = chunk[field]
    if (value !== undefined) payload[field] = value
  }
  return JSON.stringify(payload)
}

const text = (value: unknown): string => (typeof value === "string" ? value : String(value ?? ""))

/** Arrow values (vectors) come back as Arrow vectors: copy them into plain arrays. */
const numbers = (value: unknown): Array<number> | undefined =>
  value === null || value === undefined ? undefined : Array.from(value as Iterable<number>, Number)

/** A chunk from a stored row (the columns of `readColumns`); rows were validated when written. */
export const fromRow = (row: Row): Chunk => {
  const vector = numbers(row["vector"])
  return new Chunk({
    ...JSON.parse(text(row[payloadColumn])),
    content: text(row["content"]),
    content_ltks: text(row["content_ltks"]),
    content_sm_ltks: text(row["content_sm_ltks"]),
    title_tks: text(row["title_tks"]),
    ...(row["has_vector"] === true && vector !== undefined ? { vector } : {})
  } as ConstructorParameters<typeof Chunk>[0], true)
}

/** The columns read for a chunk's summary (`summaryOf`). */
export const summaryColumns: ReadonlyArray<string> = ["id", "kb_id", "doc_id", "docnm_kwd", "has_vector", "vector"]

/** A chunk's summary from a stored row (the columns of `summaryColumns`). */
export const summaryOf = (row: Row): ChunkIndex.ChunkSummary => {
  const vector = row["has_vector"] === true ? numbers(row["vector"]) : undefined
  return {
    id: text(row["id"]) as ChunkId,
    kb_id: text(row["kb_id"]) as KnowledgeBaseId,
    doc_id: text(row["doc_id"]) as DocumentId,
    docnm_kwd: text(row["docnm_kwd"]),
    vector
  }
}

/** What a search reads of the rows it returns: whole chunks, or their summaries. */
export interface Reading<A extends ChunkIndex.ChunkSummary> {
  readonly columns: ReadonlyArray<string>
  readonly of: (row: Row) => A
}

export const chunks: Reading<Chunk> = { columns: readColumns, of: (row) => fromRow(row) }
export const summaries: Reading<ChunkIndex.ChunkSummary> = { columns: summaryColumns, of: summaryOf }

/** The metadata column of a row as an object (`{}` when it does not read as one). */
export const metadataOf = (value: unknown): Readonly<Record<string, unknown>> => {
  try {
    const parsed = JSON.parse(String(value ?? "{}"))
    return typeof parsed === "object" && parsed !== null ? parsed : {}
  } catch {
    return {}
  }
}

/** Plain rows from an Arrow result: strings, numbers, booleans, vectors as arrays, nulls. */
export const fromArrow = (table: ArrowTypes.Table): Array<Row> => {
  const readers = table.schema.fields.map((field) => {
    const column = table.getChild(field.name)!
    if (field.name === "vector") {
      return (i: number): unknown => {
        const value = column.get(i) as ArrowTypes.Vector | null
        return value === null || value === undefined ? null : Array.from(value.toArray() as ArrayLike<number>)
      }
    }
    if (column.nullCount > 0) return (i: number): unknown => column.get(i) ?? null
    const values = column.toArray() as ArrayLike<unknown>
    return (i: number): unknown => values[i]
  })
  const names = table.schema.fields.map((field) => field.name)
  const rows: Array<Row> = new Array(table.numRows)
  for (let i = 0; i < table.numRows; i++) {
    const row: Row = {}
    for (let c = 0; c < names.length; c++) row[names[c]!] = readers[c]!(i)
    rows[i] = row
  }
  return rows
}

const isSpace = /\s/

/**
 * How often `token` occurs among the whitespace-separated tokens of `text`, i.e. in
 * `text.split(/\s+/)`, found with `indexOf` rather than by splitting the whole text.
 */
export const tokenFrequency = (text: string, token: string): number => {
  if (token.length === 0 || isSpace.test(token)) return 0
  let count = 0
  for (let at = text.indexOf(token); at !== -1; at = text.indexOf(token, at + 1)) {
    const end = at + token.length
    if ((at === 0 || isSpace.test(text[at - 1]!)) && (end === text.length || isSpace.test(text[end]!))) count++
  }
  return count
}
