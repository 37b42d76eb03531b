/**
 * Exactness against the PyTorch reference of the tiny BERT fixtures: token ids, pooled and
 * normalised embeddings of a padded batch, and cross-encoder logits.
 */
import { describe, expect, it } from "@effect/vitest"
import { CrossEncoderReranker, HfTokenizer, SentenceEmbedder } from "@ragkit/adapters/onnx"
import { Effect } from "effect"
import { embedderExpected, embedderFolder, maxAbsError, rerankerExpected, rerankerFolder, wordsText } from "./fixtures.js"

/** Type ids of a BERT pair: 0 up to the first [SEP] (id 3), 1 after it. */
const pairTypeIds = (ids: ReadonlyArray<number>): Array<number> => {
  const sep = ids.indexOf(3)
  return ids.map((_, i) => (i <= sep ? 0 : 1))
}

describe("HfTokenizer", () => {
  it.effect("reproduces the token ids of every sentence, truncated to 64", () =>
    Effect.gen(function*() {
      const tokenizer = yield* HfTokenizer.load({ folder: embedderFolder })
      expect(tokenizer.maxLength).toBe(64)
      for (const [i, sentence] of embedderExpected.sentences.entries()) {
        const encoding = yield* tokenizer.encode(sentence)
        expect(encoding.ids, `sentence ${i}`).toEqual(embedderExpected.input_ids[i])
        expect(encoding.typeIds.every((t) => t === 0)).toBe(true)
      }
    }))

  it.effect("reproduces the pair ids and token type ids of the reranker", () =>
    Effect.gen(function*() {
      const tokenizer = yield* HfTokenizer.load({ folder: rerankerFolder })
      for (const [i, [query, passage]] of rerankerExpected.pairs.entries()) {
        const encoding = yield* tokenizer.encodePair(query, passage)
        expect(encoding.ids, `pair ${i}`).toEqual(rerankerExpected.input_ids[i])
        expect(encoding.typeIds, `pair ${i}`).toEqual(pairTypeIds(rerankerExpected.input_ids[i]!))
      }
    }))

  it.effect("cuts a long pair longest-first, keeping the short query whole", () =>
    Effect.gen(function*() {
      const tokenizer = yield* HfTokenizer.load({ folder: rerankerFolder })
      const query = yield* tokenizer.encode("where did the cat sit")
      const pair = yield* tokenizer.encodePair("where did the cat sit", wordsText(2_000))
      expect(pair.ids).toHaveLength(64)
      expect(pair.ids.slice(0, query.ids.length)).toEqual(query.ids)
      expect(pair.ids.at(-1)).toBe(3)
      expect(pair.typeIds.filter((t) => t === 1)).toHaveLength(64 - query.ids.length)
    }))

  it.effect("pads a batch to its longest text with an attention mask", () =>
    Effect.gen(function*() {
      const tokenizer = yield* HfTokenizer.load({ folder: embedderFolder })
      const batch = tokenizer.pad(yield* Effect.forEach(["The cat sat on the mat.", ""], tokenizer.encode))
      expect([batch.batchSize, batch.sequenceLength]).toEqual([2, 14])
      expect(Array.from(batch.inputIds.subarray(14), Number)).toEqual([2, 3, ...Array(12).fill(0)])
      expect(Array.from(batch.attentionMask.subarray(14), Number)).toEqual([1, 1, ...Array(12).fill(0)])
    }))
})

