/**
 * Array maps: BPF_MAP_TYPE_ARRAY (and the global data sections), PERCPU_ARRAY.
 *
 * Kernel semantics: every index below max_entries exists (zeroed), lookup past the end gives
 * NULL, update past the end -E2BIG, BPF_NOEXIST -EEXIST, delete -EINVAL; get_next_key of an
 * absent or out-of-range key is 0 and of the last index -ENOENT. Values are stored contiguously
 * (each rounded up to 8 bytes, as the kernel lays them out) and each element is its own region,
 * so an access past an element faults instead of reading the next one.
 */
import type { VmArrayLookup } from "../env.js";
import type { Region } from "../memory.js";
import { BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, E2BIG, EEXIST, EINVAL, ENOENT } from "./errno.js";
import {
  type ElemVisitor,
  type MapDef,
  type MapEnv,
  mapRegion,
  round8,
  type SimMap,
  u32At,
  u32Bytes,
} from "./types.js";

export class ArrayMap implements SimMap {
  readonly region: Region;
  /** One store per CPU (one for plain arrays). */
  readonly stores: Uint8Array[];
  private readonly regions: (Region | undefined)[][];
  private readonly keyRegions: (Region | undefined)[] = [];
  private readonly addresses: (bigint | undefined)[][] = [];
  private readonly elemSize: number;

  constructor(
    readonly def: MapDef,
    private readonly env: MapEnv,
    readonly percpu: boolean,
  ) {
    this.region = mapRegion(env, def);
    this.elemSize = round8(def.valueSize);
    const n = percpu ? env.cpus : 1;
    this.stores = [];
    this.regions = [];
    for (let c = 0; c < n; c++) {
      this.stores.push(new Uint8Array(this.elemSize * def.maxEntries));
      this.regions.push([]);
      this.addresses.push([]);
    }
    if (def.data) this.stores[0].set(def.data.subarray(0, def.valueSize));
  }

  /** The region of element `index` on `cpu` (made on first use, sharing the store's bytes). */
  elemRegion(index: number, cpu = 0): Region {
    const c = this.percpu ? cpu : 0;
    let r = this.regions[c][index];
    if (r === undefined) {
      const off = index * this.elemSize;
      const global = this.def.data !== undefined;
      r = this.env.memory.add({
        kind: this.def.readonly ? "rodata" : "map-value",
        name: global
          ? this.def.name
          : this.percpu
            ? `${this.def.name}[${index}] cpu ${c}`
            : `${this.def.name}[${index}]`,
        bytes: this.stores[c].subarray(off, off + this.def.valueSize),
        writable: !this.def.readonly,
      });
      this.regions[c][index] = r;
    }
    return r;
  }

  keyOfValue(value: Region): Uint8Array | undefined {
    for (const rs of this.regions) {
      const i = rs.indexOf(value);
      if (i >= 0) return u32Bytes(i);
    }
    return undefined;
  }

  private index(key: Uint8Array): number {
    return key.length === 4 ? u32At(key) : -1;
  }

  /** Arrays larger than this get no inline lookup (its address table would be too big). */
  static readonly INLINE_MAX_ENTRIES = 1 << 20;
  private shape: VmArrayLookup | undefined;

  /**
   * The inline lookup fast path (VmHelper.arrayLookup) of a plain array with u32 keys: the
   * same element regions lookup() hands out. Per-CPU arrays have none (the value depends on
   * the runtime's current CPU).
   */
  inlineLookup(): VmArrayLookup | undefined {
    if (this.percpu || this.def.keySize !== 4 || this.def.maxEntries > ArrayMap.INLINE_MAX_ENTRIES)
      return undefined;
    if (this.shape === undefined) {
      const elemHis = new Int32Array(this.def.maxEntries);
      this.shape = {
        maxEntries: this.def.maxEntries,
        elemHis,
        elemHi: (i: number): number => {
          const hi = this.elemRegion(i).hi;
          elemHis[i] = hi;
          return hi;
        },
      };
    }
    return this.shape;
  }

  lookup(key: Uint8Array, cpu: number): bigint {
    const i = this.index(key);
    if (i < 0 || i >= this.def.maxEntries) return 0n;
    const c = this.percpu ? cpu : 0;
    // element addresses are cached: lookups are the hot path of most programs
    let a = this.addresses[c][i];
    if (a === undefined) {
      a = this.elemRegion(i, cpu).address(0);
      this.addresses[c][i] = a;
    }
    return a;
  }

  private check(key: Uint8Array, flags: number): number {
    const f = flags & ~BPF_F_LOCK;
    if (f > BPF_EXIST || f < 0) return -EINVAL;
    const i = this.index(key);
    if (i < 0 || i >= this.def.maxEntries) return -E2BIG;
    if (f & BPF_NOEXIST) return -EEXIST;
    if (flags & BPF_F_LOCK && !this.def.spinLock) return -EINVAL;
    return i;
  }

  update(key: Uint8Array, value: Uint8Array, flags: number, cpu: number): number {
    const i = this.check(key, flags);
    if (i < 0) return i;
    const c = this.percpu ? cpu : 0;
    this.stores[c].set(value.subarray(0, this.def.valueSize), i * this.elemSize);
    return 0;
  }

  userValueSize(): number {
    return this.percpu ? this.elemSize * this.env.cpus : this.def.valueSize;
  }

  userUpdate(key: Uint8Array, value: Uint8Array, flags: number): number {
    if (value.length !== this.userValueSize()) return -EINVAL;
    const i = this.check(key, flags);
    if (i < 0) return i;
    const vs = this.def.valueSize;
    this.stores.forEach((s, c) => {
      s.set(value.subarray(c * this.elemSize, c * this.elemSize + vs), i * this.elemSize);
    });
    return 0;
  }

  userLookup(key: Uint8Array): Uint8Array | undefined {
    const i = this.index(key);
    if (i < 0 || i >= this.def.maxEntries) return undefined;
    const vs = this.def.valueSize;
    const off = i * this.elemSize;
    if (!this.percpu) return this.stores[0].slice(off, off + vs);
    const out = new Uint8Array(this.userValueSize());
    for (let c = 0; c < this.stores.length; c++)
      out.set(this.stores[c].subarray(off, off + vs), c * this.elemSize);
    return out;
  }

  delete(_key: Uint8Array): number {
    return -EINVAL;
  }

  nextKey(key: Uint8Array | undefined): Uint8Array | number {
    const i = key === undefined ? 0xffffffff : this.index(key) >>> 0;
    if (i >= this.def.maxEntries) return u32Bytes(0);
    if (i === this.def.maxEntries - 1) return -ENOENT;
    return u32Bytes(i + 1);
  }

  forEach(cpu: number, visit: ElemVisitor): number {
    let n = 0;
    for (let i = 0; i < this.def.maxEntries; i++) {
      n++;
      let k = this.keyRegions[i];
      if (k === undefined) {
        k = this.env.memory.add({
          kind: "map-key",
          name: `${this.def.name} key`,
          bytes: u32Bytes(i),
          writable: false,
        });
        this.keyRegions[i] = k;
      }
      if (visit(k.address(0), this.elemRegion(i, cpu).address(0))) break;
    }
    return n;
  }

  readonly settleFree = true;
  settle(): void {}
}
