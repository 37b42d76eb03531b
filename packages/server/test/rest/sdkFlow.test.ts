/**
 * ragflow-sdk's flows over HTTP, each request exactly as the Python SDK (v0.27.0,
 * `sdk/python/ragflow_sdk`) sends it and each answer read as the SDK reads it: `requests`' encoding
 * (query values `None` dropped, booleans as `True`/`False`, JSON `None` as `null`, multipart `file`
 * parts), the fields the SDK's classes keep, and its SSE parsing. Then the seed spec's Python guide
 * (its last section), as written.
 *
 * The steps run in order and share what they made: a failing step names the request that broke.
 */
import { Ingestion, ModelProvider, Rag } from "@ragkit/core"
import { HashEmbedder } from "@ragkit/core/doubles"
import { Effect, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Account, memoryEngine, type SeedServer, startSeedServer } from "../support/seedServer.js"

/** The guide's embedding model, `BAAI/bge-large-zh-v1.5@BAAI`, as a hash embedder (no model files in tests). */
const Baai = ModelProvider.plugin({
  kind: "baai-fake",
  providers: ["BAAI"],
  listModels: () => Effect.succeed([{ name: "BAAI/bge-large-zh-v1.5", type: "embedding" as const }]),
  embedder: ({ model }) => Effect.succeed(HashEmbedder.make({ dimensions: 64, modelId: `${model}@BAAI` }))
})

/** A one-page PDF with a text layer, for the guide's `document.pdf`. */
const PDF = [
  "%PDF-1.4",
  "1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj",
  "2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj",
  "3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >> endobj",
  "4 0 obj << /Length 61 >> stream\nBT /F1 18 Tf 72 720 Td (RAGFlow is a RAG engine.) Tj ET\nendstream endobj",
  "5 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj",
  "trailer << /Root 1 0 R >>",
  "%%EOF"
].join("\n")

let server: SeedServer
let owner: Account

beforeAll(async () => {
  // The memory engine with the guide's BAAI model and an ingestion worker polling quickly.
  const engine = Layer.provideMerge(
    Layer.scopedDiscard(Effect.flatMap(Ingestion.Ingestion, (worker) => Effect.forkScoped(worker.run))).pipe(
      Layer.provide(Rag.layerWorker({ pollMs: 20, heartbeatMs: 100 }))
    ),
    memoryEngine({ users: { passwordCost: 2 ** 10 } }, [Baai])
  )
  server = await startSeedServer(engine)
  owner = await server.account("rest-sdk-flow@example.com")
}, 60_000)
afterAll(() => server.close())

// ---------------------------------------------------------------------------------------------
// The SDK's transport (`RAGFlow.post/get/put/patch/delete`), as `requests` encodes it

/** `requests`' query string: `None` dropped, booleans `True`/`False`, lists repeated. */
const queryOf = (params: Record<string, unknown> | undefined): string => {
  if (params === undefined) return ""
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined) continue
    for (const v of Array.isArray(value) ? value : [value]) search.append(key, typeof v === "boolean" ? (v ? "True" : "False") : String(v))
  }
  const text = search.toString()
  return text === "" ? "" : `?${text}`
}

interface Sent {
  readonly params?: Record<string, unknown>
  /** JSON: `null` values kept, as `requests.post(json=...)` sends Python's `None`. */
  readonly json?: unknown
  /** `files=[("file", (name, bytes)), ...]`. */
  readonly files?: ReadonlyArray<readonly [string, string, Uint8Array | string]>
}

/** The SDK's request: `Authorization: Bearer <key>`, base `/api/v1`. */
const call = async (method: string, path: string, sent: Sent = {}): Promise<Response> => {
  const headers: Record<string, string> = { Authorization: `Bearer ${owner.apiKey}` }
  let body: FormData | string | undefined
  if (sent.files !== undefined) {
    const form = new FormData()
    for (const [field, name, bytes] of sent.files) form.append(field, new Blob([bytes]), name)
    body = form
  } else if (sent.json !== undefined) {
    headers["Content-Type"] = "application/json"
    body = JSON.stringify(sent.json)
  }
  return fetch(`${server.url}/api/v1${path}${queryOf(sent.params)}`, { method, headers, body: body ?? null })
}

