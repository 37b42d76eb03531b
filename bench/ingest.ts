/**
 * Ingestion throughput: upload -> parse -> chunk -> tokenize -> embed -> index, through the engine
 * as a host builds it (`Rag.layer` + `Rag.layerWorker`), on a generated mixed-format corpus and on
 * the SciFact abstracts. Prints markdown tables; timings are medians of `--runs` runs.
 *
 *   npx tsx --conditions=development bench/ingest.ts [--runs 3] [--store memory|pglite] [--ocr] [--files 210]
 *                           [--only mixed|scifact] [--concurrency 2] [--scifact path/to/corpus.jsonl]
 *                           [--limit N]   (the first N SciFact abstracts only)
 *                           [--threads N] (parse on N parser threads: ParserThreads.layer; concurrency
 *                                          then defaults to 2N)
 *   BENCH_MEM=1 also logs the process's memory before and after the parser threads start and at the
 *   start of each ingestion (rss, heap, external).
 *   npx tsx --conditions=development bench/ingest.ts --processes 1,2 [--pg-url postgres://...] [--runs 3] [--only mixed] [--files 210]
 *                           [--workers N] [--worker-node-args "--cpu-prof --cpu-prof-dir=DIR"] [--blobs file|s3]
 *                           [--index lancedb|pgvector] [--worker-from built|sources]
 *
 * Scale-out mode (`--processes N[,M...]`; needs a real Postgres: `--pg-url` or RAGKIT_TEST_PG_URL):
 * this process builds the server's engine (`Engine.layer(defaults({ workers: 0, ... }))` of
 * @ragkit/server) on a fresh database (`freshDatabase`, dropped at the end) and a temp data dir
 * (file blobs, the LanceDB index unless `--index pgvector`, the GloVe model cache it builds once; deleted at the end; with `--blobs s3`
 * the blobs go to a bucket of an s3rver the bench starts, `@ragkit/fixtures/s3`, for this process and
 * the workers alike, and the bench fails if a blobs/ folder appears in the data dir), uploads
 * the corpus into a knowledge base embedding with `hash-8@Test` and queues it; then it spawns N
 * `ragkit worker` processes (RAGKIT_WORKERS=1 each, or `--workers N`) and polls `Documents.list` (every 200 ms near the end, less often before) until
 * every document is DONE or FAIL (a count of the unfinished ones, plus, until each worker was seen,
 * the first 200 running and finished documents; listing every document at each poll took a good
 * part of a core from the workers on SciFact). Reported: wall time from the spawn (start-up included) and from
 * the first "Task has been received" seen (start-up excluded), peak VmRSS and CPU time of each
 * worker process (/proc, every 100 ms), load averages; with `--index pgvector`, how long after the end
 * the knowledge base's text-search tail was indexed (the workers keep running until it is). Runs are
 * interleaved (1, 2, 1, 2, ...).
 *
 * Each dataset is ingested twice per run, each time into a fresh engine:
 * - `const-8@Bench`: an embedder that returns a constant vector (no embedding work), so the drain time
 *   is parse + chunk + tokenize + index (+ progress writes);
 * - `hash-64@Test`: the deterministic hash embedder of `@ragkit/core/doubles` (not a neural model).
 * The embedding cost is the difference of the two drains, and is also timed directly by running the
 * hash embedder over the chunk texts. Stage times come from wrapping the ParserRegistry, the chunk
 * methods and the worker's Tokenizer; at concurrency 2 two documents are in flight, so parse and
 * chunk times of one document can include moments when the other one ran: their sums can exceed
 * the wall time. The sequential pre-pass (each file parsed and chunked alone) gives clean per-format
 * numbers.
 */
import {
  BlobStore,
  type Caller,
  ChunkIndex,
  ChunkMethod,
  type ChunkMethodId,
  createRagClient,
  decoding,
  type Document,
  DocumentPreparer,
  Documents,
  Embedder,
  Ingestion,
  KnowledgeBases,
  mergeParserConfig,
  ModelProvider,
  Parser,
  Rag,
  type RagClient,
  Tokenizer
} from "@ragkit/core"
import { HashEmbedder, TestModels } from "@ragkit/core/doubles"
import { docxParts, utf8 } from "@ragkit/fixtures/corpus"
import { longPdf } from "@ragkit/fixtures/pdfs"
import { type S3Server, startS3Server } from "@ragkit/fixtures/s3"
import * as Parsers from "@ragkit/parsers"
import * as ParserThreads from "@ragkit/parsers/threads"
import * as StorePglite from "@ragkit/store-pg/pglite"
import { Effect, Exit, Layer, Option, Redacted, Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import * as zlib from "node:zlib"
import { newBenchCaller } from "./internal/caller.js"
import { buildStalePackages } from "./internal/seedHttp.js"

// ---------------------------------------------------------------------------------------------
// Options.

const argv = process.argv.slice(2)
const flag = (name: string) => argv.includes(`--${name}`)
const option = (name: string, fallback: string) => {
  const at = argv.indexOf(`--${name}`)
  return at >= 0 && at + 1 < argv.length ? argv[at + 1]! : fallback
}
// A collection before each ingestion, so that one ingestion's garbage is not counted in the next one's RSS.
v8.setFlagsFromString("--expose-gc")
const collect = vm.runInNewContext("gc") as () => void

const here = path.dirname(fileURLToPath(import.meta.url))
const RUNS = Math.max(1, Number(option("runs", "3")))
const STORE = option("store", "memory") === "pglite" ? "pglite" : "memory"
const OCR = flag("ocr")
const FILES = Math.max(20, Number(option("files", "210")))
const ONLY = option("only", "all")
/** Parser threads (`ParserThreads.layer`); 0: parse on the worker's thread (`Rag.layerWorker`). */
const THREADS = Math.max(0, Number(option("threads", "0")))
const CONCURRENCY = Math.max(1, Number(option("concurrency", String(THREADS > 0 ? 2 * THREADS : 2))))
/** Heap limit of each parser thread in MiB (`maxMemoryMb`); 0: the pool's default. */
const THREAD_MEMORY = Math.max(0, Number(option("thread-memory", "0")))
const SCIFACT = option("scifact", path.resolve(here, "../../shared/datasets/scifact/corpus.jsonl"))
/** Only the first N SciFact abstracts (to see how time grows with the number of documents). */
const LIMIT = Number(option("limit", "0"))
const UPLOAD_BATCH = 100
/** Scale-out mode: worker processes (`ragkit worker`) on one Postgres, e.g. `--processes 1,2`; empty: in-process mode. */
const PROCESSES = option("processes", "").split(",").map(Number).filter((n) => Number.isInteger(n) && n > 0)
const PG_URL = option("pg-url", process.env["RAGKIT_TEST_PG_URL"] ?? "")
/** Scale-out mode: documents in flight per worker process (its RAGKIT_WORKERS). */
const WORKERS_PER_PROCESS = Math.max(1, Number(option("workers", "1")))
/** Scale-out mode: more Node options for each worker process, e.g. `--worker-node-args "--cpu-prof --cpu-prof-dir=/tmp/prof"`. */
const WORKER_NODE_ARGS = option("worker-node-args", "").split(" ").filter((a) => a !== "")
/**
 * Scale-out mode: where the engine and the workers keep blobs. `file`: the shared temp data dir;
 * `s3`: a bucket on an S3-compatible server this bench starts (s3rver, `@ragkit/fixtures/s3`, a child process).
 */
const BLOBS = option("blobs", "file")
if (BLOBS !== "file" && BLOBS !== "s3") throw new Error(`--blobs is file or s3, not ${BLOBS}`)
/**
 * Scale-out mode: the chunk index of the engine and the workers. `lancedb`: a folder in the shared
 * temp data dir; `pgvector`: tables in the bench's fresh database (the server needs the pgvector extension).
 */
const INDEX = option("index", "lancedb")
if (INDEX !== "lancedb" && INDEX !== "pgvector") throw new Error(`--index is lancedb or pgvector, not ${INDEX}`)

const out = (line = "") => process.stdout.write(`${line}\n`)
const log = (line: string) => process.stderr.write(`${line}\n`)

// ---------------------------------------------------------------------------------------------
// Generated text.

const VOCABULARY = (
  "the of and a to in is that it was for on are as with they at be this have from or one had by " +
  "but not what all were we when can said there use an each which she do how their if will up other " +
  "about out many then them these so some her would make like him into time has look two more write " +
  "see number way could people than first water been call who its now find long down day did get come " +
  "made may part river otter harvest report region revenue protein cell expression clinical patients " +
  "study results analysis increased reduced treatment response model data network signal pathway " +
  "growth market engineer storage winter orchard valley quarterly figures budget office contract " +
  "policy customer service system process method sample measurement temperature pressure energy"
).split(" ")

/** A seeded generator of words, sentences and paragraphs. */
const textSource = (seed: number) => {
  let state = seed >>> 0 || 1
  const next = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0
    return state >>> 8
  }
  const word = () => (next() % 6 === 0 ? (next() % 1_000_000).toString(36) : VOCABULARY[next() % VOCABULARY.length]!)
  const sentence = () => {
    const n = 6 + (next() % 16)
    const ws = Array.from({ length: n }, word)
    ws[0] = ws[0]!.charAt(0).toUpperCase() + ws[0]!.slice(1)
    return `${ws.join(" ")}.`
  }
  const paragraph = () => Array.from({ length: 2 + (next() % 6) }, sentence).join(" ")
  const title = () => Array.from({ length: 2 + (next() % 4) }, word).join(" ")
  return { next, word, sentence, paragraph, title }
}

