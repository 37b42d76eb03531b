/**
 * Chats (REST): RAGFlow's chat assistants at `/api/v1/chats`, over `Dialogs` (a chat is a dialog;
 * `dataset_ids` are its `kb_ids`). Answers carry `message: "success"` (RAGFlow's `get_json_result`).
 *
 * - `POST /chats`: `name` (required, unique among the tenant's chats), `icon` (or `avatar`),
 *   `dataset_ids`, `llm_id` (absent or null: the tenant's default chat model), `llm_setting`,
 *   `prompt_config`, `top_n` (6), `top_k` (1024), `similarity_threshold` (0.1),
 *   `vector_similarity_weight` (0.3), `rerank_id`, `description` ("A helpful Assistant").
 * - `GET /chats`: `page`, `page_size`, `orderby` (create_time, update_time, name), `desc`, `id`, `name`,
 *   `keywords` -> `{ chats, total }`; `GET /chats/{id}`.
 * - `PUT` and `PATCH /chats/{id}`: the given fields; `llm_setting` and `prompt_config` are merged
 *   over the current ones (core's update, for both methods).
 * - `DELETE /chats` (`{ ids }`, or `{ delete_all: true }`) -> `{ success_count }`, all or nothing;
 *   `DELETE /chats/{id}` -> `true`.
 *
 * RAGFlow's checks and messages, code 102: `` `name` is required ``, `chat name must be a string`,
 * `duplicated chat name in creating chat` / `duplicated chat name`, `` `dataset_ids` should be a list. ``,
 * `You don't own the dataset X`, `` `llm_id` X doesn't exist ``, `` `rerank_id` X doesn't exist ``,
 * `` `prompt_config` should be an object. ``, `` `tenant_id` must not be provided ``. Other fields are
 * checked by core (code 101 naming the field). A chat that is not the caller's (another tenant's,
 * or none) is code 109 `no authorization`, as RAGFlow answers.
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint } from "@effect/platform"
import { type Caller, Dialog, Dialogs, KnowledgeBaseId, Models } from "@ragkit/core"
import { Effect, Schema } from "effect"
import * as Group from "../Group.js"
import * as Rest from "./Rest.js"
import { Authentication } from "./RestAuth.js"

const { kb_ids: _kbIds, ...dialogFields } = Dialog.fields

/** A chat as RAGFlow shows it: the dialog with `dataset_ids` for `kb_ids`, and the datasets' names. */
export const ChatView = Schema.Struct({
  ...dialogFields,
  dataset_ids: Schema.Array(KnowledgeBaseId),
  kb_names: Schema.Array(Schema.String)
}).annotations({ identifier: "RagflowChat" })

/** RAGFlow's answer for a chat the caller does not own (or that does not exist). */
export const noAuthorization = Rest.fail(Rest.Codes.authentication, "no authorization")

/** The caller's chat `chatId`; anything else is RAGFlow's `no authorization` (109). */
export const ownChat = (dialogs: Dialogs.DialogsService, caller: Caller, chatId: string) =>
  Rest.decode(Dialogs.DialogRequest, { dialog_id: chatId }).pipe(
    Effect.flatMap((request) => dialogs.get(caller, request)),
    Effect.catchTags({ RestFailure: () => noAuthorization, NotFound: () => noAuthorization })
  )

const settingKeys = [
  "name",
  "icon",
  "avatar",
  "description",
  "language",
  "dataset_ids",
  "llm_id",
  "llm_setting",
  "prompt_config",
  "top_n",
  "top_k",
  "similarity_threshold",
  "vector_similarity_weight",
  "rerank_id",
  "meta_data_filter",
  "tenant_id"
] as const
const Settings = Schema.Struct(Group.loose(...settingKeys))
type Settings = typeof Settings.Type

const ChatPath = Schema.Struct({ chat_id: Schema.String })

