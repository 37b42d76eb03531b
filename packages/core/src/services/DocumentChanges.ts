/**
 * DocumentChanges: documents' run state as it changes, for progress bars and for hosts that wait
 * for parsing to end. The run owner (`internal/DocumentRuns`) publishes a `DocumentChange` after
 * each write it makes: a run queued (`RUNNING`), each progress report, `DONE`, `FAIL`, `CANCEL`, a
 * reset (`UNSTART`), and chunk counts changed by hand.
 *
 * In this process only: the worker and the services must share one engine layer (`Rag.layer`
 * with `Rag.layerWorker` over it, as the server and the embedded preset build them). Changes made by
 * a worker in another process are not seen here; read the documents (`Documents.list`) instead.
 *
 * Callers subscribe with `Documents.changes`, which checks the knowledge base and keeps to the
 * caller's documents; `subscribe` here sees every tenant's, for the engine itself.
 */
import { Context, Effect, Layer, PubSub, type Queue, Schema, type Scope } from "effect"
import { DocumentId, KnowledgeBaseId, TenantId } from "../domain/Ids.js"
import { type Document, RunStatus } from "../domain/Records.js"

/** A document's run state after a change. */
export class DocumentChange extends Schema.Class<DocumentChange>("DocumentChange")({
  doc_id: DocumentId,
  kb_id: KnowledgeBaseId,
  tenant_id: TenantId,
  /** The document's name. */
  name: Schema.String,
  run: RunStatus,
  /** 0..1 while running and when done; -1 when failed. */
  progress: Schema.Number,
  /** Every progress line of the run so far, the newest last. */
  progress_msg: Schema.String,
  chunk_num: Schema.Number,
  token_num: Schema.Number,
  /** The run's generation (`Document.run_generation`). */
  run_generation: Schema.Number,
  /** When the change was made (epoch ms). */
  update_time: Schema.Number
}) {}

/** The change a document's state stands for. */
export const changeOf = (doc: Document): DocumentChange =>
  new DocumentChange(
    {
      doc_id: doc.id,
      kb_id: doc.kb_id,
      tenant_id: doc.tenant_id,
      name: doc.name,
      run: doc.run,
      progress: doc.progress,
      progress_msg: doc.progress_msg,
      chunk_num: doc.chunk_num,
      token_num: doc.token_num,
      run_generation: doc.run_generation,
      update_time: doc.update_time
    },
    true
  )

export interface DocumentChangesService {
  /** Tells the subscribers of the document's state now. */
  readonly publish: (doc: Document) => Effect.Effect<void>
  /** Every change from now on, of every tenant, until the scope closes. */
  readonly subscribe: Effect.Effect<Queue.Dequeue<DocumentChange>, never, Scope.Scope>
}

export class DocumentChanges extends Context.Tag("@ragkit/core/DocumentChanges")<DocumentChanges, DocumentChangesService>() {}

/**
 * The changes of this process. Unbounded: a subscriber that reads slowly holds the changes it has
 * not read yet (small records), and none is dropped, so a waiting host never misses a `DONE`.
 */
export const layer: Layer.Layer<DocumentChanges> = Layer.scoped(
  DocumentChanges,
  Effect.map(Effect.acquireRelease(PubSub.unbounded<DocumentChange>(), PubSub.shutdown), (hub) =>
    DocumentChanges.of({
      publish: (doc) => Effect.asVoid(PubSub.publish(hub, changeOf(doc))),
      subscribe: PubSub.subscribe(hub)
    })
  )
)
