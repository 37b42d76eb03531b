/**
 * RAGFlow's `rag_tokenizer` (`tokenize`, `fine_grained_tokenize`) as pure functions over a Chinese
 * word segmenter and an English stemmer, written as one pass over char codes (no regex per
 * character, no intermediate arrays per word).
 *
 * `tokenize`:
 * 1. full-width ASCII folded to half-width (RAGFlow's `strQ2B`), then lower-cased;
 *    traditional -> simplified Chinese is not done (RAGFlow uses HanziConv; we have no table);
 * 2. everything that is not a letter, a digit or a combining mark is a separator, and so is `_`
 *    (RAGFlow: `\W+` -> space, then its SPLIT_CHAR class, which holds `_`). So `covid-19` gives
 *    `covid 19`, `don't` gives `don t`, `3.14` gives `3 14`;
 * 3. the rest splits into runs of Chinese characters (U+4E00..U+9FA5, RAGFlow's `is_chinese`) and
 *    runs of other word characters. A Chinese run is cut by the segmenter (jieba with HMM stands in
 *    for RAGFlow's own dictionary trie); a one-character run is kept as it is. Any other run is one
 *    token: lower-case ASCII words are stemmed, the rest (numbers, letters-with-digits such as
 *    `abc123` or `covid19`, non-ASCII words) stays as it is.
 *
 * Departures from RAGFlow, on purpose: RAGFlow also splits letters from digits in the coarse tokens
 * (`abc123` -> `abc 123`, and `merge_` glues some back by dictionary); we keep such a run whole and
 * split it in `fineTokenize`. RAGFlow's WordNet lemmatizer is skipped. The stemmer is Porter run to
 * its fixed point (see `porter.ts`), so `tokenize(tokenize(x)) === tokenize(x)`.
 */
import * as SubstringCache from "./substringCache.js"

/** The Chinese word segmenter: jieba in the service, anything with the same contract in tests. */
export interface Segmenter {
  /** Accurate mode (jieba `cut` with HMM): the words of a run of Chinese characters, in order. */
  readonly cut: (text: string) => ReadonlyArray<string>
  /** Search mode without HMM (jieba `cutForSearch`): the words and their dictionary sub-words. */
  readonly cutForSearch: (text: string) => ReadonlyArray<string>
}

export type Stemmer = (word: string) => string

/** A stemmer given a word as a range of a text: the stem of `text.slice(start, end)`. */
export type RangeStemmer = (text: string, start: number, end: number) => string

/**
 * `stem` with a cache of at most `capacity` words (emptied when full); a cached word is found
 * without being cut out of the text.
 */
export const cachedStemmer = (stem: Stemmer, capacity = 100_000): RangeStemmer => {
  const cache = SubstringCache.make<string>(capacity)
  return (text, start, end) => {
    let stemmed = cache.get(text, start, end)
    if (stemmed === undefined) {
      stemmed = stem(text.slice(start, end))
      cache.set(text, start, end, stemmed)
    }
    return stemmed
  }
}

// Character classes, after folding and lower-casing.
const SEP = 0
const LOWER = 1 // a-z
const DIGIT = 2 // 0-9
const WORD = 3 // any other letter, number or mark
const HAN = 4 // U+4E00..U+9FA5
const SURROGATE = 5 // high surrogate: classify the code point
const UNKNOWN = 255

const WORD_CHAR = /^[\p{L}\p{N}\p{M}]$/u
const CLASSES = new Uint8Array(0x10000).fill(UNKNOWN)

const classifyCodeUnit = (c: number): number => {
  if (c >= 97 && c <= 122) return LOWER
  if (c >= 48 && c <= 57) return DIGIT
  if (c < 0x80) return (c >= 65 && c <= 90) ? WORD : SEP
  if (c >= 0x4e00 && c <= 0x9fa5) return HAN
  if (c >= 0xd800 && c <= 0xdbff) return SURROGATE
  if (c >= 0xdc00 && c <= 0xdfff) return SEP // a lone low surrogate
  return WORD_CHAR.test(String.fromCharCode(c)) ? WORD : SEP
}

