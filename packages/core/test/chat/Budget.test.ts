import { describe, expect, layer } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as Budget from "../../src/chat/Budget.js"
import * as Prompt from "../../src/chat/Prompt.js"
import type { ChatMessage } from "../../src/ports/ChatModel.js"
import * as Tokenizer from "../../src/text/Tokenizer.js"

/** Deterministic filler text of about `words` words. */
const filler = (seed: number, words: number) =>
  Array.from({ length: words }, (_, i) => `w${(seed * 7919 + i * 104729) % 5003}`).join(" ")

/** 300 long chunks (about 300-700 tokens each), best first. */
const chunks = Array.from({ length: 300 }, (_, i) => Prompt.passage(i, `doc-${i}.txt`, `chunk ${i}: ${filler(i, 150 + (i % 5) * 50)}`))

/** 40 turns: a question and an answer each, oldest first. */
const history: ReadonlyArray<ChatMessage> = Array.from({ length: 40 }, (_, t) => [
  { role: "user" as const, content: `question ${t}: ${filler(1000 + t, 40)}` },
  { role: "assistant" as const, content: `answer ${t}: ${filler(2000 + t, 120)}` }
]).flat()

const question: ChatMessage = { role: "user", content: "What does chunk 0 say about w17?" }
const template = "You answer from the knowledge base.\n{knowledge}\nThe above is the knowledge base."
const system = (kept: ReadonlyArray<string>) => Prompt.systemPrompt(template, {}, Prompt.knowledge(kept)) + Prompt.citationGuidelines

describe("Budget", () => {
  layer(Tokenizer.layer)((it) => {
    it.effect("300 long chunks and 40 turns on a 4k model: within the window, the most relevant chunks and the newest turns kept", () =>
      Effect.gen(function* () {
        const tokenizer = yield* Tokenizer.Tokenizer
        const fitted = Either.getOrThrow(
          Budget.fit({ contextTokens: 4096, countTokens: tokenizer.countTokens, system, passages: chunks, history, question })
        )
        // Counted again from the messages sent: the prompt and the answer's reserve fit the window.
        const counted = Budget.promptTokens(tokenizer.countTokens, fitted.messages)
        expect(counted).toBe(fitted.promptTokens)
        expect(fitted.answerTokens).toBe(1024)
        expect(counted + fitted.answerTokens).toBeLessThanOrEqual(4096)
        expect(fitted.maxTokens).toBeUndefined()

        // The kept passages are the first (most relevant) ones, and no other passage is in the prompt.
        expect(fitted.passages).toBeGreaterThan(0)
        const sent = fitted.messages[0]!.content
        expect(sent).toBe(system(chunks.slice(0, fitted.passages)))
        for (let i = 0; i < fitted.passages; i++) expect(sent).toContain(`\nID: ${i}\n`)
        expect(sent).not.toContain(`\nID: ${fitted.passages}\n`)
        // Nearly all the room went to use: the next passage would not have fit.
        const withNext = Budget.promptTokens(tokenizer.countTokens, [
          { role: "system", content: system(chunks.slice(0, fitted.passages + 1)) },
          ...fitted.messages.slice(1)
        ])
        expect(withNext + fitted.answerTokens).toBeGreaterThan(4096)

        // The newest turns, starting with a question, then the question itself.
        expect(fitted.turns).toBeGreaterThan(0)
        expect(fitted.messages.slice(1, -1)).toEqual(history.slice(history.length - fitted.turns))
        expect(fitted.messages[1]!.role).toBe("user")
        expect(fitted.messages.at(-1)).toEqual(question)
      }))

    it.effect("never exceeds the window, whatever the window and max_tokens", () =>
      Effect.gen(function* () {
        const tokenizer = yield* Tokenizer.Tokenizer
        for (const contextTokens of [2048, 4096, 8192, 32_768]) {
          for (const maxTokens of [undefined, 256, 1000, 3000, 100_000]) {
            const fitted = Either.getOrThrow(
              Budget.fit({ contextTokens, maxTokens, countTokens: tokenizer.countTokens, system, passages: chunks, history, question })
            )
            const counted = Budget.promptTokens(tokenizer.countTokens, fitted.messages)
            expect(counted + fitted.answerTokens).toBeLessThanOrEqual(contextTokens)
            expect(fitted.answerTokens).toBe(
              maxTokens === undefined ? Math.min(contextTokens / 4, 4096) : Math.min(maxTokens, contextTokens / 2)
            )
            // max_tokens sent is lowered to what the window leaves.
            if (maxTokens !== undefined) expect(fitted.maxTokens).toBe(Math.min(maxTokens, contextTokens - counted))
            expect(fitted.messages.at(-1)).toEqual(question)
          }
        }
      }))

    it.effect("knowledge takes the room a short history leaves; a question too long for the window is refused", () =>
      Effect.gen(function* () {
        const tokenizer = yield* Tokenizer.Tokenizer
        const short = history.slice(-2)
        const fitted = Either.getOrThrow(
          Budget.fit({ contextTokens: 8192, countTokens: tokenizer.countTokens, system, passages: chunks, history: short, question })
        )
        expect(fitted.turns).toBe(2)
        const noHistory = Either.getOrThrow(
          Budget.fit({ contextTokens: 8192, countTokens: tokenizer.countTokens, system, passages: chunks, history: [], question })
        )
        expect(fitted.passages).toBeGreaterThanOrEqual(noHistory.passages - 1)

        const tooLong = Budget.fit({
          contextTokens: 4096,
          countTokens: tokenizer.countTokens,
          system,
          passages: chunks,
          history,
          question: { role: "user", content: filler(9, 4000) }
        })
        expect(Either.isLeft(tooLong) && tooLong.left).toMatchObject({ _tag: "TooLong", limit: 3072 })
      }))
  })
})
