/**
 * Chunks: the indexed pieces of a document, read and edited by hand (RAGFlow's chunk routes).
 *
 * An added or edited chunk is tokenised as parsed chunks are (`DocumentPreparer.tokenizeContent`)
 * and embedded with the knowledge base's embedding model (title and content, as `Ingestion` does),
 * so it is searchable at once. Adds and deletes move the document's `chunk_num` / `token_num` and
 * its knowledge base's counters through `internal/DocumentRuns` (their one writer).
 *
 * Every method checks that the caller may see the document's knowledge base (as `Documents` does):
 * another tenant's ids are reported as not found.
 */
import { Context, Effect, Layer, Option, Schema } from "effect"
import type { Caller } from "../domain/Caller.js"
import { Chunk } from "../domain/Chunk.js"
import {
  type BlobStoreError,
  type ChunkIndexError,
  type InvalidInput,
  type ModelError,
  notFound,
  type NotFound,
  type StoreError
} from "../domain/Errors.js"
import * as Fields from "../domain/Fields.js"
import { ChunkId, DocumentId, KnowledgeBaseId, randomHex32 } from "../domain/Ids.js"
import { Document, type KnowledgeBase } from "../domain/Records.js"
import { ChunkIndex, type ChunkPatch } from "../ports/ChunkIndex.js"
import { tokenizeContent } from "../ports/DocumentPreparer.js"
import { RecordStore } from "../ports/RecordStore.js"
import { Tokenizer } from "../text/Tokenizer.js"
import { readableKnowledgeBase } from "./internal/access.js"
import * as DocumentRuns from "./internal/DocumentRuns.js"
import { DefaultTitleWeight, knowledgeBaseEmbedder, mix, stemOf } from "./Ingestion.js"
import { Models } from "./Models.js"

// ---------------------------------------------------------------------------------------------
// Requests and results

/** A chunk's text: trimmed, not empty (RAGFlow: "`content` is required"). */
export const Content = Fields.Name(1_000_000)

/** Keywords or questions of a chunk: strings, blank ones dropped. */
const Texts = Schema.transform(Fields.List(Fields.Text(65_535)), Schema.Array(Schema.String), {
  strict: true,
  decode: (items) => items.map((s) => s.trim()).filter((s) => s !== ""),
  encode: (items) => items
})

/** The document a chunk belongs to; `kb_id`, when given, must be the document's knowledge base. */
const Where = {
  kb_id: Schema.optional(KnowledgeBaseId),
  doc_id: DocumentId
}

export const ListRequest = Schema.Struct({
  ...Where,
  ...Fields.paging(),
  /** Case-insensitive substring of the content; empty means any. */
  keywords: Schema.optional(Fields.Text(255)),
  /** Only available (`true`) or unavailable (`false`) chunks; all when absent. */
  available: Schema.optional(Fields.Boolean),
  /** Only this chunk (RAGFlow's `id`): a page of it, or an empty one when the document has no such chunk. */
  id: Schema.optional(ChunkId)
})
export type ListRequest = typeof ListRequest.Type

/** A page of the document's chunks in document order, with the document. */
export const ListResult = Schema.Struct({ items: Schema.Array(Chunk), total: Schema.Number, doc: Document })
export type ListResult = typeof ListResult.Type

export const GetRequest = Schema.Struct({ ...Where, chunk_id: ChunkId })
export type GetRequest = typeof GetRequest.Type

export const AddRequest = Schema.Struct({
  ...Where,
  content: Content,
  important_keywords: Schema.optional(Texts),
  questions: Schema.optional(Texts)
})
export type AddRequest = typeof AddRequest.Type

/** Absent fields are kept. */
export const UpdateRequest = Schema.Struct({
  ...Where,
  chunk_id: ChunkId,
  content: Schema.optional(Content),
  important_keywords: Schema.optional(Texts),
  questions: Schema.optional(Texts),
  available: Schema.optional(Fields.Boolean)
})
export type UpdateRequest = typeof UpdateRequest.Type

