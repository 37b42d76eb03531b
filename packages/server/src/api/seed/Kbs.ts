/**
 * Knowledge bases: `/api/v1/kbs/create|update|detail|list|rm`, over `KnowledgeBases`.
 *
 * Seed names mapped at this edge: `chunk_method` is core's `parser_id` (either may be sent; a
 * response carries both), `embedding_model_id` is `embedding_model`, `kb_id` of `rm` is one of
 * core's `kb_ids`. A `tenant_id` on create must be the caller's own tenant: another team the caller
 * is in is 403, any other tenant 404 (as an unknown one).
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint } from "@effect/platform"
import { ChunkMethodId, KnowledgeBase, KnowledgeBases, Tenants } from "@ragkit/core"
import { Effect, Schema } from "effect"
import { Authentication } from "../Auth.js"
import { Ok, ok } from "../Envelope.js"
import * as Errors from "../Errors.js"
import * as Group from "../Group.js"

const core = KnowledgeBases.UpdateRequest.from.fields

/** A knowledge base as the seed shows it: core's record, with `chunk_method` beside `parser_id`. */
export const KbView = Schema.Struct({ ...KnowledgeBase.fields, chunk_method: ChunkMethodId })
export const kbView = (kb: KnowledgeBase): typeof KbView.Type => ({ ...kb, chunk_method: kb.parser_id })

/** The fields create and update share, with the seed's aliases. */
const settings = {
  description: core.description,
  language: core.language,
  avatar: core.avatar,
  embedding_model: core.embedding_model,
  embedding_model_id: core.embedding_model,
  permission: core.permission,
  parser_id: Schema.optional(Schema.String),
  chunk_method: Schema.optional(Schema.String),
  parser_config: core.parser_config,
  pipeline_id: core.pipeline_id,
  similarity_threshold: core.similarity_threshold,
  vector_similarity_weight: core.vector_similarity_weight
}

type Settings = { readonly [K in keyof typeof settings]?: unknown }

/** The core request's settings from the seed's: aliases resolved, absent fields left absent. */
const settingsOf = (p: Settings) =>
  Group.defined({
    description: p.description,
    language: p.language,
    avatar: p.avatar,
    embedding_model: p.embedding_model ?? p.embedding_model_id,
    permission: p.permission,
    parser_id: p.parser_id ?? p.chunk_method,
    parser_config: p.parser_config,
    pipeline_id: p.pipeline_id,
    similarity_threshold: p.similarity_threshold,
    vector_similarity_weight: p.vector_similarity_weight
  })

export const group = Group.make("kbs")
  .add(
    HttpApiEndpoint.post("create", "/api/v1/kbs/create")
      .setPayload(Schema.Struct({ name: Schema.optional(Schema.Unknown), ...settings, tenant_id: Schema.optional(Schema.String) }))
      .addSuccess(Ok(Schema.Struct({ kb_id: Schema.String })))
  )
  .add(
    HttpApiEndpoint.post("update", "/api/v1/kbs/update")
      .setPayload(Schema.Struct({ kb_id: Schema.optional(Schema.Unknown), name: core.name, ...settings }))
      .addSuccess(Ok(KbView))
  )
  .add(
    HttpApiEndpoint.get("detail", "/api/v1/kbs/detail")
      .setUrlParams(Schema.Struct({ kb_id: Schema.optional(Schema.String) }))
      .addSuccess(Ok(Schema.Struct({ ...KbView.fields, connectors: Schema.Array(Schema.Unknown) })))
  )
  .add(
    HttpApiEndpoint.post("list", "/api/v1/kbs/list")
      .setUrlParams(
        Schema.Struct({
          keywords: Schema.optional(Schema.String),
          page: Schema.optional(Schema.String),
          page_size: Schema.optional(Schema.String),
          orderby: Schema.optional(Schema.String),
          desc: Schema.optional(Schema.String),
          parser_id: Schema.optional(Schema.String)
        })
      )
      .setPayload(Schema.Struct({ owner_ids: Schema.optional(Schema.Unknown) }))
      .addSuccess(Ok(Schema.Struct({ kbs: Schema.Array(KbView), total: Schema.Number })))
  )
  .add(
    HttpApiEndpoint.post("rm", "/api/v1/kbs/rm")
      .setPayload(Schema.Struct({ kb_id: Schema.optional(Schema.Unknown) }))
      .addSuccess(Ok(Schema.Boolean))
  )
  .middleware(Authentication)

const Api = HttpApi.make("ragkit").add(group)

export const live = HttpApiBuilder.group(Api, "kbs", (handlers) =>
  Effect.gen(function* () {
    const kbs = yield* KnowledgeBases.KnowledgeBases
    const tenants = yield* Tenants.Tenants
    return handlers
      .handle("create", ({ payload }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          if (payload.tenant_id !== undefined && payload.tenant_id !== caller.tenantId) {
            // A tenant the caller is not in is not found (as an unknown one); a team it is in, forbidden.
            yield* Errors.respond(Effect.flatMap(Group.decode(Tenants.TenantRequest, { tenant_id: payload.tenant_id }), (team) => tenants.get(caller, team)))
            return yield* Effect.fail(Errors.forbidden("tenant_id: a knowledge base can only be made in your own tenant"))
          }
          const request = yield* Group.decode(KnowledgeBases.CreateRequest, { name: payload.name, ...settingsOf(payload) })
          const kb = yield* Errors.respond(kbs.create(caller, request))
          return ok({ kb_id: kb.id })
        }))
      .handle("update", ({ payload }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const request = yield* Group.decode(KnowledgeBases.UpdateRequest, { kb_id: payload.kb_id, ...Group.defined({ name: payload.name }), ...settingsOf(payload) })
          return ok(kbView(yield* Errors.respond(kbs.update(caller, request))))
        }))
      .handle("detail", ({ urlParams }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const request = yield* Group.decode(KnowledgeBases.GetRequest, { kb_id: urlParams.kb_id })
          const kb = yield* Errors.respond(kbs.get(caller, request))
          return ok({ ...kbView(kb), connectors: [] })
        }))
      .handle("list", ({ payload, urlParams }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const request = yield* Group.decode(
            KnowledgeBases.ListRequest,
            Group.defined({
              keywords: urlParams.keywords,
              page: Group.queryNumber(urlParams.page),
              page_size: Group.queryNumber(urlParams.page_size),
              orderby: urlParams.orderby,
              desc: Group.queryBoolean(urlParams.desc),
              parser_id: urlParams.parser_id,
              owner_ids: payload.owner_ids
            })
          )
          const page = yield* Errors.respond(kbs.list(caller, request))
          return ok({ kbs: page.items.map(kbView), total: page.total })
        }))
      .handle("rm", ({ payload }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          if (typeof payload.kb_id !== "string") return yield* Effect.fail(Errors.badRequest(payload.kb_id === undefined ? "kb_id is required" : "kb_id must be a string"))
          const request = yield* Group.decode(KnowledgeBases.RemoveRequest, { kb_ids: [payload.kb_id] })
          yield* Errors.respond(kbs.remove(caller, request))
          return ok(true)
        }))
  }))