describe("SentenceEmbedder", () => {
  it.scoped("mean pooling and L2 normalisation of a padded batch match the reference within 1e-5", () =>
    Effect.gen(function*() {
      const embedder = yield* SentenceEmbedder.make({ folder: embedderFolder })
      expect(embedder.dimensions).toBe(64)
      const vectors = yield* embedder.embedDocuments(embedderExpected.sentences)
      const errors = vectors.map((v, i) => maxAbsError(v, embedderExpected.mean_pooled_normalized[i]!))
      expect(Math.max(...errors), `errors ${errors}`).toBeLessThanOrEqual(1e-5)
    }))

  it.scoped("CLS pooling, when it overrides the folder's pooling, matches the reference within 1e-5", () =>
    Effect.gen(function*() {
      const embedder = yield* SentenceEmbedder.make({ folder: embedderFolder, pooling: "cls" })
      const vectors = yield* embedder.embedDocuments(embedderExpected.sentences)
      const errors = vectors.map((v, i) => maxAbsError(v, embedderExpected.cls_pooled_normalized[i]!))
      expect(Math.max(...errors), `errors ${errors}`).toBeLessThanOrEqual(1e-5)
    }))

  it.scoped("small batches give the same vectors as one batch", () =>
    Effect.gen(function*() {
      const embedder = yield* SentenceEmbedder.make({ folder: embedderFolder, maxBatchSize: 2 })
      const vectors = yield* embedder.embedDocuments(embedderExpected.sentences)
      const errors = vectors.map((v, i) => maxAbsError(v, embedderExpected.mean_pooled_normalized[i]!))
      expect(Math.max(...errors)).toBeLessThanOrEqual(1e-5)
    }))

  it.scoped("the query prefix is prepended to queries only", () =>
    Effect.gen(function*() {
      const embedder = yield* SentenceEmbedder.make({ folder: embedderFolder, queryPrefix: "query: " })
      const plain = yield* SentenceEmbedder.make({ folder: embedderFolder })
      const [document] = yield* embedder.embedDocuments(["The cat sat on the mat."])
      expect(maxAbsError(document!, embedderExpected.mean_pooled_normalized[1]!)).toBeLessThanOrEqual(1e-5)
      const query = yield* embedder.embedQuery("The cat sat on the mat.")
      const [prefixed] = yield* plain.embedDocuments(["query: The cat sat on the mat."])
      expect(maxAbsError(query, prefixed!)).toBeLessThanOrEqual(1e-6)
      expect(maxAbsError(query, document!)).toBeGreaterThan(1e-3)
    }))

  it.scoped("a 2,000-word text is truncated to 64 tokens and still embeds", () =>
    Effect.gen(function*() {
      const tokenizer = yield* HfTokenizer.load({ folder: embedderFolder })
      const long = wordsText(2_000)
      expect((yield* tokenizer.encode(long)).ids).toHaveLength(64)
      const embedder = yield* SentenceEmbedder.make({ folder: embedderFolder })
      const [vector, head] = yield* embedder.embedDocuments([long, wordsText(100)])
      expect(vector).toHaveLength(64)
      expect(Math.abs(Math.hypot(...vector!) - 1)).toBeLessThanOrEqual(1e-6)
      // Only the first 62 word pieces count: the first 100 words give the same vector.
      expect(maxAbsError(vector!, head!)).toBeLessThanOrEqual(1e-6)
    }))

  it.scoped("a folder without a model fails with a typed ModelError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(SentenceEmbedder.make({ folder: `${embedderFolder}/1_Pooling` }))
      expect(error._tag).toBe("ModelError")
      expect(error.reason).toBe("NotConfigured")
    }))
})

describe("CrossEncoderReranker", () => {
  it.scoped("raw logits match the reference within 1e-4, alone and batched", () =>
    Effect.gen(function*() {
      const reranker = yield* CrossEncoderReranker.make({ folder: rerankerFolder })
      const alone = yield* Effect.forEach(rerankerExpected.pairs, ([query, passage]) => reranker.rerank(query, [passage]))
      const errors = alone.map(([score], i) => Math.abs(score! - rerankerExpected.logits[i]!))
      expect(Math.max(...errors), `errors ${errors}`).toBeLessThanOrEqual(1e-4)
      // The first two pairs share their query: one padded batch.
      const [[query, first], [, second]] = rerankerExpected.pairs as [[string, string], [string, string]]
      const batched = yield* reranker.rerank(query, [first, second])
      expect(maxAbsError(batched, rerankerExpected.logits.slice(0, 2))).toBeLessThanOrEqual(1e-4)
    }))

  it.scoped("sigmoid maps the logits into [0, 1]", () =>
    Effect.gen(function*() {
      const reranker = yield* CrossEncoderReranker.make({ folder: rerankerFolder, sigmoid: true })
      const [[query, passage]] = rerankerExpected.pairs as [[string, string]]
      const [score] = yield* reranker.rerank(query, [passage])
      expect(Math.abs(score! - 1 / (1 + Math.exp(-rerankerExpected.logits[0]!)))).toBeLessThanOrEqual(1e-4)
    }))
})
