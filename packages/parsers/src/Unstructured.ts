/**
 * A remote parser: sends the file to an Unstructured API server (`POST /general/v0/general`, the
 * open-source `unstructured-api` or the hosted service) and maps the elements it returns to
 * sections.
 *
 * It is selected per knowledge base or per document through `parser_config`:
 *
 *   { "layout_recognize": "Unstructured" }
 *
 * (RAGFlow's key for the layout engine, whose other values are "DeepDOC", "Plain Text", ...).
 * `contributeUnstructured` wraps the registry below it: such documents go to Unstructured when it
 * accepts their format, all others to the usual parsers; formats only Unstructured reads (`.epub`,
 * `.rtf`, `.msg`, ...) go to it whatever the option, so they are accepted only where it is configured.
 *
 *   const Parsers = Unstructured.contributeUnstructured({ serverUrl: "http://unstructured:8000" }).pipe(
 *     Layer.provide(ParserRegistry.contribute(LocalParsers)),
 *     Layer.provide(ParserRegistry.layer([TextParser]))
 *   )
 *
 * Failures are typed: a rejected key, an unreachable or failing server and timeouts are
 * `ParseError` reason `Unknown` (the ingestion may retry); what the server refuses to read is
 * `Unsupported` or `Corrupt`; a file without elements is `Empty`.
 */
import { Parser, ParseError } from "@ragkit/core"
import { lazyModule } from "./internal/lazy.js"
import type { ChunkPosition } from "@ragkit/core"
import { Config, ConfigError, Duration, Effect, Layer, Redacted } from "effect"
export type Strategy = "auto" | "fast" | "hi_res" | "ocr_only"

export interface UnstructuredOptions {
  /** The server's base URL, e.g. `http://localhost:8000` or `https://api.unstructuredapp.io`. */
  readonly serverUrl: string
  /** Sent as the `unstructured-api-key` header; a self-hosted server usually needs none. */
  readonly apiKey?: Redacted.Redacted<string> | undefined
  /** How PDFs and images are read (`hi_res` runs the layout model; `auto` by default). */
  readonly strategy?: Strategy | undefined
  /** Milliseconds to wait for the answer to one file (600 000 by default). */
  readonly timeoutMs?: number | undefined
  /** OCR languages as Tesseract codes (`eng`, `chi_sim`, ...). */
  readonly languages?: ReadonlyArray<string> | undefined
  /**
   * Resolution at which the server renders pages for `hi_res` and OCR (its default is 200): pixel
   * coordinates of PDFs are divided by it to give PDF points.
   */
  readonly pixelDpi?: number | undefined
}

/** The `parser_config.layout_recognize` value that selects Unstructured. */
export const LayoutRecognize = "Unstructured"

/** File types the Unstructured API partitions. */
export const extensions: ReadonlyArray<string> = [
  "pdf", "docx", "doc", "pptx", "ppt", "xlsx", "xls", "csv", "tsv", "html", "htm", "md", "txt", "eml", "msg",
  "epub", "odt", "rtf", "png", "jpg", "jpeg", "tiff", "bmp", "heic", "xml", "json"
]

export const mimeTypes: ReadonlyArray<string> = [
  "application/pdf",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  "application/msword",
  "application/vnd.openxmlformats-officedocument.presentationml.presentation",
  "application/vnd.ms-powerpoint",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  "application/vnd.ms-excel",
  "text/csv",
  "text/tab-separated-values",
  "text/html",
  "text/markdown",
  "text/plain",
  "message/rfc822",
  "application/vnd.ms-outlook",
  "application/epub+zip",
  "application/vnd.oasis.opendocument.text",
  "application/rtf",
  "text/rtf",
  "image/png",
  "image/jpeg",
  "image/tiff",
  "image/bmp",
  "image/heic",
  "application/xml",
  "text/xml",
  "application/json"
]

const DEFAULT_TIMEOUT_MS = 600_000
const DEFAULT_PIXEL_DPI = 200

// ---------------------------------------------------------------------------------------------
// Elements (https://docs.unstructured.io/platform/document-elements).

interface ElementCoordinates {
  readonly points?: ReadonlyArray<ReadonlyArray<number>>
  readonly system?: string
  readonly layout_width?: number
  readonly layout_height?: number
}

interface ElementMetadata {
  readonly page_number?: number
  readonly coordinates?: ElementCoordinates
  readonly text_as_html?: string
  readonly category_depth?: number
  readonly filename?: string
  readonly filetype?: string
  readonly languages?: ReadonlyArray<string>
  readonly image_base64?: string
  readonly image_mime_type?: string
}

interface Element {
  readonly type?: string
  readonly element_id?: string
  readonly text?: string
  readonly metadata?: ElementMetadata
}

const DROPPED = new Set(["Header", "Footer", "PageBreak", "PageNumber"])
const CODE = new Set(["Formula", "CodeSnippet"])

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'", nbsp: " " }

