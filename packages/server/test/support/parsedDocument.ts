/**
 * A dataset with a parsed text document, for the REST chunk and retrieval tests: the memory engine
 * with a real ingestion worker, the dataset and upload through the seed API, parsing awaited until
 * the document is DONE.
 */
import { Document, type DocumentId, Ingestion, Rag, RecordStore } from "@ragkit/core"
import { Effect, Layer, Option } from "effect"
import { expect } from "vitest"
import { type Account, type Engine, memoryEngine, type SeedServer } from "./seedServer.js"

/** The memory engine with an ingestion worker polling quickly. */
export const workerEngine = (plugins: Parameters<typeof memoryEngine>[1] = []): Engine =>
  Layer.provideMerge(
    Layer.scopedDiscard(Effect.flatMap(Ingestion.Ingestion, (worker) => Effect.forkScoped(worker.run))).pipe(
      Layer.provide(Rag.layerWorker({ pollMs: 20, heartbeatMs: 100 }))
    ),
    memoryEngine({}, plugins)
  )

export interface ParsedDocument {
  readonly datasetId: string
  readonly documentId: string
}

/**
 * A text document of `account` parsed (DONE), in a new dataset or a given one; `meta` becomes the
 * document's metadata before parsing, so its chunks carry it.
 */
export const parsedDocument = async (
  server: SeedServer,
  account: Account,
  options: {
    /** A new dataset's name, or the id of one to add the document to. */
    readonly dataset: string | { readonly id: string }
    readonly name: string
    readonly text: string
    readonly meta?: Record<string, unknown>
  }
): Promise<ParsedDocument> => {
  const datasetId: string =
    typeof options.dataset === "string"
      ? (await server.request("POST", "/api/v1/kbs/create", { token: account.apiKey, json: { name: options.dataset } })).body.data.kb_id
      : options.dataset.id
  const form = new FormData()
  form.append("kb_id", datasetId)
  form.append("file", new Blob([options.text], { type: "text/plain" }), options.name)
  const uploaded = await server.request("POST", "/api/v1/documents/upload", { token: account.apiKey, body: form })
  const documentId: string = uploaded.body.data[0].id
  if (options.meta !== undefined) {
    const meta = options.meta
    await server.runtime.runPromise(
      Effect.gen(function* () {
        const store = yield* RecordStore.RecordStore
        const doc = Option.getOrThrow(yield* store.documents.get(documentId as DocumentId))
        yield* store.documents.update(new Document({ ...doc, meta_fields: meta }))
      })
    )
  }
  const run = await server.request("POST", "/api/v1/documents/run", { token: account.apiKey, json: { doc_ids: [documentId], run: "1" } })
  expect(run.body.code).toBe(0)
  const started = Date.now()
  let state = ""
  while (Date.now() - started < 5_000) {
    const listed = await server.request("POST", "/api/v1/documents/list", { token: account.apiKey, query: { kb_id: datasetId } })
    state = listed.body.data.docs.find((d: { id: string }) => d.id === documentId).run
    if (state === "3" || state === "4") break
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  expect(state).toBe("3")
  return { datasetId, documentId }
}
