/**
 * `qa`: question/answer pairs, one chunk each, after RAGFlow's `rag/app/qa.py`.
 *
 * - Tables (spreadsheets, CSV; sheet-name titles around them are ignored): the first two non-blank
 *   cells of a row are the question and the answer; a first row that reads like a header ("Question", "Answer", "问题", "答案", ...) is
 *   skipped, as are rows without both.
 * - Text with `Q:`/`A:` (also `Question:`/`Answer:`, `问：`/`答：`, `问题：`/`答案：`/`回答：`) line
 *   prefixes: a question runs to its answer, an answer to the next question. A marker after the end
 *   of a sentence within a line also counts (PDF blocks join lines).
 * - Markdown: headings are questions (nested headings joined by a newline, as RAGFlow does) and the
 *   text under them is the answer; tables in an answer are kept as HTML.
 * - Otherwise text lines of two TAB- (or comma-) separated fields; lines that do not split continue
 *   the previous answer.
 *
 * Content is RAGFlow's: `Question: q\tAnswer: a` for English, `问题：q\t回答：a` when the questions
 * are Chinese; `questions: [q]`. No parser_config keys.
 */
import type { ChunkMethod, Parser, Tokenizer } from "@ragkit/core"
import { isChinese } from "./internal/Language.js"
import { filledCells, pairDelimiter, textLines } from "./internal/Lines.js"
import { draft, tableContent } from "./internal/Merge.js"
import { layerOf, method } from "./internal/Method.js"

type Section = Parser.Section
type DraftChunk = ChunkMethod.DraftChunk

export const id = "qa"

export const accepts: ReadonlyArray<string> = ["xlsx", "xls", "csv", "txt", "md", "mdx", "markdown", "docx", "pdf"]

interface Pair {
  readonly question: string
  readonly answer: string
  readonly sections: ReadonlyArray<Section>
}

