/**
 * What a provider's failure may say, and where a tenant's provider may connect, against a real HTTP
 * server on 127.0.0.1 whose answers carry a secret: no error quotes a response body, a URL's
 * credentials or query, and a tenant's provider reaches no loopback address, named or literal.
 */
import { describe, expect, layer } from "@effect/vitest"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { decoding, type ModelError, Models, Rag } from "@ragkit/core"
import { Cause, Effect, Exit, Inspectable, Layer, Redacted, Stream } from "effect"
import type { ServerResponse } from "node:http"
import { lookup } from "node:dns/promises"
import { readFileSync } from "node:fs"
import { hostname } from "node:os"
import * as OllamaChatModel from "../../src/ollama/OllamaChatModel.js"
import { OpenAiModels } from "../../src/openai/index.js"
import * as OpenAiChatModel from "../../src/openai/OpenAiChatModel.js"
import * as OpenAiEmbedder from "../../src/openai/OpenAiEmbedder.js"
import { engineOptions } from "./env.js"
import { modelError } from "./errors.js"
import { json, newCaller, type Received, startServer } from "./support.js"

const SECRET = "s3cr3t-internal-token-7f3a9c"

/** Answers by model name, every answer carrying the secret. */
const hostile = (request: Received, response: ServerResponse): void => {
  const model = (request.body as { model?: string } | undefined)?.model ?? ""
  const status = /^status-(\d{3})$/.exec(model)
  if (status !== null) {
    return json(response, Number(status[1]), { error: { message: `denied: ${SECRET}`, token: SECRET } }, { "retry-after": "0" })
  }
  const sse = (events: ReadonlyArray<string>) => {
    response.writeHead(200, { "content-type": "text/event-stream" })
    response.end(events.map((e) => `data: ${e}\n\n`).join(""))
  }
  switch (model) {
    case "raw-500":
      response.writeHead(500, { "content-type": "text/plain" })
      return void response.end(`stack trace with ${SECRET}`)
    case "malformed":
      response.writeHead(200, { "content-type": "application/json" })
      return void response.end(`{"data": ${SECRET}`)
    case "shape":
      return json(response, 200, { data: [{ index: 0, embedding: SECRET }] })
    case "sse-error":
      return sse([JSON.stringify({ error: { message: `crashed: ${SECRET}` } })])
    case "sse-malformed":
      return sse([`{${SECRET}`])
    case "sse-shape":
      return sse([JSON.stringify({ choices: SECRET })])
    case "ndjson-error":
      response.writeHead(200, { "content-type": "application/x-ndjson" })
      return void response.end(`${JSON.stringify({ error: `out of memory near ${SECRET}` })}\n`)
    case "ndjson-malformed":
      response.writeHead(200, { "content-type": "application/x-ndjson" })
      return void response.end(`{${SECRET}\n`)
    case "ok":
      return json(response, 200, { data: [{ index: 0, embedding: [1, 0, 0] }] })
  }
  return json(response, 404, { error: { message: `no route, but here is ${SECRET}` } })
}

class Hostile extends Effect.Tag("test/HostileServer")<Hostile, { readonly url: string; readonly received: Array<Received> }>() {}

const HostileLive = Layer.scoped(Hostile, startServer(hostile))

/** The exit's error, checked to say nothing of `secrets` anywhere (message, JSON, the printed cause). */
const leaksNothing = <A, E>(exit: Exit.Exit<A, E>, secrets: ReadonlyArray<string> = [SECRET]): ModelError => {
  const error = modelError(exit)
  if (Exit.isFailure(exit)) {
    for (const secret of secrets) {
      expect(error.message).not.toContain(secret)
      expect(JSON.stringify(error)).not.toContain(secret)
      expect(Cause.pretty(exit.cause)).not.toContain(secret)
      expect(Inspectable.format(exit.cause)).not.toContain(secret)
    }
  }
  return error
}

const question = [{ role: "user", content: "hello" }] as const
const once = { maxAttempts: 1, timeout: "5 seconds" } as const

