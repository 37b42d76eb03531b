/**
 * Passwords as clients send them to `user/login`, `user/register` and `user/setting`.
 *
 * Without a private key configured a password is taken as sent. With one (`auth.rsaPrivateKeyFile`,
 * `auth.rsaPassphrase`) every password must arrive as RAGFlow's web client sends it: the base64
 * of the password's UTF-8 bytes, encrypted with the matching public key under PKCS#1 v1.5 and
 * base64-encoded (JSEncrypt's output, which may drop leading zero bytes).
 *
 * Node 20 refuses PKCS#1 v1.5 decryption (the Marvin attack, CVE-2023-46809), so the padding is
 * removed here, after a raw RSA operation, without branches on the block's bytes; and nothing
 * a client can see tells a bad padding from a bad password: `user/login` treats a password that
 * cannot be read like a wrong one, and the other endpoints refuse both kinds of failure with one
 * message.
 */
import { Effect, Option } from "effect"
import { constants, createPrivateKey, type KeyObject, privateDecrypt, randomBytes } from "node:crypto"

export interface Passwords {
  /** Whether passwords must arrive encrypted. */
  readonly encrypted: boolean
  /** The password a client sent, or none when it can't be read (never with no key configured). */
  readonly read: (sent: string) => Option.Option<string>
}

/** Passwords taken as sent. */
export const plain: Passwords = { encrypted: false, read: Option.some }

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Strict base64 (padded, standard alphabet), ignoring surrounding spaces; none otherwise. */
const fromBase64 = (text: string): Option.Option<Buffer> => {
  const t = text.trim()
  return t.length > 0 && BASE64.test(t) ? Option.some(Buffer.from(t, "base64")) : Option.none()
}

/** UTF-8 text, or none when the bytes are not UTF-8. */
const utf8 = (bytes: Uint8Array): Option.Option<string> => {
  try {
    return Option.some(new TextDecoder("utf-8", { fatal: true }).decode(bytes))
  } catch {
    return Option.none()
  }
}

/**
 * The message of a PKCS#1 v1.5 encryption block (`00 02 PS 00 M`, PS at least 8 non-zero bytes),
 * or none. Every byte is looked at whatever the block holds, so the time taken does not depend on
 * where the padding is wrong.
 */
export const unpad = (block: Uint8Array): Option.Option<Uint8Array> => {
  /** 1 when `n` (0 <= n < 2^31) is 0, else 0. */
  const isZero = (n: number) => ((n - 1) >> 31) & 1
  let bad = block[0]! | (block[1]! ^ 2)
  let zeroAt = 0
  for (let i = 2; i < block.length; i++) {
    // Records i when this is the first zero byte after the header.
    zeroAt |= isZero(block[i]!) * isZero(zeroAt) * i
  }
  // No separator, or fewer than 8 bytes of padding before it.
  bad |= isZero(zeroAt) | (((zeroAt - 10) >> 31) & 1)
  return bad === 0 ? Option.some(block.subarray(zeroAt + 1)) : Option.none()
}

/** The cipher of a private key: RSA with PKCS#1 v1.5 padding, over the base64 of the password. */
export const fromKey = (key: KeyObject): Passwords => {
  const details = key.asymmetricKeyDetails
  if (key.asymmetricKeyType !== "rsa" || details?.modulusLength === undefined) {
    throw new Error("the private key is not an RSA key")
  }
  const size = Math.ceil(details.modulusLength / 8)
  const read = (sent: string): Option.Option<string> =>
    Option.flatMap(fromBase64(sent), (cipher) => {
      // JSEncrypt drops leading zero bytes of the ciphertext: put them back.
      if (cipher.length > size || cipher.length === 0) return Option.none()
      const padded = cipher.length === size ? cipher : Buffer.concat([Buffer.alloc(size - cipher.length), cipher])
      let block: Buffer
      try {
        block = privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, padded)
      } catch {
        // A ciphertext not below the modulus.
        return Option.none()
      }
      return unpad(block).pipe(
        Option.flatMap(utf8),
        Option.flatMap(fromBase64),
        Option.flatMap(utf8)
      )
    })
  return { encrypted: true, read }
}

/**
 * The deployment's passwords: encrypted under the PEM private key when one is given (an encrypted
 * PEM needs its passphrase); a key that can't be read is an error at start-up.
 */
export const make = (options: { readonly privateKeyPem?: string | undefined; readonly passphrase?: string | undefined }) =>
  options.privateKeyPem === undefined
    ? Effect.succeed(plain)
    : Effect.try({
        try: () =>
          fromKey(
            createPrivateKey({
              key: options.privateKeyPem!,
              format: "pem",
              ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase })
            })
          ),
        catch: (error) => new Error(`auth.rsaPrivateKeyFile: ${error instanceof Error ? error.message : String(error)}`)
      })

/** A password nobody sent: a login with a password that can't be read checks this one instead. */
export const unguessable = (): string => randomBytes(24).toString("base64")
