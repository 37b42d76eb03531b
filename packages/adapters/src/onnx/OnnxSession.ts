/**
 * An ONNX Runtime inference session, opened when its scope opens and released when it closes.
 *
 * The CPU execution provider ships with `onnxruntime-node`. CUDA needs the package installed with
 * `ONNXRUNTIME_NODE_INSTALL=cuda12` and the CUDA libraries on the machine; when it is asked for and
 * cannot load, one warning is logged and the session is created on CPU instead (ONNX Runtime does
 * not fall back by itself: `["cuda", "cpu"]` throws).
 *
 * `onnxruntime-node` is an optional peer dependency, imported when the first session opens; when it
 * is not installed, opening fails with `ModelError` reason `NotConfigured` saying
 * `npm install onnxruntime-node`.
 */
import { ModelError, OptionalPeer } from "@ragkit/core"
import { Effect } from "effect"
import type { Scope } from "effect"
import * as os from "node:os"
import type * as ort from "onnxruntime-node"
import { asModelError } from "../internal/optionalPeer.js"

export type Tensor = ort.Tensor

type Runtime = typeof ort

const runtime = OptionalPeer.load(
  "onnxruntime-node",
  // CommonJS: Node gives its exports as named ones (tsx leaves `default` undefined, `__esModule`).
  async () => {
    const module = (await import("onnxruntime-node")) as unknown as Runtime & { readonly default?: Runtime }
    return module.InferenceSession === undefined && module.default !== undefined ? module.default : module
  },
  { neededFor: "ONNX models (@ragkit/adapters/onnx)" }
)

/** onnxruntime-node, imported on first use; `NotConfigured` naming the install command when missing. */
export const loadRuntime = (modelId: string): Effect.Effect<Runtime, ModelError> => asModelError(runtime, modelId)

export type ExecutionProvider = "cpu" | "cuda"

export interface OnnxSessionOptions {
  /** The `.onnx` file. */
  readonly modelPath: string
  /** `"cpu"` by default. `"cuda"` falls back to CPU, with one warning, when CUDA cannot load. */
  readonly executionProvider?: ExecutionProvider
  /** Threads used inside one operator; `os.availableParallelism()` by default. */
  readonly intraOpNumThreads?: number
  /** The model name used in errors and logs (the model path by default). */
  readonly modelId?: string
}

export interface OnnxSession {
  readonly modelId: string
  readonly modelPath: string
  /** The provider the session runs on (`"cpu"` after a CUDA fallback). */
  readonly executionProvider: ExecutionProvider
  readonly inputNames: ReadonlyArray<string>
  readonly outputNames: ReadonlyArray<string>
  /** The element type of each tensor input, by name (`"int64"`, `"int32"`, `"float32"`, ...). */
  readonly inputTypes: ReadonlyMap<string, string>
  /** An int64 tensor of the given shape. */
  readonly int64Tensor: (data: BigInt64Array, dims: ReadonlyArray<number>) => Tensor
  /** An int32 tensor of the given shape (for graphs exported with 32-bit ids). */
  readonly int32Tensor: (data: Int32Array, dims: ReadonlyArray<number>) => Tensor
  /** Runs the graph on these inputs; every output by name. */
  readonly run: (feeds: Readonly<Record<string, Tensor>>) => Effect.Effect<Readonly<Record<string, Tensor>>, ModelError>
}

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error)).split("\n")[0]!.trim()

const create = (runtime: Runtime, modelPath: string, modelId: string, options: ort.InferenceSession.SessionOptions) =>
  Effect.tryPromise({
    try: () => runtime.InferenceSession.create(modelPath, options),
    catch: (cause) =>
      new ModelError({
        reason: "NotConfigured",
        model: modelId,
        message: `Cannot open the ONNX model ${modelPath}: ${describe(cause)}`,
        cause
      })
  })

/** Opens the session; it is released when the scope closes. */
export const make = (options: OnnxSessionOptions): Effect.Effect<OnnxSession, ModelError, Scope.Scope> =>
  Effect.gen(function*() {
    const modelId = options.modelId ?? options.modelPath
    const ort = yield* loadRuntime(modelId)
    const requested = options.executionProvider ?? "cpu"
    const intraOpNumThreads = Math.max(1, Math.floor(options.intraOpNumThreads ?? os.availableParallelism()))
    const base: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads,
      graphOptimizationLevel: "all",
      // ONNX Runtime's own log goes to stderr; only fatal messages. Failures reach us as errors.
      logSeverityLevel: 4
    }
    const open = (provider: ExecutionProvider) =>
      Effect.acquireRelease(
        create(ort, options.modelPath, modelId, { ...base, executionProviders: [provider] }).pipe(
          Effect.map((session) => ({ session, provider }))
        ),
        ({ session }) =>
          Effect.tryPromise({
            try: () => session.release(),
            catch: (cause) =>
              new ModelError({ reason: "Unknown", model: modelId, message: `Cannot release the ONNX session: ${describe(cause)}`, cause })
          }).pipe(Effect.catchAll((error) => Effect.logDebug(error.message)))
      )
    const { session, provider } = requested === "cuda"
      ? yield* open("cuda").pipe(
        // Retry on CPU; warn only when CPU works, so a bad model file is reported as itself.
        Effect.catchAll((error) =>
          Effect.tap(
            open("cpu"),
            () =>
              Effect.logWarning(`CUDA execution provider unavailable: ${describe(error.cause)}; running on CPU`).pipe(
                Effect.annotateLogs({ model: modelId })
              )
          )
        )
      )
      : yield* open("cpu")

    const inputTypes = new Map<string, string>()
    for (const meta of session.inputMetadata) {
      if (meta.isTensor) inputTypes.set(meta.name, meta.type)
    }

    const run = (feeds: Readonly<Record<string, Tensor>>) =>
      Effect.tryPromise({
        try: () => session.run(feeds as ort.InferenceSession.FeedsType),
        catch: (cause) =>
          new ModelError({ reason: "Unknown", model: modelId, message: `ONNX inference failed: ${describe(cause)}`, cause })
      })

    return {
      modelId,
      modelPath: options.modelPath,
      executionProvider: provider,
      inputNames: session.inputNames,
      outputNames: session.outputNames,
      inputTypes,
      int64Tensor: (data, dims) => new ort.Tensor("int64", data, dims),
      int32Tensor: (data, dims) => new ort.Tensor("int32", data, dims),
      run
    } satisfies OnnxSession
  })
