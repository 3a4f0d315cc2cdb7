/**
 * Dynamic pointers (struct bpf_dynptr, 16 bytes the program keeps on its stack) and the helpers
 * that make and use them: bpf_dynptr_from_mem, bpf_ringbuf_reserve_dynptr / submit_dynptr /
 * discard_dynptr, bpf_dynptr_read / write / data.
 *
 * The VM lays the 16 bytes out as the kernel's struct bpf_dynptr_kern does: the address of the
 * underlying memory (u64), then size | type << 28 | rdonly << 31 (u32), then the offset into the
 * memory (u32). All-zero is the NULL dynptr. The address is a VM address, so a dynptr an
 * unverified program forged still goes through the checked memory and can only fault.
 * skb and xdp dynptrs (bpf_dynptr_from_skb/xdp, kfuncs.ts) keep the context's address instead and
 * reach the packet of the current run.
 */
import type { VmHelperCall, VmHelperFn } from "../env.js";
import { E2BIG, EINVAL } from "../maps/errno.js";
import { RingBuf } from "../maps/ringbuf.js";
import type { Memory } from "../memory.js";
import type { Runtime } from "./runtime.js";
import { mapArg } from "./util.js";

export const DYNPTR_SIZE = 16;
/** The size field's low 24 bits (DYNPTR_MAX_SIZE); type in bits 28-30, read-only in bit 31. */
export const DYNPTR_MAX_SIZE = 0xffffff;
const TYPE_SHIFT = 28;
const RDONLY_BIT = 0x8000_0000;

/** enum bpf_dynptr_type. */
export const DynptrType = { invalid: 0, local: 1, ringbuf: 2, skb: 3, xdp: 4 } as const;

export interface Dynptr {
  /** The memory's address (local, ringbuf) or the context's (skb, xdp); 0n for a NULL dynptr. */
  readonly data: bigint;
  readonly size: number;
  readonly offset: number;
  readonly type: number;
  readonly rdonly: boolean;
}

/** Read the dynptr at an address (checked: it must be 16 readable bytes). */
export function readDynptr(memory: Memory, address: bigint): Dynptr {
  const b = memory.slice(address, DYNPTR_SIZE);
  const v = new DataView(b.buffer, b.byteOffset, DYNPTR_SIZE);
  const word = v.getUint32(8, true);
  return {
    data: v.getBigUint64(0, true),
    size: word & DYNPTR_MAX_SIZE,
    type: (word >>> TYPE_SHIFT) & 7,
    rdonly: (word & RDONLY_BIT) !== 0,
    offset: v.getUint32(12, true),
  };
}

/** Write a dynptr (or the NULL dynptr when `d` is undefined) at an address. */
export function writeDynptr(memory: Memory, address: bigint, d: Dynptr | undefined): void {
  const b = memory.slice(address, DYNPTR_SIZE, true);
  const v = new DataView(b.buffer, b.byteOffset, DYNPTR_SIZE);
  if (d === undefined) {
    b.fill(0);
    return;
  }
  v.setBigUint64(0, d.data, true);
  v.setUint32(
    8,
    ((d.size & DYNPTR_MAX_SIZE) | (d.type << TYPE_SHIFT) | (d.rdonly ? RDONLY_BIT : 0)) >>> 0,
    true,
  );
  v.setUint32(12, d.offset >>> 0, true);
}

/** bpf_dynptr_check_off_len: 0, or -E2BIG when [offset, offset + len) leaves the dynptr. */
export function checkOffLen(d: Dynptr, offset: number, len: number): number {
  return offset > d.size || len > d.size - offset ? -E2BIG : 0;
}

/**
 * Where the bytes of a dynptr start, for the directly addressable types (local, ringbuf), or
 * undefined (skb, xdp: their bytes are the packet's, see packetOf).
 */
export function directAddress(d: Dynptr): bigint | undefined {
  return d.type === DynptrType.local || d.type === DynptrType.ringbuf ? d.data + BigInt(d.offset) : undefined;
}

/**
 * The packet bytes an skb/xdp dynptr covers ([data, data_end) of the current run, from the
 * dynptr's offset), or undefined when the run has no packet of that kind.
 */
export function packetOf(rt: Runtime, d: Dynptr): Uint8Array | undefined {
  const p = rt.packet;
  if (p === undefined || (d.type === DynptrType.skb) !== (p.kind === "skb")) return undefined;
  const r = p.region;
  return r.bytes.subarray(r.dataStart + d.offset, r.end);
}

/** Copy `len` bytes at `offset` of a dynptr out (bpf_dynptr_read's copy), or an errno. */
function readBytes(
  rt: Runtime,
  call: VmHelperCall,
  d: Dynptr,
  offset: number,
  len: number,
): Uint8Array | number {
  const at = directAddress(d);
  if (at !== undefined) return call.memory.slice(at + BigInt(offset), len).slice();
  const pkt = packetOf(rt, d);
  if (pkt === undefined || offset + len > pkt.length) return -EINVAL;
  return pkt.slice(offset, offset + len);
}

