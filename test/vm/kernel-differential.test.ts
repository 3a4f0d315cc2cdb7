/**
 * The kernel as the oracle: random straight-line ALU/ALU32 programs with forward conditional
 * jumps, stack stores/loads and atomics run in the kernel (an XDP program under BPF_PROG_TEST_RUN) and in the VM; all six
 * registers the body touched are stored into the packet, and the packets must agree bit for bit.
 * The VM's context for the run is a region whose hooks answer xdp_md.data / data_end as the
 * kernel's context rewriting does.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Instruction, insn, ldImm64 } from "../../src/isa/instruction.js";
import { createMap, loadBtf, loadProgram, mapUpdate, testRun } from "../../src/loader/bpf.js";
import type { VmHelper } from "../../src/vm/env.js";
import { createVm, MAX_TAIL_CALLS, type VmProgram } from "../../src/vm/interpreter.js";
import { Memory } from "../../src/vm/memory.js";
import { testRunUnavailable } from "./kernel-probe.js";

const XDP = 6;
const XDP_PASS = 2;
const PKT = 128;
const OUT = 48; // r0..r5 are stored at OUT + 8 * i

const unavailable = testRunUnavailable();

/** One body instruction: ALU on r0..r5 (never r6, which holds the packet pointer) or a jump. */
const body = (remaining: number): fc.Arbitrary<Instruction> => {
  const reg = fc.integer({ min: 0, max: 5 });
  const imm = fc.oneof(
    fc.integer({ min: -0x80000000, max: 0x7fffffff }),
    fc.constantFrom(-1, 1, 0x7fffffff, -0x80000000, 0xffff),
    fc.integer({ min: -9, max: 9 }),
  );
  const aluCode = fc.constantFrom(
    0x00,
    0x10,
    0x20,
    0x30,
    0x40,
    0x50,
    0x60,
    0x70,
    0x80,
    0x90,
    0xa0,
    0xb0,
    0xc0,
  );
  const alu = fc
    .record({
      cls: fc.constantFrom(0x04, 0x07),
      code: aluCode,
      x: fc.boolean(),
      d: reg,
      s: reg,
      imm,
      signed: fc.boolean(),
    })
    .map(({ cls, code, x, d, s, imm, signed }): Instruction => {
      const width = cls === 0x07 ? 64 : 32;
      if (code === 0x80) return insn(cls | code, d);
      const off = (code === 0x30 || code === 0x90) && signed ? 1 : 0;
      if (x) return insn(cls | code | 0x08, d, s, off);
      let k = imm;
      if (code === 0x60 || code === 0x70 || code === 0xc0) k = ((k % width) + width) % width;
      if ((code === 0x30 || code === 0x90) && k === 0) k = 7;
      return insn(cls | code, d, 0, off, k);
    });
  const movsx = fc
    .record({ cls: fc.constantFrom(0x04, 0x07), bits: fc.constantFrom(8, 16, 32), d: reg, s: reg })
    .map(({ cls, bits, d, s }) =>
      insn(cls === 0x04 ? 0xbc : 0xbf, d, s, cls === 0x04 && bits === 32 ? 16 : bits),
    );
  const end = fc
    .record({ op: fc.constantFrom(0xd4, 0xdc, 0xd7), w: fc.constantFrom(16, 32, 64), d: reg })
    .map(({ op, w, d }) => insn(op, d, 0, 0, w));
  // stack traffic: stores, (sign-extending) loads and atomics on r10-relative, aligned slots
  const size = fc.constantFrom(1, 2, 4, 8);
  const sizeBits = (n: number): number => ({ 1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18 })[n] ?? 0;
  const slot = (n: number) => fc.integer({ min: 1, max: 64 / n }).map((k) => -k * n);
  const stx = size.chain((n) =>
    fc.record({ d: reg, off: slot(n) }).map(({ d, off }) => insn(0x63 | sizeBits(n), 10, d, off)),
  );
  const st = size.chain((n) =>
    fc.record({ off: slot(n), imm }).map(({ off, imm }) => insn(0x62 | sizeBits(n), 10, 0, off, imm)),
  );
  const ldx = fc
    .record({ n: size, sx: fc.boolean(), d: reg })
    .chain(({ n, sx, d }) =>
      slot(n).map((off) => insn((sx && n !== 8 ? 0x81 : 0x61) | sizeBits(n), d, 10, off)),
    );
  const atomic = fc
    .record({
      n: fc.constantFrom(4, 8),
      op: fc.constantFrom(0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1),
      s: reg,
    })
    .chain(({ n, op, s }) => slot(n).map((off) => insn(n === 4 ? 0xc3 : 0xdb, 10, s, off, op)));
  const mem = fc.oneof(stx, st, ldx, atomic);
  const jmpCode = fc.constantFrom(0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0);
  const jmp = fc
    .record({
      cls: fc.constantFrom(0x05, 0x06),
      code: jmpCode,
      x: fc.boolean(),
      d: reg,
      s: reg,
      imm,
      off: fc.integer({ min: 0, max: Math.max(0, remaining) }),
    })
    .map(({ cls, code, x, d, s, imm, off }) =>
      x ? insn(cls | code | 0x08, d, s, off) : insn(cls | code, d, 0, off, imm),
    );
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
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => body(n - 1 - i))));

