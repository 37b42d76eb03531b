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
 * | RAGKIT_CONFIG | (none) | a JSON config file (`ragkit serve --config <path>` overrides it): the deployment's model providers and default models, see below |
 *
 * The config file (JSON; `ConfigFile` is its schema, and an unknown key is an error that names it):
 *
 *   {
 *     "providers": [
 *       { "name": "BAAI", "kind": "onnx",
 *         "models": [{ "name": "BAAI/bge-large-zh-v1.5", "type": "embedding", "maxTokens": 512, "path": "/models/bge-large-zh-v1.5" }] },
 *       { "name": "openai", "kind": "openai-compatible", "baseUrl": "https://api.openai.com/v1", "apiKey": "${OPENAI_API_KEY}",
 *         "models": [{ "name": "gpt-4o-mini", "type": "chat", "maxTokens": 128000 }] },
 *       { "name": "local", "kind": "ollama", "baseUrl": "http://127.0.0.1:11434",
 *         "models": [{ "name": "llama3.2", "type": "chat", "maxTokens": 131072 }] }
 *     ],
 *     "defaults": { "chat": "gpt-4o-mini@openai", "embedding": "BAAI/bge-large-zh-v1.5@BAAI" }
 *   }
 *
 * - `providers`: the deployment's model providers, which every tenant sees (`Models.DeploymentProvider`):
 *   `name` (models are `<model>@<name>`), `kind` (`openai-compatible`, `ollama`, `onnx`, `builtin`),
 *   `baseUrl`, `apiKey`, `settings` (the plugin's provider settings: `timeout_ms`, `dimensions`, ...)
 *   and `models`: `name`, `type` (`chat`, `embedding`, `rerank`), `maxTokens` (the context window;
 *   chat prompts are fitted to it), `path` (an ONNX model folder, for `onnx` only; relative to the
 *   config file) and `settings` (for `onnx`: `queryPrefix`, `documentPrefix`, `pooling`, ...). A
 *   provider that lists models serves exactly those; one that lists none serves any name its
 *   server knows. The deployment's providers come before plugins' fixed ones (`Builtin`, `ONNX`)
 *   and tenants' own, may reach private addresses (a local Ollama), and their keys are never
 *   stored, listed or logged.
 * - `apiKey` is the key itself or, better, `"${NAME}"`: the environment variable `NAME`, read at
 *   start-up (a start fails when it is unset). Only `apiKey` is read this way; every other value
 *   is taken as written.
 * - `defaults`: the default models of new tenants (`chat`, `embedding`, `rerank`, each
 *   `name@provider`), checked at start-up against the providers (nothing is loaded or called).
 *   Unset: `extractive@Builtin` and `glove-100d@Builtin`, and no reranker.
 */
import { FileSystem } from "@effect/platform"
import { Models } from "@ragkit/core"
import { ParserLimits } from "@ragkit/parsers"
import { Config, ConfigError, Data, Effect, Either, Option, ParseResult, Redacted, Schema } from "effect"
import { availableParallelism } from "node:os"
import * as path from "node:path"

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
  /** The config file (`RAGKIT_CONFIG`, or `--config`), read by `load`. */
  readonly configFile: Option.Option<string>
  /** The deployment's model providers and new tenants' default models, from the config file. */
  readonly models: ModelsConfig
}

/** New tenants' default models, `name@provider` each. */
export interface ModelDefaults {
  readonly chat?: string | undefined
  readonly embedding?: string | undefined
  readonly rerank?: string | undefined
}

export interface ModelsConfig {
  readonly providers: ReadonlyArray<Models.DeploymentProvider>
  readonly defaults: ModelDefaults
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
  testModels: Config.boolean("RAGKIT_TEST_MODELS").pipe(Config.withDefault(false)),
  configFile: Config.option(Config.string("RAGKIT_CONFIG")),
  models: Config.succeed<ModelsConfig>({ providers: [], defaults: {} })
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
  configFile: Option.none(),
  models: { providers: [], defaults: {} },
  ...overrides
})

// ---------------------------------------------------------------------------------------------
// The config file

const nonEmpty = (what: string) => Schema.Trim.pipe(Schema.minLength(1, { message: () => `${what} can't be empty` }))

/** Says what a value must be when it is of another type altogether (not a list, not an object). */
const must = (what: string) => ({ message: () => `must be ${what}` })

/** `name@provider`. */
const ModelRef = Schema.String.annotations(must("name@provider (e.g. gpt-4o-mini@openai)")).pipe(
  Schema.filter((ref) => /^.+@[^@]+$/.test(ref), must("name@provider (e.g. gpt-4o-mini@openai)"))
)

