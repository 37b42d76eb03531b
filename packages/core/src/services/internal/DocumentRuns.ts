/**
 * DocumentRuns: the one writer of a document's run state — `run`, `run_generation`, `progress`,
 * `progress_msg`, `process_begin_at`, `process_duration`, `chunk_num`, `token_num` — and of the
 * knowledge base counters a run changes (`chunk_count`, `token_num`, `embedder`).
 *
 * `Documents` queues, cancels and resets runs for callers; the ingestion worker reports a run's
 * progress and ends it. Progress lives on the document only (what users read), each line stamped
 * with the time of day: one write per `report`, or noted (`note`) and written by the next `flush`
 * or with the run's end, and the ends of several runs in one transaction (`doneMany`).
 *
 * Each run has a generation: queuing a run or resetting the run state raises the document's
 * `run_generation`, and a parse task carries the generation it was queued for (`RunKey`). The
 * worker's writes apply only while the document is `RUNNING` in that generation: once a caller
 * canceled, re-parsed, reset or deleted it, they fail with `RunEnded` and the worker stops, so a
 * finishing worker never overwrites a cancel or a newer run.
 *
 * The index (and the blob store's extracted images) follow the same rule, so that the counts always
 * match what the index holds:
 * - queuing a run or resetting one takes the previous runs' counts off the knowledge base and
 *   clears the document's chunks and images, after raising the generation;
 * - a worker writes chunks whose ids include its generation, and when its run ends any other way
 *   than `DONE` it removes exactly the chunks and images it wrote (never another run's);
 * - a clear that may have hit a newer run (one queued by a concurrent call while it ran) queues
 *   that run again, so a run whose chunks were cleared never ends `DONE`.
 *
 * After each write, the document's new state goes to `DocumentChanges` when the engine has it
 * (`Rag.layer` does): a worker built over the engine tells the services' subscribers.
 */
import { Clock, Data, Effect, Either, Option } from "effect"
import { type BlobStoreError, type ChunkIndexError, notFound, type NotFound, type StoreError } from "../../domain/Errors.js"
import type { DocumentId, KnowledgeBaseId, TaskId } from "../../domain/Ids.js"
import { Document, KnowledgeBase, type RunStatus } from "../../domain/Records.js"
import { formatDate } from "../../domain/Time.js"
import { BlobStore } from "../../ports/BlobStore.js"
import { ChunkIndex } from "../../ports/ChunkIndex.js"
import { RecordStore } from "../../ports/RecordStore.js"
import { type LeaseLost, type Task, TaskQueue } from "../../ports/TaskQueue.js"
import { DocumentChanges } from "../DocumentChanges.js"

/** The task kind the ingestion worker claims. */
export const ParseTaskKind = "parse"

/** The run state of a document that was never parsed (or was reset). */
export const notStarted = {
  run: "UNSTART",
  progress: 0,
  progress_msg: "",
  process_begin_at: null,
  process_duration: 0,
  chunk_num: 0,
  token_num: 0
} as const satisfies Partial<Document>

/** One run of a document: the document and its `run_generation` when the run was queued. */
export interface RunKey {
  readonly docId: DocumentId
  readonly generation: number
}

/** The run a parse task is for. Tasks queued before runs had generations carry none: 0. */
export const runOf = (task: Task): RunKey => ({
  docId: String(task.payload.doc_id ?? task.key) as DocumentId,
  generation: typeof task.payload.generation === "number" ? task.payload.generation : 0
})

/** Where the images extracted from a document are kept: beside its bytes (`<kb>/<doc>`), under one prefix. */
export const imagePrefix = (kbId: KnowledgeBaseId, docId: DocumentId) => `${kbId}/${docId}.images/`

/** The run is over for its worker: the document was canceled, reset, re-parsed (`superseded`) or deleted. */
export class RunEnded extends Data.TaggedError("RunEnded")<{
  readonly docId: DocumentId
  readonly run: RunStatus | "deleted" | "superseded"
}> {
  override get message() {
    return `the run of document ${this.docId} ended (${this.run})`
  }
}

/**
 * Progress a worker noted but has not written yet (`note`): written by the next `flush`, or with
 * the run's end (`done`, `failed`), so that a quick document costs one write, not one per stage.
 * Its writes take `lock`, so that a flush and the end never interleave.
 */
