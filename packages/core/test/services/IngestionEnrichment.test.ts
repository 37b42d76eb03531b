/**
 * Keywords and questions at ingestion (`auto_keywords`, `auto_questions`): the worker asks the
 * tenant's chat model for each chunk's keywords and questions, with bounded concurrency, and stores
 * them on the chunks, where searches weigh them; a model that fails (or none) fails the document.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { Duration, Effect, Fiber, Option, Stream } from "effect"
import { ModelError } from "../../src/domain/Errors.js"
import type { DocumentId, KnowledgeBaseId } from "../../src/domain/Ids.js"
import { Tenant } from "../../src/domain/Records.js"
import * as ChatModel from "../../src/ports/ChatModel.js"
import { ChunkIndex } from "../../src/ports/ChunkIndex.js"
import * as ModelProvider from "../../src/ports/ModelProvider.js"
import { RecordStore } from "../../src/ports/RecordStore.js"
import { TaskQueue } from "../../src/ports/TaskQueue.js"
import { decoding } from "../../src/RagClient.js"
import { Ingestion } from "../../src/services/Ingestion.js"
import {
  fitContent,
  keywordInstructions,
  parseKeywords,
  parseQuestions
} from "../../src/services/internal/ChunkEnrichment.js"
import * as Retrieval from "../../src/services/Retrieval.js"
import * as ScriptedChatModel from "../../src/testing/ScriptedChatModel.js"
import type { Caller } from "../../src/domain/Caller.js"
import { engine, expectCountsMatchIndex, setup, text, waitFor } from "./ingestionHelpers.js"

/** The last word of a chunk, lower-cased: the scripted model's second keyword. */
const lastWord = (content: string) => /(\w+)\W*$/.exec(content)?.[1]?.toLowerCase() ?? ""

/** What the scripted models answer: keywords (with a repeat and one too many) or questions, by the instructions. */
const answer = (messages: ReadonlyArray<ChatModel.ChatMessage>) => {
  const passage = messages.find((m) => m.role === "user")?.content ?? ""
  return messages[0]!.content.includes("keywords")
    ? `zeppelin, ${lastWord(passage)}, Zeppelin, extra, more`
    : "What rose over the harbour?\nWho waved from the deck?\nWhy?"
}

/** Calls in flight now, and the most seen at once, over every `Scripted` model. */
const load = { now: 0, max: 0 }

/**
 * The `Scripted` provider: `kw@Scripted` answers (after `ms` milliseconds per call, counting calls
 * in flight), `broken@Scripted` always fails, `flaky@Scripted` fails its first call as unavailable.
 */
const scripted = Effect.gen(function* () {
  const kw = yield* ScriptedChatModel.make({ modelId: "kw@Scripted", replies: answer })
  const broken = yield* ScriptedChatModel.make({
    modelId: "broken@Scripted",
    replies: answer,
    fail: { error: new ModelError({ reason: "BadResponse", model: "broken@Scripted", message: "quota exceeded for this key" }) }
  })
  const flaky = yield* ScriptedChatModel.make({ modelId: "flaky@Scripted", replies: answer })
  const quoting = yield* ScriptedChatModel.make({ modelId: "quoting@Scripted", replies: answer, generative: false })
  yield* flaky.control.failNext(new ModelError({ reason: "Unavailable", model: "flaky@Scripted", message: "the chat service is away" }))
  let ms = 0
  const counted = ChatModel.make({
    modelId: "kw@Scripted",
    contextTokens: 512,
    stream: (messages, settings, grounding) =>
      Stream.unwrapScoped(
        Effect.acquireRelease(
          Effect.sync(() => {
            load.now++
            load.max = Math.max(load.max, load.now)
          }),
          () => Effect.sync(() => void load.now--)
        ).pipe(Effect.zipRight(Effect.sleep(Duration.millis(ms))), Effect.as(kw.model.stream(messages, settings, grounding)))
      )
  })
  const models: Record<string, ChatModel.ChatModelService> = {
    kw: counted,
    broken: broken.model,
    flaky: flaky.model,
    quoting: quoting.model
  }
  return {
    plugin: ModelProvider.plugin({
      kind: "scripted",
      providers: ["Scripted"],
      chatModel: ({ model }) =>
        model in models ? Effect.succeed(models[model]!) : Effect.fail(new ModelError({ reason: "NotConfigured", model, message: `no ${model}` }))
    }),
    control: { kw: kw.control, broken: broken.control, flaky: flaky.control, quoting: quoting.control },
    /** Each call of `kw@Scripted` takes this long from now on. */
    setDelay: (delay: number) => void (ms = delay)
  }
})

