/**
 * Ingestion: the worker that turns queued documents into indexed chunks.
 *
 * A worker claims `parse` tasks from the TaskQueue under a lease and, for each document:
 * parse -> chunk (the document's chunk method) -> tokenize (token counts, search tokens), all three
 * by the `DocumentPreparer` (on this thread, or on a pool of threads) -> keywords and questions per
 * chunk from the tenant's chat model, when `parser_config` asks (`auto_keywords`, `auto_questions`;
 * see `internal/ChunkEnrichment`) -> embed in batches (the knowledge base's embedding model) -> write the run's
 * chunks to the ChunkIndex -> `DONE` with chunk and token counts on the document and the knowledge
 * base, or `FAIL` with the reason. `progress` (0..1) and `progress_msg` lines are reported after
 * every stage (while embedding, at most every `progressEveryMs`), on the document only, through
 * its run owner (`internal/DocumentRuns`): once a caller canceled, re-parsed, reset or deleted the
 * document, the next write fails and the work stops. The lines are written by the first heartbeat
 * (or with the run's end, for a document done within a heartbeat), then each at once: a quick
 * document's run costs no write between its queuing and its end.
 *
 * Bookkeeping is shared across documents: `run`'s and `drain`'s loops claim several tasks at
 * once while documents are quick (`claimBatch`) and read their documents and knowledge bases
 * together, go on to the next document while the last ones write their chunks (`pipeline`: the
 * index groups their upserts into one commit), and the runs that end meanwhile end `DONE` in one
 * transaction with their tasks (`DocumentRuns.doneMany`: one read and one write of the documents,
 * one of their knowledge bases, one `TaskQueue.completeMany`).
 *
 * Each task is for one run (generation) of its document. Chunk ids include the generation, and a
 * run that ends any other way than `DONE` removes exactly the chunks and images it wrote, so a
 * canceled run never touches a newer one's. Queuing a run clears the previous runs' chunks (see
 * `DocumentRuns`), so the counts always match the index.
 *
 * While a document is processed, a heartbeat renews the lease every `heartbeatMs`; when it learns
 * the task was canceled it interrupts the work, so a cancel takes effect within about a heartbeat.
 * A worker that dies leaves its task to be claimed again when the lease runs out; chunk ids are
 * derived from the run and position, so a retry never duplicates chunks. A worker that is stopped
 * (`stop`, then `run` interrupted) claims nothing more, lets its documents finish within the grace
 * and puts the others back in the queue at once. A task out of attempts ends its document as
 * `FAIL` ("gave up after N attempts").
 *
 * Store errors never stop a worker: a store call that finds the store unavailable is tried again
 * after a pause (doubling from `backoffMs` up to `backoffMaxMs`), and so is a failed claim. The
 * worker keeps its status (state, tasks in flight, errors and the last one) and `run` records it in
 * the queue's worker registry every `statusEveryMs`, where any process can read it
 * (`TaskQueue.listWorkers`). When `run` starts, it ends as `FAIL` the `RUNNING` documents whose
 * task is gone (see `reconcile`).
 */
import { Cause, Clock, Context, Deferred, Duration, Effect, Either, Exit, Layer, Option, Random, Schedule, Scope } from "effect"
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
import { type ChunkId, type KnowledgeBaseId, randomHex32 } from "../domain/Ids.js"
import type { Document, KnowledgeBase } from "../domain/Records.js"
import { BlobStore } from "../ports/BlobStore.js"
import { byKnowledgeBase, ChunkIndex } from "../ports/ChunkIndex.js"
import { DocumentPreparer } from "../ports/DocumentPreparer.js"
import type { EmbedderService } from "../ports/Embedder.js"
import { RecordStore } from "../ports/RecordStore.js"
import { LeaseLost, type Task, TaskQueue, WorkerStatus } from "../ports/TaskQueue.js"
import { Tokenizer } from "../text/Tokenizer.js"
import * as ChunkEnrichment from "./internal/ChunkEnrichment.js"
import * as DocumentRuns from "./internal/DocumentRuns.js"
import { Models, type ModelsService } from "./Models.js"

export interface IngestionOptions {
  /** Names this worker in task leases and in the worker registry. Default: a random id. */
  readonly workerId?: string
  /** Documents processed at once. Default 2. */
  readonly concurrency?: number
  /** How long a claim lasts without a heartbeat. Default 30 s. */
  readonly leaseMs?: number
  /** How often the lease is renewed and a cancel noticed. Default 500 ms. */
  readonly heartbeatMs?: number
  /** How long an idle worker waits before asking the queue again. Default 500 ms. */
  readonly pollMs?: number
  /**
   * Chat model calls at once per document while generating chunks' keywords and questions
   * (`auto_keywords`, `auto_questions`). Default 4.
   */
  readonly enrichmentConcurrency?: number
  /** Texts per embedding call. Default 32. */
  readonly embedBatchSize?: number
  /**
   * Chunks per index write. A document with at most this many chunks writes them with its end: the
   * chunks of every such document ending together go in one index write, before their one
   * transaction of ends. Default 256.
   */
  readonly upsertBatchSize?: number
  /**
   * Documents a `run` loop may leave writing their chunks and ending (index write, `DONE`) while it
   * takes the next one, over all loops, and so the most documents sharing one index write and one
   * transaction of ends. Parsing never waits for a commit. Default 64; 0: each loop waits for its
   * document to end.
   */
  readonly pipeline?: number
  /**
   * With `pipeline`, the chunk text (UTF-16 code units of each chunk's content and its two token
   * fields) that the documents left writing may hold together; a loop whose document would pass it
   * waits, before taking its next one, until enough of it is written. This, not the number of
   * documents, bounds a worker's memory when the index writes slower than the parsers read (pgvector
   * on a busy Postgres): a document larger than it still writes, alone. Default 16,000,000.
   */
  readonly pipelineChars?: number
  /**
   * With `pipeline`, tasks a loop claims at once while its documents are quick (each taken in well
   * under a second); their leases are renewed until they start, and a stopping worker puts the
   * ones it did not start back at once. Default 32.
   */
  readonly claimBatch?: number
  /**
   * With `pipeline`, the documents of a claim at most this size (bytes) are taken at once (their
   * blob reads, parses and embeddings overlap) rather than one after the other: for many small
   * documents the wait of each, not the work, sets the pace. Default 64 KiB.
   */
  readonly smallDocumentBytes?: number
  /**
   * How long the end of a document waits for others in hand to share its index write and its
   * transaction (unless `upsertBatchSize` × 4 chunks or half the `pipeline` are waiting, or every
   * document in hand is): each commit costs the
   * index tens of milliseconds whatever its size, so many small documents must not commit one by
   * one. Default 50 ms; 0: none (ends still group while a commit is in flight).
   */
  readonly endLingerMs?: number
  /** Weight of the title's vector mixed into each chunk's vector (RAGFlow's 0.1). */
  readonly titleWeight?: number
  /** While embedding, a progress line at most this often (and one when done). Default 1000 ms. */
  readonly progressEveryMs?: number
  /** After a store error, the pause before trying again; doubled at each error in a row. Default 250 ms. */
  readonly backoffMs?: number
  /** The longest pause between tries while a store stays unavailable. Default 30 s. */
  readonly backoffMaxMs?: number
  /** How often `run` records the worker's status in the queue's worker registry. Default 5 s. */
  readonly statusEveryMs?: number
}

