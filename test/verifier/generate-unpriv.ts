/**
 * fast-check generator of pointer-heavy socket filters for the unprivileged differential test:
 * a register (r6) holding a stack or map value pointer is moved by constants and bounded or
 * unbounded scalars, dereferenced, stored (into maps: leaks), compared, copied in 32 bits, passed
 * to a helper as a number or returned, around scalar ALU and forward branches. Every jump goes
 * forward, so programs terminate.
 */
import fc from "fast-check";
import { attachTypeByName, progTypeByName } from "../../src/abi/program-types.js";
import type { ObjectSpec, ProgramSpec } from "../../src/elf/object/types.js";
import { type Instruction, insn, ldImm64 } from "../../src/isa/instruction.js";
import { objectOf } from "./generate.js";

type Item = Instruction | { readonly jumpToEnd: Instruction };

const SCALARS = [7, 8, 9];
const arbScalar = fc.constantFrom(...SCALARS);
const mapRef = (dst: number): Instruction => ({ ...ldImm64(dst, 0n), ref: { kind: "map", map: "m" } });

const arbAlu: fc.Arbitrary<Item[]> = fc
  .tuple(
    fc.constantFrom(0x00, 0x10, 0x50, 0x70, 0xb0),
    fc.boolean(),
    arbScalar,
    arbScalar,
    fc.integer({ min: -20, max: 70 }),
  )
  .map(([op, useReg, d, s, imm]) => [
    useReg ? insn(0x07 | op | 0x08, d, s) : insn(0x07 | op, d, 0, 0, op === 0x70 ? Math.abs(imm) % 64 : imm),
  ]);

const arbMask: fc.Arbitrary<Item[]> = fc
  .tuple(arbScalar, fc.constantFrom(3, 7, 15, 63, 255))
  .map(([r, m]) => [insn(0x57, r, 0, 0, m)]);

const arbBranch: fc.Arbitrary<Item[]> = fc
  .tuple(fc.constantFrom(0x10, 0x20, 0x50, 0xa0, 0x60), arbScalar, fc.integer({ min: -5, max: 80 }))
  .map(([op, r, imm]) => [{ jumpToEnd: insn(0x05 | op, r, 0, 0, imm) }]);

const arbLookup: fc.Arbitrary<Item[]> = fc.boolean().map((check) => {
  const items: Item[] = [
    insn(0x7a, 10, 0, -8, 0),
    mapRef(1),
    insn(0xbf, 2, 10),
    insn(0x07, 2, 0, 0, -8),
    insn(0x85, 0, 0, 0, 1),
  ];
  if (check) items.push({ jumpToEnd: insn(0x15, 0, 0, 0, 0) });
  items.push(insn(0xbf, 6, 0));
  return items;
});

const arbPtrMove: fc.Arbitrary<Item[]> = fc
  .tuple(fc.constantFrom("addReg", "addK", "subReg", "restack"), arbScalar, fc.integer({ min: -24, max: 24 }))
  .map(([kind, r, k]): Item[] => {
    if (kind === "addReg") return [insn(0x0f, 6, r)];
    if (kind === "subReg") return [insn(0x1f, 6, r)];
    if (kind === "addK") return [insn(0x07, 6, 0, 0, k)];
    return [insn(0xbf, 6, 10), insn(0x07, 6, 0, 0, -16 - (Math.abs(k) % 3) * 8)];
  });

const arbDeref: fc.Arbitrary<Item[]> = fc
  .tuple(fc.boolean(), fc.constantFrom(0x10, 0x00, 0x18), fc.constantFrom(-8, 0, 4, 8), arbScalar)
  .map(([load, sz, off, r]) => (load ? [insn(0x61 | sz, r, 6, off)] : [insn(0x63 | sz, 6, r, off)]));

