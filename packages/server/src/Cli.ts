/**
 * The `ragkit` command (`@effect/cli`):
 *
 *   ragkit serve           the HTTP server and (unless --workers 0) the ingestion worker
 *   ragkit worker          only the ingestion worker: run several against one Postgres to scale out
 *   ragkit migrate         brings the stores' schemas up to date, then exits
 *   ragkit user create     makes an account (even when registration is closed)
 *   ragkit token create    makes an API key for a user's tenant and prints it, once
 *   ragkit --help | --version
 *
 * Every command takes `--config <file.json>` (else `RAGKIT_CONFIG`), `--data-dir`, `--log-format`
 * and `--log-level`; `serve` and `worker` take more (see `ragkit serve --help`). A flag wins over
 * its environment variable, which wins over the config file (Config.ts). Logs go to stderr; what
 * a command prints for the caller (`token create`'s key) goes to stdout.
 */
import { Command, Options } from "@effect/cli"
import { ApiTokens, Caller, decoding, RecordStore, Users } from "@ragkit/core"
import { Console, Data, Effect, Layer, Option, Redacted } from "effect"
import { createServer } from "node:http"
import { createRequire } from "node:module"
import { createInterface } from "node:readline"
import { type Flags, load, type ServerSettings } from "./Config.js"
import * as Logging from "./Logging.js"
import * as Shutdown from "./Shutdown.js"

// The engine, the HTTP API and the OpenTelemetry SDK are loaded when a command needs them, so
// that `--help`, `--version` and a bad command line answer at once.
const Engine = Effect.promise(() => import("./Engine.js"))
const Http = Effect.promise(() => import("./Http.js"))
const Telemetry = Effect.promise(() => import("./Telemetry.js"))

/** The server's version (the packages are versioned together). */
export const version: string = (createRequire(import.meta.url)("../package.json") as { version: string }).version

const optional = <A>(options: Options.Options<A>) => Options.optional(options)

const common = {
  config: optional(Options.text("config").pipe(Options.withDescription("a JSON config file (default: RAGKIT_CONFIG)"))),
  dataDir: optional(Options.text("data-dir").pipe(Options.withDescription("embedded database, blobs and indexes (default: RAGKIT_DATA_DIR, ./data)"))),
  logFormat: optional(Options.choice("log-format", ["text", "json"]).pipe(Options.withDescription("text, or one JSON object per line (default: RAGKIT_LOG_FORMAT, text)"))),
  logLevel: optional(
    Options.choice("log-level", ["trace", "debug", "info", "warning", "error", "fatal", "none"]).pipe(
      Options.withDescription("the least severe level logged (default: RAGKIT_LOG_LEVEL, info)")
    )
  )
}

const working = {
  workers: optional(Options.integer("workers").pipe(Options.withDescription("documents parsed at once in this process, 0 for none (default: RAGKIT_WORKERS, 2)"))),
  parserThreads: optional(Options.integer("parser-threads").pipe(Options.withDescription("most parser threads, started as documents come (default: RAGKIT_PARSER_THREADS, cores - 1)"))),
  chunkIndex: optional(Options.choice("chunk-index", ["lancedb", "pgvector"]).pipe(Options.withDescription("where chunks are indexed (default: RAGKIT_CHUNK_INDEX, lancedb)")))
}

const serving = {
  host: optional(Options.text("host").pipe(Options.withDescription("address to listen on (default: RAGKIT_HOST, 127.0.0.1)"))),
  port: optional(Options.integer("port").pipe(Options.withDescription("port to listen on, 0 for any free one (default: RAGKIT_PORT, 9380)"))),
  uploadMb: optional(Options.integer("upload-mb").pipe(Options.withDescription("largest uploaded file in MiB (default: RAGKIT_UPLOAD_MB, 128)"))),
  registration: optional(Options.choice("registration", ["open", "closed"]).pipe(Options.withDescription("whether anyone may sign up (default: RAGKIT_REGISTRATION, open)")))
}

type Given = { readonly [K in string]: unknown }

