/**
 * The offline verifier: a model of the 6.18 kernel verifier's do_check (path exploration over
 * register/stack states, with state pruning at prune points), its memory, ALU, branch, helper,
 * call and exit rules, and its log. Privileged loader (root) semantics.
 */
import {
  HELPER_CALL_MESSAGES,
  helperById,
  isHelperAvailable,
  mapHelperCompatible,
  PACKET_CHANGING_HELPERS,
  protosForProgType,
} from "../abi/helpers.js";
import { mapTypeById } from "../abi/map-types.js";
import { allowsLegacyPacketLoads, isGplCompatible, returnRule } from "../abi/program-rules.js";
import type { ExternSpec, MapSpec, ObjectSpec, ProgramSpec } from "../elf/object/types.js";
import { type Instruction, imm64 } from "../isa/instruction.js";
import { reservedFieldError } from "../isa/opcodes.js";
import { kallsymsLookup } from "../loader/kallsyms.js";
import { fillKconfig } from "../loader/kconfig.js";
import { COND_OPS, type CondOp, flipOp, refine, scalarBranchTaken } from "./branch.js";
import { type BtfHooks, type BtfOptions, btfHooks, prepareProgram } from "./btf-hooks.js";
import {
  joinOrigin,
  markPrecise as markOriginPrecise,
  newPrecision,
  type PrecisionEnv,
  tagCheckpoint,
  widenAfterCallback,
} from "./callback-widening.js";
import { callbackCall, callbackDepthOk, callbackExit, callsCallback, sameUnroll } from "./callbacks.js";
import { buildCfg, type Cfg, toSlots } from "./cfg.js";
import { dynptrArg, dynptrSlice, dynptrSlotReg, releaseDynptrSlots } from "./dynptr.js";
import { dynptrKfunc, dynptrKfuncCall, isPacketSlice } from "./dynptr-kfuncs.js";
import { notModelled, VerifyAbort } from "./errors.js";
import { calleeArgReg, changesPktData, checkGlobalCall, globalArgs } from "./global-args.js";
import { ALU_STR, kernelInsnText } from "./insn-print.js";
import { activeIrq, irqSlotsSafe } from "./irq-flag.js";
import {
  isIterNext,
  isKfuncCall,
  iterDepthsDiffer,
  iterKfuncCall,
  iterKfuncName,
  iterLoopConverged,
  iterSlotsSafe,
} from "./iter.js";
import { kernelBtf } from "./kernel-btf.js";
import {
  checkKsymLoads,
  type KsymEnv,
  type KsymOptions,
  percpuBtfArg,
  percpuBtfRet,
  typedKsymReg,
} from "./ksym.js";
import { checkProgramMaps, indexMapFields, mayPointToSpinLock } from "./map-fields.js";
import { innerMapOnNotNull } from "./map-in-map.js";
import { BPF_MAX_VAR_OFF, checkHelperMem, checkMemAccess, isPkt, type MemEnv, memRegion } from "./memory.js";
import { sharedRegister } from "./ownership.js";
import {
  markPrecise,
  markStatePrecise,
  precisionTracked,
  propagatePrecision,
  recordInsn,
} from "./precision.js";
import { IdMap, statesMaybeLooping } from "./prune.js";
import { acquireRef, refsStr, releaseRef as releaseRef_, resourceLeak, sameRefShape } from "./refs.js";
import {
  checkKfuncUnderLock,
  localIrqCall,
  localIrqKfunc,
  resSpinLockCall,
  resSpinLockKfunc,
} from "./res-spin-lock.js";
import {
  type AluOp,
  alu32,
  alu64,
  assignBounds,
  type Bounds,
  boundsEmpty,
  byteSwap,
  constBounds,
  constFold,
  copyBounds,
  isCollapsedConst,
  isConst,
  markUnbounded,
  neg,
  S64_MIN,
  setConstBounds,
  signExtend,
  signExtend32,
  truncate,
  unknownBounds,
} from "./scalar.js";
import { acquiresFromMap, checkSockArg, isSockType, notNullType, sockReturn } from "./sockets.js";
import { checkCallUnderLock, lockedGlobalCall, processSpinLock } from "./spin-lock.js";
import {
  cloneState,
  constScalar,
  copyReg,
  curFrame,
  type Frame,
  forEachReg,
  frameStr,
  isPointer,
  newFrame,
  notInit,
  pathTrace,
  pointer,
  type Reg,
  type RegType,
  regTypeStr,
  type StoredState,
  type TraceEntry,
  unknownScalar,
  type VState,
} from "./state.js";
import { checkTimerMap, processTimerArg, timerCallbackState } from "./timer.js";
import { tnumAdd, tnumConst, tnumEquals, tnumIn, tnumIsAligned, tnumStr } from "./tnum.js";
import {
  newUnprivState,
  type PtrAluInfo,
  recoverableOnSpeculativePath,
  sanitizePtrAluAfter,
  sanitizePtrAluBefore,
  sanitizeValAlu,
  speculativeBranch,
  type UnprivState,
  unprivArgAnything,
  unprivAtomic,
  unprivBuildCfg,
  unprivCallChecks,
  unprivCompareDst,
  unprivCompareSrc,
  unprivHelperAvailable,
  unprivLoadChecks,
  unprivLogLine,
  unprivMovPointer,
  unprivNoteStackStore,
  unprivReturn,
  unprivStore,
} from "./unprivileged.js";
import { BranchCond, BranchTrace, condOperand, traceText } from "./why-trace.js";

export const COMPLEXITY_LIMIT_INSNS = 1_000_000;
const COMPLEXITY_LIMIT_JMP_SEQ = 8192;
const MAX_CALL_FRAMES = 8;

export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly text: string;
}

export interface VerifyError {
  /** Instruction (slot) index. */
  readonly insn: number;
  readonly message: string;
  readonly source?: SourceLocation;
  /** False when tsbpf refused a construct it does not model (not a kernel verdict). */
  readonly modelled: boolean;
}

export interface VerifyResult {
  readonly program: string;
  readonly section: string;
  readonly type: string;
  readonly verdict: "accept" | "reject";
  readonly error?: VerifyError;
  readonly processedInsns: number;
  readonly log: string;
  /** Branch decisions and register bounds along the failing path. */
  readonly trace?: readonly string[];
  readonly hint?: string;
  readonly stats: {
    readonly maxStatesPerInsn: number;
    readonly totalStates: number;
    readonly peakStates: number;
  };
}

export interface VerifyOptions extends BtfOptions, KsymOptions {
  /** 0 none, 1 the kernel's level 1 (path to the error), 2 every instruction with state. */
  readonly logLevel?: 0 | 1 | 2;
  /** Instruction budget (the kernel's 1M). */
  readonly maxInsns?: number;
  /**
   * Wall-clock budget in milliseconds (default 30000): past it the program is rejected with a
   * tsbpf message (never accepted), as this model is slower than the kernel on 1M-insn paths.
   */
  readonly maxMillis?: number;
  /** Judge as an unprivileged loader (no CAP_BPF/CAP_PERFMON): the rules of unprivileged.ts. */
  readonly unprivileged?: boolean;
  /**
   * Test aid (slow): after every instruction, check that no register object of the current
   * state is shared with another of its slots, a pending branch or a stored checkpoint
   * (ownership.ts); a violation throws an Error naming the instruction.
   */
  readonly checkOwnership?: boolean;
}

interface Pending {
  state: VState;
  insn: number;
  prev: number;
}

interface Env extends MemEnv {
  readonly prog: ProgramSpec;
  readonly obj: ObjectSpec;
  readonly cfg: Cfg;
  readonly opts: VerifyOptions;
  /** reservedFieldError per instruction index, computed at the first visit (reservedAt). */
  readonly reserved: (string | null)[];
  idGen: number;
  processed: number;
  jmps: number;
  prevJmps: number;
  prevProcessed: number;
  explored: Map<number, StoredState[]>;
  totalStates: number;
  peakStates: number;
  curStates: number;
  log: string[];
  stackDepth: Map<number, number>;
  /** Global functions called so far (first slot -> the callee's assumed argument registers). */
  globals: Map<number, Reg[]>;
  /** Subprograms run as async callbacks (bpf_timer): stack roots of their own. */
  asyncCallbacks: Set<number>;
  /** Precision tracking on (precision.ts); off, every stored scalar is precise. */
  precision: boolean;
  lastLinfo?: ProgramSpec["lineInfo"][number];
  readonly btf: BtfHooks;
  /** Origin tokens and precise marks for callback widening (callback-widening.ts). */
  readonly widening: PrecisionEnv;
  /** The unprivileged rules' state (only for VerifyOptions.unprivileged). */
  unpriv?: UnprivState;
}

const ALU_OP_NAMES: Readonly<Record<number, AluOp>> = {
  0: "add",
  16: "sub",
  32: "mul",
  48: "div",
  64: "or",
  80: "and",
  96: "lsh",
  112: "rsh",
  144: "mod",
  160: "xor",
  192: "arsh",
};

function checkRead(st: VState, insn: number, r: number): Reg {
  if (r > 10) throw new VerifyAbort(insn, `R${r} is invalid`);
  const reg = curFrame(st).regs[r]!;
  if (reg.type === "not_init") throw new VerifyAbort(insn, `R${r} !read_ok`);
  return reg;
}

function checkWrite(insn: number, r: number): void {
  if (r > 10) throw new VerifyAbort(insn, `R${r} is invalid`);
  if (r === 10) throw new VerifyAbort(insn, "frame pointer is read only");
}

/** A copy of `r` with another id (a spread with an extra property would be a slow V8 object). */
function withId(r: Reg, id: number): Reg {
  const d = copyReg(r);
  d.id = id;
  return d;
}

function setReg(st: VState, r: number, v: Reg): void {
  curFrame(st).regs[r] = v;
}

/** All registers (and spilled registers) of every frame. */
function* allRegs(st: VState): Generator<Reg> {
  for (const f of st.frames) {
    for (const r of f.regs) yield r;
    for (const s of f.stack) if (s.kinds[0] === "r") yield s.spilled;
  }
}

// --------------------------------------------------------------------------------- ALU

function checkAlu(env: Env, st: VState, t: number, i: Instruction): void {
  const is64 = (i.opcode & 7) === 7;
  const op = i.opcode & 0xf0;
  const x = (i.opcode & 8) !== 0;
  const regs = curFrame(st).regs;
  if (op === 0x80 || op === 0xd0) {
    checkRead(st, t, i.dst);
    if (isPointer(regs[i.dst]!)) {
      throw new VerifyAbort(t, `R${i.dst} pointer arithmetic prohibited`);
    }
    checkWrite(t, i.dst);
    const d = copyReg(regs[i.dst]!);
    d.id = 0;
    if (op === 0x80) neg(d, is64 ? 64 : 32);
    else byteSwap(d, i.imm as 16 | 32 | 64, is64 || x);
    setReg(st, i.dst, d);
    return;
  }
  if (op === 0xb0) {
    if (x) checkRead(st, t, i.src);
    checkWrite(t, i.dst);
    if (!x) {
      setReg(st, i.dst, constScalar(is64 ? BigInt(i.imm) : BigInt(i.imm >>> 0)));
      return;
    }
    const s = regs[i.src]!;
    if (env.unpriv && (!is64 || i.off !== 0)) unprivMovPointer(t, i, s, is64);
    if (is64) {
      if (i.off === 0) {
        if (s.type === "scalar" && s.id === 0 && !isConst(s)) s.id = ++env.idGen;
        setReg(st, i.dst, copyReg(s));
      } else {
        // a pointer's sign extension is just unknown (mark_reg_unknown)
        const d = isPointer(s) ? unknownScalar() : withId(s, 0);
        if (!isPointer(s)) signExtend(d, i.off / 8);
        setReg(st, i.dst, d);
      }
      return;
    }
    // w1 = w2 of a value that fits 32 bits links the two (assign_scalar_id_before_mov)
    const link = !isPointer(s) && i.off === 0 && s.umax <= 0xffff_ffffn;
    if (link && s.id === 0 && !isConst(s)) s.id = ++env.idGen;
    const d = isPointer(s) ? unknownScalar() : withId(s, link ? s.id : 0);
    if (i.off === 0 || isPointer(s)) truncate(d, 4);
    else signExtend32(d, i.off / 8);
    if (link) d.id = s.id;
    setReg(st, i.dst, d);
    return;
  }
  const name = ALU_OP_NAMES[op];
  if (!name) throw new VerifyAbort(t, `invalid BPF_ALU opcode ${op.toString(16)}`);
  // an immediate operand is only bounds (a register is built for pointer arithmetic alone)
  const src = x ? checkRead(st, t, i.src) : undefined;
  const imm = x ? 0n : is64 ? BigInt(i.imm) : BigInt(i.imm >>> 0);
  const dstIn = checkRead(st, t, i.dst);
  if ((op === 0x30 || op === 0x90) && !x && i.imm === 0) throw new VerifyAbort(t, "div by zero");
  if ((op === 0x60 || op === 0x70 || op === 0xc0) && !x && (i.imm < 0 || i.imm >= (is64 ? 64 : 32))) {
    throw new VerifyAbort(t, `invalid shift ${i.imm}`);
  }
  checkWrite(t, i.dst);
  if (isPointer(dstIn) || (src && isPointer(src))) {
    pointerAlu(env, st, t, i, dstIn, src ?? constScalar(imm), is64, op);
    return;
  }
  if (env.unpriv) sanitizeValAlu(env.unpriv, t, i);
  // is_safe_to_compute_dst_reg_range: div/mod, and shifts by a non-constant or too large amount,
  // give a fully unknown register (no zero-extension even for 32-bit ops).
  const shiftOp = op === 0x60 || op === 0x70 || op === 0xc0;
  const sb: Bounds = src ?? constBounds(imm);
  const amount = is64 ? sb.umax : sb.u32max;
  const srcConst = is64 ? isConst(sb) : sb.u32min === sb.u32max;
  // the result depends on both operands (for precision marks, callback-widening.ts)
  const origin = src ? joinOrigin(dstIn, src) : dstIn.origin;
  if (op === 0x30 || op === 0x90 || (shiftOp && (!srcConst || amount >= (is64 ? 64n : 32n)))) {
    const u = unknownScalar();
    if (origin) u.origin = origin;
    setReg(st, i.dst, u);
    return;
  }
  // the destination register is changed in place: a register object belongs to one slot of one
  // state (moves, spills, fills and state copies copy it), so no other state sees the change
  const d = dstIn;
  d.id = 0;
  if (isCollapsedConst(dstIn) && (!src || isCollapsedConst(src))) {
    // two known constants fold to one (what alu64/alu32 make of them, without their temporaries)
    setConstBounds(d, constFold(name, dstIn.umin, src ? src.umin : imm, is64 ? 64 : 32));
    if (origin) d.origin = origin;
    setReg(st, i.dst, d);
    return;
  }
  const s = src ? copyBounds(src) : sb;
  if (is64) alu64(name, d, s);
  else alu32(name, d, s);
  if (origin) d.origin = origin;
  setReg(st, i.dst, d);
}