/** The dynptr argument `n` points to. */
function dynptrArg(call: VmHelperCall, n: 1 | 2 | 3 | 4 | 5): Dynptr {
  return readDynptr(call.memory, call.arg(n));
}

/** Finish the ring buffer record a ringbuf dynptr holds, and NULL the dynptr. */
function finishDynptr(rt: Runtime, call: VmHelperCall, discard: boolean): number {
  const helper = discard ? "bpf_ringbuf_discard_dynptr" : "bpf_ringbuf_submit_dynptr";
  const d = dynptrArg(call, 1);
  if (d.data === 0n) return 0;
  const f = d.type === DynptrType.ringbuf ? call.memory.find(d.data) : undefined;
  let done = false;
  if (f !== undefined && f.region.kind === "ringbuf") {
    for (const m of rt.maps()) {
      if (m instanceof RingBuf && m.finish(f.region.id, f.offset, discard)) {
        done = true;
        break;
      }
    }
  }
  if (!done) throw call.fault(`${helper}: argument 1 is not a reserved ring buffer dynptr`);
  writeDynptr(call.memory, call.arg(1), undefined);
  return 0;
}

export function dynptrHelpers(rt: Runtime): Record<string, VmHelperFn> {
  return {
    dynptr_from_mem: (call) => {
      const size = Number(call.arg(2) & 0xffffffffn);
      let err = 0;
      // the size is checked before the flags, as in the kernel
      if (size > DYNPTR_MAX_SIZE) err = -E2BIG;
      else if (call.arg(3) !== 0n) err = -EINVAL;
      else call.memory.slice(call.arg(1), size); // the memory must be there (the verifier's mem/size pair)
      const data = call.arg(1);
      const d: Dynptr | undefined =
        err === 0 ? { data, size, offset: 0, type: DynptrType.local, rdonly: false } : undefined;
      writeDynptr(call.memory, call.arg(4), d);
      return err;
    },
    ringbuf_reserve_dynptr: (call) => {
      const m = mapArg(rt, call, 1, "bpf_ringbuf_reserve_dynptr");
      if (!(m instanceof RingBuf))
        throw call.fault(`bpf_ringbuf_reserve_dynptr: map ${m.def.name} is not a ring buffer`);
      const size = Number(call.arg(2) & 0xffffffffn);
      let err = 0;
      let data = 0n;
      if (size > DYNPTR_MAX_SIZE) err = -E2BIG;
      else if (call.arg(3) !== 0n) err = -EINVAL;
      else {
        data = m.reserve(size, 0);
        // measured on 6.18: a reservation that finds no room fails with -EINVAL (not -EAGAIN)
        if (data === 0n) err = -EINVAL;
      }
      writeDynptr(
        call.memory,
        call.arg(4),
        err === 0 ? { data, size, offset: 0, type: DynptrType.ringbuf, rdonly: false } : undefined,
      );
      return err;
    },
    ringbuf_submit_dynptr: (call) => finishDynptr(rt, call, false),
    ringbuf_discard_dynptr: (call) => finishDynptr(rt, call, true),
    dynptr_read: (call) => {
      const len = Number(call.arg(2) & 0xffffffffn);
      const dst = call.memory.slice(call.arg(1), len, true);
      const d = dynptrArg(call, 3);
      const offset = Number(call.arg(4) & 0xffffffffn);
      if (d.data === 0n || call.arg(5) !== 0n) return -EINVAL;
      const err = checkOffLen(d, offset, len);
      if (err) return err;
      const bytes = readBytes(rt, call, d, offset, len);
      if (typeof bytes === "number") return bytes;
      dst.set(bytes);
      return 0;
    },
    dynptr_write: (call) => {
      const d = dynptrArg(call, 1);
      const offset = Number(call.arg(2) & 0xffffffffn);
      const len = Number(call.arg(4) & 0xffffffffn);
      const src = call.memory.slice(call.arg(3), len).slice();
      if (d.data === 0n || d.rdonly) return -EINVAL;
      const err = checkOffLen(d, offset, len);
      if (err) return err;
      const at = directAddress(d);
      if (at !== undefined) {
        if (call.arg(5) !== 0n) return -EINVAL;
        call.memory.slice(at + BigInt(offset), len, true).set(src);
        return 0;
      }
      // skb stores take bpf_skb_store_bytes's flags (checksum and hash hints, nothing to do here)
      if (d.type === DynptrType.xdp ? call.arg(5) !== 0n : call.arg(5) & ~3n) return -EINVAL;
      const pkt = packetOf(rt, d);
      if (pkt === undefined || offset + len > pkt.length) return -EINVAL;
      pkt.set(src, offset);
      return 0;
    },
    dynptr_data: (call) => {
      const d = dynptrArg(call, 1);
      const offset = Number(call.arg(2) & 0xffffffffn);
      const len = Number(call.arg(3) & 0xffffffffn);
      if (d.data === 0n || checkOffLen(d, offset, len) !== 0 || d.rdonly) return 0;
      const at = directAddress(d);
      return at === undefined ? 0 : at + BigInt(offset);
    },
  };
}
