import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Account, type SeedServer, startSeedServer } from "../support/seedServer.js"

let server: SeedServer
let owner: Account
let stranger: Account
let busy: Account

beforeAll(async () => {
  server = await startSeedServer()
  const accounts = await Promise.all(
    ["dialog-owner@example.com", "dialog-stranger@example.com", "dialog-busy@example.com"].map((email) => server.account(email))
  )
  owner = accounts[0]!
  stranger = accounts[1]!
  busy = accounts[2]!
}, 60_000)
afterAll(() => server.close())

const documented = [
  "id", "tenant_id", "name", "description", "icon", "top_n", "top_k", "rerank_id", "similarity_threshold",
  "vector_similarity_weight", "llm_id", "llm_setting", "prompt_config", "meta_data_filter", "kb_ids", "kb_names",
  "create_time", "create_date", "update_time", "update_date", "status"
]

const newDialog = async (account: Account, json: Record<string, unknown> = {}): Promise<string> => {
  const reply = await server.request("POST", "/api/v1/dialogs/set", { token: account.apiKey, json: { name: "assistant", ...json } })
  expect(reply.status).toBe(200)
  return reply.body.data.id
}

describe("/api/v1/dialogs", () => {
  it("creates, reads, updates, lists and removes a dialog with the documented fields", async () => {
    const kbId = (await server.request("POST", "/api/v1/kbs/create", { token: owner.apiKey, json: { name: "handbook" } })).body.data.kb_id
    const created = await server.request("POST", "/api/v1/dialogs/set", {
      token: owner.apiKey,
      json: {
        name: "support",
        description: "answers questions",
        icon: "data:image/png;base64,AAAA",
        top_n: 4,
        top_k: 512,
        similarity_threshold: 0.2,
        vector_similarity_weight: 0.5,
        llm_setting: { temperature: 0.3 },
        meta_data_filter: { method: "manual" },
        prompt_config: { prologue: "Hello!", empty_response: "" },
        kb_ids: [kbId]
      }
    })
    expect(created.status).toBe(200)
    expect(created.body).toMatchObject({ code: 0, message: "success" })
    for (const field of documented) expect(created.body.data).toHaveProperty(field)
    const id = created.body.data.id
    expect(id).toMatch(/^[0-9a-f]{32}$/)
    expect(created.body.data).toMatchObject({
      tenant_id: owner.caller.tenantId,
      name: "support",
      description: "answers questions",
      icon: "data:image/png;base64,AAAA",
      top_n: 4,
      top_k: 512,
      rerank_id: "",
      similarity_threshold: 0.2,
      vector_similarity_weight: 0.5,
      // No llm_id given: the tenant's default chat model shows.
      llm_id: "echo@Test",
      llm_setting: { temperature: 0.3 },
      prompt_config: { prologue: "Hello!", empty_response: "", quote: true },
      meta_data_filter: { method: "manual" },
      kb_ids: [kbId],
      kb_names: ["handbook"],
      status: "1"
    })
    expect(typeof created.body.data.create_time).toBe("number")
    expect(typeof created.body.data.create_date).toBe("string")

    const read = await server.request("GET", "/api/v1/dialogs/get", { token: owner.session, query: { dialog_id: id } })
    expect(read.status).toBe(200)
    for (const field of documented) expect(read.body.data).toHaveProperty(field)
    expect(read.body.data).toMatchObject({ id, name: "support", kb_names: ["handbook"] })

    // With a dialog_id, set updates: absent fields keep their value.
    const updated = await server.request("POST", "/api/v1/dialogs/set", {
      token: owner.apiKey,
      json: { dialog_id: id, name: "support-2", top_n: 8, kb_ids: [] }
    })
    expect(updated.status).toBe(200)
    for (const field of documented) expect(updated.body.data).toHaveProperty(field)
    expect(updated.body.data).toMatchObject({ id, name: "support-2", top_n: 8, top_k: 512, description: "answers questions", kb_ids: [], kb_names: [] })

    const later = await newDialog(owner, { name: "later" })
    const listed = await server.request("GET", "/api/v1/dialogs/list", { token: owner.apiKey })
    expect(listed.status).toBe(200)
    expect(listed.body.code).toBe(0)
    const ids = listed.body.data.map((d: { id: string }) => d.id)
    expect(ids.indexOf(later)).toBeLessThan(ids.indexOf(id))
    for (const field of documented) expect(listed.body.data[0]).toHaveProperty(field)

    const removed = await server.request("POST", "/api/v1/dialogs/rm", { token: owner.apiKey, json: { dialog_ids: [id, later] } })
    expect(removed.body).toEqual({ code: 0, message: "success", data: true })
    const gone = await server.request("GET", "/api/v1/dialogs/get", { token: owner.apiKey, query: { dialog_id: id } })
    expect([gone.status, gone.body.code]).toEqual([404, 102])
    const after = await server.request("GET", "/api/v1/dialogs/list", { token: owner.apiKey })
    expect(after.body.data.map((d: { id: string }) => d.id)).not.toContain(later)
  })

  it("lists every dialog of the tenant, past any page size", async () => {
    const account = busy
    // More than a list's default page (30).
    await Promise.all(Array.from({ length: 35 }, (_, i) => newDialog(account, { name: `d${i}` })))
    const listed = await server.request("GET", "/api/v1/dialogs/list", { token: account.apiKey })
    expect(listed.body.data.map((d: { name: string }) => d.name).sort()).toEqual(Array.from({ length: 35 }, (_, i) => `d${i}`).sort())
  })

  it("refuses bad input with 400 naming the field", async () => {
    const noName = await server.request("POST", "/api/v1/dialogs/set", { token: owner.apiKey, json: {} })
    expect([noName.status, noName.body]).toEqual([400, { code: 101, message: "name is required", data: null }])
    const badTopN = await server.request("POST", "/api/v1/dialogs/set", { token: owner.apiKey, json: { name: "x", top_n: "many" } })
    expect([badTopN.status, badTopN.body.code]).toEqual([400, 101])
    expect(badTopN.body.message).toMatch(/^top_n/)
    const badSetting = await server.request("POST", "/api/v1/dialogs/set", { token: owner.apiKey, json: { name: "x", llm_setting: { temperature: 7 } } })
    expect([badSetting.status, badSetting.body.message]).toEqual([400, expect.stringMatching(/^llm_setting\.temperature/)])
    const unused = await server.request("POST", "/api/v1/dialogs/set", {
      token: owner.apiKey,
      json: { name: "x", prompt_config: { system: "Answer.", parameters: [{ key: "lang", optional: false }] } }
    })
    expect([unused.status, unused.body]).toEqual([400, { code: 101, message: "Parameter 'lang' is not used", data: null }])
    const badDialogId = await server.request("POST", "/api/v1/dialogs/set", { token: owner.apiKey, json: { dialog_id: "nope", name: "x" } })
    expect([badDialogId.status, badDialogId.body.message]).toEqual([400, "dialog_id is not a valid id"])
    const noId = await server.request("GET", "/api/v1/dialogs/get", { token: owner.apiKey })
    expect([noId.status, noId.body]).toEqual([400, { code: 101, message: "dialog_id is required", data: null }])
    const noIds = await server.request("POST", "/api/v1/dialogs/rm", { token: owner.apiKey, json: {} })
    expect([noIds.status, noIds.body.message]).toEqual([400, "dialog_ids is required"])
    const badIds = await server.request("POST", "/api/v1/dialogs/rm", { token: owner.apiKey, json: { dialog_ids: "abc" } })
    expect([badIds.status, badIds.body.message]).toEqual([400, expect.stringMatching(/^dialog_ids/)])
    const unknownKb = await server.request("POST", "/api/v1/dialogs/set", { token: owner.apiKey, json: { name: "x", kb_ids: ["0".repeat(32)] } })
    expect(unknownKb.status).toBe(404)
  })

  it("401 without credentials; another tenant's dialog is 404 and stays unchanged", async () => {
    for (const [method, path] of [["POST", "/api/v1/dialogs/set"], ["GET", "/api/v1/dialogs/get"], ["GET", "/api/v1/dialogs/list"], ["POST", "/api/v1/dialogs/rm"]] as const) {
      const none = await server.request(method, path, method === "POST" ? { json: {} } : {})
      expect([path, none.status, none.body.code]).toEqual([path, 401, 401])
    }
    const bad = await server.request("GET", "/api/v1/dialogs/list", { token: "ragkit-nope" })
    expect([bad.status, bad.body.code]).toEqual([401, 109])

    const id = await newDialog(owner, { name: "private" })
    const theirs = await newDialog(stranger, { name: "theirs" })
    const read = await server.request("GET", "/api/v1/dialogs/get", { token: stranger.apiKey, query: { dialog_id: id } })
    expect([read.status, read.body.code]).toEqual([404, 102])
    const change = await server.request("POST", "/api/v1/dialogs/set", { token: stranger.apiKey, json: { dialog_id: id, name: "mine" } })
    expect(change.status).toBe(404)
    // One foreign id among the caller's own: nothing is removed.
    const rm = await server.request("POST", "/api/v1/dialogs/rm", { token: stranger.apiKey, json: { dialog_ids: [theirs, id] } })
    expect(rm.status).toBe(404)
    const listed = await server.request("GET", "/api/v1/dialogs/list", { token: stranger.apiKey })
    expect(listed.body.data.map((d: { id: string }) => d.id)).toEqual([theirs])
    const after = await server.request("GET", "/api/v1/dialogs/get", { token: owner.apiKey, query: { dialog_id: id } })
    expect([after.status, after.body.data.name]).toEqual([200, "private"])
  })

  it("a dialog-scoped key reads its dialog only, and may not change dialogs or use other routes", async () => {
    const mine = await newDialog(owner, { name: "embedded" })
    const other = await newDialog(owner, { name: "other" })
    const key = await server.dialogKey(owner, mine)

    const read = await server.request("GET", "/api/v1/dialogs/get", { token: key, query: { dialog_id: mine } })
    expect([read.status, read.body.data.id]).toEqual([200, mine])
    const notMine = await server.request("GET", "/api/v1/dialogs/get", { token: key, query: { dialog_id: other } })
    expect([notMine.status, notMine.body.code]).toEqual([404, 102])
    const listed = await server.request("GET", "/api/v1/dialogs/list", { token: key })
    expect(listed.body.data.map((d: { id: string }) => d.id)).toEqual([mine])

    const create = await server.request("POST", "/api/v1/dialogs/set", { token: key, json: { name: "new" } })
    expect([create.status, create.body.code]).toEqual([403, 109])
    const update = await server.request("POST", "/api/v1/dialogs/set", { token: key, json: { dialog_id: mine, name: "renamed" } })
    expect(update.status).toBe(403)
    const rm = await server.request("POST", "/api/v1/dialogs/rm", { token: key, json: { dialog_ids: [mine] } })
    expect(rm.status).toBe(403)
    const kbs = await server.request("POST", "/api/v1/kbs/list", { token: key, json: {} })
    expect([kbs.status, kbs.body.code]).toEqual([403, 109])
    const after = await server.request("GET", "/api/v1/dialogs/get", { token: owner.apiKey, query: { dialog_id: mine } })
    expect(after.body.data.name).toBe("embedded")
  })
})
