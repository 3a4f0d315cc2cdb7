/** Map helpers: lookup/update/delete, per-CPU lookup, queue/stack push/pop/peek. */
import { helperByName } from "../../abi/helpers.js";
import type { VmArrayLookup, VmHelper, VmHelperCall, VmHelperFn } from "../env.js";
import { ArrayMap } from "../maps/array.js";
import { EINVAL } from "../maps/errno.js";
import { QueueMap } from "../maps/queue.js";
import type { Runtime } from "./runtime.js";
import { argBytes, mapArg } from "./util.js";

function flagsArg(call: VmHelperCall, n: 1 | 2 | 3 | 4 | 5): number {
  const f = call.arg(n);
  // flags beyond 32 bits are invalid for every map; keep them invalid after the conversion
  return f > 0xffffffffn ? 0x7fffffff : Number(f);
}

/** What the map helpers need of the runtime (a bench or test can give just this). */
export type MapRuntime = Pick<Runtime, "memory" | "cpu" | "cpus" | "mapByRegion">;

/** The array a map pointer names when a lookup on it can be inlined (VmHelper.arrayLookup). */
function arrayLookupOf(rt: MapRuntime, mapLo: number, mapHi: number): VmArrayLookup | undefined {
  if (mapLo !== 0) return undefined;
  const region = rt.memory.regionOf(mapHi);
  const m = region ? rt.mapByRegion(region.id) : undefined;
  return m instanceof ArrayMap ? m.inlineLookup() : undefined;
}

/** bpf_map_lookup_elem over the runtime's maps, with the inline fast path for array maps. */
export function mapLookupHelper(rt: MapRuntime): VmHelper {
  const h = helperByName("bpf_map_lookup_elem");
  if (h === undefined) throw new Error("bpf_map_lookup_elem is not a kernel helper");
  return {
    id: h.id,
    name: h.name,
    fn: mapHelpers(rt).map_lookup_elem,
    arrayLookup: (lo, hi) => arrayLookupOf(rt, lo, hi),
  };
}

export function mapHelpers(rt: MapRuntime): Record<string, VmHelperFn> {
  return {
    map_lookup_elem: (call) => {
      const m = mapArg(rt, call, 1, "bpf_map_lookup_elem");
      const key = argBytes(call, 2, m.def.keySize);
      return m.lookup(key, rt.cpu);
    },
    map_update_elem: (call) => {
      const m = mapArg(rt, call, 1, "bpf_map_update_elem");
      const key = m instanceof QueueMap ? new Uint8Array(0) : argBytes(call, 2, m.def.keySize);
      const value = argBytes(call, 3, m.def.valueSize);
      return m.update(key, value, flagsArg(call, 4), rt.cpu);
    },
    map_delete_elem: (call) => {
      const m = mapArg(rt, call, 1, "bpf_map_delete_elem");
      return m.delete(argBytes(call, 2, m.def.keySize));
    },
    map_lookup_percpu_elem: (call) => {
      const m = mapArg(rt, call, 1, "bpf_map_lookup_percpu_elem");
      const cpu = call.arg(3);
      if (cpu >= BigInt(rt.cpus)) return 0;
      return m.lookup(argBytes(call, 2, m.def.keySize), Number(cpu));
    },
    map_push_elem: (call) => {
      const m = mapArg(rt, call, 1, "bpf_map_push_elem");
      if (!(m instanceof QueueMap)) return -EINVAL;
      return m.push(call.memory.slice(call.arg(2), m.def.valueSize), flagsArg(call, 3));
    },
    map_pop_elem: (call) => {
      const m = mapArg(rt, call, 1, "bpf_map_pop_elem");
      if (!(m instanceof QueueMap)) return -EINVAL;
      return m.take(call.memory.slice(call.arg(2), m.def.valueSize, true), true);
    },
    map_peek_elem: (call) => {
      const m = mapArg(rt, call, 1, "bpf_map_peek_elem");
      if (!(m instanceof QueueMap)) return -EINVAL;
      return m.take(call.memory.slice(call.arg(2), m.def.valueSize, true), false);
    },
  };
}
