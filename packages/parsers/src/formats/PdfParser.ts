/**
 * PDF: the text layer, read with pdf.js page by page, grouped into lines and blocks by position
 * and font size; each block a `text` section (or a `title`, when set clearly larger than the body)
 * with its page and its box `[page, x0, x1, top, bottom]` in points from the top-left of the page.
 * Pages without a text layer (scans) are rendered and read with OCR.
 *
 * The document's `parser_config` selects pages: `pages`, `[[from, to], ...]`, 1-based and
 * inclusive; all pages by default. At most the deployment's `pdfMaxPages` pages are read
 * (`ParserLimits`, 5,000 by default); the rest are skipped. Decoding is bounded by the deployment's
 * `pdfMaxStreamBytes` (one stream), `pdfMaxDecodedBytes` (all streams) and `pdfMaxImagePixels` (one
 * image): a file past them fails `TooLarge`.
 *
 * Metadata: `title`, `author`, `page_count`, `ocr_pages` (pages read with OCR), `pages_read`.
 *
 *   const Parsers = PdfParser.layer().pipe(Layer.provide(Ocr.layer()), Layer.provide(Parser.layer([Parser.TextParser])))
 */
import { ParseError, Parser as ParserPort } from "@ragkit/core"
import type { ChunkPosition } from "@ragkit/core"
import { Effect, Layer } from "effect"
import * as Pdfjs from "../internal/pdfjs.js"
import type { PDFDocumentProxy, PDFPageProxy } from "../internal/pdfjs.js"
import { blockText, titleLevels, toBlocks, toLines } from "../internal/pdfLayout.js"
import type { Block, Line, Run } from "../internal/pdfLayout.js"
import { Ocr } from "../Ocr.js"
import type { OcrService } from "../Ocr.js"
import * as ParserLimits from "../ParserLimits.js"

type Parser = ParserPort.Parser
type Section = ParserPort.Section

/** A page with fewer non-space characters in its text layer than this is taken for a scan. */
export const MIN_TEXT_CHARS = 16
/** Scans are rendered at twice 72 dpi, the longer side at most this many pixels. */
const OCR_SCALE = 2
const OCR_MAX_SIDE = 2_400

export const extensions: ReadonlyArray<string> = ["pdf"]
export const mimeTypes: ReadonlyArray<string> = ["application/pdf", "application/x-pdf"]

const errorMessage = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

const invalidOption = (message: string) => new ParseError({ reason: "Unsupported", message: `PDF parser option ${message}` })

/** The pages to read: the document's `pages` ranges (or all), in order, at most `maxPages` (the deployment's). */
export const selectPages = (
  pageCount: number,
  options: Readonly<Record<string, unknown>> | undefined,
  maxPages: number
): Effect.Effect<ReadonlyArray<number>, ParseError> =>
  Effect.gen(function*() {
    const ranges = options?.pages
    const selected = new Set<number>()
    if (ranges === undefined || ranges === null) {
      for (let p = 1; p <= pageCount; p++) selected.add(p)
    } else {
      const valid = Array.isArray(ranges) && ranges.every((range) =>
        Array.isArray(range) && range.length === 2 && range.every((n) => typeof n === "number" && Number.isFinite(n))
      )
      if (!valid) return yield* invalidOption(`pages must be [[from, to], ...], got ${JSON.stringify(ranges)}`)
      for (const [from, to] of ranges as ReadonlyArray<readonly [number, number]>) {
        for (let p = Math.max(1, Math.ceil(from)); p <= Math.min(pageCount, Math.floor(to)); p++) selected.add(p)
      }
    }
    return [...selected].sort((a, b) => a - b).slice(0, maxPages)
  })

interface TextItemLike {
  readonly str: string
  readonly transform: ReadonlyArray<number>
  readonly width: number
  readonly height: number
  readonly hasEOL: boolean
}
const isTextItem = (item: unknown): item is TextItemLike =>
  typeof item === "object" && item !== null && "str" in item && "transform" in item

/** The page's text items as runs in viewport points (y down from the top, rotation applied). */
const textRuns = (pdfjs: Pdfjs.Pdfjs, page: PDFPageProxy, items: ReadonlyArray<unknown>): Array<Run> => {
  const viewport = page.getViewport({ scale: 1 })
  const runs: Array<Run> = []
  for (const item of items) {
    if (!isTextItem(item)) continue
    const tx = pdfjs.Util.transform(viewport.transform, item.transform as Array<number>) as Array<number>
    const [a = 1, b = 0, c = 0, d = 1, e = 0, f = 0] = tx
    const size = Math.hypot(c, d) || item.height || 1
    const xScale = Math.hypot(a, b) || 1
    // Width along the text direction, projected on the page's x axis.
    const width = item.width * Math.abs(a / xScale)
    runs.push({ text: item.str, x0: e, x1: e + width, baseline: f, size, endsLine: item.hasEOL })
  }
  return runs
}

