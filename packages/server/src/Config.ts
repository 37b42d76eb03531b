/**
 * Server configuration: the only place in ragkit that reads the environment.
 *
 * Every setting comes from, in this order of precedence: a command-line flag (`ragkit serve
 * --port 9400`), an environment variable (`RAGKIT_PORT`), the JSON config file (`--config <path>`
 * or `RAGKIT_CONFIG`: `{ "port": 9400 }`), the default. `settings` below lists them all (file key,
 * variable, flag); README.md's configuration section documents each one. A value that can't be
 * used stops the start with a message naming its key and where it came from.
 *
 * The config file (JSON; an unknown key is an error that names it):
 *
 *   {
 *     "dataDir": "/var/lib/ragkit",
 *     "database": { "url": "${DATABASE_URL}" },
 *     "chunkIndex": { "kind": "pgvector" },
 *       (or { "kind": "lancedb", "uri": "s3://bucket/ragkit/lancedb", "storageOptions": { "endpoint": "http://minio:9000", "region": "us-east-1", "allow_http": "true" } })
 *     "blobStore": { "kind": "file", "dir": "/var/lib/ragkit/blobs" },
 *       (or { "kind": "s3", "bucket": "docs", "prefix": "ragkit/", "region": "eu-west-1", "endpoint": "http://minio:9000", "forcePathStyle": true })
 *     "auth": { "registration": "closed", "rsaPrivateKeyFile": "private.pem", "rsaPassphrase": "${RSA_PASSPHRASE}", "sessionHours": 24 },
 *     "limits": { "uploadMb": 64, "parseTimeoutMs": 300000 },
 *     "models": {
 *       "providers": [
 *         { "name": "openai", "kind": "openai-compatible", "baseUrl": "https://api.openai.com/v1", "apiKey": "${OPENAI_API_KEY}",
 *           "models": [{ "name": "gpt-4o-mini", "type": "chat", "maxTokens": 128000 }] }
 *       ],
 *       "defaults": { "chat": "gpt-4o-mini@openai" }
 *     }
 *   }
 *
 * - Secrets (`database.url`, `secretKey`, `auth.rsaPassphrase`, a provider's `apiKey`) may be
 *   written as `"${NAME}"`: the environment variable `NAME`, read at start-up (a start fails when
 *   it is unset).
 * - `blobStore` of kind `s3` (needs `@ragkit/store-s3` installed): its credentials are never in the
 *   file: RAGKIT_S3_ACCESS_KEY_ID and RAGKIT_S3_SECRET_ACCESS_KEY, else the AWS SDK's own chain
 *   (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an instance or task role).
 * - `chunkIndex` of kind `lancedb` on an object-store URI: `storageOptions` are LanceDB's (strings);
 *   credentials are never in the file: RAGKIT_S3_ACCESS_KEY_ID and RAGKIT_S3_SECRET_ACCESS_KEY (the
 *   blob store's), else LanceDB's own chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ...).
 * - Paths in the file (`dataDir`, `blobStore.dir`, `chunkIndex.uri`, `auth.rsaPrivateKeyFile`, a
 *   model's `path`) are relative to the file; from a flag or a variable, to the working directory.
 * - `models.providers`: the deployment's model providers, which every tenant sees
 *   (`Models.DeploymentProvider`): `name` (models are `<model>@<name>`), `kind`
 *   (`openai-compatible`, `ollama`, `onnx`, `builtin`), `baseUrl`, `apiKey`, `settings` and
 *   `models` (`name`, `type`, `maxTokens`, `path` for `onnx`, `settings`). A provider that lists
 *   models serves exactly those; one that lists none serves any name its server knows. They may
 *   reach private addresses (a local Ollama) and their keys are never stored, listed or logged.
 * - `models.defaults`: new tenants' default models (`chat`, `embedding`, `rerank`, each
 *   `name@provider`), checked at start-up. Unset: `extractive@Builtin` and `glove-100d@Builtin`.
 */
import { FileSystem } from "@effect/platform"
import { Models, type Users } from "@ragkit/core"
import { ParserLimits } from "@ragkit/parsers"
import { Config, ConfigError, Context, Data, Duration, Effect, Either, Layer, Option, ParseResult, Redacted, Schema } from "effect"
import { createPrivateKey } from "node:crypto"
import { availableParallelism } from "node:os"
import * as path from "node:path"

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

export type ChunkIndexSettings =
  | {
    readonly kind: "lancedb"
    /** A folder, or an object-store URI (`s3://bucket/path`). */
    readonly uri: string
    /** LanceDB's storage options from the file (`endpoint`, `region`, `allow_http`, ...): never credentials. */
    readonly storageOptions?: Readonly<Record<string, string>> | undefined
    /** For an object-store `uri`: RAGKIT_S3_ACCESS_KEY_ID and RAGKIT_S3_SECRET_ACCESS_KEY, else LanceDB's own chain (AWS_*). */
    readonly credentials?: S3Credentials | undefined
  }
  | {
    readonly kind: "pgvector"
    /** Rows of a knowledge base's text-search tail that get indexed at once (`PgChunkIndex` option; default 1,000). */
    readonly tailRows?: number | undefined
    /** A tail is indexed once its process has not written to the knowledge base for this long (default 1,000 ms). */
    readonly tailIdleMillis?: number | undefined
    /** Vector searches over at most this many vectors are exact, without HNSW (default 1,000). */
    readonly exactSearchThreshold?: number | undefined
    /** `hnsw.ef_search` of approximate searches (default: grows with the vectors searched). */
    readonly efSearch?: number | undefined
    /** A write of at least this fraction of a dimension's vectors rebuilds its HNSW index (default 0.25). */
    readonly indexRebuildRatio?: number | undefined
    /** `maintenance_work_mem` while an HNSW index is built, e.g. "512MB" (the default). */
    readonly indexBuildMemory?: string | undefined
  }
