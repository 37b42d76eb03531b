/** Isolation cases of `rest/Datasets.ts` and `rest/Documents.ts`: a stranger with the owner's dataset and document ids. */
import { type Cases, type Context, dataOf, type RestCase, type Send } from "./cases.js"

/** The owner's new dataset. */
const dataset = async ({ owner, send, unique }: Context): Promise<string> =>
  dataOf(await send("restDatasets.create", owner, { json: { name: unique("iso-dataset") } })).id

/** The owner's new dataset with one uploaded document. */
const withDocument = async (ctx: Context): Promise<{ datasetId: string; documentId: string }> => {
  const datasetId = await dataset(ctx)
  const body = new FormData()
  body.append("file", new Blob(["Lighthouses guide ships at night."]), "guide.txt")
  const [doc] = dataOf(await ctx.send("restDocuments.upload", ctx.owner, { params: { dataset_id: datasetId }, body }))
  return { datasetId, documentId: doc.id }
}

/** What the owner sees of the dataset `sent.params.dataset_id`: the dataset and its documents. */
const datasetState = async ({ owner, send }: Context, sent: Send) => {
  const params = { dataset_id: sent.params!.dataset_id! }
  return { dataset: dataOf(await send("restDatasets.get", owner, { params })), documents: dataOf(await send("restDocuments.list", owner, { params })) }
}

/** A route on the owner's dataset and its document, with `extra` sent beside the path. */
const onDocument = (extra: (ids: { datasetId: string; documentId: string }) => Omit<Send, "params"> = () => ({}), path = true): RestCase => ({
  setup: async (ctx) => {
    const ids = await withDocument(ctx)
    return { params: { dataset_id: ids.datasetId, ...(path ? { document_id: ids.documentId } : {}) }, ...extra(ids) }
  },
  readBack: datasetState
})

export const cases: Cases = {
  "restDatasets.get": { setup: async (ctx) => ({ params: { dataset_id: await dataset(ctx) } }), readBack: datasetState },
  "restDatasets.update": {
    setup: async (ctx) => ({ params: { dataset_id: await dataset(ctx) }, json: { name: ctx.unique("stolen"), permission: "team" } }),
    readBack: datasetState
  },
  "restDatasets.list": {
    setup: async (ctx) => {
      const id = await dataset(ctx)
      return { query: { id } }
    },
    readBack: async (ctx, sent) => datasetState(ctx, { params: { dataset_id: String(sent.query!.id) } })
  },
  "restDatasets.remove": {
    setup: async (ctx) => {
      const id = await dataset(ctx)
      return { json: { ids: [id] }, params: {} }
    },
    readBack: async (ctx, sent) => datasetState(ctx, { params: { dataset_id: (sent.json as { ids: Array<string> }).ids[0]! } })
  },
  "restDocuments.upload": {
    setup: async (ctx) => {
      const body = new FormData()
      body.append("file", new Blob(["planted"]), "planted.txt")
      return { params: { dataset_id: await dataset(ctx) }, body }
    },
    readBack: datasetState
  },
  "restDocuments.list": onDocument(({ documentId }) => ({ query: { id: documentId } }), false),
  "restDocuments.update": onDocument(() => ({ json: { name: "stolen.txt", enabled: 0, meta_fields: { by: "stranger" } } })),
  "restDocuments.replace": onDocument(() => ({ json: { chunk_method: "one" } })),
  "restDocuments.download": onDocument(),
  "restDocuments.remove": onDocument(({ documentId }) => ({ json: { ids: [documentId] } }), false),
  "restDocuments.parse": onDocument(({ documentId }) => ({ json: { document_ids: [documentId] } }), false),
  "restDocuments.stopParsing": {
    setup: async (ctx) => {
      const ids = await withDocument(ctx)
      // Running, so that only the ownership check could refuse the stranger.
      dataOf(await ctx.send("restDocuments.parse", ctx.owner, { params: { dataset_id: ids.datasetId }, json: { document_ids: [ids.documentId] } }))
      return { params: { dataset_id: ids.datasetId }, json: { document_ids: [ids.documentId] } }
    },
    readBack: datasetState
  }
}
