/**
 * Retrieval: RAGFlow's hybrid search over one or more knowledge bases.
 *
 * Candidates come from both sides: BM25 over the search tokens (content, title, important keywords
 * and questions, with field weights) and cosine similarity over the embeddings (`top_k` each).
 * Every candidate gets a `term_similarity` and a `vector_similarity` in [0, 1] and
 *
 *   similarity = (1 - w) * term_similarity + w * vector_similarity,   w = vector_similarity_weight
 *
 * Candidates under `similarity_threshold` are dropped; the rest are sorted, counted per document
 * (`doc_aggs`) and paged. With a rerank model, the top candidates' vector side is replaced by the
 * model's relevance scores (as RAGFlow's `rerank_by_model` does). The candidates are the searches'
 * summaries (ids, documents, vectors and scores, no text): whole chunks are read for the rerank
 * head and the returned page only (`ChunkIndex.getMany`), unless `"overlap"` needs their tokens.
 *
 * `term_similarity` is the chunk's BM25 score divided by the best BM25 score among the query's
 * candidates (`term_similarity: "bm25"`, the default), or RAGFlow's weighted share of the query's
 * tokens found in the chunk (`"overlap"`). BM25 ranks better on the benchmarks (bench/quality.ts),
 * so it is the default; both lie in [0, 1].
 *
 * Query tokens come from the same tokenizer as the chunks' (stemmed, segmented), minus stop words.
 *
 * With `cross_languages`, the question is first replaced by its translations into those languages;
 * with `keyword`, keywords of the question are appended to it. Both ask the default chat model of
 * the (first) knowledge base's tenant, which must be set (`ModelError` `NotConfigured` otherwise, as
 * RAGFlow fails); a model that only quotes (not generative) is not asked, and a model call that fails
 * leaves the question as it was (RAGFlow's fallback).
 */
import { Context, Effect, Layer, Option, Schema } from "effect"
import * as Prompt from "../chat/Prompt.js"
import { Caller } from "../domain/Caller.js"
import { Chunk } from "../domain/Chunk.js"
import {
  type ChunkIndexError,
  invalid,
  type InvalidInput,
  ModelError,
  type NotFound,
  type StoreError
} from "../domain/Errors.js"
import * as Fields from "../domain/Fields.js"
import { DocumentId, KnowledgeBaseId } from "../domain/Ids.js"
import type { KnowledgeBase } from "../domain/Records.js"
import type { ChatMessage, ChatModelService } from "../ports/ChatModel.js"
import {
  ChunkIndex,
  type ChunkFilter,
  cosineSimilarity,
  type ChunkSummary,
  type MetadataOperator as IndexMetadataOperator,
  type WeightedToken
} from "../ports/ChunkIndex.js"
import { RecordStore } from "../ports/RecordStore.js"
import { ChineseStopWords, EnglishStopWords } from "../text/StopWords.js"
import { Tokenizer } from "../text/Tokenizer.js"
import { readableKnowledgeBase } from "./internal/access.js"
import { Models } from "./Models.js"

// ---------------------------------------------------------------------------------------------
// Requests and results

/** Every operator the chunk index knows: the compiler keeps this in step with `ChunkIndex.MetadataOperator`. */
const metadataOperators: Record<IndexMetadataOperator, true> = {
  eq: true,
  ne: true,
  gt: true,
  gte: true,
  lt: true,
  lte: true,
  in: true,
  not_in: true,
  contains: true,
  not_contains: true,
  starts_with: true,
  ends_with: true,
  empty: true,
  not_empty: true
}

/** An operator of a metadata condition (see `ChunkIndex.MetadataOperator`). */
export const MetadataOperator = Fields.OneOf(
  ...(Object.keys(metadataOperators) as [IndexMetadataOperator, ...Array<IndexMetadataOperator>])
)
export type MetadataOperator = typeof MetadataOperator.Type

/** A condition on the metadata of a chunk's document. */
export const MetadataCondition = Schema.Struct({
  key: Fields.Name(255),
  op: MetadataOperator,
  /** The operand; a list for `in` / `not_in`; ignored by `empty` / `not_empty`. */
  value: Schema.optional(Schema.Unknown)
})
export type MetadataCondition = typeof MetadataCondition.Type

