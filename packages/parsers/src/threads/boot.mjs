// Entry of a parser thread. Run from the sources (the workspace), the thread's module is a `.ts`
// file: tsx's loader (a development dependency) is registered in this thread first, since a thread
// does not inherit the loaders of the thread that started it; then `plainModules.mjs`, which keeps
// installed packages' JavaScript out of tsx. From dist/ it is plain JavaScript.
import { register as registerHooks } from "node:module"
import { workerData } from "node:worker_threads"

if (workerData.entry.endsWith(".ts")) {
  const { register } = await import("tsx/esm/api")
  register()
  registerHooks("./plainModules.mjs", import.meta.url)
}
await import(workerData.entry)
