/**
 * BPF_MAP_TYPE_STACK_TRACE with fake stacks: the stack a "capture" sees is whatever the test
 * set (kernel or user instruction pointers). Like the kernel, the id is a hash of the ips
 * masked to the bucket count (max_entries rounded up to a power of two); a bucket holding a
 * different stack gives -EEXIST unless BPF_F_REUSE_STACKID. The hash is not the kernel's jhash,
 * so ids differ from the kernel's; equal stacks get equal ids.
 */
import type { Region } from "../memory.js";
import { EEXIST, EFAULT, EINVAL, ENOENT } from "./errno.js";
import { type MapDef, type MapEnv, mapRegion, type SimMap, u32At, u32Bytes } from "./types.js";

export const BPF_F_SKIP_FIELD_MASK = 0xff;
export const BPF_F_USER_STACK = 1 << 8;
export const BPF_F_FAST_STACK_CMP = 1 << 9;
export const BPF_F_REUSE_STACKID = 1 << 10;

export class StackTraceMap implements SimMap {
  readonly region: Region;
  readonly buckets = new Map<number, readonly bigint[]>();
  private readonly nBuckets: number;

  constructor(
    readonly def: MapDef,
    env: MapEnv,
  ) {
    this.region = mapRegion(env, def);
    let n = 1;
    while (n < def.maxEntries) n *= 2;
    this.nBuckets = n;
  }

  /** bpf_get_stackid on a captured stack: the id or a negative errno. */
  capture(stack: readonly bigint[], flags: number): number {
    if (flags & ~(BPF_F_SKIP_FIELD_MASK | BPF_F_USER_STACK | BPF_F_FAST_STACK_CMP | BPF_F_REUSE_STACKID)) {
      return -EINVAL;
    }
    const skip = flags & BPF_F_SKIP_FIELD_MASK;
    const ips = stack.slice(skip, skip + Math.floor(this.def.valueSize / 8));
    if (ips.length === 0) return -EFAULT;
    let h = 0x811c9dc5;
    for (const ip of ips) {
      for (let s = 0n; s < 64n; s += 8n) h = Math.imul(h ^ Number((ip >> s) & 0xffn), 0x01000193);
    }
    const id = (h >>> 0) & (this.nBuckets - 1);
    const old = this.buckets.get(id);
    if (old !== undefined && !(old.length === ips.length && old.every((v, i) => v === ips[i]))) {
      if (!(flags & BPF_F_REUSE_STACKID)) return -EEXIST;
    }
    this.buckets.set(id, ips);
    return id;
  }

  lookup(): bigint {
    return 0n;
  }
  update(): number {
    return -EINVAL;
  }
  delete(key: Uint8Array): number {
    return this.buckets.delete(u32At(key)) ? 0 : -ENOENT;
  }
  nextKey(key: Uint8Array | undefined): Uint8Array | number {
    const ids = [...this.buckets.keys()].sort((a, b) => a - b);
    const cur = key === undefined ? -1 : u32At(key);
    const next = ids.find((i) => i > cur);
    return next === undefined ? -ENOENT : u32Bytes(next);
  }
  userLookup(key: Uint8Array): Uint8Array | undefined {
    const ips = this.buckets.get(u32At(key));
    if (ips === undefined) return undefined;
    const out = new Uint8Array(this.def.valueSize);
    const v = new DataView(out.buffer);
    for (let i = 0; i < ips.length; i++) v.setBigUint64(i * 8, ips[i], true);
    return out;
  }
  userUpdate(): number {
    return -EINVAL;
  }
  keys(): Uint8Array[] {
    return [...this.buckets.keys()].sort((a, b) => a - b).map(u32Bytes);
  }
  readonly settleFree = true;
  settle(): void {}
}
