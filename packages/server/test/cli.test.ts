/**
 * The `ragkit` command, run as users run it: the real bin in a child process (tsx).
 *
 * - `--help`, `--version`, an unknown command, bad flags, variables and config files: answered at
 *   once (before the engine is built), the key named (a port that is taken: shutdown.test.ts).
 * - On one data directory: `migrate`, `user create` (password on stdin), `token create` (the key
 *   on stdout, alone), then `serve` with registration closed, JSON logs and traces sent to a small
 *   OTLP receiver: the key works, sign-up is refused, every log line is JSON with the request's
 *   annotations, no secret is printed; on SIGTERM the listener closes at once, a request in flight
 *   finishes, the process exits 0 and the traces arrive.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { createServer, type IncomingMessage, type Server } from "node:http"
import { connect, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const bin = fileURLToPath(new URL("../src/bin.ts", import.meta.url))

/** Only what the commands need: no RAGKIT_* variable of the machine running the tests. */
const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("RAGKIT_") && !k.startsWith("OTEL_")))

interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const start = (args: ReadonlyArray<string>, env: Record<string, string> = {}): ChildProcess & { out: Array<string>; err: Array<string> } => {
  const child = spawn(process.execPath, ["--import", "tsx", bin, ...args], { env: { ...baseEnv, ...env }, stdio: ["pipe", "pipe", "pipe"] })
  const out: Array<string> = []
  const err: Array<string> = []
  child.stdout!.on("data", (b: Buffer) => out.push(b.toString()))
  child.stderr!.on("data", (b: Buffer) => err.push(b.toString()))
  return Object.assign(child, { out, err })
}

const exited = (child: ReturnType<typeof start>): Promise<Ran> =>
  new Promise((resolve) => {
    const done = () => resolve({ code: child.exitCode, stdout: child.out.join(""), stderr: child.err.join("") })
    if (child.exitCode !== null) return done()
    child.once("exit", () => setImmediate(done))
  })

const ragkit = (args: ReadonlyArray<string>, env: Record<string, string> = {}, stdin?: string): Promise<Ran> => {
  const child = start(args, env)
  child.stdin!.end(stdin ?? "")
  return exited(child)
}

