/**
 * A live kernel map with a Map-like API over plain JS values (through the BTF codec in
 * values.ts): get/set/delete/has/keys/values/entries/size. The simulator's maps offer the same
 * surface (BpfMapLike), so code and tests can run against either.
 */
import type { Btf } from "../elf/btf/btf.js";
import {
  mapDelete,
  mapDeleteBatch,
  mapFreeze,
  mapGetNextKey,
  mapInfo,
  mapKeys,
  mapLookup,
  mapLookupAndDelete,
  mapLookupBatch,
  mapUpdate,
  mapUpdateBatch,
  objPin,
} from "./bpf.js";
import { MapType, UpdateFlags } from "./consts.js";
import { LoaderError } from "./errors.js";
import type { Fd } from "./fd.js";
import { possibleCpuCount } from "./sys.js";
import { type BtfValue, decodeValue, encodeValue } from "./values.js";

/** What a map holds, shared by live maps and the simulator's maps. */
export interface BpfMapLike extends Iterable<[BtfValue, BtfValue]> {
  readonly name: string;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  get(key: unknown): BtfValue | undefined;
  set(key: unknown, value: unknown, flags?: number): this;
  delete(key: unknown): boolean;
  has(key: unknown): boolean;
  keys(): IterableIterator<BtfValue>;
  values(): IterableIterator<BtfValue>;
  entries(): IterableIterator<[BtfValue, BtfValue]>;
  readonly size: number;
}

export interface LiveMapInit {
  readonly name: string;
  readonly fd: Fd;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  /** BTF for decoding (the object's own, or the kernel's copy for maps found by id). */
  readonly btf?: Btf;
  readonly keyTypeId?: number;
  readonly valueTypeId?: number;
}

const PER_CPU: ReadonlySet<number> = new Set([
  MapType.PERCPU_HASH,
  MapType.PERCPU_ARRAY,
  MapType.LRU_PERCPU_HASH,
  MapType.PERCPU_CGROUP_STORAGE,
]);
/** Maps whose elements have no key (queue/stack) or cannot be read from user space by key. */
const KEYLESS: ReadonlySet<number> = new Set([MapType.QUEUE, MapType.STACK, MapType.BLOOM_FILTER]);
/** Maps user space cannot read element by element (entries() yields nothing for them). */
const NO_LOOKUP: ReadonlySet<number> = new Set([
  MapType.PERF_EVENT_ARRAY,
  MapType.RINGBUF,
  MapType.USER_RINGBUF,
  MapType.STRUCT_OPS,
  MapType.QUEUE,
  MapType.STACK,
  MapType.BLOOM_FILTER,
]);

function rawNumber(bytes: Uint8Array): BtfValue {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length === 1) return bytes[0]!;
  if (bytes.length === 2) return dv.getUint16(0, true);
  if (bytes.length === 4) return dv.getUint32(0, true);
  if (bytes.length === 8) return dv.getBigUint64(0, true);
  return bytes.slice();
}

export class LiveMap implements BpfMapLike, Disposable {
  readonly name: string;
  readonly fd: Fd;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly btf: Btf | undefined;
  readonly keyTypeId: number;
  readonly valueTypeId: number;
  readonly perCpu: boolean;
  readonly #cpus: number;

  constructor(init: LiveMapInit) {
    this.name = init.name;
    this.fd = init.fd;
    this.type = init.type;
    this.keySize = init.keySize;
    this.valueSize = init.valueSize;
    this.maxEntries = init.maxEntries;
    this.flags = init.flags;
    this.btf = init.btf;
    this.keyTypeId = init.btf ? (init.keyTypeId ?? 0) : 0;
    this.valueTypeId = init.btf ? (init.valueTypeId ?? 0) : 0;
    this.perCpu = PER_CPU.has(init.type);
    this.#cpus = this.perCpu ? possibleCpuCount() : 1;
  }

  /** Key bytes from a JS value (bytes pass through). */
  encodeKey(key: unknown): Uint8Array {
    if (key instanceof Uint8Array && key.length === this.keySize) return key;
    return encodeValue(this.btf, this.keyTypeId, key, this.keyTypeId ? undefined : this.keySize);
  }

  decodeKey(bytes: Uint8Array): BtfValue {
    return this.keyTypeId ? decodeValue(this.btf, this.keyTypeId, bytes) : rawNumber(bytes);
  }

