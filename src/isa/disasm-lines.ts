/**
 * Source lines for `llvm-objdump -d -l`: the function and "file:line" of each instruction,
 * as llvm-objdump's symbolizer finds them in DWARF 5 (.debug_info, .debug_line, .debug_addr,
 * .debug_rnglists, .debug_str_offsets, with the object's relocations applied).
 *
 * Lookups with different rules, all reproduced on purpose: the line comes from the line table
 * sequence of the instruction's own section; the function name comes from the symbol table when
 * a symbol covers the address (one symbol per address, the largest; objects and maps included),
 * else from DWARF's address map, keyed by address only, in which a later DIE replaces an earlier
 * one starting at the same address. In a relocatable file every section starts at 0, so code is
 * often named after a function (or a map) of another section; llvm-objdump prints exactly that.
 */
import type { ElfFile, ElfSection } from "../elf/types.js";
import { ELF } from "../elf/types.js";

export interface SourceLine {
  /** The (innermost inlined) function, or undefined when DWARF names none. */
  readonly fn: string | undefined;
  /** File path and line, or undefined when the line table has no row for the address. */
  readonly file: string | undefined;
  readonly line: number;
}

export interface LineInfo {
  lookup(sectionIndex: number, address: number): SourceLine;
}

const NONE: SourceLine = { fn: undefined, file: undefined, line: 0 };

/** A little-endian or big-endian cursor over one section. */
class Cursor {
  pos: number;
  constructor(
    readonly d: Uint8Array,
    readonly le: boolean,
    at = 0,
  ) {
    this.pos = at;
  }
  private need(n: number): void {
    if (this.pos + n > this.d.length) throw new RangeError("truncated DWARF");
  }
  u8(): number {
    this.need(1);
    return this.d[this.pos++];
  }
  u16(): number {
    this.need(2);
    const a = this.d[this.pos];
    const b = this.d[this.pos + 1];
    this.pos += 2;
    return this.le ? a | (b << 8) : (a << 8) | b;
  }
  u24(): number {
    const a = this.u8();
    const b = this.u8();
    const c = this.u8();
    return this.le ? a | (b << 8) | (c << 16) : (a << 16) | (b << 8) | c;
  }
  u32(): number {
    this.need(4);
    const d = this.d;
    const p = this.pos;
    this.pos += 4;
    return this.le
      ? (d[p] | (d[p + 1] << 8) | (d[p + 2] << 16) | (d[p + 3] << 24)) >>> 0
      : ((d[p] << 24) | (d[p + 1] << 16) | (d[p + 2] << 8) | d[p + 3]) >>> 0;
  }
  u64(): number {
    const a = this.u32();
    const b = this.u32();
    return this.le ? b * 2 ** 32 + a : a * 2 ** 32 + b;
  }
  uleb(): number {
    let result = 0;
    let mul = 1;
    for (;;) {
      const b = this.u8();
      result += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) return result;
    }
  }
  sleb(): number {
    let result = 0;
    let mul = 1;
    let b: number;
    do {
      b = this.u8();
      result += (b & 0x7f) * mul;
      mul *= 128;
    } while ((b & 0x80) !== 0);
    if ((b & 0x40) !== 0) result -= mul;
    return result;
  }
  cstr(): string {
    const end = this.d.indexOf(0, this.pos);
    if (end < 0) throw new RangeError("unterminated DWARF string");
    const s = utf8.decode(this.d.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }
}

const utf8 = new TextDecoder();

function cstrAt(d: Uint8Array | undefined, off: number): string | undefined {
  if (d === undefined || off >= d.length) return undefined;
  let end = d.indexOf(0, off);
  if (end < 0) end = d.length;
  return utf8.decode(d.subarray(off, end));
}

/** A section's bytes with its relocations applied (S + A), and the section of each relocated spot. */
interface Relocated {
  readonly data: Uint8Array;
  readonly sectionAt: Map<number, number>;
}

