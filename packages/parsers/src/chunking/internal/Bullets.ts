/**
 * RAGFlow's heading patterns (`BULLET_PATTERN`): five families of numbering, each a list of levels
 * from the top. A document's family is the one most of its lines match (`bullets_category`).
 * Levels are tested deepest-first where a shallower pattern would also match a deeper heading
 * (`1.2.3` is not a `1.` heading).
 */

const CN = "[零一二三四五六七八九十百千0-9]+"
const CN_ONLY = "[零一二三四五六七八九十百千]+"

export interface BulletFamily {
  readonly name: string
  /** Level patterns, from the top level down, anchored at the line start. */
  readonly levels: ReadonlyArray<RegExp>
  /** The order in which levels are tried (the first that matches wins). */
  readonly order: ReadonlyArray<number>
  /** Levels that are list items rather than headings when the line reads like a sentence. */
  readonly listLike: ReadonlySet<number>
  /** The level of a law's article, when the family has one. */
  readonly article?: number
}

const family = (
  name: string,
  levels: ReadonlyArray<string>,
  options: { order?: ReadonlyArray<number>; listLike?: ReadonlyArray<number>; article?: number; flags?: string } = {}
): BulletFamily => ({
  name,
  levels: levels.map((p) => new RegExp(`^(?:${p})`, options.flags ?? "")),
  order: options.order ?? levels.map((_, i) => i),
  listLike: new Set(options.listLike ?? []),
  ...(options.article === undefined ? {} : { article: options.article })
})

export const BULLET_FAMILIES: ReadonlyArray<BulletFamily> = [
  family(
    "chinese-law",
    [`第${CN}(?:分?编|部分)`, `第${CN}章`, `第${CN}节`, `第${CN}条`, `[(（]${CN_ONLY}[)）]`],
    { article: 3 }
  ),
  family(
    "numbered",
    [
      "第[0-9]+章",
      "第[0-9]+节",
      "[0-9]{1,2}(?:[.．、](?![0-9])|[ \\t])",
      "[0-9]{1,2}\\.[0-9]{1,2}\\.?(?=[^0-9.a-zA-Z/%~-])",
      "[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,2}\\.?(?=[^0-9.]|$)",
      "[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,2}\\.?(?=[^0-9.]|$)"
    ],
    { order: [0, 1, 5, 4, 3, 2], listLike: [2] }
  ),
  family(
    "chinese",
    [`第${CN}章`, `第${CN}节`, `${CN_ONLY}[ 、]`, `[(（]${CN_ONLY}[)）]`, "[(（][0-9]{1,2}[)）]"],
    { listLike: [2] }
  ),
  family(
    "english",
    [
      "PART (?:ONE|TWO|THREE|FOUR|FIVE|SIX|SEVEN|EIGHT|NINE|TEN|[IVX]+|[0-9]+)\\b",
      "CHAPTER (?:[IVXLC]+|[0-9]+)\\b",
      "(?:SECTION|§) ?[0-9]+\\b",
      "ARTICLE (?:[IVXLC]+|[0-9]+)\\b",
      "\\([a-z]\\)"
    ],
    { article: 3, flags: "i" }
  ),
  family("markdown", ["#[^#]", "##[^#]", "###[^#]", "####[^#]", "#####[^#]", "######[^#]"])
]

const NOT_BULLET = [/^0/, /^[0-9]+ +[0-9~个只-]/, /^[0-9]+\.{2,}/, /^[0-9]+(?:\.[0-9]+){2,}[的中]/]

/** Numbers that start a line without being headings: `0.5`, `3 个`, `1....`. */
export const notBullet = (line: string): boolean => NOT_BULLET.some((re) => re.test(line))

/** RAGFlow's `not_title`: a line too long or too sentence-like to be a heading. */
export const notTitle = (line: string): boolean => {
  if (/^第[零一二三四五六七八九十百0-9]+条/.test(line)) return false
  const words = line.split(/\s+/).filter(Boolean).length
  if (words > 12 || (!line.includes(" ") && line.length >= 32)) return true
  return /[,;，。；！!]/.test(line)
}

const clean = (line: string) => line.replace(/\u3000/g, " ").trim()

/** The level (0 = top) of a heading line in a family, or -1. */
export const bulletLevel = (fam: BulletFamily, line: string): number => {
  const text = clean(line)
  if (text === "" || notBullet(text)) return -1
  for (const level of fam.order) {
    if (fam.levels[level]!.test(text)) return fam.listLike.has(level) && notTitle(text) ? -1 : level
  }
  return -1
}

/** The family most lines match, or undefined when none does (RAGFlow's `bullets_category`). */
export const bulletFamily = (lines: ReadonlyArray<string>): BulletFamily | undefined => {
  let best: BulletFamily | undefined
  let bestHits = 0
  for (const fam of BULLET_FAMILIES) {
    let hits = 0
    for (const line of lines) {
      const text = clean(line)
      if (text !== "" && !notBullet(text) && fam.levels.some((re) => re.test(text))) hits++
    }
    if (hits > bestHits) {
      best = fam
      bestHits = hits
    }
  }
  return best
}
