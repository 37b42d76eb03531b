/** The ingestion engine the parsers' acceptance tests run: memory stores, the `Test` models, a worker. */
import { Caller, type ChunkMethod, type Parser, type ParseError, Rag, RecordStore, TenantMember, type Tokenizer, type UserId } from "@ragkit/core"
import { aTenant, anId, stamps, TestModels } from "@ragkit/core/testing"
import { Effect, Layer } from "effect"

type Parsing = Layer.Layer<Parser.ParserRegistry | ChunkMethod.ChunkMethodRegistry | Tokenizer.Tokenizer, ParseError>

/** `worker` over the engine on memory stores and `parsing` (parsers, chunk methods, tokenizer). */
export const engine = <A, E, R>(worker: Layer.Layer<A, E, R>, parsing: Parsing) =>
  worker.pipe(
    Layer.provideMerge(Rag.layer(Layer.merge(Rag.layerMemoryStores, parsing), [TestModels.layer])),
    Layer.provideMerge(parsing)
  )

/** A tenant of its own and its owner as the caller. */
export const newCaller = Effect.gen(function*() {
  const store = yield* RecordStore.RecordStore
  const tenant = aTenant({ embd_id: "hash-64@Test" })
  yield* store.tenants.insert(tenant)
  const userId = tenant.id as string as UserId
  yield* store.members.insert(
    new TenantMember({ id: anId(), tenant_id: tenant.id, user_id: userId, invited_by: userId, role: "owner", status: "1", ...stamps() })
  )
  return new Caller({ tenantId: tenant.id, userId })
})