const Scripted = Effect.runSync(scripted)

const Engine = engine({ plugins: [Scripted.plugin], ingestion: { enrichmentConcurrency: 3 } })

/** Sets the tenant's default chat model. */
const useChatModel = (me: Caller, llm_id: string) =>
  Effect.gen(function* () {
    const store = yield* RecordStore
    const tenant = Option.getOrThrow(yield* store.tenants.get(me.tenantId))
    yield* store.tenants.update(new Tenant({ ...tenant, llm_id }))
  })

const chunksOf = (kbId: KnowledgeBaseId, docId: DocumentId) =>
  Effect.flatMap(ChunkIndex, (index) => Effect.map(index.list({ kbId, docId, offset: 0, limit: 1000 }), (page) => page.chunks))

const callsOf = (control: ScriptedChatModel.ScriptedChatModelControl) => Effect.map(control.calls, (calls) => calls.length)

/**
 * In a knowledge base of a tenant whose default chat model is `llm_id` ("": none), the document
 * `body` with these settings, parsed by the worker: the document as it ended, its chunks and tasks.
 */
const ingest = (llm_id: string, body: string, parser_config: Record<string, unknown>) =>
  Effect.gen(function* () {
    const worker = yield* Ingestion
    const queue = yield* TaskQueue
    const { docs, me, kb } = yield* setup()
    if (llm_id !== "") yield* useChatModel(me, llm_id)
    const [doc] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "a.txt", bytes: text(body) }] })
    yield* docs.changeParser(me, { doc_id: doc!.id, parser_id: "naive", parser_config })
    yield* docs.parse(me, { doc_ids: [doc!.id] })
    yield* worker.drain
    yield* expectCountsMatchIndex(kb.id, [doc!.id])
    return {
      ended: yield* docs.get(me, { doc_id: doc!.id }),
      chunks: yield* chunksOf(kb.id, doc!.id),
      tasks: (yield* queue.listByKey(doc!.id)).map((t) => [t.status, t.attempts])
    }
  })

