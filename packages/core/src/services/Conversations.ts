/**
 * Conversations: chat sessions of a dialog, with their messages.
 *
 * A new conversation opens with the dialog's prologue as an assistant message (when the dialog has
 * one), as RAGFlow does. Messages are appended under a row lock, so concurrent appends never lose
 * one. A caller reads and changes only its own tenant's conversations (and a dialog-scoped caller,
 * `Caller.dialogId`, only its dialog's); others are not found.
 *
 * A client may name a new conversation (`conversation_id`: RAGFlow's web client makes the id), and
 * `set` is the seed's `conversations/set`: with `is_new` it creates the conversation, otherwise it
 * renames an existing one (RAGFlow's `update_by_id`).
 */
import { Clock, Context, Effect, Layer, Option, Schema } from "effect"
import type { Caller } from "../domain/Caller.js"
import { AlreadyExists, invalid, notFound, type InvalidInput, type NotFound, type StoreError } from "../domain/Errors.js"
import * as Fields from "../domain/Fields.js"
import { ConversationId, DialogId, MessageId, randomHex32 } from "../domain/Ids.js"
import { Conversation, type Dialog, Message, MessageRole, Reference } from "../domain/Records.js"
import { newStamps, touched } from "../domain/Time.js"
import { RecordStore, type Condition } from "../ports/RecordStore.js"
import { inDialogScope, ownRecord } from "./internal/access.js"

export const DEFAULT_CONVERSATION_NAME = "New conversation"

// ---------------------------------------------------------------------------------------------
// Requests and results

/** A trimmed, non-empty name; a longer one is cut to 255 characters, as RAGFlow does. */
const ConversationName = Schema.transform(Fields.String, Fields.Name(255), {
  strict: true,
  decode: (name) => [...name.trim()].slice(0, 255).join(""),
  encode: (name) => name
})

export const CreateRequest = Schema.Struct({
  dialog_id: DialogId,
  /** The new conversation's id, when the client makes it (a 32-hex id); `AlreadyExists` when taken. */
  conversation_id: Schema.optional(ConversationId),
  name: Schema.optionalWith(ConversationName, { default: () => DEFAULT_CONVERSATION_NAME }),
  /** Who the conversation is with (an end user of an embedded chat); default the caller's user. */
  user_id: Schema.optional(Fields.Text(255))
})
export type CreateRequest = typeof CreateRequest.Type

/**
 * The seed's `conversations/set`: `is_new` true creates the conversation (`create`, with the
 * client's `conversation_id` when given); false renames `conversation_id` (`name` absent keeps
 * the name), which must be a conversation of `dialog_id`. Absent `is_new` creates when no
 * `conversation_id` is given and renames otherwise.
 */
export const SetRequest = Schema.Struct({
  dialog_id: DialogId,
  conversation_id: Schema.optional(ConversationId),
  is_new: Schema.optional(Fields.Boolean),
  name: Schema.optional(ConversationName),
  user_id: Schema.optional(Fields.Text(255))
})
export type SetRequest = typeof SetRequest.Type

/** One conversation of the caller's tenant. */
export const ConversationRequest = Schema.Struct({ conversation_id: ConversationId })
export type ConversationRequest = typeof ConversationRequest.Type

/** The dialog's conversations; the dialog must be the caller's. */
export const ListRequest = Schema.Struct({
  dialog_id: DialogId,
  ...Fields.paging(),
  /** `name` orders by the name as stored (RAGFlow's REST lists offer it). */
  ...Fields.ordering("create_time", "update_time", "name"),
  id: Schema.optional(ConversationId),
  /** Exact name. */
  name: Schema.optional(Fields.Text(255)),
  /** Exact `user_id` (who the conversation is with). */
  user_id: Schema.optional(Fields.Text(255))
})
export type ListRequest = typeof ListRequest.Type

export const ListResult = Fields.Page(Conversation)
export type ListResult = typeof ListResult.Type

export const RenameRequest = Schema.Struct({ conversation_id: ConversationId, name: ConversationName })
export type RenameRequest = typeof RenameRequest.Type

export const RemoveRequest = Schema.Struct({ dialog_id: DialogId, conversation_ids: Fields.IdList(ConversationId) })
export type RemoveRequest = typeof RemoveRequest.Type

/** How many conversations were deleted. */
export const RemoveResult = Fields.Count

/** A message to append; its id and `created_at` are assigned. */
export const NewMessage = Schema.Struct({
  role: MessageRole,
  content: Fields.Text(1_000_000),
  /** For assistant messages: the chunks the answer cites. */
  reference: Schema.optional(Schema.NullOr(Reference))
})
export type NewMessage = typeof NewMessage.Type

