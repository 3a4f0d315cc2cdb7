/** Make the simulated map for a definition, by map type. */
import { VmFault } from "../errors.js";
import type { Region } from "../memory.js";
import { ArrayMap } from "./array.js";
import { DevMap } from "./devmap.js";
import { ArrayOfMaps, HashOfMaps, PerfEventArray, ProgArray } from "./fd-maps.js";
import { HashMap } from "./hash.js";
import { QueueMap } from "./queue.js";
import { RingBuf } from "./ringbuf.js";
import { SOCKET_MAP_TYPES, SocketMap } from "./socket-maps.js";
import { StackTraceMap } from "./stack-trace.js";
import { TaskStorage } from "./task-storage.js";
import { type MapDef, type MapEnv, mapRegion, type SimMap } from "./types.js";
import { UserRingBuf } from "./user-ringbuf.js";

/** Map types the simulator implements (bpftool spelling). */
export const SIMULATED_MAP_TYPES: readonly string[] = [
  "hash",
  "array",
  "prog_array",
  "perf_event_array",
  "percpu_hash",
  "percpu_array",
  "stack_trace",
  "lru_hash",
  "lru_percpu_hash",
  "array_of_maps",
  "hash_of_maps",
  "queue",
  "stack",
  "ringbuf",
  "user_ringbuf",
  "task_storage",
  "devmap",
  "sockmap",
  "sockhash",
  "xskmap",
];

/**
 * A map of a type the simulator does not implement: it exists (programs that only reference it
 * load and run), and any operation on it faults naming the type.
 */
export class UnsimulatedMap implements SimMap {
  readonly region: Region;
  constructor(
    readonly def: MapDef,
    env: MapEnv,
  ) {
    this.region = mapRegion(env, def);
  }
  private no(): never {
    throw new VmFault("unsupported", `map ${this.def.name}: type ${this.def.typeName} is not simulated`);
  }
  lookup(): bigint {
    return this.no();
  }
  update(): number {
    return this.no();
  }
  delete(): number {
    return this.no();
  }
  nextKey(): number {
    return this.no();
  }
  userLookup(): Uint8Array | undefined {
    return this.no();
  }
  userUpdate(): number {
    return this.no();
  }
  readonly settleFree = true;
  settle(): void {}
}

export function createSimMap(def: MapDef, env: MapEnv): SimMap {
  if (SOCKET_MAP_TYPES.has(def.typeName)) return new SocketMap(def, env);
  switch (def.typeName) {
    case "hash":
      return new HashMap(def, env, { lru: false, percpu: false });
    case "percpu_hash":
      return new HashMap(def, env, { lru: false, percpu: true });
    case "lru_hash":
      return new HashMap(def, env, { lru: true, percpu: false });
    case "lru_percpu_hash":
      return new HashMap(def, env, { lru: true, percpu: true });
    case "array":
      return new ArrayMap(def, env, false);
    case "percpu_array":
      return new ArrayMap(def, env, true);
    case "prog_array":
      return new ProgArray(def, env);
    case "array_of_maps":
      return new ArrayOfMaps(def, env);
    case "hash_of_maps":
      return new HashOfMaps(def, env);
    case "perf_event_array":
      // libbpf sizes a perf event array with max_entries 0 to the number of CPUs
      return new PerfEventArray(def.maxEntries === 0 ? { ...def, maxEntries: env.cpus } : def, env);
    case "queue":
      return new QueueMap(def, env, false);
    case "stack":
      return new QueueMap(def, env, true);
    case "ringbuf":
      return new RingBuf(def, env);
    case "task_storage":
      return new TaskStorage(def, env);
    case "user_ringbuf":
      return new UserRingBuf(def, env);
    case "stack_trace":
      return new StackTraceMap(def, env);
    case "devmap":
      return new DevMap(def, env);
    default:
      return new UnsimulatedMap(def, env);
  }
}
