/**
 * The fast path (engine "jit") against the interpreter, the reference: the whole bpf_conformance
 * suite (all 64 bits of r0), random instruction streams (identical r0, budget used, memory, or
 * identical fault kind, slot and detail; never a hang) and random valid ALU/JMP/stack/atomic
 * programs in a counted loop.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { assemble, parseConformanceData } from "../../src/isa/asm/index.js";
import { decode } from "../../src/isa/codec.js";
import { type Instruction, insn, ldImm64 } from "../../src/isa/instruction.js";
import { compile as compileCode } from "../../src/vm/code.js";
import { runConformance } from "../../src/vm/conformance.js";
import type { VmHelper } from "../../src/vm/env.js";
import { VmFault } from "../../src/vm/errors.js";
import { createVm, type VmEngine } from "../../src/vm/interpreter.js";
import { jitSource } from "../../src/vm/jit.js";
import { Memory } from "../../src/vm/memory.js";

const SUITE = "/work/shared/bpf_conformance";
const testFiles = readdirSync(join(SUITE, "tests"))
  .filter((f) => f.endsWith(".data"))
  .sort();

function programOf(file: string): { insns: Instruction[]; mem?: Uint8Array; result?: bigint } {
  const text = readFileSync(file, "utf8");
  const data = parseConformanceData(text, { file });
  const insns =
    data.asm !== undefined
      ? assemble(data.asm, { syntax: "conformance", file })
      : decode(data.raw ?? new Uint8Array());
  return { insns, mem: data.mem, result: data.result };
}

describe("bpf_conformance tests/ on the fast path", () => {
  it("has the 313 files of the suite", () => {
    expect(testFiles.length).toBe(313);
  });

  it.each(testFiles)("%s", (f) => {
    const { insns, mem, result } = programOf(join(SUITE, "tests", f));
    expect(result).toBeDefined();
    const r = runConformance(insns, mem, { engine: "jit" });
    expect(`0x${r.r0.toString(16)}`).toBe(`0x${(result ?? 0n).toString(16)}`);
    // and the same instruction count as the interpreter
    expect(r.insns).toBe(runConformance(insns, mem).insns);
  });

  it("the fast path compiles straight-line code into blocks and hands calls back", () => {
    const { insns } = programOf(join(SUITE, "tests", "call_local.data"));
    const src = jitSource(compileCode(insns, { memory: new Memory() }, true), [0]);
    expect(src).toMatch(/case 0:if\(left<\d+\)/);
    expect(src).toMatch(/return \d+;/); // the call slot goes back to the interpreter
  });
});

type Outcome =
  | { readonly r0: bigint; readonly insns: number; readonly mem: string }
  | { readonly fault: string };

function outcome(insns: readonly Instruction[], engine: VmEngine, strict: boolean, budget: number): Outcome {
  const helpers: VmHelper[] = [
    { id: 1, name: "h", fn: (c) => c.arg(1) },
    { id: 2, name: "callback", fn: (c) => c.invoke(c.arg(1), [c.arg(2)]) },
    {
      id: 3,
      name: "slice",
      fn: (c) => c.memory.slice(c.arg(1), Number(c.arg(2) & 0xffffn) - 8, true).length,
    },
  ];
  const memory = new Memory();
  const mem = memory.add({ kind: "mem", name: "mem", size: 64 });
  const ro = memory.add({ kind: "rodata", name: "ro", size: 16, writable: false });
  let vm: ReturnType<typeof createVm>;
  try {
    vm = createVm(insns, { memory, helpers }, { strict, engine });
  } catch (e) {
    if (!(e instanceof VmFault)) throw e;
    return { fault: `${e.kind} @${e.insn}: ${e.detail}` };
  }
  try {
    // a first run with other arguments, whatever it does: the run compared must start from
    // the same state however the last one ended (the fast path's fresh entry skips L/H)
    vm.run({ args: [ro.address(4), -1n, mem.address(8), 3n, -7n], budget: Math.floor(budget / 2) });
  } catch (e) {
    if (!(e instanceof VmFault)) throw e;
  }
  mem.bytes.fill(0);
  try {
    const r = vm.run({ args: [mem.address(), 64n, ro.address(8)], budget });
    return { r0: r.r0, insns: r.insns, mem: Buffer.from(mem.bytes).toString("hex") };
  } catch (e) {
    if (!(e instanceof VmFault)) throw e;
    return { fault: `${e.kind} @${e.insn}: ${e.detail}` };
  }
}

function streamOf(
  slots: readonly { opcode: number; regs: number; off: number; imm: number }[],
): Instruction[] {
  const bytes = new Uint8Array(slots.length * 8);
  const view = new DataView(bytes.buffer);
  slots.forEach((s, i) => {
    view.setUint8(i * 8, s.opcode);
    view.setUint8(i * 8 + 1, s.regs);
    view.setInt16(i * 8 + 2, s.off, true);
    view.setInt32(i * 8 + 4, s.imm, true);
  });
  return decode(bytes);
}

describe("fast path = interpreter", () => {
  it("random instruction streams: same r0, budget, memory, or the same fault; never a hang", () => {
    const slot = fc.record({
      opcode: fc.oneof(
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom(
          0x85,
          0x95,
          0x18,
          0x05,
          0xe5,
          0xdb,
          0xc3,
          0x61,
          0x79,
          0x7b,
          0x73,
          0x71,
          0x62,
          0x55,
          0xb7,
        ),
      ),
      regs: fc.oneof(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 3 }).map((x) => x * 0x11),
      ),
      off: fc.oneof(fc.integer({ min: -0x8000, max: 0x7fff }), fc.integer({ min: -4, max: 4 })),
      imm: fc.oneof(fc.integer({ min: -0x80000000, max: 0x7fffffff }), fc.integer({ min: -4, max: 64 })),
    });
    fc.assert(
      fc.property(
        fc.array(slot, { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 300 }),
        (slots, strict, budget) => {
          const insns = streamOf(slots);
          expect(outcome(insns, "jit", strict, budget)).toEqual(outcome(insns, "interp", strict, budget));
        },
      ),
      { numRuns: 4000 },
    );
  });

  it("random valid ALU/JMP/stack/atomic programs in a counted loop give the same result", () => {
    fc.assert(
      fc.property(programArb, fc.integer({ min: 1, max: 5 }), (body, iters) => {
        const prog = loopOf(body, iters);
        const a = outcome(prog, "interp", true, 1_000_000);
        expect("fault" in a ? a.fault : "").toBe("");
        expect(outcome(prog, "jit", true, 1_000_000)).toEqual(a);
      }),
      { numRuns: 1500 },
    );
  });

  it("large programs (several chunk functions) give the same result", () => {
    const big = fc
      .integer({ min: 300, max: 600 })
      .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => bodyInsn(Math.min(40, n - 1 - i)))));
    fc.assert(
      fc.property(
        big,
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 3000 }),
        (body, iters, budget) => {
          const prog = loopOf(body, iters);
          const src = jitSource(compileCode(prog, { memory: new Memory() }, true), [0]);
          expect(src).toContain("function c1(");
          expect(outcome(prog, "jit", true, 1_000_000)).toEqual(outcome(prog, "interp", true, 1_000_000));
          expect(outcome(prog, "jit", true, budget)).toEqual(outcome(prog, "interp", true, budget));
        },
      ),
      { numRuns: 40 },
    );
  });

  it("budgets above 2^31 (handed to compiled code in int32 parts) count the same", () => {
    const loop = loopOf([insn(0x07, 0, 0, 0, 3), insn(0xaf, 1, 0)], 1000);
    // main calls sub and a callback through a helper: both run compiled code with views of their own
    const calls: Instruction[] = [
      insn(0xb7, 6, 0, 0, 5),
      insn(0xb7, 1, 0, 0, 7),
      insn(0x85, 0, 1, 0, 11 - 3),
      insn(0x0f, 0, 6),
      insn(0xbf, 7, 0),
      ldImm64(1, 11n - 6n, 4),
      insn(0xb7, 2, 0, 0, 11),
      insn(0x85, 0, 0, 0, 2),
      insn(0x0f, 0, 7),
      insn(0x95),
      insn(0xbf, 0, 1),
      insn(0x27, 0, 0, 0, 3),
      insn(0xb7, 6, 0, 0, 99),
      insn(0x95),
    ];
    for (const prog of [loop, calls]) {
      for (const budget of [2 ** 31 - 2, 2 ** 31, 2 ** 32 + 7, 2 ** 53 - 1]) {
        const a = outcome(prog, "interp", true, budget);
        expect("fault" in a ? a.fault : "").toBe("");
        expect(outcome(prog, "jit", true, budget)).toEqual(a);
      }
    }
  });

  it("a budget that runs out inside a block faults at the same slot", () => {
    const prog = loopOf([insn(0x07, 0, 0, 0, 3), insn(0xaf, 1, 0)], 1000);
    for (const budget of [0, 1, 5, 17, 100, 101, 102, 103]) {
      expect(outcome(prog, "jit", true, budget)).toEqual(outcome(prog, "interp", true, budget));
    }
  });

  it("bpf-to-bpf calls, helper calls and callbacks across compiled code", () => {
    // main: r6 = 5; r0 = sub(7); r0 += r6; r7 = r0; r0 = callback(sub, 11); r0 += r7; exit
    // slots: the ld_imm64 at slot 5 takes two, so sub starts at slot 11
    const prog: Instruction[] = [
      insn(0xb7, 6, 0, 0, 5),
      insn(0xb7, 1, 0, 0, 7),
      insn(0x85, 0, 1, 0, 11 - 3), // call sub
      insn(0x0f, 0, 6),
      insn(0xbf, 7, 0),
      ldImm64(1, 11n - 6n, 4), // r1 = &sub
      insn(0xb7, 2, 0, 0, 11),
      insn(0x85, 0, 0, 0, 2), // helper 2 invokes r1 with r2
      insn(0x0f, 0, 7),
      insn(0x95),
      // sub: r0 = r1 * 3, clobbers r6
      insn(0xbf, 0, 1),
      insn(0x27, 0, 0, 0, 3),
      insn(0xb7, 6, 0, 0, 99),
      insn(0x95),
    ];
    const a = outcome(prog, "interp", true, 1000);
    expect(a).toMatchObject({ r0: BigInt(7 * 3 + 5 + 11 * 3) });
    expect(outcome(prog, "jit", true, 1000)).toEqual(a);
  });
});

describe("fast path: tail calls and legacy packet loads", () => {
  function tailChain(engine: VmEngine): { r0: bigint; insns: number } {
    const memory = new Memory();
    let target: ReturnType<typeof createVm> | undefined;
    const helpers: VmHelper[] = [
      { id: 12, name: "tail_call", fn: (c) => (target !== undefined && c.tailCall(target) ? 0 : -2) },
    ];
    // target: r0 = r1 + r6 (r6 survives the tail call), counts down r7 and tail-calls itself
    const self: Instruction[] = [
      insn(0x07, 6, 0, 0, 10),
      insn(0x17, 7, 0, 0, 1),
      insn(0x15, 7, 0, 1, 0), // if r7 == 0 skip the call
      insn(0x85, 0, 0, 0, 12),
      insn(0xbf, 0, 1),
      insn(0x0f, 0, 6),
      insn(0x95),
    ];
    target = createVm(self, { memory, helpers }, { engine });
    const main = createVm(
      [
        insn(0xb7, 6, 0, 0, 1),
        insn(0xb7, 7, 0, 0, 40),
        insn(0x85, 0, 0, 0, 12),
        insn(0xb7, 0, 0, 0, 99),
        insn(0x95),
      ],
      { memory, helpers },
      { engine },
    );
    const r = main.run({ args: [1000n] });
    return { r0: r.r0, insns: r.insns };
  }

  it("a chain of tail calls stops at 33 the same way", () => {
    const a = tailChain("interp");
    // main's 3 insns, 32 target runs of 4 that tail-call again, then the 33rd run: its 34th
    // tail call is refused and it goes on (7 insns); r6 = 1 + 33 * 10
    expect(a).toEqual({ r0: 1000n + 331n, insns: 3 + 32 * 4 + 7 });
    expect(tailChain("jit")).toEqual(a);
  });

  it("a helper that stops the program from compiled code ends the run the same way", () => {
    const run = (engine: VmEngine): { r0: bigint; insns: number } => {
      const helpers: VmHelper[] = [
        {
          id: 5,
          name: "stop",
          fn: (c) => {
            if (c.arg(1) === 3n) c.stop(40n + c.arg(2));
            return 0;
          },
        },
      ];
      // r6 counts down from 5; at r6 == 3 the helper stops the run with r0 = 40 + r6
      const prog: Instruction[] = [
        insn(0xb7, 6, 0, 0, 5),
        insn(0xbf, 1, 6),
        insn(0xbf, 2, 6),
        insn(0x85, 0, 0, 0, 5),
        insn(0x17, 6, 0, 0, 1),
        insn(0x55, 6, 0, -5, 0),
        insn(0xb7, 0, 0, 0, 1),
        insn(0x95),
      ];
      const r = createVm(prog, { memory: new Memory(), helpers }, { engine }).run();
      return { r0: r.r0, insns: r.insns };
    };
    const a = run("interp");
    expect(a).toEqual({ r0: 43n, insns: 1 + 3 * 3 + 2 * 2 });
    expect(run("jit")).toEqual(a);
  });

  it("LD_ABS / LD_IND in and out of the packet", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0x20, 0x28, 0x30, 0x40, 0x48, 0x50),
        fc.integer({ min: -8, max: 40 }),
        fc.integer({ min: -4, max: 8 }),
        (op, k, x) => {
          const run = (engine: VmEngine): Outcome => {
            const memory = new Memory();
            const pkt = memory.addPacket(Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1));
            const prog = [
              insn(0xb7, 2, 0, 0, x),
              insn(0xb7, 0, 0, 0, 5),
              insn(op, 0, 2, 0, k),
              insn(0x07, 0, 0, 0, 1),
              insn(0x95),
            ];
            try {
              const r = createVm(prog, { memory }, { engine }).run({ packet: pkt.region });
              return { r0: r.r0, insns: r.insns, mem: "" };
            } catch (e) {
              if (!(e instanceof VmFault)) throw e;
              return { fault: `${e.kind} @${e.insn}: ${e.detail}` };
            }
          };
          expect(run("jit")).toEqual(run("interp"));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("fast path: every ALU result under every comparison", () => {
  // One ALU operation on r1 (from random or boundary 64-bit values), then each of the 22
  // conditional jumps (JMP and JMP32, imm and register forms) against a boundary value sets a
  // bit of r0 when not taken: any register value the fast path keeps in a wrong representation
  // (not wrapped to int32) shows up in some comparison.
  const boundary = fc.constantFrom(0, 1, -1, 0x7fffffff, -0x80000000, 0xffff, 5, -5);
  const wide = fc.oneof(
    fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    fc.constantFrom(
      0n,
      1n,
      0x7fffffffn,
      0x80000000n,
      0xffffffffn,
      0x100000000n,
      0x7fffffffffffffffn,
      1n << 63n,
      (1n << 64n) - 1n,
    ),
  );
  const CODES = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0];
  it("same bits in both engines", () => {
    fc.assert(
      fc.property(
        wide,
        wide,
        fc.constantFrom(0x04, 0x07),
        fc.constantFrom(0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0),
        fc.boolean(),
        fc.integer({ min: -0x80000000, max: 0x7fffffff }),
        fc.boolean(),
        boundary,
        (a, b, cls, code, x, k, signed, c) => {
          let alu: Instruction;
          if (code === 0x80) alu = insn(cls | code, 1);
          else if (code === 0xd0)
            alu = insn(cls === 0x04 ? 0xdc : 0xd7, 1, 0, 0, [16, 32, 64][Math.abs(k) % 3] ?? 64);
          else {
            const off = (code === 0x30 || code === 0x90) && signed ? 1 : 0;
            alu = x ? insn(cls | code | 0x08, 1, 2, off) : insn(cls | code, 1, 0, off, k);
          }
          const prog: Instruction[] = [
            ldImm64(1, a),
            ldImm64(2, b),
            insn(0xb7, 3, 0, 0, c),
            alu,
            insn(0xb7, 0, 0, 0, 0),
          ];
          let bit = 0;
          for (const cl of [0x05, 0x06]) {
            for (const jc of CODES) {
              for (const reg of [false, true]) {
                const j = reg ? insn(cl | jc | 0x08, 1, 3, 1) : insn(cl | jc, 1, 0, 1, c);
                prog.push(j, insn(0x47, 0, 0, 0, 1 << (bit % 31)));
                bit++;
              }
            }
          }
          prog.push(insn(0x7b, 10, 1, -8), insn(0x79, 4, 10, -8), insn(0xaf, 0, 4), insn(0x95));
          expect(outcome(prog, "jit", true, 10_000)).toEqual(outcome(prog, "interp", true, 10_000));
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe("VmHelperCall.argHi / argLo", () => {
  it("are the halves of arg()", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.constantFrom<VmEngine>("interp", "jit"),
        (v, engine) => {
          let seen: [bigint, number, number] | undefined;
          const helpers: VmHelper[] = [
            {
              id: 1,
              name: "h",
              fn: (c) => {
                seen = [c.arg(3), c.argHi(3), c.argLo(3)];
                return 0;
              },
            },
          ];
          createVm(
            [ldImm64(3, v), insn(0x85, 0, 0, 0, 1), insn(0x95)],
            { memory: new Memory(), helpers },
            { engine },
          ).run();
          expect(seen).toEqual([v, Number(v >> 32n), Number(v & 0xffffffffn)]);
        },
      ),
      { numRuns: 200 },
    );
  });
});

// ---- random valid programs ----

const reg = fc.integer({ min: 0, max: 5 });
const imm = fc.oneof(
  fc.integer({ min: -0x80000000, max: 0x7fffffff }),
  fc.constantFrom(-1, 1, 0x7fffffff, -0x80000000, 0xffff, 0, 32, 63),
  fc.integer({ min: -9, max: 9 }),
);
const sizeBits = (n: number): number => ({ 1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18 })[n] ?? 0;
const stackSlot = (n: number) => fc.integer({ min: 1, max: 64 / n }).map((k) => -k * n);

const bodyInsn = (remaining: number): fc.Arbitrary<Instruction> => {
  const alu = fc
    .record({
      cls: fc.constantFrom(0x04, 0x07),
      code: fc.constantFrom(0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0),
      x: fc.boolean(),
      d: reg,
      s: reg,
      imm,
      signed: fc.boolean(),
    })
    .map(({ cls, code, x, d, s, imm, signed }) => {
      if (code === 0x80) return insn(cls | code, d);
      const off = (code === 0x30 || code === 0x90) && signed ? 1 : 0;
      return x ? insn(cls | code | 0x08, d, s, off) : insn(cls | code, d, 0, off, imm);
    });
  const movsx = fc
    .record({ cls: fc.constantFrom(0x04, 0x07), bits: fc.constantFrom(8, 16, 32), d: reg, s: reg })
    .map(({ cls, bits, d, s }) =>
      insn(cls === 0x04 ? 0xbc : 0xbf, d, s, cls === 0x04 && bits === 32 ? 16 : bits),
    );
  const end = fc
    .record({ op: fc.constantFrom(0xd4, 0xdc, 0xd7), w: fc.constantFrom(16, 32, 64), d: reg })
    .map(({ op, w, d }) => insn(op, d, 0, 0, w));
  const size = fc.constantFrom(1, 2, 4, 8);
  const stx = size.chain((n) =>
    fc.record({ d: reg, off: stackSlot(n) }).map(({ d, off }) => insn(0x63 | sizeBits(n), 10, d, off)),
  );
  const st = size.chain((n) =>
    fc.record({ off: stackSlot(n), imm }).map(({ off, imm }) => insn(0x62 | sizeBits(n), 10, 0, off, imm)),
  );
  const ldx = fc
    .record({ n: size, sx: fc.boolean(), d: reg })
    .chain(({ n, sx, d }) =>
      stackSlot(n).map((off) => insn((sx && n !== 8 ? 0x81 : 0x61) | sizeBits(n), d, 10, off)),
    );
  const atomic = fc
    .record({
      n: fc.constantFrom(4, 8),
      op: fc.constantFrom(0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1),
      s: reg,
    })
    .chain(({ n, op, s }) => stackSlot(n).map((off) => insn(n === 4 ? 0xc3 : 0xdb, 10, s, off, op)));
  const jmp = fc
    .record({
      cls: fc.constantFrom(0x05, 0x06),
      code: fc.constantFrom(0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0),
      x: fc.boolean(),
      d: reg,
      s: reg,
      imm,
      off: fc.integer({ min: 0, max: Math.max(0, remaining) }),
    })
    .map(({ cls, code, x, d, s, imm, off }) =>
      x ? insn(cls | code | 0x08, d, s, off) : insn(cls | code, d, 0, off, imm),
    );
  const mem = fc.oneof(stx, st, ldx, atomic);
  return remaining > 0
    ? fc.oneof(
        { arbitrary: alu, weight: 6 },
        movsx,
        end,
        { arbitrary: jmp, weight: 2 },
        { arbitrary: mem, weight: 3 },
      )
    : fc.oneof(alu, movsx, end, mem);
};

const programArb = fc
  .integer({ min: 1, max: 24 })
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => bodyInsn(n - 1 - i))));

/**
 * r0..r5 from the memory region (r1 points at it), the body run `iters` times (r9 counts), and
 * r0..r5 stored back into the memory; r0 = r0 ^ r1 at exit.
 */
function loopOf(body: readonly Instruction[], iters: number): Instruction[] {
  const pre = [
    insn(0xbf, 6, 1), // r6 = mem
    ...Array.from({ length: 8 }, (_, i) => insn(0x7a, 10, 0, -8 * (i + 1), i * 0x1111)),
    ...Array.from({ length: 6 }, (_, i) => insn(0xb7, i, 0, 0, i * 0x01020304 + 7)),
    insn(0xb7, 9, 0, 0, iters),
  ];
  const post = [
    insn(0x17, 9, 0, 0, 1),
    insn(0x55, 9, 0, -(body.length + 2), 0), // if r9 != 0 goto body
    ...Array.from({ length: 6 }, (_, i) => insn(0x7b, 6, i, 8 * i)),
    insn(0xaf, 0, 1),
    insn(0x95),
  ];
  return [...pre, ...body, ...post];
}
