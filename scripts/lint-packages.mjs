// Checks every published package as npm will ship it (run after `pnpm build`):
// - each `exports` subpath has the conditions `development` (sources, for the workspace), `types`
//   and `import` (dist), in that order, and `files` ships dist/ and src/ (for declaration maps);
// - effect and @effect/* are peer dependencies, never dependencies; every package is released in
//   the changeset config's fixed group;
// - publint and @arethetypeswrong/cli (ESM-only profile: no CommonJS entry points by design) on the
//   tarball that `pnpm pack` makes.
import { execFile } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { fileURLToPath } from "node:url"
import { publint } from "publint"
import { formatMessage } from "publint/utils"

const root = fileURLToPath(new URL("..", import.meta.url))
const packagesDir = join(root, "packages")
const published = readdirSync(packagesDir)
  .map((name) => join(packagesDir, name))
  .filter((dir) => {
    try {
      return JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).private !== true
    } catch {
      return false
    }
  })

const problems = []
const shapeOf = (name, subpath, target) => {
  if (target === null) return // a blocked subpath (e.g. "./services/internal/*")
  const keys = typeof target === "object" ? Object.keys(target) : []
  if (keys.join() !== "development,types,import") {
    problems.push(`${name}: exports["${subpath}"] must be { development, types, import }, is ${JSON.stringify(target)}`)
    return
  }
  const { development, types, import: js } = target
  if (!development.startsWith("./src/") || !development.endsWith(".ts")) problems.push(`${name}: exports["${subpath}"].development must be ./src/*.ts`)
  if (!types.startsWith("./dist/") || !types.endsWith(".d.ts")) problems.push(`${name}: exports["${subpath}"].types must be ./dist/*.d.ts`)
  if (!js.startsWith("./dist/") || !js.endsWith(".js")) problems.push(`${name}: exports["${subpath}"].import must be ./dist/*.js`)
}

// Released together: every published package is in the changeset config's fixed group.
const fixed = JSON.parse(readFileSync(join(root, ".changeset/config.json"), "utf8")).fixed.flat()
for (const dir of published) {
  const { name } = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))
  if (!fixed.includes(name)) problems.push(`${name}: missing from .changeset/config.json's fixed group`)
}

const out = mkdtempSync(join(tmpdir(), "ragkit-lint-packages-"))
try {
  const run = promisify(execFile)
  const check = async (dir) => {
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))
    for (const [subpath, target] of Object.entries(pkg.exports ?? {})) shapeOf(pkg.name, subpath, target)
    if (!pkg.exports) problems.push(`${pkg.name}: no exports`)
    for (const folder of ["dist", "src"]) {
      if (!(pkg.files ?? []).includes(folder)) problems.push(`${pkg.name}: files must include ${folder}`)
    }
    for (const name of Object.keys(pkg.dependencies ?? {})) {
      if (name === "effect" || name.startsWith("@effect/")) problems.push(`${pkg.name}: ${name} must be a peer dependency`)
    }

    const dest = mkdtempSync(join(out, "pack-"))
    await run("pnpm", ["pack", "--pack-destination", dest], { cwd: dir })
    const tarball = join(dest, readdirSync(dest)[0])
    const { messages } = await publint({ pack: { tarball: new Uint8Array(readFileSync(tarball)).buffer }, strict: true })
    for (const message of messages) problems.push(`${pkg.name}: publint ${message.type}: ${formatMessage(message, pkg)}`)
    await run(join(root, "node_modules/.bin/attw"), [tarball, "--profile", "esm-only", "--format", "ascii", "--no-emoji", "--no-color"]).catch((error) => {
      problems.push(`${pkg.name}: attw\n${error.stdout ?? error.message}`)
    })
    console.log(`checked ${pkg.name}`)
  }
  // Four at a time: packing and attw are mostly waiting on child processes.
  const queue = [...published]
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (queue.length > 0) await check(queue.shift())
  }))
} finally {
  rmSync(out, { recursive: true, force: true })
}

if (problems.length > 0) {
  console.error(problems.join("\n"))
  process.exit(1)
}
console.log(`${published.length} packages: exports, files, peers, publint and attw clean`)
