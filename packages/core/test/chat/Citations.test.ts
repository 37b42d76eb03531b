import { describe, expect, it } from "@effect/vitest"
import * as Citations from "../../src/chat/Citations.js"

const words = (s: string) => s.toLowerCase().split(/[^a-z0-9]+/).filter((w) => w.length > 2)

describe("Citations", () => {
  it("reads the markers of existing passages, Arabic-Indic digits and RAGFlow's [n] included", () => {
    expect([...Citations.cited("A [ID:0]. B [ID:7] [2]. C [ID:٣]. D [ID:1][ID:0]", 5)].sort()).toEqual([0, 1, 2, 3])
    expect(Citations.cited("no markers here", 5).size).toBe(0)
  })

  it("rewrites malformed markers of existing passages as [ID:n]", () => {
    expect(Citations.repair("a (ID: 1) b 【ID:2】 c ref 3 d [ID: 4] e [0] f (ID: 9) g reference 5", 5)).toBe(
      "a [ID:1] b [ID:2] c [ID:3] d [ID:4] e [ID:0] f (ID: 9) g reference 5"
    )
  })

  it("cuts an answer into sentences and marks, keeping code blocks whole", () => {
    const answer = "Otters hold hands. Cats sleep a lot!\n```\nconst a = 1. b = 2\n```\nDone here."
    const parts = Citations.pieces(answer)
    expect(parts.join("")).toBe(answer)
    expect(parts).toContain("```\nconst a = 1. b = 2\n```")
    const sentences = Citations.sentences(parts).map((i) => parts[i])
    expect(sentences).toEqual(["Otters hold hands", "Cats sleep a lot", "\nDone here."])
  })

  it("inserts markers after the sentences that match a passage, each passage once", () => {
    const passages = [
      "Otters hold hands while sleeping so they do not drift apart.",
      "Mars has two small moons called Phobos and Deimos."
    ]
    const answer = "Mars has two small moons, Phobos and Deimos. Otters hold hands while sleeping. Otters hold hands while sleeping. I hope this helps you."
    const result = Citations.insert({
      answer,
      passageTokens: passages.map(words),
      tokens: words,
      tokenWeight: 0.7,
      vectorWeight: 0.3
    })
    expect(result.answer).toBe(
      "Mars has two small moons, Phobos and Deimos [ID:1]. Otters hold hands while sleeping [ID:0]. Otters hold hands while sleeping. I hope this helps you."
    )
    expect([...result.cited].sort()).toEqual([0, 1])
  })

  it("weighs vectors when given, and lowers the threshold until something is cited", () => {
    const passages = [["alpha"], ["beta"]]
    // Tokens say nothing; the vectors point the only sentence at passage 1.
    const result = Citations.insert({
      answer: "Something unrelated entirely.",
      passageTokens: passages,
      tokens: () => ["zzz"],
      vectors: { sentences: [[0, 1]], passages: [[1, 0], [0.2, 0.98]] },
      tokenWeight: 0.5,
      vectorWeight: 0.5
    })
    // 0.5 * 0.98 = 0.49: under 0.63 and 0.504, cited at the third threshold (0.4032).
    expect(result.answer).toBe("Something unrelated entirely. [ID:1]")
    const none = Citations.insert({
      answer: "Something unrelated entirely.",
      passageTokens: passages,
      tokens: () => ["zzz"],
      vectors: { sentences: [[0, 1]], passages: [[1, 0], [0.9, 0.1]] },
      tokenWeight: 0.5,
      vectorWeight: 0.5
    })
    expect(none.cited.size).toBe(0)
  })

  it("RAGFlow's token similarity: the share of the sentence's weight (words 0.4, word pairs 0.6) in the passage", () => {
    expect(Citations.tokenSimilarity(["a", "b"], ["a", "b", "c"])).toBeCloseTo(1, 6)
    // a (0.4) found, b (0.4) found, "a b" (0.6) not: 0.8 / 1.4
    expect(Citations.tokenSimilarity(["a", "b"], ["b", "x", "a"])).toBeCloseTo(0.8 / 1.4, 6)
    expect(Citations.tokenSimilarity(["q"], ["a"])).toBeCloseTo(0, 6)
  })
})
