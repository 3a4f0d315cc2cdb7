// Tiny instruction builders for the loader tests (hand-built programs, no clang needed).
import { type Instruction, insn, ldImm64 } from "../../src/isa/instruction.js";
import { PSEUDO_LD } from "../../src/isa/opcodes.js";

export const mov64Imm = (dst: number, imm: number): Instruction => insn(0xb7, dst, 0, 0, imm);
export const mov64Reg = (dst: number, src: number): Instruction => insn(0xbf, dst, src, 0, 0);
export const add64Imm = (dst: number, imm: number): Instruction => insn(0x07, dst, 0, 0, imm);
export const and64Imm = (dst: number, imm: number): Instruction => insn(0x57, dst, 0, 0, imm);
export const ldxW = (dst: number, src: number, off: number): Instruction => insn(0x61, dst, src, off, 0);
export const ldxB = (dst: number, src: number, off: number): Instruction => insn(0x71, dst, src, off, 0);
export const ldxDW = (dst: number, src: number, off: number): Instruction => insn(0x79, dst, src, off, 0);
export const stB = (dst: number, off: number, imm: number): Instruction => insn(0x72, dst, 0, off, imm);
export const stDW = (dst: number, off: number, imm: number): Instruction => insn(0x7a, dst, 0, off, imm);
export const stxDW = (dst: number, src: number, off: number): Instruction => insn(0x7b, dst, src, off, 0);
/** if dst > src goto +off */
export const jgtReg = (dst: number, src: number, off: number): Instruction => insn(0x2d, dst, src, off, 0);
/** if dst == imm goto +off */
export const jeqImm = (dst: number, imm: number, off: number): Instruction => insn(0x15, dst, 0, off, imm);
export const ja = (off: number): Instruction => insn(0x05, 0, 0, off, 0);
export const call = (helper: number): Instruction => insn(0x85, 0, 0, 0, helper);
export const exit = (): Instruction => insn(0x95);
export const ldMapFd = (dst: number, fd: number): Instruction => ldImm64(dst, BigInt(fd), PSEUDO_LD.MAP_FD);

export const XDP_PASS = 2;
export const XDP_TX = 3;
