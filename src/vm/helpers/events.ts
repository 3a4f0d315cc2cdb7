/**
 * Helpers that hand data to user space: ringbuf reserve/submit/discard/output/query,
 * perf_event_output (records captured on the perf event array), get_stackid / get_stack on
 * the fake stacks the test set.
 */
import type { VmHelperCall, VmHelperFn } from "../env.js";
import { E2BIG, EFAULT, EINVAL, ENOENT } from "../maps/errno.js";
import { PerfEventArray } from "../maps/fd-maps.js";
import { RingBuf } from "../maps/ringbuf.js";
import { BPF_F_SKIP_FIELD_MASK, BPF_F_USER_STACK, StackTraceMap } from "../maps/stack-trace.js";
import type { Runtime } from "./runtime.js";
import { mapArg } from "./util.js";

const BPF_F_INDEX_MASK = 0xffffffffn;
const BPF_F_CURRENT_CPU = 0xffffffffn;
const BPF_F_CTXLEN_MASK = 0xfffffn << 32n;

function ringOf(rt: Runtime, call: VmHelperCall, helper: string): RingBuf {
  const m = mapArg(rt, call, 1, helper);
  if (!(m instanceof RingBuf)) throw call.fault(`${helper}: map ${m.def.name} is not a ring buffer`);
  return m;
}

/** The ring buffer record an address starts, for submit/discard. */
function finish(rt: Runtime, call: VmHelperCall, discard: boolean): number {
  const helper = discard ? "bpf_ringbuf_discard" : "bpf_ringbuf_submit";
  const f = call.memory.find(call.arg(1));
  if (f !== undefined && f.region.kind === "ringbuf") {
    for (const m of rt.maps()) if (m instanceof RingBuf && m.finish(f.region.id, f.offset, discard)) return 0;
  }
  throw call.fault(`${helper}: argument 1 is not a reserved ring buffer record`);
}

export function eventHelpers(rt: Runtime): Record<string, VmHelperFn> {
  const stackOf = (flags: bigint) => (flags & BigInt(BPF_F_USER_STACK) ? rt.stacks.user : rt.stacks.kernel);
  return {
    ringbuf_reserve: (call) => {
      const m = ringOf(rt, call, "bpf_ringbuf_reserve");
      const size = call.arg(2);
      if (size > 0xffffffffn) return 0;
      return m.reserve(Number(size), call.arg(3) > 0xffffffffn ? -1 : Number(call.arg(3)));
    },
    ringbuf_submit: (call) => finish(rt, call, false),
    ringbuf_discard: (call) => finish(rt, call, true),
    ringbuf_output: (call) => {
      const m = ringOf(rt, call, "bpf_ringbuf_output");
      const data = call.memory.slice(call.arg(2), Number(call.arg(3)));
      return m.output(
        data.slice(),
        Number(call.arg(4) & 0xffffffffn) | (call.arg(4) > 0xffffffffn ? 0x100 : 0),
      );
    },
    ringbuf_query: (call) => ringOf(rt, call, "bpf_ringbuf_query").query(Number(call.arg(2) & 0xffn)),
    perf_event_output: (call) => {
      const m = mapArg(rt, call, 2, "bpf_perf_event_output");
      if (!(m instanceof PerfEventArray))
        throw call.fault(`bpf_perf_event_output: map ${m.def.name} is not a perf event array`);
      const flags = call.arg(3);
      const skb = rt.packet?.kind === "skb";
      const allowed = skb ? BPF_F_INDEX_MASK | BPF_F_CTXLEN_MASK : BPF_F_INDEX_MASK;
      if (flags & ~allowed) return -EINVAL;
      let index = flags & BPF_F_INDEX_MASK;
      if (index === BPF_F_CURRENT_CPU) index = BigInt(rt.cpu);
      if (index >= BigInt(m.def.maxEntries)) return -E2BIG;
      if (m.get(Number(index)) === undefined) return -ENOENT;
      const data = call.memory.slice(call.arg(4), Number(call.arg(5))).slice();
      const ctxLen = Number((flags & BPF_F_CTXLEN_MASK) >> 32n);
      let record = data;
      if (ctxLen > 0 && rt.packet) {
        const r = rt.packet.region;
        const pkt = r.bytes.subarray(r.dataStart, Math.min(r.end, r.dataStart + ctxLen));
        if (pkt.length < ctxLen) return -EFAULT;
        record = new Uint8Array(data.length + pkt.length);
        record.set(data);
        record.set(pkt, data.length);
      }
      m.records.push({ index: Number(index), data: record });
      return 0;
    },
    get_stackid: (call) => {
      const m = mapArg(rt, call, 2, "bpf_get_stackid");
      if (!(m instanceof StackTraceMap))
        throw call.fault(`bpf_get_stackid: map ${m.def.name} is not a stack trace map`);
      const flags = call.arg(3);
      if (flags > 0xffffffffn) return -EINVAL;
      return m.capture(stackOf(flags), Number(flags));
    },
    get_stack: (call) => {
      const size = Number(call.arg(3));
      const buf = call.memory.slice(call.arg(2), size, true);
      const flags = call.arg(4);
      const known = BigInt(BPF_F_SKIP_FIELD_MASK | BPF_F_USER_STACK) | (1n << 11n);
      if (flags & ~known || size % 8 !== 0) {
        buf.fill(0);
        return -EINVAL;
      }
      const skip = Number(flags & BigInt(BPF_F_SKIP_FIELD_MASK));
      const ips = stackOf(flags).slice(skip, skip + size / 8);
      const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      buf.fill(0);
      for (let i = 0; i < ips.length; i++) v.setBigUint64(i * 8, ips[i], true);
      return ips.length * 8;
    },
  };
}