// ---------------------------------------------------------------------------------------------
// A small ZIP writer (deflate), for OOXML files of any size.

const zip = (parts: Record<string, string | Uint8Array>): Uint8Array => {
  const locals: Array<Uint8Array> = []
  const centrals: Array<Uint8Array> = []
  let offset = 0
  for (const [name, content] of Object.entries(parts)) {
    const nameBytes = utf8(name)
    const data = typeof content === "string" ? utf8(content) : content
    const packed = zlib.deflateRawSync(data)
    const crc = zlib.crc32(data)
    const local = new DataView(new ArrayBuffer(30))
    local.setUint32(0, 0x04034b50, true)
    local.setUint16(4, 20, true)
    local.setUint16(8, 8, true)
    local.setUint32(14, crc, true)
    local.setUint32(18, packed.length, true)
    local.setUint32(22, data.length, true)
    local.setUint16(26, nameBytes.length, true)
    const central = new DataView(new ArrayBuffer(46))
    central.setUint32(0, 0x02014b50, true)
    central.setUint16(4, 20, true)
    central.setUint16(6, 20, true)
    central.setUint16(10, 8, true)
    central.setUint32(16, crc, true)
    central.setUint32(20, packed.length, true)
    central.setUint32(24, data.length, true)
    central.setUint16(28, nameBytes.length, true)
    central.setUint32(42, offset, true)
    locals.push(new Uint8Array(local.buffer), nameBytes, packed)
    centrals.push(new Uint8Array(central.buffer), nameBytes)
    offset += 30 + nameBytes.length + packed.length
  }
  const cdSize = centrals.reduce((n, b) => n + b.length, 0)
  const eocd = new DataView(new ArrayBuffer(22))
  eocd.setUint32(0, 0x06054b50, true)
  eocd.setUint16(8, Object.keys(parts).length, true)
  eocd.setUint16(10, Object.keys(parts).length, true)
  eocd.setUint32(12, cdSize, true)
  eocd.setUint32(16, offset, true)
  return new Uint8Array(Buffer.concat([...locals, ...centrals, new Uint8Array(eocd.buffer)]))
}

// ---------------------------------------------------------------------------------------------
// Sized files of each format. `size` is the approximate amount of text, in characters.

interface BenchFile {
  readonly name: string
  readonly bytes: Uint8Array
}

type Gen = (size: number, seed: number) => Uint8Array | Promise<Uint8Array>

const fill = (size: number, piece: () => string): Array<string> => {
  const pieces: Array<string> = []
  let n = 0
  while (n < size) {
    const p = piece()
    pieces.push(p)
    n += p.length
  }
  return pieces
}

const txt: Gen = (size, seed) => {
  const t = textSource(seed)
  return utf8(fill(size, t.paragraph).join("\n\n"))
}

const md: Gen = (size, seed) => {
  const t = textSource(seed)
  let i = 0
  const block = () => {
    i++
    if (i % 7 === 0) return `## ${t.title()}`
    if (i % 11 === 0) return Array.from({ length: 3 + (t.next() % 3) }, () => `- ${t.sentence()}`).join("\n")
    if (i % 17 === 0) {
      const rows = Array.from({ length: 4 }, () => `| ${t.word()} | ${t.next() % 1000} | ${t.sentence()} |`)
      return ["| Name | Count | Note |", "| --- | --- | --- |", ...rows].join("\n")
    }
    if (i % 23 === 0) return "```python\ndef f(x):\n    return x * 2\n```"
    return t.paragraph()
  }
  return utf8(`# ${t.title()}\n\n${fill(size, block).join("\n\n")}\n`)
}

const html: Gen = (size, seed) => {
  const t = textSource(seed)
  let i = 0
  const block = () => {
    i++
    if (i % 7 === 0) return `<h2>${t.title()}</h2>`
    if (i % 11 === 0) return `<ul>${Array.from({ length: 4 }, () => `<li>${t.sentence()}</li>`).join("")}</ul>`
    if (i % 17 === 0) {
      return `<table><tr><th>Name</th><th>Count</th></tr>${Array.from({ length: 4 }, () => `<tr><td>${t.word()}</td><td>${t.next() % 1000}</td></tr>`).join("")}</table>`
    }
    return `<p>${t.paragraph()}</p>`
  }
  const title = t.title()
  return utf8(`<!doctype html><html><head><title>${title}</title><style>p{margin:0}</style></head><body><nav><a href="/">Home</a></nav><h1>${title}</h1>\n${fill(size, block).join("\n")}\n</body></html>`)
}

const json: Gen = (size, seed) => {
  const t = textSource(seed)
  let id = 0
  const records = fill(size, () =>
    JSON.stringify({ id: ++id, title: t.title(), body: t.paragraph(), tags: [t.word(), t.word()], author: { name: t.word(), city: t.word() } })
  )
  return utf8(`[${records.join(",\n")}]`)
}

const csv: Gen = (size, seed) => {
  const t = textSource(seed)
  let id = 0
  const rows = fill(size, () => `${++id},${t.title()},"${t.sentence()} ${t.sentence()}",${t.next() % 10_000}`)
  return utf8(`id,title,body,score\n${rows.join("\n")}\n`)
}

const xmlHead = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n`
const relsXml = (items: ReadonlyArray<readonly [string, string, string]>, base = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/") =>
  `${xmlHead}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">${
    items.map(([id, type, target]) => `<Relationship Id="${id}" Type="${type.startsWith("http") ? type : base + type}" Target="${target}"/>`).join("")
  }</Relationships>`

const xlsx: Gen = (size, seed) => {
  const t = textSource(seed)
  const strings: Array<string> = []
  const str = (s: string) => {
    strings.push(s)
    return `t="s"><v>${strings.length - 1}</v>`
  }
  const sheets = size > 50_000 ? 2 : 1
  const sheetXml: Array<string> = []
  for (let s = 0; s < sheets; s++) {
    let r = 1
    const rows = [`<row r="1"><c r="A1" ${str("Id")}</c><c r="B1" ${str("Title")}</c><c r="C1" ${str("Body")}</c><c r="D1" ${str("Score")}</c></row>`]
    rows.push(...fill(size / sheets, () => {
      r++
      const title = t.title()
      const body = t.sentence()
      return `<row r="${r}"><c r="A${r}"><v>${r - 1}</v></c><c r="B${r}" ${str(title)}</c><c r="C${r}" ${str(body)}</c><c r="D${r}"><v>${t.next() % 10_000}</v></c></row>`
    }))
    sheetXml.push(`${xmlHead}<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>${rows.join("")}</sheetData></worksheet>`)
  }
  const S = "application/vnd.openxmlformats-officedocument.spreadsheetml"
  const parts: Record<string, string> = {
    "[Content_Types].xml": `${xmlHead}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="${S}.sheet.main+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="${S}.sharedStrings+xml"/>${
      sheetXml.map((_, i) => `<Override PartName="/xl/worksheets/sheet${i + 1}.xml" ContentType="${S}.worksheet+xml"/>`).join("")
    }</Types>`,
    "_rels/.rels": relsXml([["rId1", "officeDocument", "xl/workbook.xml"]]),
    "xl/workbook.xml": `${xmlHead}<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>${
      sheetXml.map((_, i) => `<sheet name="Sheet${i + 1}" sheetId="${i + 1}" r:id="rId${i + 1}"/>`).join("")
    }</sheets></workbook>`,
    "xl/_rels/workbook.xml.rels": relsXml([
      ...sheetXml.map((_, i) => [`rId${i + 1}`, "worksheet", `worksheets/sheet${i + 1}.xml`] as const),
      [`rId${sheetXml.length + 1}`, "sharedStrings", "sharedStrings.xml"]
    ]),
    "xl/sharedStrings.xml": `${xmlHead}<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="${strings.length}" uniqueCount="${strings.length}">${
      strings.map((s) => `<si><t>${s}</t></si>`).join("")
    }</sst>`
  }
  sheetXml.forEach((x, i) => (parts[`xl/worksheets/sheet${i + 1}.xml`] = x))
  return zip(parts)
}

const wp = (text: string, style?: string, numId?: number) =>
  `<w:p>${style !== undefined || numId !== undefined
    ? `<w:pPr>${style === undefined ? "" : `<w:pStyle w:val="${style}"/>`}${numId === undefined ? "" : `<w:numPr><w:ilvl w:val="0"/><w:numId w:val="${numId}"/></w:numPr>`}</w:pPr>`
    : ""}<w:r><w:t xml:space="preserve">${text}</w:t></w:r></w:p>`

const docx: Gen = (size, seed) => {
  const t = textSource(seed)
  let i = 0
  const block = () => {
    i++
    if (i % 7 === 0) return wp(t.title(), "Heading2")
    if (i % 11 === 0) return Array.from({ length: 3 }, () => wp(t.sentence(), "ListParagraph", 1)).join("")
    if (i % 17 === 0) {
      const cell = (s: string) => `<w:tc>${wp(s)}</w:tc>`
      return `<w:tbl>${Array.from({ length: 4 }, () => `<w:tr>${cell(t.word())}${cell(String(t.next() % 1000))}</w:tr>`).join("")}</w:tbl>`
    }
    return wp(t.paragraph())
  }
  const parts = docxParts()
  const W = `xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"`
  parts["word/document.xml"] = `${xmlHead}<w:document ${W}><w:body>${wp(t.title(), "Heading1")}${fill(size, block).join("")}<w:sectPr/></w:body></w:document>`
  return zip(parts)
}

