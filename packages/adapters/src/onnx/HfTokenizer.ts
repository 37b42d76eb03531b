/**
 * A Hugging Face tokenizer loaded from a model folder's `tokenizer.json` (with
 * `tokenizer_config.json`), run by `@huggingface/tokenizers` (pure JavaScript): single texts and
 * pairs, truncation to the model's maximum length, and padding of a batch into int64 tensors.
 *
 * The maximum length is, in order: the `maxLength` option; `sentence_bert_config.json`
 * `max_seq_length` (sentence-transformers); `tokenizer_config.json` `model_max_length`; the
 * `truncation.max_length` of `tokenizer.json`. It is capped at the position embeddings of
 * `config.json` (`max_position_embeddings`, less the two offset positions of RoBERTa-like models)
 * and, unless `maxLength` asks for more, at 512.
 *
 * Truncation happens on the model's tokens before the special tokens are added, like the Rust
 * `tokenizers` library: a pair is cut `longest_first` (the longer side first).
 *
 * `@huggingface/tokenizers` is an optional peer dependency, imported by the first `load`.
 */
import { ModelError, OptionalPeer } from "@ragkit/core"
import { Effect, Option } from "effect"
import { asModelError } from "../internal/optionalPeer.js"
import * as files from "./internal/files.js"

/** One encoded text or pair, special tokens included. */
export interface Encoding {
  readonly ids: ReadonlyArray<number>
  /** 0 for the first text, 1 for the second of a pair. */
  readonly typeIds: ReadonlyArray<number>
}

/** A batch padded to its longest encoding, row-major `[batchSize, sequenceLength]`. */
export interface EncodedBatch {
  readonly batchSize: number
  readonly sequenceLength: number
  readonly inputIds: BigInt64Array
  readonly attentionMask: BigInt64Array
  readonly tokenTypeIds: BigInt64Array
}

export interface HfTokenizer {
  /** The most tokens of an encoding, special tokens included. */
  readonly maxLength: number
  readonly padId: number
  /** Encodes one text: `[CLS] text [SEP]` for BERT. */
  readonly encode: (text: string) => Effect.Effect<Encoding, ModelError>
  /** Encodes a pair: `[CLS] first [SEP] second [SEP]` for BERT, type ids 0 then 1. */
  readonly encodePair: (first: string, second: string) => Effect.Effect<Encoding, ModelError>
  /** Pads encodings to the longest one (right padding) with the attention mask. */
  readonly pad: (encodings: ReadonlyArray<Encoding>) => EncodedBatch
}

export interface HfTokenizerOptions {
  /** The model folder holding `tokenizer.json`. */
  readonly folder: string
  /** The maximum length in tokens (see the module's documentation for the default). */
  readonly maxLength?: number
  /** The model name used in errors (the folder by default). */
  readonly modelId?: string
}

/** Below this, a `model_max_length` is a real limit (transformers writes 1e30 for "none"). */
const unsetLength = 1_000_000

const tokenContent = (value: unknown): Option.Option<string> =>
  typeof value === "string"
    ? Option.some(value)
    : typeof value === "object" && value !== null && "content" in value && typeof value.content === "string"
    ? Option.some(value.content)
    : Option.none()

/** Cuts a pair like the Rust `tokenizers` `LongestFirst` strategy: lengths for each side. */
const longestFirst = (n1: number, n2: number, budget: number): readonly [number, number] => {
  if (n1 + n2 <= budget) return [n1, n2]
  const swap = n1 > n2
  let short = swap ? n2 : n1
  let long = swap ? n1 : n2
  long = short > budget ? short : Math.max(short, budget - short)
  if (short + long > budget) {
    short = Math.floor(budget / 2)
    long = short + (budget % 2)
  }
  return swap ? [long, short] : [short, long]
}

const library = OptionalPeer.load("@huggingface/tokenizers", () => import("@huggingface/tokenizers"), {
  neededFor: "ONNX models (@ragkit/adapters/onnx)"
})

