/**
 * DocumentRuns: the one writer of a document's run state — `run`, `progress`, `progress_msg`,
 * `process_begin_at`, `process_duration`, `chunk_num`, `token_num` — and of the knowledge base
 * counters a run changes (`chunk_count`, `token_num`, `embedder`).
 *
 * `Documents` queues, cancels and resets runs for callers; the ingestion worker reports a run's
 * progress and ends it. Progress lives on the document only (what users read), one write per
 * report, each line stamped with the time of day. The worker's writes apply only while the
 * document is `RUNNING`: once a caller canceled, reset or deleted it, they fail with `RunEnded`
 * and the worker stops, so a finishing worker never overwrites a cancel.
 */
import { Clock, Data, Effect, Option } from "effect"
import { notFound, type NotFound, type StoreError } from "../../domain/Errors.js"
import type { DocumentId, KnowledgeBaseId } from "../../domain/Ids.js"
import { Document, KnowledgeBase, type RunStatus } from "../../domain/Records.js"
import { formatDate } from "../../domain/Time.js"
import { ChunkIndex } from "../../ports/ChunkIndex.js"
import { RecordStore } from "../../ports/RecordStore.js"
import { TaskQueue } from "../../ports/TaskQueue.js"

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

/** The document is no longer `RUNNING` (canceled, reset or deleted): its worker should stop. */
export class RunEnded extends Data.TaggedError("RunEnded")<{ readonly docId: DocumentId; readonly run: RunStatus | "deleted" }> {
  override get message() {
    return `the run of document ${this.docId} ended (${this.run})`
  }
}

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

