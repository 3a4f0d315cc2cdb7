/**
 * The one instruction type shared by every part of tsbpf (disassembler, assembler, verifier, VM,
 * loader). Fields are the raw encoding, so an instruction survives decode/encode unchanged even
 * when its opcode is unknown or its unused fields are non-zero; meaning is derived on demand
 * (see opcodes.ts). `ld_imm64` is one instruction of width 2: its second slot lives in `wide`.
 */
export interface RawSlot {
  /** 8-bit opcode: class in bits 0-2, then source/size/mode/op bits. */
  readonly opcode: number;
  /** Destination register nibble, 0..15. */
  readonly dst: number;
  /** Source register nibble, 0..15. */
  readonly src: number;
  /** Signed 16-bit offset. */
  readonly off: number;
  /** Signed 32-bit immediate. */
  readonly imm: number;
}

export interface Instruction extends RawSlot {
  /** The second slot of `ld_imm64` (opcode 0x18): `wide.imm` holds the high 32 bits. */
  readonly wide?: RawSlot;
  /** What a relocation made of this instruction: resolved symbolically, applied at load. */
  readonly ref?: InsnRef;
}

/**
 * A symbolic reference carried by an instruction until load (map fd, global data, subprogram,
 * extern, CO-RE access). The object model fills these; consumers resolve them.
 */
export type InsnRef =
  | { readonly kind: "map"; readonly map: string }
  /** Address of a map's value at `offset` (global data); `symbol` is the variable when the relocation named one. */
  | { readonly kind: "mapValue"; readonly map: string; readonly offset: number; readonly symbol?: string }
  | { readonly kind: "subprog"; readonly symbol: string }
  | { readonly kind: "extern"; readonly symbol: string }
  | { readonly kind: "symbol"; readonly symbol: string; readonly section?: string };

export type ByteOrder = "le" | "be";

export const INSN_SIZE = 8;
export const OP_LD_IMM64 = 0x18;

/** Number of 8-byte slots the instruction occupies (2 for ld_imm64, else 1). */
export function insnWidth(insn: RawSlot): 1 | 2 {
  return insn.opcode === OP_LD_IMM64 ? 2 : 1;
}

/** Build an instruction with zeroed unused fields. */
export function insn(opcode: number, dst = 0, src = 0, off = 0, imm = 0): Instruction {
  return { opcode, dst, src, off, imm };
}

/** The 64-bit immediate of an ld_imm64 as a BigInt (unsigned). */
export function imm64(insn: Instruction): bigint {
  const lo = BigInt(insn.imm >>> 0);
  const hi = BigInt((insn.wide?.imm ?? 0) >>> 0);
  return (hi << 32n) | lo;
}

/** Build an ld_imm64 of a 64-bit value (any sign: taken modulo 2^64). */
export function ldImm64(dst: number, value: bigint, src = 0): Instruction {
  const v = BigInt.asUintN(64, value);
  return {
    opcode: OP_LD_IMM64,
    dst,
    src,
    off: 0,
    imm: Number(BigInt.asIntN(32, v & 0xffffffffn)),
    wide: { opcode: 0, dst: 0, src: 0, off: 0, imm: Number(BigInt.asIntN(32, v >> 32n)) },
  };
}

/** Slot index of each instruction in a list (ld_imm64 counts as two slots). */
export function slotOffsets(insns: readonly Instruction[]): number[] {
  const out: number[] = new Array(insns.length);
  let pc = 0;
  for (let i = 0; i < insns.length; i++) {
    out[i] = pc;
    pc += insnWidth(insns[i]);
  }
  return out;
}
