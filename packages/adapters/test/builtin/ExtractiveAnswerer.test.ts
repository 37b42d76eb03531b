/**
 * `extractive@Builtin`: answers from the grounding's passages by quoting the sentences that answer
 * the question, cited, after saying why it quotes; resolved through `Models` like any chat model.
 */
import { expect, layer } from "@effect/vitest"
import { ChatModel, Models, Rag, Tokenizer } from "@ragkit/core"
import { ChatModelSuite } from "@ragkit/core/testing"
import { Chunk, Effect, Layer, Option, Stream } from "effect"
import { BuiltinModels, ExtractiveAnswerer } from "../../src/builtin/index.js"
import { modelError } from "../openai/errors.js"
import { newCaller } from "../openai/support.js"

ChatModelSuite("extractive@Builtin", ExtractiveAnswerer.layer().pipe(Layer.provide(Tokenizer.layer)), { deterministic: true })

/** Passages about one subject, the answer in one sentence of the third; the ids are not the ranks. */
const passages: ReadonlyArray<ChatModel.ChatPassage> = [
  {
    id: 4,
    title: "Eiffel Tower.pdf",
    content:
      "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. It is named after the engineer Gustave Eiffel, whose company designed and built the tower. Locally nicknamed \"La dame de fer\", it was constructed as the centrepiece of the 1889 World's Fair."
  },
  {
    id: 7,
    title: "Paris landmarks.md",
    content:
      "Paris has many landmarks besides the tower. The Louvre is the world's most-visited museum. Notre-Dame cathedral was damaged by a fire in April 2019."
  },
  {
    id: 1,
    title: "Eiffel Tower facts.docx",
    content:
      "Visitors climb the stairs or take the lifts. The tower is 330 metres tall, about the same height as an 81-storey building. It was the tallest man-made structure in the world until the Chrysler Building in New York City was finished in 1930.\n\nThe top level's upper platform is 276 m above the ground."
  },
  {
    id: 2,
    title: "Gustave Eiffel.txt",
    content:
      "Alexandre Gustave Eiffel was a French civil engineer. His company also built the internal structure of the Statue of Liberty. He died in Paris in 1923 at the age of 91."
  }
]

const grounding = (question: string, ps: ReadonlyArray<ChatModel.ChatPassage> = passages): ChatModel.ChatGrounding => ({ question, passages: ps })

/** The messages a completion sends with its grounding: a system prompt with the knowledge, the question. */
const messages = (question: string): ReadonlyArray<ChatModel.ChatMessage> => [
  { role: "system", content: "Answer from the knowledge base below.\n{knowledge}" },
  { role: "user", content: question }
]

// `layer(name, ...)` for each group: @effect/vitest's `layer` sets `it.effect` on the shared `it`
// when its describe is collected, so a plain `describe` inside an unnamed `layer` could run on
// another layer's services (the conformance suite's, collected in between).
const Answerer = ExtractiveAnswerer.layer().pipe(Layer.provideMerge(Tokenizer.layer))

