/**
 * Conversations: `/api/v1/conversations/set|get|completion|delete_msg|thumbup`, over
 * `Conversations`, `Completions` and `Dialogs`. Every route takes dialog-scoped keys
 * (`ChatAuthentication`); core keeps them within their dialog.
 *
 * - `set`: `is_new` true creates a conversation of `dialog_id` (with the client's
 *   `conversation_id` when given, as RAGFlow's web client makes one); otherwise renames
 *   `conversation_id` (`Conversations.set`).
 * - Results are core's conversation with `reference`, the references of its answers in order (as
 *   RAGFlow keeps them beside the messages); `get` adds the dialog's icon as `avatar`.
 * - `completion`: the `messages` (the history ending with the question) replace the stored ones;
 *   `temperature`, `top_p`, `frequency_penalty`, `presence_penalty` and `max_tokens` override the
 *   dialog's `llm_setting` for this answer; other top-level string fields are values of the
 *   prompt's declared parameters (RAGFlow passes the rest of the body as keyword arguments).
 *   `stream` (default true, as RAGFlow's) answers `text/event-stream` frames
 *   `data:{"code":0,"message":"","data":{...}}`: one per piece of the answer (`answer` is the piece,
 *   `final` false), then the stored answer's frame (`final` true, `answer` empty as RAGFlow sends
 *   it, with the `reference`, the message `id`, `usage`), then `data:{"code":0,"message":"","data":true}`.
 *   A failure before the answer starts is an error response with its status; one during the
 *   answer is a frame with code 500 (RAGFlow's), then the last frame. Without `stream`, one
 *   envelope with the whole answer (citations inserted).
 * - Message ids are RAGFlow's web client's UUIDs or core's 32-hex ids: a UUID is taken without its
 *   dashes, lower-cased (the same id either way).
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpServerResponse } from "@effect/platform"
import {
  type Caller,
  Completions,
  Conversation,
  Conversations,
  Dialogs,
  MessageId,
  Reference
} from "@ragkit/core"
import { Cause, Effect, Exit, Option, Schema, Scope, Stream } from "effect"
import { ChatAuthentication } from "../Auth.js"
import { Codes, Ok, ok } from "../Envelope.js"
import * as Errors from "../Errors.js"
import * as Group from "../Group.js"
import { currentRequestId, requestIdRef } from "../RequestId.js"

/** A conversation as the seed shows it: core's record with its answers' references. */
export const ConversationView = Schema.Struct({ ...Conversation.fields, reference: Schema.Array(Reference) })
export const conversationView = (c: Conversation): typeof ConversationView.Type => ({
  ...c,
  reference: c.message.flatMap((m) => (m.role === "assistant" && m.reference !== null ? [m.reference] : []))
})

/** The whole answer, stored: RAGFlow's `id` (the answer's message id) and `session_id` beside core's names. */
export const CompletionView = Schema.Struct({
  ...Completions.CompletionResult.fields,
  id: MessageId,
  session_id: Schema.String
})

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** A message id as core takes it: a UUID without its dashes, anything else as sent (core checks it). */
export const messageIdOf = (id: unknown): unknown => (typeof id === "string" && uuid.test(id) ? id.replaceAll("-", "").toLowerCase() : id)

const messagesOf = (messages: unknown): unknown =>
  Array.isArray(messages)
    ? messages.map((m) =>
      typeof m === "object" && m !== null && "id" in m ? { ...m, id: messageIdOf((m as { id: unknown }).id) } : m
    )
    : messages

/** The generation settings a completion may override, top-level in the seed's body. */
const settingKeys = ["temperature", "top_p", "frequency_penalty", "presence_penalty", "max_tokens"] as const

const completionFields = Group.loose("conversation_id", "messages", "llm_id", ...settingKeys, "stream")

