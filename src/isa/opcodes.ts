/**
 * Opcode fields and the meaning of every instruction, derived from its raw fields. This is the
 * single table that the disassembler, assembler, verifier and VM read (RFC 9669 plus the
 * extensions the 6.18 kernel accepts).
 */
import type { Instruction, RawSlot } from "./instruction.js";

export const CLASS = { LD: 0, LDX: 1, ST: 2, STX: 3, ALU: 4, JMP: 5, JMP32: 6, ALU64: 7 } as const;
export const SRC_K = 0x00;
export const SRC_X = 0x08;
export const SIZE = { W: 0x00, H: 0x08, B: 0x10, DW: 0x18 } as const;
export const MODE = { IMM: 0x00, ABS: 0x20, IND: 0x40, MEM: 0x60, MEMSX: 0x80, ATOMIC: 0xc0 } as const;

export const ALU_OPS = {
  add: 0x00,
  sub: 0x10,
  mul: 0x20,
  div: 0x30,
  or: 0x40,
  and: 0x50,
  lsh: 0x60,
  rsh: 0x70,
  neg: 0x80,
  mod: 0x90,
  xor: 0xa0,
  mov: 0xb0,
  arsh: 0xc0,
  end: 0xd0,
} as const;
export type AluOpName = keyof typeof ALU_OPS;

export const JMP_OPS = {
  ja: 0x00,
  jeq: 0x10,
  jgt: 0x20,
  jge: 0x30,
  jset: 0x40,
  jne: 0x50,
  jsgt: 0x60,
  jsge: 0x70,
  call: 0x80,
  exit: 0x90,
  jlt: 0xa0,
  jle: 0xb0,
  jslt: 0xc0,
  jsle: 0xd0,
  jcond: 0xe0,
} as const;
export type JmpOpName = keyof typeof JMP_OPS;

/** Atomic operations, encoded in the immediate of BPF_STX|BPF_ATOMIC. */
export const ATOMIC_OPS = {
  add: 0x00,
  or: 0x40,
  and: 0x50,
  xor: 0xa0,
  fetchAdd: 0x01,
  fetchOr: 0x41,
  fetchAnd: 0x51,
  fetchXor: 0xa1,
  xchg: 0xe1,
  cmpxchg: 0xf1,
  loadAcquire: 0x100,
  storeRelease: 0x110,
} as const;
export const ATOMIC_FETCH = 0x01;

/** Pseudo source registers of ld_imm64 (what `imm` means). */
export const PSEUDO_LD = {
  MAP_FD: 1,
  MAP_VALUE: 2,
  BTF_ID: 3,
  FUNC: 4,
  MAP_IDX: 5,
  MAP_IDX_VALUE: 6,
} as const;
/** Pseudo source registers of call (what `imm` means). */
export const PSEUDO_CALL = { HELPER: 0, CALL: 1, KFUNC: 2 } as const;

export const opClass = (opcode: number): number => opcode & 0x07;
export const opSource = (opcode: number): number => opcode & 0x08;
export const opCode = (opcode: number): number => opcode & 0xf0;
export const opSize = (opcode: number): number => opcode & 0x18;
export const opMode = (opcode: number): number => opcode & 0xe0;

export function sizeBytes(opcode: number): 1 | 2 | 4 | 8 {
  switch (opSize(opcode)) {
    case SIZE.B:
      return 1;
    case SIZE.H:
      return 2;
    case SIZE.W:
      return 4;
    default:
      return 8;
  }
}

export const isAlu = (opcode: number): boolean => {
  const c = opClass(opcode);
  return c === CLASS.ALU || c === CLASS.ALU64;
};
export const isJmp = (opcode: number): boolean => {
  const c = opClass(opcode);
  return c === CLASS.JMP || c === CLASS.JMP32;
};

