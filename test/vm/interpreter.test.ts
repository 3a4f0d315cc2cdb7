import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { decode } from "../../src/isa/index.js";
import { type Instruction, insn, ldImm64 } from "../../src/isa/instruction.js";
import type { VmHelper } from "../../src/vm/env.js";
import { VmFault } from "../../src/vm/errors.js";
import { createVm, type VmProgram } from "../../src/vm/interpreter.js";
import { Memory, REGION_HI_BASE } from "../../src/vm/memory.js";

const EXIT = insn(0x95);
const mov64 = (d: number, imm: number): Instruction => insn(0xb7, d, 0, 0, imm);
const movReg = (d: number, s: number): Instruction => insn(0xbf, d, s);

function run(insns: Instruction[], opts: { helpers?: VmHelper[]; budget?: number; args?: bigint[] } = {}) {
  const memory = new Memory();
  const vm = createVm(insns, { memory, helpers: opts.helpers });
  return vm.run({ budget: opts.budget, args: opts.args });
}

function faultOf(f: () => unknown): VmFault {
  try {
    f();
  } catch (e) {
    if (e instanceof VmFault) return e;
    throw e;
  }
  throw new Error("expected a VmFault");
}

describe("memory", () => {
  it("stack store/load of every size, and sign-extending loads", () => {
    const r = run([
      ldImm64(1, 0x8182838485868788n),
      insn(0x7b, 10, 1, -8), // *(u64*)(r10-8) = r1
      insn(0x71, 2, 10, -8), // r2 = *(u8*)(r10-8)      = 0x88
      insn(0x69, 3, 10, -8), // r3 = *(u16*)(r10-8)     = 0x8788
      insn(0x61, 4, 10, -8), // r4 = *(u32*)(r10-8)     = 0x85868788
      insn(0x91, 5, 10, -8), // r5 = *(s8*)(r10-8)      = -0x78
      insn(0x89, 6, 10, -6), // r6 = *(s16*)(r10-6)     = 0x8586 sign-extended
      insn(0x81, 7, 10, -4), // r7 = *(s32*)(r10-4)     = 0x81828384 sign-extended
      movReg(0, 2),
      insn(0x0f, 0, 3),
      insn(0x0f, 0, 4),
      insn(0x0f, 0, 5),
      insn(0x0f, 0, 6),
      insn(0x0f, 0, 7),
      EXIT,
    ]);
    const want =
      0x88n +
      0x8788n +
      0x85868788n +
      BigInt.asUintN(64, -0x78n) +
      BigInt.asUintN(64, BigInt.asIntN(16, 0x8586n)) +
      BigInt.asUintN(64, BigInt.asIntN(32, 0x81828384n));
    expect(r.r0).toBe(BigInt.asUintN(64, want));
  });

  it("ST with imm sign-extends for DW and truncates for smaller sizes", () => {
    const r = run([insn(0x7a, 10, 0, -8, -2), insn(0x72, 10, 0, -8, 0x100), insn(0x79, 0, 10, -8), EXIT]);
    expect(r.r0).toBe(0xffffffffffffff00n);
  });

  it("an access beyond the stack is an out-of-bounds fault naming the address", () => {
    const f = faultOf(() => run([insn(0x79, 0, 10, 0), EXIT]));
    expect(f.kind).toBe("out-of-bounds");
    expect(f.insn).toBe(0);
    expect(f.address).toBe((BigInt(REGION_HI_BASE) << 32n) + 512n);
    expect(f.message).toMatch(/stack frame 0\+0x200/);
  });

  it("NULL and scalar dereferences fault", () => {
    expect(faultOf(() => run([mov64(1, 0), insn(0x61, 0, 1, 0), EXIT])).kind).toBe("out-of-bounds");
    expect(faultOf(() => run([mov64(1, 1000), insn(0x63, 1, 1, 4), EXIT])).kind).toBe("out-of-bounds");
    // a pointer truncated by ALU32 loses its region tag
    expect(faultOf(() => run([insn(0xbc, 1, 10), insn(0x61, 0, 1, -4), EXIT])).kind).toBe("out-of-bounds");
  });

  it("a read-only region refuses stores and atomics", () => {
    const memory = new Memory();
    const ro = memory.add({
      kind: "rodata",
      name: ".rodata",
      bytes: new Uint8Array([1, 2, 3, 4]),
      writable: false,
    });
    const load = createVm([insn(0x61, 0, 1, 0), EXIT], { memory });
    expect(load.run({ args: [ro.address()] }).r0).toBe(0x04030201n);
    const store = createVm([insn(0x62, 1, 0, 0, 7), EXIT], { memory });
    const f = faultOf(() => store.run({ args: [ro.address()] }));
    expect(f.kind).toBe("read-only");
    const atomicAdd = createVm([mov64(2, 1), insn(0xc3, 1, 2, 0, 0), EXIT], { memory });
    expect(faultOf(() => atomicAdd.run({ args: [ro.address()] })).kind).toBe("read-only");
  });

  it("a removed region faults afterwards", () => {
    const memory = new Memory();
    const r = memory.add({ kind: "map-value", name: "v", size: 8 });
    const vm = createVm([insn(0x79, 0, 1, 0), EXIT], { memory });
    expect(vm.run({ args: [r.address()] }).r0).toBe(0n);
    memory.remove(r);
    expect(faultOf(() => vm.run({ args: [r.address()] })).kind).toBe("out-of-bounds");
  });

  it("packet pointers: data_meta <= data <= data_end, headroom not accessible", () => {
    const memory = new Memory();
    const p = memory.addPacket(new Uint8Array([0xaa, 0xbb, 0xcc]), { headroom: 16, meta: 4 });
    expect(p.dataEnd - p.data).toBe(3n);
    expect(p.data - p.dataMeta).toBe(4n);
    expect(memory.load(p.data + 2n, 1)).toBe(0xccn);
    expect(memory.load(p.dataMeta, 4)).toBe(0n);
    expect(() => memory.load(p.dataMeta - 1n, 1)).toThrow(VmFault);
    expect(() => memory.load(p.dataEnd, 1)).toThrow(VmFault);
  });
});

