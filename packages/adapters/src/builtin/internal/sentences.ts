/**
 * Sentences of a passage, for the extractive answerer: English and Chinese (and text mixing both),
 * from plain text, hard-wrapped lines, markdown lists and the HTML tables chunks carry.
 *
 * - HTML: table rows, line breaks and block ends become line breaks, cells are joined with `; `,
 *   other tags are dropped and the common entities decoded;
 * - blocks: a blank line always ends a sentence; a single line break ends one when the line ends
 *   with sentence punctuation or a colon, is short (a heading, a list item), or the next line starts
 *   a list item; otherwise the lines are one wrapped paragraph, joined with a space (none between
 *   Chinese characters);
 * - within a block: after `。！？；…` (and `!?` and `;` of full-width forms) always; after `.`, `!`
 *   and `?` when whitespace and then an upper-case letter, a digit, an opening quote or bracket, or
 *   a Chinese character follow, unless the `.` ends a known abbreviation (`Dr.`, `e.g.`, `U.S.`) or
 *   an initial (`J. Smith`); closing quotes and brackets stay with their sentence;
 * - a sentence longer than `maxChars` is cut at its clauses (`,;，；、`), or else at spaces, into
 *   pieces of at most `maxChars`.
 */

export interface Sentence {
  readonly text: string
  /** Its place in the passage (0 = first). */
  readonly index: number
}

const ABBREVIATIONS = new Set(
  (
    "mr mrs ms dr prof sr jr st vs etc e.g i.e eg ie fig figs no nos vol vols inc ltd co corp jan feb mar apr jun jul aug sep sept oct nov dec " +
    "approx al ca cf dept est gen gov mt rev ph.d u.s u.k u.n a.m p.m"
  ).split(" ")
)

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'", nbsp: " ", "#39": "'" }

const HAN = /\p{Script=Han}/u
const CLOSERS = "\"'”’)]}）】」』》"
const OPENERS = "\"'“‘([{（【「『《"
const CJK_ENDS = "。！？；…"
const LIST_ITEM = /^\s*(?:[-*•·]\s|\d{1,3}[.)、]\s?|[a-zA-Z][.)]\s|[（(]?\d{1,3}[)）])/
const ENDS_LINE = /[.!?:;。！？：；…"'”’)）]$/

/** Plain text from a chunk that may hold HTML (tables above all). */
export const plainText = (text: string): string => {
  if (!/<[a-zA-Z/!]/.test(text)) return text
  return text
    .replace(/<!--[\s\S]*?-->/g, " ")
    .replace(/<(?:br|hr)\s*\/?>/gi, "\n")
    .replace(/<\/(?:tr|p|div|li|h[1-6]|caption|table|thead|tbody|ul|ol|blockquote|pre)\s*>/gi, "\n")
    .replace(/<\/t[dh]\s*>/gi, "; ")
    .replace(/<[^>]*>/g, " ")
    .replace(/&(#?\w+);/g, (all, name: string) =>
      ENTITIES[name.toLowerCase()] ??
        (/^#\d+$/.test(name) ? String.fromCodePoint(Number(name.slice(1))) : all))
    .replace(/(?:;\s*)+\n/g, "\n")
}

const joinLines = (a: string, b: string): string =>
  HAN.test(a.slice(-1)) && HAN.test(b.slice(0, 1)) ? a + b : `${a} ${b}`

/** The blocks of a text: runs of lines that belong to one paragraph. */
const blocks = (text: string): Array<string> => {
  const out: Array<string> = []
  for (const paragraph of text.split(/\n[ \t]*\n/)) {
    const lines = paragraph.split("\n").map((l) => l.replace(/\s+/g, " ").trim()).filter((l) => l.length > 0)
    let current = ""
    lines.forEach((line, i) => {
      current = current === "" ? line : joinLines(current, line)
      const next = lines[i + 1]
      const ends = next === undefined || ENDS_LINE.test(line) || line.length < 40 || LIST_ITEM.test(next) || /^#{1,6}\s/.test(next)
      if (ends) {
        out.push(current)
        current = ""
      }
    })
  }
  return out
}

const isUpperStart = (c: string): boolean => /[\p{Lu}\p{N}]/u.test(c) || OPENERS.includes(c) || HAN.test(c)

/** Does the `.` at `at` end an abbreviation or an initial? */
const isAbbreviation = (text: string, at: number): boolean => {
  let start = at
  while (start > 0 && /[\p{L}.]/u.test(text[start - 1]!)) start--
  const word = text.slice(start, at).toLowerCase()
  if (word.length === 0) return false
  if (ABBREVIATIONS.has(word)) return true
  // An initial (`J. Smith`) or a dotted abbreviation (`U.S.`, `e.g.`).
  return /^\p{L}$/u.test(word) || /^(?:\p{L}\.)+\p{L}$/u.test(word)
}

/** Cuts one block into sentences. */
const splitBlock = (block: string): Array<string> => {
  const out: Array<string> = []
  let start = 0
  const cut = (end: number) => {
    // Closing quotes and brackets stay with the sentence they close.
    while (end < block.length && CLOSERS.includes(block[end]!)) end++
    const sentence = block.slice(start, end).trim()
    if (sentence.length > 0) out.push(sentence)
    start = end
    return end
  }
  for (let i = 0; i < block.length; i++) {
    const c = block[i]!
    if (CJK_ENDS.includes(c) || c === "！" || c === "？") {
      while (i + 1 < block.length && (CJK_ENDS.includes(block[i + 1]!) || c === block[i + 1])) i++
      i = cut(i + 1) - 1
    } else if (c === "." || c === "!" || c === "?") {
      while (i + 1 < block.length && ".!?".includes(block[i + 1]!)) i++
      let j = i + 1
      while (j < block.length && CLOSERS.includes(block[j]!)) j++
      if (j >= block.length) continue
      if (!/\s/.test(block[j]!)) continue
      let k = j
      while (k < block.length && /\s/.test(block[k]!)) k++
      if (k >= block.length || !isUpperStart(block[k]!)) continue
      if (c === "." && block[i - 1] !== "." && isAbbreviation(block, i)) continue
      i = cut(i + 1) - 1
    }
  }
  cut(block.length)
  return out
}

/** A sentence longer than `max` as pieces of at most `max` characters, cut at clauses, else at spaces. */
const shorten = (sentence: string, max: number): Array<string> => {
  if (sentence.length <= max) return [sentence]
  const pieces: Array<string> = []
  let rest = sentence
  while (rest.length > max) {
    const window = rest.slice(0, max)
    const clause = Math.max(...[",", ";", "，", "；", "、", ":", "："].map((p) => window.lastIndexOf(p)))
    const space = window.lastIndexOf(" ")
    const at = clause >= max / 3 ? clause + 1 : space >= max / 3 ? space + 1 : max
    pieces.push(rest.slice(0, at).trim())
    rest = rest.slice(at).trim()
  }
  if (rest.length > 0) pieces.push(rest)
  return pieces
}

/** The sentences of a passage, in order. */
export const split = (text: string, maxChars: number): Array<Sentence> =>
  blocks(plainText(text))
    .flatMap(splitBlock)
    .flatMap((s) => shorten(s, maxChars))
    .filter((s) => /[\p{L}\p{N}]/u.test(s))
    .map((text, index) => ({ text, index }))
