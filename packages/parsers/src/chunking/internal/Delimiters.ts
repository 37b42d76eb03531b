/**
 * RAGFlow's `delimiter` field: every character outside backticks is a delimiter of its own, a run of
 * characters between backticks is one literal delimiter (`` `##` ``). Line endings in the field are
 * normalized to `\n`; matching is case-sensitive and longest-first.
 *
 * When the field holds a backtick-wrapped delimiter, RAGFlow's "custom delimiter" mode applies: every
 * segment becomes a chunk of its own and `chunk_token_num` is not used.
 *
 * Where the text is cut: whitespace delimiters and backtick-wrapped delimiters are dropped (they are
 * boundaries, never content); a non-whitespace single-character delimiter (`!`, `?`, `。`) stays at
 * the end of the piece it closes, so sentences keep their punctuation.
 */

export interface Delimiters {
  /** Single-character delimiters, by UTF-16 code unit (astral characters go to `multi`). */
  readonly singles: ReadonlySet<number>
  /** Multi-unit delimiters, longest first. */
  readonly multi: ReadonlyArray<string>
  /** First code units of the multi-unit delimiters, to test cheaply. */
  readonly multiFirst: ReadonlySet<number>
  /** Delimiters that stay with the piece they close. */
  readonly kept: ReadonlySet<string>
  /** The field has a backtick-wrapped delimiter: each segment is its own chunk. */
  readonly custom: boolean
  readonly empty: boolean
}

const isWhitespace = (s: string) => s.trim() === ""

export const parseDelimiters = (field: string): Delimiters => {
  const normalized = field.replace(/\r\n?/g, "\n")
  const found: Array<string> = []
  const seen = new Set<string>()
  const wrapped = new Set<string>()
  const add = (d: string, isWrapped: boolean) => {
    if (d === "" || seen.has(d)) return
    seen.add(d)
    found.push(d)
    if (isWrapped) wrapped.add(d)
  }
  const re = /`([^`]+)`/g
  let cursor = 0
  let custom = false
  for (let m = re.exec(normalized); m !== null; m = re.exec(normalized)) {
    for (const ch of normalized.slice(cursor, m.index)) add(ch, false)
    add(m[1]!, true)
    custom = true
    cursor = m.index + m[0].length
  }
  for (const ch of normalized.slice(cursor)) add(ch, false)

  const singles = new Set<number>()
  const multi: Array<string> = []
  const kept = new Set<string>()
  for (const d of found) {
    if (d.length === 1) singles.add(d.charCodeAt(0))
    else multi.push(d)
    if (!wrapped.has(d) && !isWhitespace(d)) kept.add(d)
  }
  multi.sort((a, b) => b.length - a.length)
  return {
    singles,
    multi,
    multiFirst: new Set(multi.map((d) => d.charCodeAt(0))),
    kept,
    custom,
    empty: found.length === 0
  }
}

const isSpaceCode = (c: number) =>
  c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12 || c === 0xa0 || c === 0x3000 || (c >= 0x2000 && c <= 0x200b)

/**
 * Calls `emit(start, end)` for every non-blank piece of `text` (trimmed of surrounding whitespace),
 * in order, in one pass over the text.
 */
export const splitPieces = (
  text: string,
  delimiters: Delimiters,
  emit: (start: number, end: number) => void
): void => {
  const emitTrimmed = (start: number, end: number) => {
    while (start < end && isSpaceCode(text.charCodeAt(start))) start++
    while (end > start && isSpaceCode(text.charCodeAt(end - 1))) end--
    if (end > start) emit(start, end)
  }
  if (delimiters.empty) {
    emitTrimmed(0, text.length)
    return
  }
  const { kept, multi, multiFirst, singles } = delimiters
  const hasMulti = multi.length > 0
  let segStart = 0
  let i = 0
  const n = text.length
  while (i < n) {
    const c = text.charCodeAt(i)
    let match: string | undefined
    if (hasMulti && multiFirst.has(c)) {
      for (const d of multi) {
        if (text.startsWith(d, i)) {
          match = d
          break
        }
      }
    }
    if (match === undefined && singles.has(c)) match = text[i]!
    if (match === undefined) {
      i++
      continue
    }
    const end = i + match.length
    emitTrimmed(segStart, kept.has(match) ? end : i)
    segStart = end
    i = end
  }
  emitTrimmed(segStart, n)
}
