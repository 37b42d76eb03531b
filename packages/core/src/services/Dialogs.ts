/**
 * Dialogs: chat assistants (RAGFlow's dialogs, the REST API's chats). A dialog holds its knowledge
 * bases, its prompt config, the LLM id and settings, and the retrieval settings a completion uses.
 *
 * A caller reads and changes only its own tenant's dialogs; another tenant's dialog is reported as
 * not found, and so is every dialog but its own for a dialog-scoped caller (`Caller.dialogId`).
 * Names need not be unique. Deleting a dialog deletes its conversations.
 *
 * A dialog whose `llm_id` is empty answers with the tenant's default chat model at the time it
 * answers; results show that model in `llm_id` (resolved when read, never stored, so the dialog
 * follows a change of the default). Sending it back in an update stores it.
 */
import { Context, Effect, Layer, Option, Schema } from "effect"
import type { Caller } from "../domain/Caller.js"
import { Forbidden, invalid, notFound, type InvalidInput, type NotFound, type StoreError } from "../domain/Errors.js"
import * as Fields from "../domain/Fields.js"
import { DialogId, KnowledgeBaseId, randomHex32 } from "../domain/Ids.js"
import { Dialog, type JsonObject } from "../domain/Records.js"
import { newStamps, touched } from "../domain/Time.js"
import { RecordStore, type Condition } from "../ports/RecordStore.js"
import { canRead, inDialogScope, ownRecord, readableKnowledgeBase, teamTenants } from "./internal/access.js"

/** RAGFlow's default system prompt (its REST API's wording, kept to the character). */
export const DEFAULT_SYSTEM_PROMPT =
  "You are an intelligent assistant. Please summarize the content of the dataset to answer the question. " +
  "Please list the data in the dataset and answer in detail. When all dataset content is irrelevant to the " +
  'question, your answer must include the sentence "The answer you are looking for is not found in the dataset!" ' +
  "Answers need to consider chat history.\n      Here is the knowledge base:\n      {knowledge}\n      The above is the knowledge base."

// ---------------------------------------------------------------------------------------------
// Requests and results

/** The generation settings with limits; `null` unsets a key (on update). */
const llmSettingFields = {
  temperature: Schema.optional(Schema.NullOr(Fields.NumberIn(0, 2))),
  top_p: Schema.optional(Schema.NullOr(Fields.UnitInterval)),
  presence_penalty: Schema.optional(Schema.NullOr(Fields.NumberIn(-2, 2))),
  frequency_penalty: Schema.optional(Schema.NullOr(Fields.NumberIn(-2, 2))),
  max_tokens: Schema.optional(Schema.NullOr(Fields.IntIn(1, Number.MAX_SAFE_INTEGER)))
}

/** Generation settings: the known keys are checked, other keys are kept as given. */
export const LlmSetting = Fields.JsonObjectWith(llmSettingFields)
export type LlmSetting = typeof LlmSetting.Type

/** A variable of the system prompt, `{key}` in its text; one that is not optional must appear there. */
export const PromptParameter = Fields.JsonObjectWith({
  key: Fields.Name(128),
  optional: Schema.optionalWith(Fields.Boolean, { default: () => false })
})
export type PromptParameter = typeof PromptParameter.Type

const PromptText = Fields.Text(65_535)

/** The prompt config: the known keys are checked, other keys are kept as given. */
export const PromptConfig = Fields.JsonObjectWith({
  /** On create, empty means the default system prompt. */
  system: Schema.optional(PromptText),
  /** The assistant's first message in a new conversation; empty for none. */
  prologue: Schema.optional(PromptText),
  /** The answer when retrieval finds nothing; empty lets the model answer anyway. */
  empty_response: Schema.optional(PromptText),
  parameters: Schema.optional(Fields.List(PromptParameter)),
  quote: Schema.optional(Fields.Boolean),
  keyword: Schema.optional(Fields.Boolean),
  refine_multiturn: Schema.optional(Fields.Boolean),
  tts: Schema.optional(Fields.Boolean)
})
export type PromptConfig = typeof PromptConfig.Type

