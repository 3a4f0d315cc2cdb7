/**
 * Control-flow and misc helpers: tail_call (through a prog array, 33 at most per run),
 * loop and for_each_map_elem (callbacks), strncmp, spin_lock/unlock (one CPU at a time runs,
 * so they only check pairing).
 */
import type { VmHelperFn } from "../env.js";
import { E2BIG, EINVAL, ENOENT } from "../maps/errno.js";
import { ProgArray } from "../maps/fd-maps.js";
import type { Runtime } from "./runtime.js";
import { mapArg } from "./util.js";

/** BPF_MAX_LOOPS: bpf_loop's iteration limit. */
export const BPF_MAX_LOOPS = 8 * 1024 * 1024;

export function controlHelpers(rt: Runtime): Record<string, VmHelperFn> {
  const locks = new Set<bigint>();
  return {
    tail_call: (call) => {
      const m = mapArg(rt, call, 2, "bpf_tail_call");
      if (!(m instanceof ProgArray)) throw call.fault(`bpf_tail_call: map ${m.def.name} is not a prog array`);
      const index = call.arg(3) & 0xffffffffn;
      if (index >= BigInt(m.def.maxEntries)) return -EINVAL;
      const name = m.get(Number(index));
      if (name === undefined) return -ENOENT;
      const target = rt.programByName(name);
      if (target === undefined) throw call.fault(`bpf_tail_call: program ${name} is not in the simulation`);
      return call.tailCall(target) ? 0 : -E2BIG;
    },
    loop: (call) => {
      const n = call.arg(1) & 0xffffffffn;
      if (call.arg(4) !== 0n) return -EINVAL;
      if (n > BigInt(BPF_MAX_LOOPS)) return -E2BIG;
      const fn = call.arg(2);
      const ctx = call.arg(3);
      for (let i = 0n; i < n; i++) {
        if (call.invoke(fn, [i, ctx]) !== 0n) return i + 1n;
      }
      return n;
    },
    for_each_map_elem: (call) => {
      const m = mapArg(rt, call, 1, "bpf_for_each_map_elem");
      if (call.arg(4) !== 0n) return -EINVAL;
      if (m.forEach === undefined)
        throw call.fault(`bpf_for_each_map_elem: map ${m.def.name} cannot be iterated`);
      const fn = call.arg(2);
      const ctx = call.arg(3);
      const map = m.region.address(0);
      return m.forEach(rt.cpu, (key, value) => (call.invoke(fn, [map, key, value, ctx]) & 0xffn) !== 0n);
    },
    strncmp: (call) => {
      const n = Number(call.arg(2));
      const a = call.memory.slice(call.arg(1), n);
      const f = call.memory.find(call.arg(3));
      if (f === undefined) throw call.fault("bpf_strncmp: argument 3 is not a pointer");
      const b = f.region.bytes.subarray(f.offset, f.region.end);
      for (let i = 0; i < n; i++) {
        const c1 = a[i];
        const c2 = b[i] ?? 0;
        if (c1 !== c2) return c1 < c2 ? -1 : 1;
        if (c1 === 0) break;
      }
      return 0;
    },
    spin_lock: (call) => {
      const a = call.arg(1);
      call.memory.check(a, 4, true);
      if (locks.has(a)) throw call.fault("bpf_spin_lock: lock already held (deadlock)");
      locks.add(a);
      return 0;
    },
    spin_unlock: (call) => {
      const a = call.arg(1);
      if (!locks.delete(a)) throw call.fault("bpf_spin_unlock: lock not held");
      return 0;
    },
  };
}
