/**
 * Programs: one per STT_FUNC symbol of each executable section (symbol table order, sections in
 * index order, as libbpf's bpf_object__add_programs); functions of `.text` are subprograms.
 * Linking follows libbpf's bpf_object__reloc_code: walk the program's instructions; at the
 * first call (or callback address) of a subprogram not yet in this program, append its code at
 * the end and link it recursively before going on; then point the call's imm at it. func_info,
 * line_info and CO-RE records follow each function to its new place, in append order.
 */
import {
  programTypeForSection,
  progTypeById,
  type SectionInfo,
  unknownSectionMessage,
} from "../../abi/program-types.js";
import { decode } from "../../isa/codec.js";
import { type InsnRef, type Instruction, insnWidth, OP_LD_IMM64 } from "../../isa/instruction.js";
import { ELF } from "../types.js";
import { isExecSection, OBJECT_ERROR, type ObjectContext, objError } from "./context.js";
import {
  BPF_JMP_CALL,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  collectSectionRelocs,
  type SectionReloc,
} from "./relocs.js";
import type {
  LinkedSubprog,
  MapSpec,
  ProgramCoreRelo,
  ProgramFuncInfo,
  ProgramLineInfo,
  ProgramSpec,
} from "./types.js";

/** A function of an executable section, before linking. */
export interface FunctionCode {
  readonly name: string;
  readonly section: string;
  readonly sectionIndex: number;
  readonly global: boolean;
  /** First slot in the section. */
  readonly startSlot: number;
  readonly slotCount: number;
  /** Its instructions with refs from the section's relocations (imm as in the file). */
  readonly insns: readonly Instruction[];
  /** Slot offset (from the function start) of each instruction. */
  readonly slots: readonly number[];
  /** Relocation by function-relative slot. */
  readonly relocs: ReadonlyMap<number, SectionReloc>;
}

interface SectionCode {
  readonly index: number;
  readonly name: string;
  functions: FunctionCode[];
}

function refOf(
  r: SectionReloc,
  insn: Instruction,
  fnAt: (sec: number, slot: number) => FunctionCode | undefined,
): InsnRef | undefined {
  switch (r.kind) {
    case "extern":
      return { kind: "extern", symbol: r.symbol };
    case "map":
      return { kind: "map", map: r.map };
    case "data":
      return {
        kind: "mapValue",
        map: r.map,
        offset: r.symOff + insn.imm,
        ...(r.symbol !== undefined ? { symbol: r.symbol } : {}),
      };
    case "call": {
      const f = fnAt(r.targetSection, r.symOff / 8 + insn.imm + 1);
      return f ? { kind: "subprog", symbol: f.name } : undefined;
    }
    case "subprogAddr": {
      const f = fnAt(r.targetSection, (r.symOff + insn.imm) / 8);
      return f ? { kind: "subprog", symbol: f.name } : undefined;
    }
  }
}