layer(Answerer)("grounded answers", (it) => {
  it.effect("quotes the one sentence that answers, among several passages, cites its passage, after the disclosure", () =>
    Effect.gen(function*() {
      const model = yield* ChatModel.ChatModel
      const question = "How tall is the Eiffel Tower?"
      const { text } = yield* model.generate(messages(question), {}, grounding(question))
      expect(text.startsWith(ExtractiveAnswerer.Disclosure.en)).toBe(true)
      const body = text.slice(ExtractiveAnswerer.Disclosure.en.length).trim()
      // The answering sentence comes first, cited with its passage's id (not its rank).
      expect(body.startsWith("The tower is 330 metres tall, about the same height as an 81-storey building. [ID:1]")).toBe(true)
      // Every quoted sentence is cited, and only passages that were given are cited.
      const cited = [...text.matchAll(/\[ID:(\d+)\]/g)].map((m) => Number(m[1]))
      expect(cited.length).toBeGreaterThanOrEqual(1)
      expect(cited.every((id) => passages.some((p) => p.id === id))).toBe(true)
      expect(body.split(/\[ID:\d+\]/).filter((s) => s.trim().length > 0).length).toBe(cited.length)
    }))

  it.effect("answers other questions from the same passages with the sentence that holds their answer, scored best", () =>
    Effect.gen(function*() {
      const model = yield* ChatModel.ChatModel
      const answer = ExtractiveAnswerer.answerWith(yield* Tokenizer.Tokenizer)
      const cases = [
        ["Who is the Eiffel Tower named after?", "It is named after the engineer Gustave Eiffel, whose company designed and built the tower.", 4],
        ["When did Gustave Eiffel die?", "He died in Paris in 1923 at the age of 91.", 2],
        ["Which museum is the most visited in the world?", "The Louvre is the world's most-visited museum.", 7]
      ] as const
      for (const [question, sentence, id] of cases) {
        const { text } = yield* model.generate(messages(question), {}, grounding(question))
        expect(text, question).toContain(`${sentence} [ID:${id}]`)
        // Quotes of one passage keep their order (a sentence that says "it" follows the one that names it),
        // but the answering sentence is the best scored.
        const { quotes } = answer(question, passages)
        const best = [...quotes].sort((a, b) => b.score - a.score)[0]!
        expect([best.text, best.passageId], question).toEqual([sentence, id])
      }
    }))

  it.effect("Chinese passages: the answering sentence, cited, after the disclosure in Chinese", () =>
    Effect.gen(function*() {
      const model = yield* ChatModel.ChatModel
      const chinese: ReadonlyArray<ChatModel.ChatPassage> = [
        { id: 0, title: "故宫.txt", content: "故宫位于北京中轴线的中心，是明清两代的皇家宫殿。故宫始建于明成祖永乐四年，也就是1406年。它是世界上现存规模最大的木质结构古建筑群之一。" },
        { id: 1, title: "长城.txt", content: "长城是中国古代的军事防御工程。明长城东起鸭绿江，西至嘉峪关，全长约8851.8公里。长城于1987年被列入世界文化遗产。" },
        { id: 2, title: "黄河.txt", content: "黄河是中国第二长河，全长约5464公里。黄河流域是中华文明的发祥地之一。" }
      ]
      const question = "明长城全长多少公里？"
      const { text } = yield* model.generate(messages(question), {}, grounding(question, chinese))
      expect(text.startsWith(ExtractiveAnswerer.Disclosure.zh)).toBe(true)
      const body = text.slice(ExtractiveAnswerer.Disclosure.zh.length).trim()
      expect(body.startsWith("明长城东起鸭绿江，西至嘉峪关，全长约8851.8公里。[ID:1]")).toBe(true)

      const when = "故宫是哪一年开始建造的？"
      const built = yield* model.generate(messages(when), {}, grounding(when, chinese))
      expect(built.text).toContain("故宫始建于明成祖永乐四年，也就是1406年。[ID:0]")
    }))

  it.effect("an English question over Chinese passages keeps the English disclosure", () =>
    Effect.gen(function*() {
      const model = yield* ChatModel.ChatModel
      const question = "Where is the 故宫?"
      const { text } = yield* model.generate(messages(question), {}, grounding(question, [{ id: 0, title: "t", content: "故宫位于北京。" }]))
      expect(text).toBe(`${ExtractiveAnswerer.Disclosure.en}\n\n故宫位于北京。[ID:0]`)
    }))

  it.effect("a table row in HTML is quoted as a sentence", () =>
    Effect.gen(function*() {
      const model = yield* ChatModel.ChatModel
      const table = "<table><tr><th>Planet</th><th>Moons</th></tr><tr><td>Mars</td><td>2</td></tr><tr><td>Jupiter</td><td>95</td></tr></table>"
      const question = "How many moons does Jupiter have?"
      const { text } = yield* model.generate(messages(question), {}, grounding(question, [{ id: 3, title: "planets.html", content: table }]))
      expect(text).toContain("Jupiter; 95 [ID:3]")
      expect(text).not.toContain("<td>")
    }))

  it.effect("the answer is bounded: at most three sentences, however many match", () =>
    Effect.gen(function*() {
      const model = yield* ChatModel.ChatModel
      const many = Array.from({ length: 12 }, (_, i) => ({
        id: i,
        title: `solar ${i}`,
        content: `Solar panel model ${i} converts sunlight into electricity with an efficiency of ${15 + i} percent. ` +
          `Solar panel model ${i} weighs ${18 + i} kilograms and converts sunlight on cloudy days as well.`
      }))
      const question = "How efficiently do solar panels convert sunlight into electricity?"
      const { text } = yield* model.generate(messages(question), {}, grounding(question, many))
      const cited = [...text.matchAll(/\[ID:(\d+)\]/g)]
      expect(cited.length).toBeGreaterThanOrEqual(1)
      expect(cited.length).toBeLessThanOrEqual(3)
      expect(text.length).toBeLessThan(ExtractiveAnswerer.Disclosure.en.length + 800)
      expect(text).toContain("efficiency of")
    }))

  it.effect("a question whose words no sentence holds gets the top passage's first sentence, saying so", () =>
    Effect.gen(function*() {
      const model = yield* ChatModel.ChatModel
      const question = "Quantum chromodynamics?"
      const { text } = yield* model.generate(messages(question), {}, grounding(question))
      expect(text).toBe(
        `${ExtractiveAnswerer.Disclosure.en} ${ExtractiveAnswerer.NoMatch.en}\n\n` +
          "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. [ID:4]"
      )
    }))
})

