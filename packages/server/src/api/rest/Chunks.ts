/**
 * Chunks (REST): a document's chunks, as RAGFlow's `chunk_api.py` serves them, over core's `Chunks`.
 *
 * - `GET /api/v1/datasets/{dataset_id}/documents/{document_id}/chunks` (`keywords`, `page`,
 *   `page_size`, `id`, `available`) answers `{ chunks, doc, total }`: the chunks in document order,
 *   `doc` in RAGFlow's document shape (`chunk_count`, `dataset_id`, `chunk_method`, `run` by name).
 * - `POST` the same path (`content`, `important_keywords`, `questions`) adds a chunk, searchable at
 *   once: `{ chunk }`.
 * - `PATCH` (and the older `PUT`) `.../chunks/{chunk_id}` changes `content`, `important_keywords`,
 *   `questions`, `available`: `{ code: 0 }`.
 * - `DELETE` `.../chunks` with `{ chunk_ids }` deletes those (all must be the document's), or with
 *   `{ delete_all: true }` all of them: `{ code: 0 }`.
 *
 * RAGFlow's own checks keep its codes and messages (102: `You don't own the dataset X.`, `you don't
 * own the document X`, "`content` is required", `Can't find this chunk X`, ...); other bad fields are
 * core's 101 naming the field. Another tenant's dataset, document or chunk is answered as an unknown
 * one. `page` that is not a positive number is 1, `page_size` 30 (at most 100), as RAGFlow's
 * `validate_rest_api_page*`.
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint } from "@effect/platform"
import { type Caller, type Chunk, Chunks, Document, KnowledgeBaseId, KnowledgeBases, type NotFound } from "@ragkit/core"
import { Effect, Schema } from "effect"
import * as Group from "../Group.js"
import * as Rest from "./Rest.js"
import { Authentication } from "./RestAuth.js"

// ---------------------------------------------------------------------------------------------
// Views

/** The chunk as RAGFlow's chunk routes show it. */
export const ChunkView = Schema.Struct({
  id: Schema.String,
  content: Schema.String,
  document_id: Schema.String,
  docnm_kwd: Schema.String,
  dataset_id: Schema.String,
  important_keywords: Schema.Array(Schema.String),
  questions: Schema.Array(Schema.String),
  tag_kwd: Schema.Array(Schema.String),
  image_id: Schema.String,
  doc_type_kwd: Schema.String,
  available: Schema.Boolean,
  positions: Schema.Array(Schema.Array(Schema.Number)),
  /** `YYYY-MM-DD HH:MM:SS` (UTC). */
  create_time: Schema.String,
  /** Seconds since the epoch. */
  create_timestamp: Schema.Number
}).annotations({ identifier: "RagflowChunk" })
export type ChunkView = typeof ChunkView.Type

/** The time as RAGFlow writes a chunk's `create_time`. */
const dateTime = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 19)

export const chunkView = (c: Chunk): ChunkView => ({
  id: c.id,
  content: c.content,
  document_id: c.doc_id,
  docnm_kwd: c.docnm_kwd,
  dataset_id: c.kb_id,
  important_keywords: c.important_keywords,
  questions: c.questions,
  tag_kwd: [],
  image_id: c.img_id ?? "",
  doc_type_kwd: c.img_id === undefined || c.img_id === "" ? "text" : "image",
  available: c.available,
  positions: c.positions,
  create_time: dateTime(c.create_time),
  create_timestamp: c.create_time / 1000
})

const { chunk_num: _chunks, kb_id: _kb, parser_id: _parser, run_generation: _generation, tenant_id: _tenant, token_num: _tokens, ...documentFields } =
  Document.fields

/**
 * A document as RAGFlow's REST API shows it (`_map_doc`): `chunk_count`, `dataset_id`,
 * `token_count`, `chunk_method`, `run` by name; also used by `Documents.ts`.
 */
export const DocumentView = Schema.Struct({
  ...documentFields,
  dataset_id: Schema.String,
  chunk_method: Schema.String,
  chunk_count: Schema.Number,
  token_count: Schema.Number
}).annotations({ identifier: "RagflowChunkDocument" })

export const documentView = (doc: Document): typeof DocumentView.Type => {
  const { chunk_num, kb_id, parser_id, run_generation: _, tenant_id: __, token_num, ...rest } = doc
  return { ...rest, dataset_id: kb_id, chunk_method: parser_id, chunk_count: chunk_num, token_count: token_num }
}

// ---------------------------------------------------------------------------------------------
// Checks shared with the retrieval route

/** RAGFlow's answer for a dataset the caller may not read (or that does not exist). */
export const datasetNotOwned = (id: string) => Rest.data(`You don't own the dataset ${id}.`)

const isDatasetId = Schema.is(KnowledgeBaseId)

/** The dataset, when the caller may read it; else RAGFlow's 102. */
export const readableDataset = (kbs: KnowledgeBases.KnowledgeBasesService, caller: Caller, id: string) =>
  isDatasetId(id)
    ? kbs.get(caller, { kb_id: id }).pipe(Effect.catchTag("NotFound", () => datasetNotOwned(id)))
    : datasetNotOwned(id)

