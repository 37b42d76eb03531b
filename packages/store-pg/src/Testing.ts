/**
 * For tests against a real Postgres server: a fresh database per test run, dropped afterwards.
 */
import { randomHex32 } from "@ragkit/core"
import { Effect } from "effect"
import * as Pg from "pg"

/** Runs one statement on the server at `url` (a URL to any database the user may connect to); its rows. */
const query = (url: string, statement: string): Effect.Effect<ReadonlyArray<unknown>> =>
  Effect.promise(async () => {
    const client = new Pg.Client({ connectionString: url })
    await client.connect()
    try {
      return (await client.query(statement)).rows
    } finally {
      await client.end()
    }
  })

/** Runs one query on the database at `url`; its rows. */
export const select = (url: string, statement: string): Effect.Effect<ReadonlyArray<unknown>> => query(url, statement)

/** Runs one statement on the server at `url` (a URL to any database the user may connect to). */
export const admin = (url: string, statement: string): Effect.Effect<void> => Effect.asVoid(query(url, statement))

/**
 * Whether pgvector is installed on the server at `url` (`CREATE EXTENSION vector` can work there).
 * `.ci/run` installs it from `vendor/pgvector` and sets `RAGKIT_TEST_PGVECTOR=1`: a test that needs
 * it fails then rather than skips.
 */
export const hasPgvector = (url: string): Effect.Effect<boolean> =>
  Effect.map(query(url, `SELECT 1 FROM pg_available_extensions WHERE name = 'vector'`), (rows) => rows.length > 0)

/** A new database `ragkit_test_<random>` on the server; dropped when the scope closes. */
export const freshDatabase = (url: string) =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const name = `ragkit_test_${randomHex32().slice(0, 12)}`
      yield* admin(url, `CREATE DATABASE ${name}`)
      const dbUrl = new URL(url)
      dbUrl.pathname = `/${name}`
      return { name, url: dbUrl.toString() }
    }),
    ({ name }) => admin(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  )
