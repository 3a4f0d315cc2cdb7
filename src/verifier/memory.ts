/**
 * Memory access rules (check_mem_access and its per-pointer-type checks): stack, map values and
 * keys, context, packet, helper memory. Messages are the kernel's.
 */
import { checkCtxAccess, ctxAccessError } from "../abi/context-access.js";
import { packetAccess } from "../abi/program-rules.js";
import { destroyDynptrAt, touchesDynptr } from "./dynptr.js";
import { notModelled, VerifyAbort } from "./errors.js";
import { touchesIrqFlag } from "./irq-flag.js";
import { touchesIter } from "./iter.js";
import { checkMapFieldAccess } from "./map-fields.js";
import { isConst, S64_MIN, truncate } from "./scalar.js";
import { sockAccess } from "./sockets.js";
import {
  constScalar,
  copyReg,
  type Frame,
  isPointer,
  newSlot,
  notInit,
  pointer,
  type Reg,
  type RegType,
  regTypeStr,
  unknownScalar,
  type VState,
} from "./state.js";
import { tnumAdd, tnumIsAligned, tnumStr } from "./tnum.js";
import { unprivCtxDenied, unprivHelperStackRead } from "./unprivileged.js";

export const MAX_BPF_STACK = 512;
export const BPF_MAX_VAR_OFF = 1 << 29;
/** BPF_MAX_VAR_OFF as a BigInt, made once (a BigInt() per access was a hot allocation). */
const MAX_VAR_OFF_N = BigInt(BPF_MAX_VAR_OFF);
const NEG_MAX_VAR_OFF_N = -MAX_VAR_OFF_N;

export interface MemEnv {
  readonly progType: string;
  readonly expectedAttachType?: string;
  /** Reads from frozen read-only maps (.rodata): value bytes by map name. */
  readonly rodata: (mapName: string) => Uint8Array | undefined;
  /** Per-frame (by subprog start) maximum stack depth seen. */
  noteStackDepth(subprog: number, depth: number): void;
  /** BTF-typed contexts and PTR_TO_BTF_ID accesses (src/verifier/btf-hooks.ts), when modelled. */
  readonly btf?: BtfMemHooks;
  /** An unprivileged loader: no uninitialised stack reads, fewer context fields (unprivileged.ts). */
  readonly unprivileged?: boolean;
  /** The verifier's id generator (++env->id_gen), for maybe-NULL pointers loaded from the context. */
  nextId?(): number;
}

export interface BtfMemHooks {
  /** Whether the program's context is BTF-typed (tracing, lsm). */
  readonly typedCtx: boolean;
  /** `st`: the state before the load (a read of an lsm hook's return value narrows the destination). */
  ctxLoad(insn: number, off: number, size: number, write: boolean, st?: VState): Reg;
  ptrAccess(
    st: VState,
    insn: number,
    regno: number,
    reg: Reg,
    off: number,
    size: number,
    write: boolean,
  ): Reg | undefined;
}

export function memRegion(
  insn: number,
  regno: number,
  reg: Reg,
  off: number,
  size: number,
  memSize: number,
  msg: (off: number) => string,
): void {
  if (inRegion(reg, off, size, memSize)) return;
  const smin = reg.smin;
  if (smin < 0n && (smin === S64_MIN || smin + BigInt(off) < 0n || smin + BigInt(off) < -(1n << 31n))) {
    throw new VerifyAbort(
      insn,
      `R${regno} min value is negative, either use unsigned index or do a if (index >=0) check.`,
    );
  }
  const lo = Number(smin) + off;
  if (lo < 0 || lo + size > memSize) {
    throw new VerifyAbort(insn, `${msg(lo)}\nR${regno} min value is outside of the allowed memory range`);
  }
  if (reg.umax >= MAX_VAR_OFF_N) {
    throw new VerifyAbort(
      insn,
      `R${regno} unbounded memory access, make sure to bounds check any such access`,
    );
  }
  const hi = Number(reg.umax) + off;
  if (hi < 0 || hi + size > memSize) {
    throw new VerifyAbort(insn, `${msg(hi)}\nR${regno} max value is outside of the allowed memory range`);
  }
}

/**
 * Whether memRegion passes without a check that needs a BigInt temporary: a non-negative
 * minimum and both ends within the memory (the common case); anything else takes the full path.
 */
