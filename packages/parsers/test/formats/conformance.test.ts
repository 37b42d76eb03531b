/** The core conformance suite over a registry of this package's formats. */
import { Parser } from "@ragkit/core"
import { Layer } from "effect"
import { ParserSuite } from "@ragkit/core/testing"
import { CodeParser } from "../../src/formats/CodeParser.js"
import { CsvParser } from "../../src/formats/CsvParser.js"
import { DocxParser } from "../../src/formats/DocxParser.js"
import { contributeEml } from "../../src/formats/EmlParser.js"
import { HtmlParser } from "../../src/formats/HtmlParser.js"
import { JsonParser } from "../../src/formats/JsonParser.js"
import { MarkdownParser } from "../../src/formats/MarkdownParser.js"
import { PptxParser } from "../../src/formats/PptxParser.js"
import { XlsxParser } from "../../src/formats/XlsxParser.js"
import * as C from "@ragkit/fixtures/corpus"

const [xlsx, docx, pptx] = await Promise.all([C.xlsx(), C.docx(), C.pptx()])
const registry = contributeEml().pipe(Layer.provide(Parser.layer([MarkdownParser, HtmlParser, JsonParser, CsvParser, XlsxParser, DocxParser, PptxParser, CodeParser, Parser.TextParser])))
ParserSuite("formats", registry, [
  { ...C.markdown, expectText: ["The quick brown fox jumps over the lazy dog."], expectKinds: ["title", "table", "list", "code"] },
  { ...C.html, expectText: ["Storage held up during the winter."], expectKinds: ["table"] },
  { ...C.json, expectText: ["address.city: Paris"] },
  { ...C.jsonl, expectText: ["user: carol"] },
  { ...C.csv, expectText: ["Smith, John"], expectKinds: ["table"] },
  { ...C.code, expectText: ["def handler(event):"] },
  { ...xlsx, expectText: ["2024-03-15"], expectKinds: ["table"] },
  { ...docx, expectText: ["The quick brown fox jumps over the lazy dog."], expectKinds: ["table", "title"] },
  { ...pptx, expectText: ["Open the Berlin office."], expectPages: 3 },
  { ...C.eml, expectText: ["Please find the quarterly figures attached."] }
])
