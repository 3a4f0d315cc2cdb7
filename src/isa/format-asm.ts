/**
 * A printer of LLVM's BPF assembly syntax, as `clang -S` writes it: decimal immediates, a tab
 * before each instruction, labels (`LBB0_5:`) at jump targets, calls and ld_imm64 that carry a
 * symbolic reference spelled with the symbol name. llvm-mc (and our assembler) read it back to
 * the same instructions. What LLVM's syntax cannot express (an opcode LLVM does not know, a
 * non-zero field LLVM ignores, a call of another program without a reference) is written as
 * `.byte` lines, which assemble to the very same bytes.
 */
import { encode } from "./codec.js";
import {
  ASM_STYLE,
  hasAlu32,
  llvmBranchDisplacement,
  llvmCanonical,
  llvmInsnText,
  type Mcpu,
  type SymbolicOperands,
} from "./format.js";
import { type ByteOrder, type Instruction, insnWidth, OP_LD_IMM64 } from "./instruction.js";

export interface FormatAsmOptions {
  /**
   * Register names of 8/16/32-bit loads and stores: `w` for v3/v4 (clang -mcpu=v3 -S), `r` for
   * v1/v2 and by default (clang-19's default CPU). Atomics always use their full LLVM forms.
   */
  readonly mcpu?: Mcpu;
  /** Byte order of `.byte` lines for instructions LLVM's syntax cannot express (default le). */
  readonly byteOrder?: ByteOrder;
  /** Emit a function symbol of this name (`.globl`, `.p2align 3`, `.type`, `name:`) first. */
  readonly name?: string;
  /** Section directive to emit first (`.section <s>,"ax",@progbits`; `.text` for ".text"). */
  readonly section?: string;
  /** Prefix of jump labels, followed by the target slot number (default "LBB0_"). */
  readonly labelPrefix?: string;
}

const sameSlot = (
  a: { opcode: number; dst: number; src: number; off: number; imm: number },
  b: typeof a,
): boolean =>
  a.opcode === b.opcode && a.dst === b.dst && a.src === b.src && a.off === b.off && a.imm === b.imm;

function sameFields(a: Instruction, b: Instruction): boolean {
  if (!sameSlot(a, b)) return false;
  if (a.opcode !== OP_LD_IMM64) return true;
  const zero = { opcode: 0, dst: 0, src: 0, off: 0, imm: 0 };
  return sameSlot(a.wide ?? zero, b.wide ?? zero);
}

/** The symbol a reference names. */
function refSymbol(insn: Instruction): string | undefined {
  const r = insn.ref;
  if (r === undefined) return undefined;
  return r.kind === "map" || r.kind === "mapValue" ? r.map : r.symbol;
}

/** Symbols are written bare when they are plain identifiers, else quoted. */
function symbolText(name: string): string {
  return /^[A-Za-z_.$][\w.$]*$/.test(name) ? name : `"${name.replace(/["\\]/g, "\\$&")}"`;
}

/**
 * `sym`, `sym + 8` or `sym - 8` for a relocated ld_imm64. llvm-mc keeps the addend of a
 * symbol in the low word only (the high word stays 0), so that is what the text can carry.
 */
function symbolValue(name: string, insn: Instruction): string {
  const addend = insn.imm | 0;
  if (addend === 0) return symbolText(name);
  return addend < 0 ? `${symbolText(name)} - ${-addend}` : `${symbolText(name)} + ${addend}`;
}

function byteLines(insn: Instruction, order: ByteOrder): string {
  const bytes = encode([insn], order);
  const lines: string[] = [];
  for (let at = 0; at < bytes.length; at += 8) {
    lines.push("\t.byte\t" + Array.from(bytes.subarray(at, at + 8), (b) => String(b)).join(", "));
  }
  return lines.join("\n");
}

