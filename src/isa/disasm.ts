/**
 * `llvm-objdump -d [-r]` for BPF ELF objects, byte for byte as LLVM 19 prints it. The layout
 * rules below were measured on llvm-objdump-19 (and read from its sources for facts):
 *
 * - Every section with SHF_EXECINSTR, not NOBITS, non-empty is listed; it is cut into chunks at
 *   every symbol address (symbols of the section sorted by address, then name, then type; a
 *   dummy symbol named after the section when none sits at its start). A chunk prints the last
 *   code symbol at its address; a chunk whose symbols are all data (STT_OBJECT/COMMON) is dumped
 *   as bytes plus ASCII instead of instructions.
 * - A run of 8 or more zero bytes at an instruction boundary becomes "\t\t..." and skips the run
 *   rounded down to a multiple of 4 (which can leave the next slot misaligned); with -r the run
 *   stops at the next relocation.
 * - A slot LLVM cannot decode is 8 bytes of `<unknown>`; fewer than 8 bytes left, or an ld_imm64
 *   missing its second slot, is 1 byte of `<unknown>` and decoding resumes at the next byte.
 *   Decoding reads past a chunk's end into the next one (an ld_imm64 straddling a symbol).
 * - Branch targets are annotated with the nearest preceding symbol of the section,
 *   `<sym+0xoff>`, computed modulo 2^64 (a branch before the section start wraps).
 * - With -r, relocations follow their instruction; CO-RE relocations from .BTF.ext come first.
 */

import { parseBtf } from "../elf/btf/parse.js";
import { parseBtfExt } from "../elf/btf-ext.js";
import { readElf } from "../elf/reader.js";
import type { ElfFile, ElfSection, ElfSymbol } from "../elf/types.js";
import { ELF } from "../elf/types.js";
import { ElfError } from "../errors.js";
import { type CoreRelocIndex, indexCoreRelocs } from "./disasm-core.js";
import { buildLineInfo, type LineInfo, type SourceLine } from "./disasm-lines.js";
import { TextSink } from "./disasm-sink.js";
import {
  ASM_STYLE,
  hasAlu32,
  llvmBranchDisplacement,
  llvmInsnText,
  type Mcpu,
  OBJDUMP_STYLE,
  type OperandStyle,
} from "./format.js";

export interface DisassembleOptions {
  /** Print relocations inline (`-r`). */
  readonly relocs?: boolean;
  /** Print the instruction bytes (default true; `--no-show-raw-insn` turns it off). */
  readonly showRawInsn?: boolean;
  /** `--mcpu`; the default (none) behaves like v1. */
  readonly mcpu?: Mcpu;
  /** Immediates in hex (llvm-objdump's default); false is `--no-print-imm-hex` (decimal). */
  readonly printImmHex?: boolean;
  /** Interleave DWARF source lines (`-l`): "; function():" and "; file:line" lines. */
  readonly lineNumbers?: boolean;
  /**
   * `--line-info`: before each instruction that starts a BTF line_info record, print the source
   * line as `bpftool prog dump xlated linum` does. Not an llvm-objdump flag: output differs.
   */
  readonly btfLineInfo?: boolean;
  /** The path printed in the file header line (default: the ElfFile's own path). */
  readonly path?: string;
}

/** A symbol as llvm-objdump's disassembler keeps it. */
interface DisSymbol {
  readonly addr: bigint;
  readonly name: string;
  readonly type: number;
}

/** A relocation of the section being disassembled, ready to print. */
interface DisReloc {
  /** Section offset (r_offset for relocatable files, r_offset - sh_addr otherwise). */
  readonly offset: number;
  readonly address: bigint;
  readonly text: string;
}

const HEX2: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const MASK64 = (1n << 64n) - 1n;
const STT_COMMON = 5;

const R_BPF_NAMES: Readonly<Record<number, string>> = {
  0: "R_BPF_NONE",
  1: "R_BPF_64_64",
  2: "R_BPF_64_ABS64",
  3: "R_BPF_64_ABS32",
  4: "R_BPF_64_NODYLD32",
  10: "R_BPF_64_32",
};

