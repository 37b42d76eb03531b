/**
 * Optional peer dependencies, imported on first use. A plugin's heavy or native library
 * (onnxruntime-node, PGlite, OCR, unstructured-client, GloVe weights) is an optional peer of its
 * package: a host that never uses the plugin neither installs nor loads it, and one that uses it
 * without installing it gets a failure that names the command to run.
 *
 *   const ort = OptionalPeer.load("onnxruntime-node", () => import("onnxruntime-node"))
 *   yield* ort.pipe(Effect.mapError((e) => new ModelError({ reason: "NotConfigured", model, message: e.message })))
 */
import { Data, Effect } from "effect"

/**
 * A peer could not be loaded. `missing`: the package is not installed (the message says
 * `npm install <packages>`); otherwise it is installed and failed to load (a native binary for
 * another platform, a broken install).
 */
export class OptionalPeerError extends Data.TaggedError("OptionalPeerError")<{
  readonly packageName: string
  readonly missing: boolean
  readonly message: string
  readonly cause: unknown
}> {}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/**
 * Whether `cause` is Node's "cannot find package or module `packageName`" (from `import`,
 * `require` or `require.resolve`), as opposed to a failure inside the installed package or a
 * missing dependency of it.
 */
export const isNotInstalled = (cause: unknown, packageName: string): boolean => {
  if (!(cause instanceof Error)) return false
  const code = (cause as { readonly code?: unknown }).code
  if (code !== "ERR_MODULE_NOT_FOUND" && code !== "MODULE_NOT_FOUND") return false
  return new RegExp(`['"]${escape(packageName)}(['"/]|$)`).test(cause.message)
}

/** The message of a missing peer: what needs it and the command that installs it. */
export const notInstalledMessage = (packages: ReadonlyArray<string>, neededFor?: string): string =>
  `${packages[0]} is not installed${neededFor === undefined ? "" : ` (needed for ${neededFor})`}; ` +
  `it is an optional peer dependency: npm install ${packages.join(" ")}`

const describe = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause)).split("\n")[0]!

/** The `OptionalPeerError` for a failure to load `packages[0]`. */
export const toError = (packages: ReadonlyArray<string>, cause: unknown, neededFor?: string): OptionalPeerError => {
  const packageName = packages[0]!
  const missing = isNotInstalled(cause, packageName)
  return new OptionalPeerError({
    packageName,
    missing,
    message: missing ? notInstalledMessage(packages, neededFor) : `${packageName} cannot be loaded: ${describe(cause)}`,
    cause
  })
}

export interface LoadOptions {
  /** Further packages the install command should name (e.g. a models package used with it). */
  readonly with?: ReadonlyArray<string>
  /** What needs the package, for the message (e.g. `"ONNX models"`). */
  readonly neededFor?: string
}

/**
 * The module `load` imports, loaded once: the first run starts the import, later runs share it; a
 * failed import is retried by the next run (the package may have been installed meanwhile).
 */
export const load = <A>(
  packageName: string,
  importModule: () => Promise<A>,
  options: LoadOptions = {}
): Effect.Effect<A, OptionalPeerError> => {
  const packages = [packageName, ...(options.with ?? [])]
  let loading: Promise<A> | undefined
  return Effect.tryPromise({
    try: () =>
      (loading ??= importModule().catch((cause: unknown) => {
        loading = undefined
        throw cause
      })),
    catch: (cause) => toError(packages, cause, options.neededFor)
  })
}
