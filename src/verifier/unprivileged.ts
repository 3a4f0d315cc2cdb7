/**
 * The unprivileged loader's rules (VerifyOptions.unprivileged): what the 6.18 kernel does
 * differently when the loader has neither CAP_BPF nor CAP_PERFMON (!bpf_capable,
 * !allow_ptr_leaks, !allow_uninit_stack, !bypass_spec_v1/v4). Facts read in kernel/bpf/syscall.c
 * and verifier.c, and measured on the running kernel (test/fixtures/verifier-unpriv); the code is
 * ours. verify.ts and memory.ts call these from a few hook points:
 * - before verification: map types, program size and program type (bpf_map_create and
 *   bpf_prog_load refuse with EPERM/E2BIG, no log), calls to other BPF functions
 *   (add_subprog_and_kfunc) and back-edges (check_cfg);
 * - helpers offered to the program type (measured table), pointers passed as plain numbers;
 * - pointer leaks: stores into maps, memory and the context, the return value, comparisons, MOV32
 *   and sign extension of pointers, pointer minus pointer;
 * - uninitialised stack reads (direct and by helpers), overwriting part of a spilled pointer;
 * - Spectre v1 ALU sanitation (sanitize_ptr_alu, sanitize_check_bounds, sanitize_val_alu) and
 *   speculative paths: the branch the verifier knows is not taken, and the masked pointer after
 *   pointer arithmetic, are explored as speculative states whose errors end the path (nospec)
 *   instead of rejecting, as 6.18 does; they only count in `processed`.
 */

import { MEASURED_UNPRIV_HELPER_AVAILABILITY } from "../abi/helper-availability-unpriv.js";
import type { Helper } from "../abi/helpers.js";
import type { ObjectSpec, ProgramSpec } from "../elf/object/types.js";
import type { Instruction } from "../isa/instruction.js";
import { VerifyAbort } from "./errors.js";
import { isConst } from "./scalar.js";
import { curFrame, type Frame, isPointer, type Reg, type VState } from "./state.js";
import { tnumStr } from "./tnum.js";

/** BPF_MAXINSNS: the size limit of an unprivileged program (slots). */
export const BPF_MAXINSNS = 4096;

/** Program types bpf_prog_load lets a loader without CAP_BPF load. */
export const UNPRIV_PROG_TYPES: ReadonlySet<string> = new Set(["socket_filter", "cgroup_skb"]);

/**
 * Map types map_create lets a loader without CAP_BPF create: hash, array, prog array, perf event
 * array, per-CPU hash and array, cgroup array, array and hash of maps, cgroup storage (both),
 * ring buffer and user ring buffer.
 */
export const UNPRIV_MAP_TYPES: ReadonlySet<number> = new Set([1, 2, 3, 4, 5, 6, 8, 12, 13, 19, 21, 27, 31]);

/** BPF_F_ZERO_SEED: a hash map flag reserved to CAP_BPF. */
const BPF_F_ZERO_SEED = 0x40;

/** The loader's reasons when the kernel refuses before verifying (src/loader/object.ts words). */
export const UNPRIV_LOAD_MESSAGES = {
  mapCreate: "BPF_MAP_CREATE: EPERM",
  tooLarge: "BPF_PROG_LOAD: E2BIG",
  progType:
    "BPF_PROG_LOAD: EPERM: loading BPF programs needs root (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN)",
} as const;

/** Per-verification state of the unprivileged rules (the kernel's insn_aux_data fields). */
export interface UnprivState {
  /** alu_state/alu_limit recorded per ALU instruction by the sanitation (update_alu_sanitation_state). */
  readonly alu: Map<number, { state: number; limit: number }>;
  /** Instructions a speculative path failed at: later speculative paths stop there (nospec). */
  readonly nospec: Set<number>;
  /** Stack stores after which speculative paths stop (nospec_result, Spectre v4). */
  readonly nospecResult: Set<number>;
  /** Speculative states made inside an instruction, for the main loop to push. */
  readonly pending: { state: VState; insn: number }[];
  /** explore_alu_limits: set by pointer arithmetic with a variable offset; pruning then needs equal scalars. */
  exploreAluLimits: boolean;
}

