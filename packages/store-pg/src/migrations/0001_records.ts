/**
 * The record store: one table per `RecordStore.Tables` entry, each row the encoded record as
 * `jsonb`, unique keys and lookups as expression indexes on `data->>'field'`.
 *
 * Fixed SQL on purpose: when a `TableSpec` changes, the change goes into a new migration.
 * `->>` turns JSON null and a missing key into SQL NULL, so null keys never collide.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

export const statements: ReadonlyArray<string> = [
  `CREATE TABLE tenant (id text COLLATE "C" PRIMARY KEY, data jsonb NOT NULL)`,

  `CREATE TABLE "user" (id text COLLATE "C" PRIMARY KEY, data jsonb NOT NULL)`,
  `CREATE UNIQUE INDEX user_email_key ON "user" ((data->>'email'))`,
  `CREATE UNIQUE INDEX user_access_token_hash_key ON "user" ((data->>'access_token_hash'))`,

  `CREATE TABLE tenant_member (id text COLLATE "C" PRIMARY KEY, data jsonb NOT NULL)`,
  `CREATE UNIQUE INDEX tenant_member_tenant_id_user_id_key ON tenant_member ((data->>'tenant_id'), (data->>'user_id'))`,
  `CREATE INDEX tenant_member_user_id_idx ON tenant_member ((data->>'user_id'))`,

  `CREATE TABLE api_token (id text COLLATE "C" PRIMARY KEY, data jsonb NOT NULL)`,
  `CREATE UNIQUE INDEX api_token_token_hash_key ON api_token ((data->>'token_hash'))`,
  `CREATE INDEX api_token_tenant_id_idx ON api_token ((data->>'tenant_id'))`,

  `CREATE TABLE model_provider (id text COLLATE "C" PRIMARY KEY, data jsonb NOT NULL)`,
  `CREATE UNIQUE INDEX model_provider_tenant_id_name_key ON model_provider ((data->>'tenant_id'), (data->>'name'))`,

  `CREATE TABLE model (id text COLLATE "C" PRIMARY KEY, data jsonb NOT NULL)`,
  `CREATE UNIQUE INDEX model_tenant_id_provider_name_key ON model ((data->>'tenant_id'), (data->>'provider'), (data->>'name'))`,

  `CREATE TABLE knowledge_base (id text COLLATE "C" PRIMARY KEY, data jsonb NOT NULL)`,
  `CREATE UNIQUE INDEX knowledge_base_tenant_id_name_key ON knowledge_base ((data->>'tenant_id'), (data->>'name'))`,
  `CREATE INDEX knowledge_base_permission_idx ON knowledge_base ((data->>'permission'))`,

  `CREATE TABLE document (id text COLLATE "C" PRIMARY KEY, data jsonb NOT NULL)`,
  `CREATE UNIQUE INDEX document_kb_id_name_key ON document ((data->>'kb_id'), (data->>'name'))`,
  `CREATE INDEX document_tenant_id_idx ON document ((data->>'tenant_id'))`,
  `CREATE INDEX document_run_idx ON document ((data->>'run'))`,

  `CREATE TABLE dialog (id text COLLATE "C" PRIMARY KEY, data jsonb NOT NULL)`,
  `CREATE INDEX dialog_tenant_id_idx ON dialog ((data->>'tenant_id'))`,

  `CREATE TABLE conversation (id text COLLATE "C" PRIMARY KEY, data jsonb NOT NULL)`,
  `CREATE INDEX conversation_dialog_id_idx ON conversation ((data->>'dialog_id'))`,
  `CREATE INDEX conversation_tenant_id_idx ON conversation ((data->>'tenant_id'))`
]

export default Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.forEach(statements, (statement) => sql.unsafe(statement), { discard: true })
)
