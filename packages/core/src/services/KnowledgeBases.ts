/**
 * KnowledgeBases: create, update, read, list and delete knowledge bases (RAGFlow's datasets).
 *
 * Names are unique per tenant. A caller changes only its own tenant's knowledge bases and reads
 * those plus the team (`permission: team`) knowledge bases of tenants it is a member of. Deleting a
 * knowledge base deletes its documents, their chunks, blobs and pending tasks.
 */
import { Context, Effect, Layer, Option } from "effect"
import type { Caller } from "../domain/Caller.js"
import { isParserId, mergeParserConfig, ParserIds, type ParserId } from "../domain/ChunkMethods.js"
import {
  AlreadyExists,
  type BlobStoreError,
  type ChunkIndexError,
  Forbidden,
  InvalidInput,
  invalid,
  type NotFound,
  notFound,
  StoreError
} from "../domain/Errors.js"
import { randomHex32, type KnowledgeBaseId } from "../domain/Ids.js"
import { KnowledgeBase, type Permission } from "../domain/Records.js"
import { newStamps, touched } from "../domain/Time.js"
import { BlobStore } from "../ports/BlobStore.js"
import { ChunkIndex } from "../ports/ChunkIndex.js"
import { RecordStore } from "../ports/RecordStore.js"
import { TaskQueue } from "../ports/TaskQueue.js"
import { canRead, readableKnowledgeBase, teamTenants } from "./internal/access.js"
import * as validate from "./internal/validate.js"
import { Models } from "./Models.js"

export interface CreateKnowledgeBase {
  readonly name: string
  readonly description?: string
  readonly language?: string
  readonly avatar?: string
  /** `name@provider`; the tenant's default embedding model when absent. */
  readonly embedding_model?: string
  readonly permission?: Permission
  /** The chunk method; `naive` when absent. */
  readonly parser_id?: string
  readonly parser_config?: Record<string, unknown>
  readonly pipeline_id?: string | null
  readonly similarity_threshold?: number
  readonly vector_similarity_weight?: number
}

export type UpdateKnowledgeBase = Partial<CreateKnowledgeBase>

export interface ListKnowledgeBases extends validate.Paging {
  readonly keywords?: string
  readonly orderby?: "create_time" | "update_time" | "name"
  readonly desc?: boolean
  readonly parser_id?: string
  readonly id?: string
  readonly name?: string
  /** Only knowledge bases of these tenants (the seed's `owner_ids`). */
  readonly owner_ids?: ReadonlyArray<string>
}

export type KnowledgeBaseError = InvalidInput | NotFound | AlreadyExists | Forbidden | StoreError

