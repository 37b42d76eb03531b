/**
 * The parsers that need nothing but bytes: no OCR engine, no registry. E-mail attachments go
 * through these when the e-mail parser stands alone.
 */
import { Parser } from "@ragkit/core"
import { CodeParser } from "./CodeParser.js"
import { CsvParser } from "./CsvParser.js"
import { DocxParser } from "./DocxParser.js"
import { HtmlParser } from "./HtmlParser.js"
import { JsonParser } from "./JsonParser.js"
import { MarkdownParser } from "./MarkdownParser.js"
import { PptxParser } from "./PptxParser.js"
import { XlsxParser } from "./XlsxParser.js"

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