/** A value the client sent, `null` read as absent (ragflow-sdk sends `null` for unset options). */
export const present = (value: unknown): unknown => (value === null ? undefined : value)

/** RAGFlow's `validate_rest_api_page`: a page that is not a positive integer is 1. */
export const pageOf = (value: unknown): number => {
  const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN
  return Number.isFinite(n) && Math.trunc(n) >= 1 ? Math.trunc(n) : 1
}

/** RAGFlow's `validate_rest_api_page_size`: 30 unless a positive integer, at most 100. */
export const pageSizeOf = (value: unknown): Effect.Effect<number, Rest.RestFailure> => {
  const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN
  if (!Number.isFinite(n) || Math.trunc(n) < 1) return Effect.succeed(30)
  if (Math.trunc(n) > 100) return Rest.argument("page_size must be less than or equal to 100")
  return Effect.succeed(Math.trunc(n))
}

/** `field` when sent must be a list of strings, with RAGFlow's messages. */
const stringList = (payload: Record<string, unknown>, field: string, notList: string) => {
  const value = payload[field]
  if (value === undefined) return Effect.void
  if (!Array.isArray(value)) return Rest.data(notList)
  if (!value.every((v) => typeof v === "string")) return Rest.data(`\`${field}\` must be a list of strings`)
  return Effect.void
}

const isBlank = (value: unknown) => value === undefined || value === null || String(value).trim() === ""

// ---------------------------------------------------------------------------------------------
// Routes

const DocumentPath = Schema.Struct({ dataset_id: Schema.String, document_id: Schema.String })
const ChunkPath = Schema.Struct({ ...DocumentPath.fields, chunk_id: Schema.String })
const ChunksPath = "/api/v1/datasets/:dataset_id/documents/:document_id/chunks"

/** RAGFlow's `get_result()` without data: `{ code: 0 }`. */
export const Done = Schema.Struct({ code: Schema.Literal(0), data: Schema.optional(Schema.Unknown) })
export const done = { code: 0 as const }

const UpdatePayload = Schema.Struct(Group.loose("content", "important_keywords", "questions", "available"))

export const group = Rest.group("restChunks")
  .add(
    HttpApiEndpoint.get("list", ChunksPath)
      .setPath(DocumentPath)
      .setUrlParams(
        Schema.Struct({
          keywords: Schema.optional(Schema.String),
          page: Schema.optional(Schema.String),
          page_size: Schema.optional(Schema.String),
          id: Schema.optional(Schema.String),
          available: Schema.optional(Schema.String)
        })
      )
      .addSuccess(Rest.Reply(Rest.Ok(Schema.Struct({ chunks: Schema.Array(ChunkView), doc: DocumentView, total: Schema.Number }))))
  )
  .add(
    HttpApiEndpoint.post("add", ChunksPath)
      .setPath(DocumentPath)
      .setPayload(Schema.Struct(Group.loose("content", "important_keywords", "questions")))
      .addSuccess(Rest.Reply(Rest.Ok(Schema.Struct({ chunk: ChunkView }))))
  )
  .add(HttpApiEndpoint.patch("update", `${ChunksPath}/:chunk_id`).setPath(ChunkPath).setPayload(UpdatePayload).addSuccess(Rest.Reply(Done)))
  .add(HttpApiEndpoint.put("replace", `${ChunksPath}/:chunk_id`).setPath(ChunkPath).setPayload(UpdatePayload).addSuccess(Rest.Reply(Done)))
  .add(
    HttpApiEndpoint.del("remove", ChunksPath)
      .setPath(DocumentPath)
      .setPayload(Schema.Struct(Group.loose("chunk_ids", "delete_all")))
      .addSuccess(Rest.Reply(Done))
  )
  .middleware(Authentication)

const Api = HttpApi.make("ragkit").add(group)

