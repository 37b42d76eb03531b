/**
 * HTML: headings become `title` sections with their level, paragraphs and blocks `text`, lists
 * `list`, `pre` blocks `code`, and tables `table` sections (rows of cell text, rendered back as
 * HTML for the chunk text, as RAGFlow does). Scripts, styles, navigation and forms are dropped;
 * the `<title>` goes into the metadata.
 */
import type { Parser } from "@ragkit/core"
import { HtmlTables, ParseError } from "@ragkit/core"
import { Effect } from "effect"
import { collapseWhitespace, decodeText, empty, messageOf } from "../internal/text.js"
import { makeParser } from "../internal/markup.js"

/** Elements whose content is no document text. */
const DROPPED = new Set([
  "script",
  "style",
  "nav",
  "noscript",
  "template",
  "head",
  "svg",
  "math",
  "iframe",
  "object",
  "select",
  "button",
  "textarea",
  "form"
])

/** Elements that start and end a block of text. */
const BLOCKS = new Set([
  "p",
  "div",
  "section",
  "article",
  "main",
  "header",
  "footer",
  "aside",
  "blockquote",
  "address",
  "figure",
  "figcaption",
  "details",
  "summary",
  "dl",
  "dt",
  "dd",
  "hr",
  "center",
  "fieldset",
  "legend",
  "body",
  "html"
])

const HEADINGS: Record<string, number> = { h1: 1, h2: 2, h3: 3, h4: 4, h5: 5, h6: 6 }

/**
 * Nesting that the sections keep: list items deeper than this are indented as this deep, and
 * tables inside tables deeper than this read as text of the cell around them. Past these, deep
 * nesting would cost space or time by the square of its depth.
 */
const MAX_LIST_INDENT = 8
const MAX_TABLE_DEPTH = 8

export interface HtmlDocument {
  readonly sections: Array<Parser.Section>
  readonly title?: string
  readonly description?: string
  readonly language?: string
}

interface TableState {
  readonly rows: Array<Array<string>>
  row: Array<string> | undefined
  cell: string | undefined
}

export const tableSection = (rows: ReadonlyArray<ReadonlyArray<string>>, caption?: string): Parser.Section => {
  const html = HtmlTables.tableToHtml(rows, caption === undefined ? {} : { caption })
  return { kind: "table", text: html, table: { rows, html } }
}

