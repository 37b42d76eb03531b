/**
 * RAG in five lines, for hosts that do not use Effect:
 *
 *   const rag = await createRag({ dataDir: "./data" })
 *   await rag.ingest("./docs")
 *   const { answer, reference } = await rag.ask("How do I reset the device?")
 *   await rag.close()
 *
 * The embedded preset (`Rag.embedded`) under `dataDir`, with `@ragkit/core`'s Promise client
 * (`client`) for everything else. Bad input rejects with `InvalidInput` naming the field.
 */
import {
  type Caller,
  Completions,
  createRagClient,
  type Document,
  type DocumentChanges,
  Documents,
  invalid,
  type KnowledgeBase,
  type RagClient,
  type Retrieval
} from "@ragkit/core"
import { Effect, Stream } from "effect"
import { readdir, readFile, stat } from "node:fs/promises"
import { basename, join, resolve } from "node:path"
import * as Rag from "./Rag.js"

export interface CreateRagOptions extends Omit<Rag.EmbeddedOptions, "dataDir"> {
  /** The folder of everything the engine keeps (records, index, files, model cache). */
  readonly dataDir: string
  /** The knowledge base `ingest`, `retrieve` and `ask` use when not told otherwise. Default "Default". */
  readonly knowledgeBase?: string
}

export interface IngestOptions {
  /** The knowledge base to add the files to, made when missing. */
  readonly knowledgeBase?: string
  /** Each change of the documents' run state while they are parsed (queued, progress, done, failed). */
  readonly onProgress?: (change: DocumentChanges.DocumentChange) => void
}

export interface RetrieveOptions {
  readonly knowledgeBase?: string
  /** How many chunks, best first. Default 6. */
  readonly topN?: number
}

export interface RetrievedChunk {
  readonly content: string
  readonly documentId: string
  readonly documentName: string
  readonly similarity: number
}

export interface AskOptions {
  readonly knowledgeBase?: string
}

export interface EmbeddedRag {
  /**
   * Uploads the files (a folder: every file under it, hidden ones left out) into the knowledge base
   * and resolves when each is parsed (`DONE`) or failed (`FAIL`), with their documents. A file whose
   * name and size match a document already there is not uploaded again (a failed one is parsed
   * again); one whose size changed replaces the document of that name.
   */
  readonly ingest: (pathsOrFolder: string | ReadonlyArray<string>, options?: IngestOptions) => Promise<ReadonlyArray<Document>>
  /** The chunks that best match the question, with their documents' names. */
  readonly retrieve: (question: string, options?: RetrieveOptions) => Promise<ReadonlyArray<RetrievedChunk>>
  /** The answer, citing its sources (`[ID:n]` markers; `reference.chunks[n]`). */
  readonly ask: (question: string, options?: AskOptions) => Promise<Completions.CompletionResult>
  /** The Promise client over the same engine, for everything else. */
  readonly client: RagClient
  /** The local user everything is done as. */
  readonly caller: Caller
  /** Stops the worker (documents in hand get 5 s) and closes the stores. */
  readonly close: () => Promise<void>
}

const failWith = (field: string, message: string): never => {
  throw invalid(field, message)
}

const text = (field: string, value: unknown): string => {
  if (typeof value !== "string" || value.trim() === "") failWith(field, `${field} must be a non-empty string`)
  return value as string
}

/** Every file under the paths: folders walked in name order, hidden entries left out. */
const filesOf = async (paths: ReadonlyArray<string>): Promise<Array<string>> => {
  const out: Array<string> = []
  const walk = async (path: string): Promise<void> => {
    const info = await stat(path)
    if (info.isFile()) {
      out.push(path)
      return
    }
    if (!info.isDirectory()) return
    const entries = (await readdir(path)).filter((name) => !name.startsWith(".")).sort()
    for (const name of entries) await walk(join(path, name))
  }
  for (const path of paths) {
    const full = resolve(path)
    const exists = await stat(full).then(() => true, () => false)
    if (!exists) failWith("paths", `${path} does not exist`)
    await walk(full)
  }
  return out
}

const ended = (run: string) => run === "DONE" || run === "FAIL" || run === "CANCEL"

