/**
 * Documents: `/api/v1/documents/upload|create|list|change_status|rm|run|rename|change_parser`, over
 * core's `Documents`.
 *
 * Seed names mapped at this edge:
 * - A document's `run` is RAGFlow's task status code, as its web API stores and returns it: `"0"`
 *   not started, `"1"` running, `"2"` canceled, `"3"` done, `"4"` failed (core's `UNSTART`,
 *   `RUNNING`, `CANCEL`, `DONE`, `FAIL`). `list`'s `run_status` takes the codes (or core's names).
 * - `run` with `run: "1"` queues parsing (core's `parse`, which always drops the chunks of earlier
 *   runs: `delete` may be sent and changes nothing), `run: "2"` stops it (`cancel`).
 * - `rm`'s `doc_id` (one id or a list) is core's `doc_ids`; `change_status` answers
 *   `{ <doc_id>: { status } }`.
 *
 * Uploads are `multipart/form-data`: `kb_id` (a field before the files, or in the query string) and
 * one or more `file` parts, each streamed into the blob store as it arrives (`uploadStream`), never
 * held whole. A file over the deployment's limit is cut off while it streams and refused with 413:
 * by core (`maxFileBytes`) and by the multipart parser (`limits.uploadMb` of `ServerConfig`, when
 * the engine has one). File names are reduced to a base name without control or bidirectional
 * characters before core's `FileName` checks them; UTF-8 names, which the parser's header grammar
 * refuses, are read from the part's raw header.
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiSchema, Multipart } from "@effect/platform"
import { Document, Documents, InvalidInput } from "@ragkit/core"
import { Cause, Effect, identity, Option, Schema, Sink, Stream } from "effect"
import { ServerConfig } from "../../Config.js"
import { Authentication } from "../Auth.js"
import { Codes, Ok, ok } from "../Envelope.js"
import * as Errors from "../Errors.js"
import * as Group from "../Group.js"

// ---------------------------------------------------------------------------------------------
// A document as the seed shows it

/** RAGFlow's `TaskStatus` codes by core's run state. */
export const RunCodes = { UNSTART: "0", RUNNING: "1", CANCEL: "2", DONE: "3", FAIL: "4" } as const
export const runNames = Object.fromEntries(Object.entries(RunCodes).map(([name, code]) => [code, name])) as Record<string, string>

const { run_generation: _generation, ...documentFields } = Document.fields

/** Core's document without its internal run counter, `run` as RAGFlow's code. */
export const DocView = Schema.Struct({ ...documentFields, run: Schema.Literal("0", "1", "2", "3", "4") })
export const docView = (doc: Document): typeof DocView.Type => {
  const { run_generation: _, ...rest } = doc
  return { ...rest, run: RunCodes[doc.run] }
}

// ---------------------------------------------------------------------------------------------
// Uploads

/** Bidirectional and other invisible format characters that can disguise a name (`U+202E`). */
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g

/**
 * The name a client gave a file, reduced to what may name a document: control and bidirectional
 * characters removed, the last segment of a path (`/` or `\`), leading `..` dropped, trimmed. What
 * remains (empty, too long) core's `FileName` checks.
 */
export const sanitizeFileName = (raw: string): string => {
  const base = raw.replace(INVISIBLE, "").split(/[/\\]/).pop() ?? ""
  const name = base.trim().replace(/^\.{2,}/, "").trim()
  return name === "." ? "" : name
}