export const RetrievalRequest = Schema.Struct({
  question: Fields.Name(65_535),
  /** Readable by the caller, all with the same embedding model. */
  kb_ids: Fields.IdList(KnowledgeBaseId).pipe(Schema.minItems(1, { message: () => "can't be empty" })),
  /** Only chunks of these documents (of the knowledge bases above); all documents when absent or empty. */
  doc_ids: Schema.optional(Fields.IdList(DocumentId)),
  ...Fields.paging(1024),
  similarity_threshold: Schema.optionalWith(Fields.UnitInterval, { default: () => 0.2 }),
  vector_similarity_weight: Schema.optionalWith(Fields.UnitInterval, { default: () => 0.3 }),
  /** Candidates taken from each side. */
  top_k: Schema.optionalWith(Fields.IntIn(1, 100_000), { default: () => 1024 }),
  /** `name@provider` of a rerank model. */
  rerank_id: Schema.optional(Fields.Trimmed(255)),
  /** Wrap matched words of the content in `<em>`. */
  highlight: Schema.optionalWith(Fields.Boolean, { default: () => false }),
  metadata_condition: Schema.optional(
    Schema.Struct({
      logic: Schema.optionalWith(Fields.OneOf("and", "or"), { default: () => "and" as const }),
      conditions: Fields.List(MetadataCondition)
    })
  ),
  term_similarity: Schema.optionalWith(Fields.OneOf("bm25", "overlap"), { default: () => "bm25" as const }),
  /** Append keywords of the question, named by the tenant's default chat model. */
  keyword: Schema.optional(Fields.Boolean),
  /** Search with the question translated into these languages (by the tenant's default chat model). */
  cross_languages: Schema.optional(Fields.List(Fields.Name(64)))
})
export type RetrievalRequest = typeof RetrievalRequest.Type

export const RetrievedChunk = Schema.Struct({
  chunk: Chunk,
  similarity: Schema.Number,
  term_similarity: Schema.Number,
  vector_similarity: Schema.Number,
  /** The content with matched words in `<em>`, when asked for. */
  highlight: Schema.optional(Schema.String)
})
export type RetrievedChunk = typeof RetrievedChunk.Type

/** How many of the retrieved chunks come from a document. */
export const DocAgg = Schema.Struct({ doc_id: DocumentId, doc_name: Schema.String, count: Schema.Number })
export type DocAgg = typeof DocAgg.Type

export const RetrievalResult = Schema.Struct({
  /** One page of the chunks, best first. */
  chunks: Schema.Array(RetrievedChunk),
  doc_aggs: Schema.Array(DocAgg),
  /** Chunks above the threshold, over all pages. */
  total: Schema.Number
})
export type RetrievalResult = typeof RetrievalResult.Type

/** Each method's request and result, for the surfaces that decode what callers send. */
export const Operations = {
  retrieve: Fields.operation(RetrievalRequest, RetrievalResult)
}

// ---------------------------------------------------------------------------------------------
// The service

export type RetrievalError = InvalidInput | NotFound | StoreError | ChunkIndexError | ModelError

export interface RetrievalService {
  readonly retrieve: (caller: Caller, request: RetrievalRequest) => Effect.Effect<RetrievalResult, RetrievalError>
}

export class Retrieval extends Context.Tag("@ragkit/core/Retrieval")<Retrieval, RetrievalService>() {}

/** How many of the best hybrid candidates a rerank model sees (RAGFlow's limit). */
export const RerankLimit = 64

/** Weight of a fine-grained query token that the coarse tokens do not contain. */
const FINE_TOKEN_WEIGHT = 0.3

const isStopWord = (token: string) => EnglishStopWords.has(token) || ChineseStopWords.has(token)

const escapeHtml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