export function newUnprivState(): UnprivState {
  return { alu: new Map(), nospec: new Set(), nospecResult: new Set(), pending: [], exploreAluLimits: false };
}

/**
 * Errors the kernel recovers from on a speculative path by ending it with a barrier
 * (error_recoverable_with_nospec: EPERM, EACCES, EINVAL): all verifier errors but the complexity
 * limits and what tsbpf does not model.
 */
export function recoverableOnSpeculativePath(e: VerifyAbort): boolean {
  return e.kernelWording && !/^BPF program is too large|^The sequence of \d+ jumps/.test(e.message);
}

/**
 * sanitize_speculative_path: the state as the CPU may see it on the path the verifier knows is not
 * taken; the compared registers become unknown there.
 */
export function speculativeBranch(
  st: VState,
  clone: (s: VState) => VState,
  i: Instruction,
  unknown: () => Reg,
): VState {
  const s = clone(st);
  s.speculative = true;
  const regs = curFrame(s).regs;
  regs[i.dst] = unknown();
  if ((i.opcode & 8) !== 0) regs[i.src] = unknown();
  return s;
}

/**
 * check_cfg with the unprivileged back-edge rule, in the kernel's order: check_subprogs errors,
 * then the walk's (back-edge), then unreachable instructions.
 */
export function unprivBuildCfg<C>(code: readonly (Instruction | undefined)[], build: () => C): C {
  let cfg: C;
  try {
    cfg = build();
  } catch (e) {
    if (e instanceof VerifyAbort && /^unreachable insn/.test(e.message)) unprivBackEdge(code);
    throw e;
  }
  unprivBackEdge(code);
  return cfg;
}

/**
 * What the loader and bpf_prog_load refuse before the verifier runs, in their order: the object's
 * maps are created first, then the program's size and type are checked. Instruction 0 stands for
 * "no instruction" (the kernel's log is empty).
 */
export function unprivLoadChecks(obj: ObjectSpec, prog: ProgramSpec, slots: number): void {
  for (const m of obj.maps) {
    const zeroSeed = (m.type === 1 || m.type === 5 || m.type === 13) && (m.flags & BPF_F_ZERO_SEED) !== 0;
    if (!UNPRIV_MAP_TYPES.has(m.type) || zeroSeed) throw new VerifyAbort(0, UNPRIV_LOAD_MESSAGES.mapCreate);
  }
  if (slots > BPF_MAXINSNS) throw new VerifyAbort(0, UNPRIV_LOAD_MESSAGES.tooLarge);
  if (!UNPRIV_PROG_TYPES.has(prog.type.name)) throw new VerifyAbort(0, UNPRIV_LOAD_MESSAGES.progType);
}

/** add_subprog_and_kfunc: bpf-to-bpf calls, callback addresses and kfunc calls need CAP_BPF. */
export function unprivCallChecks(code: readonly (Instruction | undefined)[]): void {
  for (let t = 0; t < code.length; t++) {
    const i = code[t];
    if (!i) continue;
    const call = i.opcode === 0x85 && (i.src === 1 || i.src === 2);
    const func = i.opcode === 0x18 && i.src === 4;
    if (call || func) {
      throw new VerifyAbort(
        0,
        "loading/calling other bpf or kernel functions are allowed for CAP_BPF and CAP_SYS_ADMIN",
      );
    }
  }
}

const isJmp = (op: number): boolean => (op & 7) === 5 || (op & 7) === 6;

/**
 * check_cfg's depth-first walk as the kernel does it (fall-through edge first, then the branch);
 * an edge back to an instruction still on the walk's stack is a loop, refused without CAP_BPF:
 * "back-edge from insn %d to %d". Edges out of range are left to the CFG check.
 */
