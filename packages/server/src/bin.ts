/**
 * The `ragkit` command.
 *
 *   ragkit serve     the HTTP server and (unless RAGKIT_WORKERS=0) the ingestion worker
 *   ragkit worker    only the ingestion worker: run several against one Postgres to scale out
 *
 * Configuration comes from the environment (see Config.ts).
 */
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Option } from "effect"
import { createServer } from "node:http"
import { ServerConfig } from "./Config.js"
import * as Engine from "./Engine.js"
import * as Http from "./Http.js"

const describe = (config: ServerConfig) =>
  `data in ${config.dataDir}, records in ${Option.isSome(config.databaseUrl) ? "Postgres" : "PGlite"}, ${config.workers} worker loop(s)${
    config.workers === 0 ? "" : config.parserThreads === 0 ? " parsing on one parser thread, started on demand" : ` parsing on ${config.parserThreads} parser thread(s)`
  }`

const serve = Effect.gen(function* () {
  const config = yield* ServerConfig
  yield* Effect.logInfo(`ragkit ${Http.version} serve: ${describe(config)}, listening on ${config.host}:${config.port}`)
  return Http.app.pipe(
    Layer.provide(NodeHttpServer.layer(createServer, { port: config.port, host: config.host })),
    Layer.provide(Engine.layerWithWorkers(config))
  )
})

const worker = Effect.gen(function* () {
  const config = yield* ServerConfig
  const workers = config.workers === 0 ? { ...config, workers: 1 } : config
  yield* Effect.logInfo(`ragkit ${Http.version} worker: ${describe(workers)}`)
  return Engine.workerLoop(workers).pipe(Layer.provide(Engine.layer(workers)))
})

const commands: Record<string, Effect.Effect<Layer.Layer<never, unknown>, unknown>> = { serve, worker }
const [command = "serve"] = process.argv.slice(2)
const chosen = commands[command]
if (chosen === undefined) {
  console.error(`unknown command ${command}; usage: ragkit serve | ragkit worker`)
  process.exitCode = 2
} else {
  NodeRuntime.runMain(Layer.launch(Layer.unwrapEffect(chosen)))
}