function inRegion(reg: Reg, off: number, size: number, memSize: number): boolean {
  if (reg.smin < 0n || reg.umax >= MAX_VAR_OFF_N) return false;
  const lo = Number(reg.smin) + off;
  const hi = Number(reg.umax) + off;
  return lo >= 0 && lo + size <= memSize && hi >= 0 && hi + size <= memSize;
}

/** check_packet_access: the range covers the fixed offset; the variable part must be >= 0. */
function pktAccess(insn: number, regno: number, reg: Reg, off: number, size: number): void {
  if (reg.smin < 0n) {
    throw new VerifyAbort(
      insn,
      `R${regno} min value is negative, either use unsigned index or do a if (index >=0) check.`,
    );
  }
  if (reg.range < 0 || off < 0 || off + size > reg.range) {
    const head =
      reg.range < 0
        ? ""
        : `invalid access to packet, off=${off} size=${size}, R${regno}(id=${reg.id},off=${off},r=${reg.range})\n`;
    throw new VerifyAbort(insn, `${head}R${regno} offset is outside of the packet`);
  }
}

const isPkt = (t: RegType): boolean => t === "pkt" || t === "pkt_meta";

/**
 * The zero-extended loads of 1, 2, 4 and 8 bytes, computed once: every such load gives the same
 * register (truncate of an unknown scalar), so a copy of it replaces the bounds arithmetic.
 */
const LOADED: readonly (Reg | undefined)[] = [0, 1, 2, 3, 4, 5, 6, 7, 8].map((size) => {
  if (size !== 1 && size !== 2 && size !== 4 && size !== 8) return undefined;
  const r = unknownScalar();
  truncate(r, size);
  return r;
});

/** Loaded value from `size` bytes: unknown scalar truncated to size. */
function loadedScalar(size: number, signExt: boolean): Reg {
  const loaded = signExt ? undefined : LOADED[size];
  if (loaded) return copyReg(loaded);
  const r = unknownScalar();
  if (!signExt) truncate(r, size);
  else if (size < 8) {
    const half = 1n << BigInt(size * 8 - 1);
    r.smin = -half;
    r.smax = half - 1n;
  }
  return r;
}

function readLE(bytes: Uint8Array, off: number, size: number): bigint {
  let v = 0n;
  for (let k = size - 1; k >= 0; k--) v = (v << 8n) | BigInt(bytes[off + k]!);
  return v;
}

/**
 * One load (`write` false: returns the loaded register) or store (`value` the stored register,
 * or undefined for BPF_ST with `stImm`) through register `regno` at insn offset `off`.
 */
