/**
 * The matches of a text query in flat arrays, since a query can have tens of thousands of them and
 * an object and a map per match would cost more than the full-text queries that find them.
 *
 * The query's terms (`ChunkIndexScoring.queryTerms`) are the columns: candidates are the rows
 * holding at least one term; per candidate, `has` tells which terms it holds (in term order, so that
 * it can be summed with `ChunkIndexScoring.score`) and `lengths` its four field lengths.
 */
import * as Lengths from "./lengths.js"

export interface TablePostings {
  readonly rowIds: ReadonlyArray<number>
  /** Four field lengths per candidate. */
  readonly lengths: Int32Array
  /** One entry per term and candidate: 1 where the row holds the term. */
  readonly has: Uint8Array
  /** A match the length scan did not see: the table changed since it (the search is run again). */
  readonly moved: boolean
}

/**
 * Collects the matches of each term (`matches[t]`: the row ids holding term `t`, whose search field
 * is `fields[t]`; undefined when none) into candidates, with their lengths from the table version's
 * scan.
 */
export const collect = (
  lengths: Lengths.Lengths,
  matches: ReadonlyArray<ArrayLike<number> | undefined>,
  fields: ReadonlyArray<number>
): TablePostings => {
  const terms = matches.length
  let total = 0
  for (const ids of matches) total += ids?.length ?? 0
  const slots = Lengths.scratch(lengths)
  const rowIds: Array<number> = []
  const fieldLengths = new Int32Array(total * 4)
  const has = new Uint8Array(total * terms)
  let moved = false
  for (let t = 0; t < terms; t++) {
    const ids = matches[t]
    if (ids === undefined) continue
    for (let r = 0; r < ids.length; r++) {
      const rowId = ids[r]!
      const position = Lengths.position(lengths, rowId)
      if (position < 0) {
        moved = true
        continue
      }
      let c = slots[position]! - 1
      if (c < 0) {
        c = rowIds.length
        slots[position] = c + 1
        rowIds.push(rowId)
        for (let f = 0; f < 4; f++) fieldLengths[c * 4 + f] = Lengths.at(lengths, position, f)
      }
      has[c * terms + t] = 1
      // A row seen with this field empty cannot hold a token there.
      if (fieldLengths[c * 4 + fields[t]!]! <= 0) moved = true
    }
  }
  // The scratch array is shared by every search of this table version: cleared before returning
  // (nothing here yields, so no other search ran meanwhile).
  for (const rowId of rowIds) slots[Lengths.position(lengths, rowId)] = 0
  return {
    rowIds,
    lengths: fieldLengths.subarray(0, rowIds.length * 4),
    has: has.subarray(0, rowIds.length * terms),
    moved
  }
}

/**
 * A max-heap of candidate numbers by key, for visiting the best first without sorting them all
 * (most searches stop after a few dozen).
 */
export class MaxHeap {
  private readonly items: Int32Array
  private size: number
  constructor(private readonly keys: Float64Array, items: Int32Array) {
    this.items = items
    this.size = items.length
    for (let i = (this.size >> 1) - 1; i >= 0; i--) this.down(i)
  }
  get length(): number {
    return this.size
  }
  /** The best key, -Infinity when empty. */
  peekKey(): number {
    return this.size === 0 ? -Infinity : this.keys[this.items[0]!]!
  }
  pop(): number {
    const top = this.items[0]!
    this.size--
    if (this.size > 0) {
      this.items[0] = this.items[this.size]!
      this.down(0)
    }
    return top
  }
  private down(i: number): void {
    const { items, keys, size } = this
    const item = items[i]!
    const key = keys[item]!
    for (;;) {
      let child = 2 * i + 1
      if (child >= size) break
      if (child + 1 < size && keys[items[child + 1]!]! > keys[items[child]!]!) child++
      if (keys[items[child]!]! <= key) break
      items[i] = items[child]!
      i = child
    }
    items[i] = item
  }
}
