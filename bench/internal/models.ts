/** The model provider plugins benchmarks may name: the built-in GloVe embedder. */
import { BuiltinModels } from "@ragkit/adapters/builtin"

export const builtinPlugins = (cacheDir: string) => [BuiltinModels.layer({ cacheDir })]