/** S3 credentials from RAGKIT_S3_ACCESS_KEY_ID and RAGKIT_S3_SECRET_ACCESS_KEY (never from the file). */
export interface S3Credentials {
  readonly accessKeyId: string
  readonly secretAccessKey: Redacted.Redacted<string>
}
export type BlobStoreSettings =
  | { readonly kind: "file"; readonly dir: string }
  | {
    /** An S3-compatible bucket (`@ragkit/store-s3`, an optional peer of the server). */
    readonly kind: "s3"
    readonly bucket: string
    readonly prefix?: string | undefined
    readonly region?: string | undefined
    readonly endpoint?: string | undefined
    readonly forcePathStyle?: boolean | undefined
    /** None: the AWS SDK's own chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, a role). */
    readonly credentials: Option.Option<S3Credentials>
  }
export type LogFormat = "text" | "json"
export type LogLevel = "trace" | "debug" | "info" | "warning" | "error" | "fatal" | "none"

export interface AuthSettings {
  /** `closed`: `user/register` refuses new accounts; `ragkit user create` still makes them. */
  readonly registration: "open" | "closed"
  readonly rsaPrivateKeyFile: Option.Option<string>
  /** The PEM text of `rsaPrivateKeyFile`, read (and checked with the passphrase) at start-up. */
  readonly rsaPrivateKey: Option.Option<Redacted.Redacted<string>>
  readonly rsaPassphrase: Option.Option<Redacted.Redacted<string>>
  /** How long a login session lasts. */
  readonly sessionHours: number
  /** Failed logins allowed per account and per client address (core's defaults: 10 and 50 in 15 minutes). */
  readonly loginLimits: Users.LoginLimits
}

export interface LimitsSettings {
  /** Largest uploaded file, in MiB: a larger one is refused with 413. */
  readonly uploadMb: number
  /** Time one document may take on a parser thread; past it the thread is replaced and the document fails. */
  readonly parseTimeoutMs: number
  readonly parserThreadMemoryMb: number
  /** The parsers' safety limits: the deployment's, never a tenant's `parser_config`. */
  readonly parser: ParserLimits.ParserLimits
}

/** The deployment's settings, resolved: what every part of the server reads. */
export interface ServerSettings {
  readonly host: string
  readonly port: number
  readonly dataDir: string
  readonly databaseUrl: Option.Option<Redacted.Redacted>
  /** The embedded PGlite's `shared_buffers` in MiB (without a database URL): memory it holds while open. */
  readonly pgliteSharedBuffersMb: number
  readonly chunkIndex: ChunkIndexSettings
  readonly blobStore: BlobStoreSettings
  readonly workers: number
  readonly leaseMs: number
  readonly ocr: boolean
  readonly parserThreads: number
  /**
   * A parser thread with no document for this long stops (each idle one holds a few hundred MiB);
   * the next document starts it again. 0: threads never stop once started.
   */
  readonly parserThreadIdleMs: number
  /** Tenants' API keys are encrypted under it; none: `<data-dir>/secret.key`, generated on first start. */
  readonly secretKey: Option.Option<Redacted.Redacted>
  /** Let tenants' model providers reach loopback, private and link-local addresses. */
  readonly allowPrivateProviders: boolean
  /** Serve the `Test` model provider too (hash embedders, echo chat model): tests and benchmarks only. */
  readonly testModels: boolean
  readonly auth: AuthSettings
  readonly limits: LimitsSettings
  /** The deployment's model providers and new tenants' default models. */
  readonly models: ModelsConfig
  readonly log: { readonly format: LogFormat; readonly level: LogLevel }
  /** Traces go to `tracesUrl` (OTLP over HTTP) when set. */
  readonly telemetry: { readonly tracesUrl: Option.Option<string>; readonly serviceName: string }
  /** On SIGTERM/SIGINT, how long requests in flight and documents being parsed may take to finish. */
  readonly shutdownGraceMs: number
  /** The config file the settings were read from. */
  readonly configFile: Option.Option<string>
}

/** The resolved settings, for the HTTP layer and the commands. */
export class ServerConfig extends Context.Tag("@ragkit/server/ServerConfig")<ServerConfig, ServerSettings>() {
  static readonly layer = (settings: ServerSettings): Layer.Layer<ServerConfig> => Layer.succeed(ServerConfig, settings)
}

/** One thread per core but the main thread's, and at least one. */
export const defaultParserThreads = () => Math.max(1, availableParallelism() - 1)

const MiB = 1024 * 1024

type Shallow<A> = { readonly [K in keyof A]?: A[K] }

/** What `defaults` may change: any top-level setting, and single fields of the nested ones. */
export type Overrides =
  & Shallow<Omit<ServerSettings, "auth" | "limits" | "models" | "log" | "telemetry">>
  & {
    readonly auth?: Shallow<AuthSettings>
    readonly limits?: Shallow<LimitsSettings>
    readonly models?: Shallow<ModelsConfig>
    readonly log?: Shallow<ServerSettings["log"]>
    readonly telemetry?: Shallow<ServerSettings["telemetry"]>
  }

/**
 * The defaults, for tests and hosts that build the engine without the environment. The blob
 * directory and LanceDB index follow `dataDir` unless given.
 */