function relocated(elf: ElfFile, sec: ElfSection | undefined): Relocated | undefined {
  if (sec === undefined) return undefined;
  // A copy: the file's bytes stay as they are (Buffer#slice would share them).
  const data = new Uint8Array(sec.data);
  const sectionAt = new Map<number, number>();
  const le = elf.header.byteOrder === "le";
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (const rs of elf.relocations) {
    if (rs.target.index !== sec.index) continue;
    for (const r of rs.entries) {
      const off = Number(r.offset);
      const sym = r.symbol === 0 ? undefined : rs.symbols[r.symbol];
      const s = sym === undefined ? 0n : sym.value;
      if (sym !== undefined && sym.shndx !== ELF.SHN_UNDEF && sym.shndx < 0xff00)
        sectionAt.set(off, sym.shndx);
      // R_BPF_64_ABS32 / NODYLD32 patch 4 bytes; R_BPF_64_ABS64 / 64_64 patch 8.
      if (r.type === 3 || r.type === 4 || r.type === 10) {
        if (off + 4 > data.length) continue;
        view.setUint32(off, Number((s + BigInt(view.getUint32(off, le))) & 0xffffffffn), le);
      } else if (r.type === 1 || r.type === 2) {
        if (off + 8 > data.length) continue;
        view.setBigUint64(off, BigInt.asUintN(64, s + view.getBigUint64(off, le)), le);
      }
    }
  }
  return { data, sectionAt };
}

// DWARF constants used here.
const DW_TAG_compile_unit = 0x11;
const DW_TAG_subprogram = 0x2e;
const DW_TAG_inlined_subroutine = 0x1d;
const AT = {
  name: 0x03,
  stmt_list: 0x10,
  low_pc: 0x11,
  high_pc: 0x12,
  comp_dir: 0x1b,
  abstract_origin: 0x31,
  specification: 0x47,
  ranges: 0x55,
  linkage_name: 0x6e,
  str_offsets_base: 0x72,
  addr_base: 0x73,
  rnglists_base: 0x74,
  mips_linkage_name: 0x2007,
} as const;

/** An attribute value: a number, or a string for inline strings. */
type Val = { readonly form: number; readonly n: number; readonly s?: string };

interface Die {
  readonly offset: number;
  readonly tag: number;
  readonly attrs: Map<number, Val>;
  readonly parent: Die | undefined;
  readonly children: Die[];
}

interface Abbrev {
  readonly tag: number;
  readonly children: boolean;
  readonly specs: { at: number; form: number; implicit: number }[];
}

function parseAbbrevs(d: Uint8Array, le: boolean, at: number): Map<number, Abbrev> {
  const c = new Cursor(d, le, at);
  const out = new Map<number, Abbrev>();
  for (;;) {
    const code = c.uleb();
    if (code === 0) return out;
    const tag = c.uleb();
    const children = c.u8() !== 0;
    const specs: { at: number; form: number; implicit: number }[] = [];
    for (;;) {
      const a = c.uleb();
      const f = c.uleb();
      if (a === 0 && f === 0) break;
      specs.push({ at: a, form: f, implicit: f === 0x21 ? c.sleb() : 0 });
    }
    out.set(code, { tag, children, specs });
  }
}

