/**
 * Hash maps: BPF_MAP_TYPE_HASH, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH.
 *
 * Kernel semantics kept: update flags (-EINVAL for unknown flags, -EEXIST for BPF_NOEXIST on a
 * present key, -ENOENT for BPF_EXIST on a missing one), -E2BIG when inserting into a full
 * non-LRU map (replacing a present key always works, as the kernel keeps spare elements),
 * -ENOENT deleting a missing key, and an update replacing the element (a pointer the program
 * got before keeps the old value until the run ends, as RCU keeps the old element alive).
 *
 * Approximations (documented): iteration order is insertion order, not the kernel's bucket
 * order (jhash); LRU eviction is exact least-recently-used over lookups and updates, one element
 * at a time when the map is full. The kernel keeps per-CPU free lists and active/inactive lists
 * with reference bits: when a CPU's free list runs dry it evicts every unreferenced element of
 * the inactive list at once (up to 128), and a CPU can run dry before the map is full. Below
 * capacity the two agree (checked against the kernel); at capacity the kernel may evict more,
 * and other elements, than the simulator does.
 */
import type { Region } from "../memory.js";
import { BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, E2BIG, EEXIST, EINVAL, ENOENT } from "./errno.js";
import {
  type ElemVisitor,
  hexKey,
  type MapDef,
  type MapEnv,
  mapRegion,
  round8,
  type SimMap,
} from "./types.js";

interface Elem {
  readonly key: Uint8Array;
  /** One value region, or one per CPU. */
  readonly values: Region[];
  keyRegion: Region | undefined;
}

export interface HashOptions {
  readonly lru: boolean;
  readonly percpu: boolean;
}

export class HashMap implements SimMap {
  readonly region: Region;
  private readonly elems = new Map<string, Elem>();
  private dead: Elem[] = [];
  private readonly spare: Region[][] = [];

  constructor(
    readonly def: MapDef,
    private readonly env: MapEnv,
    private readonly opts: HashOptions,
  ) {
    this.region = mapRegion(env, def);
  }

  get size(): number {
    return this.elems.size;
  }

  private touch(k: string, e: Elem): void {
    if (!this.opts.lru) return;
    this.elems.delete(k);
    this.elems.set(k, e);
  }

  lookup(key: Uint8Array, cpu: number): bigint {
    const k = hexKey(key);
    const e = this.elems.get(k);
    if (e === undefined) return 0n;
    this.touch(k, e);
    return e.values[this.opts.percpu ? cpu : 0].address(0);
  }

  private newElem(key: Uint8Array): Elem {
    // freed elements' regions are reused, so a long simulation does not grow the memory
    const spare = this.spare.pop();
    if (spare) {
      for (const r of spare) {
        r.bytes.fill(0);
        r.start = 0;
        r.end = this.def.valueSize;
      }
      return { key: key.slice(), values: spare, keyRegion: undefined };
    }
    const n = this.opts.percpu ? this.env.cpus : 1;
    const values: Region[] = [];
    for (let c = 0; c < n; c++) {
      const name = this.opts.percpu ? `${this.def.name} value cpu ${c}` : `${this.def.name} value`;
      values.push(this.env.memory.add({ kind: "map-value", name, size: this.def.valueSize }));
    }
    return { key: key.slice(), values, keyRegion: undefined };
  }

  /** The common part of both update sides: flags, presence, capacity; returns the element to fill or an errno. */
  private prepare(key: Uint8Array, flags: number): { elem: Elem; old: Elem | undefined } | number {
    if (key.length !== this.def.keySize) return -EINVAL;
    const f = flags & ~BPF_F_LOCK;
    if (f > BPF_EXIST || f < 0) return -EINVAL;
    if (flags & BPF_F_LOCK && !this.def.spinLock) return -EINVAL;
    const k = hexKey(key);
    // An LRU map takes a free element before it looks the key up: a full map evicts its least
    // recently used element first, even when the key is present or the flags then fail (per-CPU
    // LRU maps skip this for BPF_EXIST, which updates in place).
    if (this.opts.lru && (!this.opts.percpu || f !== BPF_EXIST) && this.elems.size >= this.def.maxEntries) {
      this.evict();
    }
    const old = this.elems.get(k);
    if (old !== undefined && f === BPF_NOEXIST) return -EEXIST;
    if (old === undefined && f === BPF_EXIST) return -ENOENT;
    if (old === undefined && this.elems.size >= this.def.maxEntries) return -E2BIG;
    const elem = this.newElem(key);
    if (old !== undefined) {
      this.elems.delete(k);
      this.dead.push(old);
    }
    this.elems.set(k, elem);
    return { elem, old };
  }

