/**
 * Safe opening of ZIP containers (DOCX, XLSX, PPTX). Before anything is inflated, the central
 * directory is read from the bytes and checked: the number of entries, each entry's declared
 * uncompressed size and their sum. A small file that declares huge entries (a zip bomb) fails at
 * once with `TooLarge`. Entries are then inflated with node:zlib under a hard output cap, so an
 * archive that lies about its sizes fails the same way, with bounded memory.
 *
 * An OLE compound file (`D0 CF 11 E0`) under an OOXML name is either a password-protected OOXML
 * file (`Encrypted`) or a legacy binary Office file (`Unsupported`).
 */
import { ParseError } from "@ragkit/core"
import { Effect } from "effect"
import * as zlib from "node:zlib"
import { defaults as defaultParserLimits, type ParserLimits } from "../ParserLimits.js"
import { corrupt, messageOf, tooLarge } from "./text.js"

export interface ZipLimits {
  /** Sum of the uncompressed sizes of all entries. */
  readonly maxTotalBytes: number
  /** Uncompressed size of one entry. */
  readonly maxEntryBytes: number
  /** Number of entries. */
  readonly maxEntries: number
}

/** The archive limits of the deployment's parser limits (never of a document's options). */
export const zipLimits = (limits: ParserLimits): ZipLimits => ({
  maxTotalBytes: limits.zipMaxTotalBytes,
  maxEntryBytes: limits.zipMaxEntryBytes,
  maxEntries: limits.zipMaxEntries
})

export const defaultZipLimits: ZipLimits = zipLimits(defaultParserLimits)

export interface ZipEntry {
  readonly name: string
  readonly method: number
  readonly flags: number
  readonly crc32: number
  readonly compressedSize: number
  readonly uncompressedSize: number
  readonly localHeaderOffset: number
}

export interface ZipArchive {
  readonly entries: ReadonlyArray<ZipEntry>
  readonly has: (name: string) => boolean
  /** The inflated entry, `undefined` when there is no such entry. */
  readonly read: (name: string) => Effect.Effect<Uint8Array | undefined, ParseError>
  /** The entry as UTF-8 text, `undefined` when there is no such entry. */
  readonly readText: (name: string) => Effect.Effect<string | undefined, ParseError>
  /**
   * Inflates every entry under the caps and checks its CRC, keeping nothing: run it before
   * handing the bytes to a library that inflates on its own (exceljs, mammoth).
   */
  readonly verifyAll: Effect.Effect<void, ParseError>
}

export interface OpenZipOptions {
  /** The format's name for messages: `DOCX`, `XLSX`, `PPTX`. */
  readonly format: string
  readonly fileName: string
  readonly limits?: ZipLimits
}

const OLE_SIGNATURE = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]
const SIG_LOCAL = 0x04034b50
const SIG_CENTRAL = 0x02014b50
const SIG_EOCD = 0x06054b50
const SIG_ZIP64_LOCATOR = 0x07064b50
const SIG_ZIP64_EOCD = 0x06064b50

const startsWith = (bytes: Uint8Array, prefix: ReadonlyArray<number>): boolean =>
  bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b)

const mb = (n: number) => `${(n / (1024 * 1024)).toFixed(1)} MB`

/** True when the bytes are an OLE compound file (legacy Office, or encrypted OOXML). */
export const isOleCompoundFile = (bytes: Uint8Array): boolean => startsWith(bytes, OLE_SIGNATURE)

const oleError = (bytes: Uint8Array, format: string, fileName: string): ParseError => {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const encrypted = buffer.indexOf(Buffer.from("EncryptedPackage", "utf16le")) >= 0 ||
    buffer.indexOf(Buffer.from("EncryptionInfo", "utf16le")) >= 0
  return encrypted
    ? new ParseError({ reason: "Encrypted", message: `${fileName}: the ${format} file is password-protected (encrypted)` })
    : new ParseError({
      reason: "Unsupported",
      message: `${fileName}: a legacy binary Office file (OLE compound document), not ${format}; save it as ${format}`
    })
}

interface Directory {
  readonly entries: Array<ZipEntry>
}

