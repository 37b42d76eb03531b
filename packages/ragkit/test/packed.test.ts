/**
 * The packages as a host gets them (issue 15's acceptance): every published package packed with
 * `pnpm pack` (after `pnpm build`), the tarballs installed with npm into a project outside the
 * workspace, then
 * - a plain `node` ESM script (no tsx, no TypeScript) ingests a folder and retrieves from it with
 *   the embedded preset of `ragkit`;
 * - a TypeScript host (strict, `moduleResolution: nodenext`) type-checks against the packed `.d.ts`.
 * npm's cache sits in `$TMPDIR/ragkit-npm-cache` and the built-in model in
 * `$TMPDIR/ragkit-test-models`, both kept between runs.
 */
import { execFile } from "node:child_process"
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const run = promisify(execFile)
const root = fileURLToPath(new URL("../../../", import.meta.url))
const packagesDir = join(root, "packages")

/** The environment of the host project: none of the workspace's development condition. */
const hostEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "NODE_OPTIONS" && !k.startsWith("RAGKIT_") && !k.startsWith("npm_")))

const published = async (): Promise<Array<{ readonly dir: string; readonly name: string }>> => {
  const all = await Promise.all(
    (await readdir(packagesDir)).map(async (entry) => {
      const dir = join(packagesDir, entry)
      const pkg = JSON.parse(await readFile(join(dir, "package.json"), "utf8").catch(() => "{\"private\":true}")) as { name?: string; private?: boolean }
      return pkg.private === true || pkg.name === undefined ? [] : [{ dir, name: pkg.name }]
    })
  )
  return all.flat()
}

/** What a script printed on its `RESULT <json>` line (the engine logs to stdout too). */
const resultOf = (stdout: string): unknown => {
  const line = stdout.split("\n").find((l) => l.startsWith("RESULT "))
  if (line === undefined) throw new Error(`the script printed no RESULT line:\n${stdout}`)
  return JSON.parse(line.slice("RESULT ".length))
}

const ingestScript = `
import { createRag } from "ragkit"

const [dataDir, folder, question] = process.argv.slice(2)
const rag = await createRag({ dataDir })
try {
  const docs = await rag.ingest(folder)
  const chunks = await rag.retrieve(question)
  console.log("RESULT " + JSON.stringify({ docs: docs.map((d) => [d.name, d.run]), top: chunks[0]?.documentName, content: chunks[0]?.content }))
} finally {
  await rag.close()
}
`

/** Parser threads from dist/: each thread starts from `.js`, with no tsx installed. */
const threadsScript = `
import { DocumentPreparer } from "@ragkit/core"
import * as ParserThreads from "@ragkit/parsers/threads"
import { Effect } from "effect"

const prepared = await Effect.runPromise(
  Effect.scoped(
    Effect.gen(function* () {
      const pool = yield* DocumentPreparer.DocumentPreparer
      const bytes = new TextEncoder().encode("Otters eat fish and crabs.")
      return yield* pool.prepare({ bytes, fileName: "otters.txt", parserId: "naive", parserConfig: {} })
    }).pipe(Effect.provide(ParserThreads.layer({ threads: 1 })))
  )
)
console.log("RESULT " + JSON.stringify(prepared.chunks.map((c) => c.content)))
`

const hostSource = `
import { createRag, type EmbeddedRag, type RetrievedChunk } from "ragkit"
import { Rag } from "ragkit"
import { Effect, Layer } from "effect"
import * as Core from "@ragkit/core"
import { makeClient } from "@ragkit/client"
import * as Server from "@ragkit/server"
import { BuiltinModels } from "@ragkit/adapters/builtin"
import { LanceChunkIndex } from "@ragkit/store-lancedb"
import { S3BlobStore } from "@ragkit/store-s3"
import * as Parsers from "@ragkit/parsers"

export const main = async (): Promise<string | undefined> => {
  const rag: EmbeddedRag = await createRag({ dataDir: "./data" })
  const docs = await rag.ingest("./docs")
  const names: ReadonlyArray<string> = docs.map((d) => d.name)
  const chunks: ReadonlyArray<RetrievedChunk> = await rag.retrieve("How often?", { topN: 3 })
  // @ts-expect-error a question is a string
  await rag.retrieve(42)
  await rag.close()
  return names[0] ?? chunks[0]?.documentName
}

// Effect hosts: the preset as a layer.
export const program: Effect.Effect<number, unknown> = Effect.provide(Effect.succeed(1), Rag.embedded({ dataDir: "./data" }))
// Blobs on S3: the plugin's layer provides core's port (nothing is loaded or called until it is built).
export const blobs: Layer.Layer<Core.BlobStore.BlobStore, Core.BlobStoreError> = S3BlobStore.layer({ bucket: "docs", region: "eu-west-1" })
export const touched = [Rag, Core.Rag, makeClient, Server, BuiltinModels, LanceChunkIndex, S3BlobStore, Parsers] as const
`