export function unprivBackEdge(code: readonly (Instruction | undefined)[]): void {
  const n = code.length;
  const DISCOVERED = 0x10;
  const EXPLORED = 0x20;
  const FALL = 1;
  const BRANCH = 2;
  const state = new Uint8Array(n);
  const stack = [0];
  state[0] = DISCOVERED;
  // push_insn: 0 done with this edge, 1 keep exploring (w pushed), -1 stop (out of range)
  const push = (t: number, w: number, e: number): number => {
    if (
      (e === FALL && state[t]! >= (DISCOVERED | FALL)) ||
      (e === BRANCH && state[t]! >= (DISCOVERED | BRANCH))
    )
      return 0;
    if (w < 0 || w >= n || code[w] === undefined) return -1;
    if (state[w] === 0) {
      state[t] = DISCOVERED | e;
      state[w] = DISCOVERED;
      stack.push(w);
      return 1;
    }
    if ((state[w]! & 0xf0) === DISCOVERED) throw new VerifyAbort(0, `back-edge from insn ${t} to ${w}`);
    if (state[w] === EXPLORED) state[t] = DISCOVERED | e;
    return 0;
  };
  while (stack.length > 0) {
    const t = stack[stack.length - 1]!;
    const i = code[t];
    let r = 0;
    if (i) {
      const op = i.opcode;
      if (op === 0x18) r = push(t, t + 2, FALL);
      else if (!isJmp(op)) r = push(t, t + 1, FALL);
      else if ((op & 0xf0) === 0x90) r = 0;
      else if ((op & 0xf0) === 0x80) r = push(t, t + 1, FALL);
      else if ((op & 0xf0) === 0x00) r = push(t, (op & 7) === 6 ? t + i.imm + 1 : t + i.off + 1, FALL);
      else {
        r = push(t, t + 1, FALL);
        if (r === 0) r = push(t, t + i.off + 1, BRANCH);
      }
    }
    if (r < 0) return;
    if (r === 0) {
      state[t] = EXPLORED;
      stack.pop();
    }
  }
}

/** Whether an unprivileged loader's program of this type may call the helper (measured). */
export function unprivHelperAvailable(h: Helper, progType: string, expectedAttachType?: string): boolean {
  const ids =
    (expectedAttachType !== undefined
      ? MEASURED_UNPRIV_HELPER_AVAILABILITY[`${progType}:${expectedAttachType}`]
      : undefined) ??
    MEASURED_UNPRIV_HELPER_AVAILABILITY[progType] ??
    [];
  return ids.includes(h.id);
}

/** check_func_arg ARG_ANYTHING: a pointer passed as a number leaks its address. */
export function unprivArgAnything(t: number, regno: number, reg: Reg): void {
  if (isPointer(reg)) throw new VerifyAbort(t, `R${regno} leaks addr into helper function`);
}

/**
 * cg_skb_is_valid_access: skb->data and skb->data_end (direct packet access) and writes to
 * skb->tstamp need CAP_BPF.
 */
export function unprivCtxDenied(progType: string, off: number, size: number, write: boolean): boolean {
  if (progType !== "cgroup_skb") return false;
  const overlaps = (lo: number, hi: number): boolean => off < hi && off + size > lo;
  if (overlaps(76, 84)) return true;
  return write && overlaps(152, 160);
}

/**
 * check_mem_access for a store of register `valueReg` through `dst`: a pointer stored into a map
 * value, the context or memory leaks its address. Stores onto a spilled pointer that keep part
 * of it are refused too (check_stack_write_fixed_off).
 */
export function unprivStore(
  st: VState,
  t: number,
  dstno: number,
  off: number,
  size: number,
  valueno: number | undefined,
): void {
  const regs = curFrame(st).regs;
  const dst = regs[dstno]!;
  const v = valueno === undefined ? undefined : regs[valueno]!;
  if (v && isPointer(v) && !dst.maybeNull) {
    if (dst.type === "map_value") throw new VerifyAbort(t, `R${valueno} leaks addr into map`);
    if (dst.type === "ctx") throw new VerifyAbort(t, `R${valueno} leaks addr into ctx`);
    if (dst.type === "mem" && !dst.rdonly) throw new VerifyAbort(t, `R${valueno} leaks addr into mem`);
  }
  if (dst.type === "stack" && isConst(dst) && size !== 8) {
    const lo = dst.off + Number(BigInt.asIntN(64, dst.varOff.value)) + off;
    // after the alignment and bounds checks of check_mem_access
    if (lo % size === 0 && lo + size <= 0 && lo >= -512) {
      const slot = st.frames[dst.frameno]!.stack[Math.floor((-lo - 1) / 8)];
      if (slot?.kinds.includes("r") && slot.spilled.type !== "scalar") {
        throw new VerifyAbort(t, "attempt to corrupt spilled pointer on stack");
      }
    }
  }
}