const PREFIX = /^(?:问题|答案|回答|user|assistant|Q|A|Question|Answer|问|答)[\t:： ]+/i
const Q_LINE = /^\s*(?:Q|Question|问题|问)\s*[:：]\s*/i
const A_LINE = /^\s*(?:A|Answer|答案|回答|答)\s*[:：]\s*/i
const HEADING = /^(#{1,6})\s+(.*)$/
const Q_HEADER = /^(?:questions?|q|query|prompt|问题|问)$/i
const A_HEADER = /^(?:answers?|a|response|reply|答案|回答|答)$/i

/** RAGFlow's `rmPrefix`. */
export const removePrefix = (text: string): string => text.trim().replace(PREFIX, "")

const pairsFromTable = (section: Section, into: Array<Pair>) => {
  const rows = section.table?.rows ?? []
  rows.forEach((row, i) => {
    const cells = filledCells(row)
    if (cells.length < 2) return
    if (i === 0 && Q_HEADER.test(cells[0]!) && A_HEADER.test(cells[1]!)) return
    into.push({ question: cells[0]!, answer: cells[1]!, sections: [section] })
  })
}

class PairBuilder {
  question = ""
  answer: Array<string> = []
  sections: Array<Section> = []
  constructor(private readonly out: Array<Pair>) {}
  start(question: string, section: Section) {
    this.end()
    this.question = question
    this.answer = []
    this.sections = [section]
  }
  touch(section: Section) {
    if (this.sections[this.sections.length - 1] !== section) this.sections.push(section)
  }
  add(text: string, section: Section) {
    this.answer.push(text)
    this.touch(section)
  }
  end() {
    const answer = this.answer.join("\n").trim()
    if (this.question.trim() !== "" && answer !== "") {
      this.out.push({ question: this.question.trim(), answer, sections: this.sections })
    }
    this.question = ""
    this.answer = []
    this.sections = []
  }
}

/**
 * Lines of a section, with a `Q:`/`A:` marker that follows the end of a sentence on the same line
 * starting a line of its own (a PDF block joins a question and its answer into one line).
 */
const INLINE_MARKER = /([.?!。？！])\s+(?=(?:Q|A|Question|Answer)\s*:|(?:问题|问|答案|回答|答)\s*[:：])/g
const splitInlineMarkers = (text: string): Array<string> => text.replace(INLINE_MARKER, "$1\n").split("\n")

/** Q:/A: prefixed lines. */
const pairsFromPrefixes = (sections: ReadonlyArray<Section>, out: Array<Pair>) => {
  const pair = new PairBuilder(out)
  let inAnswer = false
  for (const section of sections) {
    if (section.kind === "table" || section.kind === "image") {
      if (inAnswer) pair.add(section.kind === "table" ? tableContent(section) : section.text.trim(), section)
      else if (section.kind === "table") pairsFromTable(section, out)
      continue
    }
    for (const line of splitInlineMarkers(section.text)) {
      if (line.trim() === "") continue
      const q = Q_LINE.exec(line)
      if (q !== null) {
        pair.start(line.slice(q[0].length), section)
        inAnswer = false
        continue
      }
      const a = A_LINE.exec(line)
      if (a !== null && pair.question !== "") {
        inAnswer = true
        pair.add(line.slice(a[0].length), section)
      } else if (inAnswer) {
        pair.add(line.trim(), section)
      } else if (pair.question !== "") {
        pair.question += `\n${line.trim()}`
        pair.touch(section)
      }
    }
  }
  pair.end()
}

/** Markdown headings (title sections or `#` lines) as questions. */
const pairsFromHeadings = (sections: ReadonlyArray<Section>, out: Array<Pair>) => {
  const pair = new PairBuilder(out)
  const stack: Array<{ level: number; text: string }> = []
  const heading = (level: number, text: string, section: Section) => {
    pair.end()
    while (stack.length > 0 && level <= stack[stack.length - 1]!.level) stack.pop()
    stack.push({ level, text: text.trim() })
    pair.start(stack.map((h) => h.text).join("\n"), section)
  }
  for (const section of sections) {
    if (section.kind === "title") {
      heading(section.level ?? 1, section.text.replace(/^#+\s*/, ""), section)
    } else if (section.kind === "table") {
      if (stack.length > 0) pair.add(tableContent(section), section)
      else pairsFromTable(section, out)
    } else if (section.kind === "code" || section.kind === "image") {
      if (stack.length > 0 && section.text.trim() !== "") pair.add(section.text.trim(), section)
    } else {
      let fenced = false
      for (const line of section.text.split("\n")) {
        if (line.trim().startsWith("```")) fenced = !fenced
        const m = fenced ? null : HEADING.exec(line)
        if (m !== null) heading(m[1]!.length, m[2]!, section)
        else if (stack.length > 0) pair.add(line, section)
      }
    }
  }
  pair.end()
}

/** TAB- or comma-separated two-field lines (RAGFlow's txt/csv form). */
const pairsFromDelimited = (sections: ReadonlyArray<Section>, out: Array<Pair>) => {
  for (const section of sections) if (section.kind === "table") pairsFromTable(section, out)
  const lines = textLines(sections)
  if (lines.length === 0) return
  const delimiter = pairDelimiter(lines)
  const pair = new PairBuilder(out)
  for (const line of lines) {
    const fields = line.text.split(delimiter)
    if (fields.length === 2 && fields[0]!.trim() !== "") {
      pair.start(fields[0]!, line.section)
      pair.add(fields[1]!, line.section)
    } else if (pair.question !== "") {
      pair.add(line.text, line.section)
    }
  }
  pair.end()
}

export const extractPairs = (doc: Parser.ParsedDocument): Array<Pair> => {
  const sections = doc.sections
  const out: Array<Pair> = []
  const lines = textLines(sections)
  // A spreadsheet: its tables (each under a sheet-name title) are the pairs.
  const tablesOnly = sections.some((s) => s.kind === "table") && sections.every((s) => s.kind === "table" || s.kind === "title")
  if (tablesOnly) pairsFromDelimited(sections.filter((s) => s.kind === "table"), out)
  else if (lines.some((line) => Q_LINE.test(line.text))) pairsFromPrefixes(sections, out)
  else if (sections.some((s) => s.kind === "title") || lines.some((line) => HEADING.test(line.text))) pairsFromHeadings(sections, out)
  else pairsFromDelimited(sections, out)
  return out
}

export const make = (_tokenizer: Tokenizer.TokenizerService): ChunkMethod.ChunkMethod =>
  method("QaChunker", id, accepts, (doc) => {
    const pairs = extractPairs(doc)
    const chinese = isChinese(pairs.map((p) => p.question).join(""))
    const [qLabel, aLabel] = chinese ? ["问题：", "回答："] : ["Question: ", "Answer: "]
    return pairs.flatMap((pair): Array<DraftChunk> => {
      const question = removePrefix(pair.question)
      const answer = removePrefix(pair.answer)
      if (question === "" || answer === "") return []
      return [draft(`${qLabel}${question}\t${aLabel}${answer}`, pair.sections, { questions: [question] })]
    })
  })

/** A registry holding only this method. */
export const layer = layerOf(make)
