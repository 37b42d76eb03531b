import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { DocxParser, makeDocxParser } from "../../src/formats/DocxParser.js"
import { PptxParser } from "../../src/formats/PptxParser.js"
import { makeXlsxParser, XlsxParser } from "../../src/formats/XlsxParser.js"
import * as ParserLimits from "../../src/ParserLimits.js"
import * as Corpus from "@ragkit/fixtures/corpus"
import { emptyFile, findSection, parse, parseError, sectionsOf } from "./helpers.js"

describe("XlsxParser", () => {
  it.effect("one table per sheet after its name; dates ISO, formulas as results, rich text plain", () =>
    Effect.gen(function*() {
      const file = yield* Effect.promise(Corpus.xlsx)
      const doc = yield* parse(XlsxParser, file)
      expect(doc.sections.map((s) => s.kind)).toEqual(["title", "table", "title", "table"])
      expect(doc.sections[0]).toMatchObject({ kind: "title", text: "Sales" })
      expect(doc.sections[1]!.table!.rows).toEqual([
        ["Region", "Date", "Amount", "Double"],
        ["North", "2024-03-15", "100", "200"],
        ["South", "2024-06-01", "50.5", "101"]
      ])
      expect(doc.sections[1]!.text).toContain("<td>2024-03-15</td>")
      expect(doc.sections[2]!.text).toBe("Notes")
      expect(doc.sections[3]!.table!.rows).toEqual([["Rich text cell"]])
      expect(doc.metadata).toMatchObject({ sheets: ["Sales", "Notes"] })
    }))

  it.effect("the cell cap, a non-zip file and an empty file", () =>
    Effect.gen(function*() {
      const file = yield* Effect.promise(Corpus.xlsx)
      expect((yield* parseError(makeXlsxParser(ParserLimits.make({ maxCells: 4 })), file)).reason).toBe("TooLarge")
      const notZip = yield* parseError(XlsxParser, { fileName: "x.xlsx", bytes: Corpus.utf8("a,b,c") })
      expect(notZip).toMatchObject({ reason: "Corrupt", message: expect.stringContaining("not a valid XLSX (not a zip archive)") })
      expect((yield* parseError(XlsxParser, emptyFile("e.xlsx"))).reason).toBe("Corrupt")
    }))
})

