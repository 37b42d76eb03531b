import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Account, type SeedServer, startSeedServer } from "../support/seedServer.js"

let server: SeedServer
let owner: Account
let stranger: Account

beforeAll(async () => {
  server = await startSeedServer()
  owner = await server.account("kb-owner@example.com")
  stranger = await server.account("kb-stranger@example.com")
}, 60_000)
afterAll(() => server.close())

describe("/api/v1/kbs", () => {
  it("creates, reads, updates, lists and removes a knowledge base with the documented fields", async () => {
    const created = await server.request("POST", "/api/v1/kbs/create", { token: owner.apiKey, json: { name: "manuals", chunk_method: "book", description: "d" } })
    expect(created.status).toBe(200)
    expect(created.body).toMatchObject({ code: 0, message: "success", data: { kb_id: expect.stringMatching(/^[0-9a-f]{32}$/) } })
    const kbId = created.body.data.kb_id

    const detail = await server.request("GET", "/api/v1/kbs/detail", { token: owner.session, query: { kb_id: kbId } })
    expect(detail.status).toBe(200)
    for (const field of ["id", "tenant_id", "name", "description", "language", "avatar", "parser_id", "parser_config", "embedding_model", "permission", "chunk_method", "document_count", "chunk_count", "token_num", "create_time", "create_date", "update_time", "update_date", "status", "size", "connectors"]) {
      expect(detail.body.data).toHaveProperty(field)
    }
    expect(detail.body.data).toMatchObject({ id: kbId, name: "manuals", parser_id: "book", chunk_method: "book", tenant_id: owner.caller.tenantId, connectors: [] })

    const updated = await server.request("POST", "/api/v1/kbs/update", { token: owner.apiKey, json: { kb_id: kbId, name: "manuals-2", permission: "team" } })
    expect(updated.status).toBe(200)
    expect(updated.body.data).toMatchObject({ id: kbId, name: "manuals-2", permission: "team" })

    const listed = await server.request("POST", "/api/v1/kbs/list", { token: owner.apiKey, query: { keywords: "manuals", page: 1, page_size: 10, desc: "false" }, json: {} })
    expect(listed.status).toBe(200)
    expect(listed.body.data.total).toBe(1)
    expect(listed.body.data.kbs.map((kb: { id: string }) => kb.id)).toEqual([kbId])

    const removed = await server.request("POST", "/api/v1/kbs/rm", { token: owner.apiKey, json: { kb_id: kbId } })
    expect(removed.body).toEqual({ code: 0, message: "success", data: true })
    const gone = await server.request("GET", "/api/v1/kbs/detail", { token: owner.apiKey, query: { kb_id: kbId } })
    expect([gone.status, gone.body.code]).toEqual([404, 102])
  })

  it("refuses bad input with 400 naming the field, and a body that is not JSON", async () => {
    const missing = await server.request("POST", "/api/v1/kbs/create", { token: owner.apiKey, json: {} })
    expect([missing.status, missing.body]).toEqual([400, { code: 101, message: "name is required", data: null }])
    const badType = await server.request("POST", "/api/v1/kbs/create", { token: owner.apiKey, json: { name: "x", permission: "everyone" } })
    expect([badType.status, badType.body.code]).toEqual([400, 101])
    expect(badType.body.message).toMatch(/^permission/)
    const badMethod = await server.request("POST", "/api/v1/kbs/create", { token: owner.apiKey, json: { name: "x", chunk_method: "nope" } })
    expect([badMethod.status, badMethod.body.code]).toEqual([400, 101])
    expect(badMethod.body.message).toMatch(/^parser_id/)
    const notJson = await server.request("POST", "/api/v1/kbs/create", { token: owner.apiKey, body: "{not json", headers: { "content-type": "application/json" } })
    expect([notJson.status, notJson.body]).toEqual([400, { code: 101, message: "the request body is not valid JSON", data: null }])
    const badPage = await server.request("POST", "/api/v1/kbs/list", { token: owner.apiKey, query: { page: "first" }, json: {} })
    expect([badPage.status, badPage.body.code]).toEqual([400, 101])
    expect(badPage.body.message).toMatch(/^page/)
    await server.request("POST", "/api/v1/kbs/create", { token: owner.apiKey, json: { name: "twice" } })
    const twice = await server.request("POST", "/api/v1/kbs/create", { token: owner.apiKey, json: { name: "twice" } })
    expect([twice.status, twice.body.code]).toEqual([400, 102])
  })

  it("401 without or with bad credentials; another tenant's knowledge base is 404 and stays unchanged", async () => {
    const none = await server.request("POST", "/api/v1/kbs/list", { json: {} })
    expect([none.status, none.body.code]).toEqual([401, 401])
    const bad = await server.request("POST", "/api/v1/kbs/list", { token: "ragkit-nope", json: {} })
    expect([bad.status, bad.body.code]).toEqual([401, 109])
    const noBearer = await server.request("POST", "/api/v1/kbs/list", { headers: { authorization: owner.session }, json: {} })
    expect(noBearer.status).toBe(200)

    const kbId = (await server.request("POST", "/api/v1/kbs/create", { token: owner.apiKey, json: { name: "private" } })).body.data.kb_id
    const read = await server.request("GET", "/api/v1/kbs/detail", { token: stranger.apiKey, query: { kb_id: kbId } })
    expect([read.status, read.body.code]).toEqual([404, 102])
    const change = await server.request("POST", "/api/v1/kbs/update", { token: stranger.apiKey, json: { kb_id: kbId, name: "mine" } })
    expect(change.status).toBe(404)
    const rm = await server.request("POST", "/api/v1/kbs/rm", { token: stranger.apiKey, json: { kb_id: kbId } })
    expect(rm.status).toBe(404)
    const after = await server.request("GET", "/api/v1/kbs/detail", { token: owner.apiKey, query: { kb_id: kbId } })
    expect(after.body.data.name).toBe("private")
  })

  it("a 500 carries a request id that the response header echoes; unknown routes are 404 in the envelope", async () => {
    const unknown = await server.request("GET", "/api/v1/nope", { token: owner.apiKey, headers: { "x-request-id": "abc-123" } })
    expect([unknown.status, unknown.headers.get("x-request-id")]).toEqual([404, "abc-123"])
    expect(unknown.body).toEqual({ code: 404, message: "Not Found: /api/v1/nope", data: null, error: "Not Found" })
    const ok = await server.request("POST", "/api/v1/kbs/list", { token: owner.apiKey, json: {} })
    expect(ok.headers.get("x-request-id")).toMatch(/^[0-9a-f]{32}$/)
  })
})

describe("the OpenAPI document", () => {
  it("describes the seed routes from the same definitions, with their error statuses", async () => {
    const doc = await server.request("GET", "/api/v1/openapi.json")
    expect(doc.status).toBe(200)
    expect(doc.body.openapi).toMatch(/^3\./)
    const create = doc.body.paths["/api/v1/kbs/create"].post
    expect(Object.keys(create.responses)).toEqual(expect.arrayContaining(["200", "400", "401", "403", "404", "500"]))
    expect(doc.body.paths["/api/v1/kbs/detail"].get.parameters.map((p: { name: string }) => p.name)).toContain("kb_id")
  })
})

describe("requests without a body", () => {
  it("read as an empty object: a list needs no -d '{}'", async () => {
    const listed = await server.request("POST", "/api/v1/kbs/list", { token: owner.apiKey })
    expect([listed.status, listed.body.code]).toEqual([200, 0])
    const create = await server.request("POST", "/api/v1/kbs/create", { token: owner.apiKey })
    expect([create.status, create.body.message]).toEqual([400, "name is required"])
  })
})
