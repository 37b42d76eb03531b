/**
 * Documents: the files of a knowledge base. Upload stores the bytes in the BlobStore and a
 * document record (`run: UNSTART`); parsing is queued on the TaskQueue and done by the ingestion
 * worker. Every method checks that the caller may see the document's knowledge base.
 */
import { Context, Effect, Layer, Option } from "effect"
import type { Caller } from "../domain/Caller.js"
import { isParserId, mergeParserConfig, ParserIds, type ParserId } from "../domain/ChunkMethods.js"
import {
  AlreadyExists,
  type BlobStoreError,
  type ChunkIndexError,
  type InvalidInput,
  invalid,
  type NotFound,
  notFound,
  StoreError
} from "../domain/Errors.js"
import { randomHex32, type DocumentId, type KnowledgeBaseId } from "../domain/Ids.js"
import { Document, type DocumentType, KnowledgeBase, type RunStatus, type Status } from "../domain/Records.js"
import { newStamps, touched } from "../domain/Time.js"
import { BlobStore } from "../ports/BlobStore.js"
import { ChunkIndex } from "../ports/ChunkIndex.js"
import { ParserRegistry } from "../ports/Parser.js"
import type { Condition } from "../ports/RecordStore.js"
import { RecordStore } from "../ports/RecordStore.js"
import { TaskQueue } from "../ports/TaskQueue.js"
import { readableKnowledgeBase } from "./internal/access.js"
import * as validate from "./internal/validate.js"

/** The task kind the ingestion worker claims. */
export const ParseTaskKind = "parse"

/** RAGFlow's limit on file names, in UTF-8 bytes. */
export const MaxFileNameBytes = 255

export interface UploadFile {
  readonly name: string
  readonly bytes: Uint8Array
  readonly mimeType?: string
}

export interface ListDocuments extends validate.Paging {
  readonly keywords?: string
  readonly orderby?: "create_time" | "update_time" | "name" | "size"
  readonly desc?: boolean
  readonly id?: string
  readonly name?: string
  /** Epoch ms, inclusive; 0 or absent means no bound. */
  readonly create_time_from?: number
  readonly create_time_to?: number
  readonly run_status?: ReadonlyArray<RunStatus>
  readonly types?: ReadonlyArray<string>
  readonly suffix?: ReadonlyArray<string>
}

export interface DocumentsOptions {
  /** Largest accepted file. Default 512 MiB. */
  readonly maxFileBytes?: number
}

type DocError = InvalidInput | NotFound | StoreError