const NO_ARITH: ReadonlySet<RegType> = new Set([
  "pkt_end",
  "sock",
  "sock_common",
  "tcp_sock",
  "xdp_sock",
  "map_ptr",
  "flow_keys",
  "func",
]);

function pointerAlu(
  env: Env,
  st: VState,
  t: number,
  i: Instruction,
  dst: Reg,
  src: Reg,
  is64: boolean,
  op: number,
): void {
  const regs = curFrame(st).regs;
  const sym = ALU_STR[op]!;
  if (isPointer(dst) && isPointer(src)) {
    if (op === 0x10 && !env.unpriv) {
      const r = unknownScalar();
      if (!is64) truncate(r, 4);
      setReg(st, i.dst, r);
      return;
    }
    throw new VerifyAbort(t, `R${i.dst} pointer ${sym} pointer prohibited`);
  }
  // the scalar operand's range goes into the pointer: it must be precise (adjust_reg_min_max_vals)
  if (env.precision)
    markPrecise(env.cfg.code, st, !isPointer(dst) ? 1 << i.dst : i.opcode & 8 ? 1 << i.src : 0);
  let ptr = dst;
  let off = src;
  if (!isPointer(dst)) {
    if (op === 0x10) throw new VerifyAbort(t, `R${i.dst} tried to subtract pointer from scalar`);
    ptr = src;
    off = dst;
  }
  const ptrReg = isPointer(dst) ? i.dst : i.src;
  if (!is64) {
    throw new VerifyAbort(t, `R${i.dst} 32-bit pointer arithmetic prohibited`);
  }
  if (ptr.maybeNull) {
    throw new VerifyAbort(
      t,
      `R${i.dst} pointer arithmetic on ${regTypeStr(ptr)} prohibited, null-check it first`,
    );
  }
  if (NO_ARITH.has(ptr.type)) {
    if (!(ptr.type === "map_ptr" && isConst(off) && off.varOff.value === 0n && op === 0x00)) {
      throw new VerifyAbort(t, `R${i.dst} pointer arithmetic on ${regTypeStr(ptr)} prohibited`);
    }
  }
  if (op === 0x50 || op === 0x40 || op === 0xa0) {
    throw new VerifyAbort(t, `R${i.dst} bitwise operator ${sym} on pointer prohibited`);
  }
  if (op !== 0x00 && op !== 0x10) {
    throw new VerifyAbort(t, `R${i.dst} pointer arithmetic with ${sym} operator prohibited`);
  }
  const tstr = regTypeStr(ptr);
  const known = isConst(off);
  const val = BigInt.asIntN(64, off.varOff.value);
  // check_reg_sane_offset on the scalar
  if (known && (val >= BigInt(BPF_MAX_VAR_OFF) || val <= -BigInt(BPF_MAX_VAR_OFF))) {
    throw new VerifyAbort(t, `math between ${tstr} pointer and ${val} is not allowed`);
  }
  if (off.smin === S64_MIN) {
    throw new VerifyAbort(
      t,
      `math between ${tstr} pointer and register with unbounded min value is not allowed`,
    );
  }
  if (off.smin >= BigInt(BPF_MAX_VAR_OFF) || off.smin <= -BigInt(BPF_MAX_VAR_OFF)) {
    throw new VerifyAbort(t, `value ${off.smin} makes ${tstr} pointer be out of bounds`);
  }
  // check_reg_sane_offset on the pointer too
  sanePtr(t, copyReg(ptr));
  void ptrReg;
  void regs;
  markOriginPrecise(env.widening, off);
  const offIsDst = !isPointer(dst);
  const san = env.unpriv ? sanitizePtrAluBefore(env.unpriv, st, t, i, ptr, off, offIsDst) : undefined;
  if (san?.simulate) {
    // the masked operation may leave the pointer where it was: explored speculatively
    const spec = cloneState(st);
    spec.speculative = true;
    curFrame(spec).regs[i.dst] = copyReg(ptr);
    env.unpriv!.pending.push({ state: spec, insn: t + 1 });
  }
  // adjust_ptr_min_max_vals, BPF_SUB: never from the frame pointer (root included)
  if (op === 0x10 && ptr.type === "stack") {
    throw new VerifyAbort(t, `R${i.dst} subtraction from stack pointer prohibited`);
  }
  const d: Reg = copyReg(ptr);
  if (known) {
    const nOff = op === 0x00 ? ptr.off + Number(val) : ptr.off - Number(val);
    if (nOff === (nOff | 0)) {
      d.off = nOff;
      setReg(st, i.dst, ptrAluDone(env, st, t, i, san, offIsDst, sanePtr(t, d)));
      return;
    }
  }
  // check_reg_sane_offset sees the signed bounds of the sum before they are synced
  const lo = op === 0x00 ? ptr.smin + off.smin : ptr.smin - off.smax;
  const hi = op === 0x00 ? ptr.smax + off.smax : ptr.smax - off.smin;
  const wraps = lo < S64_MIN || hi < S64_MIN || lo > -S64_MIN - 1n || hi > -S64_MIN - 1n;
  if (!wraps && (lo >= BigInt(BPF_MAX_VAR_OFF) || lo <= -BigInt(BPF_MAX_VAR_OFF))) {
    throw new VerifyAbort(t, `value ${lo} makes ${tstr} pointer be out of bounds`);
  }
  const b = copyBounds(ptr);
  alu64(op === 0x00 ? "add" : "sub", b, copyBounds(off));
  assignBounds(d, b);
  if (isPkt(ptr.type)) {
    d.id = ++env.idGen;
    d.range = 0;
  }
  setReg(st, i.dst, ptrAluDone(env, st, t, i, san, offIsDst, sanePtr(t, d)));
}

/** The unprivileged rules' check after pointer arithmetic (sanitize_ptr_alu), else `r` as it is. */
function ptrAluDone(
  env: Env,
  st: VState,
  t: number,
  i: Instruction,
  san: PtrAluInfo | undefined,
  offIsDst: boolean,
  r: Reg,
): Reg {
  if (env.unpriv) {
    const map = r.map;
    sanitizePtrAluAfter(env.unpriv, st, t, i, r, san, offIsDst, () =>
      memRegion(
        t,
        i.dst,
        r,
        r.off,
        1,
        map!.valueSize,
        (x) => `invalid access to map value, value_size=${map!.valueSize} off=${x} size=1`,
      ),
    );
  }
  return r;
}

function sanePtr(t: number, d: Reg): Reg {
  const tstr = regTypeStr(d);
  if (d.smin === S64_MIN) {
    throw new VerifyAbort(
      t,
      `math between ${tstr} pointer and register with unbounded min value is not allowed`,
    );
  }
  if (d.smin >= BigInt(BPF_MAX_VAR_OFF) || d.smin <= -BigInt(BPF_MAX_VAR_OFF)) {
    throw new VerifyAbort(t, `value ${d.smin} makes ${tstr} pointer be out of bounds`);
  }
  if (d.off >= BPF_MAX_VAR_OFF || d.off <= -BPF_MAX_VAR_OFF) {
    throw new VerifyAbort(t, `value ${d.off} makes ${tstr} pointer be out of bounds`);
  }
  return d;
}

// --------------------------------------------------------------------------------- branches

/** find_good_pkt_pointers: every packet pointer sharing `dst`'s id learns the range. */
function goodPkt(st: VState, dst: Reg, rightOpen: boolean): void {
  if (dst.off < 0 || (dst.off === 0 && rightOpen)) return;
  if (dst.umax > 0xffffn || dst.umax + BigInt(dst.off) > 0xffffn) return;
  const range = rightOpen ? dst.off + 1 : dst.off;
  for (const r of allRegs(st)) {
    if (r.type === dst.type && r.id === dst.id) r.range = Math.max(r.range, range);
  }
}

/** try_match_pkt_pointers; returns true when the comparison was a packet range check. */
function pktCompare(
  st: VState,
  other: VState,
  a: Reg,
  b: Reg,
  op: CondOp,
  ai: number,
  bi: number,
  is32: boolean,
): boolean {
  if (is32) return false;
  const pktVsEnd = isPkt(a.type) && b.type === "pkt_end";
  const metaVsPkt = a.type === "pkt_meta" && b.type === "pkt";
  let o = op;
  // the register number of the packet pointer (no closure: most comparisons are not packet checks)
  let pi = ai;
  if (!(pktVsEnd || metaVsPkt)) {
    const rev = (isPkt(b.type) && a.type === "pkt_end") || (b.type === "pkt_meta" && a.type === "pkt");
    if (!rev) return false;
    o = flipOp(op);
    pi = bi;
  }
  // register `pi` is the packet pointer on the left of `pi <o> end`. st = fall-through, other = taken.
  switch (o) {
    case "jgt":
      goodPkt(st, curFrame(st).regs[pi]!, false);
      return true;
    case "jlt":
      goodPkt(other, curFrame(other).regs[pi]!, true);
      return true;
    case "jge":
      goodPkt(st, curFrame(st).regs[pi]!, true);
      return true;
    case "jle":
      goodPkt(other, curFrame(other).regs[pi]!, false);
      return true;
    default:
      return true;
  }
}

/** mark_ptr_or_null_regs for every register sharing `id`. */
function markPtrOrNull(st: VState, id: number, isNull: boolean, t: number): void {
  let refToRelease = 0;
  forEachReg(st, (r, set) => {
    if (!r.maybeNull || r.id !== id) return;
    if (isNull) {
      // only an acquired pointer's own reference goes (ref_obj_id == id), not e.g. a dynptr
      // slice's, which belongs to its dynptr
      if (r.refObjId && r.refObjId === id) refToRelease = r.refObjId;
      set(constScalar(0n));
    } else if (!innerMapOnNotNull(r, t)) {
      r.maybeNull = false;
      r.type = notNullType(r);
      // the id only lives on for spin lock map values (reg_may_point_to_spin_lock)
      const dropId =
        (r.type === "map_value" && !mayPointToSpinLock(r)) || isSockType(r.type) || r.type === "btf_id";
      if (r.type !== "mem" || !r.ringbuf) r.id = dropId ? 0 : r.id;
    }
  });
  if (isNull && refToRelease) st.refs = st.refs.filter((x) => x.id !== refToRelease);
}

/** Propagate a refined scalar to its linked copies (sync_linked_regs). */
function syncLinked(st: VState, regno: number): void {
  const r = curFrame(st).regs[regno]!;
  if (r.type !== "scalar" || r.id === 0) return;
  // forEachReg's walk without its closure per register (this runs on both sides of every branch)
  const id = r.id;
  for (const f of st.frames) {
    const regs = f.regs;
    for (let k = 0; k < regs.length; k++) {
      const o = regs[k]!;
      if (o !== r && o.type === "scalar" && o.id === id) regs[k] = copyReg(r);
    }
    for (const s of f.stack) {
      if (s.kinds[0] !== "r") continue;
      const o = s.spilled;
      if (o !== r && o.type === "scalar" && o.id === id) s.spilled = copyReg(r);
    }
  }
}

