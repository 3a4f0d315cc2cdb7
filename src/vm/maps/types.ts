/**
 * Simulated maps: the kernel's map semantics (update flags, full maps, iteration, per-CPU
 * values) over the VM's checked memory. A program sees a map as the address of its `map` region
 * (what ld_imm64 of a map loads) and its values as regions; user space (the test, through
 * MapView) goes through the same objects with the syscall side's rules.
 */
import type { Memory, Region } from "../memory.js";

/** What a simulated map is made from (a MapSpec, or an inner map's template). */
export interface MapDef {
  readonly name: string;
  /** enum bpf_map_type id. */
  readonly type: number;
  /** bpftool's spelling: `hash`, `percpu_array`, `ringbuf`... */
  readonly typeName: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  /** .rodata: the program may not write its values. */
  readonly readonly?: boolean;
  /** Initial bytes of a global data map's single value. */
  readonly data?: Uint8Array;
  /** The value holds a struct bpf_spin_lock (BPF_F_LOCK updates need one). */
  readonly spinLock?: boolean;
  /** Inner map template for array/hash of maps. */
  readonly inner?: MapDef;
}

/** Shared by every map of one simulation. */
export interface MapEnv {
  readonly memory: Memory;
  /** Number of possible CPUs (per-CPU maps hold one value each). */
  readonly cpus: number;
  /**
   * Told when a value region is freed (a deleted or replaced element, after the run), so what
   * lives beside its bytes (a bpf_timer's state) goes with it, as the kernel frees special fields.
   */
  readonly freed?: (value: Region) => void;
}

/** The program's answer to "iterate": key and value addresses of one element. */
export type ElemVisitor = (key: bigint, value: bigint) => boolean;

export interface SimMap {
  readonly def: MapDef;
  /** The region whose address stands for the map (ld_imm64 of a map, a map-in-map value). */
  readonly region: Region;
  /** Program-side lookup: address of the value (this CPU's for per-CPU maps), or 0n. */
  lookup(key: Uint8Array, cpu: number): bigint;
  /** Program-side update: 0 or a negative errno, as the helper returns. */
  update(key: Uint8Array, value: Uint8Array, flags: number, cpu: number): number;
  /** 0 or a negative errno. */
  delete(key: Uint8Array): number;
  /** Key after `key` (first key when undefined or absent), or a negative errno (-ENOENT at the end). */
  nextKey(key: Uint8Array | undefined): Uint8Array | number;
  /** Syscall-side lookup: the value bytes (per-CPU maps: every CPU's, each rounded up to 8 bytes). */
  userLookup(key: Uint8Array): Uint8Array | undefined;
  /** Syscall-side update with the same flag rules; 0 or a negative errno. */
  userUpdate(key: Uint8Array, value: Uint8Array, flags: number): number;
  /**
   * bpf_for_each_map_elem: visit elements in iteration order until the visitor returns true;
   * returns how many were visited. Undefined for maps the kernel cannot iterate this way.
   */
  forEach?(cpu: number, visit: ElemVisitor): number;
  /** The key of the element whose value is `value` (a bpf_timer callback's key argument), or undefined. */
  keyOfValue?(value: Region): Uint8Array | undefined;
  /** After each run: elements deleted or replaced during it are freed (their regions fault from now on). */
  settle(): void;
  /** True when settle() never has work: a repeated run skips calling it (absent: it is called). */
  readonly settleFree?: boolean;
}

export function round8(n: number): number {
  return (n + 7) & ~7;
}

export function hexKey(key: Uint8Array): string {
  let s = "";
  for (let i = 0; i < key.length; i++) s += (key[i] < 16 ? "0" : "") + key[i].toString(16);
  return s;
}

/** Little-endian u32 of a key (array indexes). */
export function u32At(key: Uint8Array): number {
  return (key[0] | (key[1] << 8) | (key[2] << 16) | (key[3] << 24)) >>> 0;
}

export function u32Bytes(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

/** A map's own region: 8 opaque bytes the program can hold a pointer to but never access. */
export function mapRegion(env: MapEnv, def: MapDef): Region {
  return env.memory.add({ kind: "map", name: `map ${def.name}`, size: 0 });
}
