/**
 * The in-memory record backend. Transactions are serialised by one lock and roll back by restoring
 * a snapshot of every table (rows are immutable values, so a snapshot is a shallow copy).
 */
import { Effect, FiberRef, Option } from "effect"
import { StoreError } from "../domain/Errors.js"
import type { Condition, Page, Query, RawTable, RecordBackend, Row, TableSpec } from "../ports/RecordBackend.js"

const matches = (row: Row, where: Readonly<Record<string, Condition>> | undefined): boolean => {
  if (where === undefined) return true
  for (const [field, cond] of Object.entries(where)) {
    const value = row[field]
    if (cond === null) {
      if (value !== null && value !== undefined) return false
    } else if (typeof cond === "object") {
      if ("in" in cond) {
        if (!(cond.in as ReadonlyArray<unknown>).includes(value)) return false
      } else {
        if (typeof value !== "number") return false
        if (cond.gte !== undefined && value < cond.gte) return false
        if (cond.lte !== undefined && value > cond.lte) return false
      }
    } else if (value !== cond) return false
  }
  return true
}

const searchMatches = (row: Row, search: Query["search"]): boolean => {
  if (search === undefined || search.text === "") return true
  const needle = search.text.toLowerCase()
  return search.fields.some((f) => {
    const v = row[f]
    return typeof v === "string" && v.toLowerCase().includes(needle)
  })
}

const compareValues = (a: unknown, b: unknown): number => {
  const aMissing = a === null || a === undefined
  const bMissing = b === null || b === undefined
  if (aMissing || bMissing) return aMissing === bMissing ? 0 : aMissing ? 1 : -1
  if (typeof a === "number" && typeof b === "number") return a - b
  const sa = typeof a === "string" ? a : JSON.stringify(a)
  const sb = typeof b === "string" ? b : JSON.stringify(b)
  return sa < sb ? -1 : sa > sb ? 1 : 0
}

/** A table's rows with an index per unique key (key text -> id). */
class MemoryTable {
  readonly rows = new Map<string, Row>()
  private readonly indexes: Array<Map<string, string>>
  constructor(readonly spec: TableSpec) {
    this.indexes = spec.unique.map(() => new Map())
  }
  /** The unique key's text for a row, or undefined when a part is null (nulls never conflict). */
  private keyOf(key: ReadonlyArray<string>, row: Row): string | undefined {
    const values = key.map((f) => row[f])
    return values.some((v) => v === null || v === undefined) ? undefined : JSON.stringify(values)
  }
  /** The first of the row's unique keys that another row holds, or undefined. */
  takenKey(row: Row): ReadonlyArray<string> | undefined {
    return this.spec.unique.find((key, i) => {
      const k = this.keyOf(key, row)
      const holder = k === undefined ? undefined : this.indexes[i]!.get(k)
      return holder !== undefined && holder !== row.id
    })
  }
  /** Throws a Conflict when another row holds one of the row's unique keys. */
  checkUnique(row: Row) {
    const key = this.takenKey(row)
    if (key !== undefined) {
      throw new StoreError({
        reason: "Conflict",
        message: `${this.spec.name}: (${key.join(", ")}) = (${key.map((f) => String(row[f])).join(", ")}) already exists`
      })
    }
  }
  put(row: Row) {
    this.drop(row.id)
    this.rows.set(row.id, row)
    this.spec.unique.forEach((key, i) => {
      const k = this.keyOf(key, row)
      if (k !== undefined) this.indexes[i]!.set(k, row.id)
    })
  }
  drop(id: string): boolean {
    const old = this.rows.get(id)
    if (old === undefined) return false
    this.rows.delete(id)
    this.spec.unique.forEach((key, i) => {
      const k = this.keyOf(key, old)
      if (k !== undefined && this.indexes[i]!.get(k) === id) this.indexes[i]!.delete(k)
    })
    return true
  }
}

/** One undone write: the row a table held under an id before (undefined: none). */
interface Undo {
  readonly table: MemoryTable
  readonly id: string
  readonly before: Row | undefined
}