export const group = Group.make("conversations")
  .add(
    HttpApiEndpoint.post("set", "/api/v1/conversations/set")
      .setPayload(Schema.Struct(Group.loose("conversation_id", "is_new", "name", "dialog_id")))
      .addSuccess(Ok(ConversationView))
  )
  .add(
    HttpApiEndpoint.get("get", "/api/v1/conversations/get")
      .setUrlParams(Schema.Struct({ conversation_id: Schema.optional(Schema.String) }))
      .addSuccess(Ok(Schema.Struct({ ...ConversationView.fields, avatar: Schema.String })))
  )
  .add(
    HttpApiEndpoint.post("completion", "/api/v1/conversations/completion")
      // Other keys are prompt parameters' values.
      .setPayload(Schema.Struct(completionFields, Schema.Record({ key: Schema.String, value: Schema.Unknown })))
      .addSuccess(Ok(CompletionView))
  )
  .add(
    HttpApiEndpoint.post("delete_msg", "/api/v1/conversations/delete_msg")
      .setPayload(Schema.Struct(Group.loose("conversation_id", "message_id")))
      .addSuccess(Ok(ConversationView))
  )
  .add(
    HttpApiEndpoint.post("thumbup", "/api/v1/conversations/thumbup")
      .setPayload(Schema.Struct(Group.loose("conversation_id", "message_id", "thumbup", "feedback")))
      .addSuccess(Ok(ConversationView))
  )
  .middleware(ChatAuthentication)

const Api = HttpApi.make("ragkit").add(group)

/** One server-sent event of RAGFlow's: the envelope after `data:`. */
export const frame = (data: unknown, code: number = Codes.success, message = "") => `data:${JSON.stringify({ code, message, data })}\n\n`

export const noReference: Completions.CompletionReference = { chunks: [], doc_aggs: [], total: 0 }

const eventFrame = (conversationId: string) => (event: Completions.CompletionEvent): string =>
  event._tag === "Delta"
    ? frame({ answer: event.text, reference: noReference, session_id: conversationId, final: false })
    : frame({
      answer: "",
      reference: event.reference,
      id: event.message_id,
      message_id: event.message_id,
      session_id: event.conversation_id,
      conversation_id: event.conversation_id,
      usage: event.usage,
      incomplete: event.incomplete,
      final: true
    })

/** A failure during the answer, as RAGFlow writes it into the stream. */
export const failureFrame = (cause: Cause.Cause<unknown>) =>
  Effect.map(Effect.flip(Errors.respond(Effect.failCause(cause))), (e) =>
    frame({ answer: `**ERROR**: ${e.message}`, reference: [] }, 500, e.message))

/** Runs an effect as part of the request: its request id in errors and log lines. */
export type InRequest = <X, E>(self: Effect.Effect<X, E>) => Effect.Effect<X, E>

export const inRequest = (requestId: string): InRequest => (self) =>
  self.pipe(Effect.locally(requestIdRef, requestId), Effect.annotateLogs("request_id", requestId))

/**
 * The stream with its first events pulled now, so that a request that fails before its answer
 * starts (an unknown conversation, a bad parameter, no chat model) fails the handler and gets its
 * status; the rest is pulled as the response is written (after the handler returned: `around`
 * keeps the request's id), and the stream's resources are released when the response ends or the
 * client goes away.
 */
export const started = <A, E>(stream: Stream.Stream<A, E>, around: InRequest): Effect.Effect<Stream.Stream<A, E>, E> =>
  Effect.flatMap(Scope.make(), (scope) =>
    Effect.gen(function* () {
      const pull = yield* Scope.extend(Stream.toPull(stream), scope)
      const head = yield* Effect.exit(pull)
      if (Exit.isSuccess(head)) {
        return Stream.concat(Stream.fromChunk(head.value), Stream.repeatEffectChunkOption(around(pull))).pipe(
          Stream.ensuring(around(Scope.close(scope, Exit.void)))
        )
      }
      yield* Scope.close(scope, Exit.void)
      const failure = Cause.failureOption(head.cause)
      if (Option.isSome(failure) && Option.isNone(failure.value)) return Stream.empty
      return yield* Effect.failCause(Cause.map(head.cause, (e) => Option.getOrThrow(e)))
    }).pipe(Effect.onInterrupt(() => Scope.close(scope, Exit.void))))

