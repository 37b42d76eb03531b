/**
 * The chunk index's postings (`migrations/0005_chunk_postings.ts`): building a segment's postings
 * from a write's rows, reading them back, scoring a query over them, and when to merge or rewrite
 * segments.
 *
 * A posting is 12 bytes, three big-endian int4s (as SQL's `int4send` writes them, so SQL can build
 * and concatenate them): the chunk's ordinal, the token's count in the field and the field's length.
 */
import { ChunkIndexScoring } from "@ragkit/core"
import * as Stats from "./chunkIndexStats.js"

export const recordBytes = 12

/** The postings of one (field, token) in one segment: `n` records, hex-encoded for `decode(..., 'hex')`. */
export interface PostingList {
  readonly field: number
  readonly token: string
  readonly n: number
  readonly hex: string
}

/** Records given as flat ordinal, count, length triples, packed. */
export const encodeRecords = (values: ReadonlyArray<number>): Buffer => {
  const bytes = Buffer.allocUnsafe(values.length * 4)
  for (let i = 0; i < values.length; i++) bytes.writeInt32BE(values[i]!, i * 4)
  return bytes
}

/** A row as a tail is indexed from it: its ordinal, term keys (`<field>:<count> <token>`) and field lengths. */
export interface KeyedRow {
  readonly ord: number
  readonly term_keys: ReadonlyArray<string>
  readonly content_len: number
  readonly title_len: number
  readonly keyword_len: number
  readonly question_len: number
}

/**
 * The postings of a segment's rows (in ordinal order), read straight from their term keys, with what
 * they add to the BM25 statistics: per field the rows where it is not empty and the sum of its
 * lengths (`n0, l0, ..., n3, l3`), and per token and field the rows holding it (the lists' sizes).
 * No per-row maps: a tail page is a thousand rows.
 */
export const build = (rows: ReadonlyArray<KeyedRow>): {
  readonly lists: Array<PostingList>
  readonly kb: ReadonlyArray<number>
  readonly frequencies: Map<string, Array<number>>
} => {
  const lists = new Map<string, { field: number; token: string; values: Array<number> }>()
  const kb = [0, 0, 0, 0, 0, 0, 0, 0]
  for (const row of rows) {
    const lengths = [row.content_len, row.title_len, row.keyword_len, row.question_len]
    for (let f = 0; f < 4; f++) {
      if (lengths[f] === 0) continue
      kb[2 * f]! += 1
      kb[2 * f + 1]! += lengths[f]!
    }
    Stats.forEachTermKey(row.term_keys, (field, tf, token) => {
      const listKey = `${field} ${token}`
      let list = lists.get(listKey)
      if (list === undefined) lists.set(listKey, list = { field, token, values: [] })
      list.values.push(row.ord, tf, lengths[field]!)
    })
  }
  const frequencies = new Map<string, Array<number>>()
  const out: Array<PostingList> = []
  for (const { field, token, values } of lists.values()) {
    const n = values.length / 3
    let df = frequencies.get(token)
    if (df === undefined) frequencies.set(token, df = [0, 0, 0, 0])
    df[field]! += n
    out.push({ field, token, n, hex: encodeRecords(values).toString("hex") })
  }
  return { lists: out, kb, frequencies }
}

/** Posting lists grouped into statements of at most about `bytes` of hex each. */
export const batches = (lists: ReadonlyArray<PostingList>, bytes = 8 << 20): Array<Array<PostingList>> => {
  const out: Array<Array<PostingList>> = []
  let current: Array<PostingList> = []
  let size = 0
  for (const list of lists) {
    if (current.length > 0 && size + list.hex.length > bytes) {
      out.push(current)
      current = []
      size = 0
    }
    current.push(list)
    size += list.hex.length + list.token.length
  }
  if (current.length > 0) out.push(current)
  return out
}

/** Writes a batch of posting lists of segment `$2` of knowledge base `$1`. */
export const insertStatement = `INSERT INTO chunk_postings (kb_id, token, field, segment, n, data) ` +
  `SELECT $1, u.token, u.field, $2, u.n, decode(u.hex, 'hex') ` +
  `FROM unnest($3::text[], $4::smallint[], $5::int[], $6::text[]) AS u(token, field, n, hex)`

