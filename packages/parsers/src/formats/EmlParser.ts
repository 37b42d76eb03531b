/**
 * E-mail messages (`eml`): the subject as a `title` section, the headers as the first `text`
 * section ("From: ...\nTo: ...\nSubject: ...\nDate: ..."), as RAGFlow's email method puts them
 * into the first chunk, then the body (the text part, or the HTML part through the HTML parser),
 * then each attachment: parsed with the parser the registry has for it (a nested mail too, down to
 * the deployment's `emlMaxDepth` of `ParserLimits`, three levels by default), or listed as
 * "Attachment: name (type, size) — not parsed" when no parser handles it or it cannot be read, so
 * one bad attachment never fails the mail.
 *
 * `EmlParser` parses attachments with this package's formats and plain text; `contributeEml`
 * adds an e-mail parser to the `ParserRegistry` whose attachments go through that whole registry
 * (PDFs, images, ...).
 */
import { Parser } from "@ragkit/core"
import { ParseError } from "@ragkit/core"
import { Effect, FiberRef, Layer } from "effect"
import type { AddressObject, Attachment, EmailAddress, ParsedMail } from "mailparser"
import { lazyModule } from "../internal/lazy.js"
import * as ParserLimits from "../ParserLimits.js"
import { makeFormats } from "./index.js"
import { htmlToSections } from "./HtmlParser.js"
import { corrupt, empty, messageOf, paragraphs } from "../internal/text.js"

/**
 * How deep the mail being parsed is (1: not attached to a mail). The parse of an attachment sees
 * its mail's depth + 1; a document's options never set it.
 */
const nesting = FiberRef.unsafeMake(1)

const formatAddress = (address: EmailAddress): Array<string> => {
  if (address.group !== undefined) return address.group.flatMap(formatAddress)
  const name = address.name.trim()
  const mailbox = address.address?.trim() ?? ""
  if (mailbox === "") return name === "" ? [] : [name]
  return [name === "" || name === mailbox ? mailbox : `${name} <${mailbox}>`]
}

/** Addresses as `Name <mailbox>`, comma-separated. */
const addresses = (value: AddressObject | ReadonlyArray<AddressObject> | undefined): string | undefined => {
  if (value === undefined) return undefined
  const list: ReadonlyArray<AddressObject> = Array.isArray(value) ? value : [value as AddressObject]
  const text = list.flatMap((object) => object.value.flatMap(formatAddress)).join(", ")
  return text === "" ? undefined : text
}

const formatSize = (size: number): string =>
  size < 1024 ? `${size} B` : size < 1024 * 1024 ? `${(size / 1024).toFixed(1)} KB` : `${(size / (1024 * 1024)).toFixed(1)} MB`

/** The attachment's MIME type; mailparser gives no string for a damaged `Content-Type` header. */
const contentTypeOf = (attachment: Attachment): string =>
  typeof attachment.contentType === "string" && attachment.contentType.trim() !== ""
    ? attachment.contentType
    : "application/octet-stream"

const attachmentName = (attachment: Attachment, index: number): string => {
  if (attachment.filename !== undefined && attachment.filename.trim() !== "") return attachment.filename.trim()
  return contentTypeOf(attachment) === "message/rfc822" ? `attachment-${index + 1}.eml` : `attachment-${index + 1}`
}

/** A title of its own, so the email chunk method keeps it apart from the attachment before it. */
const notParsed = (name: string, attachment: Attachment, why?: string): Parser.Section => ({
  kind: "title",
  level: 2,
  text: `Attachment: ${name} (${contentTypeOf(attachment)}, ${formatSize(attachment.size ?? attachment.content.length)}) — not parsed${
    why === undefined ? "" : `: ${why}`
  }`
})

const mailparser = lazyModule("mailparser", () => import("mailparser"))

/**
 * An e-mail parser whose attachments are parsed by the registry `registry()` returns (asked at
 * parse time, so the registry may contain this parser); attached mails are parsed down to the
 * deployment's `limits.emlMaxDepth`.
 */
