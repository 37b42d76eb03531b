import { describe, expect, layer } from "@effect/vitest"
import { Effect, Either, Option, Stream } from "effect"
import type { KnowledgeBaseId } from "../../src/domain/Ids.js"
import { Document } from "../../src/domain/Records.js"
import { BlobStoreError } from "../../src/domain/Errors.js"
import { BlobStore } from "../../src/ports/BlobStore.js"
import { ChunkIndex } from "../../src/ports/ChunkIndex.js"
import { RecordStore } from "../../src/ports/RecordStore.js"
import { TaskQueue } from "../../src/ports/TaskQueue.js"
import { decoding } from "../../src/RagClient.js"
import * as Documents from "../../src/services/Documents.js"
import * as KnowledgeBases from "../../src/services/KnowledgeBases.js"
import { makeTestChunk } from "../../src/testing/ChunkIndexSuite.js"
import { anId } from "../../src/testing/Records.js"
import { Engine, joinTeam, newCaller, text } from "./helpers.js"

const leftTag = <A, E extends { readonly _tag: string }>(result: Either.Either<A, E>) =>
  Either.isLeft(result) ? result.left._tag : "Right"

/** The services as the surfaces call them: requests decoded first. */
const services = Effect.gen(function* () {
  return {
    docs: decoding(yield* Documents.Documents, Documents.Operations),
    kbs: decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations)
  }
})

const setup = Effect.gen(function* () {
  const { docs, kbs } = yield* services
  const me = yield* newCaller()
  const kb = yield* kbs.create(me, { name: "Library", parser_config: { chunk_token_num: 300 } })
  return { docs, kbs, me, kb }
})

/** The InvalidInput's field, or what happened instead. */
const invalidField = <A, E extends { readonly _tag: string }>(result: Either.Either<A, E>) =>
  Either.isLeft(result) && result.left._tag === "InvalidInput" ? (result.left as unknown as { field: string }).field : leftTag(result)

