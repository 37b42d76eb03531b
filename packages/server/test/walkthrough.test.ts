/**
 * The README's walkthrough, exactly as written between `<!-- walkthrough:start -->` and
 * `<!-- walkthrough:end -->`, run in bash (`set -e -o pipefail`) against a fresh `pnpm start`
 * (embedded defaults, built-in models; a new data directory, only the GloVe model cache shared, see
 * `freshDataDir`) on a free port: every command succeeds, the PDF is parsed (`run` "3" with
 * chunks) and the answer quotes the manual with a reference to the PDF.
 */
import { spawnSync } from "node:child_process"
import { readFile, rm } from "node:fs/promises"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort, freshDataDir, type RagkitProcess, repoRoot, startRagkit, waitUntilServing } from "./support/ragkitProcess.js"

const README_URL = "http://127.0.0.1:9380"

/** The shell block between the markers, in paragraphs (a step: the lines up to a blank line). */
const walkthroughSteps = (readme: string): ReadonlyArray<string> => {
  const marked = /<!-- walkthrough:start -->\s*```sh\n([\s\S]*?)```\s*<!-- walkthrough:end -->/.exec(readme)
  if (marked === null) throw new Error("README.md has no walkthrough:start/end block")
  return marked[1]!.split(/\n\s*\n/).map((step) => step.trim()).filter((step) => step !== "")
}

/** What each step printed: its stdout between markers the test adds after it. */
const runSteps = (steps: ReadonlyArray<string>, baseUrl: string) => {
  const script = [
    "set -e -o pipefail",
    ...steps.map((step, i) => `${step.replaceAll(README_URL, baseUrl)}\nprintf '\\n@@step ${i}\\n'`)
  ].join("\n")
  const result = spawnSync("bash", ["-c", script], { cwd: repoRoot, encoding: "utf8", timeout: 120_000 })
  const outputs = result.stdout.split(/@@step \d+\n/).map((out) => out.trim())
  return { status: result.status, stderr: result.stderr, stdout: result.stdout, outputs: outputs.slice(0, -1) }
}

describe("the README walkthrough", () => {
  let server: RagkitProcess
  let dataDir: string
  let baseUrl: string

  beforeAll(async () => {
    dataDir = await freshDataDir("ragkit-walkthrough-")
    const port = await freePort()
    baseUrl = `http://127.0.0.1:${port}`
    server = startRagkit(["serve"], { RAGKIT_DATA_DIR: dataDir, RAGKIT_PORT: String(port) }, { asPnpmStart: true })
    await waitUntilServing(server, `${baseUrl}/api/v1/system/ping`, 170_000)
  }, 180_000)

  afterAll(async () => {
    await server?.stop()
    await rm(dataDir, { recursive: true, force: true })
  }, 60_000)

  it("runs against a fresh `pnpm start`: every command succeeds, the PDF is parsed and the answer cites it", async () => {
    const steps = walkthroughSteps(await readFile(join(repoRoot, "README.md"), "utf8"))
    const commands = steps.join("\n")
    for (const path of ["user/register", "user/login", "system/new_token", "kbs/create", "documents/upload", "documents/run", "documents/list", "dialogs/set", "conversations/set", "conversations/completion"]) {
      expect(commands).toContain(`$RAGKIT/${path}`)
    }
    expect(commands).toContain(README_URL)

    const run = runSteps(steps, baseUrl)
    const report = `stdout:\n${run.stdout}\nstderr:\n${run.stderr}\nserver:\n${server.log().slice(-4_000)}`
    expect(run.status, report).toBe(0)
    expect(run.outputs, report).toHaveLength(steps.length)

    const printed = (command: string) => {
      const i = steps.findIndex((step) => step.includes(command))
      expect(i, `no step runs ${command}`).toBeGreaterThanOrEqual(0)
      return run.outputs[i]!
    }
    expect(printed("user/register")).toMatch(/welcome/i)
    expect(printed("documents/run").split("\n").at(-1)).toBe("true")

    const doc = JSON.parse(printed("documents/list"))
    expect([doc.name, doc.run], report).toEqual(["aurora-manual.pdf", "3"])
    expect(doc.chunk_num).toBeGreaterThan(0)

    const answer = JSON.parse(printed("conversations/completion"))
    expect(answer.answer, report).toMatch(/descale/i)
    expect(answer.reference.doc_aggs.map((d: { doc_name: string }) => d.doc_name)).toContain("aurora-manual.pdf")
    expect(answer.reference.chunks.length).toBeGreaterThan(0)
    expect(answer.reference.chunks[0].document_name).toBe("aurora-manual.pdf")
  }, 150_000)
})
