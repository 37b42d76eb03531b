import { describe, expect, it, layer } from "@effect/vitest"
import { Cause, Effect, Either, Exit, Layer, Option, Redacted, Stream } from "effect"
import type { Caller } from "../../src/domain/Caller.js"
import type { ModelError, StoreError } from "../../src/domain/Errors.js"
import type { ModelId, ModelProviderId } from "../../src/domain/Ids.js"
import { Model, ModelProviderConfig } from "../../src/domain/Records.js"
import * as ChatModel from "../../src/ports/ChatModel.js"
import * as ModelProvider from "../../src/ports/ModelProvider.js"
import { RecordStore } from "../../src/ports/RecordStore.js"
import * as Rag from "../../src/Rag.js"
import { decoding } from "../../src/RagClient.js"
import * as Models from "../../src/services/Models.js"
import * as HashEmbedder from "../../src/testing/HashEmbedder.js"
import * as TestModels from "../../src/testing/TestModels.js"
import { anId, stamps } from "../../src/testing/Records.js"
import { newCaller } from "./helpers.js"

/** A plugin for tenants' own providers that remembers the requests (and API keys) it was given. */
const keysSeen: Array<string> = []
const requestsSeen: Array<ModelProvider.ModelRequest> = []
const Keyed = ModelProvider.plugin({
  kind: "keyed",
  embedder: (request) =>
    Effect.sync(() => {
      keysSeen.push(Redacted.value(request.provider.apiKey))
      requestsSeen.push(request)
      return HashEmbedder.make({ dimensions: 8, modelId: `${request.model}@${request.provider.name}` })
    }),
  // A chat model whose context window is the declared one, as the adapters' are.
  chatModel: (request) =>
    Effect.sync(() => {
      keysSeen.push(Redacted.value(request.provider.apiKey))
      requestsSeen.push(request)
      return ChatModel.make({ modelId: `${request.model}@${request.provider.name}`, contextTokens: request.declared?.maxTokens, stream: () => Stream.empty })
    })
})

const SECRET = Redacted.make("a test secret key of at least 32 characters")
const Engine = Rag.layer(Rag.layerMemoryPorts, [TestModels.layer, Keyed], { secretKey: SECRET })

const service = Effect.map(Models.Models, (models) => decoding(models, Models.Operations))

const KEY = "sk-very-secret-key-0123456789"

