/**
 * Datasets (REST): `/api/v1/datasets`, as RAGFlow's `dataset_api.py` serves them, over core's
 * `KnowledgeBases`.
 *
 * - `POST /datasets` (`name`, `avatar`, `description`, `embedding_model` as `name@provider`,
 *   `permission`, `chunk_method` default `naive`, `parser_config`) answers the dataset.
 * - `GET /datasets` (`page`, `page_size`, `orderby`, `desc`, `id`, `ids`, `name`) answers
 *   `{ code: 0, data: [dataset], total_datasets }`; an `id` or `name` the caller can't read is
 *   RAGFlow's 102, `ids` it can't read are left out.
 * - `GET /datasets/{id}`, `PUT /datasets/{id}` (partial; `embedding_model` only while the dataset
 *   has no chunks).
 * - `DELETE /datasets` with `{ ids, delete_all }` answers `{ success_count }`: no ids delete
 *   nothing, unless `delete_all` is true, which deletes every dataset of the caller's tenant.
 *
 * A dataset is core's knowledge base with RAGFlow's names: `chunk_method` (`parser_id`),
 * `embedding_model`, `document_count`, `chunk_count`, `token_num` (also as `token_count`). An
 * unknown dataset, or another tenant's, is RAGFlow's 102 `User '<tenant>' lacks permission for
 * dataset '<id>'`; a duplicate name 102 `Dataset name '<name>' already exists`; a bad field core's
 * 101 naming it.
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint } from "@effect/platform"
import { type Caller, KnowledgeBase, KnowledgeBaseId, KnowledgeBases } from "@ragkit/core"
import { Effect, Schema } from "effect"
import * as Group from "../Group.js"
import { present } from "./Chunks.js"
import * as Rest from "./Rest.js"
import { Authentication } from "./RestAuth.js"

// ---------------------------------------------------------------------------------------------
// The dataset as RAGFlow shows it

const { embedder: _embedder, parser_id: _parser, ...datasetFields } = KnowledgeBase.fields

export const DatasetView = Schema.Struct({
  ...datasetFields,
  chunk_method: Schema.String,
  token_count: Schema.Number,
  pagerank: Schema.Number
}).annotations({ identifier: "RagflowDataset" })
export type DatasetView = typeof DatasetView.Type

export const datasetView = (kb: KnowledgeBase): DatasetView => {
  const { embedder: _, parser_id, ...rest } = kb
  return { ...rest, chunk_method: parser_id, token_count: kb.token_num, pagerank: 0 }
}

// ---------------------------------------------------------------------------------------------
// Routes

const Settings = Group.loose("avatar", "description", "embedding_model", "permission", "chunk_method", "parser_config", "language")
const DatasetPath = Schema.Struct({ dataset_id: Schema.String })

/** A query parameter sent once or repeated. */
export const Repeated = Schema.optional(Schema.Union(Schema.String, Schema.Array(Schema.String)))

/** The paging and ordering query parameters of RAGFlow's lists, as text. */
export const ListParams = {
  page: Schema.optional(Schema.String),
  page_size: Schema.optional(Schema.String),
  orderby: Schema.optional(Schema.String),
  desc: Schema.optional(Schema.String),
  id: Schema.optional(Schema.String),
  ids: Repeated,
  name: Schema.optional(Schema.String)
}

/** A repeated or comma-separated query parameter's values, as RAGFlow reads them. */
export const queryList = (value: string | ReadonlyArray<string> | undefined): ReadonlyArray<string> =>
  value === undefined ? [] : (typeof value === "string" ? [value] : value).flatMap((v) => v.split(",")).map((v) => v.trim()).filter((v) => v !== "")

export const group = Rest.group("restDatasets")
  .add(
    HttpApiEndpoint.post("create", "/api/v1/datasets")
      .setPayload(Schema.Struct({ ...Group.loose("name"), ...Settings }))
      .addSuccess(Rest.Reply(Rest.Ok(DatasetView)))
  )
  .add(
    HttpApiEndpoint.get("list", "/api/v1/datasets")
      .setUrlParams(Schema.Struct(ListParams))
      .addSuccess(Rest.Reply(Rest.Ok(Schema.Array(DatasetView), { total_datasets: Schema.Number })))
  )
  .add(HttpApiEndpoint.get("get", "/api/v1/datasets/:dataset_id").setPath(DatasetPath).addSuccess(Rest.Reply(Rest.Ok(DatasetView))))
  .add(
    HttpApiEndpoint.put("update", "/api/v1/datasets/:dataset_id")
      .setPath(DatasetPath)
      .setPayload(Schema.Struct({ ...Group.loose("name"), ...Settings }))
      .addSuccess(Rest.Reply(Rest.Ok(DatasetView)))
  )
  .add(
    HttpApiEndpoint.del("remove", "/api/v1/datasets")
      .setPayload(Schema.Struct(Group.loose("ids", "delete_all")))
      .addSuccess(Rest.Reply(Rest.Ok(Schema.Struct({ success_count: Schema.Number }))))
  )
  .middleware(Authentication)