/** Deletes `chunk_ids`, or every chunk of the document with `delete_all`; neither deletes nothing. */
export const RemoveRequest = Schema.Struct({
  ...Where,
  chunk_ids: Schema.optionalWith(Fields.IdList(ChunkId), { default: () => [] }),
  delete_all: Schema.optionalWith(Fields.Boolean, { default: () => false })
})
export type RemoveRequest = typeof RemoveRequest.Type

/** How many chunks were deleted. */
export const RemoveResult = Fields.Count

/** Each method's request and result, for the surfaces that decode what callers send. */
export const Operations = {
  list: Fields.operation(ListRequest, ListResult),
  get: Fields.operation(GetRequest, Chunk),
  add: Fields.operation(AddRequest, Chunk),
  update: Fields.operation(UpdateRequest, Chunk),
  remove: Fields.operation(RemoveRequest, RemoveResult)
}

// ---------------------------------------------------------------------------------------------
// The service

type ReadError = NotFound | StoreError | ChunkIndexError
type WriteError = ReadError | InvalidInput | ModelError | BlobStoreError

export interface ChunksService {
  /** The document's chunks in document order, `keywords` matching the content. */
  readonly list: (caller: Caller, request: ListRequest) => Effect.Effect<ListResult, ReadError>
  readonly get: (caller: Caller, request: GetRequest) => Effect.Effect<Chunk, ReadError>
  /** A chunk written by hand, at the end of the document: searchable at once, counted. */
  readonly add: (caller: Caller, request: AddRequest) => Effect.Effect<Chunk, WriteError>
  /** Changes the given fields; new content is tokenised and embedded again. */
  readonly update: (caller: Caller, request: UpdateRequest) => Effect.Effect<Chunk, WriteError>
  /**
   * Deletes the chunks (every id must be one of the document's, else nothing is deleted), or all
   * of the document's with `delete_all`.
   */
  readonly remove: (caller: Caller, request: RemoveRequest) => Effect.Effect<number, WriteError>
}

export class Chunks extends Context.Tag("@ragkit/core/Chunks")<Chunks, ChunksService>() {}

