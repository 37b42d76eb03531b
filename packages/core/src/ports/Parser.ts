/**
 * A parser turns a file's bytes into sections: runs of text, titles, tables, images, lists and code,
 * with their page and positions when the format has pages. Chunk methods (`ChunkMethod`) then cut
 * the sections into chunks.
 *
 * Parsers are found by file extension (then MIME type) in the `ParserRegistry`. Core ships the
 * plain-text parser (`TextParser`); parser packages contribute the others with `contribute`.
 *
 * What a parse may read comes from two places, kept apart:
 * - the document's settings, `ParseInput.options`: its `parser_config`, which a tenant writes
 *   (checked per chunk method by `ChunkMethods.ParserConfig`: `layout_recognize`, `pages`, ...);
 * - the deployment's limits, which protect the machine from a file (how far an archive may
 *   inflate, how many cells, how deep attachments nest): a parser takes them when it is built,
 *   from the host's layer options, and never reads a limit from `options`.
 */
import { Context, Effect, Layer, Option } from "effect"
import type { ChunkPosition } from "../domain/Chunk.js"
import { ParseError } from "../domain/Errors.js"

export type SectionKind = "text" | "title" | "table" | "image" | "list" | "code"

export interface SectionTable {
  readonly rows: ReadonlyArray<ReadonlyArray<string>>
  readonly html?: string
}

export interface SectionImage {
  /** Where the image is stored, once it is. */
  readonly blobKey?: string
  readonly mime?: string
  /** The image bytes as extracted, for the ingestion to store in the blob store. */
  readonly bytes?: Uint8Array
}

export interface Section {
  /** The text of the section (a table's text rendering, an image's caption or OCR text). */
  readonly text: string
  readonly kind: SectionKind
  /** Heading level for titles (1 is the top). */
  readonly level?: number
  /** Page number, from 1. */
  readonly page?: number
  readonly positions?: ReadonlyArray<ChunkPosition>
  readonly table?: SectionTable
  readonly image?: SectionImage
}

export interface ParsedDocument {
  readonly sections: ReadonlyArray<Section>
  /** What the format says about the document: title, author, e-mail headers, page count, ... */
  readonly metadata?: Readonly<Record<string, unknown>>
}

export interface ParseInput {
  readonly bytes: Uint8Array
  readonly fileName: string
  /** The MIME type the uploader declared, if any. */
  readonly mimeType?: string
  /**
   * The document's settings (its `parser_config`), written by a tenant: never a safety limit,
   * which a parser takes from the deployment when it is built.
   */
  readonly options?: Readonly<Record<string, unknown>>
}

export interface Parser {
  readonly name: string
  /**
   * A layout engine a document selects with `parser_config.layout_recognize` (e.g. `Unstructured`).
   * A parser with an engine reads a file only when the document selects it, or when no parser
   * without one reads that file type.
   */
  readonly engine?: string
  /** Lower-case, without the dot (`pdf`, `docx`, `tar.gz`). */
  readonly extensions: ReadonlyArray<string>
  readonly mimeTypes: ReadonlyArray<string>
  readonly parse: (input: ParseInput) => Effect.Effect<ParsedDocument, ParseError>
}

/** The service; `ParserRegistry` is its tag. */
export interface ParserRegistryService {
  /** In order of precedence. */
  readonly parsers: ReadonlyArray<Parser>
  /** The parser for a file: by the longest matching extension, then by MIME type. */
  readonly forFile: (fileName: string, mimeType?: string) => Option.Option<Parser>
  /** Parses with the parser for the file; `ParseError` reason `Unsupported` when none fits. */
  readonly parse: (input: ParseInput) => Effect.Effect<ParsedDocument, ParseError>
}

export class ParserRegistry extends Context.Tag("@ragkit/core/ParserRegistry")<
  ParserRegistry,
  ParserRegistryService
>() {}

const baseMime = (mime: string) => mime.split(";")[0]!.trim().toLowerCase()

