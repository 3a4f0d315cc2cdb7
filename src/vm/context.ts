/**
 * Program contexts: the struct r1 points to, built for a run from a packet or plain JS values,
 * laid out by src/abi/contexts.ts. Like the kernel, which rewrites context loads into the real
 * skb/xdp_buff fields, the context's `data`, `data_end` and `data_meta` fields load pointers into
 * the packet region (a 4-byte field gives a 64-bit pointer).
 *
 * Packets are set up as BPF_PROG_TEST_RUN does: XDP gets a 4096-byte frame with 256 bytes of
 * headroom (struct xdp_frame, 40 bytes, at its start) and 320 bytes of skb_shared_info at its
 * end, so bpf_xdp_adjust_head/tail/meta have the kernel's room; skb programs see the Ethernet
 * header at `data` for tc (sched_cls/sched_act) and the network header for the others
 * (socket filters, cgroup_skb), where eth_type_trans has pulled the link layer.
 */
import {
  BPF_PERF_EVENT_DATA,
  BPF_RAW_TRACEPOINT_ARGS,
  BPF_SK_LOOKUP,
  BPF_SOCK_OPS,
  type CtxLayout,
  fieldByName,
  MAX_BPF_FUNC_ARGS,
  PT_REGS,
  SK_BUFF,
  SOCK_OPS_UNION_ALIASES,
  TRACE_ENTRY,
  TRACE_EVENT_RAW_SYS_ENTER,
  XDP_MD,
} from "../abi/contexts.js";
import type { TracepointFormat } from "../abi/tracepoint-format.js";
import { UsageError } from "../errors.js";
import { VmFault } from "./errors.js";
import type { PacketState } from "./helpers/runtime.js";
import {
  type Memory,
  PTR_DATA,
  PTR_END,
  PTR_START,
  type Region,
  type RegionHooks,
  type RegionKind,
} from "./memory.js";

/**
 * Where context and packet regions come from: fresh regions of the memory, or a pool that
 * reuses the regions of finished runs (a simulation runs programs many times; retired regions
 * would otherwise pile up in the memory).
 */
export interface RegionSource {
  /** A zero-filled, writable region with `size` accessible bytes and no hooks. */
  get(kind: RegionKind, name: string, size: number): Region;
  /** Give a region back once its run is over (it is inaccessible until reused). */
  release(r: Region): void;
}

export function freshRegions(memory: Memory): RegionSource {
  return {
    get: (kind, name, size) => memory.add({ kind, name, size }),
    release: (r) => memory.remove(r),
  };
}

export class RegionPool implements RegionSource {
  private readonly free = new Map<string, Region[]>();
  constructor(private readonly memory: Memory) {}

  get(kind: RegionKind, name: string, size: number): Region {
    const list = this.free.get(`${kind}:${name}`);
    const i = list?.findIndex((r) => r.bytes.length >= size && r.bytes.length <= size * 2 + 4096) ?? -1;
    if (list && i >= 0) {
      const r = list.splice(i, 1)[0];
      r.bytes.fill(0);
      r.start = 0;
      r.end = size;
      r.dataStart = r.macStart = r.netStart = 0;
      r.writable = true;
      r.hooks = null;
      return r;
    }
    return this.memory.add({ kind, name, size });
  }

  release(r: Region): void {
    r.start = 0;
    r.end = 0;
    r.hooks = null;
    const key = `${r.kind}:${r.name}`;
    const list = this.free.get(key) ?? [];
    list.push(r);
    this.free.set(key, list);
  }
}

/** A context as the caller gives it: raw bytes, named fields, or (raw tracepoints) the argument list. */
export type CtxInput = Uint8Array | readonly (number | bigint)[] | { readonly [field: string]: unknown };

export interface ContextRequest {
  /** Program type name (src/abi spelling: xdp, sched_cls, tracepoint...). */
  readonly progType: string;
  /** What follows the section prefix (tracepoint `raw_syscalls/sys_enter`). */
  readonly attachTarget?: string;
  readonly ctx?: CtxInput;
  readonly packet?: Uint8Array;
  /** Layout of a tracepoint record when the caller knows it (e.g. from the tracefs format file). */
  readonly tracepointLayout?: CtxLayout;
}

