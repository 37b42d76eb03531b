/**
 * The primitives a record store implementation supplies: per-table operations over plain JSON rows
 * and a transaction. `RecordStore.make` derives the typed store from them; `RecordStore` re-exports
 * these types.
 */
import { Effect, Option } from "effect"
import { StoreError } from "../domain/Errors.js"

/** A JSON row as the backend stores it: the encoded record, `id` at the top. */
export type Row = { readonly id: string; readonly [field: string]: unknown }

/** A condition on one top-level field. */
export type Condition =
  | string
  | number
  | boolean
  | null
  | { readonly in: ReadonlyArray<string | number> }
  | { readonly gte?: number; readonly lte?: number }

export interface Query {
  /** All conditions must hold. */
  readonly where?: Readonly<Record<string, Condition>>
  /** Case-insensitive substring match on any of the fields. */
  readonly search?: { readonly fields: ReadonlyArray<string>; readonly text: string }
  /** A top-level field; ties are broken by `id` so paging is stable. Default `create_time`. */
  readonly orderBy?: string
  readonly desc?: boolean
  readonly offset?: number
  /** No limit when absent. */
  readonly limit?: number
}

export interface Page<A> {
  readonly items: ReadonlyArray<A>
  /** Rows matching the query before offset and limit. */
  readonly total: number
}

/** What a table is: its name, its unique keys, the fields worth an index. */
export interface TableSpec {
  readonly name: string
  readonly unique: ReadonlyArray<ReadonlyArray<string>>
  readonly indexes: ReadonlyArray<ReadonlyArray<string>>
}

/** The primitives a backend implements for one table, over JSON rows. */
export interface RawTable {
  readonly get: (id: string) => Effect.Effect<Option.Option<Row>, StoreError>
  readonly getMany: (ids: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<Row>, StoreError>
  /** Fails with `Conflict` when the id or a unique key is taken. */
  readonly insert: (row: Row) => Effect.Effect<void, StoreError>
  /**
   * Inserts, in one call and in order, each row whose id and unique keys are free (of the table and
   * of the rows of the call inserted before it); returns the ids inserted. A row whose key is taken
   * is skipped, not an error.
   */
  readonly insertNew: (rows: ReadonlyArray<Row>) => Effect.Effect<ReadonlyArray<string>, StoreError>
  /** Replaces the row; `NotFound` when it is gone, `Conflict` on a unique key. */
  readonly update: (row: Row) => Effect.Effect<void, StoreError>
  /** Reads the row locked against concurrent writers until the surrounding transaction ends. */
  readonly getForUpdate: (id: string) => Effect.Effect<Option.Option<Row>, StoreError>
  /** `getForUpdate` for several rows in one call: those found, in the order of `ids`. */
  readonly getManyForUpdate: (ids: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<Row>, StoreError>
  /**
   * `update` for several rows (distinct ids) in one call, inside a transaction; fails as `update`
   * does (`NotFound`, `Conflict`) when one cannot be written.
   */
  readonly updateMany: (rows: ReadonlyArray<Row>) => Effect.Effect<void, StoreError>
  readonly remove: (ids: ReadonlyArray<string>) => Effect.Effect<number, StoreError>
  readonly removeWhere: (where: Readonly<Record<string, Condition>>) => Effect.Effect<number, StoreError>
  readonly find: (query: Query) => Effect.Effect<Page<Row>, StoreError>
  readonly count: (where: Readonly<Record<string, Condition>>) => Effect.Effect<number, StoreError>
}

export interface RecordBackend {
  readonly table: (spec: TableSpec) => RawTable
  /** Runs the effect in one transaction: all of its writes land, or none. Nested calls join. */
  readonly transaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | StoreError, R>
}