export const defaults = (overrides: Overrides = {}): ServerSettings => {
  const dataDir = overrides.dataDir ?? "./data"
  return {
    host: "127.0.0.1",
    port: 9380,
    databaseUrl: Option.none(),
    pgliteSharedBuffersMb: 16,
    workers: 2,
    leaseMs: 30_000,
    ocr: true,
    parserThreads: defaultParserThreads(),
    parserThreadIdleMs: 30_000,
    secretKey: Option.none(),
    allowPrivateProviders: false,
    testModels: false,
    shutdownGraceMs: 10_000,
    configFile: Option.none(),
    ...overrides,
    dataDir,
    chunkIndex: overrides.chunkIndex ?? { kind: "lancedb", uri: path.join(dataDir, "lancedb") },
    blobStore: overrides.blobStore ?? { kind: "file", dir: path.join(dataDir, "blobs") },
    auth: {
      registration: "open",
      rsaPrivateKeyFile: Option.none(),
      rsaPrivateKey: Option.none(),
      rsaPassphrase: Option.none(),
      sessionHours: 168,
      loginLimits: {},
      ...overrides.auth
    },
    limits: { uploadMb: 128, parseTimeoutMs: 600_000, parserThreadMemoryMb: 1024, parser: ParserLimits.defaults, ...overrides.limits },
    models: { providers: [], defaults: {}, ...overrides.models },
    log: { format: "text", level: "info", ...overrides.log },
    telemetry: { tracesUrl: Option.none(), serviceName: "ragkit", ...overrides.telemetry }
  }
}

// ---------------------------------------------------------------------------------------------
// The config file's schema, which also checks values from the environment and flags

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

/** An integer in [min, max]. */
const int = (min: number, max?: number) => {
  const what = max === undefined ? `an integer of at least ${min}` : `an integer between ${min} and ${max}`
  return Schema.Number.annotations(must(what)).pipe(
    Schema.filter((n) => Number.isInteger(n) && n >= min && n <= (max ?? Number.MAX_SAFE_INTEGER), must(what))
  )
}

/** A number in (0, max]. */
const positive = (max: number) => {
  const what = `a number above 0 and at most ${max}`
  return Schema.Number.annotations(must(what)).pipe(Schema.filter((n) => n > 0 && n <= max, must(what)))
}

const Bool = Schema.Boolean.annotations(must("true or false"))

/** A secret: its value never appears in a message. */
const Secret = (what: string) => Schema.String.annotations(must(what)).pipe(Schema.filter((s) => s.length > 0, must(what)))

const HttpUrl = Schema.String.annotations(must("an http(s) URL")).pipe(
  Schema.filter((url) => /^https?:\/\/[^/]/.test(url), must("an http(s) URL"))
)

const MB = int(1, 1024 * 1024)

/** An S3 bucket's name (no `/`, no spaces: a prefix belongs in `prefix`). */
const BucketName = Schema.String.annotations(must("a bucket name")).pipe(
  Schema.filter((name) => /^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/.test(name), must("a bucket name (letters, digits, '.', '-' and '_'; a key prefix goes in prefix)"))
)

/** LanceDB's storage options (strings); credentials come from the environment, never from the file. */
const LanceStorageOptions = Schema.Record({ key: Schema.String, value: Schema.String })
  .annotations(must(`an object of strings, e.g. { "endpoint": "http://minio:9000", "region": "us-east-1", "allow_http": "true" }`))
  .pipe(
    Schema.filter((options) => !Object.keys(options).some((key) => /secret|token|password|access_key|credential/i.test(key)), must(
      "free of credentials: set RAGKIT_S3_ACCESS_KEY_ID and RAGKIT_S3_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) instead"
    ))
  )

/** `{ "attempts": 10, "windowMinutes": 15 }`, or `false`: no limit. */
const LoginLimit = Schema.optional(
  Schema.Union(
    Schema.Literal(false),
    Schema.Struct({ attempts: int(1, 1_000_000), windowMinutes: int(1, 7 * 24 * 60) })
  ).annotations(must(`{ "attempts": n, "windowMinutes": m } or false`))
)

