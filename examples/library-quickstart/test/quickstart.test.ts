import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { run } from "../src/main.js"

describe("examples/library-quickstart", () => {
  const dirs: Array<string> = []
  afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))

  it("ingests its folder, retrieves and answers with citations; a second run finds the index without parsing again", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "ragkit-quickstart-"))
    dirs.push(dataDir)
    const lines: Array<string> = []
    const first = await run(dataDir, undefined, (l) => lines.push(l))
    expect(first.documents.map((d) => [d.name, d.run])).toEqual([
      ["aurora-manual.pdf", "DONE"],
      ["garden.md", "DONE"],
      ["otters.txt", "DONE"]
    ])
    expect(lines).toContain("best match: aurora-manual.pdf")
    expect(first.answer).toMatch(/\[ID:\d+\]/)
    expect(first.reference.doc_aggs.map((d) => d.doc_name)).toContain("aurora-manual.pdf")

    // A second process on the same directory: same documents, not parsed again, and the index is
    // there (the old example paired PGlite records with a memory index, empty after a restart).
    const second = await run(dataDir, undefined, () => {})
    expect(second.documents.map((d) => [d.id, d.update_time])).toEqual(first.documents.map((d) => [d.id, d.update_time]))
    expect(second.chunks[0]?.documentName).toBe("aurora-manual.pdf")
    expect(second.answer).toBe(first.answer)
  }, 240_000)
})
