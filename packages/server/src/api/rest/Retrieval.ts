/**
 * Retrieval (REST): `POST /api/v1/retrieval`, RAGFlow's `retrieval_test` of `chunk_api.py`, over
 * core's `Retrieval`.
 *
 * Takes `dataset_ids` (required), `question` (required; blank finds nothing), `document_ids`,
 * `page`, `page_size` (30, at most 100), `similarity_threshold` (0.2), `vector_similarity_weight`
 * (0.3), `top_k` (1024), `rerank_id`, `highlight`, `keyword` and `cross_languages` (the question
 * goes through the dataset owner's default chat model first; without one, a 102 saying so), and
 * `metadata_condition` `{ logic, conditions: [{ name, comparison_operator, value }] }` with RAGFlow's
 * operators (`is`, `not is`, `=`, `≠`, `>`, `<`, `≥`, `≤`, `contains`, `not contains`, `in`,
 * `not in`, `start with`, `end with`, `empty`, `not empty`), applied, as in RAGFlow, only when no
 * `document_ids` are given. `null` (what ragflow-sdk sends for unset options) is absent.
 *
 * Answers `{ chunks, doc_aggs, total }`, each chunk with `id`, `content`, `document_id`,
 * `document_keyword`, `dataset_id`, `important_keywords`, `questions`, `similarity`,
 * `vector_similarity`, `term_similarity`, `positions` and, when asked, `highlight`.
 *
 * RAGFlow's own checks keep its code 102 and messages (`` `dataset_ids` is required. ``,
 * `You don't own the dataset X.` for another tenant's or an unknown one, `The datasets don't own
 * the document X`, ...); other bad fields are core's 101 naming the field.
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint } from "@effect/platform"
import { Completions, DocumentId, Documents, type InvalidInput, KnowledgeBases, Retrieval } from "@ragkit/core"
import { Effect, Either, Schema } from "effect"
import * as Group from "../Group.js"
import { chunkView, datasetNotOwned, pageOf, pageSizeOf, present, readableDataset } from "./Chunks.js"
import * as Rest from "./Rest.js"
import { Authentication } from "./RestAuth.js"

/** A retrieved chunk as RAGFlow's `/retrieval` shows it. */
export const RetrievedChunkView = Schema.Struct({
  id: Schema.String,
  content: Schema.String,
  content_ltks: Schema.String,
  document_id: Schema.String,
  document_keyword: Schema.String,
  dataset_id: Schema.String,
  important_keywords: Schema.Array(Schema.String),
  questions: Schema.Array(Schema.String),
  tag_kwd: Schema.Array(Schema.String),
  image_id: Schema.String,
  doc_type_kwd: Schema.String,
  positions: Schema.Array(Schema.Array(Schema.Number)),
  similarity: Schema.Number,
  vector_similarity: Schema.Number,
  term_similarity: Schema.Number,
  /** The content with the matched words in `<em>`, when `highlight` was asked. */
  highlight: Schema.optional(Schema.String)
}).annotations({ identifier: "RagflowRetrievedChunk" })

export const RetrievalView = Schema.Struct({
  chunks: Schema.Array(RetrievedChunkView),
  doc_aggs: Schema.Array(Schema.Struct({ doc_name: Schema.String, doc_id: Schema.String, count: Schema.Number })),
  total: Schema.Number
})

const retrievedChunkView = (c: Retrieval.RetrievedChunk): typeof RetrievedChunkView.Type => {
  const { available: _, create_time: __, create_timestamp: ___, docnm_kwd, ...view } = chunkView(c.chunk)
  return {
    ...view,
    content_ltks: c.chunk.content_ltks,
    document_keyword: docnm_kwd,
    similarity: c.similarity,
    vector_similarity: c.vector_similarity,
    term_similarity: c.term_similarity,
    ...(c.highlight === undefined ? {} : { highlight: c.highlight })
  }
}

const nothing = { chunks: [], doc_aggs: [], total: 0 }

/** RAGFlow's `highlight`: absent is false; a boolean, or `"true"` / `"false"` in any case. */
const highlightOf = (value: unknown) => {
  if (value === undefined) return Effect.succeed(false)
  if (typeof value === "boolean") return Effect.succeed(value)
  if (typeof value === "string" && ["true", "false"].includes(value.toLowerCase())) return Effect.succeed(value.toLowerCase() === "true")
  return Rest.data("`highlight` should be a boolean")
}