function readForm(c: Cursor, form: number, addrSize: number, implicit: number): Val {
  switch (form) {
    case 0x01:
      return { form, n: addrSize === 8 ? c.u64() : c.u32() };
    case 0x0b:
    case 0x11:
    case 0x0c:
    case 0x25:
    case 0x29:
      return { form, n: c.u8() };
    case 0x05:
    case 0x12:
    case 0x26:
    case 0x2a:
      return { form, n: c.u16() };
    case 0x27:
    case 0x2b:
      return { form, n: c.u24() };
    case 0x06:
    case 0x13:
    case 0x0e:
    case 0x10:
    case 0x17:
    case 0x1f:
    case 0x1c:
    case 0x1d:
    case 0x28:
    case 0x2c:
      return { form, n: c.u32() };
    case 0x07:
    case 0x14:
    case 0x20:
      return { form, n: c.u64() };
    case 0x0d:
      return { form, n: c.sleb() };
    case 0x0f:
    case 0x15:
    case 0x1a:
    case 0x1b:
    case 0x22:
    case 0x23:
      return { form, n: c.uleb() };
    case 0x08:
      return { form, n: 0, s: c.cstr() };
    case 0x18:
    case 0x09: {
      const len = c.uleb();
      c.pos += len;
      return { form, n: 0 };
    }
    case 0x0a: {
      const len = c.u8();
      c.pos += len;
      return { form, n: 0 };
    }
    case 0x03: {
      const len = c.u16();
      c.pos += len;
      return { form, n: 0 };
    }
    case 0x04: {
      const len = c.u32();
      c.pos += len;
      return { form, n: 0 };
    }
    case 0x1e:
      c.pos += 16;
      return { form, n: 0 };
    case 0x19:
      return { form, n: 1 };
    case 0x21:
      return { form, n: implicit };
    case 0x16:
      return readForm(c, c.uleb(), addrSize, 0);
    default:
      throw new RangeError(`unsupported DWARF form 0x${form.toString(16)}`);
  }
}

interface Unit {
  /** Offset of the unit header in .debug_info (DW_FORM_ref* are relative to it). */
  readonly start: number;
  readonly version: number;
  readonly dies: Map<number, Die>;
  readonly root: Die;
  readonly addrSize: number;
  readonly strOffsetsBase: number;
  readonly addrBase: number;
  readonly rnglistsBase: number;
}

interface Sections {
  readonly le: boolean;
  readonly info: Relocated;
  readonly abbrev: Uint8Array;
  readonly str: Uint8Array | undefined;
  readonly lineStr: Uint8Array | undefined;
  readonly strOffsets: Relocated | undefined;
  readonly addr: Relocated | undefined;
  readonly rnglists: Relocated | undefined;
  readonly ranges: Relocated | undefined;
  readonly line: Relocated | undefined;
}

function parseUnit(s: Sections, at: number): { unit: Unit; next: number } {
  const c = new Cursor(s.info.data, s.le, at);
  const len = c.u32();
  const next = at + 4 + len;
  const version = c.u16();
  let addrSize: number;
  let abbrevOff: number;
  if (version === 5) {
    c.u8(); // unit_type
    addrSize = c.u8();
    abbrevOff = c.u32();
  } else if (version === 4 || version === 3 || version === 2) {
    abbrevOff = c.u32();
    addrSize = c.u8();
  } else {
    throw new RangeError(`DWARF version ${version}`);
  }
  const abbrevs = parseAbbrevs(s.abbrev, s.le, abbrevOff);
  const dies = new Map<number, Die>();
  let root: Die | undefined;
  const stack: Die[] = [];
  while (c.pos < next) {
    const offset = c.pos;
    const code = c.uleb();
    if (code === 0) {
      stack.pop();
      continue;
    }
    const ab = abbrevs.get(code);
    if (ab === undefined) throw new RangeError(`unknown abbreviation ${code}`);
    const attrs = new Map<number, Val>();
    for (const sp of ab.specs) attrs.set(sp.at, readForm(c, sp.form, addrSize, sp.implicit));
    const parent = stack[stack.length - 1];
    const die: Die = { offset, tag: ab.tag, attrs, parent, children: [] };
    dies.set(offset, die);
    if (parent === undefined) root ??= die;
    else parent.children.push(die);
    if (ab.children) stack.push(die);
  }
  if (root === undefined) throw new RangeError("empty unit");
  const num = (a: number, dflt: number): number => root?.attrs.get(a)?.n ?? dflt;
  return {
    unit: {
      start: at,
      version,
      dies,
      root,
      addrSize,
      strOffsetsBase: num(AT.str_offsets_base, 8),
      addrBase: num(AT.addr_base, 8),
      rnglistsBase: num(AT.rnglists_base, 0),
    },
    next,
  };
}

