/**
 * Listening, and stopping without dropping work.
 *
 * `listen` is `NodeHttpServer` on the configured address, nowhere else: a port that can't be
 * had (taken, privileged, an address this machine doesn't have) stops the start with a
 * `ListenError` saying why. `graceful` is the first thing released when the server stops
 * (SIGTERM/SIGINT, `NodeRuntime.runMain` interrupting it): it stops accepting connections, closes
 * idle keep-alive connections as they become idle, lets requests in flight finish for up to
 * `shutdownGraceMs`, then cuts what is left (long SSE streams). Only then are the request handler
 * removed, the workers stopped (see `Engine.workerLoop`) and the stores closed, in that order.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Data, Effect, Layer } from "effect"
import { createServer, type Server } from "node:http"
import type { ServerSettings } from "./Config.js"

/** The server could not listen where it was told to. */
export class ListenError extends Data.TaggedError("ListenError")<{ readonly message: string; readonly cause?: unknown }> {}

const why = (cause: unknown, port: number): string => {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code
  switch (code) {
    case "EACCES":
      return port < 1024 ? "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE; use a port of 1024 or more)" : "permission denied"
    case "EADDRINUSE":
      return "the port is in use by another process"
    case "EADDRNOTAVAIL":
      return "this machine has no such address"
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "the host name can't be resolved"
    default:
      return cause instanceof Error ? cause.message : String(cause)
  }
}

/** `NodeHttpServer` on `server`, listening on `host:port` exactly. */
export const listen = (server: Server, settings: Pick<ServerSettings, "host" | "port">) =>
  NodeHttpServer.layer(() => server, { host: settings.host, port: settings.port }).pipe(
    Layer.mapError((error) => {
      const cause = "cause" in error ? error.cause : error
      return new ListenError({ message: `can't listen on ${settings.host}:${settings.port}: ${why(cause, settings.port)}`, cause })
    })
  )

/**
 * Fails at once, before the engine is built, when `host:port` can't be listened on (port 0 is
 * always fine): a start that would fail anyway says so in a second, not after the stores opened.
 */
export const checkPort = (settings: Pick<ServerSettings, "host" | "port">): Effect.Effect<void, ListenError> =>
  settings.port === 0
    ? Effect.void
    : Effect.async<void, ListenError>((resume) => {
      const probe = createServer()
      probe.once("error", (cause) =>
        resume(Effect.fail(new ListenError({ message: `can't listen on ${settings.host}:${settings.port}: ${why(cause, settings.port)}`, cause }))))
      probe.listen({ host: settings.host, port: settings.port, exclusive: true }, () => probe.close(() => resume(Effect.void)))
      return Effect.sync(() => probe.close())
    })

/** Stops `server` accepting, waits for requests in flight up to `graceMs`, then cuts the rest. */
export const close = (server: Server, graceMs: number): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (!server.listening) return resume(Effect.void)
    server.close(() => resume(Effect.void))
    server.closeIdleConnections()
    // A keep-alive connection whose request just finished is closed instead of kept.
    const idle = setInterval(() => server.closeIdleConnections(), 50)
    const cut = setTimeout(() => server.closeAllConnections(), graceMs)
    return Effect.sync(() => {
      clearInterval(idle)
      clearTimeout(cut)
    })
  }).pipe(
    Effect.ensuring(Effect.sync(() => server.closeAllConnections())),
    Effect.withSpan("Server.shutdown")
  )

/**
 * A layer whose release closes `server` gracefully: build it last (on top of the served app) so
 * that it is released first, while the handler and the engine are still there.
 */
export const graceful = (server: Server, settings: Pick<ServerSettings, "shutdownGraceMs">): Layer.Layer<never> =>
  Layer.scopedDiscard(
    Effect.addFinalizer(() =>
      Effect.zipRight(
        Effect.logInfo(`stopping: no new connections; requests in flight have ${settings.shutdownGraceMs} ms to finish`),
        close(server, settings.shutdownGraceMs)
      )
    )
  )
