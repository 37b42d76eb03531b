/**
 * The Porter stemmer (M. F. Porter, "An algorithm for suffix stripping", Program 14.3, 1980) with the
 * extensions of NLTK's `PorterStemmer` in its default `NLTK_EXTENSIONS` mode — the stemmer RAGFlow's
 * `rag_tokenizer` calls. Our own code, written from the published algorithm and NLTK's documented
 * departures from it:
 *
 * - a small table of irregular forms (`skies` -> `sky`, `dying` -> `die`, `news` -> `news`, ...);
 * - words of one or two letters are left alone;
 * - `ies`/`ied` on four-letter words keep the `e` (`dies` -> `die`, `tied` -> `tie`);
 * - step 1c turns a final `y` into `i` only after a consonant that is not the first letter
 *   (`happy` -> `happi`, `enjoy` -> `enjoy`, `cry` -> `cri`, `by` -> `by`);
 * - step 2: `bli` -> `ble` (instead of `abli` -> `able`), `alli` -> `al` tried first and step 2 run
 *   again, `fulli` -> `ful`, `logi` -> `log` (the `l` counted with the stem);
 * - the `*o` (cvc) condition is also true for a two-letter vowel-consonant stem.
 *
 * Input must already be lower-case ASCII letters (`a`-`z`); other characters count as consonants.
 */

const IRREGULAR: ReadonlyMap<string, string> = new Map([
  ["sky", "sky"],
  ["skies", "sky"],
  ["dying", "die"],
  ["lying", "lie"],
  ["tying", "tie"],
  ["news", "news"],
  ["innings", "inning"],
  ["inning", "inning"],
  ["outings", "outing"],
  ["outing", "outing"],
  ["cannings", "canning"],
  ["canning", "canning"],
  ["howe", "howe"],
  ["proceed", "proceed"],
  ["exceed", "exceed"],
  ["succeed", "succeed"]
])

const A = 97
const E = 101
const I = 105
const O = 111
const U = 117
const W = 119
const X = 120
const Y = 121

/** `w[i]` is a consonant: not a, e, i, o, u, and not a `y` that follows a consonant. */
const isConsonant = (w: string, i: number): boolean => {
  const c = w.charCodeAt(i)
  if (c === A || c === E || c === I || c === O || c === U) return false
  if (c !== Y) return true
  return i === 0 || !isConsonant(w, i - 1)
}

/** The measure m of `w[0, end)`: the number of vowel-consonant transitions in `[C](VC){m}[V]`. */
const measure = (w: string, end: number): number => {
  let m = 0
  let previousVowel = false
  for (let i = 0; i < end; i++) {
    const consonant = isConsonant(w, i)
    if (consonant && previousVowel) m++
    previousVowel = !consonant
  }
  return m
}

const containsVowel = (w: string, end: number): boolean => {
  for (let i = 0; i < end; i++) if (!isConsonant(w, i)) return true
  return false
}

/** `*d`: ends with a double consonant. */
const endsDoubleConsonant = (w: string): boolean => {
  const n = w.length
  return n >= 2 && w.charCodeAt(n - 1) === w.charCodeAt(n - 2) && isConsonant(w, n - 1)
}

/** `*o`: ends consonant-vowel-consonant with the last not w, x or y (or is vowel-consonant, NLTK). */
const endsCvc = (w: string): boolean => {
  const n = w.length
  if (n >= 3) {
    const last = w.charCodeAt(n - 1)
    if (
      isConsonant(w, n - 3) && !isConsonant(w, n - 2) && isConsonant(w, n - 1) &&
      last !== W && last !== X && last !== Y
    ) return true
  }
  return n === 2 && !isConsonant(w, 0) && isConsonant(w, 1)
}

type Condition = (w: string, stemEnd: number) => boolean

const positiveMeasure: Condition = (w, end) => measure(w, end) > 0
const measureAboveOne: Condition = (w, end) => measure(w, end) > 1

type Rule = readonly [suffix: string, replacement: string, condition: Condition]

/**
 * The first rule whose suffix ends the word decides: its replacement if its condition holds on the
 * rest of the word, else the word unchanged (no later rule is tried).
 */
const applyRules = (w: string, rules: ReadonlyArray<Rule>): string => {
  for (const [suffix, replacement, condition] of rules) {
    if (w.endsWith(suffix)) {
      const end = w.length - suffix.length
      return condition(w, end) ? w.slice(0, end) + replacement : w
    }
  }
  return w
}

const step1a = (w: string): string => {
  if (!w.endsWith("s")) return w
  if (w.endsWith("sses")) return w.slice(0, -2)
  if (w.endsWith("ies")) return w.length === 4 ? w.slice(0, -1) : w.slice(0, -2)
  if (w.endsWith("ss")) return w
  return w.slice(0, -1)
}

