/**
 * A `ChunkIndex` on LanceDB: one table per knowledge base (`kb_<id>`), in a local folder or any URI
 * LanceDB accepts (`s3://`, `gs://`, `az://`, ...).
 *
 * - Table: every chunk field (lists and metadata as JSON strings), the search fields' tokens with
 *   their token counts, the repeated tokens (`rep_tks`, see below), `chunk` (the small fields again,
 *   as one JSON string: a chunk is read from 7 columns rather than 28, which halves the cost of
 *   reading the few rows a search returns), `has_vector` and a nullable `vector` column
 *   (FixedSizeList<Float32> of the knowledge base's dimension). A table is created on the first
 *   upsert; when a knowledge base holds no vector any more, the next vectors may have another
 *   dimension (the vector column is replaced). Tables written by earlier versions (without `chunk`,
 *   or also without `rep_tks`) are read and written in their own layout (`Rows.Layout`).
 * - Text search, exact BM25 (the memory index's statistics and arithmetic, `internal/bm25.ts`)
 *   without reading the text of the matches. LanceDB full-text indexes (whitespace tokenizer, no
 *   lower-casing, stemming or stop words: tokens come pre-segmented) on the four search fields and on
 *   `rep_tks` answer, per query token and field, which rows hold it (row ids and the field's length:
 *   an Int32 read), which gives the document frequencies exactly; `rep_tks` lists, per row, the
 *   `field:token` pairs occurring more than once, so one more full-text query finds the few matches
 *   whose term frequency may not be 1. Field lengths and counts (for the average lengths), and the
 *   unavailable rows, come from a scan cached per table version.
 *   Every match gets its exact score, or for a row with a repeated pair an upper bound (those pairs'
 *   frequencies as large as their field). Rows are then visited best bound first, in growing
 *   batches, until no bound left reaches the `limit`-th accepted score; a row is read only for what
 *   is unknown: its repeated pairs' frequencies, its document and metadata when a filter needs them,
 *   and its id when it ties with another (ties are ordered by id). The chunks of the best `limit`
 *   are read last. The searched table versions are checked before and after: a search that saw a
 *   write is run again (row ids change on compaction).
 *   Cost per query: one full-text query per (token, non-empty field) returning row ids of the
 *   matches, one for the repeated tokens, and reads of the few rows returned — it still grows with
 *   the number of matches (ids, not text), and rows not yet in the full-text indexes (written since
 *   the last maintenance) are scanned by LanceDB on every query.
 *   Tables written before `rep_tks` existed are searched the earlier way (reading the token columns
 *   of every match); they get the column when rebuilt.
 *   Trade-off: exact scores and exact top-k, at the price of touching every match's row id. LanceDB
 *   returns neither term frequencies nor per-field scores, and asking it for its top-N per field
 *   would make the results approximate (its BM25 uses its own index statistics): the full-text
 *   queries cost about 1.7 ms of CPU each, whatever they return. A top-k cut before the postings are
 *   fetched (WAND, block-max) needs an inverted index of our own with per-block score maxima.
 * - Vector search: cosine distance, exact (flat) below `annThreshold` vectors; above it an IVF_PQ
 *   index is built (about √n partitions, 8 dimensions per sub-vector) and searched with `nprobes`
 *   partitions and exact re-ranking of `refineFactor × limit` candidates. Scores are recomputed from
 *   the stored float32 vectors in float64. Availability and document ids are LanceDB filters; metadata
 *   conditions are pushed down as a necessary key test and checked exactly in process over an
 *   over-fetched candidate set (fetching more until the page is full or the table exhausted).
 * - Writes to a table are serialised with a semaphore (readers run concurrently). Upserts that arrive
 *   while a commit is in flight are merged into the next one (group commit): one LanceDB commit for
 *   all of them; each caller returns when its rows are committed, and a failed commit fails every
 *   upsert in it (upserts whose vector dimensions disagree are committed separately).
 * - Maintenance runs on a background fiber, never in a write: after `optimizeEvery` written rows or
 *   `optimizeEveryCommits` commits the table is optimised (compaction, new rows merged into the indexes), one run at a time (a run covers
 *   every write made during the previous one), and the IVF_PQ index is built once the table passes
 *   `annThreshold` vectors. A failed run is logged and tried again after a later write; closing the
 *   layer waits for a running one.
 */
import * as lancedb from "@lancedb/lancedb"
import { Chunk, ChunkIndex, ChunkIndexError } from "@ragkit/core"
import type { ChunkId, DocumentId, KnowledgeBaseId } from "@ragkit/core"
import { Config, Deferred, Duration, Effect, Fiber, Layer, Option, Redacted, Schedule } from "effect"
import type { ConfigError, Scope } from "effect"
import * as Bm25 from "./internal/bm25.js"
import * as Lengths from "./internal/lengths.js"
import * as Postings from "./internal/postings.js"
import * as Rows from "./internal/rows.js"
import * as Sql from "./internal/sql.js"

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
   * until then: 2.1 GB for the 5,591 SciFact chunks written one document per upsert with 7 days.
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

/** Full-text index options: the search tokens are already lower-cased, stemmed and segmented. */
const ftsIndex = () =>
  lancedb.Index.fts({
    baseTokenizer: "whitespace",
    lowercase: false,
    stem: false,
    removeStopWords: false,
    asciiFolding: false,
    withPosition: false,
    maxTokenLength: 4096
  })

const tokenColumnNames: ReadonlyArray<string> = Object.values(Rows.tokenColumns)
const lengthColumnNames: ReadonlyArray<string> = Object.values(Rows.lengthColumns)

/** Table name of a knowledge base (ids are hex; anything else is hex-encoded to stay a valid name). */
export const tableName = (kbId: KnowledgeBaseId): string =>
  /^[A-Za-z0-9_-]+$/.test(kbId) ? `kb_${kbId}` : `kb_x${Buffer.from(kbId, "utf8").toString("hex")}`

const messageOf = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

const mismatchPattern = /schema|dimension|cast |type mismatch|fixedsizelist|incompatible/i

const lanceError = (what: string, cause: unknown): ChunkIndexError =>
  new ChunkIndexError({
    reason: mismatchPattern.test(messageOf(cause)) ? "Mismatch" : "Unavailable",
    message: `LanceDB: ${what}: ${messageOf(cause).split("\n")[0]}`,
    cause
  })

