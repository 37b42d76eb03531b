/**
 * The greedy merge behind RAGFlow's `naive_merge`, shared by the chunk methods: text is cut into
 * pieces, each piece's tokens are counted once, and pieces are packed in order into chunks of at
 * most `budget` tokens (a piece bigger than the budget stands alone). Tables and images become
 * chunks of their own. Every chunk carries the union of its sections' pages and positions.
 */
import type { ChunkMethod, ChunkPosition, Parser, Tokenizer } from "@ragkit/core"
import { HtmlTables } from "@ragkit/core"
import { type Delimiters, splitPieces } from "./Delimiters.js"

type DraftChunk = ChunkMethod.DraftChunk
type Section = Parser.Section
type TokenizerService = Tokenizer.TokenizerService

export interface Piece {
  readonly text: string
  readonly tokens: number
  readonly section: Section
  /** The original text between the previous piece and this one when both come from `section`. */
  readonly glue: string
  /** The piece belongs to a heading: it is kept with the text after it. */
  readonly title: boolean
}

// ---------------------------------------------------------------------------------------------
// Pages and positions.

/** The pages (sorted, unique) and positions (in order, unique) of some sections. */
export const locate = (
  sections: ReadonlyArray<Section>
): { readonly page_num: ReadonlyArray<number>; readonly positions: ReadonlyArray<ChunkPosition> } => {
  const pages = new Set<number>()
  const positions: Array<ChunkPosition> = []
  const seen = new Set<string>()
  let last: Section | undefined
  for (const section of sections) {
    if (section === last) continue
    last = section
    if (section.page !== undefined) pages.add(section.page)
    for (const position of section.positions ?? []) {
      const key = position.join(",")
      if (seen.has(key)) continue
      seen.add(key)
      positions.push(position)
      pages.add(position[0])
    }
  }
  return { page_num: [...pages].sort((a, b) => a - b), positions }
}

export const draft = (content: string, sections: ReadonlyArray<Section>, extra: Partial<DraftChunk> = {}): DraftChunk => ({
  content,
  ...locate(sections),
  ...extra
})

const imageOf = (section: Section): DraftChunk["image"] | undefined => {
  const image = section.image
  if (image === undefined) return undefined
  if (image.blobKey === undefined && image.bytes === undefined) return undefined
  return {
    ...(image.blobKey === undefined ? {} : { blobKey: image.blobKey }),
    ...(image.mime === undefined ? {} : { mime: image.mime }),
    ...(image.bytes === undefined ? {} : { bytes: image.bytes })
  }
}

/** An image section with text (OCR or caption) as a chunk with the image attached; none without text. */
export const imageChunk = (section: Section, prefix = ""): ReadonlyArray<DraftChunk> => {
  const text = section.text.trim()
  if (text === "") return []
  const image = imageOf(section)
  return [draft(prefix === "" ? text : `${prefix}\n${text}`, [section], image === undefined ? {} : { image })]
}

