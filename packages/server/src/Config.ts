/**
 * Server configuration: the only place in ragkit that reads the environment.
 *
 * | variable | default | meaning |
 * |---|---|---|
 * | RAGKIT_HOST | 127.0.0.1 | address to listen on (0.0.0.0 to accept other machines) |
 * | RAGKIT_PORT | 9380 | port (RAGFlow's) |
 * | RAGKIT_DATA_DIR | ./data | embedded database, blobs and indexes |
 * | RAGKIT_DATABASE_URL | (none) | a Postgres URL; when set, records and tasks live there instead of PGlite |
 * | RAGKIT_WORKERS | 2 | documents parsed at once by this process (0: no ingestion here) |
 * | RAGKIT_LEASE_MS | 30000 | how long a worker's claim on a document lasts without a heartbeat |
 * | RAGKIT_OCR | true | read scanned PDF pages and images with the bundled OCR models |
 * | RAGKIT_PARSER_THREADS | cores - 1, at least 1 | threads that parse, chunk and tokenize, so that parsing uses the other cores and never blocks requests (0: on the main thread) |
 * | RAGKIT_PARSER_THREAD_MEMORY_MB | 1024 | heap limit of a parser thread; a file that needs more fails `TooLarge` |
 * | RAGKIT_TEST_MODELS | false | also serve the deterministic `Test` provider (`hash-64@Test`, `echo@Test`, ...): for tests and benchmarks, never for real use |
 */
import { Config, Option, type Redacted } from "effect"
import { availableParallelism } from "node:os"

export interface ServerConfig {
  readonly host: string
  readonly port: number
  readonly dataDir: string
  readonly databaseUrl: Option.Option<Redacted.Redacted>
  readonly workers: number
  readonly leaseMs: number
  readonly ocr: boolean
  readonly parserThreads: number
  readonly parserThreadMemoryMb: number
  /** Serve the `Test` model provider too (hash embedders, echo chat model): tests and benchmarks only. */
  readonly testModels: boolean
}

/** One thread per core but the main thread's, and at least one. */
export const defaultParserThreads = () => Math.max(1, availableParallelism() - 1)

export const ServerConfig: Config.Config<ServerConfig> = Config.all({
  host: Config.string("RAGKIT_HOST").pipe(Config.withDefault("127.0.0.1")),
  port: Config.port("RAGKIT_PORT").pipe(Config.withDefault(9380)),
  dataDir: Config.string("RAGKIT_DATA_DIR").pipe(Config.withDefault("./data")),
  databaseUrl: Config.option(Config.redacted("RAGKIT_DATABASE_URL")),
  workers: Config.integer("RAGKIT_WORKERS").pipe(
    Config.withDefault(2),
    Config.validate({ message: "RAGKIT_WORKERS must be between 0 and 64", validation: (n) => n >= 0 && n <= 64 })
  ),
  leaseMs: Config.integer("RAGKIT_LEASE_MS").pipe(
    Config.withDefault(30_000),
    Config.validate({ message: "RAGKIT_LEASE_MS must be at least 1000", validation: (n) => n >= 1_000 })
  ),
  ocr: Config.boolean("RAGKIT_OCR").pipe(Config.withDefault(true)),
  parserThreads: Config.integer("RAGKIT_PARSER_THREADS").pipe(
    Config.withDefault(defaultParserThreads()),
    Config.validate({ message: "RAGKIT_PARSER_THREADS must be between 0 and 64", validation: (n) => n >= 0 && n <= 64 })
  ),
  parserThreadMemoryMb: Config.integer("RAGKIT_PARSER_THREAD_MEMORY_MB").pipe(
    Config.withDefault(1024),
    Config.validate({ message: "RAGKIT_PARSER_THREAD_MEMORY_MB must be at least 64", validation: (n) => n >= 64 })
  ),
  testModels: Config.boolean("RAGKIT_TEST_MODELS").pipe(Config.withDefault(false))
})

/** The defaults, for tests and hosts that build the engine without the environment. */
export const defaults = (overrides: Partial<ServerConfig> = {}): ServerConfig => ({
  host: "127.0.0.1",
  port: 9380,
  dataDir: "./data",
  databaseUrl: Option.none(),
  workers: 2,
  leaseMs: 30_000,
  ocr: true,
  parserThreads: defaultParserThreads(),
  parserThreadMemoryMb: 1024,
  testModels: false,
  ...overrides
})
