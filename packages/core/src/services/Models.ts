/**
 * Models: resolves a model named `name@provider` (RAGFlow's convention, e.g. `glove-100d@Builtin`)
 * to an embedder, chat model or reranker, and keeps a tenant's providers and default models.
 *
 * Providers are plugins (the `ModelProvider` port): fixed provider names served to every tenant,
 * or providers a tenant configured with a plugin's kind (API base, key, settings).
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
import { ModelProviderConfig, Tenant } from "../domain/Records.js"
import { newStamps, touched } from "../domain/Time.js"
import type { ChatModelService } from "../ports/ChatModel.js"
import type { EmbedderService } from "../ports/Embedder.js"
import { hostKind, layerPlugins, type ModelRequest, ModelPlugins, parseModelRef } from "../ports/ModelProvider.js"
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

/**
 * Each method's request and result, for the surfaces that decode what callers send. Model
 * resolution (`embedder`, `chatModel`, `reranker`) returns live model services for the engine
 * and is not an operation.
 */
export const Operations = {
  addProvider: Fields.operation(AddProviderRequest, PublicModelProvider),
  listProviders: Fields.operation(ListProvidersRequest, ListProvidersResult),
  removeProvider: Fields.operation(RemoveProviderRequest, Schema.Void),
  setDefaults: Fields.operation(SetDefaultsRequest, Tenant),
  listPlugins: Fields.operation(ListPluginsRequest, ListPluginsResult)
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
   * resolve. An empty string clears a default.
   */
  readonly setDefaults: (
    caller: Caller,
    request: SetDefaultsRequest
  ) => Effect.Effect<Tenant, InvalidInput | NotFound | StoreError>
  /** The plugin kinds installed, and the provider names they serve to everyone. */
  readonly listPlugins: (caller: Caller, request: ListPluginsRequest) => Effect.Effect<ListPluginsResult>
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

export const make = (options: ModelsOptions = {}) => Effect.gen(function* () {
  const store = yield* RecordStore
  const registry = yield* ModelPlugins
  const allowPrivateProviders = options.allowPrivateProviders ?? false
  // A secret key that is too short is the deployment's mistake: a defect when the layer is built.
  const box = options.secretKey === undefined ? undefined : yield* Effect.sync(() => secretBox(options.secretKey!))

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

  /** The plugin and provider settings that serve `ref` for this caller. */
  const resolve = (caller: Caller, ref: string) =>
    Effect.gen(function* () {
      const parsed = parseModelRef(ref)
      if (Option.isNone(parsed)) {
        return yield* Effect.fail(unsupported(ref, `Unsupported model: ${ref} (expected name@provider)`))
      }
      const { model, provider } = parsed.value
      const plugins = yield* registry.all
      const configured = yield* store.modelProviders.findFirst({ tenant_id: caller.tenantId, name: provider })
      const request = (p: ModelRequest["provider"]): ModelRequest => ({ model, provider: p, allowPrivateProviders })
      if (Option.isSome(configured)) {
        const record = configured.value
        const plugin = plugins.find((p) => p.kind === record.kind)
        if (plugin === undefined) {
          return yield* Effect.fail(unsupported(ref, `Provider ${provider} needs the ${record.kind} plugin, which is not installed`))
        }
        // Also checked when adding; a record from before the rule (or a deployment that stopped allowing it) is refused here.
        const problem = apiBaseProblem(record.api_base, allowPrivateProviders)
        if (problem !== undefined) return yield* Effect.fail(unsupported(ref, `the api_base of provider ${provider} ${problem}`))
        return {
          plugin,
          request: request({
            name: record.name,
            kind: record.kind,
            apiBase: record.api_base,
            apiKey: yield* apiKeyOf(ref, record),
            settings: record.settings,
            declaredBy: "tenant"
          })
        }
      }
      const plugin = plugins.find((p) => (p.providers ?? []).includes(provider))
      if (plugin === undefined) return yield* Effect.fail(unsupported(ref))
      return {
        plugin,
        request: request({ name: provider, kind: plugin.kind, apiBase: "", apiKey: Redacted.make(""), settings: {}, declaredBy: "deployment" })
      }
    })

  const embedder = Effect.fn("Models.embedder")(function* (caller: Caller, ref: string) {
    const { plugin, request } = yield* resolve(caller, ref)
    if (plugin.embedder === undefined) return yield* Effect.fail(unsupported(ref, `${ref} is not an embedding model`))
    return yield* plugin.embedder(request)
  })

  const chatModel = Effect.fn("Models.chatModel")(function* (caller: Caller, ref: string) {
    const { plugin, request } = yield* resolve(caller, ref)
    if (plugin.chatModel === undefined) return yield* Effect.fail(unsupported(ref, `${ref} is not a chat model`))
    return yield* plugin.chatModel(request)
  })

  const reranker = Effect.fn("Models.reranker")(function* (caller: Caller, ref: string) {
    const { plugin, request } = yield* resolve(caller, ref)
    if (plugin.reranker === undefined) return yield* Effect.fail(unsupported(ref, `${ref} is not a rerank model`))
    return yield* plugin.reranker(request)
  })

  const addProvider = Effect.fn("Models.addProvider")(function* (caller: Caller, request: AddProviderRequest) {
    const kinds = (yield* registry.all).map((p) => p.kind)
    if (!kinds.includes(request.kind)) {
      return yield* Effect.fail(
        new InvalidInput({ field: "kind", message: `no plugin of kind ${request.kind} is installed (installed: ${kinds.join(", ")})` })
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
    const check = <A>(
      field: keyof SetDefaultsRequest,
      get: (caller: Caller, ref: string) => Effect.Effect<A, ModelError | StoreError>
    ) => {
      const ref = request[field]
      return ref === undefined || ref === ""
        ? Effect.void
        : get(caller, ref).pipe(
            Effect.asVoid,
            Effect.catchTag("ModelError", (e) => Effect.fail(new InvalidInput({ field, message: e.message })))
          )
    }
    yield* check("llm_id", chatModel)
    yield* check("embd_id", embedder)
    yield* check("rerank_id", reranker)
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
    return (yield* registry.all).map((p) => ({ kind: p.kind, providers: p.providers ?? [] }))
  })

  return Models.of({ embedder, chatModel, reranker, addProvider, listProviders, removeProvider, setDefaults, listPlugins })
})

/** Models and the plugin registry (`ModelProvider.ModelPlugins`) its plugins add themselves to. Requires a RecordStore. */
export const layer = (options: ModelsOptions = {}): Layer.Layer<Models | ModelPlugins, never, RecordStore> =>
  Layer.effect(Models, make(options)).pipe(Layer.provideMerge(layerPlugins))
