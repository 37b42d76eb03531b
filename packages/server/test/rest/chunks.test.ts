/**
 * RAGFlow's chunk routes (`/api/v1/datasets/{id}/documents/{doc}/chunks`) through the real HTTP
 * server, as ragflow-sdk calls them, over a text document parsed by a real ingestion worker.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type ParsedDocument, parsedDocument, workerEngine } from "../support/parsedDocument.js"
import { type Account, type SeedServer, startSeedServer } from "../support/seedServer.js"

let server: SeedServer
let owner: Account
let stranger: Account
let doc: ParsedDocument

const TEXT = "Lighthouses guide ships at night with a rotating lamp."

beforeAll(async () => {
  server = await startSeedServer(workerEngine())
  owner = await server.account("rest-chunks-owner@example.com")
  stranger = await server.account("rest-chunks-stranger@example.com")
  doc = await parsedDocument(server, owner, { dataset: "harbour", name: "harbour.txt", text: TEXT })
}, 60_000)
afterAll(() => server.close())

const chunksPath = (d: ParsedDocument = doc) => `/api/v1/datasets/${d.datasetId}/documents/${d.documentId}/chunks`

const list = (query: Record<string, string | number> = {}, token = owner.apiKey, d = doc) => server.request("GET", chunksPath(d), { token, query })
const add = (json: unknown, token = owner.apiKey, d = doc) => server.request("POST", chunksPath(d), { token, json })
const patch = (id: string, json: unknown, token = owner.apiKey) => server.request("PATCH", `${chunksPath()}/${id}`, { token, json })
const remove = (json: unknown, token = owner.apiKey, d = doc) => server.request("DELETE", chunksPath(d), { token, json })
const retrieve = (question: string) =>
  server.request("POST", "/api/v1/retrieval", { token: owner.apiKey, json: { dataset_ids: [doc.datasetId], question, similarity_threshold: 0.3 } })
const contents = (reply: { body: any }): Array<string> => reply.body.data.chunks.map((c: { content: string }) => c.content)

describe("REST chunks", () => {
  it("lists the parsed chunks with RAGFlow's fields and the document; adds chunks that are found at once; pages and filters by keywords", async () => {
    const first = await list()
    expect([first.status, first.body.code]).toEqual([200, 0])
    expect(first.body.data.total).toBe(1)
    expect(first.body.data.chunks[0]).toMatchObject({
      content: TEXT,
      document_id: doc.documentId,
      dataset_id: doc.datasetId,
      docnm_kwd: "harbour.txt",
      important_keywords: [],
      questions: [],
      available: true,
      image_id: "",
      positions: []
    })
    expect(first.body.data.doc).toMatchObject({ id: doc.documentId, dataset_id: doc.datasetId, chunk_count: 1, chunk_method: "naive", run: "DONE", name: "harbour.txt" })
    expect(first.body.data.doc).not.toHaveProperty("kb_id")

    // ragflow-sdk's add_chunk sends every field, tag_kwd too.
    const added = await add({ content: "Foghorns sound when the mist rolls in.", important_keywords: ["fog", " "], questions: ["When do foghorns sound?"], tag_kwd: [] })
    expect([added.status, added.body.code]).toEqual([200, 0])
    const chunk = added.body.data.chunk
    expect(chunk).toMatchObject({ content: "Foghorns sound when the mist rolls in.", document_id: doc.documentId, dataset_id: doc.datasetId, important_keywords: ["fog"], questions: ["When do foghorns sound?"] })
    expect(chunk.create_time).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/)
    expect(contents(await retrieve("foghorns mist"))[0]).toBe("Foghorns sound when the mist rolls in.")
    await add({ content: "Keepers trimmed the wick every evening." })

    const paged = await list({ page: 2, page_size: 2 })
    expect(paged.body.data.total).toBe(3)
    expect(contents(paged)).toEqual(["Keepers trimmed the wick every evening."])
    expect((await list({ page: 1, page_size: 2 })).body.data.chunks).toHaveLength(2)
    expect(paged.body.data.doc.chunk_count).toBe(3)
    const found = await list({ keywords: "MIST" })
    expect([found.body.data.total, ...contents(found)]).toEqual([1, "Foghorns sound when the mist rolls in."])
    const byId = await list({ id: chunk.id, keywords: "", page: 1, page_size: 30 })
    expect(byId.body.data.chunks.map((c: { id: string }) => c.id)).toEqual([chunk.id])
    // Paging values RAGFlow falls back on, and its limit.
    expect((await list({ page: "x", page_size: 0 })).body.data.chunks).toHaveLength(3)
    expect((await list({ page_size: 101 })).body).toEqual({ code: 101, message: "page_size must be less than or equal to 100" })
  })

  it("updates content, keywords and availability (PATCH and PUT); an unavailable chunk is not retrieved", async () => {
    const { chunk } = (await add({ content: "Beacons were once bonfires on hills." })).body.data
    expect(contents(await retrieve("bonfires hills"))).toContain("Beacons were once bonfires on hills.")
    const updated = await patch(chunk.id, { content: "Beacons were once bonfires on cliffs.", important_keywords: ["beacon"] })
    expect([updated.status, updated.body]).toEqual([200, { code: 0 }])
    const after = (await list({ id: chunk.id })).body.data.chunks[0]
    expect(after).toMatchObject({ content: "Beacons were once bonfires on cliffs.", important_keywords: ["beacon"], available: true })
    expect(contents(await retrieve("bonfires cliffs"))).toContain("Beacons were once bonfires on cliffs.")

    const hidden = await server.request("PUT", `${chunksPath()}/${chunk.id}`, { token: owner.apiKey, json: { available: false } })
    expect(hidden.body).toEqual({ code: 0 })
    expect((await list({ id: chunk.id })).body.data.chunks[0].available).toBe(false)
    expect(contents(await retrieve("bonfires cliffs"))).not.toContain("Beacons were once bonfires on cliffs.")
    expect((await list({ available: "false" })).body.data.chunks.map((c: { id: string }) => c.id)).toEqual([chunk.id])
    await patch(chunk.id, { available: true })
    expect(contents(await retrieve("bonfires cliffs"))).toContain("Beacons were once bonfires on cliffs.")
  })

  it("deletes chunks by id and all of them, the document's chunk_count following", async () => {
    const other = await parsedDocument(server, owner, { dataset: "removals", name: "removals.txt", text: "Lamps burned whale oil before kerosene." })
    const a = (await add({ content: "First extra chunk about tides." }, owner.apiKey, other)).body.data.chunk
    const b = (await add({ content: "Second extra chunk about currents." }, owner.apiKey, other)).body.data.chunk
    expect((await list({}, owner.apiKey, other)).body.data.doc.chunk_count).toBe(3)

    // ragflow-sdk's delete_chunks sends `chunk_ids: null` when it deletes nothing.
    expect((await remove({ chunk_ids: null, delete_all: false }, owner.apiKey, other)).body).toEqual({ code: 0 })
    expect((await remove({ chunk_ids: [a.id, a.id] }, owner.apiKey, other)).body).toEqual({
      code: 0,
      data: { success_count: 1, errors: [`Duplicate chunk ids: ${a.id}`] }
    })
    const afterOne = (await list({}, owner.apiKey, other)).body.data
    expect([afterOne.total, afterOne.doc.chunk_count]).toEqual([2, 2])
    // An id that is not the document's: nothing is deleted.
    expect((await remove({ chunk_ids: [b.id, a.id] }, owner.apiKey, other)).body).toEqual({ code: 102, message: "rm_chunk deleted chunks 0, expect 2" })
    expect((await list({}, owner.apiKey, other)).body.data.total).toBe(2)

    expect((await remove({ delete_all: true }, owner.apiKey, other)).body).toEqual({ code: 0 })
    const empty = (await list({}, owner.apiKey, other)).body.data
    expect([empty.total, empty.doc.chunk_count, empty.doc.token_count]).toEqual([0, 0, 0])
  })

  it("refuses bad fields with RAGFlow's messages, or core's naming the field", async () => {
    const cases: Array<[unknown, number, string]> = [
      [{}, 102, "`content` is required"],
      [{ content: "   " }, 102, "`content` is required"],
      [{ content: "x", important_keywords: "fog" }, 102, "`important_keywords` is required to be a list"],
      [{ content: "x", questions: [1] }, 102, "`questions` must be a list of strings"],
      [{ content: 42 }, 101, "content must be a string"]
    ]
    for (const [json, code, message] of cases) expect((await add(json)).body).toEqual({ code, message })
    const { chunk } = (await add({ content: "Bells rang in fog." })).body.data
    expect((await patch(chunk.id, { content: "" })).body).toEqual({ code: 102, message: "`content` is required" })
    expect((await patch(chunk.id, { questions: "q" })).body).toEqual({ code: 102, message: "`questions` should be a list" })
    expect((await patch(chunk.id, { available: "maybe" })).body).toEqual({ code: 101, message: "available must be a boolean" })
    expect((await remove({ chunk_ids: "abc" })).body.code).toBe(101)

    const wrongType = await server.request("POST", chunksPath(), { token: owner.apiKey, body: "content=x", headers: { "content-type": "application/x-www-form-urlencoded" } })
    expect(wrongType.body).toEqual({ code: 101, message: "Unsupported content type: Expected application/json, got application/x-www-form-urlencoded" })
  })

  it("answers unknown and another tenant's datasets, documents and chunks as RAGFlow does (102), and 401 without a key", async () => {
    const { chunk } = (await add({ content: "Only the owner sees this chunk." })).body.data
    const unknown = "0123456789abcdef0123456789abcdef"
    const notOwned = { code: 102, message: `You don't own the dataset ${doc.datasetId}.` }
    expect((await list({}, stranger.apiKey)).body).toEqual(notOwned)
    expect((await add({ content: "intrusion" }, stranger.apiKey)).body).toEqual(notOwned)
    expect((await patch(chunk.id, { content: "intrusion" }, stranger.apiKey)).body).toEqual(notOwned)
    expect((await remove({ delete_all: true }, stranger.apiKey)).body).toEqual(notOwned)
    expect((await server.request("GET", `/api/v1/datasets/nope/documents/${doc.documentId}/chunks`, { token: owner.apiKey })).body).toEqual({
      code: 102,
      message: "You don't own the dataset nope."
    })

    // The stranger's own dataset with the owner's document or chunk: unknown to it.
    const theirs = await parsedDocument(server, stranger, { dataset: "theirs", name: "theirs.txt", text: "Strangers write here." })
    const crossDoc = { datasetId: theirs.datasetId, documentId: doc.documentId }
    expect((await list({}, stranger.apiKey, crossDoc)).body).toEqual({ code: 102, message: `you don't own the document ${doc.documentId}` })
    expect((await list({ id: chunk.id }, stranger.apiKey, theirs)).body).toEqual({ code: 102, message: `Chunk not found: ${theirs.datasetId}/${chunk.id}` })
    const foreignChunk = await server.request("PATCH", `${chunksPath(theirs)}/${chunk.id}`, { token: stranger.apiKey, json: { content: "x" } })
    expect(foreignChunk.body).toEqual({ code: 102, message: `Can't find this chunk ${chunk.id}` })
    expect((await remove({ chunk_ids: [chunk.id] }, stranger.apiKey, theirs)).body).toEqual({ code: 102, message: "rm_chunk deleted chunks 0, expect 1" })
    expect((await patch(unknown, { content: "x" })).body).toEqual({ code: 102, message: `Can't find this chunk ${unknown}` })
    expect((await list({ id: chunk.id })).body.data.chunks[0].content).toBe("Only the owner sees this chunk.")

    for (const headers of [{}, { authorization: "Bearer nope" }] as Array<Record<string, string>>) {
      const reply = await server.request("GET", chunksPath(), { headers })
      expect([reply.status, reply.body]).toEqual([401, { code: 401, message: "<Unauthorized '401: Unauthorized'>", data: null }])
    }
  })
})