const pptx: Gen = (size, seed) => {
  const t = textSource(seed)
  const P = `xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"`
  const shape = (paragraphs: ReadonlyArray<string>, placeholder: string) =>
    `<p:sp><p:nvSpPr><p:cNvPr id="2" name="Shape"/><p:cNvSpPr/><p:nvPr><p:ph type="${placeholder}"/></p:nvPr></p:nvSpPr><p:spPr/><p:txBody><a:bodyPr/>${
      paragraphs.map((text) => `<a:p><a:r><a:rPr lang="en-US"/><a:t>${text}</a:t></a:r></a:p>`).join("")
    }</p:txBody></p:sp>`
  const slides = fill(size, () => {
    const body = Array.from({ length: 3 + (t.next() % 4) }, t.sentence)
    return `${xmlHead}<p:sld ${P}><p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>${
      shape([t.title()], "title")}${shape(body, "body")}</p:spTree></p:cSld></p:sld>`
  }).map((xml) => xml)
  const PT = "application/vnd.openxmlformats-officedocument.presentationml"
  const parts: Record<string, string> = {
    "[Content_Types].xml": `${xmlHead}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/ppt/presentation.xml" ContentType="${PT}.presentation.main+xml"/>${
      slides.map((_, i) => `<Override PartName="/ppt/slides/slide${i + 1}.xml" ContentType="${PT}.slide+xml"/>`).join("")
    }</Types>`,
    "_rels/.rels": relsXml([["rId1", "officeDocument", "ppt/presentation.xml"]]),
    "ppt/presentation.xml": `${xmlHead}<p:presentation ${P}><p:sldIdLst>${slides.map((_, i) => `<p:sldId id="${256 + i}" r:id="rId${i + 2}"/>`).join("")}</p:sldIdLst></p:presentation>`,
    "ppt/_rels/presentation.xml.rels": relsXml(slides.map((_, i) => [`rId${i + 2}`, "slide", `slides/slide${i + 1}.xml`] as const))
  }
  slides.forEach((x, i) => (parts[`ppt/slides/slide${i + 1}.xml`] = x))
  return zip(parts)
}

/** `longPdf` pages hold about 4,600 characters each. */
const pdf: Gen = (size) => longPdf(Math.max(1, Math.round(size / 4_600)))

const eml: Gen = (size, seed) => {
  const t = textSource(seed)
  const body = fill(size * 0.8, t.paragraph).join("\r\n\r\n")
  const attachment = Buffer.from(csv(size * 0.2, seed + 1) as Uint8Array).toString("base64").replace(/(.{76})/g, "$1\r\n")
  return utf8([
    "From: Alice Example <alice@example.com>",
    "To: Bob Example <bob@example.com>",
    `Subject: ${t.title()}`,
    "Date: Tue, 05 Mar 2024 10:30:00 +0000",
    `Message-ID: <bench-${seed}@example.com>`,
    "MIME-Version: 1.0",
    "Content-Type: multipart/mixed; boundary=\"outer\"",
    "",
    "--outer",
    "Content-Type: text/plain; charset=utf-8",
    "",
    body,
    "--outer",
    "Content-Type: text/csv; name=\"figures.csv\"",
    "Content-Disposition: attachment; filename=\"figures.csv\"",
    "Content-Transfer-Encoding: base64",
    "",
    attachment,
    "--outer--",
    ""
  ].join("\r\n"))
}

const GENERATORS: ReadonlyArray<readonly [string, Gen]> = [
  ["txt", txt], ["md", md], ["html", html], ["json", json], ["csv", csv],
  ["xlsx", xlsx], ["docx", docx], ["pptx", pptx], ["pdf", pdf], ["eml", eml]
]

/** `count` files, the formats in turn, text sizes spread log-uniformly over 1 KB .. 1 MB. */
const mixedCorpus = async (count: number): Promise<Array<BenchFile>> => {
  const files: Array<BenchFile> = []
  const perFormat = Math.ceil(count / GENERATORS.length)
  for (let k = 0; k < perFormat; k++) {
    for (const [ext, gen] of GENERATORS) {
      if (files.length >= count) break
      // Every format spans the whole range, each starting at a different size.
      const slot = (k + 2 * GENERATORS.findIndex(([e]) => e === ext)) % perFormat
      const size = Math.round(1_000 * Math.pow(1_000, (slot + 0.5) / perFormat))
      files.push({ name: `${ext}-${String(k).padStart(3, "0")}.${ext}`, bytes: await gen(size, 1_000 * k + ext.charCodeAt(0)) })
    }
  }
  if (OCR) {
    const { textImage } = await import("@ragkit/fixtures/images")
    for (let k = 0; k < 4; k++) {
      const t = textSource(9_000 + k)
      files.push({ name: `scan-${k}.png`, bytes: textImage(Array.from({ length: 6 }, () => t.title())) })
    }
  }
  return files
}

const scifactCorpus = (): Array<BenchFile> =>
  fs.readFileSync(SCIFACT, "utf8").split("\n").filter((l) => l.trim() !== "").map((line) => {
    const r = JSON.parse(line) as { _id: string; title: string; text: string }
    return { name: `${r._id}.txt`, bytes: utf8(`${r.title}\n\n${r.text}`) }
  }).slice(0, LIMIT > 0 ? LIMIT : undefined)

// ---------------------------------------------------------------------------------------------
// Instrumentation: stage timers, RSS sampling.

const suffix = (name: string) => name.slice(name.lastIndexOf(".") + 1).toLowerCase()

class Stats {
  parseMs = new Map<string, number>()
  chunkMs = new Map<string, number>()
  tokenizeMs = 0
  chunkTexts: Array<string> | undefined = undefined
  add(map: Map<string, number>, key: string, ms: number) {
    map.set(key, (map.get(key) ?? 0) + ms)
  }
}
let stats = new Stats()

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>, done: (ms: number) => void) =>
  Effect.suspend(() => {
    const start = performance.now()
    return Effect.ensuring(effect, Effect.sync(() => done(performance.now() - start)))
  })

const timedSync = <A>(f: () => A): A => {
  const start = performance.now()
  try {
    return f()
  } finally {
    stats.tokenizeMs += performance.now() - start
  }
}

let peakRss = 0
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50)
sampler.unref()
const resetPeak = () => (peakRss = process.memoryUsage().rss)

// ---------------------------------------------------------------------------------------------
// The engine, as a host builds it, with the stages wrapped for timing.

/** `const-<dimensions>@Bench`: the same unit vector for every text, at no cost. */
const BenchModels = ModelProvider.plugin({
  kind: "bench",
  providers: ["Bench"],
  embedder: ({ model }) => {
    const dimensions = Number(/^const-(\d+)$/.exec(model)?.[1] ?? 8)
    const unit = Array.from({ length: dimensions }, (_, i) => (i === 0 ? 1 : 0))
    return Effect.succeed(
      Embedder.make({ modelId: `${model}@Bench`, dimensions, maxBatchSize: 1024, embedBatch: (texts) => Effect.succeed(texts.map(() => unit)) })
    )
  }
})

const TokenizerLive = Tokenizer.layer
const ParsersLive = (OCR ? Parsers.layer : Parsers.layerWithoutOcr)().pipe(Layer.provide(TokenizerLive))

const TimedParsers = Layer.effect(
  Parser.ParserRegistry,
  Effect.map(Parser.ParserRegistry, (registry) => ({
    ...registry,
    parse: (input: Parser.ParseInput) => timed(registry.parse(input), (ms) => stats.add(stats.parseMs, suffix(input.fileName), ms))
  }))
).pipe(Layer.provide(ParsersLive))

const TimedMethods = Layer.effect(
  ChunkMethod.ChunkMethodRegistry,
  Effect.map(ChunkMethod.ChunkMethodRegistry, (registry) => ({
    ...registry,
    require: (id: string) =>
      Effect.map(registry.require(id), (method): ChunkMethod.ChunkMethod => ({
        ...method,
        chunk: (doc, config, meta) =>
          timed(method.chunk(doc, config, meta), (ms) => stats.add(stats.chunkMs, suffix(meta.docName), ms)).pipe(
            Effect.tap((drafts) => Effect.sync(() => stats.chunkTexts?.push(...drafts.map((d) => d.content))))
          )
      }))
  }))
).pipe(Layer.provide(ParsersLive))

