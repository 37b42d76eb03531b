/**
 * What importing `@ragkit/core` costs a host: none of the heavy or native packages (jieba's binary,
 * tiktoken's WebAssembly, onnxruntime, PGlite, LanceDB) is loaded until it is used.
 *
 * A plain `node` process imports the package (its sources, through tsx) with a loader hook that logs
 * every module the ESM loader resolves, and then lists the CommonJS modules it required. The second
 * case is the control: counting tokens does load tiktoken, and the same check sees it.
 */
import { execFile } from "node:child_process"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"

const run = promisify(execFile)
const packageDir = fileURLToPath(new URL("..", import.meta.url))
const hook = fileURLToPath(new URL("./support/registerResolveLog.mjs", import.meta.url))

const heavy = /tiktoken|@node-rs[+/]jieba|onnxruntime|@electric-sql[+/]pglite|@lancedb/

/** Every module a script loaded: the ESM loader's resolutions and the CommonJS cache at its end. */
const loadedBy = async (script: string): Promise<ReadonlyArray<string>> => {
  const dir = await mkdtemp(join(tmpdir(), "ragkit-import-"))
  const log = join(dir, "resolved.log")
  try {
    const { stdout } = await run(
      process.execPath,
      ["--import", "tsx", "--import", hook, "--input-type=module", "-e", `${script}
const { createRequire } = await import("node:module")
console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)))`],
      { cwd: packageDir, env: { ...process.env, RAGKIT_RESOLVE_LOG: log } }
    )
    const required: ReadonlyArray<string> = JSON.parse(stdout.trim().split("\n").at(-1)!)
    const resolved = (await readFile(log, "utf8")).split("\n").filter((l) => l !== "")
    return [...resolved, ...required]
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

describe("importing @ragkit/core", () => {
  it("loads no heavy or native package", async () => {
    const loaded = await loadedBy(`const core = await import("@ragkit/core"); if (typeof core.Tokenizer.layer !== "object") throw new Error("no Tokenizer")`)
    expect(loaded.some((url) => url.includes("packages/core/src/index.ts"))).toBe(true)
    expect(loaded.filter((url) => heavy.test(url))).toEqual([])
  }, 60_000)

  it("loads tiktoken on the first count, and jieba on the first Chinese text (the check sees them)", async () => {
    const loaded = await loadedBy(`const { Tokenizer } = await import("@ragkit/core")
const { Effect } = await import("effect")
await Effect.runPromise(Effect.scoped(Effect.map(Tokenizer.make, (t) => [t.countTokens("hello world"), t.tokenize("中文分词")])))`)
    expect(loaded.some((url) => /tiktoken/.test(url))).toBe(true)
    expect(loaded.some((url) => /@node-rs[+/]jieba/.test(url))).toBe(true)
  }, 60_000)
})
