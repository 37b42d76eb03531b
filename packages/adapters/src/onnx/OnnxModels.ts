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
 *
 * The deployment's own providers of kind `onnx` name a folder per model instead, anywhere on disk
 * (`ModelRequest.declared.path`), so a model keeps its Hugging Face name:
 *
 *   { "name": "BAAI", "kind": "onnx",
 *     "models": [{ "name": "BAAI/bge-large-zh-v1.5", "type": "embedding", "path": "/models/bge-large-zh-v1.5",
 *                  "settings": { "queryPrefix": "为这个句子生成表示以用于检索相关文章：" } }] }
 *
 * serves `BAAI/bge-large-zh-v1.5@BAAI`. A model's `settings` are the per-folder settings below
 * (`ModelSettings`). Only the deployment can name a path: a tenant's provider of this kind is
 * served from the models directory like `ONNX`.
 */
import { ModelError, ModelProvider } from "@ragkit/core"
import type { Embedder, Reranker } from "@ragkit/core"
import { Config, ConfigError, Deferred, Effect, Either, ExecutionStrategy, Exit, Layer, Option, ParseResult, Schema, Scope } from "effect"
import type { Dirent } from "node:fs"
import * as fs from "node:fs/promises"
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

/** `ModelSettings` as a deployment declares them for one model (`DeclaredModel.settings`), checked. */
const Pooling = Schema.Literal("cls", "max", "mean", "mean_sqrt_len", "lasttoken")
const PositiveInt = Schema.Int.pipe(Schema.positive())
const DeclaredSettings = Schema.Struct({
  queryPrefix: Schema.optional(Schema.String),
  documentPrefix: Schema.optional(Schema.String),
  pooling: Schema.optional(Schema.Union(Pooling, Schema.Array(Pooling))),
  normalize: Schema.optional(Schema.Boolean),
  sigmoid: Schema.optional(Schema.Boolean),
  maxBatchSize: Schema.optional(PositiveInt),
  maxLength: Schema.optional(PositiveInt),
  modelFile: Schema.optional(Schema.String)
})
const decodeSettingsEither = Schema.decodeUnknownEither(DeclaredSettings, { onExcessProperty: "error" })
/** The settings, or what is wrong with them. */
const decodeSettings = (settings: unknown): Either.Either<ModelSettings, string> =>
  Either.mapLeft(decodeSettingsEither(settings), (error) => `its settings: ${ParseResult.TreeFormatter.formatErrorSync(error)}`)

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

/** Where a requested model lives: its folder, its id, its settings. */
interface Source {
  readonly folder: string
  readonly modelId: string
  readonly settings: ModelSettings
  /** What the error says when the folder is not there. */
  readonly missing: string
}

const typeOf = (kind: ModelKind): ModelProvider.ModelType => (kind === "embedder" ? "embedding" : "rerank")

