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
 * | RAGKIT_PARSER_THREADS | cores - 1, at least 1 | threads that parse, chunk and tokenize, so that parsing uses the other cores and never blocks requests (0: one thread, started when the first document comes) |
 * | RAGKIT_PARSER_THREAD_MEMORY_MB | 1024 | heap limit of a parser thread; a file that needs more fails `TooLarge` |
 * | RAGKIT_PARSE_TIMEOUT_MS | 600000 | time one document may take to parse, chunk and tokenize (10 minutes); past it its parser thread is stopped and replaced, and the document fails `TooLarge` |
 * | RAGKIT_PARSER_ZIP_MAX_ENTRY_MB | 50 | largest uncompressed part of a DOCX, XLSX or PPTX file; a file with a larger one fails `TooLarge` |
 * | RAGKIT_PARSER_ZIP_MAX_TOTAL_MB | 200 | largest uncompressed DOCX, XLSX or PPTX file, all parts together |
 * | RAGKIT_PARSER_MAX_CELLS | 1000000 | most cells of a CSV file or an XLSX workbook |
 * | RAGKIT_PARSER_PDF_MAX_PAGES | 5000 | PDF pages read; the rest are skipped |
 * | RAGKIT_PARSER_PDF_MAX_STREAM_MB | 128 | most bytes one PDF stream (page content, font, image) may decode to; a file with a larger one fails `TooLarge` |
 * | RAGKIT_PARSER_PDF_MAX_DECODED_MB | 1024 | most bytes all the streams of a PDF may decode to together |
 * | RAGKIT_PARSER_PDF_MAX_IMAGE_PIXELS | 50000000 | largest image in a PDF decoded for OCR; a file with a larger one fails `TooLarge` |
 * | RAGKIT_SECRET_KEY | (generated) | the secret (at least 32 characters) that tenants' model provider API keys are encrypted under (AES-256-GCM); unset, one is generated into `<data-dir>/secret.key` (mode 0600) on first start and reused. Every server and worker of a deployment needs the same one; keys stored under another can't be read |
 * | RAGKIT_ALLOW_PRIVATE_PROVIDERS | false | let tenants' model providers reach loopback, private and link-local addresses (e.g. a tenant's own Ollama on this machine); the deployment's own providers always may |
 * | RAGKIT_SESSION_HOURS | 168 | how long a login session lasts (7 days) |
 * | RAGKIT_TEST_MODELS | false | also serve the deterministic `Test` provider (`hash-64@Test`, `echo@Test`, ...): for tests and benchmarks, never for real use |
 */
import { Models } from "@ragkit/core"
import { ParserLimits } from "@ragkit/parsers"
import { Config, Option, Redacted } from "effect"
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
  /** Time one document may take on a parser thread; past it the thread is replaced and the document fails. */
  readonly parseTimeoutMs: number
  /**
   * The parsers' safety limits (archive sizes, cells, PDF pages, ...): the deployment's, the same
   * for the server's parsers and its parser threads, never a tenant's `parser_config`.
   */
  readonly parserLimits: ParserLimits.ParserLimits
  /** Tenants' API keys are encrypted under it; none: `<data-dir>/secret.key`, generated on first start. */
  readonly secretKey: Option.Option<Redacted.Redacted>
  /** Let tenants' model providers reach loopback, private and link-local addresses. */
  readonly allowPrivateProviders: boolean
  /** How long a login session lasts. */
  readonly sessionHours: number
  /** Serve the `Test` model provider too (hash embedders, echo chat model): tests and benchmarks only. */
  readonly testModels: boolean
}


/** One thread per core but the main thread's, and at least one. */
export const defaultParserThreads = () => Math.max(1, availableParallelism() - 1)

const MiB = 1024 * 1024

/** A positive integer setting (at most `max` when given), `fallback` when unset. */
const positive = (name: string, fallback: number, max?: number) =>
  Config.integer(name).pipe(
    Config.withDefault(fallback),
    Config.validate({
      message: max === undefined ? `${name} must be at least 1` : `${name} must be between 1 and ${max}`,
      validation: (n) => n >= 1 && n <= (max ?? Number.MAX_SAFE_INTEGER)
    })
  )

/** The parser limits the environment sets; the others keep their defaults. */
const parserLimits: Config.Config<ParserLimits.ParserLimits> = Config.all({
  zipMaxEntryMb: positive("RAGKIT_PARSER_ZIP_MAX_ENTRY_MB", ParserLimits.defaults.zipMaxEntryBytes / MiB, 1024 * 1024),
  zipMaxTotalMb: positive("RAGKIT_PARSER_ZIP_MAX_TOTAL_MB", ParserLimits.defaults.zipMaxTotalBytes / MiB, 1024 * 1024),
  maxCells: positive("RAGKIT_PARSER_MAX_CELLS", ParserLimits.defaults.maxCells),
  pdfMaxPages: positive("RAGKIT_PARSER_PDF_MAX_PAGES", ParserLimits.defaults.pdfMaxPages),
  pdfMaxStreamMb: positive("RAGKIT_PARSER_PDF_MAX_STREAM_MB", ParserLimits.defaults.pdfMaxStreamBytes / MiB, 1024 * 1024),
  pdfMaxDecodedMb: positive("RAGKIT_PARSER_PDF_MAX_DECODED_MB", ParserLimits.defaults.pdfMaxDecodedBytes / MiB, 1024 * 1024),
  pdfMaxImagePixels: positive("RAGKIT_PARSER_PDF_MAX_IMAGE_PIXELS", ParserLimits.defaults.pdfMaxImagePixels)
}).pipe(
  Config.map(({ maxCells, pdfMaxDecodedMb, pdfMaxImagePixels, pdfMaxPages, pdfMaxStreamMb, zipMaxEntryMb, zipMaxTotalMb }) =>
    ParserLimits.make({
      zipMaxEntryBytes: zipMaxEntryMb * MiB,
      zipMaxTotalBytes: zipMaxTotalMb * MiB,
      maxCells,
      pdfMaxPages,
      pdfMaxStreamBytes: pdfMaxStreamMb * MiB,
      pdfMaxDecodedBytes: pdfMaxDecodedMb * MiB,
      pdfMaxImagePixels
    })
  )
)

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
  parseTimeoutMs: Config.integer("RAGKIT_PARSE_TIMEOUT_MS").pipe(
    Config.withDefault(600_000),
    Config.validate({
      message: "RAGKIT_PARSE_TIMEOUT_MS must be between 1000 and 2147483647",
      validation: (n) => n >= 1_000 && n <= 2_147_483_647
    })
  ),
  parserLimits,
  secretKey: Config.option(
    Config.redacted("RAGKIT_SECRET_KEY").pipe(
      Config.validate({
        message: `RAGKIT_SECRET_KEY must have at least ${Models.SECRET_KEY_MIN} characters (e.g. openssl rand -base64 32)`,
        validation: (key) => Redacted.value(key).length >= Models.SECRET_KEY_MIN
      })
    )
  ),
  allowPrivateProviders: Config.boolean("RAGKIT_ALLOW_PRIVATE_PROVIDERS").pipe(Config.withDefault(false)),
  sessionHours: Config.integer("RAGKIT_SESSION_HOURS").pipe(
    Config.withDefault(168),
    Config.validate({ message: "RAGKIT_SESSION_HOURS must be between 1 and 8760", validation: (n) => n >= 1 && n <= 8760 })
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
  parseTimeoutMs: 600_000,
  parserLimits: ParserLimits.defaults,
  secretKey: Option.none(),
  allowPrivateProviders: false,
  sessionHours: 168,
  testModels: false,
  ...overrides
})
