/**
 * The config file: the deployment's model providers and new tenants' default models
 * (`RAGKIT_CONFIG` or `--config`), its errors naming the key, and the engine that runs on it: a
 * deployment Ollama on 127.0.0.1 that every tenant uses while a tenant's own is refused, defaults
 * checked at start-up without calling any server.
 */
import { NodeContext } from "@effect/platform-node"
import { decoding, Models, RecordStore, Users } from "@ragkit/core"
import { ConfigProvider, Effect, Either, Layer, Option, Redacted } from "effect"
import { createServer, type Server } from "node:http"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { defaults, load, parseArgs, type ServerConfig } from "../src/Config.js"
import * as Engine from "../src/Engine.js"

const dirs: Array<string> = []
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), "ragkit-config-"))
  dirs.push(dir)
  return dir
}

/** Writes a config file and loads the configuration with this environment (and `--config` when given). */
const loadWith = async (content: unknown, env: Record<string, string> = {}, viaFlag = true) => {
  const file = join(await tempDir(), "ragkit.json")
  await writeFile(file, typeof content === "string" ? content : JSON.stringify(content))
  const provider = ConfigProvider.fromMap(new Map(Object.entries(viaFlag ? env : { ...env, RAGKIT_CONFIG: file })))
  const loaded = load(viaFlag ? { configFile: file } : {}).pipe(Effect.withConfigProvider(provider), Effect.provide(NodeContext.layer))
  return { file, result: await Effect.runPromise(Effect.either(loaded)) }
}

const errorOf = (result: Either.Either<ServerConfig, unknown>): string =>
  Either.isLeft(result) ? String((result.left as { message?: string }).message) : "no error"

