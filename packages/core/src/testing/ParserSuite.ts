/**
 * The conformance suite every parser package runs against its `ParserRegistry`, with sample files
 * of the formats it parses:
 *
 *   ParserSuite("text", ParserRegistry.layer([TextParser]), [
 *     { fileName: "notes.txt", bytes: utf8("First paragraph.\n\nSecond one."), expectText: ["Second one."] }
 *   ])
 *
 * The layer is built once for the suite.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Cause, Effect, Exit, Option } from "effect"
import type { Layer } from "effect"
import type { ParseError } from "../domain/Errors.js"
import { ParserRegistry } from "../ports/Parser.js"
import type { ParsedDocument, SectionKind } from "../ports/Parser.js"

export interface ParserSample {
  readonly fileName: string
  readonly bytes: Uint8Array
  readonly mimeType?: string
  /** Sentences that must each appear within one section's text (whitespace runs count as one space). */
  readonly expectText: ReadonlyArray<string>
  /** The file's page count: every section then carries a page in 1..n, and page n is among them. */
  readonly expectPages?: number
  /** Section kinds the parse must contain (`["table"]` for a spreadsheet, say). */
  readonly expectKinds?: ReadonlyArray<SectionKind>
}

export interface ParserSuiteOptions {
  /** Milliseconds for building the layer and for each test (120 000 by default). */
  readonly timeout?: number
}

const sectionKinds: ReadonlyArray<SectionKind> = ["text", "title", "table", "image", "list", "code"]

const normalise = (text: string) => text.replace(/\s+/gu, " ").trim()

/** Bytes that are no valid file of any format: a NUL, then a fixed pseudo-random run. */
const garbage = (): Uint8Array => {
  const bytes = new Uint8Array(4096)
  let state = 0x2545f491
  for (let i = 0; i < bytes.length; i++) {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    bytes[i] = state & 0xff
  }
  bytes.set([0x00, 0xde, 0xad, 0xbe, 0xef, 0x00], 0)
  return bytes
}

/** Checks every section of a parse: kind, text, page, level and table. */
const expectWellFormed = (doc: ParsedDocument, what: string): void => {
  expect(Array.isArray(doc.sections), `${what}: sections`).toBe(true)
  doc.sections.forEach((section, i) => {
    const at = `${what}, section ${i}`
    expect(sectionKinds, `${at}: kind ${section.kind}`).toContain(section.kind)
    expect(typeof section.text, `${at}: text`).toBe("string")
    if (section.page !== undefined) {
      expect(Number.isInteger(section.page) && section.page >= 1, `${at}: page ${section.page}`).toBe(true)
    }
    if (section.level !== undefined) {
      expect(Number.isInteger(section.level) && section.level >= 1, `${at}: level ${section.level}`).toBe(true)
    }
    if (section.kind === "table") {
      expect(section.table, `${at}: a table section carries its table`).toBeDefined()
      expect(Array.isArray(section.table!.rows), `${at}: table rows`).toBe(true)
      for (const row of section.table!.rows) {
        expect(Array.isArray(row) && row.every((cell) => typeof cell === "string"), `${at}: table row`).toBe(true)
      }
    }
  })
}

/** The exit is a failure whose cause is a `ParseError` (no defect); returns that error. */
const expectParseError = <A>(exit: Exit.Exit<A, ParseError>, what: string): ParseError => {
  if (Exit.isSuccess(exit)) return expect.fail(`${what}: expected a ParseError, but it succeeded`)
  expect(Cause.isDie(exit.cause), `${what}: a defect\n${Cause.pretty(exit.cause)}`).toBe(false)
  const error = Cause.failureOption(exit.cause)
  if (Option.isNone(error)) return expect.fail(`${what}: not a typed failure\n${Cause.pretty(exit.cause)}`)
  expect(error.value._tag, what).toBe("ParseError")
  return error.value
}

export const ParserSuite = <E>(
  name: string,
  registryLayer: Layer.Layer<ParserRegistry, E>,
  samples: ReadonlyArray<ParserSample>,
  options: ParserSuiteOptions = {}
) =>
  describe(`Parser conformance: ${name}`, () => {
    const timeout = options.timeout ?? 120_000
    layer(registryLayer, { timeout })((it) => {
      for (const sample of samples) {
        it.effect(`parses ${sample.fileName}: the expected text, in well-formed sections`, () =>
          Effect.gen(function*() {
            const registry = yield* ParserRegistry
            expect(Option.isSome(registry.forFile(sample.fileName, sample.mimeType)), "a parser for the file").toBe(true)
            const doc = yield* registry.parse({
              bytes: sample.bytes,
              fileName: sample.fileName,
              ...(sample.mimeType === undefined ? {} : { mimeType: sample.mimeType })
            })
            expect(doc.sections.length).toBeGreaterThan(0)
            expectWellFormed(doc, sample.fileName)
            const texts = doc.sections.map((section) => normalise(section.text))
            for (const sentence of sample.expectText) {
              expect(texts.some((text) => text.includes(normalise(sentence))), `${JSON.stringify(sentence)} in ${JSON.stringify(texts)}`)
                .toBe(true)
            }
            if (sample.expectPages !== undefined) {
              const pages = doc.sections.map((section) => section.page)
              expect(pages.every((page) => page !== undefined && page <= sample.expectPages!), `pages ${pages}`).toBe(true)
              expect(Math.max(...pages.map((page) => page ?? 0)), "the last page").toBe(sample.expectPages)
            }
            for (const kind of sample.expectKinds ?? []) {
              expect(doc.sections.map((section) => section.kind)).toContain(kind)
            }
          }), timeout)
      }

      it.effect("an empty file fails with ParseError Empty", () =>
        Effect.gen(function*() {
          const registry = yield* ParserRegistry
          for (const sample of samples) {
            const fileName = `empty-${sample.fileName}`
            const exit = yield* Effect.exit(registry.parse({ bytes: new Uint8Array(0), fileName }))
            expect(expectParseError(exit, fileName).reason, fileName).toBe("Empty")
          }
        }), timeout)

      it.effect("a file no parser handles fails with ParseError Unsupported", () =>
        Effect.gen(function*() {
          const registry = yield* ParserRegistry
          const fileName = "data.ragkit-suite-unknown"
          expect(Option.isNone(registry.forFile(fileName))).toBe(true)
          const bytes = new TextEncoder().encode("some content")
          const exit = yield* Effect.exit(registry.parse({ bytes, fileName }))
          expect(expectParseError(exit, fileName).reason).toBe("Unsupported")
          const withMime = yield* Effect.exit(
            registry.parse({ bytes, fileName, mimeType: "application/x-ragkit-suite-unknown" })
          )
          expect(expectParseError(withMime, `${fileName} with an unknown MIME type`).reason).toBe("Unsupported")
        }), timeout)

      it.effect("garbage bytes under each sample's extension fail with a typed ParseError, never a defect", () =>
        Effect.gen(function*() {
          const registry = yield* ParserRegistry
          for (const sample of samples) {
            const fileName = `garbage-${sample.fileName}`
            const exit = yield* Effect.exit(registry.parse({ bytes: garbage(), fileName }))
            expectParseError(exit, fileName)
          }
        }), timeout)
    })
  })