describe("the published packages, packed and installed with npm outside the workspace", () => {
  let work: string
  let project: string
  const timings: Array<string> = []

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "ragkit-packed-"))
    project = join(work, "host")
    const tarballs = join(work, "tarballs")
    await mkdir(project, { recursive: true })
    await mkdir(tarballs, { recursive: true })
    let t = Date.now()
    // Incremental: a no-op when `pnpm test` built just before.
    await run("pnpm", ["run", "build"], { cwd: root })
    const packages = await published()
    await Promise.all(packages.map(({ dir }) => run("pnpm", ["pack", "--pack-destination", tarballs], { cwd: dir })))
    timings.push(`build+pack ${Date.now() - t} ms`)
    const files = await readdir(tarballs)
    const fileOf = (name: string) => {
      const prefix = name.replace(/^@/, "").replace("/", "-") + "-"
      const file = files.find((f) => f.startsWith(prefix) && /^\d/.test(f.slice(prefix.length)))
      if (file === undefined) throw new Error(`no tarball for ${name} in ${files.join(", ")}`)
      return `file:${join(tarballs, file)}`
    }
    const dependencies = Object.fromEntries(packages.map(({ name }) => [name, fileOf(name)]))
    await writeFile(
      join(project, "package.json"),
      JSON.stringify({
        name: "ragkit-packed-host",
        private: true,
        type: "module",
        dependencies,
        // Our packages depend on each other at 0.0.0: take the tarballs, never the registry.
        overrides: Object.fromEntries(packages.map(({ name }) => [name, `$${name}`])),
        devDependencies: { "@types/node": "20.19.43" }
      }, null, 2)
    )
    t = Date.now()
    await run("npm", ["install", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline", "--cache", join(tmpdir(), "ragkit-npm-cache")], {
      cwd: project,
      env: hostEnv,
      maxBuffer: 16 * 1024 * 1024
    })
    timings.push(`npm install ${Date.now() - t} ms`)
  }, 900_000)

  afterAll(async () => {
    console.log(`packed test: ${timings.join(", ")}`)
    if (work !== undefined) await rm(work, { recursive: true, force: true })
  })

  it("a plain node ESM script ingests a folder and retrieves from it with the embedded preset", async () => {
    const docs = join(work, "docs")
    await mkdir(join(docs, "notes"), { recursive: true })
    await writeFile(join(docs, "notes", "otters.txt"), "Sea otters hold hands while they sleep so that they do not drift apart.\n")
    await writeFile(join(docs, "garden.md"), "# Garden\n\nWater the tomatoes in the morning and mulch the beds in spring.\n")
    const dataDir = join(work, "data")
    await mkdir(dataDir)
    // The built-in model's cache, shared with the server's tests (built once per machine).
    const models = join(tmpdir(), "ragkit-test-models")
    await mkdir(models, { recursive: true })
    await symlink(models, join(dataDir, "models"))
    await writeFile(join(project, "ingest.mjs"), ingestScript)
    const t = Date.now()
    const { stdout } = await run(process.execPath, ["ingest.mjs", dataDir, docs, "Why do sea otters hold hands?"], { cwd: project, env: hostEnv })
    timings.push(`node ingest+retrieve ${Date.now() - t} ms`)
    const result = resultOf(stdout) as { docs: Array<[string, string]>; top: string; content: string }
    expect(result.docs).toEqual([["garden.md", "DONE"], ["otters.txt", "DONE"]])
    expect(result.top).toBe("otters.txt")
    expect(result.content).toContain("Sea otters hold hands")
  }, 300_000)

  it("parser threads start from the built .js files, without tsx", async () => {
    expect(await readdir(join(project, "node_modules"))).not.toContain("tsx")
    await writeFile(join(project, "threads.mjs"), threadsScript)
    const { stdout } = await run(process.execPath, ["threads.mjs"], { cwd: project, env: hostEnv })
    expect(resultOf(stdout)).toEqual(["Otters eat fish and crabs."])
  }, 120_000)

  it("the ragkit command runs from the built package", async () => {
    const { stdout } = await run(join(project, "node_modules/.bin/ragkit"), ["--version"], { cwd: project, env: hostEnv })
    const { version } = JSON.parse(await readFile(join(packagesDir, "server/package.json"), "utf8")) as { version: string }
    expect(stdout.trim()).toBe(version)
  }, 60_000)

  it("a strict TypeScript host type-checks against the packed declarations", async () => {
    await writeFile(join(project, "host.ts"), hostSource)
    await writeFile(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, skipLibCheck: true, types: ["node"] },
        files: ["host.ts"]
      })
    )
    /** tsc's diagnostics for a tsconfig of the host project, "" when it type-checks. */
    const typeCheck = (tsconfig: string) =>
      run(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(project, tsconfig)], { cwd: project, env: hostEnv }).then(
        () => "",
        (error: { stdout?: string }) => error.stdout ?? String(error)
      )
    const t = Date.now()
    const checked = await typeCheck("tsconfig.json")
    timings.push(`tsc host ${Date.now() - t} ms`)
    expect(checked).toBe("")
    // A wrong call is caught (the declarations are really there, not `any`).
    await writeFile(join(project, "wrong.ts"), `import { createRag } from "ragkit"\nexport const r = createRag({ dataDirectory: "./data" })\n`)
    await writeFile(join(project, "tsconfig.wrong.json"), JSON.stringify({ extends: "./tsconfig.json", files: ["wrong.ts"] }))
    expect(await typeCheck("tsconfig.wrong.json")).toContain("dataDirectory")
  }, 120_000)
})