/** Every LanceDB promise goes through here, once. */
/** A commit that lost a race with another writer (another process on the same table): worth redoing. */
const isRetryableConflict = (error: ChunkIndexError) =>
  /retryable commit conflict|preempted by concurrent transaction|commit conflict/i.test(error.message)

/** A LanceDB call; a commit that lost to a concurrent writer is tried again, a few times. */
const lance = <A>(what: string, f: () => Promise<A>): Effect.Effect<A, ChunkIndexError> =>
  Effect.tryPromise({ try: f, catch: (cause) => lanceError(what, cause) }).pipe(
    Effect.retry({
      while: isRetryableConflict,
      schedule: Schedule.exponential(Duration.millis(20)).pipe(Schedule.jittered, Schedule.intersect(Schedule.recurs(6)))
    })
  )

const isNotFound = (cause: unknown) => /was not found|not found|does not exist/i.test(messageOf(cause))

const byScoreThenId = (a: ChunkIndex.ScoredChunk, b: ChunkIndex.ScoredChunk) =>
  b.score - a.score || (a.chunk.id < b.chunk.id ? -1 : a.chunk.id > b.chunk.id ? 1 : 0)

/** IVF_PQ sub-vectors of 8 dimensions (or the fewest larger ones that divide the dimension). */
const subVectors = (dimension: number): number => {
  for (let width = 8; width <= dimension; width++) if (dimension % width === 0) return dimension / width
  return 1
}

interface TableState {
  readonly table: lancedb.Table
  /** What the table has of the current layout (tables written by earlier versions lack some). */
  readonly layout: Rows.Layout
  /** Indexes checked (and created when missing) by this process. */
  indexed: boolean
  /** Whether the vector column has an ANN index. */
  ann: boolean
  /**
   * The table version at which `ann` was last read from the table's indexes (another process may
   * build the index: a reader without its own writes looks again when the version changes).
   */
  annSeen: number | undefined
  /** Rows written or deleted since the last `optimize()` began. */
  written: number
  /** Commits since the last `optimize()` began. */
  commits: number
  /** Rows were added since the table was last checked against `annThreshold`. */
  annCheck: boolean
  dimension: { readonly version: number; readonly value: Option.Option<number> } | undefined
  /** A maintenance fiber is running for this table. */
  maintaining: boolean
  stats:
    | {
      readonly version: number
      readonly rows: number
      readonly stats: Bm25.CorpusStats
      readonly lengths: Lengths.Lengths
      /** Row ids of the unavailable chunks (usually none). */
      readonly unavailable: ReadonlySet<number>
    }
    | undefined
}

/** An upsert waiting for the next commit of its table. */
interface PendingUpsert {
  readonly chunks: ReadonlyArray<Chunk>
  readonly dimension: number | undefined
  readonly done: Deferred.Deferred<void, ChunkIndexError>
}

interface TextCandidate extends Bm25.Candidate {
  readonly kbId: KnowledgeBaseId
  readonly id: string
  readonly rowId: unknown
  readonly available: boolean
  readonly doc_id: string
  readonly metadata: Readonly<Record<string, unknown>>
}

type RawRow = Record<string, unknown>

/** Row ids of an Arrow result, as numbers (fragment × 2^32 + offset: exact in a double). */
const rowIdsOf = (arrow: { getChild: (name: string) => { toArray: () => unknown } | null }): Array<number> =>
  Array.from((arrow.getChild("_rowid")?.toArray() ?? []) as ArrayLike<bigint | number>, Number)

const rowsOf = (
  query: { toArrow: () => Promise<Parameters<typeof Rows.fromArrow>[0]> },
  what: string
): Effect.Effect<Array<RawRow>, ChunkIndexError> => Effect.map(lance(what, () => query.toArrow()), Rows.fromArrow)