/**
 * The __sk_buff fields BPF_PROG_TEST_RUN copies back to ctx_out (convert_skb_to___skb): mark,
 * priority, ingress_ifindex, ifindex, cb[5], tstamp, wire_len, gso_segs, gso_size,
 * tstamp_type and hwtstamp, as [offset, size].
 */
const SKB_CTX_OUT: readonly (readonly [number, number])[] = [
  [8, 4],
  [32, 4],
  [36, 4],
  [40, 4],
  [48, 20],
  [152, 8],
  [160, 4],
  [164, 4],
  [176, 4],
  [180, 1],
  [184, 8],
];

export interface BuiltContext {
  readonly region: Region;
  /** The context as BPF_PROG_TEST_RUN's ctx_out would give it after the run (skb programs), else undefined. */
  ctxOut(): Uint8Array | undefined;
  readonly packet: PacketState | undefined;
  /** The packet bytes BPF_PROG_TEST_RUN would copy out after the run (undefined without a packet). */
  packetOut(): Uint8Array | undefined;
  /** Return the regions to their source (using them afterwards faults). */
  release(): void;
}

const XDP_HEADROOM = 256;
const XDP_FRAME_SIZE = 4096;
const SKB_SHARED_INFO = 320;
const XDP_FRAME_STRUCT = 40;
const SKB_HEADROOM = 64;
const ETH_HLEN = 14;
const LOOPBACK_IFINDEX = 1;
/** Record size given to a tracepoint whose format is unknown (zeroes past the common header). */
const UNKNOWN_RECORD_SIZE = 512;

const SKB_TYPES: ReadonlySet<string> = new Set([
  "socket_filter",
  "sched_cls",
  "sched_act",
  "cgroup_skb",
  "lwt_in",
  "lwt_out",
  "lwt_xmit",
  "lwt_seg6local",
  "sk_skb",
  "flow_dissector",
]);
/** Where test_run leaves skb->data at the Ethernet header. */
const L2_TYPES: ReadonlySet<string> = new Set(["sched_cls", "sched_act"]);

function bad(msg: string): never {
  throw new UsageError("E_VM_CTX", msg);
}

function toBig(v: unknown, what: string): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  if (typeof v === "boolean") return v ? 1n : 0n;
  if (typeof v === "string" && /^-?(0x[0-9a-f]+|\d+)$/i.test(v.trim())) {
    const s = v.trim();
    return s.startsWith("-") ? -BigInt(s.slice(1)) : BigInt(s);
  }
  return bad(`${what}: expected an integer, got ${typeof v === "object" ? JSON.stringify(v) : String(v)}`);
}

function writeInt(b: Uint8Array, off: number, size: number, v: bigint): void {
  let x = BigInt.asUintN(size * 8, v);
  for (let i = 0; i < size; i++) {
    b[off + i] = Number(x & 0xffn);
    x >>= 8n;
  }
}

/** Lay out named fields into `bytes` by a context layout (unknown names are a UsageError). */
export function fillFields(
  layout: CtxLayout,
  bytes: Uint8Array,
  values: { readonly [k: string]: unknown },
): void {
  for (const [name, v] of Object.entries(values)) {
    const f = fieldByName(layout, name);
    if (f === undefined) {
      bad(`${layout.struct} has no field '${name}' (fields: ${layout.fields.map((x) => x.name).join(", ")})`);
    }
    if (f.count !== undefined) {
      const es = f.size / f.count;
      const list = Array.isArray(v) ? v : bad(`${layout.struct}.${name}: expected an array of ${f.count}`);
      if (list.length > f.count) bad(`${layout.struct}.${name}: at most ${f.count} elements`);
      list.forEach((x: unknown, i: number) => {
        writeInt(bytes, f.offset + i * es, es, toBig(x, `${layout.struct}.${name}[${i}]`));
      });
    } else if (f.size <= 8) {
      writeInt(bytes, f.offset, f.size, toBig(v, `${layout.struct}.${name}`));
    } else if (v instanceof Uint8Array && v.length <= f.size) {
      bytes.set(v, f.offset);
    } else {
      bad(`${layout.struct}.${name}: expected ${f.size} bytes`);
    }
  }
}

function rawCtx(input: CtxInput | undefined, size: number, what: string): Uint8Array | undefined {
  if (!(input instanceof Uint8Array)) return undefined;
  if (input.length > size) bad(`${what} context of ${input.length} bytes is larger than ${size}`);
  const b = new Uint8Array(size);
  b.set(input);
  return b;
}

