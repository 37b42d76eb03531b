/**
 * The server's embedded engine end to end, as `pnpm start` runs it: PGlite, blobs on disk, the
 * LanceDB index, every parser, the built-in embedder and the in-process worker.
 */
import { createRagClient } from "@ragkit/core"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { defaults } from "../src/Config.js"
import * as Engine from "../src/Engine.js"

/** A one-page PDF with a text layer, written by hand (pdf.js rebuilds the cross-reference table). */
const helloPdf = () => {
  const stream = "BT /F1 18 Tf 72 720 Td (Sea otters hold hands while they sleep.) Tj ET"
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
  ]
  let body = "%PDF-1.4\n"
  const offsets: Array<number> = []
  objects.forEach((o, i) => {
    offsets.push(body.length)
    body += `${i + 1} 0 obj\n${o}\nendobj\n`
  })
  const xref = body.length
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, "0")} 00000 n \n`).join("")}`
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`
  return new TextEncoder().encode(body)
}

describe("the embedded engine", () => {
  const dirs: Array<string> = []
  afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))

  it("ingests a PDF and a text file from disk with the default embedding model, finds them, and answers with the default chat model", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "ragkit-engine-"))
    dirs.push(dataDir)
    const rag = await createRagClient(Engine.layerWithWorkers(defaults({ dataDir, workers: 1, ocr: false, leaseMs: 5_000 })))
    try {
      const me = await rag.localCaller()
      const kb = await rag.knowledgeBases.create(me, { name: "Otters" })
      expect(kb.embedding_model).toBe(Engine.DefaultEmbeddingModel)
      const docs = await rag.documents.upload(me, {
        kb_id: kb.id,
        files: [
          { name: "otters.pdf", bytes: helloPdf() },
          { name: "notes.txt", bytes: new TextEncoder().encode("Otters use rocks as tools to open shellfish.") }
        ]
      })
      await rag.documents.parse(me, { doc_ids: docs.map((d) => d.id) })
      const deadline = Date.now() + 90_000
      let states = await Promise.all(docs.map((d) => rag.documents.get(me, { doc_id: d.id })))
      while (states.some((d) => d.run === "RUNNING") && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200))
        states = await Promise.all(docs.map((d) => rag.documents.get(me, { doc_id: d.id })))
      }
      expect(states.map((d) => [d.name, d.run, d.chunk_num])).toEqual([
        ["otters.pdf", "DONE", 1],
        ["notes.txt", "DONE", 1]
      ])
      const found = await rag.retrieval.retrieve(me, { question: "Do otters hold hands when sleeping?", kb_ids: [kb.id] })
      expect(found.chunks[0]!.chunk.content).toMatch(/Sea otters hold hands/)
      expect(found.chunks[0]!.chunk.page_num).toEqual([1])

      // With no language model configured, a dialog answers with the default chat model,
      // extractive@Builtin: it quotes the chunk that answers, cited.
      const dialog = await rag.dialogs.create(me, { name: "Otters", kb_ids: [kb.id] })
      expect(dialog.llm_id === "" || dialog.llm_id === Engine.DefaultChatModel).toBe(true)
      const done = await rag.completions.complete(me, {
        dialog_id: dialog.id,
        messages: [{ role: "user", content: "What do otters use to open shellfish?" }]
      })
      expect(done.answer).toMatch(/^No language model is configured/)
      const cited = /Otters use rocks as tools to open shellfish\. \[ID:(\d+)\]/.exec(done.answer)
      expect(cited).not.toBeNull()
      expect(done.reference.chunks[Number(cited![1])]!.content).toMatch(/Otters use rocks/)

      // The same answer streamed: deltas, then the stored answer with its reference.
      const events: Array<{ readonly _tag: string; readonly text?: string }> = []
      let last: typeof done | undefined
      for await (const event of rag.completions.stream(me, {
        dialog_id: dialog.id,
        messages: [{ role: "user", content: "What do otters use to open shellfish?" }]
      })) {
        events.push(event)
        if (event._tag === "Done") last = { ...event }
      }
      expect(events.filter((e) => e._tag === "Delta").length).toBeGreaterThan(3)
      expect(events.at(-1)!._tag).toBe("Done")
      expect(events.flatMap((e) => (e._tag === "Delta" ? [e.text] : [])).join("")).toBe(last!.answer)
      expect(last!.answer).toBe(done.answer)
      const stored = await rag.conversations.get(me, { conversation_id: last!.conversation_id })
      const [question, answer] = stored.message.slice(-2)
      expect([question!.role, question!.content]).toEqual(["user", "What do otters use to open shellfish?"])
      expect([answer!.role, answer!.content, answer!.id]).toEqual(["assistant", done.answer, last!.message_id])
      expect(answer!.reference!.chunks.length).toBeGreaterThan(0)
    } finally {
      await rag.dispose()
    }
  }, 180_000)
})
