import { describe, expect, it, layer } from "@effect/vitest"
import { Chunk, Effect, Either, Layer, Stream } from "effect"
import * as Budget from "../../src/chat/Budget.js"
import type { Caller } from "../../src/domain/Caller.js"
import { ModelError } from "../../src/domain/Errors.js"
import { decodeRequest } from "../../src/domain/Fields.js"
import type { KnowledgeBaseId } from "../../src/domain/Ids.js"
import * as ChatModel from "../../src/ports/ChatModel.js"
import * as ChunkMethod from "../../src/ports/ChunkMethod.js"
import * as Rag from "../../src/Rag.js"
import { createRagClient, decoding } from "../../src/RagClient.js"
import * as Completions from "../../src/services/Completions.js"
import * as Conversations from "../../src/services/Conversations.js"
import * as Dialogs from "../../src/services/Dialogs.js"
import { Documents } from "../../src/services/Documents.js"
import { Ingestion } from "../../src/services/Ingestion.js"
import * as KnowledgeBases from "../../src/services/KnowledgeBases.js"
import * as TestModels from "../../src/testing/TestModels.js"
import * as Tokenizer from "../../src/text/Tokenizer.js"
import { newCaller, text } from "./helpers.js"
import { paragraphs } from "./ingestionHelpers.js"
import { register, scripted, ScriptedProvider } from "./scriptedModels.js"

const Engine = Rag.layerWorker({ heartbeatMs: 100 }).pipe(
  Layer.provideMerge(Rag.layer(Rag.layerMemoryPorts, [TestModels.layer, ScriptedProvider])),
  Layer.provideMerge(Layer.merge(ChunkMethod.layer([paragraphs]), Tokenizer.layer))
)

const PETS = [
  "Otters hold hands while sleeping so they do not drift apart.",
  "Cats sleep for most of the day and hunt at dusk.",
  "Dogs were domesticated from wolves thousands of years ago."
].join("\n\n")
const SPACE = [
  "The Moon orbits the Earth every twenty-seven days.",
  "Mars has two small moons called Phobos and Deimos.",
  "Jupiter is the largest planet of the solar system."
].join("\n\n")
const MARS = "Mars has two small moons called Phobos and Deimos."
const QUESTION = "How many moons does Mars have?"

/** The services as the surfaces call them: requests decoded first. */
const services = Effect.gen(function* () {
  return {
    completions: decoding(yield* Completions.Completions, Completions.Operations),
    stream: (caller: Caller, request: typeof Completions.CompleteRequest.Encoded) =>
      Effect.flatMap(decodeRequest(Completions.CompleteRequest)(request), (decoded) =>
        Effect.map(Completions.Completions, (service) => service.stream(caller, decoded))
      ),
    dialogs: decoding(yield* Dialogs.Dialogs, Dialogs.Operations),
    conversations: decoding(yield* Conversations.Conversations, Conversations.Operations)
  }
})

/** A tenant with a knowledge base of two parsed documents (pets.txt, space.txt). */
const setup = Effect.gen(function* () {
  const me = yield* newCaller()
  const kbs = decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations)
  const docs = yield* Documents
  const kb = yield* kbs.create(me, { name: "Facts", embedding_model: "hash-64@Test" })
  const [pets, space] = yield* docs.upload(me, {
    kb_id: kb.id,
    files: [
      { name: "pets.txt", bytes: text(PETS) },
      { name: "space.txt", bytes: text(SPACE) }
    ]
  })
  yield* docs.parse(me, { doc_ids: [pets!.id, space!.id] })
  yield* (yield* Ingestion).drain
  return { me, kb, pets: pets!, space: space!, ...(yield* services) }
})

const dialogOver = (me: Caller, kb: KnowledgeBaseId, llm_id: string, over: Partial<typeof Dialogs.CreateRequest.Encoded> = {}) =>
  Effect.flatMap(services, ({ dialogs }) => dialogs.create(me, { name: "Facts bot", kb_ids: [kb], llm_id, ...over }))

