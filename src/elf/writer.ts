/**
 * Writes an assembled module as a relocatable ELF64 EM_BPF object, laid out as llvm-mc lays out
 * its BPF objects: section 1 is `.strtab` (shared by section and symbol names), each section is
 * followed by its `.rel<name>` (SHT_REL) when it has relocations, then `.llvm_addrsig` when the
 * source asked for it, and `.symtab` last. Symbols: the null symbol, the STT_FILE symbol, the
 * locals (section symbols of sections that relocations use, then labels) in order of first
 * mention, then the globals, weak and undefined symbols.
 */
import { ElfError } from "../errors.js";
import type { AssembleOptions } from "../isa/asm/index.js";
import { assembleModule } from "../isa/asm/index.js";
import { type AsmModule, lebBytes } from "../isa/asm/module.js";
import { ELF } from "./types.js";

const SHF_INFO_LINK = 0x40n;
const SHF_EXCLUDE = 0x80000000n;
const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
const REL_SIZE = 16;

interface OutSection {
  name: string;
  type: number;
  flags: bigint;
  link: number;
  info: number;
  align: number;
  entsize: number;
  data: Uint8Array;
  /** sh_size when it differs from data.length (SHT_NOBITS). */
  size?: number;
  nameOffset: number;
}

class StringTable {
  private readonly parts: Uint8Array[] = [new Uint8Array(1)];
  private readonly index = new Map<string, number>();
  private length = 1;
  add(s: string): number {
    if (s === "") return 0;
    const have = this.index.get(s);
    if (have !== undefined) return have;
    const bytes = new TextEncoder().encode(s);
    const at = this.length;
    this.parts.push(bytes, new Uint8Array(1));
    this.length += bytes.length + 1;
    this.index.set(s, at);
    return at;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

interface SymEntry {
  name: string;
  value: bigint;
  size: bigint;
  info: number;
  other: number;
  shndx: number;
}

/** Serialize a module to ELF bytes. */
export function writeElf(module: AsmModule): Uint8Array {
  const le = module.byteOrder === "le";
  const strtab = new StringTable();
  const out: OutSection[] = [];
  const push = (s: Omit<OutSection, "nameOffset">): number => {
    out.push({ ...s, nameOffset: strtab.add(s.name) });
    return out.length; // index in the section header table (index 0 is the null section)
  };
  // [1] .strtab: contents filled at the end.
  push({
    name: ".strtab",
    type: ELF.SHT_STRTAB,
    flags: 0n,
    link: 0,
    info: 0,
    align: 1,
    entsize: 0,
    data: new Uint8Array(),
  });

  const sectionIndex = new Map<string, number>();
  const relFor: Array<{ out: number; section: (typeof module.sections)[number] }> = [];
  for (const s of module.sections) {
    const idx = push({
      name: s.name,
      type: s.type,
      flags: s.flags,
      link: 0,
      info: 0,
      align: s.align,
      entsize: s.entsize,
      data: s.data,
      size: s.size,
    });
    sectionIndex.set(s.name, idx);
    if (s.relocations.length > 0) {
      const rel = push({
        name: `.rel${s.name}`,
        type: ELF.SHT_REL,
        flags: SHF_INFO_LINK,
        link: 0,
        info: idx,
        align: 8,
        entsize: REL_SIZE,
        data: new Uint8Array(),
      });
      relFor.push({ out: rel, section: s });
    }
  }

  // Symbols.
  const locals: Array<SymEntry & { order: number }> = [];
  const globals: Array<SymEntry & { order: number }> = [];
  const symIndex = new Map<string, number>();
  const sectionSymIndex = new Map<string, number>();
  for (const s of module.sections) {
    if (!s.sectionSymbol) continue;
    locals.push({
      name: "",
      value: 0n,
      size: 0n,
      info: (ELF.STB_LOCAL << 4) | ELF.STT_SECTION,
      other: 0,
      shndx: sectionIndex.get(s.name) ?? 0,
      order: s.order,
    });
  }
  for (const sym of module.symbols) {
    const shndx = sym.absolute
      ? ELF.SHN_ABS
      : sym.common
        ? ELF.SHN_COMMON
        : sym.section !== undefined
          ? (sectionIndex.get(sym.section) ?? 0)
          : ELF.SHN_UNDEF;
    const e = {
      name: sym.name,
      value: sym.value,
      size: sym.size,
      info: (sym.bind << 4) | sym.type,
      other: sym.visibility,
      shndx,
      order: sym.order,
    };
    (sym.bind === ELF.STB_LOCAL ? locals : globals).push(e);
  }
  locals.sort((a, b) => a.order - b.order);
  globals.sort((a, b) => a.order - b.order);
  const symbols: SymEntry[] = [{ name: "", value: 0n, size: 0n, info: 0, other: 0, shndx: 0 }];
  if (module.fileName !== undefined) {
    symbols.push({
      name: module.fileName,
      value: 0n,
      size: 0n,
      info: ELF.STT_FILE,
      other: 0,
      shndx: ELF.SHN_ABS,
    });
  }
  for (const l of locals) {
    if (l.info === ((ELF.STB_LOCAL << 4) | ELF.STT_SECTION)) {
      const name = out[l.shndx - 1]?.name ?? "";
      sectionSymIndex.set(name, symbols.length);
    } else symIndex.set(l.name, symbols.length);
    symbols.push(l);
  }
  const firstGlobal = symbols.length;
  for (const g of globals) {
    symIndex.set(g.name, symbols.length);
    symbols.push(g);
  }

  // Relocation contents.
  for (const r of relFor) {
    const data = new Uint8Array(r.section.relocations.length * REL_SIZE);
    const view = new DataView(data.buffer);
    r.section.relocations.forEach((rel, k) => {
      const idx = rel.section ? sectionSymIndex.get(rel.symbol) : symIndex.get(rel.symbol);
      if (idx === undefined) {
        throw new ElfError("E_ELF_WRITE", `relocation against unknown symbol '${rel.symbol}'`, {
          section: r.section.name,
        });
      }
      view.setBigUint64(k * REL_SIZE, BigInt(rel.offset), le);
      view.setBigUint64(k * REL_SIZE + 8, (BigInt(idx) << 32n) | BigInt(rel.type), le);
    });
    out[r.out - 1].data = data;
  }

  let symtabIndex = 0;
  const addrsigIndex =
    module.addrsig !== undefined
      ? push({
          name: ".llvm_addrsig",
          type: ELF.SHT_LLVM_ADDRSIG,
          flags: SHF_EXCLUDE,
          link: 0,
          info: 0,
          align: 1,
          entsize: 0,
          data: Uint8Array.from(
            module.addrsig.flatMap((n) => {
              const i = symIndex.get(n);
              return i === undefined ? [] : lebBytes(BigInt(i), false);
            }),
          ),
        })
      : 0;
  const symData = new Uint8Array(symbols.length * SYM_SIZE);
  const sv = new DataView(symData.buffer);
  symbols.forEach((s, k) => {
    const at = k * SYM_SIZE;
    sv.setUint32(at, strtab.add(s.name), le);
    sv.setUint8(at + 4, s.info);
    sv.setUint8(at + 5, s.other);
    sv.setUint16(at + 6, s.shndx, le);
    sv.setBigUint64(at + 8, BigInt.asUintN(64, s.value), le);
    sv.setBigUint64(at + 16, BigInt.asUintN(64, s.size), le);
  });
  symtabIndex = push({
    name: ".symtab",
    type: ELF.SHT_SYMTAB,
    flags: 0n,
    link: 1,
    info: firstGlobal,
    align: 8,
    entsize: SYM_SIZE,
    data: symData,
  });
  for (const r of relFor) out[r.out - 1].link = symtabIndex;
  if (addrsigIndex) out[addrsigIndex - 1].link = symtabIndex;
  out[0].data = strtab.bytes();

  // Layout: header, contents in section order, then the section header table.
  let at = EHDR_SIZE;
  const offsets: number[] = [];
  for (const s of out) {
    const align = Math.max(1, s.align);
    at = Math.ceil(at / align) * align;
    offsets.push(at);
    if (s.type !== ELF.SHT_NOBITS) at += s.data.length;
  }
  const shoff = Math.ceil(at / 8) * 8;
  const total = shoff + (out.length + 1) * SHDR_SIZE;
  const bytes = new Uint8Array(total);
  const v = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, le ? 1 : 2, 1, 0], 0);
  v.setUint16(16, ELF.ET_REL, le);
  v.setUint16(18, ELF.EM_BPF, le);
  v.setUint32(20, 1, le);
  v.setBigUint64(24, 0n, le);
  v.setBigUint64(32, 0n, le);
  v.setBigUint64(40, BigInt(shoff), le);
  v.setUint32(48, 0, le);
  v.setUint16(52, EHDR_SIZE, le);
  v.setUint16(54, 0, le);
  v.setUint16(56, 0, le);
  v.setUint16(58, SHDR_SIZE, le);
  v.setUint16(60, out.length + 1, le);
  v.setUint16(62, 1, le);
  out.forEach((s, k) => {
    if (s.type !== ELF.SHT_NOBITS) bytes.set(s.data, offsets[k]);
    const h = shoff + (k + 1) * SHDR_SIZE;
    v.setUint32(h, s.nameOffset, le);
    v.setUint32(h + 4, s.type, le);
    v.setBigUint64(h + 8, s.flags, le);
    v.setBigUint64(h + 16, 0n, le);
    v.setBigUint64(h + 24, BigInt(offsets[k]), le);
    v.setBigUint64(h + 32, BigInt(s.size ?? s.data.length), le);
    v.setUint32(h + 40, s.link, le);
    v.setUint32(h + 44, s.info, le);
    v.setBigUint64(h + 48, BigInt(s.align), le);
    v.setBigUint64(h + 56, BigInt(s.entsize), le);
  });
  return bytes;
}

/** Assemble a text and write it as an ELF object (`byteOrder` picks bpfel or bpfeb). */
export function assembleObject(text: string, opts: AssembleOptions = {}): Uint8Array {
  return writeElf(assembleModule(text, opts));
}
