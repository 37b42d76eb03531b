/**
 * Sessions, completions and messages (REST): RAGFlow's chat sessions at
 * `/api/v1/chats/{chat_id}/sessions`, over `Conversations` (a session is a conversation;
 * `chat_id` is its `dialog_id`, `messages` its `message`) and `Completions`. Answers carry
 * `message: "success"`. A chat that is not the caller's is code 109 `no authorization` (RAGFlow's);
 * a session that is not the chat's is 102 `Session not found!`.
 *
 * - `POST .../sessions` (`name`, default "New session"; `user_id`, default the caller's user);
 *   `GET .../sessions` (`page`, `page_size` (0: none), `orderby`, `desc`, `id`, `name`, `user_id`)
 *   -> a list; `GET .../sessions/{session_id}` (with the chat's icon as `avatar`);
 *   `PATCH`/`PUT .../sessions/{session_id}` (`name`; `messages` and `reference` can't be changed);
 *   `DELETE .../sessions` (`{ ids }` or `{ delete_all: true }`, all or nothing) -> `true`.
 * - `DELETE .../sessions/{sid}/messages/{mid}`: a question goes with its answer;
 *   `PUT .../messages/{mid}/feedback` (`thumbup` boolean, `feedback`): on an answer, or on the
 *   question's answer when `mid` is a question's (RAGFlow gives the two one id). An unknown
 *   message leaves the session as it is (RAGFlow's). Both answer the session.
 * - Completions: `POST /chats/{chat_id}/completions` and `POST /chat/completions` (`chat_id` in
 *   the body). `question` or `messages` (RAGFlow's checks: system messages and leading assistant
 *   ones are dropped, the last must be the user's); `session_id` continues a session, whose
 *   stored history is kept and the question appended (`pass_all_history_messages: true` sends the
 *   whole history instead); without it a session "New session" is made first. `llm_id`,
 *   `temperature`, `top_p`, `frequency_penalty`, `presence_penalty`, `max_tokens` apply to this
 *   answer; other top-level strings are values of the prompt's parameters. `stream` (default true)
 *   answers `text/event-stream` frames `data:{"code":0,"message":"","data":{answer, reference, id,
 *   session_id, chat_id, final}}`, one per piece of the answer, then the stored answer's (`final`
 *   true, `answer` empty, with `reference`, `message_id` and `usage`), then
 *   `data:{"code":0,"message":"","data":true}`; a failure during the answer is a frame with code
 *   500 before the last one. `id` is the question's message id (RAGFlow's), `message_id` the
 *   answer's. Without `stream`, one answer `{answer, reference, id, message_id, session_id, chat_id, usage}`.
 * - `POST /chats/{chat_id}/completion` (singular), as the seed's Python guide calls it
 *   (`json={"messages": ...}`, reading `data.answer`): the same, but without `stream` it answers
 *   one JSON body (as the guide reads it).
 * - `POST /chat/completions` without `chat_id` (RAGFlow's chat with the tenant's default model and
 *   no assistant) is not served: code 101 `` `chat_id` is required ``.
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpServerResponse } from "@effect/platform"
import { type Caller, Completions, Conversation, Conversations, type Dialog, DialogId, Dialogs, Message, Models, randomHex32 } from "@ragkit/core"
import { Effect, Schema, Stream } from "effect"
import * as Group from "../Group.js"
import { currentRequestId } from "../RequestId.js"
import {
  ConversationView,
  conversationView,
  failureFrame,
  frame,
  inRequest,
  messageIdOf,
  noReference,
  started
} from "../seed/Conversations.js"
import { listParams, listQuery, ownChat } from "./Chats.js"
import * as Rest from "./Rest.js"
import { Authentication } from "./RestAuth.js"

const { dialog_id: _dialogId, message: _message, ...sessionFields } = ConversationView.fields

/** A session as RAGFlow shows it: the conversation with `chat_id` and `messages`. */
export const SessionView = Schema.Struct({
  ...sessionFields,
  chat_id: DialogId,
  messages: Schema.Array(Message)
}).annotations({ identifier: "RagflowSession" })

export const sessionView = (c: Conversation): typeof SessionView.Type => {
  const { dialog_id, message, ...rest } = conversationView(c)
  return { ...rest, chat_id: dialog_id, messages: message }
}

