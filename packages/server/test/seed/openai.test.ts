import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Flaky } from "../support/flakyModel.js"
import { type Account, memoryEngine, type SeedServer, startSeedServer } from "../support/seedServer.js"

let server: SeedServer
let owner: Account
let stranger: Account
let dialogId: string

const clientFor = (apiKey: string, chatId: string = dialogId) =>
  new OpenAI({ apiKey, baseURL: `${server.url}/api/v1/chats_openai/${chatId}`, maxRetries: 0 })

beforeAll(async () => {
  server = await startSeedServer(memoryEngine({}, [Flaky]))
  ;[owner, stranger] = await Promise.all(["oai-owner@example.com", "oai-stranger@example.com"].map((email) => server.account(email)))
  const reply = await server.request("POST", "/api/v1/dialogs/set", { token: owner.apiKey, json: { name: "assistant", prompt_config: { prologue: "Hi!" } } })
  expect(reply.status).toBe(200)
  dialogId = reply.body.data.id
}, 60_000)
afterAll(() => server?.close())

const messages = [
  { role: "system" as const, content: "Be brief." },
  { role: "user" as const, content: "What is ragkit?" }
]

describe("OpenAI-compatible chat completions, through the openai npm client", () => {
  it("answers without streaming: a chat.completion with the answer and its usage", async () => {
    const completion = await clientFor(owner.apiKey).chat.completions.create({ model: "x", messages })
    expect(completion.object).toBe("chat.completion")
    expect(completion.model).toBe("x")
    expect(completion.choices).toHaveLength(1)
    expect(completion.choices[0]!.message.role).toBe("assistant")
    expect(completion.choices[0]!.message.content).toContain("What is ragkit?")
    expect(completion.choices[0]!.finish_reason).toBe("stop")
    expect("reference" in completion.choices[0]!.message).toBe(false)
    const usage = completion.usage!
    expect(usage.prompt_tokens).toBeGreaterThan(0)
    expect(usage.completion_tokens).toBeGreaterThan(0)
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens)
  })

  it("answers at RAGFlow's other path, /api/v1/openai/<chat_id>, as at /chats_openai/<chat_id>", async () => {
    const alias = (apiKey: string) => new OpenAI({ apiKey, baseURL: `${server.url}/api/v1/openai/${dialogId}`, maxRetries: 0 })
    const completion = await alias(owner.apiKey).chat.completions.create({ model: "x", messages })
    expect([completion.object, completion.choices[0]!.message.content]).toEqual(["chat.completion", expect.stringContaining("What is ragkit?")])
    const chunks: Array<string> = []
    for await (const chunk of await alias(owner.apiKey).chat.completions.create({ model: "x", messages, stream: true })) chunks.push(chunk.choices[0]!.delta.content ?? "")
    expect(chunks.join("")).toBe(completion.choices[0]!.message.content)
    await expect(alias(stranger.apiKey).chat.completions.create({ model: "x", messages })).rejects.toMatchObject({ status: 404 })
  })

  it("streams the same answer as chunks, a last chunk with usage, and stops at [DONE]", async () => {
    const client = clientFor(owner.apiKey)
    const whole = await client.chat.completions.create({ model: "x", messages })
    const stream = await client.chat.completions.create({ model: "x", messages, stream: true })
    const chunks: Array<OpenAI.Chat.Completions.ChatCompletionChunk> = []
    for await (const chunk of stream) chunks.push(chunk)
    expect(chunks.length).toBeGreaterThan(2)
    expect(chunks.every((c) => c.object === "chat.completion.chunk" && c.id === chunks[0]!.id)).toBe(true)
    expect(chunks.map((c) => c.choices[0]!.delta.content ?? "").join("")).toBe(whole.choices[0]!.message.content)
    const last = chunks[chunks.length - 1]!
    expect(last.choices[0]!.finish_reason).toBe("stop")
    expect(last.usage!.total_tokens).toBe(whole.usage!.total_tokens)
    expect(chunks.slice(0, -1).every((c) => c.choices[0]!.finish_reason === null)).toBe(true)

    // The raw stream ends with [DONE].
    const raw = await fetch(`${server.url}/api/v1/chats_openai/${dialogId}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${owner.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "x", messages, stream: true })
    })
    expect(raw.headers.get("content-type")).toContain("text/event-stream")
    expect((await raw.text()).trimEnd().endsWith("data: [DONE]")).toBe(true)
  })

  it("adds the answer's references when asked (top-level or extra_body)", async () => {
    const client = clientFor(owner.apiKey)
    for (const extra of [{ reference: true }, { extra_body: { reference: true } }]) {
      const completion = await client.chat.completions.create({ model: "x", messages, ...extra } as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming)
      expect((completion.choices[0]!.message as unknown as { reference: unknown }).reference).toEqual({ chunks: [], doc_aggs: [], total: 0 })
    }
    const stream = await client.chat.completions.create({ model: "x", messages, stream: true, reference: true } as OpenAI.Chat.ChatCompletionCreateParamsStreaming)
    const chunks: Array<OpenAI.Chat.Completions.ChatCompletionChunk> = []
    for await (const chunk of stream) chunks.push(chunk)
    expect((chunks[chunks.length - 1]!.choices[0]!.delta as unknown as { reference: unknown }).reference).toEqual({ chunks: [], doc_aggs: [], total: 0 })
  })

  it("refuses another tenant's or an unknown chat (404), bad credentials (401), a bad history (400 naming the field)", async () => {
    const statusOf = (promise: Promise<unknown>) =>
      promise.then(() => 200, (e: unknown) => (e instanceof OpenAI.APIError ? e.status : e))
    expect(await statusOf(clientFor(stranger.apiKey).chat.completions.create({ model: "x", messages }))).toBe(404)
    expect(await statusOf(clientFor(stranger.apiKey).chat.completions.create({ model: "x", messages, stream: true }))).toBe(404)
    expect(await statusOf(clientFor(owner.apiKey, "0".repeat(32)).chat.completions.create({ model: "x", messages }))).toBe(404)
    expect(await statusOf(clientFor("not-a-key").chat.completions.create({ model: "x", messages }))).toBe(401)
    const error = await clientFor(owner.apiKey).chat.completions.create({ model: "x", messages: [{ role: "assistant", content: "hi" }] }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OpenAI.APIError)
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(400)
    expect((error as Error).message).toContain("messages")
  })

  it("a model failing in the middle of a streamed answer ends the stream with an error the client throws", async () => {
    const reply = await server.request("POST", "/api/v1/dialogs/set", { token: owner.apiKey, json: { name: "flaky", llm_id: "broken@Flaky" } })
    expect(reply.status).toBe(200)
    const stream = await clientFor(owner.apiKey, reply.body.data.id).chat.completions.create({ model: "x", messages, stream: true })
    const pieces: Array<string> = []
    const error = await (async () => {
      for await (const chunk of stream) pieces.push(chunk.choices[0]!.delta.content ?? "")
    })().catch((e: unknown) => e)
    expect(pieces.length).toBeGreaterThan(0)
    expect(error).toBeInstanceOf(OpenAI.APIError)
    // As every 500: no internals, the request id to find it in the log.
    expect((error as Error).message).toContain("internal error (request")
  })
})
