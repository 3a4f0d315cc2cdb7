/**
 * Can this process use bpf()? One tiny MAP_CREATE answers it (koffi present, syscall allowed,
 * privileges enough). Cached per Sys so tests and feature checks ask once.
 */
import { BpfCmd, MAP_CREATE } from "./attr.js";
import { errnoName } from "./errors.js";
import { encodeStruct } from "./layout.js";
import { getSys, nativeAvailable, type Sys } from "./sys.js";

export type Probe = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const cache = new WeakMap<Sys, Probe>();

export function probeBpf(sys?: Sys): Probe {
  if (!sys && !nativeAvailable()) return { ok: false, reason: "koffi or libc.so.6 could not be loaded" };
  const s = sys ?? getSys();
  const hit = cache.get(s);
  if (hit) return hit;
  let result: Probe;
  try {
    const attr = encodeStruct(MAP_CREATE, { map_type: 2, key_size: 4, value_size: 4, max_entries: 1 }, (b) =>
      s.address(b),
    );
    const fd = s.bpf(BpfCmd.MAP_CREATE, attr);
    if (fd >= 0) {
      s.close(fd);
      result = { ok: true };
    } else {
      result = { ok: false, reason: `bpf(BPF_MAP_CREATE) failed with ${errnoName(-fd)}` };
    }
  } catch (e) {
    result = { ok: false, reason: (e as Error).message };
  }
  cache.set(s, result);
  return result;
}
