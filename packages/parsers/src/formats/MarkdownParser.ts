/**
 * Markdown (`md`, `markdown`, `mdx`): headings become `title` sections with their level,
 * paragraphs `text`, lists `list`, fenced code `code`, and tables `table` sections whose text is
 * the table as HTML (as RAGFlow puts tables into chunks). A YAML front matter block goes into the
 * metadata; raw HTML blocks go through the HTML parser.
 */
import type { Parser } from "@ragkit/core"
import { ParseError } from "@ragkit/core"
import { Effect } from "effect"
import type { Token, Tokens } from "marked"
import { Lexer } from "marked"
import { htmlToSections, tableSection } from "./HtmlParser.js"
import { decodeText, empty, joinLines, messageOf, normaliseNewlines } from "../internal/text.js"

const FRONT_MATTER = /^---[ \t]*\n([\s\S]*?)\n(?:---|\.\.\.)[ \t]*(?:\n|$)/

/** `key: value` pairs of a simple YAML front matter (nested structures are kept as raw text). */
const frontMatter = (yaml: string): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const line of yaml.split("\n")) {
    const match = /^([A-Za-z_][\w-]*)[ \t]*:[ \t]*(.*)$/.exec(line)
    if (match !== null && match[2]!.trim() !== "") out[match[1]!] = match[2]!.trim().replace(/^(["'])(.*)\1$/, "$2")
  }
  return out
}

const stripTags = (html: string): string => html.replace(/<[^<>]*>/g, "")

/** List items deeper than this are indented as this deep (the indent would grow by the square of the depth). */
const MAX_LIST_INDENT = 8

/**
 * Inline text with more emphasis and strike-through delimiters than this is kept as it is written:
 * marked pairs them in time that grows by the square of their number.
 */
const MAX_INLINE_DELIMITERS = 256

const delimiters = (text: string): number => {
  let n = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 42 || c === 95 || c === 126) n++ // * _ ~
  }
  return n
}

/** Quotes and list items nested in one line deeper than this lose the markers past it. */
const MAX_LINE_NESTING = 16
/** Indentation (tabs count 4 columns) past this is cut to it. */
const MAX_INDENT_COLUMNS = 64

const isBlank = (c: string | undefined) => c === " " || c === "\t"

/** The length of a list marker (`-`, `*`, `+`, `1.`, `1)`) and the blank after it at `i`, or 0. */
const listMarker = (line: string, i: number): number => {
  const c = line[i]
  if ((c === "-" || c === "*" || c === "+") && isBlank(line[i + 1])) return 2
  let j = i
  while (j < line.length && j - i < 9 && line.charCodeAt(j) >= 48 && line.charCodeAt(j) <= 57) j++
  return j > i && (line[j] === "." || line[j] === ")") && isBlank(line[j + 1]) ? j - i + 2 : 0
}

/**
 * A line whose block prefix (indentation, quote markers and list markers) nests deeper than the
 * limits above, with the indentation and markers past them dropped. marked lexes each nested block
 * again at every level, so its time grows by the square of the depth.
 */
const limitLineNesting = (line: string): string => {
  if (line.length < MAX_LINE_NESTING && line.length < MAX_INDENT_COLUMNS) return line
  let out = ""
  let columns = 0
  let markers = 0
  let changed = false
  let i = 0
  while (i < line.length) {
    const start = i
    let kept = ""
    while (isBlank(line[i])) {
      const width = line[i] === "\t" ? 4 : 1
      if (columns + width <= MAX_INDENT_COLUMNS) {
        columns += width
        kept += line[i]
      } else changed = true
      i++
    }
    const marker = line[i] === ">" ? 1 : listMarker(line, i)
    if (marker === 0) {
      out += kept
      break
    }
    if (markers < MAX_LINE_NESTING) out += kept + line.slice(i, i + marker)
    else changed = true
    markers++
    i += marker
    if (i === start) break
  }
  return changed ? out + line.slice(i) : line
}

/** The text with every line's nesting limited (`limitLineNesting`). */
const limitNesting = (text: string): string => {
  const lines = text.split("\n")
  let changed = false
  for (let i = 0; i < lines.length; i++) {
    const limited = limitLineNesting(lines[i]!)
    if (limited !== lines[i]) {
      lines[i] = limited
      changed = true
    }
  }
  return changed ? lines.join("\n") : text
}

/** A marked lexer that leaves inline text with too many delimiters unparsed (see above). */
const lexer = (): Lexer => {
  const lexer = new Lexer({ gfm: true })
  const inlineTokens = lexer.inlineTokens.bind(lexer)
  lexer.inlineTokens = (src, tokens = []) => {
    if (delimiters(src) <= MAX_INLINE_DELIMITERS) return inlineTokens(src, tokens)
    tokens.push({ type: "text", raw: src, text: src })
    return tokens
  }
  return lexer
}

/** The plain text of inline tokens: emphasis, links and code spans lose their markup. */
const inlineText = (tokens: ReadonlyArray<Token> | undefined, fallback = ""): string => {
  if (tokens === undefined) return fallback
  let out = ""
  for (const token of tokens) {
    switch (token.type) {
      case "br":
        out += "\n"
        break
      case "image":
        out += (token as Tokens.Image).text
        break
      case "html":
        out += stripTags((token as Tokens.HTML).text)
        break
      case "checkbox":
        break
      default: {
        const t = token as { tokens?: ReadonlyArray<Token>; text?: string }
        out += t.tokens !== undefined ? inlineText(t.tokens) : decodeEntities(t.text ?? "")
      }
    }
  }
  return out
}

