/**
 * `extractive@Builtin`: the chat model of a deployment with no language model. It answers a
 * grounded question (`ChatGrounding`: the question and the numbered passages retrieved for it) by
 * quoting the passages' sentences that best answer it, each cited `[ID:n]`, after a fixed sentence
 * saying that it quotes the sources because no language model is configured. It reads nothing but
 * the grounding, loads no model weights and downloads nothing: it answers as soon as it is asked.
 *
 * How it picks the sentences:
 * 1. every passage is split into sentences (English and Chinese; HTML tables as rows;
 *    `internal/sentences.ts`), and the question and each sentence into the index's own search
 *    tokens (`Tokenizer`: stemmed English, jieba-segmented Chinese, then the fine split), stop
 *    words and question words dropped; Chinese text also counts its single characters, at a third
 *    of a word's weight, so that `多长` still meets `全长`;
 * 2. each sentence is scored by BM25 (k1 1.2, b 0.75) of the question's terms, with the IDF taken
 *    over all the sentences of the passages, times `0.5 + 0.5 * coverage` (the share of the
 *    question's IDF mass it holds), so that a sentence with several of the question's words beats
 *    one that repeats one of them;
 * 3. a sentence's final score adds its passage's own relevance (the same measure over whole
 *    passages, title included, weight 0.35: a sentence that says "it" in the passage about the
 *    question's subject counts), the passage's rank (0.1 / (1 + rank): retrieval's order) and a
 *    little for being a passage's first sentence;
 * 4. the best sentence is taken, then up to `maxSentences - 1` more whose score is at least 60 % of
 *    it, that repeat no selected sentence (less than half of their terms shared) and that keep the
 *    quotes within `maxChars`;
 * 5. the quotes are grouped by passage, passages in the order of their best sentence, sentences in
 *    their order in the passage.
 * A question none of whose words is in any sentence gets the first sentence of the top passage,
 * after a sentence that says so. Without grounding (or with no passages) the answer says that
 * there are no sources to quote for the question (the last user message).
 *
 * The fixed sentences are in English, or in Chinese when the question is mostly Chinese. The
 * answer streams in pieces of a word (or up to four Chinese characters); a citation is one piece.
 * It reports no usage (it runs no model) and ignores the generation settings. It declares itself
 * not `generative`, so that callers don't ask it to rewrite a question or propose keywords.
 */
import { ChatModel, StopWords, Tokenizer } from "@ragkit/core"
import { Effect, Layer, Stream } from "effect"
import * as Sentences from "./internal/sentences.js"

export const modelName = "extractive"
/** The model reference tenants use, e.g. as a dialog's `llm_id`. */
export const modelId = "extractive@Builtin"
/**
 * The context window it declares: large, since it reads only the passages (the prompt is not
 * sent anywhere), so that a completion's budget keeps every retrieved passage.
 */
export const ContextTokens = 1_000_000

export type Language = "en" | "zh"

/** The answer's first sentence. */
export const Disclosure: Readonly<Record<Language, string>> = {
  en: "No language model is configured, so this answer quotes the sources.",
  zh: "未配置语言模型，以下回答直接引用资料原文。"
}

/** The whole answer when there are no passages to quote. */
export const NoSources: Readonly<Record<Language, string>> = {
  en: "No language model is configured, so questions are answered by quoting sources, and this question came with none.",
  zh: "未配置语言模型，只能通过引用资料回答问题，但这个问题没有可引用的资料。"
}

/** Said before the top passage's first sentence when no sentence shares a word with the question. */
export const NoMatch: Readonly<Record<Language, string>> = {
  en: "No sentence of the sources shares a word with the question; the most relevant source begins:",
  zh: "资料中没有与问题用词相同的句子；最相关的资料开头是："
}

export interface ExtractiveAnswererOptions {
  /** Sentences quoted at most; 3 by default. */
  readonly maxSentences?: number
  /** Characters of quotes at most (the best sentence is always quoted); 700 by default. */
  readonly maxChars?: number
  /** A longer sentence is cut at its clauses into pieces of at most this many characters; 350 by default. */
  readonly maxSentenceChars?: number
}

/** One quoted sentence. */
export interface Quote {
  /** The passage's `id`: the answer cites it `[ID:passageId]`. */
  readonly passageId: number
  /** The sentence's place in its passage. */
  readonly index: number
  readonly text: string
  readonly score: number
}

