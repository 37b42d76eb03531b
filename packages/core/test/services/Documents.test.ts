import { describe, expect, layer } from "@effect/vitest"
import { Effect, Either, Option } from "effect"
import type { DocumentId, KnowledgeBaseId } from "../../src/domain/Ids.js"
import { Document } from "../../src/domain/Records.js"
import { BlobStore } from "../../src/ports/BlobStore.js"
import { ChunkIndex } from "../../src/ports/ChunkIndex.js"
import { RecordStore } from "../../src/ports/RecordStore.js"
import { TaskQueue } from "../../src/ports/TaskQueue.js"
import { Documents, ParseTaskKind } from "../../src/services/Documents.js"
import { KnowledgeBases } from "../../src/services/KnowledgeBases.js"
import { makeTestChunk } from "../../src/testing/ChunkIndexSuite.js"
import { anId } from "../../src/testing/Records.js"
import { Engine, joinTeam, newCaller, text } from "./helpers.js"

const leftTag = <A, E extends { readonly _tag: string }>(result: Either.Either<A, E>) =>
  Either.isLeft(result) ? result.left._tag : "Right"

const setup = Effect.gen(function* () {
  const me = yield* newCaller()
  const kb = yield* (yield* KnowledgeBases).create(me, { name: "Library", parser_config: { chunk_token_num: 300 } })
  return { me, kb }
})

