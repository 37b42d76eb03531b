/** Shared set-up for the service tests: the engine on memory ports with the Test model provider. */
import { Effect, Layer } from "effect"
import { Caller } from "../../src/domain/Caller.js"
import type { TenantId, UserId } from "../../src/domain/Ids.js"
import { TenantMember } from "../../src/domain/Records.js"
import * as ChunkMethod from "../../src/ports/ChunkMethod.js"
import { RecordStore } from "../../src/ports/RecordStore.js"
import * as Rag from "../../src/Rag.js"
import * as TestModels from "../../src/testing/TestModels.js"
import * as Tokenizer from "../../src/text/Tokenizer.js"
import { aTenant, anId, stamps } from "../../src/testing/Records.js"

export const Engine = Rag.layer(Rag.layerMemoryPorts, [TestModels.layer])

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