describe("DocxParser", () => {
  it.effect("headings with levels, paragraphs, lists and a table with its rows", () =>
    Effect.gen(function*() {
      const doc = yield* parse(DocxParser, yield* Effect.promise(Corpus.docx))
      expect(findSection(doc, "title", "Annual Report").level).toBe(1)
      expect(findSection(doc, "title", "Results by Region").level).toBe(2)
      findSection(doc, "text", "The quick brown fox jumps over the lazy dog.")
      expect(findSection(doc, "list", "First bullet item").text).toBe("First bullet item\nSecond bullet item")
      const table = sectionsOf(doc, "table")[0]!
      expect(table.table!.rows).toEqual([["Region", "Revenue"], ["North", "100"], ["South", "200"]])
      findSection(doc, "text", "Closing remarks follow the table.")
      const kinds = doc.sections.map((s) => s.kind)
      expect(kinds.indexOf("table")).toBeLessThan(kinds.lastIndexOf("text"))
      expect(doc.metadata).toMatchObject({ title: "Annual Report 2024", author: "Ada Lovelace" })
    }))

  it.effect("a DOCX that is not a zip is Corrupt", () =>
    Effect.gen(function*() {
      const error = yield* parseError(DocxParser, Corpus.notAZipDocx)
      expect(error.reason).toBe("Corrupt")
      expect(error.message).toContain("not a valid DOCX (not a zip archive)")
    }))

  it.effect("an encrypted (OLE) DOCX is Encrypted; a legacy OLE file is Unsupported", () =>
    Effect.gen(function*() {
      expect((yield* parseError(DocxParser, Corpus.encryptedDocx)).reason).toBe("Encrypted")
      const legacy = new Uint8Array(1024)
      legacy.set([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])
      expect((yield* parseError(DocxParser, { fileName: "old.docx", bytes: legacy })).reason).toBe("Unsupported")
    }))

  it.effect("a zip bomb declaring a huge entry fails with TooLarge before inflating", () =>
    Effect.gen(function*() {
      const bomb = yield* Effect.promise(Corpus.declaredBombDocx)
      expect(bomb.bytes.length).toBeLessThan(10_000)
      const error = yield* parseError(DocxParser, bomb)
      expect(error.reason).toBe("TooLarge")
      expect(error.message).toContain("word/document.xml declares")
      const zip64 = Corpus.zip64BombDocx()
      expect(zip64.bytes.length).toBeLessThan(500)
      const error64 = yield* parseError(DocxParser, zip64)
      expect(error64.reason).toBe("TooLarge")
      expect(error64.message).toContain("10240.0 MB")
    }))

  it.effect("an entry that inflates beyond what it declares is stopped at the cap", () =>
    Effect.gen(function*() {
      const bomb = yield* Effect.promise(() => Corpus.lyingBombDocx(8))
      expect(bomb.bytes.length).toBeLessThan(100_000)
      const error = yield* parseError(makeDocxParser(ParserLimits.make({ zipMaxEntryBytes: 1024 * 1024 })), bomb)
      expect(error.reason).toBe("TooLarge")
      expect(error.message).toContain("inflates beyond the limit")
    }))

  it.effect("limits come from the deployment: entries and total declared size", () =>
    Effect.gen(function*() {
      const file = yield* Effect.promise(Corpus.docx)
      expect((yield* parseError(makeDocxParser(ParserLimits.make({ zipMaxEntries: 3 })), file)).reason).toBe("TooLarge")
      expect((yield* parseError(makeDocxParser(ParserLimits.make({ zipMaxTotalBytes: 1000 })), file)).reason).toBe("TooLarge")
      expect((yield* parse(makeDocxParser(ParserLimits.make({ zipMaxTotalBytes: 10_000_000 })), file)).sections.length).toBeGreaterThan(0)
    }))
})

describe("PptxParser", () => {
  it.effect("slides in order: titles, text and tables, each with its slide as page", () =>
    Effect.gen(function*() {
      const doc = yield* parse(PptxParser, yield* Effect.promise(Corpus.pptx))
      const title1 = findSection(doc, "title", "Quarterly Review")
      expect(title1).toMatchObject({ page: 1, level: 1 })
      expect(findSection(doc, "text", "Prepared by the finance team").page).toBe(1)
      expect(findSection(doc, "title", "Revenue by Region").page).toBe(2)
      const table = sectionsOf(doc, "table")[0]!
      expect(table.page).toBe(2)
      expect(table.table!.rows).toEqual([["Region", "Revenue"], ["North", "100"], ["South", "200"]])
      const notes = findSection(doc, "text", "Speaker notes mention the northern growth.")
      expect(notes.page).toBe(2)
      expect(notes.text).not.toContain("Slide image")
      expect(findSection(doc, "title", "Next Steps").page).toBe(3)
      expect(findSection(doc, "text", "Hire two engineers.").text).toBe("Hire two engineers.\nOpen the Berlin office.")
      expect(doc.sections.every((s) => s.page !== undefined)).toBe(true)
      expect(doc.metadata).toMatchObject({ slides: 3 })
    }))

  it.effect("without presentation.xml the slides follow the natural sort of their names", () =>
    Effect.gen(function*() {
      const doc = yield* parse(PptxParser, yield* Effect.promise(Corpus.pptxWithoutPresentation))
      expect(doc.sections.map((s) => [s.text, s.page])).toEqual([
        ["First slide text", 1],
        ["Second slide text", 2],
        ["Tenth slide text", 3]
      ])
    }))

  it.effect("a PPTX that is not a zip is Corrupt", () =>
    Effect.gen(function*() {
      const error = yield* parseError(PptxParser, { fileName: "x.pptx", bytes: Corpus.utf8("nope") })
      expect(error).toMatchObject({ reason: "Corrupt", message: expect.stringContaining("not a valid PPTX") })
    }))
})