/** The answer without streaming. */
export const AnswerView = Schema.Struct({
  answer: Schema.String,
  reference: Completions.CompletionReference,
  id: Schema.String,
  message_id: Schema.String,
  session_id: Schema.String,
  chat_id: Schema.String,
  usage: Completions.Usage,
  incomplete: Schema.Boolean
}).annotations({ identifier: "RagflowAnswer" })

const generationKeys = ["temperature", "top_p", "frequency_penalty", "presence_penalty", "max_tokens"] as const
const completionFields = Group.loose(
  "chat_id",
  "question",
  "messages",
  "session_id",
  "conversation_id",
  "stream",
  "llm_id",
  "user_id",
  "pass_all_history_messages",
  "pass_all_history",
  ...generationKeys
)
/** Other keys are prompt parameters' values. */
const CompletionPayload = Schema.Struct(completionFields, Schema.Record({ key: Schema.String, value: Schema.Unknown }))
type CompletionPayload = typeof CompletionPayload.Type

const ChatPath = Schema.Struct({ chat_id: Schema.String })
const SessionPath = Schema.Struct({ chat_id: Schema.String, session_id: Schema.String })
const MessagePath = Schema.Struct({ chat_id: Schema.String, session_id: Schema.String, message_id: Schema.String })
const Session = Rest.Reply(Rest.Ok(SessionView))
/** PATCH and PUT of a session take the same fields. */
const SessionUpdate = Schema.Struct(Group.loose("name", "messages", "message", "reference"))
const Answer = Rest.Reply(Rest.Ok(AnswerView))

export const group = Rest.group("restSessions")
  .add(
    HttpApiEndpoint.post("createSession", "/api/v1/chats/:chat_id/sessions")
      .setPath(ChatPath)
      .setPayload(Schema.Struct(Group.loose("name", "user_id")))
      .addSuccess(Session)
  )
  .add(
    HttpApiEndpoint.get("listSessions", "/api/v1/chats/:chat_id/sessions")
      .setPath(ChatPath)
      .setUrlParams(listParams("user_id"))
      .addSuccess(Rest.Reply(Rest.Ok(Schema.Array(SessionView))))
  )
  .add(
    HttpApiEndpoint.get("getSession", "/api/v1/chats/:chat_id/sessions/:session_id")
      .setPath(SessionPath)
      .addSuccess(Rest.Reply(Rest.Ok(Schema.Struct({ ...SessionView.fields, avatar: Schema.String }))))
  )
  .add(
    HttpApiEndpoint.patch("patchSession", "/api/v1/chats/:chat_id/sessions/:session_id")
      .setPath(SessionPath)
      .setPayload(SessionUpdate)
      .addSuccess(Session)
  )
  .add(
    HttpApiEndpoint.put("updateSession", "/api/v1/chats/:chat_id/sessions/:session_id")
      .setPath(SessionPath)
      .setPayload(SessionUpdate)
      .addSuccess(Session)
  )
  .add(
    HttpApiEndpoint.del("deleteSessions", "/api/v1/chats/:chat_id/sessions")
      .setPath(ChatPath)
      .setPayload(Schema.Struct(Group.loose("ids", "delete_all")))
      .addSuccess(Rest.Reply(Rest.Ok(Schema.Union(Schema.Boolean, Schema.Struct({})))))
  )
  .add(
    HttpApiEndpoint.del("deleteMessage", "/api/v1/chats/:chat_id/sessions/:session_id/messages/:message_id")
      .setPath(MessagePath)
      .addSuccess(Session)
  )
  .add(
    HttpApiEndpoint.put("messageFeedback", "/api/v1/chats/:chat_id/sessions/:session_id/messages/:message_id/feedback")
      .setPath(MessagePath)
      .setPayload(Schema.Struct(Group.loose("thumbup", "feedback")))
      .addSuccess(Session)
  )
  .add(
    HttpApiEndpoint.post("chatCompletions", "/api/v1/chats/:chat_id/completions")
      .setPath(ChatPath)
      .setPayload(CompletionPayload)
      .addSuccess(Answer)
  )
  .add(
    HttpApiEndpoint.post("chatCompletion", "/api/v1/chats/:chat_id/completion")
      .setPath(ChatPath)
      .setPayload(CompletionPayload)
      .addSuccess(Answer)
  )
  .add(HttpApiEndpoint.post("completions", "/api/v1/chat/completions").setPayload(CompletionPayload).addSuccess(Answer))
  .middleware(Authentication)

