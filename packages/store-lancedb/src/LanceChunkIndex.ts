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
 *   above it (retrained as the table grows: `internal/annIndex.ts`); scores recomputed in float64.
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
import * as Rows from "./internal/rows.js"
import * as Tables from "./internal/tables.js"
import * as TextSearch from "./internal/textSearch.js"
import * as VectorSearch from "./internal/vectorSearch.js"
import * as Writes from "./internal/writes.js"

export interface Options {
  /** A local folder (created if missing) or a URI LanceDB accepts (`s3://bucket/path`, ...). */
  readonly uri: string
  /**
   * Object-store settings passed to LanceDB (`endpoint`, `region`, `allow_http`, `aws_access_key_id`,
   * `aws_secret_access_key`, ...); secrets as `Redacted`.
   */
  readonly storageOptions?: Readonly<Record<string, string | Redacted.Redacted<string>>> | undefined
  /**
   * Whether this process's maintenance (optimize, ANN index builds) waits for the table's write
   * permit, so that it never commits two versions of a table at once. Default: true for object-store
   * URIs (`s3://`, `gs://`, `az://`, ...), false for a local folder. LanceDB commits a version with
   * a conditional PUT (`If-None-Match: *`); a store that ignores the condition (s3rver; some older
   * S3-compatible servers) lets two concurrent commits overwrite each other, which loses writes and
   * corrupts the table's indexes. Even so, only one process may write a table on such a store
   * (docs/architecture.md, "The chunk index on object storage").
   */
  readonly serialCommits?: boolean | undefined
  /**
   * Seconds between checks for writes by other processes; 0 (the default) checks on every read, so
   * a server sees what workers wrote at once. A few seconds saves round trips on object stores.
   */
  readonly readConsistencyInterval?: number | undefined
  /** Vectors in a table above which an ANN index (IVF_PQ) is built; default 50 000, at least 256. */
  readonly annThreshold?: number | undefined
  /**
   * The IVF_PQ index is trained again (partitions and codebooks fitted to the table as it is now)
   * when the table's vectors reach this multiple of the count it was trained on; default 2, at
   * least 1.25. The retrain runs on the background maintenance fiber, after an optimize.
   */
  readonly annRetrainGrowth?: number | undefined
  /**
   * IVF partitions probed by an ANN search; default: a tenth of the index's partitions (√ of the
   * vectors it was trained on), at least 20.
   */
  readonly nprobes?: number | undefined
  /**
   * ANN candidates re-ranked with exact distances, as a multiple of the limit; default: 10 up to
   * 100,000 rows, then 10 × √(rows / 100,000) (32 at 1M).
   */
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
   * During a bulk load (writes less than this many milliseconds apart), an optimize that is due
   * waits until the writes pause, unless 10 × `optimizeEvery` rows or 10 × `optimizeEveryCommits`
   * commits piled up: the full-text and scalar index updates then run once for the load, not
   * every 2,000 rows. Searches meanwhile stay exact (rows not yet indexed are scanned), only
   * slower. Writes stay cheap meanwhile: a run's new chunks are appended, not merged on ids (a
   * merge opens every fragment written since the last optimize). Each optimize rewrites the
   * table's full-text and id indexes and leaves native memory behind: optimizing every 2,000 rows
   * of a 20,000-chunk load peaked ~160 MiB higher than pausing (bench/README.md, 2026-12-06 stop 21).
   * Default 2 000; 0: optimize as soon as it is due.
   */
  readonly optimizeQuietMs?: number | undefined
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
  annRetrainGrowth: 2,
  optimizeEvery: 2_000,
  optimizeEveryCommits: 20,
  optimizeQuietMs: 2_000,
  keepVersionsFor: 3_600
} as const

export { tableName } from "./internal/tables.js"

const atLeast = (minimum: number, value: number) => Math.max(minimum, Math.floor(value))

/** A URI with a scheme other than `file:` (`s3://`, `gs://`, `az://`, `memory://`, ...). */
const isObjectStore = (uri: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(uri) && !/^file:/i.test(uri)

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
    const tables = yield* Tables.make(connection, {
      serialCommits: options.serialCommits ?? isObjectStore(options.uri)
    })
    const annThreshold = atLeast(256, options.annThreshold ?? defaults.annThreshold)
    const maintenance = yield* Maintenance.make({
      annThreshold,
      retrainGrowth: Math.max(1.25, options.annRetrainGrowth ?? defaults.annRetrainGrowth),
      optimizeEvery: atLeast(1, options.optimizeEvery ?? defaults.optimizeEvery),
      optimizeEveryCommits: atLeast(1, options.optimizeEveryCommits ?? defaults.optimizeEveryCommits),
      optimizeQuietMs: Math.max(0, options.optimizeQuietMs ?? defaults.optimizeQuietMs),
      keepVersionsMs: Math.max(0, (options.keepVersionsFor ?? defaults.keepVersionsFor) * 1000)
    })
    const writes = Writes.make(tables, maintenance)
    const vectorSearch: VectorSearch.Settings = {
      nprobes: options.nprobes === undefined ? undefined : atLeast(1, options.nprobes),
      refineFactor: options.refineFactor === undefined ? undefined : atLeast(1, options.refineFactor),
      annThreshold
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
      searchText: (search) => TextSearch.searchText(tables, search, Rows.chunks),
      searchVector: (search) => VectorSearch.searchVector(tables, vectorSearch, search, Rows.chunks),
      searchTextSummaries: (search) => TextSearch.searchText(tables, search, Rows.summaries),
      searchVectorSummaries: (search) => VectorSearch.searchVector(tables, vectorSearch, search, Rows.summaries),
      getMany: (refs) => Reads.getMany(tables, refs)
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