export function checkMemAccess(
  env: MemEnv,
  st: VState,
  insn: number,
  regno: number,
  off: number,
  size: number,
  write: boolean,
  value: Reg | undefined,
  opts: { signExt?: boolean; stImm?: number; isAtomic?: boolean } = {},
): Reg | undefined {
  const frame = st.frames[st.frames.length - 1]!;
  const reg = frame.regs[regno]!;
  if (reg.maybeNull) throw new VerifyAbort(insn, `R${regno} invalid mem access '${regTypeStr(reg)}'`);
  switch (reg.type) {
    case "stack":
      return stackAccess(env, st, insn, regno, reg, off, size, write, value, opts);
    case "map_value": {
      const map = reg.map!;
      const o = reg.off + off;
      if (write && map.readonly) {
        throw new VerifyAbort(
          insn,
          `write into map forbidden, value_size=${map.valueSize} off=${o} size=${size}`,
        );
      }
      memRegion(
        insn,
        regno,
        reg,
        o,
        size,
        map.valueSize,
        (x) => `invalid access to map value, value_size=${map.valueSize} off=${x} size=${size}`,
      );
      checkMapFieldAccess(insn, reg, o, size, false);
      if (write) return undefined;
      if (map.readonly && map.data && isConst(reg) && !opts.signExt) {
        const bytes = env.rodata(map.name);
        const at = o + Number(reg.varOff.value);
        if (bytes && at + size <= bytes.length) return constScalar(readLE(bytes, at, size));
      }
      return loadedScalar(size, opts.signExt ?? false);
    }
    case "map_key": {
      const map = reg.map!;
      if (write) throw new VerifyAbort(insn, `write to change key R${regno} not allowed`);
      memRegion(
        insn,
        regno,
        reg,
        reg.off + off,
        size,
        map.keySize,
        (x) => `invalid access to map key, key_size=${map.keySize} off=${x} size=${size}`,
      );
      return loadedScalar(size, opts.signExt ?? false);
    }
    case "mem": {
      if (write && reg.rdonly) throw new VerifyAbort(insn, `R${regno} cannot write into ${regTypeStr(reg)}`);
      // untrusted read-only memory is read through probe instructions: no bounds
      if (reg.rdonly && reg.btfFlag === "untrusted") return loadedScalar(size, opts.signExt ?? false);
      memRegion(
        insn,
        regno,
        reg,
        reg.off + off,
        size,
        reg.memSize,
        (x) => `invalid access to memory, mem_size=${reg.memSize} off=${x} size=${size}`,
      );
      return write ? undefined : loadedScalar(size, opts.signExt ?? false);
    }
    case "ctx": {
      if (opts.isAtomic) throw new VerifyAbort(insn, `BPF_ATOMIC stores into R${regno} ctx is not allowed`);
      if (write && value === undefined)
        throw new VerifyAbort(insn, `BPF_ST stores into R${regno} ctx is not allowed`);
      if (!isConst(reg)) {
        throw new VerifyAbort(insn, `variable ctx access var_off=${tnumStr(reg.varOff)} disallowed`);
      }
      if (reg.off < 0)
        throw new VerifyAbort(insn, `negative offset ctx ptr R${regno} off=${reg.off} disallowed`);
      if (reg.off !== 0)
        throw new VerifyAbort(insn, `dereference of modified ctx ptr R${regno} off=${reg.off} disallowed`);
      if (env.btf?.typedCtx) {
        const v = env.btf.ctxLoad(insn, off, size, write, st);
        return write ? undefined : v;
      }
      const res = checkCtxAccess(env.progType, off, size, write, {
        ...(env.expectedAttachType ? { expectedAttachType: env.expectedAttachType } : {}),
        ...(opts.signExt ? { signExtend: true } : {}),
      });
      if (res === undefined) throw notModelled(insn, `context of program type ${env.progType}`);
      if (!res.ok || (env.unprivileged && unprivCtxDenied(env.progType, off, size, write)))
        throw new VerifyAbort(insn, ctxAccessError(off, size));
      if (write) return undefined;
      if (res.pointer) {
        switch (res.pointer) {
          case "pkt":
          case "pkt_meta":
          case "pkt_end":
            return pointer(res.pointer);
          case "sock":
          case "sock_or_null":
          case "sock_common_or_null": {
            const maybeNull = res.pointer !== "sock";
            if (maybeNull && !env.nextId) break;
            return pointer(res.pointer === "sock_common_or_null" ? "sock_common" : "sock", {
              maybeNull,
              id: maybeNull ? env.nextId!() : 0,
            });
          }
          default:
            break;
        }
        throw notModelled(insn, `context field yielding ${res.pointer}`);
      }
      return loadedScalar(size, opts.signExt ?? false);
    }
    case "pkt":
    case "pkt_meta": {
      if (opts.isAtomic)
        throw new VerifyAbort(insn, `BPF_ATOMIC stores into R${regno} ${regTypeStr(reg)} is not allowed`);
      const access = packetAccess(env.progType);
      if (write && access !== "readwrite") throw new VerifyAbort(insn, "cannot write into packet");
      if (!write && access === "none")
        throw new VerifyAbort(insn, `R${regno} invalid mem access '${regTypeStr(reg)}'`);
      pktAccess(insn, regno, reg, reg.off + off, size);
      return write ? undefined : loadedScalar(size, opts.signExt ?? false);
    }
    case "btf_id":
      if (env.btf) {
        if (opts.isAtomic) throw notModelled(insn, "atomics on BTF pointers");
        return env.btf.ptrAccess(st, insn, regno, reg, off, size, write);
      }
      throw notModelled(insn, `memory access through ${regTypeStr(reg)}`);
    case "sock":
    case "sock_common":
    case "tcp_sock":
    case "xdp_sock":
      return write
        ? void sockAccess(insn, regno, reg, off, size, true)
        : sockAccess(insn, regno, reg, off, size, false);
    case "flow_keys":
    case "tp_buffer":
    case "map_ptr":
      throw notModelled(insn, `memory access through ${regTypeStr(reg)}`);
    default:
      throw new VerifyAbort(insn, `R${regno} invalid mem access '${regTypeStr(reg)}'`);
  }
}

