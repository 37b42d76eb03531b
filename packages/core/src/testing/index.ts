/**
 * @ragkit/core/testing: the port conformance suites, and test doubles that hosts and plugin
 * authors may use too.
 */
export * from "./BlobStoreSuite.js"
export * from "./ChunkIndexSuite.js"
export * from "./RecordStoreSuite.js"
export * from "./TaskQueueSuite.js"
export * from "./EmbedderSuite.js"
export * from "./ChatModelSuite.js"
export * from "./RerankerSuite.js"
export * from "./ParserSuite.js"
export * from "./ChunkMethodSuite.js"
export * from "./Records.js"
export * as StoreFaults from "./StoreFaults.js"
export * from "../doubles.js"
