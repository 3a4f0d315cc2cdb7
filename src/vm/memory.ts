/**
 * The VM's memory: a set of checked regions in a fake 64-bit address space. Each region owns a
 * 4 GiB window whose high 32 bits tag it (REGION_HI_BASE + region id), so a pointer is an
 * ordinary 64-bit number that survives arithmetic, and every access finds its region from the
 * high half in O(1) and checks bounds and permission against it. An address whose high half
 * names no live region (NULL, a scalar, a pointer truncated by ALU32) faults.
 *
 * The hot-path functions (`loadInto`, `storeHalves`) take the address as two halves so the
 * interpreter never builds a BigInt; the BigInt API (`load`, `store`, `slice`) is for helpers
 * and callers at the edge.
 */
import { VmFault } from "./errors.js";

/** High half of the address of region 0; region i lives at (REGION_HI_BASE + i) << 32. */
export const REGION_HI_BASE = 0x7f00;

export type RegionKind =
  | "stack"
  | "ctx"
  | "packet"
  | "map"
  | "map-key"
  | "map-value"
  | "rodata"
  | "ringbuf"
  | "mem";

/**
 * Loads and stores that a region answers itself instead of reading its bytes: a context whose
 * fields the kernel rewrites (`__sk_buff.data` is a u32 field that loads a 64-bit pointer).
 * A load hook returns the destination register's whole value (not truncated to the access
 * size); return undefined / false to fall back to the bytes. A number must be a safe integer
 * (a pointer from Region.pointer): it reaches the register without a BigInt, which matters
 * for the context loads every packet program starts with.
 */
export interface RegionHooks {
  load?(offset: number, size: 1 | 2 | 4 | 8): bigint | number | undefined;
  store?(offset: number, size: 1 | 2 | 4 | 8, value: bigint): boolean;
  /**
   * Context fields that load a packet pointer, declared instead of answered by `load`: both
   * engines read them inline (a callback per load is a call V8 does not inline, on every run of
   * every packet program). Only a 4-byte load at exactly `offset` gets the pointer; any other
   * load goes to `load`, then to the bytes. Checked before `load`.
   */
  readonly pointers?: readonly PointerField[];
}

/** Which pointer of a packet region a field loads: data, data_end, or the first accessible byte. */
export const PTR_DATA = 0;
export const PTR_END = 1;
export const PTR_START = 2;
export type PacketEdge = typeof PTR_DATA | typeof PTR_END | typeof PTR_START;

/** A u32 context field at `offset` that loads the 64-bit address of `edge` of `region`. */
export interface PointerField {
  readonly offset: number;
  readonly region: Region;
  readonly edge: PacketEdge;
}

/** The pointer field a 4-byte load at `offset` hits, or undefined (small: V8 inlines it). */
export function pointerField(hooks: RegionHooks, offset: number): PointerField | undefined {
  const f = hooks.pointers;
  if (f === undefined) return undefined;
  for (let i = 0; i < f.length; i++) if (f[i].offset === offset) return f[i];
  return undefined;
}

/** The low half of the address a pointer field loads (the high half is f.region.hi). */
export function pointerLo(f: PointerField): number {
  const q = f.region;
  return f.edge === PTR_DATA ? q.dataStart : f.edge === PTR_END ? q.end : q.start;
}

export interface RegionSpec {
  readonly kind: RegionKind;
  /** Shown in fault messages ("map value counts[3]", "stack frame 0"). */
  readonly name: string;
  /** The backing bytes (shared, not copied). Default: `size` zero bytes. */
  readonly bytes?: Uint8Array;
  readonly size?: number;
  /** Default true. */
  readonly writable?: boolean;
  /** Accessible range inside the bytes; default the whole array. */
  readonly start?: number;
  readonly end?: number;
  readonly hooks?: RegionHooks;
}

/** One region. `start`/`end`/`writable` are mutable so packets can grow and frames can retire. */
export class Region {
  readonly id: number;
  readonly kind: RegionKind;
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** High 32 bits of every address inside this region (as a signed int32, like the registers). */
  readonly hi: number;
  /**
   * The address of byte 0 as a number when every address of the region is a safe integer (hi
   * below 2^21 - 1: all but absurdly many regions), else -1: what pointer() adds to.
   */
  private readonly base: number;
  /**
   * pointer()'s last two answers, kept as the very values returned: a context's load hook
   * answers the same packet pointers on every run, and a number above 2^31 returned from a
   * call that is not inlined is a new heap object each time otherwise (the fields are typed
   * to hold a bigint too, so V8 keeps them as references, not unboxed doubles).
   */
  private memoA = -1;
  private memoB = -1;
  private ptrA: number | bigint = 0n;
  private ptrB: number | bigint = 0n;
  /** First accessible byte (offset in `bytes`). */
  start: number;
  /** One past the last accessible byte. */
  end: number;
  writable: boolean;
  hooks: RegionHooks | null;
  /** For packets: offset in `bytes` of `data` (what LD_ABS/LD_IND offsets count from). */
  dataStart: number;
  /** For packets: offsets of the link-layer and network headers (LD_ABS SKF_LL_OFF/SKF_NET_OFF). */
  macStart: number;
  netStart: number;
  /** False once removed: its window faults from then on. */
  live: boolean;
  /**
   * Lowest offset written since the VM last zeroed this region (bytes.length when untouched):
   * every store path lowers it, so a stack is re-zeroed from here up, not as a whole, per run.
   */
  low: number;

