/**
 * Conversations: chat sessions of a dialog, with their messages.
 *
 * A new conversation opens with the dialog's prologue as an assistant message (when the dialog has
 * one), as RAGFlow does. Messages are appended under a row lock, so concurrent appends never lose
 * one. A caller reads and changes only its own tenant's conversations; others are not found.
 */
import { Clock, Context, Effect, Layer, Option, Schema } from "effect"
import type { Caller } from "../domain/Caller.js"
import { invalid, notFound, type InvalidInput, type NotFound, type StoreError } from "../domain/Errors.js"
import { randomHex32, type ConversationId, type DialogId, type MessageId } from "../domain/Ids.js"
import { Conversation, Message, type MessageRole, Reference } from "../domain/Records.js"
import { newStamps, touched } from "../domain/Time.js"
import { RecordStore, type Condition } from "../ports/RecordStore.js"
import { ownRecord } from "./internal/access.js"
import * as validate from "./internal/validate.js"

export const DEFAULT_CONVERSATION_NAME = "New conversation"

export interface CreateConversation {
  readonly dialogId: string
  /** Trimmed, cut to 255 characters; default `New conversation`. */
  readonly name?: string | undefined
  /** Who the conversation is with (an end user of an embedded chat); default the caller's user. */
  readonly userId?: string | undefined
}

export interface ListConversations extends validate.Paging {
  readonly orderby?: "create_time" | "update_time" | undefined
  /** Default true (newest first). */
  readonly desc?: boolean | undefined
  /** Exact name. */
  readonly name?: string | undefined
  readonly id?: string | undefined
}

export interface ConversationPage {
  readonly items: ReadonlyArray<Conversation>
  readonly total: number
}

/** A message to append; its id and `created_at` are assigned. */
export interface NewMessage {
  readonly role: MessageRole
  readonly content: string
  readonly reference?: Reference | null | undefined
}

export interface Feedback {
  /** True clears any feedback text; false records `feedback` when given. */
  readonly thumbup: boolean
  readonly feedback?: string | undefined
}

export interface ConversationsService {
  readonly create: (
    caller: Caller,
    input: CreateConversation
  ) => Effect.Effect<Conversation, InvalidInput | NotFound | StoreError>
  readonly get: (caller: Caller, id: string) => Effect.Effect<Conversation, InvalidInput | NotFound | StoreError>
  /** The dialog's conversations; the dialog must be the caller's. */
  readonly list: (
    caller: Caller,
    dialogId: string,
    query?: ListConversations
  ) => Effect.Effect<ConversationPage, InvalidInput | NotFound | StoreError>
  readonly rename: (
    caller: Caller,
    id: string,
    name: string
  ) => Effect.Effect<Conversation, InvalidInput | NotFound | StoreError>
  /** Deletes conversations of the dialog; all must be its and the caller's, else nothing is deleted. */
  readonly remove: (
    caller: Caller,
    dialogId: string,
    ids: ReadonlyArray<string>
  ) => Effect.Effect<number, InvalidInput | NotFound | StoreError>
  readonly appendMessages: (
    caller: Caller,
    id: string,
    messages: ReadonlyArray<NewMessage>
  ) => Effect.Effect<Conversation, InvalidInput | NotFound | StoreError>
  /** Deletes a message; a user message takes the assistant answer right after it along. */
  readonly deleteMessage: (
    caller: Caller,
    id: string,
    messageId: string
  ) => Effect.Effect<Conversation, InvalidInput | NotFound | StoreError>
  /** Thumbs up or down on an assistant message. */
  readonly feedback: (
    caller: Caller,
    id: string,
    messageId: string,
    feedback: Feedback
  ) => Effect.Effect<Conversation, InvalidInput | NotFound | StoreError>
}

export class Conversations extends Context.Tag("@ragkit/core/Conversations")<Conversations, ConversationsService>() {}

const MAX_NAME = 255

/** A trimmed, non-empty name, cut to 255 characters as RAGFlow does. */
const conversationName = (value: unknown) =>
  Effect.map(validate.name("name", value, Number.MAX_SAFE_INTEGER), (name) => [...name].slice(0, MAX_NAME).join(""))

const isReference = Schema.is(Reference)