function strOf(s: Sections, u: Unit, v: Val | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (v.s !== undefined) return v.s;
  switch (v.form) {
    case 0x0e:
      return cstrAt(s.str, v.n);
    case 0x1f:
      return cstrAt(s.lineStr, v.n);
    case 0x1a:
    case 0x25:
    case 0x26:
    case 0x27:
    case 0x28: {
      const t = s.strOffsets;
      if (t === undefined) return undefined;
      const at = u.strOffsetsBase + 4 * v.n;
      if (at + 4 > t.data.length) return undefined;
      return cstrAt(s.str, new Cursor(t.data, s.le, at).u32());
    }
    default:
      return undefined;
  }
}

function addrx(s: Sections, u: Unit, index: number): number | undefined {
  const t = s.addr;
  if (t === undefined) return undefined;
  const at = u.addrBase + u.addrSize * index;
  if (at + u.addrSize > t.data.length) return undefined;
  const c = new Cursor(t.data, s.le, at);
  return u.addrSize === 8 ? c.u64() : c.u32();
}

function addrOf(s: Sections, u: Unit, v: Val | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (v.form === 0x01) return v.n;
  if (v.form === 0x1b || (v.form >= 0x29 && v.form <= 0x2c)) return addrx(s, u, v.n);
  return undefined;
}

/** A DIE's address ranges, as DWARFDie::getAddressRanges gives them. */
function ranges(s: Sections, u: Unit, die: Die): [number, number][] {
  const low = addrOf(s, u, die.attrs.get(AT.low_pc));
  const highV = die.attrs.get(AT.high_pc);
  if (low !== undefined && highV !== undefined) {
    const high =
      highV.form === 0x01 || highV.form === 0x1b || highV.form >= 0x29 ? addrOf(s, u, highV) : low + highV.n;
    if (high !== undefined) return [[low, high]];
  }
  const r = die.attrs.get(AT.ranges);
  if (r === undefined) return [];
  if (u.version < 5) return rangesV4(s, u, r.n);
  if (s.rnglists === undefined) return [];
  const data = s.rnglists.data;
  let off: number;
  if (r.form === 0x23) {
    const at = u.rnglistsBase + 4 * r.n;
    if (at + 4 > data.length) return [];
    off = u.rnglistsBase + new Cursor(data, s.le, at).u32();
  } else {
    off = r.n;
  }
  const out: [number, number][] = [];
  const c = new Cursor(data, s.le, off);
  let base = addrOf(s, u, u.root.attrs.get(AT.low_pc)) ?? 0;
  const addr = (): number => (u.addrSize === 8 ? c.u64() : c.u32());
  for (;;) {
    const kind = c.u8();
    if (kind === 0) break;
    switch (kind) {
      case 1:
        base = addrx(s, u, c.uleb()) ?? 0;
        break;
      case 2: {
        const a = addrx(s, u, c.uleb()) ?? 0;
        const b = addrx(s, u, c.uleb()) ?? 0;
        out.push([a, b]);
        break;
      }
      case 3: {
        const a = addrx(s, u, c.uleb()) ?? 0;
        out.push([a, a + c.uleb()]);
        break;
      }
      case 4: {
        const a = c.uleb();
        const b = c.uleb();
        out.push([base + a, base + b]);
        break;
      }
      case 5:
        base = addr();
        break;
      case 6: {
        const a = addr();
        out.push([a, addr()]);
        break;
      }
      case 7: {
        const a = addr();
        out.push([a, a + c.uleb()]);
        break;
      }
      default:
        return out;
    }
  }
  return out;
}