  private evict(): void {
    const first = this.elems.keys().next();
    if (first.done) return;
    const e = this.elems.get(first.value);
    this.elems.delete(first.value);
    if (e) this.dead.push(e);
  }

  update(key: Uint8Array, value: Uint8Array, flags: number, cpu: number): number {
    const r = this.prepare(key, flags);
    if (typeof r === "number") return r;
    const vs = this.def.valueSize;
    if (this.opts.percpu) {
      // the program's update writes this CPU's value; an existing element keeps the others'
      r.elem.values.forEach((reg, c) => {
        if (c === cpu) reg.bytes.set(value.subarray(0, vs));
        else if (r.old) reg.bytes.set(r.old.values[c].bytes);
      });
    } else {
      r.elem.values[0].bytes.set(value.subarray(0, vs));
    }
    return 0;
  }

  userUpdate(key: Uint8Array, value: Uint8Array, flags: number): number {
    if (value.length !== this.userValueSize()) return -EINVAL;
    const r = this.prepare(key, flags);
    if (typeof r === "number") return r;
    const vs = this.def.valueSize;
    r.elem.values.forEach((reg, c) => {
      reg.bytes.set(value.subarray(c * round8(vs), c * round8(vs) + vs));
    });
    return 0;
  }

  userValueSize(): number {
    return this.opts.percpu ? round8(this.def.valueSize) * this.env.cpus : this.def.valueSize;
  }

  userLookup(key: Uint8Array): Uint8Array | undefined {
    const e = this.elems.get(hexKey(key));
    if (e === undefined) return undefined;
    if (!this.opts.percpu) return e.values[0].bytes.slice();
    const vs = this.def.valueSize;
    const out = new Uint8Array(this.userValueSize());
    for (let c = 0; c < e.values.length; c++) out.set(e.values[c].bytes, c * round8(vs));
    return out;
  }

  delete(key: Uint8Array): number {
    const k = hexKey(key);
    const e = this.elems.get(k);
    if (e === undefined) return -ENOENT;
    this.elems.delete(k);
    this.dead.push(e);
    return 0;
  }

  nextKey(key: Uint8Array | undefined): Uint8Array | number {
    const keys = [...this.elems.values()];
    if (keys.length === 0) return -ENOENT;
    if (key === undefined) return keys[0].key.slice();
    const k = hexKey(key);
    const i = keys.findIndex((e) => hexKey(e.key) === k);
    if (i < 0) return keys[0].key.slice();
    if (i + 1 >= keys.length) return -ENOENT;
    return keys[i + 1].key.slice();
  }

  /** Keys in iteration order (for MapView). */
  keys(): Uint8Array[] {
    return [...this.elems.values()].map((e) => e.key.slice());
  }

  forEach(cpu: number, visit: ElemVisitor): number {
    let n = 0;
    for (const e of [...this.elems.values()]) {
      n++;
      if (e.keyRegion === undefined) {
        e.keyRegion = this.env.memory.add({
          kind: "map-key",
          name: `${this.def.name} key`,
          bytes: e.key,
          writable: false,
        });
      }
      const v = e.values[this.opts.percpu ? cpu : 0];
      if (visit(e.keyRegion.address(0), v.address(0))) break;
    }
    return n;
  }

  keyOfValue(value: Region): Uint8Array | undefined {
    for (const e of this.elems.values()) if (e.values.includes(value)) return e.key.slice();
    return undefined;
  }

  settle(): void {
    for (const e of this.dead) {
      for (const v of e.values) {
        v.start = 0;
        v.end = 0;
        this.env.freed?.(v);
      }
      this.spare.push(e.values);
      if (e.keyRegion) this.env.memory.remove(e.keyRegion);
    }
    this.dead = [];
  }
}
