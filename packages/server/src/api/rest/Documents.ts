/**
 * Documents and parsing (REST): a dataset's files, as RAGFlow's `document_api.py` and
 * `chunk_api.py` serve them, over core's `Documents`.
 *
 * - `POST /datasets/{id}/documents`: `multipart/form-data` with one or more `file` parts, each
 *   streamed into the blob store as it arrives (`uploadStream`, the deployment's `limits.uploadMb`):
 *   `data: [document]`, `run: "UNSTART"`. No file part is 101 `No file part!`.
 * - `GET /datasets/{id}/documents` (`page`, `page_size`, `orderby`, `desc`, `keywords`, `id`, `ids`,
 *   `name`, `create_time_from`/`to`, `suffix`, `run` by name or code, `types`):
 *   `{ code: 0, message: "success", data: { docs, total } }`.
 * - `PATCH` (and `PUT`) `/datasets/{id}/documents/{doc}`: `name`, `chunk_method`, `parser_config`,
 *   `enabled` (0/1), `meta_fields`, in one core call: the document.
 * - `GET /datasets/{id}/documents/{doc}`: the original bytes, with a content type from the name and
 *   `Content-Disposition: attachment`.
 * - `DELETE /datasets/{id}/documents` with `{ ids }` or `{ delete_all: true }`: `{ deleted }`.
 * - `POST /datasets/{id}/chunks` with `{ document_ids }` starts parsing, `DELETE` stops it: `{ code: 0 }`.
 *
 * A document carries RAGFlow's names (`dataset_id`, `chunk_method`, `chunk_count`, `token_count`,
 * `run` as `UNSTART`/`RUNNING`/`CANCEL`/`DONE`/`FAIL`). A dataset the caller can't read is 102
 * `You don't own the dataset X.`; a document not in the dataset (or another tenant's) is 102 with
 * RAGFlow's message for the route; RAGFlow's own checks keep its codes and messages, other bad
 * fields are core's 101 naming the field as the client sent it (`chunk_method`, `enabled`).
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiSchema, HttpServerResponse, Multipart } from "@effect/platform"
import { type Caller, type Document, Documents, InvalidInput, KnowledgeBases, type NotFound } from "@ragkit/core"
import { Cause, Effect, identity, Option, Schema, Stream } from "effect"
import { ServerConfig } from "../../Config.js"
import * as Errors from "../Errors.js"
import * as Group from "../Group.js"
import { isMultipartError, MaxFieldBytes, multipartFailure, namesOf, RunCodes, runNames, sanitizeFileName } from "../seed/Documents.js"
import { ListParams, queryList, Repeated } from "./Datasets.js"
import { datasetNotOwned, DocumentView, documentView, pageOf, pageSizeOf, present, readableDataset } from "./Chunks.js"
import * as Rest from "./Rest.js"
import { Authentication } from "./RestAuth.js"

// ---------------------------------------------------------------------------------------------
// Helpers

/** Core's message for a field, named as the client sent it (`parser_id` is `chunk_method`). */
const decodeAs = <A, I>(schema: Schema.Schema<A, I, never>, input: Record<string, unknown>, names: Record<string, string>) =>
  Rest.decode(schema, input).pipe(
    Effect.mapError((e) => {
      const field = Object.keys(names).find((core) => e.message.startsWith(core))
      return field === undefined ? e : new Rest.RestFailure({ code: e.code, message: names[field]! + e.message.slice(field.length) })
    })
  )

/** Core's `NotFound` of a document as RAGFlow's message for the route; a dataset's as `You don't own the dataset X.`. */
const documentNotFound = (datasetId: string, message: (e: NotFound) => string) => (e: NotFound): Effect.Effect<never, NotFound | Rest.RestFailure> =>
  e.entity === "Document" ? Rest.data(message(e)) : e.entity === "KnowledgeBase" ? datasetNotOwned(datasetId) : Effect.fail(e)

