/**
 * @ragkit/adapters/ollama: embedders and chat models on Ollama's native API (`/api/embed`,
 * `/api/chat`), as the `ollama` model plugin or as standalone layers. (Ollama's OpenAI-compatible
 * `/v1` also works with `@ragkit/adapters/openai`.)
 */
export * as OllamaChatModel from "./OllamaChatModel.js"
export * as OllamaEmbedder from "./OllamaEmbedder.js"
export * as OllamaModels from "./OllamaModels.js"
export type { ConnectionOptions, RetryOptions } from "../internal/http.js"