/** A parameter of a `Content-Disposition` header: quoted (with escapes) or a token. */
const dispositionParam = (header: string, key: string): string | undefined => {
  const match = new RegExp(`;\\s*${key}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, "i").exec(header)
  return match === null ? undefined : match[1] !== undefined ? match[1].replace(/\\(.)/g, "$1") : match[2]
}

/**
 * The form field and file name of a file part. Browsers and `fetch` send names as raw UTF-8
 * (`filename="灯塔.pdf"`), which the multipart parser's header grammar (Latin-1 only, no tabs)
 * refuses, leaving the part without a field or file name: then they are read from its raw
 * `Content-Disposition` header (`filename*=UTF-8''...` preferred, as RFC 6266).
 */
export const namesOf = (part: Multipart.File): { readonly key: string; readonly name: string } => {
  if (part.key !== "") return { key: part.key, name: part.name }
  const headers = (part as { readonly file?: { readonly info?: { readonly headers?: Record<string, unknown> } } }).file?.info?.headers
  const header = headers?.["content-disposition"]
  if (typeof header !== "string") return { key: part.key, name: part.name }
  const extended = dispositionParam(header, "filename\\*")?.match(/^utf-8''(.*)$/i)?.[1]
  let name = dispositionParam(header, "filename") ?? ""
  if (extended !== undefined) {
    try {
      name = decodeURIComponent(extended)
    } catch {
      // a malformed escape: the plain filename stands
    }
  }
  return { key: dispositionParam(header, "name") ?? "", name }
}

/** A field part's largest value (`kb_id`): fields are held in memory, files never. */
export const MaxFieldBytes = 64 * 1024

const UploadForm = HttpApiSchema.MultipartStream(
  Schema.Struct({ kb_id: Schema.String, file: Multipart.FilesSchema })
)

export const isMultipartError = (e: unknown): e is Multipart.MultipartError => e instanceof Multipart.MultipartError

const limitReasons: Record<string, Multipart.MultipartError["reason"]> = {
  MaxPartSize: "FileTooLarge",
  MaxFieldSize: "FieldTooLarge",
  MaxTotalSize: "BodyTooLarge",
  MaxParts: "TooManyParts"
}

/**
 * Why the parser failed. A limit reached inside a file's bytes comes out of the file's stream as an
 * `InternalError` whose cause carries the parser's `{ _tag: "ReachedLimit", limit }`.
 */
const reasonOf = (e: Multipart.MultipartError): Multipart.MultipartError["reason"] => {
  const cause = e.cause as { readonly _tag?: unknown; readonly limit?: unknown } | null | undefined
  if (e.reason !== "InternalError" || typeof cause !== "object" || cause === null || cause._tag !== "ReachedLimit") return e.reason
  return limitReasons[String(cause.limit)] ?? e.reason
}

/** The seed error for a failure of the multipart parser. */
export const multipartFailure = (e: Multipart.MultipartError, maxFileBytes: number, file: string): Errors.ApiError | undefined => {
  switch (reasonOf(e)) {
    case "FileTooLarge":
      return new Errors.PayloadTooLarge({
        code: Codes.argument,
        message: `${file === "" ? "a file part" : file} is larger than the limit of ${maxFileBytes} bytes`,
        data: null
      })
    case "FieldTooLarge":
      return new Errors.PayloadTooLarge({ code: Codes.argument, message: `a form field is larger than ${MaxFieldBytes} bytes`, data: null })
    case "BodyTooLarge":
    case "TooManyParts":
      return new Errors.PayloadTooLarge({ code: Codes.argument, message: `the upload is too large (${reasonOf(e)})`, data: null })
    case "Parse":
      return Errors.badRequest("the request body is not valid multipart/form-data")
    default:
      return undefined
  }
}

// ---------------------------------------------------------------------------------------------
// The group

/** A request of the given fields, each optional and of any type: core's Schema checks them (400 naming the field). */
const fieldsOf = <const K extends string>(...keys: ReadonlyArray<K>) =>
  Schema.Struct(Object.fromEntries(keys.map((key) => [key, Schema.optional(Schema.Unknown)])) as { [P in K]: Schema.optional<typeof Schema.Unknown> })

/** Query parameters: each optional text. */
const paramsOf = <const K extends string>(...keys: ReadonlyArray<K>) =>
  Schema.Struct(Object.fromEntries(keys.map((key) => [key, Schema.optional(Schema.String)])) as { [P in K]: Schema.optional<typeof Schema.String> })

export const group = Group.make("documents")
  .add(
    HttpApiEndpoint.post("upload", "/api/v1/documents/upload")
      .setPayload(UploadForm)
      .setUrlParams(paramsOf("kb_id"))
      .addSuccess(Ok(Schema.Array(DocView)))
      .addError(Errors.PayloadTooLarge)
  )
  .add(HttpApiEndpoint.post("create", "/api/v1/documents/create").setPayload(fieldsOf("name", "kb_id")).addSuccess(Ok(DocView)))
  .add(
    HttpApiEndpoint.post("list", "/api/v1/documents/list")
      .setUrlParams(paramsOf("kb_id", "keywords", "page", "page_size", "orderby", "desc", "create_time_from", "create_time_to"))
      .setPayload(fieldsOf("run_status", "types", "suffix"))
      .addSuccess(Ok(Schema.Struct({ total: Schema.Number, docs: Schema.Array(DocView) })))
  )
  .add(
    HttpApiEndpoint.post("change_status", "/api/v1/documents/change_status")
      .setPayload(fieldsOf("doc_ids", "status"))
      .addSuccess(Ok(Schema.Record({ key: Schema.String, value: Schema.Struct({ status: Schema.String }) })))
  )
  .add(HttpApiEndpoint.post("rm", "/api/v1/documents/rm").setPayload(fieldsOf("doc_id")).addSuccess(Ok(Schema.Boolean)))
  .add(HttpApiEndpoint.post("run", "/api/v1/documents/run").setPayload(fieldsOf("doc_ids", "run", "delete")).addSuccess(Ok(Schema.Boolean)))
  .add(HttpApiEndpoint.post("rename", "/api/v1/documents/rename").setPayload(fieldsOf("doc_id", "name")).addSuccess(Ok(Schema.Boolean)))
  .add(
    HttpApiEndpoint.post("change_parser", "/api/v1/documents/change_parser")
      .setPayload(fieldsOf("doc_id", "parser_id", "parser_config", "pipeline_id"))
      .addSuccess(Ok(Schema.Boolean))
  )
  .middleware(Authentication)

const Api = HttpApi.make("ragkit").add(group)

/** `list`'s `run_status` as core names the states: RAGFlow's codes (or core's names) mapped. */
const runStatusOf = (value: unknown): Effect.Effect<unknown, Errors.BadRequest> => {
  if (!Array.isArray(value)) return Effect.succeed(value)
  const names: Array<string> = []
  for (const [i, status] of value.entries()) {
    const text = typeof status === "string" || typeof status === "number" ? String(status) : ""
    const name = runNames[text] ?? (text in RunCodes ? text : undefined)
    if (name === undefined) return Effect.fail(Errors.badRequest(`run_status[${i}] must be one of 0, 1, 2, 3, 4 (${Object.keys(RunCodes).join(", ")})`))
    names.push(name)
  }
  return Effect.succeed(names)
}

/** `"0"`/`"1"` (or 0/1, as RAGFlow's `str(status)`). */
const textOf = (value: unknown): unknown => (typeof value === "number" ? String(value) : value)

export const live = HttpApiBuilder.group(Api, "documents", (handlers) =>
  Effect.gen(function* () {
    const documents = yield* Documents.Documents
    const config = yield* Effect.serviceOption(ServerConfig)
    // The deployment's limit, when the engine runs under a server config (core applies its own too).
    const maxFileBytes = Option.map(config, (c) => c.limits.uploadMb * 1024 * 1024)
    const limits = {
      maxFileSize: maxFileBytes,
      maxFieldSize: MaxFieldBytes
    }

    return handlers
      .handle("upload", ({ payload, request, urlParams }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const contentType = request.headers["content-type"] ?? ""
          if (!/^multipart\/form-data\s*;/i.test(contentType)) {
            return yield* Effect.fail(Errors.badRequest("the upload must be multipart/form-data: kb_id and one or more file parts"))
          }
          /** The file streaming now, for the parser's errors. */
          let current = ""
          const parts = Multipart.withLimitsStream(payload as Stream.Stream<Multipart.Part, Multipart.MultipartError>, limits)
          const stored = yield* Effect.scoped(
            Effect.gen(function* () {
              // The fields before the first file: `kb_id` must be known before any byte is stored.
              const [fields, rest] = yield* Stream.peel(parts, Sink.collectAllWhile((part: Multipart.Part) => part._tag === "Field"))
              let kbId: string | undefined = urlParams.kb_id
              for (const part of fields) if (part._tag === "Field" && part.key === "kb_id") kbId ??= part.value
              if (kbId === undefined) return yield* Effect.fail(Errors.badRequest("kb_id is required (a form field before the file parts)"))
              const target = yield* Group.decode(Documents.UploadStreamRequest, { kb_id: kbId })
              const files = rest.pipe(
                Stream.mapEffect((part): Effect.Effect<Option.Option<Documents.StreamedFile<Multipart.MultipartError>>, Multipart.MultipartError> => {
                  if (part._tag !== "File") return Effect.succeedNone
                  const { key, name } = namesOf(part)
                  // A file under another field name is read past, not stored.
                  if (key !== "file") return Effect.as(Stream.runDrain(part.content), Option.none())
                  current = sanitizeFileName(name)
                  return Effect.succeedSome({
                    name: current,
                    mime_type: part.contentType === "" ? undefined : part.contentType,
                    content: part.content
                  })
                }),
                Stream.filterMap(identity)
              )
              return yield* documents.uploadStream(caller, target, files)
            })
          ).pipe(
            Effect.catchIf(
              (e): e is InvalidInput => e instanceof InvalidInput && e.field === "files",
              () => Effect.fail(Errors.badRequest("file is required: send one or more file parts"))
            ),
            Effect.catchIf(isMultipartError, (e) => {
              const mapped = multipartFailure(e, Option.getOrElse(maxFileBytes, () => 0), current)
              return mapped === undefined ? Effect.flatMap(Errors.internal(Cause.fail(e)), Effect.fail) : Effect.fail(mapped)
            }),
            Errors.respond
          )
          return ok(stored.map(docView))
        }))
      .handle("create", ({ payload }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const request = yield* Group.decode(Documents.CreateVirtualRequest, { kb_id: payload.kb_id, name: payload.name })
          return ok(docView(yield* Errors.respond(documents.createVirtual(caller, request))))
        }))
      .handle("list", ({ payload, urlParams }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const request = yield* Group.decode(Documents.ListRequest, {
            kb_id: urlParams.kb_id,
            keywords: urlParams.keywords,
            page: Group.queryNumber(urlParams.page),
            page_size: Group.queryNumber(urlParams.page_size),
            orderby: urlParams.orderby,
            desc: Group.queryBoolean(urlParams.desc),
            create_time_from: Group.queryNumber(urlParams.create_time_from),
            create_time_to: Group.queryNumber(urlParams.create_time_to),
            run_status: yield* runStatusOf(payload.run_status),
            types: payload.types,
            suffix: payload.suffix
          })
          const page = yield* Errors.respond(documents.list(caller, request))
          return ok({ total: page.total, docs: page.items.map(docView) })
        }))
      .handle("change_status", ({ payload }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const request = yield* Group.decode(Documents.SetStatusRequest, { doc_ids: payload.doc_ids, status: textOf(payload.status) })
          const docs = yield* Errors.respond(documents.setStatus(caller, request))
          return ok(Object.fromEntries(docs.map((doc) => [doc.id, { status: doc.status }])))
        }))
      .handle("rm", ({ payload }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const ids = typeof payload.doc_id === "string" ? [payload.doc_id] : payload.doc_id
          const request = yield* Group.decode(Documents.DocIdsRequest, { doc_ids: ids }).pipe(
            Effect.mapError((e) => e instanceof Errors.BadRequest ? Errors.badRequest(e.message.replace(/^doc_ids/, "doc_id")) : e)
          )
          yield* Errors.respond(documents.remove(caller, request))
          return ok(true)
        }))
      .handle("run", ({ payload }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const run = textOf(payload.run)
          if (run !== RunCodes.RUNNING && run !== RunCodes.CANCEL) {
            return yield* Effect.fail(
              Errors.badRequest(run === undefined ? "run is required" : `run must be "1" (parse) or "2" (stop parsing)`)
            )
          }
          if (payload.delete !== undefined && typeof payload.delete !== "boolean") {
            return yield* Effect.fail(Errors.badRequest("delete must be a boolean"))
          }
          const request = yield* Group.decode(Documents.DocIdsRequest, { doc_ids: payload.doc_ids })
          yield* Errors.respond(run === RunCodes.RUNNING ? documents.parse(caller, request) : documents.cancel(caller, request))
          return ok(true)
        }))
      .handle("rename", ({ payload }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          const request = yield* Group.decode(Documents.RenameRequest, { doc_id: payload.doc_id, name: payload.name })
          yield* Errors.respond(documents.rename(caller, request))
          return ok(true)
        }))
      .handle("change_parser", ({ payload }) =>
        Effect.gen(function* () {
          const caller = yield* Group.caller
          if (payload.pipeline_id !== undefined && payload.pipeline_id !== null && payload.pipeline_id !== "") {
            return yield* Effect.fail(Errors.badRequest("pipeline_id: ingestion pipelines are not supported; send parser_id"))
          }
          const request = yield* Group.decode(Documents.ChangeParserRequest, {
            doc_id: payload.doc_id,
            parser_id: payload.parser_id,
            parser_config: payload.parser_config
          })
          yield* Errors.respond(documents.changeParser(caller, request))
          return ok(true)
        }))
  }))
