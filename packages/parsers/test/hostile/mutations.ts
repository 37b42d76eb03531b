/**
 * Hostile files for the fuzz test, derived from valid samples by seeded (deterministic) mutations:
 * truncation, flipped bytes, lying sizes and offsets in ZIP headers (ZIP64 fields too), broken XML
 * inside OOXML parts, damaged PDF structure, deep nesting of HTML, XML, e-mail parts and PDF
 * objects, and broken CSV quoting.
 */
import * as Corpus from "@ragkit/fixtures/corpus"
import { threePagePdf } from "@ragkit/fixtures/pdfs"
import JSZip from "jszip"

export interface Mutant {
  readonly fileName: string
  readonly bytes: Uint8Array
  /** What was done to the sample, for the failure report. */
  readonly how: string
}

/** mulberry32: a small seeded generator, so every run makes the same files. */
export const random = (seed: number) => {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number) => Math.floor(next() * n)
  const pick = <A>(items: ReadonlyArray<A>): A => items[int(items.length)]!
  return { next, int, pick }
}
type Random = ReturnType<typeof random>

const utf8 = (text: string) => new TextEncoder().encode(text)
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

// ---------------------------------------------------------------------------------------------
// Byte-level mutations, for every format.

const truncate = (bytes: Uint8Array, rng: Random): [Uint8Array, string] => {
  const at = rng.next() < 0.2 ? rng.int(Math.min(64, bytes.length)) : rng.int(bytes.length)
  return [bytes.slice(0, at), `truncated to ${at} bytes`]
}

const flip = (bytes: Uint8Array, rng: Random): [Uint8Array, string] => {
  const out = bytes.slice()
  const count = 1 + rng.int(8)
  for (let i = 0; i < count; i++) out[rng.int(out.length)] = rng.int(256)
  return [out, `${count} bytes flipped`]
}

/** A random slice of the file written again somewhere else (shifts every offset after it). */
const splice = (bytes: Uint8Array, rng: Random): [Uint8Array, string] => {
  const from = rng.int(bytes.length)
  const piece = bytes.slice(from, from + 1 + rng.int(64))
  const at = rng.int(bytes.length)
  const out = new Uint8Array(bytes.length + piece.length)
  out.set(bytes.subarray(0, at))
  out.set(piece, at)
  out.set(bytes.subarray(at), at + piece.length)
  return [out, `${piece.length} bytes inserted at ${at}`]
}

const byteMutations = [truncate, flip, splice]

// ---------------------------------------------------------------------------------------------
// ZIP headers: the central directory and local headers say things that are not so.

interface Central {
  readonly at: number
  readonly nameLength: number
  readonly extraLength: number
}

const centralEntries = (zip: Uint8Array): { eocd: number; entries: Array<Central> } => {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength)
  let eocd = zip.length - 22
  while (eocd > 0 && view.getUint32(eocd, true) !== 0x06054b50) eocd--
  const count = view.getUint16(eocd + 10, true)
  let at = view.getUint32(eocd + 16, true)
  const entries: Array<Central> = []
  for (let i = 0; i < count; i++) {
    const nameLength = view.getUint16(at + 28, true)
    const extraLength = view.getUint16(at + 30, true)
    entries.push({ at, nameLength, extraLength })
    at += 46 + nameLength + extraLength + view.getUint16(at + 32, true)
  }
  return { eocd, entries }
}

const LIES = [0, 1, 0x7f, 0xffff, 0x10000, 0x7fffffff, 0xfffffffe, 0xffffffff]

const lieInZip = (zip: Uint8Array, rng: Random): [Uint8Array, string] => {
  const out = zip.slice()
  const view = new DataView(out.buffer)
  const { eocd, entries } = centralEntries(zip)
  const entry = rng.pick(entries)
  const lie = rng.pick(LIES)
  const field = rng.pick([
    ["central compressed size", entry.at + 20, 4],
    ["central uncompressed size", entry.at + 24, 4],
    ["central name length", entry.at + 28, 2],
    ["central extra length", entry.at + 30, 2],
    ["central comment length", entry.at + 32, 2],
    ["local header offset", entry.at + 42, 4],
    ["entry count", eocd + 10, 2],
    ["directory size", eocd + 12, 4],
    ["directory offset", eocd + 16, 4],
    ["local name length", view.getUint32(entry.at + 42, true) + 26, 2],
    ["local extra length", view.getUint32(entry.at + 42, true) + 28, 2]
  ] as const)
  const [name, offset, width] = field
  if (offset + width > out.length) return [out, `nothing (${name} out of range)`]
  if (width === 2) view.setUint16(offset, lie & 0xffff, true)
  else view.setUint32(offset, lie, true)
  return [out, `${name} of entry at ${entry.at} set to ${lie}`]
}

