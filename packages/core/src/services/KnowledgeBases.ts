/**
 * KnowledgeBases: create, update, read, list and delete knowledge bases (RAGFlow's datasets).
 *
 * Names are unique per tenant. A caller changes only its own tenant's knowledge bases and reads
 * those plus the team (`permission: team`) knowledge bases of tenants it is a member of. Deleting a
 * knowledge base deletes its documents, their chunks, blobs and pending tasks.
 */
import { Context, Effect, Layer, Option, Schema } from "effect"
import type { Caller } from "../domain/Caller.js"
import { checkParserConfig, ChunkMethodId, mergeParserConfig, validateParserConfig } from "../domain/ChunkMethods.js"
import {
  AlreadyExists,
  type BlobStoreError,
  type ChunkIndexError,
  Forbidden,
  type InvalidInput,
  invalid,
  type NotFound,
  notFound,
  StoreError
} from "../domain/Errors.js"
import * as Fields from "../domain/Fields.js"
import { KnowledgeBaseId, randomHex32, TenantId } from "../domain/Ids.js"
import { KnowledgeBase, Permission } from "../domain/Records.js"
import { newStamps, touched } from "../domain/Time.js"
import { BlobStore } from "../ports/BlobStore.js"
import { ChunkIndex } from "../ports/ChunkIndex.js"
import { type Condition, RecordStore } from "../ports/RecordStore.js"
import { TaskQueue } from "../ports/TaskQueue.js"
import { canRead, readableKnowledgeBase, teamTenants } from "./internal/access.js"
import { Models } from "./Models.js"

// ---------------------------------------------------------------------------------------------
// Requests and results

/** The fields a knowledge base is created with and updated by. */
const settings = {
  description: Schema.optional(Fields.Text(65_535)),
  language: Schema.optional(Fields.Name(32)),
  /** A data URL (a base64 image), as RAGFlow keeps avatars. */
  avatar: Schema.optional(Fields.Text(2_000_000)),
  /** `name@provider`; the tenant's default embedding model when absent on create. */
  embedding_model: Schema.optional(Fields.Name(255)),
  /**
   * Merged over the chunk method's defaults (create) or the current config (update); only the
   * method's settings, checked against it (`ChunkMethods.ParserConfig`).
   */
  parser_config: Schema.optional(Fields.JsonObject),
  pipeline_id: Schema.optional(Schema.NullOr(Fields.Text(64)))
}

export const CreateRequest = Schema.Struct({
  /** Unique in the tenant. */
  name: Fields.Name(128),
  ...settings,
  permission: Schema.optionalWith(Permission, { default: () => "me" as const }),
  parser_id: Schema.optionalWith(ChunkMethodId, { default: () => "naive" as const }),
  similarity_threshold: Schema.optionalWith(Fields.UnitInterval, { default: () => 0.2 }),
  vector_similarity_weight: Schema.optionalWith(Fields.UnitInterval, { default: () => 0.3 })
}).pipe(checkParserConfig)
export type CreateRequest = typeof CreateRequest.Type

/** Absent fields keep their value; `parser_config` without `parser_id` is checked against the stored method. */
export const UpdateRequest = Schema.Struct({
  kb_id: KnowledgeBaseId,
  name: Schema.optional(Fields.Name(128)),
  ...settings,
  permission: Schema.optional(Permission),
  parser_id: Schema.optional(ChunkMethodId),
  similarity_threshold: Schema.optional(Fields.UnitInterval),
  vector_similarity_weight: Schema.optional(Fields.UnitInterval)
}).pipe(checkParserConfig)
export type UpdateRequest = typeof UpdateRequest.Type

export const GetRequest = Schema.Struct({ kb_id: KnowledgeBaseId })
export type GetRequest = typeof GetRequest.Type

export const ListRequest = Schema.Struct({
  ...Fields.paging(),
  ...Fields.ordering("create_time", "update_time", "name"),
  /** Case-insensitive substring of the name. */
  keywords: Schema.optional(Fields.Text(255)),
  parser_id: Schema.optional(ChunkMethodId),
  id: Schema.optional(KnowledgeBaseId),
  /** Only these knowledge bases (any when absent or empty); ids the caller can't read match nothing. */
  ids: Schema.optional(Fields.IdList(KnowledgeBaseId)),
  /** Exact name. */
  name: Schema.optional(Fields.Text(128)),
  /** Only knowledge bases of these tenants (the caller's and its teams' when absent or empty). */
  owner_ids: Schema.optional(Fields.IdList(TenantId))
})
export type ListRequest = typeof ListRequest.Type

export const ListResult = Fields.Page(KnowledgeBase)
export type ListResult = typeof ListResult.Type