/** The flags given, by setting key (`--data-dir` sets `dataDir`). */
const flagsOf = (given: Given): Flags => {
  const keys: Record<string, string> = {
    dataDir: "dataDir",
    logFormat: "log.format",
    logLevel: "log.level",
    workers: "workers",
    parserThreads: "parserThreads",
    chunkIndex: "chunkIndex.kind",
    host: "host",
    port: "port",
    uploadMb: "limits.uploadMb",
    registration: "auth.registration"
  }
  const flags: Record<string, unknown> = {}
  for (const [name, key] of Object.entries(keys)) {
    const value = given[name]
    if (Option.isOption(value) && Option.isSome(value)) flags[key] = value.value
  }
  return flags
}

/** The settings of a command's flags, the environment and the config file. */
const settingsOf = (given: Given & { readonly config: Option.Option<string> }) =>
  load({ configFile: Option.getOrUndefined(given.config), flags: flagsOf(given) })

/** Runs `effect` with the configured logger and, when configured, trace export. */
const observed = <A, E, R>(settings: ServerSettings, effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Telemetry, (telemetry) => effect.pipe(Effect.provide(telemetry.layer(settings, version)))).pipe(Effect.provide(Logging.layer(settings)))

const describe = (config: ServerSettings) =>
  [
    `data in ${config.dataDir}`,
    `records in ${Option.isSome(config.databaseUrl) ? "Postgres" : "PGlite"}`,
    `chunks in ${config.chunkIndex.kind}`,
    ...(config.blobStore.kind === "s3" ? [`blobs in s3://${config.blobStore.bucket}/${config.blobStore.prefix ?? ""}`] : []),
    `${config.workers} worker loop(s)${
      config.workers === 0 ? "" : ` parsing on up to ${Math.max(1, config.parserThreads)} parser thread(s), started on demand${config.parserThreadIdleMs > 0 ? `, stopped after ${config.parserThreadIdleMs} ms idle` : ""}`
    }`,
    ...Option.match(config.configFile, { onNone: () => [], onSome: (file) => [`config file ${file} (${config.models.providers.length} model provider(s))`] }),
    ...Option.match(config.telemetry.tracesUrl, { onNone: () => [], onSome: (url) => [`traces to ${url}`] })
  ].join(", ")

const serve = Command.make("serve", { ...common, ...working, ...serving }, (given) =>
  Effect.flatMap(settingsOf(given), (settings) =>
    observed(
      settings,
      Effect.gen(function* () {
        yield* Effect.logInfo(`ragkit ${version} serve: ${describe(settings)}, listening on ${settings.host}:${settings.port}`)
        yield* Shutdown.checkPort(settings)
        const [engine, http] = yield* Effect.all([Engine, Http])
        const server = createServer()
        const served = http.app.pipe(Layer.provide(Shutdown.listen(server, settings)), Layer.provide(engine.layerWithWorkers(settings)))
        return yield* Layer.launch(Layer.provideMerge(Shutdown.graceful(server, settings), served))
      })
    ))
).pipe(Command.withDescription("Serve the HTTP API, with the ingestion worker unless --workers 0"))

const worker = Command.make("worker", { ...common, ...working }, (given) =>
  Effect.flatMap(settingsOf(given), (loaded) => {
    const settings = loaded.workers === 0 ? { ...loaded, workers: 1 } : loaded
    return observed(
      settings,
      Effect.gen(function* () {
        yield* Effect.logInfo(`ragkit ${version} worker: ${describe(settings)}`)
        const engine = yield* Engine
        return yield* Layer.launch(engine.workerLoop(settings).pipe(Layer.provide(engine.layer(settings))))
      })
    )
  })
).pipe(Command.withDescription("Only the ingestion worker: run several against one Postgres to scale out"))

const migrate = Command.make("migrate", { ...common, chunkIndex: working.chunkIndex }, (given) =>
  Effect.flatMap(settingsOf(given), (settings) =>
    observed(
      settings,
      Effect.gen(function* () {
        yield* Effect.scoped(Layer.build((yield* Engine).stores(settings)))
        yield* Effect.logInfo(`migrations applied: records in ${Option.isSome(settings.databaseUrl) ? "Postgres" : `PGlite (${settings.dataDir})`}, chunks in ${settings.chunkIndex.kind}`)
      })
    ))
).pipe(Command.withDescription("Bring the stores' schemas up to date, then exit"))