function objectCtx(input: CtxInput | undefined): { readonly [k: string]: unknown } {
  if (input === undefined) return {};
  if (Array.isArray(input) || input instanceof Uint8Array)
    return bad("expected a context object of named fields");
  return input as { readonly [k: string]: unknown };
}

/** A context struct in its own region; `hooks` answer the fields the kernel rewrites. */
function ctxRegion(
  src: RegionSource,
  layout: CtxLayout,
  bytes: Uint8Array,
  writable: boolean,
  hooks?: RegionHooks,
): Region {
  const r = src.get("ctx", `ctx ${layout.struct}`, bytes.length);
  r.bytes.set(bytes);
  r.writable = writable;
  if (hooks) r.hooks = hooks;
  return r;
}

/** A packet region: `headroom` bytes, the data, then `tailroom` (as Memory.addPacket lays it out). */
function packetRegion(src: RegionSource, data: Uint8Array, headroom: number, tailroom: number): Region {
  const r = src.get("packet", "packet", headroom + data.length + tailroom);
  r.bytes.set(data, headroom);
  r.start = headroom;
  r.end = headroom + data.length;
  r.dataStart = r.macStart = r.netStart = headroom;
  return r;
}

function buildXdp(src: RegionSource, req: ContextRequest): BuiltContext {
  const data = req.packet ?? new Uint8Array(0);
  const maxData = XDP_FRAME_SIZE - XDP_HEADROOM - SKB_SHARED_INFO;
  if (data.length < ETH_HLEN)
    bad(
      `XDP packet of ${data.length} bytes is shorter than an Ethernet header (the kernel's test run refuses it with EINVAL)`,
    );
  // the kernel puts the rest of a longer packet in fragments (xdp multi-buffer); not simulated
  if (data.length > maxData)
    bad(
      `XDP packet of ${data.length} bytes: at most ${maxData} fit in one frame (fragments are not simulated)`,
    );
  const hardEnd = XDP_FRAME_SIZE - SKB_SHARED_INFO;
  const r = packetRegion(src, data, XDP_HEADROOM, hardEnd - XDP_HEADROOM - data.length);
  const bytes = new Uint8Array(XDP_MD.size);
  fillFields(XDP_MD, bytes, { ingress_ifindex: LOOPBACK_IFINDEX, ...objectCtx(req.ctx) });
  // data, data_end, data_meta: packet pointers, loaded on every run (declared: read inline)
  const region = ctxRegion(src, XDP_MD, bytes, false, {
    pointers: [
      { offset: 0, region: r, edge: PTR_DATA },
      { offset: 4, region: r, edge: PTR_END },
      { offset: 8, region: r, edge: PTR_START },
    ],
  });
  return {
    region,
    packet: { region: r, kind: "xdp", hardStart: XDP_FRAME_STRUCT, hardEnd },
    packetOut: () => r.bytes.slice(r.start, r.end),
    ctxOut: () => undefined,
    release: () => {
      src.release(region);
      src.release(r);
    },
  };
}

/** eth_type_trans's pkt_type for a destination MAC, received on the loopback device (address 0). */
function pktType(frame: Uint8Array): number {
  if (frame.length < 6) return 0;
  if (frame[0] & 1) return frame.subarray(0, 6).every((b) => b === 0xff) ? 1 : 2;
  return frame.subarray(0, 6).every((b) => b === 0) ? 0 : 3;
}

/**
 * eth_type_trans's protocol (network byte order value as a little-endian load sees it): the
 * EtherType when it is one (>= 0x600), else an 802.3 length: ETH_P_802_3 for raw IPX (0xffff
 * after the header), ETH_P_802_2 otherwise.
 */
function ethProtocol(frame: Uint8Array): number {
  const type = (frame[12] << 8) | frame[13];
  const be = (v: number): number => ((v & 0xff) << 8) | (v >> 8);
  if (type >= 0x600) return be(type);
  if (frame.length >= 16 && frame[14] === 0xff && frame[15] === 0xff) return be(0x0001);
  return be(0x0004);
}

