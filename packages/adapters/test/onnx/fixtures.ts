/** The tiny BERT fixtures (random weights) and their PyTorch reference answers. */
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"

export const modelsDir = fileURLToPath(new URL("../fixtures", import.meta.url))
export const embedderFolder = fileURLToPath(new URL("../fixtures/tiny-bert-embedder", import.meta.url))
export const rerankerFolder = fileURLToPath(new URL("../fixtures/tiny-bert-reranker", import.meta.url))

export interface EmbedderExpected {
  readonly sentences: ReadonlyArray<string>
  readonly input_ids: ReadonlyArray<ReadonlyArray<number>>
  readonly mean_pooled_normalized: ReadonlyArray<ReadonlyArray<number>>
  readonly cls_pooled_normalized: ReadonlyArray<ReadonlyArray<number>>
}

export interface RerankerExpected {
  readonly pairs: ReadonlyArray<readonly [string, string]>
  readonly input_ids: ReadonlyArray<ReadonlyArray<number>>
  readonly logits: ReadonlyArray<number>
}

const readJson = <A>(file: string): A => JSON.parse(fs.readFileSync(file, "utf8")) as A

export const embedderExpected = readJson<EmbedderExpected>(`${embedderFolder}/expected.json`)
export const rerankerExpected = readJson<RerankerExpected>(`${rerankerFolder}/expected.json`)

/** The largest absolute difference between two equally long lists. */
export const maxAbsError = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): number => {
  if (a.length !== b.length) return Infinity
  return a.reduce((max, x, i) => Math.max(max, Math.abs(x - b[i]!)), 0)
}

/** A text of `words` words. */
export const wordsText = (words: number): string =>
  Array.from({ length: words }, (_, i) => ["retrieval", "vector", "the", "cat", "document", "answer"][i % 6]).join(" ")