/** Is this a bpf-to-bpf call (call with src = BPF_PSEUDO_CALL)? */
export const isPseudoCall = (i: RawSlot): boolean => i.opcode === 0x85 && i.src === PSEUDO_CALL.CALL;
/** Is this a helper call? */
export const isHelperCall = (i: RawSlot): boolean => i.opcode === 0x85 && i.src === PSEUDO_CALL.HELPER;
/** Is this a kfunc call? */
export const isKfuncCall = (i: RawSlot): boolean => i.opcode === 0x85 && i.src === PSEUDO_CALL.KFUNC;
/** Is this `callx` (call through a register, opcode 0x8d; the register is in dst)? */
export const isCallx = (i: RawSlot): boolean => i.opcode === 0x8d;

/**
 * Whether the opcode byte is one the kernel knows (its bpf_opcode_in_insntable), plus `callx`
 * (0x8d) which LLVM and the conformance suite know but the kernel refuses.
 */
export function isKnownOpcode(opcode: number): boolean {
  return KNOWN_OPCODES[opcode] === 1;
}

const KNOWN_OPCODES: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (const cls of [CLASS.ALU, CLASS.ALU64]) {
    for (const op of Object.values(ALU_OPS)) {
      for (const s of [SRC_K, SRC_X]) {
        // ALU64 END has only the K form (bswap); NEG has only the K form.
        if (op === ALU_OPS.neg && s === SRC_X) continue;
        if (op === ALU_OPS.end && cls === CLASS.ALU64 && s === SRC_X) continue;
        t[cls | op | s] = 1;
      }
    }
  }
  for (const cls of [CLASS.JMP, CLASS.JMP32]) {
    for (const op of Object.values(JMP_OPS)) {
      for (const s of [SRC_K, SRC_X]) {
        if (op === JMP_OPS.ja && s === SRC_X) continue;
        if (op === JMP_OPS.jcond && (s === SRC_X || cls === CLASS.JMP32)) continue;
        if ((op === JMP_OPS.call || op === JMP_OPS.exit) && cls === CLASS.JMP32) continue;
        if (op === JMP_OPS.exit && s === SRC_X) continue;
        t[cls | op | s] = 1;
      }
    }
  }
  for (const size of Object.values(SIZE)) {
    t[CLASS.LDX | MODE.MEM | size] = 1;
    t[CLASS.ST | MODE.MEM | size] = 1;
    t[CLASS.STX | MODE.MEM | size] = 1;
    if (size !== SIZE.DW) {
      t[CLASS.LD | MODE.ABS | size] = 1;
      t[CLASS.LD | MODE.IND | size] = 1;
      t[CLASS.LDX | MODE.MEMSX | size] = 1;
    }
    t[CLASS.STX | MODE.ATOMIC | size] = 1;
  }
  t[CLASS.LD | MODE.IMM | SIZE.DW] = 1;
  return t;
})();

/**
 * The strict check: a description of the first unused (reserved) field that is non-zero, in
 * the kernel's words ("BPF_ALU uses reserved fields"), or undefined when the instruction is clean.
 * Unknown opcodes report "unknown opcode XX".
 */
