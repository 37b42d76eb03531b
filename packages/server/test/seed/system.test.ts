import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Account, memoryEngine, type SeedServer, startSeedServer } from "../support/seedServer.js"

const TOKEN_FIELDS = ["tenant_id", "token", "beta", "create_time", "create_date", "update_time", "update_date"]

let server: SeedServer
let owner: Account
let stranger: Account

beforeAll(async () => {
  server = await startSeedServer(memoryEngine({ users: { passwordCost: 2 ** 10 } }))
  ;[owner, stranger] = await Promise.all([server.account("sys-owner@example.com"), server.account("sys-stranger@example.com")])
}, 60_000)
afterAll(() => server.close())

const listed = async (token: string) => (await server.request("GET", "/api/v1/system/token_list", { token })).body.data as Array<Record<string, string>>

describe("/api/v1/system", () => {
  it("status reports every store in RAGFlow's shape, with redis not used", async () => {
    const reply = await server.request("GET", "/api/v1/system/status", { token: owner.session })
    expect(reply.status).toBe(200)
    const data = reply.body.data
    expect(data.doc_engine).toMatchObject({ type: expect.any(String), status: "green", elapsed: expect.stringMatching(/^\d+\.\d$/) })
    expect(data.storage).toMatchObject({ storage: expect.any(String), status: "green", elapsed: expect.stringMatching(/^\d+\.\d$/) })
    expect(data.database).toMatchObject({ database: expect.any(String), status: "green", elapsed: expect.stringMatching(/^\d+\.\d$/) })
    expect(data.redis).toEqual({ status: "not_used", elapsed: "0.0" })
    expect(data.task_executor_heartbeats).toEqual({})
    expect(data.task_queue).toMatchObject({ status: "green", queued: 0, running: 0 })
    const none = await server.request("GET", "/api/v1/system/status")
    expect([none.status, none.body.code]).toEqual([401, 401])
  })

  it("new_token shows the key once with its beta; token_list shows ids and betas, never keys; delete takes the id or the key", async () => {
    const made = await server.request("POST", "/api/v1/system/new_token", { token: owner.session })
    expect(made.status).toBe(200)
    for (const field of TOKEN_FIELDS) expect(made.body.data).toHaveProperty(field)
    const { beta, id, token: key } = made.body.data
    expect(made.body.data.tenant_id).toBe(owner.caller.tenantId)
    expect(key).toMatch(/^ragkit-/)
    expect(beta).toHaveLength(32)
    expect(made.body.data).not.toHaveProperty("token_hash")
    expect((await server.request("GET", "/api/v1/system/version", { token: key })).status).toBe(200)

    const list = await listed(owner.apiKey)
    const entry = list.find((t) => t.id === id)
    expect(entry).toMatchObject({ token: id, beta, tenant_id: owner.caller.tenantId })
    for (const field of TOKEN_FIELDS) expect(entry).toHaveProperty(field)
    const text = JSON.stringify(list)
    expect(text).not.toContain(key)
    expect(text).not.toContain(owner.apiKey)
    expect(text).not.toContain("token_hash")
    // A beta may only chat: it manages no keys.
    const byBeta = await server.request("GET", "/api/v1/system/token_list", { token: beta })
    expect([byBeta.status, byBeta.body.code]).toEqual([403, 109])

    const removed = await server.request("DELETE", `/api/v1/system/token/${entry!.token}`, { token: owner.session })
    expect(removed.body).toEqual({ code: 0, message: "success", data: true })
    expect((await server.request("GET", "/api/v1/system/version", { token: key })).status).toBe(401)
    expect((await listed(owner.apiKey)).map((t) => t.id)).not.toContain(id)
    const again = await server.request("DELETE", `/api/v1/system/token/${id}`, { token: owner.session })
    expect([again.status, again.body.code]).toEqual([404, 102])

    const second = (await server.request("POST", "/api/v1/system/new_token", { token: owner.apiKey })).body.data
    const byKey = await server.request("DELETE", `/api/v1/system/token/${encodeURIComponent(second.token)}`, { token: owner.apiKey })
    expect(byKey.body.data).toBe(true)
    expect((await server.request("GET", "/api/v1/system/version", { token: second.token })).status).toBe(401)
  })

  it("another tenant's key is 404 by id or by key, and keeps working; lists show only the caller's tenant's keys", async () => {
    const made = (await server.request("POST", "/api/v1/system/new_token", { token: owner.apiKey })).body.data
    const byId = await server.request("DELETE", `/api/v1/system/token/${made.id}`, { token: stranger.apiKey })
    expect([byId.status, byId.body.code, byId.body.data]).toEqual([404, 102, null])
    const byKey = await server.request("DELETE", `/api/v1/system/token/${encodeURIComponent(made.token)}`, { token: stranger.session })
    expect([byKey.status, byKey.body.code]).toEqual([404, 102])
    // The refusal never echoes the key.
    expect(JSON.stringify(byKey.body)).not.toContain(made.token)
    expect((await server.request("GET", "/api/v1/system/version", { token: made.token })).status).toBe(200)
    expect((await listed(owner.apiKey)).map((t) => t.id)).toContain(made.id)
    const strangers = await listed(stranger.apiKey)
    expect(strangers.length).toBe(1)
    expect(strangers.every((t) => t.tenant_id === stranger.caller.tenantId)).toBe(true)
    for (const [method, path] of [["POST", "/api/v1/system/new_token"], ["GET", "/api/v1/system/token_list"], ["DELETE", `/api/v1/system/token/${made.id}`]] as const) {
      const reply = await server.request(method, path)
      expect([path, reply.status, reply.body.code]).toEqual([path, 401, 401])
    }
  })

  it("the OpenAPI document shows the user, tenants and system routes", async () => {
    const doc = (await server.request("GET", "/api/v1/openapi.json")).body
    for (const path of ["/api/v1/user/login", "/api/v1/user/register", "/api/v1/user/logout", "/api/v1/user/info", "/api/v1/user/setting", "/api/v1/tenants/list", "/api/v1/tenants/{tenant_id}/user/list", "/api/v1/tenants/{tenant_id}/user", "/api/v1/tenants/{tenant_id}/user/{user_id}", "/api/v1/tenants/agree/{tenant_id}", "/api/v1/system/status", "/api/v1/system/new_token", "/api/v1/system/token_list", "/api/v1/system/token/{token}"]) {
      expect(doc.paths).toHaveProperty([path])
    }
    expect(Object.keys(doc.paths["/api/v1/user/login"].post.responses)).toEqual(expect.arrayContaining(["200", "400", "401", "429"]))
  })

  it("ping and healthz need no credentials; version does", async () => {
    const ping = await server.request("GET", "/api/v1/system/ping")
    expect([ping.status, ping.body]).toEqual([200, "pong"])
    const health = await server.request("GET", "/api/v1/system/healthz")
    expect([health.status, health.body]).toEqual([200, { db: "ok", status: "ok" }])
    expect((await server.request("GET", "/api/v1/system/version")).status).toBe(401)
    const version = await server.request("GET", "/api/v1/system/version", { token: owner.apiKey })
    expect(version.body).toEqual({ code: 0, message: "success", data: expect.any(String) })
  })
})
