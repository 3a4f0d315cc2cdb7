/** Task local storage: bpf_task_storage_get / bpf_task_storage_delete on a task storage map. */
import type { VmHelperCall, VmHelperFn } from "../env.js";
import { EINVAL } from "../maps/errno.js";
import { BPF_LOCAL_STORAGE_GET_F_CREATE, TaskStorage } from "../maps/task-storage.js";
import type { Runtime } from "./runtime.js";
import { mapArg } from "./util.js";

function storageOf(rt: Runtime, call: VmHelperCall, helper: string): TaskStorage {
  const m = mapArg(rt, call, 1, helper);
  if (!(m instanceof TaskStorage)) throw call.fault(`${helper}: map ${m.def.name} is not a task storage map`);
  return m;
}

export function storageHelpers(rt: Runtime): Record<string, VmHelperFn> {
  return {
    task_storage_get: (call) => {
      const m = storageOf(rt, call, "bpf_task_storage_get");
      const task = call.arg(2);
      const flags = call.arg(4);
      if (flags & ~BigInt(BPF_LOCAL_STORAGE_GET_F_CREATE) || task === 0n) return 0;
      const value = call.arg(3);
      const init = value === 0n ? undefined : call.memory.slice(value, m.def.valueSize);
      return m.get(task, flags !== 0n, init);
    },
    task_storage_delete: (call) => {
      const m = storageOf(rt, call, "bpf_task_storage_delete");
      const task = call.arg(2);
      return task === 0n ? -EINVAL : m.remove(task);
    },
  };
}