export interface Answer {
  readonly text: string
  /** The text in the pieces it streams in; they concatenate to `text`. */
  readonly pieces: ReadonlyArray<string>
  /** The quoted sentences, in the answer's order. */
  readonly quotes: ReadonlyArray<Quote>
  readonly language: Language
}

// ---------------------------------------------------------------------------------------------
// Terms

const QUESTION_WORDS_EN = "what which who whom whose when where why how many much does did do please tell".split(" ")
const QUESTION_WORDS_ZH = "哪 哪个 哪些 哪里 哪儿 哪年 几 多少 谁 为什么 为何 何时 何地 什么样 是否 是不是 呢 吗 请问 告诉".split(" ")
const STOP_CHARS_ZH = new Set(Array.from("的了和是就都而及与着或一个没有我们你们他们它们这那些什么怎么如何哪吗呢吧啊请在有也为以之其对被几多少谁"))

const HAN = /\p{Script=Han}/u
const HAN_G = /\p{Script=Han}/gu
/** A feature for one Chinese character (never a token: tokens have no NUL). */
const charFeature = (c: string) => `\u0000${c}`
const CHAR_WEIGHT = 1 / 3

interface Features {
  /** Feature -> count. Word features count towards `length`. */
  readonly counts: ReadonlyMap<string, number>
  readonly length: number
  /** The word features, for redundancy. */
  readonly words: ReadonlySet<string>
}

const weightOf = (feature: string) => (feature.charCodeAt(0) === 0 ? CHAR_WEIGHT : 1)

const makeFeatures = (tokenizer: Tokenizer.TokenizerService) => {
  // Built on the first answer: tokenizing the stop words loads the tokenizer's dictionaries.
  let stopWords: Set<string> | undefined
  const stopSet = (): Set<string> => {
    if (stopWords !== undefined) return stopWords
    const stop = new Set<string>()
    for (const word of [...StopWords.EnglishStopWords, ...QUESTION_WORDS_EN, ...StopWords.ChineseStopWords, ...QUESTION_WORDS_ZH]) {
      stop.add(word)
      for (const token of tokenizer.tokenize(word).split(" ")) if (token !== "") stop.add(token)
    }
    return (stopWords = stop)
  }
  return (text: string): Features => {
    const stop = stopSet()
    const counts = new Map<string, number>()
    const words = new Set<string>()
    let length = 0
    for (const token of tokenizer.fineTokenize(tokenizer.tokenize(text)).split(" ")) {
      if (token === "" || stop.has(token)) continue
      counts.set(token, (counts.get(token) ?? 0) + 1)
      words.add(token)
      length++
    }
    for (const c of text.match(HAN_G) ?? []) {
      if (STOP_CHARS_ZH.has(c)) continue
      const f = charFeature(c)
      counts.set(f, (counts.get(f) ?? 0) + 1)
    }
    return { counts, length, words }
  }
}

/** `zh` when the text is mostly Chinese (a Chinese character weighs as a word of three letters). */
export const languageOf = (text: string): Language => {
  const han = (text.match(HAN_G) ?? []).length
  const latin = (text.match(/[A-Za-z]/g) ?? []).length
  return han > 0 && han * 3 >= latin ? "zh" : "en"
}

// ---------------------------------------------------------------------------------------------
// Scoring

const K1 = 1.2
const B = 0.75

interface Relevance {
  /** Each question feature found in the documents, and its IDF (times the feature's weight). */
  readonly idf: ReadonlyMap<string, number>
  /** The sum of `idf`. */
  readonly mass: number
  /** Per document: BM25 of the question's features, and the features it holds. */
  readonly documents: ReadonlyArray<{ readonly bm25: number; readonly matched: ReadonlySet<string> }>
}

/** BM25 of the question's features in each document, the IDF over these documents. */
const relevance = (question: ReadonlySet<string>, documents: ReadonlyArray<Features>): Relevance => {
  const n = documents.length
  const avgLength = Math.max(1, documents.reduce((s, d) => s + d.length, 0) / Math.max(1, n))
  const idf = new Map<string, number>()
  for (const q of question) {
    const df = documents.reduce((s, d) => s + (d.counts.has(q) ? 1 : 0), 0)
    if (df > 0) idf.set(q, weightOf(q) * Math.log(1 + (n - df + 0.5) / (df + 0.5)))
  }
  const mass = [...idf.values()].reduce((s, x) => s + x, 0)
  return {
    idf,
    mass,
    documents: documents.map((d) => {
      let bm25 = 0
      const matched = new Set<string>()
      for (const [q, w] of idf) {
        const tf = d.counts.get(q) ?? 0
        if (tf === 0) continue
        bm25 += (w * tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * Math.max(1, d.length)) / avgLength))
        matched.add(q)
      }
      return { bm25, matched }
    })
  }
}