/** The engine of `Rag.embedded` under `dataDir`, as async functions. */
export const createRag = async (options: CreateRagOptions): Promise<EmbeddedRag> => {
  if (typeof options !== "object" || options === null) failWith("options", "createRag takes { dataDir }")
  const dataDir = text("dataDir", options.dataDir)
  const defaultKb = options.knowledgeBase === undefined ? "Default" : text("knowledgeBase", options.knowledgeBase)
  const client = await createRagClient(Rag.embedded({ ...options, dataDir }))
  try {
    const caller = await client.localCaller()
    const kbIds = new Map<string, KnowledgeBase>()

    /** The knowledge base of that name, made when missing (`create` false: undefined instead). */
    const knowledgeBase = async (name: string, create: boolean): Promise<KnowledgeBase | undefined> => {
      const known = kbIds.get(name)
      if (known !== undefined) return known
      const found = (await client.knowledgeBases.list(caller, { keywords: name, page_size: 1000 })).items.find((kb) => kb.name === name)
      const kb = found ?? (create ? await client.knowledgeBases.create(caller, { name }) : undefined)
      if (kb !== undefined) kbIds.set(name, kb)
      return kb
    }

    const documentsOf = async (kb: KnowledgeBase): Promise<Array<Document>> => {
      const out: Array<Document> = []
      for (let page = 1; ; page++) {
        const { items } = await client.documents.list(caller, { kb_id: kb.id, page, page_size: 1000, orderby: "create_time", desc: false })
        out.push(...items)
        if (items.length < 1000) return out
      }
    }

    const ingest: EmbeddedRag["ingest"] = async (pathsOrFolder, ingestOptions = {}) => {
      const paths = typeof pathsOrFolder === "string" ? [pathsOrFolder] : pathsOrFolder
      if (!Array.isArray(paths) || paths.length === 0) failWith("paths", "paths must be a path or a non-empty list of paths")
      paths.forEach((p, i) => text(`paths[${i}]`, p))
      const kbName = ingestOptions.knowledgeBase === undefined ? defaultKb : text("knowledgeBase", ingestOptions.knowledgeBase)
      const files = await filesOf(paths)
      const kb = (await knowledgeBase(kbName, true))!
      const existing = new Map((await documentsOf(kb)).map((d) => [d.name, d]))

      // What to upload, what to parse again, what is there already.
      const keep: Array<Document> = []
      const upload: Array<string> = []
      const replace: Array<string> = []
      for (const file of files) {
        const doc = existing.get(basename(file))
        const size = (await stat(file)).size
        if (doc === undefined) upload.push(file)
        else if (doc.size === size) keep.push(doc)
        else {
          replace.push(doc.id)
          upload.push(file)
        }
      }
      if (replace.length > 0) await client.documents.remove(caller, { kb_id: kb.id, doc_ids: replace })
      const uploaded: Array<Document> = []
      for (let i = 0; i < upload.length; i += 16) {
        const batch = await Promise.all(upload.slice(i, i + 16).map(async (file) => ({ name: basename(file), bytes: new Uint8Array(await readFile(file)) })))
        uploaded.push(...(await client.documents.upload(caller, { kb_id: kb.id, files: batch })))
      }
      const toParse = [...uploaded, ...keep.filter((d) => d.run !== "DONE" && d.run !== "RUNNING")].map((d) => d.id)
      const ids = [...uploaded, ...keep].map((d) => d.id)
      const onProgress = ingestOptions.onProgress

      // Subscribed before parsing is queued, so no change is missed; done when every document ended.
      await client.run(
        Effect.scoped(
          Effect.gen(function* () {
            const docs = yield* Documents.Documents
            const changes = yield* docs.changes(caller, { kb_id: kb.id, doc_ids: ids })
            if (toParse.length > 0) yield* docs.parse(caller, { doc_ids: toParse })
            const page = yield* docs.list(caller, { kb_id: kb.id, ids, page: 1, page_size: ids.length + 1, orderby: "create_time", desc: false })
            const pending = new Set(page.items.filter((d) => !ended(d.run)).map((d) => d.id as string))
            if (pending.size === 0) return
            yield* changes.pipe(
              Stream.tap((change) => Effect.sync(() => onProgress?.(change))),
              Stream.takeUntil((change) => {
                if (ended(change.run)) pending.delete(change.doc_id)
                return pending.size === 0
              }),
              Stream.runDrain
            )
          })
        )
      )
      const byId = new Map((await documentsOf(kb)).map((d) => [d.id as string, d]))
      return ids.map((id) => byId.get(id)!)
    }

    const retrieve: EmbeddedRag["retrieve"] = async (question, retrieveOptions = {}) => {
      text("question", question)
      const topN = retrieveOptions.topN ?? 6
      if (!Number.isInteger(topN) || topN < 1) failWith("topN", "topN must be a positive integer")
      const kb = await knowledgeBase(retrieveOptions.knowledgeBase === undefined ? defaultKb : text("knowledgeBase", retrieveOptions.knowledgeBase), false)
      if (kb === undefined) return []
      const result: Retrieval.RetrievalResult = await client.retrieval.retrieve(caller, { question, kb_ids: [kb.id], page: 1, page_size: topN })
      return result.chunks.map(({ chunk, similarity }) => ({
        content: chunk.content,
        documentId: chunk.doc_id,
        documentName: chunk.docnm_kwd,
        similarity
      }))
    }

    const dialogs = new Map<string, string>()
    const ask: EmbeddedRag["ask"] = async (question, askOptions = {}) => {
      text("question", question)
      const name = askOptions.knowledgeBase === undefined ? defaultKb : text("knowledgeBase", askOptions.knowledgeBase)
      const kb = await knowledgeBase(name, true)
      let dialogId = dialogs.get(kb!.id)
      if (dialogId === undefined) {
        const dialogName = `ragkit: ${name}`
        const found = (await client.dialogs.list(caller, { name: dialogName, page_size: 1 })).items[0]
        dialogId = (found ?? (await client.dialogs.create(caller, { name: dialogName, kb_ids: [kb!.id] }))).id
        dialogs.set(kb!.id, dialogId)
      }
      return client.completions.complete(caller, { dialog_id: dialogId, messages: [{ role: "user", content: question }], stream: false })
    }

    return { ingest, retrieve, ask, client, caller, close: () => client.dispose() }
  } catch (error) {
    await client.dispose()
    throw error
  }
}
