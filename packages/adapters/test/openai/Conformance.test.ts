/**
 * The core conformance suites against the `openai-compatible` adapters, resolved through
 * `Models` for a tenant's provider that points at a real (fake) server.
 */
import { ChatModel, Embedder, Reranker } from "@ragkit/core"
import { ChatModelSuite, EmbedderSuite, RerankerSuite } from "@ragkit/core/testing"
import { type Context, Effect, Layer } from "effect"
import { Env, tenantWithProvider } from "./env.js"

const resolved = <I, S>(
  tag: Context.Tag<I, S>,
  get: (t: Effect.Effect.Success<ReturnType<typeof tenantWithProvider>>) => Effect.Effect<S, unknown>,
  settings?: Record<string, unknown>
) => Layer.effect(tag, Effect.flatMap(tenantWithProvider(settings === undefined ? {} : { settings }), get)).pipe(Layer.provide(Env))

// Batches of 3 texts, so the suite's batches of 4 and 5 go out as several requests.
EmbedderSuite(
  "openai-compatible (probed dimension, batches of 3)",
  resolved(Embedder.Embedder, ({ caller, models }) => models.embedder(caller, "text-embedding-3-small@fake"), { max_batch_size: 3 }),
  { normalized: true }
)

EmbedderSuite(
  "openai-compatible (configured dimension)",
  resolved(Embedder.Embedder, ({ caller, models }) => models.embedder(caller, "text-embedding-3-large@fake"), { dimensions: 32 }),
  { normalized: true }
)

RerankerSuite(
  "openai-compatible (Jina/Cohere rerank shape)",
  resolved(Reranker.Reranker, ({ caller, models }) => models.reranker(caller, "jina-reranker-v2@fake"), { max_batch_size: 2 }),
  { relevance: true }
)

ChatModelSuite(
  "openai-compatible (SSE)",
  resolved(ChatModel.ChatModel, ({ caller, models }) => models.chatModel(caller, "gpt-4o-mini@fake")),
  { deterministic: true }
)
