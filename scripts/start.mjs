/**
 * `pnpm start` (`node --liftoff-only scripts/start.mjs serve`): the `ragkit` command run from the
 * built packages, in this process, with the arguments given (`serve`, `worker`, `migrate`, ...).
 *
 * The packages are built (`tsc -b tsconfig.build.json`) first when a `dist/` is missing or older
 * than a file of its package's `src/` (or its `tsconfig.build.json` / `package.json`): a fresh clone
 * builds on its first start, a start after an edit or a pull rebuilds what changed, and otherwise
 * the check takes a few tens of milliseconds. Running the built JavaScript instead of the sources through
 * tsx saves tsx's transformed sources and source maps (~100 MiB) and a second of start-up; see
 * bench/README.md, "The server at rest". `pnpm ragkit <command>` still runs the sources (tsx).
 *
 * `--liftoff-only` (in package.json, a V8 flag): WebAssembly (PGlite's Postgres, tiktoken) runs on
 * V8's baseline compiler only. The optimizing tier holds ~60 MiB more at rest and costs start-up
 * CPU; PGlite's queries take about the same CPU either way, token counting ~35% more. Run
 * `node scripts/start.mjs serve` without the flag for the other trade.
 */
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const root = fileURLToPath(new URL("../", import.meta.url))

/** The newest modification time (ms) of the files under `dir`, 0 when there are none. */
const newest = (dir) => {
  let latest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) latest = Math.max(latest, newest(path))
    else if (entry.isFile()) latest = Math.max(latest, statSync(path).mtimeMs)
  }
  return latest
}

const mtime = (path) => (existsSync(path) ? statSync(path).mtimeMs : 0)

/** The projects of the root `tsconfig.build.json` whose output is missing or older than a source. */
const stale = () => {
  const { references } = JSON.parse(readFileSync(join(root, "tsconfig.build.json"), "utf8"))
  return references.map((ref) => join(root, ref.path)).filter((config) => {
    const dir = dirname(config)
    const options = JSON.parse(readFileSync(config, "utf8")).compilerOptions ?? {}
    const built = mtime(join(dir, options.tsBuildInfoFile ?? "dist/.tsbuildinfo"))
    const sources = Math.max(mtime(config), mtime(join(dir, "package.json")), existsSync(join(dir, "src")) ? newest(join(dir, "src")) : 0)
    return built === 0 || sources > built
  })
}

const outdated = stale()
if (outdated.length > 0) {
  const names = outdated.map((config) => dirname(config).slice(root.length)).join(", ")
  process.stderr.write(`ragkit: building the packages (tsc -b tsconfig.build.json; changed: ${names})...\n`)
  const tsc = createRequire(join(root, "package.json")).resolve("typescript/bin/tsc")
  const built = spawnSync(process.execPath, [tsc, "-b", "tsconfig.build.json"], { cwd: root, stdio: "inherit" })
  if (built.status !== 0) {
    // tsc -b still emits what it could: start from that when the entry point is there.
    if (!existsSync(join(root, "packages/server/dist/bin.js"))) process.exit(built.status ?? 1)
    process.stderr.write("ragkit: the build reported errors (above); starting from what it emitted\n")
  }
}

await import(pathToFileURL(join(root, "packages/server/dist/bin.js")).href)