describe("Models", () => {
  layer(Engine)((it) => {
    it.effect("a provider's key is kept to call it with and never shown again", () =>
      Effect.gen(function* () {
        const models = yield* service
        const store = yield* RecordStore
        const me = yield* newCaller()
        const added = yield* models.addProvider(me, { name: " mine ", kind: "keyed", api_key: KEY, settings: { dimensions: 8 } })
        expect(added).toMatchObject({ name: "mine", kind: "keyed", api_base: "", settings: { dimensions: 8 }, tenant_id: me.tenantId })
        expect(Object.keys(added)).not.toContain("api_key")
        const listed = yield* models.listProviders(me, {})
        expect(listed.map((p) => p.name)).toEqual(["mine"])
        expect(JSON.stringify(listed)).not.toContain(KEY)
        expect(JSON.stringify(added)).not.toContain(KEY)

        // Stored encrypted (AES-256-GCM, versioned), and handed to the plugin in clear when a model of the provider resolves.
        const record = Option.getOrThrow(yield* store.modelProviders.findFirst({ tenant_id: me.tenantId, name: "mine" }))
        expect(record.api_key).not.toContain(KEY)
        expect(record.api_key).toMatch(/^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/)
        expect(Buffer.from(record.api_key.split(":")[2]!, "base64").toString("latin1")).not.toContain(KEY)
        const embedder = yield* (yield* Models.Models).embedder(me, "any-model@mine")
        expect(embedder.modelId).toBe("any-model@mine")
        expect(keysSeen.at(-1)).toBe(KEY)
        expect(requestsSeen.at(-1)).toMatchObject({ provider: { declaredBy: "tenant" }, allowPrivateProviders: false })

        const twin = yield* Effect.flip(models.addProvider(me, { name: "mine", kind: "keyed", api_key: KEY }))
        expect(twin).toMatchObject({ _tag: "AlreadyExists", field: "name" })
        expect(JSON.stringify(twin)).not.toContain(KEY)
        // Another tenant sees none of it.
        expect(yield* models.listProviders(yield* newCaller(), {})).toEqual([])
      }))

    it.effect("refuses bad providers with the field named, and adds nothing", () =>
      Effect.gen(function* () {
        const models = yield* service
        const me = yield* newCaller()
        const attempts: ReadonlyArray<readonly [typeof Models.AddProviderRequest.Encoded, string, string?]> = [
          [{ name: "", kind: "keyed" }, "name", "name can't be empty"],
          [{ name: "a@b", kind: "keyed" }, "name", "name can't contain @"],
          [{ name: "n".repeat(65), kind: "keyed" }, "name"],
          [{ name: "ok", kind: "" }, "kind"],
          [{ name: "ok", kind: "nope" }, "kind", "no plugin of kind nope is installed (installed: test, keyed)"],
          [{ name: "ok", kind: "keyed", settings: [] as never }, "settings"],
          [{ name: "ok", kind: "keyed", api_key: 42 as never }, "api_key"],
          [{ name: "ok", kind: "keyed", api_key: "k".repeat(4097) }, "api_key"],
          [{ name: "ok", kind: "keyed", api_base: "h".repeat(2049) }, "api_base"]
        ]
        for (const [input, field, message] of attempts) {
          const result = yield* Effect.either(models.addProvider(me, input))
          expect(Either.isLeft(result) && result.left).toMatchObject({ _tag: "InvalidInput", field, ...(message === undefined ? {} : { message }) })
          if (Either.isLeft(result)) expect(JSON.stringify(result.left)).not.toContain("k".repeat(20))
        }
        expect(yield* models.listProviders(me, {})).toEqual([])
      }))

    it.effect("removes a provider by name: its models no longer resolve", () =>
      Effect.gen(function* () {
        const models = yield* service
        const me = yield* newCaller()
        yield* models.addProvider(me, { name: "gone", kind: "keyed" })
        yield* (yield* Models.Models).embedder(me, "m@gone")
        yield* models.removeProvider(me, { name: "gone" })
        expect(yield* models.listProviders(me, {})).toEqual([])
        const resolved = yield* Effect.flip((yield* Models.Models).embedder(me, "m@gone"))
        expect(resolved).toMatchObject({ _tag: "ModelError", reason: "NotConfigured" })
        expect(yield* Effect.flip(models.removeProvider(me, { name: "gone" }))).toMatchObject({ _tag: "NotFound" })
      }))

    it.effect("sets default models that resolve, clears them with an empty string", () =>
      Effect.gen(function* () {
        const models = yield* service
        const me = yield* newCaller()
        const tenant = yield* models.setDefaults(me, { llm_id: " echo@Test ", rerank_id: "overlap@Test" })
        expect([tenant.llm_id, tenant.embd_id, tenant.rerank_id]).toEqual(["echo@Test", "hash-64@Test", "overlap@Test"])
        for (const [input, field] of [
          [{ embd_id: "nope@Nowhere" }, "embd_id"],
          [{ llm_id: "hash-64@Test" }, "llm_id"],
          [{ rerank_id: "no-provider" }, "rerank_id"]
        ] as const) {
          expect(yield* Effect.flip(models.setDefaults(me, input))).toMatchObject({ _tag: "InvalidInput", field })
        }
        const cleared = yield* models.setDefaults(me, { rerank_id: "" })
        expect([cleared.llm_id, cleared.embd_id, cleared.rerank_id]).toEqual(["echo@Test", "hash-64@Test", ""])
      }))

    it.effect("a key that can't be read is a clear ModelError: another secret key, another record, stored in clear", () =>
      Effect.gen(function* () {
        const models = yield* service
        const store = yield* RecordStore
        const me = yield* newCaller()
        yield* models.addProvider(me, { name: "sealed", kind: "keyed", api_key: KEY })
        const record = Option.getOrThrow(yield* store.modelProviders.findFirst({ tenant_id: me.tenantId, name: "sealed" }))
        const notConfigured = (message: RegExp) => ({ _tag: "ModelError", reason: "NotConfigured", message: expect.stringMatching(message) })

        // The same records under another secret key, and under none.
        const elsewhere = yield* Models.make({ secretKey: Redacted.make("another secret key, also 32 characters long") })
        const wrongKey = yield* Effect.flip(elsewhere.embedder(me, "m@sealed"))
        expect(wrongKey).toMatchObject(notConfigured(/can't be decrypted with this deployment's secret key/))
        const keyless = yield* Models.make()
        expect(yield* Effect.flip(keyless.embedder(me, "m@sealed"))).toMatchObject(notConfigured(/this deployment has no secret key/))

        // A sealed key copied onto another provider record does not open there.
        yield* models.addProvider(me, { name: "other", kind: "keyed" })
        const other = Option.getOrThrow(yield* store.modelProviders.findFirst({ tenant_id: me.tenantId, name: "other" }))
        yield* store.modelProviders.update(new ModelProviderConfig({ ...other, api_key: record.api_key }))
        expect(yield* Effect.flip((yield* Models.Models).embedder(me, "m@other"))).toMatchObject(notConfigured(/can't be decrypted/))

        // A key stored in clear (as before keys were encrypted) is refused, not sent.
        yield* store.modelProviders.update(new ModelProviderConfig({ ...record, api_key: KEY }))
        const before = keysSeen.length
        const clear = yield* Effect.flip((yield* Models.Models).embedder(me, "m@sealed"))
        expect(clear).toMatchObject(notConfigured(/stored unencrypted .*remove the provider and add it again/))
        expect(keysSeen.length).toBe(before)
        for (const error of [wrongKey, clear]) expect(JSON.stringify(error)).not.toContain(KEY)
      }))

    it.effect("without a secret key, providers can be added only without an API key", () =>
      Effect.gen(function* () {
        const me = yield* newCaller()
        const keyless = decoding(yield* Models.make(), Models.Operations)
        expect(yield* Effect.flip(keyless.addProvider(me, { name: "k", kind: "keyed", api_key: KEY }))).toMatchObject({
          _tag: "InvalidInput",
          field: "api_key"
        })
        yield* keyless.addProvider(me, { name: "k", kind: "keyed" })
        yield* (yield* Models.Models).embedder(me, "m@k")
        expect(keysSeen.at(-1)).toBe("")
      }))

    it.effect("a tenant's provider can't point at a loopback, private or link-local address", () =>
      Effect.gen(function* () {
        const models = yield* service
        const me = yield* newCaller()
        const refused = [
          "http://127.0.0.1:11434",
          "http://127.1:8080/v1",
          "http://2130706433/",
          "http://0x7f.0.0.1/",
          "http://localhost:8000/v1",
          "http://LOCALHOST./v1",
          "http://models.localhost/v1",
          "http://0.0.0.0:80",
          "http://10.1.2.3/v1",
          "http://172.16.0.1",
          "http://172.31.255.254",
          "http://192.168.1.10",
          "http://169.254.169.254/latest/meta-data",
          "http://100.64.0.1",
          "http://[::1]:11434",
          "http://[::]/",
          "http://[fc00::1]/",
          "http://[fd12:3456::1]/",
          "http://[fe80::1]/",
          "http://[::ffff:127.0.0.1]/",
          "http://[::ffff:10.0.0.1]/",
          "http://[64:ff9b::a9fe:a9fe]/",
          "http://[2002:c0a8:0101::1]/"
        ]
        for (const api_base of refused) {
          const error = yield* Effect.flip(models.addProvider(me, { name: "p", kind: "keyed", api_base }))
          expect(error, api_base).toMatchObject({ _tag: "InvalidInput", field: "api_base", message: expect.stringContaining("loopback, private or link-local") })
        }
        // Credentials, a query or a fragment would be shown in lists: the key goes in api_key.
        for (const api_base of ["https://someone:hunter2@api.example.com/v1", "https://api.example.com/v1?api_key=hunter2", "https://api.example.com/v1#hunter2"]) {
          const error = yield* Effect.flip(models.addProvider(me, { name: "p", kind: "keyed", api_base }))
          expect(error, api_base).toMatchObject({ _tag: "InvalidInput", field: "api_base" })
          expect(JSON.stringify(error)).not.toContain("hunter2")
        }
        expect(yield* models.listProviders(me, {})).toEqual([])
        const accepted = ["https://api.openai.com/v1", "http://8.8.8.8/v1", "http://172.32.0.1", "http://[2001:4860:4860::8888]/", "http://[::ffff:8.8.8.8]/"]
        for (const [i, api_base] of accepted.entries()) yield* models.addProvider(me, { name: `ok-${i}`, kind: "keyed", api_base })
        expect((yield* models.listProviders(me, {})).length).toBe(accepted.length)
        // The deployment's own providers are another matter: the plugin is told who declared the provider.
        yield* (yield* Models.Models).embedder(me, "hash-64@Test")
        yield* (yield* Models.Models).embedder(me, "m@ok-0")
        expect(requestsSeen.at(-1)).toMatchObject({ provider: { declaredBy: "tenant", apiBase: "https://api.openai.com/v1" }, allowPrivateProviders: false })
      }))

    it.effect("a stored provider at a private address is refused when used, unless the deployment allows it", () =>
      Effect.gen(function* () {
        const store = yield* RecordStore
        const me = yield* newCaller()
        const allowing = decoding(yield* Models.make({ secretKey: SECRET, allowPrivateProviders: true }), Models.Operations)
        yield* allowing.addProvider(me, { name: "local", kind: "keyed", api_base: "http://127.0.0.1:11434", api_key: KEY })
        expect(Option.isSome(yield* store.modelProviders.findFirst({ tenant_id: me.tenantId, name: "local" }))).toBe(true)
        const error = yield* Effect.flip((yield* Models.Models).embedder(me, "m@local"))
        expect(error).toMatchObject({ _tag: "ModelError", reason: "NotConfigured", message: expect.stringContaining("loopback, private or link-local") })
        const allowed = yield* Models.make({ secretKey: SECRET, allowPrivateProviders: true })
        yield* allowed.embedder(me, "m@local")
        expect(requestsSeen.at(-1)).toMatchObject({ provider: { declaredBy: "tenant" }, allowPrivateProviders: true })
        expect(keysSeen.at(-1)).toBe(KEY)
      }))

    it.effect("lists the installed plugins and the providers they serve to everyone", () =>
      Effect.gen(function* () {
        const models = yield* service
        const plugins = yield* models.listPlugins(yield* newCaller(), {})
        expect(plugins).toEqual([
          { kind: "test", providers: ["Test"] },
          { kind: "keyed", providers: [] }
        ])
      }))
  })
})

/** The deployment's secret: it may reach the plugin, and nothing else. */
const DEPLOYMENT_KEY = "sk-deployment-secret-9876543210"

/** The deployment's own providers, as the server's config file declares them. */
const deploymentProviders: ReadonlyArray<Models.DeploymentProvider> = [
  {
    name: "Acme",
    kind: "keyed",
    // A model server on this machine: the deployment's providers may reach it, tenants' may not.
    baseUrl: "http://127.0.0.1:11434",
    apiKey: Redacted.make(DEPLOYMENT_KEY),
    settings: { timeout_ms: 5000 },
    models: [
      { name: "acme/embed-large", type: "embedding", maxTokens: 512 },
      { name: "acme-chat", type: "chat", maxTokens: 32768 },
      { name: "acme-rerank", type: "rerank" }
    ]
  },
  // Declares no models: any name its server knows, taken on trust.
  { name: "Open", kind: "keyed", baseUrl: "https://api.example.com/v1" },
  // Its plugin is not installed here.
  { name: "Gone", kind: "not-installed", models: [{ name: "g", type: "chat", maxTokens: 4096 }] }
]

/** A tenant's provider record as stored, bypassing `addProvider`'s checks (a record from before a rule). */
const storedProvider = (caller: Caller, name: string, api_base: string) =>
  new ModelProviderConfig({
    id: anId() as ModelProviderId,
    tenant_id: caller.tenantId,
    name,
    kind: "keyed",
    api_base,
    api_key: "",
    settings: {},
    ...stamps()
  })

const Deployed = Rag.layer(Rag.layerMemoryPorts, [TestModels.layer, Keyed], { secretKey: SECRET, providers: deploymentProviders })

describe("Models: the deployment's providers", () => {
  layer(Deployed)((it) => {
    it.effect("resolve for every tenant with the deployment's key and declared context size, and may reach this machine", () =>
      Effect.gen(function* () {
        const resolver = yield* Models.Models
        for (const tenant of [yield* newCaller(), yield* newCaller()]) {
          const embedder = yield* resolver.embedder(tenant, "acme/embed-large@Acme")
          expect(embedder.modelId).toBe("acme/embed-large@Acme")
          expect(keysSeen.at(-1)).toBe(DEPLOYMENT_KEY)
          const request = requestsSeen.at(-1)!
          expect(request).toMatchObject({
            model: "acme/embed-large",
            declared: { name: "acme/embed-large", type: "embedding", maxTokens: 512 },
            provider: { name: "Acme", kind: "keyed", apiBase: "http://127.0.0.1:11434", settings: { timeout_ms: 5000 }, declaredBy: "deployment" },
            allowPrivateProviders: false
          })
          // The deployment's provider may reach 127.0.0.1 although tenants' may not.
          expect(ModelProvider.mayReachPrivateAddresses(request)).toBe(true)
          // The declared maxTokens is the chat model's context window.
          expect((yield* resolver.chatModel(tenant, "acme-chat@Acme")).contextTokens).toBe(32768)
          // A provider that declares no models serves any name; its chat models keep the default window.
          expect((yield* resolver.chatModel(tenant, "whatever-7b@Open")).contextTokens).toBe(ChatModel.DefaultContextTokens)
        }
        const me = yield* newCaller()
        // The same address as a tenant's provider is refused.
        const tenantOwn = yield* Effect.flip(decoding(resolver, Models.Operations).addProvider(me, { name: "mine", kind: "keyed", api_base: "http://127.0.0.1:11434" }))
        expect(tenantOwn).toMatchObject({ _tag: "InvalidInput", field: "api_base", message: expect.stringContaining("loopback, private or link-local") })

        const failure = (ref: string, get: (caller: Caller, ref: string) => Effect.Effect<unknown, ModelError | StoreError> = resolver.embedder) =>
          Effect.flip(get(me, ref))
        expect(yield* failure("acme-chat@Acme")).toMatchObject({ reason: "NotConfigured", message: "acme-chat@Acme is a chat model, not an embedding model" })
        expect(yield* failure("acme-small@Acme")).toMatchObject({
          reason: "NotConfigured",
          message: expect.stringContaining("serves acme/embed-large, acme-chat, acme-rerank, not acme-small")
        })
        // The plugin serves no rerank models: refused before the plugin is asked.
        expect(yield* failure("acme-rerank@Acme", resolver.reranker)).toMatchObject({ message: expect.stringContaining("serves no rerank models") })
        expect(yield* failure("g@Gone", resolver.chatModel)).toMatchObject({
          message: "Provider Gone (declared by the deployment) needs the not-installed plugin, which is not installed"
        })
      }))

    it.effect("come first: a tenant can't take their names, and a record stored under one before is never used", () =>
      Effect.gen(function* () {
        const models = decoding(yield* Models.Models, Models.Operations)
        const store = yield* RecordStore
        const me = yield* newCaller()
        for (const name of ["Acme", "Open", "Test"]) {
          expect(yield* Effect.flip(models.addProvider(me, { name, kind: "keyed", api_base: "https://evil.example.com/v1" }))).toMatchObject({
            _tag: "AlreadyExists",
            field: "name",
            message: `Provider ${name} is a provider of this deployment: choose another name`
          })
        }
        // A tenant's record named like the deployment's provider (stored before the deployment declared it).
        yield* store.modelProviders.insert(storedProvider(me, "Acme", "https://evil.example.com/v1"))
        yield* (yield* Models.Models).embedder(me, "acme/embed-large@Acme")
        expect(requestsSeen.at(-1)!.provider).toMatchObject({ declaredBy: "deployment", apiBase: "http://127.0.0.1:11434" })
        expect((yield* models.listModels(me, {})).filter((m) => m.provider === "Acme").every((m) => m.declared_by === "deployment")).toBe(true)
      }))

    it.effect("listModels: every model a tenant can name, with type, context size and whether usable, loading none", () =>
      Effect.gen(function* () {
        const models = decoding(yield* Models.Models, Models.Operations)
        const store = yield* RecordStore
        const me = yield* newCaller()
        yield* models.addProvider(me, { name: "mine", kind: "keyed", api_base: "https://api.example.org/v1", api_key: KEY })
        yield* models.addProvider(me, { name: "other", kind: "keyed" })
        // The models a tenant declared for its providers (RAGFlow's tenant_llm rows), and a provider stored before private addresses were refused.
        const declare = (provider: string, name: string, model_type: Model["model_type"], max_tokens: number) =>
          store.models.insert(
            new Model({
              id: anId() as ModelId,
              tenant_id: me.tenantId,
              provider,
              name,
              model_type,
              max_tokens,
              dimensions: null,
              used_tokens: 0,
              status: "1",
              ...stamps()
            })
          )
        yield* declare("mine", "gpt-large", "chat", 128_000)
        yield* declare("mine", "whisper", "speech2text", 0)
        yield* store.modelProviders.insert(storedProvider(me, "stale", "http://10.0.0.5/v1"))
        yield* declare("stale", "old-chat", "chat", 4096)
        const resolutions = requestsSeen.length

        const listed = yield* models.listModels(me, {})
        expect(listed.map((m) => [m.id, m.model_type, m.max_tokens, m.declared_by, m.usable, m.unusable_reason])).toEqual([
          ["acme/embed-large@Acme", "embedding", 512, "deployment", true, null],
          ["acme-chat@Acme", "chat", 32768, "deployment", true, null],
          ["acme-rerank@Acme", "rerank", null, "deployment", false, "the keyed plugin serves no rerank models"],
          ["g@Gone", "chat", 4096, "deployment", false, "the not-installed plugin is not installed"],
          ["hash-64@Test", "embedding", null, "deployment", true, null],
          ["echo@Test", "chat", null, "deployment", true, null],
          ["overlap@Test", "rerank", null, "deployment", true, null],
          ["gpt-large@mine", "chat", 128000, "tenant", true, null],
          [
            "old-chat@stale",
            "chat",
            4096,
            "tenant",
            false,
            "the api_base of provider stale can't point at a loopback, private or link-local address (this deployment does not allow it)"
          ]
        ])
        expect(listed[0]).toMatchObject({ name: "acme/embed-large", provider: "Acme", provider_kind: "keyed" })
        expect((yield* models.listModels(me, { model_type: "chat" })).map((m) => m.id)).toEqual(["acme-chat@Acme", "g@Gone", "echo@Test", "gpt-large@mine", "old-chat@stale"])
        expect(yield* Effect.flip(models.listModels(me, { model_type: "tts" as never }))).toMatchObject({ _tag: "InvalidInput", field: "model_type" })
        // Another tenant sees the deployment's and the plugins' models, none of this tenant's.
        expect((yield* models.listModels(yield* newCaller(), {})).map((m) => m.provider)).not.toContain("mine")
        // Nothing was resolved to list them.
        expect(requestsSeen.length).toBe(resolutions)

        // The deployment's providers are listed with their plugin, and no key is ever shown.
        const plugins = yield* models.listPlugins(me, {})
        expect(plugins).toContainEqual({ kind: "keyed", providers: ["Acme", "Open"] })
        const shown = JSON.stringify([listed, plugins, yield* models.listProviders(me, {})])
        expect(shown).not.toContain(DEPLOYMENT_KEY)
        expect(shown).not.toContain(KEY)
        // And no record holds the deployment's key.
        const records = yield* store.modelProviders.find({})
        expect(JSON.stringify(records)).not.toContain(DEPLOYMENT_KEY)
      }))

    it.effect("setDefaults checks that the models exist without resolving them (no server is called)", () =>
      Effect.gen(function* () {
        const models = decoding(yield* Models.Models, Models.Operations)
        const me = yield* newCaller()
        yield* models.addProvider(me, { name: "mine", kind: "keyed", api_base: "https://api.example.org/v1" })
        const resolutions = requestsSeen.length
        const tenant = yield* models.setDefaults(me, { llm_id: "acme-chat@Acme", embd_id: "acme/embed-large@Acme", rerank_id: "overlap@Test" })
        expect([tenant.llm_id, tenant.embd_id, tenant.rerank_id]).toEqual(["acme-chat@Acme", "acme/embed-large@Acme", "overlap@Test"])
        // Providers that don't declare their models: taken on trust rather than asked.
        yield* models.setDefaults(me, { llm_id: "some-model@Open", embd_id: "some-embedder@mine" })
        expect(requestsSeen.length).toBe(resolutions)

        const refusals: ReadonlyArray<readonly [Models.SetDefaultsRequest, string, string | RegExp]> = [
          [{ embd_id: "acme-small@Acme" }, "embd_id", /serves acme\/embed-large, acme-chat, acme-rerank, not acme-small/],
          [{ llm_id: "acme/embed-large@Acme" }, "llm_id", "acme/embed-large@Acme is an embedding model, not a chat model"],
          [{ rerank_id: "acme-rerank@Acme" }, "rerank_id", /serves no rerank models/],
          [{ llm_id: "g@Gone" }, "llm_id", /needs the not-installed plugin, which is not installed/],
          [{ embd_id: "hash-1@Test" }, "embd_id", "Unsupported model: hash-1@Test (provider Test has no such model; its embedding models: hash-64@Test)"],
          [{ llm_id: "hash-64@Test" }, "llm_id", "hash-64@Test is an embedding model, not a chat model"],
          [{ embd_id: "stale@nowhere" }, "embd_id", /^Unknown model provider nowhere/]
        ]
        for (const [input, field, message] of refusals) {
          const error = yield* Effect.flip(models.setDefaults(me, input))
          expect(error, JSON.stringify(input)).toMatchObject({ _tag: "InvalidInput", field, message: typeof message === "string" ? message : expect.stringMatching(message) })
        }
        expect(requestsSeen.length).toBe(resolutions)
        const unchanged = yield* models.setDefaults(me, {})
        expect([unchanged.llm_id, unchanged.embd_id]).toEqual(["some-model@Open", "some-embedder@mine"])
      }))

    it.effect("an unknown provider's error says how a deployment declares one", () =>
      Effect.gen(function* () {
        const me = yield* newCaller()
        const error = yield* Effect.flip((yield* Models.Models).embedder(me, "BAAI/bge-large-zh-v1.5@BAAI"))
        expect(error).toMatchObject({ _tag: "ModelError", reason: "NotConfigured", model: "BAAI/bge-large-zh-v1.5@BAAI" })
        expect(error.message).toBe(
          "Unknown model provider BAAI (in BAAI/bge-large-zh-v1.5@BAAI): neither this deployment nor this tenant has a provider of that name. " +
            `Declare it in the deployment's "providers" (the server's config file, or Rag.layer's providers option), e.g. ` +
            `{"name":"BAAI","kind":"onnx","models":[{"name":"BAAI/bge-large-zh-v1.5","type":"embedding","path":"/models/bge-large-zh-v1.5"}]}; ` +
            "or add it to the tenant (Models.addProvider)"
        )
        const chat = yield* Effect.flip((yield* Models.Models).chatModel(me, "gpt-4o@openai"))
        expect(chat.message).toContain(`{"name":"openai","kind":"openai-compatible","baseUrl":"https://api.example.com/v1","apiKey":"\${EXAMPLE_API_KEY}"`)
      }))

    it.effect("checkModel without a caller looks among the deployment's providers only (the server checks its defaults with it)", () =>
      Effect.gen(function* () {
        const resolver = yield* Models.Models
        expect(yield* resolver.checkModel(undefined, "acme-chat@Acme", "chat")).toMatchObject({ id: "acme-chat@Acme", max_tokens: 32768, usable: true })
        const me = yield* newCaller()
        yield* decoding(resolver, Models.Operations).addProvider(me, { name: "mine", kind: "keyed" })
        yield* resolver.checkModel(me, "x@mine", "chat")
        expect(yield* Effect.flip(resolver.checkModel(undefined, "x@mine", "chat"))).toMatchObject({ message: expect.stringMatching(/^Unknown model provider mine/) })
      }))
  })

  it("a mistake in the deployment's providers is a defect when the layer is built", async () => {
    const build = (providers: ReadonlyArray<Models.DeploymentProvider>) =>
      Effect.runPromiseExit(Effect.provide(Models.make({ providers }), Rag.layerMemoryStores.pipe(Layer.provideMerge(ModelProvider.layerPlugins))))
    for (const [providers, message] of [
      [[{ name: "a", kind: "k" }, { name: "a", kind: "k" }], "deployment provider a is declared twice"],
      [[{ name: "a@b", kind: "k" }], `deployment provider name "a@b": not empty, no @`],
      [[{ name: "a", kind: "k", models: [{ name: "m", type: "chat" }, { name: "m", type: "chat" }] }], `deployment provider a: model "m" is empty or declared twice`],
      [[{ name: "a", kind: "k", models: [{ name: "m", type: "chat", maxTokens: 0 }] }], "deployment provider a: model m: maxTokens must be a positive integer"]
    ] as const) {
      const exit = await build(providers)
      expect(Exit.isFailure(exit) && Cause.pretty(exit.cause)).toContain(message)
    }
  })
})

describe("ModelProvider.hostKind", () => {
  it("tells private addresses, public addresses and names apart", () => {
    const cases: ReadonlyArray<readonly [string, ModelProvider.HostKind]> = [
      ["127.0.0.1", "private"],
      ["127.255.255.254", "private"],
      ["10.0.0.1", "private"],
      ["172.16.0.1", "private"],
      ["172.31.0.1", "private"],
      ["172.32.0.1", "public"],
      ["192.168.0.1", "private"],
      ["169.254.169.254", "private"],
      ["0.0.0.0", "private"],
      ["224.0.0.1", "private"],
      ["255.255.255.255", "private"],
      ["8.8.8.8", "public"],
      ["1.1.1.1", "public"],
      ["::1", "private"],
      ["[::1]", "private"],
      ["::", "private"],
      ["0:0:0:0:0:0:0:1", "private"],
      ["fc00::1", "private"],
      ["fdff:ffff::1", "private"],
      ["fe80::1%eth0", "private"],
      ["febf::1", "private"],
      ["ff02::1", "private"],
      ["::ffff:127.0.0.1", "private"],
      ["::ffff:7f00:1", "private"],
      ["::ffff:192.168.1.1", "private"],
      ["::ffff:8.8.8.8", "public"],
      ["::127.0.0.1", "private"],
      ["64:ff9b::10.0.0.1", "private"],
      ["2002:7f00:1::", "private"],
      ["2001:4860:4860::8888", "public"],
      ["2606:4700::1111", "public"],
      ["localhost", "private"],
      ["LocalHost.", "private"],
      ["api.localhost", "private"],
      ["example.com", "name"],
      ["localhost.example.com", "name"],
      ["1.2.3", "name"],
      ["1:2:3", "name"]
    ]
    for (const [host, kind] of cases) expect([host, ModelProvider.hostKind(host)]).toEqual([host, kind])
  })
})