const PositiveInt = Schema.Int.pipe(Schema.positive(must("a positive integer")))

const JsonObject = Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations(must("an object"))

/** A model of a deployment provider. */
export const ModelEntry = Schema.Struct({
  name: nonEmpty("a model's name"),
  type: Schema.Literal("chat", "embedding", "rerank"),
  /** The context window in tokens. */
  maxTokens: Schema.optional(PositiveInt),
  /** A local model folder (an ONNX export), for kind `onnx`; relative to the config file. */
  path: Schema.optional(nonEmpty("path")),
  /** Plugin settings of this model (for `onnx`: `queryPrefix`, `documentPrefix`, `pooling`, ...). */
  settings: Schema.optional(JsonObject)
}).annotations(must("an object: { name, type, maxTokens, path, settings }"))

/** A deployment provider, as the file declares it. */
export const ProviderEntry = Schema.Struct({
  name: nonEmpty("a provider's name").pipe(Schema.filter((name) => !name.includes("@"), { message: () => "a provider's name can't contain @" })),
  kind: Schema.Literal("openai-compatible", "ollama", "onnx", "builtin"),
  baseUrl: Schema.optional(
    Schema.String.pipe(
      Schema.filter((url) => /^https?:\/\/[^/]/.test(url), { message: () => "must be an http(s) URL (e.g. https://api.openai.com/v1)" })
    )
  ),
  /** The key, or `${NAME}` to read the environment variable NAME. */
  apiKey: Schema.optional(Schema.String),
  settings: Schema.optional(JsonObject),
  models: Schema.optional(Schema.Array(ModelEntry).annotations(must("a list of models")))
}).annotations(must("an object: { name, kind, baseUrl, apiKey, settings, models }")).pipe(
  Schema.filter((provider) => {
    const models = provider.models ?? []
    const names = new Set<string>()
    for (const [i, model] of models.entries()) {
      if (names.has(model.name)) return { path: ["models", i, "name"], message: `model ${model.name} is declared twice` }
      names.add(model.name)
      if (model.path !== undefined && provider.kind !== "onnx") {
        return { path: ["models", i, "path"], message: "path is for providers of kind onnx" }
      }
    }
    return true
  })
)

/**
 * The config file's schema. Issue 13 adds the server's other settings here; an unknown key is an
 * error that names it, so a misspelt key is never silently ignored.
 */
export const ConfigFile = Schema.Struct({
  providers: Schema.optional(
    Schema.Array(ProviderEntry).annotations(must("a list of providers")).pipe(
      Schema.filter((providers) => {
        const names = new Set<string>()
        for (const [i, provider] of providers.entries()) {
          if (names.has(provider.name)) return { path: [i, "name"], message: `provider ${provider.name} is declared twice` }
          names.add(provider.name)
        }
        return true
      })
    )
  ),
  defaults: Schema.optional(
    Schema.Struct({ chat: Schema.optional(ModelRef), embedding: Schema.optional(ModelRef), rerank: Schema.optional(ModelRef) }).annotations(
      must("an object: { chat, embedding, rerank }")
    )
  )
}).annotations(must("a JSON object"))
export type ConfigFile = typeof ConfigFile.Type

/** The config file can't be used: `message` names the file and the key. */
export class ConfigFileError extends Data.TaggedError("ConfigFileError")<{ readonly message: string; readonly cause?: unknown }> {}

/** `providers[0].models[1].type`, from a decoding issue's path. */
const keyPath = (segments: ReadonlyArray<PropertyKey>): string =>
  segments.reduce<string>((acc, segment) => (typeof segment === "number" ? `${acc}[${segment}]` : acc === "" ? String(segment) : `${acc}.${String(segment)}`), "")

/**
 * One problem per key, each naming it: the deepest issues only (a bad field, not also "the whole
 * list is wrong"), and a value that matches no member of a union said once (`Expected "a" | "b"`).
 */
