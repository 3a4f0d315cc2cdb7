/**
 * fast-check generator of plausible XDP programs for the differential test: ALU on bounded
 * scalars, map lookups with and without NULL checks, stack and packet accesses at random
 * offsets, forward branches. Every jump goes forward, so programs terminate.
 */
import fc from "fast-check";
import { progTypeByName } from "../../src/abi/program-types.js";
import type { MapSpec, ObjectSpec, ProgramSpec } from "../../src/elf/object/types.js";
import { type Instruction, insn, ldImm64 } from "../../src/isa/instruction.js";

type Item = Instruction | { readonly jumpToEnd: Instruction };

const SCALARS = [7, 8, 9];
const arbReg = fc.constantFrom(...SCALARS);
const arbSmall = fc.integer({ min: -20, max: 300 });

const arbAlu: fc.Arbitrary<Item[]> = fc
  .tuple(
    fc.constantFrom(0x00, 0x10, 0x20, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xc0, 0xb0),
    fc.boolean(),
    fc.boolean(),
    arbReg,
    arbReg,
    arbSmall,
  )
  .map(([op, is64, useReg, d, s, imm]) => {
    const shift = op === 0x60 || op === 0x70 || op === 0xc0;
    const k = shift ? Math.abs(imm) % (is64 ? 64 : 32) : imm;
    const cls = is64 ? 7 : 4;
    return [useReg ? insn(cls | op | 0x08, d, s) : insn(cls | op, d, 0, 0, k)];
  });

const arbBranch: fc.Arbitrary<Item[]> = fc
  .tuple(
    fc.constantFrom(0x10, 0x20, 0x30, 0x50, 0xa0, 0xb0, 0x60, 0xc0, 0x40),
    fc.boolean(),
    arbReg,
    arbSmall,
  )
  .map(([op, is64, r, imm]) => [{ jumpToEnd: insn((is64 ? 5 : 6) | op, r, 0, 0, imm) }]);

const arbMap: fc.Arbitrary<Item[]> = fc
  .tuple(fc.boolean(), fc.constantFrom(0, 4, 8, 12, 16, -8), fc.constantFrom(4, 8), fc.boolean(), arbReg)
  .map(([check, off, size, variable, r]) => {
    const items: Item[] = [
      insn(0x7a, 10, 0, -8, 0), // *(u64 *)(r10 -8) = 0
      ldImm64(1, 0n),
      insn(0xbf, 2, 10),
      insn(0x07, 2, 0, 0, -8),
      insn(0x85, 0, 0, 0, 1),
    ];
    (items[1] as { ref?: unknown }).ref = { kind: "map", map: "m" };
    items[1] = { ...ldImm64(1, 0n), ref: { kind: "map", map: "m" } };
    if (check) items.push({ jumpToEnd: insn(0x15, 0, 0, 0, 0) });
    if (variable) items.push(insn(0x0f, 0, r));
    items.push(insn(0x61 | (size === 8 ? 0x18 : 0), 1, 0, off));
    return items;
  });

const arbStack: fc.Arbitrary<Item[]> = fc
  .tuple(fc.constantFrom(-8, -16, -24, -512, -520, -4, 0), fc.constantFrom(1, 4, 8), arbReg, fc.boolean())
  .map(([off, size, r, read]) => {
    const sz = size === 8 ? 0x18 : size === 4 ? 0 : 0x10;
    return read ? [insn(0x61 | sz, r, 10, off)] : [insn(0x63 | sz, 10, r, off)];
  });

const arbPkt: fc.Arbitrary<Item[]> = fc
  .tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: -2, max: 44 }), fc.boolean(), arbReg)
  .map(([check, off, doCheck, r]) => {
    const items: Item[] = [insn(0xbf, 4, 2), insn(0x07, 4, 0, 0, check)];
    if (doCheck) items.push({ jumpToEnd: insn(0x2d, 4, 3) }); // if r4 > r3 goto end
    items.push(insn(0x71, r, 2, off));
    return items;
  });

