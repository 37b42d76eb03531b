/**
 * Models (REST): `GET /api/v1/models`, `GET` and `PATCH /api/v1/models/default`, `GET` and `PUT /api/v1/providers`
 * and `POST /api/v1/providers/{provider_name}/instances`, over `Models`, as RAGFlow's
 * `models_api.py` and `provider_api.py` answer them (`{ code: 0, data }`, no `message`).
 *
 * RAGFlow keeps providers (a factory: `OpenAI`), their instances (credentials) and models; a model
 * is `name@instance@provider`. Core keeps providers with their credentials, and a model is
 * `name@provider` (a provider's name can't contain `@`). So:
 *
 * - `GET /providers` lists the tenant's providers (without keys); `?available=true` the installed
 *   plugin kinds and the providers every tenant is served.
 * - `PUT /providers` `{provider_name}` adds a provider of the tenant without credentials; its kind
 *   is the plugin kind of that name (`openai-compatible`; RAGFlow's OpenAI-compatible factories,
 *   `OpenAI`, `OpenAI-API-Compatible`, `VLLM`, `LM-Studio`, `LocalAI`, `DeepSeek`, map to it), or the
 *   `kind` sent. A name no installed plugin serves is RAGFlow's 102 `Provider 'X' is not allowed`.
 * - `POST /providers/{provider_name}/instances` `{instance_name, api_key, base_url}` adds a provider
 *   named `instance_name` of the same kind with those credentials: its models are
 *   `model@<instance_name>`. `region` and `model_info` are not kept (core's tenant providers serve
 *   any model name their server knows).
 * - `GET /models` lists every model the tenant can name (the deployment's, plugins' and the
 *   tenant's), each with `model_provider`, `model_instance` (`default`), `model_name`, `model_id`
 *   (`name@provider`, what datasets and chats name), `model_type` and `enable`.
 * - `PATCH /models/default` `{model_type, model_id | model_provider + model_name}` sets the tenant's
 *   default chat, embedding or rerank model (`model_type` `chat`, `embedding`, `rerank`); neither
 *   clears it. A model that does not exist or can't be used is 102.
 *
 * A provider's API key is never answered (`Models.PublicModelProvider`) nor logged.
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint } from "@effect/platform"
import { type Caller, type ModelProvider, Models, Tenants } from "@ragkit/core"
import { Effect, Either, Schema } from "effect"
import * as Group from "../Group.js"
import * as Rest from "./Rest.js"
import { Authentication } from "./RestAuth.js"

/** A model as `GET /models` lists it: RAGFlow's fields and core's. */
export const ModelView = Schema.Struct({
  model_id: Schema.String,
  model_name: Schema.String,
  model_provider: Schema.String,
  model_instance: Schema.String,
  model_type: Schema.String,
  enable: Schema.Boolean,
  tenant_id: Schema.String,
  max_tokens: Schema.NullOr(Schema.Number),
  provider_kind: Schema.String,
  declared_by: Schema.String,
  unusable_reason: Schema.NullOr(Schema.String)
})

const modelView = (caller: Caller, m: Models.ModelInfo): typeof ModelView.Type => ({
  model_id: m.id,
  model_name: m.name,
  model_provider: m.provider,
  model_instance: "default",
  model_type: m.model_type,
  enable: m.usable,
  tenant_id: caller.tenantId,
  max_tokens: m.max_tokens,
  provider_kind: m.provider_kind,
  declared_by: m.declared_by,
  unusable_reason: m.unusable_reason
})

/** A default model as `GET /models/default` lists it. */
const DefaultView = Schema.Struct({
  model_id: Schema.String,
  model_provider: Schema.String,
  model_instance: Schema.String,
  model_name: Schema.String,
  model_type: Schema.String,
  enable: Schema.Boolean
})

/** A provider of the tenant, without its API key. */
export const ProviderView = Schema.Struct({ ...Models.PublicModelProvider.fields, provider_name: Schema.String })

const providerView = (p: Models.PublicModelProvider): typeof ProviderView.Type => ({ ...p, provider_name: p.name })

