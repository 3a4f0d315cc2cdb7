/**
 * The simulated helper table: every helper the simulator implements, keyed by the kernel's
 * helper id (from src/abi). Helpers not in it fault as unknown when called, naming the helper.
 *
 * r1-r5 after a call keep their values; they are deliberately not poisoned. The verifier (the
 * kernel's and src/verifier) refuses any read of them after a call ("R1 !read_ok"), so only an
 * unverified program could tell; the kernel itself has no value to mirror (its JIT leaves
 * whatever the callee left in the argument registers, its interpreter keeps them); and poisoning
 * costs on the hottest path: both engines' inline array lookups would have to write ten register
 * halves too, measured at +3% ns per run of the XDP parser in the fast path (102-103 ns against
 * 105-106 ns, three runs each) and +12% to +77% per call in a loop of helper calls (two noisy
 * runs each, interpreter and fast path).
 */
import { helperByName } from "../../abi/helpers.js";
import type { VmHelper, VmHelperFn } from "../env.js";
import { controlHelpers } from "./control.js";
import { dynptrHelpers } from "./dynptr.js";
import { eventHelpers } from "./events.js";
import { kernelObjectHelpers } from "./kernel-objects.js";
import { mapHelpers, mapLookupHelper } from "./maps.js";
import { packetHelpers } from "./packet.js";
import { printkHelpers } from "./printk.js";
import { probeHelpers } from "./probe.js";
import type { Runtime } from "./runtime.js";
import { socketHelpers } from "./sockets.js";
import { storageHelpers } from "./storage.js";
import { taskHelpers } from "./task.js";
import { timerHelpers } from "./timers.js";
import { userRingbufHelpers } from "./user-ringbuf.js";

export type { MemorySegment, PacketState, Runtime, TaskInfo } from "./runtime.js";

/** The helper table for a runtime. */
export function simHelpers(rt: Runtime): VmHelper[] {
  const fns: Record<string, VmHelperFn> = {
    ...mapHelpers(rt),
    ...taskHelpers(rt),
    ...probeHelpers(rt),
    ...printkHelpers(rt),
    ...packetHelpers(rt),
    ...eventHelpers(rt),
    ...controlHelpers(rt),
    ...socketHelpers(rt),
    ...dynptrHelpers(rt),
    ...userRingbufHelpers(rt),
    ...storageHelpers(rt),
    ...timerHelpers(rt),
    ...kernelObjectHelpers(rt),
  };
  const out: VmHelper[] = [];
  for (const [name, fn] of Object.entries(fns)) {
    const h = helperByName(`bpf_${name}`);
    if (h === undefined) throw new Error(`simulated helper bpf_${name} is not a kernel helper`);
    // the lookup carries its inline fast path for array maps
    out.push(name === "map_lookup_elem" ? mapLookupHelper(rt) : { id: h.id, name: h.name, fn });
  }
  return out;
}

/** Names of the simulated helpers (bpf_ prefix), for documentation and tests. */
export function simulatedHelperNames(rt: Runtime): string[] {
  return simHelpers(rt).map((h) => h.name);
}
