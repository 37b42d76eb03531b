/**
 * `tag`: a tag set, after RAGFlow's `rag/app/tag.py`. Each row of a two-column table (or each
 * TAB/comma-separated text line) is a description and a comma-separated list of tags: the chunk's
 * content is the description and the tags are its `important_keywords` (RAGFlow's `tag_kwd`:
 * trimmed, `.` replaced by `_`). A first row reading like a header ("Description", "Tags",
 * "内容", "标签", ...) is skipped. Text lines that do not split in two are prepended to the next
 * description, as RAGFlow does.
 */
import type { ChunkMethod, Parser, Tokenizer } from "@ragkit/core"
import { filledCells, pairDelimiter, textLines } from "./internal/Lines.js"
import { draft } from "./internal/Merge.js"
import { layerOf, method } from "./internal/Method.js"

type Section = Parser.Section
type DraftChunk = ChunkMethod.DraftChunk

export const id = "tag"

export const accepts: ReadonlyArray<string> = ["xlsx", "xls", "csv", "txt"]

const CONTENT_HEADER = /^(?:content|contents|text|description|descriptions|内容|描述|文本)$/i
const TAG_HEADER = /^(?:tags?|labels?|标签)$/i

/** RAGFlow's tag list: split on commas, trimmed, `.` as `_`, unique. */
export const parseTags = (text: string): Array<string> => [
  ...new Set(text.split(/[,，]/).map((t) => t.trim().replace(/\./g, "_")).filter((t) => t !== ""))
]

const chunkOf = (content: string, tags: string, sections: ReadonlyArray<Section>): Array<DraftChunk> => {
  const keywords = parseTags(tags)
  const text = content.trim()
  return text === "" || keywords.length === 0 ? [] : [draft(text, sections, { important_keywords: keywords })]
}

export const tagChunks = (doc: Parser.ParsedDocument): Array<DraftChunk> => {
  const out: Array<DraftChunk> = []
  const tables = doc.sections.filter((s) => s.kind === "table" && (s.table?.rows.length ?? 0) > 0)
  for (const section of tables) {
    section.table!.rows.forEach((row, i) => {
      const cells = filledCells(row)
      if (cells.length < 2) return
      if (i === 0 && CONTENT_HEADER.test(cells[0]!) && TAG_HEADER.test(cells[1]!)) return
      out.push(...chunkOf(cells[0]!, cells[1]!, [section]))
    })
  }
  if (tables.length > 0) return out
  const lines = textLines(doc.sections)
  const delimiter = pairDelimiter(lines)
  let pending: Array<string> = []
  let pendingSections: Array<Section> = []
  lines.forEach((line, i) => {
    const fields = line.text.split(delimiter)
    if (fields.length !== 2) {
      pending.push(line.text)
      pendingSections.push(line.section)
      return
    }
    if (i === 0 && CONTENT_HEADER.test(fields[0]!.trim()) && TAG_HEADER.test(fields[1]!.trim())) return
    out.push(...chunkOf([...pending, fields[0]!].join("\n"), fields[1]!, [...pendingSections, line.section]))
    pending = []
    pendingSections = []
  })
  return out
}

export const make = (_tokenizer: Tokenizer.TokenizerService): ChunkMethod.ChunkMethod =>
  method("TagChunker", id, accepts, tagChunks)

/** A registry holding only this method. */
export const layer = layerOf(make)
