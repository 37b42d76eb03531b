/**
 * Dialogs: chat assistants (RAGFlow's dialogs, the REST API's chats). A dialog holds its knowledge
 * bases, its prompt config, the LLM id and settings, and the retrieval settings a completion uses.
 *
 * A caller reads and changes only its own tenant's dialogs; another tenant's dialog is reported as
 * not found. Names need not be unique. Deleting a dialog deletes its conversations.
 */
import { Context, Effect, Layer, Option } from "effect"
import type { Caller } from "../domain/Caller.js"
import { invalid, notFound, type InvalidInput, type NotFound, type StoreError } from "../domain/Errors.js"
import { randomHex32, type DialogId, type KnowledgeBaseId } from "../domain/Ids.js"
import { Dialog, type KnowledgeBase } from "../domain/Records.js"
import { newStamps, touched } from "../domain/Time.js"
import { RecordStore, type Condition } from "../ports/RecordStore.js"
import { canRead, ownRecord, readableKnowledgeBase, teamTenants } from "./internal/access.js"
import * as validate from "./internal/validate.js"

/** RAGFlow's default system prompt (its REST API's wording, kept to the character). */
export const DEFAULT_SYSTEM_PROMPT =
  "You are an intelligent assistant. Please summarize the content of the dataset to answer the question. " +
  "Please list the data in the dataset and answer in detail. When all dataset content is irrelevant to the " +
  'question, your answer must include the sentence "The answer you are looking for is not found in the dataset!" ' +
  "Answers need to consider chat history.\n      Here is the knowledge base:\n      {knowledge}\n      The above is the knowledge base."

/** The prompt config a dialog starts from; given keys replace these, unknown keys are kept. */
export const defaultPromptConfig = (): Record<string, unknown> => ({
  system: DEFAULT_SYSTEM_PROMPT,
  prologue: "Hi! I'm your assistant. What can I do for you?",
  parameters: [{ key: "knowledge", optional: false }],
  empty_response: "Sorry! No relevant content was found in the knowledge base!",
  quote: true,
  keyword: false,
  refine_multiturn: false,
  tts: false
})

export interface DialogInput {
  /** Trimmed, 1..255 characters; need not be unique. */
  readonly name: string
  readonly description?: string | undefined
  readonly icon?: string | undefined
  /** Default `English`. */
  readonly language?: string | undefined
  /** `name@provider` of the chat model; empty means the tenant's default. */
  readonly llm_id?: string | undefined
  /**
   * Generation settings. Known keys are checked (temperature 0..2, top_p 0..1, presence_penalty and
   * frequency_penalty -2..2, max_tokens a positive integer); a known key set to null is unset;
   * other keys are kept as given.
   */
  readonly llm_setting?: Record<string, unknown> | undefined
  /** Merged over the defaults (create) or the current config (update); unknown keys are kept. */
  readonly prompt_config?: Record<string, unknown> | undefined
  /** Chunks fed to the model, default 6. */
  readonly top_n?: number | undefined
  /** Vector candidates, default 1024. */
  readonly top_k?: number | undefined
  /** 0..1, default 0.1. */
  readonly similarity_threshold?: number | undefined
  /** 0..1, default 0.3. */
  readonly vector_similarity_weight?: number | undefined
  /** Reranker `name@provider`, empty for none. */
  readonly rerank_id?: string | undefined
  readonly meta_data_filter?: Record<string, unknown> | undefined
  /** Knowledge bases the caller may read, all with the same embedding model. */
  readonly kb_ids?: ReadonlyArray<string> | undefined
  /** Whether answers show their quotations (`"1"`, default) or not (`"0"`). */
  readonly do_refer?: string | undefined
}

export type DialogPatch = Partial<DialogInput>

export interface ListDialogs extends validate.Paging {
  readonly orderby?: "create_time" | "update_time" | undefined
  /** Default true (newest first). */
  readonly desc?: boolean | undefined
  /** Case-insensitive substring of the name. */
  readonly keywords?: string | undefined
  readonly id?: string | undefined
  /** Exact name. */
  readonly name?: string | undefined
}

export interface DialogPage {
  readonly items: ReadonlyArray<Dialog>
  readonly total: number
}