const step1b = (w: string): string => {
  if (w.endsWith("ied")) return w.length === 4 ? w.slice(0, -1) : w.slice(0, -2)
  if (w.endsWith("eed")) return measure(w, w.length - 3) > 0 ? w.slice(0, -1) : w
  let stem: string
  if (w.endsWith("ed") && containsVowel(w, w.length - 2)) stem = w.slice(0, -2)
  else if (w.endsWith("ing") && containsVowel(w, w.length - 3)) stem = w.slice(0, -3)
  else return w
  if (stem.endsWith("at") || stem.endsWith("bl") || stem.endsWith("iz")) return stem + "e"
  if (endsDoubleConsonant(stem)) {
    const last = stem[stem.length - 1]
    return last === "l" || last === "s" || last === "z" ? stem : stem.slice(0, -1)
  }
  if (measure(stem, stem.length) === 1 && endsCvc(stem)) return stem + "e"
  return stem
}

const step1c = (w: string): string =>
  w.endsWith("y") && w.length > 2 && isConsonant(w, w.length - 2) ? w.slice(0, -1) + "i" : w

const STEP2: ReadonlyArray<Rule> = [
  ["ational", "ate", positiveMeasure],
  ["tional", "tion", positiveMeasure],
  ["enci", "ence", positiveMeasure],
  ["anci", "ance", positiveMeasure],
  ["izer", "ize", positiveMeasure],
  ["bli", "ble", positiveMeasure],
  ["alli", "al", positiveMeasure],
  ["entli", "ent", positiveMeasure],
  ["eli", "e", positiveMeasure],
  ["ousli", "ous", positiveMeasure],
  ["ization", "ize", positiveMeasure],
  ["ation", "ate", positiveMeasure],
  ["ator", "ate", positiveMeasure],
  ["alism", "al", positiveMeasure],
  ["iveness", "ive", positiveMeasure],
  ["fulness", "ful", positiveMeasure],
  ["ousness", "ous", positiveMeasure],
  ["aliti", "al", positiveMeasure],
  ["iviti", "ive", positiveMeasure],
  ["biliti", "ble", positiveMeasure],
  ["fulli", "ful", positiveMeasure],
  // the "l" of "logi" counts with the stem, so that "geologi" -> "geolog" like "philologi"
  ["logi", "log", (w, end) => measure(w, end + 1) > 0]
]

const step2 = (w: string): string => {
  if (w.endsWith("alli") && measure(w, w.length - 4) > 0) return step2(w.slice(0, -2))
  return applyRules(w, STEP2)
}

const STEP3: ReadonlyArray<Rule> = [
  ["icate", "ic", positiveMeasure],
  ["ative", "", positiveMeasure],
  ["alize", "al", positiveMeasure],
  ["iciti", "ic", positiveMeasure],
  ["ical", "ic", positiveMeasure],
  ["ful", "", positiveMeasure],
  ["ness", "", positiveMeasure]
]

const STEP4: ReadonlyArray<Rule> = [
  ["al", "", measureAboveOne],
  ["ance", "", measureAboveOne],
  ["ence", "", measureAboveOne],
  ["er", "", measureAboveOne],
  ["ic", "", measureAboveOne],
  ["able", "", measureAboveOne],
  ["ible", "", measureAboveOne],
  ["ant", "", measureAboveOne],
  ["ement", "", measureAboveOne],
  ["ment", "", measureAboveOne],
  ["ent", "", measureAboveOne],
  ["ion", "", (w, end) => {
    const c = w[end - 1]
    return (c === "s" || c === "t") && measure(w, end) > 1
  }],
  ["ou", "", measureAboveOne],
  ["ism", "", measureAboveOne],
  ["ate", "", measureAboveOne],
  ["iti", "", measureAboveOne],
  ["ous", "", measureAboveOne],
  ["ive", "", measureAboveOne],
  ["ize", "", measureAboveOne]
]

const step5a = (w: string): string => {
  if (!w.endsWith("e")) return w
  const end = w.length - 1
  const m = measure(w, end)
  if (m > 1) return w.slice(0, end)
  if (m === 1 && !endsCvc(w.slice(0, end))) return w.slice(0, end)
  return w
}

const step5b = (w: string): string => (w.endsWith("ll") && measure(w, w.length - 1) > 1 ? w.slice(0, -1) : w)

/** One pass of the Porter stemmer (NLTK_EXTENSIONS mode) over a lower-case word. */
export const porterStem = (word: string): string => {
  const irregular = IRREGULAR.get(word)
  if (irregular !== undefined) return irregular
  if (word.length <= 2) return word
  return step5b(step5a(applyRules(applyRules(step2(step1c(step1b(step1a(word)))), STEP3), STEP4)))
}

/**
 * Porter applied until the word no longer changes (at most a few passes: each pass shortens the
 * word or only turns a final `y` into `i`). One Porter pass is not idempotent (`database` ->
 * `databas` -> `databa`); the fixed point is, so a text that is tokenized twice — a query made of
 * already-stemmed keywords, a chunk re-indexed from its tokens — still matches.
 */
export const stemToFixpoint = (word: string): string => {
  let current = word
  for (let pass = 0; pass < 8; pass++) {
    const next = porterStem(current)
    if (next === current) return current
    current = next
  }
  return current
}
