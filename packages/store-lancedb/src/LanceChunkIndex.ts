/**
 * A `ChunkIndex` on LanceDB: one table per knowledge base (`kb_<id>`), in a local folder or any URI
 * LanceDB accepts (`s3://`, `gs://`, `az://`, ...).
 *
 * - Table (`internal/rows.ts`): every chunk field (lists and metadata as JSON strings), the search
 *   fields' tokens with their token counts, the repeated tokens (`rep_tks`), `chunk` (the small
 *   fields again, as one JSON string, so that a chunk is read from 7 columns rather than 28),
 *   `has_vector` and a nullable `vector` column (FixedSizeList<Float32> of the knowledge base's
 *   dimension). A table is created on the first upsert; when a knowledge base holds no vector any
 *   more, the next vectors may have another dimension (the vector column is replaced).
 * - Text search (`internal/textSearch.ts`): exact BM25, the memory index's scores to the bit (core's
 *   `ChunkIndexScoring`), from LanceDB's full-text indexes without reading the text of the matches.
 * - Vector search (`internal/vectorSearch.ts`): cosine, exact below `annThreshold` vectors, IVF_PQ
 *   above it; scores recomputed in float64.
 * - Writes (`internal/writes.ts`, `internal/tables.ts`): serialised per table (readers run
 *   concurrently); upserts arriving while a commit is in flight share the next commit.
 * - Maintenance (`internal/maintenance.ts`): optimize and the ANN index build run on a background
 *   fiber, never in a write; closing the layer waits for it.
 */
import * as lancedb from "@lancedb/lancedb"
import { ChunkIndex } from "@ragkit/core"
import type { ChunkIndexError } from "@ragkit/core"
import { Config, Effect, Layer, Option, Redacted } from "effect"
import type { ConfigError, Scope } from "effect"
import { lance } from "./internal/lance.js"
import * as Maintenance from "./internal/maintenance.js"
import * as Reads from "./internal/reads.js"
import * as Tables from "./internal/tables.js"
import * as TextSearch from "./internal/textSearch.js"
import * as VectorSearch from "./internal/vectorSearch.js"
import * as Writes from "./internal/writes.js"

export interface Options {
  /** A local folder (created if missing) or a URI LanceDB accepts (`s3://bucket/path`, ...). */
  readonly uri: string
  /** Object-store settings passed to LanceDB (credentials, region, endpoint, ...). */
  readonly storageOptions?: Readonly<Record<string, string | Redacted.Redacted<string>>> | undefined
  /**
   * Seconds between checks for writes by other processes; 0 (the default) checks on every read, so
   * a server sees what workers wrote at once. A few seconds saves round trips on object stores.
   */
  readonly readConsistencyInterval?: number | undefined
  /** Vectors in a table above which an ANN index (IVF_PQ) is built; default 50 000, at least 256. */
  readonly annThreshold?: number | undefined
  /** IVF partitions probed by an ANN search; default 20. */
  readonly nprobes?: number | undefined
  /** ANN candidates re-ranked with exact distances, as a multiple of the limit; default 10. */
  readonly refineFactor?: number | undefined
  /**
   * Rows written or deleted in a table between two `optimize()` runs (compaction, and new rows
   * merged into the indexes; rows not yet indexed are searched by a scan); default 2 000.
   */
  readonly optimizeEvery?: number | undefined
  /**
   * Commits (writes) to a table between two `optimize()` runs, however few rows they wrote; default
   * 20. Every commit adds a small data fragment, and writes and reads of rows not yet indexed (a
   * merge on ids, a count by document) open every such fragment: their cost grows with the commits.
   */
  readonly optimizeEveryCommits?: number | undefined
  /**
   * Seconds that files of older table versions are kept when a table is optimised; default 3 600
   * (LanceDB's own default is 7 days). Compaction rewrites data files, so a table under steady small
   * writes (an optimize every `optimizeEveryCommits` commits) takes many times its size on disk
   * until then (bench/README.md, SciFact on LanceDB, has the figure with LanceDB's default).
   * Readers in other processes may still be reading a version for up to their
   * `readConsistencyInterval`: keep this well above it.
   */
  readonly keepVersionsFor?: number | undefined
}