describe("Completions", () => {
  layer(Engine)((it) => {
    it.effect("answers from the document that holds the answer, citing its chunk; the exchange is stored", () =>
      Effect.gen(function* () {
        const { completions, conversations, kb, me, space } = yield* setup
        const { control, llm_id } = yield* scripted({ replies: ["Mars has two moons, Phobos and Deimos [ID:0]."] })
        const dialog = yield* dialogOver(me, kb.id, llm_id)
        const questionId = "0123456789abcdef0123456789abcdef"
        const result = yield* completions.complete(me, { dialog_id: dialog.id, messages: [{ id: questionId, role: "user", content: QUESTION }] })

        expect(result.answer).toBe("Mars has two moons, Phobos and Deimos [ID:0].")
        expect(result.incomplete).toBe(false)
        const cited = result.reference.chunks[0]!
        expect(cited).toMatchObject({ content: MARS, document_id: space.id, document_name: "space.txt", dataset_id: kb.id, image_id: "" })
        expect(cited.similarity).toBeCloseTo(0.7 * cited.term_similarity + 0.3 * cited.vector_similarity, 12)
        expect(result.reference.doc_aggs).toEqual([{ doc_id: space.id, doc_name: "space.txt", count: expect.any(Number) }])
        expect(result.reference.total).toBeGreaterThanOrEqual(result.reference.chunks.length)
        // The scripted model counts words: 10 prompt words would be far too few; it reported its own.
        expect(result.usage.total_tokens).toBe(result.usage.prompt_tokens + result.usage.completion_tokens)
        expect(result.usage.completion_tokens).toBe(8)

        // One call: the system prompt quotes the passages and asks for citations; the question last.
        const [call] = yield* control.calls
        expect(call!.messages[0]!.role).toBe("system")
        expect(call!.messages[0]!.content).toContain(`\nID: 0\n├── Title: space.txt\n└── Content:\n${MARS}`)
        expect(call!.messages[0]!.content).toContain("[ID:n]")
        expect(call!.messages.slice(1)).toEqual([{ role: "user", content: QUESTION }])
        expect(call!.grounding).toEqual({
          question: QUESTION,
          passages: result.reference.chunks.slice(0, call!.grounding!.passages.length).map((c, id) => ({ id, title: c.document_name, content: c.content }))
        })

        // A new conversation, opened with the prologue, holding the question (its id kept) and the answer.
        const stored = yield* conversations.get(me, { conversation_id: result.conversation_id })
        expect(stored.dialog_id).toBe(dialog.id)
        expect(stored.name).toBe(QUESTION)
        expect(stored.message.map((m) => [m.role, m.content])).toEqual([
          ["assistant", "Hi! I'm your assistant. What can I do for you?"],
          ["user", QUESTION],
          ["assistant", result.answer]
        ])
        expect(stored.message[1]!.id).toBe(questionId)
        expect(stored.message[2]).toMatchObject({ id: result.message_id, reference: result.reference, incomplete: false })
      }))

    it.effect("streams the answer; a model that cites nothing gets citations inserted", () =>
      Effect.gen(function* () {
        const { conversations, kb, me, space, stream } = yield* setup
        const { control, llm_id } = yield* scripted({ replies: [`${MARS} Cats are not involved here at all.`], usage: false })
        const dialog = yield* dialogOver(me, kb.id, llm_id)
        const events = Chunk.toReadonlyArray(
          yield* Stream.runCollect(yield* stream(me, { dialog_id: dialog.id, messages: [{ role: "user", content: QUESTION }] }))
        )
        const deltas = events.filter((e) => e._tag === "Delta")
        expect(deltas.length).toBeGreaterThan(5)
        expect(deltas.map((d) => d.text).join("")).toBe(`${MARS} Cats are not involved here at all.`)
        const done = events.at(-1)!
        if (done._tag !== "Done") return expect.unreachable()
        expect(events.filter((e) => e._tag === "Done")).toHaveLength(1)

        // The Mars sentence cites the Mars chunk, before its full stop; the other sentence cites nothing.
        const mars = done.reference.chunks.findIndex((c) => c.content === MARS)
        expect(mars).toBeGreaterThanOrEqual(0)
        expect(done.answer).toBe(`${MARS.slice(0, -1)} [ID:${mars}]. Cats are not involved here at all.`)
        expect(done.reference.doc_aggs.map((d) => d.doc_id)).toEqual([space.id])
        // No usage from the model: counted.
        const [call] = yield* control.calls
        expect(done.usage.prompt_tokens).toBe(Budget.promptTokens((yield* Tokenizer.Tokenizer).countTokens, call!.messages))
        expect(done.usage.completion_tokens).toBeGreaterThan(10)

        const stored = yield* conversations.get(me, { conversation_id: done.conversation_id })
        expect(stored.message.at(-1)).toMatchObject({ id: done.message_id, content: done.answer, reference: done.reference })
      }))

    it.effect("the sent history replaces the stored one, keeping what the engine stored for messages it knows", () =>
      Effect.gen(function* () {
        const { completions, conversations, kb, me } = yield* setup
        const { control, llm_id } = yield* scripted({ replies: ["First [ID:0].", "Second [ID:0]."] })
        const dialog = yield* dialogOver(me, kb.id, llm_id)
        const conversation = yield* conversations.create(me, { dialog_id: dialog.id })
        const prologue = conversation.message[0]!
        const first = yield* completions.complete(me, {
          conversation_id: conversation.id,
          messages: [{ id: prologue.id, role: "assistant", content: prologue.content }, { role: "user", content: "Tell me about Mars" }]
        })
        const afterFirst = yield* conversations.get(me, { conversation_id: conversation.id })
        yield* conversations.feedback(me, { conversation_id: conversation.id, message_id: first.message_id, thumbup: true })

        // The client resends the history with ids, edits nothing, and asks again.
        const second = yield* completions.complete(me, {
          conversation_id: conversation.id,
          dialog_id: dialog.id,
          messages: [
            ...afterFirst.message.map((m) => ({ id: m.id, role: m.role, content: m.content })),
            { role: "user", content: QUESTION }
          ]
        })
        expect(second.conversation_id).toBe(conversation.id)
        const stored = yield* conversations.get(me, { conversation_id: conversation.id })
        expect(stored.message.map((m) => m.content)).toEqual([prologue.content, "Tell me about Mars", first.answer, QUESTION, second.answer])
        expect(stored.message[0]).toEqual(prologue)
        expect(stored.message[2]).toMatchObject({ id: first.message_id, thumbup: true, reference: first.reference })

        // The model read the earlier turn, without the greeting before the first question.
        const calls = yield* control.calls
        expect(calls[1]!.messages.slice(1).map((m) => m.content)).toEqual(["Tell me about Mars", first.answer, QUESTION])

        // A conversation of another dialog is not this one's.
        const other = yield* dialogOver(me, kb.id, llm_id)
        const wrong = yield* Effect.either(
          completions.complete(me, { conversation_id: conversation.id, dialog_id: other.id, messages: [{ role: "user", content: QUESTION }] })
        )
        expect(Either.isLeft(wrong) && wrong.left._tag).toBe("NotFound")
      }))

    it.effect("answers the empty response without calling the model when nothing is retrieved", () =>
      Effect.gen(function* () {
        const { completions, conversations, kb, me } = yield* setup
        const { control, llm_id } = yield* scripted({ replies: ["never used"] })
        const dialog = yield* dialogOver(me, kb.id, llm_id, { similarity_threshold: 1 })
        const result = yield* completions.complete(me, { dialog_id: dialog.id, messages: [{ role: "user", content: "What is quantum chromodynamics?" }] })
        expect(result.answer).toBe("Sorry! No relevant content was found in the knowledge base!")
        expect(result.reference).toEqual({ chunks: [], doc_aggs: [], total: 0 })
        expect(yield* control.calls).toEqual([])
        const stored = yield* conversations.get(me, { conversation_id: result.conversation_id })
        expect(stored.message.at(-1)!.content).toBe(result.answer)

        // Documents filtered out (request doc_ids, or the dialog's metadata filter) retrieve nothing either.
        const manual = (op: string) => ({ method: "manual", manual: [{ key: "lang", op }] })
        const filtered = yield* dialogOver(me, kb.id, llm_id, { meta_data_filter: manual("not empty") })
        const none = yield* completions.complete(me, { dialog_id: filtered.id, messages: [{ role: "user", content: QUESTION }] })
        expect(none.answer).toBe(result.answer)
        expect(yield* control.calls).toEqual([])
        const passing = yield* dialogOver(me, kb.id, llm_id, { meta_data_filter: manual("empty") })
        const answered = yield* completions.complete(me, { dialog_id: passing.id, messages: [{ role: "user", content: QUESTION }] })
        expect(answered.answer).toBe("never used")
        const bad = yield* dialogOver(me, kb.id, llm_id, { meta_data_filter: manual("toString") })
        const refused = yield* Effect.either(completions.complete(me, { dialog_id: bad.id, messages: [{ role: "user", content: QUESTION }] }))
        expect(Either.isLeft(refused) && refused.left).toMatchObject({ _tag: "InvalidInput", field: "meta_data_filter.manual[0].op" })
      }))

    it.effect("fills the prompt's parameters; a missing required one is InvalidInput before any model call", () =>
      Effect.gen(function* () {
        const { completions, kb, me } = yield* setup
        const { control, llm_id } = yield* scripted({ replies: ["Two [ID:0]."] })
        const dialog = yield* dialogOver(me, kb.id, llm_id, {
          prompt_config: {
            system: "Answer in a {tone} tone for {audience}.\n{knowledge}",
            parameters: [{ key: "knowledge" }, { key: "tone" }, { key: "audience", optional: true }]
          }
        })
        const ask = (parameters?: Record<string, string>) =>
          Effect.either(completions.complete(me, { dialog_id: dialog.id, messages: [{ role: "user", content: QUESTION }], ...(parameters ? { parameters } : {}) }))
        const missing = yield* ask()
        expect(Either.isLeft(missing) && missing.left).toMatchObject({ _tag: "InvalidInput", field: "parameters.tone" })
        expect(yield* control.calls).toEqual([])

        const answered = yield* ask({ tone: "calm" })
        expect(Either.isRight(answered)).toBe(true)
        const [call] = yield* control.calls
        expect(call!.messages[0]!.content).toMatch(/^Answer in a calm tone for  \.\n\n------\n\nID: 0\n/)
      }))

    it.effect("generation settings: the request overrides the dialog's; an answer that reaches max_tokens is incomplete", () =>
      Effect.gen(function* () {
        const { completions, conversations, kb, me } = yield* setup
        const { control, llm_id } = yield* scripted({ replies: ["Two moons [ID:0].", "Mars has two small moons [ID:0]."] })
        const dialog = yield* dialogOver(me, kb.id, llm_id, { llm_setting: { temperature: 0.5, top_p: 0.9 } })
        const ask = (llm_setting: Record<string, unknown>) =>
          completions.complete(me, { dialog_id: dialog.id, messages: [{ role: "user", content: QUESTION }], llm_setting: llm_setting as never })
        const free = yield* ask({ temperature: null, presence_penalty: 0.2 })
        expect(free.incomplete).toBe(false)
        // The scripted model counts words: 5 reach a max_tokens of 5.
        const cut = yield* ask({ max_tokens: 5 })
        expect(cut.incomplete).toBe(true)
        const [first, second] = yield* control.calls
        expect(first!.settings).toEqual({ top_p: 0.9, presence_penalty: 0.2 })
        expect(second!.settings).toEqual({ temperature: 0.5, top_p: 0.9, max_tokens: 5 })
        const stored = yield* conversations.get(me, { conversation_id: cut.conversation_id })
        expect(stored.message.at(-1)).toMatchObject({ content: cut.answer, incomplete: true })
      }))

    it.effect("refines a follow-up question and adds keywords to the query when the dialog says so", () =>
      Effect.gen(function* () {
        const { completions, kb, me } = yield* setup
        const { control, llm_id } = yield* scripted({ replies: ["Output: How many moons does Mars have?", "Mars, moons, Phobos", "Two [ID:0]."] })
        const dialog = yield* dialogOver(me, kb.id, llm_id, { prompt_config: { refine_multiturn: true, keyword: true } })
        const result = yield* completions.complete(me, {
          dialog_id: dialog.id,
          messages: [
            { role: "user", content: "Tell me about Mars" },
            { role: "assistant", content: "It is the fourth planet." },
            { role: "user", content: "How many does it have?" }
          ]
        })
        const [refine, keywords, answer] = yield* control.calls
        expect(refine!.messages[0]!.content).toContain("USER: Tell me about Mars\nASSISTANT: It is the fourth planet.\nUSER: How many does it have?")
        expect(keywords!.messages[0]!.content).toContain("How many moons does Mars have?")
        expect(keywords!.settings).toEqual({ temperature: 0.2 })
        // The answer is grounded on the refined question; the keywords only widen retrieval.
        expect(answer!.grounding!.question).toBe("How many moons does Mars have?")
        expect(answer!.messages.at(-1)!.content).toBe("How many does it have?")
        expect(result.reference.chunks[0]!.content).toBe(MARS)

        // A first question is not refined.
        const plain = yield* scripted({ replies: ["Mars, moons", "Two [ID:0]."] })
        const once = yield* dialogOver(me, kb.id, plain.llm_id, { prompt_config: { refine_multiturn: true, keyword: true } })
        yield* completions.complete(me, { dialog_id: once.id, messages: [{ role: "user", content: QUESTION }] })
        expect((yield* plain.control.calls).length).toBe(2)

        // A model that only quotes (the extractive answerer) is asked nothing but the answer.
        const quoting = yield* scripted({ replies: ["Two [ID:0]."], generative: false })
        const quoted = yield* dialogOver(me, kb.id, quoting.llm_id, { prompt_config: { refine_multiturn: true, keyword: true } })
        yield* completions.complete(me, {
          dialog_id: quoted.id,
          messages: [
            { role: "user", content: "Tell me about Mars" },
            { role: "assistant", content: "It is the fourth planet." },
            { role: "user", content: QUESTION }
          ]
        })
        const [only, ...more] = yield* quoting.control.calls
        expect(more).toEqual([])
        expect(only!.grounding!.question).toBe(QUESTION)
      }))

    it.effect("a stream that stops early stores what was generated, marked incomplete", () =>
      Effect.gen(function* () {
        const { conversations, kb, me, stream } = yield* setup
        // A model that writes two pieces and then stalls, as a connection can.
        const llm_id = register(
          ChatModel.make({
            modelId: "stalling",
            stream: () =>
              Stream.concat(
                Stream.make(ChatModel.ChatDelta.Text({ text: "Mars has " }), ChatModel.ChatDelta.Text({ text: "two moons" })),
                Stream.never
              )
          })
        )
        const dialog = yield* dialogOver(me, kb.id, llm_id)
        const conversation = yield* conversations.create(me, { dialog_id: dialog.id })
        // The client reads two events and goes away.
        const read = yield* Stream.runCollect(
          Stream.take(yield* stream(me, { conversation_id: conversation.id, messages: [{ role: "user", content: QUESTION }] }), 2)
        )
        expect(Chunk.toReadonlyArray(read).map((e) => e._tag)).toEqual(["Delta", "Delta"])
        const stored = yield* conversations.get(me, { conversation_id: conversation.id })
        expect(stored.message.map((m) => [m.role, m.content, m.incomplete])).toEqual([
          ["user", QUESTION, false],
          ["assistant", "Mars has two moons", true]
        ])

        // A model that fails mid-answer: the error reaches the caller, the partial answer is stored.
        const failing = yield* scripted({ replies: ["Mars has two small moons [ID:0]."], deltaSize: 5 })
        yield* failing.control.failNext(new ModelError({ reason: "Unavailable", model: "m", message: "connection reset" }), { afterDeltas: 2 })
        const failingDialog = yield* dialogOver(me, kb.id, failing.llm_id)
        const broken = yield* Effect.either(
          Stream.runCollect(yield* stream(me, { dialog_id: failingDialog.id, messages: [{ role: "user", content: QUESTION }] }))
        )
        expect(Either.isLeft(broken) && broken.left).toMatchObject({ _tag: "ModelError", reason: "Unavailable" })
        const conversationsOfFailing = yield* conversations.list(me, { dialog_id: failingDialog.id })
        expect(conversationsOfFailing.items[0]!.message.at(-1)).toMatchObject({ content: "Mars has t", incomplete: true })
      }))

    it.effect("refuses bad requests by field", () =>
      Effect.gen(function* () {
        const { completions, kb, me } = yield* setup
        const { llm_id } = yield* scripted({ replies: [] })
        const dialog = yield* dialogOver(me, kb.id, llm_id)
        const id = "0123456789abcdef0123456789abcdef"
        const bad: ReadonlyArray<readonly [typeof Completions.CompleteRequest.Encoded, string]> = [
          [{ messages: [{ role: "user", content: QUESTION }] }, "conversation_id"],
          [{ dialog_id: dialog.id, messages: [] }, "messages"],
          [{ dialog_id: dialog.id, messages: [{ role: "user", content: QUESTION }, { role: "assistant", content: "x" }] }, "messages[1].role"],
          [{ dialog_id: dialog.id, messages: [{ role: "user", content: "  " }] }, "messages[0].content"],
          [{ dialog_id: dialog.id, messages: [{ id, role: "user", content: "a" }, { id, role: "user", content: "b" }] }, "messages[1].id"],
          [{ dialog_id: dialog.id, messages: [{ role: "robot" as never, content: "a" }] }, "messages[0].role"],
          [{ dialog_id: dialog.id, messages: [{ role: "user", content: QUESTION }], llm_setting: { temperature: 3 } }, "llm_setting.temperature"]
        ]
        for (const [request, field] of bad) {
          const result = yield* Effect.either(completions.complete(me, request))
          expect(Either.isLeft(result) && result.left, field).toMatchObject({ _tag: "InvalidInput", field })
        }
        const noModel = yield* dialogOver(me, kb.id, "")
        const unconfigured = yield* Effect.either(completions.complete(me, { dialog_id: noModel.id, messages: [{ role: "user", content: QUESTION }] }))
        expect(Either.isLeft(unconfigured) && unconfigured.left).toMatchObject({ _tag: "ModelError", reason: "NotConfigured" })
        const stranger = yield* newCaller()
        const hidden = yield* Effect.either(completions.complete(stranger, { dialog_id: dialog.id, messages: [{ role: "user", content: QUESTION }] }))
        expect(Either.isLeft(hidden) && hidden.left._tag).toBe("NotFound")
      }))

    it.effect("fits 300 long chunks and 40 turns into a 4k model, keeping the most relevant chunks", () =>
      Effect.gen(function* () {
        const { completions, me } = yield* setup
        const kbs = decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations)
        const docs = yield* Documents
        const kb = yield* kbs.create(me, { name: "Long", embedding_model: "hash-64@Test" })
        const word = (i: number) => `w${(i * 7919) % 997}`
        const long = Array.from({ length: 300 }, (_, c) =>
          `Paragraph ${c} about moons ${c % 7 === 0 ? "Mars Phobos " : ""}${Array.from({ length: 220 + (c % 9) * 20 }, (_, i) => word(c * 31 + i)).join(" ")}.`
        ).join("\n\n")
        const [doc] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "long.txt", bytes: text(long) }] })
        yield* docs.parse(me, { doc_ids: [doc!.id] })
        yield* (yield* Ingestion).drain

        const { control, llm_id } = yield* scripted({ replies: ["Phobos [ID:0]."], contextTokens: 4096 })
        const dialog = yield* dialogOver(me, kb.id, llm_id, { top_n: 300, similarity_threshold: 0 })
        const history = Array.from({ length: 40 }, (_, t) => [
          { role: "user" as const, content: `Question ${t}: ${Array.from({ length: 60 }, (_, i) => word(t * 17 + i)).join(" ")}?` },
          { role: "assistant" as const, content: `Answer ${t}: ${Array.from({ length: 120 }, (_, i) => word(t * 13 + i)).join(" ")}.` }
        ]).flat()
        const result = yield* completions.complete(me, {
          dialog_id: dialog.id,
          messages: [...history, { role: "user", content: "Which moons does Mars have, Phobos?" }]
        })
        expect(result.reference.chunks).toHaveLength(300)
        const [call] = yield* control.calls
        const tokenizer = yield* Tokenizer.Tokenizer
        const prompt = Budget.promptTokens(tokenizer.countTokens, call!.messages)
        expect(prompt + Budget.answerReserve(4096)).toBeLessThanOrEqual(4096)
        expect(prompt).toBeGreaterThan(2500)
        // The passages read are the best ones of the reference, in its order.
        const read = call!.grounding!.passages
        expect(read.length).toBeGreaterThan(0)
        expect(read.map((p) => p.content)).toEqual(result.reference.chunks.slice(0, read.length).map((c) => c.content))
        for (const [i, c] of result.reference.chunks.slice(0, read.length).entries()) {
          expect(call!.messages[0]!.content).toContain(`\nID: ${i}\n├── Title: long.txt\n└── Content:\n${c.content}`)
        }
        expect(call!.messages[0]!.content).not.toContain(result.reference.chunks[read.length]!.content)
        // The newest turns survive, the oldest go, the question is last.
        const sent = call!.messages.slice(1).map((m) => m.content)
        expect(sent.at(-1)).toBe("Which moons does Mars have, Phobos?")
        expect(sent.length).toBeGreaterThan(1)
        expect(sent).not.toContain(history[0]!.content)
        expect(sent.slice(0, -1)).toEqual(history.slice(history.length - (sent.length - 1)).map((m) => m.content))
      }))
  })
})