/** A DWARF 2-4 range list in .debug_ranges: (begin, end) pairs, a base selection, (0, 0) ends. */
function rangesV4(s: Sections, u: Unit, off: number): [number, number][] {
  const t = s.ranges;
  if (t === undefined) return [];
  const c = new Cursor(t.data, s.le, off);
  const addr = (): number => (u.addrSize === 8 ? c.u64() : c.u32());
  const max = u.addrSize === 8 ? 2 ** 64 - 1 : 2 ** 32 - 1;
  let base = addrOf(s, u, u.root.attrs.get(AT.low_pc)) ?? 0;
  const out: [number, number][] = [];
  for (;;) {
    const a = addr();
    const b = addr();
    if (a === 0 && b === 0) return out;
    if (a === max) base = b;
    else out.push([base + a, base + b]);
  }
}

/** DWARFDie::findRecursively over DW_AT_specification / DW_AT_abstract_origin. */
function findRecursively(u: Unit, die: Die, attrs: readonly number[]): Val | undefined {
  const seen = new Set<number>();
  const work: Die[] = [die];
  while (work.length > 0) {
    const d = work.shift()!;
    if (seen.has(d.offset)) continue;
    seen.add(d.offset);
    for (const a of attrs) {
      const v = d.attrs.get(a);
      if (v !== undefined) return v;
    }
    for (const ref of [AT.specification, AT.abstract_origin]) {
      const v = d.attrs.get(ref);
      if (v === undefined) continue;
      // ref_addr is section-relative; the other references are unit-relative.
      const target = u.dies.get(v.form === 0x10 ? v.n : u.start + v.n);
      if (target !== undefined) work.push(target);
    }
  }
  return undefined;
}

/** The address -> DIE map of DWARFUnit::updateAddressDieMap. */
function buildAddrDieMap(s: Sections, u: Unit): { lows: number[]; map: Map<number, [number, Die]> } {
  const map = new Map<number, [number, Die]>();
  // The map's keys, kept sorted (std::map order).
  const keys: number[] = [];
  const set = (k: number, v: [number, Die]): void => {
    if (!map.has(k))
      keys.splice(
        upperBound(keys.length, (j) => keys[j] < k),
        0,
        k,
      );
    map.set(k, v);
  };
  const visit = (die: Die): void => {
    if (die.tag === DW_TAG_subprogram || die.tag === DW_TAG_inlined_subroutine) {
      for (const [lo, hi] of ranges(s, u, die)) {
        if (lo === hi) continue;
        // upper_bound(lo), then the entry before it.
        const i = upperBound(keys.length, (j) => keys[j] <= lo);
        if (i > 0) {
          const bKey = keys[i - 1];
          const b = map.get(bKey)!;
          if (lo < b[0]) {
            if (hi < b[0]) set(hi, [b[0], b[1]]);
            if (lo > bKey) set(bKey, [lo, b[1]]);
          }
        }
        set(lo, [hi, die]);
      }
    }
    for (const child of die.children) visit(child);
  };
  visit(u.root);
  return { lows: keys, map };
}

interface Row {
  readonly address: number;
  readonly line: number;
  readonly file: number;
  readonly end: boolean;
}

interface Sequence {
  readonly section: number;
  readonly low: number;
  readonly high: number;
  readonly rows: Row[];
}

interface LineTable {
  readonly files: readonly (string | undefined)[];
  readonly sequences: Sequence[];
}

