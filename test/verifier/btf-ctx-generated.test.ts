import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { attachTypeByName, progTypeByName } from "../../src/abi/program-types.js";
import type { ObjectSpec, ProgramSpec } from "../../src/elf/object/types.js";
import { type Instruction, insn } from "../../src/isa/instruction.js";
import { loadProgram } from "../../src/loader/bpf.js";
import { BpfSyscallError } from "../../src/loader/errors.js";
import { parseKernelLog } from "../../src/verifier/kernel.js";
import { kernelBtf } from "../../src/verifier/kernel-btf.js";
import { verifyProgram } from "../../src/verifier/verify.js";
import { newAgreementStats, syntheticObject, tallyAgreement } from "./generate.js";

/**
 * The BTF-typed context checker (btf-ctx.ts, btf_ctx_access) against the live kernel: random
 * tp_btf programs (tp_btf loads on this kernel, unlike lsm and fentry) reading their context at
 * any offset and size, zero- or sign-extending, walking loaded pointers, branching on the values.
 */
const kernelWhy = process.getuid?.() !== 0 ? "not root" : undefined;

const TRACEPOINTS = [
  "sched_switch",
  "sys_enter",
  "workqueue_execute_end",
  "sched_process_fork",
  "sched_wakeup",
];
const REGS = [6, 7, 8];
const arbR = fc.constantFrom(...REGS);
const SIZE_BITS: Record<number, number> = { 1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18 };

type Item = Instruction | { readonly toEnd: Instruction };
const arbBlock: fc.Arbitrary<Item[]> = fc.oneof(
  // context load: LDX (0x61 family) or LDSX (0x81 family; no 8-byte form)
  fc
    .tuple(
      arbR,
      fc.constantFrom(-8, 0, 2, 4, 8, 12, 16, 24, 32, 40, 96),
      fc.constantFrom(1, 2, 4, 8),
      fc.boolean(),
    )
    .map(([d, off, size, sx]) => [insn((sx && size < 8 ? 0x81 : 0x61) | SIZE_BITS[size]!, d, 1, off)]),
  // a 4-byte read through a loaded register (a BTF pointer walk, or a scalar dereference)
  fc.tuple(arbR, arbR).map(([d, s]) => [insn(0x61, d, s, 0)]),
  fc
    .tuple(
      fc.constantFrom(0x00, 0x50, 0x70, 0xa0, 0x10),
      fc.boolean(),
      arbR,
      fc.integer({ min: -100, max: 100 }),
    )
    .map(([op, is64, d, imm]) => [
      insn((is64 ? 7 : 4) | op, d, 0, 0, op === 0x70 ? Math.abs(imm) % 32 : imm),
    ]),
  fc
    .tuple(
      fc.constantFrom(0x10, 0x50, 0x20, 0xa0, 0x60, 0xc0),
      fc.boolean(),
      arbR,
      fc.integer({ min: -3, max: 3 }),
    )
    .map(([op, is64, r, imm]) => [{ toEnd: insn((is64 ? 5 : 6) | op, r, 0, 0, imm) }]),
);
const arbTpBtf = fc.tuple(
  fc.constantFrom(...TRACEPOINTS),
  fc.array(arbBlock, { minLength: 1, maxLength: 6 }),
);

function tpBtfObject(tp: string, insns: readonly Instruction[]): { obj: ObjectSpec; prog: ProgramSpec } {
  const shape = {
    section: `tp_btf/${tp}`,
    type: progTypeByName("tracing")!,
    expectedAttachType: attachTypeByName("trace_raw_tp")!,
    attachTarget: tp,
  };
  return syntheticObject(insns, shape, []);
}

function kernelJudge(
  tp: string,
  insns: readonly Instruction[],
): { verdict: "accept" | "reject"; message?: string } {
  const btfId = kernelBtf().btf.findByName(`btf_trace_${tp}`, "TYPEDEF")!.id;
  try {
    const res = loadProgram({
      type: progTypeByName("tracing")!.id,
      insns: [...insns],
      license: "GPL",
      name: "gen",
      expectedAttachType: attachTypeByName("trace_raw_tp")!.id,
      attachBtfId: btfId,
      logLevel: 1,
    });
    res.fd.close();
    return { verdict: "accept" };
  } catch (e) {
    if (e instanceof BpfSyscallError && e.log) {
      const m = parseKernelLog(e.log).message;
      return { verdict: "reject", ...(m !== undefined ? { message: m } : {}) };
    }
    throw e;
  }
}

describe("generated tp_btf context accesses: offline verifier vs the live kernel", () => {
  it.skipIf(kernelWhy !== undefined)(
    "no false accepts; verdict and message agreement",
    () => {
      const stats = newAgreementStats();
      const bad: string[] = [];
      fc.assert(
        fc.property(arbTpBtf, ([tp, blocks]) => {
          const items: Item[] = [...REGS.map((r) => insn(0xb7, r, 0, 0, 1)), ...blocks.flat()];
          const end = items.length;
          const insns = [
            ...items.map((it, k) => ("toEnd" in it ? { ...it.toEnd, off: end - k - 1 } : it)),
            insn(0xb7, 0, 0, 0, 0),
            insn(0x95),
          ];
          const { obj, prog } = tpBtfObject(tp, insns);
          const ours = verifyProgram(obj, prog, { logLevel: 0, maxMillis: 5000 });
          if (ours.error && !ours.error.modelled) {
            stats.notModelled++;
            return;
          }
          const k = kernelJudge(tp, insns);
          tallyAgreement(stats, bad, ours, k, () => `${tp} ${JSON.stringify(insns)}`);
        }),
        { numRuns: 600, seed: 17 },
      );
      console.log(JSON.stringify({ tpBtfGenerated: stats }));
      expect(bad).toEqual([]);
      expect(stats.n).toBeGreaterThan(300);
    },
    300_000,
  );
});
