/**
 * The assembled module: sections of instructions and data, symbols and relocations, laid out the
 * way llvm-mc lays out a BPF object. Every syntax front end (LLVM, conformance, objdump) fills an
 * AsmBuilder; `finish()` resolves labels and produces an AsmModule, which `assemble` reads for
 * its instruction list and src/elf/writer.ts turns into a relocatable ELF file.
 */
import { ELF, R_BPF } from "../../elf/types.js";
import { decode, encode } from "../codec.js";
import type { ByteOrder, InsnRef, Instruction } from "../instruction.js";
import { DwarfState } from "./dwarf.js";
import { lebBytes } from "./leb.js";
import { asmError, type SourcePos } from "./lexer.js";

/** A relocatable value: `sym - sub + add` (sym/sub absent for plain numbers). */
export interface Expr {
  readonly sym?: string;
  readonly sub?: string;
  readonly add: bigint;
}

/** How an instruction still depends on a symbol. */
export type InsnFixup =
  /** Branch to a label of the same section: fills `off` (or `imm` for gotol). */
  | {
      readonly kind: "jump";
      readonly target: string;
      readonly field: "off" | "imm";
      readonly col?: number;
      /** How the source spelled the label, when `target` is an internal name. */
      readonly display?: string;
    }
  /** bpf-to-bpf call of a symbol (R_BPF_64_32 unless local to the section). */
  | {
      readonly kind: "call";
      readonly target: string;
      readonly col?: number;
      readonly noRef?: boolean;
      readonly display?: string;
    }
  /** ld_imm64 of a symbol address plus addend (R_BPF_64_64). */
  | { readonly kind: "ldimm"; readonly target: string; readonly addend: bigint; readonly col?: number }
  /** A relocation read back from llvm-objdump -r output: the instruction stays as it is. */
  | { readonly kind: "reloc"; readonly type: number; readonly target: string; readonly col?: number };

type Item =
  | { readonly kind: "insn"; readonly insn: Instruction; readonly fixup?: InsnFixup; readonly pos: SourcePos }
  | { readonly kind: "data"; readonly size: 1 | 2 | 4 | 8; readonly expr: Expr; readonly pos: SourcePos }
  | { readonly kind: "bytes"; readonly bytes: Uint8Array }
  | { readonly kind: "leb"; readonly signed: boolean; readonly expr: Expr; readonly pos: SourcePos }
  | { readonly kind: "align"; readonly align: number; readonly fill: number }
  | { readonly kind: "fill"; readonly size: number; readonly value: number };

export interface AsmRelocation {
  /** Byte offset in the section. */
  readonly offset: number;
  /** R_BPF_* type. */
  readonly type: number;
  /** Symbol name, or the section name when `section` is true (the section's STT_SECTION symbol). */
  readonly symbol: string;
  readonly section: boolean;
}

export interface AsmSection {
  readonly name: string;
  readonly type: number;
  readonly flags: bigint;
  readonly entsize: number;
  readonly align: number;
  /** Contents (zero-length for SHT_NOBITS; see `size`). */
  readonly data: Uint8Array;
  readonly size: number;
  readonly relocations: readonly AsmRelocation[];
  /** The instructions of an executable section, in order, with their symbolic references. */
  readonly insns: readonly Instruction[];
  /** Byte offset of each instruction of `insns`. */
  readonly insnOffsets: readonly number[];
  /** Creation order (llvm-mc orders section symbols by it). */
  readonly order: number;
  /** Whether a relocation refers to the section itself (then it gets an STT_SECTION symbol). */
  readonly sectionSymbol?: boolean;
}

export interface AsmSymbol {
  readonly name: string;
  /** Defining section, undefined for an undefined (external) symbol. */
  readonly section?: string;
  readonly value: bigint;
  readonly size: bigint;
  /** STT_* */
  readonly type: number;
  /** STB_* */
  readonly bind: number;
  /** STV_* */
  readonly visibility: number;
  /** First mention: llvm-mc writes symbols in this order (locals first). */
  readonly order: number;
  /** Defined by `.set`/`=` to a number (SHN_ABS). */
  readonly absolute?: boolean;
  /** A common symbol (SHN_COMMON): `value` is its alignment. */
  readonly common?: boolean;
}

