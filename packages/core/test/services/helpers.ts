/** Shared set-up for the service tests: the engine on memory ports with the Test model provider. */
import { Effect, Layer } from "effect"
import { Caller } from "../../src/domain/Caller.js"
import type { TenantId, UserId } from "../../src/domain/Ids.js"
import { TenantMember } from "../../src/domain/Records.js"
import * as ChunkMethod from "../../src/ports/ChunkMethod.js"
import * as BlobStore from "../../src/ports/BlobStore.js"
import * as ChunkIndex from "../../src/ports/ChunkIndex.js"
import * as Parser from "../../src/ports/Parser.js"
import { RecordStore } from "../../src/ports/RecordStore.js"
import * as RecordStorePort from "../../src/ports/RecordStore.js"
import * as TaskQueue from "../../src/ports/TaskQueue.js"
import { makeMemoryPrimitives } from "../../src/internal/memoryChunkIndex.js"
import * as Rag from "../../src/Rag.js"
import * as TestModels from "../../src/testing/TestModels.js"
import * as Tokenizer from "../../src/text/Tokenizer.js"
import { aTenant, anId, stamps } from "../../src/testing/Records.js"

export const Engine = Rag.layer(Rag.layerMemoryPorts, [TestModels.layer])

/**
 * The memory index as an index that reads little: its searches' summaries are plain objects without
 * text (as LanceDB's are), so callers must read whole chunks with `getMany`.
 */
const SummaryIndex = Layer.effect(
  ChunkIndex.ChunkIndex,
  Effect.map(makeMemoryPrimitives, (primitives) => {
    const summaries = (results: ReadonlyArray<ChunkIndex.ScoredChunk>) =>
      results.map(({ chunk, score }) => ({
        chunk: { id: chunk.id, kb_id: chunk.kb_id, doc_id: chunk.doc_id, docnm_kwd: chunk.docnm_kwd, vector: chunk.vector },
        score
      }))
    return ChunkIndex.make({
      ...primitives,
      searchTextSummaries: (search) => Effect.map(primitives.searchText(search), summaries),
      searchVectorSummaries: (search) => Effect.map(primitives.searchVector(search), summaries)
    })
  })
)

/** `Engine` over `SummaryIndex`. */
export const SummaryEngine = Rag.layer(
  Layer.mergeAll(
    RecordStorePort.layerMemory,
    TaskQueue.layerMemory,
    BlobStore.layerMemory,
    SummaryIndex,
    Parser.layer([Parser.TextParser]),
    Tokenizer.layer
  ),
  [TestModels.layer]
)

/** One chunk per paragraph, as RAGFlow's `naive` method of plain text. */
export const paragraphs: ChunkMethod.ChunkMethod = {
  id: "naive",
  accepts: ["txt"],
  chunk: (doc) => Effect.succeed(doc.sections.map((s) => ({ content: s.text, page_num: [], positions: [] })))
}

/** `Engine` with the ingestion worker running (100 ms heartbeats), chunking text by `paragraphs`. */
export const EngineWithWorker = Rag.layerWorker({ heartbeatMs: 100 }).pipe(
  Layer.provideMerge(Engine),
  Layer.provideMerge(Layer.merge(ChunkMethod.layer([paragraphs]), Tokenizer.layer))
)

/** `SummaryEngine` with the worker, as `EngineWithWorker`. */
export const SummaryEngineWithWorker = Rag.layerWorker({ heartbeatMs: 100 }).pipe(
  Layer.provideMerge(SummaryEngine),
  Layer.provideMerge(Layer.merge(ChunkMethod.layer([paragraphs]), Tokenizer.layer))
)

/** A tenant of its own (default embedding model `hash-64@Test`) and its owner as the caller. */
export const newCaller = (embd_id = "hash-64@Test") =>
  Effect.gen(function* () {
    const store = yield* RecordStore
    const tenant = aTenant({ embd_id })
    yield* store.tenants.insert(tenant)
    const userId = tenant.id as string as UserId
    yield* store.members.insert(
      new TenantMember({ id: anId(), tenant_id: tenant.id, user_id: userId, invited_by: userId, role: "owner", status: "1", ...stamps() })
    )
    return new Caller({ tenantId: tenant.id, userId })
  })

/** Makes `member` a normal member of `owner`'s tenant. */
export const joinTeam = (owner: Caller, member: Caller) =>
  Effect.flatMap(RecordStore, (store) =>
    store.members.insert(
      new TenantMember({
        id: anId(),
        tenant_id: owner.tenantId,
        user_id: member.userId,
        invited_by: owner.userId,
        role: "normal",
        status: "1",
        ...stamps()
      })
    )
  )

export const text = (s: string) => new TextEncoder().encode(s)

export type { TenantId }
export { Layer }