/** The `file format` name llvm-objdump prints for an ELF64 file of this machine. */
function fileFormatName(elf: ElfFile): string {
  switch (elf.header.machine) {
    case ELF.EM_BPF:
      return "elf64-bpf";
    case ELF.EM_X86_64:
      return "elf64-x86-64";
    case ELF.EM_AARCH64:
      return elf.header.byteOrder === "le" ? "elf64-littleaarch64" : "elf64-bigaarch64";
    default:
      return elf.header.byteOrder === "le" ? "elf64-little" : "elf64-big";
  }
}

/** The header line llvm-objdump prints before anything else about a file. */
export function objdumpFileHeader(elf: ElfFile, path: string): string {
  return `\n${path}:\tfile format ${fileFormatName(elf)}\n`;
}

function hex16(v: bigint): string {
  return v.toString(16).padStart(16, "0");
}

/** Sort key order of llvm-objdump's SymbolInfoTy: address, then name bytes, then type. */
function compareSymbols(a: DisSymbol, b: DisSymbol): number {
  if (a.addr !== b.addr) return a.addr < b.addr ? -1 : 1;
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return a.type - b.type;
}

/** Symbols per section index, and those that belong to no section, as llvm-objdump gathers them. */
function collectSymbols(elf: ElfFile): { bySection: Map<number, DisSymbol[]>; absolute: DisSymbol[] } {
  const bySection = new Map<number, DisSymbol[]>();
  const absolute: DisSymbol[] = [];
  const rel = elf.header.type === ELF.ET_REL;
  const add = (s: ElfSymbol, dynamic: boolean): void => {
    if (s.name === "") return;
    // STT_SECTION and STT_FILE are "format specific" and never label code.
    if (s.type === ELF.STT_SECTION || (!dynamic && s.type === ELF.STT_FILE)) return;
    // LLVM's symbol address: 0 when undefined, st_size for common symbols (STT_COMMON in any
    // section too), else st_value; plus sh_addr in relocatable files.
    const common = s.type === STT_COMMON || s.shndx === ELF.SHN_COMMON;
    const value = s.shndx === ELF.SHN_UNDEF ? 0n : common && !dynamic ? s.size : s.value;
    const inSection = s.shndx !== ELF.SHN_UNDEF && s.shndx < 0xff00 && s.shndx < elf.sections.length;
    if (!inSection) {
      if (!dynamic) absolute.push({ addr: value, name: s.name, type: s.type });
      return;
    }
    const sec = elf.sections[s.shndx];
    const addr = rel ? (value + sec.addr) & MASK64 : value;
    let list = bySection.get(s.shndx);
    if (list === undefined) {
      list = [];
      bySection.set(s.shndx, list);
    }
    list.push({ addr, name: s.name, type: s.type });
  };
  for (const s of elf.symbols) add(s, false);
  // Files without any section symbol fall back to the dynamic symbol table.
  if (bySection.size === 0) for (const s of elf.dynamicSymbols) add(s, true);
  for (const list of bySection.values()) list.sort(compareSymbols);
  absolute.sort(compareSymbols);
  return { bySection, absolute };
}

/** llvm-objdump's relocation value: symbol name (section name for STT_SECTION), `*ABS*` for none. */
function relocValue(
  elf: ElfFile,
  symbols: readonly ElfSymbol[],
  index: number,
  addend: bigint | undefined,
): string {
  let s: string;
  if (index === 0) {
    s = "*ABS*";
  } else {
    const sym = symbols[index];
    if (sym.type === ELF.STT_SECTION) {
      const sec = sym.shndx < elf.sections.length ? elf.sections[sym.shndx] : undefined;
      if (sec === undefined) {
        throw new ElfError("E_ELF_RANGE", `relocation symbol ${index} is a section symbol of no section`, {
          file: elf.file,
        });
      }
      s = sec.name;
    } else {
      s = sym.name;
    }
  }
  if (addend !== undefined && addend !== 0n)
    s += addend < 0n ? `-0x${(-addend).toString(16)}` : `+0x${addend.toString(16)}`;
  return s;
}