function parseLineTable(s: Sections, at: number, compDir: string | undefined): LineTable | undefined {
  const t = s.line;
  if (t === undefined) return undefined;
  const c = new Cursor(t.data, s.le, at);
  const len = c.u32();
  const end = at + 4 + len;
  const version = c.u16();
  if (version < 2 || version > 5) return undefined;
  let addrSize = 8;
  if (version === 5) {
    addrSize = c.u8();
    c.u8(); // segment selector size
  }
  const hdrLen = c.u32();
  const progStart = c.pos + hdrLen;
  const minInst = c.u8();
  if (version >= 4) c.u8(); // max ops per instruction
  const defaultIsStmt = c.u8();
  void defaultIsStmt;
  const lineBase = (c.u8() << 24) >> 24;
  const lineRange = c.u8();
  const opcodeBase = c.u8();
  const stdLens: number[] = [0];
  for (let i = 1; i < opcodeBase; i++) stdLens.push(c.u8());
  const entryList = (): Val[][] => {
    const nfmt = c.u8();
    const fmts: [number, number][] = [];
    for (let i = 0; i < nfmt; i++) fmts.push([c.uleb(), c.uleb()]);
    const count = c.uleb();
    const out: Val[][] = [];
    for (let i = 0; i < count; i++) {
      const e: Val[] = [];
      for (const [content, form] of fmts) {
        const v = readForm(c, form, addrSize, 0);
        e[content] = v;
      }
      out.push(e);
    }
    return out;
  };
  const lineStr = (v: Val | undefined): string => {
    if (v === undefined) return "";
    if (v.s !== undefined) return v.s;
    if (v.form === 0x1f) return cstrAt(s.lineStr, v.n) ?? "";
    if (v.form === 0x0e) return cstrAt(s.str, v.n) ?? "";
    return "";
  };
  if (version < 5) {
    // DWARF 2-4: NUL-terminated lists; file and directory numbers count from 1 (0: none / comp dir).
    const incDirs: string[] = [];
    for (let d = c.cstr(); d !== ""; d = c.cstr()) incDirs.push(d);
    const files: (string | undefined)[] = [undefined];
    for (let name = c.cstr(); name !== ""; name = c.cstr()) {
      const dirIdx = c.uleb();
      c.uleb(); // mtime
      c.uleb(); // length
      if (name.startsWith("/")) {
        files.push(name);
        continue;
      }
      const incDir = dirIdx > 0 && dirIdx <= incDirs.length ? incDirs[dirIdx - 1] : "";
      const parts: string[] = [];
      if (compDir !== undefined && compDir !== "" && !incDir.startsWith("/")) parts.push(compDir);
      parts.push(incDir, name);
      files.push(joinPath(parts));
    }
    return runLineProgram(
      c,
      end,
      progStart,
      t,
      { addrSize, minInst, lineBase, lineRange, opcodeBase, stdLens },
      files,
    );
  }
  const dirs = entryList().map((e) => lineStr(e[1]));
  const files = entryList().map((e) => {
    const name = lineStr(e[1]);
    const dirIdx = e[2]?.n ?? 0;
    if (name.startsWith("/")) return name;
    const parts: string[] = [];
    if (dirIdx !== 0 && compDir !== undefined && compDir !== "" && !(dirs[dirIdx] ?? "").startsWith("/"))
      parts.push(compDir);
    if (dirIdx < dirs.length) parts.push(dirs[dirIdx]);
    parts.push(name);
    return joinPath(parts);
  });
  return runLineProgram(
    c,
    end,
    progStart,
    t,
    { addrSize, minInst, lineBase, lineRange, opcodeBase, stdLens },
    files,
  );
}

interface LineHeader {
  readonly addrSize: number;
  readonly minInst: number;
  readonly lineBase: number;
  readonly lineRange: number;
  readonly opcodeBase: number;
  readonly stdLens: readonly number[];
}

