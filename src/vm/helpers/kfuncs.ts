/**
 * Simulated kfuncs (calls with src_reg = BPF_PSEUDO_KFUNC_CALL). An object calls a kfunc through
 * a ksym extern; simulate() turns each such call into a call of VM helper id
 * KFUNC_CALL_BASE + kfuncId(name) (the kfunc's index in src/abi/kfuncs.ts, the one kfunc table),
 * so both engines run it through their ordinary helper-call path. A kfunc the table lacks gets an
 * id past the table's; a kfunc without a simulation faults with kind "unsupported", naming it.
 *
 * Simulated: the open-coded numeric iterator (bpf_iter_num_new/next/destroy, what bpf_for() and
 * bpf_repeat() compile to), the dynptr kfuncs (slice, slice_rdwr, adjust, is_null, is_rdonly,
 * size, clone, from_skb, from_xdp), bpf_rcu_read_lock/unlock (no-ops: one program runs at a time),
 * and the task, cgroup and cpumask kfuncs of kfunc-objects.ts.
 */
import { KFUNCS, kfuncId } from "../../abi/kfuncs.js";
import type { VmHelper, VmHelperCall, VmHelperFn } from "../env.js";
import { E2BIG, EINVAL, ERANGE } from "../maps/errno.js";
import { BPF_MAX_LOOPS } from "./control.js";
import {
  checkOffLen,
  DYNPTR_MAX_SIZE,
  type Dynptr,
  DynptrType,
  directAddress,
  packetOf,
  readDynptr,
  writeDynptr,
} from "./dynptr.js";
import { kfuncObjectFns } from "./kfunc-objects.js";
import type { Runtime } from "./runtime.js";

/**
 * VM helper id of the kfunc with kfuncId 0. Above every helper id (the kernel's helper list
 * ends near 212 and is frozen: new kernel functions are kfuncs), and close enough that the
 * interpreter's helper array indexed by id stays a dense array.
 */
export const KFUNC_CALL_BASE = 512;

/** The VM helper id a call of kfunc `name` becomes; `extra` numbers names the table lacks. */
export function kfuncCallId(name: string, extra: readonly string[]): number {
  const id = kfuncId(name);
  if (id !== undefined) return KFUNC_CALL_BASE + id;
  const i = extra.indexOf(name);
  return KFUNC_CALL_BASE + KFUNCS.length + (i < 0 ? extra.length : i);
}

/** struct bpf_iter_num on the program's stack: the kernel keeps int cur, int end in its 8 bytes. */
function iterView(call: VmHelperCall): DataView {
  const b = call.memory.slice(call.arg(1), 8, true);
  return new DataView(b.buffer, b.byteOffset, 8);
}

/** bpf_dynptr_slice(_rdwr): the address of `len` bytes at `offset`, copied to the buffer if needed. */
function slice(rt: Runtime, call: VmHelperCall, write: boolean): bigint | number {
  const d = readDynptr(call.memory, call.arg(1));
  const offset = Number(call.arg(2) & 0xffffffffn);
  // arg 3, the copy buffer, is never needed: see below
  const len = Number(call.arg(4) & 0xffffffffn);
  if (d.data === 0n || (write && d.rdonly) || checkOffLen(d, offset, len) !== 0) return 0;
  const at = directAddress(d);
  if (at !== undefined) return at + BigInt(offset);
  const p = rt.packet;
  const pkt = packetOf(rt, d);
  if (p === undefined || pkt === undefined || offset + len > pkt.length) return 0;
  // the packet is one linear buffer here, so the slice is always a direct pointer into it
  return p.region.address(p.region.dataStart + d.offset + offset);
}

function dynptrOf(call: VmHelperCall): Dynptr {
  return readDynptr(call.memory, call.arg(1));
}

/** bpf_dynptr_from_skb / _xdp: a dynptr over the current run's packet (flags must be 0). */
function fromPacket(rt: Runtime, call: VmHelperCall, kind: "skb" | "xdp"): number {
  const p = rt.packet;
  const ok = call.arg(2) === 0n && p !== undefined && p.kind === kind;
  if (!ok) {
    writeDynptr(call.memory, call.arg(3), undefined);
    return -EINVAL;
  }
  const r = p.region;
  writeDynptr(call.memory, call.arg(3), {
    data: call.arg(1),
    size: Math.min(r.end - r.dataStart, DYNPTR_MAX_SIZE),
    offset: 0,
    type: kind === "skb" ? DynptrType.skb : DynptrType.xdp,
    // programs that may not write their packet get a read-only one (the kernel's may_access_direct_pkt_data)
    rdonly: kind === "skb" && !["sched_cls", "sched_act", "lwt_xmit", "sk_skb"].includes(rt.progType),
  });
  return 0;
}

