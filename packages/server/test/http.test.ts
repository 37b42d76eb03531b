import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, layer } from "@effect/vitest"
import { decoding, Models, RecordStore, Users } from "@ragkit/core"
import { Effect, Layer, Option } from "effect"
import { mkdtempSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { defaults } from "../src/Config.js"
import * as Engine from "../src/Engine.js"
import * as Http from "../src/Http.js"
import * as SecretKey from "../src/SecretKey.js"

const dataDir = mkdtempSync(join(tmpdir(), "ragkit-server-"))
const EngineLive = Engine.layer(defaults({ port: 0, dataDir, workers: 0, ocr: false }))
// The engine stays visible to the tests: one start serves them all.
const Server = Http.app.pipe(Layer.provideMerge(EngineLive), Layer.provideMerge(NodeHttpServer.layerTest))

describe("system routes, and the engine behind them", () => {
  layer(Server, { timeout: 120_000 })((it) => {
    it.effect("answers ping, version and healthz on the embedded engine", () =>
      Effect.gen(function* () {
        const client = yield* HttpClient.HttpClient
        const ping = yield* client.execute(HttpClientRequest.get("/api/v1/system/ping"))
        expect([ping.status, yield* ping.text]).toEqual([200, "pong"])
        // The version needs credentials, as the seed lists.
        const anonymous = yield* client.execute(HttpClientRequest.get("/api/v1/system/version"))
        expect([anonymous.status, yield* anonymous.json]).toEqual([401, { code: 401, data: null, message: expect.stringMatching(/^Unauthorized/) }])
        const users = decoding(yield* Users.Users, Users.Operations)
        yield* users.register({ email: "version@example.com", nickname: "v", password: "password" })
        const { token } = yield* users.login({ email: "version@example.com", password: "password" })
        const version = yield* client.execute(HttpClientRequest.get("/api/v1/system/version").pipe(HttpClientRequest.bearerToken(token)))
        expect(yield* version.json).toEqual({ code: 0, data: Http.version, message: "success" })
        const health = yield* client.execute(HttpClientRequest.get("/api/v1/system/healthz"))
        expect([health.status, yield* health.json]).toEqual([200, { db: "ok", status: "ok" }])
        const missing = yield* client.execute(HttpClientRequest.get("/api/v1/nope"))
        expect(missing.status).toBe(404)
      }))

    it.effect("the engine's secrets: tenants' API keys are encrypted under <data-dir>/secret.key; their private providers are refused", () =>
      Effect.gen(function* () {
        const users = decoding(yield* Users.Users, Users.Operations)
        const models = decoding(yield* Models.Models, Models.Operations)
        const store = yield* RecordStore.RecordStore
        const email = "secrets@example.com"
        yield* users.register({ email, nickname: "s", password: "password" })
        const me = yield* users.authenticate({ token: (yield* users.login({ email, password: "password" })).token })
        const key = "sk-server-test-0123456789"
        expect(yield* Effect.flip(models.addProvider(me, { name: "local", kind: "ollama", api_base: "http://127.0.0.1:11434" }))).toMatchObject({
          _tag: "InvalidInput",
          field: "api_base"
        })
        yield* models.addProvider(me, { name: "remote", kind: "openai-compatible", api_base: "https://api.example.invalid/v1", api_key: key, settings: { dimensions: 8 } })
        expect(JSON.stringify(yield* models.listProviders(me, {}))).not.toContain(key)
        const stored = Option.getOrThrow(yield* store.modelProviders.findFirst({ tenant_id: me.tenantId, name: "remote" }))
        expect(stored.api_key).toMatch(/^v1:/)
        expect(stored.api_key).not.toContain(key)
        expect(statSync(SecretKey.path(dataDir)).mode & 0o777).toBe(0o600)
        // A model of the provider resolves: the key decrypts under the same secret key.
        expect((yield* (yield* Models.Models).embedder(me, "m@remote")).modelId).toBe("m@remote")
      }))
  })
})
