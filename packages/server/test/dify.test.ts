/**
 * Dify's side of the external knowledge API: requests exactly as Dify's external knowledge client
 * sends them (`ExternalDatasetService.fetch_external_knowledge_retrieval`: a POST to
 * `<endpoint>/retrieval`, `Content-Type: application/json`, `Authorization: Bearer <key>`, the
 * body `json.dumps`-ed with `metadata_condition: null` when there is none), and its records read
 * back; every error code of Dify's, under Dify's statuses, with Dify's body.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Account, memoryEngineWithWorker, type SeedServer, startSeedServer } from "./support/seedServer.js"

let server: SeedServer
let owner: Account
let stranger: Account
let kbId: string
let strangerKbId: string

const MANUAL = [
  "The Aurora kettle should be descaled every four weeks with a citric acid solution.",
  "",
  "Never immerse the kettle base in water; wipe it with a damp cloth.",
  "",
  "The warranty covers the heating element for two years."
].join("\n")

/** A knowledge base of the account's with one parsed text document. */
const parsedKnowledgeBase = async (account: Account, name: string, content: string): Promise<string> => {
  const created = await server.request("POST", "/api/v1/kbs/create", { token: account.apiKey, json: { name } })
  const kb: string = created.body.data.kb_id
  const form = new FormData()
  form.append("kb_id", kb)
  form.append("file", new Blob([content], { type: "text/plain" }), "aurora-manual.txt")
  const uploaded = await server.request("POST", "/api/v1/documents/upload", { token: account.apiKey, body: form })
  const docId: string = uploaded.body.data[0].id
  await server.request("POST", "/api/v1/documents/run", { token: account.apiKey, json: { doc_ids: [docId], run: "1" } })
  const started = Date.now()
  while (Date.now() - started < 5_000) {
    const listed = await server.request("POST", "/api/v1/documents/list", { token: account.apiKey, query: { kb_id: kb }, json: {} })
    const run = listed.body.data.docs[0].run
    if (run === "3") return kb
    if (run === "4") throw new Error(`parsing failed: ${JSON.stringify(listed.body)}`)
    await new Promise((resolve) => setTimeout(resolve, 30))
  }
  throw new Error("the document was not parsed in time")
}

beforeAll(async () => {
  server = await startSeedServer(memoryEngineWithWorker())
  ;[owner, stranger] = await Promise.all(["dify-owner@example.com", "dify-stranger@example.com"].map((email) => server.account(email)))
  ;[kbId, strangerKbId] = await Promise.all([
    parsedKnowledgeBase(owner, "Manuals", MANUAL),
    parsedKnowledgeBase(stranger, "Secrets", "The stranger's descaling secret is vinegar.")
  ])
}, 60_000)
afterAll(() => server?.close())