const Api = HttpApi.make("ragkit").add(group)

type SettingsPayload = { readonly [K in keyof typeof Settings]?: unknown }

/** Core's settings from RAGFlow's names; `null` (ragflow-sdk's unset) is absent. */
const settingsOf = (p: SettingsPayload) => ({
  avatar: present(p.avatar),
  description: present(p.description),
  embedding_model: present(p.embedding_model),
  permission: present(p.permission),
  parser_id: present(p.chunk_method),
  parser_config: present(p.parser_config),
  language: present(p.language)
})

/** RAGFlow's answer for a dataset the caller can't read or change (or that does not exist). */
const lacksPermission = (caller: Caller, id: string) => Rest.data(`User '${caller.tenantId}' lacks permission for dataset '${id}'`)

const isDatasetId = Schema.is(KnowledgeBaseId)

/** Core's `NotFound`/`Forbidden` of the dataset `id` as RAGFlow's message. */
const orLacksPermission = (caller: Caller, id: string) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.catchIf(
    self,
    (e) => typeof e === "object" && e !== null && "_tag" in e && (e._tag === "NotFound" || e._tag === "Forbidden"),
    () => lacksPermission(caller, id)
  )

export const live = HttpApiBuilder.group(Api, "restDatasets", (handlers) =>
  Effect.gen(function* () {
    const kbs = yield* KnowledgeBases.KnowledgeBases

    return handlers
      .handle("create", ({ payload }) =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          const request = yield* Rest.decode(KnowledgeBases.CreateRequest, { name: payload.name, ...settingsOf(payload) })
          return Rest.ok(datasetView(yield* kbs.create(caller, request)))
        })))
      .handle("list", ({ urlParams }) =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          const ids = queryList(urlParams.ids)
          if (urlParams.id !== undefined && ids.length > 0) {
            return yield* Rest.data(`Should not provide both 'id':${urlParams.id} and 'ids'${JSON.stringify(ids)}`)
          }
          if (urlParams.id !== undefined && urlParams.id !== "") {
            if (!isDatasetId(urlParams.id)) return yield* lacksPermission(caller, urlParams.id)
            yield* kbs.get(caller, { kb_id: urlParams.id }).pipe(orLacksPermission(caller, urlParams.id))
          }
          const request = yield* Rest.decode(KnowledgeBases.ListRequest, {
            page: Group.queryNumber(urlParams.page),
            page_size: Group.queryNumber(urlParams.page_size),
            orderby: urlParams.orderby,
            desc: Group.queryBoolean(urlParams.desc),
            id: urlParams.id === "" ? undefined : urlParams.id,
            ids: ids.length > 0 ? ids.filter(isDatasetId) : undefined,
            name: urlParams.name === "" ? undefined : urlParams.name
          })
          // Ids of no dataset the caller can read are left out, as RAGFlow; none left is an empty page.
          if (ids.length > 0 && (request.ids ?? []).length === 0) return { ...Rest.ok([]), total_datasets: 0 }
          const page = yield* kbs.list(caller, request)
          if (request.name !== undefined && page.total === 0) return yield* lacksPermission(caller, request.name)
          return { ...Rest.ok(page.items.map(datasetView)), total_datasets: page.total }
        })))
      .handle("get", ({ path }) =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          if (!isDatasetId(path.dataset_id)) return yield* lacksPermission(caller, path.dataset_id)
          const kb = yield* kbs.get(caller, { kb_id: path.dataset_id }).pipe(orLacksPermission(caller, path.dataset_id))
          return Rest.ok(datasetView(kb))
        })))
      .handle("update", ({ path, payload }) =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          if (!isDatasetId(path.dataset_id)) return yield* lacksPermission(caller, path.dataset_id)
          const request = yield* Rest.decode(KnowledgeBases.UpdateRequest, { kb_id: path.dataset_id, name: present(payload.name), ...settingsOf(payload) })
          const kb = yield* kbs.update(caller, request).pipe(orLacksPermission(caller, path.dataset_id))
          return Rest.ok(datasetView(kb))
        })))
      .handle("remove", ({ payload }) =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          const ids = present(payload.ids) ?? []
          const request = yield* Rest.decode(KnowledgeBases.RemoveRequest, { kb_ids: ids, delete_all: present(payload.delete_all) })
          const removed = yield* kbs.remove(caller, request).pipe(
            Effect.catchTags({
              NotFound: (e) => Rest.data(`User '${caller.tenantId}' lacks permission for datasets: '${e.id}'`),
              Forbidden: () => Rest.data(`User '${caller.tenantId}' lacks permission for datasets: '${request.kb_ids.join(", ")}'`)
            })
          )
          return Rest.ok({ success_count: removed })
        })))
  }))