function relocTypeName(elf: ElfFile, type: number): string {
  if (elf.header.machine === ELF.EM_BPF) return R_BPF_NAMES[type] ?? "Unknown";
  return "Unknown";
}

/** Relocations that patch `section`, in llvm-objdump's order (stable by offset). */
function sectionRelocs(elf: ElfFile, section: ElfSection): DisReloc[] {
  const out: DisReloc[] = [];
  const adjust = elf.header.type === ELF.ET_REL ? 0n : section.addr;
  for (const rs of elf.relocations) {
    if (rs.target.index !== section.index) continue;
    for (const r of rs.entries) {
      const off = (r.offset - adjust) & MASK64;
      out.push({
        // Offsets past 2^53 can never match an instruction; keep them ordered and out of reach.
        offset: off <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(off) : Number.MAX_SAFE_INTEGER,
        address: (section.addr + off) & MASK64,
        text: `${relocTypeName(elf, r.type)}\t${relocValue(elf, rs.symbols, r.symbol, r.addend)}`,
      });
    }
  }
  out.sort((a, b) => a.offset - b.offset);
  return out;
}

/** Index of the last symbol with addr <= target, or -1. */
function lastAtOrBefore(list: readonly DisSymbol[], target: bigint): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid].addr <= target) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** The 8-bytes-a-line hex and ASCII dump llvm-objdump prints for data symbols in code sections. */
function dumpData(out: TextSink, sectionAddr: bigint, bytes: Uint8Array, from: number, to: number): void {
  let line = "";
  let ascii = "";
  let n = 0;
  for (let i = from; i < to; i++) {
    if (n === 0) line = (sectionAddr + BigInt(i)).toString(16).padStart(8, " ") + ":";
    const b = bytes[i];
    line += " " + HEX2[b];
    ascii += b >= 0x20 && b <= 0x7e ? String.fromCharCode(b) : ".";
    n++;
    if (i === to - 1 || n === 8) {
      out.push(line + " ".repeat(3 * (8 - n)) + "         " + ascii + "\n");
      n = 0;
      ascii = "";
    }
  }
}

interface SectionContext {
  readonly elf: ElfFile;
  readonly le: boolean;
  readonly alu32: boolean;
  readonly raw: boolean;
  readonly relocs: boolean;
  readonly style: OperandStyle;
  readonly core: CoreRelocIndex | undefined;
  readonly lines: LineInfo | undefined;
  /** BTF line_info text lines by section name, then by byte offset in the section. */
  readonly btfLines: ReadonlyMap<string, ReadonlyMap<number, string>> | undefined;
  /** The last source line printed (llvm-objdump's SourcePrinter state, per file). */
  lastLine: SourceLine;
  readonly absolute: readonly DisSymbol[];
  readonly sectionsByAddr: readonly ElfSection[] | undefined;
  readonly bySection: Map<number, DisSymbol[]>;
}

/** Symbols a branch target is named after, in llvm-objdump's search order. */
function targetSymbolLists(
  ctx: SectionContext,
  own: readonly DisSymbol[],
  target: bigint,
): (readonly DisSymbol[])[] {
  const lists: (readonly DisSymbol[])[] = [];
  if (ctx.sectionsByAddr === undefined) {
    lists.push(own);
  } else {
    // Linked files: the sections at the closest address at or below the target.
    const secs = ctx.sectionsByAddr;
    let i = 0;
    while (i < secs.length && secs[i].addr <= target) i++;
    let secAddr = 0n;
    while (i > 0) {
      i--;
      if (secAddr === 0n) secAddr = secs[i].addr;
      if (secs[i].addr !== secAddr) break;
      lists.push(ctx.bySection.get(secs[i].index) ?? []);
    }
  }
  lists.push(ctx.absolute);
  return lists;
}

function branchAnnotation(ctx: SectionContext, own: readonly DisSymbol[], target: bigint): string {
  for (const list of targetSymbolLists(ctx, own, target)) {
    const i = lastAtOrBefore(list, target);
    if (i < 0) continue;
    const sym = list[i];
    const disp = target - sym.addr;
    return disp === 0n ? ` <${sym.name}>` : ` <${sym.name}+0x${disp.toString(16)}>`;
  }
  return "";
}