/** `delete_all` with no `kb_ids` deletes every knowledge base of the caller's tenant; no ids without it delete none. */
export const RemoveRequest = Schema.Struct({ kb_ids: Fields.IdList(KnowledgeBaseId), delete_all: Schema.optional(Schema.Boolean) })
export type RemoveRequest = typeof RemoveRequest.Type

/** How many knowledge bases were deleted. */
export const RemoveResult = Fields.Count

/** Each method's request and result, for the surfaces that decode what callers send. */
export const Operations = {
  create: Fields.operation(CreateRequest, KnowledgeBase),
  update: Fields.operation(UpdateRequest, KnowledgeBase),
  get: Fields.operation(GetRequest, KnowledgeBase),
  list: Fields.operation(ListRequest, ListResult),
  remove: Fields.operation(RemoveRequest, RemoveResult)
}

// ---------------------------------------------------------------------------------------------
// The service

export type KnowledgeBaseError = InvalidInput | NotFound | AlreadyExists | Forbidden | StoreError

export interface KnowledgeBasesService {
  readonly create: (caller: Caller, request: CreateRequest) => Effect.Effect<KnowledgeBase, KnowledgeBaseError>
  readonly update: (caller: Caller, request: UpdateRequest) => Effect.Effect<KnowledgeBase, KnowledgeBaseError>
  readonly get: (caller: Caller, request: GetRequest) => Effect.Effect<KnowledgeBase, NotFound | StoreError>
  readonly list: (caller: Caller, request: ListRequest) => Effect.Effect<ListResult, StoreError>
  /** Deletes the knowledge bases with everything in them; all ids must be the caller's, else nothing is deleted. */
  readonly remove: (
    caller: Caller,
    request: RemoveRequest
  ) => Effect.Effect<number, KnowledgeBaseError | ChunkIndexError | BlobStoreError>
}

export class KnowledgeBases extends Context.Tag("@ragkit/core/KnowledgeBases")<KnowledgeBases, KnowledgeBasesService>() {}

const conflictAsExists =
  (name: string) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | AlreadyExists, R> =>
    Effect.catchIf(
      self,
      (e) => e instanceof StoreError && e.reason === "Conflict",
      () =>
        Effect.fail(
          new AlreadyExists({
            entity: "KnowledgeBase",
            field: "name",
            value: name,
            message: `Dataset name '${name}' already exists`
          })
        )
    )