/** Loads the tokenizer of a Hugging Face model folder. */
export const load = (options: HfTokenizerOptions): Effect.Effect<HfTokenizer, ModelError> =>
  Effect.gen(function*() {
    const { folder } = options
    const modelId = options.modelId ?? folder
    const notConfigured = (message: string, cause?: unknown) =>
      new ModelError({ reason: "NotConfigured", model: modelId, message, cause })

    const tokenizerJson = yield* files.readJsonOption(folder, "tokenizer.json", modelId)
    if (Option.isNone(tokenizerJson)) {
      return yield* Effect.fail(notConfigured(`${folder} has no tokenizer.json`))
    }
    const tokenizerConfig = yield* files.readJsonOption(folder, "tokenizer_config.json", modelId)
    const sentenceBertConfig = yield* files.readJsonOption(folder, "sentence_bert_config.json", modelId)
    const modelConfig = yield* files.readJsonOption(folder, "config.json", modelId)

    // tokenizer_config's do_lower_case overrides the BERT normaliser, as transformers' BertTokenizerFast does.
    const definition = structuredClone(tokenizerJson.value)
    const doLowerCase = files.booleanField(tokenizerConfig, "do_lower_case")
    const normalizer = definition["normalizer"]
    if (
      Option.isSome(doLowerCase) && typeof normalizer === "object" && normalizer !== null &&
      (normalizer as Record<string, unknown>)["type"] === "BertNormalizer"
    ) {
      ;(normalizer as Record<string, unknown>)["lowercase"] = doLowerCase.value
    }
    // sentence-transformers lowercases the texts themselves when its config says so.
    const lowercaseInput = Option.getOrElse(files.booleanField(sentenceBertConfig, "do_lower_case"), () => false)

    const { Tokenizer } = yield* asModelError(library, modelId)
    const tokenizer = yield* Effect.try({
      try: () => new Tokenizer(definition, Option.getOrElse(tokenizerConfig, () => ({}))),
      catch: (cause) => notConfigured(`Cannot load ${folder}/tokenizer.json: ${String(cause)}`, cause)
    })

    // Maximum length.
    const truncation = definition["truncation"]
    const truncationLength = typeof truncation === "object" && truncation !== null
      ? files.numberField(Option.some(truncation as Record<string, unknown>), "max_length")
      : Option.none<number>()
    const configured = Option.fromNullable(options.maxLength).pipe(
      Option.orElse(() => files.numberField(sentenceBertConfig, "max_seq_length")),
      Option.orElse(() => Option.filter(files.numberField(tokenizerConfig, "model_max_length"), (n) => n < unsetLength)),
      Option.orElse(() => truncationLength),
      Option.getOrElse(() => 512)
    )
    const modelType = Option.getOrElse(files.stringField(modelConfig, "model_type"), () => "")
    const positions = Option.map(
      files.numberField(modelConfig, "max_position_embeddings"),
      (n) => (/roberta|camembert/.test(modelType) ? n - 2 : n)
    )
    const cap = Math.min(options.maxLength !== undefined ? Infinity : 512, Option.getOrElse(positions, () => Infinity))
    const maxLength = Math.floor(Math.min(configured, cap))

    // Token strings to ids, as tokenizers.js' own encode does.
    const addedIds = new Map<string, number>()
    for (const [id, token] of tokenizer.get_added_tokens_decoder()) addedIds.set(token.content, id)
    const unkId = tokenizer.model?.unk_token_id
    const toId = (token: string): number => {
      const id = addedIds.get(token) ?? tokenizer.token_to_id(token) ?? unkId
      if (id === undefined) throw new Error(`token ${JSON.stringify(token)} has no id and the model has no unknown token`)
      return id
    }
    const padToken = Option.flatMap(Option.flatMap(tokenizerConfig, (c) => Option.fromNullable(c["pad_token"])), tokenContent)
    const padding = definition["padding"]
    const padId = Option.flatMapNullable(padToken, (token) => addedIds.get(token) ?? tokenizer.token_to_id(token)).pipe(
      Option.orElse(() =>
        typeof padding === "object" && padding !== null
          ? files.numberField(Option.some(padding as Record<string, unknown>), "pad_id")
          : Option.none()
      ),
      Option.getOrElse(() => 0)
    )

    const postProcess = (first: Array<string>, second: Array<string> | null): { tokens: Array<string>; typeIds: Array<number> } => {
      const processor = tokenizer.post_processor
      if (processor === null) {
        return {
          tokens: [...first, ...(second ?? [])],
          typeIds: [...first.map(() => 0), ...(second ?? []).map(() => 1)]
        }
      }
      const out = processor(first, second, true)
      const tokens = [...out.tokens, ...(out.tokens_pair ?? [])]
      const typeIds = out.token_type_ids !== undefined && out.token_type_ids.length === tokens.length
        ? out.token_type_ids
        : [...out.tokens.map(() => 0), ...(out.tokens_pair ?? []).map(() => 1)]
      return { tokens, typeIds }
    }
    const specialsSingle = postProcess([], null).tokens.length
    const specialsPair = postProcess([], []).tokens.length

    const tokenize = (text: string): Array<string> =>
      text.length === 0 ? [] : tokenizer.tokenize(lowercaseInput ? text.toLowerCase() : text, { add_special_tokens: false })

    const finish = (first: Array<string>, second: Array<string> | null): Encoding => {
      const { tokens, typeIds } = postProcess(first, second)
      return { ids: tokens.map(toId), typeIds }
    }

    const encodeError = (cause: unknown) =>
      new ModelError({ reason: "InvalidInput", model: modelId, message: `Cannot tokenize: ${String(cause)}`, cause })

    const encode = (text: string) =>
      Effect.try({
        try: () => finish(tokenize(text).slice(0, Math.max(0, maxLength - specialsSingle)), null),
        catch: encodeError
      })

    const encodePair = (first: string, second: string) =>
      Effect.try({
        try: () => {
          const a = tokenize(first)
          const b = tokenize(second)
          const [n1, n2] = longestFirst(a.length, b.length, Math.max(0, maxLength - specialsPair))
          return finish(a.slice(0, n1), b.slice(0, n2))
        },
        catch: encodeError
      })

    const pad = (encodings: ReadonlyArray<Encoding>): EncodedBatch => {
      const batchSize = encodings.length
      const sequenceLength = encodings.reduce((max, e) => Math.max(max, e.ids.length), 0)
      const size = batchSize * sequenceLength
      const inputIds = new BigInt64Array(size).fill(BigInt(padId))
      const attentionMask = new BigInt64Array(size)
      const tokenTypeIds = new BigInt64Array(size)
      encodings.forEach((encoding, row) => {
        const offset = row * sequenceLength
        encoding.ids.forEach((id, i) => {
          inputIds[offset + i] = BigInt(id)
          attentionMask[offset + i] = 1n
          tokenTypeIds[offset + i] = BigInt(encoding.typeIds[i] ?? 0)
        })
      })
      return { batchSize, sequenceLength, inputIds, attentionMask, tokenTypeIds }
    }

    return { maxLength, padId, encode, encodePair, pad } satisfies HfTokenizer
  })
