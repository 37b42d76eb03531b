/**
 * Models: resolves a model named `name@provider` (RAGFlow's convention, e.g. `glove-100d@Builtin`)
 * to an embedder, chat model or reranker.
 *
 * Providers are plugins. A plugin has a `kind` (`builtin`, `onnx`, `openai-compatible`, ...) and
 * contributes itself as a layer (`Models.plugin(...)`). It serves either fixed provider names that
 * every tenant can use without configuration (`providers: ["Builtin"]`), or the providers that a
 * tenant configured with that kind (a `ModelProvider` record: API base, key, settings).
 */
import { Context, Effect, Layer, Option, Redacted } from "effect"
import type { Caller } from "../domain/Caller.js"
import { AlreadyExists, InvalidInput, ModelError, notFound, type NotFound, StoreError } from "../domain/Errors.js"
import { randomHex32, type ModelProviderId } from "../domain/Ids.js"
import { ModelProvider, Tenant } from "../domain/Records.js"
import { newStamps, touched } from "../domain/Time.js"
import type { ChatModelService } from "../ports/ChatModel.js"
import type { EmbedderService } from "../ports/Embedder.js"
import { RecordStore } from "../ports/RecordStore.js"
import type { RerankerService } from "../ports/Reranker.js"
import * as validate from "./internal/validate.js"

/** How a plugin is told which provider and model to serve. */
export interface ModelRequest {
  /** The model name, the part before the last `@`. */
  readonly model: string
  readonly provider: {
    readonly name: string
    readonly kind: string
    readonly apiBase: string
    readonly apiKey: Redacted.Redacted<string>
    readonly settings: Readonly<Record<string, unknown>>
  }
}

export interface ModelPlugin {
  readonly kind: string
  /** Provider names served to every tenant without a `ModelProvider` record. */
  readonly providers?: ReadonlyArray<string>
  readonly embedder?: (request: ModelRequest) => Effect.Effect<EmbedderService, ModelError>
  readonly chatModel?: (request: ModelRequest) => Effect.Effect<ChatModelService, ModelError>
  readonly reranker?: (request: ModelRequest) => Effect.Effect<RerankerService, ModelError>
}

/** The registry plugins add themselves to. */
export class ModelPlugins extends Context.Tag("@ragkit/core/ModelPlugins")<
  ModelPlugins,
  {
    readonly register: (plugin: ModelPlugin) => Effect.Effect<void>
    readonly all: Effect.Effect<ReadonlyArray<ModelPlugin>>
  }
>() {}

/** `name@provider`, split at the last `@`. */
export const parseModelRef = (ref: string): Option.Option<{ readonly model: string; readonly provider: string }> => {
  const at = ref.lastIndexOf("@")
  if (at <= 0 || at === ref.length - 1) return Option.none()
  return Option.some({ model: ref.slice(0, at), provider: ref.slice(at + 1) })
}

export interface ProviderInput {
  readonly name: string
  readonly kind: string
  readonly api_base?: string
  readonly api_key?: string
  readonly settings?: Record<string, unknown>
}

export interface TenantDefaults {
  readonly llm_id?: string
  readonly embd_id?: string
  readonly rerank_id?: string
}

export interface ModelsService {
  readonly embedder: (caller: Caller, ref: string) => Effect.Effect<EmbedderService, ModelError | StoreError>
  readonly chatModel: (caller: Caller, ref: string) => Effect.Effect<ChatModelService, ModelError | StoreError>
  readonly reranker: (caller: Caller, ref: string) => Effect.Effect<RerankerService, ModelError | StoreError>
  readonly addProvider: (
    caller: Caller,
    input: ProviderInput
  ) => Effect.Effect<ModelProvider, InvalidInput | AlreadyExists | StoreError>
  readonly listProviders: (caller: Caller) => Effect.Effect<ReadonlyArray<ModelProvider>, StoreError>
  readonly removeProvider: (caller: Caller, name: string) => Effect.Effect<void, NotFound | StoreError>
  /**
   * Sets the tenant's default models (RAGFlow's `PATCH /models/default`); each given one must
   * resolve. An empty string clears a default.
   */
  readonly setDefaults: (
    caller: Caller,
    defaults: TenantDefaults
  ) => Effect.Effect<Tenant, InvalidInput | NotFound | StoreError>
  /** The plugin kinds installed, and the provider names they serve to everyone. */
  readonly plugins: Effect.Effect<ReadonlyArray<{ readonly kind: string; readonly providers: ReadonlyArray<string> }>>
}

export class Models extends Context.Tag("@ragkit/core/Models")<Models, ModelsService>() {}

