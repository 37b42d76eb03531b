/** Reading chunks by id and by document: `get`, `list`, `countByDocument`. */
import { ChunkIndex } from "@ragkit/core"
import type { Chunk, ChunkId, ChunkIndexError, DocumentId, KnowledgeBaseId } from "@ragkit/core"
import { Effect, Option } from "effect"
import { lance, rowsOf } from "./lance.js"
import * as Rows from "./rows.js"
import * as Sql from "./sql.js"
import type { Tables, TableState } from "./tables.js"

/** A chunk of a table, by id. */
export const getRow = (state: TableState, chunkId: string): Effect.Effect<Option.Option<Chunk>, ChunkIndexError> =>
  Effect.map(
    rowsOf(
      state.table.query().where(`id = ${Sql.literal(chunkId)}`).select([...Rows.readColumns]).limit(1),
      "get chunk"
    ),
    (rows) => Option.map(Option.fromNullable(rows[0]), Rows.fromRow)
  )

/** Chunks of a table, by id (reads of at most 500 ids each). */
export const chunksByIds = (state: TableState, ids: ReadonlyArray<string>) =>
  Effect.map(
    Effect.forEach(
      Array.from({ length: Math.ceil(ids.length / 500) }, (_, i) => ids.slice(i * 500, i * 500 + 500)),
      (batch) => rowsOf(state.table.query().where(Sql.inList("id", batch)).select([...Rows.readColumns]), "read chunks")
    ),
    (batches) => new Map(batches.flat().map((row) => Rows.fromRow(row)).map((chunk) => [chunk.id, chunk] as const))
  )

export const get = (tables: Tables, kbId: KnowledgeBaseId, chunkId: ChunkId) =>
  Effect.flatMap(tables.open(kbId), (state) => Option.isNone(state) ? Effect.succeedNone : getRow(state.value, chunkId))

/** Chunks by knowledge base and id, in the order asked; those not found left out. */
export const getMany = (tables: Tables, refs: ReadonlyArray<ChunkIndex.ChunkRef>) =>
  Effect.gen(function*() {
    const found = new Map<KnowledgeBaseId, Map<string, Chunk>>()
    yield* Effect.forEach(ChunkIndex.byKnowledgeBase(refs), ([kbId, asked]) =>
      Effect.flatMap(tables.open(kbId), (state) =>
        Option.isNone(state)
          ? Effect.void
          : Effect.map(chunksByIds(state.value, [...new Set(asked.map((ref) => ref.id))]), (chunks) =>
            void found.set(kbId, chunks))), {
      concurrency: 4,
      discard: true
    })
    return refs.flatMap((ref) => Option.toArray(Option.fromNullable(found.get(ref.kb_id)?.get(ref.id))))
  })

export const list = (tables: Tables, query: ChunkIndex.ListChunksQuery) =>
  Effect.gen(function*() {
    const state = yield* tables.open(query.kbId)
    if (Option.isNone(state)) return { chunks: [], total: 0 }
    const table = state.value.table
    const needle = query.keywords?.trim().toLowerCase() ?? ""
    const where = Sql.and(
      `doc_id = ${Sql.literal(query.docId)}`,
      query.available === undefined ? undefined : `available = ${query.available ? "true" : "false"}`,
      needle === "" ? undefined : `strpos(lower(content), ${Sql.literal(needle)}) > 0`
    )
    const total = yield* lance("count chunks", () => table.countRows(where))
    if (query.limit === 0 || query.offset >= total) return { chunks: [], total }
    const rows = yield* rowsOf(
      table.query()
        .where(where)
        // The order's columns are selected too (LanceDB plans a sort only over selected columns).
        .select([...new Set([...Rows.readColumns, "index", "id"])])
        .orderBy([{ columnName: "index", ascending: true }, { columnName: "id", ascending: true }])
        .offset(query.offset)
        .limit(query.limit),
      "list chunks"
    )
    return { chunks: rows.map(Rows.fromRow), total }
  })

export const countByDocument = (tables: Tables, kbId: KnowledgeBaseId, docId: DocumentId) =>
  Effect.flatMap(tables.open(kbId), (state) =>
    Option.isNone(state)
      ? Effect.succeed(0)
      : lance("count chunks", () => state.value.table.countRows(`doc_id = ${Sql.literal(docId)}`)))