/**
 * An entry whose sizes say "see the ZIP64 extra field", with an extra field that is missing, too
 * short, or declares more bytes than the header holds (the 136-byte crash of issue 11).
 */
const zip64Lie = (zip: Uint8Array, rng: Random): [Uint8Array, string] => {
  const { entries } = centralEntries(zip)
  const entry = rng.pick(entries)
  const extraSize = rng.pick([0, 4, 8, 16, 0xffff])
  const declared = rng.pick([0, 8, 24, 28, 0xffff])
  const head = zip.subarray(0, entry.at + 46 + entry.nameLength)
  const extra = new Uint8Array(Math.min(extraSize, 20))
  const extraView = new DataView(extra.buffer)
  if (extra.length >= 4) {
    extraView.setUint16(0, 0x0001, true)
    extraView.setUint16(2, declared, true)
  }
  const tail = zip.subarray(entry.at + 46 + entry.nameLength + entry.extraLength)
  const out = new Uint8Array(head.length + extra.length + tail.length)
  out.set(head)
  out.set(extra, head.length)
  out.set(tail, head.length + extra.length)
  const view = new DataView(out.buffer)
  view.setUint32(entry.at + 20, 0xffffffff, true)
  view.setUint32(entry.at + 24, 0xffffffff, true)
  if (rng.next() < 0.5) view.setUint32(entry.at + 42, 0xffffffff, true)
  view.setUint16(entry.at + 30, extraSize, true)
  return [out, `ZIP64 sizes with an extra field of ${extra.length} bytes (header says ${extraSize}, field says ${declared})`]
}

/**
 * The smallest such file (136 bytes): one entry, whose central directory record sits after the
 * end-of-directory record, at the very end of the file, its ZIP64 extra field declaring more bytes
 * than the file has left.
 */
export const zip64OverrunDocx = (): Uint8Array => {
  const name = utf8("word/document.xml")
  const local = new DataView(new ArrayBuffer(30))
  local.setUint32(0, 0x04034b50, true)
  local.setUint16(26, name.length, true)
  const central = new DataView(new ArrayBuffer(46))
  central.setUint32(0, 0x02014b50, true)
  central.setUint32(20, 0xffffffff, true)
  central.setUint32(24, 0xffffffff, true)
  central.setUint16(28, name.length, true)
  central.setUint16(30, 4, true)
  const extra = new DataView(new ArrayBuffer(4))
  extra.setUint16(0, 0x0001, true)
  extra.setUint16(2, 16, true)
  const localPart = [new Uint8Array(local.buffer), name]
  const centralPart = [new Uint8Array(central.buffer), name, new Uint8Array(extra.buffer)]
  const eocd = new DataView(new ArrayBuffer(22))
  eocd.setUint32(0, 0x06054b50, true)
  eocd.setUint16(8, 1, true)
  eocd.setUint16(10, 1, true)
  eocd.setUint32(12, centralPart.reduce((n, b) => n + b.length, 0), true)
  eocd.setUint32(16, localPart.reduce((n, b) => n + b.length, 0) + 22, true)
  return new Uint8Array(Buffer.concat([...localPart, new Uint8Array(eocd.buffer), ...centralPart]))
}

const zipMutations = [lieInZip, lieInZip, zip64Lie]

// ---------------------------------------------------------------------------------------------
// Inside OOXML: the XML parts themselves are broken, and the archive rebuilt around them.

const XML_POISON = [
  ["a character reference above U+10FFFF", "&#x110000;"],
  ["a huge decimal character reference", "&#99999999999999999999;"],
  ["an unknown entity", "&nosuch;"],
  ["a stray ampersand", "& < >"],
  ["an unclosed element", "<w:p><a:p><p:sp>"]
] as const

