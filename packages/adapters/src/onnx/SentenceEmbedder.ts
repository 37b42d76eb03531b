/**
 * A sentence-transformers embedding model exported to ONNX, run locally by ONNX Runtime.
 *
 * The folder is a Hugging Face sentence-transformers model with an ONNX export, e.g. what
 * `optimum-cli export onnx --model BAAI/bge-small-en-v1.5 <dir>` or the Hub's `onnx/` folders give:
 *
 * - `onnx/model.onnx` (or `model.onnx`): the transformer, whose output `last_hidden_state`
 *   (or `token_embeddings`, or the first output) holds one vector per token;
 * - `tokenizer.json`, `tokenizer_config.json`, `config.json` (see `HfTokenizer` for the length);
 * - `modules.json`: the pipeline; a `Normalize` module means the vectors are L2-normalised.
 *   Modules that the transformer graph does not contain (`Dense`, ...) are refused, since their
 *   weights would be silently skipped;
 * - `1_Pooling/config.json`: which pooling (`pooling_mode_mean_tokens`, `_cls_token`,
 *   `_max_tokens`, `_mean_sqrt_len_tokens`, `_lasttoken`; several are concatenated in
 *   sentence-transformers' order); mean pooling without it;
 * - `sentence_bert_config.json`: `max_seq_length` and `do_lower_case`.
 *
 * Instructions and prefixes: some models expect the query (and sometimes the passage) to start
 * with a fixed text, and give poor results without it. sentence-transformers keeps them in
 * `config_sentence_transformers.json` `prompts`; here they are options:
 *
 * - e5 (`intfloat/e5-*`, `multilingual-e5-*`): `queryPrefix: "query: "`, `documentPrefix: "passage: "`;
 * - BGE v1.5 English: `queryPrefix: "Represent this sentence for searching relevant passages: "`;
 *   BGE Chinese: `queryPrefix: "为这个句子生成表示以用于检索相关文章："`;
 * - nomic-embed: `queryPrefix: "search_query: "`, `documentPrefix: "search_document: "`.
 *
 * Texts longer than the maximum length are truncated (right), as sentence-transformers does.
 */
import { Embedder, ModelError } from "@ragkit/core"
import { Effect, Layer, Option } from "effect"
import type { Scope } from "effect"
import * as path from "node:path"
import * as files from "./internal/files.js"
import * as graph from "./internal/graph.js"
import * as OnnxSession from "./OnnxSession.js"

/** sentence-transformers' pooling modes (`weightedmean` is not supported). */
export type Pooling = "cls" | "max" | "mean" | "mean_sqrt_len" | "lasttoken"

/** sentence-transformers concatenates the enabled modes in this order. */
const poolingOrder: ReadonlyArray<readonly [Pooling, string]> = [
  ["cls", "pooling_mode_cls_token"],
  ["max", "pooling_mode_max_tokens"],
  ["mean", "pooling_mode_mean_tokens"],
  ["mean_sqrt_len", "pooling_mode_mean_sqrt_len_tokens"],
  ["lasttoken", "pooling_mode_lasttoken"]
]

export interface SentenceEmbedderOptions {
  /** The model folder. */
  readonly folder: string
  /** The model's name (the folder's name by default). */
  readonly modelId?: string
  /** `"cpu"` by default; `"cuda"` falls back to CPU with a warning. */
  readonly executionProvider?: OnnxSession.ExecutionProvider
  /** Threads inside one operator (`os.availableParallelism()` by default). */
  readonly intraOpNumThreads?: number
  /** Texts per inference (32 by default). */
  readonly maxBatchSize?: number
  /** Prepended to queries (`embedQuery`), e.g. `"query: "` for e5. */
  readonly queryPrefix?: string
  /** Prepended to documents (`embedDocuments`), e.g. `"passage: "` for e5. */
  readonly documentPrefix?: string
  /** Overrides the pooling of `1_Pooling/config.json` (several modes are concatenated). */
  readonly pooling?: Pooling | ReadonlyArray<Pooling>
  /** Overrides the normalisation that `modules.json` asks for. */
  readonly normalize?: boolean
  /** Overrides the maximum length in tokens (see `HfTokenizer`). */
  readonly maxLength?: number
  /** The graph file inside the folder, e.g. `"onnx/model_quantized.onnx"`. */
  readonly modelFile?: string
}

interface Pipeline {
  readonly pooling: ReadonlyArray<Pooling>
  readonly normalize: boolean
}