function wrap(bodyInsns: readonly Instruction[]): Instruction[] {
  const prologue = [
    insn(0x61, 6, 1, 0), // r6 = ctx->data
    insn(0x61, 7, 1, 4), // r7 = ctx->data_end
    insn(0xbf, 8, 6),
    insn(0x07, 8, 0, 0, PKT),
    insn(0x2d, 8, 7, 8 + 6 + bodyInsns.length + 6, 0), // if r8 > r7 goto out
    ...Array.from({ length: 8 }, (_, i) => insn(0x7a, 10, 0, -8 * (i + 1), 0)), // zero 64 bytes of stack
    ...Array.from({ length: 6 }, (_, i) => insn(0x79, i, 6, 8 * i)), // r0..r5 = packet[8i]
  ];
  const epilogue = [
    ...Array.from({ length: 6 }, (_, i) => insn(0x7b, 6, i, OUT + 8 * i)),
    insn(0xb7, 0, 0, 0, XDP_PASS), // out:
    insn(0x95),
  ];
  return [...prologue, ...bodyInsns, ...epilogue];
}

/**
 * main: body1, then a bpf-to-bpf call of sub with r1-r5 as body1 left them; r7-r9 keep copies of
 * r0-r2 across the call; after it, r0 (sub's result), r7-r9 and two of main's stack slots go to
 * the packet. sub zeroes its own stack, clobbers r6-r9 and runs body2 from r0 = r1.
 */
function wrapWithCall(body1: readonly Instruction[], body2: readonly Instruction[]): Instruction[] {
  const zeroStack = Array.from({ length: 8 }, (_, i) => insn(0x7a, 10, 0, -8 * (i + 1), 0));
  const head = [insn(0x61, 6, 1, 0), insn(0x61, 7, 1, 4), insn(0xbf, 8, 6), insn(0x07, 8, 0, 0, PKT)];
  const afterCheck = [
    ...zeroStack,
    ...Array.from({ length: 6 }, (_, i) => insn(0x79, i, 6, 8 * i)),
    ...body1,
    insn(0xbf, 7, 0),
    insn(0xbf, 8, 1),
    insn(0xbf, 9, 2),
  ];
  const afterCall = [
    insn(0xbf, 1, 7),
    insn(0xbf, 2, 8),
    insn(0xbf, 3, 9),
    insn(0x79, 4, 10, -8),
    insn(0x79, 5, 10, -16),
    ...Array.from({ length: 6 }, (_, i) => insn(0x7b, 6, i, OUT + 8 * i)),
  ];
  const out = [insn(0xb7, 0, 0, 0, XDP_PASS), insn(0x95)];
  const sub = [
    ...zeroStack,
    insn(0xbf, 0, 1),
    insn(0xb7, 6, 0, 0, -1),
    insn(0xb7, 7, 0, 0, 7),
    insn(0xb7, 8, 0, 0, 8),
    insn(0xb7, 9, 0, 0, 9),
    ...body2,
    insn(0x95),
  ];
  const checkToOut = afterCheck.length + 1 + afterCall.length; // from the insn after the check
  const callToSub = afterCall.length + out.length; // from the insn after the call
  return [
    ...head,
    insn(0x2d, 8, 7, checkToOut, 0), // if r8 > r7 goto out
    ...afterCheck,
    insn(0x85, 0, 1, 0, callToSub),
    ...afterCall,
    ...out,
    ...sub,
  ];
}

function runVm(prog: readonly Instruction[], packet: Uint8Array): { r0: bigint; packet: Uint8Array } {
  const memory = new Memory();
  const p = memory.addPacket(packet);
  const ctx = memory.add({
    kind: "ctx",
    name: "xdp_md",
    size: 24,
    writable: false,
    hooks: {
      load: (off, size) => (size !== 4 ? undefined : off === 0 ? p.data : off === 4 ? p.dataEnd : undefined),
    },
  });
  const r = createVm(prog, { memory }).run({ args: [ctx.address()] });
  const out = p.region.bytes.slice(p.region.dataStart, p.region.end);
  return { r0: r.r0, packet: out };
}

