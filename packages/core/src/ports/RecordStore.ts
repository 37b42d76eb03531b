/**
 * RecordStore: transactional records (tenants, users and their login sessions, failed logins,
 * members, API tokens, model providers and models, knowledge bases, documents, dialogs,
 * conversations with their messages).
 *
 * An implementation supplies a `RecordBackend`: per-table primitives over plain JSON rows plus a
 * transaction. `make` derives the typed store from it (schema encoding and decoding, error
 * shaping), so the memory and Postgres stores behave the same by construction.
 */
import { Context, Effect, Layer, Option, ParseResult, Schema } from "effect"
import { StoreError } from "../domain/Errors.js"
import {
  ApiToken,
  Conversation,
  Dialog,
  Document,
  KnowledgeBase,
  LoginFailure,
  Model,
  ModelProviderConfig,
  Session,
  Tenant,
  TenantMember,
  User
} from "../domain/Records.js"
import { makeMemoryBackend } from "../internal/memoryRecords.js"
import type { Condition, Page, Query, RawTable, RecordBackend, Row, TableSpec } from "./RecordBackend.js"

export type { Condition, Page, Query, RawTable, RecordBackend, Row, TableSpec } from "./RecordBackend.js"

/** A typed table. */
export interface Table<A extends { readonly id: string }> {
  readonly get: (id: string) => Effect.Effect<Option.Option<A>, StoreError>
  readonly getMany: (ids: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<A>, StoreError>
  readonly insert: (record: A) => Effect.Effect<A, StoreError>
  /**
   * Inserts, in one write and in the order given, each record whose id and unique keys are free
   * (of the table, and of the records given before it); returns those inserted. The others are
   * left out, not an error: the caller may try them again under other keys.
   */
  readonly insertNew: (records: ReadonlyArray<A>) => Effect.Effect<ReadonlyArray<A>, StoreError>
  readonly update: (record: A) => Effect.Effect<A, StoreError>
  /**
   * Read-modify-write under a row lock, inside a transaction (joins the caller's). Returns the new
   * record, or `None` when the row does not exist.
   */
  readonly modify: <E, R>(
    id: string,
    f: (current: A) => Effect.Effect<A, E, R>
  ) => Effect.Effect<Option.Option<A>, E | StoreError, R>
  /**
   * `modify` for several rows in one transaction (joins the caller's), with one read and one write
   * for all of them: `f` gets the rows found, read under row locks (in the order of `ids`, each
   * once, missing ones left out), and returns the records to write (those it leaves out stay as
   * they are). Returns what it wrote.
   */
  readonly modifyMany: <E, R>(
    ids: ReadonlyArray<string>,
    f: (current: ReadonlyArray<A>) => Effect.Effect<ReadonlyArray<A>, E, R>
  ) => Effect.Effect<ReadonlyArray<A>, E | StoreError, R>
  readonly remove: (ids: ReadonlyArray<string>) => Effect.Effect<number, StoreError>
  readonly removeWhere: (where: Readonly<Record<string, Condition>>) => Effect.Effect<number, StoreError>
  readonly find: (query: Query) => Effect.Effect<Page<A>, StoreError>
  readonly findFirst: (where: Readonly<Record<string, Condition>>) => Effect.Effect<Option.Option<A>, StoreError>
  readonly count: (where: Readonly<Record<string, Condition>>) => Effect.Effect<number, StoreError>
}

/** The tables of the record store and their keys. Store implementations create them from this. */
export const Tables = {
  tenants: { name: "tenant", unique: [], indexes: [] },
  users: { name: "user", unique: [["email"]], indexes: [] },
  sessions: { name: "session", unique: [["token_hash"]], indexes: [["user_id"]] },
  loginFailures: { name: "login_failure", unique: [], indexes: [["key"]] },
  members: { name: "tenant_member", unique: [["tenant_id", "user_id"]], indexes: [["user_id"]] },
  apiTokens: { name: "api_token", unique: [["token_hash"], ["beta"]], indexes: [["tenant_id"]] },
  modelProviders: { name: "model_provider", unique: [["tenant_id", "name"]], indexes: [] },
  models: { name: "model", unique: [["tenant_id", "provider", "name"]], indexes: [] },
  knowledgeBases: { name: "knowledge_base", unique: [["tenant_id", "name"]], indexes: [["permission"]] },
  documents: { name: "document", unique: [["kb_id", "name"]], indexes: [["tenant_id"], ["run"]] },
  dialogs: { name: "dialog", unique: [], indexes: [["tenant_id"]] },
  conversations: { name: "conversation", unique: [], indexes: [["dialog_id"], ["tenant_id"]] }
} as const satisfies Record<string, TableSpec>

export interface RecordStoreService {
  readonly tenants: Table<Tenant>
  readonly users: Table<User>
  readonly sessions: Table<Session>
  readonly loginFailures: Table<LoginFailure>
  readonly members: Table<TenantMember>
  readonly apiTokens: Table<ApiToken>
  readonly modelProviders: Table<ModelProviderConfig>
  readonly models: Table<Model>
  readonly knowledgeBases: Table<KnowledgeBase>
  readonly documents: Table<Document>
  readonly dialogs: Table<Dialog>
  readonly conversations: Table<Conversation>
  readonly transaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | StoreError, R>
}

export class RecordStore extends Context.Tag("@ragkit/core/RecordStore")<RecordStore, RecordStoreService>() {}

const corrupt = (table: string) => (error: ParseResult.ParseError) =>
  new StoreError({
    reason: "Corrupt",
    message: `a ${table} row does not match its schema: ${ParseResult.TreeFormatter.formatErrorSync(error)}`,
    cause: error
  })

const typedTable = <A extends { readonly id: string }, I>(
  schema: Schema.Schema<A, I>,
  raw: RawTable,
  spec: TableSpec,
  transaction: RecordBackend["transaction"]
): Table<A> => {
  const decodeRow = Schema.decodeUnknown(schema)
  const encodeRecord = Schema.encode(schema)
  // Rows are immutable: a backend that hands back the row objects it was given (the memory one)
  // gets each decoded once, and a record it was just written with back without decoding.
  const known = new WeakMap<Row, A>()
  const decode = (row: Row): Effect.Effect<A, StoreError> => {
    const hit = known.get(row)
    return hit !== undefined
      ? Effect.succeed(hit)
      : Effect.tap(Effect.mapError(decodeRow(row), corrupt(spec.name)), (record) => Effect.sync(() => known.set(row, record)))
  }
  const decodeAll = (rows: ReadonlyArray<Row>) => Effect.forEach(rows, decode)
  const encode = (record: A) =>
    Effect.tap(
      Effect.mapError(encodeRecord(record), corrupt(spec.name)) as Effect.Effect<Row, StoreError>,
      (row) => Effect.sync(() => known.set(row, record))
    )
  const decodeOption = (row: Option.Option<Row>) =>
    Option.match(row, { onNone: () => Effect.succeed(Option.none<A>()), onSome: (r) => Effect.asSome(decode(r)) })

  return {
    get: (id) => Effect.flatMap(raw.get(id), decodeOption),
    getMany: (ids) => (ids.length === 0 ? Effect.succeed([]) : Effect.flatMap(raw.getMany(ids), decodeAll)),
    insert: (record) => Effect.as(Effect.flatMap(encode(record), raw.insert), record),
    insertNew: (records) =>
      records.length === 0
        ? Effect.succeed([])
        : Effect.map(Effect.flatMap(Effect.forEach(records, encode), raw.insertNew), (ids) => {
          const inserted = new Set(ids)
          return records.filter((record) => inserted.has(record.id))
        }),
    update: (record) => Effect.as(Effect.flatMap(encode(record), raw.update), record),
    modify: (id, f) =>
      transaction(
        Effect.gen(function* () {
          const current = yield* Effect.flatMap(raw.getForUpdate(id), decodeOption)
          if (Option.isNone(current)) return Option.none()
          const next = yield* f(current.value)
          yield* Effect.flatMap(encode(next), raw.update)
          return Option.some(next)
        })
      ),
    modifyMany: (ids, f) =>
      transaction(
        Effect.gen(function* () {
          const current = ids.length === 0 ? [] : yield* Effect.flatMap(raw.getManyForUpdate([...new Set(ids)]), decodeAll)
          const next = yield* f(current)
          // One row per id: the last record given for it.
          const last = [...new Map(next.map((record) => [record.id, record] as const)).values()]
          if (last.length > 0) yield* Effect.flatMap(Effect.forEach(last, encode), raw.updateMany)
          return last
        })
      ),
    remove: (ids) => (ids.length === 0 ? Effect.succeed(0) : raw.remove(ids)),
    removeWhere: raw.removeWhere,
    find: (query) =>
      Effect.flatMap(raw.find(query), (page) =>
        Effect.map(decodeAll(page.items), (items) => ({ items, total: page.total }))
      ),
    findFirst: (where) =>
      Effect.flatMap(raw.find({ where, limit: 1, orderBy: "create_time" }), (page) =>
        decodeOption(Option.fromNullable(page.items[0]))
      ),
    count: raw.count
  }
}

/** Derives the typed record store from a backend's primitives. */
export const make = (backend: RecordBackend): RecordStoreService => {
  const t = <A extends { readonly id: string }, I>(schema: Schema.Schema<A, I>, spec: TableSpec) =>
    typedTable(schema, backend.table(spec), spec, backend.transaction)
  return {
    tenants: t(Tenant, Tables.tenants),
    users: t(User, Tables.users),
    sessions: t(Session, Tables.sessions),
    loginFailures: t(LoginFailure, Tables.loginFailures),
    members: t(TenantMember, Tables.members),
    apiTokens: t(ApiToken, Tables.apiTokens),
    modelProviders: t(ModelProviderConfig, Tables.modelProviders),
    models: t(Model, Tables.models),
    knowledgeBases: t(KnowledgeBase, Tables.knowledgeBases),
    documents: t(Document, Tables.documents),
    dialogs: t(Dialog, Tables.dialogs),
    conversations: t(Conversation, Tables.conversations),
    transaction: backend.transaction
  }
}

/** An in-memory record store: exact semantics of the port, transactions included; nothing persists. */
export const layerMemory: Layer.Layer<RecordStore> = Layer.effect(
  RecordStore,
  Effect.map(makeMemoryBackend, make)
)
