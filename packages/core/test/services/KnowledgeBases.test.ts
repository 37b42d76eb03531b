import { describe, expect, layer } from "@effect/vitest"
import { Effect, Either } from "effect"
import { RecordStore } from "../../src/ports/RecordStore.js"
import { BlobStore } from "../../src/ports/BlobStore.js"
import { ChunkIndex } from "../../src/ports/ChunkIndex.js"
import { Documents } from "../../src/services/Documents.js"
import * as KnowledgeBases from "../../src/services/KnowledgeBases.js"
import { decoding } from "../../src/RagClient.js"
import { anId } from "../../src/testing/Records.js"
import { makeTestChunk } from "../../src/testing/ChunkIndexSuite.js"
import { Engine, joinTeam, newCaller, text } from "./helpers.js"

describe("KnowledgeBases", () => {
  layer(Engine)((it) => {
    it.effect("creates with RAGFlow's defaults and the tenant's embedding model", () =>
      Effect.gen(function* () {
        const kbs = decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations)
        const me = yield* newCaller()
        const kb = yield* kbs.create(me, { name: "  Manuals  ", parser_config: { chunk_token_num: 256, auto_keywords: 3 } })
        expect(kb.name).toBe("Manuals")
        expect(kb.tenant_id).toBe(me.tenantId)
        expect(kb.created_by).toBe(me.userId)
        expect(kb.embedding_model).toBe("hash-64@Test")
        expect(kb.permission).toBe("me")
        expect(kb.parser_id).toBe("naive")
        expect(kb.parser_config).toMatchObject({ chunk_token_num: 256, delimiter: "\n", auto_keywords: 3 })
        expect([kb.document_count, kb.chunk_count, kb.token_num]).toEqual([0, 0, 0])
        expect([kb.similarity_threshold, kb.vector_similarity_weight]).toEqual([0.2, 0.3])
        expect(kb.create_date).toMatch(/GMT$/)
        expect(yield* kbs.get(me, { kb_id: kb.id })).toEqual(kb)
      }))

    it.effect("refuses bad input with a typed error and writes nothing", () =>
      Effect.gen(function* () {
        const kbs = decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations)
        const store = yield* RecordStore
        const me = yield* newCaller()
        const attempts: ReadonlyArray<readonly [typeof KnowledgeBases.CreateRequest.Encoded, string]> = [
          [{ name: "" }, "name"],
          [{ name: "   " }, "name"],
          [{ name: "x".repeat(129) }, "name"],
          [{ name: "ok", parser_id: "magic" as never }, "parser_id"],
          [{ name: "ok", permission: "everyone" as never }, "permission"],
          [{ name: "ok", embedding_model: "nope@Nowhere" }, "embedding_model"],
          [{ name: "ok", embedding_model: "no-provider" }, "embedding_model"],
          [{ name: "ok", similarity_threshold: 1.5 }, "similarity_threshold"],
          [{ name: "ok", parser_config: [] as never }, "parser_config"]
        ]
        for (const [input, field] of attempts) {
          const result = yield* Effect.either(kbs.create(me, input))
          expect(Either.isLeft(result) && result.left).toMatchObject({ _tag: "InvalidInput", field })
        }
        expect(yield* store.knowledgeBases.count({ tenant_id: me.tenantId })).toBe(0)
        // 128 characters is still fine, counted in characters not bytes.
        const long = yield* kbs.create(me, { name: "知".repeat(128) })
        expect(long.name.length).toBe(128)
      }))

    it.effect("keeps names unique per tenant, not across tenants", () =>
      Effect.gen(function* () {
        const kbs = decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations)
        const [me, other] = [yield* newCaller(), yield* newCaller()]
        const first = yield* kbs.create(me, { name: "Policies" })
        const twin = yield* Effect.either(kbs.create(me, { name: "Policies" }))
        expect(Either.isLeft(twin) && twin.left._tag).toBe("AlreadyExists")
        yield* kbs.create(other, { name: "Policies" })

        const second = yield* kbs.create(me, { name: "Other" })
        const rename = yield* Effect.either(kbs.update(me, { kb_id: second.id, name: "Policies" }))
        expect(Either.isLeft(rename) && rename.left._tag).toBe("AlreadyExists")
        expect((yield* kbs.get(me, { kb_id: second.id })).name).toBe("Other")
        expect((yield* kbs.get(me, { kb_id: first.id })).name).toBe("Policies")
      }))

    it.effect("updates fields, merges parser_config, and guards the embedding model once chunks exist", () =>
      Effect.gen(function* () {
        const kbs = decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations)
        const store = yield* RecordStore
        const me = yield* newCaller()
        const kb = yield* kbs.create(me, { name: "Docs" })
        const updated = yield* kbs.update(me, { kb_id: kb.id,
          description: "all of them",
          permission: "team",
          parser_config: { chunk_token_num: 128 },
          embedding_model: "hash-32@Test"
        })
        expect(updated.description).toBe("all of them")
        expect(updated.permission).toBe("team")
        expect(updated.embedding_model).toBe("hash-32@Test")
        expect(updated.parser_config).toMatchObject({ chunk_token_num: 128, delimiter: "\n" })

        const switched = yield* kbs.update(me, { kb_id: kb.id, parser_id: "qa" })
        expect(switched.parser_id).toBe("qa")
        expect(switched.parser_config).not.toHaveProperty("chunk_token_num")

        yield* store.knowledgeBases.modify(kb.id, (k) => Effect.succeed({ ...k, chunk_count: 3 } as typeof k))
        const guarded = yield* Effect.either(kbs.update(me, { kb_id: kb.id, embedding_model: "hash-64@Test" }))
        expect(Either.isLeft(guarded) && guarded.left._tag).toBe("InvalidInput")
        expect((yield* kbs.get(me, { kb_id: kb.id })).embedding_model).toBe("hash-32@Test")
      }))

    it.effect("never shows or changes another tenant's knowledge base; team ones are readable by members", () =>
      Effect.gen(function* () {
        const kbs = decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations)
        const [owner, member, stranger] = [yield* newCaller(), yield* newCaller(), yield* newCaller()]
        yield* joinTeam(owner, member)
        const privateKb = yield* kbs.create(owner, { name: "Private" })
        const teamKb = yield* kbs.create(owner, { name: "Team", permission: "team" })

        for (const who of [member, stranger]) {
          const seen = yield* Effect.either(kbs.get(who, { kb_id: privateKb.id }))
          expect(Either.isLeft(seen) && seen.left._tag).toBe("NotFound")
        }
        expect((yield* kbs.get(member, { kb_id: teamKb.id })).name).toBe("Team")
        const strangerTeam = yield* Effect.either(kbs.get(stranger, { kb_id: teamKb.id }))
        expect(Either.isLeft(strangerTeam) && strangerTeam.left._tag).toBe("NotFound")

        const memberList = yield* kbs.list(member, {})
        expect(memberList.items.map((k) => k.name)).toEqual(["Team"])
        expect((yield* kbs.list(stranger, {})).total).toBe(0)

        const memberEdit = yield* Effect.either(kbs.update(member, { kb_id: teamKb.id, name: "Mine now" }))
        expect(Either.isLeft(memberEdit) && memberEdit.left._tag).toBe("Forbidden")
        const strangerEdit = yield* Effect.either(kbs.update(stranger, { kb_id: privateKb.id, name: "Mine now" }))
        expect(Either.isLeft(strangerEdit) && strangerEdit.left._tag).toBe("NotFound")
        const strangerDelete = yield* Effect.either(kbs.remove(stranger, { kb_ids: [privateKb.id] }))
        expect(Either.isLeft(strangerDelete)).toBe(true)
        expect((yield* kbs.get(owner, { kb_id: privateKb.id })).name).toBe("Private")

        const junk = yield* Effect.either(kbs.get(owner, { kb_id: "not-an-id" }))
        expect(Either.isLeft(junk) && junk.left).toMatchObject({ _tag: "InvalidInput", field: "kb_id", message: "kb_id is not a valid id" })
        const unknown = yield* Effect.either(kbs.get(owner, { kb_id: anId() }))
        expect(Either.isLeft(unknown) && unknown.left._tag).toBe("NotFound")
      }))

    it.effect("lists with keywords, paging and ordering", () =>
      Effect.gen(function* () {
        const kbs = decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations)
        const me = yield* newCaller()
        for (const name of ["alpha", "beta", "Alphabet", "gamma", "delta"]) yield* kbs.create(me, { name })
        const all = yield* kbs.list(me, { orderby: "name", desc: false })
        expect(all.items.map((k) => k.name)).toEqual(["Alphabet", "alpha", "beta", "delta", "gamma"])
        const page = yield* kbs.list(me, { orderby: "name", desc: false, page: 2, page_size: 2 })
        expect([page.items.map((k) => k.name), page.total]).toEqual([["beta", "delta"], 5])
        const found = yield* kbs.list(me, { keywords: "ALPHA" })
        expect(found.items.map((k) => k.name).sort()).toEqual(["Alphabet", "alpha"])
        const bad = yield* Effect.either(kbs.list(me, { page: 0 }))
        expect(Either.isLeft(bad) && bad.left._tag).toBe("InvalidInput")
      }))

    it.effect("lists by ids and deletes all of the tenant's knowledge bases with delete_all", () =>
      Effect.gen(function* () {
        const kbs = decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations)
        const me = yield* newCaller()
        const other = yield* newCaller()
        const [a, , c] = yield* Effect.forEach(["a", "b", "c"], (name) => kbs.create(me, { name }))
        const theirs = yield* kbs.create(other, { name: "theirs" })
        const some = yield* kbs.list(me, { ids: [a!.id, c!.id, theirs.id], orderby: "name", desc: false })
        expect([some.total, some.items.map((k) => k.name)]).toEqual([2, ["a", "c"]])
        expect(yield* kbs.remove(me, { kb_ids: [] })).toBe(0)
        expect(yield* kbs.remove(me, { kb_ids: [], delete_all: true })).toBe(3)
        expect((yield* kbs.list(me, {})).total).toBe(0)
        expect((yield* kbs.get(other, { kb_id: theirs.id })).name).toBe("theirs")
      }))

    it.effect("deletes a knowledge base with its documents, chunks and blobs", () =>
      Effect.gen(function* () {
        const kbs = decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations)
        const docs = yield* Documents
        const store = yield* RecordStore
        const blobs = yield* BlobStore
        const index = yield* ChunkIndex
        const me = yield* newCaller()
        const kb = yield* kbs.create(me, { name: "Doomed" })
        const keep = yield* kbs.create(me, { name: "Kept" })
        const [doc] = yield* docs.upload(me, { kb_id: kb.id, files: [{ name: "a.txt", bytes: text("hello") }] })
        const [kept] = yield* docs.upload(me, { kb_id: keep.id, files: [{ name: "b.txt", bytes: text("world") }] })
        expect(yield* blobs.exists(doc!.location)).toBe(true)
        yield* index.upsert([makeTestChunk(kb.id, doc!.id, { content: "hello" }), makeTestChunk(keep.id, kept!.id, { content: "world" })])

        expect(yield* kbs.remove(me, { kb_ids: [kb.id] })).toBe(1)
        const gone = yield* Effect.either(kbs.get(me, { kb_id: kb.id }))
        expect(Either.isLeft(gone)).toBe(true)
        expect(yield* store.documents.count({ kb_id: kb.id })).toBe(0)
        expect(yield* blobs.exists(doc!.location)).toBe(false)
        expect(yield* index.countByDocument(kb.id, doc!.id)).toBe(0)
        expect(yield* index.countByDocument(keep.id, kept!.id)).toBe(1)
        expect(yield* blobs.exists(kept!.location)).toBe(true)
        expect((yield* kbs.get(me, { kb_id: keep.id })).document_count).toBe(1)
      }))
  })
})