/** Reads and checks the central directory; inflates nothing. */
const readDirectory = (bytes: Uint8Array, options: OpenZipOptions, limits: ZipLimits): Directory | ParseError => {
  const { fileName, format } = options
  const bad = (what: string) => corrupt(`${fileName}: not a valid ${format} (${what})`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const u16 = (at: number) => view.getUint16(at, true)
  const u32 = (at: number) => view.getUint32(at, true)
  const u64 = (at: number) => Number(view.getBigUint64(at, true))

  let eocd = -1
  for (let at = bytes.length - 22; at >= Math.max(0, bytes.length - 22 - 0xffff); at--) {
    if (u32(at) === SIG_EOCD) {
      eocd = at
      break
    }
  }
  if (eocd < 0) return bad("no zip central directory; the file is truncated or damaged")
  let count = u16(eocd + 10)
  let cdSize = u32(eocd + 12)
  let cdOffset = u32(eocd + 16)
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const locator = eocd - 20
    if (locator < 0 || u32(locator) !== SIG_ZIP64_LOCATOR) return bad("damaged ZIP64 directory")
    const zip64 = u64(locator + 8)
    if (zip64 + 56 > bytes.length || u32(zip64) !== SIG_ZIP64_EOCD) return bad("damaged ZIP64 directory")
    count = u64(zip64 + 32)
    cdSize = u64(zip64 + 40)
    cdOffset = u64(zip64 + 48)
  }
  if (count > limits.maxEntries) {
    return tooLarge(`${fileName}: the ${format} archive has ${count} entries (limit ${limits.maxEntries})`)
  }
  if (cdOffset + cdSize > bytes.length) return bad("the central directory lies outside the file")

  const entries: Array<ZipEntry> = []
  let total = 0
  let at = cdOffset
  const names = new TextDecoder("utf-8")
  for (let i = 0; i < count; i++) {
    if (at + 46 > bytes.length || u32(at) !== SIG_CENTRAL) return bad("damaged central directory")
    const flags = u16(at + 8)
    const method = u16(at + 10)
    const crc32 = u32(at + 16)
    let compressedSize = u32(at + 20)
    let uncompressedSize = u32(at + 24)
    const nameLength = u16(at + 28)
    const extraLength = u16(at + 30)
    const commentLength = u16(at + 32)
    let localHeaderOffset = u32(at + 42)
    if (at + 46 + nameLength + extraLength > bytes.length) return bad("damaged central directory")
    const name = names.decode(bytes.subarray(at + 46, at + 46 + nameLength))
    // ZIP64 sizes live in the extra field (id 1), in this order, for the fields that are 0xFFFFFFFF.
    let extra = at + 46 + nameLength
    const extraEnd = extra + extraLength
    while (extra + 4 <= extraEnd) {
      const id = u16(extra)
      const size = u16(extra + 2)
      if (extra + 4 + size > extraEnd) return bad(`the extra field of entry ${name} overruns its header`)
      if (id === 0x0001) {
        let field = extra + 4
        const next = () => {
          const value = field + 8 <= extra + 4 + size ? u64(field) : Number.NaN
          field += 8
          return value
        }
        if (uncompressedSize === 0xffffffff) uncompressedSize = next()
        if (compressedSize === 0xffffffff) compressedSize = next()
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = next()
        if ([uncompressedSize, compressedSize, localHeaderOffset].some(Number.isNaN)) return bad("damaged ZIP64 entry")
      }
      extra += 4 + size
    }
    if ((flags & 0x1) !== 0) {
      return new ParseError({ reason: "Encrypted", message: `${fileName}: the ${format} archive is encrypted (entry ${name})` })
    }
    if (uncompressedSize > limits.maxEntryBytes) {
      return tooLarge(
        `${fileName}: ${format} entry ${name} declares ${mb(uncompressedSize)} uncompressed (limit ${mb(limits.maxEntryBytes)})`
      )
    }
    total += uncompressedSize
    if (total > limits.maxTotalBytes) {
      return tooLarge(`${fileName}: the ${format} archive declares more than ${mb(limits.maxTotalBytes)} uncompressed`)
    }
    entries.push({ name, method, flags, crc32, compressedSize, uncompressedSize, localHeaderOffset })
    at += 46 + nameLength + extraLength + commentLength
  }
  return { entries }
}

/**
 * Opens a ZIP container after checking what it declares against the limits. Fails with `Corrupt`
 * for bytes that are no zip archive, `Encrypted` or `Unsupported` for an OLE compound file, and
 * `TooLarge` for too many entries or too many declared bytes.
 */