  constructor(id: number, spec: RegionSpec) {
    const bytes = spec.bytes ?? new Uint8Array(spec.size ?? 0);
    this.id = id;
    this.kind = spec.kind;
    this.name = spec.name;
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.hi = (REGION_HI_BASE + id) | 0;
    this.base = this.hi >>> 0 < 0x1f_ffff ? (this.hi >>> 0) * 0x1_0000_0000 : -1;
    this.start = spec.start ?? 0;
    this.end = spec.end ?? bytes.byteLength;
    this.writable = spec.writable ?? true;
    this.hooks = spec.hooks ?? null;
    this.dataStart = this.start;
    this.macStart = this.start;
    this.netStart = this.start;
    this.live = true;
    this.low = bytes.byteLength;
  }

  /** The address of byte `offset` of this region. */
  address(offset = 0): bigint {
    return (BigInt(this.hi >>> 0) << 32n) + BigInt(offset);
  }

  /**
   * The address of byte `offset` as a number when it is a safe integer (region ids below
   * 2^21 - REGION_HI_BASE, i.e. all but absurdly many regions), else as a bigint.
   */
  pointer(offset = 0): number | bigint {
    if (offset === this.memoA) return this.ptrA;
    if (offset === this.memoB) return this.ptrB;
    // a context's pointer fields answer with this on every load: one addition, no check when
    // the offset is a window offset (a u32) and the base is below 2^53 - 2^32
    if (this.base >= 0 && offset >>> 0 === offset) {
      const n = this.base + offset;
      this.memoB = this.memoA;
      this.ptrB = this.ptrA;
      this.memoA = offset;
      this.ptrA = n;
      return n;
    }
    const n = (this.hi >>> 0) * 0x1_0000_0000 + offset;
    return Number.isSafeInteger(n) ? n : this.address(offset);
  }
}

/** A packet region and the three pointers a program sees (data_meta <= data <= data_end). */
export interface PacketRegion {
  readonly region: Region;
  readonly dataMeta: bigint;
  readonly data: bigint;
  readonly dataEnd: bigint;
}

const MAX_WINDOW = 0x1_0000_0000;
/** 2^-32: a safe integer's high half is floor(v * 2^-32), exact (a power of two), no division. */
export const TWO_TO_MINUS_32 = 2 ** -32;

export class Memory {
  /** Indexed by region id; removed regions stay as dead entries so their ids are never reused. */
  readonly regions: Region[] = [];
  /**
   * BPF_PROBE_MEM: the kernel turns the loads of tracing programs through BTF pointers into
   * loads that cannot fault (a bad address reads 0). When set, a load from an address that
   * belongs to no region asks this instead (a kernel memory image), and reads 0 where it has
   * nothing. Stores and accesses outside a region's bounds still fault.
   */
  probeRead: ((address: bigint, size: number) => bigint | undefined) | undefined = undefined;

  add(spec: RegionSpec): Region {
    const id = this.regions.length;
    if (REGION_HI_BASE + id > 0x7fffffff) throw new VmFault("unsupported", "too many memory regions");
    const r = new Region(id, spec);
    if (r.bytes.byteLength >= MAX_WINDOW) throw new VmFault("unsupported", `region ${r.name} too large`);
    this.regions.push(r);
    return r;
  }

  /** Retire a region: any later access to its window faults (a freed map element, a popped frame). */
  remove(r: Region): void {
    r.live = false;
    r.start = 0;
    r.end = 0;
  }

