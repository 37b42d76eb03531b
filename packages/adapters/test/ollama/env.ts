/** The engine on memory ports with the `ollama` plugin (`layerFetch`), a fake Ollama and an old (legacy) one. */
import { decoding, Models, Rag } from "@ragkit/core"
import { Context, Effect, Layer } from "effect"
import { OllamaModels } from "../../src/ollama/index.js"
import { engineOptions } from "../openai/env.js"
import { newCaller } from "../openai/support.js"
import * as FakeOllama from "./FakeOllama.js"

export class Servers extends Context.Tag("test/FakeOllamaServers")<
  Servers,
  { readonly current: FakeOllama.FakeOllamaServer; readonly legacy: FakeOllama.FakeOllamaServer }
>() {}

export const Plugin = OllamaModels.layerFetch({ retryBaseDelay: "5 millis" })

const ServersLive = Layer.scoped(
  Servers,
  Effect.all({ current: FakeOllama.make(), legacy: FakeOllama.make({ legacy: true }) })
)

export const Env = Layer.merge(Rag.layer(Rag.layerMemoryPorts, [Plugin], engineOptions), ServersLive)

export interface ProviderOptions {
  readonly name?: string
  /** The current fake server by default. */
  readonly apiBase?: string
  readonly apiKey?: string
  readonly settings?: Record<string, unknown>
}

/** A new tenant with an `ollama` provider (named `local` by default). */
export const tenantWithProvider = (options: ProviderOptions = {}) =>
  Effect.gen(function*() {
    const servers = yield* Servers
    const models = yield* Models.Models
    const caller = yield* newCaller
    yield* decoding(models, Models.Operations).addProvider(caller, {
      name: options.name ?? "local",
      kind: OllamaModels.kind,
      api_base: options.apiBase ?? servers.current.url,
      ...(options.apiKey === undefined ? {} : { api_key: options.apiKey }),
      ...(options.settings === undefined ? {} : { settings: options.settings })
    })
    return { caller, models, servers }
  })