/** Turns an HTML string into sections (no I/O, never throws for any input). */
export const htmlToSections = (html: string): HtmlDocument => {
  const sections: Array<Parser.Section> = []
  let title: string | undefined
  let description: string | undefined
  let language: string | undefined
  let inTitle = false
  let titleText = ""
  let dropDepth = 0
  let buffer = ""
  let heading: number | undefined
  let preDepth = 0
  let listDepth = 0
  let listItems: Array<string> = []
  let listItemDepth: Array<number> = []
  const tables: Array<TableState> = []
  /** Tables opened inside the deepest table kept: their rows and cells are text of its cell. */
  let flatTables = 0
  let caption: string | undefined
  let inCaption = false

  const flushBlock = () => {
    if (tables.length > 0) return
    if (listDepth > 0) {
      const text = collapseWhitespace(buffer)
      if (text.length > 0) {
        const depth = Math.min(MAX_LIST_INDENT, Math.max(0, (listItemDepth[listItemDepth.length - 1] ?? 1) - 1))
        listItems.push(`${"  ".repeat(depth)}${text}`)
      }
      buffer = ""
      return
    }
    if (preDepth > 0) {
      const code = buffer.replace(/^\n+/, "").trimEnd()
      if (code.length > 0) sections.push({ kind: "code", text: code })
      buffer = ""
      return
    }
    const text = buffer
      .split("\n")
      .map((line) => line.replace(/[ \t\f\v\r\u00a0]+/g, " ").trim())
      .filter((line) => line.length > 0)
      .join("\n")
    buffer = ""
    if (text.length === 0) return
    if (heading !== undefined) sections.push({ kind: "title", text: collapseWhitespace(text), level: heading })
    else sections.push({ kind: "text", text })
  }

  const flushList = () => {
    if (listItems.length > 0) sections.push({ kind: "list", text: listItems.join("\n") })
    listItems = []
  }

  const append = (text: string) => {
    const table = tables[tables.length - 1]
    if (inCaption) caption = (caption ?? "") + text
    else if (table !== undefined) {
      if (table.cell !== undefined) table.cell += text
    } else buffer += preDepth > 0 ? text : text.replace(/[\r\n]+/g, " ")
  }

  const closeCell = (table: TableState) => {
    if (table.cell !== undefined) {
      table.row ??= []
      table.row.push(collapseWhitespace(table.cell))
      table.cell = undefined
    }
  }
  const closeRow = (table: TableState) => {
    closeCell(table)
    if (table.row !== undefined && table.row.some((cell) => cell.length > 0)) table.rows.push(table.row)
    table.row = undefined
  }

  const parser = makeParser(
    {
      onopentag(name, attributes) {
        if (name === "html" && attributes.lang !== undefined) language = attributes.lang
        if (name === "meta" && attributes.name?.toLowerCase() === "description" && attributes.content !== undefined) {
          description = collapseWhitespace(attributes.content)
        }
        if (name === "title") {
          inTitle = true
          return
        }
        if (DROPPED.has(name)) {
          dropDepth++
          return
        }
        if (dropDepth > 0) return
        const table = tables[tables.length - 1]
        if (name === "table") {
          flushBlock()
          if (table !== undefined && table.cell === undefined) table.cell = ""
          if (tables.length >= MAX_TABLE_DEPTH) flatTables++
          else tables.push({ rows: [], row: undefined, cell: undefined })
          return
        }
        if (table !== undefined) {
          if (flatTables > 0) {
            if (name === "tr" || name === "td" || name === "th" || name === "br" || name === "p" || name === "div" || name === "li") {
              append(" ")
            }
          } else if (name === "tr") closeRow(table)
          else if (name === "td" || name === "th") {
            closeCell(table)
            table.cell = ""
          } else if (name === "caption") inCaption = true
          else if (name === "br" || name === "p" || name === "div" || name === "li") append(" ")
          return
        }
        if (name === "br") {
          buffer += "\n"
          return
        }
        if (name in HEADINGS) {
          flushBlock()
          if (listDepth === 0) heading = HEADINGS[name]
          return
        }
        if (name === "ul" || name === "ol") {
          flushBlock()
          listDepth++
          return
        }
        if (name === "li") {
          flushBlock()
          listItemDepth.push(listDepth)
          return
        }
        if (name === "pre") {
          flushBlock()
          preDepth++
          return
        }
        if (BLOCKS.has(name) || name === "img") {
          if (name === "img" && attributes.alt !== undefined && attributes.alt.trim() !== "") append(` ${attributes.alt} `)
          else flushBlock()
        }
      },
      ontext(text) {
        if (inTitle) titleText += text
        else if (dropDepth === 0) append(text)
      },
      onclosetag(name) {
        if (name === "title") {
          inTitle = false
          if (title === undefined && titleText.trim() !== "") title = collapseWhitespace(titleText)
          return
        }
        if (DROPPED.has(name)) {
          dropDepth = Math.max(0, dropDepth - 1)
          return
        }
        if (dropDepth > 0) return
        const table = tables[tables.length - 1]
        if (table !== undefined && flatTables > 0) {
          if (name === "table") flatTables--
          return
        }
        if (table !== undefined) {
          if (name === "td" || name === "th") closeCell(table)
          else if (name === "tr") closeRow(table)
          else if (name === "caption") inCaption = false
          else if (name === "table") {
            closeRow(table)
            tables.pop()
            const parent = tables[tables.length - 1]
            if (parent !== undefined) {
              // A table inside a cell: its text joins the cell.
              parent.cell = `${parent.cell ?? ""} ${table.rows.map((row) => row.join(" ")).join(" ")}`
            } else if (table.rows.length > 0) {
              sections.push(tableSection(table.rows, caption === undefined ? undefined : collapseWhitespace(caption)))
            }
            if (tables.length === 0) caption = undefined
          }
          return
        }
        if (name in HEADINGS) {
          flushBlock()
          heading = undefined
          return
        }
        if (name === "li") {
          flushBlock()
          listItemDepth.pop()
          return
        }
        if (name === "ul" || name === "ol") {
          flushBlock()
          listDepth = Math.max(0, listDepth - 1)
          if (listDepth === 0) {
            flushList()
            listItemDepth = []
          }
          return
        }
        if (name === "pre") {
          flushBlock()
          preDepth = Math.max(0, preDepth - 1)
          return
        }
        if (BLOCKS.has(name)) flushBlock()
      }
    },
    { decodeEntities: true, lowerCaseTags: true, recognizeSelfClosing: true }
  )
  parser.write(html)
  parser.end()
  // Unclosed elements at the end of the input.
  while (tables.length > 0) {
    const table = tables.pop()!
    closeRow(table)
    if (tables.length === 0 && table.rows.length > 0) sections.push(tableSection(table.rows))
  }
  flushBlock()
  listDepth = 0
  flushList()
  return {
    sections,
    ...(title === undefined ? {} : { title }),
    ...(description === undefined ? {} : { description }),
    ...(language === undefined ? {} : { language })
  }
}

/** HTML files (`html`, `htm`). */
export const HtmlParser: Parser.Parser = {
  name: "html",
  extensions: ["html", "htm", "xhtml"],
  mimeTypes: ["text/html", "application/xhtml+xml"],
  parse: Effect.fn("HtmlParser.parse")(function*(input: Parser.ParseInput) {
    const text = yield* decodeText(input.bytes, input.fileName)
    const doc = yield* Effect.try({
      try: () => htmlToSections(text),
      catch: (cause) =>
        new ParseError({ reason: "Corrupt", message: `${input.fileName}: cannot read the HTML: ${messageOf(cause)}`, cause })
    })
    if (doc.sections.length === 0) return yield* empty(input.fileName)
    const metadata: Record<string, unknown> = {}
    if (doc.title !== undefined) metadata.title = doc.title
    if (doc.description !== undefined) metadata.description = doc.description
    if (doc.language !== undefined) metadata.language = doc.language
    return { sections: doc.sections, metadata }
  })
}