/** The tenant's default model field of each model type. */
const defaultField = { chat: "llm_id", embedding: "embd_id", rerank: "rerank_id" } as const satisfies Record<ModelProvider.ModelType, keyof Models.SetDefaultsRequest>

/** RAGFlow's model types that core serves none of. */
const otherTypes = ["asr", "vision", "tts", "ocr"]

/** RAGFlow's OpenAI-compatible factories, served by the `openai-compatible` plugin. */
const openAiCompatible = ["openai", "openai-api-compatible", "vllm", "lm-studio", "localai", "deepseek"]

/** The `PATCH /models/default` body. */
const DefaultSelection = Schema.Struct({
  model_type: Schema.String,
  model_id: Schema.optional(Schema.String),
  model_provider: Schema.optional(Schema.String),
  model_instance: Schema.optional(Schema.String),
  model_name: Schema.optional(Schema.String)
})

/** The `POST /providers/{p}/instances` body (credentials are decoded by core's `AddProviderRequest`). */
const InstanceFields = Schema.Struct({ instance_name: Schema.String, region: Schema.optional(Schema.String) })

export const group = Rest.group("restModels")
  .add(
    HttpApiEndpoint.get("list", "/api/v1/models")
      .setUrlParams(Schema.Struct({ type: Schema.optional(Schema.String) }))
      .addSuccess(Rest.Reply(Rest.Ok(Schema.Array(ModelView))))
  )
  .add(HttpApiEndpoint.get("defaults", "/api/v1/models/default").addSuccess(Rest.Reply(Rest.Ok(Schema.Struct({ models: Schema.Array(DefaultView) })))))
  .add(
    HttpApiEndpoint.patch("setDefault", "/api/v1/models/default")
      .setPayload(Schema.Struct(Group.loose("model_type", "model_id", "model_provider", "model_instance", "model_name")))
      .addSuccess(Rest.Reply(Rest.Ok(Schema.Struct({ llm_id: Schema.String, embd_id: Schema.String, rerank_id: Schema.String }))))
  )
  .add(
    HttpApiEndpoint.get("providers", "/api/v1/providers")
      .setUrlParams(Schema.Struct({ available: Schema.optional(Schema.String) }))
      .addSuccess(Rest.Reply(Rest.Ok(Schema.Union(Schema.Array(ProviderView), Schema.Array(Models.PluginInfo)))))
  )
  .add(
    HttpApiEndpoint.put("addProvider", "/api/v1/providers")
      .setPayload(Schema.Struct(Group.loose("provider_name", "kind")))
      .addSuccess(Rest.Reply(Rest.Ok(ProviderView)))
  )
  .add(
    HttpApiEndpoint.post("addInstance", "/api/v1/providers/:provider_name/instances")
      .setPath(Schema.Struct({ provider_name: Schema.String }))
      .setPayload(Schema.Struct(Group.loose("instance_name", "api_key", "base_url", "region", "model_info")))
      .addSuccess(Rest.Reply(Rest.Ok(ProviderView)))
  )
  .middleware(Authentication)

const Api = HttpApi.make("ragkit").add(group)