export interface DialogsService {
  readonly create: (caller: Caller, input: DialogInput) => Effect.Effect<Dialog, InvalidInput | NotFound | StoreError>
  readonly update: (
    caller: Caller,
    dialogId: string,
    patch: DialogPatch
  ) => Effect.Effect<Dialog, InvalidInput | NotFound | StoreError>
  readonly get: (caller: Caller, dialogId: string) => Effect.Effect<Dialog, InvalidInput | NotFound | StoreError>
  readonly list: (caller: Caller, query?: ListDialogs) => Effect.Effect<DialogPage, InvalidInput | StoreError>
  /** Deletes the dialogs and their conversations; all ids must be the caller's, else nothing is deleted. */
  readonly remove: (
    caller: Caller,
    dialogIds: ReadonlyArray<string>
  ) => Effect.Effect<number, InvalidInput | NotFound | StoreError>
  /** Names of the dialog's knowledge bases in `kb_ids` order, skipping ones gone or no longer readable. */
  readonly knowledgeBaseNames: (caller: Caller, dialog: Dialog) => Effect.Effect<ReadonlyArray<string>, StoreError>
}

export class Dialogs extends Context.Tag("@ragkit/core/Dialogs")<Dialogs, DialogsService>() {}

// ---------------------------------------------------------------------------------------------
// Field checks

const text = (field: string, value: unknown): Effect.Effect<string, InvalidInput> =>
  typeof value === "string" ? Effect.succeed(value) : Effect.fail(invalid(field, `${field} must be a string`))

const boolean = (field: string, value: unknown): Effect.Effect<boolean, InvalidInput> =>
  typeof value === "boolean" ? Effect.succeed(value) : Effect.fail(invalid(field, `${field} must be a boolean`))

/** The patch's value when given, else the current one. */
const given = <A, E>(value: unknown, current: A, check: (value: unknown) => Effect.Effect<A, E>): Effect.Effect<A, E> =>
  value === undefined ? Effect.succeed(current) : check(value)

const llmSettingChecks: Record<string, (value: unknown) => Effect.Effect<number, InvalidInput>> = {
  temperature: (v) => validate.numberIn("llm_setting.temperature", v, 0, 2),
  top_p: (v) => validate.numberIn("llm_setting.top_p", v, 0, 1),
  presence_penalty: (v) => validate.numberIn("llm_setting.presence_penalty", v, -2, 2),
  frequency_penalty: (v) => validate.numberIn("llm_setting.frequency_penalty", v, -2, 2),
  max_tokens: (v) => validate.intIn("llm_setting.max_tokens", v, 1, Number.MAX_SAFE_INTEGER)
}

/** `current` with `patch` merged over it; known keys checked, a known key set to null removed. */
const llmSetting = (current: Record<string, unknown>, patch: unknown) =>
  Effect.gen(function* () {
    const changes = yield* validate.object("llm_setting", patch)
    const merged: Record<string, unknown> = { ...current, ...changes }
    for (const [key, check] of Object.entries(llmSettingChecks)) {
      if (!(key in merged)) continue
      if (merged[key] === null || merged[key] === undefined) delete merged[key]
      else merged[key] = yield* check(merged[key])
    }
    return merged
  })

interface PromptParameter {
  readonly key: string
  readonly optional: boolean
  readonly [other: string]: unknown
}

const promptParameters = (value: unknown): Effect.Effect<Array<PromptParameter>, InvalidInput> =>
  Array.isArray(value)
    ? Effect.forEach(value, (p: unknown, i) => {
        const field = `prompt_config.parameters[${i}]`
        if (typeof p !== "object" || p === null || Array.isArray(p)) {
          return Effect.fail(invalid(field, `${field} must be an object with a key`))
        }
        const { key, optional } = p as Record<string, unknown>
        if (typeof key !== "string" || key.trim() === "") {
          return Effect.fail(invalid(field, `${field}.key must be a non-empty string`))
        }
        if (optional !== undefined && typeof optional !== "boolean") {
          return Effect.fail(invalid(field, `${field}.optional must be a boolean`))
        }
        return Effect.succeed({ ...(p as Record<string, unknown>), key, optional: optional === true })
      })
    : Effect.fail(invalid("prompt_config.parameters", "prompt_config.parameters must be an array"))

const promptTextKeys = ["system", "prologue", "empty_response"] as const
const promptFlagKeys = ["quote", "keyword", "refine_multiturn", "tts"] as const

/**
 * `current` with `patch` merged over it. Known keys are type-checked; the system prompt must use
 * every required parameter (`{key}`), and a system prompt with `{knowledge}` needs the `knowledge`
 * parameter. On create an empty system prompt falls back to the default, as RAGFlow does.
 */
