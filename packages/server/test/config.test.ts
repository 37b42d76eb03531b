/**
 * The config file: the deployment's model providers and new tenants' default models
 * (`RAGKIT_CONFIG` or `--config`), its errors naming the key, and the engine that runs on it: a
 * deployment Ollama on 127.0.0.1 that every tenant uses while a tenant's own is refused, defaults
 * checked at start-up without calling any server.
 */
import { NodeContext } from "@effect/platform-node"
import { ChunkIndex, decoding, type DocumentId, type KnowledgeBaseId, Models, RecordStore, Users } from "@ragkit/core"
import { freshDatabase, hasPgvector } from "@ragkit/store-pg/testing"
import { ConfigProvider, Effect, Either, Layer, Option, Redacted } from "effect"
import { generateKeyPairSync } from "node:crypto"
import { createServer, type Server } from "node:http"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { defaults, load, type ServerSettings } from "../src/Config.js"
import * as Engine from "../src/Engine.js"

const pgUrl = process.env["RAGKIT_TEST_PG_URL"]
const pgvectorOnServer = pgUrl !== undefined && (await Effect.runPromise(hasPgvector(pgUrl)))

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

const errorOf = (result: Either.Either<ServerSettings, unknown>): string =>
  Either.isLeft(result) ? String((result.left as { message?: string }).message) : "no error"