/** The config file's schema; the environment's and the flags' values are checked by it too. */
export const ConfigFile = Schema.Struct({
  host: Schema.optional(nonEmpty("host")),
  port: Schema.optional(int(0, 65535)),
  dataDir: Schema.optional(nonEmpty("dataDir")),
  database: Schema.optional(
    Schema.Struct({
      url: Schema.optional(
        Secret("a postgres:// URL").pipe(Schema.filter((url) => /^(postgres(ql)?:\/\/|\$\{)/.test(url), must("a postgres:// URL (postgres://user:password@host:5432/db)")))
      ),
      pgliteSharedBuffersMb: Schema.optional(int(1, 65_536))
    }).annotations(must("an object: { url, pgliteSharedBuffersMb }"))
  ),
  chunkIndex: Schema.optional(
    Schema.Union(
      Schema.Struct({
        kind: Schema.Literal("lancedb"),
        uri: Schema.optional(nonEmpty("chunkIndex.uri")),
        storageOptions: Schema.optional(LanceStorageOptions)
      }),
      Schema.Struct({
        kind: Schema.Literal("pgvector"),
        tailRows: Schema.optional(int(0, 1_000_000)),
        tailIdleMillis: Schema.optional(int(0, 3_600_000)),
        exactSearchThreshold: Schema.optional(int(0, 1_000_000_000)),
        efSearch: Schema.optional(int(1, 1_000)),
        indexRebuildRatio: Schema.optional(positive(1_000_000)),
        indexBuildMemory: Schema.optional(
          Schema.String.annotations(must(`a size such as "512MB" (kB, MB or GB)`)).pipe(
            Schema.filter((size) => /^\d+(kB|MB|GB)$/.test(size), must(`a size such as "512MB" (kB, MB or GB)`))
          )
        )
      })
    ).annotations(must(`an object: { "kind": "lancedb", "uri": ... } or { "kind": "pgvector" }`))
  ),
  blobStore: Schema.optional(
    Schema.Union(
      Schema.Struct({ kind: Schema.Literal("file"), dir: Schema.optional(nonEmpty("blobStore.dir")) }),
      Schema.Struct({
        kind: Schema.Literal("s3"),
        bucket: BucketName,
        prefix: Schema.optional(Schema.String.annotations(must("a key prefix such as ragkit/"))),
        region: Schema.optional(nonEmpty("blobStore.region")),
        endpoint: Schema.optional(HttpUrl),
        forcePathStyle: Schema.optional(Bool)
      })
    ).annotations(must(`an object: { "kind": "file", "dir": ... } or { "kind": "s3", "bucket": ..., "prefix", "region", "endpoint", "forcePathStyle" }`))
  ),
  workers: Schema.optional(int(0, 64)),
  leaseMs: Schema.optional(int(1_000)),
  ocr: Schema.optional(Bool),
  parserThreads: Schema.optional(int(0, 64)),
  parserThreadIdleMs: Schema.optional(int(0, 2_147_483_647)),
  secretKey: Schema.optional(Secret(`a secret of at least ${Models.SECRET_KEY_MIN} characters (e.g. openssl rand -base64 32)`)),
  allowPrivateProviders: Schema.optional(Bool),
  testModels: Schema.optional(Bool),
  auth: Schema.optional(
    Schema.Struct({
      registration: Schema.optional(Schema.Literal("open", "closed")),
      rsaPrivateKeyFile: Schema.optional(nonEmpty("auth.rsaPrivateKeyFile")),
      rsaPassphrase: Schema.optional(Secret("a passphrase")),
      sessionHours: Schema.optional(int(1, 8760)),
      loginLimits: Schema.optional(Schema.Struct({ account: LoginLimit, address: LoginLimit }).annotations(must("an object: { account, address }")))
    }).annotations(must("an object: { registration, rsaPrivateKeyFile, rsaPassphrase, sessionHours, loginLimits }"))
  ),
  limits: Schema.optional(
    Schema.Struct({
      uploadMb: Schema.optional(MB),
      parseTimeoutMs: Schema.optional(int(1_000, 2_147_483_647)),
      parserThreadMemoryMb: Schema.optional(int(64, 1024 * 1024)),
      parser: Schema.optional(
        Schema.Struct({
          zipMaxEntryMb: Schema.optional(MB),
          zipMaxTotalMb: Schema.optional(MB),
          maxCells: Schema.optional(int(1)),
          pdfMaxPages: Schema.optional(int(1)),
          pdfMaxStreamMb: Schema.optional(MB),
          pdfMaxDecodedMb: Schema.optional(MB),
          pdfMaxImagePixels: Schema.optional(int(1))
        }).annotations(must("an object"))
      )
    }).annotations(must("an object: { uploadMb, parseTimeoutMs, parserThreadMemoryMb, parser }"))
  ),
  models: Schema.optional(
    Schema.Struct({
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
    }).annotations(must("an object: { providers, defaults }"))
  ),
  log: Schema.optional(
    Schema.Struct({
      format: Schema.optional(Schema.Literal("text", "json")),
      level: Schema.optional(Schema.Literal("trace", "debug", "info", "warning", "error", "fatal", "none"))
    }).annotations(must("an object: { format, level }"))
  ),
  telemetry: Schema.optional(
    Schema.Struct({ tracesUrl: Schema.optional(HttpUrl), serviceName: Schema.optional(nonEmpty("telemetry.serviceName")) }).annotations(
      must("an object: { tracesUrl, serviceName }")
    )
  ),
  shutdownGraceMs: Schema.optional(int(0, 3_600_000))
}).annotations(must("a JSON object"))
export type ConfigFile = typeof ConfigFile.Type

/** The configuration can't be used: `message` names the key and where its value came from. */
export class ConfigFileError extends Data.TaggedError("ConfigFileError")<{ readonly message: string; readonly cause?: unknown }> {}

// ---------------------------------------------------------------------------------------------
// The environment and the flags

/** A setting the environment (`env`) or a flag (`flag`, in `ragkit serve` and `ragkit worker`) can set. */
export interface Setting {
  /** Its key in the config file, `limits.uploadMb`. */
  readonly key: string
  readonly env: string
  readonly flag?: string | undefined
  readonly type: "string" | "integer" | "boolean"
}

const setting = (key: string, env: string, type: Setting["type"], flag?: string): Setting => ({ key, env, type, flag })

/** Every setting outside the file: its variable, and its flag when it has one. */
export const settings: ReadonlyArray<Setting> = [
  setting("host", "RAGKIT_HOST", "string", "host"),
  setting("port", "RAGKIT_PORT", "integer", "port"),
  setting("dataDir", "RAGKIT_DATA_DIR", "string", "data-dir"),
  setting("database.url", "RAGKIT_DATABASE_URL", "string"),
  setting("database.pgliteSharedBuffersMb", "RAGKIT_PGLITE_SHARED_BUFFERS_MB", "integer"),
  setting("chunkIndex.kind", "RAGKIT_CHUNK_INDEX", "string", "chunk-index"),
  setting("chunkIndex.uri", "RAGKIT_LANCEDB_URI", "string"),
  setting("blobStore.kind", "RAGKIT_BLOB_STORE", "string"),
  setting("blobStore.dir", "RAGKIT_BLOB_DIR", "string"),
  setting("blobStore.bucket", "RAGKIT_S3_BUCKET", "string"),
  setting("blobStore.prefix", "RAGKIT_S3_PREFIX", "string"),
  setting("blobStore.region", "RAGKIT_S3_REGION", "string"),
  setting("blobStore.endpoint", "RAGKIT_S3_ENDPOINT", "string"),
  setting("blobStore.forcePathStyle", "RAGKIT_S3_FORCE_PATH_STYLE", "boolean"),
  setting("workers", "RAGKIT_WORKERS", "integer", "workers"),
  setting("leaseMs", "RAGKIT_LEASE_MS", "integer"),
  setting("ocr", "RAGKIT_OCR", "boolean"),
  setting("parserThreads", "RAGKIT_PARSER_THREADS", "integer", "parser-threads"),
  setting("parserThreadIdleMs", "RAGKIT_PARSER_THREAD_IDLE_MS", "integer"),
  setting("secretKey", "RAGKIT_SECRET_KEY", "string"),
  setting("allowPrivateProviders", "RAGKIT_ALLOW_PRIVATE_PROVIDERS", "boolean"),
  setting("testModels", "RAGKIT_TEST_MODELS", "boolean"),
  setting("auth.registration", "RAGKIT_REGISTRATION", "string", "registration"),
  setting("auth.rsaPrivateKeyFile", "RAGKIT_RSA_PRIVATE_KEY_FILE", "string"),
  setting("auth.rsaPassphrase", "RAGKIT_RSA_PASSPHRASE", "string"),
  setting("auth.sessionHours", "RAGKIT_SESSION_HOURS", "integer"),
  setting("limits.uploadMb", "RAGKIT_UPLOAD_MB", "integer", "upload-mb"),
  setting("limits.parseTimeoutMs", "RAGKIT_PARSE_TIMEOUT_MS", "integer"),
  setting("limits.parserThreadMemoryMb", "RAGKIT_PARSER_THREAD_MEMORY_MB", "integer"),
  setting("limits.parser.zipMaxEntryMb", "RAGKIT_PARSER_ZIP_MAX_ENTRY_MB", "integer"),
  setting("limits.parser.zipMaxTotalMb", "RAGKIT_PARSER_ZIP_MAX_TOTAL_MB", "integer"),
  setting("limits.parser.maxCells", "RAGKIT_PARSER_MAX_CELLS", "integer"),
  setting("limits.parser.pdfMaxPages", "RAGKIT_PARSER_PDF_MAX_PAGES", "integer"),
  setting("limits.parser.pdfMaxStreamMb", "RAGKIT_PARSER_PDF_MAX_STREAM_MB", "integer"),
  setting("limits.parser.pdfMaxDecodedMb", "RAGKIT_PARSER_PDF_MAX_DECODED_MB", "integer"),
  setting("limits.parser.pdfMaxImagePixels", "RAGKIT_PARSER_PDF_MAX_IMAGE_PIXELS", "integer"),
  setting("log.format", "RAGKIT_LOG_FORMAT", "string", "log-format"),
  setting("log.level", "RAGKIT_LOG_LEVEL", "string", "log-level"),
  setting("telemetry.tracesUrl", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "string"),
  setting("telemetry.serviceName", "OTEL_SERVICE_NAME", "string"),
  setting("shutdownGraceMs", "RAGKIT_SHUTDOWN_GRACE_MS", "integer")
]

/** A variable's text as its setting's type; text that isn't one is kept, for the schema to name. */
const coerce = (type: Setting["type"], text: string): unknown => {
  const t = text.trim()
  if (type === "integer") return /^[+-]?\d+$/.test(t) ? Number(t) : text
  if (type === "boolean") {
    const lower = t.toLowerCase()
    if (["true", "yes", "on", "1"].includes(lower)) return true
    if (["false", "no", "off", "0"].includes(lower)) return false
    return text
  }
  return text
}

/** Sets `key` (dotted) in a nested object; a different `kind` replaces the object it belongs to. */
const setIn = (target: Record<string, unknown>, key: string, value: unknown): void => {
  const parts = key.split(".")
  let at = target
  for (const [i, part] of parts.slice(0, -1).entries()) {
    const next = at[part]
    const isLast = i === parts.length - 2
    const replace = typeof next !== "object" || next === null || Array.isArray(next) ||
      (isLast && parts.at(-1) === "kind" && (next as { kind?: unknown }).kind !== value)
    if (replace) at[part] = {}
    at = at[part] as Record<string, unknown>
  }
  at[parts.at(-1)!] = value
}

/** Where a value came from: the flag, the variable, or the file. */
type Origin = { readonly label: string; readonly file: false } | { readonly file: true }

/** Flag values by setting key (`{ port: 9400, "limits.uploadMb": 64 }`), as `ragkit serve` parsed them. */
export type Flags = Readonly<Record<string, unknown>>

/** `models.providers[0].models[1].type`, from a decoding issue's path. */
const keyPath = (segments: ReadonlyArray<PropertyKey>): string =>
  segments.reduce<string>((acc, segment) => (typeof segment === "number" ? `${acc}[${segment}]` : acc === "" ? String(segment) : `${acc}.${String(segment)}`), "")

/**
 * One problem per key: the deepest issues only (a bad field, not also "the whole list is
 * wrong"), and a value that matches no member of a union said once (`Expected "a" | "b"`).
 */
const describeIssues = (error: ParseResult.ParseError): ReadonlyArray<readonly [string, string]> => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const deepest = issues.filter(
    (issue) => !issues.some((other) => other.path.length > issue.path.length && issue.path.every((segment, i) => other.path[i] === segment))
  )
  const byKey = new Map<string, Array<string>>()
  for (const issue of deepest) {
    const key = keyPath(issue.path)
    byKey.set(key, [...(byKey.get(key) ?? []), issue._tag === "Unexpected" ? "is not a known key" : issue.message])
  }
  return [...byKey.entries()].map(([key, all]) => {
    // An absent optional key would have been fine: "Expected undefined" says nothing.
    const useful = all.filter((m) => !m.startsWith("Expected undefined, actual"))
    const messages = [...new Set(useful.length > 0 ? useful : all)]
    const expected = messages.map((m) => /^Expected (.+), actual (.+)$/s.exec(m))
    const actual = expected[0]?.[2]
    const message = expected.every((m) => m !== null && m[2] === actual) && messages.length > 1
      ? `Expected ${expected.map((m) => m![1]).join(" | ")}, actual ${actual}`
      : messages.join("; ")
    return [key, message] as const
  })
}