const classOf = (c: number): number => {
  let k = CLASSES[c]!
  if (k === UNKNOWN) {
    k = classifyCodeUnit(c)
    CLASSES[c] = k
  }
  return k
}

const astralClasses = new Map<number, number>()
const classOfCodePoint = (cp: number): number => {
  let k = astralClasses.get(cp)
  if (k === undefined) {
    k = WORD_CHAR.test(String.fromCodePoint(cp)) ? WORD : SEP
    if (astralClasses.size < 10_000) astralClasses.set(cp, k)
  }
  return k
}

const FULL_WIDTH = /[\u3000\uff01-\uff5e]/
const FULL_WIDTH_ALL = /[\u3000\uff01-\uff5e]/g
const toHalfWidth = (c: string): string => (c === "\u3000" ? " " : String.fromCharCode(c.charCodeAt(0) - 0xfee0))

/** Full-width ASCII forms (U+FF01..U+FF5E) and the ideographic space folded to ASCII (`strQ2B`). */
export const strQ2B = (text: string): string =>
  FULL_WIDTH.test(text) ? text.replace(FULL_WIDTH_ALL, toHalfWidth) : text

/** RAGFlow's `is_chinese` on one UTF-16 code unit. */
const isHan = (c: number): boolean => c >= 0x4e00 && c <= 0x9fa5

/** The coarse search tokens of `text`, space separated. */
export const tokenize = (segmenter: Segmenter, stem: RangeStemmer, text: string): string => {
  if (text.length === 0) return ""
  const s = strQ2B(text).toLowerCase()
  const n = s.length
  const out: Array<string> = []
  let i = 0
  while (i < n) {
    const c = s.charCodeAt(i)
    let k = classOf(c)
    let width = 1
    if (k === SURROGATE) {
      const cp = s.codePointAt(i)!
      if (cp > 0xffff) {
        k = classOfCodePoint(cp)
        width = 2
      } else {
        k = SEP
      }
    }
    if (k === SEP) {
      i += width
      continue
    }
    const start = i
    if (k === HAN) {
      i++
      while (i < n && isHan(s.charCodeAt(i))) i++
      if (i - start === 1) {
        out.push(s[start]!)
      } else {
        for (const word of segmenter.cut(s.slice(start, i))) {
          if (word.length > 0) out.push(word)
        }
      }
      continue
    }
    // a run of non-Chinese word characters
    let lower = k === LOWER
    i += width
    while (i < n) {
      const d = s.charCodeAt(i)
      let kd = classOf(d)
      let w = 1
      if (kd === SURROGATE) {
        const cp = s.codePointAt(i)!
        if (cp > 0xffff) {
          kd = classOfCodePoint(cp)
          w = 2
        } else {
          kd = SEP
        }
      }
      if (kd === SEP || kd === HAN) break
      if (kd !== LOWER) lower = false
      i += w
    }
    out.push(lower ? stem(s, start, i) : s.slice(start, i))
  }
  return out.join(" ")
}

const allHan = (token: string): boolean => {
  for (let i = 0; i < token.length; i++) if (!isHan(token.charCodeAt(i))) return false
  return true
}

/**
 * The sub-words of a Chinese token of three or more characters: the segmenter's search-mode words
 * shorter than the token, plus each character no sub-word covers, in order of position. A token
 * with no shorter dictionary word inside stays whole.
 */
const splitChinese = (segmenter: Segmenter, token: string, out: Array<string>): void => {
  const parts: Array<readonly [number, string]> = []
  const covered = new Uint8Array(token.length)
  const seen = new Set<string>()
  for (const word of segmenter.cutForSearch(token)) {
    if (word.length === 0 || word.length >= token.length || seen.has(word)) continue
    seen.add(word)
    for (let at = token.indexOf(word); at >= 0; at = token.indexOf(word, at + 1)) {
      parts.push([at, word])
      covered.fill(1, at, at + word.length)
    }
  }
  if (parts.length === 0) {
    out.push(token)
    return
  }
  for (let at = 0; at < token.length; at++) if (covered[at] === 0) parts.push([at, token[at]!])
  parts.sort((a, b) => a[0] - b[0] || a[1].length - b[1].length)
  for (const [, word] of parts) out.push(word)
}