/** marked escapes `&<>"'` in text tokens. */
const decodeEntities = (text: string): string =>
  text.replace(/&(amp|lt|gt|quot|#39);/g, (_, name: string) =>
    name === "amp" ? "&" : name === "lt" ? "<" : name === "gt" ? ">" : name === "quot" ? "\"" : "'")

const listLines = (list: Tokens.List, depth: number): Array<string> => {
  const lines: Array<string> = []
  const start = typeof list.start === "number" ? list.start : 1
  list.items.forEach((item, i) => {
    const marker = list.ordered ? `${start + i}.` : "-"
    const check = item.task ? (item.checked === true ? "[x] " : "[ ] ") : ""
    const nested: Array<string> = []
    const own: Array<string> = []
    for (const token of item.tokens) {
      if (token.type === "list") nested.push(...listLines(token as Tokens.List, depth + 1))
      else if (token.type !== "space") own.push(blockText(token))
    }
    lines.push(`${"  ".repeat(Math.min(depth, MAX_LIST_INDENT))}${marker} ${check}${joinLines(own.join(" ")).trim()}`)
    lines.push(...nested)
  })
  return lines
}

/** The text of a block token inside a list item or a quote. */
const blockText = (token: Token): string => {
  const t = token as { tokens?: ReadonlyArray<Token>; text?: string }
  if (token.type === "code") return (token as Tokens.Code).text
  if (token.type === "list") return listLines(token as Tokens.List, 0).join("\n")
  return inlineText(t.tokens, decodeEntities(t.text ?? ""))
}

const toSections = (tokens: ReadonlyArray<Token>, sections: Array<Parser.Section>): void => {
  for (const token of tokens) {
    switch (token.type) {
      case "heading": {
        const heading = token as Tokens.Heading
        const text = inlineText(heading.tokens, heading.text).trim()
        if (text !== "") sections.push({ kind: "title", text, level: heading.depth })
        break
      }
      case "paragraph":
      case "text": {
        const t = token as Tokens.Paragraph
        const text = inlineText(t.tokens, t.text).trim()
        if (text !== "") sections.push({ kind: "text", text })
        break
      }
      case "list": {
        const text = listLines(token as Tokens.List, 0).join("\n")
        if (text.trim() !== "") sections.push({ kind: "list", text })
        break
      }
      case "code": {
        const code = (token as Tokens.Code).text.trimEnd()
        if (code.trim() !== "") sections.push({ kind: "code", text: code })
        break
      }
      case "table": {
        const table = token as Tokens.Table
        const cell = (c: Tokens.TableCell) => inlineText(c.tokens, c.text).replace(/\s+/g, " ").trim()
        const rows = [table.header.map(cell), ...table.rows.map((row) => row.map(cell))]
        sections.push(tableSection(rows))
        break
      }
      case "blockquote":
        toSections((token as Tokens.Blockquote).tokens, sections)
        break
      case "html":
        sections.push(...htmlToSections((token as Tokens.HTML).text).sections)
        break
      default:
        break
    }
  }
}

/** MDX: ESM `import` / `export` lines at the top level are code, not prose. */
const stripMdx = (text: string): string =>
  text.replace(/^(?:import|export)\s[^\n]*(?:\n|$)/gm, "")

/** Markdown files (`md`, `markdown`, `mdx`). */
export const MarkdownParser: Parser.Parser = {
  name: "markdown",
  extensions: ["md", "markdown", "mdx"],
  mimeTypes: ["text/markdown", "text/x-markdown", "text/mdx"],
  parse: Effect.fn("MarkdownParser.parse")(function*(input: Parser.ParseInput) {
    let text = normaliseNewlines(yield* decodeText(input.bytes, input.fileName))
    const metadata: Record<string, unknown> = {}
    const front = FRONT_MATTER.exec(text)
    if (front !== null) {
      const fields = frontMatter(front[1]!)
      if (Object.keys(fields).length > 0) metadata.frontMatter = fields
      if (fields.title !== undefined) metadata.title = fields.title
      text = text.slice(front[0].length)
    }
    if (input.fileName.toLowerCase().endsWith(".mdx")) text = stripMdx(text)
    // Deep nesting (quotes in quotes, lists in lists) can exhaust the stack, in marked or here.
    const sections = yield* Effect.try({
      try: () => {
        const sections: Array<Parser.Section> = []
        toSections(lexer().lex(limitNesting(text)), sections)
        return sections
      },
      catch: (cause) =>
        new ParseError({ reason: "Corrupt", message: `${input.fileName}: cannot read the Markdown: ${messageOf(cause)}`, cause })
    })
    if (sections.length === 0) return yield* empty(input.fileName)
    if (metadata.title === undefined) {
      const first = sections.find((section) => section.kind === "title" && section.level === 1)
      if (first !== undefined) metadata.title = first.text
    }
    return { sections, metadata }
  })
}