export type IngestionError = StoreError | BlobStoreError | ChunkIndexError | ParseError | ModelError

export interface IngestionService {
  /** Claims up to `concurrency` tasks and processes them; returns how many it took. */
  readonly runOnce: Effect.Effect<number, StoreError>
  /** Processes tasks until the queue has none left to claim; returns how many. */
  readonly drain: Effect.Effect<number, StoreError>
  /**
   * Works until interrupted: `concurrency` loops claiming and processing, the status reported to
   * the worker registry, `reconcile` once at the start. Store errors are retried, never end it.
   */
  readonly run: Effect.Effect<never>
  /**
   * Stops `run`'s loops claiming tasks and waits, at most `grace`, for the documents in hand to
   * finish: a host calls it when it stops, then interrupts `run`. A document still in hand then is
   * put back in the queue at once (its task fails with `retry`, as after any interruption of the
   * worker), for this or another worker to run again.
   */
  readonly stop: (grace: Duration.DurationInput) => Effect.Effect<void>
  /**
   * Ends as `FAIL` (with the reason in `progress_msg`) every `RUNNING` document, unchanged for a
   * lease, whose task failed, was canceled or is missing: no worker would ever finish it. Such a
   * document is not queued again, since a file that kills its workers would then kill them at every
   * start; parsing it again is one call. Returns how many it ended.
   */
  readonly reconcile: Effect.Effect<number, StoreError | ChunkIndexError | BlobStoreError>
  /** What this worker would report about itself now. */
  readonly status: Effect.Effect<WorkerStatus>
  readonly workerId: string
}

export class Ingestion extends Context.Tag("@ragkit/core/Ingestion")<Ingestion, IngestionService>() {}

/** The knowledge base's embedder, checked against what it was indexed with before. */
export const knowledgeBaseEmbedder = (models: ModelsService, kb: KnowledgeBase, caller: Caller) =>
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

/** The title's share of a chunk's vector, unless `IngestionOptions.titleWeight` says otherwise. */
export const DefaultTitleWeight = 0.1

