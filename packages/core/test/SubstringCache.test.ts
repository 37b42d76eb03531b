import { describe, expect, it } from "@effect/vitest"
import * as SubstringCache from "../src/text/internal/substringCache.js"

describe("SubstringCache", () => {
  it("finds a key by any range of any text that spells it", () => {
    const cache = SubstringCache.make<number>(10)
    cache.set("the cat sat", 4, 7, 1)
    expect(cache.get("cat", 0, 3)).toBe(1)
    expect(cache.get("a cat!", 2, 5)).toBe(1)
    expect(cache.get("the cat sat", 3, 7)).toBeUndefined() // " cat"
    expect(cache.get("the cat sat", 4, 6)).toBeUndefined() // "ca"
    expect(cache.get("cut", 0, 3)).toBeUndefined()
  })

  it("keeps the empty key and non-ASCII keys apart from the rest", () => {
    const cache = SubstringCache.make<string>(10)
    cache.set("x", 0, 0, "empty")
    cache.set("日本語", 0, 2, "nihon")
    cache.set("😀a", 0, 2, "emoji")
    expect(cache.get("abc", 1, 1)).toBe("empty")
    expect(cache.get("日本", 0, 2)).toBe("nihon")
    expect(cache.get("b😀", 1, 3)).toBe("emoji")
    expect(cache.get("日本語", 0, 3)).toBeUndefined()
  })

  it("replaces the value of a key set again", () => {
    const cache = SubstringCache.make<number>(4)
    cache.set("abc", 0, 3, 1)
    cache.set("xabcx", 1, 4, 2)
    expect(cache.get("abc", 0, 3)).toBe(2)
  })

  it("answers as a Map would over random keys, emptying itself when full", () => {
    // A small capacity: many clears and, over 2 000 keys of 1-3 letters, hash collisions in the table.
    const capacity = 37
    const cache = SubstringCache.make<number>(capacity)
    const model = new Map<string, number>()
    let seed = 7
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
      return seed % n
    }
    const text = Array.from({ length: 5_000 }, () => "abcdé"[rand(5)]).join("")
    let hits = 0
    for (let step = 0; step < 20_000; step++) {
      const start = rand(text.length - 3)
      const end = start + rand(4)
      const key = text.slice(start, end)
      const found = cache.get(text, start, end)
      expect(found).toBe(model.get(key))
      if (found !== undefined) hits++
      if (rand(3) === 0) {
        if (!model.has(key) && model.size >= capacity) model.clear()
        const value = rand(1_000)
        cache.set(text, start, end, value)
        model.set(key, value)
      }
    }
    expect(hits).toBeGreaterThan(1_000)
  })
})
