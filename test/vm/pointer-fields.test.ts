/**
 * Declared pointer fields (RegionHooks.pointers): a 4-byte load at a declared offset of a
 * context gives the address of the packet's data / data_end / first byte as the packet stands
 * at that load (bpf_xdp_adjust_head moves them between runs and within one), in both engines
 * and through Memory.load; any other load of the context goes to the load hook, then to the
 * bytes. Expected values are computed independently: Region.address of the edge, the hook's
 * answer, the bytes as written.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { insn } from "../../src/isa/instruction.js";
import { createVm, type VmEngine } from "../../src/vm/interpreter.js";
import { Memory, PTR_DATA, PTR_END, PTR_START } from "../../src/vm/memory.js";

const ENGINES: readonly VmEngine[] = ["interp", "jit"];
const LDX: Record<number, number> = { 1: 0x71, 2: 0x69, 4: 0x61, 8: 0x79 };
const HOOKED = 12n; // what the load hook answers for a 4-byte load at offset 12

function setup(engine: VmEngine, off: number, size: 1 | 2 | 4 | 8) {
  const memory = new Memory();
  const p = memory.addPacket(new Uint8Array(64), { headroom: 32, meta: 8 });
  const bytes = new Uint8Array(24);
  for (let i = 0; i < bytes.length; i++) bytes[i] = 0xa0 + i;
  const ctx = memory.add({
    kind: "ctx",
    name: "test_md",
    bytes,
    writable: false,
    hooks: {
      pointers: [
        { offset: 0, region: p.region, edge: PTR_DATA },
        { offset: 4, region: p.region, edge: PTR_END },
        { offset: 8, region: p.region, edge: PTR_START },
        // a fourth: past what the engines check written out
        { offset: 16, region: p.region, edge: PTR_DATA },
      ],
      load: (o, s) => (o === 12 && s === 4 ? Number(HOOKED) : undefined),
    },
  });
  // r0 = *(size *)(r1 + off); exit
  const vm = createVm([insn(LDX[size], 0, 1, off), insn(0x95)], { memory }, { engine });
  return { vm, memory, packet: p.region, ctx, opts: { args: [ctx.address(0)] } };
}

/** The answer computed without the VM: the edge's address, the hook's value, or the bytes. */
function expected(s: ReturnType<typeof setup>, off: number, size: number): bigint {
  const r = s.packet;
  if (size === 4 && off === 0) return r.address(r.dataStart);
  if (size === 4 && off === 4) return r.address(r.end);
  if (size === 4 && off === 8) return r.address(r.start);
  if (size === 4 && off === 16) return r.address(r.dataStart);
  if (size === 4 && off === 12) return HOOKED;
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(s.ctx.bytes[off + i]);
  return v;
}

const access = fc.oneof(
  fc.constantFrom(0, 4, 8, 12, 16, 20).map((off) => ({ off, size: 4 as const })),
  fc.constantFrom(0, 2, 4, 8, 10, 12).map((off) => ({ off, size: 2 as const })),
  fc.constantFrom(0, 1, 4, 8, 13).map((off) => ({ off, size: 1 as const })),
  fc.constantFrom(0, 8, 16).map((off) => ({ off, size: 8 as const })),
);

describe("declared pointer fields of a context", () => {
  for (const engine of ENGINES) {
    it(`load the packet's edges as they stand, the rest through the hook or the bytes (${engine})`, () => {
      fc.assert(
        fc.property(
          access,
          fc.array(fc.tuple(fc.integer({ min: 0, max: 24 }), fc.integer({ min: 0, max: 40 })), {
            minLength: 1,
            maxLength: 4,
          }),
          ({ off, size }, moves) => {
            const s = setup(engine, off, size);
            for (const [meta, len] of moves) {
              // move the edges as the adjust helpers do: start <= data <= end
              s.packet.dataStart = 32 + (len % 9);
              s.packet.start = s.packet.dataStart - Math.min(meta, s.packet.dataStart);
              s.packet.end = s.packet.dataStart + len;
              const want = expected(s, off, size);
              expect(s.vm.run(s.opts).r0).toBe(want);
              expect(s.vm.runRepeat(s.opts, 3).r0).toBe(want);
              expect(s.memory.load(s.ctx.address(off), size)).toBe(want);
            }
          },
        ),
        { numRuns: 60 },
      );
    });
  }
});
