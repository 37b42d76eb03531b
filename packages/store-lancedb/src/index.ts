/**
 * @ragkit/store-lancedb: the chunk index on LanceDB, in a local folder or object storage.
 *
 *   const Index = LanceChunkIndex.layer({ uri: "./data/lancedb" })
 */
export * as LanceChunkIndex from "./LanceChunkIndex.js"