  /**
   * A packet: `headroom` bytes before data (reachable after bpf_xdp_adjust_head), `meta` bytes
   * of metadata right before data, then the data, then `tailroom` spare bytes.
   */
  addPacket(
    data: Uint8Array,
    opts: { headroom?: number; meta?: number; tailroom?: number; writable?: boolean; name?: string } = {},
  ): PacketRegion {
    const headroom = opts.headroom ?? 256;
    const meta = Math.min(opts.meta ?? 0, headroom);
    const tail = opts.tailroom ?? 0;
    const bytes = new Uint8Array(headroom + data.byteLength + tail);
    bytes.set(data, headroom);
    const region = this.add({
      kind: "packet",
      name: opts.name ?? "packet",
      bytes,
      start: headroom - meta,
      end: headroom + data.byteLength,
      writable: opts.writable ?? true,
    });
    region.dataStart = headroom;
    region.macStart = headroom;
    region.netStart = headroom;
    return {
      region,
      dataMeta: region.address(headroom - meta),
      data: region.address(headroom),
      dataEnd: region.address(headroom + data.byteLength),
    };
  }

  /** The live region whose window holds this high half, or undefined. */
  regionOf(hi: number): Region | undefined {
    const r = this.regions[(hi - REGION_HI_BASE) >>> 0];
    return r?.live ? r : undefined;
  }

  /** Region and offset of a 64-bit address (no bounds check), or undefined. */
  find(address: bigint): { region: Region; offset: number } | undefined {
    const a = BigInt.asUintN(64, address);
    const region = this.regionOf(Number(a >> 32n) | 0);
    return region ? { region, offset: Number(a & 0xffffffffn) } : undefined;
  }

  /** Check an access of `size` bytes at an address; returns the region and offset or faults. */
  check(address: bigint, size: number, write: boolean): { region: Region; offset: number } {
    const a = BigInt.asUintN(64, address);
    const region = checkAccess(this, Number(a >> 32n) | 0, Number(a & 0xffffffffn), size, write);
    return { region, offset: Number(a & 0xffffffffn) };
  }

  /** Checked load of 1/2/4/8 bytes (zero-extended), for helpers and tests. */
  load(address: bigint, size: 1 | 2 | 4 | 8): bigint {
    const { region, offset } = this.check(address, size, false);
    const field = size === 4 && region.hooks !== null ? pointerField(region.hooks, offset) : undefined;
    if (field !== undefined) return field.region.address(pointerLo(field));
    const hooked = region.hooks?.load?.(offset, size);
    if (hooked !== undefined) return BigInt.asUintN(64, BigInt(hooked));
    const v = region.view;
    switch (size) {
      case 1:
        return BigInt(v.getUint8(offset));
      case 2:
        return BigInt(v.getUint16(offset, true));
      case 4:
        return BigInt(v.getUint32(offset, true));
      default:
        return v.getBigUint64(offset, true);
    }
  }

  /** Checked store of 1/2/4/8 bytes (the value is truncated), for helpers and tests. */
  store(address: bigint, size: 1 | 2 | 4 | 8, value: bigint): void {
    const { region, offset } = this.check(address, size, true);
    if (region.hooks?.store?.(offset, size, value)) return;
    const v = region.view;
    const u = BigInt.asUintN(64, value);
    switch (size) {
      case 1:
        v.setUint8(offset, Number(u & 0xffn));
        return;
      case 2:
        v.setUint16(offset, Number(u & 0xffffn), true);
        return;
      case 4:
        v.setUint32(offset, Number(u & 0xffffffffn), true);
        return;
      default:
        v.setBigUint64(offset, u, true);
    }
  }

  /**
   * A checked view of `length` bytes at an address (shares the region's bytes): what a helper
   * uses for a (pointer, size) argument pair. `write` requires a writable region.
   */
  slice(address: bigint, length: number, write = false): Uint8Array {
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new VmFault("out-of-bounds", `access of ${length} bytes at ${this.describe(address)}`, {
        address,
      });
    }
    if (length === 0) return new Uint8Array(0);
    const { region, offset } = this.check(address, length, write);
    return region.bytes.subarray(offset, offset + length);
  }

  /** "stack frame 0+0x1f8" style description of an address, for messages. */
  describe(address: bigint): string {
    const f = this.find(address);
    if (!f) return `0x${BigInt.asUintN(64, address).toString(16)}`;
    return `${f.region.name}+0x${f.offset.toString(16)}`;
  }
}

/**
 * The bounds and permission check every access goes through. `lo` is the unsigned low half.
 * Throws VmFault (with insn -1: the interpreter adds the instruction index).
 */
export function checkAccess(mem: Memory, hi: number, lo: number, size: number, write: boolean): Region {
  const r = mem.regions[(hi - REGION_HI_BASE) >>> 0];
  if (r === undefined || lo < r.start || lo + size > r.end) throw accessFault(mem, hi, lo, size, write);
  if (write) {
    if (!r.writable) {
      throw new VmFault("read-only", `write of ${size} bytes into read-only ${r.name}+0x${lo.toString(16)}`, {
        address: toAddress(hi, lo),
      });
    }
    if (lo < r.low) r.low = lo;
  }
  return r;
}

