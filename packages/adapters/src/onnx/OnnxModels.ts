/**
 * The `onnx` model plugin: local models run by ONNX Runtime, served to every tenant under the
 * provider name `ONNX`. A model `<folder>@ONNX` is the folder of that name in the models directory:
 *
 *   models/
 *     bge-small-en-v1.5/          -> bge-small-en-v1.5@ONNX, an embedder (sentence-transformers files)
 *     bge-reranker-base/          -> bge-reranker-base@ONNX, a reranker (*ForSequenceClassification)
 *
 * A folder is a reranker when its `config.json` names a `*ForSequenceClassification`
 * architecture, an embedder when it has `modules.json` or `sentence_bert_config.json` (see
 * `SentenceEmbedder`), else a reranker when `config.json` has `num_labels`. Per-folder settings
 * (query prefix, pooling, sigmoid, ...) go in `models`.
 *
 * Each folder's session opens on first use and is then kept, shared by every caller, until the
 * layer's scope closes; a folder that failed to load is tried again on the next request. Model
 * names are folder names: `/`, `\` and `..` are refused, so a name cannot leave the directory.
 */
import { ModelError, ModelProvider } from "@ragkit/core"
import type { Embedder, Reranker } from "@ragkit/core"
import { Config, ConfigError, Deferred, Effect, ExecutionStrategy, Exit, Layer, Option, Scope } from "effect"
import * as path from "node:path"
import * as CrossEncoderReranker from "./CrossEncoderReranker.js"
import * as files from "./internal/files.js"
import type { ExecutionProvider } from "./OnnxSession.js"
import * as SentenceEmbedder from "./SentenceEmbedder.js"

export const kind = "onnx"
export const providerName = "ONNX"

/** Settings for one model folder. */
export interface ModelSettings {
  readonly queryPrefix?: string
  readonly documentPrefix?: string
  readonly pooling?: SentenceEmbedder.Pooling | ReadonlyArray<SentenceEmbedder.Pooling>
  readonly normalize?: boolean
  /** Rerankers: scores in [0, 1] instead of raw logits. */
  readonly sigmoid?: boolean
  readonly maxBatchSize?: number
  readonly maxLength?: number
  readonly modelFile?: string
}

export interface OnnxPluginOptions {
  /** The directory holding one folder per model. */
  readonly modelsDir: string
  /** `"cpu"` by default; `"cuda"` falls back to CPU with a warning. */
  readonly executionProvider?: ExecutionProvider
  /** Threads inside one operator, per session (`os.availableParallelism()` by default). */
  readonly intraOpNumThreads?: number
  /** Texts (or pairs) per inference, for every model (32 by default). */
  readonly maxBatchSize?: number
  /** Settings by folder name. */
  readonly models?: Readonly<Record<string, ModelSettings>>
}

export type ModelKind = "embedder" | "reranker"

/** What a model folder holds, from its files; none when it is neither kind. */
export const detect = (folder: string, modelId: string): Effect.Effect<Option.Option<ModelKind>, ModelError> =>
  Effect.gen(function*() {
    const config = yield* files.readJsonOption(folder, "config.json", modelId)
    const architectures = Option.match(config, { onNone: () => [], onSome: (c) => c["architectures"] })
    if (Array.isArray(architectures) && architectures.some((a) => typeof a === "string" && a.endsWith("ForSequenceClassification"))) {
      return Option.some("reranker" as const)
    }
    if ((yield* files.isFile(folder, "modules.json")) || (yield* files.isFile(folder, "sentence_bert_config.json"))) {
      return Option.some("embedder" as const)
    }
    if (Option.isSome(files.numberField(config, "num_labels"))) return Option.some("reranker" as const)
    return Option.none()
  })

type Loaded =
  | { readonly kind: "embedder"; readonly embedder: Embedder.EmbedderService }
  | { readonly kind: "reranker"; readonly reranker: Reranker.RerankerService }