export const insertParams = (kbId: string, segment: number, lists: ReadonlyArray<PostingList>) => [
  kbId,
  segment,
  lists.map((l) => l.token),
  lists.map((l) => l.field),
  lists.map((l) => l.n),
  lists.map((l) => l.hex)
]

/** A `bytea` as the drivers return it: a `Uint8Array` (PGlite) or `Buffer` (postgres.js), or `\x` hex. */
export const bytesOf = (value: unknown): Uint8Array => {
  if (value instanceof Uint8Array) return value
  if (typeof value === "string" && value.startsWith("\\x")) return Buffer.from(value.slice(2), "hex")
  throw new Error(`chunk postings: not a bytea value: ${typeof value}`)
}

/** A view of a posting list's records. */
export class Records {
  private readonly view: DataView
  readonly n: number
  constructor(bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.n = Math.floor(bytes.byteLength / recordBytes)
  }
  ord(i: number): number {
    return this.view.getInt32(i * recordBytes)
  }
  tf(i: number): number {
    return this.view.getInt32(i * recordBytes + 4)
  }
  length(i: number): number {
    return this.view.getInt32(i * recordBytes + 8)
  }
  /** The records whose ordinal passes `keep`, hex-encoded, and how many. */
  filter(keep: (ord: number) => boolean): { readonly n: number; readonly hex: string } {
    const bytes = new Uint8Array(this.view.buffer, this.view.byteOffset, this.view.byteLength)
    const parts: Array<Uint8Array> = []
    let n = 0
    for (let i = 0; i < this.n; i++) {
      if (!keep(this.ord(i))) continue
      parts.push(bytes.subarray(i * recordBytes, (i + 1) * recordBytes))
      n++
    }
    return { n, hex: Buffer.concat(parts).toString("hex") }
  }
}

// --- Segments ---------------------------------------------------------------------------------

export interface Segment {
  readonly id: number
  readonly first_ord: number
  readonly end_ord: number
  readonly size: number
  readonly live: number
}

/** Segments merge in groups of this many of one size class (a power of it). */
export const mergeFactor = 10

/** A segment's size class: 0 below `mergeFactor` rows, 1 below its square, ... */
export const level = (size: number): number => {
  let l = 0
  for (let s = size; s >= mergeFactor; s = Math.floor(s / mergeFactor)) l++
  return l
}

/**
 * The next group of a knowledge base's segments (in ordinal order) to merge, as indexes `[from, to)`,
 * or `undefined` when they are in shape. The shape: size classes never grow along the ordinals and
 * no class holds `mergeFactor` segments, so a knowledge base has at most `mergeFactor - 1` segments
 * per class and every posting is rewritten about once per class it passes. A new segment at the end
 * that is larger than the ones before it takes them in; `mergeFactor` segments of the last class
 * become one.
 */
export const nextMerge = (segments: ReadonlyArray<Segment>): readonly [from: number, to: number] | undefined => {
  const n = segments.length
  if (n < 2) return undefined
  const last = level(segments[n - 1]!.size)
  let from = n - 1
  while (from > 0 && level(segments[from - 1]!.size) < last) from--
  if (from < n - 1) return [from, n]
  while (from > 0 && level(segments[from - 1]!.size) === last) from--
  return n - from >= mergeFactor ? [from, n] : undefined
}

/** Whether a segment's postings are mostly of rows gone: rewritten without them. */
export const needsRewrite = (segment: Segment): boolean => segment.size > 0 && segment.live * 2 < segment.size

// --- Scoring ----------------------------------------------------------------------------------

/**
 * The k-th largest value of `values` (1-based; `k > values.length` gives the smallest). Reorders
 * `values`.
 */