/** The plugin; sessions live in the current scope. */
export const make = (options: OnnxPluginOptions): Effect.Effect<ModelProvider.ModelPlugin, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const modelsDir = path.resolve(options.modelsDir)
    const cache = new Map<string, Deferred.Deferred<Loaded, ModelError>>()
    let closed = false
    yield* Effect.addFinalizer(() => Effect.sync(() => (closed = true)))

    const refuse = (modelId: string, reason: "NotConfigured" | "InvalidInput", detail: string) =>
      new ModelError({ reason, model: modelId, message: `Unsupported model: ${modelId} (${detail})` })

    /** Whether a model name is a folder name that stays inside the models directory. */
    const isFolderName = (name: string): boolean =>
      !(name.length === 0 || name.includes("/") || name.includes("\\") || name.includes("\0") || name.includes("..") ||
        name === "." || path.dirname(path.resolve(modelsDir, name)) !== modelsDir)

    /**
     * The folder, id and settings of a request: the deployment's declared folder, or else the
     * folder of that name in the models directory.
     */
    const sourceOf = (request: ModelProvider.ModelRequest): Effect.Effect<Source, ModelError> => {
      const name = request.model
      const modelId = `${name}@${request.provider.name}`
      const declaredPath = request.provider.declaredBy === "deployment" ? request.declared?.path : undefined
      if (declaredPath !== undefined) {
        const folder = path.resolve(declaredPath)
        return Either.match(decodeSettings(request.declared?.settings ?? {}), {
          onLeft: (problem) => Effect.fail(refuse(modelId, "NotConfigured", problem)),
          onRight: (settings) => Effect.succeed({ folder, modelId, settings, missing: `no model folder ${folder}` })
        })
      }
      return isFolderName(name)
        ? Effect.succeed({
          folder: path.resolve(modelsDir, name),
          modelId,
          settings: options.models?.[name] ?? {},
          missing: `no folder ${name} in ${modelsDir}`
        })
        : Effect.fail(refuse(modelId, "InvalidInput", "a model name is a folder name: no /, \\ or .."))
    }

    /** What a folder holds, without loading it: its kind, or why it can't be served. */
    const inspect = (source: Source): Effect.Effect<{ readonly kind: ModelKind } | { readonly problem: string }> =>
      Effect.gen(function*() {
        if (!(yield* files.isDirectory(source.folder))) return { problem: "its model folder does not exist" }
        const found = yield* Effect.either(detect(source.folder, source.modelId))
        if (found._tag === "Left") return { problem: "its model folder can't be read" }
        return Option.match(found.right, {
          onNone: () => ({ problem: "its model folder holds neither a sentence-transformers embedder nor a sequence-classification reranker" }),
          onSome: (kind) => ({ kind })
        })
      })

    const load = (source: Source) =>
      Effect.gen(function*() {
        const { folder, modelId } = source
        if (!(yield* files.isDirectory(folder))) return yield* Effect.fail(refuse(modelId, "NotConfigured", source.missing))
        const found = yield* detect(folder, modelId)
        if (Option.isNone(found)) {
          return yield* Effect.fail(
            refuse(modelId, "NotConfigured", `${folder} is neither a sentence-transformers embedder nor a sequence-classification reranker`)
          )
        }
        const common = {
          folder,
          modelId,
          ...(options.executionProvider !== undefined ? { executionProvider: options.executionProvider } : {}),
          ...(options.intraOpNumThreads !== undefined ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
          ...(options.maxBatchSize !== undefined ? { maxBatchSize: options.maxBatchSize } : {}),
          ...source.settings
        }
        return found.value === "embedder"
          ? { kind: "embedder", embedder: yield* SentenceEmbedder.make(common) } satisfies Loaded
          : { kind: "reranker", reranker: yield* CrossEncoderReranker.make(common) } satisfies Loaded
      })

    /** Loads a folder in a scope of its own inside the plugin's, closed again if loading fails. */
    const build = (source: Source) =>
      Effect.gen(function*() {
        const own = yield* Scope.fork(scope, ExecutionStrategy.sequential)
        const exit = yield* Effect.exit(Scope.extend(load(source), own))
        if (Exit.isFailure(exit)) yield* Scope.close(own, exit)
        return yield* exit
      })

    /** The folder's model: built once per id and folder, shared, kept; a failure is not kept. */
    const get = (source: Source): Effect.Effect<Loaded, ModelError> =>
      Effect.gen(function*() {
        if (closed) {
          return yield* Effect.fail(
            new ModelError({ reason: "Unavailable", model: source.modelId, message: "The ONNX model plugin has been shut down" })
          )
        }
        const key = `${source.modelId}\u0000${source.folder}`
        const existing = cache.get(key)
        if (existing !== undefined) return yield* Deferred.await(existing)
        const deferred = yield* Deferred.make<Loaded, ModelError>()
        const raced = cache.get(key)
        if (raced !== undefined) return yield* Deferred.await(raced)
        cache.set(key, deferred)
        // Built in the plugin's scope, so a caller's interruption does not abandon it half-way.
        yield* build(source).pipe(
          Effect.exit,
          Effect.flatMap((exit) => {
            if (Exit.isFailure(exit)) cache.delete(key)
            return Deferred.done(deferred, exit)
          }),
          Effect.onInterrupt(() => Effect.sync(() => cache.delete(key)).pipe(Effect.zipRight(Deferred.interrupt(deferred)))),
          Effect.forkIn(scope)
        )
        return yield* Deferred.await(deferred)
      })

    const loaded = (request: ModelProvider.ModelRequest) =>
      Effect.flatMap(sourceOf(request), (source) => Effect.map(get(source), (model) => ({ source, model })))

    /** The folders of the models directory, each with what it holds. */
    const listFolders = Effect.gen(function*() {
      const entries = yield* Effect.promise(() => fs.readdir(modelsDir, { withFileTypes: true }).catch((): Array<Dirent> => []))
      const names = entries.filter((e) => e.isDirectory() && isFolderName(e.name)).map((e) => e.name).sort()
      return yield* Effect.forEach(names, (name) =>
        Effect.map(
          inspect({ folder: path.join(modelsDir, name), modelId: `${name}@${providerName}`, settings: {}, missing: "" }),
          (found): ModelProvider.ListedModel =>
            "kind" in found ? { name, type: typeOf(found.kind) } : { name, type: "embedding", unusable: found.problem }
        ))
    })

    return {
      kind,
      providers: [providerName],
      embedder: (request) =>
        Effect.flatMap(loaded(request), ({ model, source }) =>
          model.kind === "embedder"
            ? Effect.succeed(model.embedder)
            : Effect.fail(refuse(source.modelId, "NotConfigured", "a rerank model, not an embedding model"))),
      reranker: (request) =>
        Effect.flatMap(loaded(request), ({ model, source }) =>
          model.kind === "reranker"
            ? Effect.succeed(model.reranker)
            : Effect.fail(refuse(source.modelId, "NotConfigured", "an embedding model, not a rerank model"))),
      // Listing looks at files only: config.json, modules.json; nothing is loaded.
      listModels: () => listFolders,
      describe: (request) =>
        Effect.gen(function*() {
          const declared = request.declared
          const source = yield* Effect.either(sourceOf(request))
          if (Either.isLeft(source)) {
            // A name that can't be a folder is no model; a declared model with bad settings is one that can't load.
            return declared?.path !== undefined && request.provider.declaredBy === "deployment"
              ? Option.some({
                name: request.model,
                type: declared.type,
                unusable: Either.getLeft(decodeSettings(declared.settings ?? {})).pipe(Option.getOrElse(() => source.left.message))
              })
              : Option.none()
          }
          const found = yield* inspect(source.right)
          if ("kind" in found) return Option.some({ name: request.model, type: typeOf(found.kind) })
          // A folder of the models directory that is not there is no model; a declared one is a model that can't be used.
          return declared === undefined
            ? Option.none()
            : Option.some({ name: request.model, type: declared.type, unusable: found.problem })
        })
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
