/**
 * BPF_MAP_TYPE_TASK_STORAGE: one value per task, found by the task pointer a program passes to
 * bpf_task_storage_get / _delete (tasks are whatever addresses the test's contexts and kernel
 * memory image give). No capacity limit (local storage maps have max_entries 0). Deleted values
 * stay readable until the run ends, as after the kernel's RCU grace period. User space reaches
 * task storage through a pidfd, which offline has no meaning: the syscall side is refused
 * (EOPNOTSUPP); `valueOf` gives a test the value of a task pointer.
 */
import type { Region } from "../memory.js";
import { ENOENT, EOPNOTSUPP } from "./errno.js";
import { KeylessMap } from "./keyless.js";
import { type MapDef, type MapEnv, mapRegion, type SimMap } from "./types.js";

export const BPF_LOCAL_STORAGE_GET_F_CREATE = 1;

export class TaskStorage extends KeylessMap implements SimMap {
  protected override readonly keyedErrno = -EOPNOTSUPP;
  readonly region: Region;
  private readonly values = new Map<bigint, Region>();
  private dead: Region[] = [];

  constructor(
    readonly def: MapDef,
    private readonly env: MapEnv,
  ) {
    super();
    this.region = mapRegion(env, def);
  }

  /** The value address for a task, created from `init` (zeros when undefined) if asked; 0n when none. */
  get(task: bigint, create: boolean, init: Uint8Array | undefined): bigint {
    let r = this.values.get(task);
    if (r === undefined) {
      if (!create) return 0n;
      r = this.env.memory.add({
        kind: "map-value",
        name: `${this.def.name} value`,
        size: this.def.valueSize,
      });
      if (init) r.bytes.set(init.subarray(0, this.def.valueSize));
      this.values.set(task, r);
    }
    return r.address(0);
  }

  /** bpf_task_storage_delete: 0 or -ENOENT. */
  remove(task: bigint): number {
    const r = this.values.get(task);
    if (r === undefined) return -ENOENT;
    this.values.delete(task);
    this.dead.push(r);
    return 0;
  }

  /** The value bytes of a task's storage (a copy), or undefined. */
  override valueOf(task: bigint): Uint8Array | undefined {
    return this.values.get(task)?.bytes.slice();
  }

  settle(): void {
    for (const r of this.dead) this.env.memory.remove(r);
    this.dead = [];
  }
}
