/**
 * Seeded synthetic chunks for the LanceDB write benches: words from a 6,000-word vocabulary
 * (skewed towards the first ones, as real text repeats common words), random vectors.
 */
import { Chunk, ChunkId, DocumentId, KnowledgeBaseId, randomHex32, TenantId } from "@ragkit/core"

export const syntheticChunks = (seed = 7) => {
  let state = seed
  const rand = () => ((state = (state * 16807) % 2147483647) - 1) / 2147483646
  const vocabulary = Array.from({ length: 6000 }, (_, i) => `w${i.toString(36)}`)
  const phrase = (n: number) => Array.from({ length: n }, () => vocabulary[Math.floor(rand() ** 2 * vocabulary.length)]).join(" ")
  const tenant = TenantId.make(randomHex32())
  const kb = KnowledgeBaseId.make(randomHex32())
  /** A chunk of `words` words (its text in every token field) with a `dimensions`-d vector. */
  const chunk = (options: {
    readonly doc: DocumentId
    readonly name: string
    readonly title: string
    readonly index: number
    readonly words: number
    readonly dimensions: number
    readonly tokens: number
    readonly pages: ReadonlyArray<number>
  }) => {
    const content = phrase(options.words)
    return new Chunk({
      id: ChunkId.make(randomHex32()), tenant_id: tenant, kb_id: kb, doc_id: options.doc, docnm_kwd: options.name,
      content, content_ltks: content, content_sm_ltks: content, title_tks: options.title,
      important_keywords: [], questions: [], available: true, token_num: options.tokens, page_num: options.pages, positions: [],
      index: options.index, metadata: {}, create_time: 1_700_000_000_000,
      vector: Array.from({ length: options.dimensions }, () => rand() - 0.5)
    })
  }
  return { rand, kb, chunk, newDoc: () => DocumentId.make(randomHex32()) }
}