/** Decode every executable section and split it into functions with resolved refs. */
export function collectFunctions(ctx: ObjectContext, maps: readonly MapSpec[]): SectionCode[] {
  const order = ctx.elf.header.byteOrder;
  const sections: SectionCode[] = [];
  for (const sec of ctx.elf.sections) {
    if (!isExecSection(sec)) continue;
    if (sec.size % 8 !== 0)
      throw objError(ctx, OBJECT_ERROR.PROGRAM, `size ${sec.size} is not a multiple of 8`, sec.name);
    const all = decode(sec.data, order);
    const indexOfSlot = new Map<number, number>();
    let pc = 0;
    for (let i = 0; i < all.length; i++) {
      indexOfSlot.set(pc, i);
      pc += insnWidth(all[i]!);
    }
    const relocs = collectSectionRelocs(
      ctx,
      sec.index,
      (slot) => {
        const i = indexOfSlot.get(slot);
        return i === undefined ? undefined : all[i];
      },
      maps,
    );
    const functions: FunctionCode[] = [];
    const funcSyms = ctx.elf.symbols.filter((s) => s.shndx === sec.index && s.type === ELF.STT_FUNC);
    const starts = [...new Set(funcSyms.map((s) => Number(s.value)))].sort((a, b) => a - b);
    for (const sym of funcSyms) {
      const start = Number(sym.value);
      // Hand-written assembly may leave st_size 0 (no .size): such a function runs to the next
      // function or the section end (libbpf would load it empty and fail).
      const size = sym.size === 0n ? (starts.find((x) => x > start) ?? sec.size) - start : Number(sym.size);
      if (start % 8 !== 0 || size % 8 !== 0 || start + size > sec.size || size === 0)
        throw objError(
          ctx,
          OBJECT_ERROR.PROGRAM,
          `program '${sym.name}' at offset ${start} size ${size} crosses section boundary or is misaligned`,
          sec.name,
        );
      const first = indexOfSlot.get(start / 8);
      const endIdx =
        indexOfSlot.get((start + size) / 8) ?? (start + size === sec.size ? all.length : undefined);
      if (first === undefined || endIdx === undefined)
        throw objError(ctx, OBJECT_ERROR.PROGRAM, `program '${sym.name}' splits an ld_imm64`, sec.name);
      const fnRelocs = new Map<number, SectionReloc>();
      for (const [slot, r] of relocs) {
        if (slot >= start / 8 && slot < (start + size) / 8) fnRelocs.set(slot - start / 8, r);
      }
      const slots: number[] = [];
      let s = 0;
      for (let i = first; i < endIdx; i++) {
        slots.push(s);
        s += insnWidth(all[i]!);
      }
      functions.push({
        name: sym.name,
        section: sec.name,
        sectionIndex: sec.index,
        global: sym.bind !== ELF.STB_LOCAL,
        startSlot: start / 8,
        slotCount: size / 8,
        insns: all.slice(first, endIdx),
        slots,
        relocs: fnRelocs,
      });
    }
    sections.push({ index: sec.index, name: sec.name, functions });
  }
  // Attach refs now that every function (call target) is known.
  const fnAt = (secIdx: number, slot: number): FunctionCode | undefined =>
    sections.find((s) => s.index === secIdx)?.functions.find((f) => f.startSlot === slot);
  for (const s of sections) {
    s.functions = s.functions.map((f) => ({
      ...f,
      insns: f.insns.map((insn, i) => {
        const r = f.relocs.get(f.slots[i]!);
        if (!r) return insn;
        const ref = refOf(r, insn, fnAt);
        if (!ref) return insn;
        // libbpf marks callback addresses as BPF_PSEUDO_FUNC before linking (clang leaves src 0).
        return r.kind === "subprogAddr" ? { ...insn, src: BPF_PSEUDO_FUNC, ref } : { ...insn, ref };
      }),
    }));
  }
  return sections;
}

const isSubprogCall = (i: Instruction): boolean =>
  i.opcode === BPF_JMP_CALL && i.src === BPF_PSEUDO_CALL && i.dst === 0 && i.off === 0;
const isPseudoFunc = (i: Instruction): boolean => i.opcode === OP_LD_IMM64 && i.src === BPF_PSEUDO_FUNC;

interface LinkInput {
  readonly license: string;
  readonly kernelVersion: number;
  readonly allowUnknownSections?: boolean;
}

/** What a section libbpf does not know gives: no type (unspec), no attach type, loaded. */
function unknownInfo(section: string): SectionInfo {
  const autoload = !section.startsWith("?");
  return {
    section,
    def: { pattern: section, match: "exact", progType: "unspec", flags: NO_FLAGS },
    progType: progTypeById(0)!,
    flags: NO_FLAGS,
    autoload,
  };
}

const NO_FLAGS: SectionInfo["flags"] = {
  attachTypeOptional: false,
  attachable: false,
  attachBtf: false,
  sleepable: false,
  xdpFrags: false,
  usdt: false,
};