/** A stable chunk id from the document, its run, and the chunk's place and text. */
export const chunkId = (docId: string, generation: number, index: number, content: string): ChunkId =>
  createHash("sha256").update(`${docId}\u0000${generation}\u0000${index}\u0000${content}`).digest("hex").slice(0, 32) as ChunkId

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)}s`

/** What a chunk holds of text, in UTF-16 code units: its content and the two token fields made of it. */
const chunkTextLength = (chunk: Chunk) => chunk.content.length + chunk.content_ltks.length + chunk.content_sm_ltks.length

/** Failures worth trying again on another attempt: the service was away, not the file bad. */
const isTransient = (error: IngestionError): boolean =>
  (error._tag === "ModelError" && (error.reason === "Unavailable" || error.reason === "RateLimited")) ||
  (error._tag === "StoreError" && error.reason === "Unavailable") ||
  (error._tag === "BlobStoreError" && error.reason === "Unavailable") ||
  (error._tag === "ChunkIndexError" && error.reason === "Unavailable") ||
  (error._tag === "ParseError" && error.reason === "Unavailable")

/** A record store or queue that could not be reached: worth trying the same call again. */
const isStoreUnavailable = (error: unknown): error is StoreError =>
  typeof error === "object" && error !== null && (error as StoreError)._tag === "StoreError" && (error as StoreError).reason === "Unavailable"

/** An error as the worker's status shows it: what failed, the error's kind and message (no causes, no credentials). */
const describe = (what: string, error: { readonly _tag?: string; readonly reason?: string; readonly message: string }) =>
  `${what}: ${[error._tag, error.reason].filter((s) => s !== undefined).join(" ")}: ${error.message}`.slice(0, 1000)

/** Registry entries of workers silent for this long are dropped when a worker starts. */
const forgetWorkersAfterMs = 24 * 60 * 60 * 1000

/** A document's title as its chunks carry it: the name without its extension. */
export const stemOf = (name: string) => {
  const dot = name.lastIndexOf(".")
  return dot > 0 ? name.slice(0, dot) : name
}

/** A chunk's vector: the title's and the content's, weighted `w` for the title. */
export const mix = (title: ReadonlyArray<number>, content: ReadonlyArray<number>, w: number): Array<number> =>
  content.map((x, i) => w * (title[i] ?? 0) + (1 - w) * x)

/** The chunk method's items, then the generated ones it lacks. */
const union = (own: ReadonlyArray<string> | undefined, generated: ReadonlyArray<string> | undefined): ReadonlyArray<string> =>
  generated === undefined || generated.length === 0 ? own ?? [] : [...new Set([...(own ?? []), ...generated])]

/** Tasks a loop claimed and has not started yet, and whether its last document was quick. */
interface Held {
  readonly tasks: Array<Task>
  /** Their documents and knowledge bases, read together when they were claimed. */
  readonly known: Map<string, Known>
  quick: boolean
  /** A fiber renews their leases (one per loop). */
  renewing: boolean
}

/** A task's document and its knowledge base as read before it started (`None`: gone). */
interface Known {
  readonly doc: Option.Option<Document>
  readonly kb: Option.Option<KnowledgeBase>
}

/** What a run wrote so far: removed again when the run ends any other way than `DONE`. */
interface Written {
  readonly chunks: Array<ChunkId>
  readonly images: Array<string>
}

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
    /** Lease renewals of tasks claimed but not started, and of runs writing their chunks: a few per lease. */
    const slowHeartbeatMs = Math.max(heartbeatMs, Math.floor(leaseMs / 4))
    const pollMs = options.pollMs ?? 500
    const enrichmentConcurrency = Math.max(1, options.enrichmentConcurrency ?? 4)
    const embedBatchSize = Math.max(1, options.embedBatchSize ?? 32)
    const upsertBatchSize = Math.max(1, options.upsertBatchSize ?? 256)
    const pipeline = Math.max(0, options.pipeline ?? 64)
    /** `pipelineChars`, counted in permits of 1,024 characters. */
    const pipelineKiloChars = Math.max(1, Math.ceil((options.pipelineChars ?? 16_000_000) / 1024))
    /** The chunk text the documents left writing hold (`pipelineChars`). */
    const writingText = Effect.unsafeMakeSemaphore(pipelineKiloChars)
    const claimBatch = Math.max(1, options.claimBatch ?? 32)
    const smallDocumentBytes = Math.max(0, options.smallDocumentBytes ?? 64 * 1024)
    const endLingerMs = Math.max(0, options.endLingerMs ?? 50)
    /** A document taken in less than this (parsed, chunked, embedded) lets its loop claim `claimBatch` tasks at once. */
    const quickMs = Math.min(1_000, leaseMs / (4 * claimBatch))
    const titleWeight = options.titleWeight ?? DefaultTitleWeight
    const progressEveryMs = options.progressEveryMs ?? 1000
    const backoffMs = Math.max(1, options.backoffMs ?? 250)
    const backoffMaxMs = Math.max(backoffMs, options.backoffMaxMs ?? 30_000)
    const statusEveryMs = Math.max(100, options.statusEveryMs ?? 5_000)

    // -------------------------------------------------------------------------------------------
    // The worker's status, and store errors: noted, logged, tried again after a pause.

    const startedAt = yield* Clock.currentTimeMillis
    const tally = {
      inFlight: 0,
      processed: 0,
      errors: 0,
      lastError: null as string | null,
      lastErrorAt: null as number | null,
      /** Store calls failing now (each waiting to try again). */
      failing: 0,
      stopped: false,
      /** `stop` was called: the loops claim nothing more. */
      stopping: false,
      /** Loops between a claim and the end of its tasks. */
      busy: 0
    }

    const status = Effect.map(
      Clock.currentTimeMillis,
      (now) =>
        new WorkerStatus({
          id: workerId,
          state: tally.stopped ? "stopped" : tally.failing > 0 ? "backing-off" : tally.inFlight > 0 ? "working" : "idle",
          concurrency,
          in_flight: tally.inFlight,
          processed: tally.processed,
          errors: tally.errors,
          last_error: tally.lastError,
          last_error_at: tally.lastErrorAt,
          started_at: startedAt,
          heartbeat_at: now
        })
    )

    /** The pause before try `n + 1` after `n` errors in a row: doubling, capped, with some jitter so workers spread out. */
    const pause = (n: number) =>
      Effect.flatMap(Random.nextRange(0.8, 1.2), (jitter) =>
        Effect.sleep(Duration.millis(Math.round(Math.min(backoffMaxMs, backoffMs * 2 ** Math.min(n - 1, 30)) * jitter)))
      )

    /** Notes and logs a store error, then pauses before try `n + 1`. */
    const backOff = (what: string, error: { readonly _tag?: string; readonly reason?: string; readonly message: string }, n: number) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const text = describe(what, error)
        tally.errors++
        tally.lastError = text
        tally.lastErrorAt = now
        yield* Effect.logWarning(`ingestion worker ${workerId}: ${text} (${n} in a row); trying again`)
        tally.failing++
        yield* Effect.ensuring(pause(n), Effect.sync(() => void tally.failing--))
      })

    /** Runs a record store or queue call; while the store is unavailable, tries again after a pause. */
    const persist = <A, E>(what: string, effect: Effect.Effect<A, E>): Effect.Effect<A, E> => {
      const attempt = (n: number): Effect.Effect<A, E> =>
        Effect.catchIf(effect, isStoreUnavailable, (error) => Effect.zipRight(backOff(what, error, n + 1), attempt(n + 1))) as Effect.Effect<A, E>
      return attempt(0)
    }

    // -------------------------------------------------------------------------------------------
    // One document.

    const embedderFor = (kb: KnowledgeBase, caller: Caller) => knowledgeBaseEmbedder(models, kb, caller)

    const embedAll = (
      report: (progress: number, lines: ReadonlyArray<string>) => Effect.Effect<unknown, StoreError | DocumentRuns.RunEnded>,
      embedder: EmbedderService,
      title: string,
      texts: ReadonlyArray<string>,
      from: number
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
            yield* report(from + ((0.85 - from) * done) / texts.length, [`Embedded ${done}/${texts.length} chunks.`])
          }
        }
        return vectors
      })

    const process = (
      task: Task,
      run: DocumentRuns.RunKey,
      doc: Document,
      kb: KnowledgeBase,
      written: Written,
      pending: DocumentRuns.PendingProgress,
      release: Effect.Effect<void>
    ) =>
      Effect.gen(function* () {
        // Within the first heartbeat, reports are noted and written by it or with the run's end (a
        // quick document costs two document writes: taken, ended); after it, each is written at once.
        const report = (progress: number, lines: ReadonlyArray<string>) =>
          Effect.zipRight(runs.note(pending, progress, lines), pending.live ? persist("reporting progress", runs.flush(run, pending)) : Effect.void)
        const started = yield* Clock.currentTimeMillis
        const caller = new Caller({ tenantId: kb.tenant_id, userId: doc.created_by })
        // Written by the first heartbeat, or with the run's end.
        yield* report(0.01, [`Task has been received by ${workerId} (attempt ${task.attempts}).`])

        const bytes = yield* blobs.get(doc.location)
        const prepared = yield* preparer.prepare({
          bytes,
          fileName: doc.name,
          parserId: doc.parser_id,
          parserConfig: doc.parser_config
        })
        const t2 = yield* Clock.currentTimeMillis
        const pages = prepared.pages > 0 ? ` on ${prepared.pages} pages` : ""
        yield* report(0.35, [
          `Parsed ${prepared.sections} sections${pages} in ${seconds(prepared.parseMs)}.`,
          `Generated ${prepared.chunks.length} chunks with the ${prepared.method} method in ${seconds(prepared.chunkMs)}.`
        ])

        const title = stemOf(doc.name)
        const titleTokens = tokenizer.tokenize(title)
        const embedder = yield* embedderFor(kb, caller)
        const drafts = prepared.chunks
        const enrichment = ChunkEnrichment.settingsOf(doc.parser_config)
        const enrich = ChunkEnrichment.isOn(enrichment) && drafts.length > 0
        // Model calls per chunk: a slow run, whose every report is worth a write.
        if (enrich) pending.live = true
        const extras = enrich
          ? yield* ChunkEnrichment.generate({
              settings: enrichment,
              llmId: Option.match(yield* persist("reading a tenant", store.tenants.get(kb.tenant_id)), { onNone: () => "", onSome: (t) => t.llm_id }),
              models,
              caller,
              concurrency: enrichmentConcurrency,
              countTokens: tokenizer.countTokens,
              progressEveryMs,
              report: (done, line) => report(0.35 + 0.25 * done, [line])
            }, drafts)
          : []
        const vectors = drafts.length === 0 ? [] : yield* embedAll(report, embedder, title, drafts.map((d) => d.content), enrich ? 0.6 : 0.4)

        const chunks: Array<Chunk> = []
        for (let i = 0; i < drafts.length; i++) {
          const draft = drafts[i]!
          const id = chunkId(doc.id, run.generation, i, draft.content)
          let img_id: string | undefined
          if (draft.image?.bytes !== undefined) {
            img_id = `${DocumentRuns.imagePrefix(kb.id, doc.id)}${id}`
            written.images.push(img_id)
            // Whole or not at all: an interrupted write could land after the run removed what it wrote.
            yield* Effect.uninterruptible(
              blobs.put(img_id, draft.image.bytes, draft.image.mime === undefined ? {} : { contentType: draft.image.mime })
            )
          } else if (draft.image?.blobKey !== undefined) img_id = draft.image.blobKey
          chunks.push(
            new Chunk({
              id,
              tenant_id: kb.tenant_id,
              kb_id: kb.id,
              doc_id: doc.id,
              docnm_kwd: doc.name,
              content: draft.content,
              content_ltks: draft.content_ltks,
              content_sm_ltks: draft.content_sm_ltks,
              title_tks: titleTokens,
              important_keywords: union(draft.important_keywords, extras[i]?.important_keywords),
              questions: union(draft.questions, extras[i]?.questions),
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

        // What is left is writing: the loop may take its next document meanwhile, once the chunk
        // text left writing leaves room for this document's (`pipelineChars`).
        const kiloChars = Math.min(pipelineKiloChars, Math.ceil(chunks.reduce((n, c) => n + chunkTextLength(c), 0) / 1024))
        yield* writingText.withPermits(kiloChars)(
          Effect.gen(function* () {
            pending.writing = true
            yield* release
            // The previous runs' chunks were dropped when this run was queued: only this run's are
            // written. A few go with the run's end (one index write for the runs ending together).
            const withEnd = chunks.length <= upsertBatchSize
            for (let start = 0; start < chunks.length; start += upsertBatchSize) {
              const batch = chunks.slice(start, start + upsertBatchSize)
              for (const c of batch) written.chunks.push(c.id)
              if (!withEnd) yield* Effect.uninterruptible(index.upsert(batch))
            }
            const tokens = chunks.reduce((sum, c) => sum + c.token_num, 0)
            const durationMs = (yield* Clock.currentTimeMillis) - started
            // The last line and the counts on the document and the knowledge base, and the task's end,
            // in one transaction shared with the other documents ending meanwhile. A task no longer
            // this worker's (its lease ran out and another took it, or it was canceled) fails it with
            // `LeaseLost` and ends nothing.
            yield* persist(
              "ending a run",
              endRun(task, run, {
                line: `Indexed ${chunks.length} chunks (${tokens} tokens); done in ${seconds(durationMs)}.`,
                chunks: chunks.length,
                tokens,
                durationMs,
                embedder: { model: embedder.modelId, dimensions: embedder.dimensions }
              }, pending, withEnd ? chunks : [])
            )
          })
        )
      })

    type EndError = StoreError | ChunkIndexError | DocumentRuns.RunEnded | LeaseLost
    /** A run waiting to end `DONE` in the next batch of ends, with the chunks it writes then. */
    interface Ending {
      readonly end: DocumentRuns.FinishedRun
      readonly chunks: ReadonlyArray<Chunk>
      readonly at: number
      readonly result: Deferred.Deferred<void, EndError>
    }
    /** Runs waiting to end in the next batch. */
    const ending: Array<Ending> = []
    /** Completed when the runs waiting make a full batch (no need to wait `endLingerMs` more). */
    let batchFull: Deferred.Deferred<void> | undefined
    const endPermit = Effect.unsafeMakeSemaphore(1)
    const endBatchChunks = upsertBatchSize * 4
    const endBatchRuns = Math.max(1, Math.floor(pipeline / 2))
    /** Full: enough chunks or runs, or no other document in hand that could still join. */
    const isBatchFull = () =>
      ending.length >= endBatchRuns || ending.length >= tally.inFlight ||
      ending.reduce((n, e) => n + e.chunks.length, 0) >= endBatchChunks
    /** Ends the linger of the batch forming once it is full. */
    const checkBatch = Effect.suspend(() =>
      batchFull !== undefined && isBatchFull() ? Deferred.succeed(batchFull, undefined) : Effect.void
    )

    /** Waits (the end permit held) until the runs waiting make a full batch, or the first has waited `endLingerMs`. */
    const lingerForBatch = Effect.gen(function* () {
      const first = ending[0]
      if (endLingerMs === 0 || first === undefined) return
      const left = first.at + endLingerMs - (yield* Clock.currentTimeMillis)
      const full = yield* Deferred.make<void>()
      // Checked once the signal is in place (other fibers may have run since): every change after
      // this sees it.
      batchFull = full
      if (left <= 0 || isBatchFull()) {
        batchFull = undefined
        return
      }
      yield* Effect.raceFirst(Deferred.await(full), Effect.sleep(Duration.millis(left))).pipe(
        Effect.ensuring(Effect.sync(() => void (batchFull = undefined)))
      )
    })

    /**
     * Writes a batch of ends: the chunks of each knowledge base in one index write, then the runs
     * whose chunks were written end `DONE` in one `doneMany`; a run whose write failed fails with it.
     */
    const endBatch = (batch: ReadonlyArray<Ending>) =>
      Effect.gen(function* () {
        const byKb = byKnowledgeBase(batch.flatMap((e) => e.chunks))
        const failed = new Map<KnowledgeBaseId, Exit.Exit<void, ChunkIndexError>>()
        yield* Effect.forEach(byKb, ([kbId, chunks]) =>
          Effect.flatMap(Effect.exit(index.upsert(chunks)), (exit) =>
            Effect.sync(() => void (Exit.isFailure(exit) && failed.set(kbId, exit)))), { concurrency: "unbounded", discard: true })
        const failure = (e: Ending) => {
          const kbId = e.chunks[0]?.kb_id
          return kbId === undefined ? undefined : failed.get(kbId)
        }
        yield* Effect.forEach(batch, (e) => {
          const exit = failure(e)
          return exit === undefined ? Effect.void : Deferred.done(e.result, exit)
        }, { discard: true })
        const written = batch.filter((e) => failure(e) === undefined)
        if (written.length === 0) return
        const exit = yield* Effect.exit(runs.doneMany(written.map((e) => e.end), workerId))
        yield* Effect.forEach(written, (e, i) =>
          Deferred.done(
            e.result,
            Exit.isFailure(exit) ? exit : Either.match(exit.value[i]!, { onLeft: Exit.fail, onRight: () => Exit.void })
          ), { discard: true })
      })

    /**
     * Group commit of the runs' ends: the run joins the next batch (every run that ended while the
     * one before was written, or within `endLingerMs` of the first: one index write, one
     * transaction), with its noted progress (its lock held, so that no flush writes the same lines).
     */
    const endRun = (
      task: Task,
      run: DocumentRuns.RunKey,
      result: DocumentRuns.RunResult,
      pending: DocumentRuns.PendingProgress,
      chunks: ReadonlyArray<Chunk>
    ) =>
      pending.lock.withPermits(1)(
        Effect.gen(function* () {
          const noted = pending.lines.slice()
          const entry: Ending = {
            end: { run, result, noted, task: task.id },
            chunks,
            at: yield* Clock.currentTimeMillis,
            result: yield* Deferred.make<void, EndError>()
          }
          ending.push(entry)
          yield* checkBatch
          const holdAndWrite = endPermit.withPermits(1)(
            // Written by an earlier holder meanwhile: nothing left to do (the batch forming is the next holder's).
            Effect.flatMap(Deferred.isDone(entry.result), (written) =>
              written ? Effect.void : Effect.zipRight(
                lingerForBatch,
                Effect.uninterruptible(
                  Effect.suspend(() => {
                    const batch = ending.splice(0)
                    return batch.length === 0 ? Effect.void : endBatch(batch)
                  })
                )
              ))
          ).pipe(
            // Interrupted while waiting: withdrawn, unless a batch took it.
            Effect.onInterrupt(() =>
              Effect.sync(() => {
                const at = ending.indexOf(entry)
                if (at >= 0) ending.splice(at, 1)
              })
            )
          )
          // A run written by another holder stops waiting for the permit at once: waiting, it would
          // count as a document in hand that may still join the batch a holder lingers for.
          yield* Effect.raceFirst(Effect.exit(Deferred.await(entry.result)), holdAndWrite)
          yield* Deferred.await(entry.result)
          pending.lines.splice(0, noted.length)
          pending.progress = undefined
        })
      )

    /**
     * Removes what a run wrote, unless the run ended `DONE` (by this worker, or by another that
     * took the task over): chunk ids and image keys are the run's own, so no other run loses any.
     */
    const removeWritten = (run: DocumentRuns.RunKey, kbId: KnowledgeBaseId, written: Written) =>
      Effect.gen(function* () {
        if (written.chunks.length === 0 && written.images.length === 0) return
        const doc = yield* persist("reading a document", store.documents.get(run.docId))
        if (Option.isSome(doc) && doc.value.run === "DONE" && doc.value.run_generation === run.generation) return
        yield* index.deleteChunks(kbId, written.chunks)
        yield* Effect.forEach(written.images, blobs.delete, { discard: true })
      }).pipe(
        Effect.retry({ times: 3, schedule: Schedule.spaced(Duration.millis(backoffMs)) }),
        Effect.catchAll((error) =>
          backOff(`removing what a canceled run of ${run.docId} wrote (${written.chunks.length} chunks left in the index)`, error, 1)
        )
      )

    /** Ends the document as failed (or waiting for a retry) with the reason, then the task. */
    const failDocument = (
      task: Task,
      run: DocumentRuns.RunKey,
      error: IngestionError,
      retry: boolean,
      pending: DocumentRuns.PendingProgress
    ) =>
      Effect.zipRight(
        persist("ending a run", runs.failed(run, error.message, retry, pending)),
        persist("ending a task", queue.fail(task.id, workerId, error.message, { retry }))
      )

    /**
     * Renews the lease, and writes the progress noted since the last time, until the task is
     * canceled or taken over (fails with `LeaseLost`) or the run ended (`RunEnded`).
     */
    const heartbeat = (task: Task, run: DocumentRuns.RunKey, pending: DocumentRuns.PendingProgress) =>
      Effect.gen(function* () {
        while (true) {
          // Writing its chunks, a run has nothing more to report and little left to cancel: its
          // lease is renewed less often (its end fails anyway once a caller ended the run).
          yield* Effect.sleep(Duration.millis(pending.writing ? slowHeartbeatMs : heartbeatMs))
          // Each write whole: the heartbeat is interrupted when its document ends, and an
          // interrupted query is canceled on its connection, which by then may run another's.
          yield* persist("renewing a lease", Effect.uninterruptible(queue.heartbeat(task.id, workerId, leaseMs)))
          if (pending.writing) continue
          yield* persist("reporting progress", Effect.uninterruptible(runs.flush(run, pending)))
          pending.live = true
        }
      })

    /** A task this worker's claim gave up on (out of attempts): its run ends `FAIL`, and what its workers wrote goes. */
    const giveUp = (task: Task) => {
      const reason = task.error === null || task.error.startsWith("gave up")
        ? `Gave up after ${task.attempts} attempts: the document's worker stopped each time (it crashed, hung or lost its lease).`
        : `Gave up after ${task.attempts} attempts; the last error: ${task.error}`
      return persist("ending a run", runs.abandon(DocumentRuns.runOf(task), reason))
    }

    const work = (task: Task, run: DocumentRuns.RunKey, release: Effect.Effect<void>, known: Known | undefined) =>
      Effect.gen(function* () {
        // Read with the others of its claim, or now. (A document changed since is caught by the run's writes.)
        const doc = known?.doc ?? (yield* persist("reading a document", store.documents.get(run.docId)))
        const kb = known?.kb ??
          (Option.isSome(doc) ? yield* persist("reading a dataset", store.knowledgeBases.get(doc.value.kb_id)) : Option.none())
        if (Option.isNone(doc) || Option.isNone(kb)) {
          // The document was deleted meanwhile: nothing to do.
          yield* Effect.ignore(queue.complete(task.id, workerId))
          return
        }
        if (run.generation === 0 && doc.value.run === "RUNNING" && doc.value.run_generation === 0) {
          // A task queued before runs had generations: queued again as a run of its own.
          yield* persist("queuing a run", runs.start(doc.value))
          yield* Effect.ignore(queue.complete(task.id, workerId))
          return
        }
        if (doc.value.run !== "RUNNING" || doc.value.run_generation !== run.generation) {
          // Canceled, reset or queued again before this task was claimed.
          yield* Effect.ignore(queue.fail(task.id, workerId, new DocumentRuns.RunEnded({ docId: run.docId, run: doc.value.run_generation !== run.generation ? "superseded" : doc.value.run }).message))
          return
        }
        const written: Written = { chunks: [], images: [] }
        const pending = DocumentRuns.pendingProgress()
        const exit = yield* Effect.exit(
          Effect.raceFirst(process(task, run, doc.value, kb.value, written, pending, release), heartbeat(task, run, pending))
        )
        // Done: the run ended `DONE` together with its task.
        if (Exit.isSuccess(exit)) return
        const failure = Cause.failureOption(exit.cause)
        if (Option.isNone(failure)) return yield* Effect.failCause(exit.cause as Cause.Cause<never>)
        const error = failure.value
        if (error instanceof LeaseLost) {
          // Canceled: leave nothing of this run. Taken over: the new holder runs the same run.
          if (error.reason === "Canceled") yield* removeWritten(run, kb.value.id, written)
          return
        }
        if (error._tag === "RunEnded") {
          // DONE: another worker holding the task finished this run. Else a caller ended it: leave
          // nothing of it in the index. The task ends, if it is still ours.
          if (error.run !== "DONE") yield* removeWritten(run, kb.value.id, written)
          yield* Effect.ignore(error.run === "DONE" ? queue.complete(task.id, workerId) : queue.fail(task.id, workerId, error.message))
          return
        }
        yield* removeWritten(run, kb.value.id, written)
        const retry = isTransient(error) && task.attempts < task.max_attempts
        yield* failDocument(task, run, error, retry, pending).pipe(Effect.catchTag("LeaseLost", () => Effect.void))
      })

    /** Works on a task; `release` runs when only its index writes and its end are left (or it ended). */
    const handle = (task: Task, release: Effect.Effect<void> = Effect.void, known?: Known) => {
      const run = DocumentRuns.runOf(task)
      return Effect.gen(function* () {
        if (task.status === "failed") return yield* giveUp(task)
        tally.inFlight++
        yield* Effect.ensuring(
          work(task, run, release, known).pipe(
            // The worker is stopping: the task goes back to the queue now rather than when its
            // lease runs out (the next claim counts an attempt either way).
            Effect.onInterrupt(() =>
              queue.fail(task.id, workerId, "the worker stopped before finishing it", { retry: true }).pipe(
                Effect.timeout(Duration.seconds(2)),
                Effect.ignore
              )
            )
          ),
          Effect.zipRight(
            Effect.sync(() => {
              tally.inFlight--
              tally.processed++
            }),
            checkBatch
          )
        )
      }).pipe(
        Effect.withSpan("Ingestion.document", { attributes: { task: task.id, doc: task.key } }),
        // What is left (a record that does not decode, a store that fails otherwise): noted, and
        // the task ended so that it does not come back, while the worker goes on.
        Effect.catchAll((error) =>
          Effect.zipRight(
            backOff(`working on document ${run.docId}`, error, 1),
            Effect.ignore(queue.fail(task.id, workerId, error.message))
          )
        ),
        // A defect in one document must not stop the worker: record it and go on.
        Effect.catchAllDefect((defect) =>
          Effect.gen(function* () {
            yield* Effect.logError(`ingestion of ${task.key} died`, defect)
            const message = `internal error: ${defect instanceof Error ? defect.message : String(defect)}`
            yield* Effect.ignore(queue.fail(task.id, workerId, message))
            yield* Effect.ignore(runs.failed(run, message, false))
          })
        )
      )
    }

    // -------------------------------------------------------------------------------------------
    // Claiming.

    const claim = (limit: number) =>
      queue.claim({ worker: workerId, leaseMs, limit, kinds: [DocumentRuns.ParseTaskKind], includeExhausted: true })

    const runOnce = Effect.gen(function* () {
      const tasks = yield* claim(concurrency)
      yield* Effect.forEach(tasks, (task) => handle(task), { concurrency, discard: true })
      return tasks.length
    })

    /**
     * `concurrency` loops claiming until the queue has nothing left, as `run`'s (documents left
     * writing, with `pipeline`), then waits for every document taken to end.
     */
    const drain = Effect.scoped(
      Effect.gen(function* () {
        const scope = yield* Effect.scope
        let total = 0
        const loop = Effect.gen(function* () {
          const held: Held = { tasks: [], known: new Map(), quick: false, renewing: false }
          yield* Effect.addFinalizer(() => putBack(held))
          while (true) {
            const n = yield* stepOf(scope, held)
            if (n === 0) return
            total += n
          }
        }).pipe(Effect.scoped)
        yield* Effect.forEach(Array.from({ length: concurrency }, () => loop), (f) => f, { concurrency: "unbounded", discard: true })
        // Every permit free: no document is left writing.
        yield* writing.withPermits(Math.max(1, pipeline))(Effect.void)
        return total
      })
    )

    /** Permits for the documents `run`'s loops left writing (`pipeline`). */
    const writing = Effect.unsafeMakeSemaphore(Math.max(1, pipeline))
    /** Permits of `writing` not taken (the semaphore does not tell). */
    let writingFree = Math.max(1, pipeline)
    const takeWriting = (n: number) => Effect.tap(writing.take(n), () => void (writingFree -= n))
    const releaseWriting = (n: number) => Effect.zipRight(Effect.sync(() => void (writingFree += n)), writing.release(n))

    /**
     * The small documents at the head of a loop's claim (known, at most `smallDocumentBytes`), as
     * many as there are free permits for besides the one the loop holds: taken at once.
     */
    const smallAtHead = (held: Held) => {
      let n = 0
      while (n < held.tasks.length && n <= writingFree) {
        const doc = held.known.get(held.tasks[n]!.id)?.doc
        if (doc === undefined || Option.isNone(doc) || doc.value.size > smallDocumentBytes) break
        n++
      }
      return n
    }

    /**
     * Works on a task in a fiber of `scope`, holding a permit of `writing` (taken by the caller)
     * until it ends; returns once only its index writes and its end are left.
     */
    const handOff = (scope: Scope.Scope) => (task: Task, known: Known | undefined) =>
      Effect.gen(function* () {
        const released = yield* Deferred.make<void>()
        const release = Effect.asVoid(Deferred.succeed(released, undefined))
        yield* Effect.forkIn(Effect.ensuring(handle(task, release, known), Effect.zipRight(release, releaseWriting(1))), scope)
        yield* Deferred.await(released)
      })

    /** Claims a task and works on it: until it ends, or with `pipeline`, until only its writes are left. */
    const stepOf = (scope: Scope.Scope, held: Held) =>
      pipeline === 0
        ? Effect.flatMap(claim(1), (tasks) => Effect.as(Effect.forEach(tasks, (task) => handle(task), { discard: true }), tasks.length))
        : Effect.flatMap(takeWriting(1), () =>
            Effect.gen(function* () {
              // Stopped while waiting for a permit: take nothing more.
              if (tally.stopping) return yield* Effect.as(releaseWriting(1), 0)
              if (held.tasks.length === 0) {
                // Quick documents: several tasks per claim (their leases renewed until they start).
                const tasks = yield* Effect.onError(claim(held.quick ? claimBatch : 1), () => releaseWriting(1))
                held.tasks.push(...tasks)
                if (tasks.length > 1) for (const [id, known] of yield* readAhead(tasks)) held.known.set(id, known)
                if (held.tasks.length > 1 && !held.renewing) {
                  held.renewing = true
                  yield* Effect.forkIn(renewHeld(held), scope)
                }
              }
              if (held.tasks.length === 0) return yield* Effect.as(releaseWriting(1), 0)
              // Small documents go together (a permit each), others one at a time.
              const n = Math.max(1, smallAtHead(held))
              if (n > 1) yield* takeWriting(n - 1)
              const tasks = held.tasks.splice(0, n)
              const started = yield* Clock.currentTimeMillis
              yield* Effect.forEach(tasks, (task) => {
                const known = held.known.get(task.id)
                held.known.delete(task.id)
                return handOff(scope)(task, known)
              }, { concurrency: "unbounded", discard: true })
              held.quick = (yield* Clock.currentTimeMillis) - started < quickMs
              return n
            })
          )

    /**
     * The documents of a claim's tasks and their knowledge bases, in two reads (instead of two per
     * task); nothing when a read fails (each task then reads its own).
     */
    const readAhead = (tasks: ReadonlyArray<Task>) =>
      Effect.gen(function* () {
        const runs = tasks.filter((task) => task.status !== "failed").map((task) => [task.id, DocumentRuns.runOf(task)] as const)
        const docs = new Map((yield* store.documents.getMany(runs.map(([, run]) => run.docId))).map((d) => [d.id, d] as const))
        const kbIds = [...new Set([...docs.values()].map((d) => d.kb_id))]
        const kbs = new Map((yield* store.knowledgeBases.getMany(kbIds)).map((kb) => [kb.id, kb] as const))
        return runs.map(([id, run]): [string, Known] => {
          const doc = Option.fromNullable(docs.get(run.docId))
          return [id, { doc, kb: Option.flatMap(doc, (d) => Option.fromNullable(kbs.get(d.kb_id))) }]
        })
      }).pipe(Effect.orElseSucceed((): ReadonlyArray<[string, Known]> => []))

    /** Renews the leases of the tasks a loop claimed but has not started, while there are any. */
    const renewHeld = (held: Held) =>
      Effect.gen(function* () {
        while (held.tasks.length > 0) {
          yield* Effect.sleep(Duration.millis(slowHeartbeatMs))
          yield* Effect.forEach(held.tasks.slice(), (task) => Effect.ignore(queue.heartbeat(task.id, workerId, leaseMs)), { discard: true })
        }
      }).pipe(Effect.ensuring(Effect.sync(() => void (held.renewing = false))))

    /** Tasks a loop claimed but has not started: back to the queue at once (as after an interruption). */
    const putBack = (held: Held) =>
      Effect.forEach(held.tasks.splice(0), (task) =>
        queue.fail(task.id, workerId, "the worker stopped before starting it", { retry: true }).pipe(Effect.timeout(Duration.seconds(2)), Effect.ignore), { discard: true })

    /**
     * One of `run`'s loops: claims and processes a task at a time (the documents it leaves writing
     * run on in `scope`); a failed claim is tried again after a pause.
     */
    const loop = (scope: Scope.Scope) => Effect.gen(function* () {
      let failures = 0
      const held: Held = { tasks: [], known: new Map(), quick: false, renewing: false }
      yield* Effect.addFinalizer(() => putBack(held))
      while (!tally.stopping) {
        tally.busy++
        const step = yield* Effect.either(
          stepOf(scope, held).pipe(
            Effect.catchAllDefect((defect) => Effect.fail({ _tag: "Defect", message: String(defect) })),
            Effect.ensuring(Effect.sync(() => tally.busy--))
          )
        )
        if (Either.isLeft(step)) {
          yield* backOff("claiming a task", step.left, ++failures)
          continue
        }
        if (failures > 0) yield* Effect.logInfo(`ingestion worker ${workerId}: claiming works again after ${failures} errors`)
        failures = 0
        if (step.right === 0) yield* Effect.sleep(Duration.millis(pollMs))
      }
    }).pipe(Effect.scoped)

    /** Tries `effect` until it succeeds, pausing after each error. */
    const untilDone = <A, E extends { readonly message: string }>(what: string, effect: Effect.Effect<A, E>) => {
      const attempt = (n: number): Effect.Effect<A> =>
        Effect.catchAll(effect, (error) => Effect.zipRight(backOff(what, error, n + 1), attempt(n + 1)))
      return attempt(0)
    }

    const reconcile = Effect.flatMap(Clock.currentTimeMillis, (now) => runs.reconcile(now - leaseMs)).pipe(
      Effect.withSpan("Ingestion.reconcile")
    )

    /** Records the status in the worker registry every `statusEveryMs`. */
    const reportStatus = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      yield* Effect.ignore(queue.forgetWorkers(now - forgetWorkersAfterMs))
      while (true) {
        yield* Effect.flatMap(status, queue.reportWorker).pipe(
          Effect.catchAll((error) => backOff("reporting the worker's status", error, 1))
        )
        yield* Effect.sleep(Duration.millis(statusEveryMs))
      }
    })

    const stopped = Effect.gen(function* () {
      tally.stopped = true
      yield* Effect.flatMap(status, queue.reportWorker).pipe(Effect.timeout(Duration.seconds(2)), Effect.ignore)
    })

    const stop = (grace: Duration.DurationInput) =>
      Effect.gen(function* () {
        tally.stopping = true
        while (tally.busy > 0 || tally.inFlight > 0) yield* Effect.sleep(Duration.millis(20))
      }).pipe(Effect.timeout(grace), Effect.ignore)

    const run: Effect.Effect<never> = Effect.gen(function* () {
      tally.stopped = false
      tally.stopping = false
      const reconcileOnce = untilDone("reconciling documents", reconcile).pipe(
        Effect.asVoid,
        Effect.catchAllDefect((defect) => Effect.logError(`ingestion worker ${workerId}: reconciling documents died`, defect))
      )
      // The documents the loops leave writing live as long as `run` (a loop that stops does not end them).
      const scope = yield* Effect.scope
      const loops = Array.from({ length: concurrency }, () => loop(scope))
      yield* Effect.forEach([reconcileOnce, reportStatus, ...loops], (f) => f, { concurrency: "unbounded", discard: true })
      return yield* Effect.never
    }).pipe(Effect.scoped, Effect.onInterrupt(() => stopped))

    return Ingestion.of({ runOnce, drain, run, stop, reconcile, status, workerId })
  })

/** Requires RecordStore, TaskQueue, BlobStore, ChunkIndex, DocumentPreparer, Tokenizer, Models. */
export const layer = (options: IngestionOptions = {}) => Layer.effect(Ingestion, make(options))
