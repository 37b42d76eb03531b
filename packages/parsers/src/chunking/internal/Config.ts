/**
 * Reading `parser_config` values. Unknown keys are ignored; a known key with a value of the wrong
 * type or out of range falls back to the method's default, as RAGFlow does.
 */

const toNumber = (value: unknown): number => {
  if (typeof value === "number") return value
  if (typeof value === "string" && value.trim() !== "") return Number(value)
  return Number.NaN
}

/** A positive integer option (`chunk_token_num`); anything else gives the default. */
export const positiveInt = (config: Readonly<Record<string, unknown>>, key: string, fallback: number): number => {
  const n = toNumber(config[key])
  if (!Number.isFinite(n)) return fallback
  const i = Math.floor(n)
  return i >= 1 ? i : fallback
}

/**
 * `overlapped_percent` as RAGFlow normalizes it: a fraction in (0, 1) is read as a share, the value is
 * truncated to an integer and clamped to 0..90; a non-number gives 0.
 */
export const overlapPercent = (config: Readonly<Record<string, unknown>>): number => {
  let n = toNumber(config["overlapped_percent"])
  if (!Number.isFinite(n)) return 0
  if (n > 0 && n < 1) n *= 100
  return Math.max(0, Math.min(90, Math.trunc(n)))
}

/**
 * The `delimiter` field. A non-string gives the default. The escape sequences `\n`, `\r`, `\t`
 * typed literally (a backslash and a letter, as API callers often send them) are read as the
 * characters they name.
 */
export const delimiterField = (config: Readonly<Record<string, unknown>>, fallback: string): string => {
  const value = config["delimiter"]
  if (typeof value !== "string") return fallback
  return value.replace(/\\([nrt])/g, (_, c: string) => (c === "n" ? "\n" : c === "r" ? "\r" : "\t"))
}