export function reservedFieldError(i: Instruction): string | undefined {
  const op = i.opcode;
  if (!isKnownOpcode(op)) return `unknown opcode ${hex2(op)}`;
  const cls = opClass(op);
  switch (cls) {
    case CLASS.ALU:
    case CLASS.ALU64: {
      const code = opCode(op);
      const name = cls === CLASS.ALU ? "BPF_ALU" : "BPF_ALU64";
      const x = opSource(op) === SRC_X;
      if (code === ALU_OPS.end) {
        if (i.src !== 0 || i.off !== 0 || (i.imm !== 16 && i.imm !== 32 && i.imm !== 64))
          return `${name} uses reserved fields`;
        return undefined;
      }
      if (code === ALU_OPS.neg) {
        if (i.src !== 0 || i.off !== 0 || i.imm !== 0) return `${name} uses reserved fields`;
        return undefined;
      }
      if (code === ALU_OPS.mov) {
        const okOff = x ? (cls === CLASS.ALU64 ? [0, 8, 16, 32] : [0, 8, 16]) : [0];
        if (x ? i.imm !== 0 : i.src !== 0) return "BPF_MOV uses reserved fields";
        if (!okOff.includes(i.off)) return "BPF_MOV uses reserved fields";
        return undefined;
      }
      const okOff = code === ALU_OPS.div || code === ALU_OPS.mod ? [0, 1] : [0];
      if ((x ? i.imm !== 0 : i.src !== 0) || !okOff.includes(i.off)) return `${name} uses reserved fields`;
      return undefined;
    }
    case CLASS.JMP:
    case CLASS.JMP32: {
      const code = opCode(op);
      const name = cls === CLASS.JMP ? "BPF_JMP" : "BPF_JMP32";
      if (code === JMP_OPS.ja) {
        if (i.dst !== 0 || i.src !== 0) return "BPF_JA uses reserved fields";
        if (cls === CLASS.JMP ? i.imm !== 0 : i.off !== 0) return "BPF_JA uses reserved fields";
        return undefined;
      }
      if (code === JMP_OPS.exit) {
        if (i.dst !== 0 || i.src !== 0 || i.off !== 0 || i.imm !== 0) return "BPF_EXIT uses reserved fields";
        return undefined;
      }
      if (code === JMP_OPS.call) {
        if (opSource(op) === SRC_X) {
          // callx: the target register is in dst; everything else is unused.
          if (i.src !== 0 || i.off !== 0 || i.imm !== 0) return "BPF_CALL uses reserved fields";
          return undefined;
        }
        if (i.dst !== 0 || i.src > PSEUDO_CALL.KFUNC) return "BPF_CALL uses reserved fields";
        if (i.off !== 0 && i.src !== PSEUDO_CALL.KFUNC) return "BPF_CALL uses reserved fields";
        return undefined;
      }
      if (code === JMP_OPS.jcond) {
        if (i.dst !== 0 || i.src !== 0 || i.imm !== 0) return `${name} uses reserved fields`;
        return undefined;
      }
      if (opSource(op) === SRC_X ? i.imm !== 0 : i.src !== 0) return `${name} uses reserved fields`;
      return undefined;
    }
    case CLASS.LD: {
      if (opMode(op) === MODE.IMM) {
        const w = i.wide;
        if (!w) return "invalid bpf_ld_imm64 insn";
        if (i.off !== 0 || w.opcode !== 0 || w.dst !== 0 || w.src !== 0 || w.off !== 0)
          return "BPF_LD_IMM64 uses reserved fields";
        if (i.src > PSEUDO_LD.MAP_IDX_VALUE) return "unrecognized bpf_ld_imm64 insn";
        return undefined;
      }
      // LD_ABS / LD_IND: the packet pointer is implicit (r6), the result goes to r0.
      if (i.dst !== 0 || i.off !== 0 || (opMode(op) === MODE.ABS && i.src !== 0))
        return "BPF_LD_[ABS|IND] uses reserved fields";
      return undefined;
    }
    case CLASS.LDX:
      if (i.imm !== 0) return "BPF_LDX uses reserved fields";
      return undefined;
    case CLASS.ST:
      if (i.src !== 0) return "BPF_ST uses reserved fields";
      return undefined;
    default: {
      // STX
      if (opMode(op) === MODE.ATOMIC) {
        const sz = opSize(op);
        const known = (Object.values(ATOMIC_OPS) as number[]).includes(i.imm);
        if (!known) return `BPF_ATOMIC uses invalid atomic opcode ${hex2(i.imm)}`;
        const isLoadStore = i.imm === ATOMIC_OPS.loadAcquire || i.imm === ATOMIC_OPS.storeRelease;
        if (!isLoadStore && sz !== SIZE.W && sz !== SIZE.DW) return "invalid atomic operand size";
        return undefined;
      }
      if (i.imm !== 0) return "BPF_STX uses reserved fields";
      return undefined;
    }
  }
}

/** Strict check over a program: [instruction index, message] for each offending instruction. */
export function strictCheck(insns: readonly Instruction[]): Array<{ index: number; message: string }> {
  const out: Array<{ index: number; message: string }> = [];
  insns.forEach((insn, index) => {
    const message = reservedFieldError(insn);
    if (message) out.push({ index, message });
  });
  return out;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}
