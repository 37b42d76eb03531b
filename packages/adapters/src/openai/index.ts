/**
 * @ragkit/adapters/openai: embedders, chat models and rerankers on OpenAI-compatible HTTP APIs
 * (OpenAI, vLLM, LM Studio, DeepSeek, SiliconFlow, Jina, Ollama's `/v1`, ...), as the
 * `openai-compatible` model plugin or as standalone layers. Everything runs on
 * `@effect/platform`'s `HttpClient`; no vendor SDK.
 */
export * as OpenAiChatModel from "./OpenAiChatModel.js"
export * as OpenAiEmbedder from "./OpenAiEmbedder.js"
export * as OpenAiModels from "./OpenAiModels.js"
export * as OpenAiReranker from "./OpenAiReranker.js"
export type { ConnectionOptions, RetryOptions } from "../internal/http.js"
