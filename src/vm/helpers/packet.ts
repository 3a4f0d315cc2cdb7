/**
 * Packet helpers for skb programs (skb_load_bytes, skb_store_bytes, l3/l4_csum_replace,
 * csum_diff, redirect) and XDP (xdp_adjust_head/tail/meta, redirect), with the kernel's
 * argument checks and error codes. The packet is the run's PacketState: for skb programs,
 * `data` is region.dataStart and the length is region.end - dataStart (a linear skb).
 */
import type { VmHelperCall, VmHelperFn } from "../env.js";
import { DevMap } from "../maps/devmap.js";
import { EFAULT, EINVAL } from "../maps/errno.js";
import { SocketMap } from "../maps/socket-maps.js";
import { csumPartial, csumReplace2, csumReplace4, csumReplaceByDiff, csumSub, fold16 } from "./csum.js";
import type { PacketState, Runtime } from "./runtime.js";
import { mapArg } from "./util.js";

const EACCES = 13;
const ETH_HLEN = 14;
const INT_MAX = 0x7fffffffn;
const BPF_F_RECOMPUTE_CSUM = 1;
const BPF_F_INVALIDATE_HASH = 2;
const BPF_F_HDR_FIELD_MASK = 0xf;
const BPF_F_PSEUDO_HDR = 1 << 4;
const BPF_F_MARK_MANGLED_0 = 1 << 5;
const BPF_F_MARK_ENFORCE = 1 << 6;
const BPF_F_IPV6 = 1 << 7;
const BPF_F_INGRESS = 1;
const TC_ACT_SHOT = 2;
const TC_ACT_REDIRECT = 7;
const XDP_ABORTED = 0;
const XDP_REDIRECT = 4;
/** The checksum value meaning "no checksum" for UDP, written instead of 0 (CSUM_MANGLED_0). */
const CSUM_MANGLED_0 = 0xffff;

function packet(rt: Runtime, call: VmHelperCall, helper: string, kind: "skb" | "xdp"): PacketState {
  const p = rt.packet;
  if (p === undefined || p.kind !== kind) throw call.fault(`${helper}: the program has no ${kind} packet`);
  return p;
}

/** Bytes of the skb's linear data from `offset` for `len`, or undefined when out of the packet. */
function skbBytes(p: PacketState, offset: bigint, len: number): Uint8Array | undefined {
  const r = p.region;
  const dataLen = r.end - r.dataStart;
  if (offset > INT_MAX || offset + BigInt(len) > BigInt(dataLen)) return undefined;
  const at = r.dataStart + Number(offset);
  return r.bytes.subarray(at, at + len);
}

function csumField(p: PacketState, offset: bigint): { get(): number; set(v: number): void } | undefined {
  // an offset past 0xffff or odd is -EFAULT, as is a field beyond the packet
  const b = offset > 0xffffn || offset & 1n ? undefined : skbBytes(p, offset, 2);
  if (b === undefined) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, 2);
  return { get: () => v.getUint16(0, true), set: (x) => v.setUint16(0, x, true) };
}

const BPF_F_BROADCAST = 1n << 3n;
const BPF_F_EXCLUDE_INGRESS = 1n << 4n;

function unsupported(call: VmHelperCall): never {
  throw call.fault("bpf_redirect_map: BPF_F_BROADCAST is not simulated", "unsupported");
}

/** bpf_xdp_load_bytes / bpf_xdp_store_bytes(xdp_md, offset, buf, len): linear frames only. */
function xdpBytes(rt: Runtime, call: VmHelperCall, store: boolean): number {
  const r = packet(rt, call, store ? "bpf_xdp_store_bytes" : "bpf_xdp_load_bytes", "xdp").region;
  const offset = call.arg(2) & 0xffffffffn;
  const len = Number(call.arg(4) & 0xffffffffn);
  const buf = call.memory.slice(call.arg(3), len, !store);
  if (offset > 0xffffn || len > 0xffff) return -EFAULT;
  if (Number(offset) + len > r.end - r.dataStart) return -EINVAL;
  const at = r.dataStart + Number(offset);
  if (store) r.bytes.set(buf.slice(), at);
  else buf.set(r.bytes.subarray(at, at + len));
  return 0;
}