describe("Documents", () => {
  layer(Engine)((it) => {
    it.effect("uploads bytes into the blob store and a record into the knowledge base", () =>
      Effect.gen(function* () {
        const blobs = yield* BlobStore
        const { docs, kbs, me, kb } = yield* setup
        const [doc] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "Guide.TXT", bytes: text("Chapter one.\n\nChapter two.") }] })
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
        const { bytes, document } = yield* docs.download(me, { doc_id: doc!.id })
        expect([document.id, bytes.length]).toEqual([doc!.id, 26])
        const after = yield* kbs.get(me, { kb_id: kb.id })
        expect([after.document_count, after.size]).toEqual([1, 26])
      }))

    it.effect("refuses an unsupported file type or a bad name before storing anything, naming the field", () =>
      Effect.gen(function* () {
        const blobs = yield* BlobStore
        const store = yield* RecordStore
        const { docs, kbs, me, kb } = yield* setup
        const result = yield* Effect.either(
          docs.upload(me, {
            kb_id: kb.id,
            files: [
              { name: "fine.txt", bytes: text("ok") },
              { name: "program.exe", bytes: new Uint8Array([0x4d, 0x5a, 0, 0]) }
            ]
          })
        )
        expect(Either.isLeft(result) && result.left).toMatchObject({ _tag: "InvalidInput", field: "files[1]" })
        expect(Either.isLeft(result) && result.left.message).toMatch(/not been supported.*program\.exe.*\.exe/)
        expect(yield* store.documents.count({ kb_id: kb.id })).toBe(0)
        expect(yield* blobs.list(`${kb.id}/`)).toEqual([])
        expect((yield* kbs.get(me, { kb_id: kb.id })).document_count).toBe(0)

        // 255 bytes is the limit, counted in UTF-8 bytes: 85 three-byte characters fit, 86 do not.
        for (const name of ["", "   ", "a/b.txt", "a\\b.txt", "a\u0000b.txt", `${"x".repeat(252)}.txt`, `${"知".repeat(86)}`]) {
          const bad = yield* Effect.either(docs.upload(me, { kb_id: kb.id, files: [{ name: "ok.txt", bytes: text("x") }, { name, bytes: text("x") }] }))
          expect(invalidField(bad), JSON.stringify(name)).toBe("files[1].name")
        }
        expect(invalidField(yield* Effect.either(docs.upload(me, { kb_id: kb.id, files: [] })))).toBe("files")
        expect(invalidField(yield* Effect.either(docs.upload(me, { kb_id: kb.id, files: [{ name: "a.txt", bytes: "text" as never }] })))).toBe(
          "files[0].bytes"
        )
        expect(invalidField(yield* Effect.either(docs.upload(me, { kb_id: "nope", files: [{ name: "a.txt", bytes: text("x") }] })))).toBe("kb_id")
        expect(yield* store.documents.count({ kb_id: kb.id })).toBe(0)
        const [long] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: `${"知".repeat(81)}.txt`, bytes: text("x") }] })
        expect(long!.name).toBe(`${"知".repeat(81)}.txt`)
      }))

    it.effect("keeps the per-file size limit a deployment option", () =>
      Effect.gen(function* () {
        const store = yield* RecordStore
        const { kbs, me, kb } = yield* setup
        const small = decoding(yield* Documents.make({ maxFileBytes: 4 }), Documents.Operations)
        const big = yield* Effect.either(
          small.upload(me, { kb_id: kb.id, files: [{ name: "a.txt", bytes: text("1234") }, { name: "b.txt", bytes: text("12345") }] })
        )
        const error = Either.isLeft(big) ? big.left : undefined
        expect([error?._tag, error && "field" in error && error.field, error && "limit" in error && error.limit]).toEqual(["TooLarge", "files[1]", 4])
        expect(error?.message).toMatch(/b\.txt is larger than the limit of 4 bytes/)
        expect(yield* store.documents.count({ kb_id: kb.id })).toBe(0)
        expect((yield* kbs.get(me, { kb_id: kb.id })).document_count).toBe(0)
      }))

    it.effect("uploadStream stores streamed files as they come, and nothing when one is refused or breaks", () =>
      Effect.gen(function* () {
        const store = yield* RecordStore
        const blobs = yield* BlobStore
        const { kbs, me, kb } = yield* setup
        const docs = yield* Documents.make({ maxFileBytes: 6 })
        const file = <E>(name: string, content: Stream.Stream<Uint8Array, E>) => ({ name, content })
        const parts = (...s: ReadonlyArray<string>) => Stream.fromIterable(s.map(text))
        const stored = yield* docs.uploadStream(me, { kb_id: kb.id }, Stream.make(file("a.txt", parts("12", "34")), file("a.txt", parts("123456"))))
        expect(stored.map((d) => [d.name, d.size])).toEqual([["a.txt", 4], ["a(1).txt", 6]])
        expect(new TextDecoder().decode(yield* blobs.get(stored[0]!.location))).toBe("1234")
        expect((yield* kbs.get(me, { kb_id: kb.id })).document_count).toBe(2)

        const before = yield* blobs.list(`${kb.id}/`)
        // Over the limit while it streams: TooLarge naming the file; the first file's blob is removed too.
        const tooBig = yield* Effect.flip(docs.uploadStream(me, { kb_id: kb.id }, Stream.make(file("b.txt", parts("1")), file("c.txt", parts("1234", "567")))))
        expect([tooBig._tag, "field" in tooBig && tooBig.field]).toEqual(["TooLarge", "files[1]"])
        // A stream that breaks off: its own error, nothing kept.
        const broken = Stream.concat(parts("1"), Stream.fail("client went away" as const))
        expect(yield* Effect.flip(docs.uploadStream(me, { kb_id: kb.id }, Stream.make(file("d.txt", parts("1")), file("e.txt", broken))))).toBe(
          "client went away"
        )
        // A bad name or type is refused when the file arrives; no file at all is refused too.
        const badName = yield* Effect.flip(docs.uploadStream(me, { kb_id: kb.id }, Stream.make(file("f.txt", parts("1")), file("a/b.txt", parts("1")))))
        expect(badName).toMatchObject({ _tag: "InvalidInput", field: "files[1].name" })
        const badType = yield* Effect.flip(docs.uploadStream(me, { kb_id: kb.id }, Stream.make(file("g.exe", parts("1")))))
        expect(badType).toMatchObject({ _tag: "InvalidInput", field: "files[0]" })
        expect(yield* Effect.flip(docs.uploadStream(me, { kb_id: kb.id }, Stream.empty))).toMatchObject({ _tag: "InvalidInput", field: "files" })
        expect(yield* blobs.list(`${kb.id}/`)).toEqual(before)
        expect(yield* store.documents.count({ kb_id: kb.id })).toBe(2)
        // Another tenant's knowledge base is not found, before any byte is read.
        const other = yield* newCaller()
        const notRead = Stream.fromEffect(Effect.dieMessage("read"))
        expect((yield* Effect.flip(docs.uploadStream(other, { kb_id: kb.id }, Stream.make(file("h.txt", notRead)))))._tag).toBe("NotFound")
      }))

    it.effect("upload writes several files' bytes at once, keeps their order, and leaves nothing when one write fails", () =>
      Effect.gen(function* () {
        const store = yield* RecordStore
        const blobs = yield* BlobStore
        const { me, kb } = yield* setup
        // The real blob store, but its 13th write (and only that one) fails.
        let writes = 0
        const injected = new BlobStoreError({ reason: "Unavailable", message: "injected" })
        const failing = BlobStore.of({
          ...blobs,
          put: (key, bytes, options) => (++writes === 13 ? Effect.fail(injected) : blobs.put(key, bytes, options)),
          putStream: (key, content, options) => (++writes === 13 ? Effect.fail(injected) : blobs.putStream(key, content, options))
        })
        const docs = yield* Documents.make().pipe(Effect.provideService(BlobStore, failing))
        const files = Array.from({ length: 20 }, (_, i) => ({ name: "same.txt", bytes: text(`file ${i}`) }))
        const before = yield* blobs.list(`${kb.id}/`)
        const error = yield* Effect.flip(docs.upload(me, { kb_id: kb.id, files }))
        expect(error).toMatchObject({ _tag: "BlobStoreError", message: "injected" })
        expect(yield* blobs.list(`${kb.id}/`)).toEqual(before)
        expect(yield* store.documents.count({ kb_id: kb.id })).toBe(0)

        const stored = yield* docs.upload(me, { kb_id: kb.id, files })
        expect(stored.map((d) => d.name)).toEqual(["same.txt", ...Array.from({ length: 19 }, (_, i) => `same(${i + 1}).txt`)])
        for (const [i, doc] of stored.entries()) expect(new TextDecoder().decode(yield* blobs.get(doc.location))).toBe(`file ${i}`)
      }))

    it.effect("upload inserts the records of the files whose names are free in one write, and numbers the others after", () =>
      Effect.gen(function* () {
        const store = yield* RecordStore
        const blobs = yield* BlobStore
        const { docs: plain, me, kb } = yield* setup
        yield* plain.upload(me, { kb_id: kb.id, files: [{ name: "dup.txt", bytes: text("before") }] })
        const calls = { insert: 0, insertNew: 0 }
        const counting = RecordStore.of({
          ...store,
          documents: {
            ...store.documents,
            insert: (doc) => Effect.suspend(() => (calls.insert++, store.documents.insert(doc))),
            insertNew: (many) => Effect.suspend(() => (calls.insertNew++, store.documents.insertNew(many)))
          }
        })
        const docs = yield* Documents.make().pipe(Effect.provideService(RecordStore, counting))
        const names = [...Array.from({ length: 30 }, (_, i) => `free-${i}.txt`), "dup.txt", "dup.txt"]
        const stored = yield* docs.upload(me, { kb_id: kb.id, files: names.map((name, i) => ({ name, bytes: text(`file ${i}`) })) })
        expect(stored.map((d) => d.name)).toEqual([...names.slice(0, 30), "dup(1).txt", "dup(2).txt"])
        // The second "dup.txt" finds dup(1).txt taken by the first: three single inserts in all.
        expect(calls).toEqual({ insertNew: 1, insert: 3 })
        for (const [i, doc] of stored.entries()) expect(new TextDecoder().decode(yield* blobs.get(doc.location))).toBe(`file ${i}`)
        expect(yield* store.documents.count({ kb_id: kb.id })).toBe(33)
        expect(Option.getOrThrow(yield* store.knowledgeBases.get(kb.id)).document_count).toBe(33)
      }))

    it.effect("gives a duplicate file name a number, as RAGFlow does", () =>
      Effect.gen(function* () {
        const { docs, me, kb } = yield* setup
        const uploaded = yield* docs.upload(me, {
          kb_id: kb.id,
          files: [
            { name: "notes.txt", bytes: text("1") },
            { name: "notes.txt", bytes: text("2") },
            { name: "notes.txt", bytes: text("3") }
          ]
        })
        expect(uploaded.map((d) => d.name)).toEqual(["notes.txt", "notes(1).txt", "notes(2).txt"])
        expect(new Set(uploaded.map((d) => d.location)).size).toBe(3)
      }))

    it.effect("renames keeping the extension and a free name", () =>
      Effect.gen(function* () {
        const { docs, me, kb } = yield* setup
        const [a, b] = yield* docs.upload(me, {
          kb_id: kb.id,
          files: [
            { name: "a.txt", bytes: text("a") },
            { name: "b.txt", bytes: text("b") }
          ]
        })
        expect((yield* docs.rename(me, { doc_id: a!.id, name: "Alpha.txt" })).name).toBe("Alpha.txt")
        expect(invalidField(yield* Effect.either(docs.rename(me, { doc_id: a!.id, name: "Alpha.md" })))).toBe("name")
        expect(invalidField(yield* Effect.either(docs.rename(me, { doc_id: a!.id, name: "Alpha" })))).toBe("name")
        expect(leftTag(yield* Effect.either(docs.rename(me, { doc_id: b!.id, name: "Alpha.txt" })))).toBe("AlreadyExists")
        expect(invalidField(yield* Effect.either(docs.rename(me, { doc_id: b!.id, name: "   " })))).toBe("name")
        expect(invalidField(yield* Effect.either(docs.rename(me, { doc_id: b!.id, name: "x/b.txt" })))).toBe("name")
        expect((yield* docs.get(me, { doc_id: b!.id })).name).toBe("b.txt")
      }))

    it.effect("lists with RAGFlow's filters", () =>
      Effect.gen(function* () {
        const store = yield* RecordStore
        const { docs, me, kb } = yield* setup
        const uploaded = yield* docs.upload(me, {
          kb_id: kb.id,
          files: [
            { name: "report-2023.log", bytes: text("# 2023") },
            { name: "report-2024.txt", bytes: text("2024") },
            { name: "minutes.txt", bytes: text("minutes") }
          ]
        })
        // Give them distinct creation times and states.
        yield* Effect.forEach(uploaded, (d, i) =>
          store.documents.update(new Document({ ...d, create_time: 1_000 * (i + 1), run: i === 0 ? "DONE" : "UNSTART" }))
        )
        const names = (q: Omit<typeof Documents.ListRequest.Encoded, "kb_id">) =>
          Effect.map(docs.list(me, { kb_id: kb.id, ...q }), (p) => p.items.map((d) => d.name))
        expect(yield* names({ desc: false })).toEqual(["report-2023.log", "report-2024.txt", "minutes.txt"])
        expect(yield* names({})).toEqual(["minutes.txt", "report-2024.txt", "report-2023.log"])
        expect(yield* names({ keywords: "REPORT", desc: false })).toEqual(["report-2023.log", "report-2024.txt"])
        expect(yield* names({ suffix: ["txt"], desc: false })).toEqual(["report-2024.txt", "minutes.txt"])
        expect(yield* names({ suffix: [".LOG"] })).toEqual(["report-2023.log"])
        expect(yield* names({ run_status: ["DONE"] })).toEqual(["report-2023.log"])
        expect(yield* names({ types: ["doc"], name: "minutes.txt" })).toEqual(["minutes.txt"])
        expect(yield* names({ create_time_from: 1_500, create_time_to: 2_500 })).toEqual(["report-2024.txt"])
        const page = yield* docs.list(me, { kb_id: kb.id, page: 2, page_size: 2, desc: false })
        expect([page.items.map((d) => d.name), page.total]).toEqual([["minutes.txt"], 3])
        const attempts: ReadonlyArray<readonly [Omit<typeof Documents.ListRequest.Encoded, "kb_id">, string]> = [
          [{ page: 0 }, "page"],
          [{ page_size: 1001 }, "page_size"],
          [{ orderby: "chunk_num" as never }, "orderby"],
          [{ run_status: ["PAUSED" as never] }, "run_status[0]"],
          [{ types: ["video" as never] }, "types[0]"],
          [{ id: "not-an-id" }, "id"]
        ]
        for (const [query, field] of attempts) expect(invalidField(yield* Effect.either(names(query)))).toBe(field)
      }))

    it.effect("parses through the task queue and cancels", () =>
      Effect.gen(function* () {
        const queue = yield* TaskQueue
        const { docs, me, kb } = yield* setup
        const [doc] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "a.txt", bytes: text("a") }] })
        const [running] = yield* docs.parse(me, { doc_ids: [doc!.id] })
        expect(running!.run).toBe("RUNNING")
        const tasks = yield* queue.listByKey(doc!.id)
        expect(tasks.map((t) => [t.kind, t.status, t.payload])).toEqual([
          [Documents.ParseTaskKind, "queued", { doc_id: doc!.id, kb_id: kb.id, tenant_id: me.tenantId, generation: 1 }]
        ])
        // Parsing again replaces the queued task.
        yield* docs.parse(me, { doc_ids: [doc!.id] })
        expect((yield* queue.listByKey(doc!.id)).map((t) => t.status)).toEqual(["queued", "canceled"])

        const [canceled] = yield* docs.cancel(me, { doc_ids: [doc!.id] })
        expect(canceled!.run).toBe("CANCEL")
        expect(canceled!.progress_msg).toMatch(/^\d\d:\d\d:\d\d Canceled\.$/)
        expect((yield* queue.listByKey(doc!.id)).every((t) => t.status === "canceled")).toBe(true)
        expect(invalidField(yield* Effect.either(docs.cancel(me, { doc_ids: [doc!.id] })))).toBe("doc_ids")

        const virtual = yield* docs.createVirtual(me, { kb_id: kb.id, name: "https://example.com/page" })
        expect([virtual.type, virtual.location, virtual.source_type]).toEqual(["virtual", "", "virtual"])
        expect(invalidField(yield* Effect.either(docs.parse(me, { doc_ids: [virtual.id] })))).toBe("doc_ids")
        expect(invalidField(yield* Effect.either(docs.download(me, { doc_id: virtual.id })))).toBe("doc_id")
        expect(invalidField(yield* Effect.either(docs.createVirtual(me, { kb_id: kb.id, name: "a\u0000b" })))).toBe("name")
        expect(invalidField(yield* Effect.either(docs.createVirtual(me, { kb_id: kb.id, name: "" })))).toBe("name")
        expect(invalidField(yield* Effect.either(docs.parse(me, { doc_ids: ["nope"] })))).toBe("doc_ids[0]")
      }))

    it.effect("parses many documents in one call: each gets one queued task of its new generation, in the order asked", () =>
      Effect.gen(function* () {
        const queue = yield* TaskQueue
        const { docs, me, kb } = yield* setup
        const uploaded = yield* docs.upload(me, {
          kb_id: kb.id,
          files: Array.from({ length: 5 }, (_, i) => ({ name: `many-${i}.txt`, bytes: text(`text ${i}`) }))
        })
        // One of them parsed before: queued again (its old task canceled); the others never were.
        yield* docs.parse(me, { doc_ids: [uploaded[2]!.id] })
        const order = [uploaded[3]!, uploaded[2]!, uploaded[0]!, uploaded[4]!, uploaded[1]!].map((d) => d.id)
        const running = yield* docs.parse(me, { doc_ids: order })
        expect(running.map((d) => [d.id, d.run, d.run_generation])).toEqual(
          order.map((id) => [id, "RUNNING", id === uploaded[2]!.id ? 2 : 1])
        )
        for (const doc of running) {
          const tasks = yield* queue.listByKey(doc.id)
          expect(tasks.map((t) => [t.status, t.payload])).toEqual([
            ["queued", { doc_id: doc.id, kb_id: kb.id, tenant_id: me.tenantId, generation: doc.run_generation }],
            ...(doc.run_generation === 2 ? [["canceled", expect.anything()]] : [])
          ])
        }
      }))

    it.effect("changing the chunk method resets the document and drops its chunks", () =>
      Effect.gen(function* () {
        const store = yield* RecordStore
        const index = yield* ChunkIndex
        const { docs, kbs, me, kb } = yield* setup
        const [doc] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "a.txt", bytes: text("a b c") }] })
        // As if parsing had finished: two chunks, counted on the document and the knowledge base.
        yield* index.upsert([makeTestChunk(kb.id, doc!.id, { content: "a b" }), makeTestChunk(kb.id, doc!.id, { content: "c" })])
        yield* store.documents.update(new Document({ ...doc!, run: "DONE", progress: 1, chunk_num: 2, token_num: 3 }))
        yield* store.knowledgeBases.modify(kb.id, (k) => Effect.succeed({ ...k, chunk_count: 2, token_num: 3 } as typeof k))

        expect((yield* docs.changeParser(me, { doc_id: doc!.id, parser_id: "naive" })).run).toBe("DONE") // unchanged: nothing reset
        expect(invalidField(yield* Effect.either(docs.changeParser(me, { doc_id: doc!.id, parser_id: "magic" as never })))).toBe("parser_id")
        expect(invalidField(yield* Effect.either(docs.changeParser(me, { doc_id: doc!.id, parser_id: "one", parser_config: [] as never })))).toBe(
          "parser_config"
        )
        expect(yield* index.countByDocument(kb.id, doc!.id)).toBe(2)

        const changed = yield* docs.changeParser(me, { doc_id: doc!.id, parser_id: "one", parser_config: { auto_questions: 2 } })
        expect(changed).toMatchObject({ parser_id: "one", run: "UNSTART", progress: 0, chunk_num: 0, token_num: 0 })
        expect(changed.parser_config).toMatchObject({ auto_questions: 2 })
        expect(yield* index.countByDocument(kb.id, doc!.id)).toBe(0)
        const after = yield* kbs.get(me, { kb_id: kb.id })
        expect([after.chunk_count, after.token_num]).toEqual([0, 0])
      }))

    it.effect("enables and disables documents", () =>
      Effect.gen(function* () {
        const { docs, me, kb } = yield* setup
        const uploaded = yield* docs.upload(me, {
          kb_id: kb.id,
          files: [
            { name: "a.txt", bytes: text("a") },
            { name: "b.txt", bytes: text("b") }
          ]
        })
        const off = yield* docs.setStatus(me, { doc_ids: uploaded.map((d) => d.id), status: "0" })
        expect(off.map((d) => d.status)).toEqual(["0", "0"])
        expect(invalidField(yield* Effect.either(docs.setStatus(me, { doc_ids: [uploaded[0]!.id], status: "2" as never })))).toBe("status")
        expect((yield* docs.get(me, { doc_id: uploaded[0]!.id })).status).toBe("0")
      }))

    it.effect("updates a document's name, chunk method, status and metadata in one call, in its knowledge base only", () =>
      Effect.gen(function* () {
        const { docs, kbs, me, kb } = yield* setup
        const other = yield* kbs.create(me, { name: "Elsewhere" })
        const [a, b] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "a.txt", bytes: text("a") }, { name: "b.txt", bytes: text("b") }] })
        const updated = yield* docs.update(me, {
          doc_id: a!.id,
          kb_id: kb.id,
          name: "renamed.txt",
          parser_id: "one",
          status: "0",
          meta_fields: { author: "Ada" }
        })
        expect([updated.name, updated.parser_id, updated.status, updated.meta_fields]).toEqual(["renamed.txt", "one", "0", { author: "Ada" }])
        expect(yield* docs.get(me, { doc_id: a!.id })).toEqual(updated)
        // A refused change makes none of the others.
        expect(invalidField(yield* Effect.either(docs.update(me, { doc_id: a!.id, name: "x.pdf", status: "1" })))).toBe("name")
        expect(leftTag(yield* Effect.either(docs.update(me, { doc_id: a!.id, name: b!.name })))).toBe("AlreadyExists")
        // In another knowledge base, the document is not found.
        expect(leftTag(yield* Effect.either(docs.update(me, { doc_id: a!.id, kb_id: other.id, status: "1" })))).toBe("NotFound")
        expect(leftTag(yield* Effect.either(docs.get(me, { doc_id: a!.id, kb_id: other.id })))).toBe("NotFound")
        expect(leftTag(yield* Effect.either(docs.parse(me, { doc_ids: [a!.id], kb_id: other.id })))).toBe("NotFound")
        expect(yield* docs.get(me, { doc_id: a!.id })).toEqual(updated)
      }))

    it.effect("lists by ids and deletes every document of a knowledge base with delete_all", () =>
      Effect.gen(function* () {
        const { docs, kbs, me, kb } = yield* setup
        const other = yield* kbs.create(me, { name: "Kept" })
        const [a, , c] = yield* docs.upload(me, { kb_id: kb.id, files: ["a", "b", "c"].map((n) => ({ name: `${n}.txt`, bytes: text(n) })) })
        const [kept] = yield* docs.upload(me, { kb_id: other.id, files: [{ name: "k.txt", bytes: text("k") }] })
        const some = yield* docs.list(me, { kb_id: kb.id, ids: [a!.id, c!.id], orderby: "name", desc: false })
        expect([some.total, some.items.map((d) => d.name)]).toEqual([2, ["a.txt", "c.txt"]])
        expect(leftTag(yield* Effect.either(docs.remove(me, { doc_ids: [], delete_all: true })))).toBe("InvalidInput")
        expect(yield* docs.remove(me, { doc_ids: [kept!.id], kb_id: kb.id }).pipe(Effect.either, Effect.map(leftTag))).toBe("NotFound")
        expect(yield* docs.remove(me, { doc_ids: [], kb_id: kb.id, delete_all: true })).toBe(3)
        expect((yield* docs.list(me, { kb_id: kb.id })).total).toBe(0)
        expect((yield* kbs.get(me, { kb_id: kb.id })).document_count).toBe(0)
        expect((yield* docs.list(me, { kb_id: other.id })).total).toBe(1)
      }))

    it.effect("deletes documents with their chunks, bytes and counts", () =>
      Effect.gen(function* () {
        const blobs = yield* BlobStore
        const index = yield* ChunkIndex
        const store = yield* RecordStore
        const { docs, kbs, me, kb } = yield* setup
        const [a, b] = yield* docs.upload(me, {
          kb_id: kb.id,
          files: [
            { name: "a.txt", bytes: text("aaaa") },
            { name: "b.txt", bytes: text("bb") }
          ]
        })
        yield* index.upsert([makeTestChunk(kb.id, a!.id, { content: "aaaa" })])
        yield* store.documents.update(new Document({ ...a!, chunk_num: 1, token_num: 1 }))
        yield* store.knowledgeBases.modify(kb.id, (k) => Effect.succeed({ ...k, chunk_count: 1, token_num: 1 } as typeof k))

        // One unknown id: nothing is deleted.
        expect(leftTag(yield* Effect.either(docs.remove(me, { doc_ids: [a!.id, anId()] })))).toBe("NotFound")
        expect(yield* store.documents.count({ kb_id: kb.id })).toBe(2)

        expect(yield* docs.remove(me, { doc_ids: [a!.id, a!.id] })).toBe(1)
        expect(yield* blobs.exists(a!.location)).toBe(false)
        expect(yield* index.countByDocument(kb.id, a!.id)).toBe(0)
        expect(Option.isNone(yield* store.documents.get(a!.id))).toBe(true)
        const after = yield* kbs.get(me, { kb_id: kb.id })
        expect([after.document_count, after.chunk_count, after.token_num, after.size]).toEqual([1, 0, 0, 2])
        expect(yield* blobs.exists(b!.location)).toBe(true)
      }))

    it.effect("keeps tenants apart; team members work in team knowledge bases", () =>
      Effect.gen(function* () {
        const { docs, kbs, me, kb } = yield* setup
        const [stranger, member] = [yield* newCaller(), yield* newCaller()]
        yield* joinTeam(me, member)
        const [doc] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "secret.txt", bytes: text("s") }] })

        expect(leftTag(yield* Effect.either(docs.upload(stranger, { kb_id: kb.id, files: [{ name: "x.txt", bytes: text("x") }] })))).toBe("NotFound")
        expect(leftTag(yield* Effect.either(docs.get(stranger, { doc_id: doc!.id })))).toBe("NotFound")
        expect(leftTag(yield* Effect.either(docs.download(stranger, { doc_id: doc!.id })))).toBe("NotFound")
        expect(leftTag(yield* Effect.either(docs.rename(stranger, { doc_id: doc!.id, name: "mine.txt" })))).toBe("NotFound")
        expect(leftTag(yield* Effect.either(docs.remove(stranger, { doc_ids: [doc!.id] })))).toBe("NotFound")
        expect(leftTag(yield* Effect.either(docs.list(stranger, { kb_id: kb.id })))).toBe("NotFound")
        expect(invalidField(yield* Effect.either(docs.get(me, { doc_id: "../etc/passwd" })))).toBe("doc_id")
        expect(leftTag(yield* Effect.either(docs.list(me, { kb_id: anId<KnowledgeBaseId>() })))).toBe("NotFound")
        // A private knowledge base stays private to members too.
        expect(leftTag(yield* Effect.either(docs.get(member, { doc_id: doc!.id })))).toBe("NotFound")

        const team = yield* kbs.create(me, { name: "Team shelf", permission: "team" })
        const [shared] = yield* docs.upload(member, { kb_id: team.id, files: [{ name: "shared.txt", bytes: text("s") }] })
        expect(shared!.created_by).toBe(member.userId)
        expect((yield* docs.list(me, { kb_id: team.id })).items.map((d) => d.name)).toEqual(["shared.txt"])
        expect((yield* docs.get(me, { doc_id: doc!.id })).name).toBe("secret.txt")

        // Several documents in one call: all visible, or NotFound for the first that is not, and nothing done.
        const queue = yield* TaskQueue
        const [own] = yield* docs.upload(stranger, { kb_id: (yield* kbs.create(stranger, { name: "Mine" })).id, files: [{ name: "o.txt", bytes: text("o") }] })
        const mixed = yield* Effect.flip(docs.parse(stranger, { doc_ids: [own!.id, doc!.id, shared!.id] }))
        expect(mixed).toMatchObject({ _tag: "NotFound", message: expect.stringContaining(doc!.id) })
        expect(yield* queue.listByKey(own!.id)).toEqual([])
        expect(leftTag(yield* Effect.either(docs.parse(member, { doc_ids: [shared!.id, doc!.id] })))).toBe("NotFound")
        expect((yield* docs.parse(member, { doc_ids: [shared!.id, shared!.id] })).map((d) => d.id)).toEqual([shared!.id])
        expect((yield* docs.parse(me, { doc_ids: [shared!.id, doc!.id] })).map((d) => d.run)).toEqual(["RUNNING", "RUNNING"])
      }))
  })
})