/** The prompt config a dialog starts from; given keys replace these, unknown keys are kept. */
export const defaultPromptConfig = (): PromptConfig => ({
  system: DEFAULT_SYSTEM_PROMPT,
  prologue: "Hi! I'm your assistant. What can I do for you?",
  parameters: [{ key: "knowledge", optional: false }],
  empty_response: "Sorry! No relevant content was found in the knowledge base!",
  quote: true,
  keyword: false,
  refine_multiturn: false,
  tts: false
})

/** The settings a dialog is created with and updated by. */
const settings = {
  description: Fields.Text(65_535),
  /** A data URL (a base64 image), as RAGFlow keeps icons. */
  icon: Fields.Text(2_000_000),
  language: Fields.Name(32),
  /** `name@provider` of the chat model; empty means the tenant's default (results show which). */
  llm_id: Fields.Trimmed(255),
  /** Chunks fed to the model. */
  top_n: Fields.IntIn(0, 1000),
  /** Vector candidates. */
  top_k: Fields.IntIn(1, 10_000),
  similarity_threshold: Fields.UnitInterval,
  vector_similarity_weight: Fields.UnitInterval,
  /** Reranker `name@provider`, empty for none. */
  rerank_id: Fields.Trimmed(255),
  meta_data_filter: Fields.JsonObject,
  /** Knowledge bases the caller may read, all with the same embedding model. */
  kb_ids: Fields.IdList(KnowledgeBaseId),
  /** Whether answers show their quotations (`"1"`) or not (`"0"`). */
  do_refer: Fields.OneOf("0", "1")
}

export const CreateRequest = Schema.Struct({
  /** Need not be unique. */
  name: Fields.Name(255),
  description: Schema.optionalWith(settings.description, { default: () => "" }),
  icon: Schema.optionalWith(settings.icon, { default: () => "" }),
  language: Schema.optionalWith(settings.language, { default: () => "English" }),
  llm_id: Schema.optionalWith(settings.llm_id, { default: () => "" }),
  llm_setting: Schema.optional(LlmSetting),
  /** Merged over `defaultPromptConfig()`. */
  prompt_config: Schema.optional(PromptConfig),
  top_n: Schema.optionalWith(settings.top_n, { default: () => 6 }),
  top_k: Schema.optionalWith(settings.top_k, { default: () => 1024 }),
  similarity_threshold: Schema.optionalWith(settings.similarity_threshold, { default: () => 0.1 }),
  vector_similarity_weight: Schema.optionalWith(settings.vector_similarity_weight, { default: () => 0.3 }),
  rerank_id: Schema.optionalWith(settings.rerank_id, { default: () => "" }),
  meta_data_filter: Schema.optionalWith(settings.meta_data_filter, { default: () => ({}) }),
  kb_ids: Schema.optionalWith(settings.kb_ids, { default: () => [] }),
  do_refer: Schema.optionalWith(settings.do_refer, { default: () => "1" as const })
})
export type CreateRequest = typeof CreateRequest.Type

/** Absent fields keep their value; `llm_setting` and `prompt_config` are merged over the current ones. */
export const UpdateRequest = Schema.Struct({
  dialog_id: DialogId,
  name: Schema.optional(Fields.Name(255)),
  description: Schema.optional(settings.description),
  icon: Schema.optional(settings.icon),
  language: Schema.optional(settings.language),
  llm_id: Schema.optional(settings.llm_id),
  llm_setting: Schema.optional(LlmSetting),
  prompt_config: Schema.optional(PromptConfig),
  top_n: Schema.optional(settings.top_n),
  top_k: Schema.optional(settings.top_k),
  similarity_threshold: Schema.optional(settings.similarity_threshold),
  vector_similarity_weight: Schema.optional(settings.vector_similarity_weight),
  rerank_id: Schema.optional(settings.rerank_id),
  meta_data_filter: Schema.optional(settings.meta_data_filter),
  /** May be emptied (RAGFlow's dialogs/set allows it). */
  kb_ids: Schema.optional(settings.kb_ids),
  do_refer: Schema.optional(settings.do_refer)
})
export type UpdateRequest = typeof UpdateRequest.Type

/** One dialog of the caller's tenant. */
export const DialogRequest = Schema.Struct({ dialog_id: DialogId })
export type DialogRequest = typeof DialogRequest.Type