describe("the config file", () => {
  it("declares the deployment's providers and defaults; keys come from the environment, paths are relative to the file", async () => {
    const { file, result } = await loadWith(
      {
        providers: [
          {
            name: "BAAI",
            kind: "onnx",
            models: [{ name: "BAAI/bge-large-zh-v1.5", type: "embedding", maxTokens: 512, path: "models/bge-large-zh-v1.5", settings: { queryPrefix: "q: " } }]
          },
          { name: "openai", kind: "openai-compatible", baseUrl: "https://api.openai.com/v1", apiKey: "${TEST_OPENAI_KEY}", settings: { timeout_ms: 5000 } },
          { name: "literal", kind: "ollama", apiKey: "written-in-the-file" }
        ],
        defaults: { chat: "gpt-4o-mini@openai", embedding: "BAAI/bge-large-zh-v1.5@BAAI" }
      },
      { TEST_OPENAI_KEY: "sk-from-the-environment" }
    )
    if (Either.isLeft(result)) throw result.left
    const config = result.right
    expect(config.configFile).toEqual(Option.some(file))
    const [baai, openai, literal] = config.models.providers
    expect(baai).toMatchObject({
      name: "BAAI",
      kind: "onnx",
      models: [{ name: "BAAI/bge-large-zh-v1.5", type: "embedding", maxTokens: 512, path: join(file, "..", "models", "bge-large-zh-v1.5"), settings: { queryPrefix: "q: " } }]
    })
    expect(openai).toMatchObject({ name: "openai", kind: "openai-compatible", baseUrl: "https://api.openai.com/v1", settings: { timeout_ms: 5000 } })
    expect(Redacted.value(openai!.apiKey!)).toBe("sk-from-the-environment")
    expect(Redacted.value(literal!.apiKey!)).toBe("written-in-the-file")
    // Keys stay redacted wherever the configuration is shown.
    expect(JSON.stringify(config.models)).not.toContain("sk-from-the-environment")
    expect(config.models.defaults).toEqual({ chat: "gpt-4o-mini@openai", embedding: "BAAI/bge-large-zh-v1.5@BAAI" })
    expect(Engine.tenantDefaults(config)).toEqual({ llm_id: "gpt-4o-mini@openai", embd_id: "BAAI/bge-large-zh-v1.5@BAAI" })
  })

  it("is found through RAGKIT_CONFIG too; without one, the built-in defaults stay", async () => {
    const { result } = await loadWith({ defaults: { rerank: "r@BAAI" } }, {}, false)
    expect(Either.isRight(result) && result.right.models.defaults).toEqual({ rerank: "r@BAAI" })
    const none = await Effect.runPromise(load().pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map())), Effect.provide(NodeContext.layer)))
    expect([Option.isNone(none.configFile), none.models]).toEqual([true, { providers: [], defaults: {} }])
    expect(Engine.tenantDefaults(none)).toEqual({ embd_id: Engine.DefaultEmbeddingModel, llm_id: Engine.DefaultChatModel })
  })

  it("names the key of every mistake", async () => {
    const cases: ReadonlyArray<readonly [unknown, string]> = [
      [{ provider: [] }, "provider: is not a known key"],
      [{ providers: {} }, "providers: must be a list of providers"],
      [{ providers: [{ name: "x", kind: "openai", models: [] }] }, `providers[0].kind: Expected "openai-compatible" | "ollama" | "onnx" | "builtin", actual "openai"`],
      [{ providers: [{ name: "x", kind: "onnx", models: [{ name: "m", type: "embedding", maxTokens: 0 }] }] }, "providers[0].models[0].maxTokens: must be a positive integer"],
      [{ providers: [{ name: "x", kind: "onnx", models: [{ name: "m", type: "embeddings" }] }] }, `providers[0].models[0].type: Expected "chat" | "embedding" | "rerank", actual "embeddings"`],
      [{ providers: [{ name: "x", kind: "ollama", modles: [] }] }, "providers[0].modles: is not a known key"],
      [{ providers: [{ name: "x", kind: "ollama", models: [{ name: "m", type: "chat", path: "/m" }] }] }, "providers[0].models[0].path: path is for providers of kind onnx"],
      [{ providers: [{ name: "x", kind: "ollama", baseUrl: "127.0.0.1:11434" }] }, "providers[0].baseUrl: must be an http(s) URL"],
      [{ providers: [{ name: "a@b", kind: "ollama" }] }, "providers[0].name: a provider's name can't contain @"],
      [{ providers: [{ name: "x", kind: "ollama" }, { name: "x", kind: "onnx" }] }, "providers[1].name: provider x is declared twice"],
      [{ providers: [{ name: "x", kind: "openai-compatible", apiKey: "${NOT_SET_ANYWHERE}" }] }, "providers[0].apiKey: the environment variable NOT_SET_ANYWHERE is not set"],
      [{ defaults: { chat: "gpt-4o-mini" } }, "defaults.chat: must be name@provider"],
      [{ defaults: { llm: "x@y" } }, "defaults.llm: is not a known key"],
      ["{ providers: [] }", "not valid JSON"]
    ]
    for (const [content, message] of cases) {
      const { file, result } = await loadWith(content)
      expect(errorOf(result), JSON.stringify(content)).toContain(`config file ${file}: `)
      expect(errorOf(result), JSON.stringify(content)).toContain(message)
    }
    const missing = await Effect.runPromise(
      Effect.either(load({ configFile: "/no/such/ragkit.json" }).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map())), Effect.provide(NodeContext.layer)))
    )
    expect(errorOf(missing)).toMatch(/^config file \/no\/such\/ragkit\.json can't be read/)
  })

  it("the example in examples/server-config is valid", async () => {
    const example = fileURLToPath(new URL("../../../examples/server-config/ragkit.json", import.meta.url))
    const loaded = await Effect.runPromise(
      load({ configFile: example }).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["OPENAI_API_KEY", "sk-example"]]))),
        Effect.provide(NodeContext.layer)
      )
    )
    expect(loaded.models.providers.map((p) => `${p.name}:${p.kind}`)).toEqual(["BAAI:onnx", "openai:openai-compatible", "local:ollama"])
    expect(loaded.models.defaults.embedding).toBe("BAAI/bge-large-zh-v1.5@BAAI")
  })

  it("ragkit's arguments: the command and --config", () => {
    expect(parseArgs([])).toEqual({ command: "serve", configFile: undefined })
    expect(parseArgs(["worker", "--config", "a.json"])).toEqual({ command: "worker", configFile: "a.json" })
    expect(parseArgs(["--config=b.json", "serve"])).toEqual({ command: "serve", configFile: "b.json" })
    expect(parseArgs(["serve", "--config"])).toBe("--config needs a path")
    expect(parseArgs(["serve", "--conf", "x"])).toBe("unexpected argument --conf")
  })
})