export const AppendMessagesRequest = Schema.Struct({ conversation_id: ConversationId, messages: Fields.List(NewMessage) })
export type AppendMessagesRequest = typeof AppendMessagesRequest.Type

export const DeleteMessageRequest = Schema.Struct({ conversation_id: ConversationId, message_id: MessageId })
export type DeleteMessageRequest = typeof DeleteMessageRequest.Type

export const FeedbackRequest = Schema.Struct({
  conversation_id: ConversationId,
  message_id: MessageId,
  /** True clears any feedback text; false records `feedback` when given. */
  thumbup: Fields.Boolean,
  feedback: Schema.optional(Fields.Text(65_535))
})
export type FeedbackRequest = typeof FeedbackRequest.Type

/** A message of a client's history: its id is kept when it sends one. */
export interface SentMessage {
  readonly id?: MessageId | undefined
  readonly role: MessageRole
  readonly content: string
}

/** What a completion stores when its answer ends (not an operation: `Completions` calls it). */
export interface StoreExchangeRequest {
  readonly conversation_id: ConversationId
  /** The dialog a conversation that does not exist yet is created for. */
  readonly dialog_id: DialogId
  /** The name of a conversation created now. */
  readonly name: string
  /** The history the client sent, ending with the question: it replaces the stored messages. */
  readonly sent: ReadonlyArray<SentMessage>
  /** The answer, appended. */
  readonly answer: Message
}

/**
 * The stored history replaced by the one a client sent. A sent message with the id of a stored
 * message of the same role keeps that message's time, reference and feedback (the client sends
 * contents, the engine keeps what it added); others get a fresh id (when they have none) and `now`.
 */
export const replaceHistory = (
  stored: ReadonlyArray<Message>,
  sent: ReadonlyArray<SentMessage>,
  now: number
): ReadonlyArray<Message> => {
  const byId = new Map(stored.map((m) => [m.id as string, m]))
  return sent.map((m) => {
    const known = m.id === undefined ? undefined : byId.get(m.id)
    if (known !== undefined && known.role === m.role) return new Message({ ...known, content: m.content })
    return new Message({
      id: m.id ?? (randomHex32() as MessageId),
      role: m.role,
      content: m.content,
      created_at: now,
      reference: null,
      thumbup: null,
      feedback: null
    })
  })
}

/** Each method's request and result, for the surfaces that decode what callers send. */
export const Operations = {
  create: Fields.operation(CreateRequest, Conversation),
  set: Fields.operation(SetRequest, Conversation),
  get: Fields.operation(ConversationRequest, Conversation),
  list: Fields.operation(ListRequest, ListResult),
  rename: Fields.operation(RenameRequest, Conversation),
  remove: Fields.operation(RemoveRequest, RemoveResult),
  appendMessages: Fields.operation(AppendMessagesRequest, Conversation),
  deleteMessage: Fields.operation(DeleteMessageRequest, Conversation),
  feedback: Fields.operation(FeedbackRequest, Conversation)
}

// ---------------------------------------------------------------------------------------------
// The service

export interface ConversationsService {
  /** A new conversation of the dialog; `AlreadyExists` when the client's `conversation_id` is taken. */
  readonly create: (caller: Caller, request: CreateRequest) => Effect.Effect<Conversation, AlreadyExists | NotFound | StoreError>
  /** Creates or renames (see `SetRequest`); `InvalidInput` on `conversation_id` when renaming without one. */
  readonly set: (
    caller: Caller,
    request: SetRequest
  ) => Effect.Effect<Conversation, AlreadyExists | InvalidInput | NotFound | StoreError>
  readonly get: (caller: Caller, request: ConversationRequest) => Effect.Effect<Conversation, NotFound | StoreError>
  readonly list: (caller: Caller, request: ListRequest) => Effect.Effect<ListResult, NotFound | StoreError>
  readonly rename: (caller: Caller, request: RenameRequest) => Effect.Effect<Conversation, NotFound | StoreError>
  /** Deletes conversations of the dialog; all must be its and the caller's, else nothing is deleted. */
  readonly remove: (caller: Caller, request: RemoveRequest) => Effect.Effect<number, NotFound | StoreError>
  readonly appendMessages: (
    caller: Caller,
    request: AppendMessagesRequest
  ) => Effect.Effect<Conversation, NotFound | StoreError>
  /** Deletes a message; a user message takes the assistant answer right after it along. */
  readonly deleteMessage: (
    caller: Caller,
    request: DeleteMessageRequest
  ) => Effect.Effect<Conversation, NotFound | StoreError>
  /** Thumbs up or down on an assistant message; other messages are refused (`InvalidInput` on `message_id`). */
  readonly feedback: (
    caller: Caller,
    request: FeedbackRequest
  ) => Effect.Effect<Conversation, InvalidInput | NotFound | StoreError>
  /**
   * Replaces the conversation's messages with the sent history and the answer (`replaceHistory`),
   * under the row lock. A conversation that does not exist yet is created for the dialog with this
   * id and name (opening with the dialog's prologue unless the history starts with an assistant
   * message). Not an operation: the completion calls it when its answer ends.
   */
  readonly storeExchange: (caller: Caller, request: StoreExchangeRequest) => Effect.Effect<Conversation, NotFound | StoreError>
}

