/** What the benchmarks that start the real server share: a free port, and a client of the seed API. */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"

export { freePort } from "@ragkit/fixtures/net"

/** A seed API call: `POST /api/v1/<path>` with a JSON body or a form; the envelope's `data`, or throws. */
export type Call = (path: string, body?: unknown, form?: FormData) => Promise<any>

export const client = (base: string, token?: string): Call => async (path, body, form) => {
  const headers: Record<string, string> = {}
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  if (form === undefined) headers["content-type"] = "application/json"
  const response = await fetch(`${base}/api/v1/${path}`, {
    method: "POST",
    headers,
    body: form ?? JSON.stringify(body ?? {})
  })
  const text = await response.text()
  let envelope: any
  try {
    envelope = JSON.parse(text)
  } catch {
    envelope = undefined
  }
  if (response.status !== 200 || envelope?.code !== 0) throw new Error(`${path}: ${response.status} ${text.slice(0, 500)}`)
  return envelope.data
}

/**
 * Spawns the server (`command`, from `cwd`, in its own process group) on `port` with `dataDir` and no
 * `RAGKIT_*` / `OTEL_*` variable of this shell, and polls `GET /api/v1/system/ping` every `pollMs`
 * until it answers: the child, its output so far, its URL and the seconds from spawn to listening.
 */
export const spawnServer = async (options: {
  readonly command: ReadonlyArray<string>
  readonly cwd: string
  readonly dataDir: string
  readonly port: number
  readonly pollMs: number
}) => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("RAGKIT_") && !name.startsWith("OTEL_")))
  const output: Array<string> = []
  const spawned = performance.now()
  const child: ChildProcess = spawn(options.command[0]!, options.command.slice(1), {
    cwd: options.cwd,
    env: { ...env, RAGKIT_DATA_DIR: options.dataDir, RAGKIT_PORT: String(options.port) },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true
  })
  child.stdout!.on("data", (b: Buffer) => output.push(b.toString()))
  child.stderr!.on("data", (b: Buffer) => output.push(b.toString()))
  const url = `http://127.0.0.1:${options.port}`
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited:\n${output.join("")}`)
    if (await fetch(`${url}/api/v1/system/ping`).then((r) => r.ok, () => false)) break
    if (performance.now() - spawned > 300_000) throw new Error(`the server did not start:\n${output.join("")}`)
    await new Promise((r) => setTimeout(r, options.pollMs))
  }
  return { child, output, url, listeningS: (performance.now() - spawned) / 1000 }
}

/**
 * Builds the packages whose `dist/` is older than their sources, as `pnpm start` would on its
 * start (`scripts/start.mjs --version`), so that a timed spawn of the built server or worker does
 * not include the build. `nodeArgs`: node flags to run it with (e.g. the start script's).
 */
export const buildStalePackages = (nodeArgs: ReadonlyArray<string> = []): void => {
  const script = fileURLToPath(new URL("../../scripts/start.mjs", import.meta.url))
  const built = spawnSync(process.execPath, [...nodeArgs, script, "--version"], { stdio: ["ignore", "ignore", "inherit"] })
  if (built.status !== 0) throw new Error("scripts/start.mjs --version (the build of stale packages) failed")
}
