/**
 * @ragkit/core/doubles: deterministic stand-ins for models, usable anywhere (no test runner
 * needed): the hash embedder, the scripted chat model, the overlap reranker and the `Test`
 * provider plugin that serves them. `@ragkit/core/testing` re-exports them with the suites.
 */
export * as HashEmbedder from "./testing/HashEmbedder.js"
export * as OverlapReranker from "./testing/OverlapReranker.js"
export * as ScriptedChatModel from "./testing/ScriptedChatModel.js"
export * as TestModels from "./testing/TestModels.js"
