/**
 * The chunk index's postings (`migrations/0005_chunk_postings.ts`): building a segment's postings
 * from a write's rows, reading them back, scoring a query over them, and when to merge or rewrite
 * segments.
 *
 * A posting is 12 bytes, three big-endian int4s (as SQL's `int4send` writes them, so SQL can build
 * and concatenate them): the chunk's ordinal, the token's count in the field and the field's length.
 */
import { ChunkIndex } from "@ragkit/core"
import type * as Bm25 from "./chunkIndexBm25.js"
import type * as Stats from "./chunkIndexStats.js"

export const recordBytes = 12

/** The postings of one (field, token) in one segment: `n` records, hex-encoded for `decode(..., 'hex')`. */
export interface PostingList {
  readonly field: number
  readonly token: string
  readonly n: number
  readonly hex: string
}

/**
 * The postings of a segment's rows, given in ordinal order: one list per (field, token), each in
 * ordinal order.
 */
export const build = (
  rows: ReadonlyArray<{ readonly ord: number; readonly fields: Stats.Fields }>
): Array<PostingList> => {
  const lists = new Map<string, { field: number; token: string; values: Array<number> }>()
  for (const { fields, ord } of rows) {
    fields.forEach(({ counts, length }, field) => {
      for (const [token, count] of counts) {
        const key = `${field} ${token}`
        let list = lists.get(key)
        if (list === undefined) lists.set(key, list = { field, token, values: [] })
        list.values.push(ord, count, length)
      }
    })
  }
  return [...lists.values()].map(({ field, token, values }) => {
    const bytes = Buffer.allocUnsafe(values.length * 4)
    for (let i = 0; i < values.length; i++) bytes.writeInt32BE(values[i]!, i * 4)
    return { field, token, n: values.length / 3, hex: bytes.toString("hex") }
  })
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

/** Per knowledge base, the score of each ordinal a query touched. */
export class Accumulator {
  readonly scores: Float64Array
  readonly touched: Uint8Array
  readonly ords: Array<number> = []
  constructor(size: number) {
    this.scores = new Float64Array(size)
    this.touched = new Uint8Array(size)
  }
  add(ord: number, value: number): void {
    if (this.touched[ord] === 0) {
      this.touched[ord] = 1
      this.ords.push(ord)
    }
    this.scores[ord] = this.scores[ord]! + value
  }
}

/** The candidates of a text search: parallel arrays of knowledge base, ordinal and score (above 0). */
export interface Candidates {
  readonly kbIds: ReadonlyArray<string>
  readonly ords: Int32Array
  readonly scores: Float64Array
  readonly scoreOf: (kbId: string, ord: number) => number
}

/**
 * Scores every chunk in the postings: for each term in order (the memory index's order of summing),
 * `weight * bm25Term(idf, tf, length, averageLength)` added to the chunk's sum. Ordinals outside
 * `allowed` (when given) are skipped.
 */
export const score = (
  terms: ReadonlyArray<Bm25.Term>,
  rows: ReadonlyArray<{ readonly kb_id: string; readonly token: string; readonly field: number; readonly data: unknown }>,
  allowed: ReadonlyMap<string, Uint8Array> | undefined
): Candidates => {
  const lists = new Map<string, Array<{ readonly kbId: string; readonly records: Records }>>()
  const largest = new Map<string, number>()
  for (const row of rows) {
    const records = new Records(bytesOf(row.data))
    if (records.n === 0) continue
    const key = `${row.field} ${row.token}`
    let list = lists.get(key)
    if (list === undefined) lists.set(key, list = [])
    list.push({ kbId: row.kb_id, records })
    // Records are in ordinal order.
    largest.set(row.kb_id, Math.max(largest.get(row.kb_id) ?? 0, records.ord(records.n - 1)))
  }
  const sums = new Map([...largest].map(([kb, n]) => [kb, new Accumulator(n + 1)] as const))
  for (const { averageLength, field, idf, token, weight } of terms) {
    for (const { kbId, records } of lists.get(`${field} ${token}`) ?? []) {
      const sum = sums.get(kbId)!
      const mask = allowed?.get(kbId)
      if (allowed !== undefined && mask === undefined) continue
      for (let i = 0; i < records.n; i++) {
        const ord = records.ord(i)
        if (mask !== undefined && mask[ord] !== 1) continue
        sum.add(ord, weight * ChunkIndex.bm25Term(idf, records.tf(i), records.length(i), averageLength))
      }
    }
  }
  const kbIds: Array<string> = []
  const ords: Array<number> = []
  const scores: Array<number> = []
  for (const [kbId, sum] of sums) {
    for (const ord of sum.ords) {
      const x = sum.scores[ord]!
      if (!(x > 0)) continue
      kbIds.push(kbId)
      ords.push(ord)
      scores.push(x)
    }
  }
  return {
    kbIds,
    ords: Int32Array.from(ords),
    scores: Float64Array.from(scores),
    scoreOf: (kbId, ord) => sums.get(kbId)!.scores[ord]!
  }
}
