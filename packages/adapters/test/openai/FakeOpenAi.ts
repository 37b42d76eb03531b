/**
 * A small OpenAI-compatible server for the tests, speaking the documented protocols:
 *
 * - `POST /v1/embeddings` `{ model, input: [..], encoding_format: "float" }` -> `data[]` with
 *   `index` (returned in reverse order, so a client that ignores `index` shows), vectors from
 *   core's hash embedder (32 dimensions);
 * - `POST /v1/rerank` `{ model, query, documents, top_n }` -> `results: [{ index, relevance_score }]`
 *   best first, scored by token overlap (core's overlap reranker);
 * - `POST /v1/chat/completions` with `stream: true` -> SSE chunks of the answer
 *   `You asked: <last user message>` (or a scripted `Reply`), a finish chunk, a usage chunk when
 *   `stream_options.include_usage`, then `data: [DONE]`; written in small pieces.
 *
 * Requests are checked (method, path, JSON shape; 400 otherwise). A missing `Authorization` is
 * accepted (a local server), a wrong key is 401 with a message that echoes the key, as some
 * servers do. Model `no-such-model` is 404. `script(model, ...)` queues answers for a model that
 * are used before the normal behaviour: failures, hangs, garbage, cut streams.
 */
import type { ServerResponse } from "node:http"
import { HashEmbedder, OverlapReranker } from "@ragkit/core/testing"
import { Context, Effect, Layer } from "effect"
import { json, type Received, startServer, type TestServer, words } from "./support.js"

export const API_KEY = "sk-test-0123456789abcdef"
export const DIMENSIONS = 32

/** A scripted answer. */
export type Scripted =
  | { readonly _tag: "Status"; readonly status: number; readonly body?: unknown; readonly headers?: Record<string, string> }
  | { readonly _tag: "Raw"; readonly status: number; readonly contentType: string; readonly body: string }
  /** Never answers. */
  | { readonly _tag: "Hang" }
  /** Starts a 200 stream, sends `chunks` SSE chunks of text, then destroys the connection. */
  | { readonly _tag: "CutStream"; readonly chunks: number }
  /** Starts a 200 stream, sends `chunks` SSE chunks of text, then ends the response without `[DONE]`. */
  | { readonly _tag: "EndStreamEarly"; readonly chunks: number }
  /** Starts a 200 stream, sends one chunk, then sends nothing more (until the server closes). */
  | { readonly _tag: "StallStream" }
  /** Sends an error event in the middle of the stream. */
  | { readonly _tag: "ErrorEvent" }
  /** A chat completion answering `text`, streamed as any answer is. */
  | { readonly _tag: "Reply"; readonly text: string }

export interface FakeOpenAiServer extends TestServer {
  /** The API base to configure: `<url>/v1`. */
  readonly apiBase: string
  readonly script: (model: string, ...answers: ReadonlyArray<Scripted>) => void
  /** Requests for this model. */
  readonly requestsFor: (model: string) => ReadonlyArray<Received>
}

export class FakeOpenAi extends Context.Tag("test/FakeOpenAi")<FakeOpenAi, FakeOpenAiServer>() {}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
const isStringArray = (u: unknown): u is Array<string> => Array.isArray(u) && u.every((x) => typeof x === "string")

const badRequest = (response: ServerResponse, message: string) =>
  json(response, 400, { error: { message, type: "invalid_request_error" } })

export const answerOf = (messages: ReadonlyArray<{ role: string; content: string }>): string =>
  `You asked: ${[...messages].reverse().find((m) => m.role === "user")?.content ?? ""}`

/** The answer in chunks of about two words. */
const pieces = (text: string): Array<string> => {
  const parts = text.split(/(?<= )/)
  const out: Array<string> = []
  for (let i = 0; i < parts.length; i += 2) out.push(parts.slice(i, i + 2).join(""))
  return out
}