export const firstImage = (sections: ReadonlyArray<Section>): DraftChunk["image"] | undefined => {
  for (const section of sections) {
    const image = imageOf(section)
    if (image !== undefined) return image
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------
// Tables.

const rowHtml = (row: ReadonlyArray<string>, tag: "td" | "th") =>
  `<tr>${row.map((cell) => `<${tag}>${HtmlTables.escapeHtml(cell)}</${tag}>`).join("")}</tr>`

/** A table's HTML (the first row as the header), or its text when it has no rows. */
export const tableContent = (section: Section): string => {
  const rows = section.table?.rows ?? []
  if (rows.length > 0) return HtmlTables.tableToHtml(rows)
  return section.table?.html?.trim() || section.text.trim()
}

/**
 * A table section as HTML chunks: the whole table when it fits `budget` tokens, otherwise runs of
 * rows that fit, each with the header row repeated. A row bigger than the budget stands alone.
 */
export const tableChunks = (
  section: Section,
  budget: number,
  tokenizer: TokenizerService,
  prefix = ""
): ReadonlyArray<DraftChunk> => {
  const lead = prefix === "" ? "" : `${prefix}\n`
  const rows = section.table?.rows ?? []
  if (rows.length === 0) {
    const content = tableContent(section)
    return content === "" ? [] : [draft(lead + content, [section])]
  }
  const [header, ...body] = rows
  const fixed = tokenizer.countTokens(`${lead}<table></table>`) + tokenizer.countTokens(rowHtml(header!, "th"))
  const counts = body.map((row) => tokenizer.countTokens(rowHtml(row, "td")))
  const total = counts.reduce((a, b) => a + b, fixed)
  if (total <= budget || body.length <= 1) return [draft(lead + HtmlTables.tableToHtml(rows), [section])]
  const out: Array<DraftChunk> = []
  let start = 0
  let used = fixed
  for (let i = 0; i < body.length; i++) {
    if (i > start && used + counts[i]! > budget) {
      out.push(draft(lead + HtmlTables.tableToHtml([header!, ...body.slice(start, i)]), [section]))
      start = i
      used = fixed
    }
    used += counts[i]!
  }
  out.push(draft(lead + HtmlTables.tableToHtml([header!, ...body.slice(start)]), [section]))
  return out
}

// ---------------------------------------------------------------------------------------------
// Text.

/** Cuts a section's text into pieces on the delimiters, counting each piece's tokens once. */
export const piecesOf = (
  section: Section,
  delimiters: Delimiters,
  tokenizer: TokenizerService,
  into: Array<Piece>,
  title = section.kind === "title"
): void => {
  const text = section.text
  let previousEnd = -1
  splitPieces(text, delimiters, (start, end) => {
    const piece = text.slice(start, end)
    into.push({
      text: piece,
      tokens: tokenizer.countTokens(piece),
      section,
      glue: previousEnd < 0 ? "\n" : text.slice(previousEnd, start),
      title
    })
    previousEnd = end
  })
}

/** One piece per non-blank line of a section (or the whole text when `whole`). */
export const linePieces = (section: Section, tokenizer: TokenizerService, into: Array<Piece>, title: boolean, whole = false): void => {
  const lines = whole ? [section.text.trim()] : section.text.split("\n")
  for (const raw of lines) {
    const line = raw.trim()
    if (line === "") continue
    into.push({ text: line, tokens: tokenizer.countTokens(line), section, glue: "\n", title })
  }
}

export interface MergeOptions {
  /** Tokens a chunk may hold (before the overlap). */
  readonly budget: number
  /** The chunk size the overlap is trimmed to (`chunk_token_num`). */
  readonly cap: number
  /** Share (0..90) of the previous chunk's text repeated at the start of the next. */
  readonly overlapPercent: number
  /** Keep heading pieces with the text that follows them. */
  readonly keepTitles: boolean
  /** Text put before every chunk (a heading path) and its tokens. */
  readonly prefix?: string
  readonly prefixTokens?: number
}

const render = (group: ReadonlyArray<Piece>): string => {
  const parts: Array<string> = []
  let last: Section | undefined
  for (const piece of group) {
    if (parts.length > 0) parts.push(piece.section === last ? piece.glue : "\n")
    parts.push(piece.text)
    last = piece.section
  }
  return parts.join("")
}

const sectionsOf = (group: ReadonlyArray<Piece>): ReadonlyArray<Section> => {
  const sections: Array<Section> = []
  for (const piece of group) if (sections[sections.length - 1] !== piece.section) sections.push(piece.section)
  return sections
}

/** Groups pieces greedily: a group holds at most `budget` tokens unless it is a single piece. */
export const groupPieces = (
  pieces: ReadonlyArray<Piece>,
  budget: number,
  sepTokens: number,
  keepTitles: boolean
): Array<Array<Piece>> => {
  const groups: Array<Array<Piece>> = []
  let current: Array<Piece> = []
  let used = 0
  for (const piece of pieces) {
    if (current.length === 0) {
      current = [piece]
      used = piece.tokens
      continue
    }
    const next = used + sepTokens + piece.tokens
    if (next <= budget) {
      current.push(piece)
      used = next
      continue
    }
    // Full. Trailing heading pieces move on with the text they introduce.
    let keep = current.length
    if (keepTitles) while (keep > 0 && current[keep - 1]!.title) keep--
    if (keepTitles && keep > 0 && keep < current.length) {
      const carried = current.slice(keep)
      groups.push(current.slice(0, keep))
      current = carried
      used = carried.reduce((sum, p, i) => sum + p.tokens + (i > 0 ? sepTokens : 0), 0)
      const withPiece = used + sepTokens + piece.tokens
      if (withPiece <= budget) {
        current.push(piece)
        used = withPiece
        continue
      }
    }
    groups.push(current)
    current = [piece]
    used = piece.tokens
  }
  if (current.length > 0) groups.push(current)
  return groups
}

const isWordCode = (c: number) =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 0xc0 && c <= 0x24f)

/** The last `percent` % of `text`, moved forward to a word start when the cut falls inside a word. */
const tail = (text: string, percent: number): string => {
  let start = Math.floor((text.length * (100 - percent)) / 100)
  if (start >= text.length) return ""
  if (start > 0 && isWordCode(text.charCodeAt(start - 1)) && isWordCode(text.charCodeAt(start))) {
    let i = start
    while (i < text.length && isWordCode(text.charCodeAt(i))) i++
    if (i < text.length) start = i
  }
  return text.slice(start).replace(/^\s+/, "")
}

/**
 * Packs pieces into chunks. With an overlap, the grouping budget shrinks by the overlap's share
 * (RAGFlow's rule) and each chunk after the first starts with the tail of the previous one, trimmed
 * so the chunk stays within `cap` tokens.
 */
export const mergePieces = (
  pieces: ReadonlyArray<Piece>,
  options: MergeOptions,
  tokenizer: TokenizerService,
  sepTokens: number
): Array<DraftChunk> => {
  if (pieces.length === 0) return []
  const prefix = options.prefix ?? ""
  const prefixTokens = prefix === "" ? 0 : (options.prefixTokens ?? tokenizer.countTokens(prefix)) + sepTokens
  const overlap = options.overlapPercent
  // A budget of 0 or less: every piece is a chunk of its own (custom-delimiter mode).
  const room = options.budget <= 0 ? -1 : Math.max(1, options.budget - prefixTokens)
  const budget = overlap > 0 && room > 0 ? Math.max(1, Math.floor((room * (100 - overlap)) / 100)) : room
  const groups = groupPieces(pieces, budget, sepTokens, options.keepTitles)
  const out: Array<DraftChunk> = []
  let previous = ""
  for (const group of groups) {
    const body = render(group)
    let text = body
    if (overlap > 0 && previous !== "") {
      let carry = tail(previous, overlap)
      if (carry !== "") {
        const bodyTokens = group.reduce((sum, p, i) => sum + p.tokens + (i > 0 ? sepTokens : 0), 0) + prefixTokens
        const free = options.cap - bodyTokens - sepTokens
        let carryTokens = tokenizer.countTokens(carry)
        if (carryTokens > free && free > 0) {
          carry = carry.slice(carry.length - Math.floor((carry.length * free) / carryTokens))
          carryTokens = tokenizer.countTokens(carry)
        }
        if (carryTokens <= free && carry.trim() !== "") text = `${carry}\n${body}`
      }
    }
    previous = body
    out.push(draft(prefix === "" ? text : `${prefix}\n${text}`, sectionsOf(group)))
  }
  return out
}

export interface NaiveOptions {
  readonly chunkTokenNum: number
  readonly delimiters: Delimiters
  readonly overlapPercent: number
}

/**
 * RAGFlow's naive merge over sections: text, titles, lists and code are cut on the delimiters and
 * packed up to `chunkTokenNum` tokens; each table and each image with text is a chunk of its own.
 * In custom-delimiter mode every piece is its own chunk.
 */
export const naiveChunks = (
  sections: ReadonlyArray<Section>,
  options: NaiveOptions,
  tokenizer: TokenizerService
): Array<DraftChunk> => {
  const sepTokens = tokenizer.countTokens("\n")
  const custom = options.delimiters.custom
  const merge: MergeOptions = {
    budget: custom ? 0 : options.chunkTokenNum,
    cap: options.chunkTokenNum,
    overlapPercent: custom ? 0 : options.overlapPercent,
    keepTitles: !custom
  }
  const out: Array<DraftChunk> = []
  let run: Array<Piece> = []
  const flush = () => {
    if (run.length === 0) return
    for (const chunk of mergePieces(run, merge, tokenizer, sepTokens)) out.push(chunk)
    run = []
  }
  for (const section of sections) {
    if (section.kind === "table") {
      flush()
      for (const chunk of tableChunks(section, options.chunkTokenNum, tokenizer)) out.push(chunk)
    } else if (section.kind === "image") {
      flush()
      for (const chunk of imageChunk(section)) out.push(chunk)
    } else {
      piecesOf(section, options.delimiters, tokenizer, run)
    }
  }
  flush()
  return out
}

/** A section's text as it reads inside a larger chunk: tables as HTML, the rest trimmed. */
export const sectionText = (section: Section): string =>
  section.kind === "table" ? tableContent(section) : section.text.trim()