/** The engine a document's options select (`layout_recognize`), lower-cased, if any. */
export const selectedEngine = (options: Readonly<Record<string, unknown>> | undefined): string | undefined => {
  const value = options?.["layout_recognize"]
  return typeof value === "string" && value.trim() !== "" ? value.trim().toLowerCase() : undefined
}

/**
 * A registry over parsers. A file goes to the parser with the longest matching extension, then by
 * MIME type; earlier parsers win ties. Parsers with an `engine` come into play only when the
 * document selects that engine, or when no other parser reads the file.
 */
export const makeRegistry = (parsers: ReadonlyArray<Parser>): ParserRegistryService => {
  const byExtension = (candidates: ReadonlyArray<Parser>, name: string): Parser | undefined => {
    let best: { parser: Parser; length: number } | undefined
    for (const parser of candidates) {
      for (const extension of parser.extensions) {
        const ext = extension.toLowerCase().replace(/^\./, "")
        if (name.endsWith(`.${ext}`) && (best === undefined || ext.length > best.length)) {
          best = { parser, length: ext.length }
        }
      }
    }
    return best?.parser
  }
  const byMime = (candidates: ReadonlyArray<Parser>, mimeType: string | undefined): Parser | undefined => {
    if (mimeType === undefined || mimeType.trim() === "") return undefined
    const mime = baseMime(mimeType)
    return candidates.find((parser) => parser.mimeTypes.some((m) => baseMime(m) === mime))
  }
  const plain = parsers.filter((p) => p.engine === undefined)
  const engines = parsers.filter((p) => p.engine !== undefined)

  const forFile = (fileName: string, mimeType?: string): Option.Option<Parser> => {
    const name = fileName.toLowerCase()
    return Option.fromNullable(
      byExtension(plain, name) ?? byExtension(engines, name) ?? byMime(plain, mimeType) ?? byMime(engines, mimeType)
    )
  }

  const choose = (input: ParseInput): Option.Option<Parser> => {
    const engine = selectedEngine(input.options)
    if (engine !== undefined) {
      const selected = engines.filter((p) => p.engine!.toLowerCase() === engine)
      const name = input.fileName.toLowerCase()
      const parser = byExtension(selected, name) ?? byMime(selected, input.mimeType)
      if (parser !== undefined) return Option.some(parser)
    }
    return forFile(input.fileName, input.mimeType)
  }

  const parse = Effect.fn("ParserRegistry.parse")(function*(input: ParseInput) {
    const parser = choose(input)
    if (Option.isNone(parser)) {
      return yield* new ParseError({ reason: "Unsupported", message: `no parser for file ${input.fileName}` })
    }
    yield* Effect.annotateCurrentSpan({ parser: parser.value.name, fileName: input.fileName, size: input.bytes.length })
    if (input.bytes.length === 0) {
      return yield* new ParseError({ reason: "Empty", message: `file ${input.fileName} is empty` })
    }
    return withoutNul(yield* parser.value.parse(input))
  })

  return ParserRegistry.of({ parsers, forFile, parse })
}

/** U+0000 dropped from a string: it is never text, and Postgres (`text`, `jsonb`) cannot store it. */
const dropNul = (s: string): string => (s.includes("\u0000") ? s.replaceAll("\u0000", "") : s)

/** Every string of a JSON-like value with U+0000 dropped. */
const dropNulDeep = (value: unknown): unknown => {
  if (typeof value === "string") return dropNul(value)
  if (Array.isArray(value)) return value.map(dropNulDeep)
  if (typeof value === "object" && value !== null && !(value instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [dropNul(k), dropNulDeep(v)]))
  }
  return value
}

/**
 * A parsed document without U+0000 in its text, tables or metadata (a PDF font without a Unicode
 * mapping, a binary field of a spreadsheet): every parser's output goes through it.
 */
