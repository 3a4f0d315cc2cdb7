/**
 * Every run starts from zeroed stacks, however the last run wrote them: the VM re-zeroes each
 * stack only from the lowest offset written (Region.low), so every way of writing must lower it.
 * Each case writes in one run and reads back in the next, in both engines.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Instruction, insn } from "../../src/isa/instruction.js";
import type { VmHelper } from "../../src/vm/env.js";
import { VmFault } from "../../src/vm/errors.js";
import { createVm, type VmEngine } from "../../src/vm/interpreter.js";
import { Memory } from "../../src/vm/memory.js";

const EXIT = insn(0x95);
const ENGINES: readonly VmEngine[] = ["interp", "jit"];

/** The ways a program writes 8 bytes (or fewer) at r10 + off, as r1 != 0 selects. */
const STORES = {
  stx64: (off: number): Instruction[] => [insn(0xb7, 3, 0, 0, -1), insn(0x7b, 10, 3, off)],
  stx32: (off: number): Instruction[] => [insn(0xb7, 3, 0, 0, 7), insn(0x63, 10, 3, off)],
  stx8: (off: number): Instruction[] => [insn(0xb7, 3, 0, 0, 9), insn(0x73, 10, 3, off)],
  stImm16: (off: number): Instruction[] => [insn(0x6a, 10, 0, off, 0x1234)],
  viaPointer: (off: number): Instruction[] => [
    insn(0xbf, 2, 10),
    insn(0x07, 2, 0, 0, off),
    insn(0xb7, 3, 0, 0, 5),
    insn(0x7b, 2, 3, 0),
  ],
  atomicAdd: (off: number): Instruction[] => [insn(0xb7, 3, 0, 0, 3), insn(0xdb, 10, 3, off, 0)],
  atomicFetchOr: (off: number): Instruction[] => [insn(0xb7, 3, 0, 0, 3), insn(0xc3, 10, 3, off, 0x41)],
} as const;

/** if r1 != 0 { store at r10+off; r0 = 0 } else r0 = *(u64 *)(r10 + off) */
function program(store: keyof typeof STORES, off: number): Instruction[] {
  const write = STORES[store](off);
  return [
    insn(0x15, 1, 0, write.length + 2, 0), // if r1 == 0 goto read
    ...write,
    insn(0xb7, 0, 0, 0, 0),
    EXIT,
    insn(0x79, 0, 10, off), // read: r0 = *(u64 *)(r10 + off)
    EXIT,
  ];
}

describe("stacks are zero at the start of every run", () => {
  for (const engine of ENGINES) {
    it(`whatever store the last run made (${engine})`, () => {
      fc.assert(
        fc.property(
          fc.constantFrom(...(Object.keys(STORES) as (keyof typeof STORES)[])),
          fc.integer({ min: 1, max: 64 }),
          (store, slot) => {
            const off = -8 * slot;
            const vm = createVm(program(store, off), { memory: new Memory() }, { engine });
            vm.run({ args: [1n] });
            expect(vm.stacks[0].bytes.some((b) => b !== 0)).toBe(true);
            expect(vm.run({ args: [0n] }).r0).toBe(0n);
          },
        ),
        { numRuns: 60 },
      );
    });

    it(`after a helper wrote through a stack pointer argument by its own means (${engine})`, () => {
      // the helper writes the region's bytes directly, not through Memory's checked API
      const memory = new Memory();
      const raw: VmHelper = {
        id: 1,
        name: "raw_write",
        fn: (c) => {
          const r = c.memory.regionOf(c.argHi(1) | 0);
          if (r === undefined) throw c.fault("no region");
          r.bytes.fill(0xab, c.argLo(1), c.argLo(1) + 16);
          return 0;
        },
      };
      const vm = createVm(
        [
          insn(0x15, 1, 0, 4, 0), // if r1 == 0 goto read
          insn(0xbf, 1, 10),
          insn(0x07, 1, 0, 0, -200),
          insn(0x85, 0, 0, 0, 1), // raw_write(r10 - 200)
          EXIT,
          insn(0x79, 0, 10, -192), // read: r0 = *(u64 *)(r10 - 192)
          EXIT,
        ],
        { memory, helpers: [raw] },
        { engine },
      );
      vm.run({ args: [1n] });
      expect(vm.stacks[0].bytes[512 - 192]).toBe(0xab);
      expect(vm.run({ args: [0n] }).r0).toBe(0n);
    });

    it(`after the caller wrote the stack between runs (${engine})`, () => {
      const memory = new Memory();
      const vm = createVm([insn(0x79, 0, 10, -504), EXIT], { memory }, { engine });
      vm.run();
      memory.store(vm.stacks[0].address(8), 8, 0x1122n);
      expect(vm.run().r0).toBe(0n);
    });
  }
});

describe("context load hooks", () => {
  for (const engine of ENGINES) {
    it(`a hook may answer with a number (a pointer) instead of a bigint (${engine})`, () => {
      const memory = new Memory();
      const data = memory.add({ kind: "mem", name: "data", size: 8 });
      memory.store(data.address(0), 8, 0x0102030405060708n);
      const ctx = memory.add({
        kind: "ctx",
        name: "ctx",
        size: 8,
        writable: false,
        hooks: { load: (off) => (off === 0 ? data.pointer(0) : off === 4 ? 2 ** 60 : undefined) },
      });
      // r2 = ctx->ptr (a 4-byte field answering a 64-bit pointer); r0 = *(u64 *)r2
      const vm = createVm([insn(0x61, 2, 1, 0), insn(0x79, 0, 2, 0), EXIT], { memory }, { engine });
      expect(vm.run({ args: [ctx.address()] }).r0).toBe(0x0102030405060708n);
      // a number that is not a safe integer is the hook's bug: a fault, never a wrong value
      const bad = createVm([insn(0x61, 0, 1, 4), EXIT], { memory }, { engine });
      expect(() => bad.run({ args: [ctx.address()] })).toThrow(VmFault);
    });

    it(`a hook answering a bigint, or nothing (the bytes then), is called once per load (${engine})`, () => {
      const memory = new Memory();
      let calls = 0;
      const ctx = memory.add({
        kind: "ctx",
        name: "ctx",
        size: 16,
        writable: false,
        hooks: {
          load: (off) => {
            calls++;
            return off === 0 ? 0xffff_fffe_0000_0001n : undefined;
          },
        },
      });
      new DataView(ctx.bytes.buffer).setUint32(8, 0x8000_0007, true);
      // r2 = ctx[0] (hook: a bigint); r3 = ctx[8] (no answer: the bytes); r0 = r2 + r3
      const vm = createVm(
        [insn(0x61, 2, 1, 0), insn(0x61, 3, 1, 8), insn(0xbf, 0, 2), insn(0x0f, 0, 3), EXIT],
        { memory },
        { engine },
      );
      expect(vm.run({ args: [ctx.address()] }).r0).toBe(0xffff_fffe_0000_0001n + 0x8000_0007n);
      expect(calls).toBe(2);
    });
  }
});
