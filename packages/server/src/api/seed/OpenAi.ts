/**
 * OpenAI-compatible chat: `POST /api/v1/chats_openai/:chat_id/chat/completions` and its alias
 * `POST /api/v1/openai/:chat_id/chat/completions` (RAGFlow's paths;
 * `chat_id` is a dialog id), over `Completions`. Takes dialog-scoped keys (`ChatAuthentication`);
 * core keeps them within their dialog, and another tenant's dialog is unknown (404).
 *
 * - Body: OpenAI's `messages` (`system`, `user`, `assistant`; `developer` is taken as `system`;
 *   content a string or text parts; the last must be the user's question), `stream` (default
 *   false, as OpenAI's), `reference` (top-level or in `extra_body`: the answer's references beside
 *   its content). `model` is ignored (as RAGFlow ignores it): the dialog's model answers, and the
 *   name is echoed back. Each call answers in a new conversation of the dialog.
 * - Without `stream`: a `chat.completion` object (`choices[0].message.content`, `usage`).
 * - With `stream`: `text/event-stream` of `data: {chat.completion.chunk}` frames, one per piece of
 *   the answer (`choices[0].delta.content`), a last one with `finish_reason: "stop"` and `usage`
 *   (and `delta.reference` when asked), then `data: [DONE]`. A failure during the answer is a
 *   frame `data: {"error": {...}}` (what OpenAI's clients read as an error).
 * - A failure before the answer starts is the seed's error envelope with its status (400 naming the
 *   field, 404) and OpenAI's `error: {message, type, code}` beside it. Bad credentials are refused
 *   (401) by `ChatAuthentication` with the seed's envelope only.
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpServerResponse } from "@effect/platform"
import { Completions } from "@ragkit/core"
import { Effect, Schema, Stream } from "effect"
import { ChatAuthentication } from "../Auth.js"
import * as Errors from "../Errors.js"
import * as Group from "../Group.js"
import { currentRequestId } from "../RequestId.js"
import { inRequest, started } from "./Conversations.js"

const Usage = Completions.Usage

/** OpenAI's `chat.completion` object, with the answer's `reference` when asked. */
export const ChatCompletion = Schema.Struct({
  id: Schema.String,
  object: Schema.Literal("chat.completion"),
  created: Schema.Number,
  model: Schema.String,
  choices: Schema.Array(Schema.Struct({
    index: Schema.Number,
    message: Schema.Struct({
      role: Schema.Literal("assistant"),
      content: Schema.String,
      reference: Schema.optional(Completions.CompletionReference)
    }),
    finish_reason: Schema.String
  })),
  usage: Usage
})

const fields = Group.loose("model", "messages", "stream", "reference", "extra_body")

// Other OpenAI parameters (temperature, …) are accepted and ignored.
const Payload = Schema.Struct(fields, Schema.Record({ key: Schema.String, value: Schema.Unknown }))

export const group = Group.make("openai")
  .add(
    HttpApiEndpoint.post("chatCompletions", "/api/v1/chats_openai/:chat_id/chat/completions")
      .setPath(Schema.Struct({ chat_id: Schema.String }))
      .setPayload(Payload)
      .addSuccess(ChatCompletion)
  )
  .add(
    // RAGFlow's current path for the same route.
    HttpApiEndpoint.post("openaiChatCompletions", "/api/v1/openai/:chat_id/chat/completions")
      .setPath(Schema.Struct({ chat_id: Schema.String }))
      .setPayload(Payload)
      .addSuccess(ChatCompletion)
  )
  .middleware(ChatAuthentication)

const Api = HttpApi.make("ragkit").add(group)

/** An OpenAI message's text: a string, or the text of its parts. */
const textOf = (content: unknown): unknown =>
  Array.isArray(content)
    ? content.map((p) => (typeof p === "object" && p !== null && (p as { type?: unknown }).type === "text" ? (p as { text?: unknown }).text : "")).join("")
    : content