export const makeMemoryBackend: Effect.Effect<RecordBackend> = Effect.gen(function* () {
  const tables = new Map<string, MemoryTable>()
  const lock = yield* Effect.makeSemaphore(1)
  /** The undo log of the transaction the fiber is in, or null outside one. */
  const journal = FiberRef.unsafeMake<Array<Undo> | null>(null)

  /**
   * Runs a write. Inside a transaction its changes are journaled so a rollback can undo them;
   * outside one it takes the lock for itself, so a rollback never eats it.
   */
  const write = <A>(f: (record: (table: MemoryTable, id: string) => void) => A): Effect.Effect<A, StoreError> =>
    Effect.flatMap(FiberRef.get(journal), (log) => {
      const record = (table: MemoryTable, id: string) => {
        if (log !== null) log.push({ table, id, before: table.rows.get(id) })
      }
      const run = Effect.try({
        try: () => f(record),
        catch: (e) => (e instanceof StoreError ? e : new StoreError({ reason: "Unknown", message: String(e), cause: e }))
      })
      return log !== null ? run : lock.withPermits(1)(run)
    })

  /** Runs the effect; when it fails, its writes are undone, newest first (a savepoint when nested). */
  const rollingBack = <A, E, R>(effect: Effect.Effect<A, E, R>, log: Array<Undo>) =>
    Effect.suspend(() => {
      const mark = log.length
      return effect.pipe(
        Effect.locally(journal, log),
        Effect.onExit((exit) =>
          Effect.sync(() => {
            if (exit._tag === "Failure") {
              for (let i = log.length - 1; i >= mark; i--) {
                const undo = log[i]!
                if (undo.before === undefined) undo.table.drop(undo.id)
                else undo.table.put(undo.before)
              }
              log.length = mark
            }
          })
        )
      )
    })

  const transaction: RecordBackend["transaction"] = (effect) =>
    Effect.flatMap(FiberRef.get(journal), (log) =>
      log !== null ? rollingBack(effect, log) : lock.withPermits(1)(rollingBack(effect, []))
    )

  const table = (spec: TableSpec): RawTable => {
    let memory = tables.get(spec.name)
    if (memory === undefined) tables.set(spec.name, (memory = new MemoryTable(spec)))
    const t = memory
    const rows = () => t.rows

    const select = (query: Query): Array<Row> =>
      [...rows().values()].filter((r) => matches(r, query.where) && searchMatches(r, query.search))

    /** The rows of `ids` found, in the order of `ids`. */
    const found = (ids: ReadonlyArray<string>): Array<Row> =>
      ids.flatMap((id) => {
        const row = rows().get(id)
        return row === undefined ? [] : [row]
      })

    /** `update` of one row inside a `write`. */
    const replace = (record: (table: MemoryTable, id: string) => void, row: Row) => {
      if (!rows().has(row.id)) {
        throw new StoreError({ reason: "NotFound", message: `${spec.name}: id ${row.id} not found` })
      }
      t.checkUnique(row)
      record(t, row.id)
      t.put(row)
    }

    return {
      get: (id) => Effect.sync(() => Option.fromNullable(rows().get(id))),
      getMany: (ids) => Effect.sync(() => found(ids)),
      getForUpdate: (id) => Effect.sync(() => Option.fromNullable(rows().get(id))),
      // One writer at a time: nothing to lock.
      getManyForUpdate: (ids) => Effect.sync(() => found(ids)),
      insert: (row) =>
        write((record) => {
          if (rows().has(row.id)) {
            throw new StoreError({ reason: "Conflict", message: `${spec.name}: id ${row.id} already exists` })
          }
          t.checkUnique(row)
          record(t, row.id)
          t.put(row)
        }),
      insertNew: (many) =>
        write((record) =>
          many.flatMap((row) => {
            if (rows().has(row.id) || t.takenKey(row) !== undefined) return []
            record(t, row.id)
            t.put(row)
            return [row.id]
          })
        ),
      update: (row) => write((record) => replace(record, row)),
      updateMany: (many) =>
        write((record) => {
          for (const row of many) replace(record, row)
        }),
      remove: (ids) =>
        write((record) =>
          ids.reduce((n, id) => {
            if (!rows().has(id)) return n
            record(t, id)
            t.drop(id)
            return n + 1
          }, 0)
        ),
      removeWhere: (where) =>
        write((record) => {
          let n = 0
          for (const row of [...rows().values()]) {
            if (matches(row, where)) {
              record(t, row.id)
              t.drop(row.id)
              n++
            }
          }
          return n
        }),
      find: (query) =>
        Effect.sync((): Page<Row> => {
          const field = query.orderBy ?? "create_time"
          const sign = query.desc === true ? -1 : 1
          const all = select(query).sort((a, b) => {
            const c = compareValues(a[field], b[field])
            if (c !== 0) return sign * c
            return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
          })
          const offset = Math.max(0, query.offset ?? 0)
          const items = query.limit === undefined ? all.slice(offset) : all.slice(offset, offset + Math.max(0, query.limit))
          return { items, total: all.length }
        }),
      count: (where) => Effect.sync(() => select({ where }).length)
    }
  }

  return { table, transaction }
})