export const make = Effect.gen(function* () {
  const store = yield* RecordStore
  const models = yield* Models
  const index = yield* ChunkIndex
  const blobs = yield* BlobStore
  const queue = yield* TaskQueue

  /** The embedding model must resolve for this caller (a plugin serves it). */
  const embeddingModel = (caller: Caller, ref: string) =>
    models.embedder(caller, ref).pipe(
      Effect.as(ref),
      Effect.catchTag("ModelError", (e) => Effect.fail(invalid("embedding_model", e.message)))
    )

  /** A knowledge base the caller may change: its own tenant's. Readable ones of others are Forbidden. */
  const writable = (caller: Caller, id: KnowledgeBaseId) =>
    Effect.flatMap(readableKnowledgeBase(store, caller, id), (kb) =>
      kb.tenant_id === caller.tenantId
        ? Effect.succeed(kb)
        : Effect.fail(new Forbidden({ message: `Only the owner of dataset ${id} can change it` }))
    )

  const create = Effect.fn("KnowledgeBases.create")(function* (caller: Caller, request: CreateRequest) {
    const tenant = yield* store.tenants.get(caller.tenantId)
    const requested = request.embedding_model ?? Option.getOrUndefined(Option.map(tenant, (t) => t.embd_id))
    if (requested === undefined || requested === "") {
      return yield* Effect.fail(invalid("embedding_model", "embedding_model is required: the tenant has no default embedding model"))
    }
    const embedding = yield* embeddingModel(caller, requested)
    const kb = new KnowledgeBase({
      id: randomHex32() as KnowledgeBaseId,
      tenant_id: caller.tenantId,
      name: request.name,
      description: request.description ?? "",
      language: request.language ?? "English",
      avatar: request.avatar ?? "",
      embedding_model: embedding,
      embedder: null,
      permission: request.permission,
      parser_id: request.parser_id,
      parser_config: mergeParserConfig(request.parser_id, request.parser_config),
      pipeline_id: request.pipeline_id ?? null,
      created_by: caller.userId,
      document_count: 0,
      chunk_count: 0,
      token_num: 0,
      size: 0,
      similarity_threshold: request.similarity_threshold,
      vector_similarity_weight: request.vector_similarity_weight,
      status: "1",
      ...(yield* newStamps)
    })
    return yield* store.knowledgeBases.insert(kb).pipe(conflictAsExists(request.name))
  })

  const update = Effect.fn("KnowledgeBases.update")(function* (caller: Caller, request: UpdateRequest) {
    const id = request.kb_id
    const current = yield* writable(caller, id)
    if (request.parser_id === undefined && request.parser_config !== undefined) {
      yield* validateParserConfig(current.parser_id, request.parser_config)
    }
    const parser = request.parser_id ?? current.parser_id
    const parserConfig =
      parser !== current.parser_id
        ? mergeParserConfig(parser, request.parser_config)
        : request.parser_config === undefined
          ? current.parser_config
          : { ...current.parser_config, ...request.parser_config }
    let embedding = current.embedding_model
    if (request.embedding_model !== undefined && request.embedding_model !== current.embedding_model) {
      if (current.chunk_count > 0) {
        return yield* Effect.fail(
          invalid("embedding_model", "If `chunk_count` is not 0, `embedding_model` is not changeable.")
        )
      }
      embedding = yield* embeddingModel(caller, request.embedding_model)
    }
    const name = request.name ?? current.name
    const stamp = yield* touched
    const next = yield* store.knowledgeBases.modify(id, (latest) =>
      Effect.succeed(
        new KnowledgeBase({
          ...latest,
          name,
          description: request.description ?? latest.description,
          language: request.language ?? latest.language,
          avatar: request.avatar ?? latest.avatar,
          embedding_model: embedding,
          embedder: embedding === latest.embedding_model ? latest.embedder : null,
          permission: request.permission ?? latest.permission,
          parser_id: parser,
          parser_config: parserConfig,
          pipeline_id: request.pipeline_id === undefined ? latest.pipeline_id : request.pipeline_id,
          similarity_threshold: request.similarity_threshold ?? latest.similarity_threshold,
          vector_similarity_weight: request.vector_similarity_weight ?? latest.vector_similarity_weight,
          ...stamp
        })
      )
    ).pipe(conflictAsExists(name))
    return yield* Option.match(next, { onNone: () => Effect.fail(notFound("KnowledgeBase", id)), onSome: Effect.succeed })
  })

  const get = Effect.fn("KnowledgeBases.get")(function* (caller: Caller, request: GetRequest) {
    return yield* readableKnowledgeBase(store, caller, request.kb_id)
  })

  const list = Effect.fn("KnowledgeBases.list")(function* (caller: Caller, request: ListRequest) {
    const offset = (request.page - 1) * request.page_size
    const teams = yield* teamTenants(store, caller)
    const owners = request.owner_ids === undefined || request.owner_ids.length === 0 ? [caller.tenantId, ...teams] : request.owner_ids
    const where: Record<string, Condition> = { tenant_id: { in: [...owners] } }
    if (request.parser_id !== undefined) where.parser_id = request.parser_id
    if (request.id !== undefined) where.id = request.id
    else if (request.ids !== undefined && request.ids.length > 0) where.id = { in: [...request.ids] }
    if (request.name !== undefined && request.name !== "") where.name = request.name
    const keywords = request.keywords?.trim() ?? ""
    const page = yield* store.knowledgeBases.find({
      where,
      orderBy: request.orderby,
      desc: request.desc,
      ...(keywords === "" ? {} : { search: { fields: ["name"], text: keywords } })
    })
    // Another tenant's knowledge bases are seen only when shared with the team.
    const visible = page.items.filter((kb) => canRead(caller, kb, teams))
    return { items: visible.slice(offset, offset + request.page_size), total: visible.length }
  })

  const remove = Effect.fn("KnowledgeBases.remove")(function* (caller: Caller, request: RemoveRequest) {
    const ids = request.kb_ids.length === 0 && request.delete_all === true
      ? (yield* store.knowledgeBases.find({ where: { tenant_id: caller.tenantId } })).items.map((kb) => kb.id)
      : request.kb_ids
    const kbs = yield* Effect.forEach(ids, (id) => writable(caller, id))
    const docs = yield* Effect.forEach(kbs, (kb) =>
      Effect.map(store.documents.find({ where: { kb_id: kb.id } }), (page) => page.items)
    )
    // Records first, in one transaction: a failure here leaves everything as it was.
    yield* store.transaction(
      Effect.forEach(kbs, (kb) =>
        Effect.zipRight(store.documents.removeWhere({ kb_id: kb.id }), store.knowledgeBases.remove([kb.id]))
      )
    )
    // Then what hangs off them; the records no longer point at any of it.
    yield* Effect.forEach(docs.flat(), (doc) => queue.cancelKey(doc.id), { discard: true })
    yield* Effect.forEach(kbs, (kb) => Effect.zipRight(index.deleteKnowledgeBase(kb.id), blobs.deletePrefix(`${kb.id}/`)), {
      discard: true
    })
    return kbs.length
  })

  return KnowledgeBases.of({ create, update, get, list, remove })
})

/** Requires RecordStore, Models, ChunkIndex, BlobStore and TaskQueue. */
export const layer = Layer.effect(KnowledgeBases, make)
