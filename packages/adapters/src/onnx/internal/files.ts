/** Reading a Hugging Face model folder: JSON files that may be absent, and which files exist. */
import { ModelError } from "@ragkit/core"
import { Effect, Option } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"

const isMissing = (error: unknown): boolean =>
  typeof error === "object" && error !== null && "code" in error && (error.code === "ENOENT" || error.code === "ENOTDIR")

/** A JSON value (object or array) from `folder/file`; none when the file does not exist. */
export const readJsonValueOption = (
  folder: string,
  file: string,
  modelId: string
): Effect.Effect<Option.Option<unknown>, ModelError> =>
  Effect.tryPromise({
    try: async () => {
      try {
        return Option.some(JSON.parse(await fs.readFile(path.join(folder, file), "utf8")) as unknown)
      } catch (error) {
        if (isMissing(error)) return Option.none()
        throw error
      }
    },
    catch: (cause) =>
      new ModelError({
        reason: "NotConfigured",
        model: modelId,
        message: `Cannot read ${path.join(folder, file)}: ${cause instanceof Error ? cause.message : String(cause)}`,
        cause
      })
  })

/** A JSON object from `folder/file`; none when the file does not exist. */
export const readJsonOption = (
  folder: string,
  file: string,
  modelId: string
): Effect.Effect<Option.Option<Record<string, unknown>>, ModelError> =>
  Effect.flatMap(readJsonValueOption(folder, file, modelId), (value) =>
    Option.isNone(value) || (typeof value.value === "object" && value.value !== null && !Array.isArray(value.value))
      ? Effect.succeed(value as Option.Option<Record<string, unknown>>)
      : Effect.fail(
        new ModelError({ reason: "NotConfigured", model: modelId, message: `${path.join(folder, file)} is not a JSON object` })
      ))

/** Whether `folder/file` is a regular file. */
export const isFile = (folder: string, file: string): Effect.Effect<boolean> =>
  Effect.promise(() => fs.stat(path.join(folder, file)).then((s) => s.isFile(), () => false))

/** Whether `dir` is a directory. */
export const isDirectory = (dir: string): Effect.Effect<boolean> =>
  Effect.promise(() => fs.stat(dir).then((s) => s.isDirectory(), () => false))

/** The first of these files that exists in the folder. */
export const firstFile = (folder: string, files: ReadonlyArray<string>): Effect.Effect<Option.Option<string>> =>
  Effect.findFirst(files, (file) => isFile(folder, file))

/** A number field, when it is one. */
export const numberField = (record: Option.Option<Record<string, unknown>>, key: string): Option.Option<number> =>
  Option.flatMap(record, (r) => {
    const v = r[key]
    return typeof v === "number" && Number.isFinite(v) ? Option.some(v) : Option.none()
  })

/** A boolean field, when it is one. */
export const booleanField = (record: Option.Option<Record<string, unknown>>, key: string): Option.Option<boolean> =>
  Option.flatMap(record, (r) => (typeof r[key] === "boolean" ? Option.some(r[key] as boolean) : Option.none()))

/** A string field, when it is one. */
export const stringField = (record: Option.Option<Record<string, unknown>>, key: string): Option.Option<string> =>
  Option.flatMap(record, (r) => (typeof r[key] === "string" ? Option.some(r[key] as string) : Option.none()))
