/**
 * RAGFlow's REST model routes: the tenant's models (entries with `model_provider`, names
 * `name@provider`), its default models, providers and their instances; a provider's API key never
 * comes back in a response nor shows in a log; RAGFlow's codes for bad and unknown input.
 */
import { OpenAiModels } from "@ragkit/adapters"
import { Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest"
import { type Account, memoryEngine, type SeedServer, startSeedServer } from "../support/seedServer.js"

const SECRET = "sk-rest-models-never-shown-0123456789"

let server: SeedServer
let owner: Account
let stranger: Account
/** Everything the server wrote to the console while the tests ran. */
const written: Array<string> = []

beforeAll(async () => {
  for (const method of ["log", "info", "warn", "error", "debug"] as const) {
    const original = console[method].bind(console)
    vi.spyOn(console, method).mockImplementation((...args: Array<unknown>) => {
      written.push(args.map(String).join(" "))
      original(...args)
    })
  }
  server = await startSeedServer(
    memoryEngine({ users: { passwordCost: 2 ** 10 }, secretKey: Redacted.make("a-secret-key-of-at-least-32-characters!!") }, [OpenAiModels.layerFetch()])
  )
  ;[owner, stranger] = await Promise.all([server.account("rest-models-owner@example.com"), server.account("rest-models-stranger@example.com")])
})
afterAll(async () => {
  await server.close()
  vi.restoreAllMocks()
})

describe("REST models", () => {
  it("lists the tenant's models with model_provider and name@provider ids, filtered by type", async () => {
    const all = await server.request("GET", "/api/v1/models", { token: owner.apiKey })
    expect([all.status, all.body.code, all.body.message]).toEqual([200, 0, undefined])
    expect(all.body.data).toContainEqual(
      expect.objectContaining({ model_id: "echo@Test", model_name: "echo", model_provider: "Test", model_instance: "default", model_type: "chat", enable: true })
    )
    const embedding = await server.request("GET", "/api/v1/models", { token: owner.apiKey, query: { type: "embedding" } })
    expect((embedding.body.data as Array<{ model_type: string }>).map((m) => m.model_type)).toEqual(["embedding"])
    const tts = await server.request("GET", "/api/v1/models", { token: owner.apiKey, query: { type: "tts" } })
    expect(tts.body).toEqual({ code: 0, data: [] })
    const bogus = await server.request("GET", "/api/v1/models", { token: owner.apiKey, query: { type: "bogus" } })
    expect(bogus.body.code).toBe(101)
    expect(bogus.body.message).toMatch(/^type must be one of/)
  })

  it("adds a provider and an instance with a key that never comes back, and sets the defaults", async () => {
    const added = await server.request("PUT", "/api/v1/providers", { token: owner.apiKey, json: { provider_name: "OpenAI-API-Compatible" } })
    expect(added.body).toMatchObject({ code: 0, data: { provider_name: "OpenAI-API-Compatible", kind: "openai-compatible" } })
    const twice = await server.request("PUT", "/api/v1/providers", { token: owner.apiKey, json: { provider_name: "OpenAI-API-Compatible" } })
    expect(twice.body).toEqual({ code: 102, message: "Provider OpenAI-API-Compatible already exists" })
    const unknown = await server.request("PUT", "/api/v1/providers", { token: owner.apiKey, json: { provider_name: "NoSuchFactory" } })
    expect(unknown.body).toEqual({ code: 102, message: "Provider 'NoSuchFactory' is not allowed" })

    const instance = await server.request("POST", "/api/v1/providers/OpenAI-API-Compatible/instances", {
      token: owner.apiKey,
      json: { instance_name: "my-gpt", api_key: SECRET, base_url: "https://api.example.com/v1", region: "", model_info: [] }
    })
    expect(instance.body).toMatchObject({ code: 0, data: { provider_name: "my-gpt", kind: "openai-compatible", api_base: "https://api.example.com/v1" } })
    expect(instance.body.data).not.toHaveProperty("api_key")
    const defaultName = await server.request("POST", "/api/v1/providers/OpenAI-API-Compatible/instances", { token: owner.apiKey, json: { instance_name: "default", api_key: SECRET } })
    expect(defaultName.body).toEqual({ code: 102, message: "Instance name cannot be 'default'" })
    const tooLong = await server.request("POST", "/api/v1/providers/OpenAI-API-Compatible/instances", {
      token: owner.apiKey,
      json: { instance_name: "long", api_key: SECRET.repeat(200) }
    })
    expect(tooLong.body.code).toBe(101)
    expect(tooLong.body.message).toMatch(/^api_key/)

    const chat = await server.request("PATCH", "/api/v1/models/default", {
      token: owner.apiKey,
      json: { model_type: "chat", model_provider: "my-gpt", model_instance: "default", model_name: "gpt-4o-mini" }
    })
    expect(chat.body).toMatchObject({ code: 0, data: { llm_id: "gpt-4o-mini@my-gpt" } })
    const embedding = await server.request("PATCH", "/api/v1/models/default", { token: owner.apiKey, json: { model_type: "embedding", model_id: "hash-64@Test" } })
    expect(embedding.body).toMatchObject({ code: 0, data: { llm_id: "gpt-4o-mini@my-gpt", embd_id: "hash-64@Test" } })
    const defaults = await server.request("GET", "/api/v1/models/default", { token: owner.apiKey })
    expect(defaults.body.data.models).toEqual(
      expect.arrayContaining([
        { model_id: "gpt-4o-mini@my-gpt", model_provider: "my-gpt", model_instance: "default", model_name: "gpt-4o-mini", model_type: "chat", enable: true },
        { model_id: "hash-64@Test", model_provider: "Test", model_instance: "default", model_name: "hash-64", model_type: "embedding", enable: true }
      ])
    )

    const providers = await server.request("GET", "/api/v1/providers", { token: owner.apiKey })
    expect((providers.body.data as Array<{ provider_name: string }>).map((p) => p.provider_name)).toEqual(["OpenAI-API-Compatible", "my-gpt"])
    const available = await server.request("GET", "/api/v1/providers", { token: owner.apiKey, query: { available: "true" } })
    expect(available.body.data).toContainEqual({ kind: "openai-compatible", providers: [] })

    // The key is in no response and no log line.
    const listed = await server.request("GET", "/api/v1/models", { token: owner.apiKey })
    for (const reply of [added, instance, tooLong, chat, defaults, listed, providers]) expect(JSON.stringify(reply.body)).not.toContain(SECRET.slice(0, 20))
    expect(written.some((line) => line.includes("Listening on"))).toBe(true)
    expect(written.join("\n")).not.toContain(SECRET.slice(0, 20))

    // Another tenant does not see the owner's provider.
    const foreign = await server.request("POST", "/api/v1/providers/OpenAI-API-Compatible/instances", { token: stranger.apiKey, json: { instance_name: "theirs", api_key: "k" } })
    expect(foreign.body).toEqual({ code: 102, message: "Provider 'OpenAI-API-Compatible' does not exist" })
    const foreignModel = await server.request("PATCH", "/api/v1/models/default", { token: stranger.apiKey, json: { model_type: "chat", model_id: "gpt-4o-mini@my-gpt" } })
    expect(foreignModel.body.code).toBe(102)
  })

  it("refuses unknown models (102), missing and wrong-type fields (101 naming them), the wrong content type (101) and bad credentials (401)", async () => {
    const unknown = await server.request("PATCH", "/api/v1/models/default", { token: owner.apiKey, json: { model_type: "chat", model_id: "nope@Nowhere" } })
    expect(unknown.body.code).toBe(102)
    const wrongType = await server.request("PATCH", "/api/v1/models/default", { token: owner.apiKey, json: { model_type: "chat", model_id: "hash-64@Test" } })
    expect(wrongType.body.code).toBe(102)
    const badType = await server.request("PATCH", "/api/v1/models/default", { token: owner.apiKey, json: { model_type: "tts", model_id: "x@Test" } })
    expect(badType.body).toEqual({ code: 102, message: "model type 'tts' is invalid" })
    const noType = await server.request("PATCH", "/api/v1/models/default", { token: owner.apiKey, json: {} })
    expect(noType.body).toEqual({ code: 101, message: "model_type is required" })
    const numberType = await server.request("PATCH", "/api/v1/models/default", { token: owner.apiKey, json: { model_type: 1 } })
    expect(numberType.body.code).toBe(101)
    expect(numberType.body.message).toMatch(/^model_type/)
    const badId = await server.request("PATCH", "/api/v1/models/default", { token: owner.apiKey, json: { model_type: "chat", model_id: 5 } })
    expect(badId.body.code).toBe(101)
    expect(badId.body.message).toMatch(/^model_id/)
    const noName = await server.request("PUT", "/api/v1/providers", { token: owner.apiKey, json: {} })
    expect(noName.body).toEqual({ code: 101, message: "provider_name is required" })
    const noInstance = await server.request("POST", "/api/v1/providers/OpenAI-API-Compatible/instances", { token: owner.apiKey, json: { api_key: "k" } })
    expect(noInstance.body).toEqual({ code: 101, message: "instance_name is required" })
    const text = await server.request("PUT", "/api/v1/providers", { token: owner.apiKey, body: "x", headers: { "content-type": "text/plain" } })
    expect([text.body.code, text.body.message]).toEqual([101, "Unsupported content type: Expected application/json, got text/plain"])
    const none = await server.request("GET", "/api/v1/models")
    expect([none.status, none.body.code]).toEqual([401, 401])
  })
})
