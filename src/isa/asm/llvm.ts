/**
 * The LLVM assembly front end: splits the text into statements (comments `#`, `//`, `/* *\/`;
 * `;` separates statements as in llvm-mc), defines labels, runs directives and hands each
 * instruction to llvm-insn.ts. Directives cover what clang -S writes for BPF (sections, symbol
 * attributes, alignment, data, debug-info data, and `.file N`/`.loc`/`.cfi_*`, from which
 * dwarf.ts builds the DWARF line and frame tables as llvm-mc does).
 */
import { ELF } from "../../elf/types.js";
import { Cursor, parseExpr } from "./expr.js";
import { asmError, lex, readQuoted, type SourcePos, type Token } from "./lexer.js";
import { parseLlvmInsn } from "./llvm-insn.js";
import type { AsmBuilder, Expr } from "./module.js";

export interface Statement {
  readonly text: string;
  readonly line: number;
  /** Column of text[0] in its source line. */
  readonly col: number;
}

/** Split source text into statements, dropping comments. Keeps line and column of each. */
export function splitStatements(source: string, pos: { file?: string }): Statement[] {
  const out: Statement[] = [];
  const lines = source.split("\n");
  let inBlock = false;
  lines.forEach((rawLine, idx) => {
    const line = rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine;
    const lineNo = idx + 1;
    let cur = "";
    let start = 0;
    const flush = (end: number): void => {
      if (cur.trim() !== "") {
        const lead = cur.length - cur.trimStart().length;
        out.push({ text: cur.trim(), line: lineNo, col: start + lead + 1 });
      }
      cur = "";
      start = end + 1;
    };
    let i = 0;
    while (i < line.length) {
      if (inBlock) {
        const endAt = line.indexOf("*/", i);
        if (endAt < 0) {
          cur += " ".repeat(line.length - i);
          i = line.length;
          break;
        }
        cur += " ".repeat(endAt + 2 - i);
        i = endAt + 2;
        inBlock = false;
        continue;
      }
      const ch = line[i];
      if (ch === '"') {
        const { end } = readQuoted(line, i, { file: pos.file, line: lineNo });
        cur += line.slice(i, end);
        i = end;
        continue;
      }
      if (ch === "'" && i + 2 < line.length) {
        const end = line[i + 1] === "\\" ? i + 4 : i + 3;
        cur += line.slice(i, end);
        i = end;
        continue;
      }
      if (ch === "#" || (ch === "/" && line[i + 1] === "/")) break;
      if (ch === "/" && line[i + 1] === "*") {
        inBlock = true;
        cur += "  ";
        i += 2;
        continue;
      }
      if (ch === ";") {
        flush(i);
        i++;
        continue;
      }
      cur += ch;
      i++;
    }
    flush(line.length);
  });
  return out;
}

const SYMBOL_TYPES: Readonly<Record<string, number>> = {
  function: ELF.STT_FUNC,
  object: ELF.STT_OBJECT,
  notype: ELF.STT_NOTYPE,
  stt_func: ELF.STT_FUNC,
  stt_object: ELF.STT_OBJECT,
  stt_notype: ELF.STT_NOTYPE,
};

const SECTION_TYPES: Readonly<Record<string, number>> = {
  progbits: ELF.SHT_PROGBITS,
  nobits: ELF.SHT_NOBITS,
  note: 7,
  init_array: 14,
  fini_array: 15,
  preinit_array: 16,
  llvm_addrsig: ELF.SHT_LLVM_ADDRSIG,
};

const DATA_SIZES: Readonly<Record<string, 1 | 2 | 4 | 8>> = {
  ".byte": 1,
  ".short": 2,
  ".hword": 2,
  ".2byte": 2,
  ".value": 2,
  ".long": 4,
  ".int": 4,
  ".4byte": 4,
  ".quad": 8,
  ".8byte": 8,
  ".dword": 8,
};

/** Directives that only feed DWARF line/frame tables or tool metadata: accepted, no effect here. */
const IGNORED = new Set([
  ".ident",
  ".cfi_def_cfa",
  ".cfi_def_cfa_offset",
  ".cfi_def_cfa_register",
  ".cfi_offset",
  ".cfi_restore",
  ".cfi_remember_state",
  ".cfi_restore_state",
  ".cfi_adjust_cfa_offset",
  ".cfi_rel_offset",
  ".cfi_same_value",
  ".cfi_undefined",
  ".cfi_escape",
  ".cfi_signal_frame",
  ".cfi_return_column",
  ".cfi_personality",
  ".cfi_lsda",
  ".cfi_register",
  ".cfi_window_save",
  ".loc_mark_labels",
]);

