/**
 * RAGFlow's REST conventions on the system routes: API keys at `/system/tokens`, 401 without
 * valid credentials, HTTP 200 with a code for errors, RAGFlow's 404 for an unknown path.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Account, type SeedServer, startSeedServer } from "../support/seedServer.js"

let server: SeedServer
let owner: Account
let stranger: Account

beforeAll(async () => {
  server = await startSeedServer()
  owner = await server.account("rest-system-owner@example.com")
  stranger = await server.account("rest-system-stranger@example.com")
})
afterAll(() => server.close())

const unauthorized = { code: 401, message: "<Unauthorized '401: Unauthorized'>", data: null }

describe("REST /system/tokens", () => {
  it("makes a key that works (shown once), lists keys by id only, deletes one; another tenant's key is code 102", async () => {
    const created = await server.request("POST", "/api/v1/system/tokens", { token: owner.apiKey })
    expect([created.status, created.body.code, created.body.message]).toEqual([200, 0, "success"])
    const key: string = created.body.data.token
    expect(key).toMatch(/^ragkit-/)
    // The new key is a working credential, sent bare (no `Bearer`), as RAGFlow allows.
    const listed = await server.request("GET", "/api/v1/system/tokens", { headers: { authorization: key } })
    expect([listed.status, listed.body.code]).toEqual([200, 0])
    const tokens: Array<{ token: string; id: string }> = listed.body.data
    expect(tokens.map((t) => t.token)).toContain(created.body.data.id)
    expect(JSON.stringify(listed.body)).not.toContain(key)

    const foreign = await server.request("DELETE", `/api/v1/system/tokens/${created.body.data.id}`, { token: stranger.apiKey })
    expect([foreign.status, foreign.body.code]).toEqual([200, 102])
    const removed = await server.request("DELETE", `/api/v1/system/tokens/${created.body.data.id}`, { token: owner.apiKey })
    expect([removed.status, removed.body]).toEqual([200, { code: 0, message: "success", data: true }])
    const gone = await server.request("GET", "/api/v1/system/tokens", { headers: { authorization: `bearer ${key}` } })
    expect([gone.status, gone.body]).toEqual([401, unauthorized])
  })

  it("refuses missing, invalid and chat-only credentials with RAGFlow's 401", async () => {
    const created = await server.request("POST", "/api/v1/system/tokens", { token: owner.apiKey })
    const beta: string = created.body.data.beta
    expect(beta.length).toBeGreaterThan(0)
    const variants: Array<Record<string, string>> = [{}, { authorization: "Bearer nope" }, { authorization: "" }, { authorization: `Bearer ${beta}` }]
    for (const headers of variants) {
      const reply = await server.request("GET", "/api/v1/system/tokens", { headers })
      expect([reply.status, reply.body]).toEqual([401, unauthorized])
    }
  })

  it("answers an unknown path with RAGFlow's 404", async () => {
    const reply = await server.request("GET", "/api/v1/datasets-nope/x", { token: owner.apiKey })
    expect([reply.status, reply.body]).toEqual([404, { code: 404, message: "Not Found: /api/v1/datasets-nope/x", data: null, error: "Not Found" }])
  })
})