layer(Answerer)("without sources", (it) => {
  it.effect("no grounding: answers from the last user message that it has no sources; cites nothing", () =>
    Effect.gen(function*() {
      const model = yield* ChatModel.ChatModel
      const { text, usage } = yield* model.generate(messages("How tall is the Eiffel Tower?"))
      expect(text).toBe(ExtractiveAnswerer.NoSources.en)
      expect(text).not.toContain("[ID:")
      expect(usage).toEqual(Option.none())
      const zh = yield* model.generate([{ role: "user", content: "长城有多长？" }, { role: "assistant", content: "..." }])
      expect(zh.text).toBe(ExtractiveAnswerer.NoSources.zh)
      const none = yield* model.generate(messages("How tall is the Eiffel Tower?"), {}, grounding("How tall is the Eiffel Tower?", []))
      expect(none.text).toBe(ExtractiveAnswerer.NoSources.en)
    }))
})

layer(Answerer)("streaming", (it) => {
  it.effect("streams words and whole citations; the deltas concatenate to the answer; the same call gives the same answer", () =>
    Effect.gen(function*() {
      const model = yield* ChatModel.ChatModel
      const question = "How tall is the Eiffel Tower?"
      const deltas = Chunk.toReadonlyArray(yield* Stream.runCollect(model.stream(messages(question), {}, grounding(question))))
      const texts = deltas.map((d) => (d._tag === "Text" ? d.text : ""))
      expect(deltas.every((d) => d._tag === "Text")).toBe(true)
      expect(texts.length).toBeGreaterThan(20)
      expect(texts.every((t) => t.length > 0 && t.length <= 40)).toBe(true)
      // A citation is never cut across deltas.
      expect(texts.filter((t) => /\[ID:\d+\]/.test(t)).length).toBe([...texts.join("").matchAll(/\[ID:\d+\]/g)].length)
      const { text } = yield* model.generate(messages(question), {}, grounding(question))
      expect(texts.join("")).toBe(text)
      expect((yield* model.generate(messages(question), {}, grounding(question))).text).toBe(text)
      // The passages in another order give the same quotes (their order follows the ranks).
      const reversed = yield* model.generate(messages(question), {}, grounding(question, [...passages].reverse()))
      expect(reversed.text).toContain("The tower is 330 metres tall, about the same height as an 81-storey building. [ID:1]")
    }))

  it("Chinese text streams in pieces of at most four characters that concatenate to it", () => {
    const text = "明长城东起鸭绿江，西至嘉峪关，全长约8851.8公里。It is long. [ID:1]"
    const pieces = ExtractiveAnswerer.piecesOf(text)
    expect(pieces.join("")).toBe(text)
    expect(pieces.filter((p) => /\p{Script=Han}/u.test(p)).every((p) => Array.from(p).length <= 4)).toBe(true)
  })
})

/** The engine on memory ports, with the Builtin provider serving only the answerer (no GloVe build). */
const Engine = Rag.layer(Rag.layerMemoryPorts, [BuiltinModels.layerWithoutEmbedder()])

layer(Engine)("extractive@Builtin through Models", (it) => {
  it.effect("resolves by name (case-insensitive) with a large context window; answers; other Builtin chat models are NotConfigured", () =>
    Effect.gen(function*() {
      const models = yield* Models.Models
      const caller = yield* newCaller
      const model = yield* models.chatModel(caller, "extractive@Builtin")
      expect(model.modelId).toBe("extractive@Builtin")
      expect(model.contextTokens).toBeGreaterThanOrEqual(100_000)
      expect(model.generative).toBe(false)
      expect((yield* models.chatModel(caller, "Extractive@Builtin")).modelId).toBe("extractive@Builtin")
      const question = "When did Gustave Eiffel die?"
      const { text } = yield* model.generate(messages(question), {}, grounding(question))
      expect(text).toContain("He died in Paris in 1923 at the age of 91. [ID:2]")

      const unknown = modelError(yield* Effect.exit(models.chatModel(caller, "gpt-4o@Builtin")))
      expect(unknown.reason).toBe("NotConfigured")
      expect(unknown.message).toContain("extractive@Builtin")
      // This plugin was built without the GloVe embedder: nothing was loaded for it.
      expect(modelError(yield* Effect.exit(models.embedder(caller, "glove-100d@Builtin"))).reason).toBe("NotConfigured")
    }))
})
