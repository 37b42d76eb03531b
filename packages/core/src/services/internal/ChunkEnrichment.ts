/**
 * Keywords and questions for a document's chunks at ingestion (RAGFlow's `auto_keywords` and
 * `auto_questions` in `parser_config`): the tenant's default chat model reads each chunk and proposes
 * up to N keywords and up to N questions, which the chunk keeps (`important_keywords`, `questions`)
 * and the chunk index searches with extra weight.
 *
 * - The model is the tenant's `llm_id`; without one the document fails with a message saying to set
 *   one or turn the options off. A failing call fails the document with the model's message (its
 *   `ModelError` reason kept, so that the worker runs a transient failure again).
 * - At most `concurrency` calls at once; a chunk's keyword and question calls are made one after the
 *   other. Progress: a line when it starts, then at most every `progressEveryMs` and when done.
 * - A chunk longer than the model's context window (less the instructions and room for the answer)
 *   is cut to fit. Answers are read leniently (`parseKeywords`, `parseQuestions`).
 *
 * The prompts follow RAGFlow's `keyword_prompt.md` and `question_prompt.md` (our own wording):
 * instructions in the system message, the chunk in the user message, temperature 0.2.
 */
import { Clock, Effect } from "effect"
import type { Caller } from "../../domain/Caller.js"
import { ModelError } from "../../domain/Errors.js"
import type { ChatMessage, ChatModelService, ChatSettings } from "../../ports/ChatModel.js"
import type { ModelsService } from "../Models.js"

/** How many keywords and questions each chunk gets; 0 turns one off. */
export interface Settings {
  readonly keywords: number
  readonly questions: number
}

const count = (value: unknown) => (typeof value === "number" && Number.isFinite(value) ? Math.max(0, Math.floor(value)) : 0)

/** The settings of a document's (or knowledge base's) `parser_config`; absent keys are 0. */
export const settingsOf = (parserConfig: Readonly<Record<string, unknown>>): Settings => ({
  keywords: count(parserConfig.auto_keywords),
  questions: count(parserConfig.auto_questions)
})

export const isOn = (settings: Settings) => settings.keywords > 0 || settings.questions > 0

/** What a chunk gains. */
export interface Enrichment {
  readonly important_keywords: ReadonlyArray<string>
  readonly questions: ReadonlyArray<string>
}

// ---------------------------------------------------------------------------------------------
// Prompts

export const keywordInstructions = (n: number) =>
  [
    "You analyse a passage taken from a document and name what it is about.",
    `List at most ${n} keywords or short key phrases for the passage, the most important first: the terms someone searching for this passage would type.`,
    "Write them in the language of the passage.",
    "Separate them with commas (,) and write nothing else: no numbering, no explanation, no introduction."
  ].join("\n")

export const questionInstructions = (n: number) =>
  [
    "You analyse a passage taken from a document and ask what it answers.",
    `Write at most ${n} questions that the passage answers, the most important first, each about a different point, together covering as much of the passage as they can.`,
    "Each question must make sense on its own: name the subject instead of writing \"it\" or \"this text\".",
    "Write them in the language of the passage.",
    "Write one question per line and nothing else: no numbering, no answers, no introduction."
  ].join("\n")

/** The passage as the user message. */
const passageMessage = (content: string) => `Passage:\n${content}`

// ---------------------------------------------------------------------------------------------
// Reading answers

