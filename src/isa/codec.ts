/**
 * Instruction decode/encode. Decoding never throws on content: unknown opcodes and non-zero
 * unused fields are kept as they are, so one bad instruction never hides the rest of a program.
 */
import { InsnError } from "../errors.js";
import {
  type ByteOrder,
  INSN_SIZE,
  type Instruction,
  insnWidth,
  OP_LD_IMM64,
  type RawSlot,
} from "./instruction.js";

function readSlot(view: DataView, at: number, order: ByteOrder): RawSlot {
  const le = order === "le";
  const regs = view.getUint8(at + 1);
  return {
    opcode: view.getUint8(at),
    // bpfel puts dst in the low nibble, bpfeb in the high nibble.
    dst: le ? regs & 0xf : regs >> 4,
    src: le ? regs >> 4 : regs & 0xf,
    off: view.getInt16(at + 2, le),
    imm: view.getInt32(at + 4, le),
  };
}

/**
 * Decode instructions from bytes. A trailing partial slot (length not a multiple of 8) is
 * ignored by this function; callers that care check the length first. An ld_imm64 in the last
 * slot has no `wide` (a truncated ld_imm64).
 */
export function decode(bytes: Uint8Array, order: ByteOrder = "le"): Instruction[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Math.floor(bytes.byteLength / INSN_SIZE);
  const out: Instruction[] = [];
  for (let i = 0; i < n; i++) {
    const slot = readSlot(view, i * INSN_SIZE, order);
    if (slot.opcode === OP_LD_IMM64 && i + 1 < n) {
      out.push({ ...slot, wide: readSlot(view, (i + 1) * INSN_SIZE, order) });
      i++;
    } else {
      out.push(slot);
    }
  }
  return out;
}

/** Decode one slot at a byte offset (the disassembler walks slots itself). */
export function decodeSlot(bytes: Uint8Array, byteOffset: number, order: ByteOrder = "le"): RawSlot {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return readSlot(view, byteOffset, order);
}

function checkField(value: number, lo: number, hi: number, name: string, index: number): void {
  if (!Number.isInteger(value) || value < lo || value > hi) {
    throw new InsnError("E_INSN_FIELD", `${name} ${value} out of range [${lo}, ${hi}]`, { insn: index });
  }
}

function writeSlot(view: DataView, at: number, s: RawSlot, order: ByteOrder, index: number): void {
  checkField(s.opcode, 0, 0xff, "opcode", index);
  checkField(s.dst, 0, 15, "dst register", index);
  checkField(s.src, 0, 15, "src register", index);
  checkField(s.off, -0x8000, 0x7fff, "offset", index);
  // imm accepts the unsigned spelling of a 32-bit value too (0xffffffff == -1).
  checkField(s.imm, -0x80000000, 0xffffffff, "immediate", index);
  const le = order === "le";
  view.setUint8(at, s.opcode);
  view.setUint8(at + 1, le ? (s.src << 4) | s.dst : (s.dst << 4) | s.src);
  view.setInt16(at + 2, s.off, le);
  view.setInt32(at + 4, s.imm | 0, le);
}

const ZERO_SLOT: RawSlot = { opcode: 0, dst: 0, src: 0, off: 0, imm: 0 };

/** Number of 8-byte slots a list of instructions needs. */
export function slotCount(insns: readonly Instruction[]): number {
  let n = 0;
  for (const i of insns) n += insnWidth(i);
  return n;
}

/** Encode instructions to bytes. Throws InsnError naming the instruction on out-of-range fields. */
export function encode(insns: readonly Instruction[], order: ByteOrder = "le"): Uint8Array {
  const bytes = new Uint8Array(slotCount(insns) * INSN_SIZE);
  const view = new DataView(bytes.buffer);
  let at = 0;
  insns.forEach((insn, index) => {
    writeSlot(view, at, insn, order, index);
    at += INSN_SIZE;
    if (insn.opcode === OP_LD_IMM64) {
      writeSlot(view, at, insn.wide ?? ZERO_SLOT, order, index);
      at += INSN_SIZE;
    }
  });
  return bytes;
}
