/**
 * The knowledge bases' tables as this process knows them: each opened once and remembered with
 * what this process caches about it (`TableState`), created with its first rows, dropped; and one
 * write permit per knowledge base, so that writes to a table are serialised while reads run
 * concurrently.
 */
import * as lancedb from "@lancedb/lancedb"
import type * as ArrowTypes from "apache-arrow"
import { ChunkIndexError } from "@ragkit/core"
import type { KnowledgeBaseId } from "@ragkit/core"
import { Effect, Option } from "effect"
import type { Scope } from "effect"
import type { Corpus } from "./corpus.js"
import { lance, lanceIfFound, rowsOf } from "./lance.js"
import * as Rows from "./rows.js"

/** A table, with what this process knows of it. */
export interface TableState {
  readonly table: lancedb.Table
  /**
   * Runs a maintenance commit (optimize, index build): under the table's write permit when commits
   * are serialised (`serialCommits`), as is otherwise.
   */
  readonly maintenanceCommit: <A, E>(effect: Effect.Effect<A, E>) => Effect.Effect<A, E>
  /** Indexes checked (and created when missing) by this process. */
  indexed: boolean
  /** Whether the vector column has an ANN index. */
  ann: boolean
  /**
   * The table version at which `ann` was last read from the table's indexes (another process may
   * build the index: a reader without its own writes looks again when the version changes).
   */
  annSeen: number | undefined
  /** The vector dimension at a table version (read on every upsert). */
  dimension: { readonly version: number; readonly value: Option.Option<number> } | undefined
  /** The text search's statistics at a table version. */
  corpus: Corpus | undefined
  /** Rows written or deleted since the last `optimize()` began. */
  written: number
  /** Commits since the last `optimize()` began. */
  commits: number
  /** Rows were added since the table was last checked against `annThreshold`. */
  annCheck: boolean
  /**
   * An optimize ran since the ANN index was last checked for retraining (the table may have grown
   * past `retrainGrowth` times the vectors it was trained on: `annIndex.ts`).
   */
  annRetrainCheck: boolean
  /** The table's row count at a table version, for sizing ANN searches. */
  rows: { readonly version: number; readonly value: number } | undefined
  /** A maintenance fiber is running for this table. */
  maintaining: boolean
}

export interface Tables {
  /** The knowledge base's table, `None` when it has none yet. */
  readonly open: (kbId: KnowledgeBaseId) => Effect.Effect<Option.Option<TableState>, ChunkIndexError>
  /** Creates the knowledge base's table with its first rows, then its indexes (which hold the rows from the start). */
  readonly create: (
    kbId: KnowledgeBaseId,
    rows: ArrowTypes.Table,
    dimension: number | undefined
  ) => Effect.Effect<TableState, ChunkIndexError>
  readonly drop: (kbId: KnowledgeBaseId) => Effect.Effect<void, ChunkIndexError>
  /** Runs a write to the knowledge base's table, alone among this process's writes to it. */
  readonly withWrite: <A, E>(kbId: KnowledgeBaseId, effect: Effect.Effect<A, E>) => Effect.Effect<A, E>
}

/** Table name of a knowledge base (ids are hex; anything else is hex-encoded to stay a valid name). */
export const tableName = (kbId: KnowledgeBaseId): string =>
  /^[A-Za-z0-9_-]+$/.test(kbId) ? `kb_${kbId}` : `kb_x${Buffer.from(kbId, "utf8").toString("hex")}`

