// Entry of a parser thread. The packages ship TypeScript sources: when the thread's module is a
// `.ts` file, tsx's loader is registered in this thread first (a thread does not inherit the
// loaders of the thread that started it).
import { workerData } from "node:worker_threads"

if (workerData.entry.endsWith(".ts")) {
  const { register } = await import("tsx/esm/api")
  register()
}
await import(workerData.entry)
