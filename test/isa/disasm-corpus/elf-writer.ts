/**
 * A minimal ELF64 relocatable writer for the disassembler corpus: arbitrary sections (flags,
 * type, address), a symbol table with any types/bindings/section indices, REL/RELA sections.
 * It exists to build inputs llvm-objdump is run on (edge cases clang never emits); it is not
 * the project's ELF writer.
 */

export interface CorpusSection {
  readonly name: string;
  /** SHT_* (default PROGBITS). */
  readonly type?: number;
  /** SHF_* (default ALLOC|EXECINSTR). */
  readonly flags?: number;
  readonly addr?: bigint;
  readonly data: Uint8Array;
  /** For SHT_NOBITS: the size in memory. */
  readonly nobitsSize?: number;
}

export interface CorpusSymbol {
  readonly name: string;
  readonly value: bigint;
  readonly type: number;
  /** STB_* (default GLOBAL). */
  readonly bind?: number;
  /** Section index in the final file: 1 + index into `sections`, or a SHN_* value. */
  readonly shndx: number;
  readonly size?: bigint;
}

export interface CorpusReloc {
  readonly offset: bigint;
  readonly type: number;
  /** Index into the final symbol table (0 = none, 1.. = `symbols` in order, after the null). */
  readonly symbol: number;
  readonly addend?: bigint;
}

export interface CorpusRelocSection {
  /** Section index (1-based like shndx) the relocations patch. */
  readonly target: number;
  readonly rela?: boolean;
  readonly entries: readonly CorpusReloc[];
  readonly name?: string;
}

export interface CorpusElf {
  readonly bigEndian?: boolean;
  readonly sections: readonly CorpusSection[];
  readonly symbols?: readonly CorpusSymbol[];
  readonly relocs?: readonly CorpusRelocSection[];
  /** Omit .symtab entirely. */
  readonly noSymtab?: boolean;
}

class Buf {
  bytes: number[] = [];
  align(n: number): void {
    while (this.bytes.length % n !== 0) this.bytes.push(0);
  }
  push(b: Uint8Array | readonly number[]): number {
    const at = this.bytes.length;
    for (const x of b) this.bytes.push(x);
    return at;
  }
}

function strtab(names: readonly string[]): { data: Uint8Array; offsets: number[] } {
  const enc = new TextEncoder();
  const parts: number[] = [0];
  const offsets: number[] = [];
  for (const n of names) {
    if (n === "") {
      offsets.push(0);
      continue;
    }
    offsets.push(parts.length);
    for (const b of enc.encode(n)) parts.push(b);
    parts.push(0);
  }
  return { data: Uint8Array.from(parts), offsets };
}