/** Runs `effect` on the accounts and API keys of the record store, for the one-shot commands. */
const withAccounts = <A, E>(
  settings: ServerSettings,
  effect: Effect.Effect<A, E, Users.Users | ApiTokens.ApiTokens | RecordStore.RecordStore>
) => observed(settings, Effect.flatMap(Engine, (engine) => Effect.scoped(Effect.provide(effect, engine.accounts(settings)))))

/** A password: the flag's, else the first line of stdin (so that it stays out of `ps` and the shell history). */
const passwordOf = (flag: Option.Option<Redacted.Redacted<string>>) =>
  Option.match(flag, {
    onSome: (password) => Effect.succeed(Redacted.value(password)),
    onNone: () =>
      Effect.async<string>((resume) => {
        const lines = createInterface({ input: process.stdin })
        let done = false
        lines.once("line", (line) => {
          done = true
          lines.close()
          resume(Effect.succeed(line))
        })
        lines.once("close", () => {
          if (!done) resume(Effect.succeed(""))
        })
        return Effect.sync(() => lines.close())
      })
  })

const userCreate = Command.make(
  "create",
  {
    ...common,
    email: Options.text("email").pipe(Options.withDescription("the account's e-mail address")),
    password: optional(Options.redacted("password").pipe(Options.withDescription("the password (else read from the first line of stdin)"))),
    nickname: optional(Options.text("nickname").pipe(Options.withDescription("the name shown (default: the e-mail's local part)")))
  },
  (given) =>
    Effect.flatMap(settingsOf(given), (settings) =>
      withAccounts(
        // An administrator makes accounts even when sign-up is closed.
        { ...settings, auth: { ...settings.auth, registration: "open" } },
        Effect.gen(function* () {
          const users = decoding(yield* Users.Users, Users.Operations)
          const password = yield* passwordOf(given.password)
          const nickname = Option.getOrElse(given.nickname, () => given.email.split("@")[0] ?? given.email)
          const user = yield* users.register({ email: given.email, password, nickname })
          yield* Console.log(`created user ${user.email} (id ${user.id})`)
        })
      ))
).pipe(Command.withDescription("Make an account, even when registration is closed"))

/** A user's own tenant, by e-mail: the caller an administrator acts as. */
const callerOf = (email: string) =>
  Effect.gen(function* () {
    const store = yield* RecordStore.RecordStore
    const user = yield* store.users.findFirst({ email: email.trim().toLowerCase() })
    if (Option.isNone(user)) return yield* Effect.fail(new CommandError({ message: `no user with the e-mail ${email}` }))
    return new Caller({ tenantId: user.value.id as string as Caller["tenantId"], userId: user.value.id })
  })

const tokenCreate = Command.make(
  "create",
  {
    ...common,
    email: Options.text("email").pipe(Options.withDescription("the user whose tenant the key acts for")),
    dialog: optional(Options.text("dialog").pipe(Options.withDescription("limit the key to one dialog (embedded chat)")))
  },
  (given) =>
    Effect.flatMap(settingsOf(given), (settings) =>
      withAccounts(
        settings,
        Effect.gen(function* () {
          const caller = yield* callerOf(given.email)
          const tokens = decoding(yield* ApiTokens.ApiTokens, ApiTokens.Operations)
          const created = yield* tokens.create(caller, Option.match(given.dialog, { onNone: () => ({}), onSome: (dialog_id) => ({ dialog_id }) }))
          yield* Effect.logInfo(`API key ${created.token.token_prefix ?? ""} made for ${given.email}; it is shown once, below`)
          yield* Console.log(created.secret)
        })
      ))
).pipe(Command.withDescription("Make an API key for a user's tenant and print it (shown once)"))

const user = Command.make("user").pipe(Command.withSubcommands([userCreate]), Command.withDescription("Manage accounts"))
const token = Command.make("token").pipe(Command.withSubcommands([tokenCreate]), Command.withDescription("Manage API keys"))

/** A command can't do what it was asked. */
export class CommandError extends Data.TaggedError("CommandError")<{ readonly message: string }> {}

export const command = Command.make("ragkit").pipe(
  Command.withDescription("ragkit: a RAGFlow-compatible retrieval-augmented generation server"),
  Command.withSubcommands([serve, worker, migrate, user, token])
)

/** The `ragkit` command line: `run(process.argv)`. */
export const run = Command.run(command, { name: "ragkit", version })
