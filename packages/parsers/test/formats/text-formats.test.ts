import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { CodeParser, makeCodeParser } from "../../src/formats/CodeParser.js"
import { CsvParser, makeCsvParser } from "../../src/formats/CsvParser.js"
import { HtmlParser } from "../../src/formats/HtmlParser.js"
import { JsonParser, makeJsonParser } from "../../src/formats/JsonParser.js"
import { MarkdownParser } from "../../src/formats/MarkdownParser.js"
import * as ParserLimits from "../../src/ParserLimits.js"
import * as Corpus from "@ragkit/fixtures/corpus"
import { emptyFile, findSection, parse, parseError, sectionsOf } from "./helpers.js"

describe("MarkdownParser", () => {
  it.effect("headings with levels, paragraphs, lists, code and tables as HTML", () =>
    Effect.gen(function*() {
      const doc = yield* parse(MarkdownParser, Corpus.markdown)
      expect(findSection(doc, "title", "Field Guide").level).toBe(1)
      expect(findSection(doc, "title", "Inventory").level).toBe(2)
      findSection(doc, "text", "The quick brown fox jumps over the lazy dog.")
      const list = findSection(doc, "list", "Apples from the northern orchard")
      expect(list.text).toContain("  - Conference pears")
      findSection(doc, "code", "return \"hello from the code block\"")
      findSection(doc, "text", "A quoted remark about the harvest.")
      const table = sectionsOf(doc, "table")[0]!
      expect(table.table!.rows).toEqual([["Fruit", "Count"], ["Apple", "12"], ["Pear", "7"]])
      expect(table.text).toBe(table.table!.html)
      expect(table.text).toContain("<th>Fruit</th>")
      expect(doc.metadata).toMatchObject({ title: "Field Guide", frontMatter: { author: "Ada" } })
      expect(doc.sections.some((s) => s.text.includes("author: Ada"))).toBe(false)
    }))

  it.effect("a binary file renamed .md fails with Corrupt; an empty one with Empty", () =>
    Effect.gen(function*() {
      expect((yield* parseError(MarkdownParser, Corpus.binaryMarkdown)).reason).toBe("Corrupt")
      expect((yield* parseError(MarkdownParser, emptyFile("empty.md"))).reason).toBe("Empty")
      expect((yield* parseError(MarkdownParser, { fileName: "blank.md", bytes: Corpus.utf8("\n  \n\n") })).reason).toBe("Empty")
    }))
})

describe("HtmlParser", () => {
  it.effect("drops scripts, styles and navigation; keeps headings, text, lists and tables", () =>
    Effect.gen(function*() {
      const doc = yield* parse(HtmlParser, Corpus.html)
      const all = doc.sections.map((s) => s.text).join("\n")
      expect(all).not.toContain("script text must not appear")
      expect(all).not.toContain("another script")
      expect(all).not.toContain("Navigation link text")
      expect(all).not.toContain("Enable JavaScript")
      expect(all).not.toContain("color: red")
      expect(findSection(doc, "title", "Harvest Report").level).toBe(1)
      expect(findSection(doc, "title", "Details").level).toBe(3)
      findSection(doc, "text", "The harvest this year was larger than expected & well stored.")
      findSection(doc, "text", "Storage held up during the winter.")
      expect(findSection(doc, "list", "Wheat").text).toBe("Wheat\nBarley")
      const table = sectionsOf(doc, "table")[0]!
      expect(table.table!.rows).toEqual([["Crop", "Tons"], ["Wheat", "120"], ["Barley", "80"]])
      expect(table.text).toContain("<td>Barley</td>")
      expect(doc.metadata).toMatchObject({ title: "Harvest Report", language: "en" })
    }))

  it.effect("an HTML file with only a script is Empty", () =>
    Effect.gen(function*() {
      const file = { fileName: "x.html", bytes: Corpus.utf8("<html><script>alert(1)</script></html>") }
      expect((yield* parseError(HtmlParser, file)).reason).toBe("Empty")
    }))
})

