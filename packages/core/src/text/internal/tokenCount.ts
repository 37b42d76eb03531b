/**
 * Fast, exact cl100k_base token counts. tiktoken splits a text with its pre-tokenizer pattern and
 * byte-pair-encodes each piece on its own, so the count of a text is the sum of the counts of its
 * pieces. We split in JavaScript and ask the encoder only for pieces we have not seen (words
 * repeat: most pieces hit the cache), several times faster than encoding the whole text in WASM.
 *
 * The split is a hand-written scanner equivalent to cl100k_base's `pat_str`
 *
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
 *   \s*[\r\n]+|\s+(?!\S)|\s+
 *
 * with leftmost-first alternation and backtracking as the Rust regex runs it: `\s` is Unicode
 * White_Space (which differs from JavaScript's `\s` at U+0085 and U+FEFF) and `(?i:'s)` also
 * matches `'ſ` (Unicode case folding).
 */
import * as SubstringCache from "./substringCache.js"

const LETTER = 1
const NUMBER = 2
const SPACE = 3 // White_Space other than \r and \n
const NEWLINE = 4 // \r or \n
const OTHER = 5
const UNKNOWN = 0

const IS_LETTER = /^\p{L}$/u
const IS_NUMBER = /^\p{N}$/u

const isWhiteSpace = (cp: number): boolean =>
  (cp >= 0x09 && cp <= 0x0d) || cp === 0x20 || cp === 0x85 || cp === 0xa0 || cp === 0x1680 ||
  (cp >= 0x2000 && cp <= 0x200a) || cp === 0x2028 || cp === 0x2029 || cp === 0x202f || cp === 0x205f ||
  cp === 0x3000

const classify = (cp: number): number => {
  if (cp === 0x0a || cp === 0x0d) return NEWLINE
  if (isWhiteSpace(cp)) return SPACE
  if (cp >= 0xd800 && cp <= 0xdfff) return OTHER // a lone surrogate
  const ch = String.fromCodePoint(cp)
  if (IS_LETTER.test(ch)) return LETTER
  if (IS_NUMBER.test(ch)) return NUMBER
  return OTHER
}

const BMP = new Uint8Array(0x10000)
const astral = new Map<number, number>()

const classOf = (cp: number): number => {
  if (cp < 0x10000) {
    let k = BMP[cp]!
    if (k === UNKNOWN) {
      k = classify(cp)
      BMP[cp] = k
    }
    return k
  }
  let k = astral.get(cp)
  if (k === undefined) {
    k = classify(cp)
    if (astral.size < 10_000) astral.set(cp, k)
  }
  return k
}

/** The code point at `i` (a lone surrogate stands for itself). */
const codePointAt = (s: string, i: number): number => s.codePointAt(i)!
const width = (cp: number): number => (cp > 0xffff ? 2 : 1)

/** Length of the contraction `'s`, `'t`, `'re`, `'ve`, `'m`, `'ll`, `'d` (any case) at `i`, or 0. */
const contraction = (s: string, i: number): number => {
  const a = s.charCodeAt(i + 1) | 0x20
  if (a === 115 || s.charCodeAt(i + 1) === 0x17f || a === 116 || a === 109 || a === 100) {
    return i + 1 < s.length ? 2 : 0 // s ſ t m d
  }
  const b = s.charCodeAt(i + 2) | 0x20
  if ((a === 114 && b === 101) || (a === 118 && b === 101) || (a === 108 && b === 108)) return 3 // re ve ll
  return 0
}

