/**
 * The hierarchical chunk methods (book, laws, manual, paper), after RAGFlow's `hierarchical_merge`,
 * `tree_merge` and `title_frequency`: every line gets a heading rank (parser titles with a level,
 * then numbering patterns, then parser titles without a level), a table of contents is dropped, the
 * headings down to a cut-off rank form a tree, and the text under each heading is merged into chunks
 * that start with the heading path.
 */
import type { ChunkMethod, Parser, Tokenizer } from "@ragkit/core"
import { type BulletFamily, bulletFamily, bulletLevel, notTitle } from "./Bullets.js"
import { joinLines } from "../../internal/text.js"
import { isEnglish } from "./Language.js"
import { draft, imageChunk, mergePieces, type MergeOptions, type Piece, tableChunks, tableContent } from "./Merge.js"

type DraftChunk = ChunkMethod.DraftChunk
type Section = Parser.Section
type TokenizerService = Tokenizer.TokenizerService

type Item =
  | { readonly kind: "line"; readonly text: string; readonly section: Section; readonly title: boolean; readonly level?: number }
  | { readonly kind: "media"; readonly section: Section }

const BODY = Number.POSITIVE_INFINITY

export interface HierarchyOptions {
  /**
   * Which headings make the tree: `all` of them; the first `n` distinct ranks; the most `frequent`
   * rank and those above it (paper); or down to the `article` level, else two ranks (laws).
   */
  readonly depth: "all" | "frequent" | "article" | number
  /** Tokens per chunk (`chunk_token_num`), heading path included. */
  readonly budget: number
  /** Tables and images: chunks of their own (`separate`) or part of their section's text (`inline`). */
  readonly media: "separate" | "inline"
  /** Take the abstract out as a chunk of its own (paper). */
  readonly abstract: boolean
}

const toItems = (sections: ReadonlyArray<Section>): Array<Item> => {
  const items: Array<Item> = []
  for (const section of sections) {
    if (section.kind === "table" || section.kind === "image") {
      items.push({ kind: "media", section })
    } else if (section.kind === "title" || section.kind === "code") {
      const text = section.kind === "title" ? joinLines(section.text).trim() : section.text.trim()
      if (text === "") continue
      const title = section.kind === "title"
      items.push(
        title && section.level !== undefined
          ? { kind: "line", text, section, title, level: section.level }
          : { kind: "line", text, section, title }
      )
    } else {
      for (const raw of section.text.split("\n")) {
        const text = raw.trim()
        if (text !== "") items.push({ kind: "line", text, section, title: false })
      }
    }
  }
  return items
}

const CONTENTS = /^(?:contents|目录|目次|tableofcontents|致谢|acknowledge(?:ment)?s?)$/i
/** Leader characters and how many of them in a row make a dot leader. */
const LEADERS: Record<string, number> = { ".": 4, "…": 2, "·": 4, "_": 4, "-": 4 }
const isSpace = (c: string) => c.trim() === ""
const isPageNumber = (c: string) => /[0-9ivxlc]/i.test(c)

/**
 * The line ends in a dot leader and a page number (`Introduction ........ 3`): the pattern
 * `(?:\.{4,}|…{2,}|·{4,}|_{4,}|-{4,})\s*[0-9ivxlc]+\s*$` read from the end, in time linear in
 * the line (the regular expression backtracks quadratically on a long run of leader characters).
 */
const endsInLeader = (line: string): boolean => {
  let i = line.length
  while (i > 0 && isSpace(line[i - 1]!)) i--
  const numberEnd = i
  while (i > 0 && isPageNumber(line[i - 1]!)) i--
  if (i === numberEnd) return false
  while (i > 0 && isSpace(line[i - 1]!)) i--
  const leader = line[i - 1]
  const needed = leader === undefined ? undefined : LEADERS[leader]
  if (needed === undefined) return false
  let run = 0
  while (i > 0 && line[i - 1] === leader && run < needed) {
    i--
    run++
  }
  return run >= needed
}

