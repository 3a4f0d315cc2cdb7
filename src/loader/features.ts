/**
 * Feature probes: can this kernel create a map type, load a program type, let a program type call
 * a helper? Each probe issues the smallest command that answers and caches the answer per Sys.
 */
import { createMap, loadProgram } from "./bpf.js";
import { BpfSyscallError } from "./errors.js";
import { getSys, type Sys } from "./sys.js";

const cache = new WeakMap<Sys, Map<string, boolean>>();

function cached(sys: Sys, key: string, probe: () => boolean): boolean {
  let m = cache.get(sys);
  if (!m) {
    m = new Map();
    cache.set(sys, m);
  }
  const hit = m.get(key);
  if (hit !== undefined) return hit;
  const v = probe();
  m.set(key, v);
  return v;
}

/** Smallest valid creation attributes per map type where the defaults (4/4/1) are refused. */
const MAP_SHAPE: Readonly<
  Record<number, { keySize: number; valueSize: number; maxEntries: number; flags?: number }>
> = {
  7: { keySize: 4, valueSize: 8, maxEntries: 1 }, // STACK_TRACE: value is u64 addresses
  11: { keySize: 8, valueSize: 4, maxEntries: 1, flags: 1 }, // LPM_TRIE: prefix + data, NO_PREALLOC
  19: { keySize: 16, valueSize: 4, maxEntries: 0 }, // CGROUP_STORAGE: struct bpf_cgroup_storage_key
  21: { keySize: 16, valueSize: 4, maxEntries: 0 }, // PERCPU_CGROUP_STORAGE
  22: { keySize: 0, valueSize: 4, maxEntries: 1 }, // QUEUE
  23: { keySize: 0, valueSize: 4, maxEntries: 1 }, // STACK
  27: { keySize: 0, valueSize: 0, maxEntries: 4096 }, // RINGBUF
  30: { keySize: 0, valueSize: 4, maxEntries: 1 }, // BLOOM_FILTER
  31: { keySize: 0, valueSize: 0, maxEntries: 4096 }, // USER_RINGBUF
};

/**
 * True when MAP_CREATE accepts the type (false on any refusal). Map-in-map types are probed with
 * an inner array. Types that need BTF to be created (local storages, STRUCT_OPS) answer false.
 */
export function haveMapType(type: number, sys: Sys = getSys()): boolean {
  return cached(sys, `map:${type}`, () => {
    const shape = MAP_SHAPE[type] ?? { keySize: 4, valueSize: 4, maxEntries: 1 };
    try {
      if (type === 12 || type === 13) {
        // ARRAY_OF_MAPS / HASH_OF_MAPS: the outer map needs an inner map as a template.
        using inner = createMap({ type: 2, keySize: 4, valueSize: 4, maxEntries: 1 }, sys);
        createMap({ type, keySize: 4, valueSize: 4, maxEntries: 1, innerMapFd: inner }, sys).close();
        return true;
      }
      createMap({ type, ...shape }, sys).close();
      return true;
    } catch (e) {
      if (e instanceof BpfSyscallError) return false;
      throw e;
    }
  });
}

/** Expected attach types some program types must be loaded with (as libbpf's probes do). */
/** Load flags some program types require (SYSCALL programs are always sleepable). */
const PROG_FLAGS: Readonly<Record<number, number>> = { 31: 0x10 };

const PROG_ATTACH: Readonly<Record<number, number>> = {
  18: 10, // CGROUP_SOCK_ADDR: CGROUP_INET4_CONNECT
  25: 21, // CGROUP_SOCKOPT: CGROUP_GETSOCKOPT
  30: 36, // SK_LOOKUP
  32: 45, // NETFILTER
};

const RET0 = [
  { opcode: 0xb7, dst: 0, src: 0, off: 0, imm: 0 },
  { opcode: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
];

/**
 * True when a trivial program of `type` loads. Types that need an attach target at load
 * (tracing, LSM, EXT, STRUCT_OPS) answer false here; probe those by loading the real program.
 */
export function haveProgType(type: number, sys: Sys = getSys()): boolean {
  return cached(sys, `prog:${type}`, () => {
    try {
      loadProgram(
        {
          type,
          insns: RET0,
          expectedAttachType: PROG_ATTACH[type],
          flags: PROG_FLAGS[type],
          logLevel: 0,
          maxLogSize: 4096,
        },
        sys,
      ).fd.close();
      return true;
    } catch (e) {
      // EPERM included: the question is whether this process can load it here.
      if (e instanceof BpfSyscallError) return false;
      throw e;
    }
  });
}

/**
 * True when a program of `progType` may call helper `helper`: loads `call helper; r0 = 0; exit`
 * and reads the verifier's answer. Argument checks fail after the helper is accepted, so only
 * the "unknown func" / "cannot call" verdicts mean no.
 */
export function haveHelper(progType: number, helper: number, sys: Sys = getSys()): boolean {
  return cached(sys, `helper:${progType}:${helper}`, () => {
    try {
      loadProgram(
        {
          type: progType,
          insns: [{ opcode: 0x85, dst: 0, src: 0, off: 0, imm: helper }, ...RET0],
          expectedAttachType: PROG_ATTACH[progType],
          flags: PROG_FLAGS[progType],
          logLevel: 1,
          logSize: 4096,
        },
        sys,
      ).fd.close();
      return true;
    } catch (e) {
      if (!(e instanceof BpfSyscallError)) throw e;
      const log = e.log ?? "";
      if (/unknown func|invalid func|program of this type cannot use helper|cannot call/.test(log))
        return false;
      // Rejected for its (missing) arguments: the helper itself is available.
      return e.errnoName === "EACCES" || e.errnoName === "EINVAL" ? log.length > 0 : false;
    }
  });
}
