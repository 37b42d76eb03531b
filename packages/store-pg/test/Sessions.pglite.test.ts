/**
 * The sessions migration on a database made before it: the user rows lose their single session
 * hash and its unique index, and login sessions get a table of their own.
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, it } from "@effect/vitest"
import { RecordStore } from "@ragkit/core"
import { aSession, aUser } from "@ragkit/core/testing"
import { Effect, Either, Option } from "effect"
import * as StorePg from "../src/index.js"
import * as StorePglite from "../src/Embedded.js"

it.live("0005_sessions drops the user's session hash and its index, and adds the session table", () =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const before = Object.fromEntries(Object.entries(StorePg.Migrations.migrations).filter(([name]) => name < "0005_sessions"))
    yield* Migrator.make({})({ loader: Migrator.fromRecord(before), table: StorePg.Migrations.table })
    // A user as the records were kept before: with the hash of its one session.
    const { access_token_hash: _none, ...encoded } = { access_token_hash: null, ...aUser({ email: "old@example.com" }) }
    const row = { ...encoded, access_token_hash: "ab".repeat(32) }
    yield* sql`INSERT INTO "user" (id, data) VALUES (${row.id}, ${JSON.stringify(row)}::jsonb)`

    yield* StorePg.Migrations.run
    const [data] = yield* sql<{ readonly data: Record<string, unknown> }>`SELECT data FROM "user" WHERE id = ${row.id}`
    expect(Object.keys(data!.data)).not.toContain("access_token_hash")
    const indexes = yield* sql<{ readonly indexname: string }>`SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()`
    const names = indexes.map((i) => i.indexname)
    expect(names).not.toContain("user_access_token_hash_key")
    expect(names).toEqual(expect.arrayContaining(["session_pkey", "session_token_hash_key", "session_user_id_idx"]))

    const store = yield* StorePg.PgRecordStore.make
    expect(Option.getOrThrow(yield* store.users.get(row.id)).email).toBe("old@example.com")
    const session = aSession({ user_id: Option.getOrThrow(yield* store.users.get(row.id)).id })
    yield* store.sessions.insert(session)
    const twin = yield* Effect.either(store.sessions.insert(aSession({ token_hash: session.token_hash })))
    expect(Either.isLeft(twin) && twin.left.reason).toBe("Conflict")
    expect(yield* store.sessions.count({ user_id: session.user_id })).toBe(1)
    expect(RecordStore.Tables.sessions.name).toBe("session")
  }).pipe(Effect.provide(StorePglite.PgliteClient.layer())), 120_000)
