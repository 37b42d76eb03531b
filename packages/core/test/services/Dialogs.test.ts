import { describe, expect, layer } from "@effect/vitest"
import { Effect, Layer, TestClock } from "effect"
import { Caller } from "../../src/domain/Caller.js"
import type { DialogId, TenantId, TenantMemberId, UserId } from "../../src/domain/Ids.js"
import { TenantMember } from "../../src/domain/Records.js"
import * as RecordStore from "../../src/ports/RecordStore.js"
import { decoding } from "../../src/RagClient.js"
import * as Dialogs from "../../src/services/Dialogs.js"
import { aConversation, aKnowledgeBase, anId, stamps } from "../../src/testing/Records.js"

const { DEFAULT_SYSTEM_PROMPT } = Dialogs

const TestLayer = Dialogs.layer.pipe(Layer.provideMerge(RecordStore.layerMemory))

const aCaller = () => new Caller({ tenantId: anId<TenantId>(), userId: anId<UserId>() })

/** A caller with a knowledge base of its own in the store. */
const setup = Effect.gen(function* () {
  const store = yield* RecordStore.RecordStore
  const caller = aCaller()
  const kb = yield* store.knowledgeBases.insert(aKnowledgeBase({ tenant_id: caller.tenantId, name: "manuals" }))
  return { store, caller, kb, dialogs: decoding(yield* Dialogs.Dialogs, Dialogs.Operations) }
})

