/**
 * ns per executed instruction of the VM interpreter on two loops (run: npx tsx bench/vm-interpreter.ts):
 *  - ALU: 64-bit add/xor/sub/shift and a conditional jump (all registers, no memory);
 *  - memory: stack loads and stores of 8 and 4 bytes plus a load from a map-value-like region;
 *  - wide: 64-bit mul (exact on halves) and div/mod of operands above 32 bits (BigInt fallback).
 */
import { type Instruction, insn, ldImm64 } from "../src/isa/instruction.js";
import { createVm } from "../src/vm/interpreter.js";
import { Memory } from "../src/vm/memory.js";

const ITER = 2_000_000;

const alu: Instruction[] = [
  insn(0xb7, 0, 0, 0, 0), // r0 = 0
  insn(0xb7, 1, 0, 0, 1), // r1 = 1
  insn(0xb7, 2, 0, 0, 7), // r2 = 7
  insn(0xb7, 3, 0, 0, ITER), // r3 = ITER
  // loop:
  insn(0x0f, 0, 1), // r0 += r1
  insn(0xaf, 1, 2), // r1 ^= r2
  insn(0x07, 2, 0, 0, 3), // r2 += 3
  insn(0x67, 2, 0, 0, 1), // r2 <<= 1
  insn(0x77, 2, 0, 0, 1), // r2 >>= 1
  insn(0x17, 3, 0, 0, 1), // r3 -= 1
  insn(0x55, 3, 0, -7, 0), // if r3 != 0 goto loop
  insn(0x95),
];

const mem: Instruction[] = [
  insn(0xb7, 0, 0, 0, 0),
  insn(0x7b, 10, 0, -8), // *(u64*)(r10-8) = r0
  insn(0xb7, 3, 0, 0, ITER),
  // loop:
  insn(0x79, 2, 10, -8), // r2 = *(u64*)(r10-8)
  insn(0x07, 2, 0, 0, 1), // r2 += 1
  insn(0x7b, 10, 2, -8), // *(u64*)(r10-8) = r2
  insn(0x61, 4, 1, 4), // r4 = *(u32*)(r1+4)
  insn(0x0f, 0, 4), // r0 += r4
  insn(0x63, 10, 4, -16), // *(u32*)(r10-16) = r4
  insn(0x17, 3, 0, 0, 1), // r3 -= 1
  insn(0x55, 3, 0, -8, 0), // if r3 != 0 goto loop
  insn(0x95),
];

// 64-bit multiply and divide of wide values: by a 32-bit divisor (number long division) or by a
// divisor of 2^32 and above (the BigInt fallback).
const wide = (divisor: bigint): Instruction[] => [
  ldImm64(0, 0x1234_5678_9abc_def0n),
  ldImm64(1, 0x0000_0003_0000_0001n),
  ldImm64(4, divisor),
  insn(0xb7, 3, 0, 0, ITER),
  // loop:
  insn(0x2f, 0, 1), // r0 *= r1
  insn(0x47, 0, 0, 0, 0x100), // r0 |= 0x100
  insn(0xbf, 2, 0), // r2 = r0
  insn(0x3f, 2, 4), // r2 /= r4
  insn(0x9f, 2, 4), // r2 %= r4
  insn(0x17, 3, 0, 0, 1), // r3 -= 1
  insn(0x55, 3, 0, -7, 0), // if r3 != 0 goto loop
  insn(0x95),
];

function measure(name: string, prog: Instruction[]): void {
  const memory = new Memory();
  const value = memory.add({ kind: "map-value", name: "value", size: 16 });
  memory.store(value.address(4), 4, 3n);
  const vm = createVm(prog, { memory });
  const opts = { args: [value.address()], budget: 100_000_000 };
  for (let i = 0; i < 3; i++) vm.run(opts); // warm up (tier-up to optimized code)
  let best = Number.POSITIVE_INFINITY;
  let insns = 0;
  for (let i = 0; i < 5; i++) {
    // CPU time of this thread, not wall time: the machine is shared with other jobs
    const c0 = process.cpuUsage();
    const r = vm.run(opts);
    const c = process.cpuUsage(c0);
    insns = r.insns;
    best = Math.min(best, ((c.user + c.system) * 1000) / r.insns);
  }
  console.log(`${name}: ${insns} insns per run, best ${best.toFixed(2)} ns/insn`);
}

measure("ALU loop", alu);
measure("memory loop", mem);
measure("64-bit mul/div loop, 32-bit divisor", wide(1_000_000_007n));
measure("64-bit mul/div loop, 64-bit divisor (BigInt)", wide(0x3_0000_0001n));
