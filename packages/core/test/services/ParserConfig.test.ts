/**
 * `parser_config` holds a document's settings, checked per chunk method with RAGFlow's keys, types
 * and bounds (issue 11, defect 1): an unknown or ill-typed key is `InvalidInput` naming it, a key of
 * one method is refused for another, and nothing is written.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Either } from "effect"
import { ChunkMethodIds, type ChunkMethodId } from "../../src/domain/ChunkMethods.js"
import { RecordStore } from "../../src/ports/RecordStore.js"
import { decoding } from "../../src/RagClient.js"
import * as Documents from "../../src/services/Documents.js"
import * as KnowledgeBases from "../../src/services/KnowledgeBases.js"
import { Engine, newCaller, text } from "./helpers.js"

/** The field an `InvalidInput` names, or what happened instead. */
const refused = <A, E>(result: Either.Either<A, E>): string => {
  if (Either.isRight(result)) return "accepted"
  const error = result.left as { _tag?: string; field?: string }
  return error._tag === "InvalidInput" ? error.field! : `failed with ${error._tag}`
}

describe("parser_config", () => {
  layer(Engine)((it) => {
    it.effect("an unknown key is refused, named, for every method: the parsers' limits above all", () =>
      Effect.gen(function*() {
        const kbs = decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations)
        const store = yield* RecordStore
        const me = yield* newCaller()
        const limits = ["zipMaxEntryBytes", "zipMaxTotalBytes", "zipMaxEntries", "maxCells", "emlDepth", "max_pages", "jsonSectionChars"]
        for (const parser_id of ChunkMethodIds) {
          for (const key of [...limits, "custom_key"]) {
            const result = yield* Effect.either(kbs.create(me, { name: `${parser_id}-${key}`, parser_id, parser_config: { [key]: 2e9 } }))
            expect(refused(result), `${parser_id} with ${key}`).toBe(`parser_config.${key}`)
          }
        }
        const message = yield* Effect.flip(kbs.create(me, { name: "x", parser_config: { zipMaxEntryBytes: 2e9 } }))
        expect(message.message).toBe("parser_config.zipMaxEntryBytes isn't a setting of the naive chunk method")
        // Inside the nested settings too.
        expect(refused(yield* Effect.either(kbs.create(me, { name: "x", parser_config: { raptor: { use_raptor: true, zipMaxEntries: 1 } } }))))
          .toBe("parser_config.raptor.zipMaxEntries")
        expect(yield* store.knowledgeBases.count({ tenant_id: me.tenantId })).toBe(0)
      }))

    it.effect("a known key of the wrong type or out of RAGFlow's bounds is refused, named", () =>
      Effect.gen(function*() {
        const kbs = decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations)
        const store = yield* RecordStore
        const me = yield* newCaller()
        const attempts: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
          [{ chunk_token_num: "512" }, "parser_config.chunk_token_num"],
          [{ chunk_token_num: 0 }, "parser_config.chunk_token_num"],
          [{ chunk_token_num: 2049 }, "parser_config.chunk_token_num"],
          [{ chunk_token_num: 12.5 }, "parser_config.chunk_token_num"],
          [{ delimiter: "" }, "parser_config.delimiter"],
          [{ html4excel: "yes" }, "parser_config.html4excel"],
          [{ layout_recognize: 7 }, "parser_config.layout_recognize"],
          [{ auto_keywords: 33 }, "parser_config.auto_keywords"],
          [{ auto_questions: -1 }, "parser_config.auto_questions"],
          [{ topn_tags: 11 }, "parser_config.topn_tags"],
          [{ filename_embd_weight: 2 }, "parser_config.filename_embd_weight"],
          [{ task_page_size: 0 }, "parser_config.task_page_size"],
          [{ tag_kb_ids: ["not an id"] }, "parser_config.tag_kb_ids[0]"],
          [{ pages: [[1, 5], [9, 3]] }, "parser_config.pages[1]"],
          [{ pages: "1-5" }, "parser_config.pages"],
          [{ raptor: true }, "parser_config.raptor"],
          [{ raptor: { max_token: 4096 } }, "parser_config.raptor.max_token"],
          [{ raptor: { threshold: 1.5 } }, "parser_config.raptor.threshold"],
          [{ graphrag: { method: "heavy" } }, "parser_config.graphrag.method"],
          [{ graphrag: { entity_types: "person" } }, "parser_config.graphrag.entity_types"],
          [{ delimiter: "x".repeat(70_000) }, "parser_config"]
        ]
        for (const [parser_config, field] of attempts) {
          expect(refused(yield* Effect.either(kbs.create(me, { name: "typed", parser_config }))), JSON.stringify(parser_config).slice(0, 60))
            .toBe(field)
        }
        expect(yield* store.knowledgeBases.count({ tenant_id: me.tenantId })).toBe(0)

        const kb = yield* kbs.create(me, {
          name: "all of RAGFlow's naive settings",
          parser_config: {
            chunk_token_num: 256,
            delimiter: "\n!?;",
            overlapped_percent: 10,
            layout_recognize: "Plain Text",
            html4excel: true,
            auto_keywords: 3,
            auto_questions: 2,
            raptor: { use_raptor: true, prompt: "Sum up {cluster_content}", max_token: 256, threshold: 0.1, max_cluster: 64, random_seed: 0 },
            graphrag: { use_graphrag: true, entity_types: ["person"], method: "light", community: false, resolution: true },
            tag_kb_ids: ["0123456789abcdef0123456789abcdef"],
            topn_tags: 3,
            filename_embd_weight: 0.1,
            task_page_size: 12,
            pages: [[1, 10], [20, 30]]
          }
        })
        expect(kb.parser_config).toMatchObject({ chunk_token_num: 256, raptor: { use_raptor: true, max_token: 256 }, pages: [[1, 10], [20, 30]] })
      }))

    it.effect("a key of one method is refused for another, at the request or against the stored method", () =>
      Effect.gen(function*() {
        const kbs = decoding(yield* KnowledgeBases.KnowledgeBases, KnowledgeBases.Operations)
        const docs = decoding(yield* Documents.Documents, Documents.Operations)
        const me = yield* newCaller()
        const create = (parser_id: ChunkMethodId, parser_config: Record<string, unknown>) =>
          Effect.either(kbs.create(me, { name: `${parser_id} ${JSON.stringify(parser_config)}`, parser_id, parser_config }))
        expect(refused(yield* create("naive", { html4excel: true }))).toBe("accepted")
        expect(refused(yield* create("qa", { html4excel: true }))).toBe("parser_config.html4excel")
        expect(refused(yield* create("table", { chunk_token_num: 128 }))).toBe("parser_config.chunk_token_num")
        expect(refused(yield* create("knowledge_graph", { entity_types: ["person"], chunk_token_num: 8192 }))).toBe("accepted")
        expect(refused(yield* create("naive", { entity_types: ["person"] }))).toBe("parser_config.entity_types")
        expect(refused(yield* create("naive", { chunk_token_num: 8192 }))).toBe("parser_config.chunk_token_num")
        // Settings of every method (the ingestion reads them whatever the method).
        expect(refused(yield* create("table", { raptor: { use_raptor: false }, auto_keywords: 2, pages: [[1, 2]] }))).toBe("accepted")

        // An update without parser_id is checked against the stored method; with one, against it.
        const table = yield* kbs.create(me, { name: "Tables", parser_id: "table" })
        expect(refused(yield* Effect.either(kbs.update(me, { kb_id: table.id, parser_config: { chunk_token_num: 128 } }))))
          .toBe("parser_config.chunk_token_num")
        expect((yield* kbs.get(me, { kb_id: table.id })).parser_config).not.toHaveProperty("chunk_token_num")
        const naive = yield* kbs.update(me, { kb_id: table.id, parser_id: "naive", parser_config: { chunk_token_num: 128 } })
        expect(naive).toMatchObject({ parser_id: "naive", parser_config: { chunk_token_num: 128 } })
        expect(refused(yield* Effect.either(kbs.update(me, { kb_id: table.id, parser_id: "qa", parser_config: { chunk_token_num: 64 } }))))
          .toBe("parser_config.chunk_token_num")

        // A document's method change: the config must suit the new method.
        const [doc] = yield* docs.upload(me, { kb_id: table.id, files: [{ name: "a.txt", bytes: text("a b c") }] })
        expect(refused(yield* Effect.either(docs.changeParser(me, { doc_id: doc!.id, parser_id: "table", parser_config: { chunk_token_num: 64 } }))))
          .toBe("parser_config.chunk_token_num")
        expect(refused(yield* Effect.either(docs.changeParser(me, { doc_id: doc!.id, parser_id: "one", parser_config: { maxCells: 1e12 } }))))
          .toBe("parser_config.maxCells")
        expect((yield* docs.get(me, { doc_id: doc!.id })).parser_id).toBe("naive")
        const one = yield* docs.changeParser(me, { doc_id: doc!.id, parser_id: "one", parser_config: { layout_recognize: "Plain Text" } })
        expect(one).toMatchObject({ parser_id: "one", parser_config: { layout_recognize: "Plain Text" } })
      }))
  })
})
