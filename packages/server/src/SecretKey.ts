/**
 * The deployment's secret key (tenants' model provider API keys are encrypted under it):
 * `RAGKIT_SECRET_KEY`, or else `<data-dir>/secret.key`, generated on first start (32 random
 * bytes, base64url, mode 0600) and reused after. Every process of a deployment shares the data
 * directory (blobs and the chunk index live there), so they share the generated key too.
 */
import { Models } from "@ragkit/core"
import { Data, Effect, Option, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { chmod, link, mkdir, readFile, unlink, writeFile } from "node:fs/promises"
import { join } from "node:path"
import type { ServerSettings } from "./Config.js"

/** The secret key could not be read or made. */
export class SecretKeyError extends Data.TaggedError("SecretKeyError")<{ readonly message: string; readonly cause?: unknown }> {}

/** Where the generated key lives. */
export const path = (dataDir: string): string => join(dataDir, "secret.key")

/**
 * Reads `<dataDir>/secret.key`, creating it first when missing. Creation is atomic (written under
 * a temporary name, then linked into place), so processes starting together agree on one key.
 */
export const fromDataDir = (dataDir: string): Effect.Effect<Redacted.Redacted, SecretKeyError> =>
  Effect.tryPromise({
    try: async () => {
      const file = path(dataDir)
      const existing = await readFile(file, "utf8").catch((e: NodeJS.ErrnoException) => {
        if (e.code === "ENOENT") return undefined
        throw e
      })
      if (existing !== undefined) return existing.trim()
      await mkdir(dataDir, { recursive: true })
      const temporary = `${file}.${randomBytes(6).toString("hex")}.tmp`
      await writeFile(temporary, `${randomBytes(32).toString("base64url")}\n`, { mode: 0o600, flag: "wx" })
      try {
        await chmod(temporary, 0o600)
        await link(temporary, file).catch((e: NodeJS.ErrnoException) => {
          // Another process made it first: theirs is the key.
          if (e.code !== "EEXIST") throw e
        })
      } finally {
        await unlink(temporary).catch(() => undefined)
      }
      return (await readFile(file, "utf8")).trim()
    },
    catch: (cause) => new SecretKeyError({ message: `could not read or create the secret key ${path(dataDir)}`, cause })
  }).pipe(
    Effect.filterOrFail(
      (key) => key.length >= Models.SECRET_KEY_MIN,
      () => new SecretKeyError({ message: `${path(dataDir)} holds fewer than ${Models.SECRET_KEY_MIN} characters` })
    ),
    Effect.map((key) => Redacted.make(key))
  )

/** The configured key (`RAGKIT_SECRET_KEY`), or the data directory's. */
export const resolve = (config: Pick<ServerSettings, "secretKey" | "dataDir">): Effect.Effect<Redacted.Redacted, SecretKeyError> =>
  Option.match(config.secretKey, { onSome: Effect.succeed, onNone: () => fromDataDir(config.dataDir) })
