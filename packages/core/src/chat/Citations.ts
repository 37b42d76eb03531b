/**
 * Citations in an answer: `[ID:n]` cites passage `n` of the knowledge the model was given.
 *
 * - `cited` reads the markers a model wrote (`[ID:n]`, and RAGFlow's loose `[n]`; Arabic-Indic digits
 *   too), and `repair` rewrites the malformed ones models produce (`(ID: 3)`, `[ID: 3]`, `【ID:3】`,
 *   `ref 3`, `[3]`) as `[ID:n]` when `n` is a passage.
 * - When a model cited nothing, `insert` places markers itself, as RAGFlow's `insert_citations`
 *   does: the answer is cut into sentences (code blocks kept whole), each sentence of five characters
 *   or more is compared with every passage (`vectorWeight * cosine + tokenWeight * token overlap`;
 *   the overlap alone when no vectors are given or all cosines are 0), and a sentence whose best
 *   similarity reaches the threshold (0.63, lowered by a fifth at a time while nothing is cited and
 *   it stays above 0.3) cites the passages within 1% of its best, at most four, each passage once in
 *   the whole answer. The marker goes after the sentence, before its closing punctuation.
 *
 * Pure functions: the service embeds the sentences and passages and tokenizes them.
 */

/** Arabic-Indic and extended Arabic-Indic digits as ASCII. */
const asciiDigits = (text: string): string =>
  text.replace(/[\u0660-\u0669\u06f0-\u06f9]/g, (d) => String((d.charCodeAt(0) & 0xf) % 10))

const MARKER = /\[(?:ID:)?([0-9\u0660-\u0669\u06f0-\u06f9]+)\]/g

/** The passages an answer cites, among `passages` passages. */
export const cited = (answer: string, passages: number): ReadonlySet<number> => {
  const out = new Set<number>()
  for (const match of answer.matchAll(MARKER)) {
    const n = Number(asciiDigits(match[1]!))
    if (Number.isInteger(n) && n < passages) out.add(n)
  }
  return out
}

/** Malformed markers models write, the number in group 1. */
const LOOSE = [
  /\(\s*ID\s*[: ]*\s*([0-9\u0660-\u0669\u06f0-\u06f9]+)\s*\)/g,
  /\[\s*ID\s*[: ]*\s*([0-9\u0660-\u0669\u06f0-\u06f9]+)\s*\]/g,
  /【\s*ID\s*[: ]*\s*([0-9\u0660-\u0669\u06f0-\u06f9]+)\s*】/g,
  /\bref\s*([0-9\u0660-\u0669\u06f0-\u06f9]+)/gi,
  /\[([0-9\u0660-\u0669\u06f0-\u06f9]+)\]/g
]

/** The answer with every malformed marker of a passage written `[ID:n]`; other text unchanged. */
export const repair = (answer: string, passages: number): string =>
  LOOSE.reduce(
    (text, pattern) =>
      text.replace(pattern, (whole, digits: string) => {
        const n = Number(asciiDigits(digits))
        return Number.isInteger(n) && n < passages ? `[ID:${n}]` : whole
      }),
    answer
  )

/** Where a sentence ends: a character and a closing mark (RAGFlow's split, Arabic marks included). */
const SENTENCE_END = /([^|][；。？!！،؛؟۔\n]|[a-z\u0600-\u06ff][.?;!،؛؟][ \n])/u
const SENTENCE_END_SPLIT = new RegExp(SENTENCE_END.source, "gu")

/**
 * The answer cut into pieces whose concatenation is the answer: sentences (each without its closing
 * mark) and the marks between them; fenced code blocks stay whole.
 */
export const pieces = (answer: string): ReadonlyArray<string> => {
  const split = (text: string) => {
    const parts = text.split(SENTENCE_END_SPLIT)
    // A mark's first character belongs to the sentence before it.
    for (let i = 1; i < parts.length; i++) {
      const part = parts[i]!
      if (i % 2 === 1 && part.length > 0 && SENTENCE_END.test(part)) {
        parts[i - 1] += part[0]
        parts[i] = part.slice(1)
      }
    }
    return parts
  }
  const fenced = answer.split(/(```)/)
  if (fenced.length < 3) return split(answer)
  const out: Array<string> = []
  for (let i = 0; i < fenced.length;) {
    if (fenced[i] === "```") {
      const start = i++
      while (i < fenced.length && fenced[i] !== "```") i++
      if (i < fenced.length) i++
      out.push(fenced.slice(start, i).join(""))
    } else {
      out.push(...split(fenced[i]!))
      i++
    }
  }
  return out
}