/** get_reg_width: the bits a scalar's unsigned maximum needs. */
const regWidth = (r: Reg): number => (r.umax === 0n ? 0 : r.umax.toString(2).length);

function growStack(f: Frame, spiCount: number): void {
  while (f.stack.length < spiCount) f.stack.push(newSlot());
}

function stackAccess(
  env: MemEnv,
  st: VState,
  insn: number,
  regno: number,
  reg: Reg,
  off: number,
  size: number,
  write: boolean,
  value: Reg | undefined,
  opts: { signExt?: boolean; stImm?: number; isAtomic?: boolean },
): Reg | undefined {
  const frame = st.frames[reg.frameno]!;
  const what = write ? " write to" : " read from";
  const varOff = !isConst(reg);
  let lo: number;
  let hi: number;
  if (!varOff) {
    lo = reg.off + off + Number(BigInt.asIntN(64, reg.varOff.value));
    hi = lo;
    // the stack is always strictly aligned (checked before the bounds)
    if (((lo % size) + size) % size !== 0) {
      const vo = isConst(reg) ? BigInt.asIntN(64, reg.varOff.value).toString() : tnumStr(reg.varOff);
      throw new VerifyAbort(insn, `misaligned stack access off ${vo}+${reg.off}+${off} size ${size}`);
    }
    if (
      lo < -MAX_BPF_STACK ||
      lo + size > 0 ||
      (env.unprivileged && !write && lo < -8 * frame.stack.length)
    ) {
      // without allow_uninit_stack a read must stay inside the stack written so far
      throw new VerifyAbort(insn, `invalid${what} stack R${regno} off=${lo} size=${size}`);
    }
  } else {
    // check_generic_ptr_alignment (strict for the stack): every possible offset size-aligned
    const at = tnumAdd(reg.varOff, { value: BigInt.asUintN(64, BigInt(reg.off + off)), mask: 0n });
    if (!tnumIsAligned(at, size)) {
      throw new VerifyAbort(
        insn,
        `misaligned stack access off ${tnumStr(reg.varOff)}+${reg.off}+${off} size ${size}`,
      );
    }
    if (reg.smin <= NEG_MAX_VAR_OFF_N || reg.smax >= MAX_VAR_OFF_N) {
      throw new VerifyAbort(insn, `invalid unbounded variable-offset${what} stack R${regno}`);
    }
    lo = Number(reg.smin) + reg.off + off;
    hi = Number(reg.smax) + reg.off + off;
    if (lo < -MAX_BPF_STACK || hi + size > 0) {
      throw new VerifyAbort(
        insn,
        `invalid variable-offset${what} stack R${regno} var_off=${tnumStr(reg.varOff)} off=${reg.off + off} size=${size}`,
      );
    }
  }
  env.noteStackDepth(frame.subprog, -lo);
  growStack(frame, Math.ceil(-lo / 8));
  if (write) {
    if (touchesIter(frame, lo, hi + size)) throw notModelled(insn, "stack writes over an iterator");
    if (touchesIrqFlag(frame, lo, hi + size)) throw notModelled(insn, "stack writes over an irq flag");
    // a write over a dynptr destroys it, or fails for a referenced one
    for (let b = lo; b < hi + size; b++) destroyDynptrAt(st, frame, Math.floor((-b - 1) / 8), insn);
    // check_stack_write_fixed_off: a pointer is spilled whole or not at all (root too)
    if (!varOff && value && isPointer(value) && size !== 8) {
      throw new VerifyAbort(insn, "invalid size of register spill");
    }
    // Scalars are spilled (tracked) only for CAP_BPF; an unprivileged store of one is plain data.
    const spillScalar = !env.unprivileged;
    if (!varOff && value && size === 8 && lo % 8 === 0 && (spillScalar || value.type !== "scalar")) {
      const slot = frame.stack[(-lo - 8) / 8]!;
      slot.spilled = copyReg(value);
      slot.kinds = Array(8).fill("r");
      return undefined;
    }
    if (
      !varOff &&
      !value &&
      opts.stImm !== undefined &&
      size === 8 &&
      lo % 8 === 0 &&
      (spillScalar || opts.stImm === 0)
    ) {
      const slot = frame.stack[(-lo - 8) / 8]!;
      if (opts.stImm === 0) {
        slot.spilled = notInit();
        slot.kinds = Array(8).fill("0");
      } else {
        slot.spilled = constScalar(BigInt(opts.stImm));
        slot.kinds = Array(8).fill("r");
      }
      return undefined;
    }
    // check_stack_write_fixed_off: a narrower store of a scalar (register or BPF_ST immediate)
    // at the start of a slot is a narrow spill that keeps the value; a narrow pointer store fails
    if (!varOff && size < 8 && !opts.isAtomic) {
      if (value && value.type !== "scalar") throw new VerifyAbort(insn, "invalid size of register spill");
      // (only with CAP_BPF: env->bpf_capable; unprivileged stores are plain bytes)
      if (lo % 8 === 0 && (value || opts.stImm !== undefined) && spillScalar) {
        const slot = frame.stack[(-lo - 8) / 8]!;
        const sp: Reg = value ? copyReg(value) : constScalar(BigInt(opts.stImm!));
        if (regWidth(sp) > size * 8) sp.id = 0;
        slot.spilled = sp;
        slot.kinds = slot.kinds.map((c, k) => (k < size ? "r" : c === "0" || c === "?" ? c : "m"));
        return undefined;
      }
    }
    const zero =
      !varOff &&
      ((value && value.type === "scalar" && isConst(value) && value.varOff.value === 0n) ||
        (!value && opts.stImm === 0));
    // Root: zeros at a slot's first byte were stored 8-aligned, which the kernel keeps as a spilled
    // constant; a plain (unaligned) write into that slot scrubs it all to data.
    if (!env.unprivileged && !varOff && lo % 8 !== 0) {
      const slot = frame.stack[Math.floor((-lo - 1) / 8)]!;
      if (slot.kinds[0] === "0") slot.kinds = slot.kinds.map((c) => (c === "0" ? "m" : c));
    }
    for (let b = lo; b < hi + size; b++) {
      const spi = Math.floor((-b - 1) / 8);
      const slot = frame.stack[spi]!;
      const k = 7 - ((-b - 1) % 8);
      if (slot.kinds.includes("r")) {
        // a partly overwritten spill becomes plain data (scrub_spilled_slot: every byte that is
        // not invalid, zeros of a narrow spill's slot included, becomes misc)
        slot.kinds = slot.kinds.map((c) => (c === "?" ? c : "m"));
        slot.spilled = notInit();
      }
      slot.kinds[k] = varOff
        ? slot.kinds[k] === "?"
          ? "m"
          : slot.kinds[k] === "0"
            ? "m"
            : slot.kinds[k]!
        : zero
          ? "0"
          : "m";
      if (varOff) slot.kinds[k] = "m";
    }
    // Root spills a scalar narrower than 8 bytes at an 8-aligned offset (save_register_state):
    // the slot's other bytes become plain data, zeros included (unprivileged: plain data write).
    const scalarStore = (value && value.type === "scalar") || (!value && opts.stImm !== undefined);
    if (!env.unprivileged && !varOff && scalarStore && size < 8 && lo % 8 === 0) {
      const slot = frame.stack[Math.floor((-lo - 1) / 8)]!;
      for (let k = size; k < 8; k++) if (slot.kinds[k] === "0") slot.kinds[k] = "m";
    }
    return undefined;
  }
  // read
  if (touchesIter(frame, lo, hi + size)) throw notModelled(insn, "stack reads of an iterator");
  if (touchesDynptr(frame, lo, hi + size) || touchesIrqFlag(frame, lo, hi + size)) {
    if (varOff) throw notModelled(insn, "variable-offset stack reads over a dynptr or irq flag");
    for (let b = lo; b < lo + size; b++) {
      if (touchesDynptr(frame, b, b + 1) || touchesIrqFlag(frame, b, b + 1))
        throw new VerifyAbort(insn, `invalid read from stack off ${lo}+${b - lo} size ${size}`);
    }
  }
  if (!varOff) {
    const spi = Math.floor((-lo - 1) / 8);
    const slot = frame.stack[spi]!;
    const first = 7 - ((-lo - 1) % 8);
    // check_stack_read_fixed_off on a spilled slot (its spill may be narrower than 8 bytes)
    if (slot.kinds[0] === "r") {
      let spillSize = 0;
      while (spillSize < 8 && slot.kinds[spillSize] === "r") spillSize++;
      const sp = slot.spilled;
      if (size === 8 && spillSize === 8) return copyReg(sp);
      if (sp.type !== "scalar") throw new VerifyAbort(insn, "invalid size of register fill");
      if (opts.signExt) return loadedScalar(size, true);
      if (size <= spillSize && first === 0) {
        const r = copyReg(sp);
        if (regWidth(sp) > size * 8) r.id = 0;
        truncate(r, size);
        return r;
      }
      let spilled = 0;
      let zeros = 0;
      for (let b = lo; b < lo + size; b++) {
        const c = slot.kinds[7 - ((-b - 1) % 8)];
        if (c === "r") spilled++;
        else if (c === "0") zeros++;
      }
      if ((spilled === size && isConst(sp) && sp.varOff.value === 0n) || zeros === size)
        return constScalar(0n);
      return loadedScalar(size, false);
    }
  }
  let allZero = true;
  for (let b = lo; b < hi + size; b++) {
    const spi = Math.floor((-b - 1) / 8);
    const slot = frame.stack[spi]!;
    const k = 7 - ((-b - 1) % 8);
    const c = slot.kinds[k]!;
    if (c !== "0") allZero = false;
    if (c === "r" && slot.spilled.type !== "scalar") {
      if (varOff)
        throw new VerifyAbort(insn, `spilled ptr in range of var-offset stack read; insn ${insn}`, false);
    }
    // CAP_PERFMON (root) may read uninitialised stack: allow_uninit_stack.
    if (env.unprivileged && !varOff && c === "?")
      throw new VerifyAbort(insn, `invalid read from stack off ${lo}+${b - lo} size ${size}`);
  }
  if (allZero) return constScalar(0n);
  return loadedScalar(size, opts.signExt ?? false);
}