export const live = HttpApiBuilder.group(Api, "restChunks", (handlers) =>
  Effect.gen(function* () {
    const chunks = yield* Chunks.Chunks
    const kbs = yield* KnowledgeBases.KnowledgeBases

    /** The dataset's document (RAGFlow's two checks, in its order); answers the core request's `kb_id` and `doc_id`. */
    const where = (caller: Caller, path: typeof DocumentPath.Type) =>
      Effect.gen(function* () {
        yield* readableDataset(kbs, caller, path.dataset_id)
        const notOwned = Rest.data(`you don't own the document ${path.document_id}`)
        if (!Schema.is(Chunks.GetRequest.fields.doc_id)(path.document_id)) return yield* notOwned
        return { kb_id: path.dataset_id, doc_id: path.document_id }
      })

    /** Core's `NotFound` of the document as RAGFlow's message; of a chunk, as `chunk` says. */
    const notFound =
      (path: typeof DocumentPath.Type, chunk: (e: NotFound) => Effect.Effect<never, NotFound | Rest.RestFailure>) =>
      (e: NotFound): Effect.Effect<never, NotFound | Rest.RestFailure> =>
        e.entity === "Document" ? Rest.data(`you don't own the document ${path.document_id}`) : e.entity === "Chunk" ? chunk(e) : Effect.fail(e)

    const update = ({ path, payload }: { path: typeof ChunkPath.Type; payload: typeof UpdatePayload.Type }) =>
      Rest.respond(Effect.gen(function* () {
        const caller = yield* Rest.caller
        const target = yield* where(caller, path)
        const cantFind = Rest.data(`Can't find this chunk ${path.chunk_id}`)
        if (!Schema.is(Chunks.GetRequest.fields.chunk_id)(path.chunk_id)) return yield* cantFind
        const content = present(payload.content)
        if (content !== undefined && isBlank(content)) return yield* Rest.data("`content` is required")
        for (const field of ["important_keywords", "questions"] as const) {
          if (payload[field] !== undefined && !Array.isArray(payload[field])) return yield* Rest.data(`\`${field}\` should be a list`)
        }
        const request = yield* Rest.decode(Chunks.UpdateRequest, {
          ...target,
          chunk_id: path.chunk_id,
          content,
          important_keywords: payload.important_keywords,
          questions: payload.questions,
          available: payload.available === 0 || payload.available === 1 ? payload.available === 1 : present(payload.available)
        })
        yield* chunks.update(caller, request).pipe(Effect.catchTag("NotFound", notFound(path, () => cantFind)))
        return done
      }))

    return handlers
      .handle("list", ({ path, urlParams }) =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          const target = yield* where(caller, path)
          const page = pageOf(urlParams.page)
          const pageSize = yield* pageSizeOf(urlParams.page_size)
          const id = urlParams.id === undefined || urlParams.id === "" ? undefined : urlParams.id
          const chunkNotFound = Rest.data(`Chunk not found: ${path.dataset_id}/${id}`)
          if (id !== undefined && !Schema.is(Chunks.GetRequest.fields.chunk_id)(id)) return yield* chunkNotFound
          const request = yield* Rest.decode(Chunks.ListRequest, {
            ...target,
            page: id === undefined ? page : 1,
            page_size: pageSize,
            keywords: urlParams.keywords,
            id,
            available: urlParams.available === undefined ? undefined : urlParams.available === "true"
          })
          const result = yield* chunks.list(caller, request).pipe(Effect.catchTag("NotFound", notFound(path, () => chunkNotFound)))
          // RAGFlow answers `id` with the chunk or an error (a data error when it is not the document's).
          if (id !== undefined && result.items.length === 0) return yield* chunkNotFound
          return Rest.ok({ chunks: result.items.map(chunkView), doc: documentView(result.doc), total: result.total })
        })))
      .handle("add", ({ path, payload }) =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          const target = yield* where(caller, path)
          if (isBlank(payload.content)) return yield* Rest.data("`content` is required")
          yield* stringList(payload, "important_keywords", "`important_keywords` is required to be a list")
          yield* stringList(payload, "questions", "`questions` is required to be a list")
          const request = yield* Rest.decode(Chunks.AddRequest, {
            ...target,
            content: payload.content,
            important_keywords: payload.important_keywords,
            questions: payload.questions
          })
          const chunk = yield* chunks.add(caller, request).pipe(Effect.catchTag("NotFound", notFound(path, (e) => Effect.fail(e))))
          return Rest.ok({ chunk: chunkView(chunk) })
        })))
      .handle("update", update)
      .handle("replace", update)
      .handle("remove", ({ path, payload }) =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          const target = yield* where(caller, path)
          const ids = present(payload.chunk_ids)
          if (ids === undefined || (Array.isArray(ids) && ids.length === 0) || ids === "" || ids === false || ids === 0) {
            // No ids: nothing, unless `delete_all` is exactly `true` (RAGFlow's `is True`).
            if (payload.delete_all !== true) return done
            const request = yield* Rest.decode(Chunks.RemoveRequest, { ...target, delete_all: true })
            yield* chunks.remove(caller, request).pipe(Effect.catchTag("NotFound", notFound(path, (e) => Effect.fail(e))))
            return done
          }
          // Duplicates are deleted once and reported (RAGFlow's `check_duplicate_ids`).
          const unique = Array.isArray(ids) ? [...new Set(ids)] : ids
          const duplicates = Array.isArray(ids) ? [...new Set(ids.filter((id, i) => ids.indexOf(id) !== i))] : []
          const request = yield* Rest.decode(Chunks.RemoveRequest, { ...target, chunk_ids: unique })
          const expected = request.chunk_ids.length
          const removed = yield* chunks.remove(caller, request).pipe(
            Effect.catchTag("NotFound", notFound(path, () => Rest.data(`rm_chunk deleted chunks 0, expect ${expected}`)))
          )
          if (duplicates.length > 0) {
            return { code: 0 as const, data: { success_count: removed, errors: duplicates.map((id) => `Duplicate chunk ids: ${String(id)}`) } }
          }
          return done
        })))
  }))