const Api = HttpApi.make("ragkit").add(group)

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

/** RAGFlow's `_get_bool_request_flag`. */
const flag = (value: unknown): boolean =>
  typeof value === "string" ? ["1", "true", "yes", "on"].includes(value.trim().toLowerCase()) : Boolean(value)

/** RAGFlow's `_normalize_completion_messages`: the messages to answer (system and leading assistant ones dropped). */
const normalizedMessages = (payload: CompletionPayload) =>
  Effect.gen(function* () {
    let messages: unknown = payload.messages
    if (messages === undefined || messages === null) {
      if (payload.question === undefined || payload.question === null) return yield* Rest.argument("required argument are missing: messages")
      messages = [{ role: "user", content: payload.question }]
    }
    if (!Array.isArray(messages) || messages.length === 0) return yield* Rest.argument("`messages` must be a non-empty list.")
    if (!messages.every(isObject)) return yield* Rest.argument("Every item in `messages` must be an object.")
    if (!messages.every((m) => "role" in m && "content" in m)) {
      return yield* Rest.argument("Every item in `messages` must include `role` and `content`.")
    }
    const kept: Array<Record<string, unknown>> = []
    for (const m of messages) {
      if (m.role === "system" || (m.role === "assistant" && kept.length === 0)) continue
      kept.push(m)
    }
    if (kept.length === 0) return yield* Rest.argument("`messages` must contain a user message.")
    if (kept[kept.length - 1]!.role !== "user") return yield* Rest.argument("The last message must be from user.")
    return kept
  })

const sent = (m: Record<string, unknown>) => Group.defined({ id: messageIdOf(m.id ?? undefined), role: m.role, content: m.content })

const sseHeaders = {
  contentType: "text/event-stream; charset=utf-8",
  headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
}

