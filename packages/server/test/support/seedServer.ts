/**
 * A real seed API server on a random loopback port for the tests, over an engine layer (the memory
 * engine with every parser by default), and a small client that speaks to it with `fetch`.
 */
import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { ApiTokens, type Caller, type ChunkMethod, decoding, type DialogId, Ingestion, type ModelProvider, Rag, Tokenizer, Users } from "@ragkit/core"
import { TestModels } from "@ragkit/core/doubles"
import * as Parsers from "@ragkit/parsers"
import { Effect, Layer, ManagedRuntime } from "effect"
import { createServer } from "node:http"
import * as Http from "../../src/Http.js"

/**
 * The memory engine: memory stores, every parser (no OCR), the test models as tenants' defaults,
 * and any other model plugins (fakes of remote models).
 */
export const memoryEngine = (options: Rag.Options = {}, plugins: ReadonlyArray<Layer.Layer<never, never, ModelProvider.ModelPlugins>> = []): Engine =>
  Rag.layer(
    Layer.mergeAll(Rag.layerMemoryStores, Tokenizer.layer, Parsers.layerWithoutOcr().pipe(Layer.provide(Tokenizer.layer))),
    [TestModels.layer, ...plugins],
    { tenantDefaults: { embd_id: "hash-64@Test", llm_id: "echo@Test" }, ...options }
  )

/** The memory engine with an ingestion worker polling quickly, for tests that parse documents. */
export const memoryEngineWithWorker = (options: Rag.Options = {}): Engine =>
  Layer.provideMerge(
    Layer.scopedDiscard(Effect.flatMap(Ingestion.Ingestion, (worker) => Effect.forkScoped(worker.run))).pipe(
      Layer.provide(Rag.layerWorker({ pollMs: 20, heartbeatMs: 100 }))
    ),
    memoryEngine(options)
  )

/** What the server needs of an engine. */
export type Engine = Layer.Layer<Rag.Ports | Rag.Services | ChunkMethod.ChunkMethodRegistry, unknown, never>

export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly body: any
}

export interface RequestOptions {
  /** An API key or session token, sent as `Authorization: Bearer <token>`. */
  readonly token?: string | undefined
  readonly json?: unknown
  readonly query?: Record<string, string | number | boolean>
  readonly body?: string | Uint8Array | FormData
  readonly headers?: Record<string, string>
}

export interface Account {
  readonly email: string
  readonly caller: Caller
  /** A session token from login. */
  readonly session: string
  /** An API key of the account's tenant. */
  readonly apiKey: string
}

export interface SeedServer {
  readonly url: string
  readonly runtime: ManagedRuntime.ManagedRuntime<Layer.Layer.Success<Engine> | HttpServer.HttpServer, unknown>
  readonly request: (method: string, path: string, options?: RequestOptions) => Promise<Reply>
  /** A registered user with a session and an API key, made through the core services. */
  readonly account: (email: string) => Promise<Account>
  /** An API key of the account's tenant made for one dialog: it reaches that dialog only, and may only chat. */
  readonly dialogKey: (account: Account, dialogId: string) => Promise<string>
  readonly close: () => Promise<void>
}

export const startSeedServer = async (engine: Engine = memoryEngine()): Promise<SeedServer> => {
  const server = NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })
  const runtime = ManagedRuntime.make(Http.app.pipe(Layer.provideMerge(engine), Layer.provideMerge(server)))
  const address = (await runtime.runPromise(HttpServer.HttpServer)).address
  if (address._tag !== "TcpAddress") throw new Error("the test server is not on TCP")
  const url = `http://127.0.0.1:${address.port}`
  const request = async (method: string, path: string, options: RequestOptions = {}): Promise<Reply> => {
    const query = options.query === undefined ? "" : `?${new URLSearchParams(Object.entries(options.query).map(([k, v]): [string, string] => [k, String(v)]))}`
    const headers: Record<string, string> = { ...options.headers }
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
    let body = options.body
    if (options.json !== undefined) {
      headers["content-type"] = "application/json"
      body = JSON.stringify(options.json)
    }
    const response = await fetch(`${url}${path}${query}`, { method, headers, body: body ?? null })
    const text = await response.text()
    let parsed: unknown = text
    try {
      parsed = JSON.parse(text)
    } catch {
      // not JSON: kept as text
    }
    return { status: response.status, headers: response.headers, body: parsed }
  }
  const account = (email: string) =>
    runtime.runPromise(
      Effect.gen(function* () {
        const users = decoding(yield* Users.Users, Users.Operations)
        const tokens = decoding(yield* ApiTokens.ApiTokens, ApiTokens.Operations)
        yield* users.register({ email, nickname: email.split("@")[0]!, password: "password" })
        const login = yield* users.login({ email, password: "password" })
        const caller = yield* users.authenticate({ token: login.token })
        const key = yield* tokens.create(caller, {})
        return { email, caller, session: login.token, apiKey: key.secret }
      })
    )
  const dialogKey = (owner: Account, dialogId: string) =>
    runtime.runPromise(
      Effect.gen(function* () {
        const tokens = decoding(yield* ApiTokens.ApiTokens, ApiTokens.Operations)
        return (yield* tokens.create(owner.caller, { dialog_id: dialogId as DialogId })).secret
      })
    )
  return { url, runtime, request, account, dialogKey, close: () => runtime.dispose() }
}
