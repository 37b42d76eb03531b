/**
 * The parsers that need nothing but bytes: no OCR engine, no registry. E-mail attachments go
 * through these when the e-mail parser stands alone.
 */
import { Parser } from "@ragkit/core"
import { CodeParser } from "./code.js"
import { CsvParser } from "./csv.js"
import { DocxParser } from "./docx.js"
import { HtmlParser } from "./html.js"
import { JsonParser } from "./json.js"
import { MarkdownParser } from "./markdown.js"
import { PptxParser } from "./pptx.js"
import { XlsxParser } from "./xlsx.js"

export const formats: ReadonlyArray<Parser.Parser> = [
  Parser.TextParser,
  MarkdownParser,
  HtmlParser,
  JsonParser,
  CsvParser,
  XlsxParser,
  DocxParser,
  PptxParser,
  CodeParser
]