const promptConfig = (current: Record<string, unknown>, patch: unknown, creating: boolean) =>
  Effect.gen(function* () {
    const changes = patch === undefined ? {} : yield* validate.object("prompt_config", patch)
    const merged: Record<string, unknown> = { ...current, ...changes }
    if (creating && (merged.system === undefined || merged.system === null || merged.system === "")) {
      merged.system = DEFAULT_SYSTEM_PROMPT
    }
    for (const key of promptTextKeys) {
      if (merged[key] !== undefined) merged[key] = yield* text(`prompt_config.${key}`, merged[key])
    }
    for (const key of promptFlagKeys) {
      if (merged[key] !== undefined) merged[key] = yield* boolean(`prompt_config.${key}`, merged[key])
    }
    const parameters = yield* promptParameters(merged.parameters ?? [])
    merged.parameters = parameters
    const system = typeof merged.system === "string" ? merged.system : ""
    if (system.includes("{knowledge}") && !parameters.some((p) => p.key === "knowledge")) {
      return yield* Effect.fail(
        invalid("prompt_config", "Parameter 'knowledge' must be declared when the system prompt uses {knowledge}")
      )
    }
    for (const p of parameters) {
      if (!p.optional && !system.includes(`{${p.key}}`)) {
        return yield* Effect.fail(invalid("prompt_config", `Parameter '${p.key}' is not used`))
      }
    }
    return merged
  })

/** The fields a dialog is made of, before the id, tenant and stamps. */
type DialogFields = Omit<Dialog, "id" | "tenant_id" | "status" | "create_time" | "create_date" | "update_time" | "update_date">

