import { describe, expect, layer } from "@effect/vitest"
import { Effect, Either, Option, Redacted } from "effect"
import * as ModelProvider from "../../src/ports/ModelProvider.js"
import { RecordStore } from "../../src/ports/RecordStore.js"
import * as Rag from "../../src/Rag.js"
import { decoding } from "../../src/RagClient.js"
import * as Models from "../../src/services/Models.js"
import * as HashEmbedder from "../../src/testing/HashEmbedder.js"
import * as TestModels from "../../src/testing/TestModels.js"
import { newCaller } from "./helpers.js"

/** A plugin for tenants' own providers that remembers the API key it was given. */
const keysSeen: Array<string> = []
const Keyed = ModelProvider.plugin({
  kind: "keyed",
  embedder: (request) =>
    Effect.sync(() => {
      keysSeen.push(Redacted.value(request.provider.apiKey))
      return HashEmbedder.make({ dimensions: 8, modelId: `${request.model}@${request.provider.name}` })
    })
})

const Engine = Rag.layer(Rag.layerMemoryPorts, [TestModels.layer, Keyed])

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

        // Stored as given, and handed to the plugin when a model of the provider resolves.
        const record = yield* store.modelProviders.findFirst({ tenant_id: me.tenantId, name: "mine" })
        expect(Option.getOrThrow(record).api_key).toBe(KEY)
        const embedder = yield* (yield* Models.Models).embedder(me, "any-model@mine")
        expect(embedder.modelId).toBe("any-model@mine")
        expect(keysSeen.at(-1)).toBe(KEY)

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