/** Python's `json.dumps` of a value (its default separators), as Dify's client serialises the body. */
const pythonJson = (value: unknown): string =>
  value === null || typeof value !== "object"
    ? JSON.stringify(value)
    : Array.isArray(value)
    ? `[${value.map(pythonJson).join(", ")}]`
    : `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${pythonJson(v)}`).join(", ")}}`

/** What Dify's external knowledge client sends: its headers, and its body in its key order. */
const difyRetrieval = async (
  apiKey: string | undefined,
  request: { knowledge_id: string; query: string; top_k?: number; score_threshold?: number; metadata_condition?: unknown },
  headers: Record<string, string> = {}
) => {
  const response = await fetch(`${server.url}/api/v1/dify/retrieval`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      ...(apiKey === undefined ? {} : { Authorization: `Bearer ${apiKey}` }),
      "User-Agent": "python-httpx/0.27.2",
      Accept: "*/*",
      ...headers
    },
    body: pythonJson({
      retrieval_setting: { top_k: request.top_k ?? 3, score_threshold: request.score_threshold ?? 0.0 },
      query: request.query,
      knowledge_id: request.knowledge_id,
      metadata_condition: request.metadata_condition ?? null
    })
  })
  return { status: response.status, contentType: response.headers.get("content-type"), body: await response.json() as any }
}

describe("Dify's external knowledge API at /api/v1/dify/retrieval", () => {
  it("answers Dify's request with records: content, score, title and metadata, best first", async () => {
    const reply = await difyRetrieval(owner.apiKey, { knowledge_id: kbId, query: "How often should I descale the kettle?" })
    expect(reply.status).toBe(200)
    expect(reply.contentType).toContain("application/json")
    expect(Object.keys(reply.body)).toEqual(["records"])
    const records: Array<{ content: string; score: number; title: string; metadata: Record<string, unknown> }> = reply.body.records
    expect(records.length).toBeGreaterThan(0)
    expect(records.length).toBeLessThanOrEqual(3)
    // What Dify reads of a record (`ExternalKnowledgeRetrieval`): content, score, title, metadata (an object).
    for (const record of records) {
      expect(Object.keys(record).sort()).toEqual(["content", "metadata", "score", "title"])
      expect(record.title).toBe("aurora-manual.txt")
      expect(record.score).toBeGreaterThanOrEqual(0)
      expect(record.score).toBeLessThanOrEqual(1)
      expect(typeof record.metadata).toBe("object")
      expect(record.metadata.document_id).toBe(record.metadata.doc_id)
      expect(typeof record.metadata.document_id).toBe("string")
    }
    expect(records[0]!.content).toMatch(/descaled every four weeks/)
    expect(records.map((r) => r.score)).toEqual([...records.map((r) => r.score)].sort((a, b) => b - a))
    // Nothing of the other tenant's knowledge base.
    expect(records.some((r) => r.content.includes("vinegar"))).toBe(false)
  })

  it("keeps to top_k and score_threshold", async () => {
    const one = await difyRetrieval(owner.apiKey, { knowledge_id: kbId, query: "kettle descale warranty", top_k: 1 })
    expect([one.status, one.body.records.length]).toEqual([200, 1])
    const all = await difyRetrieval(owner.apiKey, { knowledge_id: kbId, query: "kettle descale warranty", top_k: 10 })
    const best = Math.max(...all.body.records.map((r: { score: number }) => r.score))
    const strict = await difyRetrieval(owner.apiKey, { knowledge_id: kbId, query: "kettle descale warranty", top_k: 10, score_threshold: Math.min(1, best + 0.001) })
    expect([strict.status, strict.body]).toEqual([200, { records: [] }])
  })

  it("filters on the documents' metadata with Dify's metadata_condition", async () => {
    const query = { knowledge_id: kbId, query: "How often should I descale the kettle?" }
    const none = await difyRetrieval(owner.apiKey, {
      ...query,
      metadata_condition: { logical_operator: "and", conditions: [{ name: "author", comparison_operator: "is", value: "nobody" }] }
    })
    expect([none.status, none.body]).toEqual([200, { records: [] }])
    const bad = await difyRetrieval(owner.apiKey, {
      ...query,
      metadata_condition: { logical_operator: "and", conditions: [{ name: "author", comparison_operator: "resembles", value: "x" }] }
    })
    expect(bad.status).toBe(400)
    expect(bad.body).toEqual({ error_code: 101, error_msg: "metadata_condition.conditions[0].comparison_operator is not an operator: resembles" })
  })

  it("refuses a missing or malformed Authorization header with 1001, an unknown key with 1002 (403)", async () => {
    const request = { knowledge_id: kbId, query: "descale" }
    const malformed: Array<Record<string, string>> = [{}, { Authorization: owner.apiKey }, { Authorization: "Basic abc" }, { Authorization: "Bearer" }]
    for (const headers of malformed) {
      const reply = await difyRetrieval(undefined, request, headers)
      expect([reply.status, reply.body.error_code], JSON.stringify(headers)).toEqual([403, 1001])
      expect(Object.keys(reply.body).sort()).toEqual(["error_code", "error_msg"])
      expect(reply.body.error_msg).toMatch(/Invalid Authorization header format/)
    }
    const unknown = await difyRetrieval("ragflow-not-a-key", request)
    expect([unknown.status, unknown.body]).toEqual([403, { error_code: 1002, error_msg: "Authorization failed. Please check your API key." }])
    expect(JSON.stringify(unknown.body)).not.toContain("ragflow-not-a-key")
  })

  it("answers 2001 (403) for an unknown knowledge base and for another tenant's alike", async () => {
    for (const id of ["0".repeat(32), "AAA-BBB-CCC", strangerKbId]) {
      const reply = await difyRetrieval(owner.apiKey, { knowledge_id: id, query: "descaling secret" })
      expect([reply.status, reply.body.error_code], id).toEqual([403, 2001])
      expect(reply.body.error_msg).toBe(`The knowledge does not exist: ${id}`)
    }
    // The stranger reaches their own.
    const own = await difyRetrieval(stranger.apiKey, { knowledge_id: strangerKbId, query: "descaling secret" })
    expect(own.status).toBe(200)
    expect(own.body.records[0].content).toContain("vinegar")
  })

  it("answers a request that is not valid with 400 in Dify's body, not RAGFlow's convention", async () => {
    const post = async (body: string) => {
      const response = await fetch(`${server.url}/api/v1/dify/retrieval`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${owner.apiKey}` },
        body
      })
      return { status: response.status, body: await response.json() as any }
    }
    expect(await post(JSON.stringify({ knowledge_id: kbId }))).toEqual({ status: 400, body: { error_code: 101, error_msg: "required arguments are missing: query; " } })
    // What Dify's connection check sends: no body.
    expect(await post("")).toEqual({ status: 400, body: { error_code: 101, error_msg: "required arguments are missing: knowledge_id,query; " } })
    expect(await post("{not json")).toEqual({ status: 400, body: { error_code: 101, error_msg: "invalid or malformed arguments: the request body is not valid JSON; " } })
    expect(await post(JSON.stringify({ knowledge_id: kbId, query: "x", retrieval_setting: { top_k: "two" } }))).toEqual({
      status: 400,
      body: { error_code: 101, error_msg: "invalid or malformed arguments: top_k must be integer and score_threshold must be numeric; " }
    })
    expect(await post(JSON.stringify({ knowledge_id: kbId, query: 42 }))).toEqual({ status: 400, body: { error_code: 101, error_msg: "invalid or malformed arguments: query must be a string; " } })
  })

  it("answers Dify's connection health check", async () => {
    const reply = await server.request("GET", "/api/v1/dify/retrieval/health")
    expect([reply.status, reply.body]).toEqual([200, { code: 0, message: "success", data: true }])
  })
})
