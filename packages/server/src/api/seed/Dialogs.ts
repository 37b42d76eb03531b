/**
 * Dialogs (chat assistants): `/api/v1/dialogs/set|get|list|rm`, over `Dialogs`.
 *
 * `set` creates a dialog when the request has no `dialog_id` (absent, null or empty, as RAGFlow's
 * `set_dialog`) and updates that dialog otherwise (absent fields keep their value). Results are
 * core's dialog with `kb_names` (the names of its knowledge bases that are still readable, in
 * `kb_ids` order); `list` gives every dialog of the tenant, newest first, without paging. A
 * dialog-scoped key reads only its own dialog (`get`, `list`) and may not change dialogs (403).
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint } from "@effect/platform"
import { type Caller, Dialog, Dialogs } from "@ragkit/core"
import { Effect, Schema } from "effect"
import { Authentication, ChatAuthentication } from "../Auth.js"
import { Ok, ok } from "../Envelope.js"
import * as Errors from "../Errors.js"
import * as Group from "../Group.js"

/** A dialog as the seed shows it: core's record with the names of its knowledge bases. */
export const DialogView = Schema.Struct({ ...Dialog.fields, kb_names: Schema.Array(Schema.String) })

/** What `set` takes besides `dialog_id`: checked by core, which names a bad field. */
const settings = Group.loose(
  "name",
  "description",
  "icon",
  "language",
  "llm_id",
  "llm_setting",
  "prompt_config",
  "meta_data_filter",
  "top_n",
  "top_k",
  "rerank_id",
  "similarity_threshold",
  "vector_similarity_weight",
  "kb_ids",
  "do_refer"
)

export const group = Group.make("dialogs")
  .add(
    HttpApiEndpoint.post("set", "/api/v1/dialogs/set")
      .setPayload(Schema.Struct({ ...Group.loose("dialog_id"), ...settings }))
      .addSuccess(Ok(DialogView))
      .middleware(Authentication)
  )
  .add(
    HttpApiEndpoint.get("get", "/api/v1/dialogs/get")
      .setUrlParams(Schema.Struct({ dialog_id: Schema.optional(Schema.String) }))
      .addSuccess(Ok(DialogView))
      .middleware(ChatAuthentication)
  )
  .add(
    HttpApiEndpoint.get("list", "/api/v1/dialogs/list")
      .addSuccess(Ok(Schema.Array(DialogView)))
      .middleware(ChatAuthentication)
  )
  .add(
    HttpApiEndpoint.post("rm", "/api/v1/dialogs/rm")
      .setPayload(Schema.Struct(Group.loose("dialog_ids")))
      .addSuccess(Ok(Schema.Boolean))
      .middleware(Authentication)
  )

const Api = HttpApi.make("ragkit").add(group)

export const live = HttpApiBuilder.group(Api, "dialogs", (handlers) =>
  Effect.gen(function* () {
    const dialogs = yield* Dialogs.Dialogs

    /** The dialog with its knowledge bases' names. */
    const view = (caller: Caller, dialog: Dialog) =>
      Effect.map(dialogs.knowledgeBaseNames(caller, { dialog_id: dialog.id }), (kb_names) => ({ ...dialog, kb_names }))

    return handlers
      .handle("set", ({ payload }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const { dialog_id, ...fields } = payload
          const dialog = dialog_id === undefined || dialog_id === null || dialog_id === ""
            ? yield* Errors.respond(dialogs.create(caller, yield* Group.decode(Dialogs.CreateRequest, fields)))
            : yield* Errors.respond(dialogs.update(caller, yield* Group.decode(Dialogs.UpdateRequest, { dialog_id, ...fields })))
          return ok(yield* Errors.respond(view(caller, dialog)))
        }))
      .handle("get", ({ urlParams }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const request = yield* Group.decode(Dialogs.DialogRequest, { dialog_id: urlParams.dialog_id })
          return ok(yield* Errors.respond(Effect.flatMap(dialogs.get(caller, request), (d) => view(caller, d))))
        }))
      .handle("list", () =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const request = yield* Group.decode(Dialogs.ListRequest, { all: true, orderby: "create_time", desc: true })
          const page = yield* Errors.respond(dialogs.list(caller, request))
          return ok(yield* Errors.respond(Effect.forEach(page.items, (d) => view(caller, d))))
        }))
      .handle("rm", ({ payload }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const request = yield* Group.decode(Dialogs.RemoveRequest, { dialog_ids: payload.dialog_ids })
          yield* Errors.respond(dialogs.remove(caller, request))
          return ok(true)
        }))
  }))