/** The engine's tokenizer (the worker's search tokens and token counts); the chunk methods keep the plain one. */
const TimedTokenizer = Layer.effect(
  Tokenizer.Tokenizer,
  Effect.map(Tokenizer.Tokenizer, (t) => ({
    countTokens: (s: string) => timedSync(() => t.countTokens(s)),
    tokenize: (s: string) => timedSync(() => t.tokenize(s)),
    fineTokenize: (s: string) => timedSync(() => t.fineTokenize(s))
  }))
).pipe(Layer.provide(TokenizerLive))

/**
 * The parser-thread pool (started once, as a server starts it, before anything is timed), with its
 * per-document parse and chunk (+ tokenize) times.
 */
if (process.env["BENCH_MEM"]) log(`  memory before the parser threads: ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB`)
const pool = THREADS > 0
  ? await Effect.runPromise(ParserThreads.make({ threads: THREADS, setupOptions: { ocr: OCR }, ...(THREAD_MEMORY > 0 ? { maxMemoryMb: THREAD_MEMORY } : {}) }).pipe(Scope.extend(Effect.runSync(Scope.make()))))
  : undefined
if (process.env["BENCH_MEM"]) log(`  memory after the parser threads: ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB`)
const ThreadsLive = Layer.succeed(DocumentPreparer.DocumentPreparer, {
  prepare: (input: DocumentPreparer.PrepareInput) =>
    Effect.tap(pool!.prepare(input), (prepared) =>
      Effect.sync(() => {
        stats.add(stats.parseMs, suffix(input.fileName), prepared.parseMs)
        stats.add(stats.chunkMs, suffix(input.fileName), prepared.chunkMs)
        stats.chunkTexts?.push(...prepared.chunks.map((c) => c.content))
      }))
})

const engine = (dataDir: string | undefined) => {
  const stores = dataDir === undefined
    ? Rag.layerMemoryStores
    : Layer.mergeAll(StorePglite.layerEmbedded({ dataDir }), BlobStore.layerMemory, ChunkIndex.layerMemory)
  const ports = Layer.mergeAll(stores, TimedParsers, TimedTokenizer)
  const worker = THREADS > 0
    ? Rag.layerWorkerWith(ThreadsLive, { concurrency: CONCURRENCY })
    : Rag.layerWorker({ concurrency: CONCURRENCY })
  return worker.pipe(
    Layer.provideMerge(Rag.layer(ports, [TestModels.layer, BenchModels])),
    Layer.provide(TimedMethods)
  )
}

// ---------------------------------------------------------------------------------------------
// One ingestion: a fresh engine, upload, queue, drain.

interface Phase {
  readonly files: number
  readonly bytes: number
  readonly chunks: number
  readonly tokens: number
  readonly failed: number
  readonly uploadS: number
  readonly queueS: number
  readonly drainS: number
  /** CPU time of the process (every thread) during the drain. */
  readonly cpuS: number
  readonly peakRss: number
  readonly startRss: number
  readonly parseMs: Map<string, number>
  readonly chunkMs: Map<string, number>
  readonly tokenizeMs: number
  readonly chunkTexts: ReadonlyArray<string> | undefined
}

const seconds = (start: number) => (performance.now() - start) / 1000

const ingest = (files: ReadonlyArray<BenchFile>, embeddingModel: string, keepTexts: boolean): Promise<Phase> => {
  const dataDir = STORE === "pglite" ? fs.mkdtempSync(path.join(os.tmpdir(), "ragkit-bench-pg-")) : undefined
  const program = Effect.gen(function* () {
    const caller: Caller = yield* newBenchCaller
    const kbs = decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations)
    const kb = yield* kbs.create(caller, { name: "bench", embedding_model: embeddingModel })
    const documents = yield* Documents.Documents
    const worker = yield* Ingestion.Ingestion
    collect()
    stats = new Stats()
    if (keepTexts) stats.chunkTexts = []
    resetPeak()
    const startRss = peakRss
    if (process.env["BENCH_MEM"]) log(`  memory at start: ${JSON.stringify(Object.fromEntries(Object.entries(process.memoryUsage()).map(([k, v]) => [k, Math.round(v / 2 ** 20)])))}`)

    let start = performance.now()
    const ids: Array<Document["id"]> = []
    for (let i = 0; i < files.length; i += UPLOAD_BATCH) {
      const docs = yield* documents.upload(caller, {
        kb_id: kb.id,
        files: files.slice(i, i + UPLOAD_BATCH).map((f) => ({ name: f.name, bytes: f.bytes }))
      })
      ids.push(...docs.map((d) => d.id))
    }
    const uploadS = seconds(start)
    start = performance.now()
    for (let i = 0; i < ids.length; i += UPLOAD_BATCH) yield* documents.parse(caller, { doc_ids: ids.slice(i, i + UPLOAD_BATCH) })
    const queueS = seconds(start)
    start = performance.now()
    const cpuStart = process.cpuUsage()
    yield* worker.drain
    const drainS = seconds(start)
    const cpu = process.cpuUsage(cpuStart)
    const cpuS = (cpu.user + cpu.system) / 1e6
    const peak = peakRss

    let chunks = 0
    let tokens = 0
    let failed = 0
    for (const id of ids) {
      const doc = yield* documents.get(caller, { doc_id: id })
      chunks += doc.chunk_num
      tokens += doc.token_num
      if (doc.run !== "DONE") {
        failed++
        if (failed <= 3) log(`  ${doc.name}: ${doc.run} ${doc.progress_msg.split("\n").at(-1) ?? ""}`)
      }
    }
    return {
      files: files.length,
      bytes: files.reduce((n, f) => n + f.bytes.length, 0),
      chunks,
      tokens,
      failed,
      uploadS,
      queueS,
      drainS,
      cpuS,
      peakRss: peak,
      startRss,
      parseMs: stats.parseMs,
      chunkMs: stats.chunkMs,
      tokenizeMs: stats.tokenizeMs,
      chunkTexts: stats.chunkTexts
    } satisfies Phase
  })
  return Effect.runPromise(program.pipe(Effect.provide(engine(dataDir)))).finally(() => {
    if (dataDir !== undefined) fs.rmSync(dataDir, { recursive: true, force: true })
  })
}

/** Times the hash embedder alone over the chunk texts, in the worker's batches of 32. */
const embedDirect = (texts: ReadonlyArray<string>, dimensions = 64): number => {
  const embedder = HashEmbedder.make({ dimensions })
  const start = performance.now()
  for (let i = 0; i < texts.length; i += 32) Effect.runSync(embedder.embedDocuments(texts.slice(i, i + 32)))
  return seconds(start)
}

// ---------------------------------------------------------------------------------------------
// The sequential pre-pass: each file parsed and chunked alone, per format (also the warm-up).

interface FormatRow {
  files: number
  bytes: number
  text: number
  sections: number
  chunks: number
  parseS: number
  chunkS: number
}

const parserIdFor = (name: string): ChunkMethodId => {
  const ext = suffix(name)
  return ext === "pptx" ? "presentation" : ext === "eml" ? "email" : ext === "png" ? "picture" : "naive"
}

/** Per file, when asked: the extracted text's size and the chunk texts (to time an embedder over them). */
interface PrepassSink {
  readonly textBytes: Map<string, number>
  readonly chunkTexts: Map<string, ReadonlyArray<string>>
}

const prepass = (files: ReadonlyArray<BenchFile>, sink?: PrepassSink) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const parsers = yield* Parser.ParserRegistry
      const methods = yield* ChunkMethod.ChunkMethodRegistry
      const rows = new Map<string, FormatRow>()
      // Warm-up, untimed: the smallest file of each format (loads pdf.js, mammoth, exceljs; JIT).
      const smallest = new Map<string, BenchFile>()
      for (const file of files) {
        const seen = smallest.get(suffix(file.name))
        if (seen === undefined || file.bytes.length < seen.bytes.length) smallest.set(suffix(file.name), file)
      }
      for (const file of smallest.values()) {
        const config = mergeParserConfig(parserIdFor(file.name), undefined)
        const parsed = yield* parsers.parse({ bytes: file.bytes, fileName: file.name, options: config })
        yield* Effect.flatMap(methods.require(parserIdFor(file.name)), (method) => method.chunk(parsed, config, { docName: file.name }))
      }
      for (const file of files) {
        const ext = suffix(file.name)
        const row = rows.get(ext) ?? { files: 0, bytes: 0, text: 0, sections: 0, chunks: 0, parseS: 0, chunkS: 0 }
        rows.set(ext, row)
        const config = mergeParserConfig(parserIdFor(file.name), undefined)
        let start = performance.now()
        const parsed = yield* parsers.parse({ bytes: file.bytes, fileName: file.name, options: config })
        row.parseS += seconds(start)
        const method = yield* methods.require(parserIdFor(file.name))
        start = performance.now()
        const drafts = yield* method.chunk(parsed, config, { docName: file.name })
        row.chunkS += seconds(start)
        if (sink !== undefined) {
          sink.textBytes.set(file.name, parsed.sections.reduce((n, s) => n + Buffer.byteLength(s.text), 0))
          sink.chunkTexts.set(file.name, drafts.map((d) => d.content))
        }
        row.files++
        row.bytes += file.bytes.length
        row.text += parsed.sections.reduce((n, s) => n + Buffer.byteLength(s.text), 0)
        row.sections += parsed.sections.length
        row.chunks += drafts.length
      }
      return rows
    }).pipe(Effect.provide(ParsersLive))
  )