describe("atomics", () => {
  // r1 -> 8 bytes of memory holding `init`; run `op`; return mem*1 (low half) plus the fetch register.
  function atomicRun(opcode: number, imm: number, init: bigint, src: bigint, r0: bigint = 0n) {
    const memory = new Memory();
    const cell = memory.add({ kind: "mem", name: "cell", size: 8 });
    memory.store(cell.address(), 8, init);
    const vm = createVm([ldImm64(2, src), ldImm64(0, r0), insn(opcode, 1, 2, 0, imm), EXIT], { memory });
    const res = vm.run({ args: [cell.address()] });
    return { mem: memory.load(cell.address(), 8), r0: res.r0 };
  }
  it("64-bit fetch_add returns the old value in src and adds", () => {
    const memory = new Memory();
    const cell = memory.add({ kind: "mem", name: "cell", size: 8 });
    memory.store(cell.address(), 8, 0xffffffffn);
    const vm = createVm([mov64(2, 1), insn(0xdb, 1, 2, 0, 0x01), movReg(0, 2), EXIT], { memory });
    expect(vm.run({ args: [cell.address()] }).r0).toBe(0xffffffffn);
    expect(memory.load(cell.address(), 8)).toBe(0x100000000n);
  });
  it("32-bit forms touch only 4 bytes", () => {
    const { mem } = atomicRun(0xc3, 0x00, 0x1_ffffffffn, 1n);
    expect(mem).toBe(0x1_00000000n);
  });
  it("cmpxchg compares with r0 and returns the old value in r0", () => {
    expect(atomicRun(0xdb, 0xf1, 5n, 9n, 5n)).toEqual({ mem: 9n, r0: 5n });
    expect(atomicRun(0xdb, 0xf1, 5n, 9n, 6n)).toEqual({ mem: 5n, r0: 5n });
    // 32-bit: compares the low halves, old value zero-extended into r0
    expect(atomicRun(0xc3, 0xf1, 0xaaaa_0000_0005n, 9n, 0xffff_0000_0005n)).toEqual({
      mem: 0xaaaa_0000_0009n,
      r0: 5n,
    });
  });
  it("xchg, and/or/xor", () => {
    expect(atomicRun(0xdb, 0xe1, 5n, 9n).mem).toBe(9n);
    expect(atomicRun(0xdb, 0x50, 0xf0n, 0x3cn).mem).toBe(0x30n);
    expect(atomicRun(0xdb, 0x40, 0xf0n, 0x0fn).mem).toBe(0xffn);
    expect(atomicRun(0xdb, 0xa0, 0xf0n, 0xffn).mem).toBe(0x0fn);
  });
  it("load_acquire and store_release", () => {
    const memory = new Memory();
    const cell = memory.add({ kind: "mem", name: "cell", size: 8 });
    const vm = createVm([mov64(2, 0x1234), insn(0xdb, 1, 2, 0, 0x110), insn(0xcb, 0, 1, 0, 0x100), EXIT], {
      memory,
    });
    expect(vm.run({ args: [cell.address()] }).r0).toBe(0x1234n);
  });
});