function sectionFlags(flags: string, pos: SourcePos, col: number): bigint {
  let f = 0n;
  for (const ch of flags) {
    switch (ch) {
      case "a":
        f |= ELF.SHF_ALLOC;
        break;
      case "w":
        f |= ELF.SHF_WRITE;
        break;
      case "x":
        f |= ELF.SHF_EXECINSTR;
        break;
      case "M":
        f |= ELF.SHF_MERGE;
        break;
      case "S":
        f |= ELF.SHF_STRINGS;
        break;
      case "T":
        f |= 0x400n;
        break;
      case "G":
        f |= 0x200n;
        break;
      case "e":
        f |= 0x80000000n;
        break;
      case "R":
        f |= 0x100000n;
        break;
      case "o":
        f |= 0x80n;
        break;
      default:
        throw asmError("E_ASM_DIRECTIVE", `unknown section flag '${ch}'`, pos, col);
    }
  }
  return f;
}

/** Assemble LLVM-syntax statements into the builder. */
export function assembleLlvm(b: AsmBuilder, source: string, file?: string): void {
  for (const st of splitStatements(source, { file })) statement(b, st, file);
}

export function statement(b: AsmBuilder, st: Statement, file?: string): void {
  const pos: SourcePos = { file, line: st.line };
  const endCol = st.col + st.text.length;
  // The `.section` directive's name may contain characters the lexer does not know (e.g. '-').
  if (/^\.(section|pushsection)\s/i.test(st.text)) {
    sectionDirective(b, st, pos);
    return;
  }
  const toks = lex(st.text, pos, st.col);
  let i = 0;
  // Labels: `name:` (several may precede a statement on one line); `N:` is a numeric local label.
  while (
    i + 1 < toks.length &&
    (toks[i].kind === "ident" || toks[i].kind === "str" || toks[i].kind === "num") &&
    isOp(toks[i + 1], ":")
  ) {
    const t = toks[i];
    if (t.kind === "num") {
      const n = t.text;
      const k = (b.numericLabels.get(n) ?? 0) + 1;
      b.numericLabels.set(n, k);
      b.defineLabel(numericLabel(n, k), pos, t.col);
    } else {
      b.defineLabel(t.kind === "str" ? String.fromCharCode(...t.bytes) : t.text, pos, t.col);
    }
    i += 2;
  }
  // `Nb` is the last `N:` so far, `Nf` the next one.
  const rest = toks.slice(i).map((t): Token => {
    const m = t.kind === "ident" ? /^([0-9]+)([bf])$/.exec(t.text) : null;
    if (!m) return t;
    const k = (b.numericLabels.get(m[1]) ?? 0) + (m[2] === "f" ? 1 : 0);
    if (k === 0)
      throw asmError("E_ASM_UNDEFINED", `no numeric label '${m[1]}:' before '${t.text}'`, pos, t.col);
    return { kind: "ident", text: numericLabel(m[1], k), col: t.col };
  });
  if (rest.length === 0) return;
  const head = rest[0];
  // `sym = expr` is `.set sym, expr`.
  if (head.kind === "ident" && rest.length > 2 && isOp(rest[1], "=") && !/^[rRwW][0-9]+$/.test(head.text)) {
    const c = new Cursor(rest.slice(2), pos, endCol);
    setSymbol(b, head.text, parseExpr(c), pos, head.col);
    c.expectEnd();
    return;
  }
  if (head.kind === "ident" && head.text.startsWith(".")) {
    directive(b, head.text.toLowerCase(), new Cursor(rest.slice(1), pos, endCol), pos, head.col);
    return;
  }
  const parsed = parseLlvmInsn(rest, pos, endCol);
  b.addInsn(parsed.insn, pos, parsed.fixup);
}

/** The temporary symbol behind the k-th definition of numeric label `n:` (see labelDisplay). */
const numericLabel = (n: string, k: number): string => `.Lnum${n}$${k}`;

function isOp(t: Token | undefined, text: string): boolean {
  return t?.kind === "op" && t.text === text;
}

function setSymbol(b: AsmBuilder, name: string, e: Expr, pos: SourcePos, col: number): void {
  if (e.sym !== undefined) throw asmError("E_ASM_EXPR", `'${name}' must be set to a constant`, pos, col);
  b.setAbsolute(name, e.add, pos);
}

