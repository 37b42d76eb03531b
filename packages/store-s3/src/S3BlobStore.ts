/**
 * A `BlobStore` on S3 or any S3-compatible object store (MinIO, Cloudflare R2, GCS interoperability,
 * s3rver): the key `kb/doc` is the object `<prefix>kb/doc` in the bucket.
 *
 * - `put` is one PutObject; `putStream` uploads as the stream comes (lib-storage's `Upload`: one
 *   PutObject below `partSizeMb`, a multipart upload above, at most `queueSize` parts in memory);
 *   a stream that fails aborts the upload, so the key keeps what it held.
 * - `getOption` maps NoSuchKey to `None` (a missing bucket is an error, not `None`).
 * - `list` pages through ListObjectsV2 with continuation tokens; `deletePrefix` deletes what it
 *   lists with DeleteObjects, 1,000 keys a call.
 * - Errors are `BlobStoreError`s naming the operation, bucket and key; they never carry credentials
 *   (the SDK's error is reduced to its name, status and message, and a configured secret is redacted).
 * - The client asks for checksums only where S3 requires them (`requestChecksumCalculation:
 *   "WHEN_REQUIRED"`): the SDK's default sends streamed bodies as `aws-chunked` with a checksum
 *   trailer, which several S3-compatible servers store verbatim or refuse.
 * - Building the layer checks that the bucket can be reached (HeadBucket), so a wrong bucket,
 *   endpoint or credentials fail at start-up rather than at the first upload.
 */
import type { S3ClientConfig } from "@aws-sdk/client-s3"
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client
} from "@aws-sdk/client-s3"
import { Upload } from "@aws-sdk/lib-storage"
import { BlobStore, BlobStoreError } from "@ragkit/core"
import { Cause, Config, Effect, Exit, Layer, Option, Redacted, Stream } from "effect"
import type { ConfigError, Scope } from "effect"
import { Readable } from "node:stream"

export interface Credentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string | Redacted.Redacted<string>
  readonly sessionToken?: string | Redacted.Redacted<string> | undefined
}

export interface Options {
  readonly bucket: string
  /** Prepended to every key (e.g. `ragkit/`; a missing trailing `/` is added). Default: none. */
  readonly prefix?: string | undefined
  /** Default: the SDK's (`AWS_REGION`, the profile), else `us-east-1`. */
  readonly region?: string | undefined
  /** For S3-compatible servers: `http://127.0.0.1:9000` (MinIO), `https://<account>.r2.cloudflarestorage.com`. */
  readonly endpoint?: string | undefined
  /** Path-style URLs (`endpoint/bucket/key`), which MinIO and s3rver need. Default: false. */
  readonly forcePathStyle?: boolean | undefined
  /** Default: the SDK's credential chain (environment, shared profile, SSO, instance role, ...). */
  readonly credentials?: Credentials | undefined
  /** Part size of multipart uploads in MiB; default 8, at least 5 (S3's minimum). */
  readonly partSizeMb?: number | undefined
  /** Parts of one upload in flight at once; default 4. */
  readonly queueSize?: number | undefined
  /** Check at start-up that the bucket can be reached (HeadBucket); default true. */
  readonly checkBucket?: boolean | undefined
}

export const defaults = { partSizeMb: 8, queueSize: 4 } as const

/** S3's limit of keys per DeleteObjects call. */
const DELETE_BATCH = 1_000

const reveal = (value: string | Redacted.Redacted<string>): string =>
  Redacted.isRedacted(value) ? Redacted.value(value) : value

interface SdkError {
  readonly name?: string
  readonly message?: string
  readonly code?: string
  readonly $metadata?: { readonly httpStatusCode?: number }
}

const statusOf = (cause: unknown): number | undefined => (cause as SdkError | undefined)?.$metadata?.httpStatusCode
const nameOf = (cause: unknown): string =>
  (cause as SdkError | undefined)?.name ?? (cause as SdkError | undefined)?.code ?? "Error"

/** ` at <endpoint>` for messages, without any `user:password@` in it; empty for AWS. */
const at = (options: Options): string =>
  options.endpoint === undefined ? "" : ` at ${options.endpoint.replace(/\/\/[^@/]*@/, "//")}`

/** Server errors, throttling and network failures: worth retrying later. */
const isUnavailable = (cause: unknown): boolean => {
  const status = statusOf(cause)
  if (status !== undefined) return status >= 500 || status === 429 || status === 408
  const name = nameOf(cause)
  return ["TimeoutError", "ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EPIPE", "ETIMEDOUT", "EAI_AGAIN"].includes(name) ||
    /ECONNREFUSED|ECONNRESET|ENOTFOUND|ETIMEDOUT|EAI_AGAIN|socket hang up/.test(String((cause as SdkError)?.message))
}