describe("control flow", () => {
  it("bpf-to-bpf call: args in r1-r5, r6-r9 preserved, own stack frame", () => {
    const prog = [
      mov64(6, 6),
      insn(0x7a, 10, 0, -8, 77), // caller's stack slot
      mov64(1, 40),
      mov64(2, 2),
      insn(0x85, 0, 1, 0, 3), // call +3
      insn(0x0f, 0, 6), // r0 += r6
      insn(0x79, 1, 10, -8),
      insn(0x0f, 0, 1), // r0 += 77
      EXIT,
      // callee at slot 8... (index 9)
    ];
    // fix the call target: callee starts right after the EXIT above
    prog[4] = insn(0x85, 0, 1, 0, prog.length - 5);
    prog.push(
      mov64(6, 1000), // clobber r6 (restored on return)
      insn(0x7a, 10, 0, -8, 5), // callee frame: does not touch caller's slot
      movReg(0, 1),
      insn(0x0f, 0, 2),
      EXIT,
    );
    expect(run(prog).r0).toBe(42n + 6n + 77n);
  });

  it("every run starts with zeroed stacks, in every frame", () => {
    // main(r1): call sub; sub: r0 = stack[-8]; if r1 != 0 then stack[-8] = 0x55 (main's too)
    const memory = new Memory();
    const vm = createVm(
      [
        insn(0x79, 6, 10, -8),
        insn(0x7a, 10, 0, -8, 0x44),
        insn(0x85, 0, 1, 0, 2),
        insn(0x0f, 0, 6),
        EXIT,
        insn(0x79, 0, 10, -8),
        insn(0x15, 1, 0, 1, 0),
        insn(0x7a, 10, 0, -8, 0x55),
        EXIT,
      ],
      { memory },
    );
    expect(vm.run({ args: [1n] }).r0).toBe(0n);
    expect(vm.stacks[1].bytes[512 - 8]).toBe(0x55);
    expect(vm.run({ args: [0n] }).r0).toBe(0n);
  });

  it("more than 8 frames is a call-depth fault", () => {
    const f = faultOf(() => run([insn(0x85, 0, 1, 0, -1), EXIT]));
    expect(f.kind).toBe("call-depth");
  });

  it("the instruction budget stops an infinite loop", () => {
    const f = faultOf(() => run([insn(0x05, 0, 0, -1, 0), EXIT], { budget: 1000 }));
    expect(f.kind).toBe("budget");
    expect(run([mov64(0, 1), EXIT], { budget: 2 }).insns).toBe(2);
  });

  it("a budget or argument that is not an integer is a usage error, not a hang", () => {
    const vm = createVm([insn(0x05, 0, 0, -1, 0), EXIT], { memory: new Memory() });
    expect(() => vm.run({ budget: Number.NaN })).toThrow(UsageError);
    expect(() => vm.run({ budget: Number.POSITIVE_INFINITY })).toThrow(UsageError);
    expect(() => vm.run({ args: [1.5] })).toThrow(UsageError);
  });

  it("may_goto falls through until its loop budget is spent, then jumps", () => {
    // loop: r0 += 1; may_goto +1; goto loop; exit — runs 8M+1 times
    const prog = [insn(0x07, 0, 0, 0, 1), insn(0xe5, 0, 0, 1, 0), insn(0x05, 0, 0, -3, 0), EXIT];
    const r = run(prog, { budget: 30_000_000 });
    expect(r.r0).toBe(8n * 1024n * 1024n + 1n);
  });

  it("gotol uses imm, ja uses off", () => {
    expect(run([mov64(0, 1), insn(0x06, 0, 0, 0, 1), mov64(0, 2), EXIT]).r0).toBe(1n);
    expect(run([mov64(0, 1), insn(0x05, 0, 0, 1, 0), mov64(0, 2), EXIT]).r0).toBe(1n);
  });

  it("falling off the end or jumping into ld_imm64 is a bad-jump fault", () => {
    expect(faultOf(() => run([mov64(0, 1)])).kind).toBe("bad-jump");
    expect(faultOf(() => run([insn(0x05, 0, 0, 1, 0), ldImm64(0, 1n), EXIT])).kind).toBe("bad-jump");
    expect(faultOf(() => run([insn(0x05, 0, 0, -5, 0), EXIT])).kind).toBe("bad-jump");
  });
});

