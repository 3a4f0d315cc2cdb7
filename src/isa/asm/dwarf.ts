/**
 * The DWARF tables an assembler derives from directives rather than data: the line table
 * (.debug_line and its strings in .debug_line_str, DWARF 5) from `.file`/`.loc`, and the call
 * frame table (.debug_frame) from `.cfi_startproc`/`.cfi_endproc` when `.cfi_sections
 * .debug_frame` asks for it. The encoding follows what llvm-mc-19 writes for BPF (minimum
 * instruction length 8, line_base -5, line_range 14, opcode_base 13; DWARF 5 directory and file
 * tables with line_strp paths and MD5 when every file has one; CIE version 4, code alignment 8,
 * data alignment -4, return address column 11), checked byte for byte against its objects.
 */

import { lebBytes } from "./leb.js";
import type { SourcePos } from "./lexer.js";
import { asmError } from "./lexer.js";
import type { AsmBuilder } from "./module.js";

const IS_STMT = 1;
const BASIC_BLOCK = 2;
const PROLOGUE_END = 4;
const EPILOGUE_BEGIN = 8;

const DW_LNS = {
  copy: 1,
  advancePc: 2,
  advanceLine: 3,
  setFile: 4,
  setColumn: 5,
  negateStmt: 6,
  setBasicBlock: 7,
  constAddPc: 8,
  setPrologueEnd: 10,
  setEpilogueBegin: 11,
  setIsa: 12,
} as const;
const LINE_BASE = -5;
const LINE_RANGE = 14;
const OPCODE_BASE = 13;
const MIN_INST_LENGTH = 8;
const MAX_SPECIAL_ADDR_DELTA = Math.floor((255 - OPCODE_BASE) / LINE_RANGE);

export interface DwarfFile {
  readonly name: string;
  readonly dir: string;
  readonly md5?: Uint8Array;
  readonly source?: string;
}

export interface LocState {
  readonly file: number;
  readonly line: number;
  readonly column: number;
  readonly flags: number;
  readonly isa: number;
  readonly discriminator: number;
}

interface LineEntry {
  readonly item: number;
  readonly loc: LocState;
}

interface Frame {
  readonly section: string;
  readonly start: number;
  end?: number;
  readonly pos: SourcePos;
}

export class DwarfState {
  /** `.file N` entries by number (0 is the root file of DWARF 5). */
  private readonly files = new Map<number, DwarfFile>();
  private loc: LocState | undefined;
  private locPending = false;
  /** Line entries per code section, sections in the order they got their first entry. */
  private readonly lines = new Map<string, LineEntry[]>();
  private readonly frames: Frame[] = [];
  private openFrame: Frame | undefined;
  debugFrame = false;

  file(n: number, f: DwarfFile): void {
    this.files.set(n, f);
  }

  /** Whether `.loc n` may be used (file 0, the DWARF 5 root file, always may). */
  hasFile(n: number): boolean {
    return n === 0 || this.files.has(n);
  }

  /** `.loc`: is_stmt carries over from the previous `.loc`; the other flags do not. */
  setLoc(
    file: number,
    line: number,
    column: number,
    opts: { flags?: number; isStmt?: number; isa?: number; discriminator?: number },
    at: { section: string; item: number },
  ): void {
    // Two `.loc` in a row: the first still gets its row, at the current position (as llvm-mc).
    this.noteInsn(at.section, at.item);
    const prevStmt = this.loc ? this.loc.flags & IS_STMT : IS_STMT;
    let flags = prevStmt | (opts.flags ?? 0);
    if (opts.isStmt !== undefined) flags = (flags & ~IS_STMT) | (opts.isStmt ? IS_STMT : 0);
    this.loc = { file, line, column, flags, isa: opts.isa ?? 0, discriminator: opts.discriminator ?? 0 };
    this.locPending = true;
  }