/** A small Ollama on 127.0.0.1 that counts the requests it gets. */
const startOllama = () =>
  new Promise<{ server: Server; url: string; requests: Array<string> }>((resolve) => {
    const requests: Array<string> = []
    const server = createServer((request, response) => {
      let body = ""
      request.on("data", (piece: Buffer) => (body += piece.toString()))
      request.on("end", () => {
        requests.push(request.url ?? "")
        if (request.url === "/api/embed") {
          const input = (JSON.parse(body) as { input: Array<string> }).input
          response.writeHead(200, { "content-type": "application/json" })
          return response.end(JSON.stringify({ embeddings: input.map((_, i) => [1, i, 0, 0]) }))
        }
        if (request.url === "/api/chat") {
          response.writeHead(200, { "content-type": "application/x-ndjson" })
          response.write(`${JSON.stringify({ message: { role: "assistant", content: "from the local Ollama" }, done: false })}\n`)
          return response.end(`${JSON.stringify({ done: true, prompt_eval_count: 3, eval_count: 4 })}\n`)
        }
        response.writeHead(404).end()
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      resolve({ server, url: `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`, requests })
    })
  })

describe("the engine on a config file", () => {
  let ollama: Awaited<ReturnType<typeof startOllama>>
  let dataDir: string
  beforeAll(async () => {
    ollama = await startOllama()
    dataDir = await tempDir()
  })
  afterAll(() => new Promise<void>((resolve) => ollama.server.close(() => resolve())))

  const configWith = (defaultsOf: Record<string, string>): ServerConfig =>
    defaults({
      dataDir,
      workers: 0,
      ocr: false,
      configFile: Option.some("ragkit.json"),
      models: {
        providers: [
          {
            name: "local",
            kind: "ollama",
            baseUrl: ollama.url,
            models: [
              { name: "nomic-embed-text", type: "embedding" },
              { name: "llama3.2", type: "chat", maxTokens: 4096 }
            ]
          },
          { name: "BAAI", kind: "onnx", models: [{ name: "BAAI/bge-large-zh-v1.5", type: "embedding", path: join(dataDir, "no-such-export") }] }
        ],
        defaults: defaultsOf
      }
    })

  it("serves the deployment's Ollama on 127.0.0.1 to tenants, refuses a tenant's own, and sets new tenants' defaults without calling it", async () => {
    const config = configWith({ chat: "llama3.2@local", embedding: "nomic-embed-text@local" })
    const program = Effect.gen(function* () {
      const users = decoding(yield* Users.Users, Users.Operations)
      const models = decoding(yield* Models.Models, Models.Operations)
      const store = yield* RecordStore.RecordStore
      yield* users.register({ email: "config@example.com", nickname: "c", password: "password" })
      const me = yield* users.authenticate({ token: (yield* users.login({ email: "config@example.com", password: "password" })).token })
      const tenant = Option.getOrThrow(yield* store.tenants.findFirst({ id: me.tenantId }))
      expect([tenant.llm_id, tenant.embd_id]).toEqual(["llama3.2@local", "nomic-embed-text@local"])

      const listed = yield* models.listModels(me, {})
      expect(listed.filter((m) => m.declared_by === "deployment" && m.provider !== "Builtin" && m.provider !== "ONNX").map((m) => [m.id, m.max_tokens, m.usable, m.unusable_reason])).toEqual([
        ["nomic-embed-text@local", null, true, null],
        ["llama3.2@local", 4096, true, null],
        ["BAAI/bge-large-zh-v1.5@BAAI", null, false, "its model folder does not exist"]
      ])
      expect(listed.map((m) => m.id)).toContain("extractive@Builtin")
      // Listing, registering and setting defaults called no server.
      yield* models.setDefaults(me, { llm_id: "llama3.2@local" })
      expect(yield* Effect.flip(models.setDefaults(me, { llm_id: "llama3.3@local" }))).toMatchObject({ _tag: "InvalidInput", field: "llm_id" })
      expect(ollama.requests).toEqual([])

      // The deployment's provider reaches 127.0.0.1 ...
      const resolver = yield* Models.Models
      const embedder = yield* resolver.embedder(me, "nomic-embed-text@local")
      expect(yield* embedder.embedDocuments(["a", "b"])).toEqual([[1, 0, 0, 0], [1, 1, 0, 0]])
      const chat = yield* resolver.chatModel(me, "llama3.2@local")
      expect(chat.contextTokens).toBe(4096)
      expect((yield* chat.generate([{ role: "user", content: "hi" }])).text).toBe("from the local Ollama")
      expect(ollama.requests.filter((r) => r === "/api/chat")).toHaveLength(1)
      // ... while a tenant's own provider there is refused.
      expect(yield* Effect.flip(models.addProvider(me, { name: "mine", kind: "ollama", api_base: ollama.url }))).toMatchObject({
        _tag: "InvalidInput",
        field: "api_base"
      })
    })
    await Effect.runPromise(Effect.scoped(Effect.flatMap(Layer.build(Engine.layer(config)), (context) => Effect.provide(program, context))))
  }, 120_000)

  it("a default that can't be used stops the start, naming the key", async () => {
    const config = configWith({ embedding: "BAAI/bge-large-zh-v1.5@BAAI" })
    const before = ollama.requests.length
    const exit = await Effect.runPromise(Effect.either(Effect.scoped(Layer.build(Engine.layer(config)))))
    expect(Either.isLeft(exit) && exit.left).toMatchObject({
      _tag: "ConfigFileError",
      message: "config file ragkit.json: defaults.embedding: BAAI/bge-large-zh-v1.5@BAAI can't be used: its model folder does not exist"
    })
    expect(ollama.requests.length).toBe(before)
  }, 120_000)
})