export const defaults = {
  readConsistencyInterval: 0,
  annThreshold: 50_000,
  nprobes: 20,
  refineFactor: 10,
  optimizeEvery: 2_000,
  optimizeEveryCommits: 20,
  keepVersionsFor: 3_600
} as const

export { tableName } from "./internal/tables.js"

const atLeast = (minimum: number, value: number) => Math.max(minimum, Math.floor(value))

/**
 * Opens the connection (closed with the scope); fails now, not on first use, when the location
 * cannot be read.
 */
const connect = (options: Options) =>
  Effect.gen(function*() {
    const storageOptions = options.storageOptions === undefined
      ? undefined
      : Object.fromEntries(
        Object.entries(options.storageOptions).map(([k, v]) => [k, Redacted.isRedacted(v) ? Redacted.value(v) : v])
      )
    const connection = yield* Effect.acquireRelease(
      lance(`connect to ${options.uri}`, () =>
        lancedb.connect(options.uri, {
          readConsistencyInterval: options.readConsistencyInterval ?? defaults.readConsistencyInterval,
          ...(storageOptions === undefined ? {} : { storageOptions })
        })),
      (connection) => Effect.sync(() => connection.close())
    )
    yield* lance(`list tables at ${options.uri}`, () => connection.tableNames())
    return connection
  })

/** Builds the service; the connection is opened now and closed with the scope. */
export const make = (options: Options): Effect.Effect<ChunkIndex.ChunkIndexService, ChunkIndexError, Scope.Scope> =>
  Effect.gen(function*() {
    const connection = yield* connect(options)
    // Released in reverse order: running maintenance is awaited, then the tables and the connection
    // are closed.
    const tables = yield* Tables.make(connection)
    const maintenance = yield* Maintenance.make({
      annThreshold: atLeast(256, options.annThreshold ?? defaults.annThreshold),
      optimizeEvery: atLeast(1, options.optimizeEvery ?? defaults.optimizeEvery),
      optimizeEveryCommits: atLeast(1, options.optimizeEveryCommits ?? defaults.optimizeEveryCommits),
      keepVersionsMs: Math.max(0, (options.keepVersionsFor ?? defaults.keepVersionsFor) * 1000)
    })
    const writes = Writes.make(tables, maintenance)
    const vectorSearch: VectorSearch.Settings = {
      nprobes: atLeast(1, options.nprobes ?? defaults.nprobes),
      refineFactor: atLeast(1, options.refineFactor ?? defaults.refineFactor)
    }
    return ChunkIndex.make({
      dimension: (kbId) =>
        Effect.flatMap(tables.open(kbId), Option.match({ onNone: () => Effect.succeedNone, onSome: Tables.dimension })),
      upsert: writes.upsert,
      get: (kbId, chunkId) => Reads.get(tables, kbId, chunkId),
      deleteByDocument: writes.deleteByDocument,
      deleteChunks: writes.deleteChunks,
      deleteKnowledgeBase: writes.deleteKnowledgeBase,
      update: writes.update,
      list: (query) => Reads.list(tables, query),
      countByDocument: (kbId, docId) => Reads.countByDocument(tables, kbId, docId),
      searchText: (search) => TextSearch.searchText(tables, search),
      searchVector: (search) => VectorSearch.searchVector(tables, vectorSearch, search)
    })
  })

/** The `ChunkIndex` on LanceDB at `options.uri`. */
export const layer = (options: Options): Layer.Layer<ChunkIndex.ChunkIndex, ChunkIndexError> =>
  Layer.scoped(ChunkIndex.ChunkIndex, make(options))

/**
 * The same, configured: e.g.
 * `layerConfig({ uri: Config.string("LANCEDB_URI").pipe(Config.withDefault("./data/lancedb")) })`.
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<ChunkIndex.ChunkIndex, ChunkIndexError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
