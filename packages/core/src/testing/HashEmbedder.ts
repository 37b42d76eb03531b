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

/** FNV-1a, 32 bits, over the UTF-16 code units. */
const fnv1a = (text: string): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

const WORD_WEIGHT = 1
const TRIGRAM_WEIGHT = 0.5

/** The hashed vector of one text (all zeros for a text with no word). */
export const embed = (text: string, dimensions: number): Vector => {
  const vector = new Array<number>(dimensions).fill(0)
  const add = (feature: string, weight: number) => {
    const hash = fnv1a(feature)
    const sign = (hash & 0x80000000) === 0 ? 1 : -1
    vector[hash % dimensions]! += sign * weight
  }
  const words = text.toLowerCase().split(/[^\p{L}\p{M}\p{N}]+/u).filter((w) => w.length > 0)
  for (const word of words) {
    add(`w:${word}`, WORD_WEIGHT)
    const padded = Array.from(`#${word}#`)
    for (let i = 0; i + 3 <= padded.length; i++) add(`t:${padded.slice(i, i + 3).join("")}`, TRIGRAM_WEIGHT)
  }
  const norm = Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0))
  return norm === 0 ? vector : vector.map((x) => x / norm)
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