/**
 * Drops a table of contents (RAGFlow's `remove_contents_table`): after a "Contents" line, the lines up
 * to the point where the first entry's start appears again as the real heading; and lines that end
 * in a dot leader and a page number.
 */
const removeContents = (items: ReadonlyArray<Item>): Array<Item> => {
  const lineIdx: Array<number> = []
  items.forEach((item, i) => {
    if (item.kind === "line") lineIdx.push(i)
  })
  const text = (k: number) => (items[lineIdx[k]!] as { text: string }).text
  const eng = isEnglish(lineIdx.slice(0, 200).map((_, k) => text(k)))
  const removed = new Set<number>()
  const drop = (k: number) => removed.add(lineIdx[k]!)
  let k = 0
  while (k < lineIdx.length) {
    if (!CONTENTS.test(text(k).replace(/[\s\u3000\u00a0]+/g, ""))) {
      if (endsInLeader(text(k))) drop(k)
      k++
      continue
    }
    drop(k++)
    if (k >= lineIdx.length) break
    const first = text(k)
    const prefix = eng ? first.split(/\s+/).slice(0, 2).join(" ") : first.slice(0, 3)
    drop(k++)
    if (prefix === "") continue
    const end = Math.min(k + 128, lineIdx.length)
    for (let j = k; j < end; j++) {
      if (!text(j).startsWith(prefix)) continue
      for (let r = k; r < j; r++) drop(r)
      k = j
      break
    }
  }
  return removed.size === 0 ? [...items] : items.filter((_, i) => !removed.has(i))
}

const rankOf = (item: Item, fam: BulletFamily | undefined): number => {
  if (item.kind !== "line") return BODY
  if (item.title && item.level !== undefined && item.level >= 1) return item.level
  if (fam !== undefined) {
    const level = bulletLevel(fam, item.text)
    if (level >= 0) return 10 + level
  }
  if (item.title && !notTitle(item.text)) return 20
  return BODY
}

const cutOff = (ranks: ReadonlyArray<number>, depth: HierarchyOptions["depth"], fam: BulletFamily | undefined): number => {
  const headings = ranks.filter((r) => r !== BODY)
  if (headings.length === 0) return 0
  const distinct = [...new Set(headings)].sort((a, b) => a - b)
  if (depth === "all") return distinct[distinct.length - 1]!
  if (typeof depth === "number") return distinct[Math.min(depth, distinct.length) - 1]!
  if (depth === "article") {
    const article = fam?.article === undefined ? undefined : 10 + fam.article
    if (article !== undefined && distinct.includes(article)) return article
    return distinct[Math.min(2, distinct.length) - 1]!
  }
  const counts = new Map<number, number>()
  for (const r of headings) counts.set(r, (counts.get(r) ?? 0) + 1)
  let best = distinct[0]!
  for (const r of distinct) if (counts.get(r)! > counts.get(best)!) best = r
  return best
}

const ABSTRACT = /^\s*(?:abstract|摘要)\b/i
const BEGIN = /^[0-9. 一、i]*(?:introduction|keywords|key words|index terms|关键词|背景|引言|background|前言|contents)/i

/** Indices of the abstract's lines among the first lines: the "Abstract" line and what follows it. */
const findAbstract = (items: ReadonlyArray<Item>, ranks: ReadonlyArray<number>): Array<number> => {
  const limit = Math.min(items.length, 48)
  for (let i = 0; i < limit; i++) {
    const item = items[i]!
    if (item.kind !== "line" || !ABSTRACT.test(item.text)) continue
    const long = item.text.split(/\s+/).length > 32 || item.text.length > 64
    const out = [i]
    if (long) return out
    for (let j = i + 1; j < items.length; j++) {
      const next = items[j]!
      if (next.kind !== "line" || ranks[j] !== BODY || BEGIN.test(next.text)) break
      out.push(j)
    }
    return out.length > 1 ? out : []
  }
  return []
}