const newMessage = (value: unknown, i: number, now: number): Effect.Effect<Message, InvalidInput> =>
  Effect.gen(function* () {
    const field = `messages[${i}]`
    const m = yield* validate.object(field, value)
    const role = yield* validate.oneOf(`${field}.role`, m.role, ["system", "user", "assistant"])
    if (typeof m.content !== "string") {
      return yield* Effect.fail(invalid(`${field}.content`, `${field}.content must be a string`))
    }
    const reference = m.reference ?? null
    if (reference !== null && !isReference(reference)) {
      return yield* Effect.fail(
        invalid(`${field}.reference`, `${field}.reference must be { chunks, doc_aggs, total }`)
      )
    }
    return new Message({
      id: randomHex32() as MessageId,
      role,
      content: m.content,
      created_at: now,
      reference,
      thumbup: null,
      feedback: null
    })
  })

export const make = Effect.gen(function* () {
  const store = yield* RecordStore

  const ownDialog = (caller: Caller, id: DialogId) =>
    Effect.flatMap(ownRecord(store.dialogs, "Dialog", caller, id), (dialog) =>
      dialog.status === "1" ? Effect.succeed(dialog) : Effect.fail(notFound("Dialog", id))
    )

  /** Read-modify-write of one of the caller's conversations under a row lock. */
  const modify = <E>(caller: Caller, id: string, f: (current: Conversation) => Effect.Effect<Conversation, E>) =>
    Effect.gen(function* () {
      const conversationId = yield* validate.id<ConversationId>("conversation_id", id)
      const stamps = yield* touched
      const next = yield* store.conversations.modify(conversationId, (current): Effect.Effect<Conversation, E | NotFound> =>
        current.tenant_id === caller.tenantId
          ? Effect.map(f(current), (c) => new Conversation({ ...c, ...stamps }))
          : Effect.fail(notFound("Conversation", conversationId))
      )
      return yield* Option.match(next, {
        onNone: () => Effect.fail(notFound("Conversation", conversationId)),
        onSome: Effect.succeed
      })
    })

  const withMessages = (c: Conversation, message: ReadonlyArray<Message>) => new Conversation({ ...c, message })

  const create = Effect.fn("Conversations.create")(function* (caller: Caller, input: CreateConversation) {
    const dialogId = yield* validate.id<DialogId>("dialog_id", input.dialogId)
    const name = yield* conversationName(input.name ?? DEFAULT_CONVERSATION_NAME)
    const userId = input.userId === undefined ? caller.userId : input.userId
    if (typeof userId !== "string") return yield* Effect.fail(invalid("user_id", "user_id must be a string"))
    const dialog = yield* ownDialog(caller, dialogId)
    const stamps = yield* newStamps
    const prologue = dialog.prompt_config.prologue
    const message =
      typeof prologue === "string" && prologue !== ""
        ? [
            new Message({
              id: randomHex32() as MessageId,
              role: "assistant",
              content: prologue,
              created_at: stamps.create_time,
              reference: null,
              thumbup: null,
              feedback: null
            })
          ]
        : []
    return yield* store.conversations.insert(
      new Conversation({
        id: randomHex32() as ConversationId,
        dialog_id: dialog.id,
        tenant_id: caller.tenantId,
        user_id: userId,
        name,
        message,
        ...stamps
      })
    )
  })

  const get = Effect.fn("Conversations.get")(function* (caller: Caller, id: string) {
    const conversationId = yield* validate.id<ConversationId>("conversation_id", id)
    return yield* ownRecord(store.conversations, "Conversation", caller, conversationId)
  })

  const list = Effect.fn("Conversations.list")(function* (
    caller: Caller,
    dialogId: string,
    query: ListConversations = {}
  ) {
    const dialog = yield* ownDialog(caller, yield* validate.id<DialogId>("dialog_id", dialogId))
    const { offset, limit } = yield* validate.paging(query)
    const orderBy = yield* validate.oneOf("orderby", query.orderby ?? "create_time", ["create_time", "update_time"])
    const where: Record<string, Condition> = { dialog_id: dialog.id, tenant_id: caller.tenantId }
    if (query.id !== undefined) where.id = yield* validate.id<ConversationId>("id", query.id)
    if (query.name !== undefined) {
      if (typeof query.name !== "string") return yield* Effect.fail(invalid("name", "name must be a string"))
      where.name = query.name
    }
    const page = yield* store.conversations.find({ where, orderBy, desc: query.desc ?? true, offset, limit })
    return { items: page.items, total: page.total }
  })

  const rename = Effect.fn("Conversations.rename")(function* (caller: Caller, id: string, name: string) {
    const newName = yield* conversationName(name)
    return yield* modify(caller, id, (c) => Effect.succeed(new Conversation({ ...c, name: newName })))
  })

  const remove = Effect.fn("Conversations.remove")(function* (
    caller: Caller,
    dialogId: string,
    ids: ReadonlyArray<string>
  ) {
    const dialog = yield* validate.id<DialogId>("dialog_id", dialogId)
    if (!Array.isArray(ids)) return yield* Effect.fail(invalid("ids", "ids must be an array of ids"))
    const conversationIds = yield* validate.ids<ConversationId>("ids", ids)
    return yield* store.transaction(
      Effect.gen(function* () {
        yield* ownDialog(caller, dialog)
        if (conversationIds.length === 0) return 0
        const found = yield* store.conversations.getMany(conversationIds)
        const ok = new Set(
          found.filter((c) => c.tenant_id === caller.tenantId && c.dialog_id === dialog).map((c) => c.id)
        )
        const missing = conversationIds.find((id) => !ok.has(id))
        if (missing !== undefined) return yield* Effect.fail(notFound("Conversation", missing))
        return yield* store.conversations.remove(conversationIds)
      })
    )
  })

  const appendMessages = Effect.fn("Conversations.appendMessages")(function* (
    caller: Caller,
    id: string,
    messages: ReadonlyArray<NewMessage>
  ) {
    if (!Array.isArray(messages)) return yield* Effect.fail(invalid("messages", "messages must be an array"))
    const now = yield* Clock.currentTimeMillis
    const added = yield* Effect.forEach(messages, (m: unknown, i) => newMessage(m, i, now))
    return yield* modify(caller, id, (c) => Effect.succeed(withMessages(c, [...c.message, ...added])))
  })

  const deleteMessage = Effect.fn("Conversations.deleteMessage")(function* (
    caller: Caller,
    id: string,
    messageId: string
  ) {
    const target = yield* validate.id<MessageId>("message_id", messageId)
    return yield* modify(caller, id, (c): Effect.Effect<Conversation, NotFound> => {
      const i = c.message.findIndex((m) => m.id === target)
      if (i < 0) return Effect.fail(notFound("Message", target))
      const pair = c.message[i]!.role === "user" && c.message[i + 1]?.role === "assistant"
      const message = c.message.filter((_, j) => j !== i && !(pair && j === i + 1))
      return Effect.succeed(withMessages(c, message))
    })
  })

  const feedback = Effect.fn("Conversations.feedback")(function* (
    caller: Caller,
    id: string,
    messageId: string,
    input: Feedback
  ) {
    const target = yield* validate.id<MessageId>("message_id", messageId)
    if (typeof input?.thumbup !== "boolean") {
      return yield* Effect.fail(invalid("thumbup", "thumbup must be a boolean"))
    }
    if (input.feedback !== undefined && typeof input.feedback !== "string") {
      return yield* Effect.fail(invalid("feedback", "feedback must be a string"))
    }
    return yield* modify(caller, id, (c): Effect.Effect<Conversation, NotFound | InvalidInput> => {
      const i = c.message.findIndex((m) => m.id === target)
      if (i < 0) return Effect.fail(notFound("Message", target))
      const m = c.message[i]!
      if (m.role !== "assistant") {
        return Effect.fail(invalid("message_id", "Only answers of the assistant take feedback"))
      }
      const updated = input.thumbup
        ? new Message({ ...m, thumbup: true, feedback: null })
        : new Message({
            ...m,
            thumbup: false,
            feedback: input.feedback !== undefined && input.feedback !== "" ? input.feedback : m.feedback
          })
      return Effect.succeed(withMessages(c, c.message.map((x, j) => (j === i ? updated : x))))
    })
  })

  return Conversations.of({ create, get, list, rename, remove, appendMessages, deleteMessage, feedback })
})

export const layer: Layer.Layer<Conversations, never, RecordStore> = Layer.effect(Conversations, make)