/**
 * Helper memory arguments (check_helper_mem_access): `size` bytes from the pointer in `regno`
 * (variable sizes are checked by the caller with the size register's umax).
 */
export function checkHelperMem(
  env: MemEnv,
  st: VState,
  insn: number,
  regno: number,
  minSize: number,
  maxSize: number,
  write: boolean,
  rawMode: boolean,
  helperName: string,
): void {
  const frame = st.frames[st.frames.length - 1]!;
  const reg = frame.regs[regno]!;
  if (maxSize === 0) return;
  switch (reg.type) {
    case "stack": {
      const f = st.frames[reg.frameno]!;
      const from = reg.off + Number(isConst(reg) ? BigInt.asIntN(64, reg.varOff.value) : reg.smin);
      const to = reg.off + Number(isConst(reg) ? BigInt.asIntN(64, reg.varOff.value) : reg.smax) + maxSize;
      if (touchesDynptr(f, from, to) || touchesIter(f, from, to) || touchesIrqFlag(f, from, to))
        objectSlotsInHelperMem(f, insn, regno, reg, from, maxSize, rawMode, env.unprivileged === true);
      if (!isConst(reg)) {
        const lo = Number(reg.smin) + reg.off;
        const hi = Number(reg.smax) + reg.off + maxSize;
        if (reg.smin <= NEG_MAX_VAR_OFF_N || lo < -MAX_BPF_STACK || hi > 0) {
          throw new VerifyAbort(
            insn,
            `invalid variable-offset${write ? " write to" : " read from"} stack R${regno} var_off=${tnumStr(reg.varOff)} off=${reg.off} size=${maxSize}`,
          );
        }
        env.noteStackDepth(f.subprog, -lo);
        growStack(f, Math.ceil(-lo / 8));
        if (write) markStackMisc(f, lo, hi);
        return;
      }
      const lo = reg.off + Number(BigInt.asIntN(64, reg.varOff.value));
      if (
        lo < -MAX_BPF_STACK ||
        lo + maxSize > 0 ||
        (env.unprivileged && !write && lo < -8 * f.stack.length)
      ) {
        throw new VerifyAbort(
          insn,
          `invalid ${write && rawMode ? "write to" : "read from"} stack R${regno} off=${lo} size=${maxSize}`,
        );
      }
      env.noteStackDepth(f.subprog, -lo);
      growStack(f, Math.ceil(-lo / 8));
      if (!rawMode) {
        // root may read uninitialised stack (allow_uninit_stack): nothing to check
        if (env.unprivileged) unprivHelperStackRead(f, insn, regno, lo, maxSize);
      }
      if (write) markStackMisc(f, lo, lo + maxSize);
      return;
    }
    case "map_value": {
      const map = reg.map!;
      if (write && map.readonly) {
        throw new VerifyAbort(
          insn,
          `write into map forbidden, value_size=${map.valueSize} off=${reg.off} size=${maxSize}`,
        );
      }
      memRegion(
        insn,
        regno,
        reg,
        reg.off,
        maxSize,
        map.valueSize,
        (x) => `invalid access to map value, value_size=${map.valueSize} off=${x} size=${maxSize}`,
      );
      checkMapFieldAccess(insn, reg, reg.off, maxSize, true);
      return;
    }
    case "map_key":
      memRegion(
        insn,
        regno,
        reg,
        reg.off,
        maxSize,
        reg.map!.keySize,
        (x) => `invalid access to map key, key_size=${reg.map!.keySize} off=${x} size=${maxSize}`,
      );
      return;
    case "mem":
      if (reg.maybeNull) break;
      if (write && reg.rdonly) throw new VerifyAbort(insn, `R${regno} cannot write into ${regTypeStr(reg)}`);
      memRegion(
        insn,
        regno,
        reg,
        reg.off,
        maxSize,
        reg.memSize,
        (x) => `invalid access to memory, mem_size=${reg.memSize} off=${x} size=${maxSize}`,
      );
      return;
    case "btf_id":
      // check_ptr_to_btf_access over the whole size, as a read (trusted pointers only get here)
      if (!env.btf || reg.maybeNull) break;
      if (write) throw notModelled(insn, `${helperName} writing through a BTF pointer`);
      env.btf.ptrAccess(st, insn, regno, reg, 0, maxSize, false);
      return;
    case "pkt":
    case "pkt_meta":
      // check_packet_access, as for a load or store (fixed offset against the range)
      pktAccess(insn, regno, reg, reg.off, maxSize);
      return;
    default:
      break;
  }
  void minSize;
  void helperName;
  throw new VerifyAbort(
    insn,
    `R${regno} type=${regTypeStr(reg)} expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_`,
  );
}

