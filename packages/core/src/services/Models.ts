/**
 * Models: resolves a model named `name@provider` (RAGFlow's convention, e.g. `glove-100d@Builtin`)
 * to an embedder, chat model or reranker, and keeps a tenant's providers and default models.
 *
 * Providers are plugins (the `ModelProvider` port). A provider is one of:
 *
 * - a **deployment provider**, declared in the deployment's configuration (`ModelsOptions.providers`,
 *   the server's `providers`): `{ name, kind, baseUrl, apiKey, settings, models: [{ name, type,
 *   maxTokens, path }] }`. Every tenant sees it; its API key is the deployment's secret, handed to
 *   the plugin and never stored in a record or listed; it may reach private addresses (a local
 *   Ollama). When it declares models it serves exactly those, with their types and context sizes;
 *   when it declares none it serves any name its server knows (not listed, not checked);
 * - a **fixed provider** of a plugin (`Builtin`, `ONNX`), served to every tenant;
 * - a **tenant provider**, added by a tenant at run time (API base, key, settings).
 *
 * Precedence, for `name@provider`: the deployment's providers first, then plugins' fixed
 * providers, then the tenant's. A tenant can't add a provider under a name the deployment serves
 * (one stored before the deployment declared the name is never used), so a tenant never shadows a
 * provider the deployment serves, and its models never reach another server than the deployment meant.
 *
 * `listModels` lists every model a tenant can name, with its type, context size and whether it is
 * usable (or why not), and `setDefaults` checks the models it is given the same way: neither
 * loads a model or calls a server. A provider that does not declare its models (a tenant's
 * OpenAI-compatible provider) lists none, and its models are taken on trust.
 *
 * A provider's API key is kept to call it with and never handed back: providers are listed
 * without it. It is stored encrypted (AES-256-GCM under the deployment's `secretKey`, bound to its
 * provider record) and decrypted only to hand it to the plugin; without a secret key, providers
 * can be added only without a key. A key stored in clear (before keys were encrypted; no release
 * did) or under another secret key is refused when the provider is used (`ModelError`
 * `NotConfigured`): the tenant removes the provider and adds it again.
 *
 * A tenant's provider may not point at a loopback, private or link-local address unless the
 * deployment allows it (`allowPrivateProviders`): `addProvider` refuses such a literal host (and
 * credentials, a query or a fragment in `api_base`), and plugins check the addresses a name
 * resolves to when they connect (`ModelProvider.mayReachPrivateAddresses`).
 */
import { Context, Effect, Either, Layer, Option, Redacted, Schema, Struct } from "effect"
import type { Caller } from "../domain/Caller.js"
import { AlreadyExists, InvalidInput, ModelError, notFound, type NotFound, StoreError } from "../domain/Errors.js"
import * as Fields from "../domain/Fields.js"
import { randomHex32, type ModelProviderId } from "../domain/Ids.js"
import { type Model, ModelProviderConfig, Tenant } from "../domain/Records.js"
import { newStamps, touched } from "../domain/Time.js"
import type { ChatModelService } from "../ports/ChatModel.js"
import type { EmbedderService } from "../ports/Embedder.js"
import {
  type DeclaredModel,
  hostKind,
  layerPlugins,
  type ListedModel,
  type ModelPlugin,
  ModelPlugins,
  type ModelRequest,
  type ModelType,
  parseModelRef
} from "../ports/ModelProvider.js"
import { RecordStore } from "../ports/RecordStore.js"
import type { RerankerService } from "../ports/Reranker.js"
import { type OpenFailure, secretBox } from "./internal/encryption.js"

export { SECRET_KEY_MIN } from "./internal/encryption.js"

// ---------------------------------------------------------------------------------------------
// Requests and results

/** A provider's name: what models are addressed by (`model@<name>`), so it can't contain `@`. */
const ProviderName = Fields.Name(64).pipe(
  Schema.filter((name) => !name.includes("@"), { message: () => "can't contain @" })
)

export const AddProviderRequest = Schema.Struct({
  /** Unique in the tenant. */
  name: ProviderName,
  /** The kind of an installed plugin (`openai-compatible`, `ollama`, ...). */
  kind: Fields.Name(64),
  /** The plugin's default when empty. */
  api_base: Schema.optionalWith(Fields.Trimmed(2048), { default: () => "" }),
  /** Kept (encrypted) to call the provider with; never shown again. Needs the deployment's secret key. */
  api_key: Schema.optionalWith(Schema.Redacted(Fields.Text(4096)), { default: () => Redacted.make("") }),
  /** Plugin-specific settings (`dimensions`, `timeout_ms`, ...). */
  settings: Schema.optionalWith(Fields.JsonObject, { default: () => ({}) })
})
export type AddProviderRequest = typeof AddProviderRequest.Type

