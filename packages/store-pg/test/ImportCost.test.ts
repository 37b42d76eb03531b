/**
 * What importing `@ragkit/store-pg` costs a host on a real Postgres: the root entry loads neither
 * PGlite nor its extensions (nor any other heavy package); `@ragkit/store-pg/pglite` imports PGlite
 * when its layer is built (the control: the same check sees it then), and with the chunk index
 * (pgvector) in PGlite's own thread, not in the importing one.
 */
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { heavy, loadedBy, matching } from "../../../test/support/importCost.js"

const packageDir = fileURLToPath(new URL("..", import.meta.url))

describe("importing @ragkit/store-pg", () => {
  it("the root entry (a real Postgres) loads no PGlite and no other heavy package", async () => {
    const loaded = await loadedBy(packageDir, `const StorePg = await import("@ragkit/store-pg")
if (typeof StorePg.layer !== "function" || typeof StorePg.PgChunkIndex.layer !== "function") throw new Error("no layers")`)
    expect(loaded.some((url) => url.includes("packages/store-pg/src/index.ts"))).toBe(true)
    expect(matching(loaded, Object.values(heavy))).toEqual([])
  }, 60_000)

  it("/pglite loads PGlite when its layer is built (the check sees it); with pgvector, in PGlite's thread only", async () => {
    const imported = await loadedBy(packageDir, `await import("@ragkit/store-pg/pglite")`)
    expect(matching(imported, [heavy.pglite])).toEqual([])
    const records = await loadedBy(packageDir, `const { layerEmbedded } = await import("@ragkit/store-pg/pglite")
const { Effect, Layer } = await import("effect")
await Effect.runPromise(Effect.scoped(Layer.build(layerEmbedded())))`)
    expect(matching(records, [/@electric-sql[+/]pglite[@/]/])).not.toEqual([])
    expect(matching(records, [/@electric-sql[+/]pglite-pgvector/])).toEqual([])
    // The chunk index's PGlite (with pgvector, which its setup creates) runs in a thread of its own:
    // this thread loads neither.
    const withIndex = await loadedBy(packageDir, `const { layerEmbeddedWithChunkIndex } = await import("@ragkit/store-pg/pglite")
const { Effect, Layer } = await import("effect")
await Effect.runPromise(Effect.scoped(Layer.build(layerEmbeddedWithChunkIndex())))`)
    expect(withIndex.some((url) => url.includes("packages/store-pg/src/internal/pgliteSocket.ts"))).toBe(true)
    expect(matching(withIndex, [heavy.pglite, /@electric-sql[+/]pglite-pgvector/])).toEqual([])
  }, 120_000)
})