/** Requires RecordStore, ChunkIndex, Tokenizer, Models, TaskQueue and BlobStore. */
export const make = Effect.gen(function* () {
  const store = yield* RecordStore
  const index = yield* ChunkIndex
  const tokenizer = yield* Tokenizer
  const models = yield* Models
  const runs = yield* DocumentRuns.make

  /** The document, when the caller may see its knowledge base (and it is the one named). */
  const visible = (caller: Caller, request: { readonly kb_id?: KnowledgeBaseId | undefined; readonly doc_id: DocumentId }) =>
    Effect.gen(function* () {
      const doc = yield* store.documents.get(request.doc_id)
      if (Option.isNone(doc) || (request.kb_id !== undefined && doc.value.kb_id !== request.kb_id)) {
        return yield* Effect.fail(notFound("Document", request.doc_id))
      }
      const kb = yield* readableKnowledgeBase(store, caller, doc.value.kb_id).pipe(
        Effect.catchTag("NotFound", () => Effect.fail(notFound("Document", request.doc_id)))
      )
      return { doc: doc.value, kb }
    })

  /** The document's chunk. */
  const chunkOf = (doc: Document, id: ChunkId) =>
    Effect.flatMap(index.get(doc.kb_id, id), (chunk) =>
      Option.isSome(chunk) && chunk.value.doc_id === doc.id ? Effect.succeed(chunk.value) : Effect.fail(notFound("Chunk", id))
    )

  /** Search tokens, token count and vector of `content`, with the knowledge base's embedder. */
  const indexed = (caller: Caller, kb: KnowledgeBase, doc: Document, content: string) =>
    Effect.gen(function* () {
      const embedder = yield* knowledgeBaseEmbedder(models, kb, caller)
      const [title, text] = yield* embedder.embedDocuments([stemOf(doc.name), content])
      return {
        ...tokenizeContent(tokenizer, content),
        vector: title === undefined ? [...text!] : mix(title, text!, DefaultTitleWeight),
        embedder: { model: embedder.modelId, dimensions: embedder.dimensions }
      }
    })

  const list = Effect.fn("Chunks.list")(function* (caller: Caller, request: ListRequest) {
    const { doc } = yield* visible(caller, request)
    if (request.id !== undefined) {
      const one = yield* index.get(doc.kb_id, request.id)
      const items = Option.isSome(one) && one.value.doc_id === doc.id && (request.available ?? one.value.available) === one.value.available
        ? [one.value]
        : []
      return { items: request.page === 1 ? items : [], total: items.length, doc }
    }
    const keywords = request.keywords?.trim() ?? ""
    const page = yield* index.list({
      kbId: doc.kb_id,
      docId: doc.id,
      offset: (request.page - 1) * request.page_size,
      limit: request.page_size,
      ...(keywords === "" ? {} : { keywords }),
      ...(request.available === undefined ? {} : { available: request.available })
    })
    return { items: page.chunks, total: page.total, doc }
  })

  const get = Effect.fn("Chunks.get")(function* (caller: Caller, request: GetRequest) {
    const { doc } = yield* visible(caller, request)
    return yield* chunkOf(doc, request.chunk_id)
  })

  const add = Effect.fn("Chunks.add")(function* (caller: Caller, request: AddRequest) {
    const { doc, kb } = yield* visible(caller, request)
    const { embedder, ...fields } = yield* indexed(caller, kb, doc, request.content)
    const chunk = new Chunk({
      id: randomHex32() as ChunkId,
      tenant_id: kb.tenant_id,
      kb_id: kb.id,
      doc_id: doc.id,
      docnm_kwd: doc.name,
      content: request.content,
      ...fields,
      title_tks: tokenizer.tokenize(stemOf(doc.name)),
      important_keywords: request.important_keywords ?? [],
      questions: request.questions ?? [],
      available: true,
      page_num: [],
      positions: [],
      index: yield* index.countByDocument(kb.id, doc.id),
      metadata: doc.meta_fields,
      create_time: Date.now()
    })
    yield* index.upsert([chunk])
    yield* runs.adjust(doc, 1, chunk.token_num, embedder).pipe(Effect.onError(() => Effect.ignore(index.deleteChunks(kb.id, [chunk.id]))))
    return chunk
  })

  const update = Effect.fn("Chunks.update")(function* (caller: Caller, request: UpdateRequest) {
    const { doc, kb } = yield* visible(caller, request)
    const before = yield* chunkOf(doc, request.chunk_id)
    let patch: ChunkPatch = {
      ...(request.important_keywords === undefined ? {} : { important_keywords: request.important_keywords }),
      ...(request.questions === undefined ? {} : { questions: request.questions }),
      ...(request.available === undefined ? {} : { available: request.available })
    }
    const contentChanged = request.content !== undefined && request.content !== before.content
    if (contentChanged) {
      const { embedder: _, ...fields } = yield* indexed(caller, kb, doc, request.content!)
      patch = { ...patch, content: request.content!, ...fields }
    }
    if (!(yield* index.update(kb.id, before.id, patch))) return yield* Effect.fail(notFound("Chunk", before.id))
    if (patch.token_num !== undefined && patch.token_num !== before.token_num) {
      yield* runs.adjust(doc, 0, patch.token_num - before.token_num)
    }
    return yield* chunkOf(doc, before.id)
  })

  const remove = Effect.fn("Chunks.remove")(function* (caller: Caller, request: RemoveRequest) {
    const { doc, kb } = yield* visible(caller, request)
    if (request.delete_all) {
      const removed = yield* index.deleteByDocument(kb.id, doc.id)
      yield* runs.adjust(doc, -doc.chunk_num, -doc.token_num)
      return removed
    }
    const chunks = yield* Effect.forEach(request.chunk_ids, (id) => chunkOf(doc, id))
    if (chunks.length === 0) return 0
    yield* index.deleteChunks(kb.id, chunks.map((c) => c.id))
    yield* runs.adjust(doc, -chunks.length, -chunks.reduce((sum, c) => sum + c.token_num, 0))
    return chunks.length
  })

  return Chunks.of({ list, get, add, update, remove })
})

export const layer = Layer.effect(Chunks, make)
