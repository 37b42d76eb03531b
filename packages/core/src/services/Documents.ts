/**
 * Documents: the files of a knowledge base. Upload stores the bytes in the BlobStore and a
 * document record (`run: UNSTART`); parsing is queued on the TaskQueue and done by the ingestion
 * worker. Every method checks that the caller may see the document's knowledge base.
 *
 * A document's run state (`run`, `progress`, ...) and the counts a run adds to its knowledge base
 * are written by the ingestion side's run owner (`internal/DocumentRuns`), never here.
 */
import { Context, Effect, Layer, Option, Queue, Schema, type Scope, Stream } from "effect"
import type { Caller } from "../domain/Caller.js"
import { checkParserConfig, ChunkMethodId, mergeParserConfig } from "../domain/ChunkMethods.js"
import {
  AlreadyExists,
  type BlobStoreError,
  type ChunkIndexError,
  type InvalidInput,
  invalid,
  type NotFound,
  notFound,
  StoreError,
  TooLarge
} from "../domain/Errors.js"
import * as Fields from "../domain/Fields.js"
import { decodeRequest } from "../domain/Fields.js"
import { DocumentId, KnowledgeBaseId, randomHex32 } from "../domain/Ids.js"
import { Document, DocumentType, KnowledgeBase, RunStatus, Status } from "../domain/Records.js"
import { newStamps, touched } from "../domain/Time.js"
import { BlobStore } from "../ports/BlobStore.js"
import { ParserRegistry } from "../ports/Parser.js"
import type { Condition } from "../ports/RecordStore.js"
import { RecordStore } from "../ports/RecordStore.js"
import { readableKnowledgeBase } from "./internal/access.js"
import { type DocumentChange, DocumentChanges } from "./DocumentChanges.js"
import * as DocumentRuns from "./internal/DocumentRuns.js"

/** The task kind the ingestion worker claims. */
export const ParseTaskKind = DocumentRuns.ParseTaskKind

// ---------------------------------------------------------------------------------------------
// Requests and results

/** RAGFlow's limit on file names, in UTF-8 bytes. */
export const MaxFileNameBytes = 255

const utf8 = new TextEncoder()

/** A document name: trimmed, 1..255 UTF-8 bytes, none of the `forbidden` characters. */
const documentName = (forbidden: RegExp, which: string) =>
  Fields.Name(MaxFileNameBytes).pipe(
    Schema.filter((s) => utf8.encode(s).length <= MaxFileNameBytes, {
      message: () => `is longer than ${MaxFileNameBytes} bytes (UTF-8)`
    }),
    Schema.filter((s) => !forbidden.test(s), { message: () => `can't contain ${which}` })
  ).annotations({
    description: `trimmed; 1 to ${MaxFileNameBytes} UTF-8 bytes; no ${which}`,
    jsonSchema: { type: "string", minLength: 1, maxLength: MaxFileNameBytes }
  })

/** The name of an uploaded file: a base name, without `/`, `\` or NUL. */
export const FileName = documentName(/[/\\\u0000]/, "/, \\ or NUL")

/** The name of a virtual document (a link, a title): anything but NUL. */
export const VirtualName = documentName(/\u0000/, "NUL")

export const UploadFile = Schema.Struct({
  name: FileName,
  bytes: Schema.Uint8ArrayFromSelf.annotations({
    message: () => ({ message: "must be bytes (a Uint8Array)", override: true }),
    jsonSchema: { type: "string", format: "binary" }
  }),
  mime_type: Schema.optional(Fields.Text(255))
})
export type UploadFile = typeof UploadFile.Type

export const UploadRequest = Schema.Struct({
  kb_id: KnowledgeBaseId,
  files: Fields.List(UploadFile).pipe(Schema.minItems(1, { message: () => "can't be empty" }))
})
export type UploadRequest = typeof UploadRequest.Type

const NamedFile = Schema.Struct({ name: FileName })

/** Where streamed files go (`uploadStream`): the files come as a stream beside it. */
export const UploadStreamRequest = Schema.Struct({ kb_id: KnowledgeBaseId })
export type UploadStreamRequest = typeof UploadStreamRequest.Type

/**
 * A file whose bytes arrive as a stream (an HTTP upload), stored as they come. Its name is checked
 * as `UploadFile`'s (`FileName`) when it arrives.
 */