export interface PendingProgress {
  progress: number | undefined
  readonly lines: Array<string>
  readonly lock: Effect.Semaphore
  /** Set by the worker once the run outlasted a heartbeat: from then on each report is written at once. */
  live: boolean
  /** Set by the worker when only the index writes and the end are left: nothing more to flush before the end. */
  writing: boolean
}

export const pendingProgress = (): PendingProgress => ({
  progress: undefined,
  lines: [],
  lock: Effect.unsafeMakeSemaphore(1),
  live: false,
  writing: false
})

/** A run to end `DONE` (`doneMany`), with the progress lines noted before its last one. */
export interface FinishedRun {
  readonly run: RunKey
  readonly result: RunResult
  readonly noted: ReadonlyArray<string>
  /** The run's task: completed in the same transaction, and the run ends only while the worker holds it. */
  readonly task?: TaskId
}

/** Some tasks of a `doneMany` batch were no longer held: the transaction is undone and tried without them. */
class NotHeld extends Data.TaggedError("NotHeld")<{ readonly lost: ReadonlyArray<LeaseLost> }> {}

/** What a finished run produced. */
export interface RunResult {
  /** The last progress line. */
  readonly line: string
  readonly chunks: number
  readonly tokens: number
  /** How long the run took, in milliseconds. */
  readonly durationMs: number
  /** The embedder the chunks were indexed with; recorded on a knowledge base that has none yet. */
  readonly embedder: { readonly model: string; readonly dimensions: number } | null
}

const appendLines = (message: string, lines: ReadonlyArray<string>) =>
  lines.length === 0 ? message : message === "" ? lines.join("\n") : `${message}\n${lines.join("\n")}`

/** A stored (valid) document with run fields changed: not validated again. */
const withRun = (doc: Document, changes: Partial<Document>) => new Document({ ...doc, ...changes }, true)

/** The document's next generation: its counts cleared (what `changes` does comes on top). */
const nextRun = (doc: Document) => withRun(doc, { run_generation: doc.run_generation + 1, chunk_num: 0, token_num: 0 })

/** A run queued at `now`: `RUNNING`, progress cleared. */
const queuedAt = (now: number): Partial<Document> => ({
  run: "RUNNING",
  progress: 0,
  progress_msg: "",
  process_begin_at: now,
  process_duration: 0,
  update_time: now,
  update_date: formatDate(now)
})

/** The parse task of a document's run (`running` holds its generation). */
const parseTask = (running: Document) => ({
  kind: ParseTaskKind,
  key: running.id,
  payload: { doc_id: running.id, kb_id: running.kb_id, tenant_id: running.tenant_id, generation: running.run_generation }
})

/** Documents looked at per read when reconciling. */
const reconcilePage = 200

/**
 * Requires RecordStore, TaskQueue, ChunkIndex and BlobStore, and publishes to `DocumentChanges`
 * when the context has it; built once by each service that uses it.
 */
/** A progress line as the document shows it: the time of day (UTC, `HH:MM:SS`), then the text. */
const stampLine = (now: number, text: string): string => `${new Date(now).toISOString().slice(11, 19)} ${text}`

