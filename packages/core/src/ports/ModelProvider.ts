/**
 * ModelProvider: the plugin contract for model providers. A plugin has a `kind` (`builtin`,
 * `onnx`, `openai-compatible`, ...) and turns a `ModelRequest` (a model name and its provider's
 * connection settings) into an embedder, a chat model or a reranker. It serves fixed provider
 * names that every tenant can use without configuration (`providers: ["Builtin"]`), the
 * providers of its kind that the deployment declares in its configuration (with their models:
 * `ModelRequest.declared`), and the providers that a tenant configured with that kind (API base,
 * key, settings).
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

/** What a model serves: answers (`chat`), vectors (`embedding`) or relevance scores (`rerank`). */
export type ModelType = "chat" | "embedding" | "rerank"

/**
 * A model as its provider declares it: in the deployment's configuration (a deployment
 * provider's `models`), or in a tenant's model records.
 */
export interface DeclaredModel {
  readonly name: string
  readonly type: ModelType
  /** The model's context window in tokens; chat models get it as their `contextTokens`. */
  readonly maxTokens?: number | undefined
  /**
   * A local model folder (an ONNX export), for plugins that run models in process. Only ever set
   * for the deployment's own providers: a tenant can't point a plugin at a path.
   */
  readonly path?: string | undefined
  /** Plugin-specific settings of this one model (for `onnx`: `queryPrefix`, `pooling`, ...). */
  readonly settings?: Readonly<Record<string, unknown>> | undefined
}

/** A model as listed: what a plugin can tell about it without loading it or calling a server. */
export interface ListedModel {
  readonly name: string
  readonly type: ModelType
  /** The context window in tokens, when known. */
  readonly maxTokens?: number | undefined
  /** Why the model can't be used now (a missing folder, files of another kind), when it can't. */
  readonly unusable?: string | undefined
}

/** How a plugin is told which provider and model to serve. */
export interface ModelRequest {
  /** The model name, the part before the last `@`. */
  readonly model: string
  /** The model as its provider declared it, when it did (its type, context size, local folder). */
  readonly declared?: DeclaredModel | undefined
  readonly provider: {
    readonly name: string
    readonly kind: string
    readonly apiBase: string
    /** The key itself (decrypted), to send; never to log or put in an error. */
    readonly apiKey: Redacted.Redacted<string>
    readonly settings: Readonly<Record<string, unknown>>
    /**
     * Who declared the provider: a tenant (a provider record it added) or the deployment (a
     * provider in the deployment's configuration, or a fixed provider of a plugin).
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
  /**
   * The models of one of its fixed `providers`, found without loading a model or calling a server
   * (`Models.listModels`). A plugin that can't tell lists nothing.
   */
  readonly listModels?: (provider: string) => Effect.Effect<ReadonlyArray<ListedModel>>
  /**
   * What the plugin can tell about one model without loading it or calling a server: none when it
   * does not serve it, `unusable` when it would fail (`Models.setDefaults` checks models with it).
   * Without it, the models of the plugin's fixed providers are looked up in `listModels`, and a
   * model it can't tell about (a name on a remote server) is taken on trust.
   */
  readonly describe?: (request: ModelRequest) => Effect.Effect<Option.Option<ListedModel>>
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