const decodeInput = Schema.decodeUnknownEither(ConfigFile, { onExcessProperty: "error", errors: "all" })

/** A reference to an environment variable: the whole value is `${NAME}`. */
const envReference = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/

export interface LoadOptions {
  /** `--config`: wins over `RAGKIT_CONFIG`. */
  readonly configFile?: string | undefined
  /** Flag values by setting key: they win over the environment and the file. */
  readonly flags?: Flags | undefined
}

/**
 * The server's settings: flags over the environment (the current `ConfigProvider`) over the
 * config file (`configFile`, else `RAGKIT_CONFIG`) over the defaults; every value checked, secrets
 * written `${NAME}` in the file read from the environment, the RSA key read and checked.
 */
export const load = (options: LoadOptions = {}): Effect.Effect<ServerSettings, ConfigFileError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const variable = (name: string) =>
      Config.option(Config.string(name)).pipe(Effect.orElseSucceed(() => Option.none<string>()))
    const flagged = Option.fromNullable(options.configFile)
    const file = Option.isSome(flagged) ? flagged : yield* variable("RAGKIT_CONFIG")
    const fail = (message: string, cause?: unknown) => Effect.fail(new ConfigFileError({ message, cause }))

    // The file, then the environment and the flags over it.
    let input: Record<string, unknown> = {}
    if (Option.isSome(file)) {
      const text = yield* fs.readFileString(file.value).pipe(
        Effect.mapError((cause) => new ConfigFileError({ message: `config file ${file.value} can't be read (${cause.message})`, cause }))
      )
      const json = Either.try(() => JSON.parse(text) as unknown)
      if (Either.isLeft(json)) {
        return yield* fail(`config file ${file.value}: not valid JSON (${json.left instanceof Error ? json.left.message : String(json.left)})`)
      }
      if (typeof json.right !== "object" || json.right === null || Array.isArray(json.right)) return yield* fail(`config file ${file.value}: must be a JSON object`)
      input = structuredClone(json.right) as Record<string, unknown>
    }
    const origins = new Map<string, Origin>()
    for (const s of settings) {
      const value = yield* variable(s.env)
      if (Option.isSome(value) && value.value !== "") {
        setIn(input, s.key, coerce(s.type, value.value))
        origins.set(s.key, { label: s.env, file: false })
      }
    }
    // OTEL_EXPORTER_OTLP_ENDPOINT is the collector's base URL; the traces path follows it.
    const otlp = yield* variable("OTEL_EXPORTER_OTLP_ENDPOINT")
    if (Option.isSome(otlp) && otlp.value !== "" && !origins.has("telemetry.tracesUrl")) {
      setIn(input, "telemetry.tracesUrl", `${otlp.value.replace(/\/+$/, "")}/v1/traces`)
      origins.set("telemetry.tracesUrl", { label: "OTEL_EXPORTER_OTLP_ENDPOINT", file: false })
    }
    for (const [key, value] of Object.entries(options.flags ?? {})) {
      if (value === undefined) continue
      const flag = settings.find((s) => s.key === key)?.flag ?? key
      setIn(input, key, value)
      origins.set(key, { label: `--${flag}`, file: false })
    }
    const originOf = (key: string): Origin => {
      for (const [k, origin] of origins) if (key === k || key.startsWith(`${k}.`) || k.startsWith(`${key}.`)) return origin
      return { file: true }
    }
    const where = (key: string) => {
      const origin = originOf(key)
      if (!origin.file) return `${origin.label} (${key})`
      // Missing with no file to put it in: the variable that sets it.
      const variableOf = Option.isNone(file) ? settings.find((s) => s.key === key)?.env : undefined
      return variableOf === undefined ? `config file ${Option.getOrElse(file, () => "")}: ${key}` : `${variableOf} (${key})`
    }

    const decoded = decodeInput(input)
    if (Either.isLeft(decoded)) {
      return yield* fail(describeIssues(decoded.left).map(([key, message]) => key === "" ? `config file ${Option.getOrElse(file, () => "")}: ${message}` : `${where(key)}: ${message}`).join("; "))
    }
    const given = decoded.right
    const directory = Option.match(file, { onNone: () => process.cwd(), onSome: (f) => path.dirname(path.resolve(f)) })
    /** A path: relative to the file when the file gave it. */
    const pathOf = (key: string, value: string) => originOf(key).file && !/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? path.resolve(directory, value) : value
    /** A secret: `${NAME}` in the file is the variable NAME. */
    const secret = (key: string, value: string | undefined) =>
      Effect.gen(function* () {
        if (value === undefined) return Option.none<Redacted.Redacted>()
        const reference = originOf(key).file ? envReference.exec(value) : null
        if (reference === null) return Option.some(Redacted.make(value))
        return Option.some(
          yield* Config.redacted(reference[1]!).pipe(
            Effect.catchAll((error) =>
              fail(`${where(key)}: the environment variable ${reference[1]} ${ConfigError.isMissingDataOnly(error) ? "is not set" : "can't be read"}`)
            )
          )
        )
      })

    const base = defaults()
    const dataDir = given.dataDir === undefined ? base.dataDir : pathOf("dataDir", given.dataDir)
    const databaseUrl = yield* secret("database.url", given.database?.url)
    const secretKey = yield* secret("secretKey", given.secretKey)
    if (Option.isSome(secretKey) && Redacted.value(secretKey.value).length < Models.SECRET_KEY_MIN) {
      return yield* fail(`${where("secretKey")}: must have at least ${Models.SECRET_KEY_MIN} characters (e.g. openssl rand -base64 32)`)
    }

    const providers = yield* Effect.forEach(given.models?.providers ?? [], (provider, i) =>
      Effect.map(secret(`models.providers[${i}].apiKey`, provider.apiKey), (apiKey) => ({
        name: provider.name,
        kind: provider.kind,
        baseUrl: provider.baseUrl,
        apiKey: Option.getOrUndefined(apiKey),
        settings: provider.settings,
        models: (provider.models ?? []).map((model) => ({ ...model, path: model.path === undefined ? undefined : path.resolve(directory, model.path) }))
      }) satisfies Models.DeploymentProvider))

    // The RSA key that passwords arrive encrypted with: read now, so a bad one stops the start.
    const rsaPassphrase = yield* secret("auth.rsaPassphrase", given.auth?.rsaPassphrase) as Effect.Effect<Option.Option<Redacted.Redacted<string>>, ConfigFileError>
    const rsaPrivateKeyFile = Option.map(Option.fromNullable(given.auth?.rsaPrivateKeyFile), (f) => pathOf("auth.rsaPrivateKeyFile", f))
    if (Option.isSome(rsaPassphrase) && Option.isNone(rsaPrivateKeyFile)) return yield* fail(`${where("auth.rsaPassphrase")}: is set but auth.rsaPrivateKeyFile is not`)
    const rsaPrivateKey = yield* Option.match(rsaPrivateKeyFile, {
      onNone: () => Effect.succeed(Option.none<Redacted.Redacted<string>>()),
      onSome: (keyFile) =>
        Effect.gen(function* () {
          const pem = yield* fs.readFileString(keyFile).pipe(
            Effect.mapError((cause) => new ConfigFileError({ message: `${where("auth.rsaPrivateKeyFile")}: ${keyFile} can't be read (${cause.message})`, cause }))
          )
          const key = Either.try(() => createPrivateKey({ key: pem, format: "pem", passphrase: Option.getOrUndefined(Option.map(rsaPassphrase, Redacted.value)) }))
          if (Either.isLeft(key)) {
            return yield* fail(
              `${where("auth.rsaPrivateKeyFile")}: ${keyFile} is not a PEM private key that ${Option.isSome(rsaPassphrase) ? "auth.rsaPassphrase" : "no passphrase"} opens`
            )
          }
          if (key.right.asymmetricKeyType !== "rsa") return yield* fail(`${where("auth.rsaPrivateKeyFile")}: ${keyFile} is not an RSA key`)
          return Option.some(Redacted.make(pem))
        })
    })

    const parser = given.limits?.parser ?? {}
    const chunkIndex: ChunkIndexSettings = given.chunkIndex?.kind === "pgvector"
      ? { ...given.chunkIndex, kind: "pgvector" }
      : yield* lanceSettings(
        given.chunkIndex?.uri === undefined ? path.join(dataDir, "lancedb") : pathOf("chunkIndex.uri", given.chunkIndex.uri),
        given.chunkIndex?.storageOptions,
        { variable, fail }
      )
    const blobStore = yield* blobStoreOf(given.blobStore, {
      dir: (dir) => dir === undefined ? path.join(dataDir, "blobs") : pathOf("blobStore.dir", dir),
      variable,
      fail
    })
    const tracesUrl = Option.fromNullable(given.telemetry?.tracesUrl)
    return defaults({
      ...(given.host === undefined ? {} : { host: given.host }),
      ...(given.port === undefined ? {} : { port: given.port }),
      dataDir,
      databaseUrl,
      ...(given.database?.pgliteSharedBuffersMb === undefined ? {} : { pgliteSharedBuffersMb: given.database.pgliteSharedBuffersMb }),
      chunkIndex,
      blobStore,
      ...(given.workers === undefined ? {} : { workers: given.workers }),
      ...(given.leaseMs === undefined ? {} : { leaseMs: given.leaseMs }),
      ...(given.ocr === undefined ? {} : { ocr: given.ocr }),
      ...(given.parserThreads === undefined ? {} : { parserThreads: given.parserThreads }),
      ...(given.parserThreadIdleMs === undefined ? {} : { parserThreadIdleMs: given.parserThreadIdleMs }),
      secretKey,
      ...(given.allowPrivateProviders === undefined ? {} : { allowPrivateProviders: given.allowPrivateProviders }),
      ...(given.testModels === undefined ? {} : { testModels: given.testModels }),
      auth: {
        ...(given.auth?.registration === undefined ? {} : { registration: given.auth.registration }),
        ...(given.auth?.sessionHours === undefined ? {} : { sessionHours: given.auth.sessionHours }),
        rsaPrivateKeyFile,
        rsaPrivateKey,
        rsaPassphrase,
        loginLimits: loginLimits(given.auth?.loginLimits)
      },
      limits: {
        ...(given.limits?.uploadMb === undefined ? {} : { uploadMb: given.limits.uploadMb }),
        ...(given.limits?.parseTimeoutMs === undefined ? {} : { parseTimeoutMs: given.limits.parseTimeoutMs }),
        ...(given.limits?.parserThreadMemoryMb === undefined ? {} : { parserThreadMemoryMb: given.limits.parserThreadMemoryMb }),
        parser: ParserLimits.make({
          ...(parser.zipMaxEntryMb === undefined ? {} : { zipMaxEntryBytes: parser.zipMaxEntryMb * MiB }),
          ...(parser.zipMaxTotalMb === undefined ? {} : { zipMaxTotalBytes: parser.zipMaxTotalMb * MiB }),
          ...(parser.maxCells === undefined ? {} : { maxCells: parser.maxCells }),
          ...(parser.pdfMaxPages === undefined ? {} : { pdfMaxPages: parser.pdfMaxPages }),
          ...(parser.pdfMaxStreamMb === undefined ? {} : { pdfMaxStreamBytes: parser.pdfMaxStreamMb * MiB }),
          ...(parser.pdfMaxDecodedMb === undefined ? {} : { pdfMaxDecodedBytes: parser.pdfMaxDecodedMb * MiB }),
          ...(parser.pdfMaxImagePixels === undefined ? {} : { pdfMaxImagePixels: parser.pdfMaxImagePixels })
        })
      },
      models: { providers, defaults: given.models?.defaults ?? {} },
      log: { ...(given.log?.format === undefined ? {} : { format: given.log.format }), ...(given.log?.level === undefined ? {} : { level: given.log.level }) },
      telemetry: { tracesUrl, ...(given.telemetry?.serviceName === undefined ? {} : { serviceName: given.telemetry.serviceName }) },
      ...(given.shutdownGraceMs === undefined ? {} : { shutdownGraceMs: given.shutdownGraceMs }),
      configFile: file
    })
  })

