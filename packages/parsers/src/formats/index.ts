/**
 * The parsers that need nothing but bytes: no OCR engine, no registry. E-mail attachments go
 * through these when the e-mail parser stands alone.
 */
import { Parser } from "@ragkit/core"
import * as ParserLimits from "../ParserLimits.js"
import { makeCodeParser } from "./CodeParser.js"
import { makeCsvParser } from "./CsvParser.js"
import { makeDocxParser } from "./DocxParser.js"
import { HtmlParser } from "./HtmlParser.js"
import { makeJsonParser } from "./JsonParser.js"
import { MarkdownParser } from "./MarkdownParser.js"
import { makePptxParser } from "./PptxParser.js"
import { makeXlsxParser } from "./XlsxParser.js"

/** The formats, under the deployment's limits. */
export const makeFormats = (limits: ParserLimits.ParserLimits): ReadonlyArray<Parser.Parser> => [
  Parser.TextParser,
  MarkdownParser,
  HtmlParser,
  makeJsonParser(limits),
  makeCsvParser(limits),
  makeXlsxParser(limits),
  makeDocxParser(limits),
  makePptxParser(limits),
  makeCodeParser(limits)
]

/** The formats, with the default limits. */
export const formats: ReadonlyArray<Parser.Parser> = makeFormats(ParserLimits.defaults)