describe("Dialogs", () => {
  layer(TestLayer)((it) => {
    it.effect("create applies RAGFlow's defaults and trims the name", () =>
      Effect.gen(function* () {
        const { caller, dialogs, kb } = yield* setup
        const dialog = yield* dialogs.create(caller, { name: "  Helper  ", kb_ids: [kb.id] })
        expect(dialog.name).toBe("Helper")
        expect(dialog.tenant_id).toBe(caller.tenantId)
        expect(dialog.kb_ids).toEqual([kb.id])
        expect(dialog).toMatchObject({
          description: "",
          icon: "",
          language: "English",
          llm_id: "",
          llm_setting: {},
          top_n: 6,
          top_k: 1024,
          similarity_threshold: 0.1,
          vector_similarity_weight: 0.3,
          rerank_id: "",
          meta_data_filter: {},
          do_refer: "1",
          status: "1"
        })
        expect(dialog.prompt_config).toEqual({
          system: DEFAULT_SYSTEM_PROMPT,
          prologue: "Hi! I'm your assistant. What can I do for you?",
          parameters: [{ key: "knowledge", optional: false }],
          empty_response: "Sorry! No relevant content was found in the knowledge base!",
          quote: true,
          keyword: false,
          refine_multiturn: false,
          tts: false
        })
        expect(DEFAULT_SYSTEM_PROMPT).toContain("{knowledge}")
        expect(yield* dialogs.get(caller, { dialog_id: dialog.id })).toEqual(dialog)
        expect(yield* dialogs.knowledgeBaseNames(caller, { dialog_id: dialog.id })).toEqual(["manuals"])
      }))

    it.effect("given prompt_config keys replace the defaults and unknown keys are kept", () =>
      Effect.gen(function* () {
        const { caller, dialogs } = yield* setup
        const dialog = yield* dialogs.create(caller, {
          name: "custom",
          prompt_config: { prologue: "Hello", quote: false, reasoning: true, tavily_api_key: "k" },
          llm_setting: { temperature: 0.5, max_tokens: 512, vendor_option: "x" },
          top_n: 8,
          similarity_threshold: 0.25
        })
        expect(dialog.prompt_config).toMatchObject({
          system: DEFAULT_SYSTEM_PROMPT,
          prologue: "Hello",
          quote: false,
          reasoning: true,
          tavily_api_key: "k",
          empty_response: "Sorry! No relevant content was found in the knowledge base!"
        })
        expect(dialog.llm_setting).toEqual({ temperature: 0.5, max_tokens: 512, vendor_option: "x" })
        expect(dialog.top_n).toBe(8)
        expect(dialog.similarity_threshold).toBe(0.25)
        // What was stored is what is read back.
        expect((yield* dialogs.get(caller, { dialog_id: dialog.id })).prompt_config).toEqual(dialog.prompt_config)
      }))

    it.effect("a system prompt without {knowledge} is fine once the parameter is dropped; optional parameters may go unused", () =>
      Effect.gen(function* () {
        const { caller, dialogs } = yield* setup
        const plain = yield* dialogs.create(caller, { name: "plain", prompt_config: { system: "Hello World", parameters: [] } })
        expect(plain.prompt_config.system).toBe("Hello World")
        const optional = yield* dialogs.create(caller, {
          name: "opt",
          prompt_config: { parameters: [{ key: "knowledge", optional: false }, { key: "lang", optional: true }] }
        })
        expect(optional.prompt_config.parameters).toEqual([
          { key: "knowledge", optional: false },
          { key: "lang", optional: true }
        ])
        // An empty system prompt on create falls back to the default, as RAGFlow does.
        const empty = yield* dialogs.create(caller, { name: "empty", prompt_config: { system: "" } })
        expect(empty.prompt_config.system).toBe(DEFAULT_SYSTEM_PROMPT)
      }))

    it.effect("invalid input is refused and nothing is written", () =>
      Effect.gen(function* () {
        const { store, caller, dialogs, kb } = yield* setup
        const stranger = yield* store.knowledgeBases.insert(aKnowledgeBase({ name: "theirs" }))
        const otherModel = yield* store.knowledgeBases.insert(
          aKnowledgeBase({ tenant_id: caller.tenantId, name: "other-model", embedding_model: "bge-m3@Ollama" })
        )
        const cases: ReadonlyArray<readonly [typeof Dialogs.CreateRequest.Encoded, string, string, string?]> = [
          [{ name: "   " }, "InvalidInput", "name"],
          [{ name: "x".repeat(256) }, "InvalidInput", "name"],
          [{ name: "t", similarity_threshold: 1.5 }, "InvalidInput", "similarity_threshold"],
          [{ name: "t", vector_similarity_weight: -0.1 }, "InvalidInput", "vector_similarity_weight"],
          [{ name: "t", top_k: 0 }, "InvalidInput", "top_k"],
          [{ name: "t", top_n: 2.5 }, "InvalidInput", "top_n"],
          [{ name: "t", llm_setting: { temperature: 3 } }, "InvalidInput", "llm_setting.temperature"],
          [{ name: "t", llm_setting: { top_p: 1.5 } }, "InvalidInput", "llm_setting.top_p"],
          [{ name: "t", llm_setting: { presence_penalty: -3 } }, "InvalidInput", "llm_setting.presence_penalty"],
          [{ name: "t", llm_setting: { max_tokens: 0 } }, "InvalidInput", "llm_setting.max_tokens"],
          [{ name: "t", llm_setting: { frequency_penalty: 2.5 } }, "InvalidInput", "llm_setting.frequency_penalty"],
          [{ name: "t", llm_setting: [] as never }, "InvalidInput", "llm_setting", "llm_setting must be an object"],
          [{ name: "t", do_refer: "2" as never }, "InvalidInput", "do_refer"],
          [{ name: "t", kb_ids: [stranger.id] }, "NotFound", "KnowledgeBase"],
          [{ name: "t", kb_ids: ["not-an-id"] }, "InvalidInput", "kb_ids[0]", "kb_ids[0] is not a valid id"],
          [{ name: "t", kb_ids: [kb.id, otherModel.id] }, "InvalidInput", "kb_ids", "Datasets use different embedding models"],
          [{ name: "t", prompt_config: { system: "Hello World" } }, "InvalidInput", "prompt_config", "Parameter 'knowledge' is not used"],
          [
            { name: "t", prompt_config: { parameters: [{ key: "knowledge", optional: false }, { key: "lang", optional: false }] } },
            "InvalidInput",
            "prompt_config",
            "Parameter 'lang' is not used"
          ],
          [{ name: "t", prompt_config: { system: "Use {knowledge}", parameters: [] } }, "InvalidInput", "prompt_config", "knowledge"],
          [{ name: "t", prompt_config: { quote: "yes" as never } }, "InvalidInput", "prompt_config.quote"],
          [{ name: "t", prompt_config: { parameters: [{ key: " " }] } }, "InvalidInput", "prompt_config.parameters[0].key"],
          [
            { name: "t", prompt_config: { parameters: [{ key: "knowledge", optional: "no" as never }] } },
            "InvalidInput",
            "prompt_config.parameters[0].optional"
          ]
        ]
        const before = yield* store.dialogs.count({ tenant_id: caller.tenantId })
        for (const [input, tag, where, message] of cases) {
          const error = yield* Effect.flip(dialogs.create(caller, input))
          expect(error._tag, JSON.stringify(input)).toBe(tag)
          if (error._tag === "InvalidInput") expect(error.field).toBe(where)
          if (error._tag === "NotFound") expect(error.entity).toBe(where)
          if (message !== undefined) expect(error.message).toContain(message)
        }
        expect(yield* store.dialogs.count({ tenant_id: caller.tenantId })).toBe(before)
        expect(before).toBe(0)
      }))

    it.effect("a team knowledge base of a tenant the caller belongs to is accepted; a private one is not", () =>
      Effect.gen(function* () {
        const { store, caller, dialogs, kb } = yield* setup
        const team = anId<TenantId>()
        const outsider = anId<TenantId>()
        yield* store.members.insert(
          new TenantMember({
            id: anId<TenantMemberId>(),
            tenant_id: team,
            user_id: caller.userId,
            invited_by: anId<UserId>(),
            role: "normal",
            status: "1",
            ...stamps()
          })
        )
        const shared = yield* store.knowledgeBases.insert(aKnowledgeBase({ tenant_id: team, permission: "team", name: "shared" }))
        const privateKb = yield* store.knowledgeBases.insert(aKnowledgeBase({ tenant_id: team, permission: "me" }))
        const foreignTeam = yield* store.knowledgeBases.insert(aKnowledgeBase({ tenant_id: outsider, permission: "team" }))

        const dialog = yield* dialogs.create(caller, { name: "team", kb_ids: [kb.id, shared.id] })
        expect(dialog.kb_ids).toEqual([kb.id, shared.id])
        expect(yield* dialogs.knowledgeBaseNames(caller, { dialog_id: dialog.id })).toEqual(["manuals", "shared"])

        for (const refused of [privateKb, foreignTeam]) {
          const error = yield* Effect.flip(dialogs.create(caller, { name: "no", kb_ids: [refused.id] }))
          expect(error._tag).toBe("NotFound")
        }
        expect(yield* store.dialogs.count({ tenant_id: caller.tenantId })).toBe(1)
      }))

    it.effect("update merges prompt_config and llm_setting, validates, and stamps update_time", () =>
      Effect.gen(function* () {
        const { caller, dialogs, kb } = yield* setup
        const created = yield* dialogs.create(caller, {
          name: "before",
          kb_ids: [kb.id],
          prompt_config: { custom: 1 },
          llm_setting: { temperature: 0.2, top_p: 0.9 }
        })
        yield* TestClock.adjust(5_000)
        const updated = yield* dialogs.update(caller, {
          dialog_id: created.id,
          name: " after ",
          prompt_config: { prologue: "Welcome" },
          llm_setting: { temperature: 1.1, top_p: null }
        })
        expect(updated.name).toBe("after")
        expect(updated.prompt_config).toMatchObject({ prologue: "Welcome", custom: 1, system: DEFAULT_SYSTEM_PROMPT })
        expect(updated.llm_setting).toEqual({ temperature: 1.1 })
        expect(updated.kb_ids).toEqual([kb.id])
        expect(updated.create_time).toBe(created.create_time)
        expect(updated.update_time).toBe(created.update_time + 5_000)
        expect(yield* dialogs.get(caller, { dialog_id: created.id })).toEqual(updated)

        // A refused update leaves the dialog as it was.
        const refused = yield* Effect.flip(
          dialogs.update(caller, { dialog_id: created.id, name: "x", prompt_config: { system: "no placeholder" } })
        )
        expect(refused).toMatchObject({ _tag: "InvalidInput", field: "prompt_config" })
        const emptyName = yield* Effect.flip(dialogs.update(caller, { dialog_id: created.id, name: "" }))
        expect(emptyName).toMatchObject({ _tag: "InvalidInput", field: "name" })
        expect(yield* dialogs.get(caller, { dialog_id: created.id })).toEqual(updated)

        // kb_ids can be emptied (RAGFlow's dialogs/set allows it).
        const noKbs = yield* dialogs.update(caller, { dialog_id: created.id, kb_ids: [] })
        expect(noKbs.kb_ids).toEqual([])
      }))

    it.effect("another tenant's dialog behaves exactly like an unknown one", () =>
      Effect.gen(function* () {
        const { store, caller, dialogs } = yield* setup
        const mine = yield* dialogs.create(caller, { name: "mine" })
        const other = aCaller()
        const unknown = anId<DialogId>()
        for (const id of [mine.id, unknown]) {
          const got = yield* Effect.flip(dialogs.get(other, { dialog_id: id }))
          expect(got).toMatchObject({ _tag: "NotFound", entity: "Dialog", id })
          const upd = yield* Effect.flip(dialogs.update(other, { dialog_id: id, name: "stolen" }))
          expect(upd).toMatchObject({ _tag: "NotFound", entity: "Dialog", id })
          const rm = yield* Effect.flip(dialogs.remove(other, { dialog_ids: [id] }))
          expect(rm).toMatchObject({ _tag: "NotFound", entity: "Dialog", id })
          const names = yield* Effect.flip(dialogs.knowledgeBaseNames(other, { dialog_id: id }))
          expect(names).toMatchObject({ _tag: "NotFound", entity: "Dialog", id })
        }
        expect((yield* dialogs.get(caller, { dialog_id: mine.id })).name).toBe("mine")
        expect(yield* store.dialogs.count({ tenant_id: caller.tenantId })).toBe(1)
        expect(yield* Effect.flip(dialogs.get(caller, { dialog_id: "junk" }))).toMatchObject({ _tag: "InvalidInput", field: "dialog_id" })
        expect((yield* dialogs.list(other, {})).total).toBe(0)
      }))

    it.effect("list pages, orders, filters and counts the caller's dialogs", () =>
      Effect.gen(function* () {
        const { caller, dialogs } = yield* setup
        const names = ["Alpha", "beta", "Gamma", "delta", "ALPHABET"]
        const created = []
        for (const name of names) {
          created.push(yield* dialogs.create(caller, { name }))
          yield* TestClock.adjust(1_000)
        }
        yield* dialogs.create(aCaller(), { name: "Alpha of someone else" })

        const first = yield* dialogs.list(caller, { page: 1, page_size: 2 })
        expect(first.total).toBe(5)
        expect(first.items.map((d) => d.name)).toEqual(["ALPHABET", "delta"])
        const last = yield* dialogs.list(caller, { page: 3, page_size: 2 })
        expect(last.items.map((d) => d.name)).toEqual(["Alpha"])
        expect(last.total).toBe(5)
        const oldest = yield* dialogs.list(caller, { desc: false })
        expect(oldest.items.map((d) => d.name)).toEqual(names)

        yield* dialogs.update(caller, { dialog_id: created[1]!.id, description: "touched" })
        const byUpdate = yield* dialogs.list(caller, { orderby: "update_time", page_size: 1 })
        expect(byUpdate.items[0]!.name).toBe("beta")

        const alpha = yield* dialogs.list(caller, { keywords: "alpha" })
        expect(alpha.items.map((d) => d.name)).toEqual(["ALPHABET", "Alpha"])
        expect(alpha.total).toBe(2)
        expect((yield* dialogs.list(caller, { name: "Gamma" })).items.map((d) => d.id)).toEqual([created[2]!.id])
        expect((yield* dialogs.list(caller, { id: created[3]!.id })).items.map((d) => d.name)).toEqual(["delta"])

        expect(yield* Effect.flip(dialogs.list(caller, { page: 0 }))).toMatchObject({ _tag: "InvalidInput", field: "page" })
        // By name as stored (code points: upper case first).
        expect((yield* dialogs.list(caller, { orderby: "name", desc: false })).items.map((d) => d.name)).toEqual(
          ["ALPHABET", "Alpha", "Gamma", "beta", "delta"]
        )
        expect(yield* Effect.flip(dialogs.list(caller, { orderby: "size" as "create_time" }))).toMatchObject({
          _tag: "InvalidInput",
          field: "orderby"
        })
      }))

    it.effect("remove deletes the dialogs with their conversations, all or nothing", () =>
      Effect.gen(function* () {
        const { store, caller, dialogs } = yield* setup
        const a = yield* dialogs.create(caller, { name: "a" })
        const b = yield* dialogs.create(caller, { name: "b" })
        const foreign = yield* dialogs.create(aCaller(), { name: "foreign" })
        for (const d of [a, a, b]) {
          yield* store.conversations.insert(aConversation({ dialog_id: d.id, tenant_id: caller.tenantId }))
        }

        const refused = yield* Effect.flip(dialogs.remove(caller, { dialog_ids: [b.id, foreign.id] }))
        expect(refused).toMatchObject({ _tag: "NotFound", id: foreign.id })
        expect(yield* store.dialogs.count({ tenant_id: caller.tenantId })).toBe(2)
        expect(yield* store.conversations.count({ dialog_id: b.id })).toBe(1)

        expect(yield* dialogs.remove(caller, { dialog_ids: [a.id, a.id] })).toBe(1)
        expect((yield* Effect.flip(dialogs.get(caller, { dialog_id: a.id })))._tag).toBe("NotFound")
        expect(yield* store.conversations.count({ dialog_id: a.id })).toBe(0)
        expect(yield* store.conversations.count({ dialog_id: b.id })).toBe(1)
        const owner = new Caller({ tenantId: foreign.tenant_id, userId: anId<UserId>() })
        expect((yield* dialogs.get(owner, { dialog_id: foreign.id })).name).toBe("foreign")

        expect(yield* dialogs.remove(caller, { dialog_ids: [] })).toBe(0)
        expect(yield* Effect.flip(dialogs.remove(caller, { dialog_ids: ["nope"] }))).toMatchObject({
          _tag: "InvalidInput",
          field: "dialog_ids[0]"
        })
      }))

    it.effect("knowledgeBaseNames skips knowledge bases that no longer exist", () =>
      Effect.gen(function* () {
        const { store, caller, dialogs, kb } = yield* setup
        const second = yield* store.knowledgeBases.insert(aKnowledgeBase({ tenant_id: caller.tenantId, name: "faq" }))
        const dialog = yield* dialogs.create(caller, { name: "d", kb_ids: [second.id, kb.id] })
        expect(yield* dialogs.knowledgeBaseNames(caller, { dialog_id: dialog.id })).toEqual(["faq", "manuals"])
        yield* store.knowledgeBases.remove([second.id])
        expect(yield* dialogs.knowledgeBaseNames(caller, { dialog_id: dialog.id })).toEqual(["manuals"])
      }))
  })
})