export interface AsmModule {
  readonly byteOrder: ByteOrder;
  /** `.file "name"`: the STT_FILE symbol. */
  readonly fileName?: string;
  readonly sections: readonly AsmSection[];
  /** Symbols that go into .symtab (no temporary `.L` labels), section symbols excluded. */
  readonly symbols: readonly AsmSymbol[];
  /** `.addrsig_sym` names when `.addrsig` was given (the .llvm_addrsig section), else undefined. */
  readonly addrsig?: readonly string[];
}

interface SectionState {
  readonly name: string;
  type: number;
  flags: bigint;
  entsize: number;
  align: number;
  readonly items: Item[];
  readonly order: number;
  offsets: number[];
  size: number;
}

interface SymbolState {
  readonly name: string;
  section?: string;
  /** Index of the item the label precedes (its offset is that item's offset). */
  item?: number;
  /** Absolute value (`.set`) when there is no section. */
  absolute?: bigint;
  size?: Expr;
  type?: number;
  bind?: number;
  visibility?: number;
  readonly order: number;
  defPos?: SourcePos;
  /** A global common symbol (`.comm`): SHN_COMMON, value = alignment. */
  common?: { size: number; align: number };
}

/** How the source wrote a label: numeric local labels are `.Lnum<N>$<k>` inside. */
export function labelDisplay(name: string): string {
  const m = /^\.Lnum([0-9]+)\$[0-9]+$/.exec(name);
  return m ? `${m[1]}f` : name;
}

/** A label name that llvm-mc keeps out of the symbol table. */
export const isTemporary = (name: string): boolean => name.startsWith(".L");

/** Default type and flags of a section known by name (what llvm-mc assumes without flags). */
export function defaultSectionKind(name: string): { type: number; flags: bigint } {
  const is = (p: string): boolean => name === p || name.startsWith(`${p}.`);
  if (is(".text")) return { type: ELF.SHT_PROGBITS, flags: ELF.SHF_ALLOC | ELF.SHF_EXECINSTR };
  if (is(".bss") || is(".tbss")) return { type: ELF.SHT_NOBITS, flags: ELF.SHF_ALLOC | ELF.SHF_WRITE };
  if (is(".data") || is(".data1")) return { type: ELF.SHT_PROGBITS, flags: ELF.SHF_ALLOC | ELF.SHF_WRITE };
  if (is(".rodata") || is(".rodata1")) return { type: ELF.SHT_PROGBITS, flags: ELF.SHF_ALLOC };
  return { type: ELF.SHT_PROGBITS, flags: 0n };
}

export { lebBytes } from "./leb.js";

export class AsmBuilder {
  private readonly sections = new Map<string, SectionState>();
  private readonly symbols = new Map<string, SymbolState>();
  private order = 0;
  private current: SectionState;
  private readonly sectionStack: SectionState[] = [];
  fileName?: string;
  addrsig?: string[];
  /** How many times each numeric label (`1:`) has been defined so far. */
  readonly numericLabels = new Map<string, number>();
  /** Line and frame tables from `.file`/`.loc`/`.cfi_*`. */
  readonly dwarf = new DwarfState();
  private readonly placeLabels = new Map<string, string>();

  constructor(readonly byteOrder: ByteOrder) {
    this.current = this.section(".text");
  }

  /** Find or create a section (creation order is kept for the ELF layout). */
  section(name: string, kind?: { type?: number; flags?: bigint; entsize?: number }): SectionState {
    let s = this.sections.get(name);
    if (!s) {
      const d = defaultSectionKind(name);
      s = {
        name,
        type: kind?.type ?? d.type,
        flags: kind?.flags ?? d.flags,
        entsize: kind?.entsize ?? 0,
        // llvm-mc gives .text 4-byte alignment and every other section 1 unless asked.
        align: name === ".text" ? 4 : 1,
        items: [],
        order: this.order++,
        offsets: [],
        size: 0,
      };
      this.sections.set(name, s);
    }
    return s;
  }

  switchTo(name: string, kind?: { type?: number; flags?: bigint; entsize?: number }): void {
    this.current = this.section(name, kind);
  }

  pushSection(name: string, kind?: { type?: number; flags?: bigint; entsize?: number }): void {
    this.sectionStack.push(this.current);
    this.switchTo(name, kind);
  }