/** A content type for a file name, as RAGFlow's `_mimetype_for_document`. */
const CONTENT_TYPES: Record<string, string> = {
  pdf: "application/pdf",
  txt: "text/plain",
  md: "text/markdown",
  markdown: "text/markdown",
  csv: "text/csv",
  html: "text/html",
  htm: "text/html",
  json: "application/json",
  xml: "application/xml",
  doc: "application/msword",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  xls: "application/vnd.ms-excel",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  ppt: "application/vnd.ms-powerpoint",
  pptx: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  svg: "image/svg+xml"
}

const contentTypeOf = (doc: Document): string =>
  doc.suffix === "" ? "application/octet-stream" : CONTENT_TYPES[doc.suffix] ?? `${doc.type === "visual" ? "image" : "application"}/${doc.suffix}`

/** `attachment; filename="..."` with an ASCII fallback and the UTF-8 name (RFC 6266). */
const attachment = (name: string) =>
  `attachment; filename="${name.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "_")}"; filename*=UTF-8''${encodeURIComponent(name)}`

// ---------------------------------------------------------------------------------------------
// Routes

const DatasetPath = Schema.Struct({ dataset_id: Schema.String })
const DocumentPath = Schema.Struct({ dataset_id: Schema.String, document_id: Schema.String })

/** RAGFlow's `get_result()` without data: `{ code: 0 }`. */
const Done = Schema.Struct({ code: Schema.Literal(0), data: Schema.optional(Schema.Unknown) })
const done = { code: 0 as const }

const UploadForm = HttpApiSchema.MultipartStream(Schema.Struct({ file: Multipart.FilesSchema }))
const UpdatePayload = Schema.Struct(Group.loose("name", "chunk_method", "parser_config", "enabled", "meta_fields", "chunk_count", "token_count", "progress"))
const DocumentIds = Schema.Struct(Group.loose("document_ids"))

export const group = Rest.group("restDocuments")
  .add(
    HttpApiEndpoint.post("upload", "/api/v1/datasets/:dataset_id/documents")
      .setPath(DatasetPath)
      .setPayload(UploadForm)
      .addSuccess(Rest.Reply(Rest.Ok(Schema.Array(DocumentView))))
  )
  .add(
    HttpApiEndpoint.get("list", "/api/v1/datasets/:dataset_id/documents")
      .setPath(DatasetPath)
      .setUrlParams(
        Schema.Struct({
          ...ListParams,
          keywords: Schema.optional(Schema.String),
          create_time_from: Schema.optional(Schema.String),
          create_time_to: Schema.optional(Schema.String),
          suffix: Repeated,
          run: Repeated,
          types: Repeated
        })
      )
      .addSuccess(Rest.Reply(Rest.Ok(Schema.Struct({ docs: Schema.Array(DocumentView), total: Schema.Number }))))
  )
  .add(
    HttpApiEndpoint.patch("update", "/api/v1/datasets/:dataset_id/documents/:document_id")
      .setPath(DocumentPath)
      .setPayload(UpdatePayload)
      .addSuccess(Rest.Reply(Rest.Ok(DocumentView)))
  )
  .add(
    HttpApiEndpoint.put("replace", "/api/v1/datasets/:dataset_id/documents/:document_id")
      .setPath(DocumentPath)
      .setPayload(UpdatePayload)
      .addSuccess(Rest.Reply(Rest.Ok(DocumentView)))
  )
  .add(
    HttpApiEndpoint.get("download", "/api/v1/datasets/:dataset_id/documents/:document_id")
      .setPath(DocumentPath)
      .addSuccess(HttpApiSchema.Uint8Array({ contentType: "application/octet-stream" }).annotations({ description: "The original bytes; an error is a JSON body `{ code, message }`." }))
  )
  .add(
    HttpApiEndpoint.del("remove", "/api/v1/datasets/:dataset_id/documents")
      .setPath(DatasetPath)
      .setPayload(Schema.Struct(Group.loose("ids", "delete_all")))
      .addSuccess(Rest.Reply(Rest.Ok(Schema.Struct({ deleted: Schema.Number }))))
  )
  .add(HttpApiEndpoint.post("parse", "/api/v1/datasets/:dataset_id/chunks").setPath(DatasetPath).setPayload(DocumentIds).addSuccess(Rest.Reply(Done)))
  .add(HttpApiEndpoint.del("stopParsing", "/api/v1/datasets/:dataset_id/chunks").setPath(DatasetPath).setPayload(DocumentIds).addSuccess(Rest.Reply(Done)))
  .middleware(Authentication)

