/**
 * RAGFlow's document and parsing routes (`/api/v1/datasets/{id}/documents`, `/chunks`) through the
 * real HTTP server and a real ingestion worker, sent as ragflow-sdk sends them: multipart uploads,
 * lists with RAGFlow's filters, updates, downloads of the original bytes, deletion, parsing until
 * `DONE`, and RAGFlow's codes and messages for bad fields, unknown and foreign ids.
 */
import { Effect, Layer } from "effect"
import { Ingestion, Rag } from "@ragkit/core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Account, memoryEngine, type SeedServer, startSeedServer } from "../support/seedServer.js"

/** The memory engine with an ingestion worker polling quickly. */
const engine = Layer.provideMerge(
  Layer.scopedDiscard(Effect.flatMap(Ingestion.Ingestion, (worker) => Effect.forkScoped(worker.run))).pipe(
    Layer.provide(Rag.layerWorker({ pollMs: 20, heartbeatMs: 100 }))
  ),
  memoryEngine()
)

let server: SeedServer
let owner: Account
let stranger: Account
let datasetId: string

const UNKNOWN = "0123456789abcdef0123456789abcdef"
const KEEPER = "The lighthouse keeper climbs 120 steps every evening to light the lamp. Ships pass the rocks safely at night."
const NOTES = "# Notes\n\nFog horns sound every thirty seconds when the fog rolls in over the harbour."

type File = readonly [name: string, content: string | Uint8Array]

const form = (files: ReadonlyArray<File>): FormData => {
  const body = new FormData()
  for (const [name, content] of files) body.append("file", new Blob([content], { type: "application/octet-stream" }), name)
  return body
}

const upload = (who: Account, dataset: string, files: ReadonlyArray<File>) =>
  server.request("POST", `/api/v1/datasets/${dataset}/documents`, { token: who.apiKey, body: form(files) })

const list = (who: Account, dataset: string, query: Record<string, string> = {}) =>
  server.request("GET", `/api/v1/datasets/${dataset}/documents`, { token: who.apiKey, query })

const docPath = (dataset: string, doc: string) => `/api/v1/datasets/${dataset}/documents/${doc}`

const notOwned = (id: string) => ({ code: 102, message: `You don't own the dataset ${id}.` })

const DOCUMENT_FIELDS = [
  "id", "name", "dataset_id", "chunk_method", "parser_config", "chunk_count", "token_count", "run", "progress", "progress_msg",
  "meta_fields", "size", "type", "location", "suffix", "source_type", "created_by", "thumbnail", "status", "process_begin_at",
  "process_duration", "create_time", "update_time"
]

beforeAll(async () => {
  server = await startSeedServer(engine)
  owner = await server.account("rest-docs-owner@example.com")
  stranger = await server.account("rest-docs-stranger@example.com")
  datasetId = (await server.request("POST", "/api/v1/datasets", { token: owner.apiKey, json: { name: "harbour" } })).body.data.id
}, 60_000)
afterAll(() => server.close())

