/**
 * RAGFlow's `POST /api/v1/retrieval` through the real HTTP server, as ragflow-sdk's `retrieve`
 * sends it, over documents parsed by a real ingestion worker; `keyword` and `cross_languages` with a
 * scripted chat model as the tenant's default.
 */
import { type Caller, ModelProvider, Models } from "@ragkit/core"
import { ScriptedChatModel } from "@ragkit/core/doubles"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type ParsedDocument, parsedDocument, workerEngine } from "../support/parsedDocument.js"
import { type Account, type SeedServer, startSeedServer } from "../support/seedServer.js"

/** A chat model that names keywords (`keywords@Helper`): whatever the question, it answers "Phobos, Deimos". */
const Helper = ModelProvider.plugin({
  kind: "helper",
  providers: ["Helper"],
  listModels: () => Effect.succeed([{ name: "keywords", type: "chat" as const }]),
  chatModel: () => Effect.map(ScriptedChatModel.make({ modelId: "keywords@Helper", replies: () => "Phobos, Deimos" }), ({ model }) => model)
})

let server: SeedServer
let owner: Account
let stranger: Account
let pets: ParsedDocument
let space: ParsedDocument

const PETS = "Otters hold hands while sleeping so they do not drift apart."
const SPACE = "Mars has two small moons called Phobos and Deimos."

beforeAll(async () => {
  server = await startSeedServer(workerEngine([Helper]))
  owner = await server.account("rest-retrieval-owner@example.com")
  stranger = await server.account("rest-retrieval-stranger@example.com")
  pets = await parsedDocument(server, owner, { dataset: "facts", name: "pets.txt", text: PETS, meta: { author: "Toby", year: 2021 } })
  space = await parsedDocument(server, owner, { dataset: { id: pets.datasetId }, name: "space.txt", text: SPACE, meta: { author: "Ann", year: 2024 } })
}, 60_000)
afterAll(() => server.close())

/** What ragflow-sdk's `retrieve` sends by default, with `over`. */
const sdkBody = (over: Record<string, unknown>) => ({
  page: 1,
  page_size: 30,
  similarity_threshold: 0.2,
  vector_similarity_weight: 0.3,
  top_k: 1024,
  rerank_id: null,
  keyword: false,
  question: "",
  dataset_ids: [pets.datasetId],
  document_ids: [],
  cross_languages: null,
  metadata_condition: null,
  use_kg: false,
  toc_enhance: false,
  ...over
})
const retrieve = (over: Record<string, unknown>, token = owner.apiKey) => server.request("POST", "/api/v1/retrieval", { token, json: sdkBody(over) })
const contents = (reply: { body: any }): Array<string> => reply.body.data.chunks.map((c: { content: string }) => c.content)

const setDefaultChatModel = (caller: Caller, llm_id: string) =>
  server.runtime.runPromise(Effect.flatMap(Models.Models, (models) => models.setDefaults(caller, { llm_id })))

