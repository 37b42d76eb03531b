/**
 * Listening exactly where told, and closing gracefully: real Node HTTP servers on loopback.
 */
import { Effect } from "effect"
import { createServer, get, type Server } from "node:http"
import { describe, expect, it } from "vitest"
import * as Shutdown from "../src/Shutdown.js"

const listening = (server: Server) =>
  new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)))

/** A GET's status and body, or how it ended. */
const request = (port: number, path: string) =>
  new Promise<string>((resolve) => {
    get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      let body = ""
      res.on("data", (c: Buffer) => (body += c.toString()))
      res.on("end", () => resolve(`${res.statusCode} ${body}`))
      res.on("error", () => resolve(`cut after "${body}"`))
      res.on("aborted", () => resolve(`cut after "${body}"`))
    }).on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"))
  })

describe("listening", () => {
  it("a port that can't be had fails at once, saying why", async () => {
    const taken = createServer()
    const port = await listening(taken)
    try {
      const inUse = await Effect.runPromise(Effect.flip(Shutdown.checkPort({ host: "127.0.0.1", port })))
      expect(inUse.message).toBe(`can't listen on 127.0.0.1:${port}: the port is in use by another process`)
      const elsewhere = await Effect.runPromise(Effect.flip(Shutdown.checkPort({ host: "192.0.2.1", port: 9400 })))
      expect(elsewhere.message).toBe("can't listen on 192.0.2.1:9400: this machine has no such address")
      await Effect.runPromise(Shutdown.checkPort({ host: "127.0.0.1", port: 0 }))
    } finally {
      taken.close()
    }
  })
})

describe("closing", () => {
  it("refuses new connections, lets requests in flight finish within the grace and cuts the rest", async () => {
    const server = createServer((req, res) => {
      if (req.url === "/quick") {
        setTimeout(() => res.end("done"), 200)
      } else {
        // A stream that never ends (an SSE answer).
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.write("data: 1\n\n")
      }
    })
    const port = await listening(server)
    const quick = request(port, "/quick")
    const endless = request(port, "/stream")
    await new Promise((r) => setTimeout(r, 50))
    const started = Date.now()
    const closing = Effect.runPromise(Shutdown.close(server, 600))
    await new Promise((r) => setTimeout(r, 50))
    expect(await request(port, "/quick")).toBe("ECONNREFUSED")
    expect(await quick).toBe("200 done")
    await closing
    expect(await endless).toBe(`cut after "data: 1\n\n"`)
    expect(Date.now() - started).toBeGreaterThanOrEqual(550)
    expect(Date.now() - started).toBeLessThan(3_000)
  })
})
