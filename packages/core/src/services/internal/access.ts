/**
 * Who may see what. A caller reads its own tenant's records and the team (`permission: team`)
 * knowledge bases of tenants it is a member of; it changes only its own tenant's records.
 * A record the caller may not see is reported as not found, so ids of others leak nothing.
 */
import { Effect, Option } from "effect"
import type { Caller } from "../../domain/Caller.js"
import { type EntityName, notFound, type NotFound, type StoreError } from "../../domain/Errors.js"
import type { KnowledgeBaseId, TenantId } from "../../domain/Ids.js"
import type { KnowledgeBase } from "../../domain/Records.js"
import type { RecordStoreService } from "../../ports/RecordStore.js"

/** Tenants whose team knowledge bases the user sees (active membership, owner or normal). */
export const teamTenants = (store: RecordStoreService, caller: Caller): Effect.Effect<ReadonlyArray<TenantId>, StoreError> =>
  Effect.map(store.members.find({ where: { user_id: caller.userId, role: { in: ["owner", "normal"] }, status: "1" } }), (page) =>
    page.items.map((m) => m.tenant_id).filter((t) => t !== caller.tenantId)
  )

export const canRead = (caller: Caller, kb: KnowledgeBase, teams: ReadonlyArray<TenantId>): boolean =>
  kb.tenant_id === caller.tenantId || (kb.permission === "team" && teams.includes(kb.tenant_id))

/** A knowledge base the caller may read. */
export const readableKnowledgeBase = (
  store: RecordStoreService,
  caller: Caller,
  id: KnowledgeBaseId
): Effect.Effect<KnowledgeBase, NotFound | StoreError> =>
  Effect.gen(function* () {
    const kb = yield* store.knowledgeBases.get(id)
    if (Option.isNone(kb)) return yield* Effect.fail(notFound("KnowledgeBase", id))
    if (kb.value.tenant_id === caller.tenantId) return kb.value
    const teams = yield* teamTenants(store, caller)
    if (canRead(caller, kb.value, teams)) return kb.value
    return yield* Effect.fail(notFound("KnowledgeBase", id))
  })

/** A knowledge base of the caller's own tenant. */
export const ownKnowledgeBase = (
  store: RecordStoreService,
  caller: Caller,
  id: KnowledgeBaseId
): Effect.Effect<KnowledgeBase, NotFound | StoreError> =>
  Effect.flatMap(store.knowledgeBases.get(id), (kb) =>
    Option.isSome(kb) && kb.value.tenant_id === caller.tenantId
      ? Effect.succeed(kb.value)
      : Effect.fail(notFound("KnowledgeBase", id))
  )

/**
 * Is the record within the caller's dialog scope (`Caller.dialogId`)? A scoped caller sees its
 * dialog and the records of that dialog (conversations) only; an unscoped caller sees them all.
 */
export const inDialogScope = (caller: Caller, entity: EntityName, record: { readonly id: string }): boolean => {
  if (caller.dialogId === undefined) return true
  if (entity === "Dialog") return record.id === caller.dialogId
  return "dialog_id" in record && record.dialog_id === caller.dialogId
}

/** A record of the caller's own tenant (and dialog scope) from any tenant-scoped table. */
export const ownRecord = <A extends { readonly id: string; readonly tenant_id: string }>(
  table: { readonly get: (id: string) => Effect.Effect<Option.Option<A>, StoreError> },
  entity: EntityName,
  caller: Caller,
  id: string
): Effect.Effect<A, NotFound | StoreError> =>
  Effect.flatMap(table.get(id), (row) =>
    Option.isSome(row) && row.value.tenant_id === caller.tenantId && inDialogScope(caller, entity, row.value)
      ? Effect.succeed(row.value)
      : Effect.fail(notFound(entity, id))
  )
