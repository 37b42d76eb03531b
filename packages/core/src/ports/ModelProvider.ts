/**
 * ModelProvider: the plugin contract for model providers. A plugin has a `kind` (`builtin`,
 * `onnx`, `openai-compatible`, ...) and turns a `ModelRequest` (a model name and its provider's
 * connection settings) into an embedder, a chat model or a reranker. It serves either fixed
 * provider names that every tenant can use without configuration (`providers: ["Builtin"]`), or
 * the providers that a tenant configured with that kind (API base, key, settings).
 *
 * Plugins add themselves to the `ModelPlugins` registry as layers (`plugin(...)`); the `Models`
 * service resolves `name@provider` through it.
 *
 * Where a provider may connect: a tenant's provider may not reach loopback, private or link-local
 * addresses unless the deployment allows it (`allowPrivateProviders`); the deployment's own
 * providers may reach anything. A plugin that connects to a server checks the addresses its host
 * resolves to (`hostKind`) when `mayReachPrivateAddresses(request)` is false, and follows no
 * redirects then.
 */
import { Context, Effect, Layer, Option, type Redacted, type Scope } from "effect"
import type { ModelError } from "../domain/Errors.js"
import type { ChatModelService } from "./ChatModel.js"
import type { EmbedderService } from "./Embedder.js"
import type { RerankerService } from "./Reranker.js"

export { hostKind, type HostKind } from "../internal/addresses.js"

/** How a plugin is told which provider and model to serve. */
export interface ModelRequest {
  /** The model name, the part before the last `@`. */
  readonly model: string
  readonly provider: {
    readonly name: string
    readonly kind: string
    readonly apiBase: string
    /** The key itself (decrypted), to send; never to log or put in an error. */
    readonly apiKey: Redacted.Redacted<string>
    readonly settings: Readonly<Record<string, unknown>>
    /**
     * Who declared the provider: a tenant (a provider record it added) or the deployment (a fixed
     * provider of a plugin, configured by whoever runs the engine).
     */
    readonly declaredBy: "tenant" | "deployment"
  }
  /** The deployment's choice: may tenants' providers reach loopback, private and link-local addresses? */
  readonly allowPrivateProviders: boolean
}

/**
 * May the plugin connect to loopback, private or link-local addresses for this request? Always
 * for the deployment's own providers; for a tenant's only when the deployment allows it.
 */
export const mayReachPrivateAddresses = (request: ModelRequest): boolean =>
  request.provider.declaredBy === "deployment" || request.allowPrivateProviders

export interface ModelPlugin {
  readonly kind: string
  /** Provider names served to every tenant without a provider record. */
  readonly providers?: ReadonlyArray<string>
  readonly embedder?: (request: ModelRequest) => Effect.Effect<EmbedderService, ModelError>
  readonly chatModel?: (request: ModelRequest) => Effect.Effect<ChatModelService, ModelError>
  readonly reranker?: (request: ModelRequest) => Effect.Effect<RerankerService, ModelError>
}

/** The registry plugins add themselves to. A plugin of a kind already registered replaces it. */
export class ModelPlugins extends Context.Tag("@ragkit/core/ModelPlugins")<
  ModelPlugins,
  {
    readonly register: (plugin: ModelPlugin) => Effect.Effect<void>
    readonly all: Effect.Effect<ReadonlyArray<ModelPlugin>>
  }
>() {}

/** The registry on its own, in memory. */
export const layerPlugins: Layer.Layer<ModelPlugins> = Layer.sync(ModelPlugins, () => {
  const plugins: Array<ModelPlugin> = []
  return {
    register: (plugin) =>
      Effect.sync(() => {
        const at = plugins.findIndex((p) => p.kind === plugin.kind)
        if (at >= 0) plugins[at] = plugin
        else plugins.push(plugin)
      }),
    all: Effect.sync(() => [...plugins])
  }
})

/** A plugin contributed as a layer: registers itself when built. */
export const plugin = (p: ModelPlugin): Layer.Layer<never, never, ModelPlugins> => pluginFrom(Effect.succeed(p))

/**
 * A plugin made by an effect (opening a model, reading options, taking an HTTP client), registered
 * when the layer is built; what the effect acquires in its scope lives as long as the layer.
 */
export const pluginFrom = <E, R>(make: Effect.Effect<ModelPlugin, E, R>): Layer.Layer<never, E, ModelPlugins | Exclude<R, Scope.Scope>> =>
  Layer.scopedDiscard(Effect.flatMap(make, (made) => Effect.flatMap(ModelPlugins, (registry) => registry.register(made))))

/** `name@provider`, split at the last `@`. */
export const parseModelRef = (ref: string): Option.Option<{ readonly model: string; readonly provider: string }> => {
  const at = ref.lastIndexOf("@")
  if (at <= 0 || at === ref.length - 1) return Option.none()
  return Option.some({ model: ref.slice(0, at), provider: ref.slice(at + 1) })
}