/** A provider as callers see it: everything but the API key. */
export const PublicModelProvider = Schema.Struct(Struct.omit(ModelProviderConfig.fields, "api_key"))
export type PublicModelProvider = typeof PublicModelProvider.Type

export const publicProvider = (provider: ModelProviderConfig): PublicModelProvider => {
  const { api_key: _key, ...rest } = provider
  return rest
}

export const ListProvidersRequest = Schema.Struct({})
export type ListProvidersRequest = typeof ListProvidersRequest.Type

/** The tenant's providers, by name. */
export const ListProvidersResult = Schema.Array(PublicModelProvider)
export type ListProvidersResult = typeof ListProvidersResult.Type

export const RemoveProviderRequest = Schema.Struct({ name: Fields.Name(64) })
export type RemoveProviderRequest = typeof RemoveProviderRequest.Type

/** `name@provider` each; an empty string clears that default, an absent one keeps it. */
export const SetDefaultsRequest = Schema.Struct({
  llm_id: Schema.optional(Fields.Trimmed(255)),
  embd_id: Schema.optional(Fields.Trimmed(255)),
  rerank_id: Schema.optional(Fields.Trimmed(255))
})
export type SetDefaultsRequest = typeof SetDefaultsRequest.Type

export const ListPluginsRequest = Schema.Struct({})
export type ListPluginsRequest = typeof ListPluginsRequest.Type

/** An installed plugin: its kind and the provider names it serves to everyone. */
export const PluginInfo = Schema.Struct({ kind: Schema.String, providers: Schema.Array(Schema.String) })
export type PluginInfo = typeof PluginInfo.Type

export const ListPluginsResult = Schema.Array(PluginInfo)
export type ListPluginsResult = typeof ListPluginsResult.Type

/** What a model serves. */
export const ModelTypeField = Fields.OneOf("chat", "embedding", "rerank")

export const ListModelsRequest = Schema.Struct({
  /** Only the models of this type. */
  model_type: Schema.optional(ModelTypeField)
})
export type ListModelsRequest = typeof ListModelsRequest.Type

/** A model a tenant can name. */
export const ModelInfo = Schema.Struct({
  /** `name@provider`: what defaults, knowledge bases and dialogs name. */
  id: Schema.String,
  name: Schema.String,
  provider: Schema.String,
  /** The kind of plugin that serves the provider. */
  provider_kind: Schema.String,
  /** The deployment (its configuration, or a plugin's fixed provider) or the tenant. */
  declared_by: Schema.Literal("deployment", "tenant"),
  model_type: ModelTypeField,
  /** The context window in tokens, when known (a chat model without one assumes `ChatModel.DefaultContextTokens`). */
  max_tokens: Schema.NullOr(Schema.Number),
  /** Whether it can be used now, as far as can be told without loading it or calling its server. */
  usable: Schema.Boolean,
  /** Why not, when it can't. */
  unusable_reason: Schema.NullOr(Schema.String)
})
export type ModelInfo = typeof ModelInfo.Type

/** Deployment providers' models first (in the configuration's order), then plugins', then the tenant's. */
export const ListModelsResult = Schema.Array(ModelInfo)
export type ListModelsResult = typeof ListModelsResult.Type

/**
 * Each method's request and result, for the surfaces that decode what callers send. Model
 * resolution (`embedder`, `chatModel`, `reranker`) returns live model services for the engine
 * and is not an operation, nor is `checkModel`.
 */
export const Operations = {
  addProvider: Fields.operation(AddProviderRequest, PublicModelProvider),
  listProviders: Fields.operation(ListProvidersRequest, ListProvidersResult),
  removeProvider: Fields.operation(RemoveProviderRequest, Schema.Void),
  setDefaults: Fields.operation(SetDefaultsRequest, Tenant),
  listPlugins: Fields.operation(ListPluginsRequest, ListPluginsResult),
  listModels: Fields.operation(ListModelsRequest, ListModelsResult)
}

// ---------------------------------------------------------------------------------------------
// The service

