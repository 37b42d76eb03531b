/**
 * Three seed servers for the account tests: one taking passwords as sent, one whose deployment
 * configures an RSA private key (`auth.rsaPrivateKeyFile`, encrypted with a passphrase), so that
 * passwords arrive as RAGFlow's clients send them, and one with registration closed.
 */
import type { Users } from "@ragkit/core"
import { Layer, Option, Redacted } from "effect"
import { constants, generateKeyPairSync, publicEncrypt } from "node:crypto"
import { defaults, ServerConfig } from "../../src/Config.js"
import { memoryEngine, type SeedServer, startSeedServer } from "./seedServer.js"

const PASSPHRASE = "open sesame"

/** The RSA key pair the second server's deployment configures. */
const keys = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  publicKeyEncoding: { type: "spki", format: "pem" },
  privateKeyEncoding: { type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: PASSPHRASE }
})

/** A password as RAGFlow's web client sends it: JSEncrypt (PKCS#1 v1.5) over its base64, base64-encoded. */
export const encrypt = (password: string): string =>
  publicEncrypt({ key: keys.publicKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.from(Buffer.from(password).toString("base64"))).toString("base64")

export interface AccountServers {
  readonly server: SeedServer
  readonly rsa: SeedServer
  readonly closed: SeedServer
  readonly close: () => Promise<void>
}

/** The three servers, over memory engines with these account settings. */
export const startAccountServers = async (users: Omit<Users.UsersOptions, "tenantDefaults" | "registration">): Promise<AccountServers> => {
  const config = defaults({ auth: { rsaPrivateKey: Option.some(Redacted.make(keys.privateKey)), rsaPassphrase: Option.some(Redacted.make(PASSPHRASE)) } })
  const [server, rsa, closed] = await Promise.all([
    startSeedServer(memoryEngine({ users })),
    startSeedServer(Layer.merge(memoryEngine({ users }), ServerConfig.layer(config))),
    startSeedServer(memoryEngine({ users: { ...users, registration: "closed" } }))
  ])
  return { server, rsa, closed, close: async () => void (await Promise.all([server.close(), rsa.close(), closed.close()])) }
}
