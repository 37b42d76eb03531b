/**
 * Ingestion: the worker that turns queued documents into indexed chunks.
 *
 * A worker claims `parse` tasks from the TaskQueue under a lease and, for each document:
 * parse -> chunk (the document's chunk method) -> tokenize (token counts, search tokens), all three
 * by the `DocumentPreparer` (on this thread, or on a pool of threads) -> embed in batches (the knowledge base's embedding model) -> replace the document's
 * chunks in the ChunkIndex -> `DONE` with chunk and token counts on the document and the knowledge
 * base, or `FAIL` with the reason. `progress` (0..1) and `progress_msg` lines are written after
 * every stage (while embedding, at most every `progressEveryMs`), on the document only, through
 * its run owner (`internal/DocumentRuns`): once a caller canceled, reset or deleted the document,
 * the next write fails and the work stops.
 *
 * While a document is processed, a heartbeat renews the lease every `heartbeatMs`; when it learns
 * the task was canceled it interrupts the work and removes the document's chunks, so a cancel takes
 * effect within about a heartbeat. A worker that dies leaves its task to be claimed again when the
 * lease runs out; chunk ids are derived from the document and position, and a document's chunks
 * are replaced as a whole, so a retry never duplicates chunks.
 */
import { Cause, Clock, Context, Duration, Effect, Exit, Fiber, Layer, Option, Schedule } from "effect"
import { createHash } from "node:crypto"
import { Caller } from "../domain/Caller.js"
import { Chunk } from "../domain/Chunk.js"
import {
  type BlobStoreError,
  type ChunkIndexError,
  ModelError,
  type ParseError,
  type StoreError
} from "../domain/Errors.js"
import { type ChunkId, type DocumentId, randomHex32 } from "../domain/Ids.js"
import type { Document, KnowledgeBase } from "../domain/Records.js"
import { BlobStore } from "../ports/BlobStore.js"
import { ChunkIndex } from "../ports/ChunkIndex.js"
import { DocumentPreparer } from "../ports/DocumentPreparer.js"
import type { EmbedderService } from "../ports/Embedder.js"
import { RecordStore } from "../ports/RecordStore.js"
import { LeaseLost, type Task, TaskQueue } from "../ports/TaskQueue.js"
import { Tokenizer } from "../text/Tokenizer.js"
import * as DocumentRuns from "./internal/DocumentRuns.js"
import { Models } from "./Models.js"

export interface IngestionOptions {
  /** Names this worker in task leases. Default: a random id. */
  readonly workerId?: string
  /** Documents processed at once. Default 2. */
  readonly concurrency?: number
  /** How long a claim lasts without a heartbeat. Default 30 s. */
  readonly leaseMs?: number
  /** How often the lease is renewed and a cancel noticed. Default 500 ms. */
  readonly heartbeatMs?: number
  /** How long an idle worker waits before asking the queue again. Default 500 ms. */
  readonly pollMs?: number
  /** Texts per embedding call. Default 32. */
  readonly embedBatchSize?: number
  /** Chunks per index write. Default 256. */
  readonly upsertBatchSize?: number
  /** Weight of the title's vector mixed into each chunk's vector (RAGFlow's 0.1). */
  readonly titleWeight?: number
  /** While embedding, a progress line at most this often (and one when done). Default 1000 ms. */
  readonly progressEveryMs?: number
}

export type IngestionError = StoreError | BlobStoreError | ChunkIndexError | ParseError | ModelError

export interface IngestionService {
  /** Claims up to `concurrency` tasks and processes them; returns how many it took. */
  readonly runOnce: Effect.Effect<number, StoreError>
  /** Processes tasks until the queue has none left to claim; returns how many. */
  readonly drain: Effect.Effect<number, StoreError>
  /** Works forever: `concurrency` loops claiming and processing. Interrupt to stop. */
  readonly run: Effect.Effect<never, StoreError>
  readonly workerId: string
}

export class Ingestion extends Context.Tag("@ragkit/core/Ingestion")<Ingestion, IngestionService>() {}

