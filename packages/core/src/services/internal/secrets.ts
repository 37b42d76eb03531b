/**
 * Secrets the services hand out or check: password hashes (scrypt), session tokens and API keys
 * (random, stored only as their SHA-256).
 */
import { createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto"
import { Effect } from "effect"

/** SHA-256 of a string (UTF-8), lower-case hex. Tokens are stored as this, never in clear. */
export const sha256Hex = (value: string): string => createHash("sha256").update(value, "utf8").digest("hex")

/** `bytes` random bytes as base64url (no padding). 32 bytes give 43 characters. */
export const randomToken = (bytes = 32): string => randomBytes(bytes).toString("base64url")

/** scrypt cost parameters for new hashes. 128·N·r bytes of memory: 16 MiB. */
const N = 16384
const R = 8
const P = 1
const SALT_BYTES = 16
const KEY_BYTES = 32

const derive = (password: string, salt: Buffer, n: number, r: number, p: number, keyBytes: number): Effect.Effect<Buffer> =>
  Effect.async<Buffer>((resume) => {
    // Runs on libuv's thread pool; the callback resumes the fiber.
    scrypt(password, salt, keyBytes, { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 }, (error, key) => {
      resume(error === null ? Effect.succeed(key) : Effect.die(error))
    })
  })

/** A new password hash: `scrypt$N$r$p$saltB64$hashB64`. */
export const hashPassword = (password: string): Effect.Effect<string> =>
  Effect.suspend(() => {
    const salt = randomBytes(SALT_BYTES)
    return Effect.map(
      derive(password, salt, N, R, P, KEY_BYTES),
      (key) => `scrypt$${N}$${R}$${P}$${salt.toString("base64")}$${key.toString("base64")}`
    )
  })

const parsed = (stored: string) => {
  const parts = stored.split("$")
  if (parts.length !== 6 || parts[0] !== "scrypt") return undefined
  const [n, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])]
  // Bounds keep a corrupt or hostile stored hash from asking for absurd work.
  const powerOfTwo = Number.isInteger(n) && n >= 2 && n <= 1 << 20 && (n & (n - 1)) === 0
  if (!powerOfTwo || !Number.isInteger(r) || r < 1 || r > 32 || !Number.isInteger(p) || p < 1 || p > 16) return undefined
  const salt = Buffer.from(parts[4]!, "base64")
  const hash = Buffer.from(parts[5]!, "base64")
  if (salt.length === 0 || hash.length < 16 || hash.length > 128) return undefined
  return { n, r, p, salt, hash }
}

/** Does the password match the stored hash? A malformed hash matches nothing. Constant-time compare. */
export const verifyPassword = (password: string, stored: string): Effect.Effect<boolean> =>
  Effect.suspend(() => {
    const h = parsed(stored)
    if (h === undefined) return Effect.succeed(false)
    return Effect.map(derive(password, h.salt, h.n, h.r, h.p, h.hash.length), (key) => timingSafeEqual(key, h.hash))
  })

/**
 * A well-formed hash that no password is known to match. Checked against when an e-mail address
 * is unknown, so a failed login takes as long whether or not the account exists.
 */
export const decoyPasswordHash = `scrypt$${N}$${R}$${P}$${Buffer.alloc(SALT_BYTES, 7).toString("base64")}$${Buffer.alloc(KEY_BYTES, 0).toString("base64")}`
