import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { createRagClient, Rag } from "@ragkit/core"
import { TestModels } from "@ragkit/core/doubles"
import { run } from "../src/main.js"

describe("examples/library-quickstart", () => {
  const dirs: Array<string> = []
  afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))

  it("creates a knowledge base, uploads a text file and lists it, across two runs on one data directory", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "ragkit-quickstart-"))
    dirs.push(dataDir)
    const lines: Array<string> = []
    const first = await run(dataDir, (l) => lines.push(l))
    expect(first.kb.name).toBe("Quickstart")
    expect(first.documents.map((d) => [d.name, d.size, d.run])).toEqual([["hello.txt", 51, "UNSTART"]])
    expect(lines).toContain("1 document(s) in Quickstart")

    // A second process on the same directory finds the knowledge base and the first file.
    const second = await run(dataDir, () => {})
    expect(second.kb.id).toBe(first.kb.id)
    expect(second.documents.map((d) => d.name)).toEqual(["hello.txt", "hello(1).txt"])
  }, 120_000)

  it("rejects bad input with InvalidInput naming the field, before anything is stored", async () => {
    const rag = await createRagClient(Rag.layer(Rag.layerMemoryPorts, [TestModels.layer]))
    try {
      const me = await rag.localCaller({ embeddingModel: "hash-64@Test" })
      await expect(rag.knowledgeBases.create(me, { name: "   " })).rejects.toMatchObject({
        _tag: "InvalidInput",
        field: "name",
        message: "name can't be empty"
      })
      await expect(rag.knowledgeBases.get(me, { kb_id: "../etc" })).rejects.toMatchObject({ _tag: "InvalidInput", field: "kb_id" })
      expect((await rag.knowledgeBases.list(me, {})).total).toBe(0)
    } finally {
      await rag.dispose()
    }
  })
})