/** Calls `piece(start, end)` for each pre-tokenizer piece of `s`, in order. */
export const splitPieces = (s: string, piece: (start: number, end: number) => void): void => {
  const n = s.length
  let i = 0
  while (i < n) {
    const cp = codePointAt(s, i)
    const k = classOf(cp)
    const w = width(cp)
    const start = i
    // 1. contractions
    if (cp === 0x27) {
      const len = contraction(s, i)
      if (len > 0) {
        i += len
        piece(start, i)
        continue
      }
    }
    // 2. [^\r\n\p{L}\p{N}]?\p{L}+
    let j = i
    if (k === LETTER) {
      j = i + w
    } else if (k !== NEWLINE && k !== NUMBER && i + w < n && classOf(codePointAt(s, i + w)) === LETTER) {
      j = i + w + width(codePointAt(s, i + w))
    }
    if (j > i) {
      while (j < n) {
        const c = codePointAt(s, j)
        if (classOf(c) !== LETTER) break
        j += width(c)
      }
      i = j
      piece(start, i)
      continue
    }
    // 3. \p{N}{1,3}
    if (k === NUMBER) {
      j = i + w
      for (let count = 1; count < 3 && j < n; count++) {
        const c = codePointAt(s, j)
        if (classOf(c) !== NUMBER) break
        j += width(c)
      }
      i = j
      piece(start, i)
      continue
    }
    // 4. " ?[^\s\p{L}\p{N}]+[\r\n]*"
    j = cp === 0x20 && i + 1 < n && classOf(codePointAt(s, i + 1)) === OTHER ? i + 1 : i
    if (classOf(codePointAt(s, j)) === OTHER) {
      while (j < n) {
        const c = codePointAt(s, j)
        if (classOf(c) !== OTHER) break
        j += width(c)
      }
      while (j < n && (s.charCodeAt(j) === 0x0a || s.charCodeAt(j) === 0x0d)) j++
      i = j
      piece(start, i)
      continue
    }
    // whitespace (all White_Space characters are in the BMP and one code unit wide)
    let end = i
    let lastNewline = -1
    while (end < n) {
      const c = classOf(s.charCodeAt(end))
      if (c === NEWLINE) lastNewline = end
      else if (c !== SPACE) break
      end++
    }
    if (lastNewline >= 0) {
      // 5. \s*[\r\n]+ : up to the last newline of the run
      i = lastNewline + 1
    } else if (end === n || end - i >= 2) {
      // 6. \s+(?!\S) : the run, less its last character when a non-space follows
      i = end === n ? end : end - 1
    } else {
      // 7. \s+
      i = end
    }
    piece(start, i)
  }
}

/** Pieces longer than this are counted but not cached. */
const MAX_CACHED_PIECE = 64

/**
 * Pieces longer than this (a "word" of thousands of letters, a run of spaces) are counted in
 * windows of this many code units and the counts added: byte-pair encoding takes time by the
 * square of a piece's length (a 1 MB word took minutes), and merges across a window's edge are
 * lost, so such a count may be a few per cent high.
 */
export const MAX_EXACT_PIECE = 256

const countLong = (encode: (piece: string) => number, piece: string): number => {
  let count = 0
  for (let start = 0; start < piece.length;) {
    let end = Math.min(piece.length, start + MAX_EXACT_PIECE)
    // Never split a surrogate pair.
    if (end < piece.length && (piece.charCodeAt(end) & 0xfc00) === 0xdc00) end--
    count += encode(piece.slice(start, end))
    start = end
  }
  return count
}

/**
 * A token counter over `encode` (the encoder's count of one piece), with a cache of at most
 * `capacity` pieces, emptied when full. A cached piece is found without being cut out of the text.
 */
export const cachedTokenCounter = (
  encode: (piece: string) => number,
  capacity = 100_000
): (text: string) => number => {
  const cache = SubstringCache.make<number>(capacity)
  return (text) => {
    let count = 0
    splitPieces(text, (start, end) => {
      const cached = end - start <= MAX_CACHED_PIECE ? cache.get(text, start, end) : undefined
      if (cached !== undefined) {
        count += cached
        return
      }
      const piece = text.slice(start, end)
      const n = piece.length > MAX_EXACT_PIECE ? countLong(encode, piece) : encode(piece)
      if (piece.length <= MAX_CACHED_PIECE) cache.set(text, start, end, n)
      count += n
    })
    return count
  }
}
