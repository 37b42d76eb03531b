/**
 * htmlparser2 with open-element stacks that work in constant time. The library keeps its stack of
 * open elements (and of foreign contexts, `svg` and `math`) in arrays whose top is index 0:
 * `unshift` to open, `shift` to close, `indexOf` to find the element a close tag ends. Each costs
 * time proportional to the depth, so a file of a million nested tags took minutes. The stacks here
 * answer the same calls, with the same results, in constant time.
 */
import { Parser } from "htmlparser2"
import type { Handler, ParserOptions } from "htmlparser2"

/** An array-like stack, top at index 0, as htmlparser2 uses it. */
const topFirstStack = <T>(): Array<T> => {
  const items: Array<T> = [] // bottom first
  /** Where each value sits in `items`, lowest first. */
  const where = new Map<T, Array<number>>()
  const methods = {
    unshift(value: T): number {
      const at = where.get(value)
      if (at === undefined) where.set(value, [items.length])
      else at.push(items.length)
      return items.push(value)
    },
    shift(): T | undefined {
      if (items.length === 0) return undefined
      const value = items.pop()!
      where.get(value)!.pop()
      return value
    },
    indexOf(value: T): number {
      const at = where.get(value)
      return at === undefined || at.length === 0 ? -1 : items.length - 1 - at[at.length - 1]!
    }
  }
  return new Proxy(methods, {
    get: (target, key) => {
      if (key === "length") return items.length
      if (typeof key === "string" && key !== "" && key.charCodeAt(0) >= 48 && key.charCodeAt(0) <= 57) {
        return items[items.length - 1 - Number(key)]
      }
      return target[key as keyof typeof methods]
    },
    set: (_target, key, value) => {
      if (key !== "length" || value !== 0) return false
      items.length = 0
      where.clear()
      return true
    }
  }) as unknown as Array<T>
}

/** A htmlparser2 `Parser` whose element stacks work in constant time (see the module doc). */
export const makeParser = (handler: Partial<Handler>, options: ParserOptions): Parser => {
  const parser = new Parser(handler, options)
  const internals = parser as unknown as { stack: Array<string>; foreignContext: Array<boolean> }
  const foreign = topFirstStack<boolean>()
  for (let i = internals.foreignContext.length - 1; i >= 0; i--) foreign.unshift(internals.foreignContext[i]!)
  internals.stack = topFirstStack<string>()
  internals.foreignContext = foreign
  return parser
}
