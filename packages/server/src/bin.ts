/**
 * The `ragkit` command.
 *
 *   ragkit serve     the HTTP server and (unless RAGKIT_WORKERS=0) the ingestion worker
 *   ragkit worker    only the ingestion worker: run several against one Postgres to scale out
 *
 * Configuration comes from the environment and the config file, `--config <path>` (or
 * `RAGKIT_CONFIG`): see Config.ts.
 */
import { NodeContext, NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Option } from "effect"
import { createServer } from "node:http"
import { load, parseArgs, type ServerConfig, usage } from "./Config.js"
import * as Engine from "./Engine.js"
import * as Http from "./Http.js"

const describe = (config: ServerConfig) =>
  `data in ${config.dataDir}, records in ${Option.isSome(config.databaseUrl) ? "Postgres" : "PGlite"}, ${config.workers} worker loop(s)${
    config.workers === 0 ? "" : config.parserThreads === 0 ? " parsing on one parser thread, started on demand" : ` parsing on ${config.parserThreads} parser thread(s)`
  }${Option.match(config.configFile, { onNone: () => "", onSome: (file) => `, config file ${file} (${config.models.providers.length} model provider(s))` })}`

const serve = (config: ServerConfig) => Effect.gen(function* () {
  yield* Effect.logInfo(`ragkit ${Http.version} serve: ${describe(config)}, listening on ${config.host}:${config.port}`)
  return Http.app.pipe(
    Layer.provide(NodeHttpServer.layer(createServer, { port: config.port, host: config.host })),
    Layer.provide(Engine.layerWithWorkers(config))
  )
})

const worker = (config: ServerConfig) => Effect.gen(function* () {
  const workers = config.workers === 0 ? { ...config, workers: 1 } : config
  yield* Effect.logInfo(`ragkit ${Http.version} worker: ${describe(workers)}`)
  return Engine.workerLoop(workers).pipe(Layer.provide(Engine.layer(workers)))
})

const commands: Record<string, (config: ServerConfig) => Effect.Effect<Layer.Layer<never, unknown>, unknown>> = { serve, worker }
const parsed = parseArgs(process.argv.slice(2))
const chosen = typeof parsed === "string" ? undefined : commands[parsed.command]
if (typeof parsed === "string" || chosen === undefined) {
  console.error(`${typeof parsed === "string" ? parsed : `unknown command ${parsed.command}`}; ${usage}`)
  process.exitCode = 2
} else {
  const config = load({ configFile: parsed.configFile }).pipe(Effect.provide(NodeContext.layer))
  NodeRuntime.runMain(Layer.launch(Layer.unwrapEffect(Effect.flatMap(config, chosen))))
}
