/**
 * `email`: RAGFlow's email method. The header fields (`From: ...`, `To: ...`, `Subject: ...`) and the
 * body are merged as by `naive`, so the first chunk starts with the headers; each attachment is then
 * chunked by `naive` on its own. parser_config as `naive`.
 *
 * What it reads from the parsed document (the e-mail parser's side of the contract):
 * - headers: `metadata.headers`, either `{ [name]: string | string[] }` or `[name, value][]`, or else
 *   the fields `from`, `to`, `cc`, `bcc`, `subject`, `date` of `metadata`. They are put before the body
 *   unless one of the first three sections already holds them as `Name: value` lines
 *   (`EmlParser` writes the subject as a title, then a section of header lines).
 * - attachments: `metadata.attachments: Array<{ name?: string; sections: Section[] }>`, or sections
 *   that follow a `title` section reading `Attachment: <name>` (or `附件：<name>`); each such title starts
 *   an attachment, whose chunks begin with that title.
 */
import type { ChunkMethod, Parser, Tokenizer } from "@ragkit/core"
import { delimiterField, overlapPercent, positiveInt } from "./internal/Config.js"
import { parseDelimiters } from "./internal/Delimiters.js"
import { naiveChunks, type NaiveOptions } from "./internal/Merge.js"
import { layerOf, method } from "./internal/Method.js"

type Section = Parser.Section
type DraftChunk = ChunkMethod.DraftChunk

export const id = "email"

export const accepts: ReadonlyArray<string> = ["eml", "msg"]

const HEADER_FIELDS = ["from", "to", "cc", "bcc", "subject", "date"]
const HEADER_LINE = /^(?:from|to|cc|bcc|subject|date|reply-to|message-id)\s*:/im
const ATTACHMENT_TITLE = /^\s*(?:attachment|附件)\s*[:：]/i

const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> => typeof u === "object" && u !== null && !Array.isArray(u)

const valueText = (v: unknown): string =>
  Array.isArray(v) ? v.map(valueText).filter((s) => s !== "").join(", ") : typeof v === "string" ? v.trim() : typeof v === "number" ? String(v) : v instanceof Date ? v.toISOString() : ""

const capitalize = (name: string) => name.replace(/(^|-)([a-z])/g, (_, a: string, b: string) => a + b.toUpperCase())

/** `Name: value` lines from the document's metadata. */
export const headerLines = (metadata: Readonly<Record<string, unknown>> | undefined): Array<string> => {
  if (metadata === undefined) return []
  const headers = metadata["headers"]
  const entries: Array<[string, unknown]> = Array.isArray(headers)
    ? headers.flatMap((h): Array<[string, unknown]> =>
      Array.isArray(h) && typeof h[0] === "string"
        ? [[h[0], h[1]]]
        : isRecord(h) && typeof h["name"] === "string"
        ? [[h["name"], h["value"]]]
        : []
    )
    : isRecord(headers)
    ? Object.entries(headers)
    : HEADER_FIELDS.map((k): [string, unknown] => [k, metadata[k]])
  return entries.flatMap(([name, value]) => {
    const text = valueText(value)
    return text === "" ? [] : [`${capitalize(name)}: ${text}`]
  })
}

const isSectionArray = (u: unknown): u is ReadonlyArray<Section> =>
  Array.isArray(u) && u.every((s) => isRecord(s) && typeof s["text"] === "string" && typeof s["kind"] === "string")

export const emailChunks = (
  doc: Parser.ParsedDocument,
  options: NaiveOptions,
  tokenizer: Tokenizer.TokenizerService
): Array<DraftChunk> => {
  const body: Array<Section> = []
  const attachments: Array<Array<Section>> = []
  for (const section of doc.sections) {
    if (section.kind === "title" && ATTACHMENT_TITLE.test(section.text)) attachments.push([section])
    else if (attachments.length > 0) attachments[attachments.length - 1]!.push(section)
    else body.push(section)
  }
  const listed = doc.metadata?.["attachments"]
  if (Array.isArray(listed)) {
    for (const a of listed as ReadonlyArray<unknown>) {
      if (!isRecord(a)) continue
      const sections = a["sections"]
      if (isSectionArray(sections)) attachments.push([...sections])
    }
  }
  const headers = headerLines(doc.metadata)
  // The e-mail parser puts the subject (a title) and then the header lines first.
  const hasHeaders = body.slice(0, 3).some((s) => HEADER_LINE.test(s.text))
  const main: Array<Section> = headers.length > 0 && !hasHeaders ? [{ kind: "text", text: headers.join("\n") }, ...body] : body
  const out = naiveChunks(main, options, tokenizer)
  for (const sections of attachments) for (const chunk of naiveChunks(sections, options, tokenizer)) out.push(chunk)
  return out
}

export const make = (tokenizer: Tokenizer.TokenizerService): ChunkMethod.ChunkMethod =>
  method("EmailChunker", id, accepts, (doc, config) =>
    emailChunks(
      doc,
      {
        chunkTokenNum: positiveInt(config, "chunk_token_num", 512),
        delimiters: parseDelimiters(delimiterField(config, "\n")),
        overlapPercent: overlapPercent(config)
      },
      tokenizer
    ))

/** A registry holding only this method. */
export const layer = layerOf(make)
