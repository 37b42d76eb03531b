/**
 * RAGFlow's REST chats (`rest/Chats.ts`): create, list, get, update and delete chat assistants
 * with RAGFlow's shapes, defaults, messages and codes, through the real server.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Account, type SeedServer, startSeedServer } from "../support/seedServer.js"

let server: SeedServer
let owner: Account
let stranger: Account

beforeAll(async () => {
  server = await startSeedServer()
  const accounts = await Promise.all(["rest-chats-owner@example.com", "rest-chats-stranger@example.com"].map((e) => server.account(e)))
  owner = accounts[0]!
  stranger = accounts[1]!
}, 60_000)
afterAll(() => server.close())

const unauthorized = { code: 401, message: "<Unauthorized '401: Unauthorized'>", data: null }
const noAuthorization = { code: 109, message: "no authorization" }

const newDataset = async (account: Account, name: string): Promise<string> =>
  (await server.request("POST", "/api/v1/kbs/create", { token: account.apiKey, json: { name } })).body.data.kb_id

const createChat = (account: Account, json: unknown) => server.request("POST", "/api/v1/chats", { token: account.apiKey, json })

describe("REST /chats", () => {
  it("creates a chat with RAGFlow's fields and defaults, and gets and lists it", async () => {
    const dataset = await newDataset(owner, "handbook")
    const created = await createChat(owner, { name: "  Support  ", icon: "data:image/png;base64,AA==", dataset_ids: [dataset] })
    expect([created.status, created.body.code, created.body.message]).toEqual([200, 0, "success"])
    const chat = created.body.data
    expect(chat).toMatchObject({
      id: expect.stringMatching(/^[0-9a-f]{32}$/),
      name: "Support",
      icon: "data:image/png;base64,AA==",
      description: "A helpful Assistant",
      dataset_ids: [dataset],
      kb_names: ["handbook"],
      llm_id: "echo@Test",
      top_n: 6,
      top_k: 1024,
      similarity_threshold: 0.1,
      vector_similarity_weight: 0.3,
      rerank_id: "",
      prompt_type: "simple",
      status: "1",
      tenant_id: owner.caller.tenantId,
      prompt_config: { quote: true, empty_response: expect.any(String), prologue: expect.any(String) }
    })
    expect(chat).not.toHaveProperty("kb_ids")
    for (const field of ["create_time", "create_date", "update_time", "update_date", "llm_setting"]) expect(chat).toHaveProperty(field)

    const got = await server.request("GET", `/api/v1/chats/${chat.id}`, { token: owner.apiKey })
    expect([got.status, got.body]).toEqual([200, { code: 0, message: "success", data: chat }])

    const second = (await createChat(owner, { name: "Sales", llm_id: "echo@Test", rerank_id: "overlap@Test", top_n: 3 })).body.data
    expect(second).toMatchObject({ llm_id: "echo@Test", rerank_id: "overlap@Test", top_n: 3, dataset_ids: [], kb_names: [] })

    const listed = await server.request("GET", "/api/v1/chats", { token: owner.apiKey })
    expect([listed.status, listed.body.code, listed.body.message]).toEqual([200, 0, "success"])
    expect(listed.body.data.total).toBe(2)
    expect(listed.body.data.chats.map((c: { name: string }) => c.name)).toEqual(["Sales", "Support"])
    const oldest = await server.request("GET", "/api/v1/chats", { token: owner.apiKey, query: { desc: "false", page_size: 1 } })
    expect([oldest.body.data.total, oldest.body.data.chats.map((c: { id: string }) => c.id)]).toEqual([2, [chat.id]])
    const alphabetical = await server.request("GET", "/api/v1/chats", { token: owner.apiKey, query: { orderby: "name", desc: "true" } })
    expect(alphabetical.body.data.chats.map((c: { name: string }) => c.name)).toEqual(["Support", "Sales"])
    const byName = await server.request("GET", "/api/v1/chats", { token: owner.apiKey, query: { name: "Sales" } })
    expect(byName.body.data.chats.map((c: { id: string }) => c.id)).toEqual([second.id])
    const byId = await server.request("GET", "/api/v1/chats", { token: owner.apiKey, query: { id: chat.id, page: "x" } })
    expect(byId.body.data.chats.map((c: { id: string }) => c.id)).toEqual([chat.id])
    const badOrder = await server.request("GET", "/api/v1/chats", { token: owner.apiKey, query: { orderby: "size" } })
    expect([badOrder.status, badOrder.body]).toEqual([200, { code: 101, message: "invalid orderby field: size" }])

    // Another tenant sees none of them.
    const theirs = await server.request("GET", "/api/v1/chats", { token: stranger.apiKey })
    expect(theirs.body.data).toEqual({ chats: [], total: 0 })
  })

  it("refuses what RAGFlow refuses, with its messages", async () => {
    const foreignDataset = await newDataset(stranger, "private")
    await createChat(owner, { name: "Taken" })
    const cases: Array<[unknown, number, string]> = [
      [{}, 102, "`name` is required"],
      [{ name: "   " }, 102, "`name` is required"],
      [{ name: 7 }, 102, "chat name must be a string"],
      [{ name: "x".repeat(256) }, 102, "chat name length is 256 which is larger than 255"],
      [{ name: "Taken" }, 102, "duplicated chat name in creating chat"],
      [{ name: "a", dataset_ids: "nope" }, 102, "`dataset_ids` should be a list."],
      [{ name: "a", dataset_ids: [foreignDataset] }, 102, `You don't own the dataset ${foreignDataset}`],
      [{ name: "a", llm_id: "gpt-9@Nowhere" }, 102, "`llm_id` gpt-9@Nowhere doesn't exist"],
      [{ name: "a", llm_id: 5 }, 102, "`llm_id` must be a string"],
      [{ name: "a", rerank_id: "echo@Test" }, 102, "`rerank_id` echo@Test doesn't exist"],
      [{ name: "a", prompt_config: "be nice" }, 102, "`prompt_config` should be an object."],
      [{ name: "a", prompt_config: { parameters: [{ key: "k", optional: true }, { key: "k", optional: true }] } }, 102, "`parameters` contains duplicate key: k"],
      [{ name: "a", tenant_id: stranger.caller.tenantId }, 102, "`tenant_id` must not be provided"]
    ]
    for (const [json, code, message] of cases) {
      const reply = await createChat(owner, json)
      expect([reply.status, reply.body], JSON.stringify(json)).toEqual([200, { code, message }])
    }
    // Fields RAGFlow leaves to the store are checked by core: 101 naming the field.
    const wrongType = await createChat(owner, { name: "a", top_n: "six" })
    expect(wrongType.body.code).toBe(101)
    expect(wrongType.body.message).toMatch(/^top_n/)
    const outOfRange = await createChat(owner, { name: "a", similarity_threshold: 2 })
    expect([outOfRange.body.code, outOfRange.body.message]).toEqual([101, expect.stringMatching(/^similarity_threshold/)])

    const notJson = await server.request("POST", "/api/v1/chats", { token: owner.apiKey, body: "name=a", headers: { "content-type": "text/plain" } })
    expect([notJson.status, notJson.body.code, notJson.body.message]).toEqual([200, 101, "Unsupported content type: Expected application/json, got text/plain"])
    for (const [method, path] of [["POST", "/api/v1/chats"], ["GET", "/api/v1/chats"], ["GET", "/api/v1/chats/x"], ["DELETE", "/api/v1/chats"]] as const) {
      const reply = await server.request(method, path, method === "GET" ? {} : { json: {} })
      expect([reply.status, reply.body]).toEqual([401, unauthorized])
    }
  })

  it("updates with PUT and PATCH, keeping absent fields; refuses a duplicate name", async () => {
    const chat = (await createChat(owner, { name: "Helper", llm_setting: { temperature: 0.5 } })).body.data
    await createChat(owner, { name: "Other" })
    const put = await server.request("PUT", `/api/v1/chats/${chat.id}`, { token: owner.apiKey, json: { name: "Helper 2", top_n: 9 } })
    expect([put.status, put.body.code, put.body.message]).toEqual([200, 0, "success"])
    expect(put.body.data).toMatchObject({ id: chat.id, name: "Helper 2", top_n: 9, llm_setting: { temperature: 0.5 }, top_k: 1024 })
    const patch = await server.request("PATCH", `/api/v1/chats/${chat.id}`, {
      token: owner.apiKey,
      json: { llm_setting: { top_p: 0.2 }, prompt_config: { prologue: "Hello!" }, similarity_threshold: 0.4 }
    })
    expect(patch.body.data).toMatchObject({ name: "Helper 2", llm_setting: { temperature: 0.5, top_p: 0.2 }, similarity_threshold: 0.4, prompt_config: { prologue: "Hello!", quote: true } })
    // The same name in another case is the chat's own.
    const own = await server.request("PATCH", `/api/v1/chats/${chat.id}`, { token: owner.apiKey, json: { name: "HELPER 2" } })
    expect(own.body.data.name).toBe("HELPER 2")
    const duplicate = await server.request("PUT", `/api/v1/chats/${chat.id}`, { token: owner.apiKey, json: { name: "Other" } })
    expect(duplicate.body).toEqual({ code: 102, message: "duplicated chat name" })
    const empty = await server.request("PATCH", `/api/v1/chats/${chat.id}`, { token: owner.apiKey, json: { name: "" } })
    expect(empty.body).toEqual({ code: 102, message: "`name` cannot be empty" })
    const wrong = await server.request("PUT", `/api/v1/chats/${chat.id}`, { token: owner.apiKey, json: { top_k: -1 } })
    expect([wrong.body.code, wrong.body.message]).toEqual([101, expect.stringMatching(/^top_k/)])
    const got = await server.request("GET", `/api/v1/chats/${chat.id}`, { token: owner.apiKey })
    expect(got.body.data).toMatchObject({ name: "HELPER 2", top_k: 1024 })
  })

  it("answers 109 no authorization for another tenant's chat or an unknown one, and changes nothing", async () => {
    const chat = (await createChat(owner, { name: "Private" })).body.data
    for (const id of [chat.id, "0".repeat(32), "not-an-id"]) {
      for (const [method, json] of [["GET", undefined], ["PUT", { name: "mine" }], ["PATCH", { name: "mine" }], ["DELETE", undefined]] as const) {
        const reply = await server.request(method, `/api/v1/chats/${id}`, { token: stranger.apiKey, ...(json === undefined ? {} : { json }) })
        expect([reply.status, reply.body], `${method} ${id}`).toEqual([200, noAuthorization])
      }
    }
    const listed = await server.request("GET", "/api/v1/chats", { token: stranger.apiKey, query: { id: chat.id } })
    expect(listed.body).toEqual({ code: 0, message: "success", data: { chats: [], total: 0 } })
    const bulk = await server.request("DELETE", "/api/v1/chats", { token: stranger.apiKey, json: { ids: [chat.id] } })
    expect(bulk.body).toEqual({ code: 102, message: `Chat(${chat.id}) not found.` })
    const got = await server.request("GET", `/api/v1/chats/${chat.id}`, { token: owner.apiKey })
    expect(got.body.data).toMatchObject({ name: "Private" })
  })

  it("deletes chats by ids, all or nothing, one by path, and all with delete_all", async () => {
    const one = await server.account("rest-chats-deleter@example.com")
    const ids: Array<string> = []
    for (const name of ["a", "b", "c", "d"]) ids.push((await createChat(one, { name })).body.data.id)
    const mixed = await server.request("DELETE", "/api/v1/chats", { token: one.apiKey, json: { ids: [ids[0], "f".repeat(32)] } })
    expect(mixed.body).toEqual({ code: 102, message: `Chat(${"f".repeat(32)}) not found.` })
    const nothing = await server.request("DELETE", "/api/v1/chats", { token: one.apiKey, json: {} })
    expect(nothing.body).toEqual({ code: 0, message: "success", data: {} })
    const notList = await server.request("DELETE", "/api/v1/chats", { token: one.apiKey, json: { ids: "abc" } })
    expect([notList.body.code, notList.body.message]).toEqual([101, expect.stringMatching(/^ids/)])
    const removed = await server.request("DELETE", "/api/v1/chats", { token: one.apiKey, json: { ids: [ids[0], ids[0], ids[1]] } })
    expect(removed.body).toEqual({ code: 0, message: "success", data: { success_count: 2 } })
    const single = await server.request("DELETE", `/api/v1/chats/${ids[2]}`, { token: one.apiKey })
    expect(single.body).toEqual({ code: 0, message: "success", data: true })
    const gone = await server.request("GET", `/api/v1/chats/${ids[2]}`, { token: one.apiKey })
    expect(gone.body).toEqual(noAuthorization)
    const all = await server.request("DELETE", "/api/v1/chats", { token: one.apiKey, json: { delete_all: true } })
    expect(all.body).toEqual({ code: 0, message: "success", data: { success_count: 1 } })
    expect((await server.request("GET", "/api/v1/chats", { token: one.apiKey })).body.data.total).toBe(0)
  })
})