// ---------------------------------------------------------------------------------------------
// Reporting.

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
const MB = 1e6
const f1 = (x: number) => x.toFixed(1)
const f2 = (x: number) => x.toFixed(2)
const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0)
const table = (head: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) => {
  out(`| ${head.join(" | ")} |`)
  out(`|${head.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`)
  for (const r of rows) out(`| ${r.join(" | ")} |`)
  out()
}

const machine = () => {
  const cpus = os.cpus()
  out(`Machine: ${cpus[0]?.model.trim() ?? "unknown CPU"}, ${cpus.length} cores (os.cpus), ${f1(os.totalmem() / 2 ** 30)} GiB memory, Node ${process.version}, ${os.platform()} ${os.arch()}. Load average at start: ${os.loadavg().map(f2).join(", ")}.`)
  if (PROCESSES.length > 0) {
    out(`Settings: ${RUNS} runs (medians shown), scale-out: ${PROCESSES.join(" and ")} \`ragkit worker\` process(es) (${WORKER_FROM === "built" ? "the built packages/server/dist/bin.js" : "from the sources, under tsx"}; RAGKIT_WORKERS=${WORKERS_PER_PROCESS} each, RAGKIT_PARSER_THREADS default: cores - 1) on one Postgres (fresh database) and a shared temp data dir (${INDEX === "pgvector" ? "chunk index: pgvector in the same Postgres database" : "chunk index: LanceDB in the data dir"}; ${BLOBS === "s3" ? "blobs on S3: a bucket of s3rver 3.7.1, started by the bench as a child process on this machine" : "file blobs in the data dir"}), parsers ${OCR ? "with OCR" : "without OCR"}, embedding model ${SCALE_MODEL}, chunk method defaults (naive; presentation for pptx, email for eml).`)
    out()
    return
  }
  out(`Settings: ${RUNS} runs (medians shown), store ${STORE === "memory" ? "memory (Rag.layerMemoryStores)" : "PGlite records + task queue (StorePglite.layerEmbedded, temp dir), memory blobs and chunk index"}, ${THREADS > 0 ? `Rag.layerWorkerWith(ParserThreads.layer({ threads: ${THREADS} }), { concurrency: ${CONCURRENCY} })` : `Rag.layerWorker({ concurrency: ${CONCURRENCY} })`} + drain, parsers ${OCR ? "with OCR" : "without OCR (Parsers.layerWithoutOcr)"}, chunk method defaults (naive; presentation for pptx, email for eml).`)
  out()
}

const report = async (label: string, files: ReadonlyArray<BenchFile>) => {
  // With parser threads the pre-pass runs last, so that this thread has not loaded every parser
  // library before the ingestions' memory is measured (the threads warm up on their own).
  const runPrepass = () => {
    log(`${label}: pre-pass (sequential parse + chunk of every file)`)
    return prepass(files)
  }
  const early = THREADS > 0 ? undefined : await runPrepass()
  const bytes = files.reduce((n, f) => n + f.bytes.length, 0)

  const noEmbed: Array<Phase> = []
  const full: Array<Phase> = []
  const direct: Array<number> = []
  for (let run = 1; run <= RUNS; run++) {
    log(`${label}: run ${run}/${RUNS}, const-8@Bench`)
    const a = await ingest(files, "const-8@Bench", true)
    direct.push(embedDirect(a.chunkTexts ?? []))
    noEmbed.push({ ...a, chunkTexts: undefined })
    log(`${label}: run ${run}/${RUNS}, hash-64@Test`)
    full.push(await ingest(files, "hash-64@Test", false))
    log(`  drains ${f2(a.drainS)} s / ${f2(full.at(-1)!.drainS)} s, failed ${a.failed}`)
  }

  const formats = early ?? (await runPrepass())
  const textBytes = [...formats.values()].reduce((n, r) => n + r.text, 0)
  const m = (phases: ReadonlyArray<Phase>, f: (p: Phase) => number) => median(phases.map(f))
  const chunks = m(noEmbed, (p) => p.chunks)
  const failed = Math.max(...noEmbed.map((p) => p.failed), ...full.map((p) => p.failed))
  out(`### ${label}`)
  out()
  out(`${files.length} files, ${f1(bytes / MB)} MB of bytes, ${f1(textBytes / MB)} MB of extracted text (UTF-8), ${chunks} chunks, ${m(noEmbed, (p) => p.tokens)} tokens${failed > 0 ? `, ${failed} documents not DONE` : ""}. MB = 10^6 bytes.`)
  out()
  const row = (name: string, phases: ReadonlyArray<Phase>) => {
    const drain = m(phases, (p) => p.drainS)
    return [
      name,
      f2(m(phases, (p) => p.uploadS)),
      f2(m(phases, (p) => p.queueS)),
      f2(drain),
      f2(m(phases, (p) => p.cpuS)),
      f1(files.length / drain),
      f2(bytes / MB / drain),
      f2(textBytes / MB / drain),
      String(Math.round(chunks / drain)),
      String(Math.round(m(phases, (p) => p.startRss) / 2 ** 20)),
      String(Math.round(m(phases, (p) => p.peakRss) / 2 ** 20))
    ]
  }
  const embedDiff = m(full, (p) => p.drainS) - m(noEmbed, (p) => p.drainS)
  table(
    ["pipeline (drain)", "upload s", "queue s", "drain s", "CPU s (all threads)", "files/s", "MB/s bytes", "MB/s text", "chunks/s", "RSS at start MiB", "peak RSS MiB"],
    [
      row("parse+chunk+tokenize+index, no embedding (const-8@Bench)", noEmbed),
      row("full, hash-64@Test hash embedder (not a neural model)", full),
      ["embedding alone: drain difference", "", "", f2(embedDiff), "", "", "", "", "", "", ""],
      ["embedding alone: hash-64 over the chunk texts, direct", "", "", f2(median(direct)), "", "", "", "", String(Math.round(chunks / median(direct))), "", ""]
    ]
  )
  const parseS = m(noEmbed, (p) => sum(p.parseMs)) / 1000
  const chunkS = m(noEmbed, (p) => sum(p.chunkMs)) / 1000
  const tokS = m(noEmbed, (p) => p.tokenizeMs) / 1000
  const drainA = m(noEmbed, (p) => p.drainS)
  const rest = drainA - parseS - chunkS - tokS
  const pct = (x: number) => `${Math.round((100 * x) / drainA)}%`
  out(`Stage times in the no-embedding drain (sums over documents, concurrency ${CONCURRENCY}; drain ${f2(drainA)} s):`)
  out()
  if (THREADS > 0) {
    out(`(On ${THREADS} parser threads, which run at the same time: the sums can exceed the drain.)`)
    out()
    table(
      ["stage", "s", "of drain"],
      [
        ["parse (in the parser threads)", f2(parseS), pct(parseS)],
        ["chunk + tokenize (in the parser threads)", f2(chunkS), pct(chunkS)]
      ]
    )
  } else {
    table(
      ["stage", "s", "of drain"],
      [
        ["parse (ParserRegistry.parse)", f2(parseS), pct(parseS)],
        ["chunk (chunk method, incl. its token counting)", f2(chunkS), pct(chunkS)],
        ["tokenize (worker: search tokens, fine tokens, token counts)", f2(tokS), pct(tokS)],
        ["rest (blob reads, index upsert, progress and record writes, scheduling)", f2(Math.max(0, rest)), pct(Math.max(0, rest))]
      ]
    )
  }
  const exts = [...formats.keys()]
  out("Per format, sequential pre-pass (one file at a time, no worker), and the parse + chunk stage sums inside the worker (median run):")
  out()
  table(
    ["format", "files", "MB bytes", "MB text", "sections", "chunks", "parse s", "chunk s", "parse+chunk MB/s text", "worker parse s", "worker chunk s"],
    exts.map((ext) => {
      const r = formats.get(ext)!
      return [
        ext,
        String(r.files),
        f2(r.bytes / MB),
        f2(r.text / MB),
        String(r.sections),
        String(r.chunks),
        f2(r.parseS),
        f2(r.chunkS),
        f2(r.text / MB / (r.parseS + r.chunkS)),
        f2(m(noEmbed, (p) => p.parseMs.get(ext) ?? 0) / 1000),
        f2(m(noEmbed, (p) => p.chunkMs.get(ext) ?? 0) / 1000)
      ]
    })
  )
  const slowest = exts
    .map((ext) => ({ ext, r: formats.get(ext)! }))
    .sort((a, b) => a.r.text / (a.r.parseS + a.r.chunkS) - b.r.text / (b.r.parseS + b.r.chunkS))[0]
  const biggest = exts.map((ext) => ({ ext, s: formats.get(ext)!.parseS + formats.get(ext)!.chunkS })).sort((a, b) => b.s - a.s)[0]
  const stages = [["parsing", parseS], ["chunking", chunkS], ["tokenizing", tokS], ["the rest", rest]] as const
  const top = [...stages].sort((a, b) => b[1] - a[1])[0]!
  const textRate = textBytes / MB / drainA
  out(
    `What dominates: ${top[0]} (${pct(top[1])} of the no-embedding drain)` +
      (exts.length > 1 && biggest !== undefined && slowest !== undefined
        ? `; by format, ${biggest.ext} takes the most pre-pass time (${f2(biggest.s)} s) and ${slowest.ext} is the slowest per MB of text (${f2(slowest.r.text / MB / (slowest.r.parseS + slowest.r.chunkS))} MB/s)`
        : "") +
      `; the hash embedder takes ${f2(median(direct))} s alone over the ${chunks} chunks (drain difference ${f2(embedDiff)} s). ` +
      `Target 2 MB/s of text without embedding: ${f2(textRate)} MB/s, ${textRate >= 2 ? "met" : "NOT met"}; peak RSS ${Math.round(Math.max(...full.map((p) => p.peakRss), ...noEmbed.map((p) => p.peakRss)) / 2 ** 20)} MiB (target < 1024).`
  )
  out()
}