describe("helpers", () => {
  const add3: VmHelper = { id: 1, name: "add3", fn: (c) => c.arg(1) + c.arg(2) + c.arg(3) };
  const neg: VmHelper = { id: 2, name: "neg", fn: () => -22 };
  it("dispatches by id with r1-r5 and writes r0", () => {
    expect(
      run([mov64(1, 1), mov64(2, 2), mov64(3, -1), insn(0x85, 0, 0, 0, 1), EXIT], { helpers: [add3] }).r0,
    ).toBe(2n);
    expect(run([insn(0x85, 0, 0, 0, 2), EXIT], { helpers: [neg] }).r0).toBe(BigInt.asUintN(64, -22n));
  });
  it("an unknown helper is a fault naming its id", () => {
    const f = faultOf(() => run([insn(0x85, 0, 0, 0, 9999), EXIT]));
    expect(f.kind).toBe("unknown-helper");
    expect(f.message).toBe("insn 0: unknown helper 9999");
    // a kernel helper the environment does not provide is named
    const g = faultOf(() => run([insn(0x85, 0, 0, 0, 1), EXIT]));
    expect(g.message).toBe("insn 0: helper bpf_map_lookup_elem#1 is not in this environment's helper table");
  });
  it("a helper can stop the program", () => {
    const stopper: VmHelper = {
      id: 3,
      name: "stop",
      fn: (c) => {
        c.stop(7n);
        return 0;
      },
    };
    expect(run([insn(0x85, 0, 0, 0, 3), mov64(0, 1), EXIT], { helpers: [stopper] }).r0).toBe(7n);
  });
  it("a helper cannot re-enter the running program", () => {
    const memory = new Memory();
    let target: VmProgram | undefined;
    const reenter: VmHelper = { id: 1, name: "reenter", fn: () => target?.run().r0 ?? 7n };
    const vm = createVm([insn(0x85, 0, 0, 0, 1), EXIT], { memory, helpers: [reenter] });
    target = vm;
    const f = faultOf(() => vm.run());
    expect(f.kind).toBe("helper");
    expect(f.message).toMatch(/already running/);
    // the failed run left the program runnable
    target = undefined;
    expect(vm.run().r0).toBe(7n);
  });

  it("a kfunc call is unsupported", () => {
    expect(faultOf(() => run([insn(0x85, 0, 2, 0, 1234), EXIT])).kind).toBe("unsupported");
  });
});