export interface StreamedFile<E> {
  readonly name: string
  readonly mime_type?: string | undefined
  readonly content: Stream.Stream<Uint8Array, E>
}

/** A file of an `upload` call: its bytes in hand. */
interface FileInHand {
  readonly name: string
  readonly mime_type?: string | undefined
  readonly bytes: Uint8Array
}

/** Documents, in the order of the request. */
export const DocumentList = Schema.Array(Document)
export type DocumentList = typeof DocumentList.Type

export const CreateVirtualRequest = Schema.Struct({ kb_id: KnowledgeBaseId, name: VirtualName })
export type CreateVirtualRequest = typeof CreateVirtualRequest.Type

/** `kb_id`, when given, is where the document must be (else it is not found). */
const inKnowledgeBase = { kb_id: Schema.optional(KnowledgeBaseId) }

export const GetRequest = Schema.Struct({ doc_id: DocumentId, ...inKnowledgeBase })
export type GetRequest = typeof GetRequest.Type

/** A file extension: lower-cased, without the dot (`.PDF` is `pdf`). */
const Suffix = Schema.transform(Fields.Text(32), Schema.String, {
  strict: true,
  decode: (s) => s.trim().toLowerCase().replace(/^\./, ""),
  encode: (s) => s
})

export const ListRequest = Schema.Struct({
  kb_id: KnowledgeBaseId,
  ...Fields.paging(),
  ...Fields.ordering("create_time", "update_time", "name", "size"),
  /** Case-insensitive substring of the name. */
  keywords: Schema.optional(Fields.Text(255)),
  id: Schema.optional(DocumentId),
  /** Only these documents (any when absent or empty). */
  ids: Schema.optional(Fields.IdList(DocumentId)),
  /** Exact name; empty means any. */
  name: Schema.optional(Fields.Text(255)),
  /** Epoch ms, inclusive; 0 or absent means no bound. */
  create_time_from: Schema.optional(Fields.IntIn(0, Number.MAX_SAFE_INTEGER)),
  create_time_to: Schema.optional(Fields.IntIn(0, Number.MAX_SAFE_INTEGER)),
  run_status: Schema.optional(Fields.List(RunStatus)),
  types: Schema.optional(Fields.List(Fields.OneOf(...DocumentType.literals))),
  suffix: Schema.optional(Fields.List(Suffix))
})
export type ListRequest = typeof ListRequest.Type

export const ListResult = Fields.Page(Document)
export type ListResult = typeof ListResult.Type

export const DownloadRequest = GetRequest
export type DownloadRequest = GetRequest

export const DownloadResult = Schema.Struct({ document: Document, bytes: Schema.Uint8ArrayFromSelf })
export type DownloadResult = typeof DownloadResult.Type

export const RenameRequest = Schema.Struct({ doc_id: DocumentId, name: FileName })
export type RenameRequest = typeof RenameRequest.Type

export const SetStatusRequest = Schema.Struct({ doc_ids: Fields.IdList(DocumentId), status: Status })
export type SetStatusRequest = typeof SetStatusRequest.Type

export const ChangeParserRequest = Schema.Struct({
  doc_id: DocumentId,
  parser_id: ChunkMethodId,
  /**
   * Merged over the current config (same method) or the method's defaults (another one); only the
   * method's settings, checked against it (`ChunkMethods.ParserConfig`).
   */
  parser_config: Schema.optional(Fields.JsonObject)
}).pipe(checkParserConfig)
export type ChangeParserRequest = typeof ChangeParserRequest.Type

export const DocIdsRequest = Schema.Struct({ doc_ids: Fields.IdList(DocumentId), ...inKnowledgeBase })
export type DocIdsRequest = typeof DocIdsRequest.Type

/** `delete_all` (with `kb_id`, without `doc_ids`) deletes every document of the knowledge base. */
export const RemoveRequest = Schema.Struct({ ...DocIdsRequest.fields, delete_all: Schema.optional(Schema.Boolean) })
export type RemoveRequest = typeof RemoveRequest.Type

/**
 * Several changes to one document at once (RAGFlow's document update); absent fields keep their
 * value. `parser_config` without `parser_id` is merged over the current config of the current method.
 */
