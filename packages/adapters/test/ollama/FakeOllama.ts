/**
 * A small Ollama server for the tests, speaking its native API:
 *
 * - `POST /api/embed` `{ model, input: [..] }` -> `{ model, embeddings: [[..]] }` (core's hash
 *   embedder, 24 dimensions); an old server (`legacy: true`) has no such route (404, plain text);
 * - `POST /api/embeddings` `{ model, prompt }` -> `{ embedding: [..] }` (the legacy API);
 * - `POST /api/chat` `{ model, messages, stream: true, options }` -> NDJSON lines
 *   `{ message: { role, content }, done: false }`, then `{ done: true, prompt_eval_count, eval_count }`.
 *
 * A model not pulled (`no-such-model`) is 404 `{ error: "model ... not found, try pulling it first" }`
 * on every route. `script(model, ...)` queues answers for a model (failures, hangs, cut streams).
 */
import type { ServerResponse } from "node:http"
import { HashEmbedder } from "@ragkit/core/testing"
import { Effect } from "effect"
import { json, type Received, startServer, type TestServer, words } from "../openai/support.js"

export const DIMENSIONS = 24

export type Scripted =
  | { readonly _tag: "Status"; readonly status: number; readonly body?: unknown; readonly headers?: Record<string, string> }
  | { readonly _tag: "Hang" }
  /** Sends `lines` content lines, then destroys the connection. */
  | { readonly _tag: "CutStream"; readonly lines: number }
  /** Sends `lines` content lines, then ends the response without `done: true`. */
  | { readonly _tag: "EndStreamEarly"; readonly lines: number }
  /** Sends a content line, then `{ "error": ... }`. */
  | { readonly _tag: "ErrorLine" }
  /** Sends one content line, then nothing more (until the server closes). */
  | { readonly _tag: "StallStream" }

export interface FakeOllamaServer extends TestServer {
  readonly script: (model: string, ...answers: ReadonlyArray<Scripted>) => void
  readonly requestsFor: (model: string) => ReadonlyArray<Received>
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

export const answerOf = (messages: ReadonlyArray<{ role: string; content: string }>): string =>
  `Ollama says: ${[...messages].reverse().find((m) => m.role === "user")?.content ?? ""}`

const ndjsonHead = (response: ServerResponse) => response.writeHead(200, { "content-type": "application/x-ndjson" })

const line = (model: string, content: string) =>
  `${JSON.stringify({ model, created_at: "2024-01-01T00:00:00Z", message: { role: "assistant", content }, done: false })}\n`

/** Writes lines one per tick, each in two halves, so lines straddle reads. */
const writeLines = (response: ServerResponse, lines: ReadonlyArray<string>, then: () => void) => {
  const pieces = lines.flatMap((l) => [l.slice(0, Math.floor(l.length / 2)), l.slice(Math.floor(l.length / 2))])
  let at = 0
  const step = () => {
    if (response.destroyed) return
    if (at >= pieces.length) return then()
    response.write(pieces[at++])
    setImmediate(step)
  }
  step()
}

const handle = (options: { readonly legacy: boolean }, scripts: Map<string, Array<Scripted>>) =>
(request: Received, response: ServerResponse): void => {
  if (request.method !== "POST") return json(response, 405, { error: "method not allowed" })
  if (options.legacy && request.path === "/api/embed") {
    response.writeHead(404, { "content-type": "text/plain" })
    return void response.end("404 page not found")
  }
  const body = request.body
  if (!isRecord(body) || typeof body["model"] !== "string") return json(response, 400, { error: "model is required" })
  const model = body["model"]
  const scripted = scripts.get(model)?.shift()
  if (scripted !== undefined) {
    switch (scripted._tag) {
      case "Status":
        return json(response, scripted.status, scripted.body ?? { error: `scripted ${scripted.status}` }, scripted.headers)
      case "Hang":
        return
      case "CutStream":
      case "EndStreamEarly":
        ndjsonHead(response)
        return writeLines(
          response,
          Array.from({ length: scripted.lines }, (_, i) => line(model, `part ${i} `)),
          () => (scripted._tag === "CutStream" ? response.destroy() : response.end())
        )
      case "ErrorLine":
        ndjsonHead(response)
        return writeLines(response, [line(model, "Partial "), `${JSON.stringify({ error: "an error was encountered while running the model: out of memory" })}\n`], () => response.end())
      case "StallStream":
        ndjsonHead(response)
        return void response.write(line(model, "Stalled "))
    }
  }
  if (model === "no-such-model") return json(response, 404, { error: `model "${model}" not found, try pulling it first` })

  if (request.path === "/api/embed") {
    const input = body["input"]
    const texts = typeof input === "string" ? [input] : input
    if (!Array.isArray(texts) || !texts.every((t) => typeof t === "string")) return json(response, 400, { error: "invalid input type" })
    return json(response, 200, {
      model,
      embeddings: (texts as Array<string>).map((t) => HashEmbedder.embed(t, DIMENSIONS)),
      total_duration: 1,
      prompt_eval_count: texts.length
    })
  }
  if (request.path === "/api/embeddings") {
    const prompt = body["prompt"]
    if (typeof prompt !== "string") return json(response, 400, { error: "prompt must be a string" })
    return json(response, 200, { embedding: HashEmbedder.embed(prompt, DIMENSIONS) })
  }
  if (request.path === "/api/chat") {
    const messages = body["messages"]
    if (
      body["stream"] !== true ||
      !Array.isArray(messages) ||
      !messages.every((m) => isRecord(m) && typeof m["role"] === "string" && typeof m["content"] === "string")
    ) {
      return json(response, 400, { error: "expected { model, messages: [{ role, content }], stream: true }" })
    }
    const typed = messages as Array<{ role: string; content: string }>
    const parts = answerOf(typed).split(/(?<= )/)
    ndjsonHead(response)
    return writeLines(
      response,
      [
        ...parts.map((part) => line(model, part)),
        `${JSON.stringify({
          model,
          created_at: "2024-01-01T00:00:01Z",
          message: { role: "assistant", content: "" },
          done_reason: "stop",
          done: true,
          total_duration: 1000,
          prompt_eval_count: typed.reduce((n, m) => n + words(m.content).length, 0),
          eval_count: parts.length
        })}\n`
      ],
      () => response.end()
    )
  }
  response.writeHead(404, { "content-type": "text/plain" })
  response.end("404 page not found")
}

/** A fake Ollama for the scope. */
export const make = (options: { readonly legacy?: boolean } = {}) =>
  Effect.gen(function*() {
    const scripts = new Map<string, Array<Scripted>>()
    const server = yield* startServer(handle({ legacy: options.legacy ?? false }, scripts))
    const self: FakeOllamaServer = {
      ...server,
      script: (model, ...answers) => scripts.set(model, [...(scripts.get(model) ?? []), ...answers]),
      requestsFor: (model) => server.received.filter((r) => isRecord(r.body) && r.body["model"] === model)
    }
    return self
  })