/** `bm25 + context` times `0.5 + 0.5 * coverage`, the context and its coverage counted at `CONTEXT_WEIGHT`. */
const combined = (r: Relevance, bm25: number, matched: ReadonlySet<string>, context: ReadonlySet<string>): number => {
  if (r.mass === 0) return 0
  const mass = (features: ReadonlySet<string>) => [...features].reduce((s, q) => s + (r.idf.get(q) ?? 0), 0)
  const contextMass = CONTEXT_WEIGHT * mass(context)
  return (bm25 + contextMass) * (0.5 + 0.5 * ((mass(matched) + contextMass) / r.mass))
}

/** How much the question's words in a sentence's context (not in the sentence) count. */
const CONTEXT_WEIGHT = 0.4

const jaccard = (a: ReadonlySet<string>, b: ReadonlySet<string>): number => {
  if (a.size === 0 && b.size === 0) return 1
  let shared = 0
  for (const x of a) if (b.has(x)) shared++
  return shared / (a.size + b.size - shared)
}

// ---------------------------------------------------------------------------------------------
// Writing

/** The pieces a text streams in: a word with its spaces, or up to four Chinese characters. */
export const piecesOf = (text: string): Array<string> => text.match(/\p{Script=Han}{1,4}|[^\s\p{Script=Han}]+\s*|\s+/gu) ?? []

const citation = (sentence: string, passageId: number): string =>
  `${/[\p{Script=Han}。！？；：，、）」』》”]$/u.test(sentence) ? "" : " "}[ID:${passageId}]`

const write = (language: Language, lead: ReadonlyArray<string>, quotes: ReadonlyArray<Quote>): Answer => {
  const pieces: Array<string> = []
  lead.forEach((sentence, i) => {
    if (i > 0) pieces.push(language === "zh" ? "" : " ")
    pieces.push(...piecesOf(sentence))
  })
  quotes.forEach((quote, i) => {
    const previous = quotes[i - 1]
    if (i === 0 || previous!.passageId !== quote.passageId) pieces.push("\n\n")
    else if (!(HAN.test(quote.text[0]!) && HAN.test(previous!.text.slice(-1)))) pieces.push(" ")
    pieces.push(...piecesOf(quote.text), citation(quote.text, quote.passageId))
  })
  const kept = pieces.filter((p) => p !== "")
  return { text: kept.join(""), pieces: kept, quotes, language }
}

// ---------------------------------------------------------------------------------------------
// The answerer

interface Unit {
  readonly passageId: number
  readonly rank: number
  readonly index: number
  readonly text: string
  readonly features: Features
}

