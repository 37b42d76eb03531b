/**
 * ragkit as a library, from plain async TypeScript: ingest a folder, retrieve, answer with
 * citations. Records, index, files and the built-in models' cache live under `dataDir`, so a second
 * run finds the index without parsing again.
 *
 *   pnpm --filter @ragkit/example-library-quickstart start [data-dir] [folder]
 */
import { createRag } from "ragkit"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const docs = fileURLToPath(new URL("../docs", import.meta.url))

export const run = async (dataDir: string, folder = docs, log: (line: string) => void = console.log) => {
  const rag = await createRag({ dataDir })
  try {
    const documents = await rag.ingest(folder)
    const chunks = await rag.retrieve("How often should I descale the kettle?")
    const { answer, reference } = await rag.ask("How often should I descale the kettle?")

    for (const d of documents) log(`- ${d.name}: ${d.run}, ${d.chunk_num} chunks`)
    log(`best match: ${chunks[0]?.documentName}`)
    log(`answer: ${answer}`)
    log(`sources: ${reference.doc_aggs.map((d) => d.doc_name).join(", ")}`)
    return { documents, chunks, answer, reference }
  } finally {
    await rag.close()
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  run(process.argv[2] ?? join(process.cwd(), ".ragkit-quickstart"), process.argv[3]).catch((error: unknown) => {
    console.error(error)
    process.exitCode = 1
  })
}
