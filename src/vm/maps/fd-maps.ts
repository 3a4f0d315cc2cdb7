/**
 * Maps whose values are kernel objects: PROG_ARRAY (tail call targets), ARRAY_OF_MAPS and
 * HASH_OF_MAPS (inner maps), PERF_EVENT_ARRAY (perf event readers; records are captured for the
 * test). The program cannot read or write their values directly: a lookup in a map-in-map
 * gives the inner map's address; tail calls and perf output go through helpers. User space sets
 * values by name (a program or a map of the same simulation).
 */
import type { Region } from "../memory.js";
import { BPF_EXIST, BPF_NOEXIST, E2BIG, EEXIST, EINVAL, ENOENT } from "./errno.js";
import { hexKey, type MapDef, type MapEnv, mapRegion, type SimMap, u32At, u32Bytes } from "./types.js";

/** Common slot logic of array-indexed object maps. */
abstract class SlotArray<T> implements SimMap {
  readonly region: Region;
  readonly slots: (T | undefined)[] = [];

  constructor(
    readonly def: MapDef,
    env: MapEnv,
  ) {
    this.region = mapRegion(env, def);
  }

  protected index(key: Uint8Array): number {
    return key.length === 4 ? u32At(key) : -1;
  }

  get(index: number): T | undefined {
    return index >= 0 && index < this.def.maxEntries ? this.slots[index] : undefined;
  }

  /** Syscall-side update of a slot; 0 or a negative errno. */
  set(index: number, value: T | undefined, flags = 0): number {
    if (flags > BPF_EXIST || flags < 0) return -EINVAL;
    if (index < 0 || index >= this.def.maxEntries) return -E2BIG;
    if (flags === BPF_NOEXIST) return -EEXIST;
    this.slots[index] = value;
    return 0;
  }

  lookup(_key: Uint8Array, _cpu: number): bigint {
    return 0n;
  }
  update(): number {
    return -EINVAL;
  }
  delete(key: Uint8Array): number {
    const i = this.index(key);
    if (i < 0 || i >= this.def.maxEntries) return -E2BIG;
    if (this.slots[i] === undefined) return -ENOENT;
    this.slots[i] = undefined;
    return 0;
  }
  nextKey(key: Uint8Array | undefined): Uint8Array | number {
    const i = key === undefined ? 0xffffffff : this.index(key) >>> 0;
    if (i >= this.def.maxEntries) return u32Bytes(0);
    if (i === this.def.maxEntries - 1) return -ENOENT;
    return u32Bytes(i + 1);
  }
  userLookup(_key: Uint8Array): Uint8Array | undefined {
    return undefined;
  }
  userUpdate(): number {
    return -EINVAL;
  }
  readonly settleFree = true;
  settle(): void {}
}

/** BPF_MAP_TYPE_PROG_ARRAY: slot -> program name. */
export class ProgArray extends SlotArray<string> {}

/** BPF_MAP_TYPE_ARRAY_OF_MAPS: slot -> inner map; the program's lookup gives its address. */
export class ArrayOfMaps extends SlotArray<SimMap> {
  override lookup(key: Uint8Array, _cpu: number): bigint {
    const m = this.get(this.index(key));
    return m === undefined ? 0n : m.region.address(0);
  }
}

/** A record bpf_perf_event_output wrote. */
export interface PerfRecord {
  /** The perf event array slot (the CPU unless the program chose another index). */
  readonly index: number;
  readonly data: Uint8Array;
}

/**
 * BPF_MAP_TYPE_PERF_EVENT_ARRAY. As if user space had opened a reader on each CPU (what
 * libbpf's perf_buffer does): slots below the CPU count have one, others give -ENOENT.
 */
export class PerfEventArray extends SlotArray<true> {
  readonly records: PerfRecord[] = [];

  constructor(def: MapDef, env: MapEnv) {
    super(def, env);
    for (let c = 0; c < Math.min(env.cpus, def.maxEntries); c++) this.slots[c] = true;
  }

  /** Take the captured records (oldest first). */
  drain(): PerfRecord[] {
    return this.records.splice(0, this.records.length);
  }
}

/** BPF_MAP_TYPE_HASH_OF_MAPS: key -> inner map. */
export class HashOfMaps implements SimMap {
  readonly region: Region;
  readonly inner = new Map<string, { key: Uint8Array; map: SimMap }>();

  constructor(
    readonly def: MapDef,
    env: MapEnv,
  ) {
    this.region = mapRegion(env, def);
  }

  lookup(key: Uint8Array, _cpu: number): bigint {
    return this.inner.get(hexKey(key))?.map.region.address(0) ?? 0n;
  }
  get(key: Uint8Array): SimMap | undefined {
    return this.inner.get(hexKey(key))?.map;
  }
  set(key: Uint8Array, map: SimMap, flags = 0): number {
    if (flags > BPF_EXIST || flags < 0 || key.length !== this.def.keySize) return -EINVAL;
    const k = hexKey(key);
    const old = this.inner.get(k);
    if (old && flags === BPF_NOEXIST) return -EEXIST;
    if (!old && flags === BPF_EXIST) return -ENOENT;
    if (!old && this.inner.size >= this.def.maxEntries) return -E2BIG;
    this.inner.set(k, { key: key.slice(), map });
    return 0;
  }
  update(): number {
    return -EINVAL;
  }
  delete(key: Uint8Array): number {
    return this.inner.delete(hexKey(key)) ? 0 : -ENOENT;
  }
  nextKey(key: Uint8Array | undefined): Uint8Array | number {
    const keys = [...this.inner.values()].map((e) => e.key);
    if (keys.length === 0) return -ENOENT;
    if (key === undefined) return keys[0].slice();
    const i = keys.findIndex((k) => hexKey(k) === hexKey(key));
    if (i < 0) return keys[0].slice();
    return i + 1 < keys.length ? keys[i + 1].slice() : -ENOENT;
  }
  keys(): Uint8Array[] {
    return [...this.inner.values()].map((e) => e.key.slice());
  }
  userLookup(): Uint8Array | undefined {
    return undefined;
  }
  userUpdate(): number {
    return -EINVAL;
  }
  readonly settleFree = true;
  settle(): void {}
}