describe("IngestionEnrichment", () => {
  layer(Engine, { excludeTestServices: true })((it) => {
    it.effect("stores generated keywords and questions on every chunk; a search for a keyword ranks that chunk above an equal one", () =>
      Effect.gen(function* () {
        const worker = yield* Ingestion
        const retrieval = decoding(yield* Retrieval.Retrieval, Retrieval.Operations)
        const { docs, me, kb } = yield* setup()
        yield* useChatModel(me, "kw@Scripted")
        const body = "The ship rose over the harbour.\n\nThe crew waved from the deck."
        const [a, b] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "a.txt", bytes: text(body) }, { name: "b.txt", bytes: text(body) }] })
        // Only a.txt asks for keywords and questions.
        yield* docs.changeParser(me, { doc_id: a!.id, parser_id: "naive", parser_config: { auto_keywords: 3, auto_questions: 2 } })
        const before = yield* callsOf(Scripted.control.kw)
        yield* docs.parse(me, { doc_ids: [a!.id, b!.id] })
        expect(yield* worker.drain).toBe(2)

        const done = yield* docs.get(me, { doc_id: a!.id })
        expect(done.run).toBe("DONE")
        expect(done.progress_msg).toMatch(/Generating keywords and questions for 2 chunks with kw@Scripted\./)
        expect(done.progress_msg).toMatch(/Generated keywords and questions for 2\/2 chunks\./)
        const enriched = yield* chunksOf(kb.id, a!.id)
        expect(enriched.map((c) => [c.important_keywords, c.questions])).toEqual([
          [["zeppelin", "harbour", "extra"], ["What rose over the harbour?", "Who waved from the deck?"]],
          [["zeppelin", "deck", "extra"], ["What rose over the harbour?", "Who waved from the deck?"]]
        ])
        expect((yield* chunksOf(kb.id, b!.id)).map((c) => [c.important_keywords, c.questions])).toEqual([[[], []], [[], []]])
        yield* expectCountsMatchIndex(kb.id, [a!.id, b!.id])

        // Two calls per chunk of a.txt, none for b.txt; the chunk is the user message.
        const calls = (yield* Scripted.control.kw.calls).slice(before)
        expect(calls).toHaveLength(4)
        expect(calls.map((c) => c.messages[0]!.content)).toEqual(expect.arrayContaining([keywordInstructions(3)]))
        expect(calls.filter((c) => c.messages[1]!.content === "Passage:\nThe crew waved from the deck.")).toHaveLength(2)
        expect(calls.every((c) => c.settings.temperature === 0.2)).toBe(true)

        // A keyword the text lacks finds the chunks that have it; one it has ranks them first.
        const search = (question: string) =>
          retrieval.retrieve(me, { kb_ids: [kb.id], question, vector_similarity_weight: 0, similarity_threshold: 0 })
        const zeppelin = yield* search("zeppelin")
        expect(zeppelin.chunks.map((c) => `${c.chunk.docnm_kwd}: ${c.chunk.content}`).sort()).toEqual([
          "a.txt: The crew waved from the deck.",
          "a.txt: The ship rose over the harbour."
        ])
        // (a.txt's other chunk comes too, by its generated question "What rose over the harbour?")
        const harbour = yield* search("harbour")
        expect(harbour.chunks.map((c) => `${c.chunk.docnm_kwd}: ${c.chunk.content}`)).toEqual([
          "a.txt: The ship rose over the harbour.",
          "b.txt: The ship rose over the harbour.",
          "a.txt: The crew waved from the deck."
        ])
        expect(harbour.chunks[0]!.term_similarity).toBeGreaterThan(harbour.chunks[1]!.term_similarity)
      }))

    it.effect("calls the model at most `enrichmentConcurrency` times at once, with progress", () =>
      Effect.gen(function* () {
        const body = Array.from({ length: 12 }, (_, i) => `Paragraph number ${i}.`).join("\n\n")
        const before = yield* callsOf(Scripted.control.kw)
        load.max = 0
        Scripted.setDelay(15)
        const { chunks, ended } = yield* Effect.ensuring(ingest("kw@Scripted", body, { auto_keywords: 2 }), Effect.sync(() => Scripted.setDelay(0)))

        expect((yield* callsOf(Scripted.control.kw)) - before).toBe(12)
        expect(load.max).toBe(3)
        expect(ended.run).toBe("DONE")
        expect(ended.progress_msg).toMatch(/Generated keywords for 12\/12 chunks\.\n.*Embedded 12\/12 chunks\./)
        expect(chunks.every((c) => c.important_keywords.length === 2 && c.questions.length === 0)).toBe(true)
      }))

    it.effect("a failing model ends the document FAIL with its message, leaving no chunks", () =>
      Effect.gen(function* () {
        const { chunks, ended, tasks } = yield* ingest("broken@Scripted", "One.\n\nTwo.", { auto_questions: 2 })
        expect([ended.run, ended.chunk_num, chunks]).toEqual(["FAIL", 0, []])
        expect(ended.progress_msg).toMatch(/Generating questions with broken@Scripted failed: quota exceeded for this key/)
        // Not worth another attempt: the task failed once.
        expect(tasks).toEqual([["failed", 1]])
      }))

    it.effect("a model that was away is tried again on the next attempt", () =>
      Effect.gen(function* () {
        const { chunks, ended, tasks } = yield* ingest("flaky@Scripted", "One.", { auto_keywords: 1 })
        expect([ended.run, ended.chunk_num]).toEqual(["DONE", 1])
        expect(ended.progress_msg).toMatch(/Will retry: Generating keywords with flaky@Scripted failed: the chat service is away/)
        expect(tasks).toEqual([["done", 2]])
        expect(chunks.map((c) => c.important_keywords)).toEqual([["zeppelin"]])
      }))

    it.effect("without a default chat model the document fails, saying to set one or turn the option off", () =>
      Effect.gen(function* () {
        const { ended } = yield* ingest("", "One.", { auto_keywords: 2, auto_questions: 1 })
        expect(ended.run).toBe("FAIL")
        expect(ended.progress_msg).toContain(
          "The parser configuration asks for keywords and questions from a chat model (auto_keywords: 2, auto_questions: 1), but the tenant has no default chat model: set one (llm_id in the tenant's default models), or set auto_keywords and auto_questions to 0."
        )
      }))

    it.effect("a model that only quotes its sources (the extractive answerer) is refused, without a call", () =>
      Effect.gen(function* () {
        const { chunks, ended } = yield* ingest("quoting@Scripted", "One.", { auto_keywords: 2 })
        expect([ended.run, chunks]).toEqual(["FAIL", []])
        expect(ended.progress_msg).toContain(
          "The default chat model quoting@Scripted can't generate keywords (auto_keywords: 2): it quotes sources and writes nothing new"
        )
        expect(yield* callsOf(Scripted.control.quoting)).toBe(0)
      }))

    it.effect("`auto_keywords: 0` makes no model call", () =>
      Effect.gen(function* () {
        const before = yield* callsOf(Scripted.control.kw)
        const { chunks, ended } = yield* ingest("kw@Scripted", "One.\n\nTwo.", { auto_keywords: 0, auto_questions: 0 })
        expect(ended.run).toBe("DONE")
        expect(ended.progress_msg).not.toMatch(/Generat\w+ keywords/)
        expect((yield* callsOf(Scripted.control.kw)) - before).toBe(0)
        expect(chunks.map((c) => c.important_keywords)).toEqual([[], []])
      }))

    it.effect("a knowledge base's settings reach its documents; cancel stops the calls within a heartbeat", () =>
      Effect.gen(function* () {
        const worker = yield* Ingestion
        const { docs, kbs, me } = yield* setup()
        yield* useChatModel(me, "kw@Scripted")
        const kb = yield* kbs.create(me, { name: "Asks", embedding_model: "hash-32@Test", parser_config: { auto_keywords: 2 } })
        const body = Array.from({ length: 200 }, (_, i) => `Paragraph ${i}.`).join("\n\n")
        const [doc] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "long.txt", bytes: text(body) }] })
        Scripted.setDelay(20)
        yield* docs.parse(me, { doc_ids: [doc!.id] })
        const running = yield* Effect.fork(worker.run)
        yield* waitFor("the first calls", callsOf(Scripted.control.kw), (n) => n > 0).pipe(Effect.zipRight(Effect.sleep(Duration.millis(100))))
        yield* docs.cancel(me, { doc_ids: [doc!.id] })
        const canceledAt = Date.now()
        // No call starts once the worker noticed (a heartbeat is 100 ms here).
        yield* Effect.sleep(Duration.millis(250))
        const settled = yield* callsOf(Scripted.control.kw)
        yield* Effect.sleep(Duration.millis(200))
        expect(yield* callsOf(Scripted.control.kw)).toBe(settled)
        expect(load.now).toBe(0)
        expect(Date.now() - canceledAt).toBeLessThan(2_000)
        yield* Fiber.interrupt(running)
        Scripted.setDelay(0)

        const canceled = yield* docs.get(me, { doc_id: doc!.id })
        expect([canceled.run, canceled.chunk_num]).toEqual(["CANCEL", 0])
        expect(canceled.progress_msg).toMatch(/Generating keywords for 200 chunks/)
        expect(yield* chunksOf(kb.id, doc!.id)).toEqual([])
      }))
  })
})

