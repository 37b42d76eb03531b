/**
 * RAGFlow's dataset routes (`/api/v1/datasets`) through the real HTTP server, sent as ragflow-sdk
 * sends them: RAGFlow's dataset shape, its list (`total_datasets`), partial updates, deletion with
 * `ids`/`delete_all`, and its codes and messages for bad fields, unknown and foreign ids.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Account, type SeedServer, startSeedServer } from "../support/seedServer.js"

let server: SeedServer
let owner: Account
let stranger: Account
/** A tenant of its own for the list and delete tests (which delete all of its datasets last). */
let solo: Account

beforeAll(async () => {
  server = await startSeedServer()
  owner = await server.account("rest-datasets-owner@example.com")
  stranger = await server.account("rest-datasets-stranger@example.com")
  solo = await server.account("rest-datasets-solo@example.com")
})
afterAll(() => server.close())

const create = (who: Account, json: unknown) => server.request("POST", "/api/v1/datasets", { token: who.apiKey, json })
const UNKNOWN = "0123456789abcdef0123456789abcdef"

const DATASET_FIELDS = [
  "id", "name", "avatar", "description", "language", "embedding_model", "permission", "chunk_method", "parser_config", "tenant_id",
  "created_by", "document_count", "chunk_count", "token_num", "token_count", "similarity_threshold", "vector_similarity_weight",
  "pagerank", "status", "create_time", "create_date", "update_time", "update_date"
]