// --------------------------------------------------------------------------------- engine

export function verifyProgram(obj: ObjectSpec, prog0: ProgramSpec, opts: VerifyOptions = {}): VerifyResult {
  // CO-RE first, against the kernel BTF, as the loader does (src/verifier/btf-hooks.ts)
  let prepared: ReturnType<typeof prepareProgram>;
  try {
    prepared = prepareProgram(obj, prog0, opts);
  } catch (e) {
    if (!(e instanceof VerifyAbort)) throw e;
    prepared = { prog: prog0, error: e };
  }
  const prog = prepared.prog;
  const code = toSlots(prog.insns);
  const env: Env = {
    prog,
    obj,
    cfg: undefined as unknown as Cfg,
    opts,
    reserved: [],
    idGen: 0,
    processed: 0,
    jmps: 0,
    prevJmps: 0,
    prevProcessed: 0,
    explored: new Map(),
    totalStates: 0,
    peakStates: 0,
    curStates: 0,
    log: [],
    stackDepth: new Map(),
    globals: new Map(),
    widening: newPrecision(),
    asyncCallbacks: new Set(),
    precision: false,
    progType: prog.type.name,
    // every field present from the start, whatever the program: one object shape for every env,
    // so the property loads of the verifier's hot paths stay monomorphic
    expectedAttachType: prog.expectedAttachType?.name,
    unprivileged: opts.unprivileged === true,
    unpriv: opts.unprivileged ? newUnprivState() : undefined,
    lastLinfo: undefined,
    rodata(name) {
      const m = obj.maps.find((x) => x.name === name);
      if (m?.origin === "kconfig") return kconfigValues(obj, m);
      return m?.readonly ? m.data : undefined;
    },
    nextId() {
      return ++this.idGen;
    },
    noteStackDepth(subprog, depth) {
      if (depth > (this.stackDepth.get(subprog) ?? 0)) this.stackDepth.set(subprog, depth);
    },
    btf: btfHooks(obj, prog, opts, () => ++env.idGen),
  };
  let trace: readonly TraceEntry[] = [];
  let error: VerifyError | undefined;
  try {
    if (prepared.error) throw prepared.error;
    if (opts.unprivileged) {
      unprivLoadChecks(obj, prog, code.length);
      unprivCallChecks(code);
    }
    preChecks(code);
    indexMapFields(obj);
    checkProgramMaps(obj, code, env.progType, prog.sleepable);
    if (obj.externs.some((e) => e.kind === "ksym")) checkKsymLoads(ksymEnv(env), code, typedKsyms(env));
    const cfgOf = (): Cfg => buildCfg(code, (i) => env.btf.kfuncArgCount(i));
    (env as { cfg: Cfg }).cfg = opts.unprivileged ? unprivBuildCfg(code, cfgOf) : cfgOf();
    env.btf.attachCheck(); // check_attach_btf_id's lsm checks, after check_cfg
    // precision tracking (precision.ts) where its backtracking covers every instruction: not
    // with callbacks, kfuncs (iterators included) or the unprivileged rules; elsewhere every
    // stored scalar is precise, which only prunes less
    env.precision = !opts.unprivileged && !code.some((x) => x && isKfuncCall(x)) && precisionTracked(env.cfg);
    trace = run(env, 0, initState(env));
    // Global functions are verified after the main program, each once, from its BTF prototype
    // (do_check_subprogs); a global function may call others, which join the queue.
    const done = new Set<number>();
    for (let more = true; more; ) {
      more = false;
      for (const [start, args] of [...env.globals].sort((a, b) => a[0] - b[0])) {
        if (done.has(start)) continue;
        done.add(start);
        more = true;
        if ((opts.logLevel ?? 1) >= 1) {
          const idx = env.cfg.subprogs.indexOf(start);
          env.log.push(`Validating ${globalSubprog(env, start)}() func#${idx}...`);
        }
        const f = newFrame(0, -1, start);
        for (let r = 1; r <= 5; r++) f.regs[r] = copyReg(args[r]!);
        if ((opts.logLevel ?? 1) >= 1) env.log.push(`${start}: ${frameStr(f)}`);
        trace = run(env, start, { frames: [f], refs: [], trace: [] });
      }
    }
    checkStackDepth(env);
  } catch (e) {
    if (!(e instanceof VerifyAbort)) throw e;
    const src = sourceFor(prog, e.insn);
    error = { insn: e.insn, message: e.message, modelled: e.kernelWording, ...(src ? { source: src } : {}) };
    trace = (e as VerifyAbort & { trace?: readonly TraceEntry[] }).trace ?? [];
    if (opts.logLevel !== 0) for (const line of e.message.split("\n")) env.log.push(line);
  }
  let maxStates = 0;
  for (const l of env.explored.values()) if (l.length > maxStates) maxStates = l.length;
  // (at level 0 no log is kept: its lines are not built)
  if (opts.logLevel !== 0)
    env.log.push(
      `processed ${env.processed} insns (limit ${COMPLEXITY_LIMIT_INSNS}) max_states_per_insn ${maxStates} total_states ${env.totalStates} peak_states ${env.peakStates} mark_read 0`,
    );
  const level = opts.logLevel ?? 1;
  // At level 1 a successful verification keeps only the statistics (the kernel resets its log).
  const kept = level === 0 ? [] : !error && level === 1 ? env.log.slice(-1) : env.log;
  const logLines = env.unpriv ? kept.map(unprivLogLine) : kept;
  const hint = error ? hintFor(error.message) : undefined;
  const log = logLines.length ? `${logLines.join("\n")}\n` : "";
  const stats = { maxStatesPerInsn: maxStates, totalStates: env.totalStates, peakStates: env.peakStates };
  if (!error) {
    return {
      program: prog.name,
      section: prog.section,
      type: prog.type.name,
      verdict: "accept",
      processedInsns: env.processed,
      log,
      stats,
    };
  }
  return {
    program: prog.name,
    section: prog.section,
    type: prog.type.name,
    verdict: "reject",
    error,
    processedInsns: env.processed,
    log,
    // the why-trace's text is built when it is read (most callers of a rejection never read it)
    get trace(): readonly string[] {
      return traceText(this, trace);
    },
    ...(hint ? { hint } : {}),
    stats,
  };
}

/** Verify every program of an object (or only `program`), in the object's order. */
export function verify(
  obj: ObjectSpec,
  opts: VerifyOptions & { readonly program?: string } = {},
): VerifyResult[] {
  const progs = opts.program ? [obj.program(opts.program)] : obj.programs;
  return progs.map((p) => verifyProgram(obj, p, opts));
}

/** The ld_imm64 src values the kernel knows (plain, map fd/value, BTF id, func, map idx/value). */
const LD_IMM64_SRCS: ReadonlySet<number> = new Set([0, 1, 2, 4, 5, 6]);

function preChecks(code: readonly (Instruction | undefined)[]): void {
  for (let t = 0; t < code.length; t++) {
    const i = code[t];
    if (!i) continue;
    if (i.opcode === 0x18) {
      if (
        t + 1 >= code.length ||
        !i.wide ||
        i.wide.opcode !== 0 ||
        i.wide.dst !== 0 ||
        i.wide.src !== 0 ||
        i.wide.off !== 0
      ) {
        throw new VerifyAbort(t, "invalid bpf_ld_imm64 insn");
      }
      if (!LD_IMM64_SRCS.has(i.src) || i.off !== 0)
        throw new VerifyAbort(t, "unrecognized bpf_ld_imm64 insn");
      continue;
    }
    const err = reservedFieldError(i);
    if (err?.startsWith("unknown opcode")) throw new VerifyAbort(t, err);
  }
}

/** The 16-byte rounded stack depth of a subprogram (as with the JIT). */
function roundedDepth(env: Env, sp: number): number {
  const d = env.stackDepth.get(sp) ?? 0;
  return Math.ceil(d / 16) * 16;
}

/** The slot after the last instruction of the subprogram starting at `sp`. */
function subprogEnd(env: Env, sp: number): number {
  const subs = env.cfg.subprogs;
  const k = subs.indexOf(sp);
  return k + 1 < subs.length ? subs[k + 1]! : env.cfg.code.length;
}

function hasTailCall(env: Env, sp: number): boolean {
  const code = env.cfg.code;
  const end = subprogEnd(env, sp);
  for (let t = sp; t < end; t++) {
    const i = code[t];
    if (i && i.opcode === 0x85 && i.src === 0 && i.imm === 12) return true;
  }
  return false;
}

/** One call chain of check_max_stack_depth, from subprogram `sp` with `acc` bytes above it. */
function walkStack(env: Env, sp: number, acc: number, frames: number): void {
  // (callbacks may name themselves: the frame limit ends the walk like the kernel's)
  if (frames - 1 >= MAX_CALL_FRAMES)
    throw new VerifyAbort(0, `the call stack of ${frames - 1} frames is too deep !`);
  // a tail call from a subprogram keeps the caller frames' stack alive: capped at 256 bytes
  if (sp !== 0 && acc >= 256 && hasTailCall(env, sp)) {
    throw new VerifyAbort(
      0,
      `tail_calls are not allowed when call stack of previous frames is ${acc} bytes. Too large`,
    );
  }
  const total = acc + roundedDepth(env, sp);
  if (total > 512) throw new VerifyAbort(0, `combined stack size of ${frames} calls is ${total}. Too large`);
  const code = env.cfg.code;
  const end = subprogEnd(env, sp);
  for (let t = sp; t < end; t++) {
    const i = code[t];
    if (i && i.opcode === 0x85 && i.src === 1 && !isKfuncCall(i))
      walkStack(env, t + i.imm + 1, total, frames + 1);
    // a callback passed by address (bpf_loop ...) counts as a call, unless it runs async
    if (i && i.opcode === 0x18 && i.src === 4 && !env.asyncCallbacks.has(t + i.imm + 1))
      walkStack(env, t + i.imm + 1, total, frames + 1);
  }
}

function checkStackDepth(env: Env): void {
  // Combined stack of the deepest call chain (16-byte rounding, as with the JIT).
  // check_max_stack_depth: the main program and each async callback are roots, last first
  if (env.asyncCallbacks.size > 0)
    for (const root of [...env.asyncCallbacks].sort((a, b) => b - a)) walkStack(env, root, 0, 1);
  walkStack(env, 0, 0, 1);
}

function sourceFor(prog: ProgramSpec, insn: number): SourceLocation | undefined {
  let best: (typeof prog.lineInfo)[number] | undefined;
  for (const li of prog.lineInfo) if (li.insn <= insn && (!best || li.insn >= best.insn)) best = li;
  if (!best) return undefined;
  return { file: best.file, line: best.line, column: best.column, text: best.text };
}

function hintFor(msg: string): string | undefined {
  if (/invalid mem access '.*_or_null_?'/.test(msg)) {
    return "the pointer may be NULL here: check it (if (!p) return ...) before dereferencing it";
  }
  if (/invalid access to packet/.test(msg)) {
    return "compare the packet pointer plus the access size with data_end before the access";
  }
  if (/min value is negative|unbounded memory access|max value is outside|min value is outside/.test(msg)) {
    return "bound the index on both sides (unsigned type, or if (i < N)) before using it as an offset";
  }
  if (/too large|infinite loop|too complex/.test(msg)) {
    return "a loop the verifier cannot bound: give it a constant trip count, or use bpf_loop()";
  }
  if (/Unreleased reference/.test(msg))
    return "every path must submit or discard the reserved ring buffer record";
  if (/!read_ok/.test(msg)) return "the register is read before it is set (R1-R5 do not survive a call)";
  if (/invalid access to map value/.test(msg)) return "the access goes past the end of the map value";
  return undefined;
}

function initState(_env: Env): VState {
  const f = newFrame(0, -1, 0);
  f.regs[1] = pointer("ctx");
  return { frames: [f], refs: [], trace: [] };
}

function logInsn(env: Env, st: VState, t: number, i: Instruction): void {
  const level = env.opts.logLevel ?? 1;
  if (level === 0) return;
  // an unprivileged loader cannot load BTF: no line info, no source lines in its log
  const li = env.unpriv ? undefined : env.prog.lineInfo.find((x) => x.insn === t);
  // verbose_linfo: a source line is printed once, when a different one starts
  if (
    li &&
    li !== env.lastLinfo &&
    (!env.lastLinfo || li.line !== env.lastLinfo.line || li.text !== env.lastLinfo.text)
  ) {
    env.log.push(`; ${li.text.trim()} @ ${li.file.split("/").pop()}:${li.line}`);
    env.lastLinfo = li;
  }
  env.log.push(`${t}: ${kernelInsnText(i, i.opcode === 0x18 ? imm64(i) : undefined)}`);
  void st;
}