/**
 * The blob store's settings; for S3 the credentials come from RAGKIT_S3_ACCESS_KEY_ID and
 * RAGKIT_S3_SECRET_ACCESS_KEY (both or neither), never from the file; neither: the SDK's chain.
 */
const blobStoreOf = (
  given: ConfigFile["blobStore"],
  context: {
    readonly dir: (dir: string | undefined) => string
    readonly variable: (name: string) => Effect.Effect<Option.Option<string>>
    readonly fail: (message: string) => Effect.Effect<never, ConfigFileError>
  }
): Effect.Effect<BlobStoreSettings, ConfigFileError> =>
  Effect.gen(function* () {
    if (given?.kind !== "s3") return { kind: "file", dir: context.dir(given?.dir) }
    const credentials = yield* s3Credentials(context)
    return {
      kind: "s3",
      bucket: given.bucket,
      ...(given.prefix === undefined || given.prefix === "" ? {} : { prefix: given.prefix }),
      ...(given.region === undefined ? {} : { region: given.region }),
      ...(given.endpoint === undefined ? {} : { endpoint: given.endpoint }),
      ...(given.forcePathStyle === undefined ? {} : { forcePathStyle: given.forcePathStyle }),
      credentials
    }
  })

/** S3 credentials from RAGKIT_S3_ACCESS_KEY_ID and RAGKIT_S3_SECRET_ACCESS_KEY: both, or neither (`None`). */
const s3Credentials = (context: {
  readonly variable: (name: string) => Effect.Effect<Option.Option<string>>
  readonly fail: (message: string) => Effect.Effect<never, ConfigFileError>
}): Effect.Effect<Option.Option<S3Credentials>, ConfigFileError> =>
  Effect.gen(function* () {
    const keyId = Option.filter(yield* context.variable("RAGKIT_S3_ACCESS_KEY_ID"), (v) => v !== "")
    const secret = Option.filter(yield* context.variable("RAGKIT_S3_SECRET_ACCESS_KEY"), (v) => v !== "")
    if (Option.isSome(keyId) !== Option.isSome(secret)) {
      return yield* context.fail(
        `RAGKIT_S3_ACCESS_KEY_ID and RAGKIT_S3_SECRET_ACCESS_KEY: set both or neither (${Option.isSome(keyId) ? "RAGKIT_S3_SECRET_ACCESS_KEY" : "RAGKIT_S3_ACCESS_KEY_ID"} is not set)`
      )
    }
    return Option.isSome(keyId) && Option.isSome(secret)
      ? Option.some({ accessKeyId: keyId.value, secretAccessKey: Redacted.make(secret.value) })
      : Option.none()
  })

