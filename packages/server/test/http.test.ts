import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { defaults } from "../src/Config.js"
import * as Engine from "../src/Engine.js"
import * as Http from "../src/Http.js"

const dataDir = mkdtempSync(join(tmpdir(), "ragkit-server-"))
const Server = Http.app.pipe(
  Layer.provide(Engine.layer(defaults({ port: 0, dataDir, workers: 0, ocr: false }))),
  Layer.provideMerge(NodeHttpServer.layerTest)
)

describe("system routes", () => {
  layer(Server, { timeout: 120_000 })((it) => {
    it.effect("answers ping, version and healthz on the embedded engine", () =>
      Effect.gen(function* () {
        const client = yield* HttpClient.HttpClient
        const ping = yield* client.execute(HttpClientRequest.get("/api/v1/system/ping"))
        expect([ping.status, yield* ping.text]).toEqual([200, "pong"])
        const version = yield* client.execute(HttpClientRequest.get("/api/v1/system/version"))
        expect(yield* version.json).toEqual({ code: 0, data: Http.version, message: "success" })
        const health = yield* client.execute(HttpClientRequest.get("/api/v1/system/healthz"))
        expect([health.status, yield* health.json]).toEqual([200, { db: "ok", status: "ok" }])
        const missing = yield* client.execute(HttpClientRequest.get("/api/v1/nope"))
        expect(missing.status).toBe(404)
      }))
  })
})
