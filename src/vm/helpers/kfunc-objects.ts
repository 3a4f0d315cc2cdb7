/**
 * kfuncs on kernel objects, over what the simulation knows of them:
 * - tasks: the only task is the runtime's current one (Runtime.task); bpf_task_acquire hands the
 *   pointer back (a reference on a task the test keeps alive), bpf_task_from_pid finds the
 *   current task by its pid and no other (NULL, as for a pid no task has), release does nothing.
 * - cgroups: none exist offline, so bpf_cgroup_from_id finds none (NULL); acquire returns its
 *   argument, release does nothing.
 * - cpumasks: bpf_cpumask_create allocates a zeroed mask in a region of its own (NR_CPUS = 8192
 *   bits, as x86-64 distribution kernels), reference-counted by acquire/release and freed at the
 *   last release (using it afterwards faults); set/clear/test/first act on CPUs below the
 *   simulation's CPU count (nr_cpu_ids), as the kernel ignores the others.
 */
import type { VmHelperCall, VmHelperFn } from "../env.js";
import type { Region } from "../memory.js";
import type { Runtime } from "./runtime.js";

/** sizeof(struct bpf_cpumask): cpumask_t of 8192 bits, then refcount_t usage (padded to 8). */
const CPUMASK_BYTES = 8192 / 8;
const BPF_CPUMASK_SIZE = CPUMASK_BYTES + 8;

export function kfuncObjectFns(rt: Runtime): Record<string, VmHelperFn> {
  const masks = new Map<number, { region: Region; refs: number }>();
  const maskArg = (call: VmHelperCall, n: 1 | 2, kfunc: string): Region => {
    const f = call.memory.find(call.arg(n));
    const m = f !== undefined && f.offset === 0 ? masks.get(f.region.id) : undefined;
    if (m === undefined) throw call.fault(`${kfunc}: argument ${n} is not a live bpf_cpumask`);
    return m.region;
  };
  const bit = (call: VmHelperCall): number | undefined => {
    const cpu = Number(call.arg(1) & 0xffffffffn);
    return cpu < rt.cpus ? cpu : undefined;
  };
  return {
    bpf_task_acquire: (call) => call.arg(1),
    bpf_task_release: () => 0,
    bpf_task_from_pid: (call) => (Number(BigInt.asIntN(32, call.arg(1))) === rt.task.pid ? rt.task.task : 0),
    bpf_cgroup_acquire: (call) => call.arg(1),
    bpf_cgroup_release: () => 0,
    bpf_cgroup_from_id: () => 0,
    bpf_cpumask_create: () => {
      const region = rt.memory.add({ kind: "mem", name: "bpf_cpumask", size: BPF_CPUMASK_SIZE });
      region.writable = false; // programs change it only through the kfuncs
      masks.set(region.id, { region, refs: 1 });
      return region.address(0);
    },
    bpf_cpumask_acquire: (call) => {
      const r = maskArg(call, 1, "bpf_cpumask_acquire");
      const m = masks.get(r.id);
      if (m) m.refs++;
      return call.arg(1);
    },
    bpf_cpumask_release: (call) => {
      const r = maskArg(call, 1, "bpf_cpumask_release");
      const m = masks.get(r.id);
      if (m && --m.refs === 0) {
        masks.delete(r.id);
        rt.memory.remove(r);
      }
      return 0;
    },
    bpf_cpumask_set_cpu: (call) => {
      const r = maskArg(call, 2, "bpf_cpumask_set_cpu");
      const b = bit(call);
      if (b !== undefined) r.bytes[b >> 3] |= 1 << (b & 7);
      return 0;
    },
    bpf_cpumask_clear_cpu: (call) => {
      const r = maskArg(call, 2, "bpf_cpumask_clear_cpu");
      const b = bit(call);
      if (b !== undefined) r.bytes[b >> 3] &= ~(1 << (b & 7));
      return 0;
    },
    bpf_cpumask_test_cpu: (call) => {
      const r = maskArg(call, 2, "bpf_cpumask_test_cpu");
      const b = bit(call);
      return b !== undefined && (r.bytes[b >> 3] >> (b & 7)) & 1 ? 1 : 0;
    },
    bpf_cpumask_first: (call) => {
      const r = maskArg(call, 1, "bpf_cpumask_first");
      for (let c = 0; c < rt.cpus; c++) if ((r.bytes[c >> 3] >> (c & 7)) & 1) return c;
      return rt.cpus; // >= nr_cpu_ids: empty
    },
  };
}
