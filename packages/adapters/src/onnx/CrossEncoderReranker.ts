/**
 * A cross-encoder reranker exported to ONNX (a `*ForSequenceClassification` model with one label,
 * e.g. `BAAI/bge-reranker-base`, `cross-encoder/ms-marco-MiniLM-L-6-v2`), run locally by ONNX Runtime.
 *
 * The folder holds `onnx/model.onnx` (or `model.onnx`), `tokenizer.json`, `tokenizer_config.json`
 * and `config.json`. Each passage is encoded with the query as a pair
 * (`[CLS] query [SEP] passage [SEP]`, token type ids 0 then 1), cut `longest_first` to the maximum
 * length; the graph's `logits` `[batch, 1]` is the score.
 *
 * Scores are the raw logits by default (what sentence-transformers' `CrossEncoder.predict` gives
 * with no activation): any real number, higher is more relevant. `sigmoid: true` maps them to
 * [0, 1], the scale RAGFlow expects when it mixes rerank scores with term similarity (its
 * rerankers normalise scores into [0, 1]); the order is the same.
 */
import { ModelError, Reranker } from "@ragkit/core"
import { Effect, Layer } from "effect"
import type { Scope } from "effect"
import * as path from "node:path"
import * as graph from "./internal/graph.js"
import * as OnnxSession from "./OnnxSession.js"

export interface CrossEncoderRerankerOptions {
  /** The model folder. */
  readonly folder: string
  /** The model's name (the folder's name by default). */
  readonly modelId?: string
  /** `"cpu"` by default; `"cuda"` falls back to CPU with a warning. */
  readonly executionProvider?: OnnxSession.ExecutionProvider
  /** Threads inside one operator (`os.availableParallelism()` by default). */
  readonly intraOpNumThreads?: number
  /** Pairs per inference (32 by default). */
  readonly maxBatchSize?: number
  /** Map each logit `x` to `1 / (1 + e^-x)`, in [0, 1] (false by default: raw logits). */
  readonly sigmoid?: boolean
  /** Overrides the maximum length in tokens of a pair (see `HfTokenizer`). */
  readonly maxLength?: number
  /** The graph file inside the folder, e.g. `"onnx/model_quantized.onnx"`. */
  readonly modelFile?: string
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x))

/** Opens the model; its session is released when the scope closes. */
export const make = (options: CrossEncoderRerankerOptions): Effect.Effect<Reranker.RerankerService, ModelError, Scope.Scope> =>
  Effect.gen(function*() {
    const { folder } = options
    const modelId = options.modelId ?? path.basename(path.resolve(folder))
    const { session, tokenizer } = yield* graph.open({ ...options, folder, modelId })
    const output = session.outputNames.includes("logits") ? "logits" : session.outputNames[0]!

    const logits = (query: string, passages: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const encodings = yield* Effect.forEach(passages, (passage) => tokenizer.encodePair(query, passage))
        const batch = tokenizer.pad(encodings)
        const outputs = yield* session.run(graph.feeds(session, batch))
        const { data, dims } = yield* graph.floatOutput(modelId, outputs, output)
        const perRow = dims.length === 1 ? 1 : dims.length === 2 ? dims[1] : -1
        if (dims[0] !== batch.batchSize || perRow !== 1) {
          return yield* Effect.fail(
            new ModelError({
              reason: "BadResponse",
              model: modelId,
              message: `${output} has shape [${dims.join(", ")}], expected [${batch.batchSize}, 1] (one logit per pair)`
            })
          )
        }
        return Array.from(data.subarray(0, batch.batchSize))
      })

    // Runs the graph once now: a broken model (or one with several labels) fails at start-up.
    yield* logits("probe", ["probe"])
    const map = options.sigmoid === true ? sigmoid : (x: number) => x

    return Reranker.make({
      modelId,
      maxBatchSize: options.maxBatchSize ?? 32,
      rerankBatch: (query, passages) => Effect.map(logits(query, passages), (scores) => scores.map(map))
    })
  }).pipe(Effect.withSpan("CrossEncoderReranker.make", { attributes: { folder: options.folder } }))

/** The reranker as a layer: the session opens when the layer is built. */
export const layer = (options: CrossEncoderRerankerOptions): Layer.Layer<Reranker.Reranker, ModelError> =>
  Layer.scoped(Reranker.Reranker, make(options))