  popSection(pos: SourcePos): void {
    const s = this.sectionStack.pop();
    if (!s) throw asmError("E_ASM_DIRECTIVE", ".popsection without .pushsection", pos);
    this.current = s;
  }

  get currentSection(): string {
    return this.current.name;
  }

  isCode(): boolean {
    return (this.current.flags & ELF.SHF_EXECINSTR) !== 0n;
  }

  /** Note a symbol at its first mention (reference or definition). */
  symbol(name: string): SymbolState {
    let s = this.symbols.get(name);
    if (!s) {
      s = { name, order: this.order++ };
      this.symbols.set(name, s);
    }
    return s;
  }

  defineLabel(name: string, pos: SourcePos, col?: number): void {
    const s = this.symbol(name);
    if (s.section !== undefined || s.absolute !== undefined) {
      const prev = s.defPos ? ` (first defined at line ${s.defPos.line})` : "";
      throw asmError("E_ASM_LABEL", `symbol '${name}' is already defined${prev}`, pos, col);
    }
    s.section = this.current.name;
    s.item = this.current.items.length;
    s.defPos = pos;
  }

  /** `.comm`/`.lcomm`: a local common symbol is allocated in .bss; a global one stays SHN_COMMON. */
  common(name: string, size: number, align: number, local: boolean, pos: SourcePos): void {
    const s = this.symbol(name);
    if (s.type === undefined) s.type = ELF.STT_OBJECT;
    s.size = { add: BigInt(size) };
    if (!local && s.bind !== ELF.STB_LOCAL) {
      s.common = { size, align };
      if (s.bind === undefined) s.bind = ELF.STB_GLOBAL;
      return;
    }
    const saved = this.current;
    this.current = this.section(".bss");
    this.addAlign(Math.max(1, align));
    this.defineLabel(name, pos);
    this.addFill(size, 0);
    this.current = saved;
  }

  setAbsolute(name: string, value: bigint, pos: SourcePos): void {
    const s = this.symbol(name);
    s.absolute = value;
    s.defPos = pos;
  }

  setBind(name: string, bind: number): void {
    this.symbol(name).bind = bind;
  }
  setType(name: string, type: number): void {
    this.symbol(name).type = type;
  }
  setVisibility(name: string, v: number): void {
    this.symbol(name).visibility = v;
  }
  setSize(name: string, size: Expr): void {
    this.symbol(name).size = size;
  }

  /** Mention the symbols an expression uses (so the symbol order follows the source). */
  private touch(e: Expr): void {
    if (e.sym !== undefined) this.symbol(e.sym);
    if (e.sub !== undefined) this.symbol(e.sub);
  }

  /** Number of items in the current section (the position of the next one). */
  itemCount(): number {
    return this.current.items.length;
  }

  /** A fresh temporary label at the current position of the current section. */
  tempLabelHere(): string {
    return this.tempLabelAt(this.current.name, this.current.items.length);
  }

  /** A temporary label at item `item` of `section` (one per place). */
  tempLabelAt(section: string, item: number): string {
    const key = `${section}\u0000${item}`;
    let name = this.placeLabels.get(key);
    if (!name) {
      name = `.Ltsbpf.${this.placeLabels.size}`;
      const s = this.symbol(name);
      s.section = section;
      s.item = item;
      this.placeLabels.set(key, name);
    }
    return name;
  }

  /** Byte offset of an item after `layoutAll` (the section's size for the end position). */
  offsetOf(section: string, item: number): number {
    return this.sections.get(section)?.offsets[item] ?? 0;
  }

  sizeOf(section: string): number {
    return this.sections.get(section)?.size ?? 0;
  }

  /** Lay out every section until the sizes settle (uleb128 of label differences may move). */
  private layoutAll(): void {
    const secs = [...this.sections.values()];
    for (let pass = 0; pass < 16; pass++) {
      let changed = false;
      for (const s of secs) if (this.layout(s)) changed = true;
      if (!changed) break;
    }
  }

  addInsn(insn: Instruction, pos: SourcePos, fixup?: InsnFixup): void {
    this.dwarf.noteInsn(this.current.name, this.current.items.length);
    // A relocation read from objdump output may name a section: decided when resolving.
    if (fixup && fixup.kind !== "reloc") this.symbol(fixup.target);
    this.current.items.push({ kind: "insn", insn, fixup, pos });
  }