export class Conversations extends Context.Tag("@ragkit/core/Conversations")<Conversations, ConversationsService>() {}

export const make = Effect.gen(function* () {
  const store = yield* RecordStore

  const ownDialog = (caller: Caller, id: DialogId) =>
    Effect.flatMap(ownRecord(store.dialogs, "Dialog", caller, id), (dialog) =>
      dialog.status === "1" ? Effect.succeed(dialog) : Effect.fail(notFound("Dialog", id))
    )

  /** Read-modify-write of one of the caller's conversations under a row lock. */
  const modify = <E>(caller: Caller, id: ConversationId, f: (current: Conversation) => Effect.Effect<Conversation, E>) =>
    Effect.gen(function* () {
      const stamps = yield* touched
      const next = yield* store.conversations.modify(id, (current): Effect.Effect<Conversation, E | NotFound> =>
        current.tenant_id === caller.tenantId && inDialogScope(caller, "Conversation", current)
          ? Effect.map(f(current), (c) => new Conversation({ ...c, ...stamps }))
          : Effect.fail(notFound("Conversation", id))
      )
      return yield* Option.match(next, { onNone: () => Effect.fail(notFound("Conversation", id)), onSome: Effect.succeed })
    })

  const withMessages = (c: Conversation, message: ReadonlyArray<Message>) => new Conversation({ ...c, message })

  /** The dialog's prologue as the first message of a new conversation, when it has one. */
  const prologueOf = (dialog: Dialog, now: number): ReadonlyArray<Message> => {
    const prologue = dialog.prompt_config.prologue
    return typeof prologue === "string" && prologue !== ""
      ? [
          new Message({
            id: randomHex32() as MessageId,
            role: "assistant",
            content: prologue,
            created_at: now,
            reference: null,
            thumbup: null,
            feedback: null
          })
        ]
      : []
  }

  const create = Effect.fn("Conversations.create")(function* (caller: Caller, request: CreateRequest) {
    const dialog = yield* ownDialog(caller, request.dialog_id)
    const stamps = yield* newStamps
    const id = request.conversation_id ?? (randomHex32() as ConversationId)
    return yield* store.conversations
      .insert(
        new Conversation({
          id,
          dialog_id: dialog.id,
          tenant_id: caller.tenantId,
          user_id: request.user_id ?? caller.userId,
          name: request.name,
          message: prologueOf(dialog, stamps.create_time),
          ...stamps
        })
      )
      .pipe(
        Effect.catchIf(
          (e) => e.reason === "Conflict",
          () =>
            Effect.fail(
              new AlreadyExists({ entity: "Conversation", field: "conversation_id", value: id, message: `conversation ${id} already exists` })
            )
        )
      )
  })

  const set = Effect.fn("Conversations.set")(function* (caller: Caller, request: SetRequest) {
    const { conversation_id, dialog_id, name, user_id } = request
    if (request.is_new ?? conversation_id === undefined) {
      return yield* create(caller, {
        dialog_id,
        name: name ?? DEFAULT_CONVERSATION_NAME,
        ...(conversation_id === undefined ? {} : { conversation_id }),
        ...(user_id === undefined ? {} : { user_id })
      })
    }
    if (conversation_id === undefined) return yield* Effect.fail(invalid("conversation_id", "conversation_id is required unless is_new is true"))
    yield* ownDialog(caller, dialog_id)
    return yield* modify(caller, conversation_id, (c) =>
      c.dialog_id !== dialog_id
        ? Effect.fail(notFound("Conversation", conversation_id))
        : Effect.succeed(name === undefined ? c : new Conversation({ ...c, name }))
    )
  })

  const get = Effect.fn("Conversations.get")(function* (caller: Caller, request: ConversationRequest) {
    return yield* ownRecord(store.conversations, "Conversation", caller, request.conversation_id)
  })

  const list = Effect.fn("Conversations.list")(function* (caller: Caller, request: ListRequest) {
    const dialog = yield* ownDialog(caller, request.dialog_id)
    const where: Record<string, Condition> = { dialog_id: dialog.id, tenant_id: caller.tenantId }
    if (request.id !== undefined) where.id = request.id
    if (request.name !== undefined) where.name = request.name
    if (request.user_id !== undefined) where.user_id = request.user_id
    const page = yield* store.conversations.find({
      where,
      orderBy: request.orderby,
      desc: request.desc,
      offset: (request.page - 1) * request.page_size,
      limit: request.page_size
    })
    return { items: page.items, total: page.total }
  })

  const rename = Effect.fn("Conversations.rename")(function* (caller: Caller, request: RenameRequest) {
    return yield* modify(caller, request.conversation_id, (c) => Effect.succeed(new Conversation({ ...c, name: request.name })))
  })

  const remove = Effect.fn("Conversations.remove")(function* (caller: Caller, request: RemoveRequest) {
    const { dialog_id, conversation_ids } = request
    return yield* store.transaction(
      Effect.gen(function* () {
        yield* ownDialog(caller, dialog_id)
        if (conversation_ids.length === 0) return 0
        const found = yield* store.conversations.getMany(conversation_ids)
        const ok = new Set(found.filter((c) => c.tenant_id === caller.tenantId && c.dialog_id === dialog_id).map((c) => c.id))
        const missing = conversation_ids.find((id) => !ok.has(id))
        if (missing !== undefined) return yield* Effect.fail(notFound("Conversation", missing))
        return yield* store.conversations.remove(conversation_ids)
      })
    )
  })

  const appendMessages = Effect.fn("Conversations.appendMessages")(function* (caller: Caller, request: AppendMessagesRequest) {
    const now = yield* Clock.currentTimeMillis
    const added = request.messages.map(
      (m) =>
        new Message({
          id: randomHex32() as MessageId,
          role: m.role,
          content: m.content,
          created_at: now,
          reference: m.reference ?? null,
          thumbup: null,
          feedback: null
        })
    )
    return yield* modify(caller, request.conversation_id, (c) => Effect.succeed(withMessages(c, [...c.message, ...added])))
  })

  const deleteMessage = Effect.fn("Conversations.deleteMessage")(function* (caller: Caller, request: DeleteMessageRequest) {
    const target = request.message_id
    return yield* modify(caller, request.conversation_id, (c): Effect.Effect<Conversation, NotFound> => {
      const i = c.message.findIndex((m) => m.id === target)
      if (i < 0) return Effect.fail(notFound("Message", target))
      const pair = c.message[i]!.role === "user" && c.message[i + 1]?.role === "assistant"
      const message = c.message.filter((_, j) => j !== i && !(pair && j === i + 1))
      return Effect.succeed(withMessages(c, message))
    })
  })

  const feedback = Effect.fn("Conversations.feedback")(function* (caller: Caller, request: FeedbackRequest) {
    const target = request.message_id
    return yield* modify(caller, request.conversation_id, (c): Effect.Effect<Conversation, NotFound | InvalidInput> => {
      const i = c.message.findIndex((m) => m.id === target)
      if (i < 0) return Effect.fail(notFound("Message", target))
      const m = c.message[i]!
      if (m.role !== "assistant") {
        return Effect.fail(invalid("message_id", "Only answers of the assistant take feedback"))
      }
      const updated = request.thumbup
        ? new Message({ ...m, thumbup: true, feedback: null })
        : new Message({
            ...m,
            thumbup: false,
            feedback: request.feedback !== undefined && request.feedback !== "" ? request.feedback : m.feedback
          })
      return Effect.succeed(withMessages(c, c.message.map((x, j) => (j === i ? updated : x))))
    })
  })

  const storeExchange = Effect.fn("Conversations.storeExchange")(function* (caller: Caller, request: StoreExchangeRequest) {
    const now = yield* Clock.currentTimeMillis
    const history = (stored: ReadonlyArray<Message>) => [...replaceHistory(stored, request.sent, now), request.answer]
    const stored = yield* store.conversations.get(request.conversation_id)
    if (Option.isSome(stored)) {
      return yield* modify(caller, request.conversation_id, (c) => Effect.succeed(withMessages(c, history(c.message))))
    }
    const dialog = yield* ownDialog(caller, request.dialog_id)
    const stamps = yield* newStamps
    const opening = request.sent[0]?.role === "assistant" ? [] : prologueOf(dialog, stamps.create_time)
    return yield* store.conversations.insert(
      new Conversation({
        id: request.conversation_id,
        dialog_id: dialog.id,
        tenant_id: caller.tenantId,
        user_id: caller.userId,
        name: [...request.name.trim()].slice(0, 255).join("") || DEFAULT_CONVERSATION_NAME,
        message: [...opening, ...history([])],
        ...stamps
      })
    )
  })

  return Conversations.of({ create, set, get, list, rename, remove, appendMessages, deleteMessage, feedback, storeExchange })
})

export const layer: Layer.Layer<Conversations, never, RecordStore> = Layer.effect(Conversations, make)