/** A stable chunk id from the document and the chunk's place and text. */
export const chunkId = (docId: string, index: number, content: string): ChunkId =>
  createHash("sha256").update(`${docId}\u0000${index}\u0000${content}`).digest("hex").slice(0, 32) as ChunkId

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)}s`

/** Failures worth trying again on another attempt: the service was away, not the file bad. */
const isTransient = (error: IngestionError): boolean =>
  (error._tag === "ModelError" && (error.reason === "Unavailable" || error.reason === "RateLimited")) ||
  (error._tag === "StoreError" && error.reason === "Unavailable") ||
  (error._tag === "BlobStoreError" && error.reason === "Unavailable") ||
  (error._tag === "ChunkIndexError" && error.reason === "Unavailable") ||
  (error._tag === "ParseError" && error.reason === "Unavailable")

const stemOf = (name: string) => {
  const dot = name.lastIndexOf(".")
  return dot > 0 ? name.slice(0, dot) : name
}

const mix = (title: ReadonlyArray<number>, content: ReadonlyArray<number>, w: number): Array<number> =>
  content.map((x, i) => w * (title[i] ?? 0) + (1 - w) * x)

export const make = (options: IngestionOptions = {}) =>
  Effect.gen(function* () {
    const store = yield* RecordStore
    const queue = yield* TaskQueue
    const blobs = yield* BlobStore
    const index = yield* ChunkIndex
    const preparer = yield* DocumentPreparer
    const tokenizer = yield* Tokenizer
    const models = yield* Models
    const runs = yield* DocumentRuns.make

    const workerId = options.workerId ?? `worker-${randomHex32().slice(0, 12)}`
    const concurrency = Math.max(1, options.concurrency ?? 2)
    const leaseMs = options.leaseMs ?? 30_000
    const heartbeatMs = options.heartbeatMs ?? 500
    const pollMs = options.pollMs ?? 500
    const embedBatchSize = Math.max(1, options.embedBatchSize ?? 32)
    const upsertBatchSize = Math.max(1, options.upsertBatchSize ?? 256)
    const titleWeight = options.titleWeight ?? 0.1
    const progressEveryMs = options.progressEveryMs ?? 1000

    /** The knowledge base's embedder, checked against what it was indexed with before. */
    const embedderFor = (kb: KnowledgeBase, caller: Caller) =>
      Effect.gen(function* () {
        const embedder = yield* models.embedder(caller, kb.embedding_model)
        if (kb.embedder !== null && (kb.embedder.model !== embedder.modelId || kb.embedder.dimensions !== embedder.dimensions)) {
          return yield* Effect.fail(
            new ModelError({
              reason: "InvalidInput",
              model: kb.embedding_model,
              message: `the dataset was indexed with ${kb.embedder.model} (${kb.embedder.dimensions} dimensions), not ${embedder.modelId} (${embedder.dimensions}); re-parse every document after changing the model`
            })
          )
        }
        return embedder
      })

    const embedAll = (
      docId: DocumentId,
      embedder: EmbedderService,
      title: string,
      texts: ReadonlyArray<string>
    ) =>
      Effect.gen(function* () {
        const [titleVector] = yield* embedder.embedDocuments([title])
        const vectors: Array<ReadonlyArray<number>> = []
        let reportedAt = yield* Clock.currentTimeMillis
        for (let start = 0; start < texts.length; start += embedBatchSize) {
          const batch = yield* embedder.embedDocuments(texts.slice(start, start + embedBatchSize))
          for (const v of batch) vectors.push(titleVector === undefined ? v : mix(titleVector, v, titleWeight))
          const done = Math.min(texts.length, start + embedBatchSize)
          // A line per batch while embedding is slow; one at the end when it is quick.
          const now = yield* Clock.currentTimeMillis
          if (done === texts.length || now - reportedAt >= progressEveryMs) {
            reportedAt = now
            yield* runs.report(docId, 0.4 + (0.45 * done) / texts.length, [`Embedded ${done}/${texts.length} chunks.`])
          }
        }
        return vectors
      })

    const process = (task: Task, doc: Document, kb: KnowledgeBase) =>
      Effect.gen(function* () {
        const started = yield* Clock.currentTimeMillis
        const caller = new Caller({ tenantId: kb.tenant_id, userId: doc.created_by })
        yield* runs.report(doc.id, 0.01, [`Task has been received by ${workerId} (attempt ${task.attempts}).`])

        const bytes = yield* blobs.get(doc.location)
        const prepared = yield* preparer.prepare({
          bytes,
          fileName: doc.name,
          parserId: doc.parser_id,
          parserConfig: doc.parser_config
        })
        const t2 = yield* Clock.currentTimeMillis
        const pages = prepared.pages > 0 ? ` on ${prepared.pages} pages` : ""
        yield* runs.report(doc.id, 0.35, [
          `Parsed ${prepared.sections} sections${pages} in ${seconds(prepared.parseMs)}.`,
          `Generated ${prepared.chunks.length} chunks with the ${prepared.method} method in ${seconds(prepared.chunkMs)}.`
        ])

        const title = stemOf(doc.name)
        const titleTokens = tokenizer.tokenize(title)
        const embedder = yield* embedderFor(kb, caller)
        const drafts = prepared.chunks
        const vectors = drafts.length === 0 ? [] : yield* embedAll(doc.id, embedder, title, drafts.map((d) => d.content))

        const chunks: Array<Chunk> = []
        for (let i = 0; i < drafts.length; i++) {
          const draft = drafts[i]!
          let img_id: string | undefined
          if (draft.image?.bytes !== undefined) {
            img_id = `${kb.id}/${doc.id}/images/${i}`
            yield* blobs.put(img_id, draft.image.bytes, draft.image.mime === undefined ? {} : { contentType: draft.image.mime })
          } else if (draft.image?.blobKey !== undefined) img_id = draft.image.blobKey
          chunks.push(
            new Chunk({
              id: chunkId(doc.id, i, draft.content),
              tenant_id: kb.tenant_id,
              kb_id: kb.id,
              doc_id: doc.id,
              docnm_kwd: doc.name,
              content: draft.content,
              content_ltks: draft.content_ltks,
              content_sm_ltks: draft.content_sm_ltks,
              title_tks: titleTokens,
              important_keywords: draft.important_keywords ?? [],
              questions: draft.questions ?? [],
              available: true,
              token_num: draft.token_num,
              page_num: draft.page_num,
              positions: draft.positions,
              index: i,
              ...(img_id === undefined ? {} : { img_id }),
              metadata: draft.metadata === undefined ? doc.meta_fields : { ...doc.meta_fields, ...draft.metadata },
              vector: vectors[i]!,
              create_time: t2
            })
          )
        }

        // Replace the document's chunks as a whole.
        // (A count is a read; a delete is a commit, which a first parse seldom needs.)
        if ((yield* index.countByDocument(kb.id, doc.id)) > 0) yield* index.deleteByDocument(kb.id, doc.id)
        for (let start = 0; start < chunks.length; start += upsertBatchSize) {
          yield* index.upsert(chunks.slice(start, start + upsertBatchSize))
        }
        const tokens = chunks.reduce((sum, c) => sum + c.token_num, 0)
        const durationMs = (yield* Clock.currentTimeMillis) - started
        // Still this worker's task? One whose lease ran out and was taken over must not end the run.
        yield* queue.heartbeat(task.id, workerId, leaseMs)
        // The last line and the counts on the document and the knowledge base, in one write.
        yield* runs.done(doc.id, {
          line: `Indexed ${chunks.length} chunks (${tokens} tokens); done in ${seconds(durationMs)}.`,
          chunks: chunks.length,
          tokens,
          durationMs,
          embedder: { model: embedder.modelId, dimensions: embedder.dimensions }
        })
      })

    /** Ends the document as failed (or waiting for a retry) with the reason, then the task. */
    const failDocument = (task: Task, doc: Document, error: IngestionError, retry: boolean) =>
      Effect.zipRight(runs.failed(doc.id, error.message, retry), queue.fail(task.id, workerId, error.message, { retry }))

    /** Renews the lease until the task is canceled or taken over, then fails with `LeaseLost`. */
    const heartbeat = (task: Task) =>
      queue.heartbeat(task.id, workerId, leaseMs).pipe(
        Effect.repeat(Schedule.spaced(Duration.millis(heartbeatMs))),
        Effect.delay(Duration.millis(heartbeatMs)),
        Effect.flatMap(() => Effect.never)
      )

    const handle = (task: Task) =>
      Effect.gen(function* () {
        const docId = String(task.payload.doc_id ?? task.key) as DocumentId
        const doc = yield* store.documents.get(docId)
        const kb = Option.isSome(doc) ? yield* store.knowledgeBases.get(doc.value.kb_id) : Option.none()
        if (Option.isNone(doc) || Option.isNone(kb)) {
          // The document was deleted meanwhile: nothing to do.
          yield* Effect.ignore(queue.complete(task.id, workerId))
          return
        }
        const work = Effect.raceFirst(process(task, doc.value, kb.value), heartbeat(task))
        const exit = yield* Effect.exit(work)
        if (Exit.isSuccess(exit)) {
          yield* Effect.catchTag(queue.complete(task.id, workerId), "LeaseLost", () => Effect.void)
          return
        }
        const failure = Cause.failureOption(exit.cause)
        if (Option.isNone(failure)) return yield* Effect.failCause(exit.cause as Cause.Cause<never>)
        const error = failure.value
        if (error instanceof LeaseLost) {
          if (error.reason === "Canceled") {
            // Leave nothing of a canceled document in the index.
            yield* Effect.ignore(index.deleteByDocument(kb.value.id, docId))
          }
          return
        }
        if (error._tag === "RunEnded") {
          // A caller canceled, reset or deleted the document: leave nothing of this run in the
          // index (unless another worker finished it). The task ends, if it is still ours.
          if (error.run === "CANCEL" || error.run === "UNSTART" || error.run === "deleted") {
            yield* Effect.ignore(index.deleteByDocument(kb.value.id, docId))
          }
          yield* Effect.ignore(error.run === "DONE" ? queue.complete(task.id, workerId) : queue.fail(task.id, workerId, error.message))
          return
        }
        const retry = isTransient(error) && task.attempts < task.max_attempts
        yield* failDocument(task, doc.value, error, retry).pipe(Effect.catchTag("LeaseLost", () => Effect.void))
      }).pipe(
        Effect.withSpan("Ingestion.document", { attributes: { task: task.id, doc: task.key } }),
        // A defect in one document must not stop the worker: record it and go on.
        Effect.catchAllDefect((defect) =>
          Effect.gen(function* () {
            yield* Effect.logError(`ingestion of ${task.key} died`, defect)
            const message = `internal error: ${defect instanceof Error ? defect.message : String(defect)}`
            yield* Effect.ignore(queue.fail(task.id, workerId, message))
            yield* Effect.ignore(runs.failed(task.key as DocumentId, message, false))
          })
        )
      )

    const claim = (limit: number) => queue.claim({ worker: workerId, leaseMs, limit, kinds: [DocumentRuns.ParseTaskKind] })

    const runOnce = Effect.gen(function* () {
      const tasks = yield* claim(concurrency)
      yield* Effect.forEach(tasks, handle, { concurrency, discard: true })
      return tasks.length
    })

    const drain = Effect.gen(function* () {
      let total = 0
      while (true) {
        const n = yield* runOnce
        if (n === 0) return total
        total += n
      }
    })

    const loop = Effect.gen(function* () {
      while (true) {
        const [task] = yield* claim(1)
        if (task === undefined) yield* Effect.sleep(Duration.millis(pollMs))
        else yield* handle(task)
      }
    })

    const run = Effect.gen(function* () {
      const fibers = yield* Effect.forEach(Array.from({ length: concurrency }), () => Effect.fork(loop))
      return yield* Fiber.joinAll(fibers).pipe(Effect.flatMap(() => Effect.never))
    })

    return Ingestion.of({ runOnce, drain, run, workerId })
  })

/** Requires RecordStore, TaskQueue, BlobStore, ChunkIndex, DocumentPreparer, Tokenizer, Models. */
export const layer = (options: IngestionOptions = {}) => Layer.effect(Ingestion, make(options))