describe("the config file", () => {
  it("sets how long idle parser threads live and the embedded database's buffers, from the file or the environment", async () => {
    expect([defaults().parserThreadIdleMs, defaults().pgliteSharedBuffersMb]).toEqual([30_000, 16])
    const fromFile = await loadWith({ parserThreadIdleMs: 0, database: { pgliteSharedBuffersMb: 64 } })
    if (Either.isLeft(fromFile.result)) throw fromFile.result.left
    expect([fromFile.result.right.parserThreadIdleMs, fromFile.result.right.pgliteSharedBuffersMb]).toEqual([0, 64])
    const fromEnv = await loadWith({}, { RAGKIT_PARSER_THREAD_IDLE_MS: "5000", RAGKIT_PGLITE_SHARED_BUFFERS_MB: "0" })
    expect(errorOf(fromEnv.result)).toMatch(/RAGKIT_PGLITE_SHARED_BUFFERS_MB \(database\.pgliteSharedBuffersMb\): must be an integer between 1 and 65536/)
  })

  it("declares the deployment's providers and defaults; keys come from the environment, paths are relative to the file", async () => {
    const { file, result } = await loadWith(
      { models: {
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
      } },
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
    const { result } = await loadWith({ models: { defaults: { rerank: "r@BAAI" } } }, {}, false)
    expect(Either.isRight(result) && result.right.models.defaults).toEqual({ rerank: "r@BAAI" })
    const none = await Effect.runPromise(load().pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map())), Effect.provide(NodeContext.layer)))
    expect([Option.isNone(none.configFile), none.models]).toEqual([true, { providers: [], defaults: {} }])
    expect(Engine.tenantDefaults(none)).toEqual({ embd_id: Engine.DefaultEmbeddingModel, llm_id: Engine.DefaultChatModel })
  })

  it("names the key of every mistake", async () => {
    const cases: ReadonlyArray<readonly [unknown, string]> = [
      // The old top-level keys moved under models.
      [{ providers: [] }, "providers: is not a known key"],
      [{ defaults: {} }, "defaults: is not a known key"],
      [{ port: 70000 }, "port: must be an integer between 0 and 65535"],
      [{ chunkIndex: { kind: "faiss" } }, "chunkIndex"],
      [{ chunkIndex: { kind: "pgvector", uri: "/x" } }, "chunkIndex.uri: is not a known key"],
      [{ chunkIndex: { kind: "pgvector", tailRows: -1 } }, "chunkIndex.tailRows: must be an integer between 0 and 1000000"],
      [{ chunkIndex: { kind: "pgvector", tailIdleMillis: "soon" } }, "chunkIndex.tailIdleMillis: must be an integer between 0 and 3600000"],
      [{ chunkIndex: { kind: "pgvector", efSearch: 0 } }, "chunkIndex.efSearch: must be an integer between 1 and 1000"],
      [{ chunkIndex: { kind: "pgvector", exactSearchThreshold: 1.5 } }, "chunkIndex.exactSearchThreshold: must be an integer between 0 and 1000000000"],
      [{ chunkIndex: { kind: "pgvector", indexRebuildRatio: 0 } }, "chunkIndex.indexRebuildRatio: must be a number above 0 and at most 1000000"],
      [{ chunkIndex: { kind: "pgvector", indexBuildMemory: "1GB'; DROP TABLE chunk; --" } }, `chunkIndex.indexBuildMemory: must be a size such as "512MB" (kB, MB or GB)`],
      [{ blobStore: { kind: "s3" } }, "blobStore.bucket: is missing"],
      [{ blobStore: { kind: "gcs" } }, `blobStore.kind: Expected "file" | "s3", actual "gcs"`],
      [{ database: { url: "mysql://x" } }, "database.url: must be a postgres:// URL"],
      [{ auth: { registration: "maybe" } }, `auth.registration: Expected "open" | "closed", actual "maybe"`],
      [{ auth: { sessionHours: 0 } }, "auth.sessionHours: must be an integer between 1 and 8760"],
      [{ auth: { rsaPrivateKeyFile: "no-such.pem" } }, "auth.rsaPrivateKeyFile: "],
      [{ limits: { uploadMb: "big" } }, "limits.uploadMb: must be an integer between 1 and 1048576"],
      [{ limits: { parseTimeoutMs: 10 } }, "limits.parseTimeoutMs: must be an integer between 1000 and 2147483647"],
      [{ limits: { uploadMB: 1 } }, "limits.uploadMB: is not a known key"],
      [{ log: { format: "xml" } }, `log.format: Expected "text" | "json", actual "xml"`],
      [{ secretKey: "${NOT_SET_ANYWHERE}" }, "secretKey: the environment variable NOT_SET_ANYWHERE is not set"],
      [{ secretKey: "short" }, "secretKey: must have at least 32 characters"],
      [{ models: { providers: {} } }, "models.providers: must be a list of providers"],
      [{ models: { providers: [{ name: "x", kind: "openai", models: [] }] } }, `models.providers[0].kind: Expected "openai-compatible" | "ollama" | "onnx" | "builtin", actual "openai"`],
      [{ models: { providers: [{ name: "x", kind: "onnx", models: [{ name: "m", type: "embedding", maxTokens: 0 }] }] } }, "models.providers[0].models[0].maxTokens: must be a positive integer"],
      [{ models: { providers: [{ name: "x", kind: "onnx", models: [{ name: "m", type: "embeddings" }] }] } }, `models.providers[0].models[0].type: Expected "chat" | "embedding" | "rerank", actual "embeddings"`],
      [{ models: { providers: [{ name: "x", kind: "ollama", modles: [] }] } }, "models.providers[0].modles: is not a known key"],
      [{ models: { providers: [{ name: "x", kind: "ollama", models: [{ name: "m", type: "chat", path: "/m" }] }] } }, "models.providers[0].models[0].path: path is for providers of kind onnx"],
      [{ models: { providers: [{ name: "x", kind: "ollama", baseUrl: "127.0.0.1:11434" }] } }, "models.providers[0].baseUrl: must be an http(s) URL"],
      [{ models: { providers: [{ name: "a@b", kind: "ollama" }] } }, "models.providers[0].name: a provider's name can't contain @"],
      [{ models: { providers: [{ name: "x", kind: "ollama" }, { name: "x", kind: "onnx" }] } }, "models.providers[1].name: provider x is declared twice"],
      [{ models: { providers: [{ name: "x", kind: "openai-compatible", apiKey: "${NOT_SET_ANYWHERE}" }] } }, "models.providers[0].apiKey: the environment variable NOT_SET_ANYWHERE is not set"],
      [{ models: { defaults: { chat: "gpt-4o-mini" } } }, "models.defaults.chat: must be name@provider"],
      [{ models: { defaults: { llm: "x@y" } } }, "models.defaults.llm: is not a known key"],
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

  const configWith = (defaultsOf: Record<string, string>): ServerSettings =>
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
      message: "config file ragkit.json: models.defaults.embedding: BAAI/bge-large-zh-v1.5@BAAI can't be used: its model folder does not exist"
    })
    expect(ollama.requests.length).toBe(before)
  }, 120_000)
})