export const live = HttpApiBuilder.group(Api, "restModels", (handlers) =>
  Effect.gen(function* () {
    const models = yield* Models.Models
    const tenants = yield* Tenants.Tenants

    /** The installed plugin kind a RAGFlow provider name stands for, if any. */
    const kindOf = (caller: Caller, providerName: string) =>
      Effect.map(models.listPlugins(caller, {}), (plugins) => {
        const name = providerName.trim().toLowerCase()
        const kinds = plugins.map((p) => p.kind)
        return kinds.find((k) => k.toLowerCase() === name) ?? (openAiCompatible.includes(name) && kinds.includes("openai-compatible") ? "openai-compatible" : undefined)
      })

    return handlers
      .handle("list", ({ urlParams }) =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          const type = urlParams.type?.trim().toLowerCase()
          if (type !== undefined && otherTypes.includes(type)) return Rest.ok([])
          if (type !== undefined && type !== "" && !(type in defaultField)) {
            return yield* Rest.argument(`type must be one of ${[...Object.keys(defaultField), ...otherTypes].join(", ")}`)
          }
          const request = yield* Rest.decode(Models.ListModelsRequest, { model_type: type === "" ? undefined : type })
          const listed = yield* models.listModels(caller, request)
          return Rest.ok(listed.map((m) => modelView(caller, m)))
        })))
      .handle("defaults", () =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          const tenant = yield* tenants.get(caller, { tenant_id: caller.tenantId })
          const entries = yield* Effect.forEach(
            (Object.entries(defaultField) as Array<[ModelProvider.ModelType, keyof typeof tenant]>).filter(([, field]) => tenant[field] !== ""),
            ([type, field]) =>
              Effect.gen(function* () {
                const ref = String(tenant[field])
                const at = ref.lastIndexOf("@")
                const usable = yield* Effect.either(models.checkModel(caller, ref, type))
                return {
                  model_id: ref,
                  model_provider: at < 0 ? "" : ref.slice(at + 1),
                  model_instance: "default",
                  model_name: at < 0 ? ref : ref.slice(0, at),
                  model_type: type,
                  enable: Either.isRight(usable)
                }
              })
          )
          return Rest.ok({ models: entries })
        })))
      .handle("setDefault", ({ payload }) =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          if (payload.model_type === undefined) return yield* Rest.argument("model_type is required")
          const selection = yield* Rest.decode(DefaultSelection, payload)
          const type = selection.model_type as ModelProvider.ModelType
          if (!(type in defaultField)) return yield* Rest.data(`model type '${selection.model_type}' is invalid`)
          const ref = selection.model_id !== undefined && selection.model_id !== ""
            ? selection.model_id
            : selection.model_provider && selection.model_name
            ? `${selection.model_name}@${selection.model_provider}`
            : ""
          const request = yield* Rest.decode(Models.SetDefaultsRequest, { [defaultField[type]]: ref })
          const tenant = yield* models.setDefaults(caller, request).pipe(
            // A model that is not there or can't be used: RAGFlow's data error.
            Effect.catchTag("InvalidInput", (e) => Rest.data(e.message))
          )
          return Rest.ok({ llm_id: tenant.llm_id, embd_id: tenant.embd_id, rerank_id: tenant.rerank_id })
        })))
      .handle("providers", ({ urlParams }) =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          if (urlParams.available?.toLowerCase() === "true") return Rest.ok(yield* models.listPlugins(caller, {}))
          return Rest.ok((yield* models.listProviders(caller, {})).map(providerView))
        })))
      .handle("addProvider", ({ payload }) =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          if (payload.provider_name === undefined) return yield* Rest.argument("provider_name is required")
          if (typeof payload.provider_name !== "string") return yield* Rest.argument("provider_name must be a string")
          if (payload.kind !== undefined && typeof payload.kind !== "string") return yield* Rest.argument("kind must be a string")
          const kind = payload.kind ?? (yield* kindOf(caller, payload.provider_name))
          if (kind === undefined) return yield* Rest.data(`Provider '${payload.provider_name}' is not allowed`)
          const request = yield* Rest.decode(Models.AddProviderRequest, { name: payload.provider_name, kind })
          return Rest.ok(providerView(yield* models.addProvider(caller, request)))
        })))
      .handle("addInstance", ({ path, payload }) =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          if (payload.instance_name === undefined) return yield* Rest.argument("instance_name is required")
          const fields = yield* Rest.decode(InstanceFields, payload)
          const provider = (yield* models.listProviders(caller, {})).find((p) => p.name === path.provider_name)
          if (provider === undefined) return yield* Rest.data(`Provider '${path.provider_name}' does not exist`)
          if (fields.instance_name.trim() === "default") return yield* Rest.data("Instance name cannot be 'default'")
          const request = yield* Rest.decode(Models.AddProviderRequest, {
            name: fields.instance_name,
            kind: provider.kind,
            api_base: payload.base_url === "" ? undefined : payload.base_url,
            api_key: payload.api_key === "" ? undefined : payload.api_key,
            settings: provider.settings
          }).pipe(
            Effect.catchTag("RestFailure", (e) =>
              Rest.argument(e.message.replace(/^name\b/, "instance_name").replace(/^api_base\b/, "base_url")))
          )
          return Rest.ok(providerView(yield* models.addProvider(caller, request)))
        })))
  }))