const unsupported = (ref: string, message = `Unsupported model: ${ref}`) =>
  new ModelError({ reason: "NotConfigured", model: ref, message })

export const make = Effect.gen(function* () {
  const store = yield* RecordStore
  const registry = yield* ModelPlugins

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
      const request = (p: ModelRequest["provider"]): ModelRequest => ({ model, provider: p })
      if (Option.isSome(configured)) {
        const record = configured.value
        const plugin = plugins.find((p) => p.kind === record.kind)
        if (plugin === undefined) {
          return yield* Effect.fail(unsupported(ref, `Provider ${provider} needs the ${record.kind} plugin, which is not installed`))
        }
        return {
          plugin,
          request: request({
            name: record.name,
            kind: record.kind,
            apiBase: record.api_base,
            apiKey: Redacted.make(record.api_key),
            settings: record.settings
          })
        }
      }
      const plugin = plugins.find((p) => (p.providers ?? []).includes(provider))
      if (plugin === undefined) return yield* Effect.fail(unsupported(ref))
      return {
        plugin,
        request: request({ name: provider, kind: plugin.kind, apiBase: "", apiKey: Redacted.make(""), settings: {} })
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

  const addProvider = Effect.fn("Models.addProvider")(function* (caller: Caller, input: ProviderInput) {
    const name = yield* validate.name("name", input.name, 64)
    if (name.includes("@")) return yield* Effect.fail(new InvalidInput({ field: "name", message: "a provider name can't contain @" }))
    const kind = yield* validate.name("kind", input.kind, 64)
    const kinds = (yield* registry.all).map((p) => p.kind)
    if (!kinds.includes(kind)) {
      return yield* Effect.fail(
        new InvalidInput({ field: "kind", message: `no plugin of kind ${kind} is installed (installed: ${kinds.join(", ")})` })
      )
    }
    const settings = input.settings === undefined ? {} : yield* validate.object("settings", input.settings)
    const record = new ModelProvider({
      id: randomHex32() as ModelProviderId,
      tenant_id: caller.tenantId,
      name,
      kind,
      api_base: input.api_base ?? "",
      api_key: input.api_key ?? "",
      settings,
      ...(yield* newStamps)
    })
    return yield* store.modelProviders.insert(record).pipe(
      Effect.catchIf(
        (e): e is StoreError => e.reason === "Conflict",
        () =>
          Effect.fail(
            new AlreadyExists({ entity: "ModelProvider", field: "name", value: name, message: `Provider ${name} already exists` })
          )
      )
    )
  })

  const listProviders = Effect.fn("Models.listProviders")(function* (caller: Caller) {
    return (yield* store.modelProviders.find({ where: { tenant_id: caller.tenantId }, orderBy: "name" })).items
  })

  const removeProvider = Effect.fn("Models.removeProvider")(function* (caller: Caller, name: string) {
    const n = yield* store.modelProviders.removeWhere({ tenant_id: caller.tenantId, name })
    if (n === 0) return yield* Effect.fail(notFound("ModelProvider", name))
  })

  const setDefaults = Effect.fn("Models.setDefaults")(function* (caller: Caller, defaults: TenantDefaults) {
    const check = <A>(field: keyof TenantDefaults, get: (caller: Caller, ref: string) => Effect.Effect<A, ModelError | StoreError>) => {
      const ref = defaults[field]
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
          llm_id: defaults.llm_id ?? tenant.llm_id,
          embd_id: defaults.embd_id ?? tenant.embd_id,
          rerank_id: defaults.rerank_id ?? tenant.rerank_id,
          ...stamp
        })
      )
    )
    return yield* Option.match(updated, { onNone: () => Effect.fail(notFound("Tenant", caller.tenantId)), onSome: Effect.succeed })
  })

  return Models.of({
    setDefaults,
    embedder,
    chatModel,
    reranker,
    addProvider,
    listProviders,
    removeProvider,
    plugins: Effect.map(registry.all, (all) => all.map((p) => ({ kind: p.kind, providers: p.providers ?? [] })))
  })
})

/** The plugin registry on its own. */
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

/** Models and the registry its plugins add themselves to. Requires a RecordStore. */
export const layer: Layer.Layer<Models | ModelPlugins, never, RecordStore> = Layer.effect(Models, make).pipe(
  Layer.provideMerge(layerPlugins)
)

/** A plugin contributed as a layer: registers itself when built. */
export const plugin = (p: ModelPlugin): Layer.Layer<never, never, ModelPlugins> =>
  Layer.effectDiscard(Effect.flatMap(ModelPlugins, (registry) => registry.register(p)))