/** LanceDB's settings; on an object-store URI, the S3 credentials of the environment. */
const lanceSettings = (
  uri: string,
  storageOptions: Readonly<Record<string, string>> | undefined,
  context: Parameters<typeof s3Credentials>[0]
): Effect.Effect<ChunkIndexSettings, ConfigFileError> =>
  Effect.gen(function* () {
    const objectStore = /^[a-z][a-z0-9+.-]*:\/\//i.test(uri) && !/^file:/i.test(uri)
    return {
      kind: "lancedb",
      uri,
      ...(storageOptions === undefined ? {} : { storageOptions }),
      ...(objectStore ? Option.match(yield* s3Credentials(context), { onNone: () => ({}), onSome: (credentials) => ({ credentials }) }) : {})
    }
  })

/** The file's login limits as core takes them. */
const loginLimits = (given: NonNullable<NonNullable<ConfigFile["auth"]>["loginLimits"]> | undefined): Users.LoginLimits => {
  const one = (limit: false | { readonly attempts: number; readonly windowMinutes: number } | undefined) =>
    limit === undefined ? {} : { value: limit === false ? false as const : { attempts: limit.attempts, window: Duration.minutes(limit.windowMinutes) } }
  const account = one(given?.account)
  const address = one(given?.address)
  return { ...("value" in account ? { account: account.value } : {}), ...("value" in address ? { address: address.value } : {}) }
}

/** The settings from the environment alone (no file, no flags). */
export const fromEnvironment: Effect.Effect<ServerSettings, ConfigFileError, FileSystem.FileSystem> = load()