export const openZip = (bytes: Uint8Array, options: OpenZipOptions): Effect.Effect<ZipArchive, ParseError> =>
  Effect.suspend(() => {
    const { fileName, format } = options
    const limits = options.limits ?? defaultZipLimits
    if (isOleCompoundFile(bytes)) return Effect.fail(oleError(bytes, format, fileName))
    if (!startsWith(bytes, [0x50, 0x4b, 0x03, 0x04]) && !startsWith(bytes, [0x50, 0x4b, 0x05, 0x06])) {
      return Effect.fail(corrupt(`${fileName}: not a valid ${format} (not a zip archive)`))
    }
    let directory: Directory | ParseError
    try {
      directory = readDirectory(bytes, options, limits)
    } catch (cause) {
      // A structure the checks above missed: still a damaged file, never a crash.
      directory = corrupt(`${fileName}: not a valid ${format} (damaged zip structure: ${messageOf(cause)})`, cause)
    }
    if (directory instanceof ParseError) return Effect.fail(directory)
    const byName = new Map(directory.entries.map((entry) => [entry.name, entry]))
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const inflated = new Map<string, number>()
    let inflatedTotal = 0

    const inflate = (entry: ZipEntry, used: number): Uint8Array | ParseError => {
      const bad = (what: string, cause?: unknown) => corrupt(`${fileName}: ${format} entry ${entry.name} ${what}`, cause)
      const at = entry.localHeaderOffset
      if (at + 30 > bytes.length || view.getUint32(at, true) !== SIG_LOCAL) return bad("has no valid local header")
      const start = at + 30 + view.getUint16(at + 26, true) + view.getUint16(at + 28, true)
      const end = start + entry.compressedSize
      if (end > bytes.length) return bad("is truncated")
      const raw = bytes.subarray(start, end)
      const cap = Math.min(limits.maxEntryBytes, limits.maxTotalBytes - used)
      const overCap = () =>
        tooLarge(`${fileName}: ${format} entry ${entry.name} inflates beyond the limit (${mb(limits.maxEntryBytes)} per entry, ${mb(limits.maxTotalBytes)} in all)`)
      let data: Uint8Array
      if (entry.method === 0) {
        if (raw.length > cap) return overCap()
        data = raw
      } else if (entry.method === 8) {
        try {
          data = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, cap) })
        } catch (cause) {
          if ((cause as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE" || cause instanceof RangeError) return overCap()
          return bad(`cannot be inflated: ${messageOf(cause)}`, cause)
        }
      } else {
        return new ParseError({
          reason: "Unsupported",
          message: `${fileName}: ${format} entry ${entry.name} uses compression method ${entry.method}`
        })
      }
      if (zlib.crc32(data) >>> 0 !== entry.crc32 >>> 0) return bad("fails its CRC check")
      return data
    }

    const read = (name: string): Effect.Effect<Uint8Array | undefined, ParseError> =>
      Effect.suspend(() => {
        const entry = byName.get(name)
        if (entry === undefined) return Effect.succeed(undefined)
        const previous = inflated.get(name) ?? 0
        const data = inflate(entry, inflatedTotal - previous)
        if (data instanceof ParseError) return Effect.fail(data)
        inflatedTotal += data.length - previous
        inflated.set(name, data.length)
        return Effect.succeed(data)
      })

    const decoder = new TextDecoder("utf-8")
    const archive: ZipArchive = {
      entries: directory.entries,
      has: (name) => byName.has(name),
      read,
      readText: (name) => Effect.map(read(name), (data) => (data === undefined ? undefined : decoder.decode(data))),
      verifyAll: Effect.suspend(() => {
        let used = 0
        for (const entry of directory.entries) {
          if (entry.name.endsWith("/") && entry.uncompressedSize === 0) continue
          const data = inflate(entry, used)
          if (data instanceof ParseError) return Effect.fail(data)
          used += data.length
        }
        return Effect.void
      })
    }
    return Effect.succeed(archive)
  })

const XML_ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'" }

/** Thrown by `decodeXmlEntities` for a character reference beyond Unicode (the XML is malformed). */
export class InvalidCharacterReference extends Error {
  constructor(readonly reference: string) {
    super(`an invalid character reference ${reference.length > 24 ? `${reference.slice(0, 24)}...` : reference}`)
  }
}

/**
 * Decodes the five XML entities and numeric character references; throws
 * `InvalidCharacterReference` for a reference above U+10FFFF.
 */
export const decodeXmlEntities = (text: string): string =>
  text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (match, name: string) => {
    if (!name.startsWith("#")) return XML_ENTITIES[name] ?? match
    const code = name.startsWith("#x") ? Number.parseInt(name.slice(2), 16) : Number.parseInt(name.slice(1), 10)
    if (!(code <= 0x10ffff)) throw new InvalidCharacterReference(match)
    return String.fromCodePoint(code)
  })

/**
 * Reads an XML part with `read`; malformed XML that it throws on (an invalid character reference,
 * nesting that exhausts the stack) fails with `Corrupt` naming the part.
 */
export const readXml = <A>(fileName: string, format: string, part: string, read: () => A): Effect.Effect<A, ParseError> =>
  Effect.try({
    try: read,
    catch: (cause) => corrupt(`${fileName}: ${format} part ${part} has ${messageOf(cause)}`, cause)
  })

/** Title, author and dates from an OOXML package's `docProps/core.xml`, when present. */
export const coreProperties = (
  archive: ZipArchive,
  fileName: string,
  format: string
): Effect.Effect<Record<string, string>, ParseError> =>
  Effect.flatMap(archive.readText("docProps/core.xml"), (xml) => readXml(fileName, format, "docProps/core.xml", () => {
    const out: Record<string, string> = {}
    if (xml === undefined) return out
    const fields: Array<[string, string]> = [
      ["title", "dc:title"],
      ["subject", "dc:subject"],
      ["author", "dc:creator"],
      ["created", "dcterms:created"],
      ["modified", "dcterms:modified"]
    ]
    for (const [key, tag] of fields) {
      const match = new RegExp(`<${tag}(?:\\s[^<>]*)?>([^<]*)</${tag}>`).exec(xml)
      const value = match === null ? "" : decodeXmlEntities(match[1]!).trim()
      if (value !== "") out[key] = value
    }
    return out
  }))