describe("callbacks (helpers that call program functions)", () => {
  // bpf_loop's contract: call fn(i, ctx) for i < n until it returns non-zero; return the count
  const loop: VmHelper = {
    id: 181,
    name: "loop",
    fn: (c) => {
      const n = Number(c.arg(1));
      let i = 0;
      while (i < n) {
        const r = c.invoke(c.arg(2), [BigInt(i), c.arg(3)]);
        i++;
        if (r !== 0n) break;
      }
      return i;
    },
  };
  // main: sum = 0 on its stack; r0 = loop(10, cb, &sum); return r0 * 1000 + sum + r6 (kept 5)
  const main = [
    mov64(6, 5),
    insn(0x7a, 10, 0, -8, 0),
    mov64(1, 10),
    ldImm64(2, 0n, 4), // imm patched below: the callback
    movReg(3, 10),
    insn(0x07, 3, 0, 0, -8),
    mov64(4, 0),
    insn(0x85, 0, 0, 0, 181),
    insn(0x27, 0, 0, 0, 1000),
    insn(0x79, 1, 10, -8),
    insn(0x0f, 0, 1),
    insn(0x0f, 0, 6),
    EXIT,
  ];
  // callback(i, ctx): *ctx += i; clobbers r6; returns i == 6
  const callback = [
    mov64(6, 99),
    insn(0x79, 3, 2, 0),
    insn(0x0f, 3, 1),
    insn(0x7b, 2, 3, 0),
    mov64(0, 0),
    insn(0x55, 1, 0, 1, 6),
    mov64(0, 1),
    EXIT,
  ];
  // the ld_imm64 is slot 3; main has 14 slots, so the callback starts at slot 14
  main[3] = ldImm64(2, BigInt(14 - 3 - 1), 4);

  it("run in their own frame, with the helper's arguments and the caller's r6-r9 intact", () => {
    const r = run([...main, ...callback], { helpers: [loop] });
    expect(r.r0).toBe(7n * 1000n + (0n + 1n + 2n + 3n + 4n + 5n + 6n) + 5n);
  });

  it("a callback's fault names its instruction; a bad function address is a bad-jump fault", () => {
    const faulty = [...callback];
    faulty[1] = insn(0x79, 3, 2, 4096); // out of the caller's stack
    const f = faultOf(() => run([...main, ...faulty], { helpers: [loop] }));
    expect(f.kind).toBe("out-of-bounds");
    expect(f.insn).toBe(15);
    const bad: VmHelper = { id: 1, name: "bad", fn: (c) => c.invoke(c.arg(1), []) };
    expect(faultOf(() => run([mov64(1, 3), insn(0x85, 0, 0, 0, 1), EXIT], { helpers: [bad] })).kind).toBe(
      "bad-jump",
    );
  });

  it("share the run's budget", () => {
    const spin = [...callback];
    spin[4] = insn(0x05, 0, 0, -1, 0); // loop forever in the callback
    expect(faultOf(() => run([...main, ...spin], { helpers: [loop], budget: 5000 })).kind).toBe("budget");
  });
});

describe("tail calls", () => {
  // tail_call(ctx, table, index): the kernel helper's shape, over a JS array as the prog array
  const tailHelper = (table: VmProgram[]): VmHelper => ({
    id: 12,
    name: "tail_call",
    fn: (c) => {
      const t = table[Number(c.arg(3))];
      return t !== undefined && c.tailCall(t) ? 0 : -2;
    },
  });
  const callTail = (index: number): Instruction[] => [mov64(2, 0), mov64(3, index), insn(0x85, 0, 0, 0, 12)];

  it("replace the program: r1 is the context, r6-r9 and the stack carry over", () => {
    const memory = new Memory();
    const ctx = memory.add({ kind: "ctx", name: "ctx", size: 8 });
    const table: VmProgram[] = [];
    const helpers = [tailHelper(table)];
    const a = createVm(
      [mov64(6, 7), insn(0x7a, 10, 0, -8, 100), ...callTail(0), mov64(0, -1), EXIT],
      { memory, helpers },
      { name: "a" },
    );
    // b: r0 = (r1 == ctx) + r6 + stack[-8]
    const b = createVm(
      [
        ldImm64(2, ctx.address()),
        mov64(0, 0),
        insn(0x5d, 1, 2, 1),
        mov64(0, 1),
        insn(0x0f, 0, 6),
        insn(0x79, 3, 10, -8),
        insn(0x0f, 0, 3),
        EXIT,
      ],
      { memory, helpers },
      { name: "b" },
    );
    table.push(b);
    expect(a.run({ args: [ctx.address()] }).r0).toBe(1n + 7n + 100n);
  });

  it("a failed tail call returns an error and the program goes on; a run chains at most 33", () => {
    const memory = new Memory();
    const counter = memory.add({ kind: "map-value", name: "counter", size: 8 });
    const table: VmProgram[] = [];
    // count the entries in *(u64 *)ctx, then tail-call itself; when that fails return the count
    const self = createVm(
      [
        insn(0x79, 2, 1, 0),
        insn(0x07, 2, 0, 0, 1),
        insn(0x7b, 1, 2, 0),
        insn(0xbf, 6, 2),
        ...callTail(0),
        insn(0xbf, 0, 6),
        EXIT,
      ],
      { memory, helpers: [tailHelper(table)] },
    );
    table.push(self);
    expect(self.run({ args: [counter.address()] }).r0).toBe(34n);
    expect(memory.load(counter.address(), 8)).toBe(34n);
    // an index with no program: the helper's error, then the program continues
    const miss = createVm([...callTail(5), EXIT], { memory, helpers: [tailHelper(table)] });
    expect(miss.run().r0).toBe(BigInt.asUintN(64, -2n));
  });

  it("from a subprogram: the target's exit returns to the subprogram's caller", () => {
    const memory = new Memory();
    const table: VmProgram[] = [];
    const helpers = [tailHelper(table)];
    const main = createVm(
      [insn(0x85, 0, 1, 0, 2), insn(0x07, 0, 0, 0, 2), EXIT, ...callTail(0), mov64(0, -1), EXIT],
      { memory, helpers },
    );
    table.push(createVm([mov64(0, 40), EXIT], { memory, helpers }));
    expect(main.run().r0).toBe(42n);
  });

  it("faults in the target name it", () => {
    const memory = new Memory();
    const table: VmProgram[] = [];
    const helpers = [tailHelper(table)];
    const a = createVm([...callTail(0), EXIT], { memory, helpers }, { name: "a" });
    table.push(createVm([mov64(1, 0), insn(0x79, 0, 1, 0), EXIT], { memory, helpers }, { name: "b" }));
    expect(faultOf(() => a.run()).message).toBe("b: insn 1: read of 8 bytes at invalid address 0x0");
  });
});

