/**
 * The conformance suite every `Embedder` implementation runs:
 *
 *   EmbedderSuite("hash", HashEmbedder.layer(), { normalized: true })
 *
 * The layer is built once for the suite. Tests run on the live clock (`excludeTestServices`), so
 * embedders that call a server may use timeouts and retry schedules.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Cause, Effect, Exit, Option } from "effect"
import type { Layer } from "effect"
import type { ModelError } from "../domain/Errors.js"
import { Embedder } from "../ports/Embedder.js"
import type { Vector } from "../ports/Embedder.js"

export interface EmbedderSuiteOptions {
  /**
   * Distinct texts with words in them (at least two, and the model must give the first two
   * different vectors), embedded by most tests. The defaults are short English sentences.
   */
  readonly sampleTexts?: ReadonlyArray<string>
  /** The model returns unit vectors: check that every norm is 1 (within 1e-4). */
  readonly normalized?: boolean
  /** Milliseconds for building the layer and for each test (120 000 by default). */
  readonly timeout?: number
}

const defaultSampleTexts: ReadonlyArray<string> = [
  "The cat sat on the mat.",
  "Retrieval-augmented generation grounds answers in documents.",
  "Postgres stores the chunks and their vectors.",
  "A quick brown fox jumps over the lazy dog."
]

/** Texts that are not plain words: each must give a vector or a typed `ModelError`. */
const unusualTexts: ReadonlyArray<string> = [
  "检索增强生成把检索和生成结合在一起。",
  "Rocket launch 🚀🎉 today",
  "👨‍👩‍👧‍👦🏳️‍🌈",
  "",
  "   \n\t  "
]

/** About 20 000 characters of varied words. */
const longText = (): string => {
  const words = ["alpha", "vector", "index", "chunk", "retrieval", "database", "answer", "知识", "model", "query"]
  const out: Array<string> = []
  let length = 0
  for (let i = 0; length < 20_000; i++) {
    const word = `${words[i % words.length]}${i % 97}`
    out.push(word)
    length += word.length + 1
  }
  return out.join(" ").slice(0, 20_000)
}

const maxAbsDiff = (a: Vector, b: Vector): number => {
  expect(a.length).toBe(b.length)
  return a.reduce((max, x, i) => Math.max(max, Math.abs(x - b[i]!)), 0)
}

const norm = (v: Vector): number => Math.sqrt(v.reduce((sum, x) => sum + x * x, 0))

const expectVector = (vector: Vector | undefined, dimensions: number, what: string): void => {
  expect(vector, `${what}: a vector`).toBeDefined()
  expect(vector!.length, `${what}: dimension`).toBe(dimensions)
  expect(vector!.every((x) => typeof x === "number" && Number.isFinite(x)), `${what}: finite numbers`).toBe(true)
}

/** A success checked by `onSuccess`, or a failure whose cause is a `ModelError` (no defect). */
const expectVectorOrModelError = <A>(exit: Exit.Exit<A, ModelError>, what: string, onSuccess: (a: A) => void) =>
  Exit.match(exit, {
    onSuccess,
    onFailure: (cause) => {
      expect(Cause.isDie(cause), `${what}: a defect\n${Cause.pretty(cause)}`).toBe(false)
      const error = Cause.failureOption(cause)
      expect(Option.isSome(error), `${what}: a typed failure\n${Cause.pretty(cause)}`).toBe(true)
      expect(Option.getOrThrow(error)._tag).toBe("ModelError")
    }
  })

