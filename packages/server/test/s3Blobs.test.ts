/**
 * Blobs on an S3-compatible server (`blobStore: { "kind": "s3" }`, s3rver): the settings from the
 * environment with clear errors, the engine serving on them (upload, parse to DONE, download the
 * original bytes, the object in the bucket), and credentials that never reach a message or status.
 */
import { NodeContext } from "@effect/platform-node"
import { type S3Server, startS3Server } from "@ragkit/fixtures/s3"
import { S3BlobStore } from "@ragkit/store-s3"
import { ConfigProvider, Effect, Either, Layer, Option } from "effect"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { load } from "../src/Config.js"
import * as Engine from "../src/Engine.js"
import { heavy, loadedBy, matching } from "../../../test/support/importCost.js"
import { startSeedServer } from "./support/seedServer.js"

let s3: S3Server
const dirs: Array<string> = []
beforeAll(async () => {
  s3 = await startS3Server({ bucket: "ragkit-blobs" })
})
afterAll(async () => {
  await s3?.close()
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})

const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), "ragkit-s3-server-"))
  dirs.push(dir)
  return dir
}

const loadWith = (env: Record<string, string>, configFile?: string) =>
  Effect.runPromise(
    Effect.either(
      load({ configFile }).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))), Effect.provide(NodeContext.layer))
    )
  )

const s3Env = () => ({
  RAGKIT_BLOB_STORE: "s3",
  RAGKIT_S3_BUCKET: s3.bucket,
  RAGKIT_S3_ENDPOINT: s3.endpoint,
  RAGKIT_S3_REGION: s3.region,
  RAGKIT_S3_PREFIX: "blobs/",
  RAGKIT_S3_FORCE_PATH_STYLE: "true",
  RAGKIT_S3_ACCESS_KEY_ID: s3.accessKeyId,
  RAGKIT_S3_SECRET_ACCESS_KEY: s3.secretAccessKey
})

const SECRET = "tOpSeCrEt-never-printed-0123456789"