/** The plugin; sessions live in the current scope. */
export const make = (options: OnnxPluginOptions): Effect.Effect<ModelProvider.ModelPlugin, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const modelsDir = path.resolve(options.modelsDir)
    const cache = new Map<string, Deferred.Deferred<Loaded, ModelError>>()
    let closed = false
    yield* Effect.addFinalizer(() => Effect.sync(() => (closed = true)))

    const refuse = (name: string, reason: "NotConfigured" | "InvalidInput", detail: string) =>
      new ModelError({ reason, model: `${name}@${providerName}`, message: `Unsupported model: ${name}@${providerName} (${detail})` })

    /** The folder of a model name, when the name stays inside the models directory. */
    const folderOf = (name: string): Effect.Effect<string, ModelError> => {
      const folder = path.resolve(modelsDir, name)
      return name.length === 0 || name.includes("/") || name.includes("\\") || name.includes("\0") || name.includes("..") ||
          name === "." || path.dirname(folder) !== modelsDir
        ? Effect.fail(refuse(name, "InvalidInput", "a model name is a folder name: no /, \\ or .."))
        : Effect.succeed(folder)
    }

    const load = (name: string) =>
      Effect.gen(function*() {
        const folder = yield* folderOf(name)
        if (!(yield* files.isDirectory(folder))) {
          return yield* Effect.fail(refuse(name, "NotConfigured", `no folder ${name} in ${modelsDir}`))
        }
        const modelId = `${name}@${providerName}`
        const found = yield* detect(folder, modelId)
        if (Option.isNone(found)) {
          return yield* Effect.fail(
            refuse(name, "NotConfigured", `${folder} is neither a sentence-transformers embedder nor a sequence-classification reranker`)
          )
        }
        const settings = options.models?.[name] ?? {}
        const common = {
          folder,
          modelId,
          ...(options.executionProvider !== undefined ? { executionProvider: options.executionProvider } : {}),
          ...(options.intraOpNumThreads !== undefined ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
          ...(options.maxBatchSize !== undefined ? { maxBatchSize: options.maxBatchSize } : {}),
          ...settings
        }
        return found.value === "embedder"
          ? { kind: "embedder", embedder: yield* SentenceEmbedder.make(common) } satisfies Loaded
          : { kind: "reranker", reranker: yield* CrossEncoderReranker.make(common) } satisfies Loaded
      })

    /** Loads a folder in a scope of its own inside the plugin's, closed again if loading fails. */
    const build = (name: string) =>
      Effect.gen(function*() {
        const own = yield* Scope.fork(scope, ExecutionStrategy.sequential)
        const exit = yield* Effect.exit(Scope.extend(load(name), own))
        if (Exit.isFailure(exit)) yield* Scope.close(own, exit)
        return yield* exit
      })

    /** The folder's model: built once, shared, kept; a failure is not kept. */
    const get = (name: string): Effect.Effect<Loaded, ModelError> =>
      Effect.gen(function*() {
        if (closed) {
          return yield* Effect.fail(
            new ModelError({ reason: "Unavailable", model: `${name}@${providerName}`, message: "The ONNX model plugin has been shut down" })
          )
        }
        const existing = cache.get(name)
        if (existing !== undefined) return yield* Deferred.await(existing)
        const deferred = yield* Deferred.make<Loaded, ModelError>()
        const raced = cache.get(name)
        if (raced !== undefined) return yield* Deferred.await(raced)
        cache.set(name, deferred)
        // Built in the plugin's scope, so a caller's interruption does not abandon it half-way.
        yield* build(name).pipe(
          Effect.exit,
          Effect.flatMap((exit) => {
            if (Exit.isFailure(exit)) cache.delete(name)
            return Deferred.done(deferred, exit)
          }),
          Effect.onInterrupt(() => Effect.sync(() => cache.delete(name)).pipe(Effect.zipRight(Deferred.interrupt(deferred)))),
          Effect.forkIn(scope)
        )
        return yield* Deferred.await(deferred)
      })

    return {
      kind,
      providers: [providerName],
      embedder: ({ model }) =>
        Effect.flatMap(get(model), (loaded) =>
          loaded.kind === "embedder"
            ? Effect.succeed(loaded.embedder)
            : Effect.fail(refuse(model, "NotConfigured", "a rerank model, not an embedding model"))),
      reranker: ({ model }) =>
        Effect.flatMap(get(model), (loaded) =>
          loaded.kind === "reranker"
            ? Effect.succeed(loaded.reranker)
            : Effect.fail(refuse(model, "NotConfigured", "an embedding model, not a rerank model")))
    } satisfies ModelProvider.ModelPlugin
  })

/** Registers the `ONNX` provider with `Models`; sessions are released when the layer is. */
export const layer = (options: OnnxPluginOptions): Layer.Layer<never, never, ModelProvider.ModelPlugins> =>
  ModelProvider.pluginFrom(make(options))

/** `layer` with its options read from a `Config`, e.g. `Config.all({ modelsDir: Config.string("RAGKIT_MODELS_DIR") })`. */
export const layerConfig = (
  config: Config.Config<OnnxPluginOptions>
): Layer.Layer<never, ConfigError.ConfigError, ModelProvider.ModelPlugins> =>
  Layer.unwrapEffect(Effect.map(config, layer))