const until = async <A>(what: string, get: () => A | Promise<A>, ok: (a: A) => boolean, timeoutMs = 120_000): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await get()
    if (ok(value)) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value: ${String(value).slice(0, 3000)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ragkit-cli-"))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

describe("ragkit's command line", () => {
  it("answers --help, --version, unknown commands and bad settings at once, naming the key", async () => {
    const bad = join(dir, "bad.json")
    await writeFile(bad, JSON.stringify({ limits: { uploadMb: 0 }, auth: { registration: "sometimes" }, providers: [] }))
    const [help, version, unknown, flagAndVariable, file] = await Promise.all([
      ragkit(["--help"]),
      ragkit(["--version"]),
      ragkit(["frobnicate"]),
      ragkit(["serve", "--port", "70000", "--config", bad], { RAGKIT_LOG_FORMAT: "xml" }),
      ragkit(["serve", "--config", bad])
    ])
    expect([help.code, help.stdout]).toEqual([0, expect.stringContaining("token create")])
    expect(help.stdout).toContain("serve")
    expect([version.code, version.stdout.trim()]).toEqual([0, "0.0.0"])
    expect(unknown.code).not.toBe(0)
    expect(unknown.stdout + unknown.stderr).toContain("Invalid subcommand for ragkit - use one of 'serve', 'worker', 'migrate', 'user', 'token'")
    expect(unknown.stderr).toContain("usage: ragkit serve | worker")
    expect(file.code).toBe(1)
    for (const key of ["limits.uploadMb: must be an integer between 1", `auth.registration: Expected "open" | "closed", actual "sometimes"`, "providers: is not a known key"]) {
      expect(file.stderr).toContain(`config file ${bad}: ${key}`)
    }
    // A flag's and a variable's mistakes are named as the flag and the variable.
    expect(flagAndVariable.code).toBe(1)
    expect(flagAndVariable.stderr).toContain("--port (port): must be an integer between 0 and 65535")
    expect(flagAndVariable.stderr).toContain(`RAGKIT_LOG_FORMAT (log.format): Expected "text" | "json", actual "xml"`)
  }, 120_000)

  describe("on one data directory", () => {
    let otlp: Server
    const traces: Array<{ url: string; body: string }> = []
    beforeAll(async () => {
      otlp = createServer((req: IncomingMessage, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (c: Buffer) => chunks.push(c))
        req.on("end", () => {
          traces.push({ url: req.url ?? "", body: Buffer.concat(chunks).toString() })
          res.writeHead(200, { "content-type": "application/json" }).end("{}")
        })
      })
      await new Promise<void>((resolve) => otlp.listen(0, "127.0.0.1", resolve))
    })
    afterAll(() => new Promise<void>((resolve) => otlp.close(() => resolve())))

    it("migrate, user create, token create, then serve until SIGTERM", async () => {
      const dataDir = join(dir, "data")
      const providerKey = "sk-never-printed-1234567890"
      const config = join(dir, "ragkit.json")
      await writeFile(
        config,
        JSON.stringify({
          dataDir,
          ocr: false,
          workers: 0,
          limits: { uploadMb: 4 },
          models: { providers: [{ name: "remote", kind: "openai-compatible", baseUrl: "https://llm.example.com/v1", apiKey: providerKey }] }
        })
      )
      const env = { RAGKIT_CONFIG: config, RAGKIT_LOG_FORMAT: "json" }

      const migrated = await ragkit(["migrate"], env)
      expect([migrated.code, migrated.stderr]).toEqual([0, expect.stringContaining("migrations applied")])

      const created = await ragkit(["user", "create", "--email", "Admin@Example.com", "--nickname", "admin"], env, "a-password-1\n")
      expect([created.code, created.stdout]).toEqual([0, expect.stringMatching(/^created user admin@example\.com \(id \w+\)\n$/)])
      const again = await ragkit(["user", "create", "--email", "admin@example.com", "--password", "a-password-1"], env)
      expect(again.code).toBe(1)
      expect(again.stderr).toMatch(/ragkit: .*(exists|registered)/i)

      const token = await ragkit(["token", "create", "--email", "admin@example.com"], env)
      expect(token.code).toBe(0)
      const key = token.stdout.trim()
      expect(key).toMatch(/^ragkit-\S+$/)
      expect(token.stdout).toBe(`${key}\n`)
      expect(token.stderr).not.toContain(key)

      // Flags win over the environment and the file: port 0, registration closed.
      const server = start(["serve", "--port", "0", "--registration", "closed", "--config", config], {
        ...env,
        RAGKIT_REGISTRATION: "open",
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(otlp.address() as { port: number }).port}`,
        OTEL_SERVICE_NAME: "ragkit-cli-test"
      })
      try {
        const listening = await until("the server to listen", () => server.err.join(""), (s) => /Listening on http:\/\/127\.0\.0\.1:\d+/.test(s) || server.exitCode !== null)
        const port = Number(/Listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(listening)?.[1])
        expect(port, listening).toBeGreaterThan(0)
        const base = `http://127.0.0.1:${port}`

        const kbs = await fetch(`${base}/api/v1/kbs/list`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: "{}" })
        expect(((await kbs.json()) as { code: number }).code).toBe(0)
        const register = await fetch(`${base}/api/v1/user/register`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ email: "someone@example.com", nickname: "someone", password: "a-password-2" })
        })
        expect(((await register.json()) as { message: string }).message).toContain("registration is disabled")

        // A request in flight: its body arrives in two parts, the SIGTERM between them.
        const body = JSON.stringify({ email: "admin@example.com", password: "wrong-password" })
        const socket: Socket = connect(port, "127.0.0.1")
        await new Promise<void>((resolve) => socket.once("connect", () => resolve()))
        const response = new Promise<string>((resolve) => {
          let text = ""
          socket.on("data", (b: Buffer) => (text += b.toString()))
          socket.on("close", () => resolve(text))
          socket.on("error", () => resolve(text))
        })
        socket.write(`POST /api/v1/user/login HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 10)}`)
        await new Promise((r) => setTimeout(r, 300))
        server.kill("SIGTERM")
        await until("the server to stop accepting", () => server.err.join(""), (s) => s.includes("stopping: no new connections"), 20_000)
        // New connections are refused at once ...
        const refused = await fetch(`${base}/api/v1/system/ping`).then(() => "accepted", (e: { cause?: { code?: string } }) => e.cause?.code ?? "error")
        expect(refused).toBe("ECONNREFUSED")
        // ... while the request in flight is answered.
        socket.write(body.slice(10))
        expect(await response).toMatch(/^HTTP\/1\.1 \d{3} /)
        const ran = await exited(server)
        expect(ran.code, ran.stderr).toBe(0)

        const lines = ran.stderr.trim().split("\n")
        const logs = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
        expect(logs.every((l) => typeof l.time === "string" && typeof l.level === "string" && typeof l.message === "string")).toBe(true)
        expect(ran.stdout + ran.stderr).not.toContain(providerKey)
        expect(ran.stdout + ran.stderr).not.toContain("a-password-1")

        const exported = await until("traces to arrive", () => traces, (t) => t.some((x) => x.body.includes("ragkit-cli-test")), 20_000)
        expect(exported.every((t) => t.url === "/v1/traces")).toBe(true)
      } finally {
        if (server.exitCode === null) server.kill("SIGKILL")
      }
    }, 600_000)
  })
})
