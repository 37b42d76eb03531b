/**
 * The server's secrets and account settings: the secret key (`RAGKIT_SECRET_KEY`, or generated into
 * the data directory once and reused), the rule on tenants' model providers and the session
 * lifetime, read from the environment. (The engine that uses them is checked in http.test.ts, on
 * its engine.)
 */
import { ConfigProvider, Effect, Option, Redacted } from "effect"
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { NodeContext } from "@effect/platform-node"
import { fromEnvironment } from "../src/Config.js"
import * as SecretKey from "../src/SecretKey.js"

const dirs: Array<string> = []
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), "ragkit-secrets-"))
  dirs.push(dir)
  return dir
}

const fromEnv = (env: Record<string, string>) =>
  Effect.runPromise(Effect.either(fromEnvironment.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))), Effect.provide(NodeContext.layer))))

describe("the secret key", () => {
  it("is generated into <data-dir>/secret.key (0600) on first start, and the same key is read after", async () => {
    const dataDir = join(await tempDir(), "not-yet-made")
    const first = await Effect.runPromise(SecretKey.fromDataDir(dataDir))
    const file = SecretKey.path(dataDir)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect(Redacted.value(first)).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect((await readFile(file, "utf8")).trim()).toBe(Redacted.value(first))
    const again = await Effect.runPromise(SecretKey.fromDataDir(dataDir))
    expect(Redacted.value(again)).toBe(Redacted.value(first))
    // RAGKIT_SECRET_KEY, when set, is the key; the file is not read.
    const configured = Redacted.make("k".repeat(40))
    expect(await Effect.runPromise(SecretKey.resolve({ secretKey: Option.some(configured), dataDir }))).toBe(configured)
  })

  it("processes starting together agree on one key", async () => {
    const dataDir = await tempDir()
    const keys = await Effect.runPromise(Effect.all(Array.from({ length: 8 }, () => SecretKey.fromDataDir(dataDir)), { concurrency: "unbounded" }))
    expect(new Set(keys.map(Redacted.value)).size).toBe(1)
  })

  it("a key file that is too short stops the start", async () => {
    const dataDir = await tempDir()
    await writeFile(SecretKey.path(dataDir), "short\n")
    const error = await Effect.runPromise(Effect.flip(SecretKey.fromDataDir(dataDir)))
    expect(error).toMatchObject({ _tag: "SecretKeyError", message: expect.stringContaining("fewer than 32 characters") })
  })
})

describe("the environment", () => {
  it("sets the secret key, the rule on tenants' providers and the session lifetime", async () => {
    const unset = await fromEnv({})
    expect(unset._tag === "Right" && [Option.isNone(unset.right.secretKey), unset.right.allowPrivateProviders, unset.right.auth.sessionHours]).toEqual([
      true,
      false,
      168
    ])
    const key = "a-configured-secret-key-of-40-characters"
    const set = await fromEnv({ RAGKIT_SECRET_KEY: key, RAGKIT_ALLOW_PRIVATE_PROVIDERS: "true", RAGKIT_SESSION_HOURS: "12" })
    expect(set._tag === "Right" && [Option.map(set.right.secretKey, Redacted.value), set.right.allowPrivateProviders, set.right.auth.sessionHours]).toEqual([
      Option.some(key),
      true,
      12
    ])
    for (const [name, value] of [["RAGKIT_SECRET_KEY", "too short"], ["RAGKIT_SESSION_HOURS", "0"]] as const) {
      const refused = await fromEnv({ [name]: value })
      expect(refused._tag, name).toBe("Left")
      if (refused._tag === "Left") expect(String(refused.left)).not.toContain("too short")
    }
  })
})