describe("Documents", () => {
  layer(Engine)((it) => {
    it.effect("uploads bytes into the blob store and a record into the knowledge base", () =>
      Effect.gen(function* () {
        const docs = yield* Documents
        const blobs = yield* BlobStore
        const { me, kb } = yield* setup
        const [doc] = yield* docs.upload(me, kb.id, [{ name: "Guide.TXT", bytes: text("Chapter one.\n\nChapter two.") }])
        expect(doc).toMatchObject({
          kb_id: kb.id,
          tenant_id: me.tenantId,
          created_by: me.userId,
          name: "Guide.TXT",
          suffix: "txt",
          type: "doc",
          size: 26,
          run: "UNSTART",
          progress: 0,
          parser_id: "naive",
          status: "1",
          source_type: "local"
        })
        expect(doc!.parser_config).toMatchObject({ chunk_token_num: 300 })
        expect(new TextDecoder().decode(yield* blobs.get(doc!.location))).toBe("Chapter one.\n\nChapter two.")
        const { bytes, document } = yield* docs.download(me, doc!.id)
        expect([document.id, bytes.length]).toEqual([doc!.id, 26])
        const after = yield* (yield* KnowledgeBases).get(me, kb.id)
        expect([after.document_count, after.size]).toEqual([1, 26])
      }))

    it.effect("refuses an unsupported file type before storing anything", () =>
      Effect.gen(function* () {
        const docs = yield* Documents
        const blobs = yield* BlobStore
        const store = yield* RecordStore
        const { me, kb } = yield* setup
        const result = yield* Effect.either(
          docs.upload(me, kb.id, [
            { name: "fine.txt", bytes: text("ok") },
            { name: "program.exe", bytes: new Uint8Array([0x4d, 0x5a, 0, 0]) }
          ])
        )
        expect(leftTag(result)).toBe("InvalidInput")
        expect(Either.isLeft(result) && result.left.message).toMatch(/not been supported.*program\.exe.*\.exe/)
        expect(yield* store.documents.count({ kb_id: kb.id })).toBe(0)
        expect(yield* blobs.list(`${kb.id}/`)).toEqual([])
        expect((yield* (yield* KnowledgeBases).get(me, kb.id)).document_count).toBe(0)

        for (const name of ["", "a/b.txt", `${"x".repeat(252)}.txt`]) {
          const bad = yield* Effect.either(docs.upload(me, kb.id, [{ name, bytes: text("x") }]))
          expect(leftTag(bad)).toBe("InvalidInput")
        }
        expect(leftTag(yield* Effect.either(docs.upload(me, kb.id, [])))).toBe("InvalidInput")
        expect(yield* store.documents.count({ kb_id: kb.id })).toBe(0)
      }))

    it.effect("gives a duplicate file name a number, as RAGFlow does", () =>
      Effect.gen(function* () {
        const docs = yield* Documents
        const { me, kb } = yield* setup
        const uploaded = yield* docs.upload(me, kb.id, [
          { name: "notes.txt", bytes: text("1") },
          { name: "notes.txt", bytes: text("2") },
          { name: "notes.txt", bytes: text("3") }
        ])
        expect(uploaded.map((d) => d.name)).toEqual(["notes.txt", "notes(1).txt", "notes(2).txt"])
        expect(new Set(uploaded.map((d) => d.location)).size).toBe(3)
      }))

    it.effect("renames keeping the extension and a free name", () =>
      Effect.gen(function* () {
        const docs = yield* Documents
        const { me, kb } = yield* setup
        const [a, b] = yield* docs.upload(me, kb.id, [
          { name: "a.txt", bytes: text("a") },
          { name: "b.txt", bytes: text("b") }
        ])
        expect((yield* docs.rename(me, a!.id, "Alpha.txt")).name).toBe("Alpha.txt")
        expect(leftTag(yield* Effect.either(docs.rename(me, a!.id, "Alpha.md")))).toBe("InvalidInput")
        expect(leftTag(yield* Effect.either(docs.rename(me, a!.id, "Alpha")))).toBe("InvalidInput")
        expect(leftTag(yield* Effect.either(docs.rename(me, b!.id, "Alpha.txt")))).toBe("AlreadyExists")
        expect(leftTag(yield* Effect.either(docs.rename(me, b!.id, "   ")))).toBe("InvalidInput")
        expect((yield* docs.get(me, b!.id)).name).toBe("b.txt")
      }))

    it.effect("lists with RAGFlow's filters", () =>
      Effect.gen(function* () {
        const docs = yield* Documents
        const store = yield* RecordStore
        const { me, kb } = yield* setup
        const uploaded = yield* docs.upload(me, kb.id, [
          { name: "report-2023.log", bytes: text("# 2023") },
          { name: "report-2024.txt", bytes: text("2024") },
          { name: "minutes.txt", bytes: text("minutes") }
        ])
        // Give them distinct creation times and states.
        yield* Effect.forEach(uploaded, (d, i) =>
          store.documents.update(new Document({ ...d, create_time: 1_000 * (i + 1), run: i === 0 ? "DONE" : "UNSTART" }))
        )
        const names = (q: Parameters<typeof docs.list>[2]) => Effect.map(docs.list(me, kb.id, q), (p) => p.items.map((d) => d.name))
        expect(yield* names({ desc: false })).toEqual(["report-2023.log", "report-2024.txt", "minutes.txt"])
        expect(yield* names({})).toEqual(["minutes.txt", "report-2024.txt", "report-2023.log"])
        expect(yield* names({ keywords: "REPORT", desc: false })).toEqual(["report-2023.log", "report-2024.txt"])
        expect(yield* names({ suffix: ["txt"], desc: false })).toEqual(["report-2024.txt", "minutes.txt"])
        expect(yield* names({ suffix: [".LOG"] })).toEqual(["report-2023.log"])
        expect(yield* names({ run_status: ["DONE"] })).toEqual(["report-2023.log"])
        expect(yield* names({ create_time_from: 1_500, create_time_to: 2_500 })).toEqual(["report-2024.txt"])
        const page = yield* docs.list(me, kb.id, { page: 2, page_size: 2, desc: false })
        expect([page.items.map((d) => d.name), page.total]).toEqual([["minutes.txt"], 3])
      }))

    it.effect("parses through the task queue and cancels", () =>
      Effect.gen(function* () {
        const docs = yield* Documents
        const queue = yield* TaskQueue
        const { me, kb } = yield* setup
        const [doc] = yield* docs.upload(me, kb.id, [{ name: "a.txt", bytes: text("a") }])
        const [running] = yield* docs.parse(me, [doc!.id])
        expect(running!.run).toBe("RUNNING")
        const tasks = yield* queue.listByKey(doc!.id)
        expect(tasks.map((t) => [t.kind, t.status, t.payload])).toEqual([
          [ParseTaskKind, "queued", { doc_id: doc!.id, kb_id: kb.id, tenant_id: me.tenantId }]
        ])
        // Parsing again replaces the queued task.
        yield* docs.parse(me, [doc!.id])
        expect((yield* queue.listByKey(doc!.id)).map((t) => t.status)).toEqual(["queued", "canceled"])

        const [canceled] = yield* docs.cancel(me, [doc!.id])
        expect(canceled!.run).toBe("CANCEL")
        expect((yield* queue.listByKey(doc!.id)).every((t) => t.status === "canceled")).toBe(true)
        expect(leftTag(yield* Effect.either(docs.cancel(me, [doc!.id])))).toBe("InvalidInput")

        const virtual = yield* docs.createVirtual(me, kb.id, "https://example.com/page")
        expect([virtual.type, virtual.location, virtual.source_type]).toEqual(["virtual", "", "virtual"])
        expect(leftTag(yield* Effect.either(docs.parse(me, [virtual.id])))).toBe("InvalidInput")
        expect(leftTag(yield* Effect.either(docs.download(me, virtual.id)))).toBe("InvalidInput")
      }))

    it.effect("changing the chunk method resets the document and drops its chunks", () =>
      Effect.gen(function* () {
        const docs = yield* Documents
        const store = yield* RecordStore
        const index = yield* ChunkIndex
        const kbs = yield* KnowledgeBases
        const { me, kb } = yield* setup
        const [doc] = yield* docs.upload(me, kb.id, [{ name: "a.txt", bytes: text("a b c") }])
        // As if parsing had finished: two chunks, counted on the document and the knowledge base.
        yield* index.upsert([makeTestChunk(kb.id, doc!.id, { content: "a b" }), makeTestChunk(kb.id, doc!.id, { content: "c" })])
        yield* store.documents.update(new Document({ ...doc!, run: "DONE", progress: 1, chunk_num: 2, token_num: 3 }))
        yield* store.knowledgeBases.modify(kb.id, (k) => Effect.succeed({ ...k, chunk_count: 2, token_num: 3 } as typeof k))

        expect((yield* docs.changeParser(me, doc!.id, "naive")).run).toBe("DONE") // unchanged: nothing reset
        expect(leftTag(yield* Effect.either(docs.changeParser(me, doc!.id, "magic")))).toBe("InvalidInput")
        expect(yield* index.countByDocument(kb.id, doc!.id)).toBe(2)

        const changed = yield* docs.changeParser(me, doc!.id, "one", { extra: true })
        expect(changed).toMatchObject({ parser_id: "one", run: "UNSTART", progress: 0, chunk_num: 0, token_num: 0 })
        expect(changed.parser_config).toMatchObject({ extra: true })
        expect(yield* index.countByDocument(kb.id, doc!.id)).toBe(0)
        const after = yield* kbs.get(me, kb.id)
        expect([after.chunk_count, after.token_num]).toEqual([0, 0])
      }))

    it.effect("enables and disables documents", () =>
      Effect.gen(function* () {
        const docs = yield* Documents
        const { me, kb } = yield* setup
        const uploaded = yield* docs.upload(me, kb.id, [
          { name: "a.txt", bytes: text("a") },
          { name: "b.txt", bytes: text("b") }
        ])
        const off = yield* docs.setStatus(me, uploaded.map((d) => d.id), "0")
        expect(off.map((d) => d.status)).toEqual(["0", "0"])
        expect(leftTag(yield* Effect.either(docs.setStatus(me, [uploaded[0]!.id], "2")))).toBe("InvalidInput")
        expect((yield* docs.get(me, uploaded[0]!.id)).status).toBe("0")
      }))

    it.effect("deletes documents with their chunks, bytes and counts", () =>
      Effect.gen(function* () {
        const docs = yield* Documents
        const blobs = yield* BlobStore
        const index = yield* ChunkIndex
        const store = yield* RecordStore
        const kbs = yield* KnowledgeBases
        const { me, kb } = yield* setup
        const [a, b] = yield* docs.upload(me, kb.id, [
          { name: "a.txt", bytes: text("aaaa") },
          { name: "b.txt", bytes: text("bb") }
        ])
        yield* index.upsert([makeTestChunk(kb.id, a!.id, { content: "aaaa" })])
        yield* store.documents.update(new Document({ ...a!, chunk_num: 1, token_num: 1 }))
        yield* store.knowledgeBases.modify(kb.id, (k) => Effect.succeed({ ...k, chunk_count: 1, token_num: 1 } as typeof k))

        // One unknown id: nothing is deleted.
        expect(leftTag(yield* Effect.either(docs.remove(me, [a!.id, anId()])))).toBe("NotFound")
        expect(yield* store.documents.count({ kb_id: kb.id })).toBe(2)

        expect(yield* docs.remove(me, [a!.id])).toBe(1)
        expect(yield* blobs.exists(a!.location)).toBe(false)
        expect(yield* index.countByDocument(kb.id, a!.id)).toBe(0)
        expect(Option.isNone(yield* store.documents.get(a!.id))).toBe(true)
        const after = yield* kbs.get(me, kb.id)
        expect([after.document_count, after.chunk_count, after.token_num, after.size]).toEqual([1, 0, 0, 2])
        expect(yield* blobs.exists(b!.location)).toBe(true)
      }))

    it.effect("keeps tenants apart; team members work in team knowledge bases", () =>
      Effect.gen(function* () {
        const docs = yield* Documents
        const kbs = yield* KnowledgeBases
        const { me, kb } = yield* setup
        const [stranger, member] = [yield* newCaller(), yield* newCaller()]
        yield* joinTeam(me, member)
        const [doc] = yield* docs.upload(me, kb.id, [{ name: "secret.txt", bytes: text("s") }])

        expect(leftTag(yield* Effect.either(docs.upload(stranger, kb.id, [{ name: "x.txt", bytes: text("x") }])))).toBe("NotFound")
        expect(leftTag(yield* Effect.either(docs.get(stranger, doc!.id)))).toBe("NotFound")
        expect(leftTag(yield* Effect.either(docs.download(stranger, doc!.id)))).toBe("NotFound")
        expect(leftTag(yield* Effect.either(docs.rename(stranger, doc!.id, "mine.txt")))).toBe("NotFound")
        expect(leftTag(yield* Effect.either(docs.remove(stranger, [doc!.id])))).toBe("NotFound")
        expect(leftTag(yield* Effect.either(docs.list(stranger, kb.id)))).toBe("NotFound")
        expect(leftTag(yield* Effect.either(docs.get(me, "../etc/passwd" as DocumentId)))).toBe("InvalidInput")
        expect(leftTag(yield* Effect.either(docs.list(me, anId<KnowledgeBaseId>())))).toBe("NotFound")
        // A private knowledge base stays private to members too.
        expect(leftTag(yield* Effect.either(docs.get(member, doc!.id)))).toBe("NotFound")

        const team = yield* kbs.create(me, { name: "Team shelf", permission: "team" })
        const [shared] = yield* docs.upload(member, team.id, [{ name: "shared.txt", bytes: text("s") }])
        expect(shared!.created_by).toBe(member.userId)
        expect((yield* docs.list(me, team.id)).items.map((d) => d.name)).toEqual(["shared.txt"])
        expect((yield* docs.get(me, doc!.id)).name).toBe("secret.txt")
      }))
  })
})
