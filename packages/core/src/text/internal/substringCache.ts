/**
 * A cache keyed by strings and looked up by a range of a longer text, without cutting the range
 * out: the tokenizers look up every word and pre-tokenizer piece of a text, and a hit, by far the
 * most common case, then allocates nothing (a `Map` would need the substring as its key: one
 * string allocated and hashed per lookup, which was most of the tokenizers' time and garbage).
 *
 * Open addressing with linear probing over a power-of-two table twice the capacity; keys are
 * compared code unit by code unit after their hash. Emptied when full, like the `Map` caches it
 * replaces.
 */
export interface SubstringCache<A> {
  /** The value cached for `text.slice(start, end)`, or `undefined`. */
  readonly get: (text: string, start: number, end: number) => A | undefined
  /** Caches `value` for `text.slice(start, end)` (the key is cut out only here). */
  readonly set: (text: string, start: number, end: number, value: A) => void
}

/** FNV-1a over the UTF-16 code units of `text` from `start` to `end`, as a 32-bit integer. */
const hashRange = (text: string, start: number, end: number): number => {
  let h = 0x811c9dc5
  for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return h | 0
}

const sameRange = (key: string, text: string, start: number, end: number): boolean => {
  if (key.length !== end - start) return false
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) !== text.charCodeAt(start + i)) return false
  return true
}

/** A cache of at most `capacity` entries (at least 1). */
export const make = <A>(capacity: number): SubstringCache<A> => {
  const limit = Math.max(1, Math.floor(capacity))
  let slots = 2
  while (slots < limit * 2) slots *= 2
  const mask = slots - 1
  let keys: Array<string | undefined> = new Array(slots).fill(undefined)
  let values: Array<A | undefined> = new Array(slots).fill(undefined)
  const hashes = new Int32Array(slots)
  let size = 0

  /** The slot holding the range's key, or the empty slot where it would go. */
  const slotOf = (text: string, start: number, end: number, hash: number): number => {
    let at = hash & mask
    while (true) {
      const key = keys[at]
      if (key === undefined || (hashes[at] === hash && sameRange(key, text, start, end))) return at
      at = (at + 1) & mask
    }
  }

  return {
    get: (text, start, end) => {
      const at = slotOf(text, start, end, hashRange(text, start, end))
      return keys[at] === undefined ? undefined : values[at]
    },
    set: (text, start, end, value) => {
      const hash = hashRange(text, start, end)
      let at = slotOf(text, start, end, hash)
      if (keys[at] === undefined) {
        if (size >= limit) {
          keys = new Array(slots).fill(undefined)
          values = new Array(slots).fill(undefined)
          size = 0
          at = hash & mask
        }
        keys[at] = text.slice(start, end)
        hashes[at] = hash
        size++
      }
      values[at] = value
    }
  }
}