/** A list's query parameters (RAGFlow's paging and filters, and `more`), each an optional string read as RAGFlow reads it. */
export const listParams = <const K extends string>(...more: ReadonlyArray<K>) =>
  Schema.Struct(
    Object.fromEntries(["page", "page_size", "orderby", "desc", "id", "name", ...more].map((k) => [k, Schema.optional(Schema.String)])) as {
      readonly [P in "page" | "page_size" | "orderby" | "desc" | "id" | "name" | K]: Schema.optional<typeof Schema.String>
    }
  )

export const group = Rest.group("restChats")
  .add(HttpApiEndpoint.post("createChat", "/api/v1/chats").setPayload(Settings).addSuccess(Rest.Reply(Rest.Ok(ChatView))))
  .add(
    HttpApiEndpoint.get("listChats", "/api/v1/chats")
      .setUrlParams(listParams("keywords"))
      .addSuccess(Rest.Reply(Rest.Ok(Schema.Struct({ chats: Schema.Array(ChatView), total: Schema.Number }))))
  )
  .add(HttpApiEndpoint.get("getChat", "/api/v1/chats/:chat_id").setPath(ChatPath).addSuccess(Rest.Reply(Rest.Ok(ChatView))))
  .add(
    HttpApiEndpoint.put("updateChat", "/api/v1/chats/:chat_id").setPath(ChatPath).setPayload(Settings).addSuccess(Rest.Reply(Rest.Ok(ChatView)))
  )
  .add(
    HttpApiEndpoint.patch("patchChat", "/api/v1/chats/:chat_id").setPath(ChatPath).setPayload(Settings).addSuccess(Rest.Reply(Rest.Ok(ChatView)))
  )
  .add(HttpApiEndpoint.del("deleteChat", "/api/v1/chats/:chat_id").setPath(ChatPath).addSuccess(Rest.Reply(Rest.Ok(Schema.Boolean))))
  .add(
    HttpApiEndpoint.del("deleteChats", "/api/v1/chats")
      .setPayload(Schema.Struct(Group.loose("ids", "delete_all")))
      .addSuccess(Rest.Reply(Rest.Ok(Schema.Struct({ success_count: Schema.optional(Schema.Number) }))))
  )
  .middleware(Authentication)

const Api = HttpApi.make("ragkit").add(group)