/** Requires RecordStore, TaskQueue and ChunkIndex; built once by each service that uses it. */
export const make = Effect.gen(function* () {
  const store = yield* RecordStore
  const queue = yield* TaskQueue
  const index = yield* ChunkIndex

  /** Lines as shown: the time of day, then the text. */
  const stamped = (texts: ReadonlyArray<string>) =>
    Effect.map(Clock.currentTimeMillis, (now) => ({
      now,
      lines: texts.map((text) => `${new Date(now).toISOString().slice(11, 19)} ${text}`),
      stamp: { update_time: now, update_date: formatDate(now) }
    }))

  /** A stored (valid) document with run fields changed: not validated again. */
  const withRun = (doc: Document, changes: Partial<Document>) => new Document({ ...doc, ...changes }, true)

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

  /** A write of the worker: applies while the document is `RUNNING`, else fails with `RunEnded`. */
  const whileRunning = (id: DocumentId, f: (doc: Document) => Document) =>
    Effect.flatMap(
      store.documents.modify(id, (doc) =>
        doc.run === "RUNNING" ? Effect.succeed(f(doc)) : Effect.fail(new RunEnded({ docId: id, run: doc.run }))
      ),
      (next) => (Option.isSome(next) ? Effect.succeed(next.value) : Effect.fail(new RunEnded({ docId: id, run: "deleted" })))
    )

  // -------------------------------------------------------------------------------------------
  // For Documents: the caller's side of a run.

  /** Queues a run (`RUNNING`, progress cleared); any earlier task of the document is canceled. */
  const start = (doc: Document): Effect.Effect<Document, NotFound | StoreError> =>
    Effect.gen(function* () {
      yield* queue.cancelKey(doc.id)
      const now = yield* Clock.currentTimeMillis
      const running = yield* store.documents
        .modify(doc.id, (d) =>
          Effect.succeed(
            withRun(d, {
              run: "RUNNING",
              progress: 0,
              progress_msg: "",
              process_begin_at: now,
              process_duration: 0,
              update_time: now,
              update_date: formatDate(now)
            })
          )
        )
        .pipe(Effect.flatMap(found(doc.id)))
      yield* queue.enqueue({ kind: ParseTaskKind, key: doc.id, payload: { doc_id: doc.id, kb_id: doc.kb_id, tenant_id: doc.tenant_id } })
      return running
    })

  /** Stops a run: its task is canceled and a `RUNNING` document becomes `CANCEL`. */
  const cancel = (doc: Document): Effect.Effect<Document, NotFound | StoreError> =>
    Effect.gen(function* () {
      yield* queue.cancelKey(doc.id)
      const { lines, stamp } = yield* stamped(["Canceled."])
      return yield* store.documents
        .modify(doc.id, (d) =>
          Effect.succeed(d.run === "RUNNING" ? withRun(d, { run: "CANCEL", progress_msg: appendLines(d.progress_msg, lines), ...stamp }) : d)
        )
        .pipe(Effect.flatMap(found(doc.id)))
    })

  /**
   * Forgets the document's run: its task is canceled, its run state cleared (`UNSTART`), its
   * counts taken off the knowledge base and its chunks dropped. `edit` makes the caller's own
   * changes to the document (not its run state) in the same write.
   */
  const reset = (doc: Document, edit: (doc: Document) => Document = (d) => d) =>
    Effect.gen(function* () {
      yield* queue.cancelKey(doc.id)
      const now = yield* Clock.currentTimeMillis
      const next = yield* store.transaction(
        Effect.gen(function* () {
          let before: Document | undefined
          const next = yield* store.documents.modify(doc.id, (d) => {
            before = d
            return Effect.succeed(edit(withRun(d, { ...notStarted, update_time: now, update_date: formatDate(now) })))
          })
          if (before !== undefined) yield* count(before.kb_id, -before.chunk_num, -before.token_num)
          return next
        })
      )
      yield* index.deleteByDocument(doc.kb_id, doc.id)
      return yield* found(doc.id)(next)
    })

  /** In the transaction that deletes the document: its counts come off the knowledge base. */
  const uncount = (doc: Document) => count(doc.kb_id, -doc.chunk_num, -doc.token_num)

  /** After the document was deleted: its tasks are canceled and its chunks dropped. */
  const discard = (doc: Document) => Effect.zipRight(queue.cancelKey(doc.id), index.deleteByDocument(doc.kb_id, doc.id))

  // -------------------------------------------------------------------------------------------
  // For the ingestion worker: reports and the end of a run.

  /** Sets `progress` (0..1) and appends the lines to `progress_msg`. */
  const report = (id: DocumentId, progress: number, texts: ReadonlyArray<string>) =>
    Effect.flatMap(stamped(texts), ({ lines, stamp }) =>
      whileRunning(id, (d) => withRun(d, { progress, progress_msg: appendLines(d.progress_msg, lines), ...stamp }))
    )

  /** The run finished: `DONE` with its counts, and the knowledge base's counters moved by them, in one transaction. */
  const done = (id: DocumentId, result: RunResult) =>
    Effect.flatMap(stamped([result.line]), ({ lines, stamp }) =>
      store.transaction(
        Effect.gen(function* () {
          let before: Document | undefined
          yield* whileRunning(id, (d) => {
            before = d
            return withRun(d, {
              run: "DONE",
              progress: 1,
              progress_msg: appendLines(d.progress_msg, lines),
              chunk_num: result.chunks,
              token_num: result.tokens,
              process_duration: result.durationMs / 1000,
              ...stamp
            })
          })
          if (before === undefined) return
          yield* count(
            before.kb_id,
            result.chunks - before.chunk_num,
            result.tokens - before.token_num,
            result.chunks > 0 ? result.embedder : null
          )
        })
      )
    )

  /**
   * The run failed: `FAIL` with progress -1 and the reason, or still `RUNNING` with a
   * "Will retry" line when the task will be tried again. Nothing changes once the run ended.
   */
  const failed = (id: DocumentId, reason: string, retry: boolean) =>
    Effect.flatMap(stamped([`${retry ? "Will retry: " : "[ERROR] "}${reason}`]), ({ lines, stamp }) =>
      whileRunning(id, (d) =>
        withRun(d, {
          run: retry ? "RUNNING" : "FAIL",
          progress: retry ? d.progress : -1,
          progress_msg: appendLines(d.progress_msg, lines),
          ...stamp
        })
      ).pipe(Effect.catchTag("RunEnded", () => Effect.void), Effect.asVoid)
    )

  return { start, cancel, reset, uncount, discard, report, done, failed }
})

export type DocumentRuns = Effect.Effect.Success<typeof make>