export function packetHelpers(rt: Runtime): Record<string, VmHelperFn> {
  return {
    skb_load_bytes: (call) => {
      const p = packet(rt, call, "bpf_skb_load_bytes", "skb");
      const len = Number(call.arg(4));
      const to = call.memory.slice(call.arg(3), len, true);
      const from = skbBytes(p, call.arg(2), len);
      if (from === undefined) {
        to.fill(0);
        return -EFAULT;
      }
      to.set(from);
      return 0;
    },
    skb_store_bytes: (call) => {
      const p = packet(rt, call, "bpf_skb_store_bytes", "skb");
      const len = Number(call.arg(4));
      const from = call.memory.slice(call.arg(3), len);
      const flags = call.arg(5);
      if (flags & ~BigInt(BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH)) return -EINVAL;
      const to = skbBytes(p, call.arg(2), len);
      if (to === undefined) return -EFAULT;
      to.set(from.slice());
      return 0;
    },
    l3_csum_replace: (call) => {
      const p = packet(rt, call, "bpf_l3_csum_replace", "skb");
      const flags = call.arg(5);
      if (flags & ~BigInt(BPF_F_HDR_FIELD_MASK)) return -EINVAL;
      const f = csumField(p, call.arg(2));
      if (f === undefined) return -EFAULT;
      const from = Number(call.arg(3) & 0xffffffffn);
      const to = Number(call.arg(4) & 0xffffffffn);
      switch (Number(flags) & BPF_F_HDR_FIELD_MASK) {
        case 0:
          if (from !== 0) return -EINVAL;
          f.set(csumReplaceByDiff(f.get(), to));
          return 0;
        case 2:
          f.set(csumReplace2(f.get(), from, to));
          return 0;
        case 4:
          f.set(csumReplace4(f.get(), from, to));
          return 0;
        default:
          return -EINVAL;
      }
    },
    l4_csum_replace: (call) => {
      const p = packet(rt, call, "bpf_l4_csum_replace", "skb");
      const flags = Number(call.arg(5) & 0xffffffffn);
      const known =
        BPF_F_MARK_MANGLED_0 | BPF_F_MARK_ENFORCE | BPF_F_PSEUDO_HDR | BPF_F_HDR_FIELD_MASK | BPF_F_IPV6;
      if (call.arg(5) > 0xffffffffn || flags & ~known) return -EINVAL;
      const f = csumField(p, call.arg(2));
      if (f === undefined) return -EFAULT;
      const mmzero = (flags & BPF_F_MARK_MANGLED_0) !== 0;
      if (mmzero && !(flags & BPF_F_MARK_ENFORCE) && f.get() === 0) return 0;
      const from = Number(call.arg(3) & 0xffffffffn);
      const to = Number(call.arg(4) & 0xffffffffn);
      // the test-run skb is not CHECKSUM_PARTIAL, so the field is updated the same way with or without the pseudo header
      switch (flags & BPF_F_HDR_FIELD_MASK) {
        case 0:
          if (from !== 0) return -EINVAL;
          f.set(csumReplaceByDiff(f.get(), to));
          break;
        case 2:
          f.set(csumReplace4(f.get(), from & 0xffff, to & 0xffff));
          break;
        case 4:
          f.set(csumReplace4(f.get(), from, to));
          break;
        default:
          return -EINVAL;
      }
      if (mmzero && f.get() === 0) f.set(CSUM_MANGLED_0);
      return 0;
    },
    csum_diff: (call) => {
      const fromSize = Number(call.arg(2));
      const toSize = Number(call.arg(4));
      const seed = Number(call.arg(5) & 0xffffffffn);
      // 6.18 sums both buffers directly: any sizes (the old multiple-of-4 rule is gone)
      if (fromSize + toSize > 512) return -EINVAL;
      const from = call.memory.slice(call.arg(1), fromSize);
      const to = call.memory.slice(call.arg(3), toSize);
      // since 6.12 the result is folded to 16 bits (csum_partial's 32-bit value differs per arch)
      let sum = seed;
      if (fromSize && toSize) sum = csumSub(csumPartial(to, seed), csumPartial(from, 0));
      else if (toSize) sum = csumPartial(to, seed);
      else if (fromSize) sum = ~csumPartial(from, ~seed >>> 0) >>> 0;
      return fold16(sum);
    },
    redirect: (call) => {
      const ifindex = Number(call.arg(1) & 0xffffffffn);
      const flags = call.arg(2);
      if (rt.progType === "xdp") {
        if (flags !== 0n) return XDP_ABORTED;
        rt.redirect = { ifindex, flags: 0 };
        return XDP_REDIRECT;
      }
      if (flags & ~BigInt(BPF_F_INGRESS)) return TC_ACT_SHOT;
      rt.redirect = { ifindex, flags: Number(flags) };
      return TC_ACT_REDIRECT;
    },
    redirect_map: (call) => {
      const m = mapArg(rt, call, 1, "bpf_redirect_map");
      // an xskmap is always empty offline (no AF_XDP sockets): the fallback action in the flags
      if (m instanceof SocketMap && m.def.typeName === "xskmap") return call.arg(3) & 3n;
      if (!(m instanceof DevMap))
        throw call.fault(
          `bpf_redirect_map: map ${m.def.name} (${m.def.typeName}) is not simulated`,
          "unsupported",
        );
      const flags = call.arg(3);
      // the low bits are the action when the slot is empty; broadcast is not simulated
      if (flags & ~3n)
        return flags & ~(3n | BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS) ? XDP_ABORTED : unsupported(call);
      const ifindex = m.ifindex(Number(call.arg(2) & 0xffffffffn));
      if (ifindex === undefined) return flags & 3n;
      rt.redirect = { ifindex, flags: 0 };
      return XDP_REDIRECT;
    },
    xdp_get_buff_len: (call) => {
      const r = packet(rt, call, "bpf_xdp_get_buff_len", "xdp").region;
      return r.end - r.dataStart;
    },
    xdp_load_bytes: (call) => xdpBytes(rt, call, false),
    xdp_store_bytes: (call) => xdpBytes(rt, call, true),
    xdp_adjust_head: (call) => {
      const p = packet(rt, call, "bpf_xdp_adjust_head", "xdp");
      const r = p.region;
      const delta = Number(BigInt.asIntN(32, call.arg(2)));
      const metalen = r.dataStart - r.start;
      const data = r.dataStart + delta;
      if (data < p.hardStart + metalen || data > r.end - ETH_HLEN) return -EINVAL;
      if (metalen) r.bytes.copyWithin(r.start + delta, r.start, r.dataStart);
      r.start += delta;
      r.dataStart = data;
      r.macStart = data;
      r.netStart = data;
      return 0;
    },
    xdp_adjust_tail: (call) => {
      const p = packet(rt, call, "bpf_xdp_adjust_tail", "xdp");
      const r = p.region;
      const delta = Number(BigInt.asIntN(32, call.arg(2)));
      const end = r.end + delta;
      if (end > p.hardEnd || end < r.dataStart + ETH_HLEN) return -EINVAL;
      if (delta > 0) r.bytes.fill(0, r.end, end);
      r.end = end;
      return 0;
    },
    xdp_adjust_meta: (call) => {
      const p = packet(rt, call, "bpf_xdp_adjust_meta", "xdp");
      const r = p.region;
      const meta = r.start + Number(BigInt.asIntN(32, call.arg(2)));
      if (meta < p.hardStart || meta > r.dataStart) return -EINVAL;
      const metalen = r.dataStart - meta;
      // xdp_metalen_invalid: 4-byte multiples up to what skb_shared_info.meta_len (u8) holds
      if (metalen & 3 || metalen > 255) return -EACCES;
      r.start = meta;
      return 0;
    },
  };
}