export interface DocumentsService {
  /** Stores the files; refuses the whole call, storing nothing, when any file is unacceptable. */
  readonly upload: (
    caller: Caller,
    kbId: string,
    files: ReadonlyArray<UploadFile>
  ) => Effect.Effect<ReadonlyArray<Document>, DocError | BlobStoreError>
  /** A document without a file (a link or a placeholder to add chunks to by hand). */
  readonly createVirtual: (caller: Caller, kbId: string, name: string) => Effect.Effect<Document, DocError>
  readonly get: (caller: Caller, docId: string) => Effect.Effect<Document, DocError>
  readonly list: (
    caller: Caller,
    kbId: string,
    query?: ListDocuments
  ) => Effect.Effect<{ readonly items: ReadonlyArray<Document>; readonly total: number }, DocError>
  /** The original bytes. */
  readonly download: (
    caller: Caller,
    docId: string
  ) => Effect.Effect<{ readonly document: Document; readonly bytes: Uint8Array }, DocError | BlobStoreError>
  /** Renames; the extension must stay and the name must be free in the knowledge base. */
  readonly rename: (caller: Caller, docId: string, name: string) => Effect.Effect<Document, DocError | AlreadyExists>
  /** Enables (`"1"`) or disables (`"0"`) documents for retrieval. */
  readonly setStatus: (
    caller: Caller,
    docIds: ReadonlyArray<string>,
    status: string
  ) => Effect.Effect<ReadonlyArray<Document>, DocError>
  /** Changes the chunk method; a changed method resets the document and drops its chunks. */
  readonly changeParser: (
    caller: Caller,
    docId: string,
    parserId: string,
    parserConfig?: Record<string, unknown>
  ) => Effect.Effect<Document, DocError | ChunkIndexError>
  /** Queues parsing (`run: RUNNING`); any earlier task of the document is canceled. */
  readonly parse: (caller: Caller, docIds: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<Document>, DocError>
  /** Stops parsing (`run: CANCEL`). */
  readonly cancel: (caller: Caller, docIds: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<Document>, DocError>
  /** Deletes documents with their chunks and bytes; all ids must be visible, else nothing is deleted. */
  readonly remove: (
    caller: Caller,
    docIds: ReadonlyArray<string>
  ) => Effect.Effect<number, DocError | ChunkIndexError | BlobStoreError>
}

export class Documents extends Context.Tag("@ragkit/core/Documents")<Documents, DocumentsService>() {}

const DOC_SUFFIXES = new Set(
  "msg eml doc docx ppt pptx yml yaml xml htm html json jsonl ldjson csv tsv txt ini xls xlsx wps rtf hlp pages numbers key md mdx markdown py js ts tsx jsx java c cpp cc h hpp php go rs rb sh cs kt swift scala sql css toml log".split(" ")
)
const VISUAL_SUFFIXES = new Set("jpg jpeg png tif tiff gif bmp webp icon ico svg".split(" "))
const AURAL_SUFFIXES = new Set("wav flac ape alac wavpack wv mp3 aac ogg vorbis opus m4a".split(" "))

/** RAGFlow's `filename_type`. */
export const documentType = (suffix: string): DocumentType =>
  suffix === "pdf" ? "pdf" : DOC_SUFFIXES.has(suffix) ? "doc" : VISUAL_SUFFIXES.has(suffix) ? "visual" : AURAL_SUFFIXES.has(suffix) ? "aural" : "other"

/** Lower-case extension without the dot, or "" when the name has none. */
export const suffixOf = (name: string): string => {
  const dot = name.lastIndexOf(".")
  return dot <= 0 || dot === name.length - 1 ? "" : name.slice(dot + 1).toLowerCase()
}

/** The chunk method a file gets: the knowledge base's, except where the file type decides (as RAGFlow). */
const parserFor = (kb: KnowledgeBase, type: DocumentType, suffix: string): string =>
  type === "visual" ? "picture" : type === "aural" ? "audio" : ["ppt", "pptx", "pages"].includes(suffix) ? "presentation" : suffix === "eml" ? "email" : kb.parser_id

/** `name(1).ext`, `name(2).ext`, ... */
const numbered = (name: string, n: number): string => {
  if (n === 0) return name
  const suffix = suffixOf(name)
  const stem = suffix === "" ? name : name.slice(0, name.length - suffix.length - 1)
  return suffix === "" ? `${stem}(${n})` : `${stem}(${n}).${name.slice(name.length - suffix.length)}`
}

const byteLength = (s: string) => new TextEncoder().encode(s).length

/** A document name: 1..255 UTF-8 bytes, no NUL; an uploaded file's name is a base name (no / or \\). */
const fileName = (field: string, value: unknown, kind: "file" | "virtual" = "file"): Effect.Effect<string, InvalidInput> =>
  Effect.flatMap(validate.name(field, value, MaxFileNameBytes), (name) =>
    byteLength(name) > MaxFileNameBytes
      ? Effect.fail(invalid(field, `File name must be ${MaxFileNameBytes} bytes or less`))
      : (kind === "file" ? /[/\\\u0000]/ : /\u0000/).test(name)
        ? Effect.fail(invalid(field, `File name can't contain ${kind === "file" ? "/ \\ or " : ""}NUL: ${JSON.stringify(name)}`))
        : Effect.succeed(name)
  )

const isConflict = (e: unknown): e is StoreError => e instanceof StoreError && e.reason === "Conflict"

export const make = (options: DocumentsOptions = {}) =>
  Effect.gen(function* () {
    const store = yield* RecordStore
    const blobs = yield* BlobStore
    const index = yield* ChunkIndex
    const queue = yield* TaskQueue
    const parsers = yield* ParserRegistry
    const maxFileBytes = options.maxFileBytes ?? 512 * 1024 * 1024

    const knowledgeBase = (caller: Caller, rawId: string) =>
      Effect.flatMap(validate.id<KnowledgeBaseId>("kb_id", rawId), (id) => readableKnowledgeBase(store, caller, id))

    /** A document the caller may see, with its knowledge base. */
    const visible = (caller: Caller, rawId: string) =>
      Effect.gen(function* () {
        const id = yield* validate.id<DocumentId>("doc_id", rawId)
        const doc = yield* store.documents.get(id)
        if (Option.isNone(doc)) return yield* Effect.fail(notFound("Document", id))
        const kb = yield* readableKnowledgeBase(store, caller, doc.value.kb_id).pipe(
          Effect.catchTag("NotFound", () => Effect.fail(notFound("Document", id)))
        )
        return { doc: doc.value, kb }
      })

    const visibleAll = (caller: Caller, rawIds: ReadonlyArray<string>) =>
      Effect.flatMap(validate.ids<DocumentId>("doc_ids", rawIds), (ids) => Effect.forEach(ids, (id) => visible(caller, id)))

    /** Adjusts the knowledge base's counters by the given deltas, under its row lock. */
    const adjustCounts = (
      kbId: KnowledgeBaseId,
      delta: { documents?: number; chunks?: number; tokens?: number; size?: number }
    ) =>
      Effect.flatMap(touched, (stamp) =>
        store.knowledgeBases.modify(kbId, (kb) =>
          Effect.succeed(
            new KnowledgeBase({
              ...kb,
              document_count: Math.max(0, kb.document_count + (delta.documents ?? 0)),
              chunk_count: Math.max(0, kb.chunk_count + (delta.chunks ?? 0)),
              token_num: Math.max(0, kb.token_num + (delta.tokens ?? 0)),
              size: Math.max(0, kb.size + (delta.size ?? 0)),
              ...stamp
            })
          )
        )
      )

    /** Inserts the document under its name, or `name(1).ext`, ... when that is taken in the knowledge base. */
    const insertWithFreeName = (doc: Document) =>
      Effect.gen(function* () {
        for (let n = 0; n < 1000; n++) {
          const candidate = new Document({ ...doc, name: numbered(doc.name, n) })
          const inserted = yield* store
            .transaction(
              Effect.zipLeft(
                store.documents.insert(candidate),
                adjustCounts(doc.kb_id, { documents: 1, size: doc.size })
              )
            )
            .pipe(
              Effect.map(Option.some),
              Effect.catchIf(isConflict, () => Effect.succeed(Option.none<Document>()))
            )
          if (Option.isSome(inserted)) return inserted.value
        }
        return yield* Effect.fail(invalid("name", `too many documents named ${doc.name}`))
      })

    const newDocument = (caller: Caller, kb: KnowledgeBase, name: string, size: number, virtual: boolean) =>
      Effect.gen(function* () {
        const suffix = suffixOf(name)
        const type: DocumentType = virtual ? "virtual" : documentType(suffix)
        const parser = parserFor(kb, type, suffix)
        const id = randomHex32() as DocumentId
        return new Document({
          id,
          kb_id: kb.id,
          tenant_id: kb.tenant_id,
          parser_id: parser,
          parser_config: parser === kb.parser_id ? kb.parser_config : mergeParserConfig(parser as ParserId, undefined),
          pipeline_id: kb.pipeline_id,
          source_type: virtual ? "virtual" : "local",
          type,
          created_by: caller.userId,
          name,
          location: virtual ? "" : `${kb.id}/${id}`,
          size,
          thumbnail: "",
          suffix,
          run: "UNSTART",
          progress: 0,
          progress_msg: "",
          process_begin_at: null,
          process_duration: 0,
          chunk_num: 0,
          token_num: 0,
          meta_fields: {},
          status: "1",
          ...(yield* newStamps)
        })
      })

    const upload = Effect.fn("Documents.upload")(function* (caller: Caller, kbId: string, files: ReadonlyArray<UploadFile>) {
      const kb = yield* knowledgeBase(caller, kbId)
      if (files.length === 0) return yield* Effect.fail(invalid("file", "No file part!"))
      // Check every file before storing any.
      const checked = yield* Effect.forEach(files, (file, i) =>
        Effect.gen(function* () {
          const name = yield* fileName(`file[${i}].name`, file.name)
          if (file.bytes.length > maxFileBytes) {
            return yield* Effect.fail(invalid(`file[${i}]`, `${name} is larger than the limit of ${maxFileBytes} bytes`))
          }
          if (Option.isNone(parsers.forFile(name, file.mimeType))) {
            const suffix = suffixOf(name)
            return yield* Effect.fail(
              invalid(
                `file[${i}]`,
                `This type of file has not been supported yet: ${name}${suffix === "" ? " (no extension)" : ` (.${suffix})`}`
              )
            )
          }
          return { file, name }
        })
      )
      const stored: Array<Document> = []
      for (const { file, name } of checked) {
        const draft = yield* newDocument(caller, kb, name, file.bytes.length, false)
        yield* blobs.put(draft.location, file.bytes, file.mimeType === undefined ? {} : { contentType: file.mimeType })
        const doc = yield* insertWithFreeName(draft).pipe(Effect.tapError(() => Effect.ignore(blobs.delete(draft.location))))
        stored.push(doc)
      }
      return stored
    })

    const createVirtual = Effect.fn("Documents.createVirtual")(function* (caller: Caller, kbId: string, rawName: string) {
      const kb = yield* knowledgeBase(caller, kbId)
      const name = yield* fileName("name", rawName, "virtual")
      const draft = yield* newDocument(caller, kb, name, 0, true)
      return yield* store
        .transaction(Effect.zipLeft(store.documents.insert(draft), adjustCounts(kb.id, { documents: 1 })))
        .pipe(
          Effect.catchIf(isConflict, () =>
            Effect.fail(invalid("name", `Duplicated document name in the same dataset: ${name}`))
          )
        )
    })

    const get = Effect.fn("Documents.get")(function* (caller: Caller, docId: string) {
      return (yield* visible(caller, docId)).doc
    })

    const list = Effect.fn("Documents.list")(function* (caller: Caller, kbId: string, query: ListDocuments = {}) {
      const kb = yield* knowledgeBase(caller, kbId)
      const { offset, limit } = yield* validate.paging(query)
      const orderBy = yield* validate.oneOf("orderby", query.orderby ?? "create_time", ["create_time", "update_time", "name", "size"] as const)
      const where: Record<string, Condition> = { kb_id: kb.id }
      if (query.id !== undefined && query.id !== "") where.id = query.id
      if (query.name !== undefined && query.name !== "") where.name = query.name
      if (query.run_status !== undefined && query.run_status.length > 0) where.run = { in: [...query.run_status] }
      if (query.types !== undefined && query.types.length > 0) where.type = { in: [...query.types] }
      if (query.suffix !== undefined && query.suffix.length > 0) where.suffix = { in: query.suffix.map((s) => s.toLowerCase().replace(/^\./, "")) }
      const from = query.create_time_from ?? 0
      const to = query.create_time_to ?? 0
      if (from > 0 || to > 0) where.create_time = { ...(from > 0 ? { gte: from } : {}), ...(to > 0 ? { lte: to } : {}) }
      return yield* store.documents.find({
        where,
        orderBy,
        desc: query.desc ?? true,
        offset,
        limit,
        ...(query.keywords === undefined || query.keywords === "" ? {} : { search: { fields: ["name"], text: query.keywords } })
      })
    })

    const download = Effect.fn("Documents.download")(function* (caller: Caller, docId: string) {
      const { doc } = yield* visible(caller, docId)
      if (doc.location === "") return yield* Effect.fail(invalid("doc_id", `Document ${doc.name} has no file (it is virtual)`))
      return { document: doc, bytes: yield* blobs.get(doc.location) }
    })

    const rename = Effect.fn("Documents.rename")(function* (caller: Caller, docId: string, rawName: string) {
      const { doc } = yield* visible(caller, docId)
      const name = yield* fileName("name", rawName)
      if (suffixOf(name) !== suffixOf(doc.name)) {
        return yield* Effect.fail(invalid("name", "The extension of file can't be changed"))
      }
      const stamp = yield* touched
      const renamed = yield* store.documents
        .modify(doc.id, (latest) => Effect.succeed(new Document({ ...latest, name, ...stamp })))
        .pipe(
          Effect.catchIf(isConflict, () =>
            Effect.fail(
              new AlreadyExists({
                entity: "Document",
                field: "name",
                value: name,
                message: "Duplicated document name in the same dataset."
              })
            )
          )
        )
      return yield* Option.match(renamed, { onNone: () => Effect.fail(notFound("Document", doc.id)), onSome: Effect.succeed })
    })

    /** Applies `f` to the latest version of each document, one transaction per document. */
    const modifyEach = (docs: ReadonlyArray<Document>, f: (doc: Document) => Document) =>
      Effect.forEach(docs, (doc) =>
        Effect.flatMap(store.documents.modify(doc.id, (latest) => Effect.succeed(f(latest))), (next) =>
          Option.match(next, { onNone: () => Effect.fail(notFound("Document", doc.id)), onSome: Effect.succeed })
        )
      )

    const setStatus = Effect.fn("Documents.setStatus")(function* (caller: Caller, docIds: ReadonlyArray<string>, raw: string) {
      const status: Status = yield* validate.oneOf("status", raw, ["0", "1"] as const)
      const found = yield* visibleAll(caller, docIds)
      const stamp = yield* touched
      return yield* modifyEach(found.map((f) => f.doc), (doc) => new Document({ ...doc, status, ...stamp }))
    })

    /** Drops a document's chunks and takes its counts off the knowledge base. */
    const resetDocument = (doc: Document, run: RunStatus) =>
      Effect.gen(function* () {
        yield* queue.cancelKey(doc.id)
        const stamp = yield* touched
        const reset = yield* store.transaction(
          Effect.gen(function* () {
            const latest = yield* store.documents.modify(doc.id, (d) =>
              Effect.succeed(
                new Document({ ...d, run, progress: 0, progress_msg: "", chunk_num: 0, token_num: 0, process_duration: 0, ...stamp })
              )
            )
            yield* adjustCounts(doc.kb_id, { chunks: -doc.chunk_num, tokens: -doc.token_num })
            return latest
          })
        )
        yield* index.deleteByDocument(doc.kb_id, doc.id)
        return reset
      })

    const changeParser = Effect.fn("Documents.changeParser")(function* (
      caller: Caller,
      docId: string,
      rawParser: string,
      parserConfig?: Record<string, unknown>
    ) {
      const { doc } = yield* visible(caller, docId)
      if (!isParserId(rawParser)) {
        return yield* Effect.fail(invalid("parser_id", `Unsupported parser id ${JSON.stringify(rawParser)}; use one of ${ParserIds.join(", ")}`))
      }
      const given = parserConfig === undefined ? undefined : yield* validate.object("parser_config", parserConfig)
      const config = rawParser === doc.parser_id ? { ...doc.parser_config, ...given } : mergeParserConfig(rawParser, given)
      if (rawParser === doc.parser_id && JSON.stringify(config) === JSON.stringify(doc.parser_config)) return doc
      if (doc.type === "visual" && rawParser !== "picture") {
        return yield* Effect.fail(invalid("parser_id", "Not supported yet! An image can only be parsed with the picture method"))
      }
      yield* resetDocument(doc, "UNSTART")
      const stamp = yield* touched
      const [changed] = yield* modifyEach([doc], (d) => new Document({ ...d, parser_id: rawParser, parser_config: config, ...stamp }))
      return changed!
    })

    const parse = Effect.fn("Documents.parse")(function* (caller: Caller, docIds: ReadonlyArray<string>) {
      const found = yield* visibleAll(caller, docIds)
      for (const { doc } of found) {
        if (doc.type === "virtual") return yield* Effect.fail(invalid("doc_ids", `Document ${doc.name} is virtual and has nothing to parse`))
      }
      return yield* Effect.forEach(found, ({ doc }) =>
        Effect.gen(function* () {
          yield* queue.cancelKey(doc.id)
          const stamp = yield* touched
          const [running] = yield* modifyEach([doc], (d) =>
            new Document({ ...d, run: "RUNNING", progress: 0, progress_msg: "", process_begin_at: stamp.update_time, process_duration: 0, ...stamp })
          )
          yield* queue.enqueue({ kind: ParseTaskKind, key: doc.id, payload: { doc_id: doc.id, kb_id: doc.kb_id, tenant_id: doc.tenant_id } })
          return running!
        })
      )
    })

    const cancel = Effect.fn("Documents.cancel")(function* (caller: Caller, docIds: ReadonlyArray<string>) {
      const found = yield* visibleAll(caller, docIds)
      for (const { doc } of found) {
        if (doc.run !== "RUNNING") {
          return yield* Effect.fail(invalid("doc_ids", `Can't stop parsing document ${doc.name}: it is not being parsed (${doc.run})`))
        }
      }
      return yield* Effect.forEach(found, ({ doc }) =>
        Effect.gen(function* () {
          yield* queue.cancelKey(doc.id)
          const stamp = yield* touched
          const [canceled] = yield* modifyEach([doc], (d) =>
            new Document({ ...d, run: "CANCEL", progress_msg: d.progress_msg === "" ? "Canceled." : `${d.progress_msg}\nCanceled.`, ...stamp })
          )
          return canceled!
        })
      )
    })

    const remove = Effect.fn("Documents.remove")(function* (caller: Caller, docIds: ReadonlyArray<string>) {
      const found = yield* visibleAll(caller, docIds)
      // Records first, in one transaction: on failure nothing changes.
      yield* store.transaction(
        Effect.forEach(found, ({ doc }) =>
          Effect.zipRight(
            store.documents.remove([doc.id]),
            adjustCounts(doc.kb_id, { documents: -1, chunks: -doc.chunk_num, tokens: -doc.token_num, size: -doc.size })
          )
        )
      )
      yield* Effect.forEach(
        found,
        ({ doc }) =>
          Effect.all([
            queue.cancelKey(doc.id),
            index.deleteByDocument(doc.kb_id, doc.id),
            doc.location === "" ? Effect.void : blobs.delete(doc.location)
          ]),
        { discard: true }
      )
      return found.length
    })

    return Documents.of({ upload, createVirtual, get, list, download, rename, setStatus, changeParser, parse, cancel, remove })
  })

/** Requires RecordStore, BlobStore, ChunkIndex, TaskQueue and ParserRegistry. */
export const layer = (options: DocumentsOptions = {}) => Layer.effect(Documents, make(options))