export const ListRequest = Schema.Struct({
  ...Fields.paging(),
  /** `name` orders by the name as stored (RAGFlow's REST lists offer it). */
  ...Fields.ordering("create_time", "update_time", "name"),
  /** Case-insensitive substring of the name. */
  keywords: Schema.optional(Fields.Text(255)),
  id: Schema.optional(DialogId),
  /** Exact name. */
  name: Schema.optional(Fields.Text(255)),
  /**
   * Every matching dialog in one page, `page` and `page_size` ignored: the seed's `dialogs/list`
   * has no paging and lists them all. Default false.
   */
  all: Schema.optionalWith(Fields.Boolean, { default: () => false })
})
export type ListRequest = typeof ListRequest.Type

export const ListResult = Fields.Page(Dialog)
export type ListResult = typeof ListResult.Type

export const RemoveRequest = Schema.Struct({ dialog_ids: Fields.IdList(DialogId) })
export type RemoveRequest = typeof RemoveRequest.Type

/** How many dialogs were deleted. */
export const RemoveResult = Fields.Count

/** Names of the dialog's knowledge bases, in `kb_ids` order. */
export const KnowledgeBaseNamesResult = Schema.Array(Schema.String)

/** Each method's request and result, for the surfaces that decode what callers send. */
export const Operations = {
  create: Fields.operation(CreateRequest, Dialog),
  update: Fields.operation(UpdateRequest, Dialog),
  get: Fields.operation(DialogRequest, Dialog),
  list: Fields.operation(ListRequest, ListResult),
  remove: Fields.operation(RemoveRequest, RemoveResult),
  knowledgeBaseNames: Fields.operation(DialogRequest, KnowledgeBaseNamesResult)
}

// ---------------------------------------------------------------------------------------------
// The service

export type DialogError = InvalidInput | NotFound | StoreError

export interface DialogsService {
  /** `Forbidden` for a dialog-scoped caller (`Caller.dialogId`): it reaches its one dialog only. */
  readonly create: (caller: Caller, request: CreateRequest) => Effect.Effect<Dialog, DialogError | Forbidden>
  readonly update: (caller: Caller, request: UpdateRequest) => Effect.Effect<Dialog, DialogError>
  readonly get: (caller: Caller, request: DialogRequest) => Effect.Effect<Dialog, NotFound | StoreError>
  readonly list: (caller: Caller, request: ListRequest) => Effect.Effect<ListResult, StoreError>
  /** Deletes the dialogs and their conversations; all ids must be the caller's, else nothing is deleted. */
  readonly remove: (caller: Caller, request: RemoveRequest) => Effect.Effect<number, NotFound | StoreError>
  /** Names of the dialog's knowledge bases in `kb_ids` order, skipping ones gone or no longer readable. */
  readonly knowledgeBaseNames: (
    caller: Caller,
    request: DialogRequest
  ) => Effect.Effect<ReadonlyArray<string>, NotFound | StoreError>
}

export class Dialogs extends Context.Tag("@ragkit/core/Dialogs")<Dialogs, DialogsService>() {}

/** `current` with `changes` merged over it; a known key set to null is removed. */
const mergeLlmSetting = (current: JsonObject, changes: LlmSetting | undefined): JsonObject => {
  if (changes === undefined) return current
  const merged: Record<string, unknown> = { ...current, ...changes }
  for (const key of Object.keys(llmSettingFields)) {
    if (merged[key] === null || merged[key] === undefined) delete merged[key]
  }
  return merged
}

/**
 * `current` with `changes` merged over it. The system prompt must use every required parameter
 * (`{key}`), and a system prompt with `{knowledge}` needs the `knowledge` parameter. On create an
 * empty system prompt falls back to the default, as RAGFlow does.
 */