  addData(size: 1 | 2 | 4 | 8, expr: Expr, pos: SourcePos): void {
    this.touch(expr);
    this.current.items.push({ kind: "data", size, expr, pos });
  }

  addBytes(bytes: Uint8Array): void {
    this.current.items.push({ kind: "bytes", bytes });
  }

  addLeb(signed: boolean, expr: Expr, pos: SourcePos): void {
    this.touch(expr);
    this.current.items.push({ kind: "leb", signed, expr, pos });
  }

  addFill(size: number, value: number): void {
    this.current.items.push({ kind: "fill", size, value });
  }

  addAlign(align: number, fill?: number): void {
    if (align > this.current.align) this.current.align = align;
    // Code sections pad with zero bytes too (llvm-mc's BPF backend writes zeros; gaps are rare).
    this.current.items.push({ kind: "align", align, fill: fill ?? 0 });
  }

  // ---- layout and resolution ----

  private itemSize(it: Item, at: number, sec: SectionState): number {
    switch (it.kind) {
      case "insn":
        return it.insn.opcode === 0x18 ? 16 : 8;
      case "data":
        return it.size;
      case "bytes":
        return it.bytes.length;
      case "fill":
        return it.size;
      case "align":
        return (it.align - (at % it.align)) % it.align;
      case "leb": {
        const v = this.tryConst(it.expr, sec);
        return lebBytes(v ?? 0n, it.signed).length;
      }
    }
  }

  private layout(sec: SectionState): boolean {
    let at = 0;
    let changed = false;
    const offsets: number[] = new Array(sec.items.length + 1);
    sec.items.forEach((it, i) => {
      offsets[i] = at;
      at += this.itemSize(it, at, sec);
    });
    offsets[sec.items.length] = at;
    if (sec.offsets.length !== offsets.length || offsets.some((o, i) => o !== sec.offsets[i])) changed = true;
    sec.offsets = offsets;
    sec.size = at;
    return changed;
  }

  /** Offset of a defined label (after layout). */
  private labelOffset(s: SymbolState): bigint | undefined {
    if (s.absolute !== undefined) return s.absolute;
    if (s.section === undefined || s.item === undefined) return undefined;
    const sec = this.sections.get(s.section);
    const off = sec?.offsets[s.item];
    return off === undefined ? undefined : BigInt(off);
  }

  /** The constant value of an expression, when it has one (label differences within a section). */
  private tryConst(e: Expr, _sec: SectionState): bigint | undefined {
    if (e.sym === undefined) return e.add;
    const a = this.symbols.get(e.sym);
    if (!a) return undefined;
    if (e.sub === undefined) return a.absolute !== undefined ? a.absolute + e.add : undefined;
    const b = this.symbols.get(e.sub);
    if (!b) return undefined;
    const va = this.labelOffset(a);
    const vb = this.labelOffset(b);
    if (va === undefined || vb === undefined) return undefined;
    if (a.absolute === undefined && b.absolute === undefined && a.section !== b.section) return undefined;
    return va - vb + e.add;
  }

  private isGlobal(s: SymbolState): boolean {
    return s.bind === ELF.STB_GLOBAL || s.bind === ELF.STB_WEAK;
  }

  /**
   * Where a relocation against `name` points: locals become their section's symbol plus the
   * label's offset (llvm-mc does this for every local symbol), others stay named.
   */
  private relocTarget(name: string): {
    symbol: string;
    section: boolean;
    addend: bigint;
    defined?: SymbolState;
  } {
    const s = this.symbol(name);
    if (s.section !== undefined && !this.isGlobal(s)) {
      return { symbol: s.section, section: true, addend: this.labelOffset(s) ?? 0n, defined: s };
    }
    return { symbol: name, section: false, addend: 0n, defined: s.section !== undefined ? s : undefined };
  }