export interface ModelsService {
  readonly embedder: (caller: Caller, ref: string) => Effect.Effect<EmbedderService, ModelError | StoreError>
  readonly chatModel: (caller: Caller, ref: string) => Effect.Effect<ChatModelService, ModelError | StoreError>
  readonly reranker: (caller: Caller, ref: string) => Effect.Effect<RerankerService, ModelError | StoreError>
  /** Adds a provider of an installed plugin's kind to the caller's tenant. */
  readonly addProvider: (
    caller: Caller,
    request: AddProviderRequest
  ) => Effect.Effect<PublicModelProvider, InvalidInput | AlreadyExists | StoreError>
  readonly listProviders: (caller: Caller, request: ListProvidersRequest) => Effect.Effect<ListProvidersResult, StoreError>
  readonly removeProvider: (caller: Caller, request: RemoveProviderRequest) => Effect.Effect<void, NotFound | StoreError>
  /**
   * Sets the tenant's default models (RAGFlow's `PATCH /models/default`); each given one must
   * exist with that type and be usable (`checkModel`: nothing is loaded, no server is called). An
   * empty string clears a default.
   */
  readonly setDefaults: (
    caller: Caller,
    request: SetDefaultsRequest
  ) => Effect.Effect<Tenant, InvalidInput | NotFound | StoreError>
  /** The plugin kinds installed, and the provider names they serve to everyone (fixed, and the deployment's of that kind). */
  readonly listPlugins: (caller: Caller, request: ListPluginsRequest) => Effect.Effect<ListPluginsResult>
  /**
   * Every model the caller's tenant can name, found without loading a model or calling a server:
   * the deployment providers' declared models, the models plugins list for their fixed providers
   * (the built-in ones, ONNX folders), and the models declared for the tenant's own providers.
   */
  readonly listModels: (caller: Caller, request: ListModelsRequest) => Effect.Effect<ListModelsResult, StoreError>
  /**
   * Finds `ref` as a model of this type as `listModels` would (without a caller: among the
   * deployment's providers only), failing `ModelError` `NotConfigured` with the reason when it does
   * not exist, is of another type or can't be used. Loads nothing and calls no server: a model of
   * a provider that does not declare its models is taken on trust.
   */
  readonly checkModel: (caller: Caller | undefined, ref: string, type: ModelType) => Effect.Effect<ModelInfo, ModelError | StoreError>
}

export class Models extends Context.Tag("@ragkit/core/Models")<Models, ModelsService>() {}

/** The deployment's settings for model providers. */
export interface ModelsOptions {
  /**
   * The deployment's secret key (at least 32 characters): tenants' API keys are encrypted under
   * it. Without it, providers can be added only without an API key. Keep it: keys stored under
   * one secret key can't be read under another.
   */
  readonly secretKey?: Redacted.Redacted<string> | undefined
  /** Let tenants' providers reach loopback, private and link-local addresses (false by default). */
  readonly allowPrivateProviders?: boolean | undefined
  /** The deployment's own providers: every tenant sees them, ahead of plugins' fixed providers and tenants' own. */
  readonly providers?: ReadonlyArray<DeploymentProvider> | undefined
}

/** A model provider declared by the deployment (its configuration): every tenant sees it. */
export interface DeploymentProvider {
  /** The name models are addressed by (`model@<name>`). */
  readonly name: string
  /** The kind of an installed plugin: `openai-compatible`, `ollama`, `onnx`, `builtin`, ... */
  readonly kind: string
  /** The server's API base; the plugin's default when absent. */
  readonly baseUrl?: string | undefined
  /** The deployment's secret: handed to the plugin, never stored in a record, listed or shown in an error. */
  readonly apiKey?: Redacted.Redacted<string> | undefined
  /** Plugin settings, as a tenant provider's (`timeout_ms`, `dimensions`, ...). */
  readonly settings?: Readonly<Record<string, unknown>> | undefined
  /** The models it serves, with their types and context sizes; none: any name its server knows. */
  readonly models?: ReadonlyArray<DeclaredModel> | undefined
}

const unsupported = (ref: string, message = `Unsupported model: ${ref}`) =>
  new ModelError({ reason: "NotConfigured", model: ref, message })

/** What a provider's encrypted key is bound to: its record, so a key copied onto another record does not open. */
const keyContext = (record: Pick<ModelProviderConfig, "id" | "tenant_id">) => `model_provider:${record.tenant_id}:${record.id}`

const PRIVATE_REFUSED = "can't point at a loopback, private or link-local address (this deployment does not allow it)"

/** Why an `api_base` is refused, if it is: credentials, a query or a fragment, or (unless allowed) a private literal host. */
const apiBaseProblem = (apiBase: string, allowPrivate: boolean): string | undefined => {
  if (apiBase === "") return undefined
  let url: URL
  try {
    url = new URL(apiBase)
  } catch {
    // Not a URL: the plugin says what it expects when the provider is used.
    return undefined
  }
  if (url.username !== "" || url.password !== "") return "can't contain credentials (user:password@): give the key as api_key"
  if (url.search !== "" || url.hash !== "") return "can't have a query or a fragment: give the key as api_key"
  return !allowPrivate && hostKind(url.hostname) === "private" ? PRIVATE_REFUSED : undefined
}