const mergePromptConfig = (
  current: PromptConfig,
  changes: PromptConfig | undefined,
  creating: boolean
): Effect.Effect<PromptConfig, InvalidInput> => {
  const merged = { ...current, ...changes }
  const system = creating && (merged.system === undefined || merged.system === "") ? DEFAULT_SYSTEM_PROMPT : (merged.system ?? "")
  const parameters = merged.parameters ?? []
  if (system.includes("{knowledge}") && !parameters.some((p) => p.key === "knowledge")) {
    return Effect.fail(invalid("prompt_config", "Parameter 'knowledge' must be declared when the system prompt uses {knowledge}"))
  }
  const unused = parameters.find((p) => p.optional !== true && !system.includes(`{${p.key}}`))
  if (unused !== undefined) return Effect.fail(invalid("prompt_config", `Parameter '${unused.key}' is not used`))
  return Effect.succeed(creating ? { ...merged, system, parameters } : { ...merged, parameters })
}

export const make = Effect.gen(function* () {
  const store = yield* RecordStore

  /** Every kb must be readable by the caller and all must share one embedding model. */
  const knowledgeBases = (caller: Caller, ids: ReadonlyArray<KnowledgeBaseId>) =>
    Effect.gen(function* () {
      const kbs = yield* Effect.forEach(ids, (id) => readableKnowledgeBase(store, caller, id))
      const models = [...new Set(kbs.map((kb) => kb.embedding_model))]
      if (models.length > 1) {
        return yield* Effect.fail(invalid("kb_ids", `Datasets use different embedding models: ${models.join(", ")}`))
      }
      return ids
    })

  /** The dialogs as results show them: an empty `llm_id` is the tenant's default chat model. */
  const shown = <D extends ReadonlyArray<Dialog>>(caller: Caller, dialogs: D) =>
    Effect.gen(function* () {
      if (!dialogs.some((d) => d.llm_id === "")) return dialogs
      const tenant = yield* store.tenants.get(caller.tenantId)
      const llm_id = Option.match(tenant, { onNone: () => "", onSome: (t) => t.llm_id })
      if (llm_id === "") return dialogs
      return dialogs.map((d) => (d.llm_id === "" ? new Dialog({ ...d, llm_id }, true) : d))
    })
  const shownOne = (caller: Caller, dialog: Dialog) => Effect.map(shown(caller, [dialog]), (ds) => ds[0]!)

  /** A valid dialog of the caller's tenant. */
  const own = (caller: Caller, id: DialogId) =>
    Effect.flatMap(ownRecord(store.dialogs, "Dialog", caller, id), (dialog) =>
      dialog.status === "1" ? Effect.succeed(dialog) : Effect.fail(notFound("Dialog", id))
    )

  /** `current` with the request's fields over it. */
  const updated = (caller: Caller, current: Dialog, request: UpdateRequest) =>
    Effect.gen(function* () {
      return {
        name: request.name ?? current.name,
        description: request.description ?? current.description,
        icon: request.icon ?? current.icon,
        language: request.language ?? current.language,
        llm_id: request.llm_id ?? current.llm_id,
        llm_setting: mergeLlmSetting(current.llm_setting, request.llm_setting),
        // Stored prompt configs were decoded when written.
        prompt_config: yield* mergePromptConfig(current.prompt_config as PromptConfig, request.prompt_config, false),
        meta_data_filter: request.meta_data_filter ?? current.meta_data_filter,
        kb_ids: request.kb_ids === undefined ? current.kb_ids : yield* knowledgeBases(caller, request.kb_ids),
        top_n: request.top_n ?? current.top_n,
        top_k: request.top_k ?? current.top_k,
        rerank_id: request.rerank_id ?? current.rerank_id,
        similarity_threshold: request.similarity_threshold ?? current.similarity_threshold,
        vector_similarity_weight: request.vector_similarity_weight ?? current.vector_similarity_weight,
        do_refer: request.do_refer ?? current.do_refer
      }
    })

  const create = Effect.fn("Dialogs.create")(function* (caller: Caller, request: CreateRequest) {
    if (caller.dialogId !== undefined) {
      return yield* Effect.fail(new Forbidden({ message: "a key made for one dialog can't create dialogs" }))
    }
    const prompt_config = yield* mergePromptConfig(defaultPromptConfig(), request.prompt_config, true)
    const kb_ids = yield* knowledgeBases(caller, request.kb_ids)
    const dialog = new Dialog({
      id: randomHex32() as DialogId,
      tenant_id: caller.tenantId,
      name: request.name,
      description: request.description,
      icon: request.icon,
      language: request.language,
      llm_id: request.llm_id,
      llm_setting: mergeLlmSetting({}, request.llm_setting),
      prompt_type: "simple",
      prompt_config,
      meta_data_filter: request.meta_data_filter,
      kb_ids,
      top_n: request.top_n,
      top_k: request.top_k,
      rerank_id: request.rerank_id,
      similarity_threshold: request.similarity_threshold,
      vector_similarity_weight: request.vector_similarity_weight,
      do_refer: request.do_refer,
      status: "1",
      ...(yield* newStamps)
    })
    return yield* shownOne(caller, yield* store.dialogs.insert(dialog))
  })

  const update = Effect.fn("Dialogs.update")(function* (caller: Caller, request: UpdateRequest) {
    const id = request.dialog_id
    const stamps = yield* touched
    const next = yield* store.dialogs.modify(id, (current) =>
      current.tenant_id === caller.tenantId && current.status === "1" && inDialogScope(caller, "Dialog", current)
        ? Effect.map(updated(caller, current, request), (fields) => new Dialog({ ...current, ...fields, ...stamps }))
        : Effect.fail(notFound("Dialog", id))
    )
    const dialog = yield* Option.match(next, { onNone: () => Effect.fail(notFound("Dialog", id)), onSome: Effect.succeed })
    return yield* shownOne(caller, dialog)
  })

  const get = Effect.fn("Dialogs.get")(function* (caller: Caller, request: DialogRequest) {
    return yield* shownOne(caller, yield* own(caller, request.dialog_id))
  })

  const list = Effect.fn("Dialogs.list")(function* (caller: Caller, request: ListRequest) {
    const where: Record<string, Condition> = { tenant_id: caller.tenantId, status: "1" }
    const ids = [request.id, caller.dialogId].filter((id) => id !== undefined)
    // Asking for one dialog outside the caller's scope finds nothing.
    if (ids.length > 0) where.id = ids.every((id) => id === ids[0]) ? ids[0]! : { in: [] }
    if (request.name !== undefined) where.name = request.name
    const keywords = request.keywords?.trim() ?? ""
    const page = yield* store.dialogs.find({
      where,
      ...(keywords === "" ? {} : { search: { fields: ["name"], text: keywords } }),
      orderBy: request.orderby,
      desc: request.desc,
      ...(request.all ? {} : { offset: (request.page - 1) * request.page_size, limit: request.page_size })
    })
    return { items: yield* shown(caller, page.items), total: page.total }
  })

  const remove = Effect.fn("Dialogs.remove")(function* (caller: Caller, request: RemoveRequest) {
    const ids = request.dialog_ids
    if (ids.length === 0) return 0
    return yield* store.transaction(
      Effect.gen(function* () {
        const found = yield* store.dialogs.getMany(ids)
        const mine = new Set(
          found.filter((d) => d.tenant_id === caller.tenantId && d.status === "1" && inDialogScope(caller, "Dialog", d)).map((d) => d.id)
        )
        const missing = ids.find((id) => !mine.has(id))
        if (missing !== undefined) return yield* Effect.fail(notFound("Dialog", missing))
        yield* store.conversations.removeWhere({ dialog_id: { in: [...ids] } })
        return yield* store.dialogs.remove(ids)
      })
    )
  })

  const knowledgeBaseNames = Effect.fn("Dialogs.knowledgeBaseNames")(function* (caller: Caller, request: DialogRequest) {
    const dialog = yield* own(caller, request.dialog_id)
    if (dialog.kb_ids.length === 0) return []
    const kbs = yield* store.knowledgeBases.getMany(dialog.kb_ids)
    const teams = kbs.some((kb) => kb.tenant_id !== caller.tenantId) ? yield* teamTenants(store, caller) : []
    const byId = new Map(kbs.filter((kb) => canRead(caller, kb, teams)).map((kb) => [kb.id as string, kb.name]))
    return dialog.kb_ids.flatMap((id) => {
      const name = byId.get(id)
      return name === undefined ? [] : [name]
    })
  })

  return Dialogs.of({ create, update, get, list, remove, knowledgeBaseNames })
})

export const layer: Layer.Layer<Dialogs, never, RecordStore> = Layer.effect(Dialogs, make)