function sectionDirective(b: AsmBuilder, st: Statement, pos: SourcePos): void {
  const m = /^\.(section|pushsection)\s+/i.exec(st.text);
  const push = m?.[1].toLowerCase() === "pushsection";
  let rest = st.text.slice(m?.[0].length ?? 0);
  let restCol = st.col + (m?.[0].length ?? 0);
  let name: string;
  if (rest.startsWith('"')) {
    const q = readQuoted(rest, 0, pos, restCol);
    name = String.fromCharCode(...q.bytes);
    rest = rest.slice(q.end);
    restCol += q.end;
  } else {
    const comma = rest.indexOf(",");
    name = (comma < 0 ? rest : rest.slice(0, comma)).trim();
    rest = comma < 0 ? "" : rest.slice(comma);
    restCol += Math.max(comma, 0);
  }
  if (name === "") throw asmError("E_ASM_DIRECTIVE", ".section needs a name", pos, st.col);
  const toks = lex(rest, pos, restCol);
  const c = new Cursor(toks, pos, st.col + st.text.length);
  let flags: bigint | undefined;
  let type: number | undefined;
  let entsize: number | undefined;
  if (c.eatOp(",")) {
    const f = c.next();
    if (f?.kind !== "str")
      throw asmError("E_ASM_DIRECTIVE", "expected a quoted flags string", pos, f?.col ?? c.col());
    flags = sectionFlags(String.fromCharCode(...f.bytes), pos, f.col);
    if (c.eatOp(",")) {
      const at = c.next();
      const tt = c.next();
      if (!at || (at.text !== "@" && at.text !== "%") || tt?.kind !== "ident") {
        throw asmError(
          "E_ASM_DIRECTIVE",
          "expected a section type such as @progbits",
          pos,
          at?.col ?? c.col(),
        );
      }
      type = SECTION_TYPES[tt.text.toLowerCase()];
      if (type === undefined)
        throw asmError("E_ASM_DIRECTIVE", `unknown section type '@${tt.text}'`, pos, tt.col);
      if (c.eatOp(",")) {
        const e = parseExpr(c);
        entsize = Number(e.add);
        // Group name, linkage... (",name,comdat") are not used by BPF objects.
        while (!c.done()) c.next();
      }
    }
  }
  c.expectEnd();
  const kind = flags === undefined ? undefined : { flags, type: type ?? ELF.SHT_PROGBITS, entsize };
  if (push) b.pushSection(name, kind);
  else b.switchTo(name, kind);
}

/** `.loc file line [column] [basic_block] [prologue_end] [epilogue_begin] [is_stmt N] [isa N] [discriminator N]` */
function locDirective(b: AsmBuilder, c: Cursor, pos: SourcePos): void {
  const fileCol = c.col();
  const file = Number(constArg(c, "file number", pos));
  if (!b.dwarf.hasFile(file)) {
    throw asmError(
      "E_ASM_DIRECTIVE",
      `unassigned file number ${file} in '.loc' (no '.file ${file}' before it)`,
      pos,
      fileCol,
    );
  }
  const line = Number(constArg(c, "line", pos));
  const column = c.peek()?.kind === "num" ? Number(constArg(c, "column", pos)) : 0;
  let flags = 0;
  let isStmt: number | undefined;
  let isa: number | undefined;
  let discriminator: number | undefined;
  while (!c.done()) {
    const t = c.next();
    const word = t?.kind === "ident" ? t.text : "";
    if (word === "basic_block") flags |= 2;
    else if (word === "prologue_end") flags |= 4;
    else if (word === "epilogue_begin") flags |= 8;
    else if (word === "is_stmt") isStmt = Number(constArg(c, "is_stmt", pos));
    else if (word === "isa") isa = Number(constArg(c, "isa", pos));
    else if (word === "discriminator") discriminator = Number(constArg(c, "discriminator", pos));
    else throw asmError("E_ASM_DIRECTIVE", `unknown .loc option '${t?.text}'`, pos, t?.col ?? c.col());
  }
  b.dwarf.setLoc(
    file,
    line,
    column,
    { flags, isStmt, isa, discriminator },
    { section: b.currentSection, item: b.itemCount() },
  );
}

function names(c: Cursor, pos: SourcePos): Array<{ name: string; col: number }> {
  const out: Array<{ name: string; col: number }> = [];
  do {
    const t = c.next();
    if (t?.kind !== "ident" && t?.kind !== "str") {
      throw asmError("E_ASM_DIRECTIVE", "expected a symbol name", pos, t?.col ?? c.col());
    }
    out.push({ name: t.kind === "str" ? String.fromCharCode(...t.bytes) : t.text, col: t.col });
  } while (c.eatOp(","));
  c.expectEnd();
  return out;
}

