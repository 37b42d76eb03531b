/**
 * @ragkit/server: the HTTP server and the `ragkit` command.
 */
export * from "./Config.js"
export * as Engine from "./Engine.js"
export * as Http from "./Http.js"
export * as SecretKey from "./SecretKey.js"