const withoutNul = (parsed: ParsedDocument): ParsedDocument => {
  const sections = parsed.sections.map((section): Section => {
    const table = section.table
    const tableHasNul = table !== undefined &&
      (table.html?.includes("\u0000") === true || table.rows.some((row) => row.some((cell) => cell.includes("\u0000"))))
    if (!section.text.includes("\u0000") && !tableHasNul) return section
    return {
      ...section,
      text: dropNul(section.text),
      ...(table === undefined ? {} : {
        table: {
          rows: table.rows.map((row) => row.map(dropNul)),
          ...(table.html === undefined ? {} : { html: dropNul(table.html) })
        }
      })
    }
  })
  return {
    ...parsed,
    sections,
    ...(parsed.metadata === undefined ? {} : { metadata: dropNulDeep(parsed.metadata) as Record<string, unknown> })
  }
}

/** A registry of exactly these parsers. */
export const layer = (parsers: ReadonlyArray<Parser>): Layer.Layer<ParserRegistry> =>
  Layer.succeed(ParserRegistry, makeRegistry(parsers))

/**
 * Adds parsers to the registry below it; they take precedence over the ones already there.
 *
 *   const Parsers = ParserRegistry.contribute(PdfParsers).pipe(Layer.provide(layer([TextParser])))
 */
export const contribute = (
  parsers: ReadonlyArray<Parser>
): Layer.Layer<ParserRegistry, never, ParserRegistry> =>
  Layer.effect(
    ParserRegistry,
    Effect.map(ParserRegistry, (registry) => makeRegistry([...parsers, ...registry.parsers]))
  )

// ---------------------------------------------------------------------------------------------
// Plain text.

/** Above this share of undecodable or control characters, a "text" file is taken for binary. */
const BINARY_RATIO = 0.05

/**
 * Decodes a text file: UTF-8, or UTF-16 with a byte-order mark. Binary content (NUL bytes, many
 * undecodable or control characters) fails with `Corrupt`, the message naming the file when given.
 */
export const decodeText = (bytes: Uint8Array, fileName?: string): Effect.Effect<string, ParseError> => {
  const corrupt = (message: string) =>
    new ParseError({ reason: "Corrupt", message: fileName === undefined ? message : `${fileName}: ${message}` })
  let encoding = "utf-8"
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) encoding = "utf-16le"
  else if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) encoding = "utf-16be"
  else if (bytes.includes(0)) return Effect.fail(corrupt("binary content (NUL bytes) in a text file"))
  const text = new TextDecoder(encoding).decode(bytes)
  if (text.length === 0) return Effect.succeed(text)
  if (text.includes("\u0000")) return Effect.fail(corrupt("binary content (NUL characters) in a text file"))
  let replaced = 0
  let control = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0xfffd) replaced++
    else if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0b && c !== 0x0c && c !== 0x0d) || c === 0x7f) control++
  }
  if (replaced / text.length > BINARY_RATIO) return Effect.fail(corrupt(`not valid ${encoding} text`))
  if (control / text.length > BINARY_RATIO) return Effect.fail(corrupt("binary content (control characters)"))
  return Effect.succeed(text)
}

/**
 * Plain text: UTF-8 (or UTF-16 with a byte-order mark); one `text` section per paragraph (runs of
 * lines separated by blank lines). Binary content fails with `Corrupt`, blank files with `Empty`.
 */
export const TextParser: Parser = {
  name: "text",
  extensions: ["txt", "text", "log"],
  mimeTypes: ["text/plain"],
  parse: (input) =>
    Effect.gen(function*() {
      const text = yield* decodeText(input.bytes)
      const paragraphs = text
        .replace(/\r\n?/g, "\n")
        .split(/\n[ \t\f\v]*\n/)
        .map((paragraph) => paragraph.replace(/^\n+/, "").trimEnd())
        .filter((paragraph) => paragraph.trim().length > 0)
      if (paragraphs.length === 0) {
        return yield* new ParseError({ reason: "Empty", message: `file ${input.fileName} has no text` })
      }
      return { sections: paragraphs.map((paragraph) => ({ text: paragraph, kind: "text" as const })) }
    }).pipe(Effect.withSpan("TextParser.parse", { attributes: { fileName: input.fileName } }))
}
