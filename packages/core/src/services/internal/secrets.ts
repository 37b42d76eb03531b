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

/**
 * Is a credential's (a session's, an API key's) recorded last use old enough to write again? It is
 * written at most once a minute, so authenticating is otherwise a read.
 */
export const lastUseIsStale = (lastUsed: number | null, now: number): boolean => lastUsed === null || now - lastUsed >= 60_000

/**
 * scrypt's cost N for new password hashes: 2^17 with r = 8 and p = 1, OWASP's recommendation.
 * Each hash then takes 128·N·r bytes = 128 MiB of memory and about half a second of one core.
 */
export const DEFAULT_PASSWORD_COST = 2 ** 17
const R = 8
const P = 1
const SALT_BYTES = 16
const KEY_BYTES = 32
/** The largest N a stored hash may ask for (a corrupt or hostile row must not ask for absurd work). */
const MAX_COST = 2 ** 20
/** Hashes computed at once: each holds 128·N·r bytes, and they share libuv's few threads with file and DNS work. */
const CONCURRENT_HASHES = 2

const isCost = (n: number): boolean => Number.isInteger(n) && n >= 2 && n <= MAX_COST && (n & (n - 1)) === 0

const derive = (password: string, salt: Buffer, n: number, r: number, p: number, keyBytes: number): Effect.Effect<Buffer> =>
  Effect.async<Buffer>((resume) => {
    // Runs on libuv's thread pool; the callback resumes the fiber. Node's default `maxmem` (32 MiB)
    // is below what N = 2^17 needs, so it is sized from the parameters.
    scrypt(password, salt, keyBytes, { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 }, (error, key) => {
      resume(error === null ? Effect.succeed(key) : Effect.die(error))
    })
  })

const format = (n: number, salt: Buffer, key: Buffer) => `scrypt$${n}$${R}$${P}$${salt.toString("base64")}$${key.toString("base64")}`

const parsed = (stored: string) => {
  const parts = stored.split("$")
  if (parts.length !== 6 || parts[0] !== "scrypt") return undefined
  const [n, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])]
  if (!isCost(n) || !Number.isInteger(r) || r < 1 || r > 32 || !Number.isInteger(p) || p < 1 || p > 16) return undefined
  const salt = Buffer.from(parts[4]!, "base64")
  const hash = Buffer.from(parts[5]!, "base64")
  if (salt.length === 0 || hash.length < 16 || hash.length > 128) return undefined
  return { n, r, p, salt, hash }
}

/** Password hashing at one cost: what the `Users` service hashes, checks and upgrades with. */
export interface Passwords {
  /** A new hash: `scrypt$N$r$p$saltB64$hashB64`. */
  readonly hash: (password: string) => Effect.Effect<string>
  /** Does the password match the stored hash? A malformed hash matches nothing. Constant-time compare. */
  readonly verify: (password: string, stored: string) => Effect.Effect<boolean>
  /** Is the stored hash cheaper than new ones (a smaller N, r or p)? Then it is replaced at the next login. */
  readonly weakerThanNew: (stored: string) => boolean
  /**
   * A well-formed hash at this cost that no password is known to match. Checked against when an
   * e-mail address is unknown, so a failed login takes as long whether or not the account exists.
   */
  readonly decoy: string
}

/**
 * Hashing with scrypt at cost `cost` (N, a power of two up to 2^20; `DEFAULT_PASSWORD_COST` in a
 * deployment; tests may lower it). At most two hashes run at once; more wait their turn.
 */
export const passwords = (cost: number = DEFAULT_PASSWORD_COST): Passwords => {
  if (!isCost(cost)) throw new RangeError(`the password cost must be a power of two from 2 to ${MAX_COST}, got ${cost}`)
  const permits = Effect.unsafeMakeSemaphore(CONCURRENT_HASHES)
  const bounded = permits.withPermits(1)
  return {
    hash: (password) =>
      Effect.suspend(() => {
        const salt = randomBytes(SALT_BYTES)
        return Effect.map(bounded(derive(password, salt, cost, R, P, KEY_BYTES)), (key) => format(cost, salt, key))
      }),
    verify: (password, stored) =>
      Effect.suspend(() => {
        const h = parsed(stored)
        if (h === undefined) return Effect.succeed(false)
        return Effect.map(bounded(derive(password, h.salt, h.n, h.r, h.p, h.hash.length)), (key) => timingSafeEqual(key, h.hash))
      }),
    weakerThanNew: (stored) => {
      const h = parsed(stored)
      return h !== undefined && (h.n < cost || h.r < R || h.p < P)
    },
    decoy: format(cost, Buffer.alloc(SALT_BYTES, 7), Buffer.alloc(KEY_BYTES, 0))
  }
}