export const make = Effect.gen(function* () {
  const store = yield* RecordStore
  const index = yield* ChunkIndex
  const tokenizer = yield* Tokenizer
  const models = yield* Models

  const stopStems = new Set([...EnglishStopWords].map((w) => tokenizer.tokenize(w)).filter((t) => t !== "" && !t.includes(" ")))

  /** The weighted search tokens of a question: stop words dropped, fine-grained tokens weighted lower. */
  const queryTokens = (question: string): ReadonlyArray<WeightedToken> => {
    const coarse = tokenizer.tokenize(question).split(" ").filter((t) => t !== "")
    const kept = coarse.filter((t) => !isStopWord(t) && !stopStems.has(t))
    const chosen = kept.length > 0 ? kept : coarse
    const weights = new Map<string, number>()
    for (const t of chosen) weights.set(t, (weights.get(t) ?? 0) + 1)
    for (const t of tokenizer.fineTokenize(chosen.join(" ")).split(" ")) {
      if (t !== "" && !weights.has(t) && !isStopWord(t)) weights.set(t, FINE_TOKEN_WEIGHT)
    }
    return [...weights].map(([token, weight]) => ({ token, weight }))
  }

  /** RAGFlow's token similarity: the weighted share of query tokens the chunk contains. */
  const overlap = (tokens: ReadonlyArray<WeightedToken>, chunk: Chunk): number => {
    const have = new Set(
      [chunk.content_ltks, chunk.title_tks, ...chunk.important_keywords.map((k) => tokenizer.tokenize(k)), ...chunk.questions.map((q) => tokenizer.tokenize(q))]
        .join(" ")
        .split(" ")
    )
    let matched = 0
    let total = 0
    for (const { token, weight } of tokens) {
      total += weight
      if (have.has(token)) matched += weight
    }
    return total === 0 ? 0 : matched / total
  }

  const highlight = (content: string, tokens: ReadonlyArray<WeightedToken>): string => {
    const wanted = new Set(tokens.map((t) => t.token))
    // Words (Latin scripts) are compared by their stemmed token; CJK runs by substring.
    return content.replace(/[\p{L}\p{N}]+/gu, (word) => {
      if (/[\u4e00-\u9fa5]/.test(word)) {
        let out = escapeHtml(word)
        for (const t of wanted) if (/[\u4e00-\u9fa5]/.test(t) && t.length > 1) out = out.split(t).join(`<em>${t}</em>`)
        return out
      }
      const token = tokenizer.tokenize(word)
      return wanted.has(token) ? `<em>${escapeHtml(word)}</em>` : escapeHtml(word)
    })
  }

  /** Every kb must be readable by the caller and all must share one embedding model. */
  const knowledgeBases = (caller: Caller, ids: ReadonlyArray<KnowledgeBaseId>) =>
    Effect.gen(function* () {
      const kbs = yield* Effect.forEach(ids, (id) => readableKnowledgeBase(store, caller, id))
      const models = new Set(kbs.map((kb) => kb.embedding_model))
      if (models.size > 1) {
        return yield* Effect.fail(invalid("kb_ids", `Datasets use different embedding models: ${[...models].join(", ")}`))
      }
      return kbs
    })

  /** The query vector, from the embedder the knowledge bases were indexed with. */
  const queryVector = (caller: Caller, kbs: ReadonlyArray<KnowledgeBase>, question: string) =>
    Effect.gen(function* () {
      const kb = kbs[0]!
      const owner = new Caller({ tenantId: kb.tenant_id, userId: caller.userId })
      const embedder = yield* models.embedder(owner, kb.embedding_model)
      for (const k of kbs) {
        if (k.embedder !== null && (k.embedder.model !== embedder.modelId || k.embedder.dimensions !== embedder.dimensions)) {
          return yield* Effect.fail(
            invalid(
              "kb_ids",
              `Dataset ${k.name} was indexed with ${k.embedder.model} (${k.embedder.dimensions} dimensions), not ${embedder.modelId}`
            )
          )
        }
      }
      return yield* embedder.embedQuery(question)
    })

  /** The default chat model of the knowledge base's tenant (RAGFlow asks the dataset owner's). */
  const defaultChatModel = (caller: Caller, kb: KnowledgeBase) =>
    Effect.gen(function* () {
      const tenant = yield* store.tenants.get(kb.tenant_id)
      const ref = Option.match(tenant, { onNone: () => "", onSome: (t) => t.llm_id })
      if (ref === "") {
        return yield* Effect.fail(new ModelError({ reason: "NotConfigured", model: "", message: "No default chat model is set." }))
      }
      return yield* models.chatModel(new Caller({ tenantId: kb.tenant_id, userId: caller.userId }), ref)
    })

  /** A helper call's cleaned answer, or `fallback` when the model gave none or failed. */
  const ask = (model: ChatModelService, messages: ReadonlyArray<ChatMessage>, read: (answer: string) => string, fallback: string) =>
    model.generate(messages, { temperature: 0.2 }).pipe(
      Effect.map((result) => read(result.text)),
      Effect.map((text) => (text === "" ? fallback : text)),
      Effect.catchTag("ModelError", (e) => Effect.as(Effect.logWarning("retrieval: the chat model failed; the question is kept", e.message), fallback))
    )

  /** The question as searched: translated (`cross_languages`), with keywords appended (`keyword`). */
  const searchedQuestion = (caller: Caller, kb: KnowledgeBase, request: RetrievalRequest) =>
    Effect.gen(function* () {
      const languages = request.cross_languages ?? []
      if (languages.length === 0 && request.keyword !== true) return request.question
      const model = yield* defaultChatModel(caller, kb)
      if (!model.generative) return request.question
      let question = request.question
      if (languages.length > 0) question = yield* ask(model, Prompt.crossLanguagesMessages(question, languages), Prompt.translations, question)
      if (request.keyword === true) {
        const keywords = yield* ask(model, Prompt.keywordMessages(question), Prompt.cleanHelperAnswer, "")
        if (keywords !== "") question = `${question}, ${keywords}`
      }
      return question
    })

  /**
   * The candidates with their whole chunks, read where a search gave a summary; in order, without
   * those deleted since.
   */
  const whole = <C extends { readonly chunk: ChunkSummary }>(items: ReadonlyArray<C>) =>
    Effect.map(
      index.getMany(items.flatMap((c) => (c.chunk instanceof Chunk ? [] : [{ kb_id: c.chunk.kb_id, id: c.chunk.id }]))),
      (read) => {
        const byId = new Map(read.map((chunk) => [chunk.id, chunk] as const))
        return items.flatMap((c) => {
          const chunk = c.chunk instanceof Chunk ? c.chunk : byId.get(c.chunk.id)
          return chunk === undefined ? [] : [{ ...c, chunk }]
        })
      }
    )

  const retrieve = Effect.fn("Retrieval.retrieve")(function* (caller: Caller, request: RetrievalRequest) {
    const { page, page_size: pageSize, similarity_threshold: threshold, top_k: topK } = request
    const w = request.vector_similarity_weight
    const kbs = yield* knowledgeBases(caller, request.kb_ids)
    const kbIds = kbs.map((kb) => kb.id)
    const question = yield* searchedQuestion(caller, kbs[0]!, request)

    // Disabled documents take no part; a document filter must name documents of these datasets.
    const disabled = new Set<string>()
    for (const kb of kbs) {
      const off = yield* store.documents.find({ where: { kb_id: kb.id, status: "0" } })
      for (const d of off.items) disabled.add(d.id)
    }
    const docIds =
      request.doc_ids === undefined || request.doc_ids.length === 0
        ? undefined
        : request.doc_ids.filter((id) => !disabled.has(id))
    if (docIds !== undefined && docIds.length === 0) return { chunks: [], doc_aggs: [], total: 0 }
    const filter: ChunkFilter = {
      ...(docIds === undefined ? {} : { docIds }),
      ...(request.metadata_condition === undefined
        ? {}
        : { metadata: request.metadata_condition.conditions, metadataLogic: request.metadata_condition.logic })
    }

    const tokens = queryTokens(question)
    const useOverlap = request.term_similarity === "overlap"
    // The candidates without their text (the overlap similarity reads their tokens): whole chunks
    // are read for the rerank head and the page only.
    const searchText = useOverlap ? index.searchText : index.searchTextSummaries
    const searchVector = useOverlap ? index.searchVector : index.searchVectorSummaries
    const [textHits, vector] = yield* Effect.all(
      [
        w < 1 && tokens.length > 0 ? searchText({ kbIds, tokens, filter, limit: topK }) : Effect.succeed([]),
        w > 0 || request.rerank_id !== undefined ? Effect.map(queryVector(caller, kbs, question), Option.some) : Effect.succeed(Option.none<ReadonlyArray<number>>())
      ],
      { concurrency: 2 }
    )
    const vectorHits = Option.isSome(vector) && w > 0 ? yield* searchVector({ kbIds, vector: vector.value, filter, limit: topK }) : []

    // Candidates from both sides, each with both similarities.
    const best = textHits.reduce((m, h) => Math.max(m, h.score), 0)
    const candidates = new Map<string, { chunk: ChunkSummary; bm25: number; cosine: number | undefined }>()
    for (const hit of textHits) candidates.set(hit.chunk.id, { chunk: hit.chunk, bm25: hit.score, cosine: undefined })
    for (const hit of vectorHits) {
      const known = candidates.get(hit.chunk.id)
      if (known === undefined) candidates.set(hit.chunk.id, { chunk: hit.chunk, bm25: 0, cosine: hit.score })
      else candidates.set(hit.chunk.id, { ...known, cosine: hit.score })
    }
    let scored = [...candidates.values()]
      .filter((c) => !disabled.has(c.chunk.doc_id))
      .map((c) => {
        const term = useOverlap ? (c.chunk instanceof Chunk ? overlap(tokens, c.chunk) : 0) : best > 0 ? c.bm25 / best : 0
        const cos =
          c.cosine ?? (Option.isSome(vector) && c.chunk.vector !== undefined && c.chunk.vector.length === vector.value.length
            ? cosineSimilarity(vector.value, c.chunk.vector)
            : 0)
        const vec = Math.max(0, Math.min(1, cos))
        return { chunk: c.chunk, term_similarity: term, vector_similarity: vec, similarity: (1 - w) * term + w * vec }
      })
      .sort((a, b) => b.similarity - a.similarity || (a.chunk.id < b.chunk.id ? -1 : 1))

    if (request.rerank_id !== undefined && request.rerank_id !== "" && scored.length > 0) {
      const owner = new Caller({ tenantId: kbs[0]!.tenant_id, userId: caller.userId })
      const reranker = yield* models.reranker(owner, request.rerank_id)
      const head = yield* whole(scored.slice(0, RerankLimit))
      const scores = yield* reranker.rerank(question, head.map((c) => c.chunk.content))
      const rerankWeight = w > 0 ? w : 0.3
      const reranked = head.map((c, i) => {
        const s = scores[i] ?? 0
        const vec = s >= 0 && s <= 1 ? s : 1 / (1 + Math.exp(-s))
        return { ...c, vector_similarity: vec, similarity: (1 - rerankWeight) * c.term_similarity + rerankWeight * vec }
      })
      scored = reranked.sort((a, b) => b.similarity - a.similarity || (a.chunk.id < b.chunk.id ? -1 : 1))
    }

    const kept = scored.filter((c) => c.similarity >= threshold)
    const aggs = new Map<string, DocAgg>()
    for (const c of kept) {
      const prior = aggs.get(c.chunk.doc_id)
      aggs.set(c.chunk.doc_id, { doc_id: c.chunk.doc_id, doc_name: c.chunk.docnm_kwd, count: (prior?.count ?? 0) + 1 })
    }
    const pageItems = yield* whole(kept.slice((page - 1) * pageSize, page * pageSize))
    return {
      chunks: pageItems.map((c) => (request.highlight ? { ...c, highlight: highlight(c.chunk.content, tokens) } : c)),
      doc_aggs: [...aggs.values()].sort((a, b) => b.count - a.count || a.doc_name.localeCompare(b.doc_name)),
      total: kept.length
    }
  })

  return Retrieval.of({ retrieve })
})

/** Requires RecordStore, ChunkIndex, Tokenizer and Models. */
export const layer = Layer.effect(Retrieval, make)