describe("the server's settings", () => {
  const loadFrom = (file: string | undefined, env: Record<string, string> = {}, flags: Record<string, unknown> = {}) =>
    Effect.runPromise(
      Effect.either(
        load({ configFile: file, flags }).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))), Effect.provide(NodeContext.layer))
      )
    )
  const writeConfig = async (content: unknown) => {
    const file = join(await tempDir(), "ragkit.json")
    await writeFile(file, JSON.stringify(content))
    return file
  }

  it("take a flag over its variable over the file over the default; the file's paths are relative to it", async () => {
    const file = await writeConfig({ host: "0.0.0.0", port: 1000, dataDir: "data", limits: { uploadMb: 10, parseTimeoutMs: 5000 }, log: { format: "json" } })
    const loaded = await loadFrom(file, { RAGKIT_PORT: "2000", RAGKIT_UPLOAD_MB: "20" }, { port: 3000 })
    if (Either.isLeft(loaded)) throw loaded.left
    const s = loaded.right
    const dataDir = join(file, "..", "data")
    expect([s.host, s.port, s.limits.uploadMb, s.limits.parseTimeoutMs, s.log, s.dataDir]).toEqual([
      "0.0.0.0",
      3000,
      20,
      5000,
      { format: "json", level: "info" },
      dataDir
    ])
    expect([s.blobStore, s.chunkIndex]).toEqual([{ kind: "file", dir: join(dataDir, "blobs") }, { kind: "lancedb", uri: join(dataDir, "lancedb") }])
    // Nothing set: the defaults; a variable's path is taken as written.
    const none = await loadFrom(undefined, { RAGKIT_DATA_DIR: "./elsewhere", RAGKIT_CHUNK_INDEX: "pgvector" })
    if (Either.isLeft(none)) throw none.left
    expect([none.right.limits.uploadMb, none.right.auth.registration, none.right.dataDir, none.right.chunkIndex, none.right.shutdownGraceMs]).toEqual([
      128,
      "open",
      "./elsewhere",
      { kind: "pgvector" },
      10_000
    ])
    // A variable's kind replaces the file's whole chunkIndex object.
    const other = await loadFrom(await writeConfig({ chunkIndex: { kind: "lancedb", uri: "s3://bucket/index" } }), { RAGKIT_CHUNK_INDEX: "pgvector" })
    expect(Either.isRight(other) && other.right.chunkIndex).toEqual({ kind: "pgvector" })
    // pgvector's text-search tail, from the file.
    const tail = await loadFrom(await writeConfig({ chunkIndex: { kind: "pgvector", tailRows: 0, tailIdleMillis: 250 } }))
    expect(Either.isRight(tail) && tail.right.chunkIndex).toStrictEqual({ kind: "pgvector", tailRows: 0, tailIdleMillis: 250 })
    const tuned = { efSearch: 120, exactSearchThreshold: 0, indexRebuildRatio: 0.5, indexBuildMemory: "256MB" }
    const hnsw = await loadFrom(await writeConfig({ chunkIndex: { kind: "pgvector", ...tuned } }))
    expect(Either.isRight(hnsw) && hnsw.right.chunkIndex).toStrictEqual({ kind: "pgvector", ...tuned })
    const remote = await loadFrom(await writeConfig({ chunkIndex: { kind: "lancedb", uri: "s3://bucket/index" } }))
    expect(Either.isRight(remote) && remote.right.chunkIndex).toEqual({ kind: "lancedb", uri: "s3://bucket/index" })
    // LanceDB on S3: storage options from the file, credentials only from the environment (redacted).
    const storageOptions = { endpoint: "http://127.0.0.1:9000", region: "us-east-1", allow_http: "true" }
    const onS3 = await loadFrom(await writeConfig({ chunkIndex: { kind: "lancedb", uri: "s3://bucket/index", storageOptions } }), {
      RAGKIT_S3_ACCESS_KEY_ID: "AKIAEXAMPLE",
      RAGKIT_S3_SECRET_ACCESS_KEY: "lance-secret-value"
    })
    if (Either.isLeft(onS3)) throw onS3.left
    const lance = onS3.right.chunkIndex
    expect(lance.kind === "lancedb" && [lance.storageOptions, lance.credentials?.accessKeyId, Redacted.value(lance.credentials!.secretAccessKey)])
      .toEqual([storageOptions, "AKIAEXAMPLE", "lance-secret-value"])
    expect(JSON.stringify(onS3.right.chunkIndex)).not.toContain("lance-secret-value")
    const inFile = await loadFrom(
      await writeConfig({ chunkIndex: { kind: "lancedb", uri: "s3://bucket/index", storageOptions: { aws_secret_access_key: "in-the-file" } } })
    )
    expect(errorOf(inFile)).toMatch(/chunkIndex\.storageOptions: must be free of credentials: set RAGKIT_S3_ACCESS_KEY_ID/)
    expect(errorOf(inFile)).not.toContain("in-the-file")
  })

  it("read secrets written ${NAME} from the environment and keep them redacted; OTEL_EXPORTER_OTLP_ENDPOINT sets the traces URL", async () => {
    const file = await writeConfig({
      database: { url: "${TEST_DB_URL}" },
      secretKey: "${TEST_SECRET}",
      auth: { registration: "closed", sessionHours: 12, loginLimits: { account: { attempts: 5, windowMinutes: 10 }, address: false } }
    })
    const dbUrl = "postgres://u:db-password-123@127.0.0.1:5432/x"
    const loaded = await loadFrom(file, { TEST_DB_URL: dbUrl, TEST_SECRET: "s".repeat(40), OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318/" })
    if (Either.isLeft(loaded)) throw loaded.left
    const s = loaded.right
    expect(Option.map(s.databaseUrl, Redacted.value)).toEqual(Option.some(dbUrl))
    expect(JSON.stringify(s)).not.toContain("db-password-123")
    expect([s.auth.registration, s.auth.sessionHours, s.auth.loginLimits.address]).toEqual(["closed", 12, false])
    expect(s.auth.loginLimits.account).toMatchObject({ attempts: 5 })
    expect(s.telemetry).toEqual({ tracesUrl: Option.some("http://127.0.0.1:4318/v1/traces"), serviceName: "ragkit" })
  })

  it("read the RSA private key at start-up, and refuse one the passphrase does not open", async () => {
    const { privateKey } = generateKeyPairSync("rsa", {
      modulusLength: 1024,
      privateKeyEncoding: { type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "open sesame" },
      publicKeyEncoding: { type: "spki", format: "pem" }
    })
    const dir = await tempDir()
    await writeFile(join(dir, "private.pem"), privateKey)
    const file = join(dir, "ragkit.json")
    await writeFile(file, JSON.stringify({ auth: { rsaPrivateKeyFile: "private.pem", rsaPassphrase: "${TEST_RSA_PASSPHRASE}" } }))
    const ok = await loadFrom(file, { TEST_RSA_PASSPHRASE: "open sesame" })
    if (Either.isLeft(ok)) throw ok.left
    expect(ok.right.auth.rsaPrivateKeyFile).toEqual(Option.some(join(dir, "private.pem")))
    expect(Option.map(ok.right.auth.rsaPrivateKey, Redacted.value)).toEqual(Option.some(privateKey))
    const wrong = await loadFrom(file, { TEST_RSA_PASSPHRASE: "wrong" })
    expect(errorOf(wrong)).toBe(`config file ${file}: auth.rsaPrivateKeyFile: ${join(dir, "private.pem")} is not a PEM private key that auth.rsaPassphrase opens`)
    expect(errorOf(wrong)).not.toContain("wrong")
    const missing = await loadFrom(file, {}, {})
    expect(errorOf(missing)).toContain("auth.rsaPassphrase: the environment variable TEST_RSA_PASSPHRASE is not set")
  })

  it("put the chunk index in pgvector on PGlite, which bundles it", async () => {
    const settings = defaults({ dataDir: await tempDir(), chunkIndex: { kind: "pgvector" } })
    const count = await Effect.runPromise(
      Effect.scoped(
        Effect.flatMap(Layer.build(Engine.stores(settings)), (context) =>
          Effect.flatMap(Effect.provide(ChunkIndex.ChunkIndex, context), (index) => index.countByDocument("kb" as KnowledgeBaseId, "doc" as DocumentId))
        )
      )
    )
    expect(count).toBe(0)
    // The file's text-search tail options reach the index; without them, the index's defaults.
    const options = { tailRows: 0, tailIdleMillis: 250, exactSearchThreshold: 5_000, efSearch: 200, indexRebuildRatio: 2, indexBuildMemory: "1GB" }
    const tuned = defaults({ dataDir: await tempDir(), chunkIndex: { kind: "pgvector", ...options } })
    expect(Engine.pgvectorOptions(tuned)).toStrictEqual(options)
    expect(Engine.pgvectorOptions(settings)).toStrictEqual({})
  }, 60_000)

  const pgvectorStart = (url: string) =>
    Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const db = yield* freshDatabase(url)
          const settings = defaults({ dataDir: yield* Effect.promise(tempDir), databaseUrl: Option.some(Redacted.make(db.url)), chunkIndex: { kind: "pgvector" } })
          return yield* Effect.either(Effect.scoped(Layer.build(Engine.stores(settings))))
        })
      )
    )
  it.skipIf(pgUrl === undefined || pgvectorOnServer)("on a Postgres without the vector extension, pgvector stops the start saying so", async () => {
    const started = await pgvectorStart(pgUrl!)
    expect(Either.isLeft(started) && started.left.message).toContain("pgvector is not installed in this database")
  }, 60_000)
  it.skipIf(!pgvectorOnServer)("on a Postgres with the vector extension, pgvector starts", async () => {
    expect(Either.isRight(await pgvectorStart(pgUrl!))).toBe(true)
  }, 60_000)
})