  /** An instruction was emitted at `item` of `section`: it gets the pending `.loc`, if any. */
  noteInsn(section: string, item: number): void {
    if (!this.locPending || !this.loc) return;
    this.locPending = false;
    let list = this.lines.get(section);
    if (!list) {
      list = [];
      this.lines.set(section, list);
    }
    list.push({ item, loc: this.loc });
  }

  startProc(section: string, item: number, pos: SourcePos): void {
    if (this.openFrame) throw asmError("E_ASM_DIRECTIVE", ".cfi_startproc inside another procedure", pos);
    this.openFrame = { section, start: item, pos };
  }

  endProc(section: string, item: number, pos: SourcePos): void {
    const f = this.openFrame;
    if (!f) throw asmError("E_ASM_DIRECTIVE", ".cfi_endproc without .cfi_startproc", pos);
    if (f.section !== section)
      throw asmError("E_ASM_DIRECTIVE", ".cfi_endproc in another section than its .cfi_startproc", pos);
    f.end = item;
    this.frames.push(f);
    this.openFrame = undefined;
  }

  /** Append the generated tables to the builder (code sections must be laid out already). */
  generate(b: AsmBuilder): void {
    if (this.openFrame)
      throw asmError("E_ASM_DIRECTIVE", ".cfi_startproc without .cfi_endproc", this.openFrame.pos);
    if (this.debugFrame && this.frames.length > 0) this.emitFrames(b);
    if (this.lines.size > 0) this.emitLines(b);
  }

  private emitFrames(b: AsmBuilder): void {
    const pos = { line: 0 };
    b.switchTo(".debug_frame", { type: 1, flags: 0n });
    const ptr = 8;
    // Entries are padded to the address size, and the section aligned to it.
    b.addAlign(ptr);
    const cie = b.tempLabelHere();
    // CIE: length, CIE id, version 4, augmentation "", address size, segment size,
    // code alignment, data alignment, return address register, padded with DW_CFA_nop.
    const body = [
      0xff,
      0xff,
      0xff,
      0xff,
      4,
      0,
      ptr,
      0,
      ...lebBytes(8n, false),
      ...lebBytes(-4n, true),
      ...lebBytes(11n, false),
    ];
    const total = align(4 + body.length, ptr);
    b.addData(4, { add: BigInt(total - 4) }, pos);
    b.addBytes(Uint8Array.from([...body, ...new Array(total - 4 - body.length).fill(0)]));
    for (const f of this.frames) {
      const start = b.tempLabelAt(f.section, f.start);
      const len = b.offsetOf(f.section, f.end ?? f.start) - b.offsetOf(f.section, f.start);
      const fde = 4 + 8 + 8;
      const size = align(4 + fde, ptr);
      b.addData(4, { add: BigInt(size - 4) }, pos);
      b.addData(4, { sym: cie, add: 0n }, pos);
      b.addData(8, { sym: start, add: 0n }, pos);
      b.addData(8, { add: BigInt(len) }, pos);
      if (size > 4 + fde) b.addBytes(new Uint8Array(size - 4 - fde));
    }
  }