describe("ChunkEnrichment answers", () => {
  it("reads keywords: commas or lines, markers, labels, quotes, thinking and fences; distinct and capped", () => {
    expect(parseKeywords("zeppelin, harbour ,Zeppelin,  , extra", 5)).toEqual(["zeppelin", "harbour", "extra"])
    expect(parseKeywords("<think>The text is about ships, I think.</think>\nKeywords: ship, \"harbour\", crew.", 5)).toEqual(["ship", "harbour", "crew"])
    expect(parseKeywords("1. Moon landing\n2. **Apollo 11**\n- NASA\n• 1969", 3)).toEqual(["Moon landing", "Apollo 11", "NASA"])
    expect(parseKeywords("```\n[\"alpha\", \"beta\"]\n```", 5)).toEqual(["alpha", "beta"])
    expect(parseKeywords("人工智能，机器学习、深度学习；神经网络", 3)).toEqual(["人工智能", "机器学习", "深度学习"])
    expect(parseKeywords(`short, ${"x".repeat(101)}, ok`, 5)).toEqual(["short", "ok"])
    expect(parseKeywords("", 5)).toEqual([])
  })

  it("reads questions: one per line or several on a line, numbered or not; distinct and capped", () => {
    expect(parseQuestions("1. What is RAG?\n2) Why chunk documents?\n\nQ3: what is rag?\n- How are chunks ranked?", 5)).toEqual([
      "What is RAG?",
      "Why chunk documents?",
      "How are chunks ranked?"
    ])
    expect(parseQuestions("Questions:\nWhat rose? Who waved? Why?", 2)).toEqual(["What rose?", "Who waved?"])
    expect(parseQuestions("<think>\nhmm\n</think>\n\"Where is the deck?\"", 3)).toEqual(["Where is the deck?"])
    expect(parseQuestions("什么是检索增强生成？ 为什么要分块？", 3)).toEqual(["什么是检索增强生成？", "为什么要分块？"])
  })

  it("cuts a chunk to the model's context budget", () => {
    const words = (s: string) => s.split(/\s+/).filter((w) => w !== "").length
    const long = Array.from({ length: 1000 }, (_, i) => `word${i}`).join(" ")
    expect(fitContent(long, 1000, 2000, words)).toBe(long)
    const cut = fitContent(long, 1000, 100, words)
    expect(words(cut)).toBeLessThanOrEqual(100)
    expect(words(cut)).toBeGreaterThan(80)
    expect(long.startsWith(cut)).toBe(true)
  })
})