export const live = HttpApiBuilder.group(Api, "restSessions", (handlers) =>
  Effect.gen(function* () {
    const dialogs = yield* Dialogs.Dialogs
    const conversations = yield* Conversations.Conversations
    const completions = yield* Completions.Completions
    const models = yield* Models.Models

    /** The chat's session `sessionId`; RAGFlow's messages when it is none or another chat's. */
    const sessionOf = (caller: Caller, chat: Dialog, sessionId: unknown, otherChat = "Session not found!") =>
      Rest.decode(Conversations.ConversationRequest, { conversation_id: sessionId }).pipe(
        Effect.flatMap((request) => conversations.get(caller, request)),
        Effect.catchTags({ RestFailure: () => Rest.data("Session not found!"), NotFound: () => Rest.data("Session not found!") }),
        Effect.filterOrElse((c) => c.dialog_id === chat.id, () => Rest.data(otherChat))
      )

    /** The caller's chat and its session, from a route's path. */
    const target = (path: { readonly chat_id: string; readonly session_id: string }, otherChat?: string) =>
      Effect.gen(function* () {
        const caller = yield* Rest.caller
        const chat = yield* ownChat(dialogs, caller, path.chat_id)
        return { caller, chat, session: yield* sessionOf(caller, chat, path.session_id, otherChat) }
      })

    const rename = (path: typeof SessionPath.Type, payload: { readonly name?: unknown; readonly messages?: unknown; readonly message?: unknown; readonly reference?: unknown }) =>
      Rest.respond(Effect.gen(function* () {
        const { caller, session } = yield* target(path)
        if (payload.messages !== undefined || payload.message !== undefined) return yield* Rest.data("`messages` cannot be changed")
        if (payload.reference !== undefined) return yield* Rest.data("`reference` cannot be changed")
        if (payload.name === undefined || payload.name === null) return Rest.okWithMessage(sessionView(session))
        if (typeof payload.name !== "string" || payload.name.trim() === "") return yield* Rest.data("`name` can not be empty")
        const renamed = yield* conversations.rename(caller, yield* Rest.decode(Conversations.RenameRequest, { conversation_id: session.id, name: payload.name }))
        return Rest.okWithMessage(sessionView(renamed))
      }))

    /** RAGFlow's `session_completion`; `streamDefault` is what an absent `stream` means. */
    const complete = (chatId: unknown, payload: CompletionPayload, streamDefault: boolean) =>
      Rest.respond(Effect.gen(function* () {
        const caller = yield* Rest.caller
        const messages = yield* normalizedMessages(payload)
        const sessionId = payload.session_id || payload.conversation_id || undefined
        if (chatId === undefined || chatId === null || chatId === "") {
          if (sessionId !== undefined) return yield* Rest.data("`chat_id` is required when `session_id` is provided.")
          return yield* Rest.argument("`chat_id` is required")
        }
        if (typeof chatId !== "string") return yield* Rest.argument("`chat_id` must be a string")
        const chat = yield* ownChat(dialogs, caller, chatId)
        const question = messages[messages.length - 1]!
        const questionId = (messageIdOf(question.id) ?? randomHex32()) as string
        const asked = { ...sent(question), id: questionId }
        const known = new Set(Object.keys(completionFields))
        const parameters = Object.fromEntries(Object.entries(payload).filter(([k, v]) => !known.has(k) && typeof v === "string"))
        const llm_setting = Group.defined(Object.fromEntries(generationKeys.map((k) => [k, payload[k] ?? undefined])))
        const requestOf = (conversation: Record<string, unknown>) =>
          Rest.decode(Completions.CompleteRequest, {
            ...conversation,
            dialog_id: chat.id,
            llm_id: payload.llm_id || undefined,
            llm_setting: Object.keys(llm_setting).length > 0 ? llm_setting : undefined,
            parameters,
            stream: payload.stream ?? streamDefault
          }).pipe(
            // The settings are top-level in RAGFlow's body.
            Effect.mapError((e) => new Rest.RestFailure({ code: e.code, message: e.message.replace(/^llm_setting\./, "") }))
          )
        // The request is checked before a session is made for it.
        const checked = yield* requestOf({ messages: [asked] })
        if (checked.llm_id !== undefined) yield* models.checkModel(caller, checked.llm_id, "chat")
        const session = sessionId !== undefined
          ? yield* sessionOf(caller, chat, sessionId, "Session does not belong to this chat!")
          : yield* conversations.create(
            caller,
            yield* Rest.decode(Conversations.CreateRequest, {
              dialog_id: chat.id,
              name: "New session",
              user_id: typeof payload.user_id === "string" && payload.user_id !== "" ? payload.user_id : undefined
            })
          )
        const history = flag(payload.pass_all_history_messages ?? payload.pass_all_history)
          ? [...messages.slice(0, -1).map(sent), asked]
          : [...session.message.map((m) => ({ id: m.id, role: m.role, content: m.content })), asked]
        const request = yield* requestOf({ conversation_id: session.id, messages: history })
        const ids = { id: questionId, session_id: session.id as string, chat_id: chat.id as string }
        if (!request.stream) {
          const { conversation_id: _c, ...result } = yield* completions.complete(caller, request)
          return Rest.okWithMessage({ ...result, ...ids })
        }
        const around = inRequest(yield* currentRequestId)
        const events = yield* started(completions.stream(caller, request), around)
        const body = events.pipe(
          Stream.map((event) =>
            event._tag === "Delta"
              ? frame({ answer: event.text, reference: noReference, ...ids, final: false })
              : frame({
                answer: "",
                reference: event.reference,
                ...ids,
                message_id: event.message_id,
                usage: event.usage,
                incomplete: event.incomplete,
                final: true
              })
          ),
          Stream.catchAllCause((cause) => Stream.fromEffect(around(failureFrame(cause)))),
          Stream.concat(Stream.succeed(frame(true))),
          Stream.encodeText
        )
        return HttpServerResponse.stream(body, sseHeaders)
      }))

    /** Every session of the chat, for `delete_all`. */
    const allSessions = (caller: Caller, chat: Dialog) =>
      Effect.gen(function* () {
        const ids: Array<string> = []
        for (let page = 1;; page++) {
          const found = yield* conversations.list(caller, { dialog_id: chat.id, page, page_size: 1000, orderby: "create_time", desc: true })
          ids.push(...found.items.map((c) => c.id))
          if (found.items.length < 1000) return ids
        }
      })

    return handlers
      .handle("createSession", ({ path, payload }) =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          const chat = yield* ownChat(dialogs, caller, path.chat_id)
          const name = payload.name ?? "New session"
          if (typeof name !== "string" || name.trim() === "") return yield* Rest.data("`name` can not be empty")
          const request = yield* Rest.decode(Conversations.CreateRequest, { dialog_id: chat.id, name, user_id: payload.user_id ?? undefined })
          return Rest.okWithMessage(sessionView(yield* conversations.create(caller, request)))
        })))
      .handle("listSessions", ({ path, urlParams: q }) =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          const chat = yield* ownChat(dialogs, caller, path.chat_id)
          const paging = yield* listQuery(q)
          if (q.page_size !== undefined && Rest.queryNumber(q.page_size) === 0) return Rest.okWithMessage([])
          const request = yield* Rest.decode(Conversations.ListRequest, { dialog_id: chat.id, ...paging, id: q.id, name: q.name, user_id: q.user_id })
          const page = yield* conversations.list(caller, request)
          return Rest.okWithMessage(page.items.map(sessionView))
        })))
      .handle("getSession", ({ path }) =>
        Rest.respond(Effect.gen(function* () {
          const { chat, session } = yield* target(path, "Session does not belong to this chat!")
          return Rest.okWithMessage({ ...sessionView(session), avatar: chat.icon })
        })))
      .handle("patchSession", ({ path, payload }) => rename(path, payload))
      .handle("updateSession", ({ path, payload }) => rename(path, payload))
      .handle("deleteSessions", ({ path, payload }) =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          const chat = yield* ownChat(dialogs, caller, path.chat_id)
          let ids: unknown = payload.ids
          if (ids === undefined || ids === null || (Array.isArray(ids) && ids.length === 0)) {
            if (payload.delete_all !== true) return Rest.okWithMessage({})
            ids = yield* allSessions(caller, chat)
            if ((ids as Array<string>).length === 0) return Rest.okWithMessage({})
          }
          const request = yield* Rest.decode(Conversations.RemoveRequest, {
            dialog_id: chat.id,
            conversation_ids: Array.isArray(ids) ? [...new Set(ids)] : ids
          }).pipe(Effect.mapError((e) => new Rest.RestFailure({ code: e.code, message: e.message.replace(/^conversation_ids/, "ids") })))
          yield* conversations.remove(caller, request).pipe(
            Effect.catchTag("NotFound", (e) => Rest.data(`The chat doesn't own the session ${e.id}`))
          )
          return Rest.okWithMessage(true)
        })))
      .handle("deleteMessage", ({ path }) =>
        Rest.respond(Effect.gen(function* () {
          const { caller, session } = yield* target(path)
          const messageId = messageIdOf(path.message_id)
          if (!session.message.some((m) => m.id === messageId)) return Rest.okWithMessage(sessionView(session))
          const request = yield* Rest.decode(Conversations.DeleteMessageRequest, { conversation_id: session.id, message_id: messageId })
          return Rest.okWithMessage(sessionView(yield* conversations.deleteMessage(caller, request)))
        })))
      .handle("messageFeedback", ({ path, payload }) =>
        Rest.respond(Effect.gen(function* () {
          const { caller, session } = yield* target(path)
          if (typeof payload.thumbup !== "boolean") return yield* Rest.data("thumbup must be a boolean")
          const messageId = messageIdOf(path.message_id)
          const i = session.message.findIndex((m) => m.id === messageId)
          // A question's id stands for its answer (RAGFlow gives the two one id).
          const answer = session.message[i]?.role === "assistant" ? session.message[i] : session.message[i]?.role === "user" ? session.message[i + 1] : undefined
          if (answer === undefined || answer.role !== "assistant") return Rest.okWithMessage(sessionView(session))
          const request = yield* Rest.decode(Conversations.FeedbackRequest, {
            conversation_id: session.id,
            message_id: answer.id,
            thumbup: payload.thumbup,
            feedback: typeof payload.feedback === "string" ? payload.feedback : undefined
          })
          return Rest.okWithMessage(sessionView(yield* conversations.feedback(caller, request)))
        })))
      .handle("chatCompletions", ({ path, payload }) => complete(path.chat_id, payload, true))
      .handle("chatCompletion", ({ path, payload }) => complete(path.chat_id, payload, false))
      .handle("completions", ({ payload }) => complete(payload.chat_id, payload, true))
  }))