/** `metadata_condition` in core's terms, core's messages naming the REST field. */
const metadataOf = (value: unknown) => {
  if (value === undefined) return Effect.succeed(undefined)
  if (typeof value !== "object" || value === null || Array.isArray(value)) return Rest.argument("metadata_condition must be an object")
  const condition = value as Record<string, unknown>
  const conditions = present(condition["conditions"]) ?? []
  if (!Array.isArray(conditions)) return Rest.argument("metadata_condition.conditions must be a list")
  const logic = present(condition["logic"]) ?? "and"
  if (logic !== "and" && logic !== "or") return Rest.argument("metadata_condition.logic must be one of and, or")
  const mapped = Completions.metadataCondition({ method: "manual", manual: conditions, logic })
  return Either.isLeft(mapped)
    ? Rest.argument(mapped.left.message.replace(/meta_data_filter\.manual/g, "metadata_condition.conditions"))
    : Effect.succeed(mapped.right)
}

const fields = Group.loose(
  "dataset_ids",
  "document_ids",
  "question",
  "page",
  "page_size",
  "similarity_threshold",
  "vector_similarity_weight",
  "top_k",
  "rerank_id",
  "keyword",
  "highlight",
  "metadata_condition",
  "cross_languages"
)

export const group = Rest.group("restRetrieval")
  .add(
    HttpApiEndpoint.post("retrieve", "/api/v1/retrieval")
      .setPayload(Schema.Struct(fields))
      .addSuccess(Rest.Reply(Rest.Ok(RetrievalView)))
  )
  .middleware(Authentication)

const Api = HttpApi.make("ragkit").add(group)

export const live = HttpApiBuilder.group(Api, "restRetrieval", (handlers) =>
  Effect.gen(function* () {
    const retrieval = yield* Retrieval.Retrieval
    const kbs = yield* KnowledgeBases.KnowledgeBases
    const documents = yield* Documents.Documents
    const isDocumentId = Schema.is(DocumentId)
    return handlers.handle("retrieve", ({ payload }) =>
      Rest.respond(Effect.gen(function* () {
        const caller = yield* Rest.caller
        const datasetIds = present(payload.dataset_ids)
        if (datasetIds === undefined || datasetIds === "" || datasetIds === false || datasetIds === 0 || (Array.isArray(datasetIds) && datasetIds.length === 0)) {
          return yield* Rest.data("`dataset_ids` is required.")
        }
        if (!Array.isArray(datasetIds)) return yield* Rest.data("`dataset_ids` should be a list")
        for (const id of datasetIds) {
          if (typeof id !== "string") return yield* datasetNotOwned(String(id))
          yield* readableDataset(kbs, caller, id)
        }
        if (payload.question === undefined) return yield* Rest.data("`question` is required.")
        const page = pageOf(payload.page)
        const pageSize = yield* pageSizeOf(payload.page_size)
        const question = typeof payload.question === "string" ? payload.question.trim() : payload.question
        if (question === "" || question === null) return Rest.ok(nothing)

        const documentIds = present(payload.document_ids) ?? []
        if (!Array.isArray(documentIds)) return yield* Rest.data("`documents` should be a list")
        for (const id of documentIds) {
          const notOwned = Rest.data(`The datasets don't own the document ${String(id)}`)
          if (!isDocumentId(id)) return yield* notOwned
          const doc = yield* documents.get(caller, { doc_id: id }).pipe(Effect.catchTag("NotFound", () => notOwned))
          if (!datasetIds.includes(doc.kb_id)) return yield* notOwned
        }
        // As RAGFlow: the metadata condition applies only when no documents are named.
        const metadata = documentIds.length === 0 ? yield* metadataOf(present(payload.metadata_condition)) : undefined

        const topK = present(payload.top_k)
        if (typeof topK === "number" && topK <= 0) return yield* Rest.data("`top_k` must be greater than 0")
        const request = yield* Rest.decode(Retrieval.RetrievalRequest, {
          question,
          kb_ids: datasetIds,
          doc_ids: documentIds,
          page,
          page_size: pageSize,
          similarity_threshold: present(payload.similarity_threshold),
          vector_similarity_weight: present(payload.vector_similarity_weight),
          top_k: topK,
          rerank_id: present(payload.rerank_id) === "" ? undefined : present(payload.rerank_id),
          highlight: yield* highlightOf(present(payload.highlight)),
          keyword: present(payload.keyword),
          cross_languages: present(payload.cross_languages),
          metadata_condition: metadata
        })
        const result = yield* retrieval.retrieve(caller, request).pipe(
          // Datasets with different embedding models: RAGFlow's data error.
          Effect.catchTag("InvalidInput", (e): Effect.Effect<never, InvalidInput | Rest.RestFailure> => (e.field === "kb_ids" ? Rest.data(e.message) : Effect.fail(e)))
        )
        return Rest.ok({
          chunks: result.chunks.map(retrievedChunkView),
          doc_aggs: result.doc_aggs.map((a) => ({ doc_name: a.doc_name, doc_id: a.doc_id, count: a.count })),
          total: result.total
        })
      })))
  }))