const arbLeak: fc.Arbitrary<Item[]> = fc.constantFrom<Item[]>(
  [insn(0x7b, 6, 6, 0)], // *(u64 *)(r6 + 0) = r6
  [insn(0x7b, 6, 10, 0)], // *(u64 *)(r6 + 0) = r10
  [{ jumpToEnd: insn(0x5d, 6, 7) }], // if r6 != r7 goto end
  [{ jumpToEnd: insn(0x2d, 6, 10) }], // if r6 > r10 goto end
  [{ jumpToEnd: insn(0x56, 6, 0, 0, 0) }], // if w6 != 0 goto end
  [{ jumpToEnd: insn(0x15, 6, 0, 0, 0) }], // if r6 == 0 goto end
  [{ jumpToEnd: insn(0x1d, 8, 6) }], // if r8 == r6 goto end
  [insn(0xb7, 7, 0, 0, 0), { jumpToEnd: insn(0x1d, 6, 7) }], // r7 = 0; if r6 == r7 goto end
  [insn(0xbc, 7, 6)], // w7 = w6
  [insn(0xbf, 8, 6)], // r8 = r6 (a pointer in a scalar's register)
  [
    insn(0x7a, 10, 0, -8, 0),
    insn(0x7a, 10, 0, -16, 0),
    mapRef(1),
    insn(0xbf, 2, 10),
    insn(0x07, 2, 0, 0, -8),
    insn(0xbf, 3, 10),
    insn(0x07, 3, 0, 0, -16),
    insn(0xbf, 4, 6),
    insn(0x85, 0, 0, 0, 2), // bpf_map_update_elem(m, key, value, flags = r6)
  ],
  [insn(0x7b, 10, 6, -16), insn(0x79, 6, 10, -16)], // spill r6 and fill it back
  [insn(0x7b, 10, 6, -16), insn(0x61, 7, 10, -16)], // spill r6, read its low half
  [
    insn(0x7b, 10, 6, -16), // spill r6, then hand the slot to a helper as the value
    insn(0x7a, 10, 0, -8, 0),
    mapRef(1),
    insn(0xbf, 2, 10),
    insn(0x07, 2, 0, 0, -8),
    insn(0xbf, 3, 10),
    insn(0x07, 3, 0, 0, -16),
    insn(0xb7, 4, 0, 0, 0),
    insn(0x85, 0, 0, 0, 2),
  ],
  [insn(0x7a, 10, 0, -16, 7), insn(0x79, 8, 10, -16)], // *(u64 *)(r10 -16) = 7; r8 = it
  [insn(0x72, 10, 0, -16, 1)], // *(u8 *)(r10 -16) = 1
  [insn(0xb7, 7, 0, 0, 1), insn(0xdb, 6, 7, 0, 0)], // lock *(u64 *)(r6 + 0) += r7
  [insn(0xbf, 7, 6, 8)], // r7 = (s8)r6
  [insn(0x04, 6, 0, 0, 1)], // w6 += 1
  [insn(0x57, 6, 0, 0, -8)], // r6 &= -8
  [insn(0x25, 7, 0, 2, 5), insn(0xbf, 0, 6), insn(0x95)], // if r7 <= 5: return the pointer
);

/** Pointer-heavy socket filters (instructions; the map "m" of objectOf is a 8/16-byte hash). */
export const arbPointerProgram: fc.Arbitrary<Instruction[]> = fc
  .tuple(
    fc.tuple(fc.integer({ min: -20, max: 300 }), fc.integer({ min: 0, max: 40 })),
    fc.array(
      fc.oneof(arbAlu, arbMask, arbBranch, arbLookup, arbPtrMove, arbPtrMove, arbDeref, arbDeref, arbLeak),
      {
        minLength: 1,
        maxLength: 10,
      },
    ),
    fc.integer({ min: 0, max: 9 }),
  )
  .map(([[a, b], blocks, ret]) => {
    const items: Item[] = [
      insn(0x61, 7, 1, 0), // r7 = skb->len
      insn(0xb7, 8, 0, 0, a),
      insn(0xb7, 9, 0, 0, b),
      insn(0xbf, 6, 10),
      insn(0x07, 6, 0, 0, -32), // r6 = fp-32
      insn(0x7a, 10, 0, -32, 0),
      insn(0x7a, 10, 0, -24, 0),
      ...blocks.flat(),
    ];
    let slots = 0;
    const slotOf: number[] = [];
    for (const it of items) {
      slotOf.push(slots);
      const i = "jumpToEnd" in it ? it.jumpToEnd : it;
      slots += i.opcode === 0x18 ? 2 : 1;
    }
    const end = slots;
    return [
      ...items.map((it, k) => ("jumpToEnd" in it ? { ...it.jumpToEnd, off: end - slotOf[k]! - 1 } : it)),
      // now and then the program returns its pointer
      ret === 0 ? insn(0xbf, 0, 6) : insn(0xb7, 0, 0, 0, 2),
      insn(0x95),
    ];
  });

/** objectOf's program as a socket filter. */
export function socketFilterOf(insns: readonly Instruction[]): { obj: ObjectSpec; prog: ProgramSpec } {
  const { obj, prog } = objectOf(insns);
  const p = { ...prog, section: "socket", type: progTypeByName("socket_filter")! } as ProgramSpec;
  return { obj: { ...obj, programs: [p], program: () => p } as unknown as ObjectSpec, prog: p };
}

/** objectOf's program as a cgroup_skb ingress program (its final `r0 = 2` made 1, inside [0, 1]). */
export function cgroupSkbOf(insns: readonly Instruction[]): { obj: ObjectSpec; prog: ProgramSpec } {
  const code = [...insns];
  const k = code.length - 2;
  if (code[k] && code[k]!.opcode === 0xb7 && code[k]!.dst === 0 && code[k]!.imm === 2)
    code[k] = insn(0xb7, 0, 0, 0, 1);
  const { obj, prog } = objectOf(code);
  const p = {
    ...prog,
    section: "cgroup_skb/ingress",
    type: progTypeByName("cgroup_skb")!,
    expectedAttachType: attachTypeByName("cgroup_inet_ingress")!,
  } as ProgramSpec;
  return { obj: { ...obj, programs: [p], program: () => p } as unknown as ObjectSpec, prog: p };
}
