/** The engine on memory ports with the `openai-compatible` plugin on fetch, and the fake server. */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { decoding, Models, Rag } from "@ragkit/core"
import { Effect, Layer, Redacted } from "effect"
import { OpenAiModels } from "../../src/openai/index.js"
import * as FakeOpenAi from "./FakeOpenAi.js"
import { newCaller } from "./support.js"

/** Short backoffs keep the retry tests quick; everything else is the default. */
export const Plugin = OpenAiModels.layer({ retryBaseDelay: "5 millis" }).pipe(Layer.provide(FetchHttpClient.layer))

/** The engine's settings for these tests: a secret key, and the fake server on 127.0.0.1 allowed. */
export const engineOptions = { secretKey: Redacted.make("the adapters tests' secret key, 32+ characters"), allowPrivateProviders: true }

export const Env = Layer.merge(Rag.layer(Rag.layerMemoryPorts, [Plugin], engineOptions), FakeOpenAi.layer)

export interface ProviderOptions {
  readonly name?: string
  readonly apiBase?: string
  /** `FakeOpenAi.API_KEY` by default; `""` for none. */
  readonly apiKey?: string
  readonly settings?: Record<string, unknown>
}

/** A new tenant with an `openai-compatible` provider (named `fake` by default) on the fake server. */
export const tenantWithProvider = (options: ProviderOptions = {}) =>
  Effect.gen(function*() {
    const server = yield* FakeOpenAi.FakeOpenAi
    const models = yield* Models.Models
    const caller = yield* newCaller
    yield* decoding(models, Models.Operations).addProvider(caller, {
      name: options.name ?? "fake",
      kind: OpenAiModels.kind,
      api_base: options.apiBase ?? server.apiBase,
      api_key: options.apiKey ?? FakeOpenAi.API_KEY,
      ...(options.settings === undefined ? {} : { settings: options.settings })
    })
    return { caller, models, server }
  })