export const makeEmlParser = (
  registry: () => Parser.ParserRegistryService,
  limits: ParserLimits.ParserLimits = ParserLimits.defaults
): Parser.Parser => ({
  name: "eml",
  extensions: ["eml"],
  mimeTypes: ["message/rfc822"],
  parse: Effect.fn("EmlParser.parse")(function*(input: Parser.ParseInput) {
    if (input.bytes.length === 0) return yield* empty(input.fileName, "no content")
    if (input.bytes.includes(0)) return yield* corrupt(`${input.fileName}: binary content (NUL bytes), not an e-mail message`)
    const { simpleParser } = yield* mailparser
    const mail: ParsedMail = yield* Effect.tryPromise({
      try: () => simpleParser(Buffer.from(input.bytes), { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true }),
      catch: (cause) =>
        new ParseError({ reason: "Corrupt", message: `${input.fileName}: cannot read the e-mail: ${messageOf(cause)}`, cause })
    })
    if (mail.headers.size === 0) return yield* corrupt(`${input.fileName}: not an e-mail message (no headers)`)

    const from = addresses(mail.from)
    const to = addresses(mail.to)
    const cc = addresses(mail.cc)
    const subject = mail.subject?.trim() || undefined
    const date = mail.date !== undefined && !Number.isNaN(mail.date.getTime()) ? mail.date.toISOString() : undefined
    const sections: Array<Parser.Section> = []
    if (subject !== undefined) sections.push({ kind: "title", text: subject, level: 1 })
    const headerLines = [
      ["From", from],
      ["To", to],
      ["Cc", cc],
      ["Subject", subject],
      ["Date", date]
    ].filter((pair): pair is [string, string] => pair[1] !== undefined)
    if (headerLines.length > 0) sections.push({ kind: "text", text: headerLines.map(([k, v]) => `${k}: ${v}`).join("\n") })

    if (mail.text !== undefined && mail.text.trim() !== "") {
      for (const paragraph of paragraphs(mail.text)) sections.push({ kind: "text", text: paragraph })
    } else if (typeof mail.html === "string" && mail.html.trim() !== "") {
      sections.push(...htmlToSections(mail.html).sections)
    }

    const depth = yield* FiberRef.get(nesting)
    const names: Array<string> = []
    for (const [index, attachment] of mail.attachments.entries()) {
      // Pictures referenced from the HTML body (logos, signatures) are part of the body, not attachments.
      if (attachment.related && contentTypeOf(attachment).startsWith("image/")) continue
      const name = attachmentName(attachment, index)
      names.push(name)
      if (depth >= limits.emlMaxDepth) {
        sections.push(notParsed(name, attachment, `nested deeper than ${limits.emlMaxDepth} levels`))
        continue
      }
      const parsed = yield* Effect.either(
        registry().parse({
          bytes: new Uint8Array(attachment.content.buffer, attachment.content.byteOffset, attachment.content.byteLength),
          fileName: name,
          mimeType: contentTypeOf(attachment),
          options: input.options
        }).pipe(Effect.locally(nesting, depth + 1))
      )
      if (parsed._tag === "Left") {
        const error = parsed.left
        sections.push(notParsed(name, attachment, error.reason === "Unsupported" ? undefined : error.message))
        continue
      }
      sections.push({ kind: "title", text: `Attachment: ${name}`, level: 2 })
      sections.push(...parsed.right.sections)
    }

    if (sections.length === 0) return yield* empty(input.fileName, "no headers, body or attachments")
    const metadata: Record<string, unknown> = {}
    if (from !== undefined) metadata.from = from
    if (to !== undefined) metadata.to = to
    if (cc !== undefined) metadata.cc = cc
    if (subject !== undefined) {
      metadata.subject = subject
      metadata.title = subject
    }
    if (date !== undefined) metadata.date = date
    if (mail.messageId !== undefined) metadata.messageId = mail.messageId
    if (names.length > 0) metadata.attachments = names
    return { sections, metadata }
  })
})

/**
 * E-mail messages whose attachments in this package's formats and plain text are parsed too, all
 * under the deployment's `limits`.
 */
export const makeStandaloneEmlParser = (limits: ParserLimits.ParserLimits): Parser.Parser => {
  const standalone: Parser.ParserRegistryService = Parser.makeRegistry([
    makeEmlParser(() => standalone, limits),
    ...makeFormats(limits)
  ])
  return standalone.parsers[0]!
}

/** E-mail messages, with the default limits; attachments in this package's formats and plain text are parsed too. */
export const EmlParser: Parser.Parser = makeStandaloneEmlParser(ParserLimits.defaults)

/**
 * Adds an e-mail parser to the registry below; attachments are parsed by the resulting registry
 * (every parser below, and this one for attached mails), mails nested down to `limits.emlMaxDepth`.
 */
export const contributeEml = (
  limits: ParserLimits.ParserLimits = ParserLimits.defaults
): Layer.Layer<Parser.ParserRegistry, never, Parser.ParserRegistry> =>
  Layer.effect(
    Parser.ParserRegistry,
    Effect.map(Parser.ParserRegistry, (below) => {
      const registry: Parser.ParserRegistryService = Parser.makeRegistry([
        makeEmlParser(() => registry, limits),
        ...below.parsers
      ])
      return registry
    })
  )