export const UpdateRequest = Schema.Struct({
  doc_id: DocumentId,
  ...inKnowledgeBase,
  name: Schema.optional(FileName),
  parser_id: Schema.optional(ChunkMethodId),
  parser_config: Schema.optional(Fields.JsonObject),
  /** `"1"` enabled, `"0"` disabled. */
  status: Schema.optional(Status),
  /** Replaces the document's metadata. */
  meta_fields: Schema.optional(Fields.JsonObject)
}).pipe(checkParserConfig)
export type UpdateRequest = typeof UpdateRequest.Type

/** How many documents were deleted. */
export const RemoveResult = Fields.Count

/**
 * Whose changes `changes` gives: a knowledge base's (which the caller may read), or else every
 * document of the caller's own tenant; only these documents when `doc_ids` is given and not empty.
 */
export const ChangesRequest = Schema.Struct({
  kb_id: Schema.optional(KnowledgeBaseId),
  doc_ids: Schema.optional(Fields.IdList(DocumentId))
})
export type ChangesRequest = typeof ChangesRequest.Type

/** Each method's request and result, for the surfaces that decode what callers send. */
export const Operations = {
  upload: Fields.operation(UploadRequest, DocumentList),
  createVirtual: Fields.operation(CreateVirtualRequest, Document),
  get: Fields.operation(GetRequest, Document),
  list: Fields.operation(ListRequest, ListResult),
  download: Fields.operation(DownloadRequest, DownloadResult),
  rename: Fields.operation(RenameRequest, Document),
  setStatus: Fields.operation(SetStatusRequest, DocumentList),
  changeParser: Fields.operation(ChangeParserRequest, Document),
  update: Fields.operation(UpdateRequest, Document),
  parse: Fields.operation(DocIdsRequest, DocumentList),
  cancel: Fields.operation(DocIdsRequest, DocumentList),
  remove: Fields.operation(RemoveRequest, RemoveResult)
}

// ---------------------------------------------------------------------------------------------
// The service

export interface DocumentsOptions {
  /** Largest accepted file, in bytes: a larger one fails `TooLarge`. Default 512 MiB. */
  readonly maxFileBytes?: number
}

type DocError = InvalidInput | NotFound | StoreError