export const EmbedderSuite = <E>(
  name: string,
  embedderLayer: Layer.Layer<Embedder, E>,
  options: EmbedderSuiteOptions = {}
) =>
  describe(`Embedder conformance: ${name}`, () => {
    const samples = options.sampleTexts ?? defaultSampleTexts
    const timeout = options.timeout ?? 120_000
    layer(embedderLayer, { timeout, excludeTestServices: true })((it) => {
      it.effect("has a positive dimension, and every vector has that many finite numbers", () =>
        Effect.gen(function*() {
          const embedder = yield* Embedder
          expect(Number.isInteger(embedder.dimensions)).toBe(true)
          expect(embedder.dimensions).toBeGreaterThan(0)
          expect(embedder.modelId.length).toBeGreaterThan(0)
          const vectors = yield* embedder.embedDocuments(samples)
          expect(vectors).toHaveLength(samples.length)
          vectors.forEach((vector, i) => expectVector(vector, embedder.dimensions, `document ${i}`))
        }), timeout)

      it.effect("distinct texts give distinct vectors, and the same text the same vector", () =>
        Effect.gen(function*() {
          const embedder = yield* Embedder
          const [first, second] = samples
          const [a, b, aAgain] = yield* embedder.embedDocuments([first!, second!, first!])
          expect(maxAbsDiff(a!, b!), "distinct texts").toBeGreaterThan(1e-4)
          expect(maxAbsDiff(a!, aAgain!), "the same text twice in a batch").toBeLessThanOrEqual(1e-6)
          const [a2, b2, aAgain2] = yield* embedder.embedDocuments([first!, second!, first!])
          expect(maxAbsDiff(a!, a2!), "the same call twice").toBeLessThanOrEqual(1e-6)
          expect(maxAbsDiff(b!, b2!), "the same call twice").toBeLessThanOrEqual(1e-6)
          expect(maxAbsDiff(aAgain!, aAgain2!), "the same call twice").toBeLessThanOrEqual(1e-6)
          const query = yield* embedder.embedQuery(first!)
          const queryAgain = yield* embedder.embedQuery(first!)
          expect(maxAbsDiff(query, queryAgain)).toBeLessThanOrEqual(1e-6)
        }), timeout)

      it.effect("a batch gives one vector per text, in order, as if each text were embedded alone", () =>
        Effect.gen(function*() {
          const embedder = yield* Embedder
          const batch = yield* embedder.embedDocuments(samples)
          expect(batch).toHaveLength(samples.length)
          const alone = yield* Effect.forEach(samples, (text) => embedder.embedDocuments([text]))
          alone.forEach((vectors, i) => {
            expect(vectors).toHaveLength(1)
            expect(maxAbsDiff(batch[i]!, vectors[0]!), `text ${i} batched vs alone`).toBeLessThanOrEqual(1e-4)
          })
          const reversed = yield* embedder.embedDocuments([...samples].reverse())
          expect(reversed).toHaveLength(samples.length)
          reversed.forEach((vector, i) =>
            expect(maxAbsDiff(vector, batch[samples.length - 1 - i]!), `reversed text ${i}`).toBeLessThanOrEqual(1e-4)
          )
        }), timeout)

      it.effect("an empty list gives an empty list", () =>
        Effect.gen(function*() {
          const embedder = yield* Embedder
          expect(yield* embedder.embedDocuments([])).toEqual([])
        }), timeout)

      it.effect("embedQuery gives a vector of the same dimension", () =>
        Effect.gen(function*() {
          const embedder = yield* Embedder
          for (const [i, text] of samples.entries()) {
            expectVector(yield* embedder.embedQuery(text), embedder.dimensions, `query ${i}`)
          }
        }), timeout)

      it.effect("unicode, emoji and empty texts give a vector or a typed ModelError, never a defect", () =>
        Effect.gen(function*() {
          const embedder = yield* Embedder
          for (const text of unusualTexts) {
            const what = JSON.stringify(text)
            const documents = yield* Effect.exit(embedder.embedDocuments([text]))
            expectVectorOrModelError(documents, `embedDocuments(${what})`, (vectors) => {
              expect(vectors).toHaveLength(1)
              expectVector(vectors[0], embedder.dimensions, `embedDocuments(${what})`)
            })
            const query = yield* Effect.exit(embedder.embedQuery(text))
            expectVectorOrModelError(query, `embedQuery(${what})`, (vector) =>
              expectVector(vector, embedder.dimensions, `embedQuery(${what})`))
          }
        }), timeout)

      it.effect("a text of 20 000 characters gives a vector or a typed ModelError, never a defect", () =>
        Effect.gen(function*() {
          const embedder = yield* Embedder
          const text = longText()
          expect(text.length).toBe(20_000)
          const documents = yield* Effect.exit(embedder.embedDocuments([samples[0]!, text]))
          expectVectorOrModelError(documents, "embedDocuments(long text)", (vectors) => {
            expect(vectors).toHaveLength(2)
            expectVector(vectors[1], embedder.dimensions, "embedDocuments(long text)")
          })
          const query = yield* Effect.exit(embedder.embedQuery(text))
          expectVectorOrModelError(query, "embedQuery(long text)", (vector) =>
            expectVector(vector, embedder.dimensions, "embedQuery(long text)"))
        }), timeout)

      if (options.normalized === true) {
        it.effect("vectors are normalised (norm 1 within 1e-4)", () =>
          Effect.gen(function*() {
            const embedder = yield* Embedder
            const documents = yield* embedder.embedDocuments(samples)
            documents.forEach((vector, i) => expect(Math.abs(norm(vector) - 1), `document ${i}`).toBeLessThanOrEqual(1e-4))
            for (const [i, text] of samples.entries()) {
              const query = yield* embedder.embedQuery(text)
              expect(Math.abs(norm(query) - 1), `query ${i}`).toBeLessThanOrEqual(1e-4)
            }
          }), timeout)
      }
    })
  })
