/**
 * The task queue: real columns, times in epoch milliseconds from the Effect clock (never the
 * database's `now()`), `seq` as the FIFO tie-break between tasks enqueued in the same millisecond.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

export const statements: ReadonlyArray<string> = [
  `CREATE TABLE task (
    id text COLLATE "C" PRIMARY KEY,
    seq bigserial NOT NULL,
    kind text NOT NULL,
    key text NOT NULL,
    payload jsonb NOT NULL,
    status text NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'canceled')),
    attempts integer NOT NULL,
    max_attempts integer NOT NULL,
    lease_owner text,
    lease_expires_at bigint,
    progress double precision NOT NULL,
    progress_msg text NOT NULL,
    error text,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
  )`,
  // Claiming: open tasks of a kind, oldest first.
  `CREATE INDEX task_claim_idx ON task (kind, created_at, seq) WHERE status IN ('queued', 'running')`,
  // History of a key, newest first; also serves cancelKey.
  `CREATE INDEX task_key_idx ON task (key, created_at DESC, seq DESC)`
]

export default Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.forEach(statements, (statement) => sql.unsafe(statement), { discard: true })
)
