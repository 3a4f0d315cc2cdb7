/**
 * Relocations of program sections, classified as libbpf's bpf_program__record_reloc decides:
 * a call or ld_imm64 of an extern symbol; a bpf-to-bpf call (R_BPF_64_32 against a .text
 * symbol); a subprogram address (ld_imm64 of a .text function, for bpf_loop-style callbacks);
 * a map (ld_imm64 of a `.maps`/`maps` symbol); global data (ld_imm64 of a data section symbol
 * or the section itself, the addend in imm).
 */
import { OP_LD_IMM64 } from "../../isa/instruction.js";
import { ELF, type ElfSymbol } from "../types.js";
import { isExternSymbol, OBJECT_ERROR, type ObjectContext, objError, sectionAt } from "./context.js";
import { dataSectionKind } from "./maps.js";
import type { MapSpec } from "./types.js";

export type SectionReloc =
  | { readonly kind: "extern"; readonly symbol: string }
  /** Call: target slot in .text is symOff / 8 + imm + 1. */
  | { readonly kind: "call"; readonly symOff: number; readonly targetSection: number }
  /** Subprogram address: target slot is (symOff + imm) / 8. */
  | { readonly kind: "subprogAddr"; readonly symOff: number; readonly targetSection: number }
  | { readonly kind: "map"; readonly map: string }
  | { readonly kind: "data"; readonly map: string; readonly symOff: number; readonly symbol?: string };

export const BPF_JMP_CALL = 0x85;
export const BPF_PSEUDO_CALL = 1;
export const BPF_PSEUDO_FUNC = 4;

/** Relocations of one section, by slot index. */
export type SectionRelocs = ReadonlyMap<number, SectionReloc>;

function symbolIsSubprog(sym: ElfSymbol, textIndex: number | undefined): boolean {
  if (textIndex === undefined || sym.shndx !== textIndex) return false;
  if (sym.bind === ELF.STB_LOCAL && sym.type === ELF.STT_SECTION) return true;
  return sym.bind === ELF.STB_GLOBAL && sym.type === ELF.STT_FUNC;
}

/**
 * Classify each relocation of an executable section. `opcodeAt(slot)` gives the opcode of the
 * instruction starting at that slot (undefined when the slot is the second half of an ld_imm64).
 */
export function collectSectionRelocs(
  ctx: ObjectContext,
  sectionIndex: number,
  opcodeAt: (slot: number) => { opcode: number; src: number } | undefined,
  maps: readonly MapSpec[],
): Map<number, SectionReloc> {
  const out = new Map<number, SectionReloc>();
  const sec = ctx.elf.sections[sectionIndex]!;
  const rels = ctx.elf.relocations.filter((r) => r.target.index === sectionIndex);
  for (const rel of rels) {
    const relName = rel.section.name;
    for (const [i, r] of rel.entries.entries()) {
      const fail = (msg: string): never => {
        throw objError(ctx, OBJECT_ERROR.RELOC, `relo #${i}: ${msg}`, relName);
      };
      const off = Number(r.offset);
      if (off % 8 !== 0) fail(`offset ${off} is not at an instruction boundary`);
      const slot = off / 8;
      const sym = rel.symbols[r.symbol];
      if (!sym) return fail(`symbol index ${r.symbol} out of range`);
      const insn = opcodeAt(slot);
      if (!insn) return fail(`insn #${slot} is not the start of an instruction`);
      const isCall = insn.opcode === BPF_JMP_CALL;
      const isLd = insn.opcode === OP_LD_IMM64;
      const name = sym.name || sectionAt(ctx, sym.shndx)?.name || `#${r.symbol}`;
      if (!isCall && !isLd)
        fail(`invalid relo against '${name}' for insns[${slot}].code 0x${insn.opcode.toString(16)}`);
      if (isExternSymbol(sym)) {
        out.set(slot, { kind: "extern", symbol: sym.name });
        continue;
      }
      if (isCall) {
        if (insn.src !== BPF_PSEUDO_CALL) fail(`incorrect bpf_call opcode against '${name}'`);
        if (ctx.textIndex === undefined || sym.shndx !== ctx.textIndex)
          fail(
            `bad call relo against '${name}' in section '${sectionAt(ctx, sym.shndx)?.name ?? sym.shndx}'`,
          );
        if (sym.value % 8n !== 0n) fail(`bad call relo offset ${sym.value}`);
        out.set(slot, { kind: "call", symOff: Number(sym.value), targetSection: sym.shndx });
        continue;
      }
      const target = sectionAt(ctx, sym.shndx);
      if (!target || sym.shndx >= 0xff00)
        fail(
          `invalid relo for '${name}' in special section 0x${sym.shndx.toString(16)}; forgot to initialize global var?`,
        );
      if (symbolIsSubprog(sym, ctx.textIndex)) {
        if (sym.value % 8n !== 0n) fail(`bad subprog addr relo against '${name}'`);
        out.set(slot, { kind: "subprogAddr", symOff: Number(sym.value), targetSection: sym.shndx });
        continue;
      }
      const tsec = target!;
      if (tsec.name === ".maps" || tsec.name === "maps") {
        const m = maps.find((x) => x.section === tsec.name && x.sectionOffset === Number(sym.value));
        if (!m) return fail(`map relo failed to find map for section '${tsec.name}', off ${sym.value}`);
        out.set(slot, { kind: "map", map: m.name });
        continue;
      }
      const kind = dataSectionKind(tsec);
      if (!kind) fail(`bad data relo against section '${tsec.name}'`);
      const m = maps.find((x) => x.section === tsec.name && x.origin !== "btf" && x.origin !== "legacy");
      if (!m) return fail(`data relo failed to find map for section '${tsec.name}'`);
      out.set(slot, {
        kind: "data",
        map: m.name,
        symOff: Number(sym.value),
        ...(sym.type !== ELF.STT_SECTION && sym.name ? { symbol: sym.name } : {}),
      });
    }
  }
  void sec;
  return out;
}
