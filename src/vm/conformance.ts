/**
 * The bpf_conformance suite's machine: r1 points at the test's writable memory, r2 is its
 * length, and helper 5 is the suite's "unwind" helper. Its semantics, read from the plugins the
 * suite was written against (uBPF registers it as the "unwind stack extension"): it returns its
 * first argument, and when that value is 0 the whole program ends at once with r0 = 0;
 * otherwise execution continues with r0 = r1. (call_unwind_fail and callx pass -1, so the
 * program goes on and returns 2.)
 *
 * With the runner's XDP option the program is instead prefixed with a prolog that reads
 * xdp_md.data and xdp_md.data_end from r1: `xdp` runs it with r1 = an xdp_md context over the
 * memory as the packet.
 */
import type { Instruction } from "../isa/instruction.js";
import type { VmHelper, VmRunResult } from "./env.js";
import { createVm, type VmOptions } from "./interpreter.js";
import { Memory } from "./memory.js";

export const CONFORMANCE_UNWIND_HELPER: VmHelper = {
  id: 5,
  name: "unwind",
  fn: (call) => {
    const v = call.arg(1);
    if (v === 0n) call.stop(0n);
    return v;
  },
};

export interface ConformanceRunOptions extends VmOptions {
  readonly budget?: number;
  /**
   * r1 = an xdp_md context whose data..data_end is the memory (the runner's --xdp_prolog, which
   * it only adds when the test has memory: without memory the run is the usual one).
   */
  readonly xdp?: boolean;
}

/** xdp_md: data, data_end, data_meta (u32 fields that load pointers), then three u32 ids. */
const XDP_MD_SIZE = 24;

/** Run a conformance program against its input memory (copied: the caller's bytes stay intact). */
export function runConformance(
  insns: readonly Instruction[],
  mem: Uint8Array = new Uint8Array(0),
  opts: ConformanceRunOptions = {},
): VmRunResult {
  const memory = new Memory();
  const vm = createVm(insns, { memory, helpers: [CONFORMANCE_UNWIND_HELPER] }, opts);
  let args: bigint[] = [0n, 0n];
  if (opts.xdp && mem.byteLength > 0) {
    // (the runner adds its prolog only when there is memory)
    const p = memory.addPacket(mem, { headroom: 256 });
    const ctx = memory.add({
      kind: "ctx",
      name: "xdp_md",
      size: XDP_MD_SIZE,
      writable: false,
      hooks: {
        load: (off, size) => {
          if (size !== 4) return undefined;
          if (off === 0) return p.data;
          if (off === 4) return p.dataEnd;
          if (off === 8) return p.dataMeta;
          return undefined;
        },
      },
    });
    args = [ctx.address(0)];
  } else if (mem.byteLength > 0) {
    const region = memory.add({ kind: "mem", name: "memory", bytes: Uint8Array.from(mem) });
    args = [region.address(0), BigInt(mem.byteLength)];
  }
  return vm.run({ args, budget: opts.budget });
}