  finish(): AsmModule {
    // The DWARF tables need the code laid out; they are appended after everything else.
    this.layoutAll();
    this.dwarf.generate(this);
    const secs = [...this.sections.values()];
    // A section's name used as a symbol (`.long .debug_abbrev`) means the section's start.
    const aliases = new Set<string>();
    for (const s of this.symbols.values()) {
      if (
        s.section === undefined &&
        s.absolute === undefined &&
        this.sections.has(s.name) &&
        s.bind === undefined
      ) {
        s.section = s.name;
        s.item = 0;
        aliases.add(s.name);
      }
    }
    this.layoutAll();
    const usedSectionSyms = new Set<string>();
    const sections: AsmSection[] = secs.map((sec) => {
      const out = this.emitSection(sec);
      for (const r of out.relocations) if (r.section) usedSectionSyms.add(r.symbol);
      return out;
    });
    const symbols: AsmSymbol[] = [];
    for (const s of this.symbols.values()) {
      if (aliases.has(s.name)) continue;
      if (isTemporary(s.name)) {
        if (s.section === undefined && s.absolute === undefined) {
          const at = s.defPos ?? { line: 0 };
          throw asmError("E_ASM_UNDEFINED", `undefined temporary symbol '${s.name}'`, at);
        }
        continue;
      }
      const size = s.size ? (this.tryConst(s.size, this.current) ?? 0n) : 0n;
      symbols.push({
        name: s.name,
        section: s.section,
        value: s.common ? BigInt(s.common.align) : (this.labelOffset(s) ?? 0n),
        size,
        type: s.type ?? ELF.STT_NOTYPE,
        bind:
          s.bind ?? (s.section === undefined && s.absolute === undefined ? ELF.STB_GLOBAL : ELF.STB_LOCAL),
        visibility: s.visibility ?? 0,
        order: s.order,
        ...(s.absolute !== undefined ? { absolute: true } : {}),
        ...(s.common ? { common: true } : {}),
      });
    }
    return {
      byteOrder: this.byteOrder,
      fileName: this.fileName,
      sections: sections.map((s) => (usedSectionSyms.has(s.name) ? { ...s, sectionSymbol: true } : s)),
      symbols,
      addrsig: this.addrsig,
    };
  }

  private emitSection(sec: SectionState): AsmSection {
    const nobits = sec.type === ELF.SHT_NOBITS;
    const data = new Uint8Array(nobits ? 0 : sec.size);
    const view = new DataView(data.buffer);
    const le = this.byteOrder === "le";
    const relocations: AsmRelocation[] = [];
    const insns: Instruction[] = [];
    const insnOffsets: number[] = [];
    sec.items.forEach((it, i) => {
      const at = sec.offsets[i];
      if (nobits) {
        if (it.kind === "insn" || it.kind === "bytes" || it.kind === "data" || it.kind === "leb") {
          const nonzero =
            it.kind === "bytes" ? it.bytes.some((b) => b !== 0) : it.kind !== "data" || it.expr.add !== 0n;
          if (nonzero || it.kind === "insn") {
            const pos = "pos" in it ? it.pos : { line: 0 };
            throw asmError("E_ASM_NOBITS", `section '${sec.name}' has no contents (SHT_NOBITS)`, pos);
          }
        }
        return;
      }
      switch (it.kind) {
        case "insn": {
          if (at % 8 !== 0) {
            throw asmError(
              "E_ASM_ALIGN",
              `instruction at byte ${at} of '${sec.name}' is not 8-byte aligned`,
              it.pos,
            );
          }
          const insn = this.resolveInsn(it.insn, it.fixup, sec, it.pos, relocations, at);
          data.set(encode([insn], this.byteOrder), at);
          insns.push(insn);
          insnOffsets.push(at);
          break;
        }
        case "bytes":
          data.set(it.bytes, at);
          break;
        case "fill":
          data.fill(it.value & 0xff, at, at + it.size);
          break;
        case "align":
          data.fill(it.fill & 0xff, at, sec.offsets[i + 1]);
          break;
        case "leb": {
          const v = this.tryConst(it.expr, sec);
          if (v === undefined) {
            throw asmError("E_ASM_EXPR", "the value of a .uleb128/.sleb128 must be a constant", it.pos);
          }
          const bytes = lebBytes(v, it.signed);
          // Relaxation settled on a size; pad (as llvm-mc does) if the value got shorter.
          const room = sec.offsets[i + 1] - at;
          for (let k = 0; k < room; k++) {
            const b = k < bytes.length ? bytes[k] : 0;
            data[at + k] = k < room - 1 ? b | 0x80 : b & 0x7f;
          }
          break;
        }
        case "data": {
          let value = this.tryConst(it.expr, sec);
          if (value === undefined) {
            const e = it.expr;
            if (e.sub !== undefined || e.sym === undefined) {
              throw asmError("E_ASM_EXPR", "expression is not a constant or a symbol plus offset", it.pos);
            }
            if (it.size < 4) {
              throw asmError("E_ASM_EXPR", `a ${it.size}-byte value cannot hold a symbol address`, it.pos);
            }
            const t = this.relocTarget(e.sym);
            value = t.addend + e.add;
            relocations.push({
              offset: at,
              type: this.dataRelocType(it.size === 8 ? 8 : 4, e.sym),
              symbol: t.symbol,
              section: t.section,
            });
          }
          if (it.size < 8) {
            const bits = BigInt(it.size * 8);
            if (value < -(1n << (bits - 1n)) || value >= 1n << bits) {
              throw asmError("E_ASM_RANGE", `value ${value} does not fit in ${it.size} byte(s)`, it.pos);
            }
          }
          writeInt(view, at, it.size, value, le);
          break;
        }
      }
    });
    const code = this.codeOf(sec, data, insns, insnOffsets);
    return {
      name: sec.name,
      type: sec.type,
      flags: sec.flags,
      entsize: sec.entsize,
      align: sec.align,
      data,
      size: sec.size,
      relocations,
      insns: code.insns,
      insnOffsets: code.offsets,
      order: sec.order,
    };
  }