// ---------------------------------------------------------------------------------------------
// Scale-out mode (`--processes 1,2`): this process uploads and queues through the server's engine
// (`Engine.layer`, no worker loop) on a fresh Postgres database; N `ragkit worker` processes parse.

/** Cheap, so that embedding does not dominate; the server serves the `Test` provider with `testModels` (RAGKIT_TEST_MODELS), not `Bench`. */
const SCALE_MODEL = "hash-8@Test"
const POLL_MS = 200
const SAMPLE_MS = 100
const SERVER_BIN = path.resolve(here, "../packages/server/src/bin.ts")
/**
 * `built` (default): the workers run `node packages/server/dist/bin.js worker`, as an installed
 * `ragkit worker` runs (stale packages are built first, untimed, by `scripts/start.mjs --version`);
 * `sources`: `node --import tsx packages/server/src/bin.ts worker` (tsx's loader costs a worker
 * ~100 MiB more).
 */
const WORKER_FROM = option("worker-from", "built")
if (WORKER_FROM !== "built" && WORKER_FROM !== "sources") throw new Error(`--worker-from: built or sources, not ${WORKER_FROM}`)
const SERVER_DIST_BIN = path.resolve(here, "../packages/server/dist/bin.js")
let builtChecked = false
/** Builds the packages whose dist/ is older than their sources (once per bench run). */
const buildIfStale = () => {
  if (builtChecked || WORKER_FROM !== "built") return
  buildStalePackages()
  builtChecked = true
}
/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on Linux x86). */
const CLK_TCK = 100
/** With `--blobs s3`: the S3 server of the running dataset, which the engine and the spawned workers use. */
let s3: S3Server | undefined

/** The server's S3 blob settings (RAGKIT_S3_* for the workers; credentials only from the environment). */
const s3Env = (server: S3Server): Record<string, string> => ({
  RAGKIT_BLOB_STORE: "s3",
  RAGKIT_S3_BUCKET: server.bucket,
  RAGKIT_S3_ENDPOINT: server.endpoint,
  RAGKIT_S3_REGION: server.region,
  RAGKIT_S3_FORCE_PATH_STYLE: "true",
  RAGKIT_S3_ACCESS_KEY_ID: server.accessKeyId,
  RAGKIT_S3_SECRET_ACCESS_KEY: server.secretAccessKey
})

/** Files and folders under `dir` (none if it does not exist). */
const entriesUnder = (dir: string): number => fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true }).length : 0

interface WorkerProc {
  readonly child: ChildProcess
  readonly output: Array<string>
  peakRss: number
  cpuS: number
}

interface ScaleRun {
  readonly processes: number
  readonly uploadS: number
  readonly queueS: number
  /** Spawn of the workers to every document DONE or FAIL. */
  readonly wallS: number
  /** Spawn to each worker's first "Task has been received" seen in a progress message, sorted. */
  readonly startupS: ReadonlyArray<number>
  /** The first claim seen to every document DONE or FAIL. */
  readonly claimToEndS: number
  readonly chunks: number
  readonly tokens: number
  readonly failed: number
  /** Names of the documents that ended DONE. */
  readonly done: ReadonlyArray<string>
  /** Peak VmRSS of each worker process (bytes), and its CPU time (user + system, start-up included). */
  readonly peakRss: ReadonlyArray<number>
  readonly cpuS: ReadonlyArray<number>
  /** Documents taken by each worker (attempt-1 claims). */
  readonly docsPerWorker: ReadonlyArray<number>
  /** Sums over documents of the workers' own progress lines: "Parsed ... in", "Generated ... in", process_duration. */
  readonly parseS: number
  readonly chunkS: number
  readonly processS: number
  readonly loadStart: ReadonlyArray<number>
  readonly loadEnd: ReadonlyArray<number>
  /**
   * pgvector: from every document DONE or FAIL to the knowledge base's text-search tail indexed (the
   * rows are searchable before, from the tail; the workers index it once idle).
   */
  readonly tailS: number | undefined
}

/** VmRSS (bytes) and CPU seconds of a live process, or undefined once it is gone. */
const procSample = (pid: number): { rss: number; cpuS: number } | undefined => {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return { rss, cpuS: (Number(fields[11]) + Number(fields[12])) / CLK_TCK }
  } catch {
    return undefined
  }
}

const startWorker = (databaseUrl: string, dataDir: string): WorkerProc => {
  buildIfStale()
  const command = WORKER_FROM === "built"
    ? [...WORKER_NODE_ARGS, SERVER_DIST_BIN, "worker"]
    : [...WORKER_NODE_ARGS, "--conditions=development", "--import", "tsx", SERVER_BIN, "worker"]
  const child = spawn(process.execPath, command, {
    // The server package depends on tsx, so `--import tsx` resolves from there.
    cwd: path.dirname(path.dirname(SERVER_BIN)),
    env: {
      ...process.env,
      RAGKIT_DATABASE_URL: databaseUrl,
      RAGKIT_DATA_DIR: dataDir,
      RAGKIT_WORKERS: String(WORKERS_PER_PROCESS),
      RAGKIT_OCR: String(OCR),
      // The workers embed with the `Test` provider (SCALE_MODEL).
      RAGKIT_TEST_MODELS: "true",
      ...(s3 === undefined ? {} : s3Env(s3)),
      ...(INDEX === "pgvector" ? { RAGKIT_CHUNK_INDEX: "pgvector" } : {})
    },
    stdio: ["ignore", "pipe", "pipe"]
  })
  const proc: WorkerProc = { child, output: [], peakRss: 0, cpuS: 0 }
  child.stdout!.on("data", (b: Buffer) => proc.output.push(b.toString()))
  child.stderr!.on("data", (b: Buffer) => proc.output.push(b.toString()))
  return proc
}

const stopWorker = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const kill = setTimeout(() => child.kill("SIGKILL"), 10_000)
    child.once("exit", () => {
      clearTimeout(kill)
      resolve()
    })
    child.kill("SIGTERM")
  })

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const sumOf = (docs: ReadonlyArray<Document>, re: RegExp) =>
  docs.reduce((n, d) => n + Number(re.exec(d.progress_msg)?.[1] ?? 0), 0)

