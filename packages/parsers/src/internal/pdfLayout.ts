/**
 * Layout analysis for PDF pages: text runs (pdf.js text items or OCR lines, in page points with y
 * down from the top of the page) into lines, lines into blocks, blocks into titles and paragraphs.
 */

/** A run of text on one baseline: a pdf.js text item, or an OCR line. */
export interface Run {
  readonly text: string
  readonly x0: number
  readonly x1: number
  /** Baseline, from the top of the page. */
  readonly baseline: number
  /** Font size (the text's em height). */
  readonly size: number
  /** The producer says a line ends after this run. */
  readonly endsLine?: boolean
}

export interface Line {
  text: string
  x0: number
  x1: number
  top: number
  bottom: number
  baseline: number
  size: number
  chars: number
}

export interface Block {
  readonly page: number
  readonly lines: Array<Line>
  x0: number
  x1: number
  top: number
  bottom: number
  /** Character-weighted font size. */
  size: number
  /** Non-space characters of its lines. */
  chars: number
  /** From OCR, not the text layer. */
  readonly ocr: boolean
}

const ASCENT = 0.8
const DESCENT = 0.2

const isCjk = (c: string) => /[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\u3000-\u303f]/u.test(c)
const nonSpace = (text: string) => text.replace(/\s+/gu, "").length

/** Runs into lines, in the producer's order: a run continues the line on its baseline, to its right. */
export const toLines = (runs: Iterable<Run>): Array<Line> => {
  const lines: Array<Line> = []
  let line: Line | undefined
  // The line's last character, kept aside: reading it from a string built by appending would
  // flatten the string each time, in time that grows by the square of the line's length.
  let last = ""
  let closed = true
  for (const run of runs) {
    const size = run.size > 0 ? run.size : 1
    const text = run.text
    if (text.trim().length === 0) {
      // Spaces the producer emitted: keep one, unless the line ends here.
      if (line !== undefined && !closed && text.length > 0 && last !== " ") {
        line.text += " "
        last = " "
      }
      if (run.endsLine === true) closed = true
      continue
    }
    const continues = line !== undefined && !closed &&
      Math.abs(run.baseline - line.baseline) <= 0.4 * Math.max(size, line.size) &&
      run.x0 >= line.x1 - 0.5 * size &&
      run.x0 - line.x1 <= 1.5 * Math.max(size, line.size)
    if (line !== undefined && continues) {
      const gap = run.x0 - line.x1
      if (gap > 0.12 * size && !/\s/u.test(last) && !/^\s/u.test(text) && !(isCjk(last) && isCjk(text[0] ?? ""))) {
        line.text += " "
      }
      const chars = nonSpace(text)
      line.size = (line.size * line.chars + size * chars) / Math.max(1, line.chars + chars)
      line.chars += chars
      line.text += text
      last = text.at(-1) ?? last
      line.x1 = Math.max(line.x1, run.x1)
      line.top = Math.min(line.top, run.baseline - ASCENT * size)
      line.bottom = Math.max(line.bottom, run.baseline + DESCENT * size)
    } else {
      if (line !== undefined) line.text = line.text.trimEnd()
      line = {
        text,
        x0: run.x0,
        x1: run.x1,
        top: run.baseline - ASCENT * size,
        bottom: run.baseline + DESCENT * size,
        baseline: run.baseline,
        size,
        chars: nonSpace(text)
      }
      last = text.at(-1) ?? ""
      lines.push(line)
    }
    closed = run.endsLine === true
  }
  if (line !== undefined) line.text = line.text.trimEnd()
  return lines.filter((l) => l.text.trim().length > 0)
}

const similarSize = (a: number, b: number) => Math.abs(a - b) <= 0.15 * Math.max(a, b)

/** How many recent blocks a line may continue (columns laid out row by row interleave their lines). */
const OPEN_BLOCKS = 4

/**
 * Lines into blocks: a line continues a recent block when it has about the same font size, starts
 * below the block's last line within 1.6 line heights, and overlaps it horizontally.
 */