const unreadableKey = (provider: string, failure: OpenFailure): string => {
  switch (failure) {
    case "NotSealed":
      return `the API key of provider ${provider} is stored unencrypted (added before keys were encrypted at rest): remove the provider and add it again`
    case "UnknownFormat":
      return `the API key of provider ${provider} is stored in a format this version does not read: remove the provider and add it again`
    case "WrongKey":
      return `the API key of provider ${provider} can't be decrypted with this deployment's secret key (was the secret key changed?): remove the provider and add it again, or restore the secret key`
  }
}

const typeNames: Record<ModelType, string> = { chat: "a chat model", embedding: "an embedding model", rerank: "a rerank model" }

/** Does the plugin serve models of this type at all? */
const serves = (plugin: ModelPlugin, type: ModelType): boolean =>
  (type === "chat" ? plugin.chatModel : type === "embedding" ? plugin.embedder : plugin.reranker) !== undefined

/** The model types a provider can serve, from the record types (which also name image2text, tts, ...). */
const servedType = (type: string): type is ModelType => type === "chat" || type === "embedding" || type === "rerank"

/** A provider nobody declared: the error says how a deployment declares one. */
const unknownProvider = (ref: string, model: string, provider: string, type: ModelType) => {
  const example =
    type === "chat"
      ? {
          name: provider,
          kind: "openai-compatible",
          baseUrl: "https://api.example.com/v1",
          apiKey: "${EXAMPLE_API_KEY}",
          models: [{ name: model, type, maxTokens: 8192 }]
        }
      : { name: provider, kind: "onnx", models: [{ name: model, type, path: `/models/${model.split("/").at(-1) ?? model}` }] }
  return unsupported(
    ref,
    `Unknown model provider ${provider} (in ${ref}): neither this deployment nor this tenant has a provider of that name. ` +
      `Declare it in the deployment's "providers" (the server's config file, or Rag.layer's providers option), e.g. ${JSON.stringify(example)}; ` +
      `or add it to the tenant (Models.addProvider)`
  )
}

/** The deployment's providers by name, checked: a mistake in them is a defect when the layer is built. */
const deploymentProviders = (providers: ReadonlyArray<DeploymentProvider>): ReadonlyMap<string, DeploymentProvider> => {
  const byName = new Map<string, DeploymentProvider>()
  for (const provider of providers) {
    if (provider.name.trim() === "" || provider.name.includes("@")) {
      throw new Error(`deployment provider name ${JSON.stringify(provider.name)}: not empty, no @`)
    }
    if (byName.has(provider.name)) throw new Error(`deployment provider ${provider.name} is declared twice`)
    const names = new Set<string>()
    for (const model of provider.models ?? []) {
      if (model.name === "" || names.has(model.name)) {
        throw new Error(`deployment provider ${provider.name}: model ${JSON.stringify(model.name)} is empty or declared twice`)
      }
      if (model.maxTokens !== undefined && !(Number.isInteger(model.maxTokens) && model.maxTokens > 0)) {
        throw new Error(`deployment provider ${provider.name}: model ${model.name}: maxTokens must be a positive integer`)
      }
      names.add(model.name)
    }
    byName.set(provider.name, provider)
  }
  return byName
}

/** A model reference located: the plugin that serves it and what the plugin is told. */
interface Located {
  readonly plugin: ModelPlugin
  readonly request: ModelRequest
}