const scaleRun = async (
  rag: RagClient,
  caller: Caller,
  files: ReadonlyArray<BenchFile>,
  processes: number,
  databaseUrl: string,
  dataDir: string,
  run: number
): Promise<ScaleRun> => {
  const loadStart = os.loadavg()
  log(`  ${processes} process(es), run ${run}/${RUNS}: load average ${loadStart.map(f2).join(", ")}`)
  const kb = await rag.knowledgeBases.create(caller, { name: `bench-${processes}p-run${run}`, embedding_model: SCALE_MODEL })
  let start = performance.now()
  const ids: Array<string> = []
  for (let i = 0; i < files.length; i += UPLOAD_BATCH) {
    const docs = await rag.documents.upload(caller, {
      kb_id: kb.id,
      files: files.slice(i, i + UPLOAD_BATCH).map((f) => ({ name: f.name, bytes: f.bytes }))
    })
    ids.push(...docs.map((d) => d.id))
  }
  const uploadS = seconds(start)
  start = performance.now()
  for (let i = 0; i < ids.length; i += UPLOAD_BATCH) await rag.documents.parse(caller, { doc_ids: ids.slice(i, i + UPLOAD_BATCH) })
  const queueS = seconds(start)

  const workers: Array<WorkerProc> = []
  const spawned = performance.now()
  for (let i = 0; i < processes; i++) workers.push(startWorker(databaseUrl, dataDir))
  const sampler = setInterval(() => {
    for (const w of workers) {
      const sample = w.child.pid === undefined ? undefined : procSample(w.child.pid)
      if (sample === undefined) continue
      w.peakRss = Math.max(w.peakRss, sample.rss)
      w.cpuS = sample.cpuS
    }
  }, SAMPLE_MS)
  const firstClaim = new Map<string, number>()
  /** The first poll that found documents finished: the rate since then sets the next wait. */
  let rateFrom: { readonly at: number; readonly left: number } | undefined
  let docs: Array<Document> = []
  let endS = 0
  let tailS: number | undefined
  /** Waits (at most 2 minutes) until the knowledge base's text-search tail is indexed; seconds after `endS`. */
  const tailIndexed = async (url: string, kbId: string, end: number) => {
    const { select } = await import("@ragkit/store-pg/testing")
    const deadline = Date.now() + 120_000
    while (Date.now() < deadline) {
      const rows = await Effect.runPromise(
        select(url, `SELECT next_ord - indexed_ord AS tail FROM chunk_ords WHERE kb_id = '${kbId}'`)
      ) as ReadonlyArray<{ readonly tail: number }>
      if ((rows[0]?.tail ?? 0) === 0) return seconds(spawned) - end
      await sleep(50)
    }
    throw new Error(`the text-search tail of ${kbId} was not indexed 2 minutes after the end`)
  }
  try {
    const deadline = Date.now() + 30 * 60_000
    // Each poll is light (the workers share the machine): the count of documents not finished, and
    // until every worker was seen, the first page of the documents it may have written.
    const page = (run_status: ReadonlyArray<"UNSTART" | "RUNNING" | "CANCEL" | "DONE" | "FAIL">, page_size: number) =>
      rag.documents.list(caller, { kb_id: kb.id, page: 1, page_size, run_status, orderby: "update_time", desc: true })
    for (;;) {
      const unfinished = await page(["UNSTART", "RUNNING", "CANCEL"], 1)
      const now = seconds(spawned)
      if (firstClaim.size < processes) {
        for (const d of [...(await page(["RUNNING"], 200)).items, ...(await page(["DONE", "FAIL"], 200)).items]) {
          for (const m of d.progress_msg.matchAll(/Task has been received by (worker-\w+)/g)) {
            if (!firstClaim.has(m[1]!)) firstClaim.set(m[1]!, now)
          }
        }
      }
      if (unfinished.total === 0) {
        endS = now
        if (INDEX === "pgvector") tailS = await tailIndexed(databaseUrl, kb.id, endS)
        docs = []
        for (let p = 1; ; p++) {
          const { items, total } = await rag.documents.list(caller, { kb_id: kb.id, page: p, page_size: 1000 })
          docs.push(...items)
          if (items.length === 0 || docs.length >= total) break
        }
        if (docs.length !== ids.length) throw new Error(`${docs.length} documents listed, ${ids.length} uploaded`)
        break
      }
      const dead = workers.filter((w) => w.child.exitCode !== null || w.child.signalCode !== null)
      if (dead.length === workers.length || Date.now() > deadline) {
        throw new Error(
          `${dead.length === workers.length ? "every worker process exited" : "timed out"} with ${ids.length - unfinished.total}/${ids.length} documents finished; worker output:\n` +
            workers.map((w) => w.output.join("").slice(-3000)).join("\n---\n")
        )
      }
      // Once every worker was seen and far from the end, wait a quarter of the time the rest should
      // take at the rate seen so far (at most 1 s): the count reads every document of the knowledge
      // base (~20 ms of Postgres for SciFact), which the workers pay for on the same cores. Near the
      // end, every POLL_MS.
      if (rateFrom === undefined && unfinished.total < ids.length) rateFrom = { at: now, left: unfinished.total }
      const rate = rateFrom === undefined || now <= rateFrom.at ? 0 : (rateFrom.left - unfinished.total) / (now - rateFrom.at)
      const wait = rate > 0 && firstClaim.size >= processes ? (250 * unfinished.total) / rate : 0
      await sleep(Math.min(1_000, Math.max(POLL_MS, wait)))
    }
  } finally {
    // One last sample: CPU time up to the end, before the processes go.
    for (const w of workers) {
      const sample = w.child.pid === undefined ? undefined : procSample(w.child.pid)
      if (sample !== undefined) w.cpuS = sample.cpuS
    }
    clearInterval(sampler)
    await Promise.all(workers.map((w) => stopWorker(w.child)))
  }

  const perWorker = new Map<string, number>()
  for (const d of docs) {
    const by = /received by (worker-\w+) \(attempt 1\)/.exec(d.progress_msg)?.[1]
    if (by !== undefined) perWorker.set(by, (perWorker.get(by) ?? 0) + 1)
  }
  const failed = docs.filter((d) => d.run !== "DONE")
  for (const d of failed.slice(0, 3)) log(`    ${d.name}: ${d.run} ${d.progress_msg.split("\n").at(-1) ?? ""}`)
  const startupS = [...firstClaim.values()].sort((a, b) => a - b)
  const result: ScaleRun = {
    processes,
    uploadS,
    queueS,
    wallS: endS,
    startupS,
    claimToEndS: endS - (startupS[0] ?? 0),
    chunks: docs.reduce((n, d) => n + d.chunk_num, 0),
    tokens: docs.reduce((n, d) => n + d.token_num, 0),
    failed: failed.length,
    done: docs.filter((d) => d.run === "DONE").map((d) => d.name),
    peakRss: workers.map((w) => w.peakRss),
    cpuS: workers.map((w) => w.cpuS),
    docsPerWorker: [...perWorker.values()].sort((a, b) => b - a),
    parseS: sumOf(docs, /Parsed \d+ sections[^\n]* in ([\d.]+)s\./),
    chunkS: sumOf(docs, /Generated \d+ chunks[^\n]* in ([\d.]+)s\./),
    processS: docs.reduce((n, d) => n + d.process_duration, 0),
    loadStart,
    loadEnd: os.loadavg(),
    tailS
  }
  log(
    `    wall ${f2(result.wallS)} s, start-up ${startupS.map(f2).join("/")} s, first claim to end ${f2(result.claimToEndS)} s, ` +
      `failed ${result.failed}, peak RSS ${result.peakRss.map((b) => Math.round(b / 2 ** 20)).join("/")} MiB, load ${result.loadEnd.map(f2).join(", ")}` +
      (tailS === undefined ? "" : `, text-search tail indexed ${f2(tailS)} s after the end`)
  )
  // Drop the run's documents and chunks, so that every run starts from the same tables.
  await rag.knowledgeBases.remove(caller, { kb_ids: [kb.id] })
  return result
}

