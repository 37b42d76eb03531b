/**
 * A streaming reader of wink-embeddings' JSON file, fed chunk by chunk, that keeps only what the
 * GloVe cache needs: `dimensions`, the `words` list and, for each `vectors` entry
 * (`"word": [...components, l2 norm, word index]`), its first `dimensions` components, written
 * straight into a Float32Array row (the row of the word in `words`). Other members are skipped.
 *
 * It tokenises any JSON (strings with escapes, numbers with exponents, literals, nesting), so a
 * member named like one of ours deeper down (or a word spelled "vectors") is not mistaken for it;
 * a malformed or truncated file throws `WinkFormatError`. `words` must come before `vectors`, as
 * in wink's file.
 */

export class WinkFormatError extends Error {}

export interface WinkContents {
  readonly dimensions: number
  readonly words: ReadonlyArray<string>
  readonly matrix: Float32Array
}

export interface WinkReader {
  /** Reads the next bytes of the file. */
  readonly push: (chunk: Uint8Array) => void
  /** The file's contents, once every byte was pushed. */
  readonly end: () => WinkContents
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const MINUS = 0x2d
const DOT = 0x2e
const ZERO = 0x30
const NINE = 0x39

/** Powers of ten up to 1e22, all exact doubles. */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k)

const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09
/** Bytes that may continue a number or a literal (`true`, `false`, `null`). */
const isWordByte = (b: number) => (b >= ZERO && b <= NINE) || (b >= 0x61 && b <= 0x7a) || b === MINUS || b === DOT ||
  b === 0x2b || b === 0x45

/**
 * The number in `bytes[start, end)`. Decimals of up to 15 digits without an exponent (all of
 * wink's but a few) are parsed here, exactly as `Number` would: an integer mantissa divided by
 * an exact power of ten is correctly rounded. Others go through `Number`.
 */
const parseNumber = (bytes: Uint8Array, start: number, end: number): number => {
  let i = start
  const negative = bytes[i] === MINUS
  if (negative) i++
  let mantissa = 0
  let digits = 0
  let fraction = -1
  for (; i < end; i++) {
    const b = bytes[i]!
    if (b >= ZERO && b <= NINE) {
      mantissa = mantissa * 10 + (b - ZERO)
      digits++
      if (fraction >= 0) fraction++
    } else if (b === DOT && fraction < 0) {
      fraction = 0
    } else {
      break
    }
  }
  if (i === end && digits > 0 && digits <= 15 && fraction !== 0) {
    const value = fraction > 0 ? mantissa / POW10[fraction]! : mantissa
    return negative ? -value : value
  }
  const text = String.fromCharCode(...bytes.subarray(start, end))
  const value = Number(text)
  if (text.trim() === "" || Number.isNaN(value)) throw new WinkFormatError(`not a number: ${text}`)
  return value
}

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const joined = new Uint8Array(a.length + b.length)
  joined.set(a)
  joined.set(b, a.length)
  return joined
}

type Frame = "{" | "["

