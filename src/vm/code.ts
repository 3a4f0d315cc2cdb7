/**
 * A program flattened for the interpreter: typed arrays indexed by slot (jump offsets count
 * slots, ld_imm64 takes two), with the checks done once when a program is created (fields in
 * range, the strict check, registers above r10) and ld_imm64 pseudo sources resolved.
 */
import type { Instruction, RawSlot } from "../isa/instruction.js";
import { OP_LD_IMM64 } from "../isa/instruction.js";
import { PSEUDO_LD, reservedFieldError } from "../isa/opcodes.js";
import type { VmEnv } from "./env.js";
import { VmFault } from "./errors.js";
import { REGION_HI_BASE } from "./memory.js";

/** Internal opcodes for slots that must not execute (never valid BPF opcodes: > 0xff). */
export const OP_WIDE_SLOT = 0x100; // second slot of ld_imm64
export const OP_UNRESOLVED = 0x101; // ld_imm64 with a pseudo source nobody resolved
export const OP_BAD_REG = 0x102; // uses a register number above r10
export const OP_TRUNCATED = 0x103; // ld_imm64 without its second slot (the program's last slot)

/**
 * The interpreter's fused pair (in Code.word only; Code.op keeps the real opcode): a slot whose
 * `rD = rS` (mov64 reg, off 0) is followed by `rD += imm` (add64 imm, same rD). 0x01 is no BPF
 * opcode (LDX with mode IMM), so a real 0x01 slot shows as 0 in word and faults as before.
 */
export const OP_FUSED_MOV_ADD = 0x01;
/**
 * Fused pairs of a `wD = imm` (mov32 imm) followed by a conditional jump: the verdict set before
 * a bounds check (`w0 = 1; if r1 > r6 goto out`), everywhere in packet parsers. 0x09 and 0x11 are
 * no BPF opcodes either (LDX with mode IMM): `if rA > rB` (jgt reg) and `if wA != imm` (jne32 imm).
 */
export const OP_FUSED_MOV32_JGT = 0x09;
export const OP_FUSED_MOV32_JNE32 = 0x11;

/** High half of a function's address (ld_imm64 src 4): below every region, so never memory. */
export const CODE_HI = REGION_HI_BASE - 1;

export interface Code {
  readonly n: number;
  readonly op: Uint16Array;
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  readonly off: Int32Array;
  /** imm; for ld_imm64 the low half of the value here and the high half in the next slot. */
  readonly imm: Int32Array;
  /**
   * op | dst << 8 | src << 12 | off << 16 in one word (the interpreter's decode: one load
   * instead of four); the internal opcodes (> 0xff) appear as 0, no BPF opcode.
   */
  readonly word: Int32Array;
}

/** A field outside its encoding's range (instructions built by hand can hold anything). */
function badField(i: RawSlot): string | undefined {
  const check = (v: number, lo: number, hi: number, what: string): string | undefined =>
    Number.isInteger(v) && v >= lo && v <= hi ? undefined : `${what} ${v} out of range [${lo}, ${hi}]`;
  return (
    check(i.opcode, 0, 0xff, "opcode") ??
    check(i.dst, 0, 15, "dst register") ??
    check(i.src, 0, 15, "src register") ??
    check(i.off, -0x8000, 0x7fff, "offset") ??
    // the unsigned spelling of a 32-bit immediate is accepted, as encode() does
    check(i.imm, -0x80000000, 0xffffffff, "immediate")
  );
}

function usesBadRegister(i: Instruction): boolean {
  const op = i.opcode;
  if (op === OP_LD_IMM64) return i.dst > 10;
  if (op === 0x85) return false; // call: src is the pseudo kind, dst unused
  if (op === 0x8d) return i.dst > 10; // callx: the register is in dst
  return i.dst > 10 || i.src > 10;
}