describe("Completions through the Promise client", () => {
  it("complete and stream; a dialog without knowledge bases chats without a reference; leaving the loop stores an incomplete answer", async () => {
    const rag = await createRagClient(Rag.layer(Rag.layerMemoryPorts, [TestModels.layer]))
    try {
      const me = await rag.localCaller({ chatModel: "echo@Test" })
      const dialog = await rag.dialogs.create(me, { name: "Echo", prompt_config: { system: "You repeat.", parameters: [] } })
      const once = await rag.completions.complete(me, { dialog_id: dialog.id, messages: [{ role: "user", content: "hello there" }] })
      expect(once.answer).toBe("hello there")
      expect(once.reference).toEqual({ chunks: [], doc_aggs: [], total: 0 })

      const events: Array<Completions.CompletionEvent> = []
      for await (const event of rag.completions.stream(me, { conversation_id: once.conversation_id, messages: [{ role: "user", content: "and again" }] })) {
        events.push(event)
      }
      expect(events.filter((e) => e._tag === "Delta").map((e) => (e as Completions.Delta).text).join("")).toBe("and again")
      expect(events.at(-1)).toMatchObject({ _tag: "Done", answer: "and again", conversation_id: once.conversation_id })

      for await (const event of rag.completions.stream(me, { conversation_id: once.conversation_id, messages: [{ role: "user", content: "cut me short" }] })) {
        expect(event._tag).toBe("Delta")
        break
      }
      const stored = await rag.conversations.get(me, { conversation_id: once.conversation_id })
      expect(stored.message.map((m) => [m.role, m.content, m.incomplete])).toEqual([
        ["user", "cut me short", false],
        ["assistant", "cut me short", true]
      ])

      // Bad input rejects with the typed error, before anything runs.
      const iterator = rag.completions.stream(me, { messages: [{ role: "user", content: "x" }] })[Symbol.asyncIterator]()
      await expect(iterator.next()).rejects.toMatchObject({ _tag: "InvalidInput", field: "conversation_id" })
    } finally {
      await rag.dispose()
    }
  })
})