function markStackMisc(f: Frame, lo: number, hi: number): void {
  for (let b = lo; b < hi; b++) {
    const spi = Math.floor((-b - 1) / 8);
    const slot = f.stack[spi]!;
    const k = 7 - ((-b - 1) % 8);
    if (slot.kinds.includes("r")) {
      slot.kinds = slot.kinds.map((c) => (c === "r" ? "m" : c));
      slot.spilled = notInit();
    }
    slot.kinds[k] = "m";
  }
}

export { isPkt };

/**
 * check_stack_range_initialized over dynptr or iterator slots (a privileged loader): memory a
 * helper writes without reading (raw mode) may not cover a dynptr; memory it reads (or clobbers)
 * may not touch a dynptr's or iterator's bytes. Variable offsets and the unprivileged rules are
 * not modelled.
 */
function objectSlotsInHelperMem(
  f: Frame,
  insn: number,
  regno: number,
  reg: Reg,
  lo: number,
  size: number,
  rawMode: boolean,
  unprivileged: boolean,
): never {
  if (!isConst(reg) || unprivileged)
    throw notModelled(insn, "helper memory over a dynptr's or iterator's stack slots");
  const kindAt = (b: number): string | undefined => f.stack[Math.floor((-b - 1) / 8)]?.kinds[0];
  for (let b = lo; b < lo + size; b++) {
    const k = kindAt(b);
    if (rawMode && k === "d") throw new VerifyAbort(insn, `potential write to dynptr at off=${b} disallowed`);
    if (!rawMode && (k === "d" || k === "i" || k === "f"))
      throw new VerifyAbort(insn, `invalid read from stack R${regno} off ${lo}+${b - lo} size ${size}`);
  }
  throw notModelled(insn, "helper memory over an iterator's or irq flag's stack slots");
}
