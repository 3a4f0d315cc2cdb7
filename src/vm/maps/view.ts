/**
 * The test's view of a simulated map: the same Map-like surface as the loader's LiveMap
 * (BpfMapLike), with keys and values encoded and decoded by the same BTF codec, so a test reads
 * a map the same way offline and live. Errors are the loader's BpfSyscallError with the errno
 * the kernel's bpf() would give.
 */
import type { Btf } from "../../elf/btf/btf.js";
import { BpfSyscallError } from "../../loader/errors.js";
import type { BpfMapLike } from "../../loader/object-map.js";
import { type BtfValue, decodeValue, encodeValue } from "../../loader/values.js";
import { ArrayMap } from "./array.js";
import { BPF_F_LOCK, EINVAL } from "./errno.js";
import { ArrayOfMaps, HashOfMaps, PerfEventArray, type PerfRecord, ProgArray } from "./fd-maps.js";
import { HashMap } from "./hash.js";
import { QueueMap } from "./queue.js";
import { RingBuf } from "./ringbuf.js";
import { StackTraceMap } from "./stack-trace.js";
import { round8, type SimMap } from "./types.js";
import { UserRingBuf } from "./user-ringbuf.js";

export interface MapViewInit {
  readonly map: SimMap;
  readonly cpus: number;
  readonly btf?: Btf;
  readonly keyTypeId?: number;
  readonly valueTypeId?: number;
  /** Inner maps and programs by name (for map-in-map and prog array values). */
  readonly mapByName: (name: string) => SimMap | undefined;
  readonly hasProgram: (name: string) => boolean;
}

function rawNumber(bytes: Uint8Array): BtfValue {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length === 1) return bytes[0];
  if (bytes.length === 2) return dv.getUint16(0, true);
  if (bytes.length === 4) return dv.getUint32(0, true);
  if (bytes.length === 8) return dv.getBigUint64(0, true);
  return bytes.slice();
}

export class SimMapView implements BpfMapLike, Disposable {
  readonly map: SimMap;
  readonly name: string;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly perCpu: boolean;
  private readonly init: MapViewInit;
  private frozen = false;

  constructor(init: MapViewInit) {
    this.init = init;
    this.map = init.map;
    const d = init.map.def;
    this.name = d.name;
    this.type = d.type;
    this.keySize = d.keySize;
    this.valueSize = d.valueSize;
    this.maxEntries = d.maxEntries;
    this.perCpu = d.typeName.startsWith("percpu_") || d.typeName === "lru_percpu_hash";
  }

  private get keyTypeId(): number {
    return this.init.btf ? (this.init.keyTypeId ?? 0) : 0;
  }
  private get valueTypeId(): number {
    return this.init.btf ? (this.init.valueTypeId ?? 0) : 0;
  }

  encodeKey(key: unknown): Uint8Array {
    if (key instanceof Uint8Array && key.length === this.keySize) return key;
    return encodeValue(this.init.btf, this.keyTypeId, key, this.keyTypeId ? undefined : this.keySize);
  }

  decodeKey(bytes: Uint8Array): BtfValue {
    return this.keyTypeId ? decodeValue(this.init.btf, this.keyTypeId, bytes) : rawNumber(bytes);
  }

  private encodeOne(value: unknown): Uint8Array {
    if (value instanceof Uint8Array && value.length === this.valueSize) return value;
    return encodeValue(this.init.btf, this.valueTypeId, value, this.valueTypeId ? undefined : this.valueSize);
  }

  private decodeOne(bytes: Uint8Array): BtfValue {
    return this.valueTypeId ? decodeValue(this.init.btf, this.valueTypeId, bytes) : rawNumber(bytes);
  }

  private valueIsArray(): boolean {
    const btf = this.init.btf;
    if (!btf || !this.valueTypeId) return false;
    return btf.typeById(btf.resolve(this.valueTypeId)).kind === "ARRAY";
  }

  /** Value bytes from a JS value; per-CPU maps take an array (one per CPU) or one value for all. */
  encodeValue(value: unknown): Uint8Array {
    if (!this.perCpu) return this.encodeOne(value);
    const stride = round8(this.valueSize);
    // the raw syscall buffer (every CPU's value, each rounded up to 8 bytes) passes through
    if (value instanceof Uint8Array && value.length === stride * this.init.cpus) return value;
    const out = new Uint8Array(stride * this.init.cpus);
    for (let c = 0; c < this.init.cpus; c++) {
      const v = Array.isArray(value) && !this.valueIsArray() ? value[c] : value;
      if (v !== undefined) out.set(this.encodeOne(v), c * stride);
    }
    return out;
  }

  decodeValue(bytes: Uint8Array): BtfValue {
    if (!this.perCpu) return this.decodeOne(bytes);
    const stride = round8(this.valueSize);
    const out: BtfValue[] = [];
    for (let c = 0; c < this.init.cpus; c++)
      out.push(this.decodeOne(bytes.subarray(c * stride, c * stride + this.valueSize)));
    return out;
  }

  getRaw(key: Uint8Array): Uint8Array | undefined {
    return this.map.userLookup(key);
  }

  get(key: unknown): BtfValue | undefined {
    const m = this.map;
    if (m instanceof QueueMap) {
      const v = m.peek();
      return v === undefined ? undefined : this.decodeOne(v);
    }
    if (m instanceof ProgArray) return m.get(Number(key)) as BtfValue | undefined;
    if (m instanceof ArrayOfMaps) return m.get(Number(key))?.def.name;
    if (m instanceof HashOfMaps) return m.get(this.encodeKey(key))?.def.name;
    const v = this.getRaw(this.encodeKey(key));
    return v === undefined ? undefined : this.decodeValue(v);
  }

