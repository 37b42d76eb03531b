import { Clock, Effect, Option } from "effect"
import { randomHex32, type TaskId } from "../domain/Ids.js"
import { type EnqueueInput, LeaseLost, Task, type TaskQueueService, type WorkerStatus } from "../ports/TaskQueueService.js"

export const makeMemoryQueue: Effect.Effect<TaskQueueService> = Effect.sync(() => {
  const tasks = new Map<string, Task>()
  /** Queued and running tasks, in enqueue order: the only ones a claim or a cancel looks at. */
  const active = new Set<string>()
  let sequence = 0
  const order = new Map<string, number>()
  /** Task ids by key, for cancels and listings by document. */
  const byKey = new Map<string, Set<string>>()
  const workers = new Map<string, WorkerStatus>()

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

  /** Tasks are validated when enqueued; the changes below are the queue's own. */
  const changed = (task: Task, changes: Partial<Task>) => new Task({ ...task, ...changes }, true)

  const put = (task: Task) => {
    tasks.set(task.id, task)
    if (task.status === "queued" || task.status === "running") active.add(task.id)
    else active.delete(task.id)
    return task
  }

  const withHeld = <A>(id: TaskId, worker: string, f: (task: Task, now: number) => A) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.map(held(id, worker), (task) => f(task, now)))

  const newTask = (input: EnqueueInput, now: number) => {
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
      error: null,
      created_at: now,
      updated_at: now
    })
    order.set(task.id, sequence++)
    const ids = byKey.get(task.key) ?? new Set<string>()
    ids.add(task.id)
    byKey.set(task.key, ids)
    return put(task)
  }

  const shape: TaskQueueService = {
    enqueue: (input) => Effect.map(Clock.currentTimeMillis, (now) => newTask(input, now)),
    enqueueMany: (inputs) => Effect.map(Clock.currentTimeMillis, (now) => inputs.map((input) => newTask(input, now))),
    claim: (options) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const limit = options.limit ?? 1
        const claimed: Array<Task> = []
        const exhausted: Array<Task> = []
        // `active` keeps enqueue order (a task stays in it from enqueue to its end), which is the
        // claim order: the scan stops at the limit, past the few running tasks at the front.
        for (const id of active) {
          if (claimed.length >= limit) break
          const t = tasks.get(id)!
          if (options.kinds !== undefined && !options.kinds.includes(t.kind)) continue
          const expired = t.status === "running" && t.lease_expires_at !== null && t.lease_expires_at < now
          if (t.status !== "queued" && !expired) continue
          if (t.attempts >= t.max_attempts) {
            exhausted.push(
              put(changed(t, { status: "failed", lease_owner: null, lease_expires_at: null, error: t.error ?? `gave up after ${t.attempts} attempts`, updated_at: now }))
            )
            continue
          }
          claimed.push(
            put(
              changed(t, {
                status: "running",
                attempts: t.attempts + 1,
                lease_owner: options.worker,
                lease_expires_at: now + options.leaseMs,
                updated_at: now
              })
            )
          )
        }
        return options.includeExhausted === true ? [...claimed, ...exhausted] : claimed
      }),
    heartbeat: (id, worker, leaseMs) =>
      withHeld(id, worker, (t, now) => {
        put(changed(t, { lease_expires_at: now + leaseMs, updated_at: now }))
      }),
    complete: (id, worker) =>
      withHeld(id, worker, (t, now) => {
        put(changed(t, { status: "done", lease_owner: null, lease_expires_at: null, updated_at: now }))
      }),
    completeMany: (ids, worker) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.map(Effect.partition([...new Set(ids)], (id) => held(id, worker)), ([lost, holding]) => {
          if (lost.length > 0) return lost
          for (const t of holding) put(changed(t, { status: "done", lease_owner: null, lease_expires_at: null, updated_at: now }))
          return []
        })
      ),
    fail: (id, worker, error, options) =>
      withHeld(id, worker, (t, now) => {
        const again = options?.retry === true && t.attempts < t.max_attempts
        put(changed(t, { status: again ? "queued" : "failed", error, lease_owner: null, lease_expires_at: null, updated_at: now }))
      }),
    cancelKey: (key) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        let n = 0
        for (const id of byKey.get(key) ?? []) {
          const t = tasks.get(id)!
          if (t.status === "queued" || t.status === "running") {
            put(changed(t, { status: "canceled", lease_owner: null, lease_expires_at: null, updated_at: now }))
            n++
          }
        }
        return n
      }),
    get: (id) => Effect.sync(() => Option.fromNullable(tasks.get(id))),
    listByKey: (key) =>
      Effect.sync(() =>
        [...(byKey.get(key) ?? [])]
          .map((id) => tasks.get(id)!)
          .sort((a, b) => b.created_at - a.created_at || order.get(b.id)! - order.get(a.id)!)
      ),
    depth: Effect.sync(() => {
      let queued = 0
      let running = 0
      for (const id of active) {
        if (tasks.get(id)!.status === "queued") queued++
        else running++
      }
      return { queued, running }
    }),
    reportWorker: (status) => Effect.sync(() => void workers.set(status.id, status)),
    listWorkers: Effect.sync(() => [...workers.values()].sort((a, b) => b.heartbeat_at - a.heartbeat_at)),
    forgetWorkers: (before) =>
      Effect.sync(() => {
        let n = 0
        for (const [id, status] of workers) {
          if (status.heartbeat_at < before) {
            workers.delete(id)
            n++
          }
        }
        return n
      })
  }
  return shape
})
