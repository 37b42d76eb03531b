/**
 * Tokenizer: token counts as RAGFlow counts them (tiktoken `cl100k_base`) and the search tokens it
 * indexes (RAGFlow's `rag_tokenizer`): lower-cased, Porter-stemmed English words, jieba-segmented
 * Chinese, full-width characters folded. Traditional Chinese is not folded to simplified (no
 * conversion table is bundled).
 *
 * - `tokenize(text)`: the coarse tokens (`content_ltks`), space separated;
 * - `fineTokenize(tokens)`: the finer split of coarse tokens (`content_sm_ltks`), space separated;
 * - `countTokens(text)`: tiktoken cl100k_base count; special tokens such as `<|endoftext|>` in the
 *   text count as ordinary text.
 *
 * Queries go through the same `tokenize`, so both sides match; `tokenize` is idempotent
 * (`tokenize(tokenize(x)) === tokenize(x)`). The layer holds the tiktoken encoder (made on the
 * first count, freed when the layer is released) and the jieba dictionary (loaded on the first
 * Chinese text): bind `layer` to one `provide` site.
 */
import type { Jieba } from "@node-rs/jieba"
import { Context, Effect, Layer } from "effect"
import { createRequire } from "node:module"
import type { Scope } from "effect"
import type { Tiktoken } from "tiktoken"
import { stemToFixpoint } from "./internal/porter.js"
import * as Rag from "./internal/ragTokenizer.js"
import { cachedTokenCounter } from "./internal/tokenCount.js"

export interface TokenizerService {
  readonly countTokens: (text: string) => number
  readonly tokenize: (text: string) => string
  readonly fineTokenize: (tokens: string) => string
}

export class Tokenizer extends Context.Tag("@ragkit/core/Tokenizer")<Tokenizer, TokenizerService>() {}

/**
 * The stem of one lower-case English word as `tokenize` computes it: the Porter stemmer in NLTK's
 * default mode (what RAGFlow uses), repeated until the word stops changing (`running` -> `run`,
 * `studies` -> `studi`, `database` -> `databa`).
 */
export const stem: (word: string) => string = stemToFixpoint

/** Full-width ASCII forms and the ideographic space folded to ASCII (RAGFlow's `strQ2B`). */
export const strQ2B: (text: string) => string = Rag.strQ2B

/**
 * jieba (a native binary) and tiktoken (a WebAssembly module, instantiated when required) are
 * CommonJS packages required on first use, not imported: importing core loads neither.
 */
const require = createRequire(import.meta.url)

/** jieba with its bundled dictionary (a CommonJS module that reads the file when required). */
const loadJieba = (): Jieba => {
  const { Jieba } = require("@node-rs/jieba") as typeof import("@node-rs/jieba")
  return Jieba.withDict((require("@node-rs/jieba/dict.js") as { readonly dict: Buffer }).dict)
}

const newEncoder = (): Tiktoken => (require("tiktoken") as typeof import("tiktoken")).get_encoding("cl100k_base")

/**
 * Builds the service. The tiktoken `cl100k_base` encoder is made on the first count (and freed
 * when the scope closes), the jieba dictionary on the first Chinese text. Failing to load either
 * is a defect.
 */
export const make: Effect.Effect<TokenizerService, never, Scope.Scope> = Effect.gen(function*() {
  // The encoder (~50 MB) is made on the first count: a thread that only tokenizes queries never
  // needs it. Freed when the scope closes.
  let encoder: Tiktoken | undefined
  let released = false
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      released = true
      encoder?.free()
      encoder = undefined
    })
  )
  const encoderNow = (): Tiktoken => {
    if (released) throw new Error("the tokenizer was used after its layer was released")
    return (encoder ??= newEncoder())
  }
  // Loaded on the first Chinese text (~50 MB that English-only work never needs). A napi object
  // with no explicit release: dropped with the service.
  let loaded: Jieba | undefined
  const jieba = () => (loaded ??= loadJieba())
  const segmenter: Rag.Segmenter = {
    cut: (text) => jieba().cut(text, true),
    // called on single coarse tokens, which repeat: worth a cache
    cutForSearch: Rag.memoize((token) => jieba().cutForSearch(token, false), 50_000)
  }
  const cachedStem = Rag.cachedStemmer(stemToFixpoint, 100_000)
  // exact: the sum of the encoder's counts of the pre-tokenizer's pieces, cached per piece
  const countTokens = cachedTokenCounter(
    (piece) => encoderNow().encode_ordinary(piece).length,
    100_000
  )
  return Tokenizer.of({
    countTokens,
    tokenize: (text) => Rag.tokenize(segmenter, cachedStem, text),
    fineTokenize: (tokens) => Rag.fineTokenize(segmenter, cachedStem, tokens)
  })
})

/** The tokenizer with its encoder and dictionary, acquired when the layer is built. */
export const layer: Layer.Layer<Tokenizer> = Layer.scoped(Tokenizer, make)