/** `res.json()`, and the SDK's check: `code == 0`, else it raises with `message`. */
const sdk = async (method: string, path: string, sent: Sent = {}): Promise<any> => {
  const response = await call(method, path, sent)
  const text = await response.text()
  let json: any
  try {
    json = JSON.parse(text)
  } catch {
    throw new Error(`${method} ${path}: HTTP ${response.status}, not JSON: ${text.slice(0, 300)}`)
  }
  if (json.code !== 0) throw new Error(`${method} ${path}: HTTP ${response.status} ${JSON.stringify(json).slice(0, 400)}`)
  return json
}

/** The fields an SDK class keeps (`DataSet`, `Document`, `Chunk` drop the others). */
const kept = (fields: ReadonlyArray<string>, data: Record<string, unknown>) => Object.fromEntries(fields.filter((f) => f in data).map((f) => [f, data[f]]))
const DATASET_FIELDS = ["id", "name", "avatar", "tenant_id", "description", "embedding_model", "permission", "document_count", "chunk_count", "chunk_method", "parser_config", "pagerank"]
const DOCUMENT_FIELDS = ["id", "name", "thumbnail", "dataset_id", "chunk_method", "parser_config", "source_type", "type", "created_by", "size", "token_count", "chunk_count", "progress", "progress_msg", "process_begin_at", "process_duration", "run", "status", "meta_fields"]
const CHUNK_FIELDS = ["id", "content", "important_keywords", "tag_kwd", "questions", "create_time", "create_timestamp", "dataset_id", "document_name", "document_keyword", "document_id", "available", "similarity", "vector_similarity", "term_similarity", "positions", "doc_type"]

/** `Session.ask(stream=True)`'s parsing: `data:` lines, JSON, stop at `data: true`; each answer. */
const sseAnswers = (text: string): Array<{ answer: string; reference: unknown }> => {
  const answers: Array<{ answer: string; reference: unknown }> = []
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (line === "") continue
    let content = line
    if (line.startsWith("data:")) {
      content = line.slice("data:".length).trim()
      if (content === "[DONE]") break
    }
    let json: any
    try {
      json = JSON.parse(content)
    } catch {
      continue
    }
    const event = json.event
    if (event && event !== "message") continue
    if (json.data === true) return answers
    answers.push({ answer: json.data.answer, reference: json.data.reference })
  }
  throw new Error(`the stream did not end with data: true: ${text.slice(-300)}`)
}

// ---------------------------------------------------------------------------------------------

const TEXT = "RAGFlow is an open-source RAG engine based on deep document understanding.\n\nLighthouses guide ships at night with a rotating beam."
const NOTES = "# Notes\n\nThe harbour master keeps the lighthouse log every evening."

