import { defineConfig } from "vitest/config"

/**
 * The workspace runs from sources: our packages' `development` export condition points at
 * `src/*.ts`. Vite resolves test imports with it; processes and threads that tests start (the
 * `ragkit` command, parser threads) get it from NODE_OPTIONS.
 */
// No "module": it is a bundlers' condition that Node never uses, and the AWS SDK's "module" builds
// (dist-es) are not loadable by Node (extensionless imports).
const conditions = ["development", "node"]
const nodeOptions = [process.env["NODE_OPTIONS"], "--conditions=development"].filter(Boolean).join(" ")

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ["development"] } },
  test: {
    include: ["packages/*/test/**/*.test.ts", "examples/*/test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    env: { NODE_OPTIONS: nodeOptions },
    sequence: { concurrent: false }
  }
})
