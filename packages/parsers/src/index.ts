/**
 * @ragkit/parsers: file parsers (bytes -> sections) and RAGFlow's chunk methods (sections ->
 * chunks).
 *
 *   const Parsing = Parsers.layer()                     // ParserRegistry + ChunkMethodRegistry
 *     .pipe(Layer.provide(Tokenizer.layer))             // chunk methods count tokens
 *
 * | format | parser | sections |
 * |---|---|---|
 * | txt, text, log | core's `TextParser` | paragraphs |
 * | md, markdown, mdx | `MarkdownParser` | titles with levels, paragraphs, lists, code, tables |
 * | html, htm | `HtmlParser` | titles, paragraphs, lists, tables |
 * | json, jsonl, ldjson | `JsonParser` | one section per record, flattened `a.b: value` |
 * | csv, tsv | `CsvParser` | one table |
 * | xlsx | `XlsxParser` | a title and a table per sheet |
 * | docx | `DocxParser` | headings, paragraphs, lists, tables |
 * | pptx | `PptxParser` | per slide (`page` = slide number): title, texts, tables |
 * | pdf | `PdfParser` | blocks with pages and positions; scanned pages through OCR |
 * | png, jpg, jpeg, gif, webp, tif, tiff | `ImageParser` | the OCR text, with the image |
 * | eml | `EmlParser` | subject, headers, body, attachments parsed recursively |
 * | source code and config files | `CodeParser` | code blocks |
 * | (selected per document) | `Unstructured` | a remote Unstructured API server: `layout_recognize: "Unstructured"` |
 *
 * The limits that protect the machine from a file (archive sizes, cells, mail nesting, PDF pages)
 * are the deployment's: `layer({ limits })` (`ParserLimits`, defaults when absent). A document's
 * `parser_config` never sets them.
 */
import { ChunkMethod, type ParseError, Parser, type Tokenizer } from "@ragkit/core"
import { Effect, Layer } from "effect"
import * as Chunking from "./chunking/index.js"
import { CodeParser } from "./formats/CodeParser.js"
import { CsvParser } from "./formats/CsvParser.js"
import { DocxParser } from "./formats/DocxParser.js"
import { contributeEml, EmlParser } from "./formats/EmlParser.js"
import { HtmlParser } from "./formats/HtmlParser.js"
import * as ImageParser from "./formats/ImageParser.js"
import { JsonParser } from "./formats/JsonParser.js"
import { MarkdownParser } from "./formats/MarkdownParser.js"
import * as PdfParser from "./formats/PdfParser.js"
import { PptxParser } from "./formats/PptxParser.js"
import { XlsxParser } from "./formats/XlsxParser.js"
import { formats, makeFormats } from "./formats/index.js"
import * as Ocr from "./Ocr.js"
import * as ParserLimits from "./ParserLimits.js"

export { CodeParser, CsvParser, DocxParser, EmlParser, HtmlParser, JsonParser, MarkdownParser, PptxParser, XlsxParser }
export { Chunking, ImageParser, Ocr, ParserLimits, PdfParser }
export * as Unstructured from "./Unstructured.js"

export { formats, makeFormats }

export interface Options {
  /** The deployment's parser limits; each one absent keeps its default (`ParserLimits.defaults`). */
  readonly limits?: Partial<ParserLimits.ParserLimits>
}

/** The limits of `options`, checked when the layer is built (a bad one is a defect at start-up). */
const withLimits = <A, E, R>(options: Options, build: (limits: ParserLimits.ParserLimits) => Layer.Layer<A, E, R>) =>
  Layer.unwrapEffect(Effect.sync(() => build(ParserLimits.make(options.limits))))

/** Every parser: the formats, PDF and images (with OCR), e-mail (attachments through all of them). */
export const layerParsers = (options: Options = {}): Layer.Layer<Parser.ParserRegistry, ParseError, Ocr.Ocr> =>
  withLimits(options, (limits) =>
    contributeEml(limits).pipe(
      Layer.provide(ImageParser.layer),
      Layer.provide(PdfParser.layer(limits)),
      Layer.provide(Parser.layer(makeFormats(limits)))
    ))

/** Every parser without OCR: scanned PDF pages and images are not read. */
export const layerParsersWithoutOcr = (options: Options = {}): Layer.Layer<Parser.ParserRegistry, ParseError> =>
  withLimits(options, (limits) =>
    contributeEml(limits).pipe(
      Layer.provide(PdfParser.layerWithoutOcr(limits)),
      Layer.provide(Parser.layer(makeFormats(limits)))
    ))

/** Parsers (with the OCR engine, loaded once) and chunk methods; the methods need a `Tokenizer`. */
export const layer = (options: Options = {}): Layer.Layer<
  Parser.ParserRegistry | ChunkMethod.ChunkMethodRegistry,
  ParseError,
  Tokenizer.Tokenizer
> => Layer.merge(layerParsers(options).pipe(Layer.provide(Ocr.layer())), Chunking.layer)

/** Parsers without OCR and chunk methods. */
export const layerWithoutOcr = (options: Options = {}): Layer.Layer<
  Parser.ParserRegistry | ChunkMethod.ChunkMethodRegistry,
  ParseError,
  Tokenizer.Tokenizer
> => Layer.merge(layerParsersWithoutOcr(options), Chunking.layer)

export * as ParserThreads from "./threads/ParserThreads.js"