export const makeWinkReader = (): WinkReader => {
  const decoder = new TextDecoder("utf-8", { fatal: true })
  /** The bytes of a token that the last chunk cut. */
  let pending: Uint8Array | undefined
  /** Open containers, outermost first; for objects, the current member's key and whether a key is due. */
  const stack: Array<Frame> = []
  const keys: Array<string | undefined> = []
  const expectKey: Array<boolean> = []
  let done = false

  let dimensions: number | undefined
  const words: Array<string> = []
  let vocabulary: Map<string, number> | undefined
  let matrix: Float32Array | undefined
  let filled: Uint8Array | undefined
  let rowsFilled = 0
  /** Inside a `vectors` entry: its first float's offset in `matrix`, and how many numbers it had so far. */
  let rowBase = -1
  let column = 0

  const fail = (message: string): never => {
    throw new WinkFormatError(message)
  }

  const startRow = (word: string) => {
    if (dimensions === undefined) fail("`dimensions` must come before `vectors`")
    if (matrix === undefined) {
      vocabulary = new Map()
      words.forEach((w, row) => {
        if (!vocabulary!.has(w)) vocabulary!.set(w, row)
      })
      matrix = new Float32Array(words.length * dimensions!)
      filled = new Uint8Array(words.length)
    }
    const row = vocabulary!.get(word)
    if (row === undefined) return fail(`a vector for "${word}", which \`words\` lacks (it must come before \`vectors\`)`)
    if (filled![row] === 1) fail(`two vectors for "${word}"`)
    filled![row] = 1
    rowsFilled++
    rowBase = row * dimensions!
    column = 0
  }

  /** A scalar value (or, in an object where a key is due, a key). */
  const scalar = (value: string | number | boolean | null) => {
    const depth = stack.length
    if (depth === 0) return fail("the file is not a JSON object")
    const top = depth - 1
    if (stack[top] === "{") {
      if (!expectKey[top]) {
        if (depth === 1 && keys[0] === "dimensions") dimensions = typeof value === "number" ? value : fail("`dimensions` is not a number")
        return
      }
      if (typeof value !== "string") return fail("an object key is not a string")
      keys[top] = value
      expectKey[top] = false
      return
    }
    if (rowBase >= 0) {
      if (typeof value !== "number") return fail(`the vector of "${keys[1]}" holds a non-number`)
      if (column < dimensions!) matrix![rowBase + column] = value
      column++
    } else if (depth === 2 && keys[0] === "words") {
      if (typeof value !== "string") return fail("`words` holds a non-string")
      if (matrix !== undefined) return fail("`words` must come before `vectors`")
      words.push(value)
    }
  }

  const open = (frame: Frame) => {
    const top = stack.length - 1
    if (done || rowBase >= 0 || (top >= 0 && stack[top] === "{" && expectKey[top])) fail(`unexpected ${frame}`)
    stack.push(frame)
    keys.push(undefined)
    expectKey.push(frame === "{")
    if (stack.length === 3 && frame === "[" && stack[1] === "{" && keys[0] === "vectors") startRow(keys[1]!)
  }

  const close = (frame: Frame) => {
    if (stack.pop() !== frame) fail(`unexpected ${frame === "{" ? "}" : "]"}`)
    keys.pop()
    expectKey.pop()
    if (rowBase >= 0) {
      if (column < dimensions!) fail(`the vector of "${keys[1]}" has ${column} numbers, fewer than ${dimensions}`)
      rowBase = -1
    }
    if (stack.length === 0) done = true
  }

  const push = (chunk: Uint8Array) => {
    const bytes = pending === undefined ? chunk : concat(pending, chunk)
    pending = undefined
    const length = bytes.length
    let i = 0
    while (i < length) {
      const b = bytes[i]!
      if (isSpace(b)) {
        i++
      } else if (b === QUOTE) {
        let j = i + 1
        let escaped = false
        while (j < length && bytes[j] !== QUOTE) {
          if (bytes[j] === BACKSLASH) {
            escaped = true
            j++
          }
          j++
        }
        if (j >= length) break
        const value = escaped
          ? JSON.parse(decoder.decode(bytes.subarray(i, j + 1))) as string
          : decoder.decode(bytes.subarray(i + 1, j))
        scalar(value)
        i = j + 1
      } else if (isWordByte(b)) {
        let j = i + 1
        while (j < length && isWordByte(bytes[j]!)) j++
        if (j >= length) break
        if (b === 0x74 || b === 0x66 || b === 0x6e) {
          const word = String.fromCharCode(...bytes.subarray(i, j))
          scalar(word === "true" ? true : word === "false" ? false : word === "null" ? null : fail(`unexpected ${word}`))
        } else {
          scalar(parseNumber(bytes, i, j))
        }
        i = j
      } else {
        if (b === 0x7b) open("{")
        else if (b === 0x5b) open("[")
        else if (b === 0x7d) close("{")
        else if (b === 0x5d) close("[")
        else if (b === 0x2c) {
          const top = stack.length - 1
          if (top < 0) fail("unexpected ,")
          if (stack[top] === "{") expectKey[top] = true
        } else if (b !== 0x3a) {
          fail(`unexpected byte 0x${b.toString(16)}`)
        }
        i++
      }
    }
    if (i < length) pending = bytes.slice(i)
  }

  const end = (): WinkContents => {
    if (pending !== undefined || !done) fail("the file ends early")
    if (dimensions === undefined || matrix === undefined) return fail("no `dimensions` or no `vectors`")
    if (rowsFilled !== words.length) {
      return fail(`no vector for "${words[filled!.indexOf(0)]}" (${words.length - rowsFilled} words lack one)`)
    }
    return { dimensions, words, matrix }
  }

  return { push, end }
}