describe("VM against the kernel (XDP test run)", () => {
  it("random ALU/JMP programs leave the same registers", (ctx) => {
    if (unavailable) {
      ctx.skip(unavailable);
      return;
    }
    fc.assert(
      fc.property(programArb, fc.uint8Array({ minLength: PKT, maxLength: PKT }), (bodyInsns, packet) => {
        const prog = wrap(bodyInsns);
        const loaded = loadProgram({ type: XDP, insns: prog });
        try {
          const k = testRun(loaded.fd, { data: packet });
          const v = runVm(prog, packet);
          expect(Number(v.r0)).toBe(k.retval);
          expect(Buffer.from(v.packet).toString("hex")).toBe(Buffer.from(k.data).toString("hex"));
        } finally {
          loaded.fd.close();
        }
      }),
      { numRuns: 1500 },
    );
  });

  it("bpf-to-bpf calls: arguments, result, r6-r9 and the caller's stack survive the callee", (ctx) => {
    if (unavailable) {
      ctx.skip(unavailable);
      return;
    }
    fc.assert(
      fc.property(
        programArb,
        programArb,
        fc.uint8Array({ minLength: PKT, maxLength: PKT }),
        (b1, b2, packet) => {
          const prog = wrapWithCall(b1, b2);
          const loaded = loadProgram({ type: XDP, insns: prog });
          try {
            const k = testRun(loaded.fd, { data: packet });
            const v = runVm(prog, packet);
            expect(Number(v.r0)).toBe(k.retval);
            expect(Buffer.from(v.packet).toString("hex")).toBe(Buffer.from(k.data).toString("hex"));
          } finally {
            loaded.fd.close();
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("LD_ABS / LD_IND: same r0 as a socket filter, in bounds, out of bounds and via SKF_*_OFF", (ctx) => {
    if (unavailable) {
      ctx.skip(unavailable);
      return;
    }
    const SOCKET_FILTER = 1;
    const LEN = 40;
    const near = (base: number) => fc.integer({ min: base - 70, max: base + LEN + 4 });
    const offset = fc.oneof(
      near(0),
      near(-0x100000),
      near(-0x200000),
      fc.integer({ min: -0x80000000, max: 0x7fffffff }),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(0x20, 0x28, 0x30, 0x40, 0x48, 0x50),
        offset,
        fc.integer({ min: -8, max: 8 }),
        fc.uint8Array({ minLength: LEN, maxLength: LEN }),
        (op, off, split, bytes) => {
          // an experimental ethertype: the kernel's test run parses IPv4/IPv6 headers and
          // refuses malformed ones
          const data = Uint8Array.from(bytes);
          data[12] = 0x88;
          data[13] = 0xb5;
          const ind = op >= 0x40;
          const prog = [
            insn(0xbf, 6, 1), // r6 = ctx, as LD_ABS requires
            insn(0xb7, 0, 0, 0, 0),
            insn(0xb7, 7, 0, 0, ind ? (off - split) | 0 : 0),
            insn(op, 0, ind ? 7 : 0, 0, ind ? split : off),
            insn(0x95),
          ];
          const loaded = loadProgram({ type: SOCKET_FILTER, insns: prog });
          try {
            const k = testRun(loaded.fd, { data });
            // the kernel's test skb: 64 bytes of zeroed headroom, the link-layer header at the
            // start of the data given, data and the network header 14 bytes (Ethernet) later
            const memory = new Memory();
            const p = memory.addPacket(data, { headroom: 64 });
            p.region.dataStart = 64 + 14;
            p.region.netStart = 64 + 14;
            const v = createVm(prog, { memory }).run({ packet: p.region });
            expect(Number(v.r0)).toBe(k.retval);
          } finally {
            loaded.fd.close();
          }
        },
      ),
      { numRuns: 1500 },
    );
  });

  it("tail calls: an XDP program tail-calling itself runs as often as in the kernel", (ctx) => {
    if (unavailable) {
      ctx.skip(unavailable);
      return;
    }
    const PROG_ARRAY = 3;
    const TAIL_CALL = 12;
    const map = createMap({ type: PROG_ARRAY, keySize: 4, valueSize: 4, maxEntries: 4 });
    try {
      // packet[0] += 1 on every entry; tail_call(ctx, map, 0); when it fails packet[1] = 0xee
      const prog = (mapFd: number): Instruction[] => [
        insn(0xbf, 6, 1),
        insn(0x61, 2, 6, 0),
        insn(0x61, 3, 6, 4),
        insn(0xbf, 4, 2),
        insn(0x07, 4, 0, 0, 8),
        insn(0x2d, 4, 3, 14, 0), // if r4 > r3 goto out
        insn(0x71, 5, 2, 0),
        insn(0x07, 5, 0, 0, 1),
        insn(0x73, 2, 5, 0),
        insn(0xbf, 1, 6),
        ldImm64(2, BigInt(mapFd), 1),
        insn(0xb7, 3, 0, 0, 0),
        insn(0x85, 0, 0, 0, TAIL_CALL),
        // the call forgets the packet bounds: check them again
        insn(0x61, 2, 6, 0),
        insn(0x61, 3, 6, 4),
        insn(0xbf, 4, 2),
        insn(0x07, 4, 0, 0, 8),
        insn(0x2d, 4, 3, 1, 0), // if r4 > r3 goto out
        insn(0x72, 2, 0, 1, 0xee),
        insn(0xb7, 0, 0, 0, XDP_PASS), // out:
        insn(0x95),
      ];
      const loaded = loadProgram({ type: XDP, insns: prog(map.value) });
      try {
        const key = new Uint8Array(4);
        const value = new Uint8Array(4);
        new DataView(value.buffer).setUint32(0, loaded.fd.value, true);
        mapUpdate(map, key, value);
        const packet = new Uint8Array(64);
        const k = testRun(loaded.fd, { data: packet });

        const memory = new Memory();
        const mapRegion = memory.add({ kind: "map", name: "prog_array", size: 0 });
        const table: VmProgram[] = [];
        const helpers: VmHelper[] = [
          {
            id: TAIL_CALL,
            name: "tail_call",
            fn: (c) => {
              const t = c.arg(2) === mapRegion.address() ? table[Number(c.arg(3))] : undefined;
              return t !== undefined && c.tailCall(t) ? 0 : -2;
            },
          },
        ];
        const p = memory.addPacket(packet);
        const xdpMd = memory.add({
          kind: "ctx",
          name: "xdp_md",
          size: 24,
          writable: false,
          hooks: {
            load: (off, size) =>
              size !== 4 ? undefined : off === 0 ? p.data : off === 4 ? p.dataEnd : undefined,
          },
        });
        const vm = createVm(prog(0), {
          memory,
          helpers,
          resolveLdImm64: (i) => (i.src === 1 ? mapRegion.address() : undefined),
        });
        table.push(vm);
        const v = vm.run({ args: [xdpMd.address()] });
        expect(Number(v.r0)).toBe(k.retval);
        const out = p.region.bytes.slice(p.region.dataStart, p.region.end);
        expect(Buffer.from(out).toString("hex")).toBe(Buffer.from(k.data).toString("hex"));
        expect(out[0]).toBe(1 + MAX_TAIL_CALLS);
      } finally {
        loaded.fd.close();
      }
    } finally {
      map.close();
    }
  });

  it("callbacks: a bpf_loop callback's frames, arguments and early stop as in the kernel", (ctx) => {
    if (unavailable) {
      ctx.skip(unavailable);
      return;
    }
    const LOOP = 181;
    const STOP = 5;
    // main: count = bpf_loop(packet[0] & 15, cb, &sum, 0); packet[0..8] = count, [8..16] = sum
    const CB = 26; // slot of cb
    const main = (): Instruction[] => [
      insn(0xbf, 6, 1),
      insn(0x61, 2, 6, 0),
      insn(0x61, 3, 6, 4),
      insn(0xbf, 4, 2),
      insn(0x07, 4, 0, 0, 16),
      insn(0x2d, 4, 3, 18, 0), // if r4 > r3 goto out
      insn(0x7a, 10, 0, -8, 1), // sum = 1
      insn(0x71, 1, 2, 0),
      insn(0x57, 1, 0, 0, 15),
      ldImm64(2, BigInt(CB - 10), 4), // slot 9: callback at 9 + imm + 1
      insn(0xbf, 3, 10),
      insn(0x07, 3, 0, 0, -8),
      insn(0xb7, 4, 0, 0, 0),
      insn(0x85, 0, 0, 0, LOOP),
      insn(0xbf, 7, 0),
      insn(0x61, 2, 6, 0),
      insn(0x61, 3, 6, 4),
      insn(0xbf, 4, 2),
      insn(0x07, 4, 0, 0, 16),
      insn(0x2d, 4, 3, 3, 0), // if r4 > r3 goto out
      insn(0x7b, 2, 7, 0),
      insn(0x79, 1, 10, -8),
      insn(0x7b, 2, 1, 8),
      insn(0xb7, 0, 0, 0, XDP_PASS), // out: (slot 24)
      insn(0x95),
      // cb(index, ctx): *ctx = *ctx * 3 + index; return index == STOP (slot 26)
      insn(0x79, 3, 2, 0),
      insn(0x27, 3, 0, 0, 3),
      insn(0x0f, 3, 1),
      insn(0x7b, 2, 3, 0),
      insn(0xb7, 0, 0, 0, 0),
      insn(0x55, 1, 0, 1, STOP),
      insn(0xb7, 0, 0, 0, 1),
      insn(0x95),
    ];
    const prog = main();
    expect(prog.slice(0, 25).reduce((n, i) => n + (i.opcode === 0x18 ? 2 : 1), 0)).toBe(CB);
    const btf = callbackBtf();
    const b = loadBtf(btf);
    try {
      const funcInfo = new Uint8Array(16);
      const fv = new DataView(funcInfo.buffer);
      fv.setUint32(0, 0, true);
      fv.setUint32(4, 4, true); // main
      fv.setUint32(8, CB, true);
      fv.setUint32(12, 6, true); // cb
      const loaded = loadProgram({ type: XDP, insns: prog, btfFd: b.fd, funcInfo, funcInfoRecSize: 8 });
      try {
        for (const n of [0, 1, 3, 5, 6, 15]) {
          const packet = new Uint8Array(32);
          packet[0] = n;
          const k = testRun(loaded.fd, { data: packet });
          const bpfLoop: VmHelper = {
            id: LOOP,
            name: "bpf_loop",
            fn: (c) => {
              const nr = c.argLo(1);
              let i = 0;
              while (i < nr) {
                const r = c.invoke(c.arg(2), [BigInt(i), c.arg(3)]);
                i++;
                if (r !== 0n) break;
              }
              return i;
            },
          };
          const memory = new Memory();
          const p = memory.addPacket(packet);
          const xdpMd = memory.add({
            kind: "ctx",
            name: "xdp_md",
            size: 24,
            writable: false,
            hooks: {
              load: (off, size) =>
                size !== 4 ? undefined : off === 0 ? p.data : off === 4 ? p.dataEnd : undefined,
            },
          });
          const v = createVm(prog, { memory, helpers: [bpfLoop] }).run({ args: [xdpMd.address()] });
          expect(Number(v.r0)).toBe(k.retval);
          const out = p.region.bytes.slice(p.region.dataStart, p.region.end);
          expect(Buffer.from(out).toString("hex"), `n=${n}`).toBe(Buffer.from(k.data).toString("hex"));
        }
      } finally {
        loaded.fd.close();
      }
    } finally {
      b.fd.close();
    }
  });
});

/**
 * A minimal BTF for the callback test: [1] int, [2] int(void *ctx), [3] void *, [4] main,
 * [5] int(int idx, void *ctx), [6] static cb. The kernel needs func info to accept a callback.
 */
function callbackBtf(): Uint8Array {
  const strings = "\0int\0ctx\0main\0idx\0cb\0";
  const off = (name: string): number => strings.indexOf(`\0${name}\0`) + 1;
  const words: number[] = [
    // [1] INT int: size 4, signed 32 bits
    off("int"),
    (1 << 24) | 0,
    4,
    (1 << 24) | 32,
    // [2] FUNC_PROTO int (void *ctx)
    0,
    (13 << 24) | 1,
    1,
    off("ctx"),
    3,
    // [3] PTR void
    0,
    2 << 24,
    0,
    // [4] FUNC main, global
    off("main"),
    (12 << 24) | 1,
    2,
    // [5] FUNC_PROTO int (int idx, void *ctx)
    0,
    (13 << 24) | 2,
    1,
    off("idx"),
    1,
    off("ctx"),
    3,
    // [6] FUNC cb, static
    off("cb"),
    12 << 24,
    5,
  ];
  const typeLen = words.length * 4;
  const str = new TextEncoder().encode(strings);
  const out = new Uint8Array(24 + typeLen + str.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, 0xeb9f, true);
  v.setUint8(2, 1);
  v.setUint8(3, 0);
  v.setUint32(4, 24, true);
  v.setUint32(8, 0, true);
  v.setUint32(12, typeLen, true);
  v.setUint32(16, typeLen, true);
  v.setUint32(20, str.length, true);
  words.forEach((w, i) => {
    v.setUint32(24 + i * 4, w >>> 0, true);
  });
  out.set(str, 24 + typeLen);
  return out;
}