/** A constant stack offset that check_mem_access's alignment and bounds checks let through. */
function stackSlotAt(
  st: VState,
  dst: Reg,
  off: number,
  size: number,
): VState["frames"][number]["stack"][number] | undefined {
  if (dst.type !== "stack" || !isConst(dst)) return undefined;
  const lo = dst.off + Number(BigInt.asIntN(64, dst.varOff.value)) + off;
  if (lo % size !== 0 || lo + size > 0 || lo < -512) return undefined;
  return st.frames[dst.frameno]!.stack[Math.floor((-lo - 1) / 8)];
}

/**
 * check_atomic_rmw: a pointer operand (R0 of a compare-exchange, or the source) leaks into
 * memory; an atomic operation on a spilled pointer would read it as a number.
 */
export function unprivAtomic(st: VState, t: number, i: Instruction, size: number): void {
  const regs = curFrame(st).regs;
  if (i.imm === 0xf1 && isPointer(regs[0]!)) throw new VerifyAbort(t, "R0 leaks addr into mem");
  if (isPointer(regs[i.src]!)) throw new VerifyAbort(t, `R${i.src} leaks addr into mem`);
  const dst = regs[i.dst]!;
  const slot = stackSlotAt(st, dst, i.off, size);
  if (slot && size === 8 && slot.kinds.every((k) => k === "r") && slot.spilled.type !== "scalar") {
    const lo = dst.off + Number(BigInt.asIntN(64, dst.varOff.value)) + i.off;
    throw new VerifyAbort(t, `leaking pointer from stack off ${lo}`);
  }
}

/**
 * Spectre v4 (sanitize_stack_spill -> nospec_result): a stack store that spills a pointer, or
 * writes over bytes that were not plain data or zero, ends speculative paths after it.
 */
export function unprivNoteStackStore(
  u: UnprivState,
  st: VState,
  t: number,
  dstno: number,
  off: number,
  size: number,
  valueno: number | undefined,
): void {
  const regs = curFrame(st).regs;
  const dst = regs[dstno]!;
  if (dst.type !== "stack" || !isConst(dst)) return;
  const v = valueno === undefined ? undefined : regs[valueno]!;
  let sanitize = v !== undefined && isPointer(v);
  const lo = dst.off + Number(BigInt.asIntN(64, dst.varOff.value)) + off;
  const frame = st.frames[dst.frameno]!;
  const spi = Math.floor((-lo - 1) / 8);
  const slot = frame.stack[spi];
  // the kernel looks at the whole 8-byte slot being written
  for (let k = 0; k < 8 && !sanitize; k++) {
    const c = slot ? slot.kinds[k]! : "?";
    if (c !== "m" && c !== "0") sanitize = true;
  }
  void size;
  if (sanitize) u.nospecResult.add(t);
}

/** check_return_code: a pointer returned from the program leaks its address. */
export function unprivReturn(t: number, r0: Reg): void {
  if (isPointer(r0)) throw new VerifyAbort(t, "R0 leaks addr as return value");
}

/** check_cond_jmp_op, source operand: checked before the branch is evaluated. */
export function unprivCompareSrc(t: number, i: Instruction, a: Reg, b: Reg): void {
  if ((i.opcode & 8) === 0) return;
  const pkt = (r: Reg): boolean => r.type === "pkt" || r.type === "pkt_meta" || r.type === "pkt_end";
  if (!(pkt(a) && pkt(b)) && isPointer(b))
    throw new VerifyAbort(t, `R${i.src} pointer comparison prohibited`);
}

