/**
 * BPF_MAP_TYPE_USER_RINGBUF: a ring user space produces into and programs consume with
 * bpf_user_ringbuf_drain. Here the test is the producer (`submit`, as libbpf's
 * user_ring_buffer__reserve + __submit): a sample takes round_up(size + 8, 8) bytes of the ring
 * (8-byte header) until the program drains it, and a sample that does not fit is refused
 * (-ENOSPC, as the reservation fails). Programs cannot look up, update or delete.
 */
import type { Memory, Region } from "../memory.js";
import { ENOSPC } from "./errno.js";
import { KeylessMap } from "./keyless.js";
import { BPF_RINGBUF_HDR_SZ } from "./ringbuf.js";
import { type MapDef, type MapEnv, mapRegion, type SimMap } from "./types.js";

export class UserRingBuf extends KeylessMap implements SimMap {
  readonly region: Region;
  readonly memory: Memory;
  private readonly samples: Uint8Array[] = [];
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

  /** Bytes a sample of `n` bytes takes in the ring. */
  private static footprint(n: number): number {
    return (n + BPF_RINGBUF_HDR_SZ + 7) & ~7;
  }

  /** User space's side: queue a sample; 0 or -ENOSPC when the ring has no room for it. */
  submit(sample: Uint8Array): number {
    const len = UserRingBuf.footprint(sample.length);
    if (this.producer - this.consumer + len > this.size) return -ENOSPC;
    this.samples.push(sample.slice());
    this.producer += len;
    return 0;
  }

  /** The oldest sample not consumed yet, without consuming it. */
  peek(): Uint8Array | undefined {
    return this.samples[0];
  }

  /** Consume the oldest sample (the kernel releases it after the callback). */
  release(): void {
    const s = this.samples.shift();
    if (s !== undefined) this.consumer += UserRingBuf.footprint(s.length);
  }

  /** Samples still waiting. */
  get pending(): number {
    return this.samples.length;
  }

  readonly settleFree = true;
  settle(): void {}
}