export interface KnowledgeBasesService {
  readonly create: (caller: Caller, input: CreateKnowledgeBase) => Effect.Effect<KnowledgeBase, KnowledgeBaseError>
  readonly update: (
    caller: Caller,
    id: string,
    patch: UpdateKnowledgeBase
  ) => Effect.Effect<KnowledgeBase, KnowledgeBaseError>
  readonly get: (caller: Caller, id: string) => Effect.Effect<KnowledgeBase, InvalidInput | NotFound | StoreError>
  readonly list: (
    caller: Caller,
    query?: ListKnowledgeBases
  ) => Effect.Effect<{ readonly items: ReadonlyArray<KnowledgeBase>; readonly total: number }, InvalidInput | StoreError>
  /** Deletes the knowledge bases with everything in them; all ids must be the caller's, else nothing is deleted. */
  readonly remove: (
    caller: Caller,
    ids: ReadonlyArray<string>
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

  const parserId = (value: unknown): Effect.Effect<ParserId, InvalidInput> =>
    isParserId(value)
      ? Effect.succeed(value)
      : Effect.fail(invalid("parser_id", `Unsupported parser id ${JSON.stringify(value)}; use one of ${ParserIds.join(", ")}`))

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

  const create = Effect.fn("KnowledgeBases.create")(function* (caller: Caller, input: CreateKnowledgeBase) {
    const name = yield* validate.name("name", input.name, 128)
    const permission = yield* validate.oneOf("permission", input.permission ?? "me", ["me", "team"] as const)
    const parser = yield* parserId(input.parser_id ?? "naive")
    const given = input.parser_config === undefined ? undefined : yield* validate.object("parser_config", input.parser_config)
    const similarity = yield* validate.numberIn("similarity_threshold", input.similarity_threshold ?? 0.2, 0, 1)
    const weight = yield* validate.numberIn("vector_similarity_weight", input.vector_similarity_weight ?? 0.3, 0, 1)
    const tenant = yield* store.tenants.get(caller.tenantId)
    const requested = input.embedding_model ?? Option.getOrUndefined(Option.map(tenant, (t) => t.embd_id))
    if (requested === undefined || requested === "") {
      return yield* Effect.fail(invalid("embedding_model", "embedding_model is required: the tenant has no default embedding model"))
    }
    const embedding = yield* embeddingModel(caller, requested)
    const kb = new KnowledgeBase({
      id: randomHex32() as KnowledgeBaseId,
      tenant_id: caller.tenantId,
      name,
      description: input.description ?? "",
      language: input.language ?? "English",
      avatar: input.avatar ?? "",
      embedding_model: embedding,
      embedder: null,
      permission,
      parser_id: parser,
      parser_config: mergeParserConfig(parser, given),
      pipeline_id: input.pipeline_id ?? null,
      created_by: caller.userId,
      document_count: 0,
      chunk_count: 0,
      token_num: 0,
      size: 0,
      similarity_threshold: similarity,
      vector_similarity_weight: weight,
      status: "1",
      ...(yield* newStamps)
    })
    return yield* store.knowledgeBases.insert(kb).pipe(conflictAsExists(name))
  })

  const update = Effect.fn("KnowledgeBases.update")(function* (caller: Caller, rawId: string, patch: UpdateKnowledgeBase) {
    const id = yield* validate.id<KnowledgeBaseId>("kb_id", rawId)
    const current = yield* writable(caller, id)
    const name = patch.name === undefined ? current.name : yield* validate.name("name", patch.name, 128)
    const permission =
      patch.permission === undefined ? current.permission : yield* validate.oneOf("permission", patch.permission, ["me", "team"] as const)
    const parser = patch.parser_id === undefined ? (current.parser_id as ParserId) : yield* parserId(patch.parser_id)
    const given = patch.parser_config === undefined ? undefined : yield* validate.object("parser_config", patch.parser_config)
    const parserConfig =
      parser !== current.parser_id
        ? mergeParserConfig(parser, given)
        : given === undefined
          ? current.parser_config
          : { ...current.parser_config, ...given }
    let embedding = current.embedding_model
    if (patch.embedding_model !== undefined && patch.embedding_model !== current.embedding_model) {
      if (current.chunk_count > 0) {
        return yield* Effect.fail(
          invalid("embedding_model", "The embedding model can't be changed once the dataset has chunks; delete them first")
        )
      }
      embedding = yield* embeddingModel(caller, patch.embedding_model)
    }
    const similarity =
      patch.similarity_threshold === undefined
        ? current.similarity_threshold
        : yield* validate.numberIn("similarity_threshold", patch.similarity_threshold, 0, 1)
    const weight =
      patch.vector_similarity_weight === undefined
        ? current.vector_similarity_weight
        : yield* validate.numberIn("vector_similarity_weight", patch.vector_similarity_weight, 0, 1)
    const stamp = yield* touched
    const next = yield* store.knowledgeBases.modify(id, (latest) =>
      Effect.succeed(
        new KnowledgeBase({
          ...latest,
          name,
          description: patch.description ?? latest.description,
          language: patch.language ?? latest.language,
          avatar: patch.avatar ?? latest.avatar,
          embedding_model: embedding,
          embedder: embedding === latest.embedding_model ? latest.embedder : null,
          permission,
          parser_id: parser,
          parser_config: parserConfig,
          pipeline_id: patch.pipeline_id === undefined ? latest.pipeline_id : patch.pipeline_id,
          similarity_threshold: similarity,
          vector_similarity_weight: weight,
          ...stamp
        })
      )
    ).pipe(conflictAsExists(name))
    return yield* Option.match(next, { onNone: () => Effect.fail(notFound("KnowledgeBase", id)), onSome: Effect.succeed })
  })

  const get = Effect.fn("KnowledgeBases.get")(function* (caller: Caller, rawId: string) {
    const id = yield* validate.id<KnowledgeBaseId>("kb_id", rawId)
    return yield* readableKnowledgeBase(store, caller, id)
  })

  const list = Effect.fn("KnowledgeBases.list")(function* (caller: Caller, query: ListKnowledgeBases = {}) {
    const { offset, limit } = yield* validate.paging(query)
    const orderBy = yield* validate.oneOf("orderby", query.orderby ?? "create_time", ["create_time", "update_time", "name"] as const)
    const teams = yield* teamTenants(store, caller)
    const owners = query.owner_ids === undefined || query.owner_ids.length === 0 ? [caller.tenantId, ...teams] : query.owner_ids
    const where: Record<string, RecordStoreCondition> = { tenant_id: { in: [...owners] } }
    if (query.parser_id !== undefined && query.parser_id !== "") where.parser_id = query.parser_id
    if (query.id !== undefined && query.id !== "") where.id = query.id
    if (query.name !== undefined && query.name !== "") where.name = query.name
    const search = query.keywords === undefined || query.keywords === "" ? undefined : { fields: ["name"], text: query.keywords }
    const page = yield* store.knowledgeBases.find({
      where,
      orderBy,
      desc: query.desc ?? true,
      ...(search === undefined ? {} : { search })
    })
    const visible = page.items.filter((kb) => canRead(caller, kb, teams))
    return { items: visible.slice(offset, offset + limit), total: visible.length }
  })

  const remove = Effect.fn("KnowledgeBases.remove")(function* (caller: Caller, rawIds: ReadonlyArray<string>) {
    const ids = yield* validate.ids<KnowledgeBaseId>("ids", rawIds)
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

type RecordStoreCondition = import("../ports/RecordStore.js").Condition

/** Requires RecordStore, Models, ChunkIndex, BlobStore and TaskQueue. */
export const layer = Layer.effect(KnowledgeBases, make)