/** A reasoning model's thoughts: everything up to the last `</think>`. */
const thinking = /^[\s\S]*<\/think>/i
const fence = /^\s*```[\w-]*\s*$/
/** A leading label the instructions asked not to write ("Keywords:", "Questions:", "Output:"). */
const label = /^\s*(?:\*\*)?(?:keywords?|key phrases?|keyphrases?|questions?|output|answer|关键词|问题)(?:\*\*)?\s*[:：]\s*/i
/** A list marker: `-`, `*`, `•`, `1.`, `1)`, `(1)`, `Q1:`. */
const marker = /^\s*(?:[-*•·]+|\d{1,3}[.)、]|\(\d{1,3}\)|Q\d{0,3}[:.)])\s*/i
const quotes = /^["'“”‘’「」『』`[\]]+|["'“”‘’「」『』`[\]]+$/g

const cleanReply = (reply: string) =>
  reply
    .replace(thinking, "")
    .split(/\r?\n/)
    .filter((line) => !fence.test(line))
    .join("\n")
    .trim()

/** A JSON array of strings, when the model answered with one anyway. */
const jsonList = (text: string): ReadonlyArray<string> | undefined => {
  if (!text.startsWith("[")) return undefined
  try {
    const value: unknown = JSON.parse(text)
    return Array.isArray(value) && value.every((v) => typeof v === "string") ? value : undefined
  } catch {
    return undefined
  }
}

const tidy = (piece: string) =>
  piece.replace(label, "").replace(marker, "").replace(/\*\*/g, "").trim().replace(quotes, "").replace(/\s+/g, " ").trim()

/** Up to `n` distinct items (compared ignoring case), of at most `maxLength` characters, in order. */
const distinct = (items: ReadonlyArray<string>, n: number, maxLength: number): ReadonlyArray<string> => {
  const seen = new Set<string>()
  const out: Array<string> = []
  for (const item of items) {
    if (out.length >= n) break
    const key = item.toLowerCase()
    if (item.length === 0 || item.length > maxLength || seen.has(key)) continue
    seen.add(key)
    out.push(item)
  }
  return out
}

/**
 * Keywords from an answer: separated by commas (also `，`, `、`, `;`) or lines, list markers, quotes,
 * a label and a final full stop removed, a `<think>` part and code fences skipped; at most `n`,
 * each once (ignoring case), none over 100 characters.
 */
export const parseKeywords = (reply: string, n: number): ReadonlyArray<string> => {
  const text = cleanReply(reply)
  const pieces = jsonList(text) ?? text.replace(label, "").split(/[,，、;；\n]+/)
  return distinct(pieces.map((p) => tidy(p).replace(/[.。]+$/, "").trim()), n, 100)
}

/**
 * Questions from an answer: one per line (several on a line are split after their question mark),
 * list markers, quotes and a label removed, a `<think>` part and code fences skipped; at most `n`,
 * each once (ignoring case), none over 500 characters.
 */
export const parseQuestions = (reply: string, n: number): ReadonlyArray<string> => {
  const text = cleanReply(reply)
  const pieces = jsonList(text) ?? text.split(/\n+/).flatMap((line) => line.split(/(?<=[?？])\s+(?=\S)/))
  return distinct(pieces.map(tidy).filter((q) => !/^(?:questions?|问题)\s*[:：]?$/i.test(q)), n, 500)
}

// ---------------------------------------------------------------------------------------------
// Fitting a chunk into the model's context window

/** The answer's room: a few tokens per keyword, more per question. */
const answerRoom = (kind: "keywords" | "questions", n: number) => (kind === "keywords" ? 32 + 16 * n : 32 + 64 * n)

/** The start of `content` that counts at most `budget` tokens (`tokens` is its whole count). */
export const fitContent = (content: string, tokens: number, budget: number, countTokens: (text: string) => number) => {
  if (tokens <= budget) return content
  let cut = Math.floor((content.length * budget) / Math.max(1, tokens))
  const slice = (end: number) => {
    // Never split a surrogate pair.
    const code = content.charCodeAt(end - 1)
    return content.slice(0, code >= 0xd800 && code <= 0xdbff ? end - 1 : end)
  }
  let text = slice(cut)
  while (cut > 0 && countTokens(text) > budget) {
    cut = Math.floor(cut * 0.9)
    text = slice(cut)
  }
  return text
}

// ---------------------------------------------------------------------------------------------
// Generating

export interface GenerateOptions<E> {
  readonly settings: Settings
  /** The tenant's default chat model (`name@provider`), "" when it has none. */
  readonly llmId: string
  readonly models: ModelsService
  /** Whom the model is resolved for (the document's tenant). */
  readonly caller: Caller
  /** Chat model calls at once. */
  readonly concurrency: number
  readonly countTokens: (text: string) => number
  readonly progressEveryMs: number
  /** Receives the share of chunks done (0..1) and a progress line. */
  readonly report: (done: number, line: string) => Effect.Effect<unknown, E>
}

export interface ChunkText {
  readonly content: string
  /** Its token count. */
  readonly token_num: number
}

const what = (settings: Settings) =>
  settings.keywords > 0 && settings.questions > 0 ? "keywords and questions" : settings.keywords > 0 ? "keywords" : "questions"

/** The tenant's chat model, or why there is none to use. */
const chatModelFor = <E>(options: GenerateOptions<E>) => {
  const { llmId, settings } = options
  const asked = [
    ...(settings.keywords > 0 ? [`auto_keywords: ${settings.keywords}`] : []),
    ...(settings.questions > 0 ? [`auto_questions: ${settings.questions}`] : [])
  ].join(", ")
  if (llmId === "") {
    return Effect.fail(
      new ModelError({
        reason: "NotConfigured",
        model: "",
        message: `The parser configuration asks for ${what(settings)} from a chat model (${asked}), but the tenant has no default chat model: set one (llm_id in the tenant's default models), or set auto_keywords and auto_questions to 0.`
      })
    )
  }
  const cannot = (reason: string) => `The default chat model ${llmId} can't generate ${what(settings)} (${asked}): ${reason}`
  return options.models.chatModel(options.caller, llmId).pipe(
    Effect.mapError((error) => (error._tag === "ModelError" ? new ModelError({ ...error, message: cannot(error.message) }) : error)),
    // A model that only quotes its sources (the built-in extractive answerer) would store its
    // disclaimer as every chunk's keywords: refuse it with the way out.
    Effect.filterOrFail(
      (model) => model.generative,
      () =>
        new ModelError({
          reason: "NotConfigured",
          model: llmId,
          message: cannot("it quotes sources and writes nothing new; set a language model as the tenant's default chat model, or set auto_keywords and auto_questions to 0.")
        })
    )
  )
}

/** RAGFlow asks for these at temperature 0.2: focused, nearly repeatable. */
const answerSettings: ChatSettings = { temperature: 0.2 }

/**
 * Asks the tenant's chat model for each chunk's keywords and questions; the result is in the order
 * of `chunks`. Fails with the model's `ModelError` (its message prefixed with what was being done).
 */
export const generate = <E>(options: GenerateOptions<E>, chunks: ReadonlyArray<ChunkText>) =>
  Effect.gen(function* () {
    const { settings } = options
    const model: ChatModelService = yield* chatModelFor(options)
    const total = chunks.length
    yield* options.report(0, `Generating ${what(settings)} for ${total} chunks with ${model.modelId}.`)

    const kinds = (["keywords", "questions"] as const)
      .filter((kind) => settings[kind] > 0)
      .map((kind) => {
        const n = settings[kind]
        const system = kind === "keywords" ? keywordInstructions(n) : questionInstructions(n)
        // The instructions, the answer's room and a little for the messages' framing.
        const budget = Math.max(64, model.contextTokens - options.countTokens(system) - answerRoom(kind, n) - 16)
        return { kind, n, system, budget, parse: kind === "keywords" ? parseKeywords : parseQuestions }
      })

    const ask = (kind: (typeof kinds)[number], chunk: ChunkText) => {
      const messages: ReadonlyArray<ChatMessage> = [
        { role: "system", content: kind.system },
        { role: "user", content: passageMessage(fitContent(chunk.content, chunk.token_num, kind.budget, options.countTokens)) }
      ]
      return model.generate(messages, answerSettings).pipe(
        Effect.map((answer) => kind.parse(answer.text, kind.n)),
        Effect.mapError((error) => new ModelError({ ...error, message: `Generating ${kind.kind} with ${model.modelId} failed: ${error.message}` }))
      )
    }

    const enrich = (chunk: ChunkText) =>
      Effect.gen(function* () {
        const found: { important_keywords: ReadonlyArray<string>; questions: ReadonlyArray<string> } = { important_keywords: [], questions: [] }
        if (chunk.content.trim() === "") return found
        for (const kind of kinds) {
          const items = yield* ask(kind, chunk)
          if (kind.kind === "keywords") found.important_keywords = items
          else found.questions = items
        }
        return found
      })

    // Reports one at a time, so that the last line ("300/300") is written last.
    const lock = yield* Effect.makeSemaphore(1)
    let done = 0
    let reportedAt = yield* Clock.currentTimeMillis
    const progressed = lock.withPermits(1)(
      Effect.gen(function* () {
        done++
        const now = yield* Clock.currentTimeMillis
        if (done < total && now - reportedAt < options.progressEveryMs) return
        reportedAt = now
        yield* options.report(done / total, `Generated ${what(settings)} for ${done}/${total} chunks.`)
      })
    )

    return yield* Effect.forEach(chunks, (chunk) => Effect.tap(enrich(chunk), () => progressed), {
      concurrency: Math.max(1, options.concurrency)
    })
  }).pipe(Effect.withSpan("Ingestion.enrichChunks", { attributes: { chunks: chunks.length } }))