export const make = (options: ModelsOptions = {}) => Effect.gen(function* () {
  const store = yield* RecordStore
  const registry = yield* ModelPlugins
  const allowPrivateProviders = options.allowPrivateProviders ?? false
  // A secret key that is too short is the deployment's mistake: a defect when the layer is built.
  const box = options.secretKey === undefined ? undefined : yield* Effect.sync(() => secretBox(options.secretKey!))
  const deployment = yield* Effect.sync(() => deploymentProviders(options.providers ?? []))

  /** The decrypted API key of a tenant's provider. */
  const apiKeyOf = (ref: string, record: ModelProviderConfig): Effect.Effect<Redacted.Redacted<string>, ModelError> => {
    if (record.api_key === "") return Effect.succeed(Redacted.make(""))
    if (box === undefined) {
      return Effect.fail(unsupported(ref, `the API key of provider ${record.name} can't be decrypted: this deployment has no secret key`))
    }
    return Either.match(box.open(record.api_key, keyContext(record)), {
      onLeft: (failure) => Effect.fail(unsupported(ref, unreadableKey(record.name, failure))),
      onRight: (key) => Effect.succeed(Redacted.make(key))
    })
  }

  const deploymentRequest = (provider: DeploymentProvider, model: string, declared: DeclaredModel | undefined): ModelRequest => ({
    model,
    declared,
    provider: {
      name: provider.name,
      kind: provider.kind,
      apiBase: provider.baseUrl ?? "",
      apiKey: provider.apiKey ?? Redacted.make(""),
      settings: provider.settings ?? {},
      declaredBy: "deployment"
    },
    allowPrivateProviders
  })

  const fixedRequest = (plugin: ModelPlugin, provider: string, model: string): ModelRequest => ({
    model,
    provider: { name: provider, kind: plugin.kind, apiBase: "", apiKey: Redacted.make(""), settings: {}, declaredBy: "deployment" },
    allowPrivateProviders
  })

  /** A model a tenant declared for one of its providers (a `Model` record), as the plugin is told. */
  const tenantDeclared = (model: Model): DeclaredModel | undefined =>
    servedType(model.model_type)
      ? { name: model.name, type: model.model_type, maxTokens: model.max_tokens > 0 ? model.max_tokens : undefined }
      : undefined

  /** The tenant provider's plugin and request, or why it can't be used (key, address, plugin). */
  const tenantLocated = (
    ref: string,
    record: ModelProviderConfig,
    model: string,
    declared: DeclaredModel | undefined,
    plugins: ReadonlyArray<ModelPlugin>
  ) =>
    Effect.gen(function* () {
      const plugin = plugins.find((p) => p.kind === record.kind)
      if (plugin === undefined) {
        return yield* Effect.fail(unsupported(ref, `Provider ${record.name} needs the ${record.kind} plugin, which is not installed`))
      }
      // Also checked when adding; a record from before the rule (or a deployment that stopped allowing it) is refused here.
      const problem = apiBaseProblem(record.api_base, allowPrivateProviders)
      if (problem !== undefined) return yield* Effect.fail(unsupported(ref, `the api_base of provider ${record.name} ${problem}`))
      return {
        plugin,
        request: {
          model,
          declared,
          provider: {
            name: record.name,
            kind: record.kind,
            apiBase: record.api_base,
            apiKey: yield* apiKeyOf(ref, record),
            settings: record.settings,
            declaredBy: "tenant"
          },
          allowPrivateProviders
        } satisfies ModelRequest
      } satisfies Located
    })

  /**
   * The provider of `ref` and what its plugin is told, in the order of precedence: the
   * deployment's providers, plugins' fixed providers, the tenant's (none without a caller). Fails
   * `NotConfigured` saying why when no provider has the name, its plugin is not installed, or it
   * does not serve this model as `type`.
   */
  const locate = (caller: Caller | undefined, ref: string, type: ModelType): Effect.Effect<Located, ModelError | StoreError> =>
    Effect.gen(function* () {
      const parsed = parseModelRef(ref)
      if (Option.isNone(parsed)) {
        return yield* Effect.fail(unsupported(ref, `Unsupported model: ${ref} (expected name@provider)`))
      }
      const { model, provider } = parsed.value
      const plugins = yield* registry.all
      const wrongType = (actual: ModelType) => unsupported(ref, `${ref} is ${typeNames[actual]}, not ${typeNames[type]}`)
      const checkServes = (plugin: ModelPlugin) =>
        serves(plugin, type)
          ? Effect.void
          : Effect.fail(unsupported(ref, `${ref} is not ${typeNames[type]} (the ${plugin.kind} plugin serves no ${type} models)`))

      const declaredBy = deployment.get(provider)
      if (declaredBy !== undefined) {
        const plugin = plugins.find((p) => p.kind === declaredBy.kind)
        if (plugin === undefined) {
          return yield* Effect.fail(
            unsupported(ref, `Provider ${provider} (declared by the deployment) needs the ${declaredBy.kind} plugin, which is not installed`)
          )
        }
        const declaredModels = declaredBy.models ?? []
        const declared = declaredModels.find((m) => m.name === model)
        if (declaredModels.length > 0 && declared === undefined) {
          return yield* Effect.fail(
            unsupported(
              ref,
              `Provider ${provider} (declared by the deployment) serves ${declaredModels.map((m) => m.name).join(", ")}, not ${model}: ` +
                `a deployment adds a model under the provider's "models" in its configuration`
            )
          )
        }
        if (declared !== undefined && declared.type !== type) return yield* Effect.fail(wrongType(declared.type))
        yield* checkServes(plugin)
        return { plugin, request: deploymentRequest(declaredBy, model, declared) }
      }

      const fixed = plugins.find((p) => (p.providers ?? []).includes(provider))
      if (fixed !== undefined) {
        yield* checkServes(fixed)
        return { plugin: fixed, request: fixedRequest(fixed, provider, model) }
      }

      if (caller !== undefined) {
        const configured = yield* store.modelProviders.findFirst({ tenant_id: caller.tenantId, name: provider })
        if (Option.isSome(configured)) {
          const record = configured.value
          const declaredRecord = yield* store.models.findFirst({ tenant_id: caller.tenantId, provider, name: model })
          if (Option.isSome(declaredRecord) && declaredRecord.value.model_type !== type) {
            const actual = declaredRecord.value.model_type
            const named = servedType(actual) ? typeNames[actual] : `a ${actual} model`
            return yield* Effect.fail(unsupported(ref, `${ref} is ${named}, not ${typeNames[type]}`))
          }
          const declared = Option.getOrUndefined(Option.map(declaredRecord, tenantDeclared))
          const located = yield* tenantLocated(ref, record, model, declared, plugins)
          yield* checkServes(located.plugin)
          return located
        }
      }
      return yield* Effect.fail(unknownProvider(ref, model, provider, type))
    })

  /**
   * What can be told about a located model without loading it or calling a server: the plugin's
   * answer (`describe`), else the declared model, else the fixed provider's list; `undefined` when
   * nothing can tell (a name on a remote server), `None` when the model does not exist.
   */
  const lookup = ({ plugin, request }: Located): Effect.Effect<Option.Option<ListedModel> | undefined> => {
    const declared = request.declared
    if (plugin.describe !== undefined) {
      return Effect.map(plugin.describe(request), (found) =>
        Option.map(found, (listed) => ({
          ...listed,
          maxTokens: declared?.maxTokens ?? listed.maxTokens,
          // The deployment's declaration says what the model is; a folder holding another kind can't serve it.
          unusable:
            listed.unusable ??
            (declared !== undefined && declared.type !== listed.type
              ? `declared as ${typeNames[declared.type]}, but the ${plugin.kind} plugin finds ${typeNames[listed.type]}`
              : undefined),
          type: declared?.type ?? listed.type
        })))
    }
    if (declared !== undefined) return Effect.succeed(Option.some({ name: declared.name, type: declared.type, maxTokens: declared.maxTokens }))
    if (plugin.listModels !== undefined && (plugin.providers ?? []).includes(request.provider.name)) {
      return Effect.map(plugin.listModels(request.provider.name), (listed) => Option.fromNullable(listed.find((m) => m.name === request.model)))
    }
    return Effect.succeed(undefined)
  }

  const infoOf = (
    request: ModelRequest,
    kind: string,
    type: ModelType,
    listed: ListedModel | undefined,
    unusable: string | undefined
  ): ModelInfo => ({
    id: `${request.model}@${request.provider.name}`,
    name: request.model,
    provider: request.provider.name,
    provider_kind: kind,
    declared_by: request.provider.declaredBy,
    model_type: type,
    max_tokens: listed?.maxTokens ?? null,
    usable: unusable === undefined,
    unusable_reason: unusable ?? null
  })

  const checkModel = Effect.fn("Models.checkModel")(function* (caller: Caller | undefined, ref: string, type: ModelType) {
    const located = yield* locate(caller, ref, type)
    const found = yield* lookup(located)
    if (found !== undefined && Option.isNone(found)) {
      const { plugin, request } = located
      const listed = plugin.listModels === undefined ? [] : yield* plugin.listModels(request.provider.name)
      const known = listed.filter((m) => m.type === type).map((m) => `${m.name}@${request.provider.name}`)
      return yield* Effect.fail(
        unsupported(
          ref,
          `Unsupported model: ${ref} (provider ${request.provider.name} has no such model${
            known.length === 0 ? "" : `; its ${type} models: ${known.join(", ")}`
          })`
        )
      )
    }
    const listed = found === undefined ? undefined : found.value
    if (listed !== undefined && listed.type !== type) {
      return yield* Effect.fail(unsupported(ref, `${ref} is ${typeNames[listed.type]}, not ${typeNames[type]}`))
    }
    if (listed?.unusable !== undefined) return yield* Effect.fail(unsupported(ref, `${ref} can't be used: ${listed.unusable}`))
    return infoOf(located.request, located.plugin.kind, type, listed, undefined)
  })

  const resolveWith = <A>(type: ModelType, get: (plugin: ModelPlugin) => ((request: ModelRequest) => Effect.Effect<A, ModelError>) | undefined) =>
    (caller: Caller, ref: string) =>
      Effect.flatMap(locate(caller, ref, type), ({ plugin, request }) => get(plugin)!(request))

  const embedder = Effect.fn("Models.embedder")(function* (caller: Caller, ref: string) {
    return yield* resolveWith("embedding", (p) => p.embedder)(caller, ref)
  })

  const chatModel = Effect.fn("Models.chatModel")(function* (caller: Caller, ref: string) {
    return yield* resolveWith("chat", (p) => p.chatModel)(caller, ref)
  })

  const reranker = Effect.fn("Models.reranker")(function* (caller: Caller, ref: string) {
    return yield* resolveWith("rerank", (p) => p.reranker)(caller, ref)
  })

  const addProvider = Effect.fn("Models.addProvider")(function* (caller: Caller, request: AddProviderRequest) {
    const plugins = yield* registry.all
    const kinds = plugins.map((p) => p.kind)
    if (!kinds.includes(request.kind)) {
      return yield* Effect.fail(
        new InvalidInput({ field: "kind", message: `no plugin of kind ${request.kind} is installed (installed: ${kinds.join(", ")})` })
      )
    }
    // The deployment's providers come first: a tenant provider of the same name would never be used.
    if (deployment.has(request.name) || plugins.some((p) => (p.providers ?? []).includes(request.name))) {
      return yield* Effect.fail(
        new AlreadyExists({
          entity: "ModelProvider",
          field: "name",
          value: request.name,
          message: `Provider ${request.name} is a provider of this deployment: choose another name`
        })
      )
    }
    const problem = apiBaseProblem(request.api_base, allowPrivateProviders)
    if (problem !== undefined) return yield* Effect.fail(new InvalidInput({ field: "api_base", message: `api_base ${problem}` }))
    const apiKey = Redacted.value(request.api_key)
    if (apiKey !== "" && box === undefined) {
      return yield* Effect.fail(
        new InvalidInput({ field: "api_key", message: "this deployment has no secret key to encrypt API keys with, so it can't keep one" })
      )
    }
    const id = randomHex32() as ModelProviderId
    const record = new ModelProviderConfig({
      id,
      tenant_id: caller.tenantId,
      name: request.name,
      kind: request.kind,
      api_base: request.api_base,
      api_key: apiKey === "" ? "" : box!.seal(apiKey, keyContext({ id, tenant_id: caller.tenantId })),
      settings: request.settings,
      ...(yield* newStamps)
    })
    const added = yield* store.modelProviders.insert(record).pipe(
      Effect.catchIf(
        (e): e is StoreError => e.reason === "Conflict",
        () =>
          Effect.fail(
            new AlreadyExists({
              entity: "ModelProvider",
              field: "name",
              value: request.name,
              message: `Provider ${request.name} already exists`
            })
          )
      )
    )
    return publicProvider(added)
  })

  const listProviders = Effect.fn("Models.listProviders")(function* (caller: Caller, _request: ListProvidersRequest) {
    const page = yield* store.modelProviders.find({ where: { tenant_id: caller.tenantId }, orderBy: "name" })
    return page.items.map(publicProvider)
  })

  const removeProvider = Effect.fn("Models.removeProvider")(function* (caller: Caller, request: RemoveProviderRequest) {
    const n = yield* store.modelProviders.removeWhere({ tenant_id: caller.tenantId, name: request.name })
    if (n === 0) return yield* Effect.fail(notFound("ModelProvider", request.name))
  })

  const setDefaults = Effect.fn("Models.setDefaults")(function* (caller: Caller, request: SetDefaultsRequest) {
    const check = (field: keyof SetDefaultsRequest, type: ModelType) => {
      const ref = request[field]
      return ref === undefined || ref === ""
        ? Effect.void
        : checkModel(caller, ref, type).pipe(
            Effect.asVoid,
            Effect.catchTag("ModelError", (e) => Effect.fail(new InvalidInput({ field, message: e.message })))
          )
    }
    yield* check("llm_id", "chat")
    yield* check("embd_id", "embedding")
    yield* check("rerank_id", "rerank")
    const stamp = yield* touched
    const updated = yield* store.tenants.modify(caller.tenantId, (tenant) =>
      Effect.succeed(
        new Tenant({
          ...tenant,
          llm_id: request.llm_id ?? tenant.llm_id,
          embd_id: request.embd_id ?? tenant.embd_id,
          rerank_id: request.rerank_id ?? tenant.rerank_id,
          ...stamp
        })
      )
    )
    return yield* Option.match(updated, { onNone: () => Effect.fail(notFound("Tenant", caller.tenantId)), onSome: Effect.succeed })
  })

  const listPlugins = Effect.fn("Models.listPlugins")(function* (_caller: Caller, _request: ListPluginsRequest) {
    return (yield* registry.all).map((p) => ({
      kind: p.kind,
      providers: [...(p.providers ?? []), ...[...deployment.values()].filter((d) => d.kind === p.kind).map((d) => d.name)]
    }))
  })

  const listModels = Effect.fn("Models.listModels")(function* (caller: Caller, request: ListModelsRequest) {
    const plugins = yield* registry.all
    const entries: Array<ModelInfo> = []
    /** A declared model's entry: usable unless its plugin is missing, serves no such type, or says why not. */
    const declaredEntry = (plugin: ModelPlugin | undefined, modelRequest: ModelRequest, declared: DeclaredModel, refusal?: string) =>
      Effect.gen(function* () {
        const listed: ListedModel = { name: declared.name, type: declared.type, maxTokens: declared.maxTokens }
        if (refusal !== undefined) return infoOf(modelRequest, modelRequest.provider.kind, declared.type, listed, refusal)
        if (plugin === undefined) {
          return infoOf(modelRequest, modelRequest.provider.kind, declared.type, listed, `the ${modelRequest.provider.kind} plugin is not installed`)
        }
        if (!serves(plugin, declared.type)) {
          return infoOf(modelRequest, plugin.kind, declared.type, listed, `the ${plugin.kind} plugin serves no ${declared.type} models`)
        }
        const found = yield* lookup({ plugin, request: modelRequest })
        const described = found === undefined ? listed : Option.getOrUndefined(found)
        return infoOf(
          modelRequest,
          plugin.kind,
          declared.type,
          described ?? listed,
          described === undefined ? `the ${plugin.kind} plugin does not serve it` : described.unusable
        )
      })

    for (const provider of deployment.values()) {
      const plugin = plugins.find((p) => p.kind === provider.kind)
      for (const declared of provider.models ?? []) {
        entries.push(yield* declaredEntry(plugin, deploymentRequest(provider, declared.name, declared), declared))
      }
    }
    const taken = new Set(deployment.keys())
    for (const plugin of plugins) {
      for (const provider of plugin.providers ?? []) {
        if (taken.has(provider)) continue
        taken.add(provider)
        for (const listed of plugin.listModels === undefined ? [] : yield* plugin.listModels(provider)) {
          entries.push(infoOf(fixedRequest(plugin, provider, listed.name), plugin.kind, listed.type, listed, listed.unusable))
        }
      }
    }
    const records = (yield* store.modelProviders.find({ where: { tenant_id: caller.tenantId }, orderBy: "name" })).items.filter(
      (record) => !taken.has(record.name)
    )
    if (records.length > 0) {
      const declaredModels = (yield* store.models.find({ where: { tenant_id: caller.tenantId }, orderBy: "name" })).items
      for (const record of records) {
        for (const model of declaredModels) {
          const declared = model.provider === record.name ? tenantDeclared(model) : undefined
          if (declared === undefined) continue
          const ref = `${model.name}@${record.name}`
          const located = yield* Effect.either(tenantLocated(ref, record, model.name, declared, plugins))
          const placeholder: ModelRequest = {
            model: model.name,
            declared,
            provider: {
              name: record.name,
              kind: record.kind,
              apiBase: record.api_base,
              apiKey: Redacted.make(""),
              settings: record.settings,
              declaredBy: "tenant"
            },
            allowPrivateProviders
          }
          entries.push(
            yield* Either.match(located, {
              // The reason without the model reference the error message starts with.
              onLeft: (error) => declaredEntry(undefined, placeholder, declared, error.message),
              onRight: ({ plugin, request }) => declaredEntry(plugin, request, declared)
            })
          )
        }
      }
    }
    return request.model_type === undefined ? entries : entries.filter((entry) => entry.model_type === request.model_type)
  })

  return Models.of({ embedder, chatModel, reranker, addProvider, listProviders, removeProvider, setDefaults, listPlugins, listModels, checkModel })
})

/** Models and the plugin registry (`ModelProvider.ModelPlugins`) its plugins add themselves to. Requires a RecordStore. */
export const layer = (options: ModelsOptions = {}): Layer.Layer<Models | ModelPlugins, never, RecordStore> =>
  Layer.effect(Models, make(options)).pipe(Layer.provideMerge(layerPlugins))
