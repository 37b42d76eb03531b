/**
 * `/api/v1/documents/*` through the real HTTP server: multipart uploads streamed to the blob store,
 * parsing by a real ingestion worker, and every endpoint's documented fields and statuses.
 */
import { BlobStore, Ingestion, Rag } from "@ragkit/core"
import { Effect, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { defaults, ServerConfig } from "../../src/Config.js"
import { type Account, memoryEngine, type SeedServer, startSeedServer } from "../support/seedServer.js"

/** The deployment's limit in this test: small, so that a refused file is cheap. */
const MAX_FILE_BYTES = 64 * 1024

/** A one-page PDF with a text layer (pdf.js rebuilds the missing cross-reference table). */
const PDF = [
  "%PDF-1.4",
  "1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj",
  "2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj",
  "3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >> endobj",
  "4 0 obj << /Length 67 >> stream\nBT /F1 18 Tf 72 720 Td (Lighthouses guide ships at night.) Tj ET\nendstream endobj",
  "5 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj",
  "trailer << /Root 1 0 R >>",
  "%%EOF"
].join("\n")

/** The memory engine with the test's file limit and an ingestion worker polling quickly. */
const engine = Layer.provideMerge(
  Layer.scopedDiscard(Effect.flatMap(Ingestion.Ingestion, (worker) => Effect.forkScoped(worker.run))).pipe(
    Layer.provide(Rag.layerWorker({ pollMs: 20, heartbeatMs: 100 }))
  ),
  memoryEngine({ documents: { maxFileBytes: MAX_FILE_BYTES } })
)

let server: SeedServer
let owner: Account
let stranger: Account
let kbId: string

type File = readonly [name: string, content: string | Uint8Array, type?: string]

const form = (kb: string | undefined, files: ReadonlyArray<File>): FormData => {
  const body = new FormData()
  if (kb !== undefined) body.append("kb_id", kb)
  for (const [name, content, type] of files) body.append("file", new Blob([content], { type: type ?? "application/octet-stream" }), name)
  return body
}

const upload = (token: string, kb: string | undefined, files: ReadonlyArray<File>) =>
  server.request("POST", "/api/v1/documents/upload", { token, body: form(kb, files) })

const list = (token: string, kb: string, query: Record<string, string> = {}, json: unknown = {}) =>
  server.request("POST", "/api/v1/documents/list", { token, query: { kb_id: kb, ...query }, json })

const post = (token: string, path: string, json: unknown) => server.request("POST", `/api/v1/documents/${path}`, { token, json })

/** The keys of the blobs stored under a knowledge base. */
const blobsOf = (kb: string) => server.runtime.runPromise(Effect.flatMap(BlobStore.BlobStore, (blobs) => blobs.list(`${kb}/`)))

/**
 * An upload whose file part never ends (the client sends 16 MB, then stalls): the server's answer,
 * after which the request is aborted.
 */
const endlessUpload = async (on: SeedServer, token: string, kb: string) => {
  const boundary = "ragkit-endless"
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="kb_id"\r\n\r\n${kb}\r\n` +
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="endless.txt"\r\nContent-Type: text/plain\r\n\r\n`
  const abort = new AbortController()
  const stalled = new Promise<void>((resolve) => abort.signal.addEventListener("abort", () => resolve()))
  let sent = 0
  const body = new ReadableStream<Uint8Array>({
    start: (controller) => controller.enqueue(new TextEncoder().encode(head)),
    // 16 MB, then the client stalls without ending the part until the request is aborted.
    pull: async (controller) => {
      if (sent >= 16 * 1024 * 1024) return stalled
      sent += 64 * 1024
      controller.enqueue(new Uint8Array(64 * 1024).fill(0x61))
    }
  })
  const init = {
    method: "POST",
    body,
    duplex: "half",
    signal: abort.signal,
    headers: { authorization: `Bearer ${token}`, "content-type": `multipart/form-data; boundary=${boundary}` }
  }
  const response = await fetch(`${on.url}/api/v1/documents/upload`, init as RequestInit)
  const reply: { status: number; body: any } = { status: response.status, body: await response.json() }
  abort.abort()
  return reply
}

const DOCUMENT_FIELDS = [
  "id", "kb_id", "parser_id", "parser_config", "created_by", "type", "name", "location", "size", "thumbnail", "suffix", "run",
  "progress", "progress_msg", "chunk_num", "token_num", "create_time", "create_date", "update_time", "update_date", "status"
]

beforeAll(async () => {
  server = await startSeedServer(engine)
  owner = await server.account("doc-owner@example.com")
  stranger = await server.account("doc-stranger@example.com")
  kbId = (await server.request("POST", "/api/v1/kbs/create", { token: owner.apiKey, json: { name: "lighthouses" } })).body.data.kb_id
}, 60_000)
afterAll(() => server.close())

describe("/api/v1/documents", () => {
  it("uploads a PDF and a text file in one request, lists them, and parses them on run", async () => {
    const text = "The lighthouse keeper climbs 120 steps every evening to light the lamp."
    const uploaded = await upload(owner.apiKey, kbId, [["harbour.pdf", PDF, "application/pdf"], ["keeper.txt", text, "text/plain"]])
    expect(uploaded.status).toBe(200)
    expect(uploaded.body).toMatchObject({ code: 0, message: "success" })
    const [pdf, txt] = uploaded.body.data
    for (const field of DOCUMENT_FIELDS) {
      expect(pdf).toHaveProperty(field)
      expect(txt).toHaveProperty(field)
    }
    expect(pdf).toMatchObject({ kb_id: kbId, name: "harbour.pdf", type: "pdf", suffix: "pdf", size: PDF.length, run: "0", status: "1", created_by: owner.caller.userId })
    expect(txt).toMatchObject({ name: "keeper.txt", type: "doc", suffix: "txt", size: text.length, run: "0", chunk_num: 0 })
    expect(pdf).not.toHaveProperty("run_generation")
    expect([...(await blobsOf(kbId))].sort()).toEqual([pdf.location, txt.location].sort())

    const listed = await list(owner.session, kbId, { page: "1", page_size: "10", orderby: "name", desc: "false" })
    expect(listed.status).toBe(200)
    expect(listed.body.data.total).toBe(2)
    expect(listed.body.data.docs.map((d: { name: string }) => d.name)).toEqual(["harbour.pdf", "keeper.txt"])
    for (const field of DOCUMENT_FIELDS) expect(listed.body.data.docs[0]).toHaveProperty(field)

    const run = await post(owner.apiKey, "run", { doc_ids: [pdf.id, txt.id], run: "1", delete: true })
    expect([run.status, run.body]).toEqual([200, { code: 0, message: "success", data: true }])
    const started = Date.now()
    let docs: Array<{ name: string; run: string; chunk_num: number; progress: number }> = []
    while (Date.now() - started < 3_000) {
      docs = (await list(owner.apiKey, kbId, { orderby: "name", desc: "false" })).body.data.docs
      if (docs.every((d) => d.run === "3" || d.run === "4")) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(docs.map((d) => [d.name, d.run])).toEqual([["harbour.pdf", "3"], ["keeper.txt", "3"]])
    for (const d of docs) expect([d.progress, d.chunk_num > 0]).toEqual([1, true])

    // The seed's filters: run codes (as RAGFlow) or core's names, suffixes, keywords.
    const done = await list(owner.apiKey, kbId, { keywords: "KEEP" }, { run_status: ["3"], suffix: [".TXT"] })
    expect(done.body.data.docs.map((d: { name: string }) => d.name)).toEqual(["keeper.txt"])
    const byName = await list(owner.apiKey, kbId, {}, { run_status: ["DONE"], types: ["pdf"] })
    expect(byName.body.data.docs.map((d: { name: string }) => d.name)).toEqual(["harbour.pdf"])
    const none = await list(owner.apiKey, kbId, {}, { run_status: ["1"] })
    expect(none.body.data).toEqual({ total: 0, docs: [] })
    const badStatus = await list(owner.apiKey, kbId, {}, { run_status: ["9"] })
    expect([badStatus.status, badStatus.body.message]).toEqual([400, "run_status[0] must be one of 0, 1, 2, 3, 4 (UNSTART, RUNNING, CANCEL, DONE, FAIL)"])
    const badPage = await list(owner.apiKey, kbId, { page: "first" })
    expect([badPage.status, badPage.body.message]).toEqual([400, expect.stringMatching(/^page/)])
    const noKb = await server.request("POST", "/api/v1/documents/list", { token: owner.apiKey, json: {} })
    expect([noKb.status, noKb.body.message]).toEqual([400, "kb_id is required"])

    // Stopping what is not running is refused; running it again goes back to "1" (or done by now).
    const stop = await post(owner.apiKey, "run", { doc_ids: [txt.id], run: "2" })
    expect([stop.status, stop.body.code]).toEqual([400, 101])
    expect(stop.body.message).toBe("Can't stop parsing document keeper.txt: it is not being parsed (DONE)")
  })

  it("refuses an upload over the limit with 413 and stores nothing; bad uploads with 400 naming the field or file", async () => {
    const kb = (await server.request("POST", "/api/v1/kbs/create", { token: owner.apiKey, json: { name: "limits" } })).body.data.kb_id
    const big = new Uint8Array(MAX_FILE_BYTES + 1).fill(0x61)
    const tooLarge = await upload(owner.apiKey, kb, [["small.txt", "fine"], ["big.txt", big, "text/plain"]])
    expect([tooLarge.status, tooLarge.body.code, tooLarge.body.data]).toEqual([413, 101, null])
    expect(tooLarge.body.message).toMatch(/big\.txt is larger than the limit of 65536 bytes/)
    expect((await list(owner.apiKey, kb)).body.data).toEqual({ total: 0, docs: [] })
    expect(await blobsOf(kb)).toEqual([])
    // The limit applies while the bytes stream: a file that never ends is refused all the same.
    const endless = await endlessUpload(server, owner.apiKey, kb)
    expect([endless.status, endless.body.message]).toEqual([413, "endless.txt is larger than the limit of 65536 bytes"])
    expect(await blobsOf(kb)).toEqual([])
    const atLimit = await upload(owner.apiKey, kb, [["exact.txt", big.subarray(1), "text/plain"]])
    expect([atLimit.status, atLimit.body.data[0].size]).toEqual([200, MAX_FILE_BYTES])

    const json = await server.request("POST", "/api/v1/documents/upload", { token: owner.apiKey, json: { kb_id: kb } })
    expect([json.status, json.body.code]).toEqual([400, 101])
    expect(json.body.message).toMatch(/multipart\/form-data/)

    const unsupported = await upload(owner.apiKey, kb, [["notes.txt", "ok"], ["setup.exe", "MZ"]])
    expect([unsupported.status, unsupported.body.code]).toEqual([400, 101])
    expect(unsupported.body.message).toContain("setup.exe")
    expect((await list(owner.apiKey, kb)).body.data.total).toBe(1)

    const noKb = await upload(owner.apiKey, undefined, [["a.txt", "a"]])
    expect([noKb.status, noKb.body.message]).toEqual([400, expect.stringMatching(/^kb_id/)])
    const badKb = await upload(owner.apiKey, "not an id", [["a.txt", "a"]])
    expect([badKb.status, badKb.body.message]).toEqual([400, expect.stringMatching(/^kb_id/)])
    const noFile = await upload(owner.apiKey, kb, [])
    expect([noFile.status, noFile.body.message]).toEqual([400, expect.stringMatching(/^file/)])
    const unnamed = await upload(owner.apiKey, kb, [["..", "x"]])
    expect([unnamed.status, unnamed.body.message]).toEqual([400, expect.stringMatching(/^files\[0\]\.name/)])

    // Path segments, control and bidirectional characters and leading dots go; UTF-8 names stay.
    const sanitised = await upload(owner.apiKey, kb, [["../../etc/pass\twd\u202e.txt", "p"], ["C:\\tmp\\..report.md", "# r"], ["灯塔 手册.txt", "灯塔"]])
    expect([sanitised.status, sanitised.body.message]).toEqual([200, "success"])
    expect(sanitised.body.data.map((d: { name: string }) => d.name)).toEqual(["passwd.txt", "report.md", "灯塔 手册.txt"])
    // A name the multipart grammar cannot carry (a raw control character in the header) is a bad request.
    const raw = await upload(owner.apiKey, kb, [["bell\u0007.txt", "b"]])
    expect([raw.status, raw.body.code]).toEqual([400, 101])
    // The same name again is numbered, as RAGFlow does.
    const again = await upload(owner.apiKey, kb, [["passwd.txt", "p"]])
    expect(again.body.data[0].name).toBe("passwd(1).txt")
  })

  it("creates, renames, enables and disables, changes the parser of and removes documents", async () => {
    const created = await post(owner.apiKey, "create", { kb_id: kbId, name: "https://example.com/lights" })
    expect(created.status).toBe(200)
    for (const field of DOCUMENT_FIELDS) expect(created.body.data).toHaveProperty(field)
    expect(created.body.data).toMatchObject({ kb_id: kbId, name: "https://example.com/lights", type: "virtual", size: 0, run: "0" })
    const twice = await post(owner.apiKey, "create", { kb_id: kbId, name: "https://example.com/lights" })
    expect([twice.status, twice.body.message]).toEqual([400, expect.stringMatching(/^Duplicated document name/)])
    const noName = await post(owner.apiKey, "create", { kb_id: kbId })
    expect([noName.status, noName.body]).toEqual([400, { code: 101, message: "name is required", data: null }])
    const virtualRun = await post(owner.apiKey, "run", { doc_ids: [created.body.data.id], run: "1" })
    expect([virtualRun.status, virtualRun.body.message]).toEqual([400, "Document https://example.com/lights is virtual and has nothing to parse"])

    const [doc] = (await upload(owner.apiKey, kbId, [["log.md", "# Log\n\nLamp lit at dusk."]])).body.data
    const byId = async () => (await list(owner.apiKey, kbId, { page_size: "100" })).body.data.docs.find((d: { id: string }) => d.id === doc.id)

    expect((await post(owner.apiKey, "rename", { doc_id: doc.id, name: "keeper-log.md" })).body).toEqual({ code: 0, message: "success", data: true })
    expect((await byId()).name).toBe("keeper-log.md")
    const newSuffix = await post(owner.apiKey, "rename", { doc_id: doc.id, name: "keeper-log.txt" })
    expect([newSuffix.status, newSuffix.body.message]).toEqual([400, "The extension of file can't be changed"])
    const slash = await post(owner.apiKey, "rename", { doc_id: doc.id, name: "a/b.md" })
    expect([slash.status, slash.body.message]).toEqual([400, expect.stringMatching(/^name/)])

    const disabled = await post(owner.apiKey, "change_status", { doc_ids: [doc.id], status: "0" })
    expect([disabled.status, disabled.body.data]).toEqual([200, { [doc.id]: { status: "0" } }])
    expect((await byId()).status).toBe("0")
    expect((await post(owner.apiKey, "change_status", { doc_ids: [doc.id], status: 1 })).body.data).toEqual({ [doc.id]: { status: "1" } })
    const badStatus = await post(owner.apiKey, "change_status", { doc_ids: [doc.id], status: "2" })
    expect([badStatus.status, badStatus.body.message]).toEqual([400, expect.stringMatching(/^status/)])
    const noIds = await post(owner.apiKey, "change_status", { status: "1" })
    expect([noIds.status, noIds.body.message]).toEqual([400, "doc_ids is required"])

    expect((await post(owner.apiKey, "change_parser", { doc_id: doc.id, parser_id: "qa" })).body.data).toBe(true)
    expect(await byId()).toMatchObject({ parser_id: "qa", run: "0" })
    const badParser = await post(owner.apiKey, "change_parser", { doc_id: doc.id, parser_id: "nope" })
    expect([badParser.status, badParser.body.message]).toEqual([400, expect.stringMatching(/^parser_id/)])
    const pipeline = await post(owner.apiKey, "change_parser", { doc_id: doc.id, parser_id: "naive", pipeline_id: "p1" })
    expect([pipeline.status, pipeline.body.message]).toEqual([400, expect.stringMatching(/^pipeline_id/)])

    const badRun = await post(owner.apiKey, "run", { doc_ids: [doc.id], run: "5" })
    expect([badRun.status, badRun.body.message]).toEqual([400, expect.stringMatching(/^run must be/)])
    const badDelete = await post(owner.apiKey, "run", { doc_ids: [doc.id], run: 1, delete: "yes" })
    expect([badDelete.status, badDelete.body.message]).toEqual([400, "delete must be a boolean"])

    const before = (await list(owner.apiKey, kbId)).body.data.total
    expect((await post(owner.apiKey, "rm", { doc_id: doc.id })).body).toEqual({ code: 0, message: "success", data: true })
    expect((await post(owner.apiKey, "rm", { doc_id: [created.body.data.id] })).body.data).toBe(true)
    expect((await list(owner.apiKey, kbId)).body.data.total).toBe(before - 2)
    expect(await blobsOf(kbId)).not.toContain(doc.location)
    const gone = await post(owner.apiKey, "rm", { doc_id: doc.id })
    expect([gone.status, gone.body.code]).toEqual([404, 102])
    const noDocId = await post(owner.apiKey, "rm", {})
    expect([noDocId.status, noDocId.body.message]).toEqual([400, "doc_id is required"])
  })

  it("401 without credentials; another tenant's knowledge base and documents are 404 everywhere and stay unchanged", async () => {
    const none = await server.request("POST", "/api/v1/documents/list", { query: { kb_id: kbId }, json: {} })
    expect([none.status, none.body.code]).toEqual([401, 401])
    const anonymousUpload = await server.request("POST", "/api/v1/documents/upload", { body: form(kbId, [["a.txt", "a"]]) })
    expect(anonymousUpload.status).toBe(401)

    const [doc] = (await upload(owner.apiKey, kbId, [["private.txt", "The spare lamp is in the cellar."]])).body.data
    const before = (await list(owner.apiKey, kbId, { page_size: "100" })).body.data
    const blobs = await blobsOf(kbId)

    const attempts = [
      await upload(stranger.apiKey, kbId, [["theirs.txt", "x"]]),
      await post(stranger.apiKey, "create", { kb_id: kbId, name: "theirs" }),
      await list(stranger.apiKey, kbId),
      await post(stranger.apiKey, "change_status", { doc_ids: [doc.id], status: "0" }),
      await post(stranger.apiKey, "rm", { doc_id: doc.id }),
      await post(stranger.apiKey, "run", { doc_ids: [doc.id], run: "1" }),
      await post(stranger.apiKey, "run", { doc_ids: [doc.id], run: "2" }),
      await post(stranger.apiKey, "rename", { doc_id: doc.id, name: "theirs.txt" }),
      await post(stranger.apiKey, "change_parser", { doc_id: doc.id, parser_id: "qa" })
    ]
    expect(attempts.map((r) => [r.status, r.body.code])).toEqual(attempts.map(() => [404, 102]))
    // An unknown id is the same answer.
    const unknown = await post(owner.apiKey, "rename", { doc_id: "0".repeat(32), name: "x.txt" })
    expect([unknown.status, unknown.body.code]).toEqual([404, 102])

    expect((await list(owner.apiKey, kbId, { page_size: "100" })).body.data).toEqual(before)
    expect(await blobsOf(kbId)).toEqual(blobs)
    expect(before.docs.find((d: { id: string }) => d.id === doc.id)).toMatchObject({ name: "private.txt", status: "1", parser_id: "naive", run: "0" })
  })
})

describe("the multipart parser's own limit", () => {
  // A deployment limit (`limits.uploadMb`) below the engine's: the parser cuts the part off.
  let small: SeedServer
  beforeAll(async () => {
    small = await startSeedServer(Layer.merge(memoryEngine(), ServerConfig.layer(defaults({ limits: { uploadMb: 1 } }))))
  }, 60_000)
  afterAll(() => small.close())

  it("refuses a part over limits.uploadMb with 413 naming the file while it streams, and stores nothing", async () => {
    const me = await small.account("doc-limit@example.com")
    const kb = (await small.request("POST", "/api/v1/kbs/create", { token: me.apiKey, json: { name: "one-mb" } })).body.data.kb_id
    const endless = await endlessUpload(small, me.apiKey, kb)
    expect([endless.status, endless.body]).toEqual([413, { code: 101, message: "endless.txt is larger than the limit of 1048576 bytes", data: null }])
    const listed = await small.request("POST", "/api/v1/documents/list", { token: me.apiKey, query: { kb_id: kb }, json: {} })
    expect(listed.body.data).toEqual({ total: 0, docs: [] })
    const keys = await small.runtime.runPromise(Effect.flatMap(BlobStore.BlobStore, (blobs) => blobs.list(`${kb}/`)))
    expect(keys).toEqual([])
  })
})
