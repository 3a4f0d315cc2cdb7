/**
 * Map semantics against the kernel: random sequences of map operations, each made by an XDP
 * program through the helpers (update with every flag combination, delete, lookup; push, pop,
 * peek for queue/stack), run under BPF_PROG_TEST_RUN and in the simulator. (LRU maps are in
 * percpu.test.ts, where every run is pinned to one CPU: the kernel's LRU keeps per-CPU free
 * lists, so its evictions depend on which CPUs the updates came from.) Every helper
 * return code and looked-up value must agree, and so must the map's contents afterwards.
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { type Instruction, insn, ldImm64 } from "../../src/isa/instruction.js";
import { createMap, loadProgram, mapGetNextKey, mapLookup, testRun } from "../../src/loader/bpf.js";
import type { Fd } from "../../src/loader/fd.js";
import { buildContext } from "../../src/vm/context.js";
import type { SimMap } from "../../src/vm/maps/types.js";
import { testRunUnavailable } from "./kernel-probe.js";
import { simEnv } from "./sim-env.js";

const XDP = 6;
const OP_UPDATE = 1;
const OP_DELETE = 2;
const OP_LOOKUP = 3;
const OP_PUSH = 4;
const OP_POP = 5;
const OP_PEEK = 6;
const PKT = 40;

const unavailable = testRunUnavailable();
if (unavailable) console.warn(`skipping map semantics differential: ${unavailable}`);

/** Tiny assembler with labels for forward jumps. */
function assemble(
  items: readonly (Instruction | string | { jump: number; dst?: number; imm?: number; to: string })[],
): Instruction[] {
  const labels = new Map<string, number>();
  let slot = 0;
  for (const it of items) {
    if (typeof it === "string") labels.set(it, slot);
    else slot += "opcode" in it && it.opcode === 0x18 ? 2 : 1;
  }
  const out: Instruction[] = [];
  slot = 0;
  for (const it of items) {
    if (typeof it === "string") continue;
    if ("jump" in it) {
      const target = labels.get(it.to);
      if (target === undefined) throw new Error(`no label ${it.to}`);
      out.push(insn(it.jump, it.dst ?? 0, 0, target - slot - 1, it.imm ?? 0));
      slot += 1;
    } else {
      out.push(it);
      slot += it.opcode === 0x18 ? 2 : 1;
    }
  }
  return out;
}

/** Packet: [0] op u32, [4] key u32, [8] value u64, [16] flags u64, [24] r0 out, [32] value out. */
function program(mapFd: number, queue: boolean): Instruction[] {
  const common = [
    insn(0xbf, 6, 1),
    insn(0x61, 7, 6, 0),
    insn(0x61, 8, 6, 4),
    insn(0xbf, 1, 7),
    insn(0x07, 1, 0, 0, PKT),
    { jump: 0x2d, dst: 1, to: "out", imm: 0 },
    insn(0x61, 2, 7, 4),
    insn(0x63, 10, 2, -8),
    insn(0x79, 2, 7, 8),
    insn(0x7b, 10, 2, -16),
    insn(0x61, 9, 7, 0),
    ldImm64(1, BigInt(mapFd), 1),
    insn(0xbf, 2, 10),
    insn(0x07, 2, 0, 0, -8),
    insn(0xbf, 3, 10),
    insn(0x07, 3, 0, 0, -16),
    insn(0x79, 4, 7, 16),
  ];
  // jump register-compare needs src: patch below (jgt r1, r8)
  const ops = queue
    ? [
        { jump: 0x15, dst: 9, imm: OP_PUSH, to: "push" },
        { jump: 0x15, dst: 9, imm: OP_POP, to: "pop" },
        { jump: 0x15, dst: 9, imm: OP_PEEK, to: "peek" },
        insn(0xb7, 0, 0, 0, 0x777),
        { jump: 0x05, to: "store" },
        "push",
        insn(0xbf, 2, 3),
        insn(0xbf, 3, 4),
        insn(0x85, 0, 0, 0, 87),
        { jump: 0x05, to: "store" },
        "pop",
        insn(0xbf, 2, 3),
        insn(0x85, 0, 0, 0, 88),
        { jump: 0x05, to: "copy" },
        "peek",
        insn(0xbf, 2, 3),
        insn(0x85, 0, 0, 0, 89),
        "copy",
        insn(0x79, 1, 10, -16),
        insn(0x7b, 7, 1, 32),
      ]
    : [
        { jump: 0x15, dst: 9, imm: OP_UPDATE, to: "update" },
        { jump: 0x15, dst: 9, imm: OP_DELETE, to: "delete" },
        { jump: 0x15, dst: 9, imm: OP_LOOKUP, to: "lookup" },
        insn(0xb7, 0, 0, 0, 0x777),
        { jump: 0x05, to: "store" },
        "update",
        insn(0x85, 0, 0, 0, 2),
        { jump: 0x05, to: "store" },
        "delete",
        insn(0x85, 0, 0, 0, 3),
        { jump: 0x05, to: "store" },
        "lookup",
        insn(0x85, 0, 0, 0, 1),
        { jump: 0x15, dst: 0, imm: 0, to: "store" },
        insn(0x79, 1, 0, 0),
        insn(0x7b, 7, 1, 32),
        insn(0xb7, 0, 0, 0, 1),
      ];
  const code = assemble([
    ...common,
    ...ops,
    "store",
    insn(0x7b, 7, 0, 24),
    "out",
    insn(0xb7, 0, 0, 0, 2),
    insn(0x95),
  ]);
  // the bounds check compares two registers: jgt r1, r8
  return code.map((i) => (i.opcode === 0x2d ? { ...i, src: 8 } : i));
}