function buildSkb(src: RegionSource, req: ContextRequest): BuiltContext {
  const frame = req.packet ?? bad(`${req.progType} programs need a packet`);
  if (frame.length < ETH_HLEN) bad(`packet of ${frame.length} bytes is shorter than an Ethernet header`);
  // test_run's skb: one page minus NET_SKB_PAD headroom and skb_shared_info
  const maxSkb = XDP_FRAME_SIZE - SKB_HEADROOM - SKB_SHARED_INFO;
  if (frame.length > maxSkb)
    bad(
      `packet of ${frame.length} bytes: at most ${maxSkb} fit (the kernel's test run refuses it with EINVAL)`,
    );
  // BPF_PROG_TEST_RUN refuses (EINVAL) an IPv4/IPv6 frame too short for its network header
  const proto = (frame[12] << 8) | frame[13];
  const l3 = frame.length - ETH_HLEN;
  if ((proto === 0x0800 && l3 < 20) || (proto === 0x86dd && l3 < 40)) {
    bad(
      `packet of ${frame.length} bytes is too short for its ${proto === 0x0800 ? "IPv4" : "IPv6"} header (the kernel's test run refuses it with EINVAL)`,
    );
  }
  const r = packetRegion(src, frame, SKB_HEADROOM, 0);
  const l2 = L2_TYPES.has(req.progType);
  r.macStart = SKB_HEADROOM;
  r.netStart = SKB_HEADROOM + ETH_HLEN;
  r.dataStart = l2 ? r.macStart : r.netStart;
  r.start = r.macStart;
  const bytes = new Uint8Array(SK_BUFF.size);
  const len = r.end - r.dataStart;
  fillFields(SK_BUFF, bytes, {
    len,
    pkt_type: pktType(frame),
    // __sk_buff.protocol: the __be16 eth_type_trans gives, read as stored
    protocol: ethProtocol(frame),
    ifindex: LOOPBACK_IFINDEX,
    wire_len: len,
    ...objectCtx(req.ctx),
  });
  // data, data_end, data_meta (no metadata in an skb: data): packet pointers (declared: read inline)
  const region = ctxRegion(src, SK_BUFF, bytes, true, {
    pointers: [
      { offset: 76, region: r, edge: PTR_DATA },
      { offset: 80, region: r, edge: PTR_END },
      { offset: 140, region: r, edge: PTR_DATA },
    ],
  });
  return {
    region,
    packet: { region: r, kind: "skb", hardStart: 0, hardEnd: r.end },
    ctxOut: () => {
      const out = new Uint8Array(SK_BUFF.size);
      for (const [o, n] of SKB_CTX_OUT) out.set(region.bytes.subarray(o, o + n), o);
      return out;
    },
    // test_run pushes the link-layer header back zeroed for programs that saw the network header
    packetOut: () => {
      const out = r.bytes.slice(r.macStart, r.end);
      if (!l2) out.fill(0, 0, r.netStart - r.macStart);
      return out;
    },
    release: () => {
      src.release(region);
      src.release(r);
    },
  };
}

/** A tracepoint record's layout from its tracefs `format` file. */
export function layoutFromFormat(fmt: TracepointFormat): CtxLayout {
  const size = fmt.fields.reduce((m, f) => Math.max(m, f.offset + f.size), 8);
  return {
    struct: `tracepoint ${fmt.name}`,
    size,
    fields: fmt.fields.map((f) => ({
      name: f.name,
      offset: f.offset,
      size: f.size,
      ...(f.count !== undefined && f.count > 0 ? { count: f.count } : {}),
    })),
  };
}

function tracepointLayout(req: ContextRequest): CtxLayout {
  if (req.tracepointLayout) return req.tracepointLayout;
  if (req.attachTarget === "raw_syscalls/sys_enter") return TRACE_EVENT_RAW_SYS_ENTER;
  return TRACE_ENTRY;
}

function plain(
  src: RegionSource,
  layout: CtxLayout,
  input: CtxInput | undefined,
  size: number,
): BuiltContext {
  const bytes = rawCtx(input, size, layout.struct) ?? new Uint8Array(size);
  if (!(input instanceof Uint8Array) && input !== undefined) {
    if (Array.isArray(input) && layout === BPF_RAW_TRACEPOINT_ARGS)
      fillFields(layout, bytes, { args: input });
    else fillFields(layout, bytes, objectCtx(input));
  }
  const region = ctxRegion(src, layout, bytes, false);
  return {
    region,
    packet: undefined,
    packetOut: () => undefined,
    ctxOut: () => undefined,
    release: () => src.release(region),
  };
}

