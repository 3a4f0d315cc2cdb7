/**
 * Maps of sockets: BPF_MAP_TYPE_SOCKMAP, SOCKHASH and XSKMAP. Their slots hold sockets (TCP/UDP
 * sockets, AF_XDP sockets), and the simulator has none, so these maps are always empty: a
 * program's lookup gives NULL, bpf_redirect_map takes its fallback action (as the kernel does for
 * an empty slot), deleting is -ENOENT (-EINVAL past an array's end), and user space cannot put a
 * socket in (EOPNOTSUPP: there is no socket fd to give).
 */
import type { Region } from "../memory.js";
import { EINVAL, ENOENT, EOPNOTSUPP } from "./errno.js";
import { type MapDef, type MapEnv, mapRegion, type SimMap, u32At, u32Bytes } from "./types.js";

export const SOCKET_MAP_TYPES: ReadonlySet<string> = new Set(["sockmap", "sockhash", "xskmap"]);

export class SocketMap implements SimMap {
  readonly region: Region;

  constructor(
    readonly def: MapDef,
    env: MapEnv,
  ) {
    this.region = mapRegion(env, def);
  }

  private get indexed(): boolean {
    return this.def.typeName !== "sockhash";
  }

  lookup(): bigint {
    return 0n;
  }
  update(): number {
    return -EOPNOTSUPP;
  }
  delete(key: Uint8Array): number {
    if (this.indexed && (key.length !== 4 || u32At(key) >= this.def.maxEntries)) return -EINVAL;
    return -ENOENT;
  }
  /** Array-like socket maps step through every index, as the kernel's get_next_key does; a sockhash is empty. */
  nextKey(key: Uint8Array | undefined): Uint8Array | number {
    if (!this.indexed) return -ENOENT;
    const i = key === undefined ? 0xffffffff : u32At(key);
    if (i >= this.def.maxEntries) return u32Bytes(0);
    if (i === this.def.maxEntries - 1) return -ENOENT;
    return u32Bytes(i + 1);
  }
  userLookup(): Uint8Array | undefined {
    return undefined;
  }
  userUpdate(): number {
    return -EOPNOTSUPP;
  }
  readonly settleFree = true;
  settle(): void {}
}
