import { describe, expect, it } from "@effect/vitest"
import { ChunkIndexScoring } from "@ragkit/core"
import * as Postings from "../src/internal/chunkIndexPostings.js"
import * as Stats from "../src/internal/chunkIndexStats.js"
import * as PgChunkIndex from "../src/PgChunkIndex.js"
import { random } from "./chunkIndexChecks.js"

const count = ChunkIndexScoring.countTokens

describe("chunk index postings", () => {
  it("a segment's postings read back as written: per (field, token), in ordinal order, with the statistics they add", () => {
    const rows = [
      { ord: 3, fields: [count(["a", "b", "a"]), count([]), count(["a"]), count([])] },
      { ord: 4, fields: [count(["b"]), count(["a"]), count([]), count([])] },
      { ord: 70_000, fields: [count(["a", "c"]), count([]), count([]), count([])] },
      { ord: 70_001, fields: [count(["c", ...Array(12).fill("a")]), count([]), count([]), count([])] }
    ].map(({ fields, ord }) => {
      const [content_len, title_len, keyword_len, question_len] = fields.map((f) => f.length) as [number, number, number, number]
      return { ord, term_keys: Stats.termKeys(fields), content_len, title_len, keyword_len, question_len }
    })
    const built = Postings.build(rows)
    // content: 4 rows, 3 + 1 + 2 + 13 tokens; title: 1 row of 1; keywords: 1 row of 1
    expect(built.kb).toEqual([4, 19, 1, 1, 1, 1, 0, 0])
    expect([...built.frequencies].sort()).toEqual([["a", [3, 1, 1, 0]], ["b", [2, 0, 0, 0]], ["c", [2, 0, 0, 0]]])
    const read = built.lists.map(({ field, hex, n, token }) => {
      const records = new Postings.Records(Buffer.from(hex, "hex"))
      expect(records.n).toBe(n)
      return [field, token, Array.from({ length: n }, (_, i) => [records.ord(i), records.tf(i), records.length(i)])] as const
    })
    expect(read.sort()).toEqual([
      [0, "a", [[3, 2, 3], [70_000, 1, 2], [70_001, 12, 13]]],
      [0, "b", [[3, 1, 3], [4, 1, 1]]],
      [0, "c", [[70_000, 1, 2], [70_001, 1, 13]]],
      [1, "a", [[4, 1, 1]]],
      [2, "a", [[3, 1, 1]]]
    ].sort())
    const [list] = built.lists.filter((l) => l.field === 0 && l.token === "a")
    const kept = new Postings.Records(Buffer.from(list!.hex, "hex")).filter((ord) => ord !== 3)
    expect(kept.n).toBe(2)
    expect(new Postings.Records(Buffer.from(kept.hex, "hex")).ord(0)).toBe(70_000)
    expect([...Postings.bytesOf(`\\x${list!.hex}`)]).toEqual([...Buffer.from(list!.hex, "hex")])
    expect(() => Postings.bytesOf(12)).toThrow(/not a bytea/)
  })

  it("batches keep statements under the size asked for, and every list once", () => {
    const lists = Array.from({ length: 50 }, (_, i) => ({ field: 0, token: `t${i}`, n: 10, hex: "00".repeat(60 * (1 + (i % 7))) }))
    const batches = Postings.batches(lists, 1000)
    expect(batches.flat()).toEqual(lists)
    for (const batch of batches) {
      if (batch.length > 1) expect(batch.reduce((n, l) => n + l.hex.length + l.token.length, 0)).toBeLessThanOrEqual(1000 + 1000)
    }
    expect(batches.length).toBeGreaterThan(5)
  })

  it("kthLargest equals the k-th of a sort, with ties", () => {
    const next = random(3)
    for (let round = 0; round < 200; round++) {
      const n = 1 + Math.floor(next() * 300)
      const values = Float64Array.from({ length: n }, () => Math.floor(next() * 20) / 4)
      const k = 1 + Math.floor(next() * (n + 5))
      const sorted = [...values].sort((a, b) => b - a)
      expect(Postings.kthLargest(values, k)).toBe(sorted[Math.min(k, n) - 1])
    }
  })

  it("merges keep segments in shape: size classes never grow along the ordinals, fewer than mergeFactor per class", () => {
    expect([0, 1, 9, 10, 99, 100, 999, 1000, 10_000, 999_999, 1_000_000].map(Postings.level)).toEqual([0, 0, 0, 1, 1, 2, 2, 3, 4, 5, 6])
    const next = random(9)
    let segments: Array<Postings.Segment> = []
    let end = 0
    let written = 0
    let rewritten = 0
    for (let write = 0; write < 3000; write++) {
      const size = next() < 0.9 ? 1 + Math.floor(next() * 40) : 1 + Math.floor(next() * 1000)
      segments.push({ id: write, first_ord: end, end_ord: end + size, size, live: size })
      end += size
      written += size
      for (let m = Postings.nextMerge(segments); m !== undefined; m = Postings.nextMerge(segments)) {
        const [from, to] = m
        const group = segments.slice(from, to)
        const merged = group.reduce((n, g) => n + g.size, 0)
        rewritten += merged
        segments = [
          ...segments.slice(0, from),
          { id: -1, first_ord: group[0]!.first_ord, end_ord: group[group.length - 1]!.end_ord, size: merged, live: merged },
          ...segments.slice(to)
        ]
      }
      const levels = segments.map((s) => Postings.level(s.size))
      for (let i = 1; i < levels.length; i++) expect(levels[i]!).toBeLessThanOrEqual(levels[i - 1]!)
      for (const l of new Set(levels)) expect(levels.filter((x) => x === l).length).toBeLessThan(Postings.mergeFactor)
    }
    expect(segments.reduce((n, s) => n + s.size, 0)).toBe(written)
    // Each row is rewritten about once per size class it passes (a few here).
    expect(rewritten / written).toBeLessThan(8)
    expect(segments.length).toBeLessThan(6 * (Postings.mergeFactor - 1))
  })
})

describe("pgvector ef_search default", () => {
  it("grows with the square root of the vectors searched, between 100 and 1000", () => {
    expect([0, 62_500, 100_000, 250_000, 1_000_000, 4_000_000, 10_000_000].map(PgChunkIndex.defaultEfSearch))
      .toEqual([100, 100, 126, 200, 400, 800, 1000])
  })
})