export function kfuncFns(rt: Runtime): Record<string, VmHelperFn> {
  return {
    ...kfuncObjectFns(rt),
    bpf_iter_num_new: (call) => {
      const v = iterView(call);
      const start = Number(BigInt.asIntN(32, call.arg(2)));
      const end = Number(BigInt.asIntN(32, call.arg(3)));
      v.setInt32(0, 0, true);
      v.setInt32(4, 0, true);
      if (start > end) return -EINVAL;
      if (end - start > BPF_MAX_LOOPS) return -E2BIG;
      v.setInt32(0, start - 1, true); // next() pre-increments
      v.setInt32(4, end, true);
      return 0;
    },
    bpf_iter_num_next: (call) => {
      const v = iterView(call);
      const cur = v.getInt32(0, true);
      const end = v.getInt32(4, true);
      // int arithmetic: from start = INT_MIN, cur = INT_MAX wraps back to INT_MIN
      const next = (cur + 1) | 0;
      // done (or never initialised): the state goes to 0/0, as the kernel leaves it
      if (next >= end) {
        v.setInt32(0, 0, true);
        v.setInt32(4, 0, true);
        return 0;
      }
      v.setInt32(0, next, true);
      return call.arg(1); // a pointer to the current value: the iterator's first 4 bytes
    },
    bpf_iter_num_destroy: (call) => {
      const v = iterView(call);
      v.setInt32(0, 0, true);
      v.setInt32(4, 0, true);
      return 0;
    },
    bpf_rcu_read_lock: () => 0,
    bpf_rcu_read_unlock: () => 0,
    bpf_dynptr_slice: (call) => slice(rt, call, false),
    bpf_dynptr_slice_rdwr: (call) => slice(rt, call, true),
    bpf_dynptr_from_skb: (call) => fromPacket(rt, call, "skb"),
    bpf_dynptr_from_xdp: (call) => fromPacket(rt, call, "xdp"),
    bpf_dynptr_is_null: (call) => (dynptrOf(call).data === 0n ? 1 : 0),
    bpf_dynptr_is_rdonly: (call) => {
      const d = dynptrOf(call);
      return d.data !== 0n && d.rdonly ? 1 : 0;
    },
    bpf_dynptr_size: (call) => {
      const d = dynptrOf(call);
      return d.data === 0n ? -EINVAL >>> 0 : d.size; // a u32 result
    },
    bpf_dynptr_adjust: (call) => {
      const d = dynptrOf(call);
      const start = Number(call.arg(2) & 0xffffffffn);
      const end = Number(call.arg(3) & 0xffffffffn);
      if (d.data === 0n) return -EINVAL;
      if (start > d.size || end > d.size) return -ERANGE;
      if (start > end) return -EINVAL;
      writeDynptr(call.memory, call.arg(1), { ...d, offset: d.offset + start, size: end - start });
      return 0;
    },
    bpf_dynptr_clone: (call) => {
      const d = dynptrOf(call);
      if (d.data === 0n) {
        writeDynptr(call.memory, call.arg(2), undefined);
        return -EINVAL;
      }
      writeDynptr(call.memory, call.arg(2), d);
      return 0;
    },
  };
}

/**
 * The VM helpers for the kfuncs programs call: every simulated kfunc of the table, and one
 * faulting entry for each called name without a simulation (`called`: the names the programs'
 * ksym calls use).
 */
export function kfuncHelpers(rt: Runtime, called: Iterable<string>, extra: readonly string[]): VmHelper[] {
  const fns = kfuncFns(rt);
  const out: VmHelper[] = [];
  const names = new Set<string>([...Object.keys(fns), ...called]);
  for (const name of names) {
    const fn: VmHelperFn =
      fns[name] ??
      ((call) => {
        throw call.fault(`kfunc ${name} is not simulated`, "unsupported");
      });
    out.push({ id: kfuncCallId(name, extra), name, fn });
  }
  return out;
}
