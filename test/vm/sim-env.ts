/** A bare simulated environment for tests that build programs by hand: memory, maps, helpers. */

import type { Instruction } from "../../src/isa/instruction.js";
import { simHelpers } from "../../src/vm/helpers/index.js";
import { kfuncHelpers } from "../../src/vm/helpers/kfuncs.js";
import type { Runtime } from "../../src/vm/helpers/runtime.js";
import { TimerTable } from "../../src/vm/helpers/timers.js";
import { createVm, type VmProgram } from "../../src/vm/interpreter.js";
import { createSimMap } from "../../src/vm/maps/create.js";
import type { MapDef, SimMap } from "../../src/vm/maps/types.js";
import { Memory } from "../../src/vm/memory.js";

export interface SimEnv {
  readonly memory: Memory;
  readonly runtime: Runtime;
  addMap(def: Omit<MapDef, "name" | "flags"> & { name?: string; flags?: number }): SimMap;
  /** A VM program whose ld_imm64 src 1 (map fd) instructions name maps by their imm (index in addMap order). */
  program(insns: readonly Instruction[]): VmProgram;
}

export function simEnv(opts: { cpus?: number } = {}): SimEnv {
  const memory = new Memory();
  const cpus = opts.cpus ?? 1;
  const maps: SimMap[] = [];
  const byRegion = new Map<number, SimMap>();
  let clock = 1_000_000_000n;
  let seed = 1;
  const runtime: Runtime = {
    memory,
    cpus,
    cpu: 0,
    task: { pid: 42, tgid: 40, uid: 1000, gid: 100, comm: "test-task", task: 0xffff888000200000n },
    clock: () => (clock += 1000n),
    bootOffsetNs: 0n,
    random: () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return seed >>> 0;
    },
    kernelMemory: [],
    userMemory: [],
    progName: "",
    timers: new TimerTable(),
    stacks: { kernel: [], user: [] },
    progType: "xdp",
    packet: undefined,
    printk: [],
    redirect: undefined,
    mapAt: (a) => {
      const f = memory.find(a);
      return f && f.offset === 0 ? byRegion.get(f.region.id) : undefined;
    },
    mapByRegion: (id) => byRegion.get(id),
    maps: () => byRegion.values(),
    programByName: () => undefined,
  };
  // the helper table and every simulated kfunc (called by their VM ids, kfuncCallId)
  const helpers = [...simHelpers(runtime), ...kfuncHelpers(runtime, [], [])];
  return {
    memory,
    runtime,
    addMap(def) {
      const m = createSimMap(
        { name: `m${maps.length}`, flags: 0, ...def },
        { memory, cpus, freed: (r) => runtime.timers.drop(r) },
      );
      maps.push(m);
      byRegion.set(m.region.id, m);
      return m;
    },
    program(insns) {
      return createVm(insns, {
        memory,
        helpers,
        resolveLdImm64: (i) => (i.src === 1 ? maps[i.imm]?.region.address(0) : undefined),
      });
    },
  };
}