/** The page paints something OCR could read: an image, or many filled paths (outlined text). */
const paintsGraphics = (pdfjs: Pdfjs.Pdfjs, page: PDFPageProxy): Effect.Effect<boolean, ParseError> =>
  Effect.tryPromise({
    try: async () => {
      const ops = await page.getOperatorList()
      const images = new Set<number>([
        pdfjs.OPS.paintImageXObject,
        pdfjs.OPS.paintInlineImageXObject,
        pdfjs.OPS.paintImageXObjectRepeat,
        pdfjs.OPS.paintImageMaskXObject,
        pdfjs.OPS.paintInlineImageXObjectGroup
      ])
      let paths = 0
      for (const fn of ops.fnArray) {
        if (images.has(fn)) return true
        if (fn === pdfjs.OPS.constructPath && ++paths >= 50) return true
      }
      return false
    },
    catch: (cause) =>
      new ParseError({ reason: "Corrupt", message: `page ${page.pageNumber} of the PDF cannot be read: ${errorMessage(cause)}`, cause })
  })

/** OCR of a rendered page, as lines in points. */
const ocrLines = (doc: PDFDocumentProxy, page: PDFPageProxy, ocr: OcrService): Effect.Effect<Array<Line>, ParseError> =>
  Effect.gen(function*() {
    const viewport = page.getViewport({ scale: 1 })
    const scale = Math.min(OCR_SCALE, OCR_MAX_SIDE / Math.max(viewport.width, viewport.height, 1))
    const png = yield* Pdfjs.renderPage(doc, page, scale)
    const found = yield* ocr.recognize(png)
    return found.map((line): Line => {
      const [x0, y0, x1, y1] = line.box
      const top = y0 / scale
      const bottom = y1 / scale
      const size = Math.max(bottom - top, 1)
      return { text: line.text, x0: x0 / scale, x1: x1 / scale, top, bottom, baseline: bottom - 0.2 * size, size, chars: line.text.replace(/\s+/gu, "").length }
    })
  }).pipe(Effect.withSpan("PdfParser.ocrPage", { attributes: { page: page.pageNumber } }))

interface PageResult {
  readonly blocks: ReadonlyArray<Block>
  readonly ocr: boolean
}

const readPage = (
  pdfjs: Pdfjs.Pdfjs,
  doc: PDFDocumentProxy,
  pageNumber: number,
  ocr: OcrService | undefined
): Effect.Effect<PageResult, ParseError> =>
  Effect.scoped(Effect.gen(function*() {
    const page = yield* Pdfjs.openPage(doc, pageNumber)
    const content = yield* Effect.tryPromise({
      try: () => page.getTextContent(),
      catch: (cause) =>
        new ParseError({ reason: "Corrupt", message: `page ${pageNumber} of the PDF cannot be read: ${errorMessage(cause)}`, cause })
    })
    const runs = textRuns(pdfjs, page, content.items)
    const chars = runs.reduce((n, run) => n + run.text.replace(/\s+/gu, "").length, 0)
    if (chars < MIN_TEXT_CHARS && ocr !== undefined && (yield* paintsGraphics(pdfjs, page))) {
      const lines = yield* ocrLines(doc, page, ocr)
      if (lines.length > 0) return { blocks: toBlocks(pageNumber, lines, true), ocr: true }
    }
    return { blocks: toBlocks(pageNumber, toLines(runs), false), ocr: false }
  }))

const round = (n: number) => Math.round(n * 100) / 100

const infoString = (info: unknown, key: string): string | undefined => {
  if (typeof info !== "object" || info === null) return undefined
  const value = (info as Record<string, unknown>)[key]
  return typeof value === "string" && value.trim().length > 0 ? value.trim() : undefined
}

/** What a document's streams and images may decode to: the deployment's limits. */
const decodeLimits = (limits: ParserLimits.ParserLimits): Pdfjs.DecodeLimits => ({
  maxStreamBytes: limits.pdfMaxStreamBytes,
  maxDecodedBytes: limits.pdfMaxDecodedBytes,
  maxImagePixels: limits.pdfMaxImagePixels
})

