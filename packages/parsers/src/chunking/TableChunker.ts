/**
 * `table`: one chunk per data row, after RAGFlow's `rag/app/table.py`. The first row of each table
 * holds the column names (blank names become `Column_<n>`, repeated names get `_2`, `_3`, ...;
 * RAGFlow's `id`, `_id`, `index` and `idx` columns are dropped). A row's content is
 * `name: value; name: value` over its non-blank cells, so the column names are searchable with the
 * values. Without table sections, TAB-separated text lines are read as a table (first line: names).
 *
 * Each chunk also carries `metadata.fields` (`{ [column]: value }`), RAGFlow's per-row fields; the
 * ingestion keeps them on the chunk's metadata, so retrieval can filter on a column.
 */
import type { ChunkMethod, Parser, Tokenizer } from "@ragkit/core"
import { textLines } from "./internal/Lines.js"
import { draft } from "./internal/Merge.js"
import { layerOf, method } from "./internal/Method.js"

type Section = Parser.Section

export const id = "table"

export const accepts: ReadonlyArray<string> = ["xlsx", "xls", "csv", "txt"]

/** A row chunk: a `DraftChunk` with the row's cells by column name. */
export interface TableRowChunk extends ChunkMethod.DraftChunk {
  readonly metadata: { readonly fields: Readonly<Record<string, string>> }
}

const DROPPED = new Set(["id", "_id", "index", "idx"])

/** Column names as RAGFlow's `_deduplicate_column_names` makes them unique. */
export const columnNames = (header: ReadonlyArray<string>): Array<string> => {
  const names = header.map((cell, i) => cell.trim() || `Column_${i + 1}`)
  const reserved = new Set(names)
  const used = new Set<string>()
  const counts = new Map<string, number>()
  return names.map((name) => {
    const count = (counts.get(name) ?? 0) + 1
    counts.set(name, count)
    if (!used.has(name)) {
      used.add(name)
      return name
    }
    let suffix = count
    let candidate = `${name}_${suffix}`
    while (used.has(candidate) || reserved.has(candidate)) candidate = `${name}_${++suffix}`
    counts.set(name, suffix)
    used.add(candidate)
    return candidate
  })
}

const rowChunks = (
  rows: ReadonlyArray<ReadonlyArray<string>>,
  sectionsOf: (i: number) => ReadonlyArray<Section>,
  out: Array<TableRowChunk>
) => {
  if (rows.length < 2) return
  const names = columnNames(rows[0]!)
  for (let r = 1; r < rows.length; r++) {
    const row = rows[r]!
    const fields: Record<string, string> = {}
    const parts: Array<string> = []
    const width = Math.max(row.length, names.length)
    for (let c = 0; c < width; c++) {
      const value = (row[c] ?? "").trim()
      const name = names[c] ?? `Column_${c + 1}`
      if (value === "" || DROPPED.has(name.toLowerCase())) continue
      fields[name] = value
      parts.push(`${name}: ${value}`)
    }
    if (parts.length === 0) continue
    out.push({ ...draft(parts.join("; "), sectionsOf(r)), metadata: { fields } })
  }
}

export const rowsToChunks = (doc: Parser.ParsedDocument): Array<TableRowChunk> => {
  const out: Array<TableRowChunk> = []
  const tables = doc.sections.filter((s) => s.kind === "table" && (s.table?.rows.length ?? 0) > 0)
  for (const section of tables) rowChunks(section.table!.rows, () => [section], out)
  if (tables.length > 0) return out
  const lines = textLines(doc.sections)
  if (lines.length < 2) return out
  const width = lines[0]!.text.split("\t").length
  const kept = lines.filter((line, i) => i === 0 || line.text.split("\t").length === width)
  rowChunks(
    kept.map((line) => line.text.split("\t")),
    (i) => [kept[i]!.section],
    out
  )
  return out
}

export const make = (_tokenizer: Tokenizer.TokenizerService): ChunkMethod.ChunkMethod =>
  method("TableChunker", id, accepts, rowsToChunks)

/** A registry holding only this method. */
export const layer = layerOf(make)