function accessFault(mem: Memory, hi: number, lo: number, size: number, write: boolean): VmFault {
  const address = toAddress(hi, lo);
  const what = write ? "write" : "read";
  const r = mem.regionOf(hi);
  const detail = r
    ? `${what} of ${size} bytes at ${r.name}+0x${lo.toString(16)} outside [0x${r.start.toString(16)}, 0x${r.end.toString(16)})`
    : `${what} of ${size} bytes at invalid address 0x${address.toString(16)}`;
  return new VmFault("out-of-bounds", detail, { address });
}

function toAddress(hi: number, lo: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/**
 * Load `size` bytes at (hi, lo) into register `d` (two int32 halves), zero-extended, or
 * sign-extended to 64 bits when `signed`.
 */
export function loadInto(
  mem: Memory,
  hi: number,
  lo: number,
  size: number,
  signed: boolean,
  L: Int32Array,
  H: Int32Array,
  d: number,
): void {
  if (mem.probeRead !== undefined && mem.regionOf(hi) === undefined) {
    const bits = BigInt(size * 8);
    const raw = BigInt.asUintN(Number(bits), mem.probeRead(toAddress(hi, lo), size) ?? 0n);
    const u = signed ? BigInt.asUintN(64, BigInt.asIntN(Number(bits), raw)) : raw;
    L[d] = Number(BigInt.asIntN(32, u));
    H[d] = Number(BigInt.asIntN(32, u >> 32n));
    return;
  }
  const r = checkAccess(mem, hi, lo, size, false);
  const hooks = r.hooks;
  if (hooks !== null && size === 4) {
    const f = pointerField(hooks, lo);
    if (f !== undefined) {
      L[d] = pointerLo(f);
      H[d] = f.region.hi;
      return;
    }
  }
  if (hooks !== null && hooks.load !== undefined) {
    const v = hooks.load(lo, size as 1 | 2 | 4 | 8);
    if (v !== undefined) {
      hookValueInto(r, v, L, H, d);
      return;
    }
  }
  bytesInto(r, lo, size, signed, L, H, d);
}

/**
 * A load hook's answer into register d: the register's whole value, untruncated (a 4-byte
 * context field can load a pointer). A number must be a safe integer.
 */
export function hookValueInto(r: Region, v: bigint | number, L: Int32Array, H: Int32Array, d: number): void {
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) {
      throw new VmFault("internal", `load hook of ${r.name} returned ${v}, not a safe integer`);
    }
    L[d] = v;
    H[d] = Math.floor(v * TWO_TO_MINUS_32);
    return;
  }
  const u = BigInt.asUintN(64, v);
  L[d] = Number(BigInt.asIntN(32, u));
  H[d] = Number(BigInt.asIntN(32, u >> 32n));
}

/** The bytes at offset `lo` of a region (already checked) into register d. */
export function bytesInto(
  r: Region,
  lo: number,
  size: number,
  signed: boolean,
  L: Int32Array,
  H: Int32Array,
  d: number,
): void {
  const v = r.view;
  switch (size) {
    case 1: {
      const x = signed ? v.getInt8(lo) : v.getUint8(lo);
      L[d] = x;
      H[d] = x >> 31;
      return;
    }
    case 2: {
      const x = signed ? v.getInt16(lo, true) : v.getUint16(lo, true);
      L[d] = x;
      H[d] = x >> 31;
      return;
    }
    case 4: {
      const x = v.getInt32(lo, true);
      L[d] = x;
      H[d] = signed ? x >> 31 : 0;
      return;
    }
    default:
      L[d] = v.getInt32(lo, true);
      H[d] = v.getInt32(lo + 4, true);
  }
}

/** Store the low `size` bytes of the 64-bit value (vlo, vhi) at (hi, lo). */
export function storeHalves(
  mem: Memory,
  hi: number,
  lo: number,
  size: number,
  vlo: number,
  vhi: number,
): void {
  const r = checkAccess(mem, hi, lo, size, true);
  if (r.hooks !== null && r.hooks.store !== undefined) {
    const value = (BigInt(vhi >>> 0) << 32n) | BigInt(vlo >>> 0);
    if (r.hooks.store(lo, size as 1 | 2 | 4 | 8, value)) return;
  }
  const v = r.view;
  switch (size) {
    case 1:
      v.setUint8(lo, vlo & 0xff);
      return;
    case 2:
      v.setUint16(lo, vlo & 0xffff, true);
      return;
    case 4:
      v.setInt32(lo, vlo, true);
      return;
    default:
      v.setInt32(lo, vlo, true);
      v.setInt32(lo + 4, vhi, true);
  }
}