const chunk = (model: string, delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({
    id: "chatcmpl-test",
    object: "chat.completion.chunk",
    created: 1,
    model,
    choices: [{ index: 0, delta, finish_reason: finish }]
  })}\n\n`

/** Writes `text` in pieces of 16 characters with a tick between, so events straddle reads. */
const writeSlowly = (response: ServerResponse, text: string, then: () => void) => {
  let at = 0
  const step = () => {
    if (response.destroyed) return
    if (at >= text.length) return then()
    response.write(text.slice(at, at + 16))
    at += 16
    setImmediate(step)
  }
  step()
}

const sseHead = (response: ServerResponse) =>
  response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" })

const handle = (scripts: Map<string, Array<Scripted>>) => (request: Received, response: ServerResponse): void => {
  if (request.method !== "POST") return json(response, 405, { error: { message: "method not allowed" } })
  if (request.authorization !== undefined && request.authorization !== `Bearer ${API_KEY}`) {
    const given = request.authorization.replace(/^Bearer /, "")
    return json(response, 401, {
      error: { message: `Incorrect API key provided: ${given}. You can find your API key at https://example.invalid.`, type: "invalid_request_error", code: "invalid_api_key" }
    })
  }
  if (request.contentType?.startsWith("application/json") !== true) return badRequest(response, "expected a JSON body")
  const body = request.body
  if (!isRecord(body) || typeof body["model"] !== "string") return badRequest(response, "expected a JSON object with a model")
  const model = body["model"]
  const scripted = scripts.get(model)?.shift()
  if (scripted !== undefined) {
    switch (scripted._tag) {
      case "Status":
        return json(response, scripted.status, scripted.body ?? { error: { message: `scripted ${scripted.status}` } }, scripted.headers)
      case "Raw":
        response.writeHead(scripted.status, { "content-type": scripted.contentType })
        return void response.end(scripted.body)
      case "Hang":
        return
      case "CutStream":
      case "EndStreamEarly": {
        sseHead(response)
        const text = Array.from({ length: scripted.chunks }, (_, i) => chunk(model, { content: `part ${i} ` })).join("")
        return writeSlowly(response, text, () => (scripted._tag === "CutStream" ? response.destroy() : response.end()))
      }
      case "StallStream":
        sseHead(response)
        return void response.write(chunk(model, { content: "Stalled " }))
      case "ErrorEvent": {
        sseHead(response)
        const text = chunk(model, { content: "Partial " }) + `data: ${JSON.stringify({ error: { message: "the engine crashed", type: "server_error" } })}\n\n`
        return writeSlowly(response, text, () => response.end())
      }
      case "Reply":
        break
    }
  }
  if (model === "no-such-model") {
    return json(response, 404, { error: { message: `The model \`${model}\` does not exist`, type: "invalid_request_error", code: "model_not_found" } })
  }

  if (request.path === "/v1/embeddings") {
    const input = body["input"]
    if (!isStringArray(input) || input.length === 0) return badRequest(response, "input must be a non-empty array of strings")
    if (body["encoding_format"] !== "float") return badRequest(response, "encoding_format must be float")
    const dimensions = body["dimensions"] ?? DIMENSIONS
    if (typeof dimensions !== "number") return badRequest(response, "dimensions must be a number")
    const data = input.map((text, index) => ({ object: "embedding", index, embedding: HashEmbedder.embed(text, dimensions) }))
    return json(response, 200, {
      object: "list",
      model,
      data: data.reverse(),
      usage: { prompt_tokens: input.length, total_tokens: input.length }
    })
  }

  if (request.path === "/v1/rerank") {
    const query = body["query"]
    const documents = body["documents"]
    const topN = body["top_n"]
    if (typeof query !== "string" || !isStringArray(documents) || typeof topN !== "number") {
      return badRequest(response, "expected { model, query, documents: [strings], top_n }")
    }
    const results = documents
      .map((document, index) => ({ index, relevance_score: OverlapReranker.score(query, document) }))
      .sort((a, b) => b.relevance_score - a.relevance_score)
      .slice(0, topN)
    return json(response, 200, { model, results, usage: { total_tokens: 1 } })
  }

  if (request.path === "/v1/chat/completions") {
    const messages = body["messages"]
    if (
      body["stream"] !== true ||
      !Array.isArray(messages) ||
      messages.length === 0 ||
      !messages.every((m) => isRecord(m) && typeof m["role"] === "string" && typeof m["content"] === "string")
    ) {
      return badRequest(response, "expected { model, messages: [{ role, content }], stream: true }")
    }
    const typed = messages as Array<{ role: string; content: string }>
    const answer = scripted?._tag === "Reply" ? scripted.text : answerOf(typed)
    const parts = pieces(answer)
    const includeUsage = isRecord(body["stream_options"]) && body["stream_options"]["include_usage"] === true
    const usage = {
      prompt_tokens: typed.reduce((n, m) => n + words(m.content).length, 0),
      completion_tokens: parts.length
    }
    const text = [
      ": a comment line, to be ignored\n\n",
      chunk(model, { role: "assistant", content: "" }),
      ...parts.map((part) => chunk(model, { content: part })),
      chunk(model, {}, "stop"),
      includeUsage
        ? `data: ${JSON.stringify({ id: "chatcmpl-test", object: "chat.completion.chunk", model, choices: [], usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } })}\n\n`
        : "",
      "data: [DONE]\n\n"
    ].join("")
    sseHead(response)
    return writeSlowly(response, text, () => response.end())
  }

  return json(response, 404, { error: { message: `no route ${request.path}` } })
}

export const make = Effect.gen(function*() {
  const scripts = new Map<string, Array<Scripted>>()
  const server = yield* startServer(handle(scripts))
  return FakeOpenAi.of({
    ...server,
    apiBase: `${server.url}/v1`,
    script: (model, ...answers) => scripts.set(model, [...(scripts.get(model) ?? []), ...answers]),
    requestsFor: (model) => server.received.filter((r) => isRecord(r.body) && r.body["model"] === model)
  })
})

export const layer: Layer.Layer<FakeOpenAi> = Layer.scoped(FakeOpenAi, make)
