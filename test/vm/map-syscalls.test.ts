/**
 * The user-space side of simulated maps against the kernel's bpf() map commands: random
 * update/lookup/delete sequences (every flag) on each map type through the loader's syscalls and
 * through SimMapView (the BpfMapLike the tests read maps with); errnos, looked-up values
 * (every CPU's for per-CPU maps) and the final key sets must agree. (No LRU maps here: their
 * evictions depend on the CPU each syscall runs on; percpu.test.ts pins them.)
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  createMap,
  mapDelete,
  mapGetNextKey,
  mapLookup,
  mapLookupAndDelete,
  mapUpdate,
} from "../../src/loader/bpf.js";
import { BpfSyscallError } from "../../src/loader/errors.js";
import type { Fd } from "../../src/loader/fd.js";
import { possibleCpuCount } from "../../src/loader/sys.js";
import { SimMapView } from "../../src/vm/maps/view.js";
import { simEnv } from "./sim-env.js";

function probe(): string | undefined {
  try {
    createMap({ type: 1, keySize: 4, valueSize: 8, maxEntries: 1 }).close();
    return undefined;
  } catch (e) {
    return `bpf() map creation unavailable: ${e instanceof Error ? e.message : String(e)}`;
  }
}
const unavailable = probe();
if (unavailable) console.warn(`skipping map syscall differential: ${unavailable}`);

const CPUS = unavailable ? 1 : possibleCpuCount();
const TYPES = [
  { type: 1, name: "hash", keySize: 4 },
  { type: 2, name: "array", keySize: 4 },
  { type: 5, name: "percpu_hash", keySize: 4 },
  { type: 6, name: "percpu_array", keySize: 4 },
  { type: 22, name: "queue", keySize: 0 },
  { type: 23, name: "stack", keySize: 0 },
] as const;

const fds: Fd[] = [];
afterAll(() => {
  for (const f of fds) if (!f.closed) f.close();
});

const errno = (f: () => unknown): string => {
  try {
    const v = f();
    return v instanceof Uint8Array ? Buffer.from(v).toString("hex") : String(v);
  } catch (e) {
    if (e instanceof BpfSyscallError) return e.errnoName;
    throw e;
  }
};

describe.skipIf(unavailable !== undefined)("simulated maps answer bpf() map commands like the kernel", () => {
  for (const t of TYPES) {
    it(t.name, () => {
      const perCpu = t.name.startsWith("percpu");
      const valueBytes = perCpu ? 8 * CPUS : 8;
      fc.assert(
        fc.property(
          fc.array(
            fc.record({
              op: fc.constantFrom("update", "lookup", "delete", "pop"),
              key: fc.integer({ min: 0, max: 4 }),
              value: fc.uint8Array({ minLength: valueBytes, maxLength: valueBytes }),
              flags: fc.constantFrom(0, 1, 2, 3, 4),
            }),
            { minLength: 1, maxLength: 20 },
          ),
          (ops) => {
            const fd = createMap({ type: t.type, keySize: t.keySize, valueSize: 8, maxEntries: 3 });
            fds.push(fd);
            const env = simEnv({ cpus: CPUS });
            const m = env.addMap({
              type: t.type,
              typeName: t.name,
              keySize: t.keySize,
              valueSize: 8,
              maxEntries: 3,
            });
            const view = new SimMapView({
              map: m,
              cpus: CPUS,
              mapByName: () => undefined,
              hasProgram: () => false,
            });
            const keyOf = (k: number) => (t.keySize ? Uint8Array.from([k, 0, 0, 0]) : new Uint8Array(0));
            for (const [i, o] of ops.entries()) {
              const key = keyOf(o.key);
              let k: string;
              let s: string;
              if (o.op === "update") {
                k = errno(() => mapUpdate(fd, key, o.value, o.flags));
                s = errno(() => {
                  view.set(t.keySize ? key : undefined, o.value, o.flags);
                });
              } else if (o.op === "lookup") {
                k = errno(() =>
                  t.keySize ? mapLookup(fd, key, valueBytes) : mapLookup(fd, new Uint8Array(0), 8),
                );
                s = errno(() => (t.keySize ? view.getRaw(key) : view.map.userLookup(key)));
              } else if (o.op === "delete") {
                k = errno(() => mapDelete(fd, key));
                s = errno(() => (t.keySize ? view.delete(key) : view.delete(key)));
              } else {
                if (t.keySize) continue;
                k = errno(() => mapLookupAndDelete(fd, undefined, 8));
                s = errno(() => {
                  const v = view.map.userLookup(new Uint8Array(0));
                  view.pop();
                  return v;
                });
              }
              expect(s, `op ${i} ${o.op} key ${o.key} flags ${o.flags}`).toBe(k);
            }
            if (t.keySize) {
              const keys: string[] = [];
              let k = mapGetNextKey(fd, undefined, 4);
              while (k) {
                keys.push(Buffer.from(k).toString("hex"));
                k = mapGetNextKey(fd, k, 4);
              }
              expect([...view.rawKeys()].map((x) => Buffer.from(x).toString("hex")).sort()).toEqual(
                keys.sort(),
              );
            }
            fd.close();
          },
        ),
        { numRuns: Number(process.env.MAP_RUNS ?? 40) },
      );
    });
  }
});