/** Run a line number program into its sequences (rows of address, line, file). */
function runLineProgram(
  c: Cursor,
  end: number,
  progStart: number,
  t: Relocated,
  h: LineHeader,
  files: readonly (string | undefined)[],
): LineTable {
  const { addrSize, minInst, lineBase, lineRange, opcodeBase, stdLens } = h;
  c.pos = progStart;
  const sequences: Sequence[] = [];
  let rows: Row[] = [];
  let address = 0;
  let line = 1;
  let file = 1;
  let section = -1;
  const reset = (): void => {
    address = 0;
    line = 1;
    file = 1;
  };
  const emit = (endSeq: boolean): void => {
    rows.push({ address, line, file, end: endSeq });
    if (endSeq) {
      if (rows.length > 1 && rows[0].address < address)
        sequences.push({ section, low: rows[0].address, high: address, rows });
      rows = [];
      reset();
    }
  };
  while (c.pos < end) {
    const op = c.u8();
    if (op >= opcodeBase) {
      const adj = op - opcodeBase;
      address += Math.floor(adj / lineRange) * minInst;
      line += lineBase + (adj % lineRange);
      emit(false);
      continue;
    }
    switch (op) {
      case 0: {
        const n = c.uleb();
        const start = c.pos;
        const sub = c.u8();
        if (sub === 1) emit(true);
        else if (sub === 2) {
          section = t.sectionAt.get(c.pos) ?? -1;
          address = addrSize === 8 ? c.u64() : c.u32();
        }
        c.pos = start + n;
        break;
      }
      case 1:
        emit(false);
        break;
      case 2:
        address += c.uleb() * minInst;
        break;
      case 3:
        line += c.sleb();
        break;
      case 4:
        file = c.uleb();
        break;
      case 8:
        address += Math.floor((255 - opcodeBase) / lineRange) * minInst;
        break;
      case 9:
        address += c.u16();
        break;
      default:
        for (let i = 0; i < (stdLens[op] ?? 0); i++) c.uleb();
    }
  }
  sequences.sort((a, b) => (a.section !== b.section ? a.section - b.section : a.high - b.high));
  return { files, sequences };
}

/** sys::path::append: components joined with "/", empty ones skipped. */
function joinPath(parts: readonly string[]): string {
  let out = "";
  for (const p of parts) {
    if (p === "") continue;
    if (out === "" || out.endsWith("/")) out += p;
    else out += "/" + p;
  }
  return out;
}

interface SymbolDesc {
  readonly addr: number;
  readonly size: number;
  readonly name: string;
}

/**
 * The symbolizer's table: function, object and untyped symbols of real sections, sorted
 * by (address, size), one per address (the largest).
 */
function symbolTable(elf: ElfFile): SymbolDesc[] {
  const rel = elf.header.type === ELF.ET_REL;
  const all: SymbolDesc[] = [];
  for (const sym of elf.symbols) {
    if (sym.shndx === ELF.SHN_UNDEF || sym.shndx >= 0xff00 || sym.shndx >= elf.sections.length) continue;
    const t = sym.type;
    if (t !== ELF.STT_NOTYPE && t !== ELF.STT_FUNC && t !== ELF.STT_OBJECT && t !== 10) continue;
    const addr = Number(rel ? sym.value + elf.sections[sym.shndx].addr : sym.value);
    all.push({ addr, size: Number(sym.size), name: sym.name });
  }
  all.sort((a, b) => (a.addr !== b.addr ? a.addr - b.addr : a.size - b.size));
  const out: SymbolDesc[] = [];
  for (let i = 0; i < all.length; i++) {
    if (i + 1 < all.length && all[i + 1].addr === all[i].addr) continue;
    out.push(all[i]);
  }
  return out;
}

function symbolAt(table: readonly SymbolDesc[], address: number): string | undefined {
  let lo = 0;
  let hi = table.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (table[mid].addr <= address) lo = mid + 1;
    else hi = mid;
  }
  if (lo === 0) return undefined;
  const s = table[lo - 1];
  if (s.size !== 0 && s.addr + s.size <= address) return undefined;
  return s.name;
}

type UnitEntry = {
  unit: Unit;
  cuRanges: [number, number][];
  dieMap: ReturnType<typeof buildAddrDieMap>;
  table: LineTable | undefined;
};

/**
 * The compile units of .debug_info with their address maps and line tables; none when the
 * file has no DWARF or DWARF this reader does not understand (then only symbol names remain).
 */
