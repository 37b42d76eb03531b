import { Clock, Effect, Option } from "effect"
import { randomHex32, type TaskId } from "../domain/Ids.js"
import { LeaseLost, Task, type TaskQueueService } from "../ports/TaskQueue.js"

export const makeMemoryQueue: Effect.Effect<TaskQueueService> = Effect.sync(() => {
  const tasks = new Map<string, Task>()
  /** Queued and running tasks, in enqueue order: the only ones a claim or a cancel looks at. */
  const active = new Set<string>()
  let sequence = 0
  const order = new Map<string, number>()

  /** The task as held by `worker`, or why not. */
  const held = (id: TaskId, worker: string): Effect.Effect<Task, LeaseLost> => {
    const task = tasks.get(id)
    if (task === undefined) {
      return Effect.fail(new LeaseLost({ task_id: id, reason: "NotFound", message: `task ${id} not found` }))
    }
    if (task.status === "canceled") {
      return Effect.fail(new LeaseLost({ task_id: id, reason: "Canceled", message: `task ${id} was canceled` }))
    }
    if (task.status !== "running" || task.lease_owner !== worker) {
      return Effect.fail(
        new LeaseLost({ task_id: id, reason: "Expired", message: `task ${id} is no longer leased to ${worker}` })
      )
    }
    // A lease that ran out but was not taken over yet still lets its holder finish.
    return Effect.succeed(task)
  }

  const put = (task: Task) => {
    tasks.set(task.id, task)
    if (task.status === "queued" || task.status === "running") active.add(task.id)
    else active.delete(task.id)
    return task
  }

  const withHeld = <A>(id: TaskId, worker: string, f: (task: Task, now: number) => A) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.map(held(id, worker), (task) => f(task, now)))

  const shape: TaskQueueService = {
    enqueue: (input) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const task = new Task({
          id: randomHex32() as TaskId,
          kind: input.kind,
          key: input.key,
          payload: input.payload ?? {},
          status: "queued",
          attempts: 0,
          max_attempts: input.maxAttempts ?? 3,
          lease_owner: null,
          lease_expires_at: null,
          progress: 0,
          progress_msg: "",
          error: null,
          created_at: now,
          updated_at: now
        })
        order.set(task.id, sequence++)
        return put(task)
      }),
    claim: (options) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const limit = options.limit ?? 1
        const claimable = [...active]
          .map((id) => tasks.get(id)!)
          .filter(
            (t) =>
              (options.kinds === undefined || options.kinds.includes(t.kind)) &&
              (t.status === "queued" ||
                (t.status === "running" && t.lease_expires_at !== null && t.lease_expires_at < now))
          )
          .sort((a, b) => a.created_at - b.created_at || order.get(a.id)! - order.get(b.id)!)
        const claimed: Array<Task> = []
        for (const t of claimable) {
          if (claimed.length >= limit) break
          if (t.attempts >= t.max_attempts) {
            put(new Task({ ...t, status: "failed", lease_owner: null, lease_expires_at: null, error: t.error ?? `gave up after ${t.attempts} attempts`, updated_at: now }))
            continue
          }
          claimed.push(
            put(
              new Task({
                ...t,
                status: "running",
                attempts: t.attempts + 1,
                lease_owner: options.worker,
                lease_expires_at: now + options.leaseMs,
                updated_at: now
              })
            )
          )
        }
        return claimed
      }),
    heartbeat: (id, worker, leaseMs) =>
      withHeld(id, worker, (t, now) => {
        put(new Task({ ...t, lease_expires_at: now + leaseMs, updated_at: now }))
      }),
    progress: (id, worker, progress, line) =>
      withHeld(id, worker, (t, now) => {
        const msg = line === undefined ? t.progress_msg : t.progress_msg === "" ? line : `${t.progress_msg}\n${line}`
        put(new Task({ ...t, progress: Math.min(1, Math.max(0, progress)), progress_msg: msg, updated_at: now }))
      }),
    complete: (id, worker) =>
      withHeld(id, worker, (t, now) => {
        put(new Task({ ...t, status: "done", progress: 1, lease_owner: null, lease_expires_at: null, updated_at: now }))
      }),
    fail: (id, worker, error, options) =>
      withHeld(id, worker, (t, now) => {
        const again = options?.retry === true && t.attempts < t.max_attempts
        put(new Task({ ...t, status: again ? "queued" : "failed", error, lease_owner: null, lease_expires_at: null, updated_at: now }))
      }),
    cancelKey: (key) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        let n = 0
        for (const id of [...active]) {
          const t = tasks.get(id)!
          if (t.key === key && (t.status === "queued" || t.status === "running")) {
            put(new Task({ ...t, status: "canceled", lease_owner: null, lease_expires_at: null, updated_at: now }))
            n++
          }
        }
        return n
      }),
    get: (id) => Effect.sync(() => Option.fromNullable(tasks.get(id))),
    listByKey: (key) =>
      Effect.sync(() =>
        [...tasks.values()]
          .filter((t) => t.key === key)
          .sort((a, b) => b.created_at - a.created_at || order.get(b.id)! - order.get(a.id)!)
      )
  }
  return shape
})