const AF_INET = 2;
const AF_INET6 = 10;

/**
 * sk_lookup, as BPF_PROG_TEST_RUN sets it up from a struct bpf_sk_lookup the caller gives
 * (bytes or named fields): the same refusals (no context, `sk` set, anything after local_port
 * set: EINVAL; a port above 65535: ERANGE; a family other than AF_INET/AF_INET6: EAFNOSUPPORT),
 * then the program sees family and protocol cut to 16 bits, the addresses of its family only
 * (the other family's read as zero), remote_port's __be16 with zero padding, local_port, and
 * ingress_ifindex and sk as 0 (no device, no socket selected yet). Offline there are no sockets,
 * so none can be selected: ctx out is the input with cookie 0, as the kernel's when none was.
 */
function buildSkLookup(src: RegionSource, req: ContextRequest): BuiltContext {
  if (req.ctx === undefined)
    bad(
      "sk_lookup programs need a context (struct bpf_sk_lookup); the kernel's test run refuses none with EINVAL",
    );
  const input = rawCtx(req.ctx, BPF_SK_LOOKUP.size, "bpf_sk_lookup") ?? new Uint8Array(BPF_SK_LOOKUP.size);
  if (!(req.ctx instanceof Uint8Array)) fillFields(BPF_SK_LOOKUP, input, objectCtx(req.ctx));
  const v = new DataView(input.buffer, input.byteOffset, input.byteLength);
  if (v.getBigUint64(0, true) !== 0n)
    bad("bpf_sk_lookup.sk must be 0 (the kernel's test run refuses it with EINVAL)");
  if (input.subarray(64).some((b) => b !== 0))
    bad("bpf_sk_lookup fields after local_port must be 0 (the kernel's test run refuses them with EINVAL)");
  if (v.getUint32(60, true) > 0xffff)
    bad("bpf_sk_lookup.local_port above 65535 (the kernel's test run refuses it with ERANGE)");
  const family = v.getUint32(8, true) & 0xffff;
  if (family !== AF_INET && family !== AF_INET6)
    bad(
      `bpf_sk_lookup.family ${family} is not AF_INET or AF_INET6 (the kernel's test run refuses it with EAFNOSUPPORT)`,
    );
  const seen = new Uint8Array(BPF_SK_LOOKUP.size);
  const w = new DataView(seen.buffer);
  w.setUint32(8, family, true);
  w.setUint32(12, v.getUint32(12, true) & 0xffff, true);
  if (family === AF_INET) {
    seen.set(input.subarray(16, 20), 16);
    seen.set(input.subarray(40, 44), 40);
  } else {
    seen.set(input.subarray(20, 36), 20);
    seen.set(input.subarray(44, 60), 44);
  }
  seen.set(input.subarray(36, 38), 36);
  w.setUint32(60, v.getUint32(60, true), true);
  // family, protocol and local_port are u16s in the kernel's context: a 2-byte load of their upper
  // half is not narrower than that, so the rewritten load gives the whole value (measured on 6.18)
  const region = ctxRegion(src, BPF_SK_LOOKUP, seen, false, {
    load: (off, size) =>
      size === 2 && (off === 10 || off === 14 || off === 62) ? w.getUint16(off - 2, true) : undefined,
  });
  return {
    region,
    packet: undefined,
    packetOut: () => undefined,
    ctxOut: () => input.slice(),
    release: () => src.release(region),
  };
}

/** The sock_ops fields a program may write (reply/replylong and sk_txhash); the rest is read-only. */
const SOCK_OPS_WRITABLE: readonly (readonly [number, number])[] = [
  [4, 16],
  [164, 4],
];

/**
 * sock_ops: struct bpf_sock_ops from named fields (reply and replylong name the args union too)
 * or bytes. The kernel cannot test-run sock_ops programs, so there is no oracle: the fields read
 * back as given, `sk` (no socket offline) and skb_data/skb_data_end (no packet) as 0 unless given,
 * and a store outside reply/replylong and sk_txhash faults, as the verifier refuses it. ctx out is
 * the struct after the run (what the program replied).
 */