  has(key: unknown): boolean {
    return this.get(key) !== undefined;
  }

  private fail(command: string, errno: number, detail?: string): never {
    throw new BpfSyscallError(command, -errno, { detail: detail ?? `simulated map '${this.name}'` });
  }

  set(key: unknown, value: unknown, flags = 0): this {
    const m = this.map;
    // bpf(BPF_MAP_UPDATE_ELEM) refuses BPF_F_LOCK for a value without a spin lock before anything else
    if (flags & BPF_F_LOCK && !m.def.spinLock) this.fail("BPF_MAP_UPDATE_ELEM", -EINVAL);
    if (this.frozen) this.fail("BPF_MAP_UPDATE_ELEM", -1, `map '${this.name}' is frozen`);
    let r: number;
    if (m instanceof QueueMap) {
      // queue/stack: set(value) or set(undefined, value) pushes, as the kernel's update with a NULL key
      const v = value === undefined ? key : value;
      r = m.push(this.encodeOne(v), flags);
    } else if (m instanceof ProgArray) {
      const name = String(value);
      if (value !== undefined && !this.init.hasProgram(name))
        this.fail("BPF_MAP_UPDATE_ELEM", -9, `no program '${name}'`);
      r = m.set(Number(key), value === undefined ? undefined : name, flags);
    } else if (m instanceof ArrayOfMaps || m instanceof HashOfMaps) {
      const inner = typeof value === "string" ? this.init.mapByName(value) : (value as SimMap | undefined);
      if (inner === undefined) this.fail("BPF_MAP_UPDATE_ELEM", -9, `no map '${String(value)}'`);
      r =
        m instanceof ArrayOfMaps
          ? m.set(Number(key), inner, flags)
          : m.set(this.encodeKey(key), inner, flags);
    } else {
      r = m.userUpdate(this.encodeKey(key), this.encodeValue(value), flags);
    }
    if (r < 0) this.fail("BPF_MAP_UPDATE_ELEM", r);
    return this;
  }

  delete(key: unknown): boolean {
    if (this.frozen) this.fail("BPF_MAP_DELETE_ELEM", -1, `map '${this.name}' is frozen`);
    const r = this.map.delete(this.encodeKey(key));
    if (r === -2) return false;
    if (r < 0) this.fail("BPF_MAP_DELETE_ELEM", r);
    return true;
  }

  /** Queue/stack pop. */
  pop(): BtfValue | undefined {
    if (!(this.map instanceof QueueMap)) this.fail("BPF_MAP_LOOKUP_AND_DELETE_ELEM", -22);
    const v = this.map.pop();
    return v === undefined ? undefined : this.decodeOne(v);
  }

  *rawKeys(): Generator<Uint8Array> {
    const m = this.map;
    if (m instanceof HashMap || m instanceof HashOfMaps || m instanceof StackTraceMap) {
      yield* m.keys();
      return;
    }
    if (this.keySize === 0 || m instanceof RingBuf || m instanceof QueueMap) return;
    let k = m.nextKey(undefined);
    while (typeof k !== "number") {
      yield k;
      k = m.nextKey(k);
    }
  }

  *keys(): IterableIterator<BtfValue> {
    for (const k of this.rawKeys()) yield this.decodeKey(k);
  }

  *entries(): IterableIterator<[BtfValue, BtfValue]> {
    for (const k of this.rawKeys()) {
      const v = this.get(k);
      if (v !== undefined) yield [this.decodeKey(k), v];
    }
  }

  *values(): IterableIterator<BtfValue> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): IterableIterator<[BtfValue, BtfValue]> {
    return this.entries();
  }

  get size(): number {
    let n = 0;
    for (const _ of this.rawKeys()) n++;
    return n;
  }

  /** Delete every key (arrays cannot delete, as in the kernel). */
  clear(): void {
    if (this.map instanceof ArrayMap)
      this.fail("BPF_MAP_DELETE_ELEM", -22, "array elements cannot be deleted");
    for (const k of [...this.rawKeys()]) this.map.delete(k);
  }

  /** BPF_MAP_FREEZE: user space may no longer write (the program still may), as in the kernel. */
  freeze(): void {
    this.frozen = true;
  }

  /** Nothing to release offline; here so code written for LiveMap runs unchanged. */
  close(): void {}

  [Symbol.dispose](): void {
    this.close();
  }

  /** Ring buffer: the committed records not read yet, oldest first (consumes them). */
  records(): Uint8Array[] {
    if (this.map instanceof RingBuf) return this.map.drain();
    if (this.map instanceof PerfEventArray) return this.map.drain().map((r) => r.data);
    return this.fail("read records", -22, `map '${this.name}' is not a ring buffer or perf event array`);
  }

  /**
   * User ring buffer: queue a sample for bpf_user_ringbuf_drain (libbpf's
   * user_ring_buffer__reserve + __submit); fails with ENOSPC when the ring has no room.
   */
  submit(sample: Uint8Array): void {
    if (!(this.map instanceof UserRingBuf))
      this.fail("submit", -22, `map '${this.name}' is not a user ring buffer`);
    const r = this.map.submit(sample);
    if (r < 0) this.fail("submit", r, `user ring buffer '${this.name}' is full`);
  }

  /** Perf event array: captured records with the slot each went to (consumes them). */
  perfRecords(): PerfRecord[] {
    if (this.map instanceof PerfEventArray) return this.map.drain();
    return this.fail("read records", -22, `map '${this.name}' is not a perf event array`);
  }
}