/** check_cond_jmp_op, destination operand, when the comparison was neither a NULL check nor packet range check. */
export function unprivCompareDst(t: number, i: Instruction, a: Reg): void {
  if (isPointer(a)) throw new VerifyAbort(t, `R${i.dst} pointer comparison prohibited`);
}

/** MOV32 / MOVSX of a pointer: the kernel refuses to expose part of an address. */
export function unprivMovPointer(t: number, i: Instruction, src: Reg, is64: boolean): void {
  if (!isPointer(src)) return;
  if (is64) throw new VerifyAbort(t, `R${i.src} sign-extension part of pointer`);
  throw new VerifyAbort(t, `R${i.src} partial copy of pointer`);
}

// ------------------------------------------------------------------- Spectre v1 sanitation

const ALU_NEG_VALUE = 1 << 2;
const ALU_NON_POINTER = (1 << 0) | (1 << 1);
const ALU_SANITIZE_SRC = 1 << 0;
const ALU_SANITIZE_DST = 1 << 1;
const ALU_IMMEDIATE = 1 << 3;

/** What sanitize_ptr_alu learnt before the operation, for its commit after it. */
export interface PtrAluInfo {
  readonly maskToLeft: boolean;
  readonly state: number;
  readonly limit: number;
  /** The offset is not a known constant: the masked pointer is explored speculatively. */
  readonly simulate: boolean;
}

const u32 = (x: bigint): bigint => BigInt.asUintN(32, x);

/** retrieve_ptr_limit: how far the pointer may move, or undefined (REASON_TYPE / REASON_LIMIT). */
function ptrLimit(ptr: Reg, maskToLeft: boolean): { limit: number } | "type" | "limit" {
  let max: bigint;
  let limit: bigint;
  if (ptr.type === "stack") {
    max = 512n + (maskToLeft ? 1n : 0n);
    limit = u32(-(ptr.varOff.value + BigInt(ptr.off)));
  } else if (ptr.type === "map_value") {
    max = BigInt(ptr.map!.valueSize);
    limit = u32((maskToLeft ? ptr.smin : ptr.umax) + BigInt(ptr.off));
  } else return "type";
  if (limit >= max) return "limit";
  return { limit: Number(limit) };
}

function sanitizeErr(
  t: number,
  i: Instruction,
  reason: "bounds" | "type" | "paths" | "limit",
  offIsDst: boolean,
): VerifyAbort {
  const err = "pointer arithmetic with it prohibited for !root";
  const op = (i.opcode & 0xf0) === 0x00 ? "add" : "sub";
  switch (reason) {
    case "bounds":
      return new VerifyAbort(
        t,
        `R${offIsDst ? i.dst : i.src} has unknown scalar with mixed signed bounds, ${err}`,
      );
    case "type":
      return new VerifyAbort(
        t,
        `R${offIsDst ? i.src : i.dst} has pointer with unsupported alu operation, ${err}`,
      );
    case "paths":
      return new VerifyAbort(t, `R${i.dst} tried to ${op} from different maps, paths or scalars, ${err}`);
    default:
      return new VerifyAbort(t, `R${i.dst} tried to ${op} beyond pointer bounds, ${err}`);
  }
}

function recordAlu(u: UnprivState, t: number, state: number, limit: number): boolean {
  const a = u.alu.get(t);
  if (a && a.state !== 0 && (a.state !== state || a.limit !== limit)) return false;
  u.alu.set(t, { state, limit });
  return true;
}

/**
 * sanitize_ptr_alu before the operation (ptr += / -= off, register source only; constants in the
 * instruction need no masking). Returns undefined when nothing is to be done.
 */