/** RAGFlow's `_validate_name`: the trimmed name, or its message. */
const checkName = (name: unknown, required: boolean): Effect.Effect<string | undefined, Rest.RestFailure> => {
  if (name === undefined || name === null) return required ? Rest.data("`name` is required") : Effect.succeed(undefined)
  if (typeof name !== "string") return Rest.data("chat name must be a string")
  const trimmed = name.trim()
  if (trimmed === "") return Rest.data(required ? "`name` is required" : "`name` cannot be empty")
  const bytes = Buffer.byteLength(trimmed, "utf8")
  if (bytes > 255) return Rest.data(`chat name length is ${bytes} which is larger than 255`)
  return Effect.succeed(trimmed)
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

/** A query string's positive integer, or undefined (RAGFlow falls back to the default). */
const positive = (text: string | undefined): number | undefined => {
  const n = Rest.queryNumber(text)
  return typeof n === "number" && Number.isInteger(n) && n > 0 ? n : undefined
}

/** RAGFlow's `orderby` check: `invalid orderby field: X` (101). */
export const checkOrderby = (orderby: string | undefined) =>
  orderby === undefined || orderby === "create_time" || orderby === "update_time" || orderby === "name"
    ? Effect.succeed(orderby)
    : Rest.argument(`invalid orderby field: ${orderby}`)

/** Core's paging of a REST list: RAGFlow's query parameters, bad numbers falling back to the defaults. */
export const listQuery = (q: { page?: string | undefined; page_size?: string | undefined; orderby?: string | undefined; desc?: string | undefined }) =>
  Effect.map(checkOrderby(q.orderby), (orderby) => ({
    page: positive(q.page),
    page_size: positive(q.page_size),
    orderby,
    desc: q.desc === undefined ? undefined : q.desc.toLowerCase() !== "false"
  }))

export const live = HttpApiBuilder.group(Api, "restChats", (handlers) =>
  Effect.gen(function* () {
    const dialogs = yield* Dialogs.Dialogs
    const models = yield* Models.Models

    const view = (caller: Caller, dialog: Dialog) =>
      Effect.map(dialogs.knowledgeBaseNames(caller, { dialog_id: dialog.id }), (kb_names) => {
        const { kb_ids, ...rest } = dialog
        return { ...rest, dataset_ids: kb_ids, kb_names }
      })

    /** A model reference: null clears it (the default); another name must exist as a model of `type`. */
    const modelRef = (caller: Caller, field: "llm_id" | "rerank_id", value: unknown, type: "chat" | "rerank") =>
      Effect.gen(function* () {
        if (value === undefined) return undefined
        if (value === null || value === "") return ""
        if (typeof value !== "string") return yield* Rest.data(`\`${field}\` must be a string`)
        yield* models.checkModel(caller, value, type).pipe(
          Effect.catchTag("ModelError", () => Rest.data(`\`${field}\` ${value} doesn't exist`))
        )
        return value
      })

    /** Whether another of the tenant's chats has this name. */
    const nameTaken = (caller: Caller, name: string) =>
      Effect.map(dialogs.list(caller, { name, page: 1, page_size: 1, orderby: "create_time", desc: true, all: false }), (page) => page.total > 0)

    /** RAGFlow's checks of a chat's settings, then the fields of core's request (absent ones left out). */
    const fieldsOf = (caller: Caller, p: Settings, name: string | undefined) =>
      Effect.gen(function* () {
        let kb_ids: unknown = undefined
        if (p.dataset_ids !== undefined) {
          if (p.dataset_ids === null) kb_ids = []
          else if (!Array.isArray(p.dataset_ids)) return yield* Rest.data("`dataset_ids` should be a list.")
          else kb_ids = p.dataset_ids.filter((id) => id !== "" && id !== null)
        }
        const llm_id = yield* modelRef(caller, "llm_id", p.llm_id, "chat")
        const rerank_id = yield* modelRef(caller, "rerank_id", p.rerank_id, "rerank")
        if (p.llm_setting !== undefined && !isObject(p.llm_setting)) return yield* Rest.data("`llm_setting` should be an object.")
        if (p.prompt_config !== undefined) {
          if (!isObject(p.prompt_config)) return yield* Rest.data("`prompt_config` should be an object.")
          const parameters = p.prompt_config.parameters
          if (Array.isArray(parameters)) {
            const seen = new Set<unknown>()
            for (const parameter of parameters) {
              const key = isObject(parameter) ? parameter.key : undefined
              if (key === undefined || key === null) continue
              if (seen.has(key)) return yield* Rest.data(`\`parameters\` contains duplicate key: ${String(key)}`)
              seen.add(key)
            }
          }
        }
        return Rest.defined({
          name,
          icon: p.icon ?? p.avatar,
          description: p.description,
          language: p.language,
          kb_ids,
          llm_id,
          llm_setting: p.llm_setting,
          prompt_config: p.prompt_config,
          top_n: p.top_n,
          top_k: p.top_k,
          similarity_threshold: p.similarity_threshold,
          vector_similarity_weight: p.vector_similarity_weight,
          rerank_id,
          meta_data_filter: p.meta_data_filter
        })
      })

    /** Core's failures in RAGFlow's words: a dataset the caller can't read, `kb_ids` named `dataset_ids`. */
    const inRagflowTerms = <A, R>(self: Effect.Effect<A, unknown, R>) =>
      self.pipe(
        Effect.catchIf(
          (e): e is { _tag: "NotFound"; entity: string; id: string } =>
            typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "NotFound" && (e as { entity?: unknown }).entity === "KnowledgeBase",
          (e) => Rest.data(`You don't own the dataset ${e.id}`)
        ),
        Effect.mapError((e) =>
          e instanceof Rest.RestFailure ? new Rest.RestFailure({ code: e.code, message: e.message.replace(/\bkb_ids\b/g, "dataset_ids") }) : e
        )
      )

    const update = (chatId: string, payload: Settings, patch: boolean) =>
      Rest.respond(inRagflowTerms(Effect.gen(function* () {
        const caller = yield* Rest.caller
        const current = yield* ownChat(dialogs, caller, chatId)
        if (payload.tenant_id !== undefined && payload.tenant_id !== null && payload.tenant_id !== "" && !patch) {
          return yield* Rest.data("`tenant_id` must not be provided")
        }
        const name = payload.name === undefined ? undefined : yield* checkName(payload.name, !patch)
        const fields = yield* fieldsOf(caller, payload, name)
        if (name !== undefined && name.toLowerCase() !== current.name.toLowerCase() && (yield* nameTaken(caller, name))) {
          return yield* Rest.data("duplicated chat name")
        }
        const request = yield* Rest.decode(Dialogs.UpdateRequest, { dialog_id: current.id, ...fields })
        return Rest.okWithMessage(yield* view(caller, yield* dialogs.update(caller, request)))
      })))

    return handlers
      .handle("createChat", ({ payload }) =>
        Rest.respond(inRagflowTerms(Effect.gen(function* () {
          const caller = yield* Rest.caller
          if (payload.tenant_id !== undefined && payload.tenant_id !== null && payload.tenant_id !== "") {
            return yield* Rest.data("`tenant_id` must not be provided")
          }
          const name = yield* checkName(payload.name, true)
          const fields = yield* fieldsOf(caller, payload, name)
          if (yield* nameTaken(caller, name!)) return yield* Rest.data("duplicated chat name in creating chat")
          const request = yield* Rest.decode(Dialogs.CreateRequest, { description: "A helpful Assistant", ...fields })
          return Rest.okWithMessage(yield* view(caller, yield* dialogs.create(caller, request)))
        }))))
      .handle("listChats", ({ urlParams: q }) =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          const paging = yield* listQuery(q)
          const exact = q.id !== undefined || q.name !== undefined
          const request = yield* Rest.decode(Dialogs.ListRequest, {
            ...paging,
            id: q.id,
            name: q.name,
            keywords: exact ? undefined : q.keywords
          })
          const page = yield* dialogs.list(caller, request)
          const chats = yield* Effect.forEach(page.items, (d) => view(caller, d))
          return Rest.okWithMessage({ chats, total: page.total })
        })))
      .handle("getChat", ({ path }) =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          return Rest.okWithMessage(yield* view(caller, yield* ownChat(dialogs, caller, path.chat_id)))
        })))
      .handle("updateChat", ({ path, payload }) => update(path.chat_id, payload, false))
      .handle("patchChat", ({ path, payload }) => update(path.chat_id, payload, true))
      .handle("deleteChat", ({ path }) =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          const chat = yield* ownChat(dialogs, caller, path.chat_id)
          yield* dialogs.remove(caller, { dialog_ids: [chat.id] })
          return Rest.okWithMessage(true)
        })))
      .handle("deleteChats", ({ payload }) =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          let ids: unknown = payload.ids
          if (ids === undefined || ids === null || (Array.isArray(ids) && ids.length === 0)) {
            if (payload.delete_all !== true) return Rest.okWithMessage({})
            const all = yield* dialogs.list(caller, { page: 1, page_size: 1, orderby: "create_time", desc: true, all: true })
            ids = all.items.map((d) => d.id)
            if ((ids as Array<string>).length === 0) return Rest.okWithMessage({})
          }
          const unique = Array.isArray(ids) ? [...new Set(ids)] : ids
          const request = yield* Rest.decode(Dialogs.RemoveRequest, { dialog_ids: unique }).pipe(
            Effect.mapError((e) => new Rest.RestFailure({ code: e.code, message: e.message.replace(/^dialog_ids/, "ids") }))
          )
          const removed = yield* dialogs.remove(caller, request).pipe(
            Effect.catchTag("NotFound", (e) => Rest.data(`Chat(${e.id}) not found.`))
          )
          return Rest.okWithMessage({ success_count: removed })
        })))
  }))
