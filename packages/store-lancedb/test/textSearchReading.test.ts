import { describe, it } from "@effect/vitest"
import * as lancedb from "@lancedb/lancedb"
import { ChunkIndex } from "@ragkit/core"
import { Effect, Option } from "effect"
import { LanceChunkIndex } from "../src/index.js"
import * as Tables from "../src/internal/tables.js"
import * as Reading from "../src/internal/textSearchReading.js"
import { expectSameResults, sample, tempDir, withIndex } from "./sample.js"

describe("LanceDB text search by reading the matches", () => {
  // The search falls back to it when writes keep moving rows, which a test cannot arrange reliably:
  // it is called directly here.
  it.scoped("gives the memory index's results and BM25 scores exactly", () =>
    Effect.gen(function*() {
      const uri = tempDir()
      const { chunks, kbs, queries } = sample(11)
      yield* withIndex(LanceChunkIndex.layer({ uri }), (index) => index.upsert(chunks))
      const memory = yield* ChunkIndex.makeMemory
      yield* memory.upsert(chunks)
      const connection = yield* Effect.acquireRelease(
        Effect.promise(() => lancedb.connect(uri)),
        (connection) => Effect.sync(() => connection.close())
      )
      const tables = yield* Tables.make(connection)
      const states = (yield* Effect.forEach(kbs, tables.open)).flatMap(Option.toArray)
      for (const query of queries) {
        const expected = yield* memory.searchText({ ...query, limit: 25 })
        const actual = yield* Reading.searchText({
          kbIds: query.kbIds,
          tokens: ChunkIndex.resolveTokens(query.tokens),
          filter: ChunkIndex.resolveFilter(query.filter),
          limit: 25
        }, states.filter((_, i) => query.kbIds.includes(kbs[i]!)))
        expectSameResults(actual, expected)
      }
    }))
})
