/**
 * ragkit: the RAG engine in one package — `@ragkit/core` (every export), the embedded preset
 * (`Rag.embedded`) and the five-line Promise facade (`createRag`).
 *
 *   import { createRag } from "ragkit"
 *   const rag = await createRag({ dataDir: "./data" })
 *   await rag.ingest("./docs")
 *   console.log((await rag.ask("How do I reset the device?")).answer)
 *   await rag.close()
 */
export * from "@ragkit/core"
export * as Rag from "./Rag.js"
import type { DocumentChanges } from "@ragkit/core"
/** A document's run state after a change (`Documents.changes`, `ingest`'s `onProgress`). */
export type DocumentChange = DocumentChanges.DocumentChange
export { type AskOptions, createRag, type CreateRagOptions, type EmbeddedRag, type IngestOptions, type RetrievedChunk, type RetrieveOptions } from "./createRag.js"