const scaleOut = async (label: string, files: ReadonlyArray<BenchFile>) => {
  if (PG_URL === "") throw new Error("--processes needs a Postgres server: --pg-url postgres://... or RAGKIT_TEST_PG_URL")
  const { Engine: ServerEngine, defaults } = await import("@ragkit/server")
  const { freshDatabase } = await import("@ragkit/store-pg/testing")

  log(`${label}: pre-pass (sequential parse + chunk of every file, in this process)`)
  const sink: PrepassSink = { textBytes: new Map(), chunkTexts: new Map() }
  const formats = await prepass(files, sink)
  const textBytes = [...formats.values()].reduce((n, r) => n + r.text, 0)
  const bytes = files.reduce((n, f) => n + f.bytes.length, 0)
  const prepassS = [...formats.values()].reduce((n, r) => n + r.parseS + r.chunkS, 0)
  const embedDims = Number(/^hash-(\d+)@/.exec(SCALE_MODEL)?.[1] ?? 8)

  const scope = Effect.runSync(Scope.make())
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "ragkit-bench-scale-"))
  const runs = new Map<number, Array<ScaleRun>>(PROCESSES.map((n) => [n, []]))
  let buildS = 0
  let blobsAt = "file blobs in the shared data dir"
  try {
    const db = await Effect.runPromise(Scope.extend(freshDatabase(PG_URL), scope))
    if (BLOBS === "s3") s3 = await startS3Server({ bucket: "ragkit-bench" })
    const blobStore = s3 === undefined ? undefined : {
      kind: "s3" as const,
      bucket: s3.bucket,
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: Option.some({ accessKeyId: s3.accessKeyId, secretAccessKey: Redacted.make(s3.secretAccessKey) })
    }
    const config = defaults({ dataDir, databaseUrl: Option.some(Redacted.make(db.url)), workers: 0, ocr: OCR, testModels: true, ...(blobStore ? { blobStore } : {}), ...(INDEX === "pgvector" ? { chunkIndex: { kind: "pgvector" as const } } : {}) })
    log(`${label}: building the engine (database ${db.name}, data dir ${dataDir}; builds the GloVe model cache)`)
    const start = performance.now()
    const rag = await createRagClient(ServerEngine.layer(config))
    buildS = seconds(start)
    try {
      const caller = await rag.localCaller({ email: "bench@ragkit.local", embeddingModel: SCALE_MODEL })
      // Interleaved (1, 2, 1, 2, ...), so that changes in the machine's load touch every N alike.
      for (let run = 1; run <= RUNS; run++) {
        for (const n of PROCESSES) runs.get(n)!.push(await scaleRun(rag, caller, files, n, db.url, dataDir, run))
      }
    } finally {
      await rag.dispose()
    }
    if (s3 !== undefined) {
      // The runs' files are deleted with their knowledge bases, but a file blob store leaves its folders
      // (blobs/ and one per key prefix): with S3 blobs there is no blobs/ in the data dir at all.
      const local = entriesUnder(path.join(dataDir, "blobs"))
      blobsAt = `S3 (${s3.endpoint}, bucket ${s3.bucket}; ${entriesUnder(s3.dir)} entries left in the server's folder); ` +
        `the local data dir has ${fs.existsSync(path.join(dataDir, "blobs")) ? `a blobs/ folder with ${local} entries` : "no blobs/ folder"}`
      if (fs.existsSync(path.join(dataDir, "blobs"))) throw new Error(`--blobs s3, but ${path.join(dataDir, "blobs")} exists (${local} entries)`)
    }
  } finally {
    await s3?.close()
    s3 = undefined
    await Effect.runPromise(Scope.close(scope, Exit.void))
    fs.rmSync(dataDir, { recursive: true, force: true })
  }

  const m = (rs: ReadonlyArray<ScaleRun>, f: (r: ScaleRun) => number) => median(rs.map(f))
  const all = [...runs.values()].flat()
  // Rates count the documents that ended DONE: a failed document's text was not extracted.
  const sizeOf = new Map(files.map((f) => [f.name, f.bytes.length]))
  const doneBytes = (r: ScaleRun) => r.done.reduce((n, name) => n + (sizeOf.get(name) ?? 0), 0)
  const doneText = (r: ScaleRun) => r.done.reduce((n, name) => n + (sink.textBytes.get(name) ?? 0), 0)
  const doneTexts = all[0]!.done.flatMap((name) => sink.chunkTexts.get(name) ?? [])
  const direct: Array<number> = []
  for (let run = 0; run < RUNS; run++) {
    collect()
    direct.push(embedDirect(doneTexts, embedDims))
  }
  const failed = Math.max(...all.map((r) => r.failed))
  const failedNames = [...new Set(all.flatMap((r) => files.map((f) => f.name).filter((name) => !r.done.includes(name))))]
  out(`### ${label}, scale-out`)
  out()
  out(
    `${files.length} files, ${f1(bytes / MB)} MB of bytes, ${f1(textBytes / MB)} MB of extracted text (UTF-8, sequential pre-pass in this process), ` +
      `${median(all.map((r) => r.chunks))} chunks, ${median(all.map((r) => r.tokens))} tokens. MB = 10^6 bytes. ` +
      `Engine build in this process (Postgres migrations, GloVe model cache): ${f1(buildS)} s. Blob store: ${blobsAt}.`
  )
  out()
  if (failed > 0) {
    out(
      `**${failed} documents not DONE** in the worker processes (${failedNames.slice(0, 12).join(", ")}${failedNames.length > 12 ? ", ..." : ""}); ` +
        `the rates below count only the DONE documents' files, bytes and pre-pass text (${f1(median(all.map(doneText)) / MB)} MB).`
    )
    out()
  }
  const rssOf = (rs: ReadonlyArray<ScaleRun>) => String(Math.round(m(rs, (r) => Math.max(...r.peakRss)) / 2 ** 20))
  const rateRow = (name: string, rs: ReadonlyArray<ScaleRun>, s: number) => {
    const text = m(rs, doneText)
    return [
      name,
      String(m(rs, (r) => r.done.length)),
      f2(m(rs, doneBytes) / MB),
      f2(text / MB),
      String(m(rs, (r) => r.chunks)),
      f2(s),
      f1(m(rs, (r) => r.done.length) / s),
      f2(text / MB / s),
      String(Math.round(m(rs, (r) => r.chunks) / s)),
      rssOf(rs)
    ]
  }
  table(
    ["processes", "files DONE", "MB bytes", "MB text", "chunks", "s", "files/s", "MB/s text", "chunks/s", "peak RSS per worker MiB"],
    [...runs.entries()].flatMap(([n, rs]) => [
      rateRow(`${n}: wall, spawn to all DONE/FAIL (incl. start-up)`, rs, m(rs, (r) => r.wallS)),
      rateRow(`${n}: first claim to all DONE/FAIL`, rs, m(rs, (r) => r.claimToEndS))
    ])
  )
  out(
    `Every run, in the order run (upload and queue happen before the spawn; times by polling, every ${POLL_MS} ms near the end, so +-${POLL_MS} ms; ` +
      `CPU = user + system of each worker process, start-up included; parse/chunk/process sums from the workers' progress lines and process_duration):`
  )
  out()
  const order = Array.from({ length: RUNS }, (_, i) => [...runs.entries()].map(([n, rs]) => [n, i, rs[i]!] as const)).flat()
  table(
    ["processes", "run", "upload s", "queue s", "start-up s (per worker)", "first claim to end s", "wall s", "docs per worker", "worker CPU s", "peak RSS MiB", "parse s (sum)", "chunk s (sum)", "process s (sum)", "load avg start", "load avg end"],
    order.map(([n, i, r]) => [
      String(n),
      String(i + 1),
      f2(r.uploadS),
      f2(r.queueS),
      r.startupS.map(f2).join(" / "),
      f2(r.claimToEndS),
      f2(r.wallS),
      r.docsPerWorker.join(" / "),
      r.cpuS.map(f1).join(" / "),
      r.peakRss.map((b) => String(Math.round(b / 2 ** 20))).join(" / "),
      f2(r.parseS),
      f2(r.chunkS),
      f2(r.processS),
      r.loadStart.map(f2).join(", "),
      r.loadEnd.map(f2).join(", ")
    ])
  )
  const embedS = median(direct)
  const lines = [...runs.entries()].map(([n, rs]) => {
    const rate = m(rs, doneText) / MB / m(rs, (r) => r.claimToEndS)
    const tail = rs.every((r) => r.tailS !== undefined)
      ? ` (the pgvector text-search tail indexed ${f2(m(rs, (r) => r.tailS!))} s after the end, median)`
      : ""
    return `${n} process(es): ${f2(rate)} MB/s of text from the first claim (${f2(m(rs, doneText) / MB / m(rs, (r) => r.wallS))} MB/s with start-up), 2 MB/s ${rate >= 2 ? "met" : "NOT met"}${tail}`
  })
  const smallest = Math.min(...PROCESSES)
  const one = runs.get(smallest)!
  out(
    `${lines.join("; ")}. Embedding: ${SCALE_MODEL} alone over the ${doneTexts.length} chunk texts of the DONE documents (pre-pass chunks) takes ${f2(embedS)} s ` +
      `(direct, in this process, median), ${Math.round((100 * embedS) / m(one, (r) => r.claimToEndS))}% of the ${smallest}-process time from the first claim ` +
      `and ${Math.round((100 * embedS) / m(one, (r) => r.processS))}% of its per-document processing time. ` +
      `Sequential pre-pass in this process (all files): parse + chunk ${f2(prepassS)} s (${f2(textBytes / MB / prepassS)} MB/s of text on one core).`
  )
  out()
}

/**
 * The mixed corpus, generated by a child process (pdf-lib, the zip writer) into a folder under the
 * temp dir and read from there, so that the generator's memory is not counted as the ingestion's.
 * The folder is kept, and reused by later runs with the same `--files` and `--ocr`.
 */
const mixedCorpusFromDisk = async (count: number): Promise<Array<BenchFile>> => {
  const dir = path.join(os.tmpdir(), `ragkit-bench-corpus-${count}${OCR ? "-ocr" : ""}`)
  const marker = path.join(dir, ".complete")
  if (!fs.existsSync(marker)) {
    log(`generating the mixed corpus into ${dir} (a child process)`)
    const args = ["--conditions=development", "--import", "tsx", fileURLToPath(import.meta.url), "--write-corpus", dir, "--files", String(count), ...(OCR ? ["--ocr"] : [])]
    const child = spawn(process.execPath, args, { stdio: ["ignore", "inherit", "inherit"] })
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve))
    if (code !== 0 || !fs.existsSync(marker)) throw new Error(`generating the corpus failed (exit code ${code})`)
  }
  const names = (JSON.parse(fs.readFileSync(marker, "utf8")) as Array<string>)
  return names.map((name) => ({ name, bytes: new Uint8Array(fs.readFileSync(path.join(dir, name))) }))
}

const writeCorpus = async (dir: string) => {
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  const files = await mixedCorpus(FILES)
  for (const file of files) fs.writeFileSync(path.join(dir, file.name), file.bytes)
  fs.writeFileSync(path.join(dir, ".complete"), JSON.stringify(files.map((f) => f.name)))
}

const main = async () => {
  const corpusDir = option("write-corpus", "")
  if (corpusDir !== "") return writeCorpus(corpusDir)
  machine()
  const run = PROCESSES.length > 0 ? scaleOut : report
  if (ONLY !== "scifact") {
    const start = performance.now()
    const files = await mixedCorpusFromDisk(FILES)
    log(`  ${files.length} files in ${f1(seconds(start))} s`)
    await run(`Mixed corpus (${files.length} generated files: ${[...new Set(files.map((f) => suffix(f.name)))].join(", ")})`, files)
  }
  if (ONLY !== "mixed") {
    const files = scifactCorpus()
    await run(`SciFact (${files.length} abstracts as <_id>.txt, "title\\n\\ntext")`, files)
  }
  out(`Load average at the end: ${os.loadavg().map(f2).join(", ")} (other processes on the machine slow the runs when it is above the core count).`)
  out(`Process max RSS (process.resourceUsage().maxRSS, whole run incl. generation): ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB.`)
}

main().catch((error: unknown) => {
  log(String(error instanceof Error ? error.stack : error))
  process.exit(1)
})
