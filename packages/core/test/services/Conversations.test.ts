import { describe, expect, layer } from "@effect/vitest"
import { Clock, Effect, Layer, TestClock } from "effect"
import { Caller } from "../../src/domain/Caller.js"
import type { ConversationId, TenantId, UserId } from "../../src/domain/Ids.js"
import type { Conversation } from "../../src/domain/Records.js"
import * as RecordStore from "../../src/ports/RecordStore.js"
import { decoding, type Decoding } from "../../src/RagClient.js"
import * as Conversations from "../../src/services/Conversations.js"
import * as Dialogs from "../../src/services/Dialogs.js"
import { aDialog, anId } from "../../src/testing/Records.js"

const TestLayer = Layer.mergeAll(Conversations.layer, Dialogs.layer).pipe(Layer.provideMerge(RecordStore.layerMemory))

const aCaller = () => new Caller({ tenantId: anId<TenantId>(), userId: anId<UserId>() })

/** A caller with a dialog whose prologue is "Hello there". */
const setup = Effect.gen(function* () {
  const store = yield* RecordStore.RecordStore
  const caller = aCaller()
  const dialog = yield* store.dialogs.insert(
    aDialog({ tenant_id: caller.tenantId, prompt_config: { prologue: "Hello there" } })
  )
  return { store, caller, dialog, conversations: decoding(yield* Conversations.Conversations, Conversations.Operations) }
})

const reference = { chunks: [{ id: "c1", content: "text" }], doc_aggs: [{ doc_id: "d1", count: 1 }], total: 1 }

/** prologue, u1, a1, u2, a2 */
const withExchange = (conversations: Decoding<Conversations.ConversationsService, typeof Conversations.Operations>, caller: Caller, id: ConversationId) =>
  conversations.appendMessages(caller, {
    conversation_id: id,
    messages: [
      { role: "user", content: "u1" },
      { role: "assistant", content: "a1", reference },
      { role: "user", content: "u2" },
      { role: "assistant", content: "a2" }
    ]
  })

const contents = (c: Conversation) => c.message.map((m) => m.content)

