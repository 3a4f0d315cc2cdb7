/**
 * The assembler's entry points. `assemble` gives the instructions (of every executable section,
 * in section order); `assembleModule` gives the whole module (sections, symbols, relocations)
 * for the ELF writer. Three input syntaxes: LLVM's (clang -S / llvm-mc), llvm-objdump -d output
 * (its raw bytes are checked against the text), and the bpf_conformance suite's.
 */
import { AsmError } from "../../errors.js";
import type { ByteOrder, Instruction } from "../instruction.js";
import { assembleConformance } from "./conformance.js";
import { assembleLlvm } from "./llvm.js";
import { AsmBuilder, type AsmModule } from "./module.js";
import { assembleObjdump, looksLikeObjdump } from "./objdump.js";

export type AsmSyntax = "llvm" | "conformance" | "objdump" | "auto";

export interface AssembleOptions {
  /** File name for error messages. */
  readonly file?: string;
  readonly syntax?: AsmSyntax;
  /** Byte order of the data the module holds (instructions are returned as fields). */
  readonly byteOrder?: ByteOrder;
  /** Line number of the text's first line in its file (e.g. ConformanceData.asmLine), for errors. */
  readonly firstLine?: number;
}

export type { AsmModule, AsmRelocation, AsmSection, AsmSymbol } from "./module.js";

/**
 * Which syntax a text is in: objdump output has `addr:<tab>hex bytes` lines; the conformance
 * syntax uses `%rN` registers or its mnemonics (`mov32`, `ldxdw`, `exit`-only programs are LLVM's).
 */
export function detectSyntax(text: string): Exclude<AsmSyntax, "auto"> {
  if (looksLikeObjdump(text)) return "objdump";
  const code = text
    .split("\n")
    .map((l) => l.replace(/(#|\/\/).*$/, "").trim())
    .filter((l) => l !== "");
  const conf =
    /^(mov|add|sub|mul|div|sdiv|mod|smod|or|and|xor|lsh|rsh|arsh|neg|movsx\d+|ldx[bhw]|ldxdw|ldxs[bhw]|st[bhw]|stdw|stx[bhw]|stxdw|lddw|j[a-z]+|be\d+|le\d+|bswap\d+|swap\d+|lock)(32)?\b/;
  for (const l of code) {
    if (/%r\d/.test(l) || /^call\s+(local|helper|runtime)\s/.test(l)) return "conformance";
    const w = l.replace(/^[A-Za-z_.$][\w.$]*:\s*/, "");
    if (w === "" || w.startsWith(".")) continue;
    if (
      /^[rw]\d+\s*(=|[-+*/%|&^]=|<<=|>>=|s)/.test(w) ||
      /^(if|goto|gotol|call|callx|exit|lock\s+\*|\*\()/.test(w)
    ) {
      return "llvm";
    }
    if (conf.test(w)) return "conformance";
  }
  return "llvm";
}

/** Assemble a text into a module (all sections, symbols and relocations). */
export function assembleModule(source: string, opts: AssembleOptions = {}): AsmModule {
  // Blank lines in front keep every later line number right (no syntax gives them meaning).
  const text = opts.firstLine && opts.firstLine > 1 ? "\n".repeat(opts.firstLine - 1) + source : source;
  const syntax = !opts.syntax || opts.syntax === "auto" ? detectSyntax(text) : opts.syntax;
  const b = new AsmBuilder(opts.byteOrder ?? "le");
  switch (syntax) {
    case "llvm":
      assembleLlvm(b, text, opts.file);
      break;
    case "objdump":
      assembleObjdump(b, text, opts.file);
      break;
    case "conformance":
      assembleConformance(b, text, opts.file);
      break;
    default:
      throw new AsmError("E_ASM_SYNTAX", `unknown assembly syntax '${String(syntax)}'`);
  }
  return b.finish();
}

/** Assemble a text to its instructions (the executable sections, in order). */
export function assemble(text: string, opts: AssembleOptions = {}): Instruction[] {
  const m = assembleModule(text, opts);
  const out: Instruction[] = [];
  for (const s of m.sections) out.push(...s.insns);
  return out;
}

export type { ConformanceData } from "./conformance-data.js";
export { parseConformanceData } from "./conformance-data.js";