describe("ragflow-sdk flows over HTTP", () => {
  const state: {
    dataset?: any
    documents?: Array<any>
    chunk?: any
    chat?: any
    session?: any
  } = {}

  it("RAGFlow.create_dataset: POST /datasets with the SDK's payload (None as null)", async () => {
    const res = await sdk("POST", "/datasets", {
      json: { name: "sdk_dataset", avatar: null, description: null, embedding_model: null, permission: "me", chunk_method: "naive" }
    })
    const dataset = kept(DATASET_FIELDS, res.data)
    expect(dataset).toMatchObject({ name: "sdk_dataset", permission: "me", chunk_method: "naive", embedding_model: "hash-64@Test", document_count: 0, chunk_count: 0 })
    expect(typeof dataset.id).toBe("string")
    state.dataset = dataset
  })

  it("RAGFlow.list_datasets / get_dataset: GET /datasets?page=1&page_size=30&orderby=create_time&desc=True[&name=]", async () => {
    const all = await sdk("GET", "/datasets", { params: { page: 1, page_size: 30, orderby: "create_time", desc: true, id: null, ids: null, name: null } })
    expect((all.data as Array<any>).map((d) => d.id)).toContain(state.dataset.id)
    const byName = await sdk("GET", "/datasets", { params: { page: 1, page_size: 30, orderby: "create_time", desc: true, id: null, ids: null, name: "sdk_dataset" } })
    expect(byName.data[0].id).toBe(state.dataset.id)
  })

  it("DataSet.update: PUT /datasets/{id}, the answer's data merged", async () => {
    const res = await sdk("PUT", `/datasets/${state.dataset.id}`, { json: { description: "updated by the SDK" } })
    expect(res.data ?? {}).toBeTypeOf("object")
    const listed = await sdk("GET", "/datasets", { params: { page: 1, page_size: 30, orderby: "create_time", desc: true, id: state.dataset.id } })
    expect(listed.data[0].description).toBe("updated by the SDK")
  })

  it("DataSet.upload_documents: POST /datasets/{id}/documents, multipart `file` parts", async () => {
    const res = await sdk("POST", `/datasets/${state.dataset.id}/documents`, { files: [["file", "ragflow.txt", TEXT], ["file", "notes.md", NOTES]] })
    const documents = (res.data as Array<any>).map((d) => kept(DOCUMENT_FIELDS, d))
    expect(documents.map((d) => d.name)).toEqual(["ragflow.txt", "notes.md"])
    for (const d of documents) expect(d).toMatchObject({ dataset_id: state.dataset.id, run: "UNSTART", chunk_count: 0 })
    state.documents = documents
  })

  it("DataSet.async_parse_documents, then _get_documents_status: POST /datasets/{id}/chunks, poll list_documents(id=) until DONE", async () => {
    const ids = state.documents!.map((d) => d.id)
    await sdk("POST", `/datasets/${state.dataset.id}/chunks`, { json: { document_ids: ids } })
    const pending = new Set(ids)
    const finished: Array<[string, string, number]> = []
    const deadline = Date.now() + 20_000
    while (pending.size > 0 && Date.now() < deadline) {
      for (const id of [...pending]) {
        const res = await sdk("GET", `/datasets/${state.dataset.id}/documents`, {
          params: { id, name: null, keywords: null, page: 1, page_size: 30, orderby: "create_time", desc: true, create_time_from: 0, create_time_to: 0 }
        })
        const doc = res.data.docs[0]
        if (doc === undefined) continue
        if (typeof doc.run === "string" && ["DONE", "FAIL", "CANCEL"].includes(doc.run.toUpperCase())) {
          finished.push([id, doc.run, doc.chunk_count])
          pending.delete(id)
        } else if (Number(doc.progress ?? 0) >= 1) {
          finished.push([id, "DONE", doc.chunk_count])
          pending.delete(id)
        }
      }
      if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(pending.size).toBe(0)
    for (const [, run, chunks] of finished) {
      expect(run).toBe("DONE")
      expect(chunks).toBeGreaterThan(0)
    }
  })

  it("Document.list_chunks: GET .../documents/{doc}/chunks?keywords=&page=1&page_size=30&id=", async () => {
    const doc = state.documents![0]
    const res = await sdk("GET", `/datasets/${doc.dataset_id}/documents/${doc.id}/chunks`, { params: { keywords: "", page: 1, page_size: 30, id: "" } })
    const chunks = (res.data.chunks as Array<any>).map((c) => kept(CHUNK_FIELDS, c))
    expect(chunks.length).toBeGreaterThan(0)
    expect(chunks.map((c) => c.content).join(" ")).toContain("Lighthouses")
    for (const c of chunks) expect(c).toMatchObject({ document_id: doc.id, dataset_id: doc.dataset_id })
  })

  it("Document.add_chunk and Chunk.update: POST .../chunks (data.chunk), PATCH .../chunks/{id}", async () => {
    const doc = state.documents![0]
    const res = await sdk("POST", `/datasets/${doc.dataset_id}/documents/${doc.id}/chunks`, {
      json: { content: "Keepers trim the wick of the lighthouse lamp.", important_keywords: ["wick"], tag_kwd: [], questions: ["Who trims the wick?"] }
    })
    const chunk = kept(CHUNK_FIELDS, res.data.chunk)
    expect(chunk).toMatchObject({ content: "Keepers trim the wick of the lighthouse lamp.", important_keywords: ["wick"], questions: ["Who trims the wick?"], document_id: doc.id })
    state.chunk = { ...chunk, dataset_id: chunk.dataset_id ?? doc.dataset_id }
    await sdk("PATCH", `/datasets/${state.chunk.dataset_id}/documents/${state.chunk.document_id}/chunks/${state.chunk.id}`, {
      json: { content: "Keepers trim the wick of the lighthouse lamp at dusk." }
    })
    const listed = await sdk("GET", `/datasets/${doc.dataset_id}/documents/${doc.id}/chunks`, { params: { keywords: "", page: 1, page_size: 30, id: state.chunk.id } })
    expect(listed.data.chunks.map((c: any) => c.content)).toContain("Keepers trim the wick of the lighthouse lamp at dusk.")
  })

  it("RAGFlow.retrieve: POST /retrieval with every field the SDK sends", async () => {
    const res = await sdk("POST", "/retrieval", {
      json: {
        page: 1,
        page_size: 30,
        similarity_threshold: 0.2,
        vector_similarity_weight: 0.3,
        top_k: 1024,
        rerank_id: null,
        keyword: false,
        question: "lighthouses guide ships",
        dataset_ids: [state.dataset.id],
        document_ids: [],
        cross_languages: null,
        metadata_condition: null,
        use_kg: false,
        toc_enhance: false
      }
    })
    const chunks = (res.data.chunks as Array<any>).map((c) => kept(CHUNK_FIELDS, c))
    expect(chunks.length).toBeGreaterThan(0)
    expect(chunks[0]!.content).toContain("Lighthouses")
    for (const c of chunks) expect(typeof c.similarity).toBe("number")
  })

  it("RAGFlow.create_chat, list_chats, get_chat: POST /chats, GET /chats (data.chats), GET /chats/{id}", async () => {
    const res = await sdk("POST", "/chats", { json: { name: "sdk_chat", icon: "", dataset_ids: [state.dataset.id] } })
    expect(res.data).toMatchObject({ name: "sdk_chat", dataset_ids: [state.dataset.id] })
    state.chat = res.data
    const listed = await sdk("GET", "/chats", { params: { page: 1, page_size: 30, orderby: "create_time", desc: true, id: null, name: null, keywords: null, owner_ids: null } })
    expect((listed.data.chats as Array<any>).map((c) => c.id)).toContain(state.chat.id)
    const got = await sdk("GET", `/chats/${state.chat.id}`)
    expect(got.data.id).toBe(state.chat.id)
    await sdk("PATCH", `/chats/${state.chat.id}`, { json: { name: "sdk_chat_renamed" } })
    expect((await sdk("GET", `/chats/${state.chat.id}`)).data.name).toBe("sdk_chat_renamed")
  })

  it("Chat.create_session, list_sessions: POST /chats/{id}/sessions {name} (data carries chat_id), GET .../sessions", async () => {
    const res = await sdk("POST", `/chats/${state.chat.id}/sessions`, { json: { name: "New session" } })
    // The SDK tells a chat session from an agent's by a non-null `chat_id`.
    expect(res.data).toMatchObject({ name: "New session", chat_id: state.chat.id })
    expect(typeof res.data.id).toBe("string")
    state.session = res.data
    const listed = await sdk("GET", `/chats/${state.chat.id}/sessions`, {
      params: { page: 1, page_size: 30, orderby: "create_time", desc: true, id: null, name: null, user_id: null }
    })
    expect((listed.data as Array<any>).map((s) => s.id)).toContain(state.session.id)
  })

  it("Session.ask(stream=False): POST /chats/{id}/completions {question, stream: false, session_id}, data.answer", async () => {
    const res = await sdk("POST", `/chats/${state.chat.id}/completions`, {
      json: { question: "What do lighthouses guide?", stream: false, session_id: state.session.id }
    })
    expect(typeof res.data.answer).toBe("string")
    expect(res.data.answer.length).toBeGreaterThan(0)
    if (res.data.reference && "chunks" in res.data.reference) expect(Array.isArray(res.data.reference.chunks)).toBe(true)
  })

  it("Session.ask(stream=True): the same with stream: true, SSE `data:` frames ending with data: true", async () => {
    const response = await call("POST", `/chats/${state.chat.id}/completions`, {
      json: { question: "What do lighthouses guide?", stream: true, session_id: state.session.id }
    })
    expect(response.status).toBe(200)
    const answers = sseAnswers(await response.text())
    // As RAGFlow v0.27 streams (not `legacy`): each message a delta of the answer, the last with
    // an empty answer and the references.
    expect(answers.map((a) => a.answer).join("")).toBe("What do lighthouses guide?")
    expect((answers.at(-1)!.reference as { chunks: Array<{ content: string }> }).chunks.map((c) => c.content).join(" ")).toContain("Lighthouses")
  })

  it("Session.update, Chat.delete_sessions: PATCH .../sessions/{id}, DELETE .../sessions {ids, delete_all}", async () => {
    await sdk("PATCH", `/chats/${state.chat.id}/sessions/${state.session.id}`, { json: { name: "renamed session" } })
    await sdk("DELETE", `/chats/${state.chat.id}/sessions`, { json: { ids: [state.session.id], delete_all: false } })
    const listed = await sdk("GET", `/chats/${state.chat.id}/sessions`, { params: { page: 1, page_size: 30, orderby: "create_time", desc: true } })
    expect(listed.data).toEqual([])
  })

  it("Document.download: GET /datasets/{id}/documents/{doc}, the original bytes", async () => {
    const doc = state.documents![0]
    const response = await call("GET", `/datasets/${doc.dataset_id}/documents/${doc.id}`)
    expect(response.status).toBe(200)
    expect(await response.text()).toBe(TEXT)
  })

  it("Document.delete_chunks, RAGFlow.delete_chats, DataSet.delete_documents, RAGFlow.delete_datasets: DELETE with {ids|chunk_ids, delete_all: false}", async () => {
    const doc = state.documents![0]
    await sdk("DELETE", `/datasets/${doc.dataset_id}/documents/${doc.id}/chunks`, { json: { chunk_ids: [state.chunk.id], delete_all: false } })
    await sdk("DELETE", "/chats", { json: { ids: [state.chat.id], delete_all: false } })
    await sdk("DELETE", `/datasets/${state.dataset.id}/documents`, { json: { ids: state.documents!.map((d) => d.id), delete_all: false } })
    await sdk("DELETE", "/datasets", { json: { ids: [state.dataset.id], delete_all: false } })
    const left = await sdk("GET", "/datasets", { params: { page: 1, page_size: 30, orderby: "create_time", desc: true } })
    expect((left.data as Array<any>).map((d) => d.id)).not.toContain(state.dataset.id)
    const chats = await sdk("GET", "/chats", { params: { page: 1, page_size: 30, orderby: "create_time", desc: true } })
    expect((chats.data.chats as Array<any>).map((c) => c.id)).not.toContain(state.chat.id)
  })
})

describe("the seed spec's Python SDK guide, as written", () => {
  const state: { dataset?: any; chat?: any } = {}

  it("create_dataset(name=\"my_dataset\", description=..., embedding_model=\"BAAI/bge-large-zh-v1.5@BAAI\")", async () => {
    const res = await sdk("POST", "/datasets", {
      json: { name: "my_dataset", avatar: null, description: "My first dataset", embedding_model: "BAAI/bge-large-zh-v1.5@BAAI", permission: "me", chunk_method: "naive" }
    })
    expect(res.data).toMatchObject({ name: "my_dataset", description: "My first dataset", embedding_model: "BAAI/bge-large-zh-v1.5@BAAI" })
    state.dataset = res.data
  })

  it("ragflow.post(f\"/datasets/{dataset.id}/documents\", files={\"file\": file}): status 200", async () => {
    const response = await call("POST", `/datasets/${state.dataset.id}/documents`, { files: [["file", "document.pdf", new TextEncoder().encode(PDF)]] })
    expect(response.status).toBe(200)
    const body: any = await response.json()
    expect([body.code, body.data?.[0]?.name]).toEqual([0, "document.pdf"])
  })

  it("create_chat(name=\"My Chat\", dataset_ids=[dataset.id])", async () => {
    const res = await sdk("POST", "/chats", { json: { name: "My Chat", icon: "", dataset_ids: [state.dataset.id] } })
    expect(res.data).toMatchObject({ name: "My Chat", dataset_ids: [state.dataset.id] })
    state.chat = res.data
  })

  it("ragflow.post(f\"/chats/{chat.id}/completion\", json={\"messages\": messages}): status 200, response.json()[\"data\"][\"answer\"]", async () => {
    const response = await call("POST", `/chats/${state.chat.id}/completion`, { json: { messages: [{ role: "user", content: "What is RAGFlow?" }] } })
    expect(response.status).toBe(200)
    const text = await response.text()
    let body: any
    try {
      body = JSON.parse(text)
    } catch {
      throw new Error(`response.json() fails: the answer is not one JSON document: ${text.slice(0, 300)}`)
    }
    expect(typeof body.data.answer).toBe("string")
  })

  it("list_datasets(), then delete_datasets(ids=[dataset.id])", async () => {
    const listed = await sdk("GET", "/datasets", { params: { page: 1, page_size: 30, orderby: "create_time", desc: true, id: null, ids: null, name: null } })
    expect((listed.data as Array<any>).map((d) => d.name)).toContain("my_dataset")
    await sdk("DELETE", "/datasets", { json: { ids: [state.dataset.id], delete_all: false } })
    const after = await sdk("GET", "/datasets", { params: { page: 1, page_size: 30, orderby: "create_time", desc: true } })
    expect((after.data as Array<any>).map((d) => d.name)).not.toContain("my_dataset")
  })
})
