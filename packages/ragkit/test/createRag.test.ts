import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { createRag, type DocumentChange } from "ragkit"

const manual = fileURLToPath(new URL("../../../docs/walkthrough/aurora-manual.pdf", import.meta.url))
const question = "How often should I descale the kettle?"

describe("createRag (embedded preset on a real data dir)", () => {
  const dirs: Array<string> = []
  afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))

  it("ingests a folder, retrieves and answers citing the right document, and survives a restart", async () => {
    const root = await mkdtemp(join(tmpdir(), "ragkit-facade-"))
    dirs.push(root)
    const folder = join(root, "docs")
    await mkdir(join(folder, "notes"), { recursive: true })
    await copyFile(manual, join(folder, "aurora-manual.pdf"))
    await writeFile(join(folder, "notes", "otters.txt"), "Sea otters hold hands while they sleep so that they do not drift apart.\n")
    await writeFile(join(folder, "garden.md"), "# Garden\n\nWater tomatoes in the morning and mulch the beds in spring.\n")
    await writeFile(join(folder, ".hidden.txt"), "left out")
    const dataDir = join(root, "data")

    const first = await createRag({ dataDir })
    let ids: Array<string>
    try {
      const changes: Array<DocumentChange> = []
      const docs = await first.ingest(folder, { onProgress: (c) => changes.push(c) })
      expect(docs.map((d) => [d.name, d.run])).toEqual([
        ["aurora-manual.pdf", "DONE"],
        ["garden.md", "DONE"],
        ["otters.txt", "DONE"]
      ])
      expect(docs.every((d) => d.chunk_num > 0)).toBe(true)
      expect(changes.filter((c) => c.run === "DONE").length).toBe(3)
      ids = docs.map((d) => d.id)

      const chunks = await first.retrieve(question, { topN: 3 })
      expect(chunks[0]!.documentName).toBe("aurora-manual.pdf")
      expect(chunks[0]!.content.toLowerCase()).toContain("descal")

      const answer = await first.ask(question)
      expect(answer.answer).toMatch(/\[ID:\d+\]/)
      expect(answer.reference.doc_aggs.map((d) => d.doc_name)).toContain("aurora-manual.pdf")

      // Ingesting the same folder again uploads and parses nothing.
      const again: Array<DocumentChange> = []
      expect((await first.ingest(folder, { onProgress: (c) => again.push(c) })).map((d) => d.id)).toEqual(ids)
      expect(again).toEqual([])
    } finally {
      await first.close()
    }

    // Another process on the same folder: the documents and their index are there.
    const second = await createRag({ dataDir })
    try {
      expect((await second.retrieve(question))[0]!.documentName).toBe("aurora-manual.pdf")
      expect((await second.ingest(folder)).map((d) => d.id)).toEqual(ids)
      expect((await second.client.documents.list(second.caller, { kb_id: (await second.client.knowledgeBases.list(second.caller, {})).items[0]!.id })).total).toBe(3)
    } finally {
      await second.close()
    }
  }, 240_000)

  it("rejects bad input naming the field", async () => {
    await expect(createRag({ dataDir: "  " })).rejects.toMatchObject({ _tag: "InvalidInput", field: "dataDir" })
    const dataDir = await mkdtemp(join(tmpdir(), "ragkit-facade-bad-"))
    dirs.push(dataDir)
    const rag = await createRag({ dataDir })
    try {
      await expect(rag.ingest([])).rejects.toMatchObject({ _tag: "InvalidInput", field: "paths" })
      await expect(rag.ingest(join(dataDir, "missing"))).rejects.toMatchObject({ _tag: "InvalidInput", field: "paths" })
      await expect(rag.retrieve("")).rejects.toMatchObject({ _tag: "InvalidInput", field: "question" })
      await expect(rag.retrieve("x", { topN: 0 })).rejects.toMatchObject({ _tag: "InvalidInput", field: "topN" })
    } finally {
      await rag.close()
    }
  }, 120_000)
})