describe("REST /datasets", () => {
  it("creates a dataset in RAGFlow's shape, with ragflow-sdk's payload (nulls for unset options)", async () => {
    const reply = await create(owner, {
      name: "lighthouses",
      avatar: null,
      description: null,
      embedding_model: null,
      permission: "me",
      chunk_method: "naive"
    })
    expect([reply.status, reply.body.code]).toEqual([200, 0])
    expect(reply.body).not.toHaveProperty("message")
    const ds = reply.body.data
    for (const field of DATASET_FIELDS) expect(ds).toHaveProperty(field)
    expect(ds).toMatchObject({
      name: "lighthouses",
      chunk_method: "naive",
      embedding_model: "hash-64@Test",
      permission: "me",
      document_count: 0,
      chunk_count: 0,
      token_count: 0,
      tenant_id: owner.caller.tenantId
    })
    expect(ds).not.toHaveProperty("parser_id")
    expect(ds).not.toHaveProperty("embedder")
    expect(ds.parser_config).toHaveProperty("chunk_token_num")

    const got = await server.request("GET", `/api/v1/datasets/${ds.id}`, { token: owner.apiKey })
    expect(got.body).toEqual({ code: 0, data: ds })
  })

  it("refuses bad fields (101 naming the field), a duplicate name (102), the wrong content type (101) and no credentials (401)", async () => {
    const missing = await create(owner, { description: "no name" })
    expect([missing.status, missing.body.code]).toEqual([200, 101])
    expect(missing.body.message).toMatch(/^name/)
    const wrongType = await create(owner, { name: 42 })
    expect([wrongType.body.code, wrongType.body.message]).toEqual([101, expect.stringMatching(/^name/)])
    const tooLong = await create(owner, { name: "x".repeat(129) })
    expect([tooLong.body.code, tooLong.body.message]).toEqual([101, expect.stringMatching(/^name/)])
    const permission = await create(owner, { name: "perm", permission: "everyone" })
    expect([permission.body.code, permission.body.message]).toEqual([101, expect.stringMatching(/^permission/)])
    const method = await create(owner, { name: "method", chunk_method: "nope" })
    expect([method.body.code, method.body.message]).toEqual([101, expect.stringMatching(/^parser_id|^chunk_method/)])

    expect((await create(owner, { name: "twice" })).body.code).toBe(0)
    const again = await create(owner, { name: "twice" })
    expect([again.status, again.body]).toEqual([200, { code: 102, message: "Dataset name 'twice' already exists" }])
    // Names are unique per tenant only.
    expect((await create(stranger, { name: "twice" })).body.code).toBe(0)

    const text = await server.request("POST", "/api/v1/datasets", { token: owner.apiKey, body: "name=x", headers: { "content-type": "text/plain" } })
    expect([text.status, text.body]).toEqual([200, { code: 101, message: "Unsupported content type: Expected application/json, got text/plain" }])

    const anonymous = await server.request("POST", "/api/v1/datasets", { json: { name: "anon" } })
    expect([anonymous.status, anonymous.body]).toEqual([401, { code: 401, message: "<Unauthorized '401: Unauthorized'>", data: null }])
  })

  it("lists with paging, ordering, id, ids and name; total_datasets counts them all", async () => {
    const who = solo
    const ids: Array<string> = []
    for (const name of ["b-one", "a-two", "c-three"]) ids.push((await create(who, { name })).body.data.id)
    const list = (query: Record<string, string>) => server.request("GET", "/api/v1/datasets", { token: who.apiKey, query })

    const all = await list({ orderby: "create_time", desc: "True" })
    expect([all.body.code, all.body.total_datasets, all.body.data.map((d: { name: string }) => d.name)]).toEqual([0, 3, ["c-three", "a-two", "b-one"]])
    const page = await list({ page: "2", page_size: "2", orderby: "create_time", desc: "false" })
    expect([page.body.total_datasets, page.body.data.map((d: { name: string }) => d.name)]).toEqual([3, ["c-three"]])
    const byId = await list({ id: ids[1]! })
    expect(byId.body.data.map((d: { id: string }) => d.id)).toEqual([ids[1]])
    const byIds = await server.request("GET", `/api/v1/datasets?ids=${ids[0]}&ids=${ids[2]}&orderby=update_time`, { token: who.apiKey })
    expect(byIds.body.data.map((d: { id: string }) => d.id).sort()).toEqual([ids[0], ids[2]].sort())
    const byName = await list({ name: "a-two" })
    expect(byName.body.data.map((d: { id: string }) => d.id)).toEqual([ids[1]])

    // Another tenant's dataset is answered as an unknown one.
    const foreignId = await server.request("GET", "/api/v1/datasets", { token: stranger.apiKey, query: { id: ids[0]! } })
    expect(foreignId.body).toEqual({ code: 102, message: `User '${stranger.caller.tenantId}' lacks permission for dataset '${ids[0]}'` })
    const foreignIds = await server.request("GET", `/api/v1/datasets?ids=${ids[0]}`, { token: stranger.apiKey })
    expect([foreignIds.body.code, foreignIds.body.data, foreignIds.body.total_datasets]).toEqual([0, [], 0])
    const unknownName = await list({ name: "nope" })
    expect(unknownName.body).toEqual({ code: 102, message: `User '${who.caller.tenantId}' lacks permission for dataset 'nope'` })
    const badOrder = await list({ orderby: "size" })
    expect([badOrder.body.code, badOrder.body.message]).toEqual([101, expect.stringMatching(/^orderby/)])
  })

  it("gets and updates only the caller's datasets; unknown and foreign ids are code 102", async () => {
    const ds = (await create(owner, { name: "to-update" })).body.data
    const put = (who: Account, id: string, json: unknown) => server.request("PUT", `/api/v1/datasets/${id}`, { token: who.apiKey, json })

    const updated = await put(owner, ds.id, { name: "updated", description: "Lights", permission: "team", chunk_method: "qa" })
    expect([updated.body.code, updated.body.data]).toEqual([0, expect.objectContaining({ id: ds.id, name: "updated", description: "Lights", permission: "team", chunk_method: "qa" })])
    // Partial: what is not sent keeps its value.
    const partial = await put(owner, ds.id, { avatar: "data:image/png;base64,AAAA" })
    expect(partial.body.code, partial.body.message).toBe(0)
    expect(partial.body.data).toMatchObject({ name: "updated", chunk_method: "qa", permission: "team" })
    // The embedding model may change while the dataset has no chunks.
    expect((await put(owner, ds.id, { embedding_model: "hash-64@Test" })).body.code).toBe(0)

    const bad = await put(owner, ds.id, { permission: 5 })
    expect([bad.body.code, bad.body.message]).toEqual([101, expect.stringMatching(/^permission/)])
    const notJson = await server.request("PUT", `/api/v1/datasets/${ds.id}`, { token: owner.apiKey, body: "x", headers: { "content-type": "text/xml" } })
    expect(notJson.body).toEqual({ code: 101, message: "Unsupported content type: Expected application/json, got text/xml" })

    const lacks = (who: Account, id: string) => ({ code: 102, message: `User '${who.caller.tenantId}' lacks permission for dataset '${id}'` })
    expect((await put(stranger, ds.id, { name: "stolen" })).body).toEqual(lacks(stranger, ds.id))
    expect((await put(owner, UNKNOWN, { name: "x" })).body).toEqual(lacks(owner, UNKNOWN))
    expect((await server.request("GET", `/api/v1/datasets/${ds.id}`, { token: stranger.apiKey })).body).toEqual(lacks(stranger, ds.id))
    expect((await server.request("GET", `/api/v1/datasets/${UNKNOWN}`, { token: owner.apiKey })).body).toEqual(lacks(owner, UNKNOWN))
    expect((await server.request("GET", `/api/v1/datasets/${ds.id}`, { token: owner.apiKey })).body.data.name).toBe("updated")
  })

  it("deletes by ids; no ids delete nothing, delete_all deletes every dataset of the tenant", async () => {
    const who = solo
    const ids: Array<string> = []
    for (const name of ["d1", "d2"]) ids.push((await create(who, { name })).body.data.id)
    const del = (as: Account, json: unknown) => server.request("DELETE", "/api/v1/datasets", { token: as.apiKey, json })
    const count = async () => (await server.request("GET", "/api/v1/datasets", { token: who.apiKey })).body.total_datasets

    expect((await del(stranger, { ids: [ids[0]] })).body).toEqual({ code: 102, message: `User '${stranger.caller.tenantId}' lacks permission for datasets: '${ids[0]}'` })
    expect((await del(who, { ids: [ids[0], UNKNOWN] })).body.code).toBe(102)
    expect(await count()).toBe(5)
    expect((await del(who, { ids: [ids[0]], delete_all: false })).body).toEqual({ code: 0, data: { success_count: 1 } })
    expect((await del(who, { ids: null, delete_all: false })).body).toEqual({ code: 0, data: { success_count: 0 } })
    expect((await del(who, { ids: [] })).body).toEqual({ code: 0, data: { success_count: 0 } })
    expect(await count()).toBe(4)
    const wrong = await del(who, { ids: "nope" })
    expect([wrong.body.code, wrong.body.message]).toEqual([101, expect.stringMatching(/^kb_ids|^ids/)])
    expect((await del(who, { ids: null, delete_all: true })).body).toEqual({ code: 0, data: { success_count: 4 } })
    expect(await count()).toBe(0)
  })
})