interface Op {
  readonly op: number;
  readonly key: number;
  readonly value: bigint;
  readonly flags: number;
}

function packetOf(o: Op): Uint8Array {
  const b = new Uint8Array(PKT);
  const v = new DataView(b.buffer);
  v.setUint32(0, o.op, true);
  v.setUint32(4, o.key, true);
  v.setBigUint64(8, o.value, true);
  v.setBigUint64(16, BigInt(o.flags), true);
  return b;
}

interface MapCase {
  readonly name: string;
  readonly type: number;
  readonly typeName: string;
  readonly keySize: number;
  readonly maxEntries: number;
  readonly queue: boolean;
  /** Compare contents afterwards. */
  readonly contents: boolean;
}

const CASES: readonly MapCase[] = [
  { name: "hash", type: 1, typeName: "hash", keySize: 4, maxEntries: 4, queue: false, contents: true },
  { name: "array", type: 2, typeName: "array", keySize: 4, maxEntries: 4, queue: false, contents: true },
  { name: "queue", type: 22, typeName: "queue", keySize: 0, maxEntries: 3, queue: true, contents: false },
  { name: "stack", type: 23, typeName: "stack", keySize: 0, maxEntries: 3, queue: true, contents: false },
];

const fds: Fd[] = [];
afterAll(() => {
  for (const f of fds) if (!f.closed) f.close();
});

function kernelContents(fd: Fd, keySize: number): string[] {
  const out: string[] = [];
  let k = mapGetNextKey(fd, undefined, keySize);
  while (k !== undefined) {
    const v = mapLookup(fd, k, 8);
    out.push(`${Buffer.from(k).toString("hex")}=${v ? Buffer.from(v).toString("hex") : "-"}`);
    k = mapGetNextKey(fd, k, keySize);
  }
  return out.sort();
}

function simContents(m: SimMap): string[] {
  const out: string[] = [];
  let k = m.nextKey(undefined);
  while (typeof k !== "number") {
    const v = m.userLookup(k);
    out.push(`${Buffer.from(k).toString("hex")}=${v ? Buffer.from(v).toString("hex") : "-"}`);
    k = m.nextKey(k);
  }
  return out.sort();
}

describe.skipIf(unavailable !== undefined)("map helpers agree with the kernel", () => {
  for (const c of CASES) {
    it(`${c.name}: random operation sequences`, () => {
      const opArb = fc.record({
        op: c.queue
          ? fc.constantFrom(OP_PUSH, OP_POP, OP_PEEK)
          : fc.constantFrom(OP_UPDATE, OP_DELETE, OP_LOOKUP),
        key: fc.integer({ min: 0, max: 5 }),
        value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        flags: fc.constantFrom(0, 1, 2, 3, 4, 5),
      });
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 1, maxLength: 24 }), (ops) => {
          const fd = createMap({ type: c.type, keySize: c.keySize, valueSize: 8, maxEntries: c.maxEntries });
          fds.push(fd);
          const prog = loadProgram({ type: XDP, insns: program(fd.value, c.queue), license: "GPL" });
          fds.push(prog.fd);
          const env = simEnv();
          const m = env.addMap({
            type: c.type,
            typeName: c.typeName,
            keySize: c.keySize,
            valueSize: 8,
            maxEntries: c.maxEntries,
          });
          const vm = env.program(program(0, c.queue));
          for (const [i, o] of ops.entries()) {
            const k = testRun(prog.fd, { data: packetOf(o) });
            const ctx = buildContext(env.memory, { progType: "xdp", packet: packetOf(o) });
            env.runtime.packet = ctx.packet;
            const r = vm.run({ args: [ctx.region.address(0)] });
            const out = ctx.packetOut() ?? new Uint8Array(0);
            m.settle();
            const what = `op ${i} ${JSON.stringify({ ...o, value: o.value.toString() })}`;
            expect(Number(r.r0), what).toBe(k.retval);
            expect(Buffer.from(out.subarray(24, 40)).toString("hex"), what).toBe(
              Buffer.from(k.data.subarray(24, 40)).toString("hex"),
            );
          }
          if (c.contents) expect(simContents(m)).toEqual(kernelContents(fd, c.keySize));
          prog.fd.close();
          fd.close();
        }),
        { numRuns: Number(process.env.MAP_RUNS ?? 25) },
      );
    });
  }
});
