/**
 * Fitting a grounded prompt into a model's context window.
 *
 * The window holds the prompt and the answer. The answer's reserve is the request's `max_tokens`
 * (at most half the window), or a quarter of the window (at most `DefaultAnswerTokens`) when none is
 * set; the prompt gets the rest. The system prompt without knowledge and the question must fit;
 * then the knowledge takes the most relevant passages (best first, stopping at the first that does
 * not fit) and the conversation's earlier turns the newest ones, oldest dropped first. Earlier
 * turns are promised up to `HistoryShare` of what is left after the fixed parts, so a long
 * conversation cannot push all the knowledge out; knowledge takes whatever the history does not
 * need, and the history whatever the knowledge leaves.
 *
 * Tokens are counted with the tokenizer's `countTokens` (tiktoken `cl100k_base`) plus
 * `MessageOverhead` per message and `PromptOverhead` per prompt, as chat formats add them. The
 * system prompt is counted as rendered, so the result never exceeds the window by this count.
 */
import { Either } from "effect"
import type { ChatMessage } from "../ports/ChatModel.js"

/** Tokens a chat format adds around each message (role and delimiters). */
export const MessageOverhead = 4
/** Tokens a chat format adds once per prompt (the reply's priming). */
export const PromptOverhead = 3
/** The answer's reserve when `max_tokens` is not set: a quarter of the window, at most this. */
export const DefaultAnswerTokens = 4096
/** The share of the room left after the fixed parts that earlier turns may count on. */
export const HistoryShare = 0.25

export interface BudgetInput {
  /** The model's context window. */
  readonly contextTokens: number
  /** The answer's `max_tokens`, when the settings give one. */
  readonly maxTokens?: number | undefined
  readonly countTokens: (text: string) => number
  /** The system prompt with this knowledge block (from the kept passages' texts). */
  readonly system: (passages: ReadonlyArray<string>) => string
  /** The formatted passages, most relevant first. */
  readonly passages: ReadonlyArray<string>
  /** Earlier turns, oldest first. */
  readonly history: ReadonlyArray<ChatMessage>
  /** The question: the last user message. */
  readonly question: ChatMessage
}

export interface Fitted {
  /** The messages to send: system, kept turns, question. */
  readonly messages: ReadonlyArray<ChatMessage>
  /** How many passages (a prefix of the input's) the system prompt holds. */
  readonly passages: number
  /** How many earlier turns were kept (the newest ones). */
  readonly turns: number
  /** The prompt's tokens, counted as above. */
  readonly promptTokens: number
  /** The answer's reserve. */
  readonly answerTokens: number
  /** `max_tokens` to send: the given one, lowered to what the window leaves; absent when none was given. */
  readonly maxTokens: number | undefined
}

/** The prompt cannot fit even without knowledge or history. */
export interface TooLong {
  readonly _tag: "TooLong"
  /** Tokens of the system prompt (without knowledge) and the question. */
  readonly needed: number
  /** Tokens the prompt may use. */
  readonly limit: number
}

/** The answer's reserve in a window of `contextTokens`. */
export const answerReserve = (contextTokens: number, maxTokens?: number): number =>
  maxTokens !== undefined
    ? Math.min(maxTokens, Math.floor(contextTokens / 2))
    : Math.min(Math.floor(contextTokens / 4), DefaultAnswerTokens)

/** Tokens of one message. */
export const messageTokens = (countTokens: (text: string) => number, message: ChatMessage): number =>
  countTokens(message.content) + MessageOverhead

export const fit = (input: BudgetInput): Either.Either<Fitted, TooLong> => {
  const count = (m: ChatMessage) => messageTokens(input.countTokens, m)
  const systemTokens = (kept: number) => count({ role: "system", content: input.system(input.passages.slice(0, kept)) })
  const answerTokens = answerReserve(input.contextTokens, input.maxTokens)
  const limit = input.contextTokens - answerTokens
  const fixed = systemTokens(0) + count(input.question) + PromptOverhead
  if (fixed > limit) return Either.left({ _tag: "TooLong", needed: fixed, limit })

  const room = limit - fixed
  const historyCosts = input.history.map(count)
  const historyTokens = historyCosts.reduce((a, b) => a + b, 0)
  const knowledgeRoom = room - Math.min(historyTokens, Math.floor(room * HistoryShare))

  // Passages by their own counts (the separators' share estimated), then checked as rendered.
  const base = systemTokens(0)
  let kept = 0
  let estimate = 0
  for (const text of input.passages) {
    const next = estimate + input.countTokens(text) + 4
    if (next > knowledgeRoom) break
    estimate = next
    kept++
  }
  let system = systemTokens(kept)
  while (kept > 0 && system - base > knowledgeRoom) system = systemTokens(--kept)

  // The newest turns that fit in what is left; a kept history starts with a user message.
  let left = limit - system - count(input.question) - PromptOverhead
  let from = input.history.length
  while (from > 0 && historyCosts[from - 1]! <= left) left -= historyCosts[--from]!
  while (from < input.history.length && input.history[from]!.role !== "user") left += historyCosts[from++]!

  const turns = input.history.slice(from)
  const messages: ReadonlyArray<ChatMessage> = [
    { role: "system", content: input.system(input.passages.slice(0, kept)) },
    ...turns,
    input.question
  ]
  const promptTokens = limit - left
  return Either.right({
    messages,
    passages: kept,
    turns: turns.length,
    promptTokens,
    answerTokens,
    maxTokens: input.maxTokens === undefined ? undefined : Math.min(input.maxTokens, input.contextTokens - promptTokens)
  })
}

/** The tokens of a prompt, counted as `fit` counts them. */
export const promptTokens = (countTokens: (text: string) => number, messages: ReadonlyArray<ChatMessage>): number =>
  messages.reduce((sum, m) => sum + messageTokens(countTokens, m), PromptOverhead)