describe("REST /datasets/{id}/documents", () => {
  it("uploads, lists with filters, parses until DONE, and downloads the original bytes", async () => {
    const uploaded = await upload(owner, datasetId, [["keeper.txt", KEEPER], ["notes.md", NOTES]])
    expect([uploaded.status, uploaded.body.code]).toEqual([200, 0])
    const [keeper, notes] = uploaded.body.data
    for (const field of DOCUMENT_FIELDS) expect(keeper).toHaveProperty(field)
    expect(keeper).toMatchObject({ name: "keeper.txt", dataset_id: datasetId, chunk_method: "naive", run: "UNSTART", chunk_count: 0, size: KEEPER.length, type: "doc", suffix: "txt" })
    expect(keeper).not.toHaveProperty("kb_id")
    expect(keeper).not.toHaveProperty("run_generation")
    expect(notes.name).toBe("notes.md")

    const all = await list(owner, datasetId, { orderby: "name", desc: "False" })
    expect([all.body.code, all.body.message, all.body.data.total]).toEqual([0, "success", 2])
    expect(all.body.data.docs.map((d: { name: string }) => d.name)).toEqual(["keeper.txt", "notes.md"])
    for (const field of DOCUMENT_FIELDS) expect(all.body.data.docs[0]).toHaveProperty(field)
    const names = async (query: Record<string, string> | string) =>
      (typeof query === "string"
        ? await server.request("GET", `/api/v1/datasets/${datasetId}/documents?${query}`, { token: owner.apiKey })
        : await list(owner, datasetId, query)).body.data.docs.map((d: { name: string }) => d.name).sort()
    expect(await names({ suffix: "md" })).toEqual(["notes.md"])
    expect(await names({ keywords: "KEEP" })).toEqual(["keeper.txt"])
    expect(await names({ id: notes.id })).toEqual(["notes.md"])
    expect(await names({ name: "keeper.txt" })).toEqual(["keeper.txt"])
    expect(await names(`ids=${keeper.id}&ids=${notes.id}`)).toEqual(["keeper.txt", "notes.md"])
    expect(await names({ run: "UNSTART" })).toEqual(["keeper.txt", "notes.md"])
    expect(await names({ run: "3" })).toEqual([])
    expect(await names({ create_time_from: String(keeper.create_time), create_time_to: String(keeper.create_time + 60_000) })).toEqual(["keeper.txt", "notes.md"])
    expect(await names({ create_time_to: String(keeper.create_time - 1) })).toEqual([])
    expect((await list(owner, datasetId, { run: "SOMETIMES" })).body).toEqual({ code: 102, message: "Invalid filter run status conditions: SOMETIMES" })
    expect((await list(owner, datasetId, { orderby: "size" })).body).toEqual({ code: 101, message: "invalid orderby field: size" })
    expect((await list(owner, datasetId, { id: UNKNOWN })).body).toEqual({ code: 102, message: `you don't own the document ${UNKNOWN}` })

    const parse = await server.request("POST", `/api/v1/datasets/${datasetId}/chunks`, { token: owner.apiKey, json: { document_ids: [keeper.id, notes.id] } })
    expect([parse.status, parse.body]).toEqual([200, { code: 0 }])
    const started = Date.now()
    let docs: Array<{ name: string; run: string; chunk_count: number; progress: number }> = []
    while (Date.now() - started < 5_000) {
      docs = (await list(owner, datasetId, { orderby: "name", desc: "false" })).body.data.docs
      if (docs.every((d) => d.run === "DONE" || d.run === "FAIL")) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(docs.map((d) => [d.name, d.run, d.progress, d.chunk_count > 0])).toEqual([["keeper.txt", "DONE", 1, true], ["notes.md", "DONE", 1, true]])
    const dataset = (await server.request("GET", `/api/v1/datasets/${datasetId}`, { token: owner.apiKey })).body.data
    expect(dataset.chunk_count).toBeGreaterThan(0)
    expect(dataset.document_count).toBe(2)
    // With chunks, the embedding model stays.
    const model = await server.request("PUT", `/api/v1/datasets/${datasetId}`, { token: owner.apiKey, json: { embedding_model: "other@Test" } })
    expect([model.body.code, model.body.message]).toEqual([101, "If `chunk_count` is not 0, `embedding_model` is not changeable."])
    // Stopping a finished document is RAGFlow's 102.
    const stop = await server.request("DELETE", `/api/v1/datasets/${datasetId}/chunks`, { token: owner.apiKey, json: { document_ids: [keeper.id] } })
    expect(stop.body).toEqual({ code: 102, message: "Can't stop parsing document that has not started or already completed" })

    const download = await fetch(`${server.url}${docPath(datasetId, keeper.id)}`, { headers: { authorization: `Bearer ${owner.apiKey}` } })
    expect(download.status).toBe(200)
    expect(download.headers.get("content-type")).toMatch(/^text\/plain/)
    expect(download.headers.get("content-disposition")).toContain('filename="keeper.txt"')
    expect(new TextDecoder().decode(await download.arrayBuffer())).toBe(KEEPER)
  })

  it("refuses uploads without a file part, of the wrong content type, or into an unknown or foreign dataset", async () => {
    const onlyField = new FormData()
    onlyField.append("other", "x")
    const empty = await server.request("POST", `/api/v1/datasets/${datasetId}/documents`, { token: owner.apiKey, body: onlyField })
    expect([empty.status, empty.body]).toEqual([200, { code: 101, message: "No file part!" }])
    const json = await server.request("POST", `/api/v1/datasets/${datasetId}/documents`, { token: owner.apiKey, json: { file: "x" } })
    expect(json.body).toEqual({ code: 101, message: "No file part!" })
    expect((await upload(owner, UNKNOWN, [["a.txt", "a"]])).body).toEqual({ code: 102, message: `Can't find the dataset with ID ${UNKNOWN}!` })
    expect((await upload(stranger, datasetId, [["a.txt", "a"]])).body).toEqual({ code: 102, message: `Can't find the dataset with ID ${datasetId}!` })
    const anonymous = await server.request("POST", `/api/v1/datasets/${datasetId}/documents`, { body: form([["a.txt", "a"]]) })
    expect(anonymous.status).toBe(401)
    expect((await list(owner, datasetId, { name: "a.txt" })).body.code).toBe(102)
  })

  it("updates a document by PATCH and PUT, with RAGFlow's checks; foreign ids are code 102", async () => {
    const [doc] = (await upload(owner, datasetId, [["update-me.txt", "Beacons and buoys."]])).body.data
    const patch = (who: Account, json: unknown, method = "PATCH", dataset = datasetId, id = doc.id) =>
      server.request(method, docPath(dataset, id), { token: who.apiKey, json })

    const updated = await patch(owner, { name: "updated.txt", chunk_method: "one", enabled: 0, meta_fields: { author: "Ada" } })
    expect([updated.body.code, updated.body.data]).toEqual([0, expect.objectContaining({ id: doc.id, name: "updated.txt", chunk_method: "one", status: "0", meta_fields: { author: "Ada" } })])
    const replaced = await patch(owner, { enabled: true }, "PUT")
    expect(replaced.body.data).toMatchObject({ name: "updated.txt", status: "1", meta_fields: { author: "Ada" } })

    expect((await patch(owner, { name: null })).body).toEqual({ code: 102, message: "Field: <name> - Message: <Input should be a valid string> - Value: <None>" })
    expect((await patch(owner, { enabled: 5 })).body).toEqual({ code: 102, message: "`enabled` value invalid, only accept 0 or 1 but is 5" })
    const method = await patch(owner, { chunk_method: "nope" })
    expect([method.body.code, method.body.message]).toEqual([101, expect.stringMatching(/^chunk_method/)])
    const meta = await patch(owner, { meta_fields: "author" })
    expect([meta.body.code, meta.body.message]).toEqual([101, expect.stringMatching(/^meta_fields/)])
    const suffix = await patch(owner, { name: "updated.pdf" })
    expect([suffix.body.code, suffix.body.message]).toEqual([101, "The extension of file can't be changed"])
    expect((await patch(owner, { chunk_count: 7 })).body).toEqual({ code: 102, message: "Can't change `chunk_count`." })
    const text = await server.request("PATCH", docPath(datasetId, doc.id), { token: owner.apiKey, body: "x", headers: { "content-type": "text/plain" } })
    expect(text.body).toEqual({ code: 101, message: "Unsupported content type: Expected application/json, got text/plain" })

    expect((await patch(stranger, { name: "stolen.txt" })).body).toEqual(notOwned(datasetId))
    expect((await patch(owner, { name: "x.txt" }, "PATCH", datasetId, UNKNOWN)).body).toEqual({ code: 102, message: "the dataset doesn't own the document" })
    const download = await server.request("GET", docPath(datasetId, doc.id), { token: stranger.apiKey })
    expect(download.body).toEqual({ code: 102, message: "document not found" })
    const other = (await server.request("POST", "/api/v1/datasets", { token: owner.apiKey, json: { name: "other-harbour" } })).body.data.id
    // A document is reached only through its own dataset.
    expect((await patch(owner, { name: "y.txt" }, "PATCH", other)).body).toEqual({ code: 102, message: "the dataset doesn't own the document" })
    expect((await server.request("GET", docPath(other, doc.id), { token: owner.apiKey })).body).toEqual({ code: 102, message: `The dataset not own the document ${doc.id}.` })
    expect((await server.request("GET", docPath(datasetId, doc.id), { token: owner.apiKey })).body).toBe("Beacons and buoys.")
    const parseElsewhere = await server.request("POST", `/api/v1/datasets/${other}/chunks`, { token: owner.apiKey, json: { document_ids: [doc.id] } })
    expect(parseElsewhere.body).toEqual({ code: 102, message: `Documents not found: ['${doc.id}']` })
    expect((await server.request("POST", `/api/v1/datasets/${datasetId}/chunks`, { token: stranger.apiKey, json: { document_ids: [doc.id] } })).body).toEqual(notOwned(datasetId))
    expect((await server.request("POST", `/api/v1/datasets/${datasetId}/chunks`, { token: owner.apiKey, json: {} })).body).toEqual({ code: 102, message: "`document_ids` is required" })
    expect((await server.request("DELETE", `/api/v1/datasets/${datasetId}/chunks`, { token: stranger.apiKey, json: { document_ids: [doc.id] } })).body).toEqual(notOwned(datasetId))
    expect((await list(stranger, datasetId)).body).toEqual(notOwned(datasetId))
  })

  it("deletes by ids or all of a dataset's documents with delete_all", async () => {
    const dataset = (await server.request("POST", "/api/v1/datasets", { token: owner.apiKey, json: { name: "to-empty" } })).body.data.id
    const [a, b, c] = (await upload(owner, dataset, [["a.txt", "a"], ["b.txt", "b"], ["c.txt", "c"]])).body.data
    const del = (who: Account, json: unknown) => server.request("DELETE", `/api/v1/datasets/${dataset}/documents`, { token: who.apiKey, json })
    const total = async () => (await list(owner, dataset)).body.data.total

    expect((await del(stranger, { ids: [a.id] })).body).toEqual(notOwned(dataset))
    expect((await del(owner, { ids: [a.id, UNKNOWN] })).body).toEqual({ code: 102, message: `These documents do not belong to dataset ${dataset} or Document not found: ${UNKNOWN}` })
    expect((await del(owner, { ids: null, delete_all: false })).body).toEqual({ code: 102, message: `should either provide doc ids or set delete_all(true), dataset: ${dataset}. ` })
    expect((await del(owner, { ids: [a.id], delete_all: true })).body).toEqual({ code: 102, message: `should not provide both doc ids and delete_all(true), dataset: ${dataset}. ` })
    expect(await total()).toBe(3)
    expect((await del(owner, { ids: [a.id] })).body).toEqual({ code: 0, data: { deleted: 1 } })
    expect((await server.request("GET", docPath(dataset, a.id), { token: owner.apiKey })).body.code).toBe(102)
    expect((await del(owner, { ids: null, delete_all: true })).body).toEqual({ code: 0, data: { deleted: 2 } })
    expect(await total()).toBe(0)
    expect([b.id, c.id]).toHaveLength(2)
    expect((await server.request("GET", `/api/v1/datasets/${dataset}`, { token: owner.apiKey })).body.data.document_count).toBe(0)
  })
})
