/**
 * The `ragkit` command as a child process from the repository's root, run from the sources as
 * `pnpm ragkit` runs it (`tsx packages/server/src/bin.ts <command>`), or with `{ asPnpmStart: true }`
 * as `pnpm start` runs it (the root package.json's `start` script: the built packages, built first
 * when stale), with only the `RAGKIT_*` variables a test gives: none of the test runner's leak in
 * (`RAGKIT_TEST_PG_URL` and the like).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { mkdir, mkdtemp, symlink } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { expect } from "vitest"

export const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url))

export interface RagkitProcess {
  readonly child: ChildProcess
  /** Everything it wrote to stdout and stderr so far. */
  readonly log: () => string
  /** SIGTERM (or `signal`) to its process group, then waits for it to exit; its exit code. */
  readonly stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

/**
 * A new, empty data directory, except that its `models` folder is shared by the tests of this
 * machine (`$TMPDIR/ragkit-test-models`): the built-in GloVe model is built there once (half a
 * minute) instead of at every start. Builds write under unique names and rename, so tests that
 * start at once may share it.
 */
export const freshDataDir = async (prefix: string): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  const models = join(tmpdir(), "ragkit-test-models")
  await mkdir(models, { recursive: true })
  await symlink(models, join(dir, "models"))
  return dir
}

export { freePort } from "@ragkit/fixtures/net"

/** The root package.json's `start` script (`node ... scripts/start.mjs serve`) as a command line, without `serve`. */
const pnpmStart = (): Array<string> => {
  const words: Array<string> = JSON.parse(readFileSync(`${repoRoot}package.json`, "utf8")).scripts.start.split(/\s+/)
  const command = words.at(-1) === "serve" ? words.slice(0, -1) : words
  return command[0] === "node" ? [process.execPath, ...command.slice(1)] : command
}

export const startRagkit = (
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  options: { readonly asPnpmStart?: boolean } = {}
): RagkitProcess => {
  const inherited: Record<string, string | undefined> = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("RAGKIT_"))
  )
  // The test runner's `--conditions=development` (vitest.config.ts) would send the built server to
  // the sources: `pnpm start` runs without it.
  if (options.asPnpmStart === true) {
    inherited.NODE_OPTIONS = (inherited.NODE_OPTIONS ?? "").replaceAll("--conditions=development", "").trim()
  }
  const [command, ...prefix] = options.asPnpmStart === true
    ? pnpmStart()
    : [`${repoRoot}node_modules/.bin/tsx`, "packages/server/src/bin.ts"]
  const child = spawn(command!, [...prefix, ...args], {
    cwd: repoRoot,
    env: { ...inherited, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group: stopping it stops tsx's node child too.
    detached: true
  })
  const chunks: Array<string> = []
  child.stdout!.on("data", (b: Buffer) => chunks.push(b.toString()))
  child.stderr!.on("data", (b: Buffer) => chunks.push(b.toString()))
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, signal)
      } catch {
        // already gone
      }
    }
    return exited
  }
  return { child, log: () => chunks.join(""), stop }
}

/** Waits until `url` answers 200 (the server is up); fails with the log if the process exits first. */
export const waitUntilServing = async (server: RagkitProcess, url: string, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      throw new Error(`ragkit exited (${server.child.exitCode ?? server.child.signalCode}) before serving:\n${server.log()}`)
    }
    const up = await fetch(url, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false)
    if (up) return
    if (Date.now() > deadline) throw new Error(`ragkit did not serve ${url} within ${timeoutMs} ms:\n${server.log()}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

/**
 * A seed API call to the server at `api` (`http://host:port/api/v1`), with JSON or a form (POST)
 * or none (`get`): the envelope's `data`, after checking HTTP 200 and `code` 0.
 */
export const seedCall = async (
  api: string,
  path: string,
  options: { token?: string; json?: unknown; form?: FormData; get?: boolean } = {}
): Promise<any> => {
  const headers: Record<string, string> = {}
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
  if (options.json !== undefined) headers["content-type"] = "application/json"
  const response = await fetch(`${api}${path}`, {
    method: options.get === true ? "GET" : "POST",
    headers,
    body: options.form ?? (options.json === undefined ? null : JSON.stringify(options.json))
  })
  const body = (await response.json()) as { code: number; data: unknown }
  expect([response.status, body.code], `${path}: ${JSON.stringify(body)}`).toEqual([200, 0])
  return body.data
}