/** The pooling and normalisation that the folder's sentence-transformers files describe. */
const readPipeline = (folder: string, modelId: string): Effect.Effect<Pipeline, ModelError> =>
  Effect.gen(function*() {
    const notConfigured = (message: string) => new ModelError({ reason: "NotConfigured", model: modelId, message })
    const modules = yield* files.readJsonValueOption(folder, "modules.json", modelId)
    let poolingPath = "1_Pooling"
    let normalize = false
    if (Option.isSome(modules)) {
      if (!Array.isArray(modules.value)) return yield* Effect.fail(notConfigured(`${folder}/modules.json is not a list`))
      for (const module of modules.value as ReadonlyArray<Record<string, unknown>>) {
        const type = String(module?.["type"] ?? "")
        const kind = type.slice(type.lastIndexOf(".") + 1)
        if (kind === "Transformer") continue
        else if (kind === "Pooling") poolingPath = String(module["path"] ?? poolingPath)
        else if (kind === "Normalize") normalize = true
        else return yield* Effect.fail(notConfigured(`${folder}: the sentence-transformers module ${type} is not supported`))
      }
    }
    const config = yield* files.readJsonOption(folder, path.join(poolingPath, "config.json"), modelId)
    if (Option.isNone(config)) return { pooling: ["mean"], normalize }
    if (config.value["pooling_mode_weightedmean_tokens"] === true) {
      return yield* Effect.fail(notConfigured(`${folder}: weighted mean pooling is not supported`))
    }
    const pooling = poolingOrder.filter(([, key]) => config.value[key] === true).map(([mode]) => mode)
    if (pooling.length === 0) return yield* Effect.fail(notConfigured(`${folder}/${poolingPath}/config.json enables no pooling mode`))
    return { pooling, normalize }
  })

/**
 * Pools the token vectors `[batch, sequence, hidden]` over the attention mask, row by row, in
 * float64: the modes concatenated, then L2-normalised when asked (as torch's `F.normalize`).
 */
export const pool = (
  hidden: Float32Array,
  dims: ReadonlyArray<number>,
  attentionMask: BigInt64Array,
  pooling: ReadonlyArray<Pooling>,
  normalize: boolean
): Array<Array<number>> => {
  const [batch, sequence, size] = dims as [number, number, number]
  const rows: Array<Array<number>> = []
  for (let b = 0; b < batch; b++) {
    const at = (s: number, h: number) => hidden[(b * sequence + s) * size + h]!
    const masked: Array<number> = []
    for (let s = 0; s < sequence; s++) if (attentionMask[b * sequence + s] === 1n) masked.push(s)
    const vector: Array<number> = []
    for (const mode of pooling) {
      for (let h = 0; h < size; h++) {
        switch (mode) {
          case "cls":
            vector.push(at(0, h))
            break
          case "lasttoken":
            vector.push(at(masked.length === 0 ? 0 : masked[masked.length - 1]!, h))
            break
          case "max": {
            let max = -Infinity
            for (const s of masked) max = Math.max(max, at(s, h))
            vector.push(masked.length === 0 ? 0 : max)
            break
          }
          case "mean":
          case "mean_sqrt_len": {
            let sum = 0
            for (const s of masked) sum += at(s, h)
            const count = Math.max(masked.length, 1e-9)
            vector.push(sum / (mode === "mean" ? count : Math.sqrt(count)))
            break
          }
        }
      }
    }
    if (normalize) {
      const norm = Math.max(Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0)), 1e-12)
      for (let i = 0; i < vector.length; i++) vector[i] = vector[i]! / norm
    }
    rows.push(vector)
  }
  return rows
}

/** Opens the model; its session is released when the scope closes. */
export const make = (options: SentenceEmbedderOptions): Effect.Effect<Embedder.EmbedderService, ModelError, Scope.Scope> =>
  Effect.gen(function*() {
    const { folder } = options
    const modelId = options.modelId ?? path.basename(path.resolve(folder))
    const pipeline = yield* readPipeline(folder, modelId)
    const pooling = options.pooling === undefined
      ? pipeline.pooling
      : typeof options.pooling === "string"
      ? [options.pooling]
      : options.pooling
    const normalize = options.normalize ?? pipeline.normalize
    const { session, tokenizer } = yield* graph.open({ ...options, folder, modelId })
    const output = ["last_hidden_state", "token_embeddings"].find((name) => session.outputNames.includes(name)) ??
      session.outputNames[0]!

    const embed = (texts: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const encodings = yield* Effect.forEach(texts, tokenizer.encode)
        const batch = tokenizer.pad(encodings)
        const outputs = yield* session.run(graph.feeds(session, batch))
        const { data, dims } = yield* graph.floatOutput(modelId, outputs, output)
        if (dims.length !== 3 || dims[0] !== batch.batchSize || dims[1] !== batch.sequenceLength) {
          return yield* Effect.fail(
            new ModelError({
              reason: "BadResponse",
              model: modelId,
              message: `${output} has shape [${dims.join(", ")}], expected [${batch.batchSize}, ${batch.sequenceLength}, hidden]`
            })
          )
        }
        return pool(data, dims, batch.attentionMask, pooling, normalize)
      })

    // Runs the graph once now: a broken model fails at start-up, and this gives the dimension.
    const [probe] = yield* embed(["dimension probe"])
    const queryPrefix = options.queryPrefix ?? ""
    const documentPrefix = options.documentPrefix ?? ""

    return Embedder.make({
      modelId,
      dimensions: probe!.length,
      maxBatchSize: options.maxBatchSize ?? 32,
      embedBatch: (texts) => embed(documentPrefix === "" ? texts : texts.map((text) => documentPrefix + text)),
      embedQuery: (text) => Effect.map(embed([queryPrefix + text]), (vectors) => vectors[0]!)
    })
  }).pipe(Effect.withSpan("SentenceEmbedder.make", { attributes: { folder: options.folder } }))

/** The embedder as a layer: the session opens when the layer is built. */
export const layer = (options: SentenceEmbedderOptions): Layer.Layer<Embedder.Embedder, ModelError> =>
  Layer.scoped(Embedder.Embedder, make(options))
