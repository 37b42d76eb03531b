/**
 * Encryption at rest of the secrets the engine must be able to read back (model provider API
 * keys): AES-256-GCM under a key derived from the deployment's secret key (HKDF-SHA256).
 *
 * A sealed value is `v1:<iv>:<ciphertext>:<tag>` (base64; 12-byte IV, 16-byte tag), with
 * additional data that names the record it belongs to, so a sealed value copied onto another
 * record does not open. Opening tells apart a value that is not sealed, a format this version does
 * not read, and a value sealed under another secret key.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto"
import { Either, Redacted } from "effect"

/** The shortest secret key accepted: 32 characters (e.g. `openssl rand -base64 32` gives 44). */
export const SECRET_KEY_MIN = 32

const VERSION = "v1"
const IV_BYTES = 12
const TAG_BYTES = 16

/** Why a stored value did not open. */
export type OpenFailure =
  /** Not a sealed value at all (e.g. stored in clear by an earlier version). */
  | "NotSealed"
  /** Sealed in a format this version does not read. */
  | "UnknownFormat"
  /** Sealed under another secret key, for another record, or altered. */
  | "WrongKey"

export interface SecretBox {
  /** Seals `plain` for the record named by `context`. */
  readonly seal: (plain: string, context: string) => string
  /** Opens a sealed value of the record named by `context`. */
  readonly open: (sealed: string, context: string) => Either.Either<string, OpenFailure>
}

/** Is the value sealed (in any version)? */
export const isSealed = (value: string): boolean => /^v\d+:/.test(value)

/** A box under the deployment's secret key; the key must have at least `SECRET_KEY_MIN` characters. */
export const secretBox = (secretKey: Redacted.Redacted<string>): SecretBox => {
  const secret = Redacted.value(secretKey)
  if (secret.length < SECRET_KEY_MIN) {
    throw new RangeError(`the secret key must have at least ${SECRET_KEY_MIN} characters`)
  }
  const key = Buffer.from(hkdfSync("sha256", Buffer.from(secret, "utf8"), Buffer.from("ragkit"), Buffer.from("ragkit secrets at rest v1"), 32))
  return {
    seal: (plain, context) => {
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES })
      cipher.setAAD(Buffer.from(context, "utf8"))
      const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()])
      return [VERSION, iv.toString("base64"), body.toString("base64"), cipher.getAuthTag().toString("base64")].join(":")
    },
    open: (sealed, context) => {
      if (!isSealed(sealed)) return Either.left("NotSealed")
      const parts = sealed.split(":")
      if (parts[0] !== VERSION || parts.length !== 4) return Either.left("UnknownFormat")
      const [iv, body, tag] = parts.slice(1).map((p) => Buffer.from(p, "base64"))
      if (iv!.length !== IV_BYTES || tag!.length !== TAG_BYTES) return Either.left("UnknownFormat")
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, iv!, { authTagLength: TAG_BYTES })
        decipher.setAAD(Buffer.from(context, "utf8"))
        decipher.setAuthTag(tag!)
        return Either.right(Buffer.concat([decipher.update(body!), decipher.final()]).toString("utf8"))
      } catch {
        // GCM's tag check failed: another key, another record, or altered bytes.
        return Either.left("WrongKey")
      }
    }
  }
}