describe("blobStore kind s3", () => {
  it("is read from the file and the environment; credentials only from the environment; mistakes name their key", async () => {
    const dir = await tempDir()
    const file = join(dir, "ragkit.json")
    await writeFile(file, JSON.stringify({ blobStore: { kind: "s3", bucket: "docs", prefix: "ragkit/", endpoint: "http://127.0.0.1:9000", forcePathStyle: true } }))
    const fromFile = await loadWith({ RAGKIT_S3_REGION: "eu-west-1" }, file)
    expect(Either.getOrThrow(fromFile).blobStore).toEqual({
      kind: "s3",
      bucket: "docs",
      prefix: "ragkit/",
      region: "eu-west-1",
      endpoint: "http://127.0.0.1:9000",
      forcePathStyle: true,
      credentials: Option.none()
    })
    const fromEnv = Either.getOrThrow(await loadWith({ ...s3Env(), RAGKIT_S3_SECRET_ACCESS_KEY: SECRET }))
    expect(fromEnv.blobStore).toMatchObject({ kind: "s3", bucket: s3.bucket, prefix: "blobs/", forcePathStyle: true })
    expect(JSON.stringify(fromEnv)).not.toContain(SECRET)
    expect(String(fromEnv.blobStore.kind === "s3" && Option.getOrThrow(fromEnv.blobStore.credentials).secretAccessKey)).not.toContain(SECRET)

    const errorOf = async (env: Record<string, string>, content?: unknown) => {
      let configFile: string | undefined
      if (content !== undefined) {
        configFile = join(dir, "bad.json")
        await writeFile(configFile, JSON.stringify(content))
      }
      const result = await loadWith(env, configFile)
      if (Either.isRight(result)) throw new Error(`accepted ${JSON.stringify(env)} ${JSON.stringify(content)}`)
      return result.left.message
    }
    expect(await errorOf({ RAGKIT_BLOB_STORE: "s3" })).toContain("RAGKIT_S3_BUCKET (blobStore.bucket): is missing")
    expect(await errorOf({ RAGKIT_BLOB_STORE: "gcs" })).toContain(`RAGKIT_BLOB_STORE (blobStore.kind): Expected "file" | "s3", actual "gcs"`)
    expect(await errorOf({ ...s3Env(), RAGKIT_S3_ENDPOINT: "localhost:9000" })).toContain("RAGKIT_S3_ENDPOINT (blobStore.endpoint): must be an http(s) URL")
    expect(await errorOf({ ...s3Env(), RAGKIT_S3_BUCKET: "my bucket/x" })).toContain("RAGKIT_S3_BUCKET (blobStore.bucket): must be a bucket name")
    expect(await errorOf({ ...s3Env(), RAGKIT_S3_FORCE_PATH_STYLE: "sometimes" })).toContain("RAGKIT_S3_FORCE_PATH_STYLE (blobStore.forcePathStyle): must be true or false")
    expect(await errorOf({}, { blobStore: { kind: "s3", bucket: "docs", secretAccessKey: SECRET } })).toContain("blobStore.secretAccessKey: is not a known key")
    const half = await errorOf({ ...s3Env(), RAGKIT_S3_ACCESS_KEY_ID: "", RAGKIT_S3_SECRET_ACCESS_KEY: SECRET })
    expect(half).toContain("RAGKIT_S3_ACCESS_KEY_ID and RAGKIT_S3_SECRET_ACCESS_KEY: set both or neither")
    expect(half).not.toContain(SECRET)
  })

  it("file blobs never load @ragkit/store-s3 or the AWS SDK; kind s3 loads them when the layer is built", async () => {
    const script = (kind: "file" | "s3") => `const Engine = await import("./src/Engine.ts")
const { defaults } = await import("./src/Config.ts")
const { Effect, Layer, Option } = await import("effect")
const { mkdtempSync } = await import("node:fs")
const dataDir = mkdtempSync(${JSON.stringify(join(tmpdir(), "ragkit-s3-cost-"))})
const blobStore = ${kind === "file" ? `{ kind: "file", dir: dataDir }` : `{ kind: "s3", bucket: ${JSON.stringify(s3.bucket)}, endpoint: ${JSON.stringify(s3.endpoint)}, forcePathStyle: true, credentials: Option.some({ accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }) }`}
await Effect.runPromise(Effect.scoped(Layer.build(Engine.blobStore(defaults({ dataDir, blobStore })))))
await (await import("node:fs/promises")).rm(dataDir, { recursive: true, force: true })`
    const packageDir = fileURLToPath(new URL("..", import.meta.url))
    const [file, s3Kind] = await Promise.all([loadedBy(packageDir, script("file")), loadedBy(packageDir, script("s3"))])
    expect(matching(file, [heavy.awsSdk, /store-s3/])).toEqual([])
    expect(matching(s3Kind, [heavy.awsSdk])).not.toEqual([])
  }, 60_000)

  it("a start with unknown credentials or a missing bucket fails naming the bucket, never the secret", async () => {
    const dataDir = await tempDir()
    const startWith = async (env: Record<string, string>) => {
      const settings = Either.getOrThrow(await loadWith({ ...s3Env(), RAGKIT_DATA_DIR: dataDir, ...env }))
      const built = await Effect.runPromise(Effect.either(Effect.scoped(Layer.build(Engine.blobStore(settings)))))
      if (Either.isRight(built)) throw new Error("started")
      return built.left
    }
    const denied = await startWith({ RAGKIT_S3_ACCESS_KEY_ID: "AKIAUNKNOWN", RAGKIT_S3_SECRET_ACCESS_KEY: SECRET })
    expect(denied.message).toBe(`S3 blob store: cannot use bucket ${s3.bucket} at ${s3.endpoint}: access denied: check the credentials and that they may list the bucket`)
    const missing = await startWith({ RAGKIT_S3_BUCKET: "no-such-bucket", RAGKIT_S3_SECRET_ACCESS_KEY: SECRET })
    expect(missing.message).toContain("cannot use bucket no-such-bucket")
    expect(missing.message).toContain("the bucket does not exist")
    for (const error of [denied, missing]) expect(JSON.stringify(error) + String(error.cause)).not.toContain(SECRET)
  })

  it("serves with blobs in the bucket: upload, parse to DONE, download the same bytes; status shows s3 and no secret", async () => {
    const dataDir = await tempDir()
    const settings = Either.getOrThrow(
      await loadWith({ ...s3Env(), RAGKIT_DATA_DIR: dataDir, RAGKIT_WORKERS: "1", RAGKIT_OCR: "false", RAGKIT_TEST_MODELS: "true", RAGKIT_LEASE_MS: "5000" })
    )
    const server = await startSeedServer(Engine.layerWithWorkers(settings))
    try {
      const owner = await server.account("s3-owner@example.com")
      const dataset = (await server.request("POST", "/api/v1/datasets", { token: owner.apiKey, json: { name: "buoys", embedding_model: "hash-64@Test" } })).body.data
      // Text with bytes a careless store would mangle: UTF-8 beyond ASCII, CRLF, a BOM.
      const text = "\uFEFFBuoys mark the channel.\r\nRed to port, green to starboard — «toujours».\n"
      const bytes = new TextEncoder().encode(text)
      const form = new FormData()
      form.append("file", new Blob([bytes], { type: "text/plain" }), "buoys.txt")
      const uploaded = await server.request("POST", `/api/v1/datasets/${dataset.id}/documents`, { token: owner.apiKey, body: form })
      expect([uploaded.status, uploaded.body.code]).toEqual([200, 0])
      const doc = uploaded.body.data[0]
      const parse = await server.request("POST", `/api/v1/datasets/${dataset.id}/chunks`, { token: owner.apiKey, json: { document_ids: [doc.id] } })
      expect(parse.body).toEqual({ code: 0 })
      const deadline = Date.now() + 60_000
      let state = doc
      while (Date.now() < deadline) {
        state = (await server.request("GET", `/api/v1/datasets/${dataset.id}/documents`, { token: owner.apiKey, query: { id: doc.id } })).body.data.docs[0]
        if (state.run === "DONE" || state.run === "FAIL") break
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect([state.run, state.chunk_count]).toEqual(["DONE", 1])
      const download = await fetch(`${server.url}/api/v1/datasets/${dataset.id}/documents/${doc.id}`, { headers: { authorization: `Bearer ${owner.apiKey}` } })
      expect(download.status).toBe(200)
      expect(Buffer.compare(new Uint8Array(await download.arrayBuffer()), bytes)).toBe(0)

      // The original is an object in the bucket, under the prefix.
      const inBucket = await Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const bare = yield* S3BlobStore.make({
              bucket: s3.bucket,
              endpoint: s3.endpoint,
              region: s3.region,
              forcePathStyle: true,
              credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
            })
            const keys = yield* bare.list("blobs/")
            return { keys, bytes: yield* Effect.forEach(keys, bare.get) }
          })
        )
      )
      expect(inBucket.keys.length).toBeGreaterThan(0)
      expect(inBucket.keys.every((key) => key.startsWith("blobs/"))).toBe(true)
      expect(inBucket.bytes.some((b) => Buffer.compare(b, bytes) === 0)).toBe(true)

      const status = await server.request("GET", "/api/v1/system/status", { token: owner.session })
      expect(status.body.data.storage).toMatchObject({ storage: "s3", status: "green" })
      expect(JSON.stringify(status.body)).not.toContain(s3.secretAccessKey === "S3RVER" ? "secretAccessKey" : s3.secretAccessKey)
    } finally {
      await server.close()
    }
  }, 120_000)
})