const xmlMutation = async (parts: Record<string, string>, rng: Random): Promise<[Uint8Array, string]> => {
  const names = Object.keys(parts)
  const part = rng.pick(names)
  let xml = parts[part]!
  let how: string
  const kind = rng.int(4)
  if (kind === 0) {
    const [what, poison] = rng.pick(XML_POISON)
    // Into the text of an element: after a '>' that text follows.
    const texts = [...xml.matchAll(/>[^<\s]/g)].map((m) => m.index)
    const at = texts.length === 0 ? -1 : rng.pick(texts)
    xml = at < 0 ? xml + poison : `${xml.slice(0, at + 1)}${poison}${xml.slice(at + 1)}`
    how = `${what} in ${part}`
  } else if (kind === 1) {
    const depth = rng.pick([1_000, 10_000, 50_000])
    const tag = rng.pick(["a:p", "w:p", "p:sp", "x", "a:tbl"])
    const at = xml.lastIndexOf("</")
    const nest = `<${tag}>`.repeat(depth) + "deep" + `</${tag}>`.repeat(rng.next() < 0.5 ? depth : 0)
    xml = at < 0 ? xml + nest : `${xml.slice(0, at)}${nest}${xml.slice(at)}`
    how = `${depth} nested <${tag}> in ${part}`
  } else if (kind === 2) {
    xml = xml.slice(0, rng.int(xml.length))
    how = `${part} truncated`
  } else {
    xml = xml.replace(/Target="[^"]*"/g, () => `Target="${rng.pick(["../../../../etc/passwd", "/", "", "slides/slide99.xml", "x".repeat(5000)])}"`)
    how = `relationship targets rewritten in ${part}`
  }
  const zip = new JSZip()
  for (const name of names) zip.file(name, name === part ? xml : parts[name]!)
  return [await zip.generateAsync({ type: "uint8array", compression: "DEFLATE" }), how]
}

// ---------------------------------------------------------------------------------------------
// PDF structure.