/** The store; its S3 client is closed with the scope. Checks the bucket first unless `checkBucket: false`. */
export const make = (options: Options): Effect.Effect<BlobStore.BlobStoreService, BlobStoreError, Scope.Scope> =>
  Effect.gen(function*() {
    const { bucket } = options
    if (bucket.length === 0) {
      return yield* new BlobStoreError({ reason: "Unknown", message: "S3 blob store: bucket must not be empty" })
    }
    const root = normalisePrefix(options.prefix)
    const partSizeMb = Math.max(5, options.partSizeMb ?? defaults.partSizeMb)
    const queueSize = Math.max(1, Math.floor(options.queueSize ?? defaults.queueSize))
    const secrets = options.credentials === undefined
      ? []
      : [options.credentials.secretAccessKey, options.credentials.sessionToken]
        .filter((s) => s !== undefined)
        .map(reveal)
        .filter((s) => s.length >= 4)
    const redact = (text: string) => secrets.reduce((t, secret) => t.split(secret).join("[redacted]"), text)

    const where = (key?: string) => `s3://${bucket}/${key === undefined ? root : root + key}`
    const toError = (operation: string, key?: string) => (cause: unknown): BlobStoreError => {
      const status = statusOf(cause)
      const detail = redact(`${nameOf(cause)}${status === undefined ? "" : ` (HTTP ${status})`}: ${
        (cause as SdkError | undefined)?.message ?? String(cause)
      }`)
      return new BlobStoreError({
        reason: isUnavailable(cause) ? "Unavailable" : "Unknown",
        message: `S3 blob store ${operation} ${where(key)}${at(options)}: ${detail}`,
        // Not the SDK's error: it holds the request (headers, signing) and the client's config.
        cause: new Error(detail)
      })
    }

    const client = yield* Effect.acquireRelease(makeClient(options), (client) => Effect.sync(() => client.destroy()))
    if (options.checkBucket !== false) yield* checkBucket(client, options)

    const send = <A>(operation: string, key: string | undefined, run: (signal: AbortSignal) => Promise<A>) =>
      Effect.tryPromise({ try: run, catch: toError(operation, key) })

    const isNoSuchKey = (cause: unknown) => {
      const name = nameOf(cause)
      return name === "NoSuchKey" || name === "NotFound" || (statusOf(cause) === 404 && name !== "NoSuchBucket")
    }

    const getOption = (key: string) =>
      Effect.tryPromise({
        try: async (signal) => {
          try {
            const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: root + key }), {
              abortSignal: signal
            })
            const bytes = response.Body === undefined ? new Uint8Array(0) : await response.Body.transformToByteArray()
            // A plain Uint8Array, not Node's Buffer subclass: some libraries (pdf.js) refuse a Buffer.
            return Option.some(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength))
          } catch (cause) {
            if (isNoSuchKey(cause)) return Option.none<Uint8Array>()
            throw cause
          }
        },
        catch: toError("get", key)
      })

    const exists = (key: string) =>
      Effect.tryPromise({
        try: async (signal) => {
          try {
            await client.send(new HeadObjectCommand({ Bucket: bucket, Key: root + key }), { abortSignal: signal })
            return true
          } catch (cause) {
            if (isNoSuchKey(cause)) return false
            throw cause
          }
        },
        catch: toError("exists", key)
      })

    /** Every full object key under `root + prefix`, page by page (1,000 keys a page). */
    const listFull = (prefix: string) =>
      send("list", prefix, async (signal) => {
        const keys: Array<string> = []
        let token: string | undefined
        do {
          const page = await client.send(
            new ListObjectsV2Command({ Bucket: bucket, Prefix: root + prefix, ContinuationToken: token }),
            { abortSignal: signal }
          )
          for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key)
          token = page.IsTruncated === true ? page.NextContinuationToken : undefined
        } while (token !== undefined)
        return keys
      })

    const list = (prefix: string) =>
      Effect.map(listFull(prefix), (keys) => keys.map((key) => key.slice(root.length)).sort())

    const deletePrefix = (prefix: string) =>
      Effect.flatMap(listFull(prefix), (keys) =>
        Effect.forEach(
          chunksOf(keys, DELETE_BATCH),
          (batch) =>
            send("deletePrefix", prefix, async (signal) => {
              const result = await client.send(
                new DeleteObjectsCommand({
                  Bucket: bucket,
                  Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true }
                }),
                { abortSignal: signal }
              )
              const failed = result.Errors ?? []
              if (failed.length > 0) {
                const first = failed[0]!
                throw Object.assign(new Error(`${failed.length} of ${batch.length} keys not deleted, first ${first.Key}: ${first.Code} ${first.Message ?? ""}`), { name: "DeleteObjectsError" })
              }
            }),
          { discard: true }
        ).pipe(Effect.as(keys.length)))

    const putStream = <E>(key: string, content: Stream.Stream<Uint8Array, E>, options: BlobStore.PutOptions) =>
      Effect.gen(function*() {
        let size = 0
        // The stream's own failure, kept to fail with it (the upload only sees that its body broke).
        let failure: Cause.Cause<E> | undefined
        const counted = content.pipe(
          Stream.filter((chunk) => chunk.length > 0),
          Stream.map((chunk) => {
            size += chunk.length
            return chunk
          }),
          Stream.catchAllCause((cause) => {
            failure = cause
            return Stream.fail(new Error("the content stream failed"))
          })
        )
        const body = Readable.from(yield* Stream.toAsyncIterableEffect(counted), { objectMode: false })
        const exit = yield* Effect.tryPromise({
          try: (signal) => {
            const upload = new Upload({
              client,
              partSize: partSizeMb * 1024 * 1024,
              queueSize,
              leavePartsOnError: false,
              params: {
                Bucket: bucket,
                Key: root + key,
                Body: body,
                ...(options.contentType === undefined ? {} : { ContentType: options.contentType })
              }
            })
            signal.addEventListener("abort", () => void upload.abort().catch(() => undefined), { once: true })
            return upload.done()
          },
          catch: toError("putStream", key)
        }).pipe(Effect.exit)
        body.destroy()
        if (failure !== undefined) return yield* Effect.failCause(failure)
        return yield* Exit.as(exit, size)
      })

    return BlobStore.make({
      put: (key, bytes, options) =>
        send("put", key, (signal) =>
          client.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: root + key,
              Body: bytes,
              ContentLength: bytes.length,
              ...(options.contentType === undefined ? {} : { ContentType: options.contentType })
            }),
            { abortSignal: signal }
          )).pipe(Effect.asVoid),
      putStream,
      getOption,
      exists,
      delete: (key) =>
        send("delete", key, (signal) =>
          client.send(new DeleteObjectCommand({ Bucket: bucket, Key: root + key }), { abortSignal: signal })).pipe(
            Effect.asVoid
          ),
      list,
      deletePrefix
    })
  })