export const make = Effect.gen(function* () {
  const store = yield* RecordStore

  /** Every kb must be readable by the caller and all must share one embedding model. */
  const knowledgeBases = (caller: Caller, value: unknown) =>
    Effect.gen(function* () {
      if (!Array.isArray(value)) return yield* Effect.fail(invalid("kb_ids", "kb_ids must be an array of ids"))
      const ids = yield* validate.ids<KnowledgeBaseId>("kb_ids", value)
      const kbs: Array<KnowledgeBase> = yield* Effect.forEach(ids, (id) => readableKnowledgeBase(store, caller, id))
      const models = [...new Set(kbs.map((kb) => kb.embedding_model))]
      if (models.length > 1) {
        return yield* Effect.fail(invalid("kb_ids", `Datasets use different embedding models: ${models.join(", ")}`))
      }
      return ids
    })

  /** Checks `patch` and merges it over `current`. */
  const resolve = (caller: Caller, current: DialogFields, patch: DialogPatch, creating: boolean) =>
    Effect.gen(function* () {
      const fields: DialogFields = {
        name: yield* given(patch.name, current.name, (v) => validate.name("name", v, 255)),
        description: yield* given(patch.description, current.description, (v) => text("description", v)),
        icon: yield* given(patch.icon, current.icon, (v) => text("icon", v)),
        language: yield* given(patch.language, current.language, (v) => text("language", v)),
        llm_id: yield* given(patch.llm_id, current.llm_id, (v) => Effect.map(text("llm_id", v), (s) => s.trim())),
        llm_setting: yield* given(patch.llm_setting, current.llm_setting, (v) => llmSetting(current.llm_setting, v)),
        prompt_type: current.prompt_type,
        prompt_config: yield* promptConfig(current.prompt_config, patch.prompt_config, creating),
        meta_data_filter: yield* given(patch.meta_data_filter, current.meta_data_filter, (v) =>
          validate.object("meta_data_filter", v)
        ),
        kb_ids: yield* given(patch.kb_ids, current.kb_ids, (v) => knowledgeBases(caller, v)),
        top_n: yield* given(patch.top_n, current.top_n, (v) => validate.intIn("top_n", v, 0, 1000)),
        top_k: yield* given(patch.top_k, current.top_k, (v) => validate.intIn("top_k", v, 1, 10_000)),
        rerank_id: yield* given(patch.rerank_id, current.rerank_id, (v) =>
          Effect.map(text("rerank_id", v), (s) => s.trim())
        ),
        similarity_threshold: yield* given(patch.similarity_threshold, current.similarity_threshold, (v) =>
          validate.numberIn("similarity_threshold", v, 0, 1)
        ),
        vector_similarity_weight: yield* given(patch.vector_similarity_weight, current.vector_similarity_weight, (v) =>
          validate.numberIn("vector_similarity_weight", v, 0, 1)
        ),
        do_refer: yield* given(patch.do_refer, current.do_refer, (v) => validate.oneOf("do_refer", v, ["0", "1"]))
      }
      return fields
    })

  /** A valid dialog of the caller's tenant. */
  const own = (caller: Caller, id: string) =>
    Effect.flatMap(ownRecord(store.dialogs, "Dialog", caller, id), (dialog) =>
      dialog.status === "1" ? Effect.succeed(dialog) : Effect.fail(notFound("Dialog", id))
    )

  const create = Effect.fn("Dialogs.create")(function* (caller: Caller, input: DialogInput) {
    const defaults: DialogFields = {
      name: "",
      description: "",
      icon: "",
      language: "English",
      llm_id: "",
      llm_setting: {},
      prompt_type: "simple",
      prompt_config: defaultPromptConfig(),
      meta_data_filter: {},
      kb_ids: [],
      top_n: 6,
      top_k: 1024,
      rerank_id: "",
      similarity_threshold: 0.1,
      vector_similarity_weight: 0.3,
      do_refer: "1"
    }
    const name = yield* validate.name("name", input.name, 255)
    const fields = yield* resolve(caller, defaults, { ...input, name }, true)
    const dialog = new Dialog({
      id: randomHex32() as DialogId,
      tenant_id: caller.tenantId,
      ...fields,
      status: "1",
      ...(yield* newStamps)
    })
    return yield* store.dialogs.insert(dialog)
  })

  const update = Effect.fn("Dialogs.update")(function* (caller: Caller, dialogId: string, patch: DialogPatch) {
    const id = yield* validate.id<DialogId>("dialog_id", dialogId)
    const stamps = yield* touched
    const updated = yield* store.dialogs.modify(id, (current) =>
      current.tenant_id === caller.tenantId && current.status === "1"
        ? Effect.map(resolve(caller, current, patch, false), (fields) => new Dialog({ ...current, ...fields, ...stamps }))
        : Effect.fail(notFound("Dialog", id))
    )
    return yield* Option.match(updated, { onNone: () => Effect.fail(notFound("Dialog", id)), onSome: Effect.succeed })
  })

  const get = Effect.fn("Dialogs.get")(function* (caller: Caller, dialogId: string) {
    const id = yield* validate.id<DialogId>("dialog_id", dialogId)
    return yield* own(caller, id)
  })

  const list = Effect.fn("Dialogs.list")(function* (caller: Caller, query: ListDialogs = {}) {
    const { offset, limit } = yield* validate.paging(query)
    const orderBy = yield* validate.oneOf("orderby", query.orderby ?? "create_time", ["create_time", "update_time"])
    const where: Record<string, Condition> = { tenant_id: caller.tenantId, status: "1" }
    if (query.id !== undefined) where.id = yield* validate.id<DialogId>("id", query.id)
    if (query.name !== undefined) where.name = yield* text("name", query.name)
    const keywords = query.keywords === undefined ? "" : (yield* text("keywords", query.keywords)).trim()
    const page = yield* store.dialogs.find({
      where,
      ...(keywords === "" ? {} : { search: { fields: ["name"], text: keywords } }),
      orderBy,
      desc: query.desc ?? true,
      offset,
      limit
    })
    return { items: page.items, total: page.total }
  })

  const remove = Effect.fn("Dialogs.remove")(function* (caller: Caller, dialogIds: ReadonlyArray<string>) {
    if (!Array.isArray(dialogIds)) return yield* Effect.fail(invalid("dialog_ids", "dialog_ids must be an array of ids"))
    const ids = yield* validate.ids<DialogId>("dialog_ids", dialogIds)
    if (ids.length === 0) return 0
    return yield* store.transaction(
      Effect.gen(function* () {
        const found = yield* store.dialogs.getMany(ids)
        const mine = new Set(found.filter((d) => d.tenant_id === caller.tenantId && d.status === "1").map((d) => d.id))
        const missing = ids.find((id) => !mine.has(id))
        if (missing !== undefined) return yield* Effect.fail(notFound("Dialog", missing))
        yield* store.conversations.removeWhere({ dialog_id: { in: [...ids] } })
        return yield* store.dialogs.remove(ids)
      })
    )
  })

  const knowledgeBaseNames = Effect.fn("Dialogs.knowledgeBaseNames")(function* (caller: Caller, dialog: Dialog) {
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