describe("Conversations", () => {
  layer(TestLayer)((it) => {
    it.effect("a new conversation opens with the dialog's prologue", () =>
      Effect.gen(function* () {
        const { caller, dialog, conversations } = yield* setup
        yield* TestClock.adjust(1_234)
        const now = yield* Clock.currentTimeMillis
        const conv = yield* conversations.create(caller, { dialog_id: dialog.id })
        expect(conv.name).toBe("New conversation")
        expect(conv.dialog_id).toBe(dialog.id)
        expect(conv.tenant_id).toBe(caller.tenantId)
        expect(conv.user_id).toBe(caller.userId)
        expect(conv.message).toHaveLength(1)
        expect(conv.message[0]).toMatchObject({
          role: "assistant",
          content: "Hello there",
          created_at: now,
          reference: null,
          thumbup: null,
          feedback: null
        })
        expect(conv.message[0]!.id).toMatch(/^[0-9a-f]{32}$/)
        expect(yield* conversations.get(caller, { conversation_id: conv.id })).toEqual(conv)

        const named = yield* conversations.create(caller, { dialog_id: dialog.id, name: "  Support  ", user_id: "end-user-7" })
        expect(named.name).toBe("Support")
        expect(named.user_id).toBe("end-user-7")
      }))

    it.effect("a dialog made by Dialogs.create greets with RAGFlow's default prologue; an empty prologue adds no message", () =>
      Effect.gen(function* () {
        const { store, caller, conversations } = yield* setup
        const dialogs = decoding(yield* Dialogs.Dialogs, Dialogs.Operations)
        const made = yield* dialogs.create(caller, { name: "assistant" })
        const conv = yield* conversations.create(caller, { dialog_id: made.id })
        expect(contents(conv)).toEqual(["Hi! I'm your assistant. What can I do for you?"])

        const silent = yield* store.dialogs.insert(aDialog({ tenant_id: caller.tenantId, prompt_config: { prologue: "" } }))
        expect((yield* conversations.create(caller, { dialog_id: silent.id })).message).toEqual([])
      }))

    it.effect("create refuses unknown and foreign dialogs and bad names, writing nothing", () =>
      Effect.gen(function* () {
        const { store, caller, dialog, conversations } = yield* setup
        const other = aCaller()
        const before = yield* store.conversations.count({ tenant_id: other.tenantId })
        const foreign = yield* Effect.flip(conversations.create(other, { dialog_id: dialog.id }))
        expect(foreign).toMatchObject({ _tag: "NotFound", entity: "Dialog", id: dialog.id })
        const unknown = yield* Effect.flip(conversations.create(caller, { dialog_id: anId() }))
        expect(unknown).toMatchObject({ _tag: "NotFound", entity: "Dialog" })
        const junk = yield* Effect.flip(conversations.create(caller, { dialog_id: "junk" }))
        expect(junk).toMatchObject({ _tag: "InvalidInput", field: "dialog_id" })
        const blank = yield* Effect.flip(conversations.create(caller, { dialog_id: dialog.id, name: "  " }))
        expect(blank).toMatchObject({ _tag: "InvalidInput", field: "name" })
        const user = yield* Effect.flip(conversations.create(caller, { dialog_id: dialog.id, user_id: 7 as never }))
        expect(user).toMatchObject({ _tag: "InvalidInput", field: "user_id" })
        expect(yield* store.conversations.count({ tenant_id: other.tenantId })).toBe(before)
        expect(yield* store.conversations.count({ dialog_id: dialog.id })).toBe(0)
      }))

    it.effect("appendMessages adds messages with ids, times and references", () =>
      Effect.gen(function* () {
        const { caller, dialog, conversations } = yield* setup
        const conv = yield* conversations.create(caller, { dialog_id: dialog.id })
        yield* TestClock.adjust(60_000)
        const after = yield* withExchange(conversations, caller, conv.id)
        expect(contents(after)).toEqual(["Hello there", "u1", "a1", "u2", "a2"])
        expect(after.message.map((m) => m.role)).toEqual(["assistant", "user", "assistant", "user", "assistant"])
        expect(new Set(after.message.map((m) => m.id)).size).toBe(5)
        expect(after.message[2]!.reference).toEqual(reference)
        expect(after.message[1]!.reference).toBeNull()
        // The layer's TestClock is shared by the tests of this file: times are relative.
        const t = conv.create_time + 60_000
        expect(after.message.map((m) => m.created_at)).toEqual([conv.create_time, t, t, t, t])
        expect(after.update_time).toBe(t)
        expect(yield* conversations.get(caller, { conversation_id: conv.id })).toEqual(after)

        const bad = yield* Effect.flip(
          conversations.appendMessages(caller, { conversation_id: conv.id, messages: [{ role: "user", content: "ok" }, { role: "robot" as "user", content: "x" }] })
        )
        expect(bad).toMatchObject({ _tag: "InvalidInput", field: "messages[1].role" })
        const malformed: ReadonlyArray<readonly [unknown, string]> = [
          [{ role: "user" }, "messages[0].content"],
          [{ role: "user", content: 7 }, "messages[0].content"],
          [{ role: "assistant", content: "a", reference: "cited" }, "messages[0].reference"]
        ]
        for (const [message, field] of malformed) {
          const refused = yield* Effect.flip(
            conversations.appendMessages(caller, { conversation_id: conv.id, messages: [message as never] })
          )
          expect(refused).toMatchObject({ _tag: "InvalidInput", field })
        }
        const notAList = yield* Effect.flip(conversations.appendMessages(caller, { conversation_id: conv.id, messages: {} as never }))
        expect(notAList).toMatchObject({ _tag: "InvalidInput", field: "messages", message: "messages must be a list" })
        expect(contents(yield* conversations.get(caller, { conversation_id: conv.id }))).toHaveLength(5)
      }))

    it.effect("20 concurrent appends all land", () =>
      Effect.gen(function* () {
        const { caller, dialog, conversations } = yield* setup
        const conv = yield* conversations.create(caller, { dialog_id: dialog.id })
        yield* Effect.forEach(
          Array.from({ length: 20 }, (_, i) => i),
          (i) => conversations.appendMessages(caller, { conversation_id: conv.id, messages: [{ role: "user", content: `q${i}` }] }),
          { concurrency: "unbounded" }
        )
        const after = yield* conversations.get(caller, { conversation_id: conv.id })
        expect(after.message).toHaveLength(21)
        expect(new Set(contents(after))).toEqual(new Set(["Hello there", ...Array.from({ length: 20 }, (_, i) => `q${i}`)]))
      }))

    it.effect("deleteMessage removes a question with its answer, or a lone answer", () =>
      Effect.gen(function* () {
        const { caller, dialog, conversations } = yield* setup
        const conv = yield* conversations.create(caller, { dialog_id: dialog.id })
        const full = yield* withExchange(conversations, caller, conv.id)
        const [, u1, , , a2] = full.message

        const noPair = yield* conversations.deleteMessage(caller, { conversation_id: conv.id, message_id: u1!.id })
        expect(contents(noPair)).toEqual(["Hello there", "u2", "a2"])
        const noAnswer = yield* conversations.deleteMessage(caller, { conversation_id: conv.id, message_id: a2!.id })
        expect(contents(noAnswer)).toEqual(["Hello there", "u2"])
        expect(yield* conversations.get(caller, { conversation_id: conv.id })).toEqual(noAnswer)

        const gone = yield* Effect.flip(conversations.deleteMessage(caller, { conversation_id: conv.id, message_id: u1!.id }))
        expect(gone).toMatchObject({ _tag: "NotFound", entity: "Message", id: u1!.id })
        expect(contents(yield* conversations.get(caller, { conversation_id: conv.id }))).toEqual(["Hello there", "u2"])
      }))

    it.effect("feedback goes on answers only; thumbs up clears the text, thumbs down keeps it", () =>
      Effect.gen(function* () {
        const { caller, dialog, conversations } = yield* setup
        const conv = yield* conversations.create(caller, { dialog_id: dialog.id })
        const full = yield* withExchange(conversations, caller, conv.id)
        const question = full.message[1]!
        const answer = full.message[2]!

        const refused = yield* Effect.flip(conversations.feedback(caller, { conversation_id: conv.id, message_id: question.id, thumbup: true }))
        expect(refused).toMatchObject({ _tag: "InvalidInput", field: "message_id" })
        const notBoolean = yield* Effect.flip(
          conversations.feedback(caller, { conversation_id: conv.id, message_id: answer.id, thumbup: "yes" as never })
        )
        expect(notBoolean).toMatchObject({ _tag: "InvalidInput", field: "thumbup", message: "thumbup must be a boolean" })
        const notText = yield* Effect.flip(
          conversations.feedback(caller, { conversation_id: conv.id, message_id: answer.id, thumbup: false, feedback: 1 as never })
        )
        expect(notText).toMatchObject({ _tag: "InvalidInput", field: "feedback" })
        expect(yield* conversations.get(caller, { conversation_id: conv.id })).toEqual(full)

        const down = yield* conversations.feedback(caller, { conversation_id: conv.id, message_id: answer.id, thumbup: false, feedback: "wrong source" })
        expect(down.message[2]).toMatchObject({ id: answer.id, thumbup: false, feedback: "wrong source", content: "a1" })
        expect(down.message[4]).toMatchObject({ thumbup: null, feedback: null })
        const downAgain = yield* conversations.feedback(caller, { conversation_id: conv.id, message_id: answer.id, thumbup: false })
        expect(downAgain.message[2]).toMatchObject({ thumbup: false, feedback: "wrong source" })

        const up = yield* conversations.feedback(caller, { conversation_id: conv.id, message_id: answer.id, thumbup: true, feedback: "ignored" })
        expect(up.message[2]).toMatchObject({ thumbup: true, feedback: null })
        expect((yield* conversations.get(caller, { conversation_id: conv.id })).message[2]).toMatchObject({ thumbup: true, feedback: null })

        const unknown = yield* Effect.flip(conversations.feedback(caller, { conversation_id: conv.id, message_id: anId(), thumbup: true }))
        expect(unknown).toMatchObject({ _tag: "NotFound", entity: "Message" })
      }))

    it.effect("another tenant cannot see or change a conversation", () =>
      Effect.gen(function* () {
        const { caller, dialog, conversations } = yield* setup
        const conv = yield* conversations.create(caller, { dialog_id: dialog.id })
        const full = yield* withExchange(conversations, caller, conv.id)
        const other = aCaller()
        const answer = full.message[2]!.id

        const attempts = [
          conversations.get(other, { conversation_id: conv.id }),
          conversations.rename(other, { conversation_id: conv.id, name: "mine now" }),
          conversations.appendMessages(other, { conversation_id: conv.id, messages: [{ role: "user", content: "hi" }] }),
          conversations.deleteMessage(other, { conversation_id: conv.id, message_id: answer }),
          conversations.feedback(other, { conversation_id: conv.id, message_id: answer, thumbup: false, feedback: "x" })
        ]
        for (const attempt of attempts) {
          expect(yield* Effect.flip(attempt)).toMatchObject({ _tag: "NotFound", entity: "Conversation", id: conv.id })
        }
        expect(yield* Effect.flip(conversations.list(other, { dialog_id: dialog.id }))).toMatchObject({ _tag: "NotFound", entity: "Dialog" })
        expect(yield* Effect.flip(conversations.remove(other, { dialog_id: dialog.id, conversation_ids: [conv.id] }))).toMatchObject({ _tag: "NotFound" })
        // Same answer as for an id that does not exist at all.
        const unknownId = anId<ConversationId>()
        expect(yield* Effect.flip(conversations.get(caller, { conversation_id: unknownId }))).toMatchObject({
          _tag: "NotFound",
          entity: "Conversation",
          id: unknownId
        })
        expect(yield* conversations.get(caller, { conversation_id: conv.id })).toEqual(full)
      }))

    it.effect("list pages and orders a dialog's conversations", () =>
      Effect.gen(function* () {
        const { store, caller, dialog, conversations } = yield* setup
        const otherDialog = yield* store.dialogs.insert(aDialog({ tenant_id: caller.tenantId }))
        const made: Array<Conversation> = []
        for (const name of ["one", "two", "three"]) {
          made.push(yield* conversations.create(caller, { dialog_id: dialog.id, name }))
          yield* TestClock.adjust(1_000)
        }
        yield* conversations.create(caller, { dialog_id: otherDialog.id, name: "elsewhere" })

        const page = yield* conversations.list(caller, { dialog_id: dialog.id, page_size: 2 })
        expect(page.total).toBe(3)
        expect(page.items.map((c) => c.name)).toEqual(["three", "two"])
        const rest = yield* conversations.list(caller, { dialog_id: dialog.id, page: 2, page_size: 2 })
        expect(rest.items.map((c) => c.name)).toEqual(["one"])
        expect((yield* conversations.list(caller, { dialog_id: dialog.id, desc: false })).items.map((c) => c.name)).toEqual([
          "one",
          "two",
          "three"
        ])
        yield* conversations.appendMessages(caller, { conversation_id: made[0]!.id, messages: [{ role: "user", content: "bump" }] })
        const recent = yield* conversations.list(caller, { dialog_id: dialog.id, orderby: "update_time", page_size: 1 })
        expect(recent.items[0]!.name).toBe("one")
        expect((yield* conversations.list(caller, { dialog_id: dialog.id, name: "two" })).items.map((c) => c.id)).toEqual([made[1]!.id])
        expect((yield* conversations.list(caller, { dialog_id: dialog.id, id: made[2]!.id })).items.map((c) => c.name)).toEqual(["three"])
      }))

    it.effect("list filters by user_id and orders by name", () =>
      Effect.gen(function* () {
        const { caller, dialog, conversations } = yield* setup
        const theirs = yield* conversations.create(caller, { dialog_id: dialog.id, name: "theirs", user_id: "end-user-1" })
        yield* conversations.create(caller, { dialog_id: dialog.id, name: "others", user_id: "end-user-2" })
        yield* conversations.create(caller, { dialog_id: dialog.id, name: "mine" })
        const page = yield* conversations.list(caller, { dialog_id: dialog.id, user_id: "end-user-1" })
        expect([page.total, page.items.map((c) => c.id)]).toEqual([1, [theirs.id]])
        expect((yield* conversations.list(caller, { dialog_id: dialog.id, user_id: caller.userId })).items.map((c) => c.name)).toEqual(["mine"])
        expect((yield* conversations.list(caller, { dialog_id: dialog.id, orderby: "name", desc: false })).items.map((c) => c.name)).toEqual(["mine", "others", "theirs"])
        expect(yield* Effect.flip(conversations.list(caller, { dialog_id: dialog.id, user_id: 7 as never }))).toMatchObject({ _tag: "InvalidInput", field: "user_id" })
      }))

    it.effect("rename trims, refuses an empty name and cuts long names to 255 characters", () =>
      Effect.gen(function* () {
        const { caller, dialog, conversations } = yield* setup
        const conv = yield* conversations.create(caller, { dialog_id: dialog.id })
        expect((yield* conversations.rename(caller, { conversation_id: conv.id, name: "  Travel plans " })).name).toBe("Travel plans")
        expect(yield* Effect.flip(conversations.rename(caller, { conversation_id: conv.id, name: " " }))).toMatchObject({ _tag: "InvalidInput", field: "name" })
        expect((yield* conversations.rename(caller, { conversation_id: conv.id, name: "n".repeat(300) })).name).toHaveLength(255)
        expect((yield* conversations.get(caller, { conversation_id: conv.id })).message).toEqual(conv.message)
      }))

    it.effect("remove deletes conversations of the dialog, all or nothing", () =>
      Effect.gen(function* () {
        const { store, caller, dialog, conversations } = yield* setup
        const otherDialog = yield* store.dialogs.insert(aDialog({ tenant_id: caller.tenantId }))
        const a = yield* conversations.create(caller, { dialog_id: dialog.id })
        const b = yield* conversations.create(caller, { dialog_id: dialog.id })
        const elsewhere = yield* conversations.create(caller, { dialog_id: otherDialog.id })

        const refused = yield* Effect.flip(conversations.remove(caller, { dialog_id: dialog.id, conversation_ids: [a.id, elsewhere.id] }))
        expect(refused).toMatchObject({ _tag: "NotFound", entity: "Conversation", id: elsewhere.id })
        expect(yield* store.conversations.count({ tenant_id: caller.tenantId })).toBe(3)

        expect(yield* conversations.remove(caller, { dialog_id: dialog.id, conversation_ids: [a.id] })).toBe(1)
        expect((yield* Effect.flip(conversations.get(caller, { conversation_id: a.id })))._tag).toBe("NotFound")
        expect((yield* conversations.list(caller, { dialog_id: dialog.id })).items.map((c) => c.id)).toEqual([b.id])
        expect((yield* conversations.get(caller, { conversation_id: elsewhere.id })).id).toBe(elsewhere.id)
        expect(yield* Effect.flip(conversations.remove(caller, { dialog_id: dialog.id, conversation_ids: ["bad"] }))).toMatchObject({
          _tag: "InvalidInput",
          field: "conversation_ids[0]"
        })
      }))
  })
})
