/**
 * VmProgram.runRepeat, the repeat entry point BPF_PROG_TEST_RUN's repeat is compared with: every
 * repetition is a whole run of its own (registers, stacks and budget reset), over the same
 * inputs, whose memory (context, packet, maps) carries over from one repetition to the next.
 * The expected values are computed independently: n repetitions of run() on a twin program.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { type Instruction, insn } from "../../src/isa/instruction.js";
import { VmFault } from "../../src/vm/errors.js";
import { createVm, type VmEngine } from "../../src/vm/interpreter.js";
import { Memory } from "../../src/vm/memory.js";

const EXIT = insn(0x95);
const ENGINES: readonly VmEngine[] = ["interp", "jit"];

/**
 * r0 = the counter at r1 (old value) + r6 + the stack word at r10-8 + r2 (r6 and the stack word
 * are 0 in a fresh run); then counter += 1, r6 = 7 and the stack word = -1 (left behind).
 */
const COUNTER: Instruction[] = [
  insn(0x79, 0, 1, 0), // r0 = *(u64 *)(r1 + 0)
  insn(0x0f, 0, 6), // r0 += r6
  insn(0x79, 3, 10, -8), // r3 = *(u64 *)(r10 - 8)
  insn(0x0f, 0, 3), // r0 += r3
  insn(0x0f, 0, 2), // r0 += r2
  insn(0xb7, 4, 0, 0, 1),
  insn(0xdb, 1, 4, 0, 0), // lock *(u64 *)(r1 + 0) += r4
  insn(0xb7, 6, 0, 0, 7), // r6 = 7
  insn(0x7a, 10, 0, -8, -1), // *(u64 *)(r10 - 8) = -1
  EXIT,
];

function counterVm(engine: VmEngine) {
  const memory = new Memory();
  const counter = memory.add({ kind: "map-value", name: "counter", size: 8 });
  const vm = createVm(COUNTER, { memory }, { engine });
  return { vm, memory, counter, opts: { args: [counter.address(0), 100n] } };
}

describe("runRepeat: n whole runs over the same inputs", () => {
  for (const engine of ENGINES) {
    it(`gives what n calls of run() give, memory carried over (${engine})`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 40 }), (n) => {
          const a = counterVm(engine);
          const b = counterVm(engine);
          let last = a.vm.run(a.opts);
          for (let i = 1; i < n; i++) last = a.vm.run(a.opts);
          let calls = 0;
          const r = b.vm.runRepeat(b.opts, n, () => calls++);
          expect(r).toEqual(last);
          expect(calls).toBe(n);
          expect(b.memory.load(b.counter.address(0), 8)).toBe(BigInt(n));
          // registers and stack were reset each time: the last run saw only the counter and r2
          expect(r.r0).toBe(BigInt(n - 1 + 100));
        }),
        { numRuns: 20 },
      );
    });

    it(`gives each repetition the full budget (${engine})`, () => {
      const { vm, opts } = counterVm(engine);
      expect(vm.runRepeat({ ...opts, budget: COUNTER.length }, 50).insns).toBe(COUNTER.length);
      expect(() => vm.runRepeat({ ...opts, budget: COUNTER.length - 1 }, 2)).toThrow(VmFault);
    });

    it(`stops at the first fault, with its instruction (${engine})`, () => {
      const memory = new Memory();
      const value = memory.add({ kind: "map-value", name: "v", size: 8 });
      // the 3rd repetition reads past the value: r0 = *(u64 *)(r1 + counter * 8)
      const vm = createVm(
        [
          insn(0x79, 2, 1, 0),
          insn(0x07, 2, 0, 0, 1),
          insn(0x7b, 1, 2, 0), // counter += 1
          insn(0x67, 2, 0, 0, 2), // r2 <<= 2 (4, 8, 12...)
          insn(0x0f, 1, 2),
          insn(0x61, 0, 1, -4), // r0 = *(u32 *)(r1 + 4 * counter - 4): faults when counter = 3
          EXIT,
        ],
        { memory },
        { engine },
      );
      let calls = 0;
      try {
        vm.runRepeat({ args: [value.address(0)] }, 10, () => calls++);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(VmFault);
        expect((e as VmFault).insn).toBe(5);
      }
      expect(calls).toBe(2);
      expect(memory.load(value.address(0), 8)).toBe(3n);
    });

    it(`refuses a repeat that is not a positive integer (${engine})`, () => {
      const { vm, opts } = counterVm(engine);
      for (const bad of [0, -1, 1.5, Number.NaN]) {
        expect(() => vm.runRepeat(opts, bad)).toThrow(UsageError);
      }
    });
  }
});