/** Build every program (non-.text function) with its subprograms linked. */
export function linkPrograms(
  ctx: ObjectContext,
  sections: readonly SectionCode[],
  input: LinkInput,
): ProgramSpec[] {
  const fnAt = (secIdx: number, slot: number): FunctionCode | undefined =>
    sections.find((s) => s.index === secIdx)?.functions.find((f) => f.startSlot === slot);
  const programs: ProgramSpec[] = [];
  // libbpf: .text functions are subprograms, unless the object has exactly one function in all;
  // that one is a program (of no known type: the caller names it, as for `bpftool prog load`).
  const loneText = sections.reduce((n, s) => n + s.functions.length, 0) === 1;
  for (const sec of sections) {
    const isText = sec.index === ctx.textIndex;
    if (isText && !loneText) continue;
    if (sec.functions.length === 0) continue;
    const info =
      programTypeForSection(sec.name) ??
      (input.allowUnknownSections || isText ? unknownInfo(sec.name) : undefined);
    if (!info) throw objError(ctx, OBJECT_ERROR.UNKNOWN_SECTION, unknownSectionMessage(sec.name), sec.name);
    for (const main of sec.functions) {
      const insns: Instruction[] = [];
      const slotOf: number[] = [];
      let nextSlot = 0;
      const placed = new Map<FunctionCode, { index: number; slot: number }>();
      const subprogs: LinkedSubprog[] = [];
      const funcInfo: ProgramFuncInfo[] = [];
      const lineInfo: ProgramLineInfo[] = [];
      const core: {
        slot: number;
        typeId: number;
        access: string;
        kind: ProgramCoreRelo["kind"];
        kindId: number;
        function: string;
      }[] = [];
      const append = (f: FunctionCode): { index: number; slot: number } => {
        const at = { index: insns.length, slot: nextSlot };
        placed.set(f, at);
        for (let i = 0; i < f.insns.length; i++) {
          insns.push(f.insns[i]!);
          slotOf.push(nextSlot + f.slots[i]!);
        }
        nextSlot += f.slotCount;
        return at;
      };
      const moveRecords = (f: FunctionCode, base: number): void => {
        const ext = ctx.btfExt;
        if (!ext) return;
        const inFn = (slot: number): boolean => slot >= f.startSlot && slot < f.startSlot + f.slotCount;
        for (const r of ext.funcInfoFor(f.section)) {
          if (!inFn(r.insn)) continue;
          const slot = r.insn - f.startSlot + base;
          funcInfo.push({ ...r, insn: slot, insnOff: slot * 8 });
        }
        for (const r of ext.lineInfoFor(f.section)) {
          if (!inFn(r.insn)) continue;
          const slot = r.insn - f.startSlot + base;
          lineInfo.push({ ...r, insn: slot, insnOff: slot * 8 });
        }
        for (const r of ext.coreRelosFor(f.section)) {
          if (!inFn(r.insn)) continue;
          core.push({
            slot: r.insn - f.startSlot + base,
            typeId: r.typeId,
            access: r.access,
            kind: r.kind,
            kindId: r.kindId,
            function: f.name,
          });
        }
      };
      const link = (f: FunctionCode): void => {
        const at = placed.get(f)!;
        moveRecords(f, at.slot);
        for (let i = 0; i < f.insns.length; i++) {
          const insn = insns[at.index + i]!;
          if (!isSubprogCall(insn) && !isPseudoFunc(insn)) continue;
          const local = f.slots[i]!;
          const r = f.relocs.get(local);
          if (r && r.kind === "extern") continue;
          let target: FunctionCode | undefined;
          const where = `prog '${main.name}': insn #${local} of '${f.name}'`;
          if (r) {
            if (r.kind !== "call" && r.kind !== "subprogAddr")
              throw objError(
                ctx,
                OBJECT_ERROR.RELOC,
                `${where}: unexpected relocation (${r.kind})`,
                f.section,
              );
            const slot = r.kind === "call" ? r.symOff / 8 + insn.imm + 1 : (r.symOff + insn.imm) / 8;
            target = fnAt(r.targetSection, slot);
          } else if (isPseudoFunc(insn)) {
            throw objError(ctx, OBJECT_ERROR.RELOC, `${where}: missing subprog addr relo`, f.section);
          } else {
            // A call inside one section needs no relocation: imm is relative to the call.
            target = fnAt(f.sectionIndex, f.startSlot + local + insn.imm + 1);
          }
          if (!target)
            throw objError(
              ctx,
              OBJECT_ERROR.RELOC,
              `${where}: call target is not the start of a function`,
              f.section,
            );
          let t = placed.get(target);
          if (!t) {
            t = append(target);
            subprogs.push({
              name: target.name,
              section: target.section,
              insn: t.index,
              slot: t.slot,
              global: target.global,
            });
            link(target);
          }
          const here = at.slot + local;
          insns[at.index + i] = {
            ...insn,
            imm: t.slot - here - 1,
            ref: insn.ref ?? { kind: "subprog", symbol: target.name },
          };
        }
      };
      append(main);
      link(main);
      const indexOfSlot = new Map(slotOf.map((s, i) => [s, i]));
      programs.push({
        name: main.name,
        section: sec.name,
        sectionIndex: sec.index,
        sectionOffset: main.startSlot * 8,
        type: info.progType,
        ...(info.expectedAttachType ? { expectedAttachType: info.expectedAttachType } : {}),
        ...(info.attachTarget !== undefined ? { attachTarget: info.attachTarget } : {}),
        sleepable: info.flags.sleepable,
        xdpFrags: info.flags.xdpFrags,
        autoload: info.autoload,
        global: main.global,
        insns,
        mainSlots: main.slotCount,
        subprogs,
        funcInfo,
        lineInfo,
        coreRelos: core.map((c) => ({ insn: indexOfSlot.get(c.slot) ?? -1, ...c })),
        license: input.license,
        kernelVersion: input.kernelVersion,
      });
    }
  }
  return programs;
}