function constArg(c: Cursor, what: string, pos: SourcePos): bigint {
  const col = c.col();
  const e = parseExpr(c);
  if (e.sym !== undefined) throw asmError("E_ASM_EXPR", `${what} must be a constant`, pos, col);
  return e.add;
}

function directive(b: AsmBuilder, name: string, c: Cursor, pos: SourcePos, col: number): void {
  switch (name) {
    case ".loc":
      locDirective(b, c, pos);
      return;
    case ".cfi_sections":
      for (const n of names(c, pos)) if (n.name === ".debug_frame") b.dwarf.debugFrame = true;
      return;
    case ".cfi_startproc":
      b.dwarf.startProc(b.currentSection, b.itemCount(), pos);
      return;
    case ".cfi_endproc":
      b.dwarf.endProc(b.currentSection, b.itemCount(), pos);
      return;
    default:
      break;
  }
  // Other CFI directives describe register saves BPF code never makes: accepted, no effect.
  if (IGNORED.has(name) || name.startsWith(".cfi_")) return;
  const size = DATA_SIZES[name];
  if (size !== undefined) {
    if (c.done()) return;
    do b.addData(size, parseExpr(c), pos);
    while (c.eatOp(","));
    c.expectEnd();
    return;
  }
  switch (name) {
    case ".text":
    case ".data":
    case ".bss":
    case ".rodata":
      c.expectEnd();
      b.switchTo(name);
      return;
    case ".popsection":
      c.expectEnd();
      b.popSection(pos);
      return;
    case ".previous":
      return;
    case ".globl":
    case ".global":
      for (const n of names(c, pos)) b.setBind(n.name, ELF.STB_GLOBAL);
      return;
    case ".weak":
      for (const n of names(c, pos)) b.setBind(n.name, ELF.STB_WEAK);
      return;
    case ".local":
      for (const n of names(c, pos)) b.setBind(n.name, ELF.STB_LOCAL);
      return;
    case ".hidden":
      for (const n of names(c, pos)) b.setVisibility(n.name, 2);
      return;
    case ".protected":
      for (const n of names(c, pos)) b.setVisibility(n.name, 3);
      return;
    case ".internal":
      for (const n of names(c, pos)) b.setVisibility(n.name, 1);
      return;
    case ".type": {
      const t = c.next();
      if (t?.kind !== "ident")
        throw asmError("E_ASM_DIRECTIVE", ".type needs a symbol name", pos, t?.col ?? c.col());
      c.expectOp(",", "after the symbol name");
      c.eatOp("@") || c.eatOp("%");
      const ty = c.next();
      const v = ty?.kind === "ident" ? SYMBOL_TYPES[ty.text.toLowerCase()] : undefined;
      if (v === undefined)
        throw asmError(
          "E_ASM_DIRECTIVE",
          "unknown symbol type (use @function, @object or @notype)",
          pos,
          ty?.col ?? c.col(),
        );
      c.expectEnd();
      b.setType(t.text, v);
      return;
    }
    case ".size": {
      const t = c.next();
      if (t?.kind !== "ident")
        throw asmError("E_ASM_DIRECTIVE", ".size needs a symbol name", pos, t?.col ?? c.col());
      c.expectOp(",", "after the symbol name");
      const e = parseExpr(c);
      c.expectEnd();
      b.setSize(t.text, e);
      return;
    }
    case ".set":
    case ".equ": {
      const t = c.next();
      if (t?.kind !== "ident")
        throw asmError("E_ASM_DIRECTIVE", `${name} needs a symbol name`, pos, t?.col ?? c.col());
      c.expectOp(",", "after the symbol name");
      setSymbol(b, t.text, parseExpr(c), pos, t.col);
      c.expectEnd();
      return;
    }
    case ".p2align":
    case ".p2alignw":
    case ".p2alignl":
    case ".align":
    case ".balign": {
      const v = constArg(c, "alignment", pos);
      let fill: number | undefined;
      if (c.eatOp(",") && !c.isOp(",")) fill = Number(constArg(c, "fill value", pos));
      if (c.eatOp(",")) constArg(c, "maximum padding", pos);
      c.expectEnd();
      const bytes = name.startsWith(".p2align") ? 2 ** Number(v) : Number(v);
      if (v < 0n || v > 32n * (name.startsWith(".p2align") ? 1n : 1n << 27n) || (bytes & (bytes - 1)) !== 0) {
        throw asmError("E_ASM_DIRECTIVE", `invalid alignment ${v}`, pos, col);
      }
      b.addAlign(Math.max(1, bytes), fill);
      return;
    }
    case ".zero":
    case ".space":
    case ".skip": {
      const n = constArg(c, "size", pos);
      const fill = c.eatOp(",") ? constArg(c, "fill value", pos) : 0n;
      c.expectEnd();
      if (n < 0n || n > 1n << 30n) throw asmError("E_ASM_RANGE", `bad size ${n}`, pos, col);
      b.addFill(Number(n), Number(fill));
      return;
    }
    case ".ascii":
    case ".asciz":
    case ".string": {
      do {
        const t = c.next();
        if (t?.kind !== "str")
          throw asmError("E_ASM_DIRECTIVE", `${name} needs a quoted string`, pos, t?.col ?? c.col());
        const bytes = name === ".ascii" ? t.bytes : [...t.bytes, 0];
        b.addBytes(Uint8Array.from(bytes));
      } while (c.eatOp(","));
      c.expectEnd();
      return;
    }
    case ".uleb128":
    case ".sleb128":
      do b.addLeb(name === ".sleb128", parseExpr(c), pos);
      while (c.eatOp(","));
      c.expectEnd();
      return;
    case ".file": {
      // `.file "name"` names the STT_FILE symbol; `.file N ["dir"] "name" [md5 0x..] [source ".."]`
      // is an entry of the DWARF line table's file list.
      const t = c.peek();
      if (t?.kind === "str") {
        b.fileName = String.fromCharCode(...t.bytes);
        return;
      }
      const n = Number(constArg(c, "file number", pos));
      const strs: string[] = [];
      while (c.peek()?.kind === "str") {
        const s = c.next();
        if (s?.kind === "str") strs.push(new TextDecoder().decode(Uint8Array.from(s.bytes)));
      }
      if (strs.length < 1 || strs.length > 2)
        throw asmError("E_ASM_DIRECTIVE", '.file N needs ["dir"] "name"', pos, col);
      let md5: Uint8Array | undefined;
      let source: string | undefined;
      while (!c.done()) {
        const k = c.next();
        if (k?.kind === "ident" && k.text === "md5") {
          const v = c.next();
          if (v?.kind !== "num")
            throw asmError("E_ASM_DIRECTIVE", "md5 needs a 128-bit number", pos, v?.col ?? c.col());
          md5 = Uint8Array.from({ length: 16 }, (_, i) => Number((v.value >> BigInt(8 * (15 - i))) & 0xffn));
        } else if (k?.kind === "ident" && k.text === "source") {
          const v = c.next();
          if (v?.kind !== "str")
            throw asmError("E_ASM_DIRECTIVE", "source needs a string", pos, v?.col ?? c.col());
          source = new TextDecoder().decode(Uint8Array.from(v.bytes));
        } else {
          throw asmError("E_ASM_DIRECTIVE", `unexpected '${k?.text}' in .file`, pos, k?.col ?? c.col());
        }
      }
      const [dir, file] = strs.length === 2 ? strs : ["", strs[0]];
      b.dwarf.file(n, { name: file, dir, md5, source });
      return;
    }
    case ".comm":
    case ".lcomm": {
      const t = c.next();
      if (t?.kind !== "ident")
        throw asmError("E_ASM_DIRECTIVE", `${name} needs a symbol name`, pos, t?.col ?? c.col());
      c.expectOp(",", "after the symbol name");
      const size = constArg(c, "size", pos);
      const align = c.eatOp(",") ? constArg(c, "alignment", pos) : 1n;
      c.expectEnd();
      if (size < 0n || size > 1n << 30n || align < 1n || align > 1n << 16n || (align & (align - 1n)) !== 0n) {
        throw asmError("E_ASM_DIRECTIVE", `bad ${name} size ${size} or alignment ${align}`, pos, col);
      }
      b.common(t.text, Number(size), Number(align), name === ".lcomm", pos);
      return;
    }
    case ".addrsig":
      c.expectEnd();
      b.addrsig = b.addrsig ?? [];
      return;
    case ".addrsig_sym":
      for (const n of names(c, pos)) {
        b.symbol(n.name);
        if (!b.addrsig) b.addrsig = [];
        b.addrsig.push(n.name);
      }
      return;
    default:
      throw asmError("E_ASM_DIRECTIVE", `unknown directive '${name}'`, pos, col);
  }
}
