/**
 * Excel workbooks (`xlsx`): one `table` section per sheet, after a `title` section with the sheet
 * name. Cells are rendered as text: dates as ISO dates, formulas as their cached result, rich text
 * as plain text. Empty rows and trailing empty columns are dropped; more than the deployment's
 * `maxCells` cells (`ParserLimits`, default 1,000,000) fail with `TooLarge`. The zip container is checked first (`internal/zip.ts`).
 * Legacy `.xls` is not read (exceljs cannot).
 */
import type { Parser } from "@ragkit/core"
import { ParseError } from "@ragkit/core"
import { Effect } from "effect"
import { tableSection } from "./HtmlParser.js"
import { empty, messageOf, tooLarge } from "../internal/text.js"
import { lazyModule } from "../internal/lazy.js"
import { coreProperties, openZip, zipLimits } from "../internal/zip.js"
import * as ParserLimits from "../ParserLimits.js"

const exceljs = lazyModule("exceljs", () => import("exceljs"))

const isoDate = (date: Date): string => {
  if (Number.isNaN(date.getTime())) return ""
  const iso = date.toISOString()
  return iso.endsWith("T00:00:00.000Z") ? iso.slice(0, 10) : iso.replace(".000Z", "Z")
}

const formatNumber = (n: number): string =>
  Number.isInteger(n) ? String(n) : String(Number.parseFloat(n.toPrecision(15)))

/** The text of a cell value, whatever its type. */
export const cellText = (value: unknown): string => {
  if (value === null || value === undefined) return ""
  if (typeof value === "string") return value
  if (typeof value === "number") return formatNumber(value)
  if (typeof value === "boolean") return value ? "TRUE" : "FALSE"
  if (value instanceof Date) return isoDate(value)
  if (typeof value === "object") {
    const v = value as Record<string, unknown>
    if (Array.isArray(v.richText)) return v.richText.map((run: { text?: unknown }) => cellText(run.text)).join("")
    if ("formula" in v || "sharedFormula" in v) return cellText(v.result)
    if ("hyperlink" in v) return cellText(v.text)
    if (typeof v.error === "string") return v.error
    if ("text" in v) return cellText(v.text)
  }
  return ""
}

/** Excel workbooks (`xlsx`, `xlsm`); the archive and the cells are checked against the deployment's `limits`. */
export const makeXlsxParser = (limits: ParserLimits.ParserLimits): Parser.Parser => ({
  name: "xlsx",
  extensions: ["xlsx", "xlsm"],
  mimeTypes: [
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-excel.sheet.macroEnabled.12"
  ],
  parse: Effect.fn("XlsxParser.parse")(function*(input: Parser.ParseInput) {
    const archive = yield* openZip(input.bytes, { format: "XLSX", fileName: input.fileName, limits: zipLimits(limits) })
    if (!archive.has("xl/workbook.xml")) {
      return yield* new ParseError({ reason: "Corrupt", message: `${input.fileName}: not a valid XLSX (no xl/workbook.xml)` })
    }
    // exceljs inflates every entry on its own: check first that none inflates beyond the limits.
    yield* archive.verifyAll
    const properties = yield* coreProperties(archive, input.fileName, "XLSX")
    const { default: ExcelJS } = yield* exceljs
    const workbook = new ExcelJS.Workbook()
    yield* Effect.tryPromise({
      try: () => workbook.xlsx.load(Buffer.from(input.bytes) as never),
      catch: (cause) =>
        new ParseError({ reason: "Corrupt", message: `${input.fileName}: cannot read the XLSX: ${messageOf(cause)}`, cause })
    })
    const maxCells = limits.maxCells
    let cells = 0
    const sections: Array<Parser.Section> = []
    const sheets: Array<string> = []
    for (const sheet of workbook.worksheets) {
      const rows: Array<Array<string>> = []
      let failure: ParseError | undefined
      sheet.eachRow({ includeEmpty: false }, (row) => {
        if (failure !== undefined) return
        const values: Array<string> = []
        row.eachCell({ includeEmpty: true }, (cell, column) => {
          const merged = cell.isMerged && cell.master !== cell
          values[column - 1] = merged ? "" : cellText(cell.value).trim()
        })
        for (let i = 0; i < values.length; i++) values[i] ??= ""
        while (values.length > 0 && values[values.length - 1] === "") values.pop()
        if (values.length === 0) return
        cells += values.length
        if (cells > maxCells) {
          failure = tooLarge(`${input.fileName}: more than ${maxCells} cells`)
          return
        }
        rows.push(values)
      })
      if (failure !== undefined) return yield* failure
      if (rows.length === 0) continue
      sheets.push(sheet.name)
      sections.push({ kind: "title", text: sheet.name, level: 1 })
      sections.push(tableSection(rows))
    }
    if (sections.length === 0) return yield* empty(input.fileName, "no cells with content")
    return { sections, metadata: { ...properties, sheets } }
  })
})

/** Excel workbooks, with the default limits. */
export const XlsxParser: Parser.Parser = makeXlsxParser(ParserLimits.defaults)
