/**
 * bpf_user_ringbuf_drain(map, callback, ctx, flags): the callback runs once per sample the test
 * submitted, oldest first, with a read-only local dynptr over the sample and ctx; it returns 0
 * to go on, anything else to stop after this sample. At most BPF_MAX_USER_RINGBUF_SAMPLES are
 * drained per call; the result is the number of samples drained.
 */
import type { VmHelperFn } from "../env.js";
import { EINVAL } from "../maps/errno.js";
import { BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP } from "../maps/ringbuf.js";
import { UserRingBuf } from "../maps/user-ringbuf.js";
import { DYNPTR_SIZE, DynptrType, writeDynptr } from "./dynptr.js";
import type { Runtime } from "./runtime.js";
import { mapArg } from "./util.js";

export const BPF_MAX_USER_RINGBUF_SAMPLES = 128 * 1024;

export function userRingbufHelpers(rt: Runtime): Record<string, VmHelperFn> {
  return {
    user_ringbuf_drain: (call) => {
      const m = mapArg(rt, call, 1, "bpf_user_ringbuf_drain");
      if (!(m instanceof UserRingBuf))
        throw call.fault(`bpf_user_ringbuf_drain: map ${m.def.name} is not a user ring buffer`);
      if (call.arg(4) & ~BigInt(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP)) return -EINVAL;
      const fn = call.arg(2);
      const ctx = call.arg(3);
      let drained = 0;
      let stop = false;
      while (!stop && drained < BPF_MAX_USER_RINGBUF_SAMPLES) {
        const sample = m.peek();
        if (sample === undefined) break;
        // the sample and the dynptr the callback gets live in regions of their own for the call,
        // both read-only (the verifier types the dynptr as const), retired afterwards
        const data = m.memory.add({ kind: "mem", name: `${m.def.name} sample`, bytes: sample.slice() });
        const dyn = m.memory.add({ kind: "mem", name: `${m.def.name} sample dynptr`, size: DYNPTR_SIZE });
        writeDynptr(m.memory, dyn.address(0), {
          data: data.address(0),
          size: sample.length,
          offset: 0,
          type: DynptrType.local,
          rdonly: true,
        });
        data.writable = false;
        dyn.writable = false;
        try {
          stop = call.invoke(fn, [dyn.address(0), ctx]) !== 0n;
        } finally {
          m.memory.remove(data);
          m.memory.remove(dyn);
        }
        m.release();
        drained++;
      }
      return drained;
    },
  };
}
