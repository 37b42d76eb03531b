/**
 * CSV and TSV: an RFC 4180 reader (quoted fields, doubled quotes, CRLF / LF / CR line ends, line
 * breaks inside quotes). The delimiter is `,` for `.csv` and tab for `.tsv`; a `;` or tab is
 * taken instead when it splits the first lines more consistently. One `table` section per file,
 * header first; the metadata carries the columns. More than the deployment's `maxCells` cells
 * (`ParserLimits`, default 1,000,000) fail with `TooLarge`.
 */
import type { Parser } from "@ragkit/core"
import type { ParseError } from "@ragkit/core"
import { Effect } from "effect"
import { tableSection } from "./HtmlParser.js"
import { corrupt, decodeText, empty, tooLarge } from "../internal/text.js"
import * as ParserLimits from "../ParserLimits.js"

export interface CsvOptions {
  readonly delimiter: string
  /** Stop after this many records (for sniffing). */
  readonly maxRecords?: number
  readonly maxCells?: number
  readonly fileName?: string
}

/**
 * Reads records. Fully empty records are dropped. Fails (returns a `ParseError`) on an unterminated
 * quoted field or when the cell cap is passed.
 */
export const readCsv = (text: string, options: CsvOptions): Array<Array<string>> | ParseError => {
  const { delimiter } = options
  const maxRecords = options.maxRecords ?? Number.POSITIVE_INFINITY
  const maxCells = options.maxCells ?? Number.POSITIVE_INFINITY
  const name = options.fileName ?? "CSV"
  const records: Array<Array<string>> = []
  let record: Array<string> = []
  let cells = 0
  let line = 1
  let i = 0
  const n = text.length
  const endRecord = (): ParseError | undefined => {
    if (record.length > 1 || (record.length === 1 && record[0] !== "")) {
      cells += record.length
      if (cells > maxCells) return tooLarge(`${name}: more than ${maxCells} cells`)
      records.push(record)
    }
    record = []
    return undefined
  }
  while (i < n && records.length < maxRecords) {
    let field = ""
    if (text[i] === "\"") {
      const startLine = line
      i++
      for (;;) {
        const quote = text.indexOf("\"", i)
        if (quote < 0) return corrupt(`${name}: a quoted field that starts on line ${startLine} never ends`)
        const chunk = text.slice(i, quote)
        for (let k = chunk.indexOf("\n"); k >= 0; k = chunk.indexOf("\n", k + 1)) line++
        field += chunk
        if (text[quote + 1] === "\"") {
          field += "\""
          i = quote + 2
        } else {
          i = quote + 1
          break
        }
      }
      // Lenient: anything between the closing quote and the delimiter is kept.
      while (i < n && text[i] !== delimiter && text[i] !== "\n" && text[i] !== "\r") field += text[i++]
    } else {
      let j = i
      while (j < n && text[j] !== delimiter && text[j] !== "\n" && text[j] !== "\r") j++
      field = text.slice(i, j)
      i = j
    }
    record.push(field)
    if (i >= n) break
    if (text[i] === delimiter) {
      i++
      if (i >= n) record.push("")
      continue
    }
    // A line end: CRLF, LF or CR.
    if (text[i] === "\r" && text[i + 1] === "\n") i++
    i++
    line++
    const error = endRecord()
    if (error !== undefined) return error
  }
  if (record.length > 0) {
    const error = endRecord()
    if (error !== undefined) return error
  }
  return records
}

/** How well a delimiter splits a sample: the common field count when the records agree, else 0. */
const score = (sample: string, delimiter: string): number => {
  const records = readCsv(sample, { delimiter, maxRecords: 20 })
  if (!Array.isArray(records) || records.length === 0) return 0
  const counts = records.slice(0, records.length > 1 ? -1 : undefined).map((record) => record.length)
  const first = counts[0] ?? 0
  const agree = counts.filter((count) => count === first).length / counts.length
  return first > 1 ? first * agree : 0
}

/** `,` or tab by extension, unless `;` (or the other one) splits the first lines better. */
export const sniffDelimiter = (text: string, fileName: string): string => {
  const preferred = fileName.toLowerCase().endsWith(".tsv") ? "\t" : ","
  const sample = text.slice(0, 64 * 1024)
  let best = preferred
  let bestScore = score(sample, preferred)
  for (const candidate of [";", preferred === "," ? "\t" : ","]) {
    const s = score(sample, candidate)
    if (s > bestScore) {
      best = candidate
      bestScore = s
    }
  }
  return best
}

/** CSV and TSV files, at most the deployment's `limits.maxCells` cells. */
export const makeCsvParser = (limits: ParserLimits.ParserLimits): Parser.Parser => ({
  name: "csv",
  extensions: ["csv", "tsv"],
  mimeTypes: ["text/csv", "text/tab-separated-values", "application/csv"],
  parse: Effect.fn("CsvParser.parse")(function*(input: Parser.ParseInput) {
    const text = yield* decodeText(input.bytes, input.fileName)
    const delimiter = sniffDelimiter(text, input.fileName)
    const rows = readCsv(text, {
      delimiter,
      maxCells: limits.maxCells,
      fileName: input.fileName
    })
    if (!Array.isArray(rows)) return yield* rows
    const trimmed = rows.map((row) => row.map((cell) => cell.trim()))
    if (trimmed.every((row) => row.every((cell) => cell === ""))) return yield* empty(input.fileName, "no rows")
    return {
      sections: [tableSection(trimmed)],
      metadata: { columns: trimmed[0], rows: trimmed.length, delimiter }
    }
  })
})

/** CSV and TSV files, with the default limits. */
export const CsvParser: Parser.Parser = makeCsvParser(ParserLimits.defaults)