export const arbProgram: fc.Arbitrary<Instruction[]> = fc
  .tuple(
    fc.tuple(arbSmall, arbSmall),
    fc.array(fc.oneof(arbAlu, arbAlu, arbBranch, arbMap, arbStack, arbPkt), { minLength: 1, maxLength: 12 }),
  )
  .map(([[a, b], blocks]) => {
    const items: Item[] = [
      insn(0x61, 2, 1, 0), // r2 = data
      insn(0x61, 3, 1, 4), // r3 = data_end
      insn(0x61, 7, 1, 12), // r7 = ingress_ifindex (unknown)
      insn(0xb7, 8, 0, 0, a),
      insn(0xb7, 9, 0, 0, b),
      ...blocks.flat(),
    ];
    // resolve jumps to the final `r0 = 2; exit` (slot arithmetic: ld_imm64 is 2 slots)
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
      insn(0xb7, 0, 0, 0, 2),
      insn(0x95),
    ];
  });

const MAP = {
  name: "m",
  origin: "btf",
  section: ".maps",
  type: 1,
  typeName: "hash",
  keySize: 8,
  valueSize: 16,
  maxEntries: 16,
  flags: 0,
  numaNode: 0,
  pinning: 0,
  mapExtra: 0n,
  btfKeyTypeId: 0,
  btfValueTypeId: 0,
  readonly: false,
  sectionOffset: 0,
} as const satisfies MapSpec;

/** What a generated program's section gives it: the fields that differ between program kinds. */
export type ProgramShape = Pick<ProgramSpec, "section" | "type"> &
  Partial<Pick<ProgramSpec, "expectedAttachType" | "attachTarget">>;

/** A minimal ObjectSpec (GPL, no BTF, the given maps) around one generated program. */
export function syntheticObject(
  insns: readonly Instruction[],
  shape: ProgramShape,
  maps: readonly MapSpec[],
): { obj: ObjectSpec; prog: ProgramSpec } {
  const prog = {
    name: "gen",
    ...shape,
    sectionIndex: 0,
    sectionOffset: 0,
    sleepable: false,
    xdpFrags: false,
    autoload: true,
    global: true,
    insns,
    mainSlots: insns.length,
    subprogs: [],
    funcInfo: [],
    lineInfo: [],
    coreRelos: [],
    license: "GPL",
    kernelVersion: 0,
  } as unknown as ProgramSpec;
  const obj = {
    name: "gen",
    byteOrder: "le",
    maps,
    programs: [prog],
    license: "GPL",
    kernelVersion: 0,
    variables: [],
    externs: [],
    datasecFixups: [],
    program: () => prog,
    map: () => maps[0],
  } as unknown as ObjectSpec;
  return { obj, prog };
}

/** A minimal ObjectSpec around one generated XDP program and the generator's array map. */
export function objectOf(insns: readonly Instruction[]): { obj: ObjectSpec; prog: ProgramSpec } {
  return syntheticObject(insns, { section: "xdp", type: progTypeByName("xdp")! }, [MAP]);
}

/** Agreement figures of a generated-program differential test (printed by the test). */
export interface AgreementStats {
  n: number;
  agree: number;
  falseAccepts: number;
  falseRejects: number;
  rejects: number;
  sameMessage: number;
  notModelled: number;
}

export function newAgreementStats(): AgreementStats {
  return { n: 0, agree: 0, falseAccepts: 0, falseRejects: 0, rejects: 0, sameMessage: 0, notModelled: 0 };
}

/**
 * Counts one program both sides judged (the caller has left out what we do not model): a false
 * accept also goes into `bad`, described by `what` with the kernel's message.
 */
export function tallyAgreement(
  stats: AgreementStats,
  bad: string[],
  ours: { verdict: "accept" | "reject"; error?: { message: string } },
  kernel: { verdict: "accept" | "reject"; message?: string },
  what: () => string,
): void {
  stats.n++;
  if (ours.verdict === kernel.verdict) stats.agree++;
  else if (ours.verdict === "accept") {
    stats.falseAccepts++;
    bad.push(`${what()} kernel: ${kernel.message}`);
  } else stats.falseRejects++;
  if (ours.verdict === "reject" && kernel.verdict === "reject") {
    stats.rejects++;
    if (ours.error?.message === kernel.message) stats.sameMessage++;
  }
}