function readUnits(elf: ElfFile): { units: UnitEntry[]; nameOf: (u: Unit, die: Die) => string | undefined } {
  const find = (name: string): ElfSection | undefined => elf.section(name);
  const infoSec = find(".debug_info");
  const abbrevSec = find(".debug_abbrev");
  const none = { units: [], nameOf: () => undefined };
  if (infoSec === undefined || abbrevSec === undefined) return none;
  const le = elf.header.byteOrder === "le";
  try {
    const s: Sections = {
      le,
      info: relocated(elf, infoSec)!,
      abbrev: relocated(elf, abbrevSec)!.data,
      str: find(".debug_str")?.data,
      lineStr: find(".debug_line_str")?.data,
      strOffsets: relocated(elf, find(".debug_str_offsets")),
      addr: relocated(elf, find(".debug_addr")),
      rnglists: relocated(elf, find(".debug_rnglists")),
      ranges: relocated(elf, find(".debug_ranges")),
      line: relocated(elf, find(".debug_line")),
    };
    const units: UnitEntry[] = [];
    for (let at = 0; at < s.info.data.length; ) {
      const { unit, next } = parseUnit(s, at);
      at = next;
      if (unit.root.tag !== DW_TAG_compile_unit) continue;
      const stmt = unit.root.attrs.get(AT.stmt_list);
      const compDir = strOf(s, unit, unit.root.attrs.get(AT.comp_dir));
      units.push({
        unit,
        cuRanges: ranges(s, unit, unit.root),
        dieMap: buildAddrDieMap(s, unit),
        table: stmt === undefined ? undefined : parseLineTable(s, stmt.n, compDir),
      });
    }
    const nameOf = (u: Unit, die: Die): string | undefined =>
      strOf(s, u, findRecursively(u, die, [AT.mips_linkage_name, AT.linkage_name])) ??
      strOf(s, u, findRecursively(u, die, [AT.name]));
    return { units, nameOf };
  } catch {
    return none;
  }
}

/** Index of the first k in [0, n) where `before(k)` is false (`before` must be monotone). */
function upperBound(n: number, before: (k: number) => boolean): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(mid)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Source line information for `-l`. Function names come from the symbol table when a symbol
 * covers the address (llvm-symbolizer's override), else from DWARF; files and lines from DWARF.
 */
export function buildLineInfo(elf: ElfFile): LineInfo {
  const { units, nameOf } = readUnits(elf);
  const symtab = symbolTable(elf);
  return {
    lookup(sectionIndex: number, address: number): SourceLine {
      const symbolName = symbolAt(symtab, address);
      const entry = units.find((e) => e.cuRanges.some(([lo, hi]) => lo <= address && address < hi));
      if (entry === undefined)
        return symbolName === undefined ? NONE : { fn: symbolName, file: undefined, line: 0 };
      const { unit, dieMap, table } = entry;
      // getSubroutineForAddress, then up to the subprogram: the leaf names the function.
      let fn: string | undefined;
      const lows = dieMap.lows;
      const i = upperBound(lows.length, (k) => lows[k] <= address);
      if (i > 0) {
        const [hi, die] = dieMap.map.get(lows[i - 1])!;
        if (address < hi) fn = nameOf(unit, die);
      }
      // The symbolizer prefers the symbol table's name when a symbol covers the address.
      fn = symbolName ?? fn;
      let file: string | undefined;
      let line = 0;
      if (table !== undefined) {
        const seqs = table.sequences;
        // upper_bound by (section, high), then the sequence must contain the address.
        const k = upperBound(
          seqs.length,
          (j) =>
            seqs[j].section < sectionIndex || (seqs[j].section === sectionIndex && seqs[j].high <= address),
        );
        const seq = seqs[k];
        if (seq !== undefined && seq.section === sectionIndex && seq.low <= address && address < seq.high) {
          const rows = seq.rows;
          // upper_bound over rows[1 .. n-1) by address, minus one.
          const r = 1 + upperBound(rows.length - 2, (j) => rows[1 + j].address <= address);
          const row = rows[r - 1];
          const name = table.files[row.file];
          if (name !== undefined) {
            file = name;
            line = row.line;
          }
        }
      }
      return { fn, file, line };
    },
  };
}