  #encodeOne(value: unknown): Uint8Array {
    if (value instanceof Uint8Array && value.length === this.valueSize) return value;
    return encodeValue(this.btf, this.valueTypeId, value, this.valueTypeId ? undefined : this.valueSize);
  }

  #decodeOne(bytes: Uint8Array): BtfValue {
    return this.valueTypeId ? decodeValue(this.btf, this.valueTypeId, bytes) : rawNumber(bytes);
  }

  /** Value bytes from a JS value; per-CPU maps take an array (one per CPU) or one value for all. */
  encodeValue(value: unknown): Uint8Array {
    if (!this.perCpu) return this.#encodeOne(value);
    const stride = Math.ceil(this.valueSize / 8) * 8;
    const out = new Uint8Array(stride * this.#cpus);
    for (let c = 0; c < this.#cpus; c++) {
      const v = Array.isArray(value) && !this.#valueIsArray() ? value[c] : value;
      if (v !== undefined) out.set(this.#encodeOne(v), c * stride);
    }
    return out;
  }

  #valueIsArray(): boolean {
    if (!this.btf || !this.valueTypeId) return false;
    return this.btf.typeById(this.btf.resolve(this.valueTypeId)).kind === "ARRAY";
  }

  decodeValue(bytes: Uint8Array): BtfValue {
    if (!this.perCpu) return this.#decodeOne(bytes);
    const stride = Math.ceil(this.valueSize / 8) * 8;
    const out: BtfValue[] = [];
    for (let c = 0; c < this.#cpus; c++)
      out.push(this.#decodeOne(bytes.subarray(c * stride, c * stride + this.valueSize)));
    return out;
  }

  get #lookupSize(): number {
    return this.perCpu ? Math.ceil(this.valueSize / 8) * 8 * this.#cpus : this.valueSize;
  }

  getRaw(key: Uint8Array): Uint8Array | undefined {
    return mapLookup(this.fd, key, this.#lookupSize);
  }

  get(key: unknown): BtfValue | undefined {
    const v = this.getRaw(this.encodeKey(key));
    return v === undefined ? undefined : this.decodeValue(v);
  }

  has(key: unknown): boolean {
    return this.getRaw(this.encodeKey(key)) !== undefined;
  }

  set(key: unknown, value: unknown, flags: number = UpdateFlags.ANY): this {
    const k = KEYLESS.has(this.type) ? new Uint8Array(0) : this.encodeKey(key);
    mapUpdate(this.fd, k, this.encodeValue(value), flags);
    return this;
  }

  delete(key: unknown): boolean {
    return mapDelete(this.fd, this.encodeKey(key));
  }

  /** Queue/stack pop. */
  pop(): BtfValue | undefined {
    const v = mapLookupAndDelete(this.fd, undefined, this.valueSize);
    return v === undefined ? undefined : this.decodeValue(v);
  }

  *rawKeys(): Generator<Uint8Array> {
    if (this.keySize === 0 || NO_LOOKUP.has(this.type)) return;
    yield* mapKeys(this.fd, this.keySize);
  }

  *keys(): IterableIterator<BtfValue> {
    for (const k of this.rawKeys()) yield this.decodeKey(k);
  }

  *entries(): IterableIterator<[BtfValue, BtfValue]> {
    for (const k of this.rawKeys()) {
      const v = this.getRaw(k);
      // An entry deleted between get_next_key and lookup is simply gone.
      if (v !== undefined) yield [this.decodeKey(k), this.decodeValue(v)];
    }
  }

  *values(): IterableIterator<BtfValue> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): IterableIterator<[BtfValue, BtfValue]> {
    return this.entries();
  }

  /**
   * Every entry through BPF_MAP_LOOKUP_BATCH, `batchSize` elements per call (one syscall per
   * batch instead of two per key). `andDelete` empties the map as it goes (hash maps).
   */
  *entriesBatch(batchSize = 256, andDelete = false): Generator<[BtfValue, BtfValue]> {
    if (this.keySize === 0 || NO_LOOKUP.has(this.type)) return;
    const vsize = this.#lookupSize;
    let token: Uint8Array | undefined;
    for (;;) {
      const r = mapLookupBatch(this.fd, {
        keySize: this.keySize,
        valueSize: vsize,
        count: batchSize,
        inBatch: token,
        andDelete,
      });
      for (let i = 0; i < r.count; i++) {
        yield [
          this.decodeKey(r.keys.slice(i * this.keySize, (i + 1) * this.keySize)),
          this.decodeValue(r.values.slice(i * vsize, (i + 1) * vsize)),
        ];
      }
      if (r.next === undefined) return;
      token = r.next.slice();
    }
  }

  /** Update many entries with one BPF_MAP_UPDATE_BATCH; returns how many the kernel took. */
  setBatch(entries: Iterable<readonly [unknown, unknown]>, flags: number = UpdateFlags.ANY): number {
    const list = [...entries];
    if (list.length === 0) return 0;
    const vsize = this.#lookupSize;
    const keys = new Uint8Array(list.length * this.keySize);
    const values = new Uint8Array(list.length * vsize);
    list.forEach(([k, v], i) => {
      keys.set(this.encodeKey(k), i * this.keySize);
      values.set(this.encodeValue(v), i * vsize);
    });
    return mapUpdateBatch(this.fd, keys, values, list.length, { elemFlags: flags });
  }

  /** Delete many keys with one BPF_MAP_DELETE_BATCH; returns how many were deleted. */
  deleteBatch(keys: Iterable<unknown>): number {
    const list = [...keys];
    if (list.length === 0) return 0;
    const buf = new Uint8Array(list.length * this.keySize);
    list.forEach((k, i) => {
      buf.set(this.encodeKey(k), i * this.keySize);
    });
    return mapDeleteBatch(this.fd, buf, list.length);
  }

  /** Number of keys (walks the map; arrays always report max_entries). */
  get size(): number {
    if (this.keySize === 0) return 0;
    let n = 0;
    let k = mapGetNextKey(this.fd, undefined, this.keySize);
    while (k !== undefined) {
      n++;
      k = mapGetNextKey(this.fd, k, this.keySize);
    }
    return n;
  }

  /** Delete every key (arrays cannot delete: LoaderError). */
  clear(): void {
    if (this.type === MapType.ARRAY || this.type === MapType.PERCPU_ARRAY)
      throw new LoaderError("E_MAP_CLEAR", `map '${this.name}': array elements cannot be deleted`);
    for (const k of [...this.rawKeys()]) mapDelete(this.fd, k);
  }

  freeze(): void {
    mapFreeze(this.fd);
  }

  pin(path: string): void {
    objPin(this.fd, path);
  }

  /** Kernel id of the map. */
  get id(): number {
    return mapInfo(this.fd).id;
  }

  close(): void {
    this.fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