  private emitLines(b: AsmBuilder): void {
    const pos = { line: 0 };
    // Directory and file tables (DWARF 5): directory 0 is the root file's directory.
    const root = this.files.get(0) ?? this.files.get(1);
    if (!root) throw asmError("E_ASM_DIRECTIVE", ".loc without a .file directive", pos);
    const dirs: string[] = [root.dir];
    const maxFile = Math.max(...this.files.keys());
    const files: Array<{ name: string; dir: number; md5?: Uint8Array; source?: string }> = [];
    for (let n = 0; n <= maxFile; n++) {
      const f = n === 0 ? root : this.files.get(n);
      if (!f) {
        files.push({ name: "", dir: 0 });
        continue;
      }
      let d = f.dir === root.dir ? 0 : dirs.indexOf(f.dir, 1);
      if (d < 0) {
        dirs.push(f.dir);
        d = dirs.length - 1;
      }
      files.push({ name: f.name, dir: d, md5: f.md5, source: f.source });
    }
    const hasMd5 = files.every((f) => f.md5 !== undefined);
    const hasSource = files.some((f) => f.source !== undefined);

    // .debug_line_str: each distinct string once, in order of first use.
    const strOffsets = new Map<string, number>();
    const strBytes: number[] = [];
    const str = (s: string): number => {
      const have = strOffsets.get(s);
      if (have !== undefined) return have;
      const at = strBytes.length;
      strBytes.push(...new TextEncoder().encode(s), 0);
      strOffsets.set(s, at);
      return at;
    };
    for (const d of dirs) str(d);
    for (const f of files) {
      str(f.name);
      if (hasSource) str(f.source ?? "");
    }

    b.switchTo(".debug_line", { type: 1, flags: 0n });
    // Header up to header_length, then the rest, as items whose sizes are known now.
    const header: Array<{ kind: "bytes"; bytes: number[] } | { kind: "strp"; offset: number }> = [];
    const bytes = (...v: number[]): void => {
      header.push({ kind: "bytes", bytes: v });
    };
    bytes(
      MIN_INST_LENGTH,
      1,
      1,
      LINE_BASE & 0xff,
      LINE_RANGE,
      OPCODE_BASE,
      0,
      1,
      1,
      1,
      1,
      0,
      0,
      0,
      1,
      0,
      0,
      1,
    );
    bytes(1, ...lebBytes(1n, false), ...lebBytes(0x1fn, false));
    bytes(...lebBytes(BigInt(dirs.length), false));
    for (const d of dirs) header.push({ kind: "strp", offset: str(d) });
    const formats: number[][] = [
      [1, 0x1f],
      [2, 0x0f],
    ];
    if (hasMd5) formats.push([5, 0x1e]);
    if (hasSource) formats.push([0x2001, 0x1f]);
    bytes(
      formats.length,
      ...formats.flatMap(([a, c]) => [...lebBytes(BigInt(a), false), ...lebBytes(BigInt(c), false)]),
    );
    bytes(...lebBytes(BigInt(files.length), false));
    for (const f of files) {
      header.push({ kind: "strp", offset: str(f.name) });
      bytes(...lebBytes(BigInt(f.dir), false));
      if (hasMd5) bytes(...(f.md5 ?? new Uint8Array(16)));
      if (hasSource) header.push({ kind: "strp", offset: str(f.source ?? "") });
    }
    const headerLength = header.reduce((n, h) => n + (h.kind === "bytes" ? h.bytes.length : 4), 0);

    // The line program, per section, with LLVM's choice of opcodes.
    const program: Array<
      { kind: "bytes"; bytes: number[] } | { kind: "addr"; section: string; item: number }
    > = [];
    const out = (...v: number[]): void => {
      program.push({ kind: "bytes", bytes: v });
    };
    for (const [section, entries] of this.lines) {
      let file = 1;
      let column = 0;
      let flags = IS_STMT;
      let isa = 0;
      let discriminator = 0;
      let lastLine = 1;
      let lastAt: number | undefined;
      for (const e of entries) {
        const l = e.loc;
        if (file !== l.file) {
          file = l.file;
          out(DW_LNS.setFile, ...lebBytes(BigInt(file), false));
        }
        if (column !== l.column) {
          column = l.column;
          out(DW_LNS.setColumn, ...lebBytes(BigInt(column), false));
        }
        if (discriminator !== l.discriminator) {
          discriminator = l.discriminator;
          const d = lebBytes(BigInt(discriminator), false);
          out(0, ...lebBytes(BigInt(d.length + 1), false), 4, ...d);
        }
        if (isa !== l.isa) {
          isa = l.isa;
          out(DW_LNS.setIsa, ...lebBytes(BigInt(isa), false));
        }
        if ((l.flags ^ flags) & IS_STMT) {
          flags = l.flags;
          out(DW_LNS.negateStmt);
        }
        if (l.flags & BASIC_BLOCK) out(DW_LNS.setBasicBlock);
        if (l.flags & PROLOGUE_END) out(DW_LNS.setPrologueEnd);
        if (l.flags & EPILOGUE_BEGIN) out(DW_LNS.setEpilogueBegin);
        const at = b.offsetOf(section, e.item);
        if (lastAt === undefined) {
          out(0, 9, 2);
          program.push({ kind: "addr", section, item: e.item });
          out(...advance(l.line - lastLine, 0));
        } else {
          out(...advance(l.line - lastLine, (at - lastAt) / MIN_INST_LENGTH));
        }
        discriminator = 0;
        lastLine = l.line;
        lastAt = at;
      }
      const end = b.sizeOf(section);
      out(...endSequence((end - (lastAt ?? 0)) / MIN_INST_LENGTH));
    }
    const programLength = program.reduce((n, p) => n + (p.kind === "bytes" ? p.bytes.length : 8), 0);

    // unit_length, version 5, address size 8, segment selector size 0, header_length.
    b.addData(4, { add: BigInt(2 + 1 + 1 + 4 + headerLength + programLength) }, pos);
    b.addData(2, { add: 5n }, pos);
    b.addBytes(Uint8Array.from([8, 0]));
    b.addData(4, { add: BigInt(headerLength) }, pos);
    // .debug_line_str must exist before its labels are made.
    b.pushSection(".debug_line_str", { type: 1, flags: 0x30n, entsize: 1 });
    const strStart = b.tempLabelHere();
    b.addBytes(Uint8Array.from(strBytes));
    b.popSection(pos);
    for (const h of header) {
      if (h.kind === "bytes") b.addBytes(Uint8Array.from(h.bytes));
      else b.addData(4, { sym: strStart, add: BigInt(h.offset) }, pos);
    }
    for (const p of program) {
      if (p.kind === "bytes") b.addBytes(Uint8Array.from(p.bytes));
      else b.addData(8, { sym: b.tempLabelAt(p.section, p.item), add: 0n }, pos);
    }
  }
}