function disassembleSection(
  ctx: SectionContext,
  section: ElfSection,
  symbols: DisSymbol[],
  out: TextSink,
): void {
  const bytes = section.data;
  const size = bytes.length;
  const btfLinesOfSection = ctx.btfLines?.get(section.name);
  const secAddr = section.addr;
  const secEnd = secAddr + BigInt(section.size);
  // A dummy symbol named after the section when nothing starts at its first byte.
  if (symbols.length === 0 || symbols[0].addr !== secAddr) {
    const dummy: DisSymbol = { addr: secAddr, name: section.name, type: ELF.STT_FUNC };
    let at = 0;
    while (at < symbols.length && compareSymbols(symbols[at], dummy) < 0) at++;
    symbols.splice(at, 0, dummy);
  }
  const rels = ctx.relocs ? sectionRelocs(ctx.elf, section) : [];
  let relCur = 0;
  const le = ctx.le;
  const raw = ctx.raw;
  const alu32 = ctx.alu32;
  const style = ctx.style;
  const core = ctx.core?.get(section.index);
  const smallAddr = secAddr <= 0xffff_ffffn;
  const secAddrNum = Number(secAddr);
  let printedSection = false;

  for (let si = 0; si < symbols.length; ) {
    const first = si;
    const startAddr = symbols[si].addr;
    while (si < symbols.length && symbols[si].addr === startAddr) si++;
    // The last code symbol at this address names the chunk; all-data chunks are dumped as data.
    let display = si - 1;
    let asData = true;
    for (let i = first; i < si; i++) {
      const t = symbols[i].type;
      if (t !== ELF.STT_OBJECT && t !== STT_COMMON) {
        asData = false;
        display = i;
      }
    }
    if (startAddr < secAddr) continue;
    let endAddr = secEnd;
    if (si < symbols.length && symbols[si].addr < endAddr) endAddr = symbols[si].addr;
    if (startAddr >= endAddr || endAddr === 0n) continue;
    const start = Number(startAddr - secAddr);
    const end = Number(endAddr - secAddr);
    if (!printedSection) {
      printedSection = true;
      out.push(`\nDisassembly of section ${section.name}:\n`);
    }
    out.push(`\n${hex16(startAddr)} <${symbols[display].name}>:\n`);
    if (asData) {
      dumpData(out, secAddr, bytes, start, end);
      continue;
    }
    let index = start;
    while (relCur < rels.length && rels[relCur].offset < index) relCur++;

    while (index < end) {
      // Zero runs: at least 8 zero bytes, skipped in multiples of 4, never past a relocation.
      if (bytes[index] === 0) {
        let max = end - index;
        if (ctx.relocs && relCur < rels.length && rels[relCur].offset >= index)
          max = Math.min(rels[relCur].offset - index, max);
        let n = 0;
        while (n < max && bytes[index + n] === 0) n++;
        if (n >= 8) {
          out.push("\t\t...\n");
          index += n & ~3;
          continue;
        }
      }

      const left = size - index;
      let insnSize: number;
      let text: string | undefined;
      let disp: number | undefined;
      if (left < 8) {
        insnSize = 1;
      } else {
        const op = bytes[index];
        const regs = bytes[index + 1];
        let dst: number;
        let src: number;
        let off: number;
        let imm: number;
        if (le) {
          dst = regs & 15;
          src = regs >> 4;
          off = ((bytes[index + 3] << 24) | (bytes[index + 2] << 16)) >> 16;
          imm =
            bytes[index + 4] | (bytes[index + 5] << 8) | (bytes[index + 6] << 16) | (bytes[index + 7] << 24);
        } else {
          dst = regs >> 4;
          src = regs & 15;
          off = ((bytes[index + 2] << 24) | (bytes[index + 3] << 16)) >> 16;
          imm =
            (bytes[index + 4] << 24) | (bytes[index + 5] << 16) | (bytes[index + 6] << 8) | bytes[index + 7];
        }
        insnSize = 8;
        let hi = 0;
        if (op === 0x18 && dst <= 11 && off === 0) {
          // LLVM decodes ld_imm64 first and only then looks for its second slot.
          if (left < 16) {
            insnSize = 1;
          } else {
            insnSize = 16;
            const j = index + 12;
            hi = le
              ? bytes[j] | (bytes[j + 1] << 8) | (bytes[j + 2] << 16) | (bytes[j + 3] << 24)
              : (bytes[j] << 24) | (bytes[j + 1] << 16) | (bytes[j + 2] << 8) | bytes[j + 3];
          }
        }
        if (insnSize !== 1) {
          text = llvmInsnText(op, dst, src, off, imm, hi, alu32, style);
          if (text !== undefined) disp = llvmBranchDisplacement(op, off, imm);
        }
      }

      if (ctx.lines !== undefined)
        printSourceLine(ctx, ctx.lines.lookup(section.index, secAddrNum + index), out);
      const btfLine = btfLinesOfSection?.get(index);
      if (btfLine !== undefined) out.push(btfLine);
      if (smallAddr) out.decimal(Math.floor((secAddrNum + index) / 8), 8);
      else
        out.push(
          BigInt.asIntN(64, (secAddr + BigInt(index)) / 8n)
            .toString()
            .padStart(8, " "),
        );
      out.char(0x3a); // ':'
      if (raw) {
        out.char(0x09);
        out.hexBytes(bytes, index, insnSize);
      }
      out.char(0x09);
      if (text === undefined) {
        out.push("<unknown>");
      } else {
        out.push(text);
        if (disp !== undefined) {
          const target = (secAddr + BigInt(index + 8) + BigInt(disp) * 8n) & MASK64;
          out.push(branchAnnotation(ctx, symbols, target));
        }
      }
      out.char(0x0a);

      if (core !== undefined) {
        const c = core.get(index);
        if (c !== undefined) out.push(`\t\t${index.toString(16).padStart(16, "0")}:  CO-RE ${c}\n`);
      }
      if (ctx.relocs) {
        const stop = index + insnSize;
        while (relCur < rels.length && rels[relCur].offset < stop) {
          const r = rels[relCur];
          if (r.offset >= index) out.push(`\t\t${hex16(r.address)}:  ${r.text}\n`);
          relCur++;
        }
      }
      index += insnSize;
    }
  }
}