describe("ld_imm64 pseudo sources", () => {
  it("are resolved through the environment's resolver", () => {
    const memory = new Memory();
    const vm = createVm([ldImm64(0, 5n, 2), EXIT], {
      memory,
      resolveLdImm64: (i) => (i.src === 2 ? 0xdead_0000_beefn : undefined),
    });
    expect(vm.run().r0).toBe(0xdead_0000_beefn);
  });
  it("fault when unresolved, only if executed", () => {
    const f = faultOf(() => run([ldImm64(0, 5n, 1), EXIT]));
    expect(f.kind).toBe("unresolved");
    expect(run([mov64(0, 3), EXIT, ldImm64(0, 5n, 1), EXIT]).r0).toBe(3n);
  });
});

describe("LD_ABS / LD_IND", () => {
  const pkt = new Uint8Array([0x11, 0x22, 0x33, 0x44, 0x55, 0x66]);
  function runPkt(prog: Instruction[]): bigint {
    const memory = new Memory();
    const p = memory.addPacket(pkt);
    return createVm(prog, { memory }).run({ packet: p.region }).r0;
  }
  it("loads big-endian from the packet's data", () => {
    expect(runPkt([insn(0x20, 0, 0, 0, 1), EXIT])).toBe(0x22334455n);
    expect(runPkt([insn(0x28, 0, 0, 0, 4), EXIT])).toBe(0x5566n);
    expect(runPkt([insn(0x30, 0, 0, 0, 5), EXIT])).toBe(0x66n);
    expect(runPkt([mov64(7, 2), insn(0x48, 0, 7, 0, 1), EXIT])).toBe(0x4455n);
  });
  it("out of the packet ends the program with r0 = 0", () => {
    expect(runPkt([mov64(0, 9), insn(0x20, 0, 0, 0, 3), mov64(0, 1), EXIT])).toBe(0n);
    expect(runPkt([mov64(7, -1), insn(0x50, 0, 7, 0, 0), mov64(0, 1), EXIT])).toBe(0n);
  });
});