  /**
   * The instructions of an executable section are its bytes read as instructions, so `.byte`
   * lines (how a printer writes what LLVM's syntax cannot say) count as the instructions they
   * encode; instructions written as such keep their symbolic references.
   */
  private codeOf(
    sec: SectionState,
    data: Uint8Array,
    written: readonly Instruction[],
    writtenAt: readonly number[],
  ): { insns: Instruction[]; offsets: number[] } {
    if ((sec.flags & ELF.SHF_EXECINSTR) === 0n || sec.type === ELF.SHT_NOBITS) {
      return { insns: [...written], offsets: [...writtenAt] };
    }
    const byOffset = new Map<number, Instruction>();
    for (let k = 0; k < writtenAt.length; k++) byOffset.set(writtenAt[k], written[k]);
    const insns: Instruction[] = [];
    const offsets: number[] = [];
    let at = 0;
    for (const d of decode(data, this.byteOrder)) {
      insns.push(byOffset.get(at) ?? d);
      offsets.push(at);
      at += d.opcode === 0x18 && d.wide ? 16 : 8;
    }
    return { insns, offsets };
  }

  /**
   * llvm-mc's choice for a 4-byte symbol value: R_BPF_64_NODYLD32 for .BTF/.BTF.ext style
   * references (a temporary label in code, or a named symbol in writable data), else ABS32.
   */
  private dataRelocType(size: 4 | 8, name: string): number {
    if (size === 8) return R_BPF["64_ABS64"];
    const s = this.symbols.get(name);
    const sec = s?.section !== undefined ? this.sections.get(s.section) : undefined;
    if (s && sec) {
      const alloc = (sec.flags & ELF.SHF_ALLOC) !== 0n;
      if (isTemporary(s.name)) {
        if (alloc && (sec.flags & ELF.SHF_EXECINSTR) !== 0n) return R_BPF["64_NODYLD32"];
      } else if (alloc && (sec.flags & ELF.SHF_WRITE) !== 0n) {
        return R_BPF["64_NODYLD32"];
      }
    }
    return R_BPF["64_ABS32"];
  }

