import { expect } from "@effect/vitest"
import type { Parser, ParseError } from "@ragkit/core"
import { Cause, Effect, Exit, Option } from "effect"
import type { CorpusFile } from "@ragkit/fixtures/corpus"

export const parse = (
  parser: Parser.Parser,
  file: CorpusFile,
  options?: Readonly<Record<string, unknown>>
): Effect.Effect<Parser.ParsedDocument, ParseError> =>
  parser.parse({ bytes: file.bytes, fileName: file.fileName, ...(options === undefined ? {} : { options }) })

/** Runs the parse and returns its `ParseError`; fails the test on success or on a defect. */
export const parseError = (
  parser: Parser.Parser,
  file: CorpusFile,
  options?: Readonly<Record<string, unknown>>
): Effect.Effect<ParseError> =>
  Effect.map(Effect.exit(parse(parser, file, options)), (exit) => {
    if (Exit.isSuccess(exit)) return expect.fail(`${file.fileName}: expected a ParseError, got ${JSON.stringify(exit.value.sections)}`)
    expect(Cause.isDie(exit.cause), Cause.pretty(exit.cause)).toBe(false)
    const error = Cause.failureOption(exit.cause)
    if (Option.isNone(error)) return expect.fail(Cause.pretty(exit.cause))
    return error.value
  })

export const sectionsOf = (doc: Parser.ParsedDocument, kind: Parser.SectionKind) =>
  doc.sections.filter((section) => section.kind === kind)

/** The section of that kind whose text contains the sentence. */
export const findSection = (doc: Parser.ParsedDocument, kind: Parser.SectionKind, sentence: string) => {
  const found = doc.sections.find((section) => section.kind === kind && section.text.replace(/\s+/g, " ").includes(sentence))
  expect(found, `${kind} section with ${JSON.stringify(sentence)} in ${JSON.stringify(doc.sections.map((s) => [s.kind, s.text]))}`)
    .toBeDefined()
  return found!
}

export const emptyFile = (fileName: string): CorpusFile => ({ fileName, bytes: new Uint8Array(0) })