function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/** One row: advance the line by `lineDelta` and the address by `addrDelta` slots. */
function advance(lineDelta: number, addrDelta: number): number[] {
  const out: number[] = [];
  let line = lineDelta;
  let temp = line - LINE_BASE;
  let needCopy = false;
  // (LLVM computes this unsigned: a line step below line_base needs DW_LNS_advance_line too.)
  if (temp < 0 || temp >= LINE_RANGE || temp + OPCODE_BASE > 255) {
    out.push(DW_LNS.advanceLine, ...lebBytes(BigInt(line), true));
    line = 0;
    temp = -LINE_BASE;
    needCopy = true;
  }
  if (line === 0 && addrDelta === 0) {
    out.push(DW_LNS.copy);
    return out;
  }
  temp += OPCODE_BASE;
  if (addrDelta < 256 + MAX_SPECIAL_ADDR_DELTA) {
    let opcode = temp + addrDelta * LINE_RANGE;
    if (opcode <= 255) {
      out.push(opcode);
      return out;
    }
    opcode = temp + (addrDelta - MAX_SPECIAL_ADDR_DELTA) * LINE_RANGE;
    if (opcode <= 255) {
      out.push(DW_LNS.constAddPc, opcode);
      return out;
    }
  }
  out.push(DW_LNS.advancePc, ...lebBytes(BigInt(addrDelta), false));
  out.push(needCopy ? DW_LNS.copy : temp);
  return out;
}

/** Advance to the end of the section and end the sequence. */
function endSequence(addrDelta: number): number[] {
  const out: number[] = [];
  if (addrDelta === MAX_SPECIAL_ADDR_DELTA) out.push(DW_LNS.constAddPc);
  else if (addrDelta) out.push(DW_LNS.advancePc, ...lebBytes(BigInt(addrDelta), false));
  out.push(0, 1, 1);
  return out;
}