/** OpenAI's messages as core's history. */
const messagesOf = (messages: unknown): unknown =>
  Array.isArray(messages)
    ? messages.map((m) => {
      if (typeof m !== "object" || m === null) return m
      const { content, role } = m as { role?: unknown; content?: unknown }
      return { role: role === "developer" ? "system" : role, content: textOf(content) }
    })
    : messages

const referenceWanted = (payload: { readonly reference?: unknown; readonly extra_body?: unknown }): boolean => {
  const extra = payload.extra_body
  const nested = typeof extra === "object" && extra !== null ? (extra as { reference?: unknown }).reference : undefined
  return payload.reference === true || nested === true
}

/** An error as the seed's envelope with its status, and OpenAI's `error` object beside it (what OpenAI's clients show). */
const openAiError = (e: Errors.ApiError) =>
  Effect.succeed(HttpServerResponse.unsafeJson(
    { ...e, error: { message: e.message, type: Errors.statusOf(e) >= 500 ? "server_error" : "invalid_request_error", code: e.code } },
    { status: Errors.statusOf(e) }
  ))

const sse = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`

export const live = HttpApiBuilder.group(Api, "openai", (handlers) =>
  Effect.gen(function* () {
    const completions = yield* Completions.Completions

    const answer = ({ path, payload }: { readonly path: { readonly chat_id: string }; readonly payload: typeof Payload.Type }) =>
      Effect.gen(function* () {
        const caller = yield* Group.caller
        if (payload.stream !== undefined && typeof payload.stream !== "boolean") {
          return yield* Effect.fail(Errors.badRequest("stream must be a boolean"))
        }
        const request = yield* Group.decode(Completions.CompleteRequest, {
          dialog_id: path.chat_id,
          messages: messagesOf(payload.messages),
          stream: payload.stream ?? false
        }).pipe(Effect.mapError((e) => e instanceof Errors.BadRequest && e.message.startsWith("dialog_id") ? Errors.notFound(`No chat ${path.chat_id}`) : e))
        const withReference = referenceWanted(payload)
        const model = typeof payload.model === "string" ? payload.model : "ragkit"
        const created = Math.floor(Date.now() / 1000)

        if (!request.stream) {
          const result = yield* Errors.respond(completions.complete(caller, request))
          return {
            id: `chatcmpl-${result.message_id}`,
            object: "chat.completion" as const,
            created,
            model,
            choices: [{
              index: 0,
              message: { role: "assistant" as const, content: result.answer, ...(withReference ? { reference: result.reference } : {}) },
              finish_reason: "stop"
            }],
            usage: result.usage
          }
        }

        const around = inRequest(yield* currentRequestId)
        const events = yield* Errors.respond(started(completions.stream(caller, request), around))
        // The answer's id is known at its end: the pieces carry one made now.
        const id = `chatcmpl-${crypto.randomUUID().replaceAll("-", "")}`
        const chunk = (delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}) =>
          sse({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })
        const body = events.pipe(
          Stream.map((event) =>
            event._tag === "Delta"
              ? chunk({ role: "assistant", content: event.text }, null)
              : chunk(withReference ? { reference: event.reference } : {}, "stop", { usage: event.usage }) + "data: [DONE]\n\n"
          ),
          Stream.catchAllCause((cause) =>
            Stream.fromEffect(around(Effect.map(Effect.flip(Errors.respond(Effect.failCause(cause))), (e) =>
              sse({ error: { message: e.message, type: "server_error", code: 500 } }))))
          ),
          Stream.encodeText
        )
        return HttpServerResponse.stream(body, {
          contentType: "text/event-stream; charset=utf-8",
          headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
        })
      }).pipe(Effect.catchIf(Errors.isApiError, openAiError))

    return handlers.handle("chatCompletions", answer).handle("openaiChatCompletions", answer)
  }))
