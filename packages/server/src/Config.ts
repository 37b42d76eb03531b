/**
 * Server configuration: the only place in ragkit that reads the environment.
 *
 * | variable | default | meaning |
 * |---|---|---|
 * | RAGKIT_HOST | 127.0.0.1 | address to listen on (0.0.0.0 to accept other machines) |
 * | RAGKIT_PORT | 9380 | port (RAGFlow's) |
 * | RAGKIT_DATA_DIR | ./data | embedded database, blobs and indexes |
 * | RAGKIT_DATABASE_URL | (none) | a Postgres URL; when set, records and tasks live there instead of PGlite |
 */
import { Config, Option, type Redacted } from "effect"

export interface ServerConfig {
  readonly host: string
  readonly port: number
  readonly dataDir: string
  readonly databaseUrl: Option.Option<Redacted.Redacted>
}

export const ServerConfig: Config.Config<ServerConfig> = Config.all({
  host: Config.string("RAGKIT_HOST").pipe(Config.withDefault("127.0.0.1")),
  port: Config.port("RAGKIT_PORT").pipe(Config.withDefault(9380)),
  dataDir: Config.string("RAGKIT_DATA_DIR").pipe(Config.withDefault("./data")),
  databaseUrl: Config.option(Config.redacted("RAGKIT_DATABASE_URL"))
})
