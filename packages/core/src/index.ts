/**
 * @ragkit/core: the domain model, the ports, the services and the Promise facade.
 *
 * Ports and services are namespaces (`RecordStore.layerMemory`, `KnowledgeBases.KnowledgeBases`),
 * as in @effect/platform; domain records and errors are plain exports.
 */
export * from "./domain/Caller.js"
export * from "./domain/Chunk.js"
export * from "./domain/ChunkMethods.js"
export * from "./domain/Errors.js"
export * as Fields from "./domain/Fields.js"
export { decodeRequest, type Operation } from "./domain/Fields.js"
export * from "./domain/Ids.js"
export * from "./domain/Records.js"
export * from "./domain/Time.js"

export * as BlobStore from "./ports/BlobStore.js"
export * as ChatModel from "./ports/ChatModel.js"
export * as ChunkIndex from "./ports/ChunkIndex.js"
export * as ChunkIndexScoring from "./ports/ChunkIndexScoring.js"
export * as ChunkMethod from "./ports/ChunkMethod.js"
export * as DocumentPreparer from "./ports/DocumentPreparer.js"
export * as Embedder from "./ports/Embedder.js"
export * as ModelProvider from "./ports/ModelProvider.js"
export * as Parser from "./ports/Parser.js"
export * as RecordStore from "./ports/RecordStore.js"
export * as Reranker from "./ports/Reranker.js"
export * as TaskQueue from "./ports/TaskQueue.js"

export * as Budget from "./chat/Budget.js"
export * as Citations from "./chat/Citations.js"
export * as Prompt from "./chat/Prompt.js"

export * as Tokenizer from "./text/Tokenizer.js"
export * as HtmlTables from "./text/HtmlTables.js"
export * as StopWords from "./text/StopWords.js"

export * as ApiTokens from "./services/ApiTokens.js"
export * as Chunks from "./services/Chunks.js"
export * as Completions from "./services/Completions.js"
export * as Conversations from "./services/Conversations.js"
export * as Dialogs from "./services/Dialogs.js"
export * as DocumentChanges from "./services/DocumentChanges.js"
export * as Documents from "./services/Documents.js"
export * as Ingestion from "./services/Ingestion.js"
export * as KnowledgeBases from "./services/KnowledgeBases.js"
export * as Models from "./services/Models.js"
export * as Retrieval from "./services/Retrieval.js"
export * as System from "./services/System.js"
export * as Tenants from "./services/Tenants.js"
export * as Users from "./services/Users.js"

export * as OptionalPeer from "./OptionalPeer.js"
export * as Rag from "./Rag.js"
export { type Client, createRagClient, type Decoding, decoding, type LocalUserOptions, type RagClient } from "./RagClient.js"
