/**
 * The search-field lengths of every row of a table version, by row id, so that a text search needs
 * only the row ids of the matches. A row id is `fragment × 2^32 + offset` (LanceDB without stable row
 * ids); lengths are kept per fragment in one Int32Array (four fields interleaved) indexed by offset.
 */
export interface Lengths {
  readonly fragments: ReadonlyMap<number, Int32Array>
  readonly fields: number
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
  const fragments = new Map<number, Int32Array>()
  for (const [fragment, size] of sizes) fragments.set(fragment, new Int32Array(size * fields).fill(-1))
  for (let i = 0; i < rowIds.length; i++) {
    const rowId = rowIds[i]!
    const fragment = fragmentOf(rowId)
    const array = fragments.get(fragment)!
    const base = (rowId - fragment * 4294967296) * fields
    for (let f = 0; f < fields; f++) array[base + f] = columns[f]![i]!
  }
  return { fragments, fields }
}

/** The length of field `field` (its index) of a row; -1 for a row the scan did not see. */
export const get = (lengths: Lengths, rowId: number, field: number): number => {
  const fragment = fragmentOf(rowId)
  const value = lengths.fragments.get(fragment)?.[(rowId - fragment * 4294967296) * lengths.fields + field]
  return value ?? -1
}