describe("REST retrieval", () => {
  it("finds chunks with RAGFlow's fields, doc_aggs and total; highlights when asked", async () => {
    const reply = await retrieve({ question: "Why do otters hold hands?", highlight: true })
    expect([reply.status, reply.body.code]).toEqual([200, 0])
    const [top] = reply.body.data.chunks
    expect(top).toMatchObject({
      content: PETS,
      document_id: pets.documentId,
      document_keyword: "pets.txt",
      dataset_id: pets.datasetId,
      important_keywords: [],
      questions: [],
      positions: []
    })
    expect(top.highlight).toContain("<em>Otters</em>")
    for (const key of ["id", "similarity", "vector_similarity", "term_similarity"]) expect(top).toHaveProperty(key)
    expect(reply.body.data.doc_aggs[0]).toEqual({ doc_name: "pets.txt", doc_id: pets.documentId, count: 1 })
    expect(reply.body.data.total).toBe(reply.body.data.chunks.length)
    expect((await retrieve({ question: "Why do otters hold hands?" })).body.data.chunks[0]).not.toHaveProperty("highlight")
    expect((await retrieve({ question: "Why do otters hold hands?", highlight: "TRUE" })).body.data.chunks[0]).toHaveProperty("highlight")
  })

  it("restricts to document_ids, filters on metadata_condition with RAGFlow's operators, and pages", async () => {
    const both = { question: "otters moons Mars hands", similarity_threshold: 0 }
    expect(contents(await retrieve(both)).sort()).toEqual([SPACE, PETS].sort())
    expect(contents(await retrieve({ ...both, document_ids: [space.documentId] }))).toEqual([SPACE])
    const meta = (conditions: Array<Record<string, unknown>>, logic?: string) => retrieve({ ...both, metadata_condition: { ...(logic === undefined ? {} : { logic }), conditions } })
    expect(contents(await meta([{ name: "author", comparison_operator: "is", value: "Toby" }]))).toEqual([PETS])
    expect(contents(await meta([{ name: "author", comparison_operator: "≠", value: "Toby" }]))).toEqual([SPACE])
    expect(contents(await meta([{ name: "year", comparison_operator: ">", value: 2022 }]))).toEqual([SPACE])
    expect(contents(await meta([{ name: "author", comparison_operator: "start with", value: "To" }, { name: "year", comparison_operator: "=", value: 2024 }]))).toEqual([])
    expect(contents(await meta([{ name: "author", comparison_operator: "start with", value: "To" }, { name: "year", comparison_operator: "=", value: 2024 }], "or")).sort()).toEqual([SPACE, PETS].sort())
    expect((await meta([{ name: "author", comparison_operator: "like", value: "T" }])).body).toEqual({ code: 101, message: "metadata_condition.conditions[0].op is not an operator: like" })
    // As RAGFlow: named documents take precedence over the metadata condition.
    expect(contents(await retrieve({ ...both, document_ids: [space.documentId], metadata_condition: { conditions: [{ name: "author", comparison_operator: "=", value: "Toby" }] } }))).toEqual([SPACE])

    const page1 = (await retrieve({ ...both, page: 1, page_size: 1 })).body.data
    const page2 = (await retrieve({ ...both, page: 2, page_size: 1 })).body.data
    expect([page1.total, page2.total, page1.chunks.length, page2.chunks.length]).toEqual([2, 2, 1, 1])
    expect(page1.chunks[0].id).not.toBe(page2.chunks[0].id)
    expect((await retrieve({ ...both, page_size: 101 })).body).toEqual({ code: 101, message: "page_size must be less than or equal to 100" })
  })

  it("keyword and cross_languages ask the tenant's default chat model; without one they fail", async () => {
    const asker = stranger
    const facts = await parsedDocument(server, asker, { dataset: "asker facts", name: "space.txt", text: SPACE })
    const body = { question: "zorblax quuxify", dataset_ids: [facts.datasetId] }
    await setDefaultChatModel(asker.caller, "keywords@Helper")
    expect((await retrieve(body, asker.apiKey)).body.data.total).toBe(0)
    expect(contents(await retrieve({ ...body, keyword: true }, asker.apiKey))).toEqual([SPACE])
    expect(contents(await retrieve({ ...body, cross_languages: ["English"] }, asker.apiKey))).toEqual([SPACE])
    await setDefaultChatModel(asker.caller, "")
    const none = await retrieve({ ...body, keyword: true }, asker.apiKey)
    expect([none.body.code, none.body.message]).toEqual([102, expect.stringContaining("No default chat model is set.")])
  })

  it("answers a blank question with nothing, and refuses bad fields with RAGFlow's messages or core's naming the field", async () => {
    expect((await retrieve({ question: "  " })).body).toEqual({ code: 0, data: { chunks: [], doc_aggs: [], total: 0 } })
    const { question: _, ...noQuestion } = sdkBody({})
    const cases: Array<[unknown, number, string]> = [
      [{ question: "otters" }, 102, "`dataset_ids` is required."],
      [sdkBody({ question: "otters", dataset_ids: [] }), 102, "`dataset_ids` is required."],
      [sdkBody({ question: "otters", dataset_ids: pets.datasetId }), 102, "`dataset_ids` should be a list"],
      [noQuestion, 102, "`question` is required."],
      [sdkBody({ question: "otters", document_ids: "x" }), 102, "`documents` should be a list"],
      [sdkBody({ question: "otters", top_k: 0 }), 102, "`top_k` must be greater than 0"],
      [sdkBody({ question: "otters", highlight: "yes" }), 102, "`highlight` should be a boolean"],
      [sdkBody({ question: "otters", similarity_threshold: "high" }), 101, "similarity_threshold must be a number"],
      [sdkBody({ question: "otters", vector_similarity_weight: 2 }), 101, expect.stringMatching(/^vector_similarity_weight /)],
      [sdkBody({ question: "otters", keyword: "sure" }), 101, "keyword must be a boolean"]
    ]
    for (const [json, code, message] of cases) {
      const reply = await server.request("POST", "/api/v1/retrieval", { token: owner.apiKey, json })
      expect([reply.status, reply.body]).toEqual([200, { code, message }])
    }
    const wrongType = await server.request("POST", "/api/v1/retrieval", { token: owner.apiKey, body: "question=x", headers: { "content-type": "text/plain" } })
    expect(wrongType.body).toEqual({ code: 101, message: "Unsupported content type: Expected application/json, got text/plain" })
    const anonymous = await server.request("POST", "/api/v1/retrieval", { json: sdkBody({ question: "otters" }) })
    expect([anonymous.status, anonymous.body.code]).toEqual([401, 401])
  })

  it("answers another tenant's or an unknown dataset, and documents outside the datasets, as RAGFlow does (102)", async () => {
    const theirs = await parsedDocument(server, stranger, { dataset: "stranger facts", name: "notes.txt", text: "Otters are the stranger's favourite." })
    const foreign = await retrieve({ question: "otters", dataset_ids: [theirs.datasetId, pets.datasetId] }, stranger.apiKey)
    expect(foreign.body).toEqual({ code: 102, message: `You don't own the dataset ${pets.datasetId}.` })
    expect((await retrieve({ question: "otters", dataset_ids: ["0123456789abcdef0123456789abcdef"] })).body).toEqual({
      code: 102,
      message: "You don't own the dataset 0123456789abcdef0123456789abcdef."
    })
    const foreignDoc = await retrieve({ question: "otters", dataset_ids: [theirs.datasetId], document_ids: [pets.documentId] }, stranger.apiKey)
    expect(foreignDoc.body).toEqual({ code: 102, message: `The datasets don't own the document ${pets.documentId}` })
    const elsewhere = await retrieve({ question: "otters", document_ids: [theirs.documentId] })
    expect(elsewhere.body).toEqual({ code: 102, message: `The datasets don't own the document ${theirs.documentId}` })
  })
})