const pdfMutation = (pdf: Uint8Array, rng: Random): [Uint8Array, string] => {
  const source = Buffer.from(pdf).toString("latin1")
  const kind = rng.int(5)
  let out: string
  let how: string
  if (kind === 0) {
    out = source.replace(/startxref\s+\d+/, `startxref\n${rng.pick([0, 1, 99999999, pdf.length - 5])}`)
    how = "startxref points elsewhere"
  } else if (kind === 1) {
    out = source.replace(/\/Length \d+/g, () => `/Length ${rng.pick([0, 1, 99999999, -5])}`)
    how = "stream lengths lie"
  } else if (kind === 2) {
    const depth = rng.pick([1_000, 10_000, 100_000])
    const open = rng.pick(["[", "<<", "<< /A "])
    const at = source.indexOf("endobj")
    out = `${source.slice(0, at)}${open.repeat(depth)}${source.slice(at)}`
    how = `${depth} nested ${open.trim()} in an object`
  } else if (kind === 3) {
    out = source.replace(/\/Count \d+/, `/Count ${rng.pick([0, 1_000_000_000, -1])}`).replace(/\/Kids \[/, rng.next() < 0.5 ? "/Kids [1 0 R " : "/Kids [")
    how = "the page tree lies (count, a loop)"
  } else {
    out = source.replace(/\/Filter \/FlateDecode/g, () => rng.pick(["/Filter /LZWDecode", "/Filter [/FlateDecode /FlateDecode]", "/Filter /Nonsense", "/Filter /ASCII85Decode"]))
    how = "stream filters rewritten"
  }
  return [new Uint8Array(Buffer.from(out, "latin1")), how]
}

// ---------------------------------------------------------------------------------------------
// Text formats: deep nesting and broken syntax.

const htmlMutation = (html: string, rng: Random): [string, string] => {
  const kind = rng.int(4)
  if (kind === 0) {
    const depth = rng.pick([1_000, 10_000, 30_000])
    const tag = rng.pick(["div", "ul><li", "table><tr><td", "b", "svg", "p"])
    return [html.replace("<body>", `<body>${`<${tag}>x`.repeat(depth)}`), `${depth} nested <${tag}>`]
  }
  if (kind === 1) return [html.replace("</p>", "&#x110000;&#99999999999999999999;&#0;&#xD800;</p>"), "invalid character references"]
  if (kind === 2) return [html.replace(/<\/[a-z0-9]+>/g, ""), "every closing tag removed"]
  return [html.replace(/>/g, () => (rng.next() < 0.3 ? "" : ">")), "a third of the '>' removed"]
}

const emlMutation = (eml: string, rng: Random): [string, string] => {
  const kind = rng.int(4)
  if (kind === 0) {
    const depth = rng.pick([50, 500, 2_000])
    let mail = "Content-Type: text/plain\r\n\r\ninnermost\r\n"
    for (let i = 0; i < depth; i++) {
      mail = `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n${mail}--b${i}--\r\n`
    }
    return [`From: a@example.com\r\nSubject: deep\r\nMIME-Version: 1.0\r\n${mail}`, `${depth} nested multiparts`]
  }
  if (kind === 1) {
    const depth = rng.pick([5, 50, 200])
    let mail = "Subject: inner\r\n\r\nbody\r\n"
    for (let i = 0; i < depth; i++) {
      mail = `Subject: level ${i}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="m${i}"\r\n\r\n--m${i}\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename="l${i}.eml"\r\n\r\n${mail}\r\n--m${i}--\r\n`
    }
    return [mail, `${depth} nested attached mails`]
  }
  if (kind === 2) return [eml.replace(/--outer--/, "").replace(/boundary="outer"/, `boundary="${"x".repeat(5000)}"`), "boundaries that never close"]
  return [eml.replace(/Content-Transfer-Encoding: base64\r\n\r\n/g, "Content-Transfer-Encoding: base64\r\n\r\n!!!not base64===\r\n"), "broken base64"]
}

const csvMutation = (csv: string, rng: Random): [string, string] => {
  const kind = rng.int(4)
  if (kind === 0) return [`"${csv}`, "a quote that never closes"]
  if (kind === 1) return [csv.replace(/,/g, () => rng.pick([",", "\"", "\"\"", ";", "\t", "\r"])), "quotes and delimiters scattered"]
  if (kind === 2) return [`${csv}${"\"a\"\"b\",".repeat(rng.pick([10, 1_000, 10_000]))}\n`, "a long row of doubled quotes"]
  return [`${"a,".repeat(rng.pick([1_000, 20_000]))}\n${csv}`, "a very wide first row"]
}

// ---------------------------------------------------------------------------------------------

export interface Sample {
  readonly ext: string
  readonly bytes: Uint8Array
  readonly mutate: (bytes: Uint8Array, rng: Random) => Promise<[Uint8Array, string]>
}

const asText = (f: (text: string, rng: Random) => [string, string]) => async (bytes: Uint8Array, rng: Random): Promise<[Uint8Array, string]> => {
  const [out, how] = f(text(bytes), rng)
  return [utf8(out), how]
}

/** Each format's valid sample and its mutations: half of the time byte-level, else format-aware. */
export const samples = async (): Promise<ReadonlyArray<Sample>> => {
  const office = (ext: string, bytes: Uint8Array, parts: () => Promise<Record<string, string>>): Sample => ({
    ext,
    bytes,
    mutate: async (b, rng) => {
      const r = rng.next()
      if (r < 0.4) return rng.pick(byteMutations)(b, rng)
      if (r < 0.75) return rng.pick(zipMutations)(b, rng)
      return xmlMutation(await parts(), rng)
    }
  })
  const partsOf = async (bytes: Uint8Array) => {
    const zip = await JSZip.loadAsync(bytes)
    const out: Record<string, string> = {}
    for (const name of Object.keys(zip.files)) if (!zip.files[name]!.dir) out[name] = await zip.files[name]!.async("string")
    return out
  }
  const docx = (await Corpus.docx()).bytes
  const xlsx = (await Corpus.xlsx()).bytes
  const pptx = (await Corpus.pptx()).bytes
  const xlsxParts = await partsOf(xlsx)
  const withText = (ext: string, bytes: Uint8Array, f: (text: string, rng: Random) => [string, string]): Sample => ({
    ext,
    bytes,
    mutate: (b, rng) => (rng.next() < 0.5 ? Promise.resolve(rng.pick(byteMutations)(b, rng)) : asText(f)(b, rng))
  })
  return [
    office("docx", docx, async () => Corpus.docxParts()),
    office("xlsx", xlsx, async () => xlsxParts),
    office("pptx", pptx, async () => Corpus.pptxParts()),
    {
      ext: "pdf",
      bytes: await threePagePdf(),
      mutate: (b, rng) => Promise.resolve(rng.next() < 0.5 ? rng.pick(byteMutations)(b, rng) : pdfMutation(b, rng))
    },
    withText("eml", Corpus.eml.bytes, emlMutation),
    withText("html", Corpus.html.bytes, htmlMutation),
    withText("csv", Corpus.csv.bytes, csvMutation)
  ]
}

/** `perFormat` mutants of every sample, from `seed`. */
export const mutants = async (seed: number, perFormat: number): Promise<ReadonlyArray<Mutant>> => {
  const rng = random(seed)
  const out: Array<Mutant> = []
  for (const sample of await samples()) {
    for (let i = 0; i < perFormat; i++) {
      const [bytes, how] = await sample.mutate(sample.bytes, rng)
      out.push({ fileName: `fuzz-${String(out.length).padStart(4, "0")}.${sample.ext}`, bytes, how })
    }
  }
  return out
}