/** The PDF parser over loaded pdf.js and, for scans, an OCR engine (without one, scans yield no text). */
/** The parser; pdf.js (and the canvas it renders scans with) loads on the first PDF. */
const makeWith = (
  ocr: OcrService | undefined,
  limits: ParserLimits.ParserLimits
): Parser => ({
  name: "pdf",
  extensions,
  mimeTypes,
  parse: (input) =>
    Pdfjs.guardDecoding(input.fileName, decodeLimits(limits), Effect.scoped(Effect.gen(function*() {
      if (input.bytes.length === 0) {
        return yield* new ParseError({ reason: "Empty", message: `file ${input.fileName} is empty` })
      }
      const { assets, pdfjs } = yield* Pdfjs.load
      const doc = yield* Pdfjs.openDocument(pdfjs, assets, input.bytes, limits.pdfMaxImagePixels)
      if (doc.numPages === 0) {
        return yield* new ParseError({ reason: "Empty", message: `the PDF ${input.fileName} has no pages` })
      }
      const pages = yield* selectPages(doc.numPages, input.options, limits.pdfMaxPages)
      yield* Effect.annotateCurrentSpan({ pageCount: doc.numPages, pagesRead: pages.length })

      const blocks: Array<Block> = []
      const ocrPages: Array<number> = []
      for (const pageNumber of pages) {
        const result = yield* readPage(pdfjs, doc, pageNumber, ocr)
        blocks.push(...result.blocks)
        if (result.ocr) ocrPages.push(pageNumber)
      }

      const levels = titleLevels(blocks)
      const sections: Array<Section> = []
      blocks.forEach((block, i) => {
        const text = blockText(block)
        if (text.length === 0) return
        const level = levels[i]
        const position: ChunkPosition = [block.page, round(block.x0), round(block.x1), round(block.top), round(block.bottom)]
        sections.push({
          text,
          kind: level === undefined ? "text" : "title",
          ...(level === undefined ? {} : { level }),
          page: block.page,
          positions: [position]
        })
      })

      const info = yield* Effect.promise(() => doc.getMetadata().then((m) => m.info, () => undefined))
      const title = infoString(info, "Title")
      const author = infoString(info, "Author")
      const metadata = {
        ...(title === undefined ? {} : { title }),
        ...(author === undefined ? {} : { author }),
        page_count: doc.numPages,
        pages_read: pages.length,
        ocr_pages: ocrPages
      }
      if (sections.length === 0) {
        return yield* new ParseError({
          reason: "Empty",
          message: ocr === undefined
            ? `the PDF ${input.fileName} has no text layer (and no OCR is configured)`
            : `the PDF ${input.fileName} has no text, not even by OCR`
        })
      }
      return { sections, metadata }
    })).pipe(
      // pdf.js's messages do not name the file.
      Effect.mapError((error) =>
        error.message.includes(input.fileName)
          ? error
          : new ParseError({ reason: error.reason, message: `${input.fileName}: ${error.message}`, cause: error.cause })
      )
    )).pipe(Effect.withSpan("PdfParser.parse", { attributes: { fileName: input.fileName, size: input.bytes.length } }))
})

/**
 * The PDF parser; pdf.js loads on the first PDF (a failure to load it fails that document).
 * Scanned pages are read with `ocr`; at most `limits.pdfMaxPages` pages.
 */
export const make = (ocr: OcrService, limits: ParserLimits.ParserLimits = ParserLimits.defaults): Effect.Effect<Parser, ParseError> =>
  Effect.sync(() => makeWith(ocr, limits))

/** The PDF parser without OCR: scanned pages yield no text. */
export const makeWithoutOcr = (limits: ParserLimits.ParserLimits = ParserLimits.defaults): Effect.Effect<Parser, ParseError> =>
  Effect.sync(() => makeWith(undefined, limits))

/** The PDF parser over the `Ocr` below it. */
export const parser = (limits: ParserLimits.ParserLimits = ParserLimits.defaults): Effect.Effect<Parser, ParseError, Ocr> =>
  Effect.flatMap(Ocr, (ocr) => make(ocr, limits))

/** Adds the PDF parser to the `ParserRegistry` below it; scans are read with the `Ocr` below it. */
export const layer = (
  limits: ParserLimits.ParserLimits = ParserLimits.defaults
): Layer.Layer<ParserPort.ParserRegistry, ParseError, ParserPort.ParserRegistry | Ocr> =>
  Layer.unwrapEffect(Effect.map(parser(limits), (p) => ParserPort.contribute([p])))

/** Adds the PDF parser, without OCR, to the `ParserRegistry` below it. */
export const layerWithoutOcr = (
  limits: ParserLimits.ParserLimits = ParserLimits.defaults
): Layer.Layer<ParserPort.ParserRegistry, ParseError, ParserPort.ParserRegistry> =>
  Layer.unwrapEffect(Effect.map(makeWithoutOcr(limits), (p) => ParserPort.contribute([p])))