describe("fault reports", () => {
  it("carry the source line the caller maps the slot to", () => {
    const vm = createVm(
      [ldImm64(1, 0n), insn(0x79, 0, 1, 0), EXIT],
      { memory: new Memory() },
      {
        sourceOf: (slot) => (slot === 2 ? { file: "prog.c", line: 12, text: "return *p;" } : undefined),
      },
    );
    const f = faultOf(() => vm.run());
    expect(f.insn).toBe(2);
    expect(f.source?.line).toBe(12);
    expect(f.message).toBe("insn 2: read of 8 bytes at invalid address 0x0 (prog.c:12)");
  });
  it("LD_ABS without a packet is unsupported, not a silent 0", () => {
    expect(faultOf(() => run([insn(0x20, 0, 0, 0, 0), EXIT])).kind).toBe("unsupported");
  });
  it("a helper that throws something else becomes a helper fault at the call", () => {
    const bad: VmHelper = {
      id: 1,
      name: "bad",
      fn: () => {
        throw new RangeError("boom");
      },
    };
    const f = faultOf(() => run([mov64(0, 0), insn(0x85, 0, 0, 0, 1), EXIT], { helpers: [bad] }));
    expect(f.kind).toBe("helper");
    expect(f.insn).toBe(1);
    expect(f.message).toContain("boom");
  });
});

describe("strict check and invalid instructions", () => {
  it("refuses reserved fields when created (strict), names the instruction", () => {
    const f = faultOf(() => createVm([mov64(0, 0), insn(0x07, 0, 0, 1, 1), EXIT], { memory: new Memory() }));
    expect(f.kind).toBe("invalid-insn");
    expect(f.insn).toBe(1);
  });
  it("fields outside their encoding are refused when created, strict or not", () => {
    for (const bad of [
      insn(0x1b7, 0),
      insn(0xb7, 16),
      insn(0xb7, -1),
      insn(0x05, 0, 0, 0x8000),
      insn(0xb7, 0, 0, 0, 2 ** 32),
      insn(0xb7, 0, 0, 0, 0.5),
    ]) {
      const f = faultOf(() => createVm([bad, EXIT], { memory: new Memory() }, { strict: false }));
      expect(f.kind).toBe("invalid-insn");
      expect(f.message).toMatch(/out of range/);
    }
    // the unsigned spelling of an immediate is the same instruction
    expect(run([insn(0xb7, 0, 0, 0, 0xffffffff), EXIT]).r0).toBe(BigInt.asUintN(64, -1n));
  });

  it("non-strict: unknown opcodes fault only when executed", () => {
    const vm = createVm([insn(0xff), EXIT], { memory: new Memory() }, { strict: false });
    expect(faultOf(() => vm.run()).kind).toBe("invalid-insn");
  });
});

describe("robustness", () => {
  it("random instruction streams end in r0 or a VmFault, never another error or a hang", () => {
    const helpers: VmHelper[] = [
      { id: 1, name: "h", fn: (c) => c.arg(1) },
      { id: 2, name: "callback", fn: (c) => c.invoke(c.arg(1), [c.arg(2)]) },
      {
        id: 3,
        name: "slice",
        fn: (c) => c.memory.slice(c.arg(1), Number(c.arg(2) & 0xffffn) - 8, true).length,
      },
    ];
    const slot = fc.record({
      opcode: fc.oneof(
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom(0x85, 0x95, 0x18, 0x05, 0xe5, 0xdb, 0xc3),
      ),
      regs: fc.integer({ min: 0, max: 255 }),
      off: fc.oneof(fc.integer({ min: -0x8000, max: 0x7fff }), fc.integer({ min: -4, max: 4 })),
      imm: fc.oneof(fc.integer({ min: -0x80000000, max: 0x7fffffff }), fc.integer({ min: -4, max: 64 })),
    });
    fc.assert(
      fc.property(fc.array(slot, { minLength: 1, maxLength: 40 }), fc.boolean(), (slots, strict) => {
        const bytes = new Uint8Array(slots.length * 8);
        const view = new DataView(bytes.buffer);
        slots.forEach((s, i) => {
          view.setUint8(i * 8, s.opcode);
          view.setUint8(i * 8 + 1, s.regs);
          view.setInt16(i * 8 + 2, s.off, true);
          view.setInt32(i * 8 + 4, s.imm, true);
        });
        const insns = decode(bytes);
        const memory = new Memory();
        const mem = memory.add({ kind: "mem", name: "mem", size: 64 });
        try {
          const vm = createVm(insns, { memory, helpers }, { strict });
          vm.run({ args: [mem.address(), 64n], budget: 10_000 });
        } catch (e) {
          if (!(e instanceof VmFault)) throw e;
        }
      }),
      { numRuns: 5000 },
    );
  });
});