/** Serialize the description as an ET_REL, EM_BPF ELF64 file. */
export function writeCorpusElf(d: CorpusElf): Uint8Array {
  const le = d.bigEndian !== true;
  const syms = d.symbols ?? [];
  const rels = d.relocs ?? [];
  const user = d.sections.length;
  // Section layout: null, user sections, rel sections, [.symtab, .strtab], .shstrtab
  const relNames = rels.map(
    (r) => r.name ?? `${r.rela ? ".rela" : ".rel"}${d.sections[r.target - 1]?.name ?? ""}`,
  );
  const symtabIndex = d.noSymtab ? 0 : 1 + user + rels.length;
  const strtabIndex = d.noSymtab ? 0 : symtabIndex + 1;
  const shstrIndex = d.noSymtab ? 1 + user + rels.length : strtabIndex + 1;
  const secNames = [
    ...d.sections.map((s) => s.name),
    ...relNames,
    ...(d.noSymtab ? [] : [".symtab", ".strtab"]),
    ".shstrtab",
  ];
  const shstr = strtab(secNames);
  const symstr = strtab(syms.map((s) => s.name));

  const out = new Buf();
  out.push(new Uint8Array(64));
  const w16 = (v: number): number[] => (le ? [v & 0xff, (v >> 8) & 0xff] : [(v >> 8) & 0xff, v & 0xff]);
  const w32 = (v: number): number[] => {
    const b = [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
    return le ? b : b.reverse();
  };
  const w64 = (v: bigint): number[] => {
    const u = BigInt.asUintN(64, v);
    const b: number[] = [];
    for (let i = 0n; i < 8n; i++) b.push(Number((u >> (8n * i)) & 0xffn));
    return le ? b : b.reverse();
  };

  interface Hdr {
    name: number;
    type: number;
    flags: bigint;
    addr: bigint;
    offset: number;
    size: number;
    link: number;
    info: number;
    align: bigint;
    entsize: bigint;
  }
  const hdrs: Hdr[] = [];
  d.sections.forEach((s, i) => {
    out.align(8);
    const type = s.type ?? 1;
    const at = type === 8 ? out.bytes.length : out.push(s.data);
    hdrs.push({
      name: shstr.offsets[i],
      type,
      flags: BigInt(s.flags ?? 6),
      addr: s.addr ?? 0n,
      offset: at,
      size: type === 8 ? (s.nobitsSize ?? 0) : s.data.length,
      link: 0,
      info: 0,
      align: 8n,
      entsize: 0n,
    });
  });
  rels.forEach((r, i) => {
    out.align(8);
    const at = out.bytes.length;
    for (const e of r.entries) {
      out.push(w64(e.offset));
      // r_info: symbol in the high word, type in the low word.
      out.push(w64((BigInt(e.symbol) << 32n) | BigInt(e.type)));
      if (r.rela) out.push(w64(e.addend ?? 0n));
    }
    hdrs.push({
      name: shstr.offsets[user + i],
      type: r.rela ? 4 : 9,
      flags: 0n,
      addr: 0n,
      offset: at,
      size: out.bytes.length - at,
      link: symtabIndex,
      info: r.target,
      align: 8n,
      entsize: r.rela ? 24n : 16n,
    });
  });
  if (!d.noSymtab) {
    out.align(8);
    const at = out.push(new Uint8Array(24));
    let firstGlobal = syms.length + 1;
    syms.forEach((s, i) => {
      const bind = s.bind ?? 1;
      if (bind !== 0 && firstGlobal > syms.length) firstGlobal = i + 1;
      out.push(w32(symstr.offsets[i]));
      out.push([((bind & 0xf) << 4) | (s.type & 0xf), 0]);
      out.push(w16(s.shndx));
      out.push(w64(s.value));
      out.push(w64(s.size ?? 0n));
    });
    hdrs.push({
      name: shstr.offsets[user + rels.length],
      type: 2,
      flags: 0n,
      addr: 0n,
      offset: at,
      size: 24 * (syms.length + 1),
      link: strtabIndex,
      info: Math.min(firstGlobal, syms.length + 1),
      align: 8n,
      entsize: 24n,
    });
    const sat = out.push(symstr.data);
    hdrs.push({
      name: shstr.offsets[user + rels.length + 1],
      type: 3,
      flags: 0n,
      addr: 0n,
      offset: sat,
      size: symstr.data.length,
      link: 0,
      info: 0,
      align: 1n,
      entsize: 0n,
    });
  }
  const shat = out.push(shstr.data);
  hdrs.push({
    name: shstr.offsets[secNames.length - 1],
    type: 3,
    flags: 0n,
    addr: 0n,
    offset: shat,
    size: shstr.data.length,
    link: 0,
    info: 0,
    align: 1n,
    entsize: 0n,
  });
  out.align(8);
  const shoff = out.bytes.length;
  out.push(new Uint8Array(64));
  for (const h of hdrs) {
    out.push(w32(h.name));
    out.push(w32(h.type));
    out.push(w64(h.flags));
    out.push(w64(h.addr));
    out.push(w64(BigInt(h.offset)));
    out.push(w64(BigInt(h.size)));
    out.push(w32(h.link));
    out.push(w32(h.info));
    out.push(w64(h.align));
    out.push(w64(h.entsize));
  }
  const header = [
    0x7f,
    0x45,
    0x4c,
    0x46,
    2,
    le ? 1 : 2,
    1,
    0,
    ...new Array(8).fill(0),
    ...w16(1), // ET_REL
    ...w16(247), // EM_BPF
    ...w32(1),
    ...w64(0n),
    ...w64(0n),
    ...w64(BigInt(shoff)),
    ...w32(0),
    ...w16(64),
    ...w16(0),
    ...w16(0),
    ...w16(64),
    ...w16(hdrs.length + 1),
    ...w16(shstrIndex),
  ];
  for (let i = 0; i < 64; i++) out.bytes[i] = header[i];
  return Uint8Array.from(out.bytes);
}