export const live = HttpApiBuilder.group(Api, "conversations", (handlers) =>
  Effect.gen(function* () {
    const conversations = yield* Conversations.Conversations
    const completions = yield* Completions.Completions
    const dialogs = yield* Dialogs.Dialogs

    /** The dialog's icon; empty when the caller can't see the dialog. */
    const avatarOf = (caller: Caller, c: Conversation) =>
      dialogs.get(caller, { dialog_id: c.dialog_id }).pipe(
        Effect.map((d) => d.icon),
        Effect.catchTag("NotFound", () => Effect.succeed(""))
      )

    return handlers
      .handle("set", ({ payload }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const request = yield* Group.decode(Conversations.SetRequest, payload)
          return ok(conversationView(yield* Errors.respond(conversations.set(caller, request))))
        }))
      .handle("get", ({ urlParams }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const request = yield* Group.decode(Conversations.ConversationRequest, { conversation_id: urlParams.conversation_id })
          const conversation = yield* Errors.respond(conversations.get(caller, request))
          const avatar = yield* Errors.respond(avatarOf(caller, conversation))
          return ok({ ...conversationView(conversation), avatar })
        }))
      .handle("completion", ({ payload }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          if (payload.conversation_id === undefined) return yield* Effect.fail(Errors.badRequest("conversation_id is required"))
          const known = new Set(Object.keys(completionFields))
          const parameters = Object.fromEntries(
            Object.entries(payload).filter(([k, v]) => !known.has(k) && typeof v === "string")
          )
          const llm_setting = Group.defined(Object.fromEntries(settingKeys.map((k) => [k, payload[k]])))
          const request = yield* Group.decode(Completions.CompleteRequest, {
            conversation_id: payload.conversation_id,
            messages: messagesOf(payload.messages),
            llm_id: payload.llm_id,
            llm_setting: Object.keys(llm_setting).length > 0 ? llm_setting : undefined,
            parameters,
            stream: payload.stream
          }).pipe(
            // The settings are top-level in the seed's body.
            Effect.mapError((e) => e instanceof Errors.BadRequest ? Errors.badRequest(e.message.replace(/^llm_setting\./, ""), e.code) : e)
          )
          if (!request.stream) {
            const result = yield* Errors.respond(completions.complete(caller, request))
            return ok({ ...result, id: result.message_id, session_id: result.conversation_id })
          }
          const around = inRequest(yield* currentRequestId)
          const events = yield* Errors.respond(started(completions.stream(caller, request), around))
          const body = events.pipe(
            Stream.map(eventFrame(request.conversation_id!)),
            Stream.catchAllCause((cause) => Stream.fromEffect(around(failureFrame(cause)))),
            Stream.concat(Stream.succeed(frame(true))),
            Stream.encodeText
          )
          return HttpServerResponse.stream(body, {
            contentType: "text/event-stream; charset=utf-8",
            headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
          })
        }))
      .handle("delete_msg", ({ payload }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const request = yield* Group.decode(Conversations.DeleteMessageRequest, {
            conversation_id: payload.conversation_id,
            message_id: messageIdOf(payload.message_id)
          })
          return ok(conversationView(yield* Errors.respond(conversations.deleteMessage(caller, request))))
        }))
      .handle("thumbup", ({ payload }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const request = yield* Group.decode(Conversations.FeedbackRequest, {
            conversation_id: payload.conversation_id,
            message_id: messageIdOf(payload.message_id),
            thumbup: payload.thumbup,
            feedback: payload.feedback
          })
          return ok(conversationView(yield* Errors.respond(conversations.feedback(caller, request))))
        }))
  }))
