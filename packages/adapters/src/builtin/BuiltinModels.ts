/**
 * The `Builtin` model provider: models that need no download and no configuration, served to
 * every tenant. Today one embedder, `glove-100d@Builtin` (also reachable as `glove@Builtin`; the
 * name is case-insensitive), the baseline default embedding model (see `GloveEmbedder`).
 *
 * `layer({ cacheDir })` builds the GloVe model into `<cacheDir>/glove-100d/` (or loads it) and
 * opens its onnxruntime session when the layer is built, so a broken install fails at start-up;
 * the session is released with the layer.
 */
import type { FileSystem, Path } from "@effect/platform"
import { Embedder, ModelError, ModelProvider } from "@ragkit/core"
import { Effect, Layer } from "effect"
import * as GloveEmbedder from "./GloveEmbedder.js"

export const kind = "builtin"
export const providerName = "Builtin"
/** The model names `glove-100d@Builtin` answers to (compared lower-cased). */
export const GLOVE_NAMES: ReadonlyArray<string> = ["glove-100d", "glove"]

/** The plugin around an embedder that is already open. */
export const make = (glove: Embedder.EmbedderService): ModelProvider.ModelPlugin => ({
  kind,
  providers: [providerName],
  embedder: ({ model }) =>
    GLOVE_NAMES.includes(model.toLowerCase())
      ? Effect.succeed(glove)
      : Effect.fail(
        new ModelError({
          reason: "NotConfigured",
          model: `${model}@${providerName}`,
          message: `Unsupported model: ${model}@${providerName} (the Builtin provider serves the embedder glove-100d@Builtin)`
        })
      )
})

export type BuiltinPluginOptions = GloveEmbedder.GloveEmbedderOptions

/** Registers the `Builtin` provider with `Models`, its model built and opened now. */
export const layer = (
  options: BuiltinPluginOptions
): Layer.Layer<never, ModelError, ModelProvider.ModelPlugins | FileSystem.FileSystem | Path.Path> =>
  ModelProvider.pluginFrom(Effect.map(GloveEmbedder.acquire(options), make))