  private resolveInsn(
    insn: Instruction,
    fixup: InsnFixup | undefined,
    sec: SectionState,
    pos: SourcePos,
    relocations: AsmRelocation[],
    at: number,
  ): Instruction {
    if (!fixup) return insn;
    const pc = BigInt(at / 8);
    if (fixup.kind === "reloc") {
      const known = this.symbols.get(fixup.target);
      const isSection =
        this.sections.has(fixup.target) && known?.section === undefined && known?.absolute === undefined;
      if (!isSection) this.symbol(fixup.target);
      relocations.push({ offset: at, type: fixup.type, symbol: fixup.target, section: isSection });
      const ref: InsnRef =
        fixup.type === R_BPF["64_32"]
          ? known?.section !== undefined || isSection
            ? { kind: "subprog", symbol: fixup.target }
            : { kind: "extern", symbol: fixup.target }
          : { kind: "symbol", symbol: fixup.target };
      return { ...insn, ref };
    }
    const target = this.symbols.get(fixup.target) ?? this.symbol(fixup.target);
    switch (fixup.kind) {
      case "jump": {
        if (target.section === undefined) {
          throw asmError(
            "E_ASM_UNDEFINED",
            `undefined label '${fixup.display ?? labelDisplay(fixup.target)}'`,
            pos,
            fixup.col,
          );
        }
        if (target.section !== sec.name) {
          throw asmError(
            "E_ASM_LABEL",
            `label '${fixup.target}' is in section '${target.section}', not in '${sec.name}'`,
            pos,
            fixup.col,
          );
        }
        const off = (this.labelOffset(target) ?? 0n) / 8n - pc - 1n;
        const [lo, hi] = fixup.field === "off" ? [-0x8000n, 0x7fffn] : [-0x80000000n, 0x7fffffffn];
        if (off < lo || off > hi) {
          throw asmError(
            "E_ASM_RANGE",
            `jump to '${fixup.target}' is out of range (${off} slots)`,
            pos,
            fixup.col,
          );
        }
        return fixup.field === "off" ? { ...insn, off: Number(off) } : { ...insn, imm: Number(off) };
      }
      case "call": {
        if (target.section === undefined && isTemporary(fixup.target)) {
          throw asmError(
            "E_ASM_UNDEFINED",
            `undefined label '${fixup.display ?? labelDisplay(fixup.target)}'`,
            pos,
            fixup.col,
          );
        }
        const ref: InsnRef =
          target.section === undefined
            ? { kind: "extern", symbol: fixup.target }
            : { kind: "subprog", symbol: fixup.target };
        // A call of a local label in the same section is resolved in place (no relocation).
        if (target.section === sec.name && !this.isGlobal(target)) {
          const imm = (this.labelOffset(target) ?? 0n) / 8n - pc - 1n;
          const resolved = { ...insn, imm: Number(BigInt.asIntN(32, imm)) };
          return fixup.noRef ? resolved : { ...resolved, ref };
        }
        const t = this.relocTarget(fixup.target);
        relocations.push({ offset: at, type: R_BPF["64_32"], symbol: t.symbol, section: t.section });
        const relocated = { ...insn, imm: Number(BigInt.asIntN(32, t.addend / 8n - 1n)) };
        return fixup.noRef ? relocated : { ...relocated, ref };
      }
      case "ldimm": {
        const t = this.relocTarget(fixup.target);
        relocations.push({ offset: at, type: R_BPF["64_64"], symbol: t.symbol, section: t.section });
        // The relocation's addend lives in the low word only (llvm-mc's REL addend for
        // R_BPF_64_64); the high word stays 0 even for a negative addend.
        const v = BigInt.asUintN(32, t.addend + fixup.addend);
        const ref: InsnRef =
          target.section !== undefined
            ? { kind: "symbol", symbol: fixup.target, section: target.section }
            : { kind: "symbol", symbol: fixup.target };
        return {
          ...insn,
          imm: Number(BigInt.asIntN(32, v & 0xffffffffn)),
          wide: { opcode: 0, dst: 0, src: 0, off: 0, imm: Number(BigInt.asIntN(32, v >> 32n)) },
          ref,
        };
      }
    }
  }

  /** Every symbol mentioned but never defined, for callers that want to refuse externs. */
  undefinedSymbols(): string[] {
    return [...this.symbols.values()]
      .filter((s) => s.section === undefined && s.absolute === undefined)
      .map((s) => s.name);
  }
}

function writeInt(view: DataView, at: number, size: number, value: bigint, le: boolean): void {
  const v = BigInt.asUintN(size * 8, value);
  switch (size) {
    case 1:
      view.setUint8(at, Number(v));
      break;
    case 2:
      view.setUint16(at, Number(v), le);
      break;
    case 4:
      view.setUint32(at, Number(v), le);
      break;
    default:
      view.setBigUint64(at, v, le);
  }
}
