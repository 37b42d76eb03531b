/**
 * The search-field lengths of every row of a table version, by row id, so that a text search needs
 * only the row ids of the matches. A row id is `fragment × 2^32 + offset` (LanceDB without stable row
 * ids); each fragment gets a range of positions (`base + offset`), and lengths are kept in one
 * Int32Array, the fields of a position side by side.
 */
export interface Lengths {
  readonly fields: number
  /** Per fragment, its first position and its size. */
  readonly ranges: ReadonlyMap<number, { readonly base: number; readonly size: number }>
  readonly values: Int32Array
  /** One zeroed Int32 per position, lent to a search (see `scratch`). */
  spare: Int32Array | undefined
}

const fragmentOf = (rowId: number) => Math.floor(rowId / 4294967296)

export const make = (rowIds: ReadonlyArray<number>, columns: ReadonlyArray<ArrayLike<number>>): Lengths => {
  const fields = columns.length
  const sizes = new Map<number, number>()
  for (const rowId of rowIds) {
    const fragment = fragmentOf(rowId)
    const offset = rowId - fragment * 4294967296
    if (offset + 1 > (sizes.get(fragment) ?? 0)) sizes.set(fragment, offset + 1)
  }
  const ranges = new Map<number, { base: number; size: number }>()
  let positions = 0
  for (const [fragment, size] of sizes) {
    ranges.set(fragment, { base: positions, size })
    positions += size
  }
  const values = new Int32Array(positions * fields).fill(-1)
  const lengths: Lengths = { fields, ranges, values, spare: undefined }
  for (let i = 0; i < rowIds.length; i++) {
    const base = position(lengths, rowIds[i]!) * fields
    for (let f = 0; f < fields; f++) values[base + f] = columns[f]![i]!
  }
  return lengths
}

/** The position of a row id; -1 for a row the scan did not see. */
export const position = (lengths: Lengths, rowId: number): number => {
  const fragment = fragmentOf(rowId)
  const range = lengths.ranges.get(fragment)
  const offset = rowId - fragment * 4294967296
  return range === undefined || offset >= range.size ? -1 : range.base + offset
}

/** The length of field `field` (its index) at a position; -1 for a row the scan did not see. */
export const at = (lengths: Lengths, position: number, field: number): number =>
  lengths.values[position * lengths.fields + field]!

/**
 * A zeroed Int32Array with one entry per position, for a synchronous use that zeroes what it wrote
 * before it returns (so searches of this version share one).
 */
export const scratch = (lengths: Lengths): Int32Array =>
  lengths.spare ??= new Int32Array(lengths.values.length / lengths.fields)