export function compile(insns: readonly Instruction[], env: VmEnv, strict: boolean): Code {
  let n = 0;
  for (const i of insns) n += i.opcode === OP_LD_IMM64 && i.wide ? 2 : 1;
  const code: Code = {
    n,
    op: new Uint16Array(n),
    dst: new Uint8Array(n),
    src: new Uint8Array(n),
    off: new Int32Array(n),
    imm: new Int32Array(n),
    word: new Int32Array(n),
  };
  let pc = 0;
  for (const i of insns) {
    const bad = badField(i) ?? (i.wide ? badField(i.wide) : undefined);
    if (bad !== undefined) throw new VmFault("invalid-insn", bad, { insn: pc });
    if (strict) {
      const msg = reservedFieldError(i);
      if (msg !== undefined) throw new VmFault("invalid-insn", msg, { insn: pc });
    }
    code.op[pc] = usesBadRegister(i) ? OP_BAD_REG : i.opcode;
    code.dst[pc] = i.dst & 0xf;
    code.src[pc] = i.src & 0xf;
    code.off[pc] = i.off;
    code.imm[pc] = i.imm;
    if (i.opcode === OP_LD_IMM64 && !i.wide) {
      code.op[pc] = OP_TRUNCATED;
      pc += 1;
    } else if (i.opcode === OP_LD_IMM64) {
      code.op[pc + 1] = OP_WIDE_SLOT;
      code.imm[pc + 1] = i.wide?.imm ?? 0;
      if (i.src === PSEUDO_LD.FUNC && code.op[pc] === OP_LD_IMM64) {
        // the address of a function of this program, for helpers that call back (bpf_loop)
        code.imm[pc] = pc + i.imm + 1;
        code.imm[pc + 1] = CODE_HI;
      } else if (i.src !== 0 && code.op[pc] === OP_LD_IMM64) {
        let v: bigint | undefined;
        try {
          v = env.resolveLdImm64?.(i, pc);
        } catch {
          v = undefined;
        }
        if (v === undefined) {
          code.op[pc] = OP_UNRESOLVED;
        } else {
          code.imm[pc] = Number(BigInt.asIntN(32, v));
          code.imm[pc + 1] = Number(BigInt.asIntN(32, v >> 32n));
        }
      }
      pc += 2;
    } else {
      pc += 1;
    }
  }
  for (let k = 0; k < n; k++) {
    const op = code.op[k];
    // internal opcodes, and the invalid BPF opcodes fused pairs reuse, appear as 0 (they fault)
    const wop =
      op > 0xff || op === OP_FUSED_MOV_ADD || op === OP_FUSED_MOV32_JGT || op === OP_FUSED_MOV32_JNE32
        ? 0
        : op;
    code.word[k] = wop | (code.dst[k] << 8) | (code.src[k] << 12) | (code.off[k] << 16);
  }
  for (let k = 0; k + 1 < n; k++) {
    // `rD = rS; rD += imm` (pointer arithmetic, everywhere in compiled C): one dispatch
    if (
      code.op[k] === 0xbf &&
      code.off[k] === 0 &&
      code.op[k + 1] === 0x07 &&
      code.dst[k + 1] === code.dst[k] &&
      code.src[k + 1] === 0 &&
      code.off[k + 1] === 0
    ) {
      code.word[k] = (code.word[k] & ~0xff) | OP_FUSED_MOV_ADD;
    }
    // `wD = imm` then `if rA > rB goto` / `if wA != imm goto`: one dispatch
    const next = code.op[k + 1];
    if (code.op[k] === 0xb4 && code.off[k] === 0 && code.src[k] === 0 && (next === 0x2d || next === 0x56)) {
      code.word[k] = (code.word[k] & ~0xff) | (next === 0x2d ? OP_FUSED_MOV32_JGT : OP_FUSED_MOV32_JNE32);
    }
  }
  return code;
}

/** Access size by opcode (only the memory opcodes are filled). */
export const SIZE_OF: Uint8Array = (() => {
  const t = new Uint8Array(256);
  const sz = [4, 2, 1, 8];
  for (let op = 0; op < 256; op++) {
    const cls = op & 7;
    if (cls <= 3) t[op] = sz[(op >> 3) & 3];
  }
  return t;
})();