/** A name other than `localhost` that this machine resolves to a loopback address (from /etc/hosts, or its own host name). */
const loopbackName = Effect.promise(async () => {
  const fromHosts = (() => {
    try {
      return readFileSync("/etc/hosts", "utf8").split("\n").flatMap((line) => {
        const [address, ...names] = line.replace(/#.*/, "").trim().split(/\s+/)
        return address !== undefined && address.startsWith("127.") ? names.filter((n) => n !== "" && !n.includes("localhost")) : []
      })
    } catch {
      return []
    }
  })()
  for (const name of [...fromHosts, hostname()]) {
    const addresses = await lookup(name, { all: true }).catch(() => [])
    if (addresses.length > 0 && addresses.every((a) => a.address.startsWith("127."))) return name
  }
  return undefined
})

layer(Layer.merge(HostileLive, FetchHttpClient.layer), { excludeTestServices: true, timeout: 30_000 })((it) => {
  describe("errors never echo a response body", () => {
    it.effect("of an error status, whatever the status", () =>
      Effect.gen(function*() {
        const { url } = yield* Hostile
        for (const model of ["status-400", "status-401", "status-403", "status-404", "status-413", "status-429", "status-500", "status-503", "status-418", "raw-500", "unknown"]) {
          const embedder = yield* OpenAiEmbedder.make({ ...once, apiBase: `${url}/v1`, model, dimensions: 3 })
          const error = leaksNothing(yield* Effect.exit(embedder.embedDocuments(["x"])))
          expect(error.message, model).toContain(`${url}/v1/embeddings`)
        }
      }))

    it.effect("of a 200 that is not JSON, or not of the expected shape", () =>
      Effect.gen(function*() {
        const { url } = yield* Hostile
        const malformed = yield* OpenAiEmbedder.make({ ...once, apiBase: `${url}/v1`, model: "malformed", dimensions: 3 })
        expect(leaksNothing(yield* Effect.exit(malformed.embedDocuments(["x"])))).toMatchObject({ reason: "BadResponse" })
        const shape = yield* OpenAiEmbedder.make({ ...once, apiBase: `${url}/v1`, model: "shape", dimensions: 3 })
        const error = leaksNothing(yield* Effect.exit(shape.embedDocuments(["x"])))
        expect(error).toMatchObject({ reason: "BadResponse", message: expect.stringContaining("unexpected shape (at data.0.embedding)") })
        // The dimension probe goes the same way.
        leaksNothing(yield* Effect.exit(OpenAiEmbedder.make({ ...once, apiBase: `${url}/v1`, model: "shape" })))
      }))

    it.effect("of a stream: an error event, a malformed event, an event of the wrong shape (OpenAI and Ollama)", () =>
      Effect.gen(function*() {
        const { url } = yield* Hostile
        for (const model of ["sse-error", "sse-malformed", "sse-shape"]) {
          const chat = yield* OpenAiChatModel.make({ ...once, apiBase: `${url}/v1`, model })
          leaksNothing(yield* Effect.exit(chat.generate(question)))
          leaksNothing(yield* Effect.exit(Stream.runDrain(chat.stream(question))))
        }
        for (const model of ["ndjson-error", "ndjson-malformed", "status-404"]) {
          const chat = yield* OllamaChatModel.make({ ...once, apiBase: url, model })
          leaksNothing(yield* Effect.exit(chat.generate(question)))
        }
      }))
  })

  describe("errors never echo a URL's credentials or query", () => {
    it.effect("user:password@ in the API base", () =>
      Effect.gen(function*() {
        const { url } = yield* Hostile
        const withCredentials = url.replace("http://", "http://someone:pw-hunter2-secret@")
        const embedder = yield* OpenAiEmbedder.make({ ...once, apiBase: `${withCredentials}/v1`, model: "ok", dimensions: 3 })
        const error = leaksNothing(yield* Effect.exit(embedder.embedDocuments(["x"])), ["pw-hunter2-secret", "someone:"])
        expect(error.message).toContain(`${url}/v1/embeddings`)
      }))

    it.effect("a key in the API base's query", () =>
      Effect.gen(function*() {
        const { url } = yield* Hostile
        const embedder = yield* OpenAiEmbedder.make({ ...once, apiBase: `${url}/v1?api_key=qs-hunter2-secret`, model: "status-500", dimensions: 3 })
        const error = leaksNothing(yield* Effect.exit(embedder.embedDocuments(["x"])), ["qs-hunter2-secret", "api_key="])
        expect(error.message).toContain(`${url}/v1/embeddings`)
      }))
  })

  describe("a tenant's provider may not reach loopback addresses", () => {
    it.effect("a literal address is refused before any request", () =>
      Effect.gen(function*() {
        const { url, received } = yield* Hostile
        const before = received.length
        const refused = yield* Effect.exit(OpenAiEmbedder.make({ ...once, apiBase: `${url}/v1`, model: "ok", dimensions: 3, allowPrivateAddresses: false })
          .pipe(Effect.flatMap((e) => e.embedDocuments(["x"]))))
        expect(modelError(refused)).toMatchObject({ reason: "NotConfigured", message: expect.stringContaining("loopback, private or link-local") })
        expect(received.length).toBe(before)
        // The deployment's own connections (the default) may.
        const allowed = yield* OpenAiEmbedder.make({ ...once, apiBase: `${url}/v1`, model: "ok", dimensions: 3 })
        expect(yield* allowed.embedDocuments(["x"])).toEqual([[1, 0, 0]])
      }))

    it.effect("a name that resolves to 127.0.0.1 is refused when connecting, through Models", () =>
      Effect.gen(function*() {
        const name = yield* loopbackName
        if (name === undefined) return yield* Effect.logWarning("no name here resolves to a loopback address: the name case is not checked")
        const { url, received } = yield* Hostile
        const apiBase = `${url.replace("127.0.0.1", name)}/v1`
        const engine = (allowPrivateProviders: boolean) =>
          Rag.layer(Rag.layerMemoryPorts, [OpenAiModels.layer(once)], { ...engineOptions, allowPrivateProviders })
        const attempt = (allowPrivateProviders: boolean) =>
          Effect.gen(function*() {
            const models = yield* Models.Models
            const caller = yield* newCaller
            // A name passes when added (only its resolved addresses tell), and is refused when used.
            yield* decoding(models, Models.Operations).addProvider(caller, { name: "p", kind: OpenAiModels.kind, api_base: apiBase, settings: { dimensions: 3 } })
            const embedder = yield* models.embedder(caller, "ok@p")
            return yield* embedder.embedDocuments(["x"])
          }).pipe(Effect.provide(engine(allowPrivateProviders)), Effect.exit)
        const before = received.length
        const refused = modelError(yield* attempt(false))
        expect(refused).toMatchObject({ reason: "NotConfigured", message: expect.stringContaining("loopback, private or link-local") })
        expect(received.length).toBe(before)
        // Allowed by the deployment, the same provider works.
        const allowed = yield* attempt(true)
        expect(Exit.isSuccess(allowed) && allowed.value).toEqual([[1, 0, 0]])
        expect(received.length).toBe(before + 1)
      }))
  })
})

describe("a tenant's key", () => {
  layer(Layer.merge(HostileLive, Rag.layer(Rag.layerMemoryPorts, [OpenAiModels.layerFetch(once)], engineOptions)), { excludeTestServices: true })((it) => {
    it.effect("is sent to the provider decrypted, and a 401 that echoes it says nothing of it", () =>
      Effect.gen(function*() {
        const { url, received } = yield* Hostile
        const models = yield* Models.Models
        const caller = yield* newCaller
        const key = "sk-tenant-key-0a1b2c3d4e"
        yield* decoding(models, Models.Operations).addProvider(caller, { name: "p", kind: OpenAiModels.kind, api_base: `${url}/v1`, api_key: key, settings: { dimensions: 3 } })
        const embedder = yield* models.embedder(caller, "status-401@p")
        leaksNothing(yield* Effect.exit(embedder.embedDocuments(["x"])), [SECRET, key])
        expect(received.at(-1)!.authorization).toBe(`Bearer ${key}`)
        expect(Redacted.make(key).toString()).not.toContain(key)
      }))
  })
})