export const toBlocks = (page: number, lines: ReadonlyArray<Line>, ocr: boolean): Array<Block> => {
  const blocks: Array<Block> = []
  for (const line of lines) {
    let target: Block | undefined
    for (let i = blocks.length - 1; i >= Math.max(0, blocks.length - OPEN_BLOCKS); i--) {
      const block = blocks[i]!
      const last = block.lines[block.lines.length - 1]!
      const step = line.baseline - last.baseline
      const overlaps = line.x0 < last.x1 + 0.5 * line.size && line.x1 > last.x0 - 0.5 * line.size
      if (similarSize(line.size, last.size) && step > 0.5 * line.size && step <= 1.6 * Math.max(line.size, last.size) && overlaps) {
        target = block
        break
      }
    }
    if (target === undefined) {
      blocks.push({
        page,
        lines: [line],
        x0: line.x0,
        x1: line.x1,
        top: line.top,
        bottom: line.bottom,
        size: line.size,
        chars: line.chars,
        ocr
      })
    } else {
      target.size = (target.size * target.chars + line.size * line.chars) / Math.max(1, target.chars + line.chars)
      target.chars += line.chars
      target.lines.push(line)
      target.x0 = Math.min(target.x0, line.x0)
      target.x1 = Math.max(target.x1, line.x1)
      target.top = Math.min(target.top, line.top)
      target.bottom = Math.max(target.bottom, line.bottom)
    }
  }
  return blocks
}

/** A block's text: lines joined by a space (none between CJK characters), hyphenated words mended. */
export const blockText = (block: Block): string => {
  // Pieces joined once at the end, the text's last characters kept aside (see `toLines`).
  const parts: Array<string> = []
  let tail = ""
  const add = (piece: string) => {
    parts.push(piece)
    tail = (tail + piece).slice(-3)
  }
  for (const line of block.lines) {
    const next = line.text.trim()
    if (parts.length === 0) {
      if (next.length > 0) add(next)
      continue
    }
    const last = tail.at(-1) ?? ""
    if (last === "-" && /\p{L}-$/u.test(tail) && /^\p{Ll}/u.test(next)) {
      parts[parts.length - 1] = parts[parts.length - 1]!.slice(0, -1)
      tail = tail.slice(0, -1)
      add(next)
    } else if (isCjk(last) && isCjk(next[0] ?? "")) add(next)
    else add(` ${next}`)
  }
  return parts.join("")
}

/** The body font size: the size most characters are set in (text-layer blocks only). */
export const bodySize = (blocks: ReadonlyArray<Block>): number | undefined => {
  const weights = new Map<number, number>()
  for (const block of blocks) {
    if (block.ocr) continue
    for (const line of block.lines) {
      const key = Math.round(line.size * 2) / 2
      weights.set(key, (weights.get(key) ?? 0) + line.chars)
    }
  }
  let best: number | undefined
  let weight = -1
  for (const [size, w] of weights) {
    if (w > weight) {
      best = size
      weight = w
    }
  }
  return best
}

export const TITLE_RATIO = 1.15
const TITLE_MAX_CHARS = 200
const TITLE_MAX_LINES = 3

/**
 * Heading levels by font size: short blocks set clearly larger than the body, and not ending like a
 * sentence, are titles; the largest size is level 1. Returns each block's level, or undefined for body text.
 */
export const titleLevels = (blocks: ReadonlyArray<Block>): Array<number | undefined> => {
  const body = bodySize(blocks)
  if (body === undefined) return blocks.map(() => undefined)
  const isTitle = (block: Block) => {
    if (block.ocr || block.size < body * TITLE_RATIO || block.lines.length > TITLE_MAX_LINES) return false
    const text = blockText(block)
    // A heading is short and is no sentence: it does not end in a full stop, comma or semicolon.
    return text.length <= TITLE_MAX_CHARS && !/[.,;。，；]$/u.test(text)
  }
  const sizes = [...new Set(blocks.filter(isTitle).map((block) => Math.round(block.size)))].sort((a, b) => b - a)
  return blocks.map((block) => (isTitle(block) ? Math.min(sizes.indexOf(Math.round(block.size)) + 1, 6) : undefined))
}