const describeIssues = (error: ParseResult.ParseError): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const deepest = issues.filter(
    (issue) => !issues.some((other) => other.path.length > issue.path.length && issue.path.every((segment, i) => other.path[i] === segment))
  )
  const byKey = new Map<string, Array<string>>()
  for (const issue of deepest) {
    const key = keyPath(issue.path)
    byKey.set(key, [...(byKey.get(key) ?? []), issue._tag === "Unexpected" ? "is not a known key" : issue.message])
  }
  return [...byKey.entries()]
    .map(([key, messages]) => {
      const expected = messages.map((m) => /^Expected (.+), actual (.+)$/s.exec(m))
      const actual = expected[0]?.[2]
      // An absent optional key would have been fine: "Expected undefined" says nothing.
      const useful = messages.filter((m) => !m.startsWith("Expected undefined, actual"))
      if (useful.length > 0 && useful.length < messages.length) return `${key}: ${[...new Set(useful)].join("; ")}`
      const message = expected.every((m) => m !== null && m[2] === actual) && messages.length > 1
        ? `Expected ${expected.map((m) => m![1]).join(" | ")}, actual ${actual}`
        : [...new Set(messages)].join("; ")
      return key === "" ? message : `${key}: ${message}`
    })
    .join("; ")
}

const decodeFile = Schema.decodeUnknownEither(ConfigFile, { onExcessProperty: "error", errors: "all" })

/** A reference to an environment variable: the whole value is `${NAME}`. */
const envReference = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/

/**
 * The models part of the config file's text: decoded, `${NAME}` keys read from the environment
 * (the current `ConfigProvider`), relative paths resolved against the file's directory.
 */
export const parseModels = (text: string, file: string): Effect.Effect<ModelsConfig, ConfigFileError> =>
  Effect.gen(function* () {
    const fail = (message: string, cause?: unknown) => Effect.fail(new ConfigFileError({ message: `config file ${file}: ${message}`, cause }))
    const json = Either.try(() => JSON.parse(text) as unknown)
    if (Either.isLeft(json)) return yield* fail(`not valid JSON (${json.left instanceof Error ? json.left.message : String(json.left)})`)
    const decoded = decodeFile(json.right)
    if (Either.isLeft(decoded)) return yield* fail(describeIssues(decoded.left))
    const directory = path.dirname(path.resolve(file))
    const providers = yield* Effect.forEach(decoded.right.providers ?? [], (provider, i) =>
      Effect.gen(function* () {
        const reference = provider.apiKey === undefined ? null : envReference.exec(provider.apiKey)
        const apiKey =
          provider.apiKey === undefined
            ? undefined
            : reference === null
            ? Redacted.make(provider.apiKey)
            : yield* Config.redacted(reference[1]!).pipe(
                Effect.catchAll((error) =>
                  fail(
                    `providers[${i}].apiKey: the environment variable ${reference[1]} ${ConfigError.isMissingDataOnly(error) ? "is not set" : "can't be read"}`
                  )
                )
              )
        return {
          name: provider.name,
          kind: provider.kind,
          baseUrl: provider.baseUrl,
          apiKey,
          settings: provider.settings,
          models: (provider.models ?? []).map((model) => ({
            ...model,
            path: model.path === undefined ? undefined : path.resolve(directory, model.path)
          }))
        } satisfies Models.DeploymentProvider
      }))
    return { providers, defaults: decoded.right.defaults ?? {} }
  })

/**
 * The server's configuration: the environment, and the config file (`configFile`, else
 * `RAGKIT_CONFIG`) when there is one.
 */
export const load = (options: { readonly configFile?: string | undefined } = {}) =>
  Effect.gen(function* () {
    const config = yield* ServerConfig
    const file = Option.orElse(Option.fromNullable(options.configFile), () => config.configFile)
    if (Option.isNone(file)) return config
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(file.value).pipe(
      Effect.mapError((cause) => new ConfigFileError({ message: `config file ${file.value} can't be read (${cause.message})`, cause }))
    )
    return { ...config, configFile: file, models: yield* parseModels(text, file.value) } satisfies ServerConfig
  })

// ---------------------------------------------------------------------------------------------
// The command line

/** How the command is called. */
export const usage = "usage: ragkit serve | ragkit worker  [--config <path>]"

/** The command and the config file of the `ragkit` command's arguments, or what is wrong with them. */
export const parseArgs = (args: ReadonlyArray<string>): { command: string; configFile: string | undefined } | string => {
  let command: string | undefined
  let configFile: string | undefined
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--config") {
      const value = args[i + 1]
      if (value === undefined || value.startsWith("--")) return "--config needs a path"
      configFile = value
      i++
    } else if (arg.startsWith("--config=")) {
      configFile = arg.slice("--config=".length)
      if (configFile === "") return "--config needs a path"
    } else if (command === undefined && !arg.startsWith("-")) {
      command = arg
    } else {
      return `unexpected argument ${arg}`
    }
  }
  return { command: command ?? "serve", configFile }
}