/** Builds the service; the connection is opened now and closed with the scope. */
export const make = (options: Options): Effect.Effect<ChunkIndex.ChunkIndexService, ChunkIndexError, Scope.Scope> =>
  Effect.gen(function*() {
    const annThreshold = Math.max(256, Math.floor(options.annThreshold ?? defaults.annThreshold))
    const nprobes = Math.max(1, Math.floor(options.nprobes ?? defaults.nprobes))
    const refineFactor = Math.max(1, Math.floor(options.refineFactor ?? defaults.refineFactor))
    const optimizeEvery = Math.max(1, Math.floor(options.optimizeEvery ?? defaults.optimizeEvery))
    const optimizeEveryCommits = Math.max(1, Math.floor(options.optimizeEveryCommits ?? defaults.optimizeEveryCommits))
    /** Whether an `optimize()` is due for a table. */
    const optimizeDue = (state: TableState) => state.written >= optimizeEvery || state.commits >= optimizeEveryCommits
    const keepVersionsMs = Math.max(0, (options.keepVersionsFor ?? defaults.keepVersionsFor) * 1000)
    const tables = new Map<KnowledgeBaseId, TableState>()
    const semaphores = new Map<KnowledgeBaseId, Effect.Semaphore>()
    const pending = new Map<KnowledgeBaseId, Array<PendingUpsert>>()
    const maintenance = new Set<Fiber.RuntimeFiber<void>>()

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
      (connection) =>
        Effect.sync(() => {
          for (const state of tables.values()) state.table.close()
          tables.clear()
          connection.close()
        })
    )
    // Fail at start-up, not on first use, when the location cannot be read.
    yield* lance(`list tables at ${options.uri}`, () => connection.tableNames())
    // Closing waits for running maintenance (before the connection closes: released in reverse order).
    yield* Effect.addFinalizer(() => Fiber.awaitAll([...maintenance]))

    const withWrite = <A, E>(kbId: KnowledgeBaseId, effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      Effect.suspend(() => {
        let semaphore = semaphores.get(kbId)
        if (semaphore === undefined) semaphores.set(kbId, semaphore = Effect.unsafeMakeSemaphore(1))
        return semaphore.withPermits(1)(effect)
      })

    /** Checks that the table is a chunk table; tells its layout. */
    const checkSchema = (table: lancedb.Table) =>
      Effect.flatMap(lance("read schema", () => table.schema()), (schema) => {
        const names = new Set(schema.fields.map((f) => f.name))
        const missing = Rows.requiredColumns.filter((c) => !names.has(c))
        return missing.length === 0
          ? Effect.succeed<Rows.Layout>({ repeated: names.has(Rows.repeatedColumn), payload: names.has(Rows.payloadColumn) })
          : Effect.fail(
            new ChunkIndexError({
              reason: "Mismatch",
              message: `LanceDB: table ${table.name} lacks columns ${missing.join(", ")}: not a ragkit chunk table`
            })
          )
      })

    const remember = (kbId: KnowledgeBaseId, table: lancedb.Table, layout: Rows.Layout): TableState => {
      const existing = tables.get(kbId)
      if (existing !== undefined && existing.table.isOpen()) {
        if (existing.table !== table) table.close()
        return existing
      }
      const state: TableState = {
        table,
        layout,
        indexed: false,
        ann: false,
        annSeen: undefined,
        written: 0,
        commits: 0,
        annCheck: true,
        maintaining: false,
        dimension: undefined,
        stats: undefined
      }
      tables.set(kbId, state)
      return state
    }

    /** The knowledge base's table, `None` when it has none yet. */
    const open = (kbId: KnowledgeBaseId): Effect.Effect<Option.Option<TableState>, ChunkIndexError> =>
      Effect.suspend(() => {
        const cached = tables.get(kbId)
        if (cached !== undefined && cached.table.isOpen()) return Effect.succeed(Option.some(cached))
        return Effect.tryPromise({ try: () => connection.openTable(tableName(kbId)), catch: (cause) => cause }).pipe(
          Effect.matchEffect({
            onFailure: (cause) =>
              isNotFound(cause) ? Effect.succeedNone : Effect.fail(lanceError(`open table of ${kbId}`, cause)),
            onSuccess: (table) =>
              checkSchema(table).pipe(
                Effect.tapError(() => Effect.sync(() => table.close())),
                Effect.map((layout) => Option.some(remember(kbId, table, layout)))
              )
          })
        )
      })

    /** Whether the vector column has an ANN index, looked up again after the table changed. */
    const hasAnn = (state: TableState) =>
      state.ann ? Effect.succeed(true) : Effect.gen(function*() {
        const version = yield* lance("read version", () => state.table.version())
        if (state.annSeen === version) return state.ann
        const indexes = yield* lance("list indexes", () => state.table.listIndices())
        state.ann = indexes.some((i) => i.columns.includes("vector"))
        state.annSeen = version
        return state.ann
      })

    const hasVectors = (state: TableState) =>
      Effect.map(
        rowsOf(state.table.query().where("has_vector").select(["id"]).limit(1), "look for vectors"),
        (rows) => rows.length > 0
      )

    const vectorDimension = (state: TableState) =>
      Effect.map(lance("read schema", () => state.table.schema()), Rows.schemaDimension)

    /** Creates the missing indexes: full text on the search fields, btree on ids. */
    const ensureIndexes = (state: TableState) =>
      Effect.gen(function*() {
        if (state.indexed) return
        const indexes = yield* lance("list indexes", () => state.table.listIndices())
        const indexed = new Set(indexes.flatMap((i) => i.columns))
        for (const column of state.layout.repeated ? [...tokenColumnNames, Rows.repeatedColumn] : tokenColumnNames) {
          if (!indexed.has(column)) {
            yield* lance(`create full-text index on ${column}`, () =>
              state.table.createIndex(column, { config: ftsIndex() }))
          }
        }
        for (const column of ["id", "doc_id"]) {
          if (!indexed.has(column)) {
            yield* lance(`create index on ${column}`, () =>
              state.table.createIndex(column, { config: lancedb.Index.btree() }))
          }
        }
        state.ann = indexed.has("vector")
        state.indexed = true
      })

    /** Gives the vector column the dimension `dimension`; only allowed while the table has no vector. */
    const ensureDimension = (kbId: KnowledgeBaseId, state: TableState, dimension: number) =>
      Effect.gen(function*() {
        const current = yield* vectorDimension(state)
        if (current === dimension) return
        if (current !== undefined && (yield* hasVectors(state))) {
          return yield* new ChunkIndexError({
            reason: "Mismatch",
            message: `upsert: vector of dimension ${dimension}, knowledge base ${kbId} has dimension ${current}`
          })
        }
        const indexes = yield* lance("list indexes", () => state.table.listIndices())
        for (const index of indexes.filter((i) => i.columns.includes("vector"))) {
          yield* lance("drop vector index", () => state.table.dropIndex(index.name))
        }
        if (current !== undefined) yield* lance("drop vector column", () => state.table.dropColumns(["vector"]))
        yield* lance("add vector column", () => state.table.addColumns(Rows.vectorSchema(dimension)))
        state.ann = false
      })

    /** Builds the IVF_PQ index once the table holds `annThreshold` vectors. */
    const buildAnnIfDue = (state: TableState) =>
      Effect.gen(function*() {
        if ((yield* lance("count rows", () => state.table.countRows())) < annThreshold) return
        const vectors = yield* lance("count vectors", () => state.table.countRows("has_vector"))
        if (vectors < annThreshold) return
        const dimension = yield* vectorDimension(state)
        if (dimension === undefined) return
        yield* lance("create vector index", () =>
          state.table.createIndex("vector", {
            config: lancedb.Index.ivfPq({
              distanceType: "cosine",
              numPartitions: Math.max(1, Math.round(Math.sqrt(vectors))),
              numSubVectors: subVectors(dimension)
            })
          }))
        state.ann = true
      })

    const optimize = (state: TableState) =>
      lance("optimize", () =>
        state.table.optimize({ cleanupOlderThan: new Date(Date.now() - keepVersionsMs) }))

    /**
     * Maintenance of a table, until nothing is due: optimise when `optimizeEvery` rows were written
     * (the rows written meanwhile are counted for the next run), build the ANN index when due. A
     * failure is logged and leaves the work due for the next write to start again.
     */
    const maintainLoop = (state: TableState): Effect.Effect<void> =>
      Effect.gen(function*() {
        while (state.table.isOpen() && (optimizeDue(state) || (state.annCheck && !state.ann))) {
          if (optimizeDue(state)) {
            const taken = state.written
            const commits = state.commits
            state.written = 0
            state.commits = 0
            const failed = yield* optimize(state).pipe(
              Effect.as(false),
              Effect.catchAll((error) =>
                Effect.as(Effect.logWarning(`LanceDB optimize of ${state.table.name} failed; will retry later: ${error.message}`), true)
              )
            )
            if (failed) {
              state.written += taken
              state.commits += commits
              return
            }
          }
          if (state.annCheck && !state.ann) {
            state.annCheck = false
            const failed = yield* buildAnnIfDue(state).pipe(
              Effect.as(false),
              Effect.catchAll((error) =>
                Effect.as(Effect.logWarning(`LanceDB vector index of ${state.table.name} failed; will retry later: ${error.message}`), true)
              )
            )
            if (failed) {
              state.annCheck = true
              return
            }
          }
        }
      }).pipe(Effect.ensuring(Effect.sync(() => void (state.maintaining = false))))

    /** Counts a write; starts the maintenance fiber when work is due and none is running. */
    const noteWrite = (state: TableState, changed: number, added: boolean) =>
      Effect.suspend(() => {
        state.written += changed
        if (changed > 0) state.commits++
        if (added) state.annCheck = true
        if (state.maintaining || !(optimizeDue(state) || (state.annCheck && !state.ann))) return Effect.void
        state.maintaining = true
        return Effect.flatMap(Effect.forkDaemon(maintainLoop(state)), (fiber) =>
          Effect.sync(() => {
            maintenance.add(fiber)
            fiber.addObserver(() => maintenance.delete(fiber))
          }))
      })

    /** Upserts chunks of one knowledge base; the caller holds its write permit. */
    const upsertLocked = (kbId: KnowledgeBaseId, chunks: ReadonlyArray<Chunk>) =>
      Effect.gen(function*() {
        const byId = new Map<string, Chunk>()
        for (const chunk of chunks) byId.set(chunk.id, chunk)
        const dimension = chunks.find((c) => c.vector !== undefined)?.vector?.length
        const existing = yield* open(kbId)
        let state: TableState
        if (Option.isSome(existing)) {
          state = existing.value
          yield* ensureIndexes(state)
          if (dimension !== undefined) yield* ensureDimension(kbId, state, dimension)
        } else {
          // Created with its first rows, then indexed: those rows are in the indexes from the start.
          const rows = [...byId.values()].map((chunk) => Rows.toRow(chunk))
          const table = yield* lance(`create table of ${kbId}`, () =>
            connection.createTable(tableName(kbId), rows, { mode: "create", schema: Rows.tableSchema(dimension ?? 1) }))
          state = remember(kbId, table, Rows.currentLayout)
          yield* ensureIndexes(state)
          yield* noteWrite(state, 0, true)
          return
        }
        const rows = [...byId.values()].map((chunk) => Rows.toRow(chunk, state.layout))
        const result = yield* lance("upsert", () =>
          state.table.mergeInsert("id").whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(rows))
        // The version this commit made holds vectors of this dimension: the next upsert's check is free.
        if (dimension !== undefined) state.dimension = { version: result.version, value: Option.some(dimension) }
        yield* noteWrite(state, rows.length, true)
      })

    /**
     * Commits every pending upsert of a knowledge base; the caller holds its write permit. Upserts
     * are committed together, in arrival order, in runs whose vector dimensions agree; each caller
     * learns the outcome of its run.
     */
    const commitPending = (kbId: KnowledgeBaseId) =>
      Effect.suspend(() => {
        const batch = pending.get(kbId)?.splice(0) ?? []
        const runs: Array<Array<PendingUpsert>> = []
        let runDimension: number | undefined
        for (const entry of batch) {
          const last = runs.at(-1)
          if (
            last === undefined ||
            (entry.dimension !== undefined && runDimension !== undefined && entry.dimension !== runDimension)
          ) {
            runs.push([entry])
            runDimension = entry.dimension
          } else {
            last.push(entry)
            runDimension ??= entry.dimension
          }
        }
        return Effect.forEach(runs, (run) =>
          Effect.flatMap(
            Effect.exit(upsertLocked(kbId, run.flatMap((entry) => entry.chunks))),
            (exit) => Effect.forEach(run, (entry) => Deferred.done(entry.done, exit), { discard: true })
          ), { discard: true })
      })

    /**
     * Group commit: queues the chunks, then takes the write permit; whoever gets it commits every
     * upsert queued by then (its own, unless an earlier holder already did), so that upserts arriving
     * during a commit share the next one.
     */
    const upsertGrouped = (kbId: KnowledgeBaseId, chunks: ReadonlyArray<Chunk>) =>
      Effect.gen(function*() {
        const done = yield* Deferred.make<void, ChunkIndexError>()
        const entry: PendingUpsert = {
          chunks,
          dimension: chunks.find((c) => c.vector !== undefined)?.vector?.length,
          done
        }
        let queue = pending.get(kbId)
        if (queue === undefined) pending.set(kbId, queue = [])
        queue.push(entry)
        yield* withWrite(kbId, Effect.uninterruptible(commitPending(kbId))).pipe(
          // Interrupted while waiting for the permit: withdraw the chunks unless a commit took them.
          Effect.onInterrupt(() =>
            Effect.sync(() => {
              const queued = pending.get(kbId)
              const at = queued?.indexOf(entry) ?? -1
              if (at >= 0) queued!.splice(at, 1)
            })
          )
        )
        yield* Deferred.await(done)
      })

    const getRow = (state: TableState, chunkId: string) =>
      Effect.map(
        rowsOf(
          state.table.query().where(`id = ${Sql.literal(chunkId)}`).select([...Rows.readColumns(state.layout)]).limit(1),
          "get chunk"
        ),
        (rows) => Option.map(Option.fromNullable(rows[0]), Rows.fromRow)
      )

    const get = (kbId: KnowledgeBaseId, chunkId: ChunkId) =>
      Effect.flatMap(open(kbId), (state) =>
        Option.isNone(state) ? Effect.succeedNone : getRow(state.value, chunkId))

    /** The vector dimension of a knowledge base, cached per table version (checked on every upsert). */
    const dimension = (kbId: KnowledgeBaseId) =>
      Effect.flatMap(open(kbId), (found) => {
        if (Option.isNone(found)) return Effect.succeedNone
        const state = found.value
        return Effect.flatMap(lance("read version", () => state.table.version()), (version) => {
          if (state.dimension?.version === version) return Effect.succeed(state.dimension.value)
          return Effect.tap(
            Effect.flatMap(hasVectors(state), (has) =>
              has ? Effect.map(vectorDimension(state), Option.fromNullable) : Effect.succeedNone),
            (value) => Effect.sync(() => void (state.dimension = { version, value }))
          )
        })
      })

    const deleteWhere = (kbId: KnowledgeBaseId, predicate: string) =>
      withWrite(
        kbId,
        Effect.flatMap(open(kbId), (state) =>
          Option.isNone(state)
            ? Effect.succeed(0)
            : Effect.gen(function*() {
              const result = yield* lance("delete", () => state.value.table.delete(predicate))
              yield* noteWrite(state.value, result.numDeletedRows, false)
              return result.numDeletedRows
            }))
      )

    const deleteChunks = (kbId: KnowledgeBaseId, chunkIds: ReadonlyArray<ChunkId>) =>
      Effect.gen(function*() {
        const ids = [...new Set<string>(chunkIds)]
        let removed = 0
        for (let i = 0; i < ids.length; i += 500) {
          removed += yield* deleteWhere(kbId, Sql.inList("id", ids.slice(i, i + 500)))
        }
        return removed
      })

    const deleteKnowledgeBase = (kbId: KnowledgeBaseId) =>
      withWrite(
        kbId,
        Effect.gen(function*() {
          const state = tables.get(kbId)
          tables.delete(kbId)
          if (state !== undefined) state.table.close()
          yield* Effect.tryPromise({ try: () => connection.dropTable(tableName(kbId)), catch: (cause) => cause }).pipe(
            Effect.catchAll((cause) =>
              isNotFound(cause) ? Effect.void : Effect.fail(lanceError(`drop table of ${kbId}`, cause)))
          )
        })
      )

    const update = (kbId: KnowledgeBaseId, chunkId: ChunkId, patch: ChunkIndex.ChunkPatch) =>
      withWrite(
        kbId,
        Effect.gen(function*() {
          const state = yield* open(kbId)
          if (Option.isNone(state)) return false
          const old = yield* getRow(state.value, chunkId)
          if (Option.isNone(old)) return false
          const changes = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined))
          const chunk = yield* Effect.try({
            try: () => new Chunk({ ...old.value, ...changes }),
            catch: (cause) =>
              new ChunkIndexError({ reason: "Mismatch", message: `update of chunk ${chunkId}: ${messageOf(cause)}`, cause })
          })
          yield* upsertLocked(kbId, [chunk])
          return true
        })
      )

    const list = (query: ChunkIndex.ListChunksQuery) =>
      Effect.gen(function*() {
        const state = yield* open(query.kbId)
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
            .select([...new Set([...Rows.readColumns(state.value.layout), "index", "id"])])
            .orderBy([{ columnName: "index", ascending: true }, { columnName: "id", ascending: true }])
            .offset(query.offset)
            .limit(query.limit),
          "list chunks"
        )
        return { chunks: rows.map(Rows.fromRow), total }
      })

    const countByDocument = (kbId: KnowledgeBaseId, docId: DocumentId) =>
      Effect.flatMap(open(kbId), (state) =>
        Option.isNone(state)
          ? Effect.succeed(0)
          : lance("count chunks", () => state.value.table.countRows(`doc_id = ${Sql.literal(docId)}`)))

    /** Row count and per-field BM25 statistics of a table, cached per table version. */
    /**
     * Row count, per-field BM25 statistics and every row's field lengths (by row id) of a table,
     * from one scan of four Int32 columns, cached per table version (kept only when no write came
     * between the version read and the scan).
     */
    const corpusStats = (state: TableState) =>
      Effect.gen(function*() {
        const version = yield* lance("read version", () => state.table.version())
        if (state.stats !== undefined && state.stats.version === version) return state.stats
        const [arrow, unavailable] = yield* Effect.all([
          lance("read field lengths", () => state.table.query().withRowId().select([...lengthColumnNames]).toArrow()),
          lance("read unavailable rows", () =>
            state.table.query().where("available = false").withRowId().select(["id"]).toArrow())
        ], { concurrency: 2 })
        const columns = Rows.searchFields.map((field) =>
          (arrow.getChild(Rows.lengthColumns[field])?.toArray() ?? new Int32Array(arrow.numRows)) as ArrayLike<number>
        )
        const fieldStats = (f: number): Bm25.FieldStats => {
          const lengths = columns[f]!
          let documents = 0
          let totalLength = 0
          for (let i = 0; i < lengths.length; i++) {
            const length = lengths[i]!
            if (length > 0) {
              documents++
              totalLength += length
            }
          }
          return { documents, totalLength }
        }
        const stats = {
          version,
          rows: arrow.numRows,
          stats: {
            content_ltks: fieldStats(0),
            title_tks: fieldStats(1),
            important_keywords: fieldStats(2),
            questions: fieldStats(3)
          },
          lengths: Lengths.make(rowIdsOf(arrow), columns),
          unavailable: new Set(rowIdsOf(unavailable))
        }
        if ((yield* lance("read version", () => state.table.version())) === version) state.stats = stats
        return stats
      })

    /** Lengths (stored) and frequencies of the query tokens, per search field of a row. */
    const fieldCounts = (row: RawRow, tokens: ReadonlyArray<string>): Bm25.Candidate["fields"] => {
      const counts = (field: ChunkIndex.SearchField): Bm25.FieldCounts => {
        const text = String(row[Rows.tokenColumns[field]] ?? "")
        const frequencies = new Map<string, number>()
        for (const token of tokens) {
          const tf = Rows.tokenFrequency(text, token)
          if (tf > 0) frequencies.set(token, tf)
        }
        return { length: Number(row[Rows.lengthColumns[field]]), counts: frequencies }
      }
      return {
        content_ltks: counts("content_ltks"),
        title_tks: counts("title_tks"),
        important_keywords: counts("important_keywords"),
        questions: counts("questions")
      }
    }

    const parseMetadata = (value: unknown): Readonly<Record<string, unknown>> => {
      try {
        const parsed = JSON.parse(String(value ?? "{}"))
        return typeof parsed === "object" && parsed !== null ? parsed : {}
      } catch {
        return {}
      }
    }

    const fetchByIds = (state: TableState, ids: ReadonlyArray<string>) =>
      Effect.map(
        Effect.forEach(
          Array.from({ length: Math.ceil(ids.length / 500) }, (_, i) => ids.slice(i * 500, i * 500 + 500)),
          (batch) =>
            rowsOf(
              state.table.query().where(Sql.inList("id", batch)).select([...Rows.readColumns(state.layout)]),
              "read chunks"
            )
        ),
        (batches) => new Map(batches.flat().map((row) => Rows.fromRow(row)).map((chunk) => [chunk.id, chunk] as const))
      )

    /**
     * The chunks of candidates, by row id (a direct read); a candidate whose row moved in between (a
     * concurrent compaction) is read again by id.
     */
    const fetchCandidates = (state: TableState, candidates: ReadonlyArray<TextCandidate>) =>
      Effect.gen(function*() {
        if (candidates.length === 0) return new Map<string, Chunk>()
        const rows = yield* rowsOf(
          state.table.takeRowIds(candidates.map((c) => c.rowId as bigint)).select([...Rows.readColumns(state.layout)]),
          "read chunks"
        )
        const found = new Map<string, Chunk>(rows.map((row) => Rows.fromRow(row)).map((chunk) => [chunk.id, chunk] as const))
        const missing = candidates.filter((c) => !found.has(c.id)).map((c) => c.id)
        if (missing.length > 0) for (const [id, chunk] of yield* fetchByIds(state, missing)) found.set(id, chunk)
        return found
      })

    /**
     * Text search over tables without the repeated-tokens column: reads the token columns of every
     * row that holds a query token.
     */
    const searchTextReading = (search: ChunkIndex.ResolvedTextSearch) =>
      Effect.gen(function*() {
        const kbIds = [...new Set(search.kbIds)]
        const tokens = search.tokens.map((t) => t.token)
        const query = tokens.join(" ")
        const perTable = yield* Effect.forEach(kbIds, (kbId) =>
          Effect.gen(function*() {
            const state = yield* open(kbId)
            if (Option.isNone(state)) return undefined
            const { rows, stats } = yield* corpusStats(state.value)
            if (rows === 0) return undefined
            // Unfiltered: document frequencies count every row, as the memory index does.
            const found = yield* rowsOf(
              state.value.table.query()
                .fullTextSearch(new lancedb.MultiMatchQuery(query, [...tokenColumnNames]))
                .withRowId()
                .select(["id", "doc_id", "available", "metadata", ...tokenColumnNames, ...lengthColumnNames, "_score"])
                // Every match (a margin for rows written since the statistics were read).
                .limit(rows * 2 + 1000),
              "full-text search"
            )
            const candidates = found.map((row): TextCandidate => ({
              kbId,
              id: String(row["id"]),
              rowId: row["_rowid"],
              available: Boolean(row["available"]),
              doc_id: String(row["doc_id"]),
              metadata: (search.filter.metadata ?? []).length === 0 ? {} : parseMetadata(row["metadata"]),
              fields: fieldCounts(row, tokens)
            }))
            return { kbId, state: state.value, stats, candidates }
          }), { concurrency: 4 })
        const present = perTable.filter((t) => t !== undefined)
        const stats = present.reduce((sum, t) => Bm25.addStats(sum, t.stats), Bm25.emptyStats)
        const scored = Bm25.scoreCandidates(
          stats,
          present.flatMap((t) => t.candidates),
          search.tokens,
          (candidate) => Sql.passes(candidate, search.filter)
        )
          .sort((a, b) =>
            b.score - a.score || (a.candidate.id < b.candidate.id ? -1 : a.candidate.id > b.candidate.id ? 1 : 0)
          )
          .slice(0, search.limit)
        const chunks = new Map<KnowledgeBaseId, ReadonlyMap<string, Chunk>>()
        yield* Effect.forEach(present, (t) =>
          Effect.map(
            fetchCandidates(t.state, scored.filter((s) => s.candidate.kbId === t.kbId).map((s) => s.candidate)),
            (found) => void chunks.set(t.kbId, found)
          ), { concurrency: 4, discard: true })
        const results: Array<ChunkIndex.ScoredChunk> = []
        for (const { candidate, score } of scored) {
          const chunk = chunks.get(candidate.kbId)?.get(candidate.id)
          if (chunk !== undefined) results.push({ chunk, score })
        }
        return results
      })


    /** A row of a searched table (`table`: its index among the searched tables). */
    interface RowRef {
      readonly table: number
      readonly rowId: number
    }

    interface Accepted extends RowRef {
      /** The chunk id, once read (needed to order ties). */
      id: string | undefined
      readonly score: number
    }
    /** Best score first; ties by id, ids not read yet last (they are read when they matter). */
    const byScoreThenKnownId = (x: Accepted, y: Accepted) =>
      y.score - x.score || (x.id === y.id ? 0 : x.id === undefined ? 1 : y.id === undefined ? -1 : x.id < y.id ? -1 : 1)

    /** Columns of rows, by `<table>/<row id>`. */
    const readRows = (
      states: ReadonlyArray<TableState>,
      refs: ReadonlyArray<RowRef>,
      columns: ReadonlyArray<string> | ((state: TableState) => ReadonlyArray<string>)
    ) =>
      Effect.map(
        Effect.forEach(states, (state, i) => {
          const ids = refs.filter((p) => p.table === i).map((p) => p.rowId)
          const select = typeof columns === "function" ? columns(state) : columns
          return ids.length === 0
            ? Effect.succeed([])
            : Effect.map(
              rowsOf(state.table.takeRowIds(ids).withRowId().select([...select]), "read chunks"),
              (rows) => rows.map((row) => [`${i}/${Number(row["_rowid"])}`, row] as const)
            )
        }, { concurrency: 4 }),
        (perTable) => new Map<string, Rows.Row>(perTable.flat())
      )

    /**
     * The matches of one table: per pair (`Postings`: field `f`, token `t` of `tokens`, pair
     * `f × tokens.length + t`), the rows holding it, from one full-text query per (field, token) that
     * some row has; the rows where a pair is repeated (their term frequencies may not be 1), from one
     * more; the document frequencies. `None` when the table has no rows.
     */
    const tablePostings = (state: TableState, tokens: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const { lengths, rows, stats, unavailable } = yield* corpusStats(state)
        if (rows === 0) return Option.none()
        // Every match, at the scanned version. LanceDB sizes its result heap by the limit, so a query
        // asks for at most `firstLimit` rows first, and for all of them when that was not enough. A
        // result that fills `limit` means rows were added since: the search is run again.
        const limit = rows + 1
        const firstLimit = Math.min(limit, 16_384)
        // Fields no row has are skipped (no row holds a token there), and a token given twice is
        // searched once.
        const searched = Rows.searchFields.flatMap((field, f) =>
          stats[field].documents === 0 ? [] : tokens.flatMap((token, t) =>
            tokens.indexOf(token) === t ? [{ field, token, pair: f * tokens.length + t }] : []
          )
        )
        const fullTextUpTo = (query: string, column: string, upTo: number) =>
          lance("full-text search", () =>
            state.table.query()
              .fullTextSearch(new lancedb.MatchQuery(query, column))
              .withRowId()
              .select(["_score"])
              .limit(upTo)
              .toArrow())
        const fullText = (query: string, column: string) =>
          Effect.flatMap(
            fullTextUpTo(query, column, firstLimit),
            (first) => first.numRows < firstLimit ? Effect.succeed(first) : fullTextUpTo(query, column, limit)
          )
        const [results, repeatedRows] = yield* Effect.all([
          Effect.forEach(searched, ({ field, token }) => fullText(token, Rows.tokenColumns[field]), { concurrency: 4 }),
          searched.length === 0
            ? Effect.succeed([])
            : Effect.map(
              fullText(searched.map(({ field, token }) => Rows.repeatedToken(field, token)).join(" "), Rows.repeatedColumn),
              rowIdsOf
            )
        ], { concurrency: 2 })
        const matches = new Array<ReadonlyArray<number> | undefined>(4 * tokens.length).fill(undefined)
        const frequencies: Record<ChunkIndex.SearchField, Map<string, number>> = {
          content_ltks: new Map(),
          title_tks: new Map(),
          important_keywords: new Map(),
          questions: new Map()
        }
        let full = false
        searched.forEach(({ field, pair, token }, i) => {
          const ids = rowIdsOf(results[i]!)
          if (ids.length >= limit) full = true
          if (ids.length > 0) frequencies[field].set(token, ids.length)
          matches[pair] = ids
        })
        const postings = Postings.collect(lengths, matches)
        return Option.some({
          stats,
          frequencies,
          postings,
          marked: new Set(repeatedRows),
          unavailable,
          moved: full || postings.moved
        })
      })

    /** The searched tables' versions, to tell whether a write happened during a search. */
    const versions = (states: ReadonlyArray<TableState>) =>
      Effect.map(
        Effect.forEach(states, (state) => lance("read version", () => state.table.version()), { concurrency: 4 }),
        (vs) => vs.join(",")
      )

    /**
     * Text search from the full-text indexes' postings (see the module documentation); `None` when
     * a write changed a table during the search (row ids may have moved: the caller tries again).
     */
    const searchTextPostings = (search: ChunkIndex.ResolvedTextSearch, states: ReadonlyArray<TableState>) =>
      Effect.gen(function*() {
        const before = yield* versions(states)
        // A token with white space inside is in no field (fields are split on white space).
        const tokens = search.tokens.map((t) => t.token).filter((token) => !/\s/.test(token))
        const perTable = (yield* Effect.forEach(states, (state) => tablePostings(state, tokens), {
          concurrency: 4
        })).flatMap((found, table) => Option.isSome(found) ? [{ ...found.value, table }] : [])
        if (perTable.some((t) => t.moved)) return Option.none()
        const stats = perTable.reduce((sum, t) => Bm25.addStats(sum, t.stats), Bm25.emptyStats)
        const sumFrequencies = (field: ChunkIndex.SearchField) => {
          const sum = new Map<string, number>()
          for (const t of perTable) for (const [token, df] of t.frequencies[field]) sum.set(token, (sum.get(token) ?? 0) + df)
          return sum
        }
        const terms = Bm25.terms(stats, {
          content_ltks: sumFrequencies("content_ltks"),
          title_tks: sumFrequencies("title_tks"),
          important_keywords: sumFrequencies("important_keywords"),
          questions: sumFrequencies("questions")
        }, search.tokens, (field, token) => {
          const t = tokens.indexOf(token)
          return t < 0 ? -1 : field * tokens.length + t
        })
        const pairs = 4 * tokens.length
        // Every candidate's exact score, or for a row with a repeated pair an upper bound (those
        // pairs' frequencies as large as their field); rows of the wrong availability are left out.
        const offsets: Array<number> = []
        let candidates = 0
        for (const t of perTable) {
          offsets.push(candidates)
          candidates += t.postings.rowIds.length
        }
        const bounds = new Float64Array(candidates)
        const exact = new Uint8Array(candidates)
        const kept: Array<number> = []
        const saturated = new Float64Array(pairs)
        perTable.forEach((t, i) => {
          const { has, lengths, rowIds } = t.postings
          for (let c = 0; c < rowIds.length; c++) {
            const rowId = rowIds[c]!
            if (t.unavailable.has(rowId) === search.filter.available) continue
            const g = offsets[i]! + c
            if (t.marked.has(rowId)) {
              for (let p = 0; p < pairs; p++) {
                saturated[p] = has[c * pairs + p] === 1 ? lengths[c * 4 + Math.floor(p / tokens.length)]! : 0
              }
              bounds[g] = Bm25.scoreOf(terms, saturated, 0, lengths, c * 4)
            } else {
              exact[g] = 1
              bounds[g] = Bm25.scoreOf(terms, has, c * pairs, lengths, c * 4)
            }
            if (bounds[g]! > 0) kept.push(g)
          }
        })
        const tableOf = (g: number) => {
          let i = offsets.length - 1
          while (offsets[i]! > g) i--
          return i
        }
        const refOf = (g: number): RowRef => {
          const table = tableOf(g)
          return { table, rowId: perTable[table]!.postings.rowIds[g - offsets[table]!]! }
        }
        // The frequencies of a candidate's pairs, counted in its row's token columns.
        const counted = new Float64Array(pairs)
        const countedScore = (g: number, row: Rows.Row) => {
          const table = tableOf(g)
          const c = g - offsets[table]!
          const { has, lengths } = perTable[table]!.postings
          for (let p = 0; p < pairs; p++) {
            const field = Rows.searchFields[Math.floor(p / tokens.length)]!
            counted[p] = has[c * pairs + p] === 1
              ? Math.max(1, Rows.tokenFrequency(String(row[Rows.tokenColumns[field]] ?? ""), tokens[p % tokens.length]!))
              : 0
          }
          return Bm25.scoreOf(terms, counted, 0, lengths, c * 4)
        }
        const fieldsOf = (g: number) => {
          const table = tableOf(g)
          const c = g - offsets[table]!
          const { has } = perTable[table]!.postings
          return Rows.searchFields.filter((_, f) => {
            for (let t = 0; t < tokens.length; t++) if (has[c * pairs + f * tokens.length + t] === 1) return true
            return false
          })
        }
        // Visited best bound first (a heap: most searches stop after a few dozen), in growing batches,
        // until no candidate left can reach the `limit`-th accepted score. A row is read only when the
        // document or metadata filter must see it, or to count its repeated tokens.
        const heap = new Postings.MaxHeap(bounds, Int32Array.from(kept))
        const metadata = (search.filter.metadata ?? []).length > 0
        const filtered = metadata || search.filter.docIds !== undefined
        const filterColumns = ["id", ...(filtered ? ["doc_id"] : []), ...(metadata ? ["metadata"] : [])]
        const accepted: Array<Accepted> = []
        const lowest = () => accepted.length < search.limit ? -Infinity : accepted[search.limit - 1]!.score
        let batch = search.limit
        while (heap.length > 0 && heap.peekKey() >= lowest()) {
          const slice: Array<number> = []
          while (slice.length < batch && heap.length > 0) slice.push(heap.pop())
          batch *= 4
          const read = slice.filter((g) => filtered || exact[g] === 0)
          const fields = [...new Set(read.filter((g) => exact[g] === 0).flatMap(fieldsOf))]
          const rows = read.length === 0
            ? new Map<string, Rows.Row>()
            : yield* readRows(states, read.map(refOf), [
              ...filterColumns,
              ...fields.map((field) => Rows.tokenColumns[field])
            ])
          for (const g of slice) {
            const ref = refOf(g)
            if (exact[g] === 0 || filtered) {
              const row = rows.get(`${ref.table}/${ref.rowId}`)
              if (row === undefined) return Option.none()
              const passes = Sql.passes({
                available: search.filter.available,
                doc_id: String(row["doc_id"]),
                metadata: metadata ? parseMetadata(row["metadata"]) : {}
              }, search.filter)
              if (!passes) continue
              const value = exact[g] === 1 ? bounds[g]! : countedScore(g, row)
              if (value > 0) accepted.push({ ...ref, id: String(row["id"]), score: value })
            } else {
              accepted.push({ ...ref, id: undefined, score: bounds[g]! })
            }
          }
          accepted.sort(byScoreThenKnownId)
        }
        // Equal scores are ordered by chunk id: the ids of such rows not read yet, among the best
        // `limit` and those tied with the last of them.
        if (accepted.length > 1) {
          const last = accepted[Math.min(search.limit, accepted.length) - 1]!.score
          const head = accepted.filter((a, i) => i < search.limit || a.score === last)
          const tied = head.filter((a, i) =>
            a.id === undefined && (head[i - 1]?.score === a.score || head[i + 1]?.score === a.score)
          )
          if (tied.length > 0) {
            const rows = yield* readRows(states, tied, ["id"])
            for (const a of tied) {
              const row = rows.get(`${a.table}/${a.rowId}`)
              if (row === undefined) return Option.none()
              a.id = String(row["id"])
            }
            accepted.sort(byScoreThenKnownId)
          }
        }
        const best = accepted.slice(0, search.limit)
        const rows = yield* readRows(states, best, (state) => Rows.readColumns(state.layout))
        const results: Array<ChunkIndex.ScoredChunk> = []
        for (const { rowId, score: value, table } of best) {
          const row = rows.get(`${table}/${rowId}`)
          if (row === undefined) return Option.none()
          results.push({ chunk: Rows.fromRow(row), score: value })
        }
        if ((yield* versions(states)) !== before) return Option.none()
        return Option.some(results)
      })

    const searchText = (search: ChunkIndex.ResolvedTextSearch) =>
      Effect.gen(function*() {
        const states = (yield* Effect.forEach([...new Set(search.kbIds)], open, { concurrency: 4 }))
          .flatMap((state) => Option.isSome(state) ? [state.value] : [])
        if (states.length === 0) return []
        if (states.every((state) => state.layout.repeated)) {
          for (let attempt = 0; attempt < 3; attempt++) {
            const found = yield* searchTextPostings(search, states)
            if (Option.isSome(found)) return found.value
          }
        }
        // Tables of an earlier layout, or writes kept moving rows: read the matches.
        return yield* searchTextReading(search)
      })

    const searchVectorIn = (kbId: KnowledgeBaseId, search: ChunkIndex.ResolvedVectorSearch) =>
      Effect.gen(function*() {
        const state = yield* open(kbId)
        if (Option.isNone(state)) return []
        const { table } = state.value
        if ((yield* vectorDimension(state.value)) !== search.vector.length) return []
        const ann = yield* hasAnn(state.value)
        const where = Sql.and("has_vector", Sql.searchWhere(search.filter))
        const exact = (search.filter.metadata ?? []).length > 0
        // A margin over the limit, so that float32 rounding in LanceDB cannot push out a neighbour.
        let fetch = exact ? search.limit * 4 + 8 : search.limit + 8
        for (;;) {
          let query = table.query()
            .nearestTo([...search.vector])
            .distanceType("cosine")
            .where(where)
            .select([...Rows.readColumns(state.value.layout), "_distance"])
            .limit(fetch)
          query = ann ? query.nprobes(nprobes).refineFactor(refineFactor) : query.bypassVectorIndex()
          const rows = yield* rowsOf(query, "vector search")
          const chunks = rows.map(Rows.fromRow)
          const kept = exact ? chunks.filter((chunk) => ChunkIndex.matchesFilter(chunk, search.filter)) : chunks
          if (kept.length >= search.limit || rows.length < fetch) {
            return kept.flatMap((chunk): Array<ChunkIndex.ScoredChunk> => {
              if (chunk.vector === undefined) return []
              const score = ChunkIndex.cosineSimilarity(search.vector, chunk.vector)
              return score >= search.minSimilarity ? [{ chunk, score }] : []
            })
          }
          fetch *= 4
        }
      })

    const searchVector = (search: ChunkIndex.ResolvedVectorSearch) =>
      search.filter.docIds !== undefined && search.filter.docIds.length === 0
        ? Effect.succeed([])
        : Effect.map(
          Effect.forEach([...new Set(search.kbIds)], (kbId) => searchVectorIn(kbId, search), { concurrency: 4 }),
          (results) => results.flat().sort(byScoreThenId).slice(0, search.limit)
        )

    return ChunkIndex.make({
      dimension,
      upsert: (chunks) => {
        const byKb = new Map<KnowledgeBaseId, Array<Chunk>>()
        for (const chunk of chunks) {
          const list = byKb.get(chunk.kb_id)
          if (list === undefined) byKb.set(chunk.kb_id, [chunk])
          else list.push(chunk)
        }
        return Effect.forEach(byKb, ([kbId, list]) => upsertGrouped(kbId, list), {
          concurrency: 4,
          discard: true
        })
      },
      get,
      deleteByDocument: (kbId, docId) => deleteWhere(kbId, `doc_id = ${Sql.literal(docId)}`),
      deleteChunks,
      deleteKnowledgeBase,
      update,
      list,
      countByDocument,
      searchText: (search) =>
        search.filter.docIds !== undefined && search.filter.docIds.length === 0 ? Effect.succeed([]) : searchText(search),
      searchVector
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
