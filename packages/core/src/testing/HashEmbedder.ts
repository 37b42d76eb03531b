/**
 * A deterministic embedder for tests and offline demos: feature hashing of lower-cased word tokens
 * and their character trigrams into `dimensions` signed buckets, L2-normalised. The same text always
 * gives the same vector, and texts sharing words (or parts of words) have a higher cosine.
 * It knows no meaning: synonyms are as far apart as unrelated words.
 */
import { Effect, Layer } from "effect"
import { Embedder, make as makeEmbedder } from "../ports/Embedder.js"
import type { EmbedderService, Vector } from "../ports/Embedder.js"

export interface HashEmbedderOptions {
  /** 64 by default. */
  readonly dimensions?: number
  /** `hash-<dimensions>` by default. */
  readonly modelId?: string
}

const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193

/** FNV-1a, 32 bits, over the UTF-16 code units of `text`, continuing from `hash`. */
const fnv1a = (text: string, hash = FNV_OFFSET): number => {
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), FNV_PRIME)
  return hash
}

const WORD_WEIGHT = 1
const TRIGRAM_WEIGHT = 0.5
const WORD_PREFIX = fnv1a("w:")
const TRIGRAM_PREFIX = fnv1a("t:")
const HASH = "#".charCodeAt(0)
const WORDS = /[\p{L}\p{M}\p{N}]+/gu

/** Adds `weight` to the signed bucket of `hash`. */
const addTo = (vector: Array<number>, hash: number, weight: number) => {
  const unsigned = hash >>> 0
  vector[unsigned % vector.length]! += (unsigned & 0x80000000) === 0 ? weight : -weight
}

const normalised = (vector: Array<number>): Vector => {
  let sum = 0
  for (const x of vector) sum += x * x
  const norm = Math.sqrt(sum)
  return norm === 0 ? vector : vector.map((x) => x / norm)
}

/** ASCII white space: never in a word, and lower-casing never looks across it (final sigma). */
const isAsciiSpace = (unit: number) => unit === 0x20 || (unit >= 0x09 && unit <= 0x0d)

/**
 * The hashed vector of one text (all zeros for a text with no word): each lower-cased word hashed
 * as `w:<word>`, and each trigram of code points of `#<word>#` as `t:<trigram>`. Hashes are computed
 * over the code units without building those strings.
 *
 * The text is read in pieces between ASCII white space; a piece of ASCII characters only is read
 * once, in place (`addAscii`), the others as a whole text is (`addUnicode`). Same vector as
 * `embedUnicode`, which reads the whole text the general way.
 */
export const embed = (text: string, dimensions: number): Vector => {
  const vector = new Array<number>(dimensions).fill(0)
  let start = 0
  let ascii = true
  for (let i = 0; i <= text.length; i++) {
    const unit = i < text.length ? text.charCodeAt(i) : 0x20
    if (isAsciiSpace(unit)) {
      if (i > start) {
        if (ascii) addAscii(vector, text, start, i)
        else addUnicode(vector, text.slice(start, i))
      }
      start = i + 1
      ascii = true
    } else if (unit > 0x7f) ascii = false
  }
  return normalised(vector)
}

/** The lower-cased code of an ASCII letter or digit (a word character), or -1. */
const asciiWordUnit = (unit: number): number =>
  unit >= 0x61 && unit <= 0x7a || unit >= 0x30 && unit <= 0x39 ? unit : unit >= 0x41 && unit <= 0x5a ? unit | 0x20 : -1

/** `#<word>#` of `addAscii`, lower-cased: reused. */
const asciiUnits: Array<number> = [HASH]

/** Adds the words of `text[start, end)`, ASCII characters only: words are runs of letters and digits. */
const addAscii = (vector: Array<number>, text: string, start: number, end: number) => {
  const units = asciiUnits
  let i = start
  while (i < end) {
    let unit = asciiWordUnit(text.charCodeAt(i))
    if (unit < 0) {
      i++
      continue
    }
    let length = 1
    let hash = WORD_PREFIX
    while (unit >= 0) {
      hash = Math.imul(hash ^ unit, FNV_PRIME)
      units[length++] = unit
      unit = ++i < end ? asciiWordUnit(text.charCodeAt(i)) : -1
    }
    units[length++] = HASH
    addTo(vector, hash, WORD_WEIGHT)
    for (let c = 0; c + 3 <= length; c++) {
      const trigram = Math.imul(Math.imul(Math.imul(TRIGRAM_PREFIX ^ units[c]!, FNV_PRIME) ^ units[c + 1]!, FNV_PRIME) ^ units[c + 2]!, FNV_PRIME)
      addTo(vector, trigram, TRIGRAM_WEIGHT)
    }
  }
}

/** `embed` of any text, read as a whole: the reference of `embed`'s pieces. */
export const embedUnicode = (text: string, dimensions: number): Vector => {
  const vector = new Array<number>(dimensions).fill(0)
  addUnicode(vector, text)
  return normalised(vector)
}

/** Adds the words of `text`: lower-cased, runs of letters, marks and numbers. */
const addUnicode = (vector: Array<number>, text: string) => {
  // The padded word's code points, each as its UTF-16 code units (one, or a surrogate pair).
  const units: Array<number> = []
  const starts: Array<number> = []
  for (const match of text.toLowerCase().matchAll(WORDS)) {
    const word = match[0]
    addTo(vector, fnv1a(word, WORD_PREFIX), WORD_WEIGHT)
    units.length = 0
    starts.length = 0
    starts.push(0)
    units.push(HASH)
    for (let i = 0; i < word.length; i++) {
      const unit = word.charCodeAt(i)
      starts.push(units.length)
      units.push(unit)
      // A surrogate pair is one code point.
      if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < word.length) {
        const next = word.charCodeAt(i + 1)
        if (next >= 0xdc00 && next <= 0xdfff) {
          units.push(next)
          i++
        }
      }
    }
    starts.push(units.length)
    units.push(HASH)
    starts.push(units.length)
    for (let c = 0; c + 3 < starts.length; c++) {
      let hash = TRIGRAM_PREFIX
      for (let u = starts[c]!; u < starts[c + 3]!; u++) hash = Math.imul(hash ^ units[u]!, FNV_PRIME)
      addTo(vector, hash, TRIGRAM_WEIGHT)
    }
  }
}

export const make = (options: HashEmbedderOptions = {}): EmbedderService => {
  const dimensions = options.dimensions ?? 64
  return makeEmbedder({
    modelId: options.modelId ?? `hash-${dimensions}`,
    dimensions,
    maxBatchSize: 256,
    embedBatch: (texts) => Effect.sync(() => texts.map((text) => embed(text, dimensions)))
  })
}

export const layer = (options: HashEmbedderOptions = {}): Layer.Layer<Embedder> =>
  Layer.sync(Embedder, () => make(options))
