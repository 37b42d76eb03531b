/**
 * The RecordStore conformance suite. Every implementation runs it:
 *
 *   RecordStoreSuite("memory", RecordStore.layerMemory)
 *
 * The layer is built once for the suite; each test works in tenants of its own.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Either, Layer, Option } from "effect"
import { type KnowledgeBaseId, type MessageId, randomHex32, type TenantId } from "../domain/Ids.js"
import { LoginFailure, Message } from "../domain/Records.js"
import { RecordStore } from "../ports/RecordStore.js"
import { aConversation, aDocument, aKnowledgeBase, anApiToken, aSession, aTenant, aUser, anId, stamps } from "./Records.js"

export const RecordStoreSuite = <E>(name: string, storeLayer: Layer.Layer<RecordStore, E>) =>
  describe(`RecordStore conformance: ${name}`, () => {
    layer(storeLayer, { timeout: 120_000 })((it) => {
      it.effect("round-trips every field of a record", () =>
        Effect.gen(function* () {
          const store = yield* RecordStore
          const kb = aKnowledgeBase({
            name: "Bücher — 知识库 'quoted' \"double\"",
            parser_config: { chunk_token_num: 128, delimiter: "\n!?;。", nested: { list: [1, "two", null] } },
            embedder: { model: "hash@Test", dimensions: 64 },
            description: "line one\nline two"
          })
          yield* store.knowledgeBases.insert(kb)
          const back = yield* store.knowledgeBases.get(kb.id)
          expect(Option.getOrThrow(back)).toEqual(kb)
          expect(Option.isNone(yield* store.knowledgeBases.get(anId()))).toBe(true)
        }))

      it.effect("keeps conversations with their messages", () =>
        Effect.gen(function* () {
          const store = yield* RecordStore
          const message = new Message({
            id: anId<MessageId>(),
            role: "assistant",
            content: "The answer [ID:0].",
            created_at: 1,
            reference: { chunks: [{ id: "c1", content: "x" }], doc_aggs: [{ doc_id: "d", count: 1 }], total: 1 },
            thumbup: true,
            feedback: "good"
          })
          const conv = aConversation({ message: [message] })
          yield* store.conversations.insert(conv)
          expect(Option.getOrThrow(yield* store.conversations.get(conv.id))).toEqual(conv)
        }))

      it.effect("refuses a duplicate id and a taken unique key, and writes nothing", () =>
        Effect.gen(function* () {
          const store = yield* RecordStore
          const tenant = anId<TenantId>()
          const kb = aKnowledgeBase({ tenant_id: tenant, name: "manuals" })
          yield* store.knowledgeBases.insert(kb)

          const sameId = yield* Effect.either(store.knowledgeBases.insert(aKnowledgeBase({ id: kb.id, tenant_id: tenant })))
          expect(Either.isLeft(sameId) && sameId.left.reason).toBe("Conflict")

          const twin = aKnowledgeBase({ tenant_id: tenant, name: "manuals" })
          const sameName = yield* Effect.either(store.knowledgeBases.insert(twin))
          expect(Either.isLeft(sameName) && sameName.left.reason).toBe("Conflict")
          expect(Option.isNone(yield* store.knowledgeBases.get(twin.id))).toBe(true)

          // The same name in another tenant is fine.
          yield* store.knowledgeBases.insert(aKnowledgeBase({ name: "manuals" }))

          // Renaming onto a taken name is refused and leaves the record as it was.
          const other = aKnowledgeBase({ tenant_id: tenant, name: "policies" })
          yield* store.knowledgeBases.insert(other)
          const rename = yield* Effect.either(store.knowledgeBases.update(aKnowledgeBase({ ...other, name: "manuals" })))
          expect(Either.isLeft(rename) && rename.left.reason).toBe("Conflict")
          expect(Option.getOrThrow(yield* store.knowledgeBases.get(other.id)).name).toBe("policies")

          const users = [aUser({ email: "same@example.com" }), aUser({ email: "same@example.com" })]
          const emails = yield* Effect.either(Effect.forEach(users, (u) => store.users.insert(u)))
          expect(Either.isLeft(emails)).toBe(true)
          yield* store.users.remove([users[0]!.id])
        }))

      it.effect("insertNew inserts, in order, the records whose id and unique keys are free, and skips the others", () =>
        Effect.gen(function* () {
          const store = yield* RecordStore
          const kb = anId<KnowledgeBaseId>()
          const taken = aDocument({ kb_id: kb, name: "taken.txt", create_time: 1 })
          yield* store.documents.insert(taken)
          const batch = [
            aDocument({ kb_id: kb, name: "a.txt", create_time: 2 }),
            aDocument({ kb_id: kb, name: "taken.txt", create_time: 3 }),
            aDocument({ kb_id: kb, name: "a.txt", create_time: 4 }),
            aDocument({ id: taken.id, kb_id: kb, name: "other.txt", create_time: 5 }),
            aDocument({ kb_id: kb, name: "b.txt", create_time: 6 }),
            // The same name in another knowledge base is free.
            aDocument({ name: "a.txt", create_time: 7 })
          ]
          const inserted = yield* store.documents.insertNew(batch)
          expect(inserted).toEqual([batch[0], batch[4], batch[5]])
          const inKb = yield* store.documents.find({ where: { kb_id: kb }, orderBy: "create_time" })
          expect(inKb.items).toEqual([taken, batch[0], batch[4]])
          expect(Option.getOrThrow(yield* store.documents.get(batch[5]!.id))).toEqual(batch[5])
          expect(yield* store.documents.insertNew([])).toEqual([])
          // Inside a transaction that fails, nothing stays.
          const late = aDocument({ kb_id: kb, name: "c.txt" })
          const failed = yield* Effect.either(store.transaction(Effect.zipRight(store.documents.insertNew([late]), Effect.fail("no" as const))))
          expect(failed).toEqual(Either.left("no"))
          expect(Option.isNone(yield* store.documents.get(late.id))).toBe(true)
        }))

      it.effect("keeps sessions: a token hash is unique, a user's sessions are found and ended together", () =>
        Effect.gen(function* () {
          const store = yield* RecordStore
          const user = aUser()
          const sessions = [aSession({ user_id: user.id, expire_time: 1_000 }), aSession({ user_id: user.id, expire_time: 2_000 }), aSession()]
          yield* Effect.forEach(sessions, (s) => store.sessions.insert(s))
          expect(Option.getOrThrow(yield* store.sessions.findFirst({ token_hash: sessions[1]!.token_hash }))).toEqual(sessions[1])
          const twin = yield* Effect.either(store.sessions.insert(aSession({ token_hash: sessions[0]!.token_hash })))
          expect(Either.isLeft(twin) && twin.left.reason).toBe("Conflict")
          expect(yield* store.sessions.count({ user_id: user.id })).toBe(2)
          expect(yield* store.sessions.removeWhere({ user_id: user.id, expire_time: { lte: 1_500 } })).toBe(1)
          expect(Option.isSome(yield* store.sessions.get(sessions[1]!.id))).toBe(true)
          expect(yield* store.sessions.removeWhere({ user_id: user.id })).toBe(1)
          expect(yield* store.sessions.count({ user_id: user.id })).toBe(0)
          expect(Option.isSome(yield* store.sessions.get(sessions[2]!.id))).toBe(true)
        }))

      it.effect("keeps failed logins by key and time, and an API key's beta unique (nulls apart)", () =>
        Effect.gen(function* () {
          const store = yield* RecordStore
          const key = randomHex32()
          const failures = [1_000, 2_000, 3_000].map((create_time) => new LoginFailure({ id: anId(), key, create_time }))
          yield* Effect.forEach(failures, (f) => store.loginFailures.insert(f))
          yield* store.loginFailures.insert(new LoginFailure({ id: anId(), key: randomHex32(), create_time: 2_000 }))
          const recent = yield* store.loginFailures.find({ where: { key, create_time: { gte: 1_500 } }, orderBy: "create_time", desc: true })
          expect(recent.items).toEqual([failures[2], failures[1]])
          expect((yield* store.loginFailures.find({ where: { key }, orderBy: "create_time", desc: true, offset: 2, limit: 1 })).items).toEqual([failures[0]])
          expect(yield* store.loginFailures.removeWhere({ key, create_time: { lte: 2_000 } })).toBe(2)
          expect(yield* store.loginFailures.count({ key })).toBe(1)

          const token = (beta: string | null) => anApiToken({ beta })
          const beta = randomHex32()
          const withBeta = yield* store.apiTokens.insert(token(beta))
          yield* store.apiTokens.insert(token(null))
          yield* store.apiTokens.insert(token(null))
          const twin = yield* Effect.either(store.apiTokens.insert(token(beta)))
          expect(Either.isLeft(twin) && twin.left.reason).toBe("Conflict")
          expect(Option.getOrThrow(yield* store.apiTokens.findFirst({ beta }))).toEqual(withBeta)
        }))

      it.effect("updates, and reports an update of a missing record", () =>
        Effect.gen(function* () {
          const store = yield* RecordStore
          const kb = aKnowledgeBase()
          yield* store.knowledgeBases.insert(kb)
          yield* store.knowledgeBases.update(aKnowledgeBase({ ...kb, description: "changed", chunk_count: 7 }))
          const back = Option.getOrThrow(yield* store.knowledgeBases.get(kb.id))
          expect([back.description, back.chunk_count]).toEqual(["changed", 7])

          const missing = yield* Effect.either(store.knowledgeBases.update(aKnowledgeBase()))
          expect(Either.isLeft(missing) && missing.left.reason).toBe("NotFound")
        }))

      it.effect("pages and orders, with a stable tie-break and the total before paging", () =>
        Effect.gen(function* () {
          const store = yield* RecordStore
          const tenant = anId<TenantId>()
          const kbs = Array.from({ length: 7 }, (_, i) =>
            aKnowledgeBase({ tenant_id: tenant, name: `kb-${String.fromCharCode(103 - i)}`, ...stamps(1_000 + (i % 3)) })
          )
          yield* Effect.forEach(kbs, (kb) => store.knowledgeBases.insert(kb))
          const byTimeThenId = [...kbs].sort((a, b) => a.create_time - b.create_time || (a.id < b.id ? -1 : 1))

          const asc = yield* store.knowledgeBases.find({ where: { tenant_id: tenant }, orderBy: "create_time" })
          expect(asc.total).toBe(7)
          expect(asc.items.map((k) => k.id)).toEqual(byTimeThenId.map((k) => k.id))

          const page2 = yield* store.knowledgeBases.find({ where: { tenant_id: tenant }, orderBy: "create_time", offset: 3, limit: 3 })
          expect(page2.total).toBe(7)
          expect(page2.items.map((k) => k.id)).toEqual(byTimeThenId.slice(3, 6).map((k) => k.id))

          const desc = yield* store.knowledgeBases.find({ where: { tenant_id: tenant }, orderBy: "create_time", desc: true, limit: 2 })
          expect(desc.items.map((k) => k.create_time)).toEqual([1_002, 1_002])

          const byName = yield* store.knowledgeBases.find({ where: { tenant_id: tenant }, orderBy: "name" })
          expect(byName.items.map((k) => k.name)).toEqual(["kb-a", "kb-b", "kb-c", "kb-d", "kb-e", "kb-f", "kb-g"])

          const beyond = yield* store.knowledgeBases.find({ where: { tenant_id: tenant }, offset: 50, limit: 10 })
          expect([beyond.items.length, beyond.total]).toEqual([0, 7])
        }))

      it.effect("filters with equality, lists, ranges, nulls and a case-insensitive search", () =>
        Effect.gen(function* () {
          const store = yield* RecordStore
          const tenant = anId<TenantId>()
          const kb = anId<KnowledgeBaseId>()
          const docs = [
            aDocument({ tenant_id: tenant, kb_id: kb, name: "Annual Report.pdf", suffix: "pdf", run: "DONE", ...stamps(100) }),
            aDocument({ tenant_id: tenant, kb_id: kb, name: "notes.txt", suffix: "txt", run: "UNSTART", ...stamps(200) }),
            aDocument({ tenant_id: tenant, kb_id: kb, name: "report-2.txt", suffix: "txt", run: "FAIL", pipeline_id: "p1", ...stamps(300) })
          ]
          yield* Effect.forEach(docs, (d) => store.documents.insert(d))
          const names = (q: Parameters<typeof store.documents.find>[0]) =>
            Effect.map(store.documents.find({ ...q, orderBy: "create_time" }), (p) => p.items.map((d) => d.name))

          expect(yield* names({ where: { kb_id: kb, suffix: "txt" } })).toEqual(["notes.txt", "report-2.txt"])
          expect(yield* names({ where: { kb_id: kb, run: { in: ["DONE", "FAIL"] } } })).toEqual(["Annual Report.pdf", "report-2.txt"])
          expect(yield* names({ where: { kb_id: kb, create_time: { gte: 150, lte: 300 } } })).toEqual(["notes.txt", "report-2.txt"])
          expect(yield* names({ where: { kb_id: kb, pipeline_id: null } })).toEqual(["Annual Report.pdf", "notes.txt"])
          expect(yield* names({ where: { kb_id: kb }, search: { fields: ["name"], text: "REPORT" } })).toEqual(["Annual Report.pdf", "report-2.txt"])
          expect(yield* names({ where: { kb_id: kb }, search: { fields: ["name"], text: "50%_" } })).toEqual([])
          expect(yield* store.documents.count({ kb_id: kb, suffix: "txt" })).toBe(2)
          expect(Option.getOrThrow(yield* store.documents.findFirst({ kb_id: kb, suffix: "txt" })).name).toBe("notes.txt")
          expect(yield* names({ where: { kb_id: kb, run: { in: [] } } })).toEqual([])
        }))

      it.effect("keeps tenants apart", () =>
        Effect.gen(function* () {
          const store = yield* RecordStore
          const [a, b] = [aTenant(), aTenant()]
          yield* store.tenants.insert(a)
          yield* store.tenants.insert(b)
          yield* store.knowledgeBases.insert(aKnowledgeBase({ tenant_id: a.id, name: "shared name" }))
          yield* store.knowledgeBases.insert(aKnowledgeBase({ tenant_id: b.id, name: "shared name" }))
          yield* store.knowledgeBases.insert(aKnowledgeBase({ tenant_id: b.id, name: "only b" }))
          const ofA = yield* store.knowledgeBases.find({ where: { tenant_id: a.id } })
          expect(ofA.items.map((k) => [k.tenant_id, k.name])).toEqual([[a.id, "shared name"]])
          expect(yield* store.knowledgeBases.count({ tenant_id: b.id })).toBe(2)
        }))

      it.effect("removes by id and by condition", () =>
        Effect.gen(function* () {
          const store = yield* RecordStore
          const kb = anId<KnowledgeBaseId>()
          const docs = Array.from({ length: 4 }, () => aDocument({ kb_id: kb }))
          yield* Effect.forEach(docs, (d) => store.documents.insert(d))
          expect(yield* store.documents.remove([docs[0]!.id, anId()])).toBe(1)
          expect(yield* store.documents.removeWhere({ kb_id: kb, id: { in: [docs[1]!.id, docs[2]!.id] } })).toBe(2)
          expect((yield* store.documents.find({ where: { kb_id: kb } })).items.map((d) => d.id)).toEqual([docs[3]!.id])
        }))

      it.effect("a failed transaction leaves nothing behind", () =>
        Effect.gen(function* () {
          const store = yield* RecordStore
          const tenant = anId<TenantId>()
          const kb = aKnowledgeBase({ tenant_id: tenant, name: "first" })
          const existing = aKnowledgeBase({ tenant_id: tenant, name: "existing", chunk_count: 1 })
          yield* store.knowledgeBases.insert(existing)

          const result = yield* Effect.either(
            store.transaction(
              Effect.gen(function* () {
                yield* store.knowledgeBases.insert(kb)
                yield* store.knowledgeBases.update(aKnowledgeBase({ ...existing, chunk_count: 99 }))
                yield* store.documents.insert(aDocument({ kb_id: kb.id, tenant_id: tenant }))
                return yield* Effect.fail("boom" as const)
              })
            )
          )
          expect(result).toEqual(Either.left("boom"))
          expect(Option.isNone(yield* store.knowledgeBases.get(kb.id))).toBe(true)
          expect(yield* store.documents.count({ kb_id: kb.id })).toBe(0)
          expect(Option.getOrThrow(yield* store.knowledgeBases.get(existing.id)).chunk_count).toBe(1)

          // A conflict inside a transaction rolls back the writes before it, too.
          const second = aKnowledgeBase({ tenant_id: tenant, name: "second" })
          const conflict = yield* Effect.either(
            store.transaction(
              Effect.zipRight(
                store.knowledgeBases.insert(second),
                store.knowledgeBases.insert(aKnowledgeBase({ tenant_id: tenant, name: "existing" }))
              )
            )
          )
          expect(Either.isLeft(conflict)).toBe(true)
          expect(Option.isNone(yield* store.knowledgeBases.get(second.id))).toBe(true)
        }))

      it.effect("commits a transaction, nested transactions included", () =>
        Effect.gen(function* () {
          const store = yield* RecordStore
          const kb = aKnowledgeBase()
          const doc = aDocument({ kb_id: kb.id, tenant_id: kb.tenant_id })
          yield* store.transaction(
            Effect.zipRight(store.knowledgeBases.insert(kb), store.transaction(store.documents.insert(doc)))
          )
          expect(Option.isSome(yield* store.knowledgeBases.get(kb.id))).toBe(true)
          expect(Option.isSome(yield* store.documents.get(doc.id))).toBe(true)
        }))

      it.effect("a failed nested transaction rolls back its own writes only", () =>
        Effect.gen(function* () {
          const store = yield* RecordStore
          const outer = aKnowledgeBase()
          const inner = aKnowledgeBase()
          yield* store.transaction(
            Effect.gen(function* () {
              yield* store.knowledgeBases.insert(outer)
              const failed = yield* Effect.either(
                store.transaction(Effect.zipRight(store.knowledgeBases.insert(inner), Effect.fail("inner" as const)))
              )
              expect(failed).toEqual(Either.left("inner"))
            })
          )
          expect(Option.isSome(yield* store.knowledgeBases.get(outer.id))).toBe(true)
          expect(Option.isNone(yield* store.knowledgeBases.get(inner.id))).toBe(true)
        }))

      it.effect("modifyMany reads and writes several rows at once, atomically", () =>
        Effect.gen(function* () {
          const store = yield* RecordStore
          const tenant = anId<TenantId>()
          const kbs = [1, 2, 3].map((i) => aKnowledgeBase({ tenant_id: tenant, name: `kb-${i}`, chunk_count: i }))
          yield* Effect.forEach(kbs, (kb) => store.knowledgeBases.insert(kb))
          const bump = (current: ReadonlyArray<(typeof kbs)[number]>) =>
            Effect.succeed(current.map((kb) => aKnowledgeBase({ ...kb, chunk_count: kb.chunk_count + 10 })))

          // Found rows in the order asked, each once, a missing id left out; only what `f` returns is written.
          let seen: Array<string> = []
          const written = yield* store.knowledgeBases.modifyMany([kbs[2]!.id, anId(), kbs[0]!.id, kbs[2]!.id], (current) => {
            seen = current.map((kb) => kb.id)
            return bump(current.slice(0, 1))
          })
          expect(seen).toEqual([kbs[2]!.id, kbs[0]!.id])
          expect(written.map((kb) => [kb.id, kb.chunk_count])).toEqual([[kbs[2]!.id, 13]])
          const counts = () => Effect.map(store.knowledgeBases.getMany(kbs.map((kb) => kb.id)), (all) => all.map((kb) => kb.chunk_count))
          expect(yield* counts()).toEqual([1, 2, 13])
          expect(yield* store.knowledgeBases.modifyMany([], bump)).toEqual([])

          // A taken unique key, a row gone, or a failing `f`: nothing written.
          const clash = yield* Effect.either(
            store.knowledgeBases.modifyMany(kbs.map((kb) => kb.id), (current) =>
              Effect.succeed(current.map((kb, i) => aKnowledgeBase({ ...kb, chunk_count: 0, name: i === 2 ? "kb-1" : kb.name })))
            )
          )
          expect(Either.isLeft(clash) && clash.left).toMatchObject({ _tag: "StoreError", reason: "Conflict" })
          const gone = yield* Effect.either(
            store.knowledgeBases.modifyMany([kbs[0]!.id], (current) =>
              Effect.succeed([aKnowledgeBase({ ...current[0]!, chunk_count: 0 }), aKnowledgeBase({ tenant_id: tenant })])
            )
          )
          expect(Either.isLeft(gone) && gone.left).toMatchObject({ _tag: "StoreError", reason: "NotFound" })
          expect(yield* Effect.either(store.knowledgeBases.modifyMany([kbs[0]!.id], () => Effect.fail("no" as const)))).toEqual(Either.left("no"))
          expect(yield* counts()).toEqual([1, 2, 13])

          // Concurrent callers over the same rows do not lose updates.
          yield* Effect.forEach(Array.from({ length: 10 }, (_, i) => i), () => store.knowledgeBases.modifyMany(kbs.map((kb) => kb.id), bump), {
            concurrency: 5
          })
          expect(yield* counts()).toEqual([101, 102, 113])
        }))

      it.effect("modify is atomic under concurrency", () =>
        Effect.gen(function* () {
          const store = yield* RecordStore
          const kb = aKnowledgeBase({ chunk_count: 0 })
          yield* store.knowledgeBases.insert(kb)
          yield* Effect.forEach(
            Array.from({ length: 20 }, (_, i) => i),
            () =>
              store.knowledgeBases.modify(kb.id, (current) =>
                Effect.succeed(aKnowledgeBase({ ...current, chunk_count: current.chunk_count + 1 }))
              ),
            { concurrency: 10 }
          )
          expect(Option.getOrThrow(yield* store.knowledgeBases.get(kb.id)).chunk_count).toBe(20)
          expect(Option.isNone(yield* store.knowledgeBases.modify(anId(), (k) => Effect.succeed(k)))).toBe(true)

          // A failing modification changes nothing.
          const failed = yield* Effect.either(store.knowledgeBases.modify(kb.id, () => Effect.fail("no" as const)))
          expect(failed).toEqual(Either.left("no"))
          expect(Option.getOrThrow(yield* store.knowledgeBases.get(kb.id)).chunk_count).toBe(20)
        }))
    })
  })
