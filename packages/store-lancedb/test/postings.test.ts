import { describe, expect, it } from "@effect/vitest"
import * as Lengths from "../src/internal/lengths.js"
import * as Postings from "../src/internal/postings.js"

const fragment = (f: number, offset: number) => f * 4294967296 + offset

describe("Postings", () => {
  it("the heap gives candidates best key first, each once", () => {
    let seed = 7
    const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647
    const keys = Float64Array.from({ length: 1000 }, () => Math.floor(rand() * 50))
    const heap = new Postings.MaxHeap(keys, Int32Array.from({ length: keys.length }, (_, i) => i))
    const popped: Array<number> = []
    while (heap.length > 0) {
      const key = heap.peekKey()
      const item = heap.pop()
      expect(keys[item]).toBe(key)
      popped.push(item)
    }
    expect(heap.peekKey()).toBe(-Infinity)
    expect(new Set(popped).size).toBe(keys.length)
    const order = popped.map((i) => keys[i]!)
    expect(order).toEqual([...order].sort((a, b) => b - a))
  })

  it("collects the terms each row holds, with its lengths, and leaves the shared scratch array zeroed", () => {
    // Two fragments; four fields per row.
    const rowIds = [fragment(0, 0), fragment(0, 1), fragment(3, 0), fragment(3, 2)]
    const lengths = Lengths.make(rowIds, [[5, 6, 7, 8], [1, 0, 2, 0], [0, 0, 0, 3], [0, 0, 0, 0]])
    // Four terms: two in content (field 0), one in the title (field 1), one in questions (field 3).
    const matches = [[fragment(0, 1), fragment(3, 2)], [fragment(3, 2)], [fragment(3, 0)], undefined]
    const postings = Postings.collect(lengths, matches, [0, 0, 1, 3])
    expect(postings.moved).toBe(false)
    expect(postings.rowIds).toEqual([fragment(0, 1), fragment(3, 2), fragment(3, 0)])
    expect([...postings.lengths]).toEqual([6, 0, 0, 0, 8, 0, 3, 0, 7, 2, 0, 0])
    expect([...postings.has]).toEqual([
      1, 0, 0, 0,
      1, 1, 0, 0,
      0, 0, 1, 0
    ])
    expect([...Lengths.scratch(lengths)].every((x) => x === 0)).toBe(true)
  })

  it("tells when a match is a row the length scan did not see (the table changed)", () => {
    const lengths = Lengths.make([fragment(0, 0)], [[3], [0], [0], [0]])
    expect(Postings.collect(lengths, [[fragment(0, 0)]], [0]).moved).toBe(false)
    expect(Postings.collect(lengths, [[fragment(0, 5)]], [0]).moved).toBe(true)
    expect(Postings.collect(lengths, [[fragment(1, 0)]], [0]).moved).toBe(true)
    // A row seen with an empty field cannot hold a token there.
    expect(Postings.collect(lengths, [[fragment(0, 0)]], [1]).moved).toBe(true)
  })
})