/** llvm-objdump's SourcePrinter::printLines: what changed since the last instruction. */
function printSourceLine(ctx: SectionContext, li: SourceLine, out: TextSink): void {
  const last = ctx.lastLine;
  const newFn = li.fn !== undefined && li.fn !== last.fn;
  if (newFn) out.push(`; ${li.fn}${li.fn?.endsWith("()") ? "" : "()"}:\n`);
  if (li.file !== undefined && li.line !== 0 && (li.line !== last.line || li.file !== last.file || newFn))
    out.push(`; ${li.file}:${li.line}\n`);
  ctx.lastLine = li;
}

/**
 * The BTF line_info records of every section as bpftool prints them
 * (`; <source> [file:<path> line_num:<n> line_col:<c>]`), keyed by byte offset. An object
 * without .BTF/.BTF.ext has none; malformed BTF is the typed error of its parser.
 */
function btfLineText(elf: ElfFile): Map<string, Map<number, string>> {
  const out = new Map<string, Map<number, string>>();
  const btfSec = elf.section(".BTF");
  const extSec = elf.section(".BTF.ext");
  if (!btfSec || !extSec) return out;
  const btf = parseBtf(btfSec.data, { pointerSize: 8 });
  const ext = parseBtfExt(extSec.data, btf);
  for (const { section, records } of ext.lineInfo) {
    const bySlot = new Map<number, string>();
    for (const r of records) {
      const line = `; ${r.text.trimStart()} [file:${r.file} line_num:${r.line} line_col:${r.column}]\n`;
      bySlot.set(r.insnOff, (bySlot.get(r.insnOff) ?? "") + line);
    }
    out.set(section, bySlot);
  }
  return out;
}