/** Pieces short of this many characters are never matched (marks, stray words). */
export const MinSentence = 5

/** The indices of the pieces worth matching. */
export const sentences = (parts: ReadonlyArray<string>): ReadonlyArray<number> =>
  parts.flatMap((p, i) => (p.length >= MinSentence && !p.startsWith("```") ? [i] : []))

/**
 * RAGFlow's token similarity: each token weighs 0.4 and each pair of neighbouring tokens 0.6 (all
 * tokens weigh the same here); the share of the sentence's weight found in the passage.
 */
export const tokenSimilarity = (sentence: ReadonlyArray<string>, passage: ReadonlyArray<string>): number => {
  const weights = (tokens: ReadonlyArray<string>) => {
    const out = new Map<string, number>()
    for (let i = 0; i < tokens.length; i++) {
      out.set(tokens[i]!, (out.get(tokens[i]!) ?? 0) + 0.4)
      if (i + 1 < tokens.length) {
        const pair = `${tokens[i]} ${tokens[i + 1]}`
        out.set(pair, (out.get(pair) ?? 0) + 0.6)
      }
    }
    return out
  }
  const q = weights(sentence)
  const d = weights(passage)
  let found = 1e-9
  let total = 1e-9
  for (const [token, w] of q) {
    total += w
    if (d.has(token)) found += w
  }
  return found / total
}

export const cosine = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): number => {
  if (a.length !== b.length || a.length === 0) return 0
  let dot = 0
  let na = 0
  let nb = 0
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!
    na += a[i]! * a[i]!
    nb += b[i]! * b[i]!
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb)
}

export interface InsertInput {
  readonly answer: string
  /** Search tokens of each passage (stop words removed). */
  readonly passageTokens: ReadonlyArray<ReadonlyArray<string>>
  /** Search tokens of a sentence (stop words removed). */
  readonly tokens: (sentence: string) => ReadonlyArray<string>
  /** The embeddings of the sentences (in `sentences(pieces(answer))` order) and the passages, when available. */
  readonly vectors?: {
    readonly sentences: ReadonlyArray<ReadonlyArray<number>>
    readonly passages: ReadonlyArray<ReadonlyArray<number>>
  } | undefined
  readonly tokenWeight: number
  readonly vectorWeight: number
}

export const FirstThreshold = 0.63
export const LastThreshold = 0.3
export const MaxPerSentence = 4

/** The answer with markers inserted, and the passages cited. */
export const insert = (input: InsertInput): { readonly answer: string; readonly cited: ReadonlySet<number> } => {
  const n = input.passageTokens.length
  const parts = pieces(input.answer)
  const candidates = sentences(parts)
  if (n === 0 || candidates.length === 0) return { answer: input.answer, cited: new Set() }

  const similarities = candidates.map((at, k) => {
    const tokens = input.tokens(parts[at]!)
    const byTokens = input.passageTokens.map((p) => tokenSimilarity(tokens, p))
    const vector = input.vectors?.sentences[k]
    if (vector === undefined || input.vectors === undefined) return byTokens
    const cosines = input.vectors.passages.map((p) => cosine(vector, p))
    if (cosines.every((c) => c === 0)) return byTokens
    return cosines.map((c, i) => input.vectorWeight * c + input.tokenWeight * byTokens[i]!)
  })

  const cites = new Map<number, ReadonlyArray<number>>()
  for (let threshold = FirstThreshold; threshold > LastThreshold && cites.size === 0; threshold *= 0.8) {
    candidates.forEach((at, k) => {
      const sims = similarities[k]!
      const best = Math.max(...sims) * 0.99
      if (best < threshold) return
      cites.set(at, sims.flatMap((s, i) => (s > best ? [i] : [])).slice(0, MaxPerSentence))
    })
  }

  const used = new Set<number>()
  let answer = ""
  parts.forEach((part, i) => {
    answer += part
    for (const c of cites.get(i) ?? []) {
      if (used.has(c)) continue
      answer += ` [ID:${c}]`
      used.add(c)
    }
  })
  return { answer, cited: used }
}