/** The tables of a connection; they are closed with the scope. */
export const make = (
  connection: lancedb.Connection,
  options: {
    /**
     * Maintenance commits wait for the table's write permit, so that this process never commits two
     * versions of a table at once (object stores that ignore conditional PUTs: `LanceChunkIndex.Options`).
     */
    readonly serialCommits: boolean
  } = { serialCommits: false }
): Effect.Effect<Tables, never, Scope.Scope> =>
  Effect.gen(function*() {
    const states = new Map<KnowledgeBaseId, TableState>()
    const semaphores = new Map<KnowledgeBaseId, Effect.Semaphore>()
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const state of states.values()) state.table.close()
        states.clear()
      })
    )

    const remember = (kbId: KnowledgeBaseId, table: lancedb.Table): TableState => {
      const existing = states.get(kbId)
      if (existing !== undefined && existing.table.isOpen()) {
        if (existing.table !== table) table.close()
        return existing
      }
      const state = newState(
        table,
        options.serialCommits ? (effect) => withWrite(kbId, effect) : (effect) => effect
      )
      states.set(kbId, state)
      return state
    }

    const open = (kbId: KnowledgeBaseId) =>
      Effect.suspend(() => {
        const cached = states.get(kbId)
        if (cached !== undefined && cached.table.isOpen()) return Effect.succeed(Option.some(cached))
        return Effect.flatMap(
          lanceIfFound(`open table of ${kbId}`, () => connection.openTable(tableName(kbId))),
          Option.match({
            onNone: () => Effect.succeedNone,
            onSome: (table) =>
              checkSchema(table).pipe(
                Effect.tapError(() => Effect.sync(() => table.close())),
                Effect.map(() => Option.some(remember(kbId, table)))
              )
          })
        )
      })

    const create = (kbId: KnowledgeBaseId, rows: ArrowTypes.Table, dimension: number | undefined) =>
      Effect.gen(function*() {
        const schema = Rows.tableSchema(dimension ?? Rows.placeholderDimension)
        const table = yield* lance(`create table of ${kbId}`, () =>
          connection.createTable(tableName(kbId), rows, { mode: "create", schema }))
        const state = remember(kbId, table)
        yield* ensureIndexes(state)
        return state
      })

    const drop = (kbId: KnowledgeBaseId) =>
      Effect.suspend(() => {
        states.get(kbId)?.table.close()
        states.delete(kbId)
        return Effect.asVoid(lanceIfFound(`drop table of ${kbId}`, () => connection.dropTable(tableName(kbId))))
      })

    const withWrite = <A, E>(kbId: KnowledgeBaseId, effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      Effect.suspend(() => {
        let semaphore = semaphores.get(kbId)
        if (semaphore === undefined) semaphores.set(kbId, semaphore = Effect.unsafeMakeSemaphore(1))
        return semaphore.withPermits(1)(effect)
      })

    return { open, create, drop, withWrite }
  })

const newState = (table: lancedb.Table, maintenanceCommit: TableState["maintenanceCommit"]): TableState => ({
  table,
  maintenanceCommit,
  indexed: false,
  ann: false,
  annSeen: undefined,
  dimension: undefined,
  corpus: undefined,
  written: 0,
  commits: 0,
  annCheck: true,
  annRetrainCheck: false,
  rows: undefined,
  maintaining: false
})

/** Checks that a table is a ragkit chunk table. */
const checkSchema = (table: lancedb.Table) =>
  Effect.flatMap(lance("read schema", () => table.schema()), (schema) => {
    const names = new Set(schema.fields.map((f) => f.name))
    const missing = Rows.requiredColumns.filter((c) => !names.has(c))
    return missing.length === 0
      ? Effect.void
      : Effect.fail(
        new ChunkIndexError({
          reason: "Mismatch",
          message: `LanceDB: table ${table.name} lacks columns ${missing.join(", ")}: not a ragkit chunk table`
        })
      )
  })

export const version = (state: TableState) => lance("read version", () => state.table.version())

/** The dimension of the table's vector column (a placeholder while the table holds no vector). */
export const vectorDimension = (state: TableState) =>
  Effect.map(lance("read schema", () => state.table.schema()), Rows.schemaDimension)

const hasVectors = (state: TableState) =>
  Effect.map(
    rowsOf(state.table.query().where("has_vector").select(["id"]).limit(1), "look for vectors"),
    (rows) => rows.length > 0
  )

/** The vector dimension of the table's chunks, `None` when it holds no vector; cached per table version. */
export const dimension = (state: TableState) =>
  Effect.flatMap(version(state), (current) => {
    if (state.dimension?.version === current) return Effect.succeed(state.dimension.value)
    return Effect.tap(
      Effect.flatMap(hasVectors(state), (has) =>
        has ? Effect.map(vectorDimension(state), Option.fromNullable) : Effect.succeedNone),
      (value) => Effect.sync(() => void (state.dimension = { version: current, value }))
    )
  })

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

const fullTextColumns: ReadonlyArray<string> = [...Object.values(Rows.tokenColumns), Rows.repeatedColumn]

/** Creates the missing indexes: full text on the search fields and the repeated tokens, btree on ids. */
export const ensureIndexes = (state: TableState) =>
  Effect.gen(function*() {
    if (state.indexed) return
    const indexes = yield* lance("list indexes", () => state.table.listIndices())
    const indexed = new Set(indexes.flatMap((i) => i.columns))
    for (const column of fullTextColumns) {
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
export const ensureDimension = (kbId: KnowledgeBaseId, state: TableState, dimension: number) =>
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