/** Sections sorted by address (then size) for branch-target lookup in linked files. */
function sectionsByAddress(elf: ElfFile): ElfSection[] {
  return [...elf.sections].sort((a, b) => (a.addr !== b.addr ? (a.addr < b.addr ? -1 : 1) : a.size - b.size));
}

/**
 * One file's `llvm-objdump -d` output (with `relocs`, `-d -r`): the file header line and every
 * executable section, exactly as llvm-objdump-19 prints it.
 */
export function disassemble(elf: ElfFile | Uint8Array, opts: DisassembleOptions = {}): string {
  const file = elf instanceof Uint8Array ? readElf(elf, { file: opts.path }) : elf;
  const path = opts.path ?? file.file ?? "<memory>";
  if (file.header.machine !== ELF.EM_BPF) {
    throw new ElfError("E_ELF_MACHINE", `not a BPF object (e_machine ${file.header.machine})`, {
      file: file.file ?? opts.path,
    });
  }
  const out = new TextSink();
  out.push(objdumpFileHeader(file, path));
  const { bySection, absolute } = collectSymbols(file);
  const relocs = opts.relocs === true;
  const ctx: SectionContext = {
    elf: file,
    le: file.header.byteOrder === "le",
    alu32: hasAlu32(opts.mcpu),
    raw: opts.showRawInsn !== false,
    relocs,
    // Decimal immediates are exactly the assembly printer's spelling.
    style: opts.printImmHex === false ? ASM_STYLE : OBJDUMP_STYLE,
    core: relocs ? indexCoreRelocs(file) : undefined,
    lines: opts.lineNumbers === true ? buildLineInfo(file) : undefined,
    btfLines: opts.btfLineInfo === true ? btfLineText(file) : undefined,
    lastLine: { fn: undefined, file: undefined, line: 0 },
    absolute,
    sectionsByAddr: file.header.type === ELF.ET_REL ? undefined : sectionsByAddress(file),
    bySection,
  };
  for (const section of file.sections) {
    if ((section.flags & ELF.SHF_EXECINSTR) === 0n || section.type === ELF.SHT_NOBITS) continue;
    if (section.size === 0) continue;
    // The section's own list: the dummy symbol inserted into it stays visible to branch
    // targets of later sections, as in llvm-objdump (which matters only for linked files).
    let symbols = bySection.get(section.index);
    if (symbols === undefined) {
      symbols = [];
      bySection.set(section.index, symbols);
    }
    disassembleSection(ctx, section, symbols, out);
  }
  return out.toString();
}

/**
 * One file's `llvm-objdump -r` output (relocations without -d): the file header line and a
 * "RELOCATION RECORDS FOR [section]" table per relocated section, in section order.
 */
export function relocationRecords(elf: ElfFile | Uint8Array, opts: { readonly path?: string } = {}): string {
  const file = elf instanceof Uint8Array ? readElf(elf, { file: opts.path }) : elf;
  const path = opts.path ?? file.file ?? "<memory>";
  const out: string[] = [objdumpFileHeader(file, path)];
  // Grouped by the section they patch, in the order those groups first appear.
  const groups = new Map<number, string[]>();
  for (const rs of file.relocations) {
    if ((rs.section.flags & ELF.SHF_ALLOC) !== 0n || rs.entries.length === 0) continue;
    let lines = groups.get(rs.target.index);
    if (lines === undefined) {
      lines = [];
      groups.set(rs.target.index, lines);
    }
    for (const r of rs.entries) {
      const type = relocTypeName(file, r.type).padEnd(24, " ");
      lines.push(`${hex16(r.offset)} ${type} ${relocValue(file, rs.symbols, r.symbol, r.addend)}\n`);
    }
  }
  for (const [index, lines] of groups) {
    out.push(`\nRELOCATION RECORDS FOR [${file.sections[index].name}]:\n`);
    out.push("OFFSET           TYPE                     VALUE\n");
    out.push(...lines);
  }
  return out.join("");
}
