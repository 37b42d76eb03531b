/**
 * ragkit as a library, from plain async TypeScript: create a knowledge base, upload a text file
 * and list it. Records live in an embedded Postgres (PGlite) and the bytes on disk, both under
 * `dataDir`, so a second run finds what the first one stored.
 *
 *   pnpm --filter @ragkit/example-library-quickstart start [data-dir]
 */
import { NodeContext } from "@effect/platform-node"
import { BlobStore, ChunkIndex, createRagClient, Parser, Rag, Tokenizer } from "@ragkit/core"
import { TestModels } from "@ragkit/core/doubles"
import { layerEmbedded } from "@ragkit/store-pg"
import { Layer } from "effect"
import { join } from "node:path"
import { pathToFileURL } from "node:url"

export const run = async (dataDir: string, log: (line: string) => void = console.log) => {
  // The ports: records and tasks in PGlite, blobs on disk, chunks in memory, the text parser, the tokenizer.
  const ports = Layer.mergeAll(
    layerEmbedded({ dataDir: join(dataDir, "pg") }),
    BlobStore.layerFileSystem(join(dataDir, "blobs")).pipe(Layer.provide(NodeContext.layer)),
    ChunkIndex.layerMemory,
    Parser.layer([Parser.TextParser]),
    Tokenizer.layer
  )
  // The deterministic hash embedder stands in until a real embedding model is configured.
  const rag = await createRagClient(Rag.layer(ports, [TestModels.layer]))
  try {
    const me = await rag.localCaller({ embeddingModel: "hash-64@Test" })

    const existing = await rag.knowledgeBases.list(me, { keywords: "Quickstart" })
    const kb =
      existing.items.find((k) => k.name === "Quickstart") ??
      (await rag.knowledgeBases.create(me, { name: "Quickstart", description: "Made by the library quickstart" }))
    log(`knowledge base ${kb.name} (${kb.id}), chunk method ${kb.parser_id}, embedding model ${kb.embedding_model}`)

    const [doc] = await rag.documents.upload(me, {
      kb_id: kb.id,
      files: [{ name: "hello.txt", bytes: new TextEncoder().encode("ragkit runs in one Node process.\n\nNo Docker needed.") }]
    })
    log(`uploaded ${doc!.name}: ${doc!.size} bytes, run ${doc!.run}`)

    const page = await rag.documents.list(me, { kb_id: kb.id, orderby: "create_time", desc: false })
    for (const d of page.items) log(`- ${d.name} (${d.size} bytes, ${d.run})`)
    log(`${page.total} document(s) in ${kb.name}`)
    return { kb, documents: page.items }
  } finally {
    await rag.dispose()
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  run(process.argv[2] ?? join(process.cwd(), ".ragkit-quickstart")).catch((error: unknown) => {
    console.error(error)
    process.exitCode = 1
  })
}