const Api = HttpApi.make("ragkit").add(group)

/** `enabled` as core's status: 1/0 (or true/false); anything else is RAGFlow's 102. */
const statusOf = (enabled: unknown): Effect.Effect<"0" | "1" | undefined, Rest.RestFailure> => {
  if (enabled === undefined) return Effect.succeed(undefined)
  if (enabled === 1 || enabled === true || enabled === "1") return Effect.succeed("1")
  if (enabled === 0 || enabled === false || enabled === "0") return Effect.succeed("0")
  return Rest.data(`\`enabled\` value invalid, only accept 0 or 1 but is ${JSON.stringify(enabled)}`)
}

/** The document ids of a parse or stop request, with RAGFlow's messages. */
const documentIdsOf = (payload: typeof DocumentIds.Type) => {
  const ids = payload.document_ids
  if (ids === undefined || ids === null || (Array.isArray(ids) && ids.length === 0) || ids === "") return Rest.data("`document_ids` is required")
  return Effect.succeed(ids)
}

export const live = HttpApiBuilder.group(Api, "restDocuments", (handlers) =>
  Effect.gen(function* () {
    const documents = yield* Documents.Documents
    const kbs = yield* KnowledgeBases.KnowledgeBases
    const config = yield* Effect.serviceOption(ServerConfig)
    // The deployment's limit, when the engine runs under a server config (core applies its own too).
    const maxFileBytes = Option.map(config, (c) => c.limits.uploadMb * 1024 * 1024)
    const limits = { maxFileSize: maxFileBytes, maxFieldSize: MaxFieldBytes }

    /** The dataset the caller may read, for a document route; its id as core's. */
    const dataset = (caller: Caller, id: string) => Effect.map(readableDataset(kbs, caller, id), (kb) => kb.id)

    const update = ({ path, payload }: { path: typeof DocumentPath.Type; payload: typeof UpdatePayload.Type }) =>
      Rest.respond(Effect.gen(function* () {
        const caller = yield* Rest.caller
        if (payload.name === null) return yield* Rest.data("Field: <name> - Message: <Input should be a valid string> - Value: <None>")
        const kbId = yield* dataset(caller, path.dataset_id)
        const notOwned = Rest.data("the dataset doesn't own the document")
        const current = yield* documents.get(caller, { doc_id: path.document_id as Document["id"], kb_id: kbId }).pipe(
          Effect.catchTag("NotFound", () => notOwned)
        )
        // Counters are the engine's: sent, they must equal the document's (RAGFlow's check).
        for (const [field, value] of [["chunk_count", current.chunk_num], ["token_count", current.token_num], ["progress", current.progress]] as const) {
          const sent = present(payload[field])
          if (sent !== undefined && sent !== value) return yield* Rest.data(`Can't change \`${field}\`.`)
        }
        const request = yield* decodeAs(Documents.UpdateRequest, {
          doc_id: path.document_id,
          kb_id: kbId,
          name: payload.name,
          parser_id: present(payload.chunk_method),
          parser_config: present(payload.parser_config),
          status: yield* statusOf(present(payload.enabled)),
          meta_fields: present(payload.meta_fields)
        }, { parser_id: "chunk_method", status: "enabled" })
        const doc = yield* documents.update(caller, request).pipe(Effect.catchTag("NotFound", () => notOwned))
        return Rest.ok(documentView(doc))
      }))

    return handlers
      .handle("upload", ({ path, payload }) =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          const target = yield* Rest.decode(Documents.UploadStreamRequest, { kb_id: path.dataset_id }).pipe(
            Effect.catchAll(() => Rest.data(`Can't find the dataset with ID ${path.dataset_id}!`))
          )
          /** The file streaming now, for the parser's errors. */
          let current = ""
          const files = Multipart.withLimitsStream(payload as Stream.Stream<Multipart.Part, Multipart.MultipartError>, limits).pipe(
            Stream.mapEffect((part): Effect.Effect<Option.Option<Documents.StreamedFile<Multipart.MultipartError>>, Multipart.MultipartError> => {
              if (part._tag !== "File") return Effect.succeedNone
              const { key, name } = namesOf(part)
              // A file under another field name is read past, not stored.
              if (key !== "file") return Effect.as(Stream.runDrain(part.content), Option.none())
              current = sanitizeFileName(name)
              return Effect.succeedSome({ name: current, mime_type: part.contentType === "" ? undefined : part.contentType, content: part.content })
            }),
            Stream.filterMap(identity)
          )
          const stored = yield* documents.uploadStream(caller, target, files).pipe(
            Effect.catchIf(
              (e): e is InvalidInput => e instanceof InvalidInput && e.field === "files",
              () => Rest.argument("No file part!")
            ),
            Effect.catchTag("NotFound", (e): Effect.Effect<never, NotFound | Rest.RestFailure> => e.entity === "KnowledgeBase" ? Rest.data(`Can't find the dataset with ID ${path.dataset_id}!`) : Effect.fail(e)),
            Effect.catchIf(isMultipartError, (e) => {
              const mapped = multipartFailure(e, Option.getOrElse(maxFileBytes, () => 0), current)
              return mapped === undefined ? Effect.flatMap(Errors.internal(Cause.fail(e)), Effect.fail) : Effect.fail(mapped)
            })
          )
          return Rest.ok(stored.map(documentView))
        })))
      .handle("list", ({ path, urlParams }) =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          const kbId = yield* dataset(caller, path.dataset_id)
          const orderby = urlParams.orderby ?? "create_time"
          if (!["create_time", "update_time", "name"].includes(orderby)) return yield* Rest.argument(`invalid orderby field: ${orderby}`)
          const runs = queryList(urlParams.run).map((r) => runNames[r] ?? r.toUpperCase())
          const invalidRuns = runs.filter((r) => !(r in RunCodes))
          if (invalidRuns.length > 0) return yield* Rest.data(`Invalid filter run status conditions: ${invalidRuns.join(", ")}`)
          const ids = queryList(urlParams.ids)
          const id = urlParams.id === "" ? undefined : urlParams.id
          if (id !== undefined && ids.length > 0) return yield* Rest.data(`Should not provide both 'id':${id} and 'ids'${JSON.stringify(ids)}`)
          const request = yield* Rest.decode(Documents.ListRequest, {
            kb_id: kbId,
            page: pageOf(urlParams.page),
            page_size: yield* pageSizeOf(urlParams.page_size),
            orderby,
            desc: urlParams.desc === undefined ? undefined : urlParams.desc.trim().toLowerCase() !== "false",
            keywords: urlParams.keywords,
            id,
            ids: ids.length > 0 ? ids : undefined,
            name: urlParams.name === "" ? undefined : urlParams.name,
            create_time_from: Group.queryNumber(urlParams.create_time_from),
            create_time_to: Group.queryNumber(urlParams.create_time_to),
            run_status: runs.length > 0 ? runs : undefined,
            types: queryList(urlParams.types).length > 0 ? queryList(urlParams.types) : undefined,
            suffix: queryList(urlParams.suffix).length > 0 ? queryList(urlParams.suffix) : undefined
          })
          const page = yield* documents.list(caller, request)
          // An id or a name that names no document of the dataset is RAGFlow's 102.
          if (page.total === 0 && (request.id !== undefined || request.name !== undefined)) {
            return yield* Rest.data(`you don't own the document ${request.id ?? request.name}`)
          }
          return Rest.okWithMessage({ docs: page.items.map(documentView), total: page.total })
        })))
      .handle("update", update)
      .handle("replace", update)
      .handle("download", ({ path }) =>
        Effect.gen(function* () {
          const caller = yield* Rest.caller
          const kbId = yield* readableDataset(kbs, caller, path.dataset_id).pipe(
            Effect.map((kb) => kb.id),
            Effect.catchAll(() => Rest.data("document not found"))
          )
          const request = yield* Rest.decode(Documents.DownloadRequest, { doc_id: path.document_id, kb_id: kbId }).pipe(
            Effect.catchAll(() => Rest.data(`The dataset not own the document ${path.document_id}.`))
          )
          const { bytes, document } = yield* documents.download(caller, request).pipe(
            Effect.catchTag("NotFound", documentNotFound(path.dataset_id, () => `The dataset not own the document ${path.document_id}.`))
          )
          if (bytes.length === 0) return yield* Rest.data("This file is empty.")
          return HttpServerResponse.uint8Array(bytes, {
            contentType: contentTypeOf(document),
            headers: { "content-disposition": attachment(document.name) }
          })
        }).pipe(
          Rest.respond,
          Effect.map((reply) => HttpServerResponse.isServerResponse(reply) ? reply : HttpServerResponse.unsafeJson(reply))
        ))
      .handle("remove", ({ path, payload }) =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          const kbId = yield* dataset(caller, path.dataset_id)
          const ids = present(payload.ids) ?? []
          const deleteAll = present(payload.delete_all) ?? false
          if (typeof deleteAll !== "boolean") return yield* Rest.argument("delete_all must be a boolean")
          const none = Array.isArray(ids) && ids.length === 0
          if (!deleteAll && none) return yield* Rest.data(`should either provide doc ids or set delete_all(true), dataset: ${path.dataset_id}. `)
          if (deleteAll && !none) return yield* Rest.data(`should not provide both doc ids and delete_all(true), dataset: ${path.dataset_id}. `)
          const request = yield* decodeAs(Documents.RemoveRequest, { doc_ids: ids, kb_id: kbId, delete_all: deleteAll }, { doc_ids: "ids" })
          const deleted = yield* documents.remove(caller, request).pipe(
            Effect.catchTag("NotFound", documentNotFound(path.dataset_id, (e) => `These documents do not belong to dataset ${path.dataset_id} or Document not found: ${e.id}`))
          )
          return Rest.ok({ deleted })
        })))
      .handle("parse", ({ path, payload }) =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          const kbId = yield* dataset(caller, path.dataset_id)
          const ids = yield* documentIdsOf(payload)
          const request = yield* decodeAs(Documents.DocIdsRequest, { doc_ids: ids, kb_id: kbId }, { doc_ids: "document_ids" })
          yield* documents.parse(caller, request).pipe(
            Effect.catchTag("NotFound", documentNotFound(path.dataset_id, (e) => `Documents not found: ['${e.id}']`))
          )
          return done
        })))
      .handle("stopParsing", ({ path, payload }) =>
        Rest.respond(Effect.gen(function* () {
          const caller = yield* Rest.caller
          const kbId = yield* dataset(caller, path.dataset_id)
          const ids = yield* documentIdsOf(payload)
          const request = yield* decodeAs(Documents.DocIdsRequest, { doc_ids: ids, kb_id: kbId }, { doc_ids: "document_ids" })
          yield* documents.cancel(caller, request).pipe(
            Effect.catchTag("NotFound", documentNotFound(path.dataset_id, (e) => `you don't own the document ${e.id}`)),
            Effect.catchIf(
              (e): e is InvalidInput => e instanceof InvalidInput && e.field === "doc_ids",
              () => Rest.data("Can't stop parsing document that has not started or already completed")
            )
          )
          return done
        })))
  }))
