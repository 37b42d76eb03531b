/**
 * The server parses on a thread even with `parserThreads: 0` (one thread, started on demand), so
 * the parse time limit ends a document that takes too long: it fails `TooLarge` naming the limit,
 * and the documents after it are parsed. The server's worker loop (`Engine.workerLoop`) over memory
 * stores.
 */
import { createRagClient, Rag, Tokenizer } from "@ragkit/core"
import { TestModels } from "@ragkit/core/doubles"
import * as Parsers from "@ragkit/parsers"
import { Layer } from "effect"
import { describe, expect, it } from "vitest"
import { defaults } from "../src/Config.js"
import * as Engine from "../src/Engine.js"

describe("the server's parse time limit", () => {
  it("with parser threads off, a document past the limit fails and the worker goes on", async () => {
    const config = defaults({ workers: 1, ocr: false, testModels: true, parserThreads: 0, limits: { parseTimeoutMs: 1_000 } })
    const ports = Layer.mergeAll(Rag.layerMemoryStores, Parsers.layerWithoutOcr().pipe(Layer.provideMerge(Tokenizer.layer)))
    const engine = Rag.layer(ports, [TestModels.layer])
    const rag = await createRagClient(Layer.provideMerge(Engine.workerLoop(config), engine))
    try {
      const me = await rag.localCaller()
      const kb = await rag.knowledgeBases.create(me, { name: "Slow", embedding_model: "hash-64@Test" })
      // 800,000 cells: seconds of parsing, chunking and tokenizing, far past one second.
      const slow = new TextEncoder().encode("a,b\n" + "1,2\n".repeat(400_000))
      const [big] = await rag.documents.upload(me, { kb_id: kb.id, files: [{ name: "big.csv", bytes: slow }] })
      const [small] = await rag.documents.upload(me, {
        kb_id: kb.id,
        files: [{ name: "notes.txt", bytes: new TextEncoder().encode("Otters use rocks as tools.") }]
      })
      await rag.documents.parse(me, { doc_ids: [big!.id] })
      await rag.documents.parse(me, { doc_ids: [small!.id] })
      const deadline = Date.now() + 90_000
      const states = async () => Promise.all([big!, small!].map((d) => rag.documents.get(me, { doc_id: d.id })))
      let docs = await states()
      while (docs.some((d) => d.run !== "DONE" && d.run !== "FAIL") && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100))
        docs = await states()
      }
      expect(docs.map((d) => [d.name, d.run])).toEqual([["big.csv", "FAIL"], ["notes.txt", "DONE"]])
      expect(docs[0]!.progress_msg).toContain("parsing big.csv took longer than the parse time limit of 1 s")
    } finally {
      await rag.dispose()
    }
  }, 120_000)
})