export const make = Effect.gen(function* () {
  const store = yield* RecordStore
  const queue = yield* TaskQueue
  const index = yield* ChunkIndex
  const blobs = yield* BlobStore
  const changes = yield* Effect.serviceOption(DocumentChanges)

  /** Tells the subscribers of the document's state, and gives it back. */
  const told = (doc: Document): Effect.Effect<Document> =>
    Option.isNone(changes) ? Effect.succeed(doc) : Effect.as(changes.value.publish(doc), doc)

  /** Lines as shown: the time of day, then the text. */
  const stamped = (texts: ReadonlyArray<string>) =>
    Effect.map(Clock.currentTimeMillis, (now) => ({
      now,
      lines: texts.map((text) => stampLine(now, text)),
      stamp: { update_time: now, update_date: formatDate(now) }
    }))

  const found = (id: DocumentId) => (next: Option.Option<Document>) =>
    Option.match(next, { onNone: () => Effect.fail(notFound("Document", id)), onSome: Effect.succeed })

  /** Changes the knowledge base's chunk and token counters by the given deltas. */
  const count = (kbId: KnowledgeBaseId, chunks: number, tokens: number, embedder: RunResult["embedder"] = null) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      store.knowledgeBases.modify(kbId, (kb) =>
        Effect.succeed(
          new KnowledgeBase(
            {
              ...kb,
              chunk_count: Math.max(0, kb.chunk_count + chunks),
              token_num: Math.max(0, kb.token_num + tokens),
              embedder: kb.embedder ?? embedder,
              update_time: now,
              update_date: formatDate(now)
            },
            true
          )
        )
      )
    )

  /** A write of the worker: applies while its run is the document's and `RUNNING`, else fails with `RunEnded`. */
  const whileRunning = (run: RunKey, f: (doc: Document) => Document) =>
    Effect.flatMap(
      store.documents.modify(run.docId, (doc) =>
        doc.run_generation !== run.generation
          ? Effect.fail(new RunEnded({ docId: run.docId, run: "superseded" }))
          : doc.run === "RUNNING"
            ? Effect.succeed(f(doc))
            : Effect.fail(new RunEnded({ docId: run.docId, run: doc.run }))
      ),
      (next) => (Option.isSome(next) ? Effect.succeed(next.value) : Effect.fail(new RunEnded({ docId: run.docId, run: "deleted" })))
    )

  /** `whileRunning`, then the new state told. */
  const runningWrite = (run: RunKey, f: (doc: Document) => Document) => Effect.flatMap(whileRunning(run, f), told)

  /**
   * A new generation of the document's run state, in one transaction: `changes` applied, the
   * previous runs' counts taken off the document and its knowledge base. `fresh` is set when the
   * document was never run and holds no chunks: nothing of it can be in the index.
   */
  const nextGeneration = (id: DocumentId, changes: (doc: Document) => Document, fresh?: { value: boolean }) =>
    store
      .transaction(
        Effect.gen(function* () {
          let before: Document | undefined
          const next = yield* store.documents.modify(id, (d) => {
            before = d
            return Effect.succeed(changes(nextRun(d)))
          })
          if (before !== undefined && (before.chunk_num !== 0 || before.token_num !== 0)) {
            yield* count(before.kb_id, -before.chunk_num, -before.token_num)
          }
          if (fresh !== undefined) fresh.value = before !== undefined && isFresh(before)
          return next
        })
      )
      .pipe(Effect.flatMap(found(id)))

  /**
   * Drops the document's chunks and extracted images. (A count is a read; a delete is a commit,
   * which a first parse does not need. Chunks a run of an older generation writes after the count
   * are removed by that run.)
   */
  const clear = (doc: Document) =>
    Effect.gen(function* () {
      if ((yield* index.countByDocument(doc.kb_id, doc.id)) > 0) yield* index.deleteByDocument(doc.kb_id, doc.id)
      yield* blobs.deletePrefix(imagePrefix(doc.kb_id, doc.id))
    })

  /**
   * After `doc`'s generation cleared the index: a newer run queued meanwhile (by a concurrent call)
   * may have written chunks before the clear removed them, so it is queued again; otherwise `doc`
   * as it is now.
   */
  const afterClear = (doc: Document): Effect.Effect<Document, NotFound | StoreError | ChunkIndexError | BlobStoreError> =>
    Effect.flatMap(store.documents.get(doc.id), (latest) => {
      if (Option.isNone(latest)) return Effect.fail(notFound("Document", doc.id))
      const now = latest.value
      return now.run_generation !== doc.run_generation && (now.run === "RUNNING" || now.run === "DONE")
        ? start(now)
        : Effect.succeed(now)
    })

  /**
   * Never run (generation 0, not started) and without chunks (none added by hand): no run wrote
   * chunks or images of it, so a first run has nothing to clear.
   */
  const isFresh = (doc: Document) => doc.run_generation === 0 && doc.run === "UNSTART" && doc.chunk_num === 0

  // -------------------------------------------------------------------------------------------
  // For Documents: the caller's side of a run.

  /**
   * Queues a run (`RUNNING`, a new generation, progress and counts cleared, the previous chunks
   * and images dropped); any earlier task of the document is canceled.
   */
  const start = (doc: Document): Effect.Effect<Document, NotFound | StoreError | ChunkIndexError | BlobStoreError> =>
    Effect.gen(function* () {
      // A document never run has no task to cancel, and nothing in the index (one index read and
      // one blob listing less per document queued).
      const fresh = { value: false }
      if (!isFresh(doc)) yield* queue.cancelKey(doc.id)
      const now = yield* Clock.currentTimeMillis
      const running = yield* nextGeneration(doc.id, (d) => withRun(d, queuedAt(now)), fresh)
      if (!fresh.value) {
        yield* clear(running).pipe(Effect.catchAll((error) => unqueued([running], `could not clear the previous chunks: ${error.message}`, error)))
      }
      const latest = yield* Effect.flatMap(fresh.value ? Effect.succeed(running) : afterClear(running), told)
      // Queued again meanwhile (by this call, after a clear that hit a newer run), reset, or canceled.
      if (latest.run_generation !== running.run_generation || latest.run !== "RUNNING") return latest
      yield* queue
        .enqueue(parseTask(running))
        .pipe(Effect.catchAll((error) => unqueued([running], `could not queue the parse task: ${error.message}`, error)))
      return latest
    })

  /**
   * `start` for many documents, in the order given. Those never run (nothing to cancel or clear)
   * start together: one transaction for their records and one write of their tasks, instead of a
   * transaction and a task write each; the others go through `start` one by one.
   */
  const startMany = (
    docs: ReadonlyArray<Document>
  ): Effect.Effect<ReadonlyArray<Document>, NotFound | StoreError | ChunkIndexError | BlobStoreError> =>
    Effect.gen(function* () {
      const unrun = (d: Document) => isFresh(d) && d.token_num === 0
      const candidates = docs.filter(unrun)
      if (candidates.length < 2) return yield* Effect.forEach(docs, start)
      const now = yield* Clock.currentTimeMillis
      // Read under row locks: a document started or changed meanwhile is left to `start`.
      const running = yield* store.transaction(
        store.documents.modifyMany(candidates.map((d) => d.id), (current) =>
          Effect.succeed(
            current.filter(unrun).map((d) => withRun(nextRun(d), queuedAt(now)))
          ))
      )
      if (running.length > 0) {
        yield* queue
          .enqueueMany(running.map(parseTask))
          .pipe(Effect.catchAll((error) => unqueued(running, `could not queue the parse task: ${error.message}`, error)))
      }
      const started = new Map<string, Document>()
      for (const d of running) started.set(d.id, yield* told(d))
      return yield* Effect.forEach(docs, (doc) => {
        const done = started.get(doc.id)
        return done === undefined ? start(doc) : Effect.succeed(done)
      })
    })

  /** Runs that could not be queued end `FAIL` with the reason (when the store lets them), and the caller gets the error. */
  const unqueued = <E>(running: ReadonlyArray<Document>, reason: string, error: E) =>
    Effect.zipRight(
      Effect.forEach(running, (d) => failed({ docId: d.id, generation: d.run_generation }, reason, false).pipe(Effect.ignore), { discard: true }),
      Effect.fail(error)
    )

  /** Stops a run: its task is canceled and a `RUNNING` document becomes `CANCEL` (its worker removes what it wrote). */
  const cancel = (doc: Document): Effect.Effect<Document, NotFound | StoreError> =>
    Effect.gen(function* () {
      yield* queue.cancelKey(doc.id)
      const { lines, stamp } = yield* stamped(["Canceled."])
      return yield* store.documents
        .modify(doc.id, (d) =>
          Effect.succeed(d.run === "RUNNING" ? withRun(d, { run: "CANCEL", progress_msg: appendLines(d.progress_msg, lines), ...stamp }) : d)
        )
        .pipe(Effect.flatMap(found(doc.id)), Effect.flatMap(told))
    })

  /**
   * Forgets the document's run: its task is canceled, its run state cleared (`UNSTART`, a new
   * generation), its counts taken off the knowledge base and its chunks and images dropped. `edit`
   * makes the caller's own changes to the document (not its run state) in the same write.
   */
  const reset = (doc: Document, edit: (doc: Document) => Document = (d) => d) =>
    Effect.gen(function* () {
      yield* queue.cancelKey(doc.id)
      const now = yield* Clock.currentTimeMillis
      const next = yield* nextGeneration(doc.id, (d) => edit(withRun(d, { ...notStarted, update_time: now, update_date: formatDate(now) })))
      yield* clear(next)
      return yield* Effect.flatMap(afterClear(next), told)
    })

  /** In the transaction that deletes the document: its counts come off the knowledge base. */
  const uncount = (doc: Document) => count(doc.kb_id, -doc.chunk_num, -doc.token_num)

  /** After the document was deleted: its tasks are canceled, its chunks and images dropped. */
  const discard = (doc: Document) => Effect.zipRight(queue.cancelKey(doc.id), clear(doc))

  /**
   * Chunks added or removed by hand (`Chunks`): the document's `chunk_num` / `token_num` and its
   * knowledge base's counters move by the deltas in one transaction; a knowledge base without an
   * embedder records the one the added chunks were embedded with.
   */
  const adjust = (doc: Document, chunks: number, tokens: number, embedder: RunResult["embedder"] = null) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      store.transaction(
        Effect.gen(function* () {
          const next = yield* store.documents
            .modify(doc.id, (d) =>
              Effect.succeed(
                withRun(d, {
                  chunk_num: Math.max(0, d.chunk_num + chunks),
                  token_num: Math.max(0, d.token_num + tokens),
                  update_time: now,
                  update_date: formatDate(now)
                })
              )
            )
            .pipe(Effect.flatMap(found(doc.id)))
          yield* count(doc.kb_id, chunks, tokens, chunks > 0 ? embedder : null)
          return next
        })
      ).pipe(Effect.flatMap(told))
    )

  // -------------------------------------------------------------------------------------------
  // For the ingestion worker: reports and the end of a run.

  /** Sets `progress` (0..1) and appends the lines to `progress_msg`. */
  const report = (run: RunKey, progress: number, texts: ReadonlyArray<string>) =>
    Effect.flatMap(stamped(texts), ({ lines, stamp }) =>
      runningWrite(run, (d) => withRun(d, { progress, progress_msg: appendLines(d.progress_msg, lines), ...stamp }))
    )

  /** Notes progress (stamped now) to be written by the next `flush` or the run's end: no store call. */
  const note = (pending: PendingProgress, progress: number, texts: ReadonlyArray<string>) =>
    Effect.map(stamped(texts), ({ lines }) => {
      pending.progress = progress
      pending.lines.push(...lines)
    })

  /**
   * Runs a write that includes the pending lines (and progress) under the pending lock; they are
   * taken off only when it succeeds, so a write tried again carries them again.
   */
  const withPending = <A, E>(
    pending: PendingProgress | undefined,
    write: (lines: ReadonlyArray<string>, progress: number | undefined) => Effect.Effect<A, E>
  ): Effect.Effect<A, E> =>
    pending === undefined
      ? write([], undefined)
      : pending.lock.withPermits(1)(
          Effect.suspend(() => {
            const lines = pending.lines.slice()
            const progress = pending.progress
            return Effect.tap(write(lines, progress), () =>
              Effect.sync(() => {
                pending.lines.splice(0, lines.length)
                if (pending.progress === progress) pending.progress = undefined
              })
            )
          })
        )

  /** Writes the noted progress, if any (one write, as `report`). */
  const flush = (run: RunKey, pending: PendingProgress) =>
    withPending(pending, (lines, progress) =>
      lines.length === 0 && progress === undefined
        ? Effect.void
        : Effect.asVoid(
            Effect.flatMap(stamped([]), ({ stamp }) =>
              runningWrite(run, (d) =>
                withRun(d, { progress: progress ?? d.progress, progress_msg: appendLines(d.progress_msg, lines), ...stamp })
              )
            )
          )
    )

  /**
   * The run finished: `DONE` with its counts, and the knowledge base's counters moved by them, in
   * one transaction; the noted progress lines (`pending`) come before the last line.
   */
  const done = (run: RunKey, result: RunResult, pending?: PendingProgress) =>
    withPending(pending, (noted) =>
      Effect.flatMap(doneMany([{ run, result, noted }]), ([outcome]) => Either.match(outcome!, { onLeft: Effect.fail, onRight: Effect.succeed }))
    )

  /**
   * Several finished runs in one transaction: each `DONE` as `done` makes it (or `RunEnded`, in its
   * place in the result, when its run is over), each knowledge base's counters moved once by the
   * sum of its runs' counts, with one read and one write for all the documents (and one for their
   * knowledge bases). Runs given with their `task` end only together with it: the tasks are
   * completed in the same transaction (`TaskQueue.completeMany`, as `worker`), and a run whose task
   * the worker no longer holds (canceled, taken over) gets the `LeaseLost` in its place instead,
   * the others being written without it.
   */
  const doneMany = (
    ends: ReadonlyArray<FinishedRun>,
    worker = ""
  ): Effect.Effect<Array<Either.Either<Document, RunEnded | LeaseLost>>, StoreError> =>
    Effect.gen(function* () {
      const outcomes: Array<Either.Either<Document, RunEnded | LeaseLost> | undefined> = ends.map(() => undefined)
      while (true) {
        const open = ends.flatMap((end, i) => (outcomes[i] === undefined ? [i] : []))
        if (open.length === 0) break
        const attempt = yield* Effect.either(endTogether(open.map((i) => ends[i]!), worker))
        if (Either.isRight(attempt)) {
          open.forEach((i, k) => (outcomes[i] = attempt.right[k]))
          break
        }
        if (attempt.left._tag !== "NotHeld") return yield* Effect.fail(attempt.left)
        const lost = new Map(attempt.left.lost.map((l) => [l.task_id, l] as const))
        for (const i of open) {
          const task = ends[i]!.task
          const why = task === undefined ? undefined : lost.get(task)
          if (why !== undefined) outcomes[i] = Either.left(why)
        }
      }
      const result = outcomes as Array<Either.Either<Document, RunEnded | LeaseLost>>
      yield* Effect.forEach(result, (o) => (Either.isRight(o) ? told(o.right) : Effect.void), { discard: true })
      return result
    })

  /** One try of `doneMany`: fails with `NotHeld` (nothing written) when a task is no longer the worker's. */
  const endTogether = (ends: ReadonlyArray<FinishedRun>, worker: string) =>
    Effect.flatMap(stamped([]), ({ now, stamp }) =>
      store.transaction(
        Effect.gen(function* () {
          const outcomes: Array<Either.Either<Document, RunEnded>> = []
          const moved = new Map<KnowledgeBaseId, { chunks: number; tokens: number; embedder: RunResult["embedder"] }>()
          const tasks: Array<TaskId> = []
          yield* store.documents.modifyMany(
            ends.map((end) => end.run.docId),
            (current) => {
              const latest = new Map(current.map((doc) => [doc.id, doc] as const))
              const changed = new Map<DocumentId, Document>()
              for (const { run, result, noted, task } of ends) {
                const d = latest.get(run.docId)
                const ended =
                  d === undefined
                    ? new RunEnded({ docId: run.docId, run: "deleted" })
                    : d.run_generation !== run.generation
                      ? new RunEnded({ docId: run.docId, run: "superseded" })
                      : d.run !== "RUNNING"
                        ? new RunEnded({ docId: run.docId, run: d.run })
                        : undefined
                if (ended !== undefined || d === undefined) {
                  outcomes.push(Either.left(ended!))
                  continue
                }
                const next = withRun(d, {
                  run: "DONE",
                  progress: 1,
                  progress_msg: appendLines(d.progress_msg, [...noted, stampLine(now, result.line)]),
                  chunk_num: result.chunks,
                  token_num: result.tokens,
                  process_duration: result.durationMs / 1000,
                  ...stamp
                })
                latest.set(d.id, next)
                changed.set(d.id, next)
                outcomes.push(Either.right(next))
                if (task !== undefined) tasks.push(task)
                const sum = moved.get(d.kb_id) ?? { chunks: 0, tokens: 0, embedder: null }
                sum.chunks += result.chunks - d.chunk_num
                sum.tokens += result.tokens - d.token_num
                if (result.chunks > 0) sum.embedder ??= result.embedder
                moved.set(d.kb_id, sum)
              }
              return Effect.succeed([...changed.values()])
            }
          )
          if (moved.size > 0) {
            yield* store.knowledgeBases.modifyMany([...moved.keys()], (kbs) =>
              Effect.succeed(kbs.map((kb) => {
                const sum = moved.get(kb.id)!
                return new KnowledgeBase(
                  {
                    ...kb,
                    chunk_count: Math.max(0, kb.chunk_count + sum.chunks),
                    token_num: Math.max(0, kb.token_num + sum.tokens),
                    embedder: kb.embedder ?? sum.embedder,
                    update_time: now,
                    update_date: formatDate(now)
                  },
                  true
                )
              }))
            )
          }
          // Last, so that a task no longer held undoes the whole transaction (the store's and the queue's).
          const lost = yield* queue.completeMany(tasks, worker)
          if (lost.length > 0) return yield* Effect.fail(new NotHeld({ lost }))
          return outcomes
        })
      )
    )

  /**
   * The run failed: `FAIL` with progress -1 and the reason, or still `RUNNING` with a
   * "Will retry" line when the task will be tried again. Nothing changes once the run ended.
   */
  const failed = (run: RunKey, reason: string, retry: boolean, pending?: PendingProgress) =>
    withPending(pending, (noted, progress) =>
      Effect.flatMap(stamped([`${retry ? "Will retry: " : "[ERROR] "}${reason}`]), ({ lines, stamp }) =>
        runningWrite(run, (d) =>
          withRun(d, {
            run: retry ? "RUNNING" : "FAIL",
            progress: retry ? progress ?? d.progress : -1,
            progress_msg: appendLines(d.progress_msg, [...noted, ...lines]),
            ...stamp
          })
        )
      )
    ).pipe(Effect.catchTag("RunEnded", () => Effect.void), Effect.asVoid)

  /**
   * The run will never finish (its task is out of attempts, or gone): `FAIL` with the reason, and
   * whatever its workers wrote is dropped with the document's chunks and images. Nothing changes
   * once the run ended.
   */
  const abandon = (run: RunKey, reason: string) =>
    Effect.gen(function* () {
      const { lines, stamp } = yield* stamped([`[ERROR] ${reason}`])
      const ended = yield* runningWrite(run, (d) =>
        withRun(d, { run: "FAIL", progress: -1, progress_msg: appendLines(d.progress_msg, lines), ...stamp })
      ).pipe(Effect.option)
      if (Option.isNone(ended)) return false
      yield* clear(ended.value)
      yield* afterClear(ended.value).pipe(Effect.catchTag("NotFound", () => Effect.void))
      return true
    })

  /** Why no worker will finish the document's current run, or `None` when a task of it is queued or running. */
  const orphaned = (doc: Document): Effect.Effect<Option.Option<string>, StoreError> =>
    Effect.map(queue.listByKey(doc.id), (tasks) => {
      const mine = tasks.filter((t) => t.kind === ParseTaskKind && runOf(t).generation === doc.run_generation)
      if (mine.some((t) => t.status === "queued" || t.status === "running")) return Option.none()
      const last = mine[0]
      return Option.some(
        last === undefined
          ? "its parse task is missing"
          : last.status === "failed"
            ? `its parse task failed (${last.error ?? "no reason given"})`
            : `its parse task was ${last.status === "canceled" ? "canceled" : "ended"} without finishing it`
      )
    })

  /**
   * Ends as `FAIL` every `RUNNING` document, last changed before `before` (epoch ms), whose run has
   * no queued or running task left (it failed, was canceled, or is missing): no worker would ever
   * finish it. Returns how many it ended.
   */
  const reconcile = (before: number) =>
    Effect.gen(function* () {
      let offset = 0
      let ended = 0
      while (true) {
        const page = yield* store.documents.find({
          where: { run: "RUNNING", update_time: { lte: before } },
          orderBy: "create_time",
          offset,
          limit: reconcilePage
        })
        let kept = 0
        for (const doc of page.items) {
          const reason = yield* orphaned(doc)
          if (Option.isNone(reason)) {
            kept++
            continue
          }
          const abandoned = yield* abandon(
            { docId: doc.id, generation: doc.run_generation },
            `No worker is parsing this document: ${reason.value}. Parse it again.`
          )
          if (abandoned) ended++
          else kept++
        }
        if (page.items.length < reconcilePage) return ended
        offset += kept
      }
    })

  return { start, startMany, cancel, reset, uncount, discard, adjust, report, note, flush, done, doneMany, failed, abandon, reconcile }
})

export type DocumentRuns = Effect.Effect.Success<typeof make>