/** The answer to `question` from `passages` (best first), or the no-sources answer without passages. */
export const answerWith = (tokenizer: Tokenizer.TokenizerService, options: ExtractiveAnswererOptions = {}) => {
  const maxSentences = Math.max(1, Math.floor(options.maxSentences ?? 3))
  const maxChars = Math.max(1, options.maxChars ?? 700)
  const maxSentenceChars = Math.max(40, options.maxSentenceChars ?? 350)
  const features = makeFeatures(tokenizer)

  return (question: string, passages: ReadonlyArray<ChatModel.ChatPassage>): Answer => {
    const language = languageOf(question)
    const units: Array<Unit> = passages.flatMap((passage, rank) =>
      Sentences.split(passage.content, maxSentenceChars).map((s) => ({
        passageId: passage.id,
        rank,
        index: s.index,
        text: s.text,
        features: features(s.text)
      }))
    )
    if (units.length === 0) return write(language, [NoSources[language]], [])

    const asked = new Set(features(question).counts.keys())
    const bySentence = relevance(asked, units.map((u) => u.features))
    const byPassage = relevance(asked, passages.map((p) => features(`${p.title}\n${p.content}`)))
    const titles = passages.map((p) => features(p.title).counts)
    // A sentence's context: its passage's title and first sentence, and the sentence before it
    // (what "it" and "he" refer to).
    const firstOf = new Map<number, Unit>()
    for (const unit of units) if (!firstOf.has(unit.rank)) firstOf.set(unit.rank, unit)
    const contextOf = (i: number): Set<string> => {
      const unit = units[i]!
      const around = [titles[unit.rank]!, firstOf.get(unit.rank)!.features.counts, ...(unit.index > 0 ? [units[i - 1]!.features.counts] : [])]
      const own = bySentence.documents[i]!.matched
      return new Set([...bySentence.idf.keys()].filter((q) => !own.has(q) && around.some((counts) => counts.has(q))))
    }
    const sentenceScores = units.map((_, i) => {
      const { bm25, matched } = bySentence.documents[i]!
      return bm25 > 0 ? combined(bySentence, bm25, matched, contextOf(i)) : 0
    })
    const passageScores = byPassage.documents.map(({ bm25, matched }) => combined(byPassage, bm25, matched, new Set()))
    const maxSentence = Math.max(...sentenceScores)
    if (maxSentence <= 0) {
      const first = units[0]!
      return write(language, [Disclosure[language], NoMatch[language]], [{ passageId: first.passageId, index: first.index, text: first.text, score: 0 }])
    }
    const maxPassage = Math.max(...passageScores)
    const scored = units
      .map((unit, i) => ({
        unit,
        relevant: sentenceScores[i]! > 0,
        score: sentenceScores[i]! / maxSentence +
          (maxPassage > 0 ? (0.35 * passageScores[unit.rank]!) / maxPassage : 0) +
          0.1 / (1 + unit.rank) +
          (unit.index === 0 ? 0.03 : 0)
      }))
      .filter((s) => s.relevant)
      // Best first; ties by rank, then place: the same passages always give the same answer.
      .sort((a, b) => b.score - a.score || a.unit.rank - b.unit.rank || a.unit.index - b.unit.index)

    const best = scored[0]!
    const chosen = [best]
    let chars = best.unit.text.length
    for (const candidate of scored.slice(1)) {
      if (chosen.length >= maxSentences) break
      if (candidate.score < 0.6 * best.score) break
      if (chars + candidate.unit.text.length > maxChars) continue
      if (chosen.some((c) => c.unit.text === candidate.unit.text || jaccard(c.unit.features.words, candidate.unit.features.words) >= 0.5)) continue
      chosen.push(candidate)
      chars += candidate.unit.text.length
    }
    const passageOrder = [...new Set(chosen.map((c) => c.unit.rank))]
    const quotes = chosen
      .sort((a, b) => passageOrder.indexOf(a.unit.rank) - passageOrder.indexOf(b.unit.rank) || a.unit.index - b.unit.index)
      .map(({ score, unit }) => ({ passageId: unit.passageId, index: unit.index, text: unit.text, score }))
    return write(language, [Disclosure[language]], quotes)
  }
}

/** The question of a call: the grounding's, else the last user message. */
const questionOf = (messages: ReadonlyArray<ChatModel.ChatMessage>, grounding: ChatModel.ChatGrounding | undefined): string =>
  grounding?.question ?? [...messages].reverse().find((m) => m.role === "user")?.content ?? messages[messages.length - 1]!.content

/** The chat model over a tokenizer (the engine's, so that it splits words as the index does). */
export const make = (tokenizer: Tokenizer.TokenizerService, options: ExtractiveAnswererOptions = {}): ChatModel.ChatModelService => {
  const answer = answerWith(tokenizer, options)
  return ChatModel.make({
    modelId,
    contextTokens: ContextTokens,
    // It quotes and writes nothing new: callers don't ask it to rewrite questions or propose keywords.
    generative: false,
    stream: (messages, _settings, grounding) =>
      Stream.suspend(() =>
        Stream.fromIterable(
          answer(questionOf(messages, grounding), grounding?.passages ?? []).pieces.map((text) => ChatModel.ChatDelta.Text({ text }))
        )
      )
  })
}

/** The `ChatModel` service on its own, over the `Tokenizer` in context. */
export const layer = (options: ExtractiveAnswererOptions = {}): Layer.Layer<ChatModel.ChatModel, never, Tokenizer.Tokenizer> =>
  Layer.effect(ChatModel.ChatModel, Effect.map(Tokenizer.Tokenizer, (tokenizer) => make(tokenizer, options)))