/** `abc123` -> `abc 123`, `unity3d` -> `unity 3 d`; letter runs stemmed as `tokenize` would. */
const splitAlphanumeric = (stem: RangeStemmer, token: string, out: Array<string>): boolean => {
  let letters = false
  let digits = false
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i)
    if (c >= 97 && c <= 122) letters = true
    else if (c >= 48 && c <= 57) digits = true
    else return false
  }
  if (!letters || !digits) return false
  let start = 0
  let digit = token.charCodeAt(0) <= 57
  for (let i = 1; i <= token.length; i++) {
    const isDigit = i < token.length && token.charCodeAt(i) <= 57
    if (i === token.length || isDigit !== digit) {
      out.push(digit ? token.slice(start, i) : stem(token, start, i))
      start = i
      digit = isDigit
    }
  }
  return true
}

/** One coarse token's fine-grained tokens, onto `out`. */
const fineToken = (segmenter: Segmenter, stem: RangeStemmer, token: string, out: Array<string>): void => {
  if (token.length >= 3 && allHan(token)) splitChinese(segmenter, token, out)
  else if (!splitAlphanumeric(stem, token, out)) out.push(token)
}

/** The characters JavaScript's `\s` matches. */
const isJsSpace = (c: number): boolean =>
  c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
  c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff

/** `fineTokenize` by splitting on every run of white space. */
export const fineTokenizeBySplit = (segmenter: Segmenter, stem: RangeStemmer, tokens: string): string => {
  const out: Array<string> = []
  for (const token of tokens.split(/\s+/)) if (token.length > 0) fineToken(segmenter, stem, token, out)
  return out.join(" ")
}

/**
 * The fine-grained tokens of coarse tokens (RAGFlow's `fine_grained_tokenize`): Chinese tokens of
 * three or more characters are replaced by their sub-words, letters-with-digits tokens are split
 * at the boundaries, everything else is kept. Unlike RAGFlow, the rule is per token (RAGFlow skips
 * the split when under 20% of the tokens are Chinese), so a term splits the same way in a query and
 * in a chunk.
 *
 * Tokens as `tokenize` gives them (one space apart) are read in place: up to the first token that
 * may split, the result is the input itself.
 */
export const fineTokenize = (segmenter: Segmenter, stem: RangeStemmer, tokens: string): string => {
  const n = tokens.length
  /** Set at the first token that may split: the tokens so far, then every token's fine tokens. */
  let out: Array<string> | undefined
  let start = 0
  // What the token read so far holds: a fineToken split needs Chinese only, or letters and digits only.
  let letters = false
  let digits = false
  let han = 0
  let other = false
  for (let i = 0; i <= n; i++) {
    const c = i < n ? tokens.charCodeAt(i) : 0x20
    if (c !== 0x20) {
      if (c >= 97 && c <= 122) letters = true
      else if (c >= 48 && c <= 57) digits = true
      else if (isHan(c)) han++
      else if (isJsSpace(c)) return fineTokenizeBySplit(segmenter, stem, tokens)
      else other = true
      continue
    }
    // An empty token: the input is empty, or has a leading, trailing or doubled space.
    if (i === start) return fineTokenizeBySplit(segmenter, stem, tokens)
    const maySplit = (han >= 3 && han === i - start) || (letters && digits && !other && han === 0)
    if (out === undefined && maySplit) out = start === 0 ? [] : [tokens.slice(0, start - 1)]
    if (out !== undefined) fineToken(segmenter, stem, tokens.slice(start, i), out)
    start = i + 1
    letters = digits = other = false
    han = 0
  }
  return out === undefined ? tokens : out.join(" ")
}

/** `f` memoised in a Map of at most `capacity` entries, emptied when full. */
export const memoize = <A>(f: (key: string) => A, capacity = 100_000): (key: string) => A => {
  const cache = new Map<string, A>()
  return (key) => {
    let value = cache.get(key)
    if (value === undefined) {
      value = f(key)
      if (cache.size >= capacity) cache.clear()
      cache.set(key, value)
    }
    return value
  }
}
