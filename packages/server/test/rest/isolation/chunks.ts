/**
 * Isolation cases of `rest/Chunks.ts` and `rest/Retrieval.ts`: the owner's dataset with a document
 * (uploaded through the seed API, not parsed) and a chunk added through the REST route; the
 * stranger sends the owner's dataset, document and chunk ids.
 */
import { type Cases, type Context, dataOf, type RestCase, type Send } from "./cases.js"

/** The owner's dataset, document and one chunk. */
const ownerChunk = async ({ owner, send, server, unique }: Context) => {
  const created = await server.request("POST", "/api/v1/kbs/create", { token: owner.apiKey, json: { name: unique("chunks") } })
  const datasetId: string = created.body.data.kb_id
  const form = new FormData()
  form.append("kb_id", datasetId)
  form.append("file", new Blob(["Lighthouses guide ships."], { type: "text/plain" }), "guide.txt")
  const uploaded = await server.request("POST", "/api/v1/documents/upload", { token: owner.apiKey, body: form })
  const documentId: string = uploaded.body.data[0].id
  const params = { dataset_id: datasetId, document_id: documentId }
  const added = dataOf(await send("restChunks.add", owner, { params, json: { content: "Foghorns sound in the mist." } }))
  return { datasetId, documentId, chunkId: added.chunk.id as string, params }
}

/** The owner's chunks of the document and its count, as the owner lists them. */
const ownerChunks = async ({ owner, send }: Context, sent: Send) => {
  const params = { dataset_id: sent.params!["dataset_id"]!, document_id: sent.params!["document_id"]! }
  const listed = dataOf(await send("restChunks.list", owner, { params }))
  return { chunks: listed.chunks, chunk_count: listed.doc.chunk_count }
}

/** A case whose stranger sends the owner's path ids (and the chunk's, where the route takes it) and `extra`. */
const onPath = (withChunk: boolean, extra: (chunkId: string) => Omit<Send, "params">): RestCase => ({
  setup: async (ctx) => {
    const { chunkId, params } = await ownerChunk(ctx)
    return { params: withChunk ? { ...params, chunk_id: chunkId } : params, ...extra(chunkId) }
  },
  readBack: ownerChunks
})

export const cases: Cases = {
  "restChunks.list": onPath(false, (chunkId) => ({ query: { id: chunkId } })),
  "restChunks.add": onPath(false, () => ({ json: { content: "A stranger's chunk." } })),
  "restChunks.update": onPath(true, () => ({ json: { content: "Changed by a stranger.", available: false } })),
  "restChunks.replace": onPath(true, () => ({ json: { content: "Changed by a stranger.", available: false } })),
  "restChunks.remove": onPath(false, (chunkId) => ({ json: { chunk_ids: [chunkId], delete_all: true } })),
  "restRetrieval.retrieve": {
    setup: async (ctx) => {
      const { datasetId, documentId, params } = await ownerChunk(ctx)
      // The path params are for the read-back only; the route takes ids in its body.
      return { params, json: { dataset_ids: [datasetId], document_ids: [documentId], question: "foghorns mist" } }
    },
    readBack: ownerChunks,
    // A model's name (`name@provider`), resolved in the datasets' tenant: no record of the caller's choosing.
    notRecords: ["rerank_id"]
  }
}