export interface DocumentsService {
  /** Stores the files; refuses the whole call, storing nothing, when any file is unacceptable. */
  readonly upload: (caller: Caller, request: UploadRequest) => Effect.Effect<DocumentList, DocError | TooLarge | BlobStoreError>
  /**
   * Stores files whose bytes arrive as streams, one after the other (the parts of a multipart
   * upload), each written to the blob store as it comes and never held whole. A file is checked
   * (name, type) when it arrives and counted against `maxFileBytes` while it streams; when any file
   * is refused or a stream fails, the files stored so far are removed and no document is made. Not
   * an operation: its files are a stream, which the Promise client does not take.
   */
  readonly uploadStream: <E>(
    caller: Caller,
    request: UploadStreamRequest,
    files: Stream.Stream<StreamedFile<E>, E>
  ) => Effect.Effect<DocumentList, DocError | TooLarge | BlobStoreError | E>
  /** A document without a file (a link or a placeholder to add chunks to by hand). */
  readonly createVirtual: (caller: Caller, request: CreateVirtualRequest) => Effect.Effect<Document, DocError>
  readonly get: (caller: Caller, request: GetRequest) => Effect.Effect<Document, NotFound | StoreError>
  readonly list: (caller: Caller, request: ListRequest) => Effect.Effect<ListResult, NotFound | StoreError>
  /** The original bytes. */
  readonly download: (caller: Caller, request: DownloadRequest) => Effect.Effect<DownloadResult, DocError | BlobStoreError>
  /** Renames; the extension must stay and the name must be free in the knowledge base. */
  readonly rename: (caller: Caller, request: RenameRequest) => Effect.Effect<Document, DocError | AlreadyExists>
  /** Enables (`"1"`) or disables (`"0"`) documents for retrieval. */
  readonly setStatus: (caller: Caller, request: SetStatusRequest) => Effect.Effect<DocumentList, NotFound | StoreError>
  /** Changes the chunk method; a changed method resets the document and drops its chunks and images. */
  readonly changeParser: (caller: Caller, request: ChangeParserRequest) => Effect.Effect<Document, DocError | ChunkIndexError | BlobStoreError>
  /**
   * Renames, changes the chunk method or its config, enables or disables, and replaces the
   * metadata, in that order; every change is checked before any is made.
   */
  readonly update: (caller: Caller, request: UpdateRequest) => Effect.Effect<Document, DocError | AlreadyExists | ChunkIndexError | BlobStoreError>
  /**
   * Queues parsing (`run: RUNNING`); any earlier task of the document is canceled, and the chunks
   * and images of its earlier runs are dropped (with their counts).
   */
  readonly parse: (caller: Caller, request: DocIdsRequest) => Effect.Effect<DocumentList, DocError | ChunkIndexError | BlobStoreError>
  /** Stops parsing (`run: CANCEL`). */
  readonly cancel: (caller: Caller, request: DocIdsRequest) => Effect.Effect<DocumentList, DocError>
  /** Deletes documents with their chunks, bytes and extracted images; all ids must be visible, else nothing is deleted. */
  readonly remove: (caller: Caller, request: RemoveRequest) => Effect.Effect<number, InvalidInput | NotFound | StoreError | ChunkIndexError | BlobStoreError>
  /**
   * The run state changes of the caller's documents (`ChangesRequest`), as the ingestion worker and
   * callers make them in this process (see `DocumentChanges`): subscribed when the effect succeeds,
   * so a host subscribes, then queues parsing, and misses nothing; the stream ends with the scope.
   * Not an operation (its result is a stream), as `Completions.stream`; the Promise client has
   * `documents.changes` as an async iterable.
   */
  readonly changes: (
    caller: Caller,
    request: ChangesRequest
  ) => Effect.Effect<Stream.Stream<DocumentChange>, NotFound | StoreError, Scope.Scope>
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
const parserFor = (kb: KnowledgeBase, type: DocumentType, suffix: string): ChunkMethodId =>
  type === "visual" ? "picture" : type === "aural" ? "audio" : ["ppt", "pptx", "pages"].includes(suffix) ? "presentation" : suffix === "eml" ? "email" : kb.parser_id

/** `name(1).ext`, `name(2).ext`, ... */
const numbered = (name: string, n: number): string => {
  if (n === 0) return name
  const suffix = suffixOf(name)
  const stem = suffix === "" ? name : name.slice(0, name.length - suffix.length - 1)
  return suffix === "" ? `${stem}(${n})` : `${stem}(${n}).${name.slice(name.length - suffix.length)}`
}

const isConflict = (e: unknown): e is StoreError => e instanceof StoreError && e.reason === "Conflict"

export const make = (options: DocumentsOptions = {}) =>
  Effect.gen(function* () {
    const store = yield* RecordStore
    const blobs = yield* BlobStore
    const parsers = yield* ParserRegistry
    const runs = yield* DocumentRuns.make
    const hub = yield* DocumentChanges
    const maxFileBytes = options.maxFileBytes ?? 512 * 1024 * 1024
    /** Files of one `upload` call (bytes in hand) written to the blob store at once. */
    const uploadConcurrency = 8

    /** A document the caller may see, with its knowledge base. */
    const visible = (caller: Caller, id: DocumentId, kbId?: KnowledgeBaseId) =>
      Effect.gen(function* () {
        const doc = yield* store.documents.get(id)
        if (Option.isNone(doc) || (kbId !== undefined && doc.value.kb_id !== kbId)) return yield* Effect.fail(notFound("Document", id))
        const kb = yield* readableKnowledgeBase(store, caller, doc.value.kb_id).pipe(
          Effect.catchTag("NotFound", () => Effect.fail(notFound("Document", id)))
        )
        return { doc: doc.value, kb }
      })

    /**
     * The documents, in the order of `ids`, all of them visible to the caller, or `NotFound` for the
     * first that is not: one read of the documents and one check per knowledge base.
     */
    const visibleDocs = (caller: Caller, ids: ReadonlyArray<DocumentId>, kbId?: KnowledgeBaseId) =>
      Effect.gen(function* () {
        const found = new Map((yield* store.documents.getMany([...new Set(ids)])).map((doc) => [doc.id, doc] as const))
        const readable = new Map<string, boolean>()
        const docs: Array<Document> = []
        for (const id of ids) {
          const doc = found.get(id)
          if (doc === undefined || (kbId !== undefined && doc.kb_id !== kbId)) return yield* Effect.fail(notFound("Document", id))
          let canRead = readable.get(doc.kb_id)
          if (canRead === undefined) {
            canRead = yield* readableKnowledgeBase(store, caller, doc.kb_id).pipe(
              Effect.as(true),
              Effect.catchTag("NotFound", () => Effect.succeed(false))
            )
            readable.set(doc.kb_id, canRead)
          }
          if (!canRead) return yield* Effect.fail(notFound("Document", id))
          docs.push(doc)
        }
        return docs
      })

    /** Adjusts the knowledge base's document count and size, under its row lock. */
    const adjustCounts = (kbId: KnowledgeBaseId, documents: number, size: number) =>
      Effect.flatMap(touched, (stamp) =>
        store.knowledgeBases.modify(kbId, (kb) =>
          Effect.succeed(
            new KnowledgeBase({
              ...kb,
              document_count: Math.max(0, kb.document_count + documents),
              size: Math.max(0, kb.size + size),
              ...stamp
            })
          )
        )
      )

    /**
     * Inserts the document under its name, or `name(1).ext`, ... when that is taken in the knowledge
     * base, trying from `name(from)` (0: the name itself). (A taken name fails the insert alone, not
     * the caller's transaction.)
     */
    const insertWithFreeName = (doc: Document, from = 0) =>
      Effect.gen(function* () {
        for (let n = from; n < 1000; n++) {
          const candidate = new Document({ ...doc, name: numbered(doc.name, n) })
          const inserted = yield* store.documents
            .insert(candidate)
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
          parser_config: parser === kb.parser_id ? kb.parser_config : mergeParserConfig(parser, undefined),
          pipeline_id: kb.pipeline_id,
          source_type: virtual ? "virtual" : "local",
          type,
          created_by: caller.userId,
          name,
          location: virtual ? "" : `${kb.id}/${id}`,
          size,
          thumbnail: "",
          suffix,
          ...DocumentRuns.notStarted,
          meta_fields: {},
          status: "1",
          ...(yield* newStamps)
        })
      })

    const tooLarge = (i: number, name: string) =>
      new TooLarge({ field: `files[${i}]`, limit: maxFileBytes, message: `${name} is larger than the limit of ${maxFileBytes} bytes` })

    /** A file the knowledge base can take: a parser reads its type. */
    const checkType = (i: number, name: string, mimeType: string | undefined) => {
      if (Option.isSome(parsers.forFile(name, mimeType))) return Effect.void
      const suffix = suffixOf(name)
      return Effect.fail(
        invalid(`files[${i}]`, `This type of file has not been supported yet: ${name}${suffix === "" ? " (no extension)" : ` (.${suffix})`}`)
      )
    }

    /** The bytes of file `i`, failing `TooLarge` once they pass the limit. */
    const limited = <E>(i: number, name: string, content: Stream.Stream<Uint8Array, E>) =>
      Stream.suspend(() => {
        let size = 0
        return Stream.mapEffect(content, (chunk) => {
          size += chunk.length
          return size > maxFileBytes ? Effect.fail(tooLarge(i, name)) : Effect.succeed(chunk)
        })
      })

    /**
     * Stores the files' bytes (`concurrency` at a time: 1 for files that stream in, since each must
     * be read whole before the next; a file whose `bytes` are in hand is written in one put), then
     * their documents, in the order given; on any failure (a refused file, a failed stream, a failed
     * insert) every blob written or begun is removed.
     */
    const store_ = <E>(
      caller: Caller,
      kb: KnowledgeBase,
      files: Stream.Stream<StreamedFile<E> | FileInHand, E>,
      concurrency = 1
    ) =>
      Effect.gen(function* () {
        const begun: Array<string> = []
        const removeBlobs = Effect.suspend(() =>
          Effect.forEach(begun, (location) => Effect.ignore(blobs.delete(location)), { discard: true, concurrency: 8 }))
        const drafts = yield* Stream.runCollect(Stream.mapEffect(Stream.zipWithIndex(files), ([file, i]) =>
          Effect.gen(function* () {
            const { name } = yield* decodeRequest(NamedFile)({ name: file.name }).pipe(
              Effect.mapError((e) => invalid(`files[${i}].name`, e.message.replace(/^name/, `files[${i}].name`)))
            )
            yield* checkType(i, name, file.mime_type)
            const draft = yield* newDocument(caller, kb, name, 0, false)
            begun.push(draft.location)
            const options = file.mime_type === undefined ? {} : { contentType: file.mime_type }
            const size = "bytes" in file
              ? yield* Effect.as(blobs.put(draft.location, file.bytes, options), file.bytes.length)
              : yield* blobs.putStream(draft.location, limited(i, name, file.content), options)
            return new Document({ ...draft, size })
          }), { concurrency })
        ).pipe(Effect.map((stored) => Array.from(stored)), Effect.onError(() => removeBlobs))
        if (drafts.length === 0) return yield* Effect.fail(invalid("files", "files can't be empty"))
        // One transaction for the files of a call: all of them or none, the counters moved once.
        return yield* store
          .transaction(
            Effect.gen(function* () {
              // Every file whose name is free in one write; then the others, in order, numbered.
              const inserted = new Set((yield* store.documents.insertNew(drafts)).map((doc) => doc.id))
              const stored: Array<Document> = []
              for (const draft of drafts) stored.push(inserted.has(draft.id) ? draft : yield* insertWithFreeName(draft, 1))
              yield* adjustCounts(kb.id, stored.length, stored.reduce((n, d) => n + d.size, 0))
              return stored
            })
          )
          .pipe(Effect.onError(() => removeBlobs))
      })

    const upload = Effect.fn("Documents.upload")(function* (caller: Caller, request: UploadRequest) {
      const kb = yield* readableKnowledgeBase(store, caller, request.kb_id)
      // Check every file before storing any: the size is the deployment's limit, the type needs a parser.
      yield* Effect.forEach(request.files, (file, i): Effect.Effect<void, InvalidInput | TooLarge> =>
        file.bytes.length > maxFileBytes ? Effect.fail(tooLarge(i, file.name)) : checkType(i, file.name, file.mime_type)
      )
      return yield* store_(
        caller,
        kb,
        Stream.fromIterable(request.files.map((file): FileInHand => ({ name: file.name, mime_type: file.mime_type, bytes: file.bytes }))),
        uploadConcurrency
      )
    })

    const uploadStream = <E>(caller: Caller, request: UploadStreamRequest, files: Stream.Stream<StreamedFile<E>, E>) =>
      Effect.flatMap(readableKnowledgeBase(store, caller, request.kb_id), (kb) => store_(caller, kb, files)).pipe(
        Effect.withSpan("Documents.uploadStream", { attributes: { kb_id: request.kb_id } })
      )

    const createVirtual = Effect.fn("Documents.createVirtual")(function* (caller: Caller, request: CreateVirtualRequest) {
      const kb = yield* readableKnowledgeBase(store, caller, request.kb_id)
      const draft = yield* newDocument(caller, kb, request.name, 0, true)
      return yield* store
        .transaction(Effect.zipLeft(store.documents.insert(draft), adjustCounts(kb.id, 1, 0)))
        .pipe(
          Effect.catchIf(isConflict, () =>
            Effect.fail(invalid("name", `Duplicated document name in the same dataset: ${request.name}`))
          )
        )
    })

    const get = Effect.fn("Documents.get")(function* (caller: Caller, request: GetRequest) {
      return (yield* visible(caller, request.doc_id, request.kb_id)).doc
    })

    const list = Effect.fn("Documents.list")(function* (caller: Caller, request: ListRequest) {
      const kb = yield* readableKnowledgeBase(store, caller, request.kb_id)
      const where: Record<string, Condition> = { kb_id: kb.id }
      if (request.id !== undefined) where.id = request.id
      else if (request.ids !== undefined && request.ids.length > 0) where.id = { in: [...request.ids] }
      if (request.name !== undefined && request.name !== "") where.name = request.name
      if (request.run_status !== undefined && request.run_status.length > 0) where.run = { in: [...request.run_status] }
      if (request.types !== undefined && request.types.length > 0) where.type = { in: [...request.types] }
      if (request.suffix !== undefined && request.suffix.length > 0) where.suffix = { in: [...request.suffix] }
      const from = request.create_time_from ?? 0
      const to = request.create_time_to ?? 0
      if (from > 0 || to > 0) where.create_time = { ...(from > 0 ? { gte: from } : {}), ...(to > 0 ? { lte: to } : {}) }
      const keywords = request.keywords?.trim() ?? ""
      return yield* store.documents.find({
        where,
        orderBy: request.orderby,
        desc: request.desc,
        offset: (request.page - 1) * request.page_size,
        limit: request.page_size,
        ...(keywords === "" ? {} : { search: { fields: ["name"], text: keywords } })
      })
    })

    const download = Effect.fn("Documents.download")(function* (caller: Caller, request: DownloadRequest) {
      const { doc } = yield* visible(caller, request.doc_id, request.kb_id)
      if (doc.location === "") return yield* Effect.fail(invalid("doc_id", `Document ${doc.name} has no file (it is virtual)`))
      return { document: doc, bytes: yield* blobs.get(doc.location) }
    })

    /** Applies `f` to the latest version of the document. */
    const modify = (doc: Document, f: (doc: Document) => Document) =>
      Effect.flatMap(store.documents.modify(doc.id, (latest) => Effect.succeed(f(latest))), (next) =>
        Option.match(next, { onNone: () => Effect.fail(notFound("Document", doc.id)), onSome: Effect.succeed })
      )

    const nameTaken = (name: string) =>
      <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | AlreadyExists, R> =>
        Effect.catchIf(self, (e): e is E & StoreError => isConflict(e), () =>
          Effect.fail(new AlreadyExists({ entity: "Document", field: "name", value: name, message: "Duplicated document name in the same dataset." }))
        )

    /** The extension of a document's name stays. */
    const checkRename = (doc: Document, name: string) =>
      suffixOf(name) === suffixOf(doc.name) ? Effect.void : Effect.fail(invalid("name", "The extension of file can't be changed"))

    const renamed = (doc: Document, name: string) =>
      Effect.flatMap(touched, (stamp) => modify(doc, (latest) => new Document({ ...latest, name, ...stamp }))).pipe(nameTaken(name))

    /** The chunk method and config a change asks for, or none when nothing changes. */
    const parserChange = (doc: Document, parser: ChunkMethodId, requested: typeof Fields.JsonObject.Type | undefined) => {
      const config = parser === doc.parser_id ? { ...doc.parser_config, ...requested } : mergeParserConfig(parser, requested)
      if (parser === doc.parser_id && JSON.stringify(config) === JSON.stringify(doc.parser_config)) return Effect.succeed(Option.none())
      if (doc.type === "visual" && parser !== "picture") {
        return Effect.fail(invalid("parser_id", "Not supported yet! An image can only be parsed with the picture method"))
      }
      return Effect.succeed(Option.some({ parser, config }))
    }

    // A new method makes the chunks stale: the run is forgotten in the same write.
    const reparsed = (doc: Document, change: { readonly parser: ChunkMethodId; readonly config: typeof Fields.JsonObject.Type }) =>
      runs.reset(doc, (d) => new Document({ ...d, parser_id: change.parser, parser_config: change.config }))

    const rename = Effect.fn("Documents.rename")(function* (caller: Caller, request: RenameRequest) {
      const { doc } = yield* visible(caller, request.doc_id)
      yield* checkRename(doc, request.name)
      return yield* renamed(doc, request.name)
    })

    const setStatus = Effect.fn("Documents.setStatus")(function* (caller: Caller, request: SetStatusRequest) {
      const docs = yield* visibleDocs(caller, request.doc_ids)
      const stamp = yield* touched
      return yield* Effect.forEach(docs, (doc) => modify(doc, (latest) => new Document({ ...latest, status: request.status, ...stamp })))
    })

    const changeParser = Effect.fn("Documents.changeParser")(function* (caller: Caller, request: ChangeParserRequest) {
      const { doc } = yield* visible(caller, request.doc_id)
      const change = yield* parserChange(doc, request.parser_id, request.parser_config)
      return Option.isNone(change) ? doc : yield* reparsed(doc, change.value)
    })

    const update = Effect.fn("Documents.update")(function* (caller: Caller, request: UpdateRequest) {
      let { doc } = yield* visible(caller, request.doc_id, request.kb_id)
      const name = request.name !== undefined && request.name !== doc.name ? request.name : undefined
      if (name !== undefined) yield* checkRename(doc, name)
      const change = request.parser_id === undefined && request.parser_config === undefined
        ? Option.none()
        : yield* parserChange(doc, request.parser_id ?? doc.parser_id, request.parser_config)
      if (name !== undefined) doc = yield* renamed(doc, name)
      if (Option.isSome(change)) doc = yield* reparsed(doc, change.value)
      if (request.status !== undefined || request.meta_fields !== undefined) {
        const stamp = yield* touched
        doc = yield* modify(doc, (latest) =>
          new Document({ ...latest, status: request.status ?? latest.status, meta_fields: request.meta_fields ?? latest.meta_fields, ...stamp })
        )
      }
      return doc
    })

    const parse = Effect.fn("Documents.parse")(function* (caller: Caller, request: DocIdsRequest) {
      const docs = yield* visibleDocs(caller, request.doc_ids, request.kb_id)
      const virtual = docs.find((doc) => doc.type === "virtual")
      if (virtual !== undefined) return yield* Effect.fail(invalid("doc_ids", `Document ${virtual.name} is virtual and has nothing to parse`))
      return yield* runs.startMany(docs)
    })

    const cancel = Effect.fn("Documents.cancel")(function* (caller: Caller, request: DocIdsRequest) {
      const docs = yield* visibleDocs(caller, request.doc_ids, request.kb_id)
      const idle = docs.find((doc) => doc.run !== "RUNNING")
      if (idle !== undefined) {
        return yield* Effect.fail(invalid("doc_ids", `Can't stop parsing document ${idle.name}: it is not being parsed (${idle.run})`))
      }
      return yield* Effect.forEach(docs, runs.cancel)
    })

    const remove = Effect.fn("Documents.remove")(function* (caller: Caller, request: RemoveRequest) {
      const docs = yield* Effect.gen(function* () {
        if (request.delete_all !== true) return yield* visibleDocs(caller, request.doc_ids, request.kb_id)
        if (request.kb_id === undefined || request.doc_ids.length > 0) {
          return yield* Effect.fail(invalid("delete_all", "delete_all takes kb_id and no doc_ids"))
        }
        const kb = yield* readableKnowledgeBase(store, caller, request.kb_id)
        return (yield* store.documents.find({ where: { kb_id: kb.id } })).items
      })
      // Records first, in one transaction: on failure nothing changes.
      yield* store.transaction(
        Effect.forEach(docs, (doc) =>
          Effect.all([store.documents.remove([doc.id]), adjustCounts(doc.kb_id, -1, -doc.size), runs.uncount(doc)])
        )
      )
      yield* Effect.forEach(
        docs,
        (doc) => Effect.all([runs.discard(doc), doc.location === "" ? Effect.void : blobs.delete(doc.location)]),
        { discard: true }
      )
      return docs.length
    })

    const changes = (caller: Caller, request: ChangesRequest) =>
      Effect.gen(function* () {
        const kbId = request.kb_id
        if (kbId !== undefined) yield* readableKnowledgeBase(store, caller, kbId)
        const ids = request.doc_ids === undefined || request.doc_ids.length === 0 ? undefined : new Set<string>(request.doc_ids)
        const subscription = yield* hub.subscribe
        return Stream.fromQueue(subscription).pipe(
          Stream.filter((change) =>
            (kbId === undefined ? change.tenant_id === caller.tenantId : change.kb_id === kbId) &&
            (ids === undefined || ids.has(change.doc_id))
          ),
          Stream.ensuring(Queue.shutdown(subscription))
        )
      }).pipe(Effect.withSpan("Documents.changes"))

    return Documents.of({ upload, uploadStream, createVirtual, get, list, download, rename, setStatus, changeParser, update, parse, cancel, remove, changes })
  })

/** Requires RecordStore, BlobStore, ChunkIndex, TaskQueue, ParserRegistry and DocumentChanges. */
export const layer = (options: DocumentsOptions = {}) => Layer.effect(Documents, make(options))
