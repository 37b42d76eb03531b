/**
 * The `ragkit` command.
 *
 *   ragkit serve     run the HTTP server with the engine (embedded defaults unless configured)
 */
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { createServer } from "node:http"
import { ServerConfig } from "./Config.js"
import * as Engine from "./Engine.js"
import * as Http from "./Http.js"

const serve = Effect.gen(function* () {
  const config = yield* ServerConfig
  yield* Effect.logInfo(`ragkit ${Http.version}: data in ${config.dataDir}, listening on ${config.host}:${config.port}`)
  return Http.app.pipe(
    Layer.provide(NodeHttpServer.layer(createServer, { port: config.port, host: config.host })),
    Layer.provide(Engine.layer(config))
  )
})

const [command = "serve"] = process.argv.slice(2)
if (command === "serve") {
  NodeRuntime.runMain(Layer.launch(Layer.unwrapEffect(serve)))
} else {
  console.error(`unknown command ${command}; usage: ragkit serve`)
  process.exitCode = 2
}
