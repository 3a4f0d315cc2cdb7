/**
 * Patching one instruction with a relocation's values (facts from libbpf's bpf_core_patch_insn):
 * - ALU/ALU64 with an immediate operand: imm := new value;
 * - LDX/ST/STX: off := new value (at most 32767), and the access size follows the field's new
 *   size when it changed, unless that would misread the value (then the instruction is poisoned);
 * - ld_imm64 (plain, src 0): the 64-bit immediate := new value.
 * The instruction must hold the value the local BTF implies (unless the kind says otherwise).
 * A poisoned instruction becomes `call 0xbad2310` (the verifier reports it as an unknown helper if
 * it is reachable), and for an ld_imm64 both of its slots do.
 */
import { type Instruction, OP_LD_IMM64, type RawSlot } from "../../isa/instruction.js";
import { CLASS, opClass, opMode, SIZE, SRC_K, sizeBytes } from "../../isa/opcodes.js";
import { CORE_ERROR, coreFail } from "./btf-access.js";
import type { CoreReloValues } from "./calc.js";

/** The helper id libbpf writes into a poisoned instruction: 0xbad2310, "bad relo". */
export const CORE_POISON_HELPER = 0xbad2310;

/** The slot libbpf writes over a poisoned instruction: `call 0xbad2310`. */
export const POISON_SLOT: RawSlot = { opcode: 0x85, dst: 0, src: 0, off: 0, imm: CORE_POISON_HELPER };

export type PatchedClass = "ALU/ALU64" | "LDX/ST/STX" | "LDIMM64";

export interface InsnPatch {
  /** What the slot(s) become: one instruction, or two poison calls for a poisoned ld_imm64. */
  readonly replacement: readonly Instruction[];
  readonly poisoned: boolean;
  /** Absent when poisoned. */
  readonly patched?: {
    readonly insnClass: PatchedClass;
    /** The value the instruction held (u64 view of imm/off, as libbpf prints it) and now holds. */
    readonly oldValue: bigint;
    readonly newValue: bigint;
    /** Load/store size change in bytes, when the field's size changed. */
    readonly memSize?: { readonly from: number; readonly to: number };
  };
  /** Why a load/store was poisoned although the field exists (size change would misread it). */
  readonly warning?: string;
}

const u64 = (n: number): bigint => BigInt.asUintN(64, BigInt(n));
const s32 = (v: bigint): number => Number(BigInt.asIntN(32, v));

function poisonSlot(): Instruction {
  return { ...POISON_SLOT };
}

export function poisonInsn(insn: Instruction): InsnPatch {
  const replacement = insn.opcode === OP_LD_IMM64 ? [poisonSlot(), poisonSlot()] : [poisonSlot()];
  return { replacement, poisoned: true };
}

function badInsn(idx: number, message: string): never {
  coreFail(CORE_ERROR.BAD_INSN, `insn #${idx}: ${message}`);
}

function sizeCode(bytes: number): number | undefined {
  switch (bytes) {
    case 8:
      return SIZE.DW;
    case 4:
      return SIZE.W;
    case 2:
      return SIZE.H;
    case 1:
      return SIZE.B;
    default:
      return undefined;
  }
}

/** Patch instruction number `idx` (slot index, for messages) with `res`; throws a failed-record BtfError. */
export function patchInsn(insn: Instruction, idx: number, res: CoreReloValues): InsnPatch {
  if (res.poison) return poisonInsn(insn);
  const cls = opClass(insn.opcode);
  const { origVal, newVal } = res;
  switch (cls) {
    case CLASS.ALU:
    case CLASS.ALU64: {
      if ((insn.opcode & 0x08) !== SRC_K) badInsn(idx, "ALU instruction without an immediate operand");
      if (res.validate && u64(insn.imm) !== origVal) {
        badInsn(idx, `unexpected (ALU/ALU64) value: got ${insn.imm >>> 0}, exp ${origVal} -> ${newVal}`);
      }
      return {
        replacement: [{ ...insn, imm: s32(newVal) }],
        poisoned: false,
        patched: { insnClass: "ALU/ALU64", oldValue: u64(insn.imm), newValue: newVal },
      };
    }
    case CLASS.LDX:
    case CLASS.ST:
    case CLASS.STX: {
      if (res.validate && u64(insn.off) !== origVal) {
        badInsn(idx, `unexpected (LDX/ST/STX) value: got ${insn.off & 0xffff}, exp ${origVal} -> ${newVal}`);
      }
      if (newVal > 32767n) coreFail(CORE_ERROR.RANGE, `insn #${idx}: (LDX/ST/STX) value too big: ${newVal}`);
      if (res.failMemSizeAdjust) {
        return {
          ...poisonInsn(insn),
          // libbpf's wording, so that logs compare.
          warning:
            `insn #${idx} (LDX/ST/STX) accesses field incorrectly. ` +
            "Make sure you are accessing pointers, unsigned integers, or fields of matching type and size.",
        };
      }
      let opcode = insn.opcode;
      let memSize: { from: number; to: number } | undefined;
      if (res.newSize !== res.origSize) {
        const have = sizeBytes(insn.opcode);
        if (have !== res.origSize) {
          badInsn(idx, `(LDX/ST/STX) unexpected mem size: got ${have}, exp ${res.origSize}`);
        }
        const code = sizeCode(res.newSize);
        if (code === undefined) badInsn(idx, `(LDX/ST/STX) invalid new mem size: ${res.newSize}`);
        opcode = opMode(insn.opcode) | code | cls;
        memSize = { from: res.origSize, to: res.newSize };
      }
      return {
        replacement: [{ ...insn, opcode, off: Number(newVal) }],
        poisoned: false,
        patched: { insnClass: "LDX/ST/STX", oldValue: u64(insn.off), newValue: newVal, memSize },
      };
    }
    case CLASS.LD: {
      const w = insn.wide;
      if (
        insn.opcode !== OP_LD_IMM64 ||
        !w ||
        insn.src !== 0 ||
        insn.off !== 0 ||
        w.opcode !== 0 ||
        w.dst !== 0 ||
        w.src !== 0 ||
        w.off !== 0
      ) {
        badInsn(idx, "(LDIMM64) has unexpected form");
      }
      const imm = (BigInt(w.imm >>> 0) << 32n) | BigInt(insn.imm >>> 0);
      if (res.validate && imm !== origVal) {
        badInsn(idx, `unexpected (LDIMM64) value: got ${imm}, exp ${origVal} -> ${newVal}`);
      }
      return {
        replacement: [{ ...insn, imm: s32(newVal), wide: { ...w, imm: s32(newVal >> 32n) } }],
        poisoned: false,
        patched: { insnClass: "LDIMM64", oldValue: imm, newValue: newVal },
      };
    }
    default:
      badInsn(
        idx,
        `cannot relocate instruction code 0x${insn.opcode.toString(16)} src ${insn.src} dst ${insn.dst} off ${insn.off} imm ${insn.imm}`,
      );
  }
}