const ABSTRACT_KEYWORDS = ["abstract", "总结", "概括", "summary", "summarize"]

interface Node {
  readonly text: string
  readonly tokens: number
  readonly rank: number
  readonly section: Section
  filled: boolean
}

export const hierarchicalChunks = (
  sections: ReadonlyArray<Section>,
  options: HierarchyOptions,
  tokenizer: TokenizerService
): Array<DraftChunk> => {
  const items = removeContents(toItems(sections))
  const fam = bulletFamily(items.flatMap((item) => (item.kind === "line" ? [item.text] : [])))
  const ranks = items.map((item) => rankOf(item, fam))
  const target = cutOff(ranks, options.depth, fam)
  const abstract = new Set(options.abstract ? findAbstract(items, ranks) : [])
  const sepTokens = tokenizer.countTokens("\n")
  const out: Array<DraftChunk> = []
  const stack: Array<Node> = []
  let body: Array<Piece> = []

  const path = () => stack.map((node) => node.text).join("\n")
  const emit = (chunks: ReadonlyArray<DraftChunk>) => {
    for (const chunk of chunks) out.push(chunk)
    if (chunks.length > 0) for (const node of stack) node.filled = true
  }
  const flush = () => {
    if (body.length === 0) return
    const top = stack[stack.length - 1]
    const merge: MergeOptions = {
      budget: options.budget,
      cap: options.budget,
      overlapPercent: 0,
      keepTitles: true,
      prefix: path(),
      prefixTokens: stack.reduce((sum, node, i) => sum + node.tokens + (i > 0 ? sepTokens : 0), 0)
    }
    const chunks = mergePieces(body, merge, tokenizer, sepTokens)
    emit(top === undefined ? chunks : chunks.map((chunk) => withSection(chunk, top.section)))
    body = []
  }
  const pop = () => {
    const node = stack[stack.length - 1]!
    if (!node.filled) emit([draft(path(), [node.section])])
    stack.pop()
  }

  let abstractDone = false
  items.forEach((item, i) => {
    if (abstract.has(i)) {
      if (abstractDone) return
      abstractDone = true
      flush()
      const parts = [...abstract].map((j) => items[j]!).filter((x): x is Extract<Item, { kind: "line" }> => x.kind === "line")
      out.push(draft(parts.map((p) => p.text).join("\n"), parts.map((p) => p.section), { important_keywords: ABSTRACT_KEYWORDS }))
      return
    }
    if (item.kind === "media") {
      if (options.media === "inline") {
        const text = item.section.kind === "table" ? tableContent(item.section) : item.section.text.trim()
        if (text !== "") body.push({ text, tokens: tokenizer.countTokens(text), section: item.section, glue: "\n", title: false })
        return
      }
      flush()
      const prefix = path()
      emit(
        item.section.kind === "table"
          ? tableChunks(item.section, options.budget, tokenizer, prefix)
          : imageChunk(item.section, prefix)
      )
      return
    }
    const rank = ranks[i]!
    if (rank <= target) {
      flush()
      while (stack.length > 0 && stack[stack.length - 1]!.rank >= rank) pop()
      stack.push({ text: item.text, tokens: tokenizer.countTokens(item.text), rank, section: item.section, filled: false })
      return
    }
    body.push({ text: item.text, tokens: tokenizer.countTokens(item.text), section: item.section, glue: "\n", title: rank !== BODY })
  })
  flush()
  while (stack.length > 0) pop()
  return out
}

/** Adds the pages and positions of the heading that owns a chunk's text. */
const withSection = (chunk: DraftChunk, section: Section): DraftChunk => {
  const located = draft("", [section])
  const pages = [...new Set([...located.page_num, ...chunk.page_num])].sort((a, b) => a - b)
  const seen = new Set(chunk.positions.map((p) => p.join(",")))
  const positions = [...located.positions.filter((p) => !seen.has(p.join(","))), ...chunk.positions]
  return { ...chunk, page_num: pages, positions }
}
