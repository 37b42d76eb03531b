/**
 * The workers of the task queue: what each last reported about itself (core's `WorkerStatus`, as
 * JSON), one row per worker, replaced at every report, so that any process on the database can
 * see every worker and how recently it spoke.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

export default Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql.unsafe(`CREATE TABLE task_worker (
    id text COLLATE "C" PRIMARY KEY,
    status jsonb NOT NULL,
    heartbeat_at bigint NOT NULL
  )`)
)
