/**
 * Test support shared by the OpenAI-compatible and Ollama tests: a real HTTP server on
 * 127.0.0.1 (port 0) whose handler plays the remote API, a port nobody listens on, and a tenant
 * of its own on the memory engine.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { Caller, RecordStore, TenantMember, type UserId } from "@ragkit/core"
import { aTenant, anId, stamps } from "@ragkit/core/testing"
import { Effect } from "effect"

/** A request as the server received it. */
export interface Received {
  readonly method: string
  readonly path: string
  readonly authorization: string | undefined
  readonly contentType: string | undefined
  /** The parsed JSON body (`undefined` if the body was not JSON). */
  readonly body: unknown
  /** When the request arrived (`Date.now()`, once its body was read). */
  readonly at: number
}

/** Answers one request; `body` is the parsed JSON. */
export type Handler = (request: Received, response: ServerResponse) => void

export interface TestServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  readonly received: Array<Received>
}

const readBody = (request: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    request.on("error", reject)
  })

/** Starts a server for the scope; closing it drops every open connection (hanging answers too). */
export const startServer = (handler: Handler) =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: TestServer; readonly close: () => Promise<void> }>((resume) => {
      const received: Array<Received> = []
      const sockets = new Set<Socket>()
      const server = createServer((request, response) => {
        void readBody(request).then((text) => {
          let body: unknown = undefined
          try {
            body = JSON.parse(text)
          } catch {
            body = undefined
          }
          const entry: Received = {
            method: request.method ?? "",
            path: request.url ?? "",
            authorization: request.headers.authorization,
            contentType: request.headers["content-type"],
            body,
            at: Date.now()
          }
          received.push(entry)
          handler(entry, response)
        })
      })
      server.on("connection", (socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(
          Effect.succeed({
            server: { url: `http://127.0.0.1:${port}`, received },
            close: () =>
              new Promise<void>((resolve) => {
                for (const socket of sockets) socket.destroy()
                server.close(() => resolve())
              })
          })
        )
      })
    }),
    ({ close }) => Effect.promise(close)
  ).pipe(Effect.map(({ server }) => server))

/** A URL on 127.0.0.1 where nothing listens: a server is opened on port 0 and closed again. */
export const closedPortUrl = Effect.async<string>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo
    server.close(() => resume(Effect.succeed(`http://127.0.0.1:${port}`)))
  })
})

export const json = (response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
  response.writeHead(status, { "content-type": "application/json", ...headers })
  response.end(JSON.stringify(body))
}

/** A tenant of its own on the memory record store, and its owner as the caller. */
export const newCaller = Effect.gen(function*() {
  const store = yield* RecordStore.RecordStore
  const tenant = aTenant()
  yield* store.tenants.insert(tenant)
  const userId = tenant.id as string as UserId
  yield* store.members.insert(
    new TenantMember({ id: anId(), tenant_id: tenant.id, user_id: userId, invited_by: userId, role: "owner", status: "1", ...stamps() })
  )
  return new Caller({ tenantId: tenant.id, userId })
})

/** Words as the fake servers count them (lower-cased letter/digit runs). */
export const words = (text: string): Array<string> => text.toLowerCase().split(/[^\p{L}\p{M}\p{N}]+/u).filter((w) => w.length > 0)
