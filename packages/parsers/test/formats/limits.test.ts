/**
 * A document's options (its `parser_config`, which a tenant writes) never move a parser's safety
 * limit, up or down: the limits are the ones the parser was built with (issue 11, defect 1). The
 * e-mail nesting depth is checked in `eml.test.ts`.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Corpus from "@ragkit/fixtures/corpus"
import { Effect } from "effect"
import { CsvParser, makeCsvParser } from "../../src/formats/CsvParser.js"
import { DocxParser, makeDocxParser } from "../../src/formats/DocxParser.js"
import { XlsxParser } from "../../src/formats/XlsxParser.js"
import * as ParserLimits from "../../src/ParserLimits.js"
import { parse, parseError } from "./helpers.js"

describe("limits in a document's options", () => {
  it.effect("cell and archive limits in the options are not read: the parser's own hold", () =>
    Effect.gen(function*() {
      expect((yield* parse(CsvParser, Corpus.csv, { maxCells: 5 })).sections).toHaveLength(1)
      expect((yield* parse(XlsxParser, yield* Effect.promise(Corpus.xlsx), { maxCells: 4 })).sections.length).toBeGreaterThan(0)
      const docx = yield* Effect.promise(Corpus.docx)
      expect((yield* parse(DocxParser, docx, { zipMaxEntries: 3, zipMaxTotalBytes: 1000, zipMaxEntryBytes: 10 })).sections.length)
        .toBeGreaterThan(0)
      // Built with low limits, the options cannot raise them.
      const csv = makeCsvParser(ParserLimits.make({ maxCells: 5 }))
      expect((yield* parseError(csv, Corpus.csv, { maxCells: 1e12 })).reason).toBe("TooLarge")
      const small = makeDocxParser(ParserLimits.make({ zipMaxTotalBytes: 1000 }))
      expect((yield* parseError(small, docx, { zipMaxTotalBytes: 4e9, zipMaxEntryBytes: 2e9 })).reason).toBe("TooLarge")
    }))
})