export const kthLargest = (values: Float64Array, k: number): number => {
  let lo = 0
  let hi = values.length - 1
  const target = Math.min(k, values.length) - 1
  while (lo < hi) {
    const pivot = values[(lo + hi) >>> 1]!
    let i = lo
    let j = hi
    while (i <= j) {
      while (values[i]! > pivot) i++
      while (values[j]! < pivot) j--
      if (i <= j) {
        const t = values[i]!
        values[i] = values[j]!
        values[j] = t
        i++
        j--
      }
    }
    if (target <= j) hi = j
    else if (target >= i) lo = i
    else break
  }
  return values[target]!
}

/** The candidates of a text search: parallel arrays of knowledge base, ordinal and score (above 0). */
export interface Candidates {
  readonly kbIds: ReadonlyArray<string>
  readonly ords: Int32Array
  readonly scores: Float64Array
  readonly scoreOf: (kbId: string, ord: number) => number
}

type PostingsRow = { readonly kb_id: string; readonly token: string; readonly field: number; readonly data: unknown }

/**
 * Scores every chunk in the postings of the terms with core's `ChunkIndexScoring.score` (the sum
 * every index makes, in its order): the postings give each candidate's frequency of each term and
 * its field lengths, gathered into flat arrays (a row per candidate, numbered as first met) and
 * summed per candidate. Ordinals outside `allowed` (when given) are skipped.
 */
export const score = (
  terms: ReadonlyArray<ChunkIndexScoring.Term>,
  rows: ReadonlyArray<PostingsRow>,
  allowed: ReadonlyMap<string, Uint8Array> | undefined
): Candidates => {
  const lists = new Map<string, Array<{ readonly kbId: string; readonly records: Records }>>()
  const largest = new Map<string, number>()
  for (const row of rows) {
    const records = new Records(bytesOf(row.data))
    if (records.n === 0) continue
    if (allowed !== undefined && !allowed.has(row.kb_id)) continue
    const key = `${row.field} ${row.token}`
    let list = lists.get(key)
    if (list === undefined) lists.set(key, list = [])
    list.push({ kbId: row.kb_id, records })
    // Records are in ordinal order.
    largest.set(row.kb_id, Math.max(largest.get(row.kb_id) ?? 0, records.ord(records.n - 1)))
  }
  const termLists = terms.map((term) => lists.get(`${term.field} ${term.token}`) ?? [])
  /** Per knowledge base and ordinal, the candidate's number + 1 (0: not a candidate). */
  const slots = new Map([...largest].map(([kb, n]) => [kb, new Int32Array(n + 1)] as const))
  const kbIds: Array<string> = []
  const ords: Array<number> = []
  for (const list of termLists) {
    for (const { kbId, records } of list) {
      const slot = slots.get(kbId)!
      const mask = allowed?.get(kbId)
      for (let i = 0; i < records.n; i++) {
        const ord = records.ord(i)
        if (slot[ord] !== 0 || (mask !== undefined && mask[ord] !== 1)) continue
        kbIds.push(kbId)
        ords.push(ord)
        slot[ord] = kbIds.length
      }
    }
  }
  const width = terms.length
  const fields = ChunkIndexScoring.searchFields.length
  const tf = new Int32Array(kbIds.length * width)
  const lengths = new Int32Array(kbIds.length * fields)
  termLists.forEach((list, t) => {
    const field = terms[t]!.field
    for (const { kbId, records } of list) {
      const slot = slots.get(kbId)!
      for (let i = 0; i < records.n; i++) {
        const c = slot[records.ord(i)]! - 1
        if (c < 0) continue
        tf[c * width + t] = records.tf(i)
        lengths[c * fields + field] = records.length(i)
      }
    }
  })
  const all = new Float64Array(kbIds.length)
  for (let c = 0; c < kbIds.length; c++) all[c] = ChunkIndexScoring.score(terms, tf, c * width, lengths, c * fields)
  const positive: Array<number> = []
  for (let c = 0; c < kbIds.length; c++) if (all[c]! > 0) positive.push(c)
  return {
    kbIds: positive.map((c) => kbIds[c]!),
    ords: Int32Array.from(positive, (c) => ords[c]!),
    scores: Float64Array.from(positive, (c) => all[c]!),
    scoreOf: (kbId, ord) => all[slots.get(kbId)![ord]! - 1]!
  }
}