/** The assembly text of a list of instructions (a fragment, or one function with `name`). */
export function formatAsm(insns: readonly Instruction[], opts: FormatAsmOptions = {}): string {
  const order = opts.byteOrder ?? "le";
  const prefix = opts.labelPrefix ?? "LBB0_";
  const loadStoreAlu32 = hasAlu32(opts.mcpu);
  // Slot index of each instruction, and which slots start one.
  const starts: number[] = new Array(insns.length);
  const isStart = new Set<number>();
  let slots = 0;
  for (let i = 0; i < insns.length; i++) {
    starts[i] = slots;
    isStart.add(slots);
    slots += insnWidth(insns[i]);
  }
  isStart.add(slots);
  const labels = new Set<number>();
  // A slot is a usable jump target when an instruction (or the end) starts there.
  const targetOf = (i: number, disp: number): number | undefined => {
    const t = starts[i] + 1 + disp;
    return t >= 0 && t <= slots && isStart.has(t) ? t : undefined;
  };

  const bodies: string[] = new Array(insns.length);
  const pending: { i: number; target: number }[] = [];
  for (let i = 0; i < insns.length; i++) {
    const insn = insns[i];
    const { opcode, dst, src, off, imm } = insn;
    const cls = opcode & 7;
    // Atomics decode fully only with ALU32; sub-word loads/stores just change register names.
    const memOp = (cls === 1 || cls === 3) && (opcode & 0xe0) === 0x60;
    const alu32 = memOp ? loadStoreAlu32 : true;
    const canon = llvmCanonical(insn, alu32);
    const sym = refSymbol(insn);
    if (canon === undefined) {
      bodies[i] = byteLines(insn, order);
      continue;
    }
    let operands: SymbolicOperands | undefined;
    let ok = sameFields(canon, insn);
    if (sym !== undefined && opcode === 0x85) {
      // A relocated call: the callee's name stands for the immediate and the pseudo source.
      operands = { target: symbolText(sym) };
      ok = dst === 0 && off === 0;
    } else if (sym !== undefined && opcode === OP_LD_IMM64) {
      operands = { value: symbolValue(sym, insn) };
      ok = sameFields({ ...canon, src: insn.src }, insn) && (insn.wide?.imm ?? 0) === 0;
    } else if (opcode === 0x85 && src === 1 && dst === 0 && off === 0) {
      // A local call without a reference: a label in the list gives back src = 1 and the offset.
      const t = targetOf(i, imm);
      if (t !== undefined) {
        pending.push({ i, target: t });
        continue;
      }
      ok = false;
    } else if (ok) {
      const disp = llvmBranchDisplacement(opcode, off, imm);
      if (disp !== undefined) {
        const t = targetOf(i, disp);
        if (t !== undefined) {
          pending.push({ i, target: t });
          continue;
        }
        // llvm-mc reads a numeric branch operand as 16 bits only, gotol's included.
        if (disp < -0x8000 || disp > 0x7fff) ok = false;
      }
    }
    if (!ok) {
      bodies[i] = byteLines(insn, order);
      continue;
    }
    const hi = opcode === OP_LD_IMM64 ? insn.wide?.imm : 0;
    bodies[i] = "\t" + llvmInsnText(opcode, dst, src, off, imm, hi, alu32, ASM_STYLE, operands);
  }
  for (const { i, target } of pending) {
    labels.add(target);
    const insn = insns[i];
    bodies[i] =
      "\t" +
      llvmInsnText(insn.opcode, insn.dst, insn.src, insn.off, insn.imm, 0, true, ASM_STYLE, {
        target: prefix + target,
      });
  }

  const out: string[] = [];
  if (opts.section !== undefined) {
    out.push(opts.section === ".text" ? "\t.text" : `\t.section\t${opts.section},"ax",@progbits`);
  } else if (opts.name !== undefined) {
    out.push("\t.text");
  }
  if (opts.name !== undefined) {
    const n = symbolText(opts.name);
    out.push(`\t.globl\t${n}`, "\t.p2align\t3", `\t.type\t${n},@function`, `${n}:`);
  }
  for (let i = 0; i < insns.length; i++) {
    if (labels.has(starts[i])) out.push(`${prefix}${starts[i]}:`);
    out.push(bodies[i]);
  }
  if (labels.has(slots)) out.push(`${prefix}${slots}:`);
  return out.join("\n") + "\n";
}
