/**
 * The conformance suite every chunk method package runs against its `ChunkMethodRegistry`, with
 * parsed documents and what their chunks must hold:
 *
 *   ChunkMethodSuite("naive", ChunkMethodRegistry.layer([Naive]), [
 *     { method: "naive", document, config: { chunk_token_num: 64 }, expect: { contains: ["First sentence."] } }
 *   ])
 *
 * The layer is built once for the suite.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Cause, Effect, Exit, Option } from "effect"
import type { Layer } from "effect"
import { ChunkMethodRegistry } from "../ports/ChunkMethod.js"
import type { DraftChunk } from "../ports/ChunkMethod.js"
import type { ParsedDocument } from "../ports/Parser.js"

/** Texts that must each appear within one chunk's content (whitespace runs count as one space). */
export interface ChunkContains {
  readonly contains: ReadonlyArray<string>
}

/** What a case's chunks must hold: texts they contain, or a function asserting (and maybe returning texts). */
export type ChunkExpectation =
  | ChunkContains
  | ((chunks: ReadonlyArray<DraftChunk>) => void | ChunkContains)

export interface ChunkMethodCase {
  /** The chunk method id (`parser_id`). */
  readonly method: string
  readonly document: ParsedDocument
  /** The `parser_config`; `{}` by default. */
  readonly config?: Readonly<Record<string, unknown>>
  /** The document name passed to the method; `document.txt` by default. */
  readonly docName?: string
  /** A name for the test; the method id by default. */
  readonly name?: string
  readonly expect: ChunkExpectation
}

export interface ChunkMethodSuiteOptions {
  /** Milliseconds for building the layer and for each test (120 000 by default). */
  readonly timeout?: number
}

const normalise = (text: string) => text.replace(/\s+/gu, " ").trim()

const unknownMethodId = "ragkit-suite-unknown-method"

/** Documents with nothing to chunk. */
const emptyDocuments: ReadonlyArray<{ readonly what: string; readonly document: ParsedDocument }> = [
  { what: "no sections", document: { sections: [] } },
  { what: "blank sections", document: { sections: [{ text: "", kind: "text" }, { text: " \n\t ", kind: "text" }] } }
]

const expectWellFormed = (chunks: ReadonlyArray<DraftChunk>, what: string): void => {
  chunks.forEach((chunk, i) => {
    const at = `${what}, chunk ${i}`
    expect(typeof chunk.content, `${at}: content`).toBe("string")
    expect(chunk.content.trim().length, `${at}: blank content ${JSON.stringify(chunk.content)}`).toBeGreaterThan(0)
    expect(Array.isArray(chunk.page_num), `${at}: page_num`).toBe(true)
    expect(chunk.page_num.every((page) => Number.isInteger(page) && page >= 1), `${at}: pages ${chunk.page_num}`).toBe(true)
    expect(Array.isArray(chunk.positions), `${at}: positions`).toBe(true)
  })
}

const expectContains = (chunks: ReadonlyArray<DraftChunk>, contains: ReadonlyArray<string>): void => {
  const contents = chunks.map((chunk) => normalise(chunk.content))
  for (const text of contains) {
    expect(contents.some((content) => content.includes(normalise(text))), `${JSON.stringify(text)} in ${JSON.stringify(contents)}`)
      .toBe(true)
  }
}

export const ChunkMethodSuite = <E>(
  name: string,
  registryLayer: Layer.Layer<ChunkMethodRegistry, E>,
  cases: ReadonlyArray<ChunkMethodCase>,
  options: ChunkMethodSuiteOptions = {}
) =>
  describe(`ChunkMethod conformance: ${name}`, () => {
    const timeout = options.timeout ?? 120_000
    const methods = [...new Set(cases.map((c) => c.method))]
    const chunk = (c: ChunkMethodCase, config: Readonly<Record<string, unknown>>, document = c.document) =>
      Effect.flatMap(ChunkMethodRegistry, (registry) =>
        Effect.flatMap(registry.require(c.method), (method) =>
          method.chunk(document, config, { docName: c.docName ?? "document.txt" })))

    layer(registryLayer, { timeout })((it) => {
      for (const c of cases) {
        const label = c.name ?? c.method
        it.effect(`${label}: chunks are non-blank and hold the expected texts`, () =>
          Effect.gen(function*() {
            const chunks = yield* chunk(c, c.config ?? {})
            expect(chunks.length, "at least one chunk").toBeGreaterThan(0)
            expectWellFormed(chunks, label)
            const returned = typeof c.expect === "function" ? c.expect(chunks) : c.expect
            if (returned !== undefined) expectContains(chunks, returned.contains)
          }), timeout)

        it.effect(`${label}: unknown config keys are ignored`, () =>
          Effect.gen(function*() {
            const plain = yield* chunk(c, c.config ?? {})
            const extra = yield* chunk(c, {
              ...c.config,
              ragkit_suite_unknown_key: { nested: [1, "two", null] },
              ragkit_suite_unknown_flag: true
            })
            expect(extra.map((x) => x.content)).toEqual(plain.map((x) => x.content))
          }), timeout)
      }

      it.effect("an empty document gives no chunks or ParseError Empty, never a defect", () =>
        Effect.gen(function*() {
          for (const c of cases) {
            for (const { document, what } of emptyDocuments) {
              const at = `${c.name ?? c.method} with ${what}`
              const exit = yield* Effect.exit(chunk(c, c.config ?? {}, document))
              Exit.match(exit, {
                onSuccess: (chunks) => expect(chunks, at).toEqual([]),
                onFailure: (cause) => {
                  expect(Cause.isDie(cause), `${at}: a defect\n${Cause.pretty(cause)}`).toBe(false)
                  const error = Cause.failureOption(cause)
                  expect(Option.map(error, (e) => [e._tag, e.reason]), `${at}\n${Cause.pretty(cause)}`)
                    .toEqual(Option.some(["ParseError", "Empty"]))
                }
              })
            }
          }
        }), timeout)

      it.effect("the registry finds each method by id, and no method for an unknown id", () =>
        Effect.gen(function*() {
          const registry = yield* ChunkMethodRegistry
          for (const id of methods) {
            expect(registry.ids).toContain(id)
            expect(Option.map(registry.get(id), (m) => m.id)).toEqual(Option.some(id))
            expect(registry.methods.map((m) => m.id)).toContain(id)
            expect((yield* registry.require(id)).id).toBe(id)
          }
          expect(registry.ids).not.toContain(unknownMethodId)
          expect(Option.isNone(registry.get(unknownMethodId))).toBe(true)
          const exit = yield* Effect.exit(registry.require(unknownMethodId))
          expect(Exit.isFailure(exit)).toBe(true)
          if (Exit.isFailure(exit)) {
            expect(Cause.isDie(exit.cause), Cause.pretty(exit.cause)).toBe(false)
            expect(Option.map(Cause.failureOption(exit.cause), (e) => [e._tag, e.reason]))
              .toEqual(Option.some(["ParseError", "Unsupported"]))
          }
        }), timeout)
    })
  })
