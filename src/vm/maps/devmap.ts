/**
 * BPF_MAP_TYPE_DEVMAP: slots holding a device (its ifindex, or struct bpf_devmap_val), for
 * bpf_redirect_map from XDP. The simulator does not check that the ifindex names a device (the
 * kernel refuses unknown ones with -ENODEV/-EINVAL), and never forwards: a redirect is recorded
 * in the run's result. Program-side lookups give NULL (the kernel gives a read-only value).
 */
import type { Region } from "../memory.js";
import { BPF_EXIST, BPF_NOEXIST, E2BIG, EEXIST, EINVAL, ENOENT } from "./errno.js";
import { type MapDef, type MapEnv, mapRegion, type SimMap, u32At, u32Bytes } from "./types.js";

export class DevMap implements SimMap {
  readonly region: Region;
  readonly slots = new Map<number, Uint8Array>();

  constructor(
    readonly def: MapDef,
    env: MapEnv,
  ) {
    this.region = mapRegion(env, def);
  }

  /** The ifindex in slot `i`, or undefined when it is empty. */
  ifindex(i: number): number | undefined {
    const v = this.slots.get(i);
    return v === undefined ? undefined : (v[0] | (v[1] << 8) | (v[2] << 16) | (v[3] << 24)) >>> 0;
  }

  lookup(): bigint {
    return 0n;
  }
  update(): number {
    return -EINVAL;
  }
  delete(key: Uint8Array): number {
    const i = u32At(key);
    if (key.length !== 4 || i >= this.def.maxEntries) return -EINVAL;
    this.slots.delete(i);
    return 0;
  }
  nextKey(key: Uint8Array | undefined): Uint8Array | number {
    const i = key === undefined ? 0xffffffff : u32At(key);
    if (i >= this.def.maxEntries) return u32Bytes(0);
    if (i === this.def.maxEntries - 1) return -ENOENT;
    return u32Bytes(i + 1);
  }
  userLookup(key: Uint8Array): Uint8Array | undefined {
    return this.slots.get(u32At(key))?.slice();
  }
  userUpdate(key: Uint8Array, value: Uint8Array, flags: number): number {
    if (flags > BPF_EXIST || flags < 0 || value.length !== this.def.valueSize) return -EINVAL;
    const i = u32At(key);
    if (i >= this.def.maxEntries) return -E2BIG;
    if (flags === BPF_NOEXIST) return -EEXIST;
    this.slots.set(i, value.slice());
    return 0;
  }
  readonly settleFree = true;
  settle(): void {}
}