export function sanitizePtrAluBefore(
  u: UnprivState,
  st: VState,
  t: number,
  i: Instruction,
  ptr: Reg,
  off: Reg,
  offIsDst: boolean,
): PtrAluInfo | undefined {
  if ((i.opcode & 8) === 0) return undefined;
  const op = i.opcode & 0xf0;
  const offIsImm = isConst(off);
  const offIsNeg = off.smin < 0n;
  const spec = st.speculative === true;
  if (!spec && !offIsImm && off.smin < 0n !== off.smax < 0n) throw sanitizeErr(t, i, "bounds", offIsDst);
  const maskToLeft = (op === 0x00 && offIsNeg) || (op === 0x10 && !offIsNeg);
  if (spec) return { maskToLeft, state: 0, limit: 0, simulate: !offIsImm };
  const lim = ptrLimit(ptr, maskToLeft);
  if (typeof lim === "string") throw sanitizeErr(t, i, lim, offIsDst);
  let state = offIsNeg ? ALU_NEG_VALUE : 0;
  state |= offIsImm ? ALU_IMMEDIATE : 0;
  state |= offIsDst ? ALU_SANITIZE_DST : ALU_SANITIZE_SRC;
  if (!offIsImm) u.exploreAluLimits = true;
  return { maskToLeft, state, limit: lim.limit, simulate: !offIsImm };
}

/**
 * After the operation: sanitize_check_bounds (the result must stay inside its stack frame or map
 * value; `mapCheck` runs check_map_access with size 1 and throws the kernel's lines) then the
 * commit of the masking limit, which must be the same on every path through this instruction.
 */
export function sanitizePtrAluAfter(
  u: UnprivState,
  st: VState,
  t: number,
  i: Instruction,
  d: Reg,
  info: PtrAluInfo | undefined,
  offIsDst: boolean,
  mapCheck: () => void,
): void {
  if (d.type === "stack") {
    const off = d.off + Number(BigInt.asIntN(64, d.varOff.value));
    if (!isConst(d)) {
      throw new VerifyAbort(
        t,
        `R${i.dst} variable stack access prohibited for !root, var_off=${tnumStr(d.varOff)} off=${off}`,
      );
    }
    if (off >= 0 || off < -512) {
      throw new VerifyAbort(
        t,
        `R${i.dst} stack pointer arithmetic goes out of range, prohibited for !root; off=${off}`,
      );
    }
  } else if (d.type === "map_value") {
    try {
      mapCheck();
    } catch (e) {
      if (!(e instanceof VerifyAbort)) throw e;
      throw new VerifyAbort(
        t,
        `${e.message}\nR${i.dst} pointer arithmetic of map value goes out of range, prohibited for !root`,
      );
    }
  }
  if (!info || st.speculative) return;
  const lim = ptrLimit(d, info.maskToLeft);
  if (typeof lim === "string") throw sanitizeErr(t, i, lim, offIsDst);
  if (!recordAlu(u, t, info.state, Math.abs(info.limit - lim.limit)))
    throw sanitizeErr(t, i, "paths", offIsDst);
}

/** sanitize_val_alu: scalar add/sub with a register source, on an instruction that must not also move pointers. */
export function sanitizeValAlu(u: UnprivState, t: number, i: Instruction): void {
  const op = i.opcode & 0xf0;
  if ((op !== 0x00 && op !== 0x10) || (i.opcode & 8) === 0) return;
  if (!recordAlu(u, t, ALU_NON_POINTER, 0)) throw sanitizeErr(t, i, "paths", false);
}

/**
 * check_stack_range_initialized for a helper reading `size` bytes at `lo`: without CAP_PERFMON
 * every byte must be data, zero or a spilled scalar (a spilled pointer would leak).
 */
export function unprivHelperStackRead(f: Frame, insn: number, regno: number, lo: number, size: number): void {
  for (let b = lo; b < lo + size; b++) {
    const slot = f.stack[Math.floor((-b - 1) / 8)];
    const c = slot ? slot.kinds[7 - ((-b - 1) % 8)]! : "?";
    if (c === "m" || c === "0") continue;
    if (c === "r" && slot!.spilled.type === "scalar") continue;
    throw new VerifyAbort(insn, `invalid read from stack R${regno} off ${lo}+${b - lo} size ${size}`);
  }
}

/**
 * Without CAP_BPF every scalar is precise from the start (__mark_reg_unknown: precise =
 * !bpf_capable), and the kernel's log marks precise scalars with a P: "R1=P0", "R7=Pscalar(...)".
 */
export function unprivLogLine(line: string): string {
  return line.replace(/(^|[\s(;,])(R\d+=)(scalar\(|-?\d)/g, "$1$2P$3");
}