describe("JsonParser", () => {
  it.effect("one text section per array element, nested objects as dotted keys", () =>
    Effect.gen(function*() {
      const doc = yield* parse(JsonParser, Corpus.json)
      expect(doc.sections).toHaveLength(2)
      expect(doc.sections[0]!.kind).toBe("text")
      expect(doc.sections[0]!.text).toBe("name: Alice\nrole: engineer\naddress.city: Paris\naddress.zip: 75001\ntags: [\"a\",\"b\"]")
      findSection(doc, "text", "address.city: Berlin")
    }))

  it.effect("JSON Lines: one section per line; a bad line fails with Corrupt and its line number", () =>
    Effect.gen(function*() {
      const doc = yield* parse(JsonParser, Corpus.jsonl)
      expect(doc.sections.map((s) => s.text)).toEqual(["event: signup\nuser: carol", "event: login\nuser: dave\nmeta.ip: 10.0.0.1"])
      const error = yield* parseError(JsonParser, Corpus.invalidJsonl)
      expect(error.reason).toBe("Corrupt")
      expect(error.message).toContain("line 3")
    }))

  it.effect("invalid JSON is Corrupt, an empty array Empty, big records are split", () =>
    Effect.gen(function*() {
      expect((yield* parseError(JsonParser, { fileName: "bad.json", bytes: Corpus.utf8("{\"a\": [1, 2") })).reason).toBe("Corrupt")
      expect((yield* parseError(JsonParser, { fileName: "none.json", bytes: Corpus.utf8("[]") })).reason).toBe("Empty")
      expect((yield* parseError(JsonParser, emptyFile("e.json"))).reason).toBe("Empty")
      const big = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`key${i}`, `value number ${i}`]))
      const doc = yield* parse(makeJsonParser(ParserLimits.make({ jsonSectionChars: 1000 })), {
        fileName: "big.json",
        bytes: Corpus.utf8(JSON.stringify(big))
      })
      expect(doc.sections.length).toBeGreaterThan(5)
      expect(doc.sections.every((s) => s.text.length <= 1000)).toBe(true)
      expect(doc.sections.map((s) => s.text).join("\n")).toContain("key499: value number 499")
    }))
})

describe("CsvParser", () => {
  it.effect("quotes, escaped quotes, CRLF and line breaks inside quotes; one table with the columns", () =>
    Effect.gen(function*() {
      const doc = yield* parse(CsvParser, Corpus.csv)
      expect(doc.sections).toHaveLength(1)
      const table = doc.sections[0]!
      expect(table.kind).toBe("table")
      expect(table.table!.rows).toEqual([
        ["Name", "Comment", "City"],
        ["Smith, John", "He said \"hello\"", "London"],
        ["Jane", "First line\nsecond line", "Paris"],
        ["Zoe", "plain", "Rome"]
      ])
      expect(table.text).toContain("<td>He said &quot;hello&quot;</td>")
      expect(doc.metadata).toMatchObject({ columns: ["Name", "Comment", "City"], delimiter: "," })
    }))

  it.effect("semicolons are sniffed, TSV uses tabs", () =>
    Effect.gen(function*() {
      const semi = yield* parse(CsvParser, Corpus.semicolonCsv)
      expect(semi.sections[0]!.table!.rows[1]).toEqual(["Apfel", "1,20", "3"])
      const tsv = yield* parse(CsvParser, Corpus.tsv)
      expect(tsv.sections[0]!.table!.rows).toEqual([["a", "b"], ["1", "2"]])
    }))

  it.effect("too many cells is TooLarge; an unterminated quote is Corrupt; binary is Corrupt", () =>
    Effect.gen(function*() {
      expect((yield* parseError(makeCsvParser(ParserLimits.make({ maxCells: 5 })), Corpus.csv)).reason).toBe("TooLarge")
      const open = yield* parseError(CsvParser, { fileName: "open.csv", bytes: Corpus.utf8("a,b\n1,\"never closed\n2,3\n") })
      expect(open.reason).toBe("Corrupt")
      expect(open.message).toContain("line 2")
      expect((yield* parseError(CsvParser, { fileName: "bin.csv", bytes: Corpus.binaryMarkdown.bytes })).reason).toBe("Corrupt")
    }))
})

describe("CodeParser", () => {
  it.effect("code sections from blank-line blocks, long blocks cut", () =>
    Effect.gen(function*() {
      const doc = yield* parse(makeCodeParser(ParserLimits.make({ codeBlockChars: 80 })), Corpus.code)
      expect(doc.sections.every((s) => s.kind === "code")).toBe(true)
      expect(doc.sections.length).toBeGreaterThanOrEqual(3)
      findSection(doc, "code", "def handler(event):")
      findSection(doc, "code", "class Store:")
      expect(doc.metadata).toMatchObject({ language: "python" })
      const merged = yield* parse(CodeParser, Corpus.code)
      expect(merged.sections).toHaveLength(1)
      const long = Array.from({ length: 400 }, (_, i) => `const value${i} = ${i}`).join("\n")
      const cut = yield* parse(CodeParser, { fileName: "long.ts", bytes: Corpus.utf8(long) })
      expect(cut.sections.length).toBeGreaterThan(1)
      expect(cut.sections.every((s) => s.text.length <= 1500)).toBe(true)
      expect((yield* parseError(CodeParser, { fileName: "video.ts", bytes: Corpus.binaryMarkdown.bytes })).reason).toBe("Corrupt")
    }))
})