const decodeEntities = (s: string): string =>
  s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/giu, (whole, name: string) => {
    if (name.startsWith("#x") || name.startsWith("#X")) return String.fromCodePoint(parseInt(name.slice(2), 16))
    if (name.startsWith("#")) return String.fromCodePoint(parseInt(name.slice(1), 10))
    return ENTITIES[name.toLowerCase()] ?? whole
  })

const cellText = (html: string): string =>
  decodeEntities(html.replace(/<br\s*\/?>/giu, " ").replace(/<[^>]*>/gu, "")).replace(/\s+/gu, " ").trim()

/** The rows of an HTML table: the text of each `td`/`th` of each `tr`. */
export const htmlTableRows = (html: string): ReadonlyArray<ReadonlyArray<string>> => {
  const rows: Array<Array<string>> = []
  for (const row of html.matchAll(/<tr\b[^>]*>([\s\S]*?)<\/tr\s*>/giu)) {
    const cells = [...row[1]!.matchAll(/<t([dh])\b[^>]*>([\s\S]*?)<\/t\1\s*>/giu)].map((cell) => cellText(cell[2]!))
    if (cells.length > 0) rows.push(cells)
  }
  return rows
}

const positionOf = (
  page: number | undefined,
  coordinates: ElementCoordinates | undefined,
  pixelScale: number
): ReadonlyArray<ChunkPosition> | undefined => {
  const points = coordinates?.points?.filter((p) => p.length >= 2 && p.every(Number.isFinite))
  if (page === undefined || points === undefined || points.length === 0) return undefined
  const scale = coordinates?.system === "PixelSpace" &&
      typeof coordinates.layout_width === "number" && typeof coordinates.layout_height === "number"
    ? pixelScale
    : 1
  const xs = points.map((p) => p[0]! * scale)
  const ys = points.map((p) => p[1]! * scale)
  return [[page, Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)]]
}

const base64Bytes = (b64: string): Uint8Array | undefined => {
  const bytes = Buffer.from(b64, "base64")
  return bytes.length === 0 ? undefined : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length)
}

/**
 * Sections from Unstructured's elements: `Title` to titles (level `category_depth + 1`), `ListItem`
 * to list items, `Table` to tables (rows read from `text_as_html`), `Image` to images,
 * `Formula`/`CodeSnippet` to code, headers, footers and page breaks dropped, the rest to text.
 * Pixel coordinates are converted to PDF points when `isPdf` (at `pixelDpi`).
 */
export const elementsToSections = (
  elements: ReadonlyArray<Element>,
  options: { readonly isPdf: boolean; readonly pixelDpi?: number | undefined }
): Array<Parser.Section> => {
  const pixelScale = options.isPdf ? 72 / (options.pixelDpi ?? DEFAULT_PIXEL_DPI) : 1
  const sections: Array<Parser.Section> = []
  for (const element of elements) {
    const type = element.type ?? "Text"
    if (DROPPED.has(type)) continue
    const metadata = element.metadata ?? {}
    const text = (element.text ?? "").trim()
    const page = typeof metadata.page_number === "number" && Number.isInteger(metadata.page_number) &&
        metadata.page_number >= 1
      ? metadata.page_number
      : undefined
    const positions = positionOf(page, metadata.coordinates, pixelScale)
    const where = { ...(page === undefined ? {} : { page }), ...(positions === undefined ? {} : { positions }) }
    if (type === "Table" || type === "TableChunk") {
      const html = metadata.text_as_html
      const rows = html === undefined ? [] : htmlTableRows(html)
      const tableText = text.length > 0 ? text : rows.map((row) => row.join(" | ")).join("\n")
      if (tableText.length === 0) continue
      sections.push({
        text: tableText,
        kind: "table",
        ...where,
        table: { rows: rows.length > 0 ? rows : [[tableText]], ...(html === undefined ? {} : { html }) }
      })
      continue
    }
    if (type === "Image") {
      const bytes = metadata.image_base64 === undefined ? undefined : base64Bytes(metadata.image_base64)
      if (text.length === 0 && bytes === undefined) continue
      sections.push({
        text,
        kind: "image",
        ...where,
        ...(bytes === undefined ? {} : {
          image: { bytes, ...(metadata.image_mime_type === undefined ? {} : { mime: metadata.image_mime_type }) }
        })
      })
      continue
    }
    if (text.length === 0) continue
    if (type === "Title") {
      const depth = metadata.category_depth
      const level = typeof depth === "number" && Number.isInteger(depth) && depth >= 0 ? depth + 1 : 1
      sections.push({ text, kind: "title", level, ...where })
    } else if (type === "ListItem") {
      sections.push({ text, kind: "list", ...where })
    } else if (CODE.has(type)) {
      sections.push({ text, kind: "code", ...where })
    } else {
      sections.push({ text, kind: "text", ...where })
    }
  }
  return sections
}

const sdk = lazyModule("unstructured-client", () => import("./internal/unstructuredSdk.js"), {
  neededFor: "the Unstructured parser"
})