function buildSockOps(src: RegionSource, req: ContextRequest): BuiltContext {
  if (req.packet !== undefined) bad("sock_ops programs do not take a packet");
  const layout: CtxLayout = { ...BPF_SOCK_OPS, fields: [...BPF_SOCK_OPS.fields, ...SOCK_OPS_UNION_ALIASES] };
  const bytes = rawCtx(req.ctx, BPF_SOCK_OPS.size, "bpf_sock_ops") ?? new Uint8Array(BPF_SOCK_OPS.size);
  if (req.ctx !== undefined && !(req.ctx instanceof Uint8Array))
    fillFields(layout, bytes, objectCtx(req.ctx));
  const region = ctxRegion(src, BPF_SOCK_OPS, bytes, true);
  region.hooks = {
    store: (offset, size) => {
      const ok = SOCK_OPS_WRITABLE.some(([o, n]) => offset >= o && offset + size <= o + n);
      if (!ok)
        throw new VmFault(
          "read-only",
          `write of ${size} bytes into read-only bpf_sock_ops+0x${offset.toString(16)}`,
        );
      return false; // a writable field: the bytes take the store
    },
  };
  return {
    region,
    packet: undefined,
    packetOut: () => undefined,
    ctxOut: () => region.bytes.slice(0, BPF_SOCK_OPS.size),
    release: () => src.release(region),
  };
}

/**
 * Build the context (and packet) a program of `req.progType` runs with, in regions of `memory`
 * (or taken from a RegionSource such as a RegionPool).
 */
export function buildContext(where: Memory | RegionSource, req: ContextRequest): BuiltContext {
  const src: RegionSource = "get" in where ? where : freshRegions(where);
  const t = req.progType;
  if (t === "xdp") return buildXdp(src, req);
  if (SKB_TYPES.has(t)) return buildSkb(src, req);
  if (t === "sk_lookup") {
    if (req.packet !== undefined) bad("sk_lookup programs do not take a packet");
    return buildSkLookup(src, req);
  }
  if (t === "sock_ops") return buildSockOps(src, req);
  if (req.packet !== undefined) bad(`${t} programs do not take a packet`);
  switch (t) {
    case "tracepoint": {
      const layout = tracepointLayout(req);
      const raw = req.ctx instanceof Uint8Array ? req.ctx.length : 0;
      // without the event's layout, a zeroed record big enough for common events' fields
      const size = layout === TRACE_ENTRY ? UNKNOWN_RECORD_SIZE : layout.size;
      return plain(src, layout, req.ctx, Math.max(size, raw));
    }
    case "raw_tracepoint":
    case "raw_tracepoint_writable":
    case "tracing": // tp_btf, fentry/fexit: the arguments as u64s, like raw tracepoints
    case "lsm":
      return plain(src, BPF_RAW_TRACEPOINT_ARGS, req.ctx, 8 * MAX_BPF_FUNC_ARGS);
    case "kprobe":
      return plain(src, PT_REGS, req.ctx, PT_REGS.size);
    case "perf_event": {
      const input = req.ctx;
      if (input !== undefined && !(input instanceof Uint8Array) && !Array.isArray(input)) {
        const { regs, ...rest } = input as { readonly [k: string]: unknown };
        const bytes = new Uint8Array(BPF_PERF_EVENT_DATA.size);
        fillFields(BPF_PERF_EVENT_DATA, bytes, rest);
        if (regs !== undefined) {
          const rb = new Uint8Array(PT_REGS.size);
          fillFields(PT_REGS, rb, objectCtx(regs as CtxInput));
          bytes.set(rb, 0);
        }
        return plain(src, BPF_PERF_EVENT_DATA, bytes, bytes.length);
      }
      return plain(src, BPF_PERF_EVENT_DATA, input, BPF_PERF_EVENT_DATA.size);
    }
    default: {
      const raw = req.ctx instanceof Uint8Array ? req.ctx : new Uint8Array(0);
      if (req.ctx !== undefined && !(req.ctx instanceof Uint8Array)) {
        bad(`no context layout for ${t} programs: give the context as bytes`);
      }
      const layout: CtxLayout = { struct: `${t} context`, size: raw.length, fields: [] };
      return plain(src, layout, raw, raw.length);
    }
  }
}
