import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Either, Option, Redacted } from "effect"
import { ModelProviderConfig } from "../../src/domain/Records.js"
import * as ModelProvider from "../../src/ports/ModelProvider.js"
import { RecordStore } from "../../src/ports/RecordStore.js"
import * as Rag from "../../src/Rag.js"
import { decoding } from "../../src/RagClient.js"
import * as Models from "../../src/services/Models.js"
import * as HashEmbedder from "../../src/testing/HashEmbedder.js"
import * as TestModels from "../../src/testing/TestModels.js"
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
