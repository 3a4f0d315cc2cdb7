/**
 * BPF_MAP_TYPE_QUEUE (FIFO) and BPF_MAP_TYPE_STACK (LIFO): no keys. Kernel semantics: push
 * with BPF_NOEXIST or unknown flags -EINVAL; push into a full map -E2BIG, unless BPF_EXIST,
 * which drops the oldest element to make room; pop/peek of an empty map -ENOENT
 * (and a zeroed value buffer).
 */
import type { Region } from "../memory.js";
import { BPF_EXIST, BPF_NOEXIST, E2BIG, EINVAL, ENOENT } from "./errno.js";
import { type MapDef, type MapEnv, mapRegion, type SimMap } from "./types.js";

export class QueueMap implements SimMap {
  readonly region: Region;
  readonly items: Uint8Array[] = [];

  constructor(
    readonly def: MapDef,
    env: MapEnv,
    readonly lifo: boolean,
  ) {
    this.region = mapRegion(env, def);
  }

  push(value: Uint8Array, flags: number): number {
    if (flags & BPF_NOEXIST || flags > BPF_EXIST || flags < 0) return -EINVAL;
    if (this.items.length >= this.def.maxEntries) {
      if (!(flags & BPF_EXIST)) return -E2BIG;
      this.items.shift(); // the oldest goes, for both kinds
    }
    this.items.push(value.slice(0, this.def.valueSize));
    return 0;
  }

  /** The element pop would take, or undefined. */
  peek(): Uint8Array | undefined {
    return this.lifo ? this.items[this.items.length - 1] : this.items[0];
  }

  pop(): Uint8Array | undefined {
    return this.lifo ? this.items.pop() : this.items.shift();
  }

  lookup(): bigint {
    return 0n;
  }
  update(_key: Uint8Array, value: Uint8Array, flags: number): number {
    return this.push(value, flags);
  }
  delete(): number {
    return -EINVAL;
  }
  nextKey(): number {
    return -EINVAL;
  }
  userLookup(): Uint8Array | undefined {
    return this.peek()?.slice();
  }
  userUpdate(_key: Uint8Array, value: Uint8Array, flags: number): number {
    if (value.length !== this.def.valueSize) return -EINVAL;
    return this.push(value, flags);
  }
  /** Used by map_pop_elem / map_peek_elem: copy into `out`, or -ENOENT. */
  take(out: Uint8Array, remove: boolean): number {
    const v = remove ? this.pop() : this.peek();
    if (v === undefined) {
      out.fill(0); // the kernel zeroes the buffer of a failed pop/peek
      return -ENOENT;
    }
    out.set(v.subarray(0, out.length));
    return 0;
  }
  readonly settleFree = true;
  settle(): void {}
}
