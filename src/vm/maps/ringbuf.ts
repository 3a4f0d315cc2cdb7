/**
 * BPF_MAP_TYPE_RINGBUF: positions and record lengths as the kernel keeps them. A record takes
 * round_up(size + 8, 8) bytes (8-byte header); a reservation fails (NULL) when its flags are
 * not 0, when it is larger than the ring, or when the producer would get more than
 * mask (= size - 1) bytes ahead of the consumer. The test is the consumer: `drain()` hands over
 * the committed records in order up to the first one still reserved, skipping discarded ones.
 * Each reserved record is its own region, retired at submit/discard (using it afterwards faults).
 */
import type { Memory, Region } from "../memory.js";
import { EINVAL } from "./errno.js";
import { KeylessMap } from "./keyless.js";
import { type MapDef, type MapEnv, mapRegion, type SimMap } from "./types.js";

export const BPF_RINGBUF_HDR_SZ = 8;
export const BPF_RB_NO_WAKEUP = 1;
export const BPF_RB_FORCE_WAKEUP = 2;
/** bpf_ringbuf_query flags. */
export const BPF_RB_AVAIL_DATA = 0;
export const BPF_RB_RING_SIZE = 1;
export const BPF_RB_CONS_POS = 2;
export const BPF_RB_PROD_POS = 3;

interface RingRecord {
  readonly pos: number;
  readonly len: number;
  readonly region: Region;
  /** The record's bytes (kept for the consumer after the region is retired). */
  readonly bytes: Uint8Array;
  state: "busy" | "committed" | "discarded";
}

export class RingBuf extends KeylessMap implements SimMap {
  readonly region: Region;
  private readonly memory: Memory;
  private readonly records: RingRecord[] = [];
  private readonly byRegion = new Map<number, RingRecord>();
  producer = 0;
  consumer = 0;

  constructor(
    readonly def: MapDef,
    env: MapEnv,
  ) {
    super();
    this.region = mapRegion(env, def);
    this.memory = env.memory;
  }

  get size(): number {
    return this.def.maxEntries;
  }

  /** Address of a new record's data, or 0n (the helper returns NULL). */
  reserve(size: number, flags: number): bigint {
    if (flags !== 0) return 0n;
    const len = (size + BPF_RINGBUF_HDR_SZ + 7) & ~7;
    if (size < 0 || len > this.size) return 0n;
    if (this.producer + len - this.consumer > this.size - 1) return 0n;
    const region = this.memory.add({ kind: "ringbuf", name: `${this.def.name} record`, size });
    const rec: RingRecord = { pos: this.producer, len, region, bytes: region.bytes, state: "busy" };
    this.producer += len;
    this.records.push(rec);
    this.byRegion.set(region.id, rec);
    return region.address(0);
  }

  /** Commit or discard the record whose data starts at `regionId`; false when there is none. */
  finish(regionId: number, offset: number, discard: boolean): boolean {
    const rec = this.byRegion.get(regionId);
    if (rec === undefined || offset !== 0 || rec.state !== "busy") return false;
    rec.state = discard ? "discarded" : "committed";
    this.byRegion.delete(regionId);
    // the data stays with the record; the program's pointer to it is dead from now on
    this.memory.remove(rec.region);
    return true;
  }

  /** bpf_ringbuf_output: reserve, copy, commit; 0 or -EAGAIN (no room) / -EINVAL (flags). */
  output(data: Uint8Array, flags: number): number {
    if (flags & ~(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP)) return -EINVAL;
    const a = this.reserve(data.length, 0);
    if (a === 0n) return -11; // -EAGAIN
    const rec = this.records[this.records.length - 1];
    rec.bytes.set(data);
    this.finish(rec.region.id, 0, false);
    return 0;
  }

  query(flags: number): bigint {
    switch (flags) {
      case BPF_RB_AVAIL_DATA:
        return BigInt(this.producer - this.consumer);
      case BPF_RB_RING_SIZE:
        return BigInt(this.size);
      case BPF_RB_CONS_POS:
        return BigInt(this.consumer);
      case BPF_RB_PROD_POS:
        return BigInt(this.producer);
      default:
        return 0n;
    }
  }

  /** Consume: committed records in order (discarded ones skipped) up to the first still reserved. */
  drain(): Uint8Array[] {
    const out: Uint8Array[] = [];
    while (this.records.length > 0 && this.records[0].state !== "busy") {
      const rec = this.records.shift() as RingRecord;
      if (rec.state === "committed") out.push(rec.bytes.slice());
      this.consumer = rec.pos + rec.len;
    }
    return out;
  }

  readonly settleFree = true;
  settle(): void {}
}
