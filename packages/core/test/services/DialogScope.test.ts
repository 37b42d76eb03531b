/**
 * API keys' betas and dialog scopes, enforced by the services; conversations named by the client
 * (`conversations/set`); dialogs listed whole and showing the tenant's default chat model.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import type { ConversationId, DialogId } from "../../src/domain/Ids.js"
import { randomHex32 } from "../../src/domain/Ids.js"
import { ApiToken } from "../../src/domain/Records.js"
import { RecordStore } from "../../src/ports/RecordStore.js"
import { decoding } from "../../src/RagClient.js"
import * as ApiTokens from "../../src/services/ApiTokens.js"
import * as Completions from "../../src/services/Completions.js"
import * as Conversations from "../../src/services/Conversations.js"
import * as Dialogs from "../../src/services/Dialogs.js"
import { Engine, newCaller } from "./helpers.js"

const services = Effect.gen(function* () {
  return {
    tokens: decoding(yield* ApiTokens.ApiTokens, ApiTokens.Operations),
    dialogs: decoding(yield* Dialogs.Dialogs, Dialogs.Operations),
    conversations: decoding(yield* Conversations.Conversations, Conversations.Operations),
    completions: decoding(yield* Completions.Completions, Completions.Operations)
  }
})

const tag = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.either(effect), (r) => (r._tag === "Right" ? "ok" : r.left._tag))

describe("dialog scopes, betas and conversations", () => {
  layer(Engine)((it) => {
    it.effect("a key lists with its id and beta; remove takes the id; a beta authenticates for chat only", () =>
      Effect.gen(function* () {
        const { tokens } = yield* services
        const owner = yield* newCaller()
        const made = yield* tokens.create(owner, {})
        expect(Object.keys(made.token)).not.toContain("token_hash")
        const [listed] = yield* tokens.list(owner, {})
        expect(listed).toMatchObject({ id: made.token.id, beta: made.token.beta, dialog_id: null })
        expect(listed!.beta).toMatch(/^[A-Za-z0-9_-]{32}$/)
        expect(JSON.stringify(listed)).not.toContain(made.secret)

        const byKey = yield* tokens.authenticate({ secret: made.secret })
        expect(byKey.scope).toEqual({ credential: "key", dialog_id: null, access: "all" })
        expect(byKey.caller.dialogId).toBeUndefined()
        const byBeta = yield* tokens.authenticate({ secret: listed!.beta })
        expect(byBeta.scope).toEqual({ credential: "beta", dialog_id: null, access: "chat" })
        expect([byBeta.caller.tenantId, byBeta.token.id]).toEqual([owner.tenantId, made.token.id])
        // A beta is not a key: its hash does not find it, and a near miss is refused.
        expect(yield* tag(tokens.authenticate({ secret: `ragkit-${listed!.beta}` }))).toBe("Unauthenticated")
        expect(yield* tag(tokens.authenticate({ secret: `${listed!.beta.slice(1)}x` }))).toBe("Unauthenticated")

        yield* tokens.remove(owner, { token: listed!.id })
        expect(yield* tokens.list(owner, {})).toEqual([])
        expect(yield* tag(tokens.authenticate({ secret: listed!.beta }))).toBe("Unauthenticated")
      }))

    it.effect("a key made before betas existed gets one when listed, kept from then on", () =>
      Effect.gen(function* () {
        const { tokens } = yield* services
        const store = yield* RecordStore
        const owner = yield* newCaller()
        const made = yield* tokens.create(owner, {})
        yield* store.apiTokens.update(new ApiToken({ ...Option.getOrThrow(yield* store.apiTokens.get(made.token.id)), beta: null }))
        const [first] = yield* tokens.list(owner, {})
        expect(first!.beta).toHaveLength(32)
        expect((yield* tokens.list(owner, {}))[0]!.beta).toBe(first!.beta)
        expect((yield* tokens.authenticate({ secret: first!.beta })).token.id).toBe(made.token.id)
      }))

    it.effect("a dialog-scoped key reaches its dialog and its conversations only", () =>
      Effect.gen(function* () {
        const { tokens, dialogs, conversations, completions } = yield* services
        const owner = yield* newCaller()
        const mine = yield* dialogs.create(owner, { name: "Widget" })
        const other = yield* dialogs.create(owner, { name: "Internal" })
        const otherConversation = yield* conversations.create(owner, { dialog_id: other.id })
        const made = yield* tokens.create(owner, { dialog_id: mine.id })
        const auth = yield* tokens.authenticate({ secret: made.secret })
        expect(auth.scope).toEqual({ credential: "key", dialog_id: mine.id, access: "chat" })
        const beta = yield* tokens.authenticate({ secret: made.token.beta })
        expect(beta.scope).toEqual({ credential: "beta", dialog_id: mine.id, access: "chat" })
        expect(beta.caller.dialogId).toBe(mine.id)
        const scoped = auth.caller
        expect(scoped.dialogId).toBe(mine.id)

        // Its own dialog and conversations work.
        expect((yield* dialogs.get(scoped, { dialog_id: mine.id })).id).toBe(mine.id)
        expect((yield* dialogs.list(scoped, { all: true })).items.map((d) => d.id)).toEqual([mine.id])
        const conversation = yield* conversations.create(scoped, { dialog_id: mine.id })
        expect((yield* conversations.rename(scoped, { conversation_id: conversation.id, name: "Mine" })).name).toBe("Mine")
        expect((yield* conversations.list(scoped, { dialog_id: mine.id })).total).toBe(1)

        // Everything of the other dialog is not found; creating dialogs and managing keys is refused.
        expect(yield* tag(dialogs.get(scoped, { dialog_id: other.id }))).toBe("NotFound")
        expect((yield* dialogs.list(scoped, { id: other.id })).items).toEqual([])
        expect(yield* tag(dialogs.update(scoped, { dialog_id: other.id, name: "x" }))).toBe("NotFound")
        expect(yield* tag(dialogs.remove(scoped, { dialog_ids: [other.id] }))).toBe("NotFound")
        expect(yield* tag(dialogs.create(scoped, { name: "New" }))).toBe("Forbidden")
        expect(yield* tag(conversations.create(scoped, { dialog_id: other.id }))).toBe("NotFound")
        expect(yield* tag(conversations.list(scoped, { dialog_id: other.id }))).toBe("NotFound")
        expect(yield* tag(conversations.get(scoped, { conversation_id: otherConversation.id }))).toBe("NotFound")
        expect(yield* tag(conversations.rename(scoped, { conversation_id: otherConversation.id, name: "x" }))).toBe("NotFound")
        expect(
          yield* tag(conversations.appendMessages(scoped, { conversation_id: otherConversation.id, messages: [{ role: "user", content: "hi" }] }))
        ).toBe("NotFound")
        expect(yield* tag(conversations.remove(scoped, { dialog_id: other.id, conversation_ids: [otherConversation.id] }))).toBe("NotFound")
        expect(
          yield* tag(completions.complete(scoped, { conversation_id: otherConversation.id, messages: [{ role: "user", content: "hi" }] }))
        ).toBe("NotFound")
        expect(yield* tag(tokens.create(scoped, {}))).toBe("Forbidden")
        expect(yield* tag(tokens.remove(scoped, { token: made.token.id }))).toBe("Forbidden")
        expect((yield* tokens.list(scoped, {})).map((t) => t.id)).toEqual([made.token.id])
        // The owner still sees both, and the other conversation is untouched.
        expect((yield* dialogs.list(owner, { all: true })).total).toBe(2)
        expect((yield* conversations.get(owner, { conversation_id: otherConversation.id })).message).toEqual(otherConversation.message)
      }))

    it.effect("a conversation takes the client's id; set creates with is_new and renames without", () =>
      Effect.gen(function* () {
        const { dialogs, conversations } = yield* services
        const owner = yield* newCaller()
        const dialog = yield* dialogs.create(owner, { name: "Helper", prompt_config: { prologue: "Hi!" } })
        const id = randomHex32() as ConversationId
        const made = yield* conversations.create(owner, { dialog_id: dialog.id, conversation_id: id })
        expect([made.id, made.message.map((m) => m.content)]).toEqual([id, ["Hi!"]])
        const taken = yield* Effect.flip(conversations.create(owner, { dialog_id: dialog.id, conversation_id: id }))
        expect(taken).toMatchObject({ _tag: "AlreadyExists", entity: "Conversation", field: "conversation_id" })
        expect(yield* Effect.flip(conversations.create(owner, { dialog_id: dialog.id, conversation_id: "not-an-id" }))).toMatchObject({
          _tag: "InvalidInput",
          field: "conversation_id"
        })

        const setId = randomHex32() as ConversationId
        const created = yield* conversations.set(owner, { dialog_id: dialog.id, conversation_id: setId, is_new: true, name: "Trip" })
        expect([created.id, created.name, created.message.length]).toEqual([setId, "Trip", 1])
        const renamed = yield* conversations.set(owner, { dialog_id: dialog.id, conversation_id: setId, is_new: false, name: "Trip 2" })
        expect([renamed.id, renamed.name, renamed.message]).toEqual([setId, "Trip 2", created.message])
        // Without is_new: an id renames (here: keeps the name), no id creates.
        expect((yield* conversations.set(owner, { dialog_id: dialog.id, conversation_id: setId })).name).toBe("Trip 2")
        const fresh = yield* conversations.set(owner, { dialog_id: dialog.id })
        expect([fresh.name, fresh.id === setId]).toEqual(["New conversation", false])
        expect(yield* Effect.flip(conversations.set(owner, { dialog_id: dialog.id, is_new: false }))).toMatchObject({
          _tag: "InvalidInput",
          field: "conversation_id"
        })
        // Renaming an unknown conversation, or one of another dialog, is not found.
        const elsewhere = yield* dialogs.create(owner, { name: "Elsewhere" })
        expect(yield* tag(conversations.set(owner, { dialog_id: elsewhere.id, conversation_id: setId, is_new: false, name: "x" }))).toBe(
          "NotFound"
        )
        expect(yield* tag(conversations.set(owner, { dialog_id: dialog.id, conversation_id: randomHex32(), is_new: false }))).toBe("NotFound")
        expect((yield* conversations.list(owner, { dialog_id: dialog.id })).total).toBe(3)
      }))

    it.effect("a dialog without llm_id shows the tenant's default chat model, without storing it", () =>
      Effect.gen(function* () {
        const { dialogs } = yield* services
        const store = yield* RecordStore
        const owner = yield* newCaller()
        const tenant = Option.getOrThrow(yield* store.tenants.get(owner.tenantId))
        yield* store.tenants.update({ ...tenant, llm_id: "scripted@Test" } as typeof tenant)
        const plain = yield* dialogs.create(owner, { name: "Plain" })
        const pinned = yield* dialogs.create(owner, { name: "Pinned", llm_id: "other@Test" })
        expect(plain.llm_id).toBe("scripted@Test")
        expect((yield* dialogs.get(owner, { dialog_id: plain.id })).llm_id).toBe("scripted@Test")
        expect((yield* dialogs.update(owner, { dialog_id: plain.id, name: "Plain 2" })).llm_id).toBe("scripted@Test")
        const listed = (yield* dialogs.list(owner, { all: true })).items
        expect(listed.map((d) => [d.name, d.llm_id]).sort()).toEqual([["Pinned", "other@Test"], ["Plain 2", "scripted@Test"]])
        expect(Option.getOrThrow(yield* store.dialogs.get(plain.id)).llm_id).toBe("")
        // A change of the default shows at once.
        yield* store.tenants.update({ ...tenant, llm_id: "next@Test" } as typeof tenant)
        expect((yield* dialogs.get(owner, { dialog_id: plain.id })).llm_id).toBe("next@Test")
        expect((yield* dialogs.get(owner, { dialog_id: pinned.id })).llm_id).toBe("other@Test")
      }))

    it.effect("list with all gives every dialog, past any page size", () =>
      Effect.gen(function* () {
        const { dialogs } = yield* services
        const owner = yield* newCaller()
        const made: Array<DialogId> = []
        for (let i = 0; i < 35; i++) made.push((yield* dialogs.create(owner, { name: `D${i}` })).id)
        const all = yield* dialogs.list(owner, { all: true, page_size: 10 })
        expect([all.items.length, all.total]).toEqual([35, 35])
        expect(new Set(all.items.map((d) => d.id))).toEqual(new Set(made))
        // Paged lists still page (the default page is 30).
        expect((yield* dialogs.list(owner, {})).items.length).toBe(30)
        expect((yield* dialogs.list(owner, { page: 2 })).items.length).toBe(5)
      }))
  })
})
