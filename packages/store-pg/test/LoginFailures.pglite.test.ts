/**
 * The login failures migration on a database made before it: API keys without a beta keep working
 * (nulls never conflict in the new unique index), and failed logins get a table of their own.
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, it } from "@effect/vitest"
import { ApiToken, LoginFailure, randomHex32 } from "@ragkit/core"
import { anApiToken, anId } from "@ragkit/core/testing"
import { Effect, Either, Option, Schema } from "effect"
import * as StorePg from "../src/index.js"
import * as StorePglite from "../src/Embedded.js"

const aToken = (beta: string | null) => anApiToken({ beta })

it.live("0006_login_failures adds the login_failure table and a unique index on API keys' beta", () =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const before = Object.fromEntries(Object.entries(StorePg.Migrations.migrations).filter(([name]) => name < "0006_login_failures"))
    yield* Migrator.make({})({ loader: Migrator.fromRecord(before), table: StorePg.Migrations.table })
    // Two keys as they were kept before: without a beta.
    const old = [aToken(null), aToken(null)]
    for (const token of old) {
      const row = yield* Schema.encode(ApiToken)(token)
      yield* sql`INSERT INTO api_token (id, data) VALUES (${token.id}, ${JSON.stringify(row)}::jsonb)`
    }

    yield* StorePg.Migrations.run
    const store = yield* StorePg.PgRecordStore.make
    expect(Option.getOrThrow(yield* store.apiTokens.get(old[1]!.id)).beta).toBeNull()
    const beta = randomHex32()
    yield* store.apiTokens.update(new ApiToken({ ...old[0]!, beta }))
    const twin = yield* Effect.either(store.apiTokens.update(new ApiToken({ ...old[1]!, beta })))
    expect(Either.isLeft(twin) && twin.left.reason).toBe("Conflict")
    expect(Option.getOrThrow(yield* store.apiTokens.findFirst({ beta })).id).toBe(old[0]!.id)

    const failure = new LoginFailure({ id: anId(), key: randomHex32(), create_time: 5 })
    yield* store.loginFailures.insert(failure)
    expect((yield* store.loginFailures.find({ where: { key: failure.key, create_time: { gte: 1 } } })).items).toEqual([failure])
  }).pipe(Effect.provide(StorePglite.PgliteClient.layer())), 120_000)
