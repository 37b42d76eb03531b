/** What the embedder and the reranker share: finding the graph file, and feeding a tokenised batch. */
import { ModelError } from "@ragkit/core"
import { Effect, Option, type Scope } from "effect"
import * as path from "node:path"
import * as HfTokenizer from "../HfTokenizer.js"
import type { EncodedBatch } from "../HfTokenizer.js"
import * as OnnxSession from "../OnnxSession.js"
import * as files from "./files.js"

/** `onnx/model.onnx` (Hugging Face's ONNX exports) or `model.onnx`, or the file asked for. */
export const modelFile = (folder: string, modelId: string, override?: string): Effect.Effect<string, ModelError> =>
  Effect.flatMap(files.firstFile(folder, override !== undefined ? [override] : ["onnx/model.onnx", "model.onnx"]), (found) =>
    Option.match(found, {
      onSome: (file) => Effect.succeed(path.join(folder, file)),
      onNone: () =>
        Effect.fail(
          new ModelError({
            reason: "NotConfigured",
            model: modelId,
            message: override !== undefined
              ? `${folder} has no ${override}`
              : `${folder} has no onnx/model.onnx or model.onnx`
          })
        )
    }))

const knownInputs = new Set(["input_ids", "attention_mask", "token_type_ids"])

/** Fails when the graph wants an input that a tokeniser does not give. */
export const checkInputs = (session: OnnxSession.OnnxSession): Effect.Effect<void, ModelError> => {
  const unknown = session.inputNames.filter((name) => !knownInputs.has(name))
  return unknown.length === 0 && session.inputNames.includes("input_ids")
    ? Effect.void
    : Effect.fail(
      new ModelError({
        reason: "NotConfigured",
        model: session.modelId,
        message: `Unsupported ONNX graph inputs: ${session.inputNames.join(", ")} (expected input_ids, attention_mask, token_type_ids)`
      })
    )
}

/** The batch as the graph's inputs, by their names (token_type_ids only when the graph has it). */
export const feeds = (session: OnnxSession.OnnxSession, batch: EncodedBatch): Record<string, OnnxSession.Tensor> => {
  const dims = [batch.batchSize, batch.sequenceLength]
  const data: Record<string, BigInt64Array> = {
    input_ids: batch.inputIds,
    attention_mask: batch.attentionMask,
    token_type_ids: batch.tokenTypeIds
  }
  const out: Record<string, OnnxSession.Tensor> = {}
  for (const name of session.inputNames) {
    const values = data[name]!
    out[name] = session.inputTypes.get(name) === "int32"
      ? session.int32Tensor(Int32Array.from(values, Number), dims)
      : session.int64Tensor(values, dims)
  }
  return out
}

/** The float32 data and shape of an output, or a `BadResponse`. */
export const floatOutput = (
  modelId: string,
  outputs: Readonly<Record<string, OnnxSession.Tensor>>,
  name: string
): Effect.Effect<{ readonly data: Float32Array; readonly dims: ReadonlyArray<number> }, ModelError> => {
  const tensor = outputs[name]
  return tensor !== undefined && tensor.type === "float32" && tensor.data instanceof Float32Array
    ? Effect.succeed({ data: tensor.data, dims: tensor.dims })
    : Effect.fail(
      new ModelError({
        reason: "BadResponse",
        model: modelId,
        message: `The ONNX graph gave no float32 output ${name} (got ${tensor === undefined ? "none" : tensor.type})`
      })
    )
}

export interface OpenOptions {
  readonly folder: string
  readonly modelId: string
  readonly maxLength?: number | undefined
  readonly modelFile?: string | undefined
  readonly executionProvider?: OnnxSession.ExecutionProvider | undefined
  readonly intraOpNumThreads?: number | undefined
}

/** The tokenizer and the checked session of a model folder; the session closes with the scope. */
export const open = (
  options: OpenOptions
): Effect.Effect<{ readonly tokenizer: HfTokenizer.HfTokenizer; readonly session: OnnxSession.OnnxSession }, ModelError, Scope.Scope> =>
  Effect.gen(function*() {
    const { folder, modelId } = options
    const tokenizer = yield* HfTokenizer.load({ folder, modelId, ...(options.maxLength !== undefined ? { maxLength: options.maxLength } : {}) })
    const session = yield* OnnxSession.make({
      modelPath: yield* modelFile(folder, modelId, options.modelFile),
      modelId,
      ...(options.executionProvider !== undefined ? { executionProvider: options.executionProvider } : {}),
      ...(options.intraOpNumThreads !== undefined ? { intraOpNumThreads: options.intraOpNumThreads } : {})
    })
    yield* checkInputs(session)
    return { tokenizer, session }
  })