const clientConfig = (options: Options, region: string | undefined): S3ClientConfig => ({
  ...(region === undefined ? {} : { region }),
  ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
  forcePathStyle: options.forcePathStyle ?? false,
  ...(options.credentials === undefined ? {} : {
    credentials: {
      accessKeyId: options.credentials.accessKeyId,
      secretAccessKey: reveal(options.credentials.secretAccessKey),
      ...(options.credentials.sessionToken === undefined ? {} : { sessionToken: reveal(options.credentials.sessionToken) })
    }
  }),
  requestChecksumCalculation: "WHEN_REQUIRED",
  responseChecksumValidation: "WHEN_REQUIRED"
})

/**
 * The client; without a region from the options, the SDK's (`AWS_REGION`, the profile), else
 * `us-east-1`: S3-compatible servers (MinIO, s3rver) ignore it but the SDK cannot sign without one.
 */
const makeClient = (options: Options): Effect.Effect<S3Client> =>
  Effect.promise(async () => {
    if (options.region !== undefined) return new S3Client(clientConfig(options, options.region))
    const client = new S3Client(clientConfig(options, undefined))
    const region = await client.config.region().catch(() => undefined)
    if (region !== undefined && region !== "") return client
    client.destroy()
    return new S3Client(clientConfig(options, "us-east-1"))
  })

/** HeadBucket, failing with a message that says what to look at (never the credentials). */
const checkBucket = (client: S3Client, options: Options): Effect.Effect<void, BlobStoreError> =>
  Effect.tryPromise({
    try: (signal) => client.send(new HeadBucketCommand({ Bucket: options.bucket }), { abortSignal: signal }),
    catch: (cause) => {
      const status = statusOf(cause)
      const hint = status === 404
        ? "the bucket does not exist"
        : status === 403 || status === 401
        ? "access denied: check the credentials and that they may list the bucket"
        : isUnavailable(cause)
        ? "the endpoint cannot be reached or is failing"
        : `${nameOf(cause)}${status === undefined ? "" : ` (HTTP ${status})`}`
      return new BlobStoreError({
        reason: isUnavailable(cause) ? "Unavailable" : "Unknown",
        message: `S3 blob store: cannot use bucket ${options.bucket}${at(options)}: ${hint}`
      })
    }
  })

/** The `BlobStore` layer; the client is closed with the layer. */
export const layer = (options: Options): Layer.Layer<BlobStore.BlobStore, BlobStoreError> =>
  Layer.scoped(BlobStore.BlobStore, make(options))

/**
 * The layer from `Config`, e.g.
 * `layerConfig({ bucket: Config.string("S3_BUCKET"), endpoint: Config.option(...) })`.
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<BlobStore.BlobStore, BlobStoreError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))

/** `""` stays empty; otherwise no leading `/` and exactly one trailing `/`. */
const normalisePrefix = (prefix: string | undefined): string => {
  const trimmed = (prefix ?? "").replace(/^\/+/, "").replace(/\/+$/, "")
  return trimmed.length === 0 ? "" : `${trimmed}/`
}

const chunksOf = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}
