/**
 * What importing a package costs a host: every module a plain `node` process loads. Shared by the
 * `ImportCost.test.ts` of each package.
 *
 * The script runs in a child `node` (our sources through tsx, with the workspace's `development`
 * export condition) with a loader hook that logs every URL the ESM loader resolves; at its end the
 * CommonJS modules it required are listed too.
 */
import { execFile } from "node:child_process"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"

const run = promisify(execFile)
const hook = fileURLToPath(new URL("./registerResolveLog.mjs", import.meta.url))

/** Heavy or native packages, by the path they load from. */
export const heavy = {
  onnxruntime: /onnxruntime/,
  hfTokenizers: /@huggingface[+/]tokenizers/,
  pglite: /@electric-sql[+/]pglite/,
  lancedb: /@lancedb|apache-arrow/,
  ocr: /@gutenye[+/]ocr|[/+]sharp[@/]/,
  unstructured: /unstructured-client/,
  jieba: /@node-rs[+/]jieba/,
  tiktoken: /tiktoken/,
  wink: /wink-embeddings/,
  awsSdk: /@aws-sdk[+/]/
} as const

/** The modules of `loaded` that match any of `patterns`. */
export const matching = (loaded: ReadonlyArray<string>, patterns: ReadonlyArray<RegExp>): ReadonlyArray<string> =>
  loaded.filter((url) => patterns.some((pattern) => pattern.test(url)))

/**
 * Every module an ES module script loaded, run from `packageDir` (so it imports what that package
 * depends on): the ESM loader's resolutions and the CommonJS cache at its end.
 */
export const loadedBy = async (packageDir: string, script: string): Promise<ReadonlyArray<string>> => {
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
