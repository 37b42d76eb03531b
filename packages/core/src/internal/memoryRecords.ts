/**
 * The in-memory record backend. Transactions are serialised by one lock and roll back by restoring
 * a snapshot of every table (rows are immutable values, so a snapshot is a shallow copy).
 */
import { Effect, FiberRef, Option } from "effect"
import { StoreError } from "../domain/Errors.js"
import type { Condition, Page, Query, RawTable, RecordBackend, Row, TableSpec } from "../ports/RecordStore.js"

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

export const makeMemoryBackend: Effect.Effect<RecordBackend> = Effect.gen(function* () {
  const tables = new Map<string, Map<string, Row>>()
  const lock = yield* Effect.makeSemaphore(1)
  const inTransaction = FiberRef.unsafeMake(false)

  const rowsOf = (name: string): Map<string, Row> => {
    let rows = tables.get(name)
    if (rows === undefined) {
      rows = new Map()
      tables.set(name, rows)
    }
    return rows
  }

  /** Writes outside a transaction take the lock for themselves, so a rollback never eats them. */
  const write = <A>(f: () => A): Effect.Effect<A, StoreError> =>
    Effect.flatMap(FiberRef.get(inTransaction), (inside) => {
      const run = Effect.try({
        try: f,
        catch: (e) => (e instanceof StoreError ? e : new StoreError({ reason: "Unknown", message: String(e), cause: e }))
      })
      return inside ? run : lock.withPermits(1)(run)
    })

  /** Runs the effect; when it fails, every table is put back as it was (a savepoint when nested). */
  const rollingBack = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.suspend(() => {
      const snapshot = new Map([...tables].map(([name, rows]) => [name, new Map(rows)] as const))
      return effect.pipe(
        Effect.locally(inTransaction, true),
        Effect.onExit((exit) =>
          Effect.sync(() => {
            if (exit._tag === "Failure") {
              tables.clear()
              for (const [name, rows] of snapshot) tables.set(name, rows)
            }
          })
        )
      )
    })

  const transaction: RecordBackend["transaction"] = (effect) =>
    Effect.flatMap(FiberRef.get(inTransaction), (inside) =>
      inside ? rollingBack(effect) : lock.withPermits(1)(rollingBack(effect))
    )

  const table = (spec: TableSpec): RawTable => {
    const rows = () => rowsOf(spec.name)

    const checkUnique = (row: Row) => {
      for (const key of spec.unique) {
        const values = key.map((f) => row[f])
        if (values.some((v) => v === null || v === undefined)) continue
        for (const other of rows().values()) {
          if (other.id !== row.id && key.every((f, i) => other[f] === values[i])) {
            throw new StoreError({
              reason: "Conflict",
              message: `${spec.name}: (${key.join(", ")}) = (${values.join(", ")}) already exists`
            })
          }
        }
      }
    }

    const select = (query: Query): Array<Row> =>
      [...rows().values()].filter((r) => matches(r, query.where) && searchMatches(r, query.search))

    return {
      get: (id) => Effect.sync(() => Option.fromNullable(rows().get(id))),
      getMany: (ids) =>
        Effect.sync(() => ids.flatMap((id) => {
          const row = rows().get(id)
          return row === undefined ? [] : [row]
        })),
      getForUpdate: (id) => Effect.sync(() => Option.fromNullable(rows().get(id))),
      insert: (row) =>
        write(() => {
          if (rows().has(row.id)) {
            throw new StoreError({ reason: "Conflict", message: `${spec.name}: id ${row.id} already exists` })
          }
          checkUnique(row)
          rows().set(row.id, row)
        }),
      update: (row) =>
        write(() => {
          if (!rows().has(row.id)) {
            throw new StoreError({ reason: "NotFound", message: `${spec.name}: id ${row.id} not found` })
          }
          checkUnique(row)
          rows().set(row.id, row)
        }),
      remove: (ids) => write(() => ids.reduce((n, id) => (rows().delete(id) ? n + 1 : n), 0)),
      removeWhere: (where) =>
        write(() => {
          let n = 0
          for (const row of [...rows().values()]) {
            if (matches(row, where)) {
              rows().delete(row.id)
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