/** `regs`: the registers to print (one as a number: no array per instruction at log level 0). */
function logState(env: Env, st: VState, regs0?: readonly number[] | number): void {
  if ((env.opts.logLevel ?? 1) === 0) return;
  const regs = typeof regs0 === "number" ? [regs0] : regs0;
  const line = [frameStr(curFrame(st), regs ? new Set(regs) : undefined), refsStr(st)]
    .filter((x) => x !== "")
    .join(" ");
  if (!line) return;
  const last = env.log.length - 1;
  if (last >= 0 && /^\d+: \(/.test(env.log[last]!)) {
    env.log[last] = `${env.log[last]!.padEnd(38)}; ${line}`;
  } else env.log.push(line);
}

function finishPath(st: VState): void {
  let p = st.parent;
  while (p) {
    p.branches--;
    if (p.branches > 0) break;
    p = p.parent;
  }
}

function checkOwnership(env: Env, st: VState, t: number, stack: readonly Pending[]): void {
  const others: VState[] = stack.map((p) => p.state);
  for (const list of env.explored.values()) for (const s of list) others.push(s.state);
  const shared = sharedRegister(st, others);
  if (shared) throw new Error(`register ownership broken after insn ${t}: ${shared}`);
}

function run(env: Env, start: number, init: VState): string[] {
  const stack: Pending[] = [];
  let st = init;
  let t = start;
  let prev = 0;
  const code = env.cfg.code;
  const maxInsns = env.opts.maxInsns ?? COMPLEXITY_LIMIT_INSNS;
  const deadline = Date.now() + (env.opts.maxMillis ?? 30000);
  const fail = (e: unknown): never => {
    if (e instanceof VerifyAbort)
      (e as VerifyAbort & { trace?: readonly TraceEntry[] }).trace = pathTrace(st);
    throw e;
  };
  const push = (s: VState, insn: number, from: number): void => {
    if (s.parent) s.parent.branches++;
    stack.push({ state: s, insn, prev: from });
    if (stack.length > COMPLEXITY_LIMIT_JMP_SEQ) {
      throw new VerifyAbort(from, `The sequence of ${stack.length} jumps is too complex.`);
    }
  };
  let lastEnd = -1;
  for (;;) {
    let endPath = false;
    try {
      if (t < 0 || t >= code.length)
        throw new VerifyAbort(t, `invalid insn idx ${t} insn_cnt ${code.length}`);
      if ((env.processed & 4095) === 0 && Date.now() > deadline) {
        throw notModelled(
          t,
          `a program needing more than ${env.opts.maxMillis ?? 30000} ms of offline verification`,
        );
      }
      if (++env.processed > maxInsns) {
        throw new VerifyAbort(t, `BPF program is too large. Processed ${env.processed} insn`);
      }
      if (env.cfg.prunePoints.has(t)) {
        if (isStateVisited(env, st, t)) {
          if ((env.opts.logLevel ?? 1) >= 1)
            env.log.push(lastEnd === -2 ? `${t}: safe` : `from ${prev} to ${t}: safe`);
          finishPath(st);
          endPath = true;
        }
      }
      if (!endPath && st.speculative && env.unpriv?.nospec.has(t)) {
        finishPath(st);
        endPath = true;
      }
      if (!endPath) {
        const i = code[t]!;
        logInsn(env, st, t, i);
        if (env.precision) recordInsn(st, t, i);
        const next = step(env, st, t, i, push);
        if (env.opts.checkOwnership) checkOwnership(env, st, t, stack);
        prev = t;
        if (env.unpriv) {
          for (const p of env.unpriv.pending.splice(0)) push(p.state, p.insn, t);
        }
        if (next !== -1 && st.speculative && env.unpriv?.nospecResult.has(t)) {
          finishPath(st);
          endPath = true;
        } else if (next === -1) {
          finishPath(st);
          endPath = true;
        } else {
          t = next;
          lastEnd = -2;
        }
      }
    } catch (e) {
      if (st.speculative && env.unpriv && e instanceof VerifyAbort && recoverableOnSpeculativePath(e)) {
        // 6.18 ends a speculative path at an unsafe instruction with a barrier (nospec)
        env.unpriv.nospec.add(t);
        env.unpriv.pending.length = 0;
        finishPath(st);
        endPath = true;
      } else fail(e);
    }
    if (endPath) {
      const p = stack.pop();
      if (!p) return [];
      st = p.state;
      t = p.insn;
      prev = p.prev;
      lastEnd = -1;
      if ((env.opts.logLevel ?? 1) >= 2)
        env.log.push(
          `from ${prev} to ${t}${st.speculative ? " (speculative execution)" : ""}: ${frameStr(curFrame(st))}`,
        );
    }
  }
}

/**
 * check_stack_write_fixed_off: a scalar stored at a slot-aligned stack offset whose value fits
 * the store gets an id shared with its spilled copy (assign_scalar_id_before_mov), which uses up
 * an id of the generator like the kernel does (ids appear in its messages).
 */
function assignSpillId(env: Env, dst: Reg, v: Reg, off: number, size: number): void {
  if (dst.type !== "stack" || !isConst(dst) || v.type !== "scalar" || v.id !== 0 || isConst(v)) return;
  const at = dst.off + off + Number(BigInt.asIntN(64, dst.varOff.value));
  if (at % 8 !== 0 || v.umax.toString(2).length > size * 8) return;
  v.id = ++env.idGen;
}

/** reservedFieldError of the instruction at `t`, computed once per instruction (it is checked at every visit). */
function reservedAt(env: Env, t: number, i: Instruction): string | undefined {
  const cache = env.reserved;
  let r = cache[t];
  if (r === undefined) {
    r = reservedFieldError(i) ?? null;
    cache[t] = r;
  }
  return r ?? undefined;
}

/** Access size in bytes of a load/store by its BPF_SIZE field (one array, not one per instruction). */
const SIZES: readonly number[] = [4, 2, 1, 8];

/** checkMemAccess options of a load, made once (not an object per load). */
const SIGN_EXT = Object.freeze({ signExt: true });
const ZERO_EXT = Object.freeze({ signExt: false });

/** One instruction; returns the next instruction index, or -1 when the path ends. */
function step(
  env: Env,
  st: VState,
  t: number,
  i: Instruction,
  push: (s: VState, insn: number, from: number) => void,
): number {
  const cls = i.opcode & 7;
  const reserved = i.opcode === 0x18 ? undefined : reservedAt(env, t, i);
  if (reserved) throw new VerifyAbort(t, reserved);
  switch (cls) {
    case 4:
    case 7:
      checkAlu(env, st, t, i);
      logState(env, st, i.dst);
      return t + 1;
    case 1: {
      // LDX
      checkRead(st, t, i.src);
      checkWrite(t, i.dst);
      const size = SIZES[(i.opcode >> 3) & 3]!;
      const sx = (i.opcode & 0xe0) === 0x80;
      const v = checkMemAccess(env, st, t, i.src, i.off, size, false, undefined, sx ? SIGN_EXT : ZERO_EXT)!;
      if (sx && v.type === "scalar" && isConst(v)) {
        signExtend(v, size);
      }
      setReg(st, i.dst, v);
      logState(env, st, i.dst);
      return t + 1;
    }
    case 3: {
      const size = SIZES[(i.opcode >> 3) & 3]!;
      if ((i.opcode & 0xe0) === 0xc0) {
        checkAtomic(env, st, t, i, size);
        return t + 1;
      }
      const v = checkRead(st, t, i.src);
      const ptr = checkRead(st, t, i.dst);
      if (env.unpriv) {
        unprivStore(st, t, i.dst, i.off, size, i.src);
        unprivNoteStackStore(env.unpriv, st, t, i.dst, i.off, size, i.src);
      }
      assignSpillId(env, curFrame(st).regs[i.dst]!, v, i.off, size);
      // a zero spilled to the stack makes STACK_ZERO bytes: its value matters
      if (env.precision && ptr.type === "stack" && v.type === "scalar" && isConst(v) && v.varOff.value === 0n)
        markPrecise(env.cfg.code, st, 1 << i.src);
      checkMemAccess(env, st, t, i.dst, i.off, size, true, copyReg(v));
      logState(env, st);
      return t + 1;
    }
    case 2: {
      const size = SIZES[(i.opcode >> 3) & 3]!;
      checkRead(st, t, i.dst);
      if (env.unpriv) {
        unprivStore(st, t, i.dst, i.off, size, undefined);
        unprivNoteStackStore(env.unpriv, st, t, i.dst, i.off, size, undefined);
      }
      checkMemAccess(env, st, t, i.dst, i.off, size, true, undefined, { stImm: i.imm });
      logState(env, st);
      return t + 1;
    }
    case 0: {
      if (i.opcode === 0x18) {
        checkWrite(t, i.dst);
        setReg(st, i.dst, ldImm64(env, t, i));
        logState(env, st, i.dst);
        return t + 2;
      }
      const mode = i.opcode & 0xe0;
      if (mode !== 0x20 && mode !== 0x40) throw new VerifyAbort(t, "invalid BPF_LD mode");
      if (!allowsLegacyPacketLoads(env.progType)) {
        throw new VerifyAbort(t, "BPF_LD_[ABS|IND] instructions not allowed for this program type");
      }
      if (mode === 0x40) checkRead(st, t, i.src);
      const r6 = checkRead(st, t, 6);
      const leak = resourceLeak(st, "BPF_LD_[ABS|IND]", true, curFrame(st).frameno);
      if (leak) throw new VerifyAbort(t, leak);
      if (r6.type !== "ctx") throw new VerifyAbort(t, "at the time of BPF_LD_ABS|IND R6 != pointer to skb");
      if (st.frames.length > 1)
        throw new VerifyAbort(t, "BPF_LD_[ABS|IND] cannot be used inside bpf-to-bpf calls");
      for (let r = 1; r <= 5; r++) setReg(st, r, notInit());
      const size = SIZES[(i.opcode >> 3) & 3]!;
      const r0 = unknownScalar();
      truncate(r0, size);
      setReg(st, 0, r0);
      return t + 1;
    }
    default:
      break;
  }
  // JMP / JMP32
  env.jmps++;
  const op = i.opcode & 0xf0;
  const is32 = cls === 6;
  if (op === 0x80) {
    if (isKfuncCall(i)) {
      // a kfunc under a lock: only the lock and bpf_iter_num kfuncs (res-spin-lock.ts)
      const kname = i.ref?.kind === "extern" ? i.ref.symbol : undefined;
      checkKfuncUnderLock(st, t, kname);
      const dynKfunc = dynptrKfunc(kname);
      if (dynKfunc && i.src === 2) {
        const dynEnv = {
          progType: env.progType,
          newId: () => ++env.idGen,
          writeStack: (r: number, off: number) => {
            checkMemAccess(env, st, t, r, off, 8, true, undefined);
          },
          checkBuffer: (r: number, size: number) => {
            checkHelperMem(env, st, t, r, size, size, false, false, dynKfunc);
            checkHelperMem(env, st, t, r, size, size, true, false, dynKfunc);
          },
        };
        dynptrKfuncCall(dynEnv, st, t, dynKfunc);
        logState(env, st, 0);
        return t + 1;
      }
      const resLock = resSpinLockKfunc(kname);
      const irqKfunc = localIrqKfunc(kname);
      if ((resLock || irqKfunc) && i.src === 2) {
        const irqEnv = {
          newId: () => ++env.idGen,
          writeStack: (r: number, off: number) => {
            checkMemAccess(env, st, t, r, off, 8, true, undefined);
          },
        };
        if (resLock)
          resSpinLockCall(
            irqEnv,
            st,
            t,
            resLock,
            (s) => push(s, t + 1, t),
            (s) => cloneState(s),
          );
        else localIrqCall(irqEnv, st, t, irqKfunc!);
        logState(env, st, 0);
        return t + 1;
      }
      // open-coded iterators (iter.ts) first, then the BTF kfunc table (kfunc.ts)
      const iter = iterKfuncName(i);
      if (iter) {
        const iterEnv = {
          newId: () => ++env.idGen,
          writeStack: (r: number, off: number) => {
            checkMemAccess(env, st, t, r, off, 8, true, undefined);
          },
          widen: (queued: VState) => {
            const list = (env.explored.get(t) ?? []).filter((x) => x !== st.parent);
            widenAfterCallback(env.widening, list, queued);
          },
        };
        const next = iterKfuncCall(iterEnv, st, t, iter, push);
        logState(env, st, 0);
        return next;
      }
      if (i.src !== 2) throw notModelled(t, "kfunc call");
      env.btf.kfunc(st, t, i);
      logState(env, st, 0);
      return t + 1;
    }
    if (i.src === 1) return pseudoCall(env, st, t, i, push);
    checkCallUnderLock(st, t, i.src, i.imm, false);
    return helperCall(env, st, t, i, push) ?? t + 1;
  }
  if (op === 0x90) return exitInsn(env, st, t);
  if (op === 0x00) return is32 ? t + i.imm + 1 : t + i.off + 1;
  const cop = COND_OPS[op];
  if (!cop) throw new VerifyAbort(t, `invalid BPF_JMP/JMP32 opcode ${hex(i.opcode)}`);
  const x = (i.opcode & 8) !== 0;
  const a = checkRead(st, t, i.dst);
  const b = x ? checkRead(st, t, i.src) : constScalar(is32 ? BigInt(i.imm >>> 0) : BigInt(i.imm));
  const target = t + i.off + 1;
  // the condition's text is built only if the trace is printed, from copies taken now (the
  // registers are refined below)
  const cond = new BranchCond(i, cop, condOperand(a), x ? condOperand(b) : undefined);
  // pointer comparisons
  if (isPointer(a) || isPointer(b)) {
    if (env.unpriv) unprivCompareSrc(t, i, a, b);
    const pa = isPointer(a);
    const pb = isPointer(b);
    if (pa !== pb && (cop === "jeq" || cop === "jne")) {
      const p = pa ? a : b;
      const s = pa ? b : a;
      const zero = is32 ? s.u32min === 0n && s.u32max === 0n : isConst(s) && s.varOff.value === 0n;
      if (zero) {
        // reg_not_null: not stack, context or packet pointers; a BTF pointer only when trusted
        // (or referenced)
        const notNull =
          NOT_NULL_TYPES.has(p.type) || (p.type === "btf_id" && (p.btfFlag === "trusted" || !!p.refObjId));
        if (!p.maybeNull && notNull) {
          if (env.precision && (pb || x)) markPrecise(env.cfg.code, st, pa ? 1 << i.src : 1 << i.dst);
          const taken = cop === "jne";
          if (env.unpriv)
            push(speculativeBranch(st, cloneState, i, unknownScalar), taken ? t + 1 : target, t);
          st.trace.push(new BranchTrace(t, cond, `-> ${taken ? "always taken" : "never taken"}`));
          return taken ? target : t + 1;
        }
      }
      // mark_ptr_or_null_regs: only a maybe-NULL destination compared with the constant 0 in the
      // instruction (not a register holding 0) is a NULL check
      if (!is32 && !x && zero && pa && p.maybeNull) {
        const other = cloneState(st);
        const id = p.id;
        markPtrOrNull(other, id, cop === "jeq", t);
        markPtrOrNull(st, id, cop !== "jeq", t);
        other.trace.push(new BranchTrace(t, cond, "taken"));
        st.trace.push(new BranchTrace(t, cond, "not taken"));
        push(other, target, t);
        return t + 1;
      }
    }
    if (p_or_null(a) || p_or_null(b)) {
      // comparing a maybe-NULL pointer with anything else teaches nothing; both paths
    }
    if (
      env.unpriv &&
      !(pa && pb && (isPkt(a.type) || a.type === "pkt_end") && (isPkt(b.type) || b.type === "pkt_end"))
    )
      unprivCompareDst(t, i, a);
    const other = cloneState(st);
    if (pa && pb) pktCompare(st, other, a, b, cop, i.dst, x ? i.src : -1, is32);
    other.trace.push(new BranchTrace(t, cond, "taken"));
    st.trace.push(new BranchTrace(t, cond, "not taken"));
    push(other, target, t);
    return t + 1;
  }
  const taken = scalarBranchTaken(a, b, cop, is32);
  if (taken !== -1) {
    markOriginPrecise(env.widening, a);
    if (x) markOriginPrecise(env.widening, b);
  }
  if (taken !== -1 && env.precision) markPrecise(env.cfg.code, st, (1 << i.dst) | (x ? 1 << i.src : 0));
  if (taken === 1) {
    if (env.unpriv) push(speculativeBranch(st, cloneState, i, unknownScalar), t + 1, t);
    st.trace.push(new BranchTrace(t, cond, "-> always taken"));
    return target;
  }
  if (taken === 0) {
    if (env.unpriv) push(speculativeBranch(st, cloneState, i, unknownScalar), target, t);
    st.trace.push(new BranchTrace(t, cond, "-> never taken"));
    return t + 1;
  }
  const other = cloneState(st);
  // taken side
  {
    const ra = curFrame(other).regs[i.dst]!;
    const rb = x ? curFrame(other).regs[i.src]! : copyReg(b);
    refine(ra, rb, cop, is32, false);
    unboundIfEmpty(ra);
    unboundIfEmpty(rb);
    syncLinked(other, i.dst);
    if (x) syncLinked(other, i.src);
    other.trace.push(new BranchTrace(t, cond, "taken"));
    push(other, target, t);
  }
  const ra = curFrame(st).regs[i.dst]!;
  // the immediate's register is fresh and the taken side refined a copy of it
  const rb = x ? curFrame(st).regs[i.src]! : b;
  refine(ra, rb, cop, is32, true);
  unboundIfEmpty(ra);
  unboundIfEmpty(rb);
  syncLinked(st, i.dst);
  if (x) syncLinked(st, i.src);
  st.trace.push(new BranchTrace(t, cond, "not taken"));
  return t + 1;
}

/**
 * A refinement that contradicts itself means the branch cannot happen, but the 6.18 kernel does
 * not prune it: reg_bounds_sanity_check marks the register's bounds unbounded and goes on (so
 * must we, or we would accept what the kernel rejects on that path).
 */
function unboundIfEmpty(r: Reg): void {
  if (!boundsEmpty(r)) return;
  markUnbounded(r);
}

const p_or_null = (r: Reg): boolean => r.maybeNull;
/** reg_not_null's types: compared with 0 the branch is known (other pointers: both ways). */
const NOT_NULL_TYPES: ReadonlySet<RegType> = new Set([
  "map_value",
  "map_key",
  "sock",
  "tcp_sock",
  "sock_common",
  "mem",
  "map_ptr",
]);
const hex = (n: number): string => n.toString(16).padStart(2, "0");

/**
 * The `.kconfig` map's bytes as libbpf fills them on this host (kernel version, CONFIG_ values
 * from /proc/config.gz, libbpf's feature externs): the kernel sees a frozen read-only map, so
 * its reads are constants. Without the host's config the values are unknown scalars.
 */
function kconfigValues(obj: ObjectSpec, map: MapSpec): Uint8Array | undefined {
  const cached = KCONFIG_CACHE.get(obj);
  if (cached !== undefined) return cached ?? undefined;
  let data: Uint8Array | null = null;
  if (obj.btf) {
    try {
      const bytes = new Uint8Array(map.valueSize);
      fillKconfig(obj.btf, obj.externs, bytes);
      data = bytes;
    } catch {
      data = null;
    }
  }
  KCONFIG_CACHE.set(obj, data);
  return data ?? undefined;
}
const KCONFIG_CACHE = new WeakMap<ObjectSpec, Uint8Array | null>();

const ksymEnv = (env: { readonly opts: VerifyOptions }): KsymEnv => ({
  btf: kernelBtf(env.opts.btf).btf,
  btfPath: env.opts.btf,
  ...(env.opts.kallsyms ? { kallsyms: env.opts.kallsyms } : {}),
  ...(env.opts.unprivileged ? { unprivileged: true } : {}),
});

/** The typed ksyms (kernel BTF VAR, or FUNC for a function) of an object, by name. */
function typedKsyms(env: { readonly opts: VerifyOptions; readonly obj: ObjectSpec }) {
  return (name: string): { isFunction: boolean } | undefined => {
    const ext = env.obj.externs.find((e) => e.name === name);
    if (ext?.kind !== "ksym") return undefined;
    const kind = ext.isFunction ? "FUNC" : "VAR";
    return kernelBtf(env.opts.btf).btf.findByName(name, kind) ? { isFunction: ext.isFunction } : undefined;
  };
}

/**
 * A `__ksym` variable without a kernel BTF VAR of its name: libbpf loads its /proc/kallsyms
 * address as a plain constant (0 for a missing weak one). Where the address is hidden from us
 * (no CAP_SYSLOG), it is some unknown scalar; a typed ksym (BTF VAR) is not modelled.
 */
function typelessKsym(env: Env, t: number, ext: ExternSpec): Reg {
  if (kernelBtf(env.opts.btf).btf.findByName(ext.name, "VAR") !== undefined)
    return typedKsymReg(ksymEnv(env), t, ext.name, false);
  const k = kallsymsLookup(ext.name);
  if (k.address !== undefined) return constScalar(k.address);
  if (!k.present) {
    if (ext.weak) return constScalar(0n);
    throw notModelled(t, `extern ${ext.name} (not in /proc/kallsyms: the load fails before the verifier)`);
  }
  return unknownScalar();
}

function ldImm64(env: Env, t: number, i: Instruction): Reg {
  const r = i.ref;
  if (r && i.src !== 4) {
    if (r.kind === "map") {
      const map = env.obj.maps.find((m) => m.name === r.map);
      if (!map) throw new VerifyAbort(t, `fd ${i.imm} is not pointing to valid bpf_map`);
      return pointer("map_ptr", { map });
    }
    if (r.kind === "mapValue") {
      const map = env.obj.maps.find((m) => m.name === r.map);
      if (!map) throw new VerifyAbort(t, `fd ${i.imm} is not pointing to valid bpf_map`);
      if (r.offset >= map.valueSize) {
        throw new VerifyAbort(
          t,
          `invalid access to map value pointer, value_size=${map.valueSize} off=${r.offset}`,
        );
      }
      return pointer("map_value", { map, off: r.offset });
    }
    if (r.kind === "extern") {
      // a kconfig extern is a value in the .kconfig map (as libbpf patches it: src 2, offset)
      const ext = env.obj.externs.find((e) => e.name === r.symbol);
      const map = env.obj.maps.find((m) => m.origin === "kconfig");
      if (ext?.kind === "ksym" && !ext.isFunction) return typelessKsym(env, t, ext);
      // bpf_ksym_exists() on a weak kfunc missing from the kernel: libbpf loads 0
      if (ext?.kind === "ksym" && ext.weak && !kernelBtf(env.opts.btf).btf.findByName(ext.name, "FUNC"))
        return constScalar(0n);
      if (ext?.kind === "ksym") return typedKsymReg(ksymEnv(env), t, ext.name, true);
      if (ext?.kind !== "kconfig" || ext.offset < 0 || !map) throw notModelled(t, `extern ${r.symbol}`);
      return pointer("map_value", { map, off: ext.offset });
    }
  }
  switch (i.src) {
    case 0:
      return constScalar(imm64(i));
    case 1:
    case 5: {
      const ref = i.ref;
      const map =
        ref && (ref.kind === "map" || ref.kind === "mapValue")
          ? env.obj.maps.find((m) => m.name === ref.map)
          : undefined;
      if (!map) throw new VerifyAbort(t, `fd ${i.imm} is not pointing to valid bpf_map`);
      return pointer("map_ptr", { map });
    }
    case 2:
    case 6: {
      const ref = i.ref;
      if (ref?.kind !== "mapValue") throw notModelled(t, "ld_imm64 map value without a relocation");
      const map = env.obj.maps.find((m) => m.name === ref.map);
      if (!map) throw new VerifyAbort(t, `fd ${i.imm} is not pointing to valid bpf_map`);
      const off = ref.offset;
      if (off >= map.valueSize) {
        throw new VerifyAbort(
          t,
          `invalid access to map value pointer, value_size=${map.valueSize} off=${off}`,
        );
      }
      return pointer("map_value", { map, off });
    }
    case 4: {
      const target = t + i.imm + 1;
      // check_ld_imm: a callback must be a static function known to BTF func_info
      if (env.prog.funcInfo.length === 0) throw new VerifyAbort(t, "missing btf func_info");
      if (globalSubprog(env, target) !== undefined) throw new VerifyAbort(t, "callback function not static");
      return pointer("func", { subprog: target });
    }
    default:
      throw notModelled(t, `ld_imm64 src ${i.src}`);
  }
}

function checkAtomic(env: Env, st: VState, t: number, i: Instruction, size: number): void {
  if (size !== 4 && size !== 8) throw new VerifyAbort(t, "invalid atomic operand size");
  const okOps = [0x00, 0x40, 0x50, 0xa0, 0x01, 0x41, 0x51, 0xa1, 0xe1, 0xf1];
  if (!okOps.includes(i.imm)) throw new VerifyAbort(t, `BPF_ATOMIC uses invalid atomic opcode ${hex(i.imm)}`);
  checkRead(st, t, i.src);
  checkRead(st, t, i.dst);
  if (i.imm === 0xf1) checkRead(st, t, 0);
  const v = curFrame(st).regs[i.src]!;
  const d = curFrame(st).regs[i.dst]!;
  if (env.unpriv) unprivAtomic(st, t, i, size);
  if (
    d.type === "ctx" ||
    isPkt(d.type) ||
    d.type === "flow_keys" ||
    d.type === "sock" ||
    d.type === "sock_common" ||
    d.type === "tcp_sock" ||
    d.type === "xdp_sock"
  ) {
    throw new VerifyAbort(t, `BPF_ATOMIC stores into R${i.dst} ${regTypeStr(d)} is not allowed`);
  }
  if (isPointer(v)) throw notModelled(t, "atomic operation with a pointer operand");
  if (d.type !== "stack" && !d.maybeNull) {
    // atomics are always strictly aligned (strict_alignment_once)
    const at = tnumAdd(d.varOff, tnumConst(BigInt(d.off + i.off)));
    if (!tnumIsAligned(at, size)) {
      const desc = d.type === "map_value" ? "value " : d.type === "map_key" ? "key " : "";
      const vo = isConst(d) ? BigInt.asIntN(64, d.varOff.value).toString() : tnumStr(d.varOff);
      throw new VerifyAbort(t, `misaligned ${desc}access off ${vo}+${d.off}+${i.off} size ${size}`);
    }
  }
  checkMemAccess(env, st, t, i.dst, i.off, size, false, undefined, { isAtomic: true });
  checkMemAccess(env, st, t, i.dst, i.off, size, true, unknownScalar(), { isAtomic: true });
  const fetch = (i.imm & 1) !== 0;
  if (fetch) {
    const r = unknownScalar();
    truncate(r, size);
    setReg(st, i.imm === 0xf1 ? 0 : i.src, r);
  }
}

// --------------------------------------------------------------------------------- calls

/**
 * The global function starting at slot `target`, if it is one: the kernel goes by the BTF
 * linkage of its func_info (BTF_FUNC_GLOBAL); without BTF func_info every subprogram is static.
 */
function globalSubprog(env: Env, target: number): string | undefined {
  const fi = env.prog.funcInfo.find((f) => f.insn === target);
  const btf = env.obj.btf;
  if (!fi || !btf || target === 0) return undefined;
  const fn = btf.typeById(fi.typeId);
  return fn.kind === "FUNC" && fn.linkage === 1 ? fn.name : undefined;
}

function pseudoCall(
  env: Env,
  st: VState,
  t: number,
  i: Instruction,
  push: (s: VState, insn: number, from: number) => void,
): number {
  void push;
  if (st.frames.length >= MAX_CALL_FRAMES) {
    throw new VerifyAbort(t, `the call stack of ${st.frames.length + 1} frames is too deep`);
  }
  const target = t + i.imm + 1;
  const caller = curFrame(st);
  const callee = newFrame(st.frames.length, t, target);
  const global = globalSubprog(env, target);
  if (global !== undefined) {
    // The kernel verifies a global function on its own, from its BTF prototype
    // (btf_prepare_func_args); the caller only has to pass matching arguments
    // (btf_check_subprog_call). The callee is verified later from exactly that assumed state.
    if (st.rcuLocks) throw notModelled(t, "global function calls inside bpf_rcu_read_lock");
    // a global function that may sleep is refused there (might_sleep is not tracked)
    if (activeIrq(st) && env.prog.sleepable)
      throw notModelled(t, "global function calls with interrupts disabled in a sleepable program");
    const fi = env.prog.funcInfo.find((f) => f.insn === target);
    if (!env.obj.btf || !fi) throw notModelled(t, `global function ${global}() without BTF func_info`);
    const funcIdx = env.cfg.subprogs.indexOf(target);
    const kernel = () => kernelBtf(env.opts.btf).btf;
    const at = env.expectedAttachType;
    const args = globalArgs(env.obj.btf, fi.typeId, env.progType, t, global, funcIdx, kernel, at);
    try {
      checkGlobalCall(env, st, t, args, funcIdx, global, kernel);
    } catch (e) {
      // btf_check_subprog_call logs the argument mismatch, then check_func_call refuses the
      // call: first for a held lock, else for the arguments
      const lock = lockedGlobalCall(st);
      if (!lock || !(e instanceof VerifyAbort) || !e.kernelWording) throw e;
      const logged = e.message.split("\n").slice(0, -1).join("\n");
      throw new VerifyAbort(e.insn, `${logged}\n${lock}`);
    }
    if ((env.opts.logLevel ?? 1) >= 1)
      env.log.push(`Func#${funcIdx} ('${global}') is global and assumed valid.`);
    // check_func_call: a callee that may change packet data invalidates packet pointers
    if (changesPktData(env.cfg.code, env.cfg.subprogs, target, changesPacket))
      forEachReg(st, (r, set) => {
        if (isPkt(r.type) || r.type === "pkt_end" || isPacketSlice(r)) set(unknownScalar());
      });
    for (let r = 1; r <= 5; r++) callee.regs[r] = notInit();
    args.forEach((a, k) => {
      callee.regs[k + 1] = calleeArgReg(a, () => ++env.idGen);
    });
    checkCallUnderLock(st, t, i.src, i.imm, true);
    // The callee is verified on its own later; here the call only clobbers R1-R5 and leaves an
    // unknown scalar in R0.
    if (!env.globals.has(target)) env.globals.set(target, callee.regs);
    for (let r = 1; r <= 5; r++) caller.regs[r] = notInit();
    caller.regs[0] = unknownScalar();
    st.trace.push(`${t}: call global ${global}()`);
    return t + 1;
  } else for (let r = 1; r <= 5; r++) callee.regs[r] = copyReg(caller.regs[r]!);
  st.frames.push(callee);
  st.trace.push(`${t}: call subprog at ${target}`);
  return target;
}

function exitInsn(env: Env, st: VState, t: number): number {
  const f = curFrame(st);
  if (st.frames.length > 1 && f.isCallback) {
    const r0 = f.regs[0]!;
    if (r0.type === "stack" && r0.frameno === f.frameno) {
      throw new VerifyAbort(t, "cannot return stack pointer to the caller frame");
    }
    markOriginPrecise(env.widening, r0);
    const callsite = callbackExit(st, t, (r, lo, hi) => invalidScalar("At callback return", r, lo, hi));
    widenAfterCallback(env.widening, env.explored.get(callsite), st);
    return callsite;
  }
  if (st.frames.length > 1) {
    // A static subprogram may return with R0 unset (prepare_func_exit copies it as it is, e.g.
    // after a tail call): only callbacks and global functions must return a value.
    const mustReturn = f.isCallback;
    const r0 = mustReturn ? checkRead(st, t, 0) : curFrame(st).regs[0]!;
    if (f.isCallback) {
      const [lo, hi] = f.callbackRet ?? [0, 1];
      if (r0.type !== "scalar") {
        throw new VerifyAbort(
          t,
          `At callback return the register R0 is not a known value (${regTypeStr(r0)})`,
        );
      }
      if (r0.smin < BigInt(lo) || r0.smax > BigInt(hi)) {
        throw new VerifyAbort(t, invalidScalar("At callback return", r0, lo, hi));
      }
    }
    if (r0.type === "stack" && r0.frameno === f.frameno) {
      throw new VerifyAbort(t, "cannot return stack pointer to the caller frame");
    }
    // the kernel goes back to the callback-calling instruction, a helper call
    if (f.isCallback) checkCallUnderLock(st, f.callsite, 0, -1, false);
    st.frames.pop();
    const caller = curFrame(st);
    for (let r = 1; r <= 5; r++) caller.regs[r] = notInit();
    caller.regs[0] = f.isCallback ? unknownScalar() : copyReg(r0);
    return f.callsite + 1;
  }
  // frame 0: the main program, a global function or an async callback (check_resource_leak)
  const leak = resourceLeak(st, "BPF_EXIT instruction in main prog", true, 0);
  if (leak) throw new VerifyAbort(t, leak);
  env.btf.exitCheck(st, t);
  if (f.isAsync) {
    const r0 = checkRead(st, t, 0);
    const [lo, hi] = f.callbackRet ?? [0, 0];
    if (r0.type !== "scalar") {
      throw new VerifyAbort(
        t,
        `At async callback return the register R0 is not a known value (${regTypeStr(r0)})`,
      );
    }
    if (r0.smin < BigInt(lo) || r0.smax > BigInt(hi))
      throw new VerifyAbort(t, invalidScalar("At async callback return", r0, lo, hi));
    return -1;
  }
  if (f.subprog !== 0) {
    // exit of a global function verified on its own (check_return_code for a subprogram)
    const r0 = checkRead(st, t, 0);
    if (r0.type !== "scalar") {
      throw new VerifyAbort(
        t,
        `At subprogram exit the register R0 is not a scalar value (${regTypeStr(r0)})`,
      );
    }
    return -1;
  }
  // main program exit
  const rule = returnRule(env.progType, {
    ...(env.expectedAttachType ? { expectedAttachType: env.expectedAttachType } : {}),
    ...env.btf.returnRuleOptions(),
  });
  if (rule.kind === "unchecked") return -1; // lsm on a void hook: R0 is not even read
  const r0 = checkRead(st, t, 0);
  if (env.unpriv) unprivReturn(t, r0);
  if (rule.kind === "range") {
    markOriginPrecise(env.widening, r0);
    if (env.precision) markPrecise(env.cfg.code, st, 1);
    if (r0.type !== "scalar") {
      throw new VerifyAbort(t, `At program exit the register R0 is not a known value (${regTypeStr(r0)})`);
    }
    const [lo, hi] = rule.subreg ? [r0.s32min, r0.s32max] : [r0.smin, r0.smax];
    if (lo < BigInt(rule.min) || hi > BigInt(rule.max)) {
      const msg = invalidScalar("At program exit", r0, rule.min, rule.max);
      throw new VerifyAbort(t, rule.note ? `${msg}\n${rule.note}` : msg);
    }
  } else if (rule.kind !== "any") {
    throw notModelled(t, `return value rule '${rule.kind}'`);
  }
  return -1;
}

function invalidScalar(ctx: string, r: Reg, lo: number, hi: number): string {
  let s = `${ctx} the register R0 has`;
  let unknown = true;
  if (r.smin > S64_MIN) {
    s += ` smin=${r.smin}`;
    unknown = false;
  }
  if (r.smax < (1n << 63n) - 1n) {
    s += ` smax=${r.smax}`;
    unknown = false;
  }
  if (unknown) s += " unknown scalar value";
  return `${s} should have been in [${lo}, ${hi}]`;
}

/** check_reg_type for a helper argument: the register's type is the one the prototype asks for. */
function expectArg(ok: boolean, t: number, regno: number, reg: Reg, expected: string): void {
  if (!ok) throw new VerifyAbort(t, `R${regno} type=${regTypeStr(reg)} expected=${expected}`);
}

function helperCall(
  env: Env,
  st: VState,
  t: number,
  i: Instruction,
  push: (s: VState, insn: number, from: number) => void,
): number | undefined {
  const h = helperById(i.imm);
  if (!h?.proto || i.imm <= 0) throw new VerifyAbort(t, HELPER_CALL_MESSAGES.invalid(i.imm));
  const avail =
    env.btf.helperAvailable(h.name, t) ??
    (env.unpriv
      ? unprivHelperAvailable(h, env.progType, env.expectedAttachType)
      : isHelperAvailable(h, env.progType, env.expectedAttachType));
  if (avail === false) throw new VerifyAbort(t, HELPER_CALL_MESSAGES.unavailable(h));
  if (avail === undefined) throw notModelled(t, `helper availability for program type ${env.progType}`);
  const protos = protosForProgType(h, env.progType);
  const proto = protos && protos.length === 1 ? protos[0]! : h.proto;
  if (protos && protos.length > 1) {
    const same = protos.every(
      (p) =>
        JSON.stringify(p.args) === JSON.stringify(protos[0]!.args) &&
        JSON.stringify(p.ret) === JSON.stringify(protos[0]!.ret),
    );
    if (!same) throw notModelled(t, `${h.name} (its prototype depends on the attach type)`);
  }
  if (proto.gplOnly && !isGplCompatible(env.prog.license))
    throw new VerifyAbort(t, HELPER_CALL_MESSAGES.gplOnly());
  if (proto.allowed) {
    const allowed = env.btf.helperAllowed(proto.allowed);
    if (allowed === undefined) throw notModelled(t, `${h.name} (${proto.allowed})`);
    if (!allowed) throw new VerifyAbort(t, HELPER_CALL_MESSAGES.notAllowed());
  }
  if (proto.mightSleep && !env.prog.sleepable) throw new VerifyAbort(t, HELPER_CALL_MESSAGES.mightSleep());
  if (proto.mightSleep && st.rcuLocks)
    throw notModelled(t, `sleepable helper ${h.name} in an RCU read section`);
  if (proto.mightSleep && activeIrq(st))
    throw new VerifyAbort(t, `sleepable helper ${h.name}#${h.id} in IRQ-disabled region`);
  const frame = curFrame(st);
  let map = undefined as Reg["map"];
  let releaseRef = 0;
  let allocSize = 0;
  let callback = -1;
  let constKey: bigint | undefined;
  /** meta->ref_obj_id: the reference a socket argument carries (for release and pointer casts). */
  let argRef = 0;
  let releaseArg = false;
  /** meta->map_ptr set by a timer argument. */
  let timerMap: Reg["map"];
  let dynptrReg: Reg | undefined;
  /** meta->ret_btf_id from an ARG_PTR_TO_PERCPU_BTF_ID argument (ksym.ts). */
  let percpuBtfId = 0;
  const args = proto.args;
  for (let k = 0; k < args.length; k++) {
    const a = args[k]!;
    const regno = k + 1;
    if (a.base === "ARG_DONTCARE" || a.base === "") continue;
    const reg = checkRead(st, t, regno);
    const maybeNull = a.flags.includes("PTR_MAYBE_NULL");
    const isNullScalar = reg.type === "scalar" && isConst(reg) && reg.varOff.value === 0n;
    if (isPkt(reg.type) && !proto.pktAccess && a.base !== "ARG_ANYTHING") {
      throw new VerifyAbort(t, HELPER_CALL_MESSAGES.packetAccess());
    }
    switch (a.base) {
      case "ARG_ANYTHING":
        if (env.unpriv) unprivArgAnything(t, regno, reg);
        break;
      case "ARG_CONST_MAP_PTR":
        expectArg(reg.type === "map_ptr", t, regno, reg, "map_ptr");
        if (timerMap) checkTimerMap(t, timerMap, reg);
        map = reg.map;
        if (h.name === "bpf_tail_call" && map?.type !== 3) {
          throw new VerifyAbort(t, "expected prog array map for tail call");
        }
        break;
      case "ARG_PTR_TO_MAP_KEY":
      case "ARG_PTR_TO_MAP_VALUE": {
        if (maybeNull && isNullScalar) break;
        memArgType(t, regno, reg, false);
        if (!map)
          throw new VerifyAbort(
            t,
            `invalid map_ptr to access map->${a.base === "ARG_PTR_TO_MAP_KEY" ? "key" : "value"}`,
          );
        const sz = a.base === "ARG_PTR_TO_MAP_KEY" ? map.keySize : map.valueSize;
        if (sz === 0 && reg.type === "stack") throw new VerifyAbort(t, "invalid zero-sized read");
        // get_constant_map_key needs CAP_BPF: unprivileged lookups stay maybe-NULL
        if (a.base === "ARG_PTR_TO_MAP_KEY" && !env.unpriv) constKey = constantMapKey(st, reg, sz);
        checkHelperMem(
          env,
          st,
          t,
          regno,
          sz,
          sz,
          a.flags.includes("MEM_UNINIT"),
          a.flags.includes("MEM_UNINIT"),
          h.name,
        );
        break;
      }
      case "ARG_PTR_TO_MEM": {
        if (maybeNull && isNullScalar) break;
        memArgType(t, regno, reg, a.flags.includes("MEM_RDONLY"));
        if (a.flags.includes("MEM_FIXED_SIZE")) {
          const sz = a.size ?? 0;
          checkHelperMem(
            env,
            st,
            t,
            regno,
            sz,
            sz,
            a.flags.includes("MEM_WRITE") || a.flags.includes("MEM_UNINIT"),
            a.flags.includes("MEM_UNINIT"),
            h.name,
          );
        }
        break;
      }
      case "ARG_CONST_SIZE":
      case "ARG_CONST_SIZE_OR_ZERO": {
        expectArg(reg.type === "scalar", t, regno, reg, "scalar");
        markOriginPrecise(env.widening, reg);
        const prevArg = args[k - 1]!;
        const memReg = frame.regs[regno - 1]!;
        const zeroOk = a.base === "ARG_CONST_SIZE_OR_ZERO";
        if (reg.smin < 0n) {
          throw new VerifyAbort(t, `R${regno} min value is negative, either use unsigned or 'var &= const'`);
        }
        if (reg.umin === 0n && !zeroOk) {
          throw new VerifyAbort(t, `R${regno} invalid zero-sized read: u64=[${reg.umin},${reg.umax}]`);
        }
        if (reg.umax >= BigInt(BPF_MAX_VAR_OFF)) {
          throw new VerifyAbort(
            t,
            `R${regno} unbounded memory access, use 'var &= const' or 'if (var < const)'`,
          );
        }
        const nullMem =
          prevArg.flags.includes("PTR_MAYBE_NULL") &&
          memReg.type === "scalar" &&
          isConst(memReg) &&
          memReg.varOff.value === 0n;
        if (!nullMem && reg.umax > 0n) {
          checkHelperMem(
            env,
            st,
            t,
            regno - 1,
            Number(reg.umin),
            Number(reg.umax),
            prevArg.flags.includes("MEM_WRITE") || prevArg.flags.includes("MEM_UNINIT"),
            prevArg.flags.includes("MEM_UNINIT"),
            h.name,
          );
        }
        break;
      }
      case "ARG_CONST_ALLOC_SIZE_OR_ZERO":
        expectArg(reg.type === "scalar", t, regno, reg, "scalar");
        if (!isConst(reg)) throw new VerifyAbort(t, `R${regno} is not a known constant'`);
        allocSize = Number(reg.varOff.value);
        markOriginPrecise(env.widening, reg);
        break;
      case "ARG_PTR_TO_CTX":
        if (maybeNull && isNullScalar) break;
        expectArg(reg.type === "ctx", t, regno, reg, "ctx");
        if (reg.off !== 0 || !isConst(reg) || reg.varOff.value !== 0n) {
          throw new VerifyAbort(t, `dereference of modified ctx ptr R${regno} off=${reg.off} disallowed`);
        }
        break;
      case "ARG_PTR_TO_STACK":
        if (maybeNull && isNullScalar) break;
        expectArg(reg.type === "stack", t, regno, reg, "fp");
        break;
      case "ARG_PTR_TO_RINGBUF_MEM":
        expectArg(reg.type === "mem" && reg.ringbuf && !reg.maybeNull, t, regno, reg, "ringbuf_mem");
        if (a.flags.includes("OBJ_RELEASE")) {
          if (!reg.refObjId)
            throw new VerifyAbort(t, `R${regno} must be referenced when passed to release function`);
          if (reg.off !== 0 || !isConst(reg) || reg.varOff.value !== 0n) {
            throw new VerifyAbort(
              t,
              `R${regno} must have zero offset when passed to release func or trusted arg to kfunc`,
            );
          }
          releaseRef = reg.refObjId;
        }
        break;
      case "ARG_PTR_TO_DYNPTR": {
        const dynEnv = {
          newId: () => ++env.idGen,
          writeStack: (r: number, off: number) => {
            checkMemAccess(env, st, t, r, off, 8, true, undefined);
          },
        };
        const rel = dynptrArg(dynEnv, st, t, regno, a.flags);
        if (rel) releaseRef = rel;
        dynptrReg = dynptrSlotReg(st, reg);
        break;
      }
      case "ARG_PTR_TO_FUNC":
        expectArg(reg.type === "func", t, regno, reg, "func");
        callback = reg.subprog;
        break;
      case "ARG_PTR_TO_BTF_ID":
        env.btf.helperArg(t, regno, reg, a, h.name);
        break;
      case "ARG_PTR_TO_PERCPU_BTF_ID":
        percpuBtfId = percpuBtfArg(t, regno, reg).btfId;
        break;
      case "ARG_PTR_TO_SOCK_COMMON":
      case "ARG_PTR_TO_BTF_ID_SOCK_COMMON":
      case "ARG_PTR_TO_SOCKET":
        if (a.base === "ARG_PTR_TO_BTF_ID_SOCK_COMMON" && reg.type === "btf_id") {
          env.btf.helperArg(t, regno, reg, { ...a, btfType: "struct sock_common" }, h.name, true);
          break;
        }
        if (maybeNull && isNullScalar) break;
        argRef = checkSockArg(t, regno, reg, a) || argRef;
        if (a.flags.includes("OBJ_RELEASE")) releaseArg = true;
        break;
      case "ARG_PTR_TO_SPIN_LOCK":
        processSpinLock(st, t, regno, reg, h.name === "bpf_spin_lock");
        break;
      case "ARG_PTR_TO_TIMER":
        timerMap = processTimerArg(t, regno, reg);
        map = timerMap;
        break;
      default:
        throw notModelled(t, `${h.name} argument kind ${a.base}`);
    }
  }
  if (env.precision) {
    // every scalar argument whose value a check used (sizes, NULL, constants; more than the
    // kernel marks, which only prunes less), the tail call index, a constant map key's slot
    let mask = h.name === "bpf_tail_call" ? 1 << 3 : 0;
    for (let k = 0; k < args.length; k++) {
      const b = args[k]!.base;
      if (b !== "ARG_ANYTHING" && b !== "ARG_DONTCARE" && b !== "") mask |= 1 << (k + 1);
    }
    markPrecise(env.cfg.code, st, mask, constKey === undefined ? [] : constKeySlots(args, frame.regs));
  }
  if (map) {
    const mt = mapTypeById(map.type)?.name ?? map.typeName;
    if (!mapHelperCompatible(mt, h.name))
      throw new VerifyAbort(t, `cannot pass map_type ${map.type} into func ${h.name}#${h.id}`);
  }
  if (callback >= 0 && h.name === "bpf_timer_set_callback" && timerMap) {
    // an async callback: verified later as a program of its own (push_async_cb)
    env.asyncCallbacks.add(callback);
    push(timerCallbackState(timerMap, callback), callback, t);
  } else if (callback >= 0) {
    // bpf_loop and bpf_for_each_map_elem: the callback runs in its own frame, iterated (callbacks.ts)
    if (h.name === "bpf_loop") markOriginPrecise(env.widening, frame.regs[1]);
    callbackCall(st, t, h.name, callback, map, push, () => ++env.idGen);
  }
  if (h.name === "bpf_dynptr_from_mem" && frame.regs[1]!.type !== "map_value") {
    throw new VerifyAbort(
      t,
      `Unsupported reg type ${regTypeStr(frame.regs[1]!)} for bpf_dynptr_from_mem data`,
    );
  }
  if (releaseArg && argRef) releaseRef = argRef;
  if (releaseRef) {
    releaseDynptrSlots(st, releaseRef);
    if (!releaseRef_(st, releaseRef))
      throw new VerifyAbort(t, `func ${h.name}#${h.id} reference has not been acquired before`);
  }
  if (h.name === "bpf_tail_call") {
    const leak = resourceLeak(st, "tail_call", true, frame.frameno);
    if (leak) throw new VerifyAbort(t, leak);
  }
  for (let r = 0; r <= 5; r++) frame.regs[r] = notInit();
  const ret = proto.ret;
  const retNull = ret.flags.includes("PTR_MAYBE_NULL");
  switch (ret.base) {
    case "RET_INTEGER":
      frame.regs[0] = unknownScalar();
      break;
    case "RET_VOID":
      frame.regs[0] = notInit();
      break;
    case "RET_PTR_TO_MAP_VALUE": {
      if (!map) throw new VerifyAbort(t, "kernel subsystem misconfigured verifier");
      const mt = mapTypeById(map.type)?.name ?? "";
      if (["devmap", "devmap_hash"].includes(mt)) {
        throw notModelled(t, `lookups in ${mt}`);
      }
      // can_elide_value_nullness: a constant in-range key into an array cannot miss
      const elide =
        h.name === "bpf_map_lookup_elem" &&
        (map.type === 2 || map.type === 6) &&
        constKey !== undefined &&
        constKey < BigInt(map.maxEntries);
      const maybe = retNull && !elide;
      frame.regs[0] = pointer("map_value", { map, maybeNull: maybe, id: maybe ? ++env.idGen : 0 });
      // a non-NULL value holding a spin lock still gets an id, for the lock's identity
      if (!maybe && mayPointToSpinLock(frame.regs[0])) frame.regs[0].id = ++env.idGen;
      // a socket looked up in a sockmap/sockhash is a new reference (is_acquire_function)
      if (h.name === "bpf_map_lookup_elem" && acquiresFromMap(map)) {
        const id = ++env.idGen;
        acquireRef(st, id, t);
        frame.regs[0].id = id;
        frame.regs[0].refObjId = id;
      }
      break;
    }
    case "RET_PTR_TO_SOCKET":
    case "RET_PTR_TO_SOCK_COMMON":
    case "RET_PTR_TO_TCP_SOCK":
      frame.regs[0] = sockReturn(st, t, h.name, ret.base, retNull, argRef, () => ++env.idGen);
      break;
    case "RET_PTR_TO_MEM": {
      if (h.name === "bpf_dynptr_data" && dynptrReg) {
        frame.regs[0] = dynptrSlice(dynptrReg, allocSize, ++env.idGen);
        break;
      }
      if (!ret.flags.includes("MEM_RINGBUF")) throw notModelled(t, `${h.name} return type`);
      if (retNull) ++env.idGen;
      const id = ++env.idGen;
      acquireRef(st, id, t);
      frame.regs[0] = pointer("mem", {
        ringbuf: true,
        maybeNull: retNull,
        id,
        refObjId: id,
        memSize: allocSize,
      });
      break;
    }
    case "RET_PTR_TO_MEM_OR_BTF_ID":
      frame.regs[0] = percpuBtfRet(kernelBtf(env.opts.btf).btf, t, percpuBtfId, retNull, () => ++env.idGen);
      break;
    case "RET_PTR_TO_BTF_ID":
      frame.regs[0] = env.btf.helperRet(t, ret, proto.retBtfType, h.name);
      break;
    default:
      throw notModelled(t, `${h.name} return type ${ret.base}`);
  }
  env.btf.helperDone(h.name, t);
  const clearPkt = (): void =>
    forEachReg(st, (r, set) => {
      if (isPkt(r.type) || r.type === "pkt_end" || isPacketSlice(r)) set(unknownScalar());
    });
  if (h.name === "bpf_tail_call") {
    // In the main program a failed tail call changes nothing; in a subprogram the kernel also
    // follows a successful one, as an immediate return to the caller with R0 unknown (the failed
    // call goes on at the next instruction, packet pointers intact).
    if (st.frames.length > 1) {
      push(cloneState(st), t + 1, t);
      clearPkt();
      frame.regs[0] = unknownScalar();
      logState(env, st, 0);
      return returnToCaller(st, t);
    }
  } else if (PACKET_CHANGING_HELPERS.includes(h.name)) clearPkt();
  // a write into an skb dynptr may change the packet (check_helper_call: changes_data)
  else if (
    h.name === "bpf_dynptr_write" &&
    (dynptrReg?.dynptr?.kind === "skb" || dynptrReg?.dynptr?.kind === "skb_meta")
  )
    clearPkt();
  logState(env, st, 0);
  return undefined;
}

/** bpf_helper_changes_pkt_data / is_kfunc_pkt_changing for one call instruction. */
function changesPacket(i: Instruction): boolean {
  if (i.src === 0) return PACKET_CHANGING_HELPERS.includes(helperById(i.imm)?.name ?? "");
  return i.ref?.kind === "extern" && i.ref.symbol === "bpf_xdp_pull_data";
}

/** prepare_func_exit for a static subprogram's frame: R0 goes back to the caller. */
function returnToCaller(st: VState, t: number): number {
  const f = curFrame(st);
  if (f.isCallback) throw notModelled(t, "a tail call in a callback");
  st.frames.pop();
  const caller = curFrame(st);
  for (let r = 1; r <= 5; r++) caller.regs[r] = notInit();
  caller.regs[0] = copyReg(f.regs[0]!);
  return f.callsite + 1;
}

/** The spilled stack slot a constant map key came from (get_constant_map_key marks it precise). */
function constKeySlots(args: readonly { base: string }[], regs: readonly Reg[]): number[] {
  const k = args.findIndex((a) => a.base === "ARG_PTR_TO_MAP_KEY");
  const reg = k >= 0 ? regs[k + 1] : undefined;
  if (reg?.type !== "stack" || !isConst(reg)) return [];
  const lo = reg.off + Number(BigInt.asIntN(64, reg.varOff.value));
  return [reg.frameno * 64 + Math.floor((-lo - 1) / 8)];
}

/** get_constant_map_key: a stack key whose bytes are all known zero, or one whole spilled constant. */
function constantMapKey(st: VState, reg: Reg, size: number): bigint | undefined {
  if (reg.type !== "stack" || !isConst(reg) || size <= 0 || size > 8) return undefined;
  const lo = reg.off + Number(BigInt.asIntN(64, reg.varOff.value));
  const f = st.frames[reg.frameno]!;
  const spi = Math.floor((-lo - 1) / 8);
  const slot = f.stack[spi];
  if (!slot) return undefined;
  // within the key's slot, from its first byte up: enough zero bytes, or a spilled constant of
  // exactly the key's size (a narrow spill for a 4-byte key)
  const k0 = 7 - ((-lo - 1) % 8);
  let zeros = 0;
  for (let k = k0; k < 8 && slot.kinds[k] === "0"; k++) zeros++;
  if (zeros >= size) return 0n;
  const sp = slot.spilled;
  if (slot.kinds[0] !== "r" || sp.type !== "scalar") return undefined;
  let spilled = 0;
  for (let k = k0; k < 8 && slot.kinds[k] === "r"; k++) spilled++;
  if (spilled !== size) return undefined;
  return isConst(sp) ? sp.varOff.value : undefined;
}

function memArgType(t: number, regno: number, reg: Reg, rdonlyOk = true): void {
  // check_reg_type folds MEM_RDONLY only for a read-only argument; untrusted memory never fits
  const ok =
    (!reg.rdonly || rdonlyOk) &&
    !(reg.type === "mem" && reg.btfFlag === "untrusted") &&
    (["stack", "pkt", "pkt_meta", "map_key", "map_value", "mem"].includes(reg.type) ||
      (reg.type === "btf_id" && reg.btfFlag === "trusted")) &&
    !reg.maybeNull;
  if (!ok) {
    throw new VerifyAbort(
      t,
      `R${regno} type=${regTypeStr(reg)} expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_`,
    );
  }
}

// --------------------------------------------------------------------------------- pruning

function isStateVisited(env: Env, cur: VState, t: number): boolean {
  // a callback-calling CALL is a forced checkpoint (mark_force_checkpoint)
  const ti = env.cfg.code[t];
  const iterNext = isIterNext(ti);
  const force = iterNext || (ti !== undefined && ti.opcode === 0x85 && ti.src === 0 && callsCallback(ti.imm));
  let addNew = force || (env.jmps - env.prevJmps >= 2 && env.processed - env.prevProcessed >= 8);
  const list = env.explored.get(t) ?? [];
  // newest first, as the kernel adds each state at the head of its list
  for (let k = list.length - 1; k >= 0; k--) {
    const sl = list[k]!;
    if (sl.branches > 0) {
      if (force) {
        // callback iterations converge when the state is within one seen at this call; an
        // iterator loop when, in addition, its iterator is still active
        if (statesEqual(env, sl.state, cur, t, false) && (!iterNext || iterLoopConverged(cur))) {
          sl.hit++;
          return true;
        }
        continue;
      }
      if (
        statesMaybeLooping(sl.state, cur) &&
        sameUnroll(sl.state, cur) &&
        !iterDepthsDiffer(sl.state, cur) &&
        statesEqual(env, sl.state, cur, t, true)
      ) {
        throw new VerifyAbort(t, `infinite loop detected at insn ${t}`);
      }
      if (env.jmps - env.prevJmps < 20 && env.processed - env.prevProcessed < 100) addNew = false;
    } else if (statesEqual(env, sl.state, cur, t, false)) {
      sl.hit++;
      if (env.precision) propagatePrecision(env.cfg.code, sl.state, cur, t);
      return true;
    }
    // The kernel's heuristic: forget states that keep failing to prune (loop states too, which
    // keeps the list short in a long loop); a miss counts only when a state would be added.
    if (addNew) sl.miss++;
    if (sl.miss > sl.hit * 3 + 3) {
      list.splice(k, 1);
      env.curStates--;
    }
  }
  // unprivileged: no new checkpoint past BPF_COMPLEXITY_LIMIT_STATES states at one instruction
  if (!addNew || (env.unpriv && list.length > 64)) return false;
  const stored: StoredState = {
    state: cloneState(cur, false),
    insn: t,
    branches: 1,
    hit: 0,
    miss: 0,
    ...(cur.parent ? { parent: cur.parent } : {}),
  };
  if (force) tagCheckpoint(env.widening, stored.state, cur);
  if (env.precision) cur.hist = undefined;
  else markStatePrecise(stored.state);
  list.push(stored);
  env.explored.set(t, list);
  env.totalStates++;
  env.curStates++;
  env.peakStates = Math.max(env.peakStates, env.curStates);
  cur.parent = stored;
  env.prevJmps = env.jmps;
  env.prevProcessed = env.processed;
  return false;
}

function rangeWithin(o: Reg, c: Reg): boolean {
  return (
    o.umin <= c.umin &&
    o.umax >= c.umax &&
    o.smin <= c.smin &&
    o.smax >= c.smax &&
    o.u32min <= c.u32min &&
    o.u32max >= c.u32max &&
    o.s32min <= c.s32min &&
    o.s32max >= c.s32max
  );
}

function boundsSame(o: Reg, c: Reg): boolean {
  return (
    o.umin === c.umin &&
    o.umax === c.umax &&
    o.smin === c.smin &&
    o.smax === c.smax &&
    o.u32min === c.u32min &&
    o.u32max === c.u32max &&
    o.s32min === c.s32min &&
    o.s32max === c.s32max &&
    tnumEquals(o.varOff, c.varOff)
  );
}

function regsafe(o: Reg, c: Reg, ids: IdMap, exact: boolean, strictScalars = false): boolean {
  if (o.type === "not_init") return exact ? c.type === "not_init" : true;
  if (c.type === "not_init") return false;
  if (o.type !== c.type || o.maybeNull !== c.maybeNull || o.ringbuf !== c.ringbuf || o.rdonly !== c.rdonly)
    return false;
  if (exact && !boundsSame(o, c)) return false;
  if (o.type === "scalar") {
    // explore_alu_limits (unprivileged pointer arithmetic seen): scalars must match exactly
    if (strictScalars && !boundsSame(o, c)) return false;
    if (!o.precise && !exact) return true;
    return rangeWithin(o, c) && tnumIn(o.varOff, c.varOff) && ids.check(o.id, c.id, true);
  }
  if (
    o.off !== c.off ||
    o.map !== c.map ||
    o.memSize !== c.memSize ||
    o.frameno !== c.frameno ||
    o.subprog !== c.subprog ||
    o.btfId !== c.btfId ||
    o.btfFlag !== c.btfFlag ||
    // DYNPTR_TYPE_SKB/XDP on a packet slice is part of the type
    o.dynptr?.kind !== c.dynptr?.kind
  )
    return false;
  if (!rangeWithin(o, c) || !tnumIn(o.varOff, c.varOff)) return false;
  if (isPkt(o.type) && (exact ? o.range !== c.range : o.range > c.range)) return false;
  return ids.check(o.id, c.id, false) && ids.check(o.refObjId, c.refObjId, false);
}

function frameLive(env: Env, st: VState, k: number, t: number): number {
  if (k === st.frames.length - 1) return env.cfg.liveBefore[t] ?? 0x7ff;
  const callee = st.frames[k + 1]!;
  return (env.cfg.liveBefore[callee.callsite + 1] ?? 0x7ff) & ~0x3f;
}

function statesEqual(env: Env, old: VState, cur: VState, t: number, exact: boolean): boolean {
  if (old.frames.length !== cur.frames.length) return false;
  // a speculative state never stands for a real one
  if (old.speculative && !cur.speculative) return false;
  const strict = env.unpriv?.exploreAluLimits === true;
  if (old.refs.length !== cur.refs.length) return false;
  if ((old.rcuLocks ?? 0) !== (cur.rcuLocks ?? 0)) return false;
  const ids = new IdMap();
  for (let k = 0; k < old.frames.length; k++) {
    const fo = old.frames[k]!;
    const fc = cur.frames[k]!;
    if (fo.callsite !== fc.callsite || !callbackDepthOk(fo, fc)) return false;
    const live = frameLive(env, old, k, t);
    for (let r = 0; r < 10; r++) {
      if (!(live & (1 << r))) continue;
      if (!regsafe(fo.regs[r]!, fc.regs[r]!, ids, exact, strict)) return false;
    }
    if (!stackSafe(fo, fc, ids, exact, strict)) return false;
  }
  for (let k = 0; k < old.refs.length; k++) {
    if (!sameRefShape(old.refs[k]!, cur.refs[k]!)) return false;
    if (!ids.check(old.refs[k]!.id, cur.refs[k]!.id, false)) return false;
  }
  return true;
}

function stackSafe(fo: Frame, fc: Frame, ids: IdMap, exact: boolean, strict = false): boolean {
  const n = Math.max(fo.stack.length, exact ? fc.stack.length : 0);
  for (let spi = 0; spi < n; spi++) {
    const so = fo.stack[spi];
    const sc = fc.stack[spi];
    const ko = so ? so.kinds : ["?", "?", "?", "?", "?", "?", "?", "?"];
    const kc = sc ? sc.kinds : ["?", "?", "?", "?", "?", "?", "?", "?"];
    if (exact && ko.join("") !== kc.join("")) return false;
    for (let b = 0; b < 8; b++) {
      const o = ko[b]!;
      const c = kc[b]!;
      if (o === "?") continue;
      if (o === "m" && (c === "m" || c === "0")) continue;
      if (o === "0" && c === "0") continue;
      if (o === "r" && c === "r") continue;
      if (o === "d" && c === "d") continue;
      if (o === "i" && c === "i") continue;
      if (o === "f" && c === "f") continue;
      return false;
    }
    if (ko[0] === "f" && !irqSlotsSafe(so!.spilled, sc!.spilled, (a, b) => ids.check(a, b, false)))
      return false;
    if (ko[0] === "r" && !regsafe(so!.spilled, sc!.spilled, ids, exact, strict)) return false;
    if (ko[0] === "i" && !iterSlotsSafe(so!.spilled, sc!.spilled, (a, b) => ids.check(a, b, false)))
      return false;
    if (ko[0] === "d") {
      // stacksafe for STACK_DYNPTR: same kind and slot, consistent reference ids
      const a = so!.spilled;
      const b = sc!.spilled;
      if (a.dynptr?.kind !== b.dynptr?.kind || a.dynptr?.first !== b.dynptr?.first) return false;
      if (!ids.check(a.refObjId, b.refObjId, false)) return false;
    }
  }
  return true;
}

export { constBounds, tnumStr, unknownBounds };
