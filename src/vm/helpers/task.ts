/**
 * Task, time, CPU and randomness helpers, all answering from the Runtime the test set, so runs
 * are deterministic: ktime_get_ns / boot_ns / coarse_ns, jiffies64,
 * get_current_pid_tgid / uid_gid / comm / task / task_btf, get_smp_processor_id, get_numa_node_id,
 * get_prandom_u32.
 */
import type { VmHelperFn } from "../env.js";
import { EINVAL } from "../maps/errno.js";
import type { Runtime } from "./runtime.js";

/** The scheduler tick rate: CONFIG_HZ of the kernel this was measured on (250). */
const HZ = 250n;
/** The coarse clock advances once per tick (4 ms at 250 Hz). */
export const COARSE_TICK_NS = 1_000_000_000n / HZ;
/** Linux starts jiffies 5 minutes before the 32-bit wrap (INITIAL_JIFFIES, a u32 even on 64-bit) so wrap bugs show early. */
const INITIAL_JIFFIES = BigInt.asUintN(32, -300n * HZ);
const TASK_COMM_LEN = 16;

export function taskHelpers(rt: Runtime): Record<string, VmHelperFn> {
  return {
    ktime_get_ns: () => rt.clock(),
    ktime_get_boot_ns: () => rt.clock() + rt.bootOffsetNs,
    ktime_get_coarse_ns: () => {
      const t = rt.clock();
      return t - (t % COARSE_TICK_NS);
    },
    jiffies64: () => BigInt.asUintN(64, INITIAL_JIFFIES + (rt.clock() * HZ) / 1_000_000_000n),
    get_current_pid_tgid: () => (BigInt(rt.task.tgid >>> 0) << 32n) | BigInt(rt.task.pid >>> 0),
    get_current_uid_gid: () => (BigInt(rt.task.gid >>> 0) << 32n) | BigInt(rt.task.uid >>> 0),
    get_current_comm: (call) => {
      const size = Number(call.arg(2));
      const buf = call.memory.slice(call.arg(1), size, true);
      if (size === 0) return -EINVAL;
      // strscpy_pad: NUL-terminated, the rest zeroed
      const name = new TextEncoder().encode(rt.task.comm).subarray(0, Math.min(TASK_COMM_LEN, size) - 1);
      buf.fill(0);
      buf.set(name);
      return 0;
    },
    get_current_task: () => rt.task.task,
    get_current_task_btf: () => rt.task.task,
    get_smp_processor_id: () => rt.cpu,
    get_numa_node_id: () => 0,
    get_prandom_u32: () => rt.random() >>> 0,
  };
}