const extensionOf = (fileName: string): string => {
  const dot = fileName.lastIndexOf(".")
  return dot < 0 ? "" : fileName.slice(dot + 1).toLowerCase()
}

const baseMime = (mime: string) => mime.split(";")[0]!.trim().toLowerCase()

/** A `Parser` that partitions files on an Unstructured API server. */
export const make = (options: UnstructuredOptions): Parser.Parser => {
  const serverUrl = options.serverUrl.replace(/\/+$/u, "")
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  // The SDK loads, and the client is made, on the first file.
  const client = Effect.cached(
    Effect.map(sdk, (Sdk) => ({ Sdk, client: Sdk.makeClient(serverUrl, options.apiKey) }))
  ).pipe(Effect.runSync)

  const parse = Effect.fn("UnstructuredParser.parse")(function*(input: Parser.ParseInput) {
    yield* Effect.annotateCurrentSpan({ fileName: input.fileName, size: input.bytes.length, serverUrl })
    if (input.bytes.length === 0) {
      return yield* new ParseError({ reason: "Empty", message: `file ${input.fileName} is empty` })
    }
    const { Sdk, client: sdkClient } = yield* client
    const response = yield* Effect.tryPromise({
      try: (signal) =>
        sdkClient.general.partition(
          {
            partitionParameters: {
              files: { content: input.bytes, fileName: input.fileName },
              strategy: Sdk.sdkStrategies[options.strategy ?? "auto"],
              coordinates: true,
              splitPdfPage: false,
              ...(options.languages === undefined || options.languages.length === 0
                ? {}
                : { languages: [...options.languages] })
            }
          },
          { retries: { strategy: "none" }, fetchOptions: { signal } }
        ),
      catch: (error) => Sdk.toParseError(error, serverUrl, input.fileName)
    }).pipe(
      Effect.timeoutFail({
        duration: Duration.millis(timeoutMs),
        onTimeout: () =>
          new ParseError({
            reason: "Unavailable",
            message: `Unstructured API unavailable at ${serverUrl}: no answer for ${input.fileName} within ${timeoutMs} ms`
          })
      })
    )
    if (!Array.isArray(response)) {
      return yield* new ParseError({
        reason: "Unknown",
        message: `Unstructured API at ${serverUrl} answered ${input.fileName} with something other than an element list`
      })
    }
    const elements = response.filter(isRecord) as ReadonlyArray<Element>
    const sections = elementsToSections(elements, {
      isPdf: extensionOf(input.fileName) === "pdf" || baseMime(input.mimeType ?? "") === "application/pdf",
      pixelDpi: options.pixelDpi
    })
    if (sections.length === 0) {
      return yield* new ParseError({
        reason: "Empty",
        message: `Unstructured API found no text in ${input.fileName} (${elements.length} elements)`
      })
    }
    const pages = sections.flatMap((section) => section.page === undefined ? [] : [section.page])
    const languages = [...new Set(elements.flatMap((element) => element.metadata?.languages ?? []))]
    const filetype = elements.find((element) => typeof element.metadata?.filetype === "string")?.metadata?.filetype
    return {
      sections,
      metadata: {
        parser: "unstructured",
        ...(pages.length === 0 ? {} : { pages: Math.max(...pages) }),
        ...(languages.length === 0 ? {} : { languages }),
        ...(filetype === undefined ? {} : { filetype })
      }
    } satisfies Parser.ParsedDocument
  })

  return { name: "unstructured", engine: LayoutRecognize, extensions, mimeTypes, parse }
}

// ---------------------------------------------------------------------------------------------
// In the registry.

/**
 * Adds Unstructured to the registry below it. A document selects it with
 * `parser_config.layout_recognize: "Unstructured"`; formats no other parser reads go to it always.
 */
export const contributeUnstructured = (
  options: UnstructuredOptions
): Layer.Layer<Parser.ParserRegistry, never, Parser.ParserRegistry> =>
  Layer.unwrapEffect(Effect.sync(() => Parser.contribute([make(options)])))

/** The driver convention's name for `contributeUnstructured`. */
export const layer = contributeUnstructured

/**
 * `contributeUnstructured` from configuration:
 *
 *   Unstructured.layerConfig({
 *     serverUrl: Config.string("UNSTRUCTURED_URL"),
 *     apiKey: Config.option(Config.redacted("UNSTRUCTURED_API_KEY")).pipe(Config.map(Option.getOrUndefined))
 *   })
 */
export const layerConfig = (
  config: Config.Config.Wrap<UnstructuredOptions>
): Layer.Layer<Parser.ParserRegistry, ConfigError.ConfigError, Parser.ParserRegistry> =>
  Layer.unwrapEffect(
    Config.unwrap(config).pipe(
      Effect.filterOrFail(
        (options) => URL.canParse(options.serverUrl),
        (options) => ConfigError.InvalidData(["serverUrl"], `not a URL: ${options.serverUrl}`)
      ),
      Effect.map(contributeUnstructured)
    )
  )
