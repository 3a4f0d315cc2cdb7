/**
 * Dynptrs on the stack (struct bpf_dynptr, two 8-byte slots of kind 'd'), as the 6.18 verifier
 * tracks them: process_dynptr_func for ARG_PTR_TO_DYNPTR helper arguments (an uninitialised
 * dynptr is built by bpf_ringbuf_reserve_dynptr / bpf_dynptr_from_mem, an initialised one is
 * read by bpf_dynptr_read / write), ring buffer dynptrs hold a reference (acquired at the
 * reservation, released by bpf_ringbuf_submit_dynptr / discard_dynptr, "Unreleased reference"
 * at exit otherwise), and stack writes over a dynptr (destroy_if_dynptr_stack_slot: a referenced
 * one cannot be overwritten, a local one is destroyed). The reference list is the generic
 * VState.refs; dynptr slices (bpf_dynptr_data) and const dynptr arguments are not modelled.
 */

import { notModelled, VerifyAbort } from "./errors.js";
import { acquireRef } from "./refs.js";
import { isConst } from "./scalar.js";
import { type Frame, notInit, pointer, type Reg, regTypeStr, unknownScalar, type VState } from "./state.js";
import { tnumStr } from "./tnum.js";

/** BPF_DYNPTR_TYPE_*: skb and xdp dynptrs come from the kfuncs of dynptr-kfuncs.ts. */
export type DynptrKind = "local" | "ringbuf" | "skb" | "xdp" | "skb_meta";

/** The dynptr a stack slot's spilled register describes (the kernel's reg->dynptr). */
export interface DynptrInfo {
  readonly kind: DynptrKind;
  /** The slot at the dynptr's lower address (the kernel's first_slot). */
  readonly first: boolean;
}

export const DYNPTR_SLOT = "d";

const isDynptrSlot = (f: Frame, spi: number): boolean => f.stack[spi]?.kinds[0] === DYNPTR_SLOT;

/**
 * stack_slot_obj_get_spi for a dynptr: the slot index of its first (lower) slot, or a message
 * the kernel prints before failing (returned as a string).
 */
function dynptrSpi(reg: Reg): number | string {
  if (!isConst(reg)) return "dynptr has to be at a constant offset";
  const off = reg.off + Number(BigInt.asIntN(64, reg.varOff.value));
  if (off % 8 !== 0) return `cannot pass in dynptr at an offset=${off}`;
  const spi = Math.floor((-off - 1) / 8);
  if (spi + 1 < 2) return `cannot pass in dynptr at an offset=${off}`;
  return spi;
}

/** The dynptr kind a helper argument asks for (DYNPTR_TYPE_* flag), if any. */
function wantedKind(flags: readonly string[]): DynptrKind | undefined {
  if (flags.includes("DYNPTR_TYPE_RINGBUF")) return "ringbuf";
  if (flags.includes("DYNPTR_TYPE_LOCAL")) return "local";
  if (flags.includes("DYNPTR_TYPE_SKB")) return "skb";
  if (flags.includes("DYNPTR_TYPE_SKB_META")) return "skb_meta";
  if (flags.includes("DYNPTR_TYPE_XDP")) return "xdp";
  if (flags.some((f) => f.startsWith("DYNPTR_TYPE_"))) return undefined;
  return undefined;
}

/** Is the dynptr starting at slot spi a valid initialised one (is_dynptr_reg_valid_init)? */
function validInit(f: Frame, spi: number): boolean {
  const a = f.stack[spi];
  const b = f.stack[spi - 1];
  if (!a || !b || !a.spilled.dynptr?.first) return false;
  return a.kinds.every((k) => k === DYNPTR_SLOT) && b.kinds.every((k) => k === DYNPTR_SLOT);
}

/**
 * destroy_if_dynptr_stack_slot: a write touching slot spi of a dynptr destroys it (both slots
 * become invalid), unless it holds a reference.
 */
export function destroyDynptrAt(st: VState, f: Frame, spi: number, t: number): void {
  if (!isDynptrSlot(f, spi)) return;
  const first = f.stack[spi]!.spilled.dynptr?.first ? spi : spi + 1;
  const info = f.stack[first]?.spilled.dynptr;
  if (info?.kind === "ringbuf") throw new VerifyAbort(t, "cannot overwrite referenced dynptr");
  const id = f.stack[first]?.spilled.id ?? 0;
  invalidate(f, first);
  // slices of the destroyed dynptr (bpf_dynptr_data) become unusable (mark_reg_invalid)
  if (!id) return;
  for (const fr of st.frames) {
    fr.regs.forEach((r, k) => {
      if (r.type === "mem" && r.dynptrId === id) fr.regs[k] = unknownScalar();
    });
    for (const sl of fr.stack)
      if (sl.kinds[0] === "r" && sl.spilled.type === "mem" && sl.spilled.dynptrId === id)
        sl.spilled = unknownScalar();
  }
}

/** The first slot's register of the initialised dynptr register `reg` points to, if any. */
export function dynptrSlotReg(st: VState, reg: Reg): Reg | undefined {
  if (reg.type === "dynptr_ptr") return reg;
  if (reg.type !== "stack") return undefined;
  const spi = dynptrSpi(reg);
  const f = st.frames[reg.frameno];
  if (typeof spi !== "number" || !f || !validInit(f, spi)) return undefined;
  return f.stack[spi]!.spilled;
}

/**
 * R0 of bpf_dynptr_data: a maybe-NULL slice of `size` bytes tied to the dynptr (its id, and its
 * reference for a ring buffer dynptr, so that releasing or destroying the dynptr invalidates it).
 */
export function dynptrSlice(dyn: Reg, size: number, id: number): Reg {
  return pointer("mem", { maybeNull: true, memSize: size, id, refObjId: dyn.refObjId, dynptrId: dyn.id });
}

function invalidate(f: Frame, first: number): void {
  for (const s of [f.stack[first], f.stack[first - 1]]) {
    if (!s) continue;
    s.kinds = ["?", "?", "?", "?", "?", "?", "?", "?"];
    s.spilled = notInit();
  }
}

/** Does [lo, hi) of the stack (byte offsets from the frame pointer) touch a dynptr slot? */
export function touchesDynptr(f: Frame, lo: number, hi: number): boolean {
  for (let b = lo; b < hi; b++) if (isDynptrSlot(f, Math.floor((-b - 1) / 8))) return true;
  return false;
}

export interface DynptrArgEnv {
  /** A fresh id (env->id_gen). */
  newId(): number;
  /** An 8-byte stack write through register regno at offset off (check_mem_access). */
  writeStack(regno: number, off: number): void;
}

/**
 * process_dynptr_func for helper argument register `regno` (flags: the argument's MEM_UNINIT,
 * MEM_RDONLY, OBJ_RELEASE, DYNPTR_TYPE_* flags). Returns the reference to release when the
 * argument is released (OBJ_RELEASE), else 0.
 */
export function dynptrArg(
  env: DynptrArgEnv,
  st: VState,
  t: number,
  regno: number,
  flags: readonly string[],
  /** bpf_dynptr_clone: the parent's reference, shared by the clone instead of a new one. */
  cloneRef = 0,
): number {
  const reg = st.frames[st.frames.length - 1]!.regs[regno]!;
  if (reg.type === "dynptr_ptr") return constDynptrArg(t, regno, reg, flags);
  if (reg.type !== "stack")
    throw new VerifyAbort(t, `R${regno} type=${regTypeStr(reg)} expected=fp, dynptr_ptr`);
  const f = st.frames[reg.frameno]!;
  const spi = dynptrSpi(reg);
  let release = 0;
  if (flags.includes("OBJ_RELEASE")) {
    const ref = typeof spi === "number" ? (f.stack[spi]?.spilled.refObjId ?? 0) : 0;
    if (typeof spi !== "number" || !isDynptrSlot(f, spi) || !ref) {
      const head = typeof spi === "string" ? `${spi}\n` : "";
      throw new VerifyAbort(t, `${head}arg ${regno} is an unacquired reference`);
    }
    release = ref;
  }
  if (flags.includes("MEM_UNINIT")) {
    if (typeof spi === "string") throw new VerifyAbort(t, `${spi}\nDynptr has to be an uninitialized dynptr`);
    // the helper writes the 16 bytes (8 at a time), destroying what was there
    env.writeStack(regno, 0);
    env.writeStack(regno, 8);
    const kind = wantedKind(flags);
    if (!kind) throw notModelled(t, `dynptr argument ${flags.join("|")}`);
    destroyDynptrAt(st, f, spi, t);
    destroyDynptrAt(st, f, spi - 1, t);
    const id = env.newId();
    const refId = kind === "ringbuf" ? cloneRef || env.newId() : 0;
    if (refId && !cloneRef) acquireRef(st, refId, t);
    for (const k of [spi, spi - 1]) {
      const s = f.stack[k]!;
      s.kinds = Array(8).fill(DYNPTR_SLOT);
      s.spilled = Object.assign(notInit(), { id, refObjId: refId, dynptr: { kind, first: k === spi } });
    }
    return 0;
  }
  if (typeof spi !== "number" || !validInit(f, spi)) {
    const head = typeof spi === "string" ? `${spi}\n` : "";
    throw new VerifyAbort(t, `${head}Expected an initialized dynptr as arg #${regno - 1}`);
  }
  const want = wantedKind(flags);
  const have = f.stack[spi]!.spilled.dynptr!.kind;
  if (want && want !== have)
    throw new VerifyAbort(t, `Expected a dynptr of type ${want} as arg #${regno - 1}`);
  return release;
}

/** A CONST_PTR_TO_DYNPTR argument: never built, released or mutated by the helper. */
function constDynptrArg(t: number, regno: number, reg: Reg, flags: readonly string[]): number {
  // check_func_arg_reg_off: its offset must stay zero (__check_ptr_off_reg)
  if (!isConst(reg) || reg.varOff.value !== 0n)
    throw new VerifyAbort(t, `variable dynptr_ptr access var_off=${tnumStr(reg.varOff)} disallowed`);
  if (reg.off < 0)
    throw new VerifyAbort(t, `negative offset dynptr_ptr ptr R${regno} off=${reg.off} disallowed`);
  if (reg.off !== 0)
    throw new VerifyAbort(t, `dereference of modified dynptr_ptr ptr R${regno} off=${reg.off} disallowed`);
  if (flags.includes("OBJ_RELEASE")) throw new VerifyAbort(t, "cannot release unowned const bpf_dynptr");
  if (flags.includes("MEM_UNINIT")) throw new VerifyAbort(t, "Dynptr has to be an uninitialized dynptr");
  if (!flags.includes("MEM_RDONLY"))
    throw new VerifyAbort(t, "cannot pass pointer to const bpf_dynptr, the helper mutates it");
  const want = wantedKind(flags);
  if (want && want !== reg.dynptr?.kind)
    throw new VerifyAbort(t, `Expected a dynptr of type ${want} as arg #${regno - 1}`);
  return 0;
}

/** A const dynptr register (mark_dynptr_cb_reg / a global function's dynptr argument). */
export function constDynptr(kind: DynptrKind, id: number): Reg {
  return pointer("dynptr_ptr", { id, dynptr: { kind, first: true } });
}

/** After a release: the dynptr slots holding reference `ref` become invalid (unmark_stack_slots_dynptr). */
export function releaseDynptrSlots(st: VState, ref: number): void {
  for (const f of st.frames) {
    f.stack.forEach((s, spi) => {
      if (s.kinds[0] === DYNPTR_SLOT && s.spilled.refObjId === ref && s.spilled.dynptr?.first)
        invalidate(f, spi);
    });
  }
}
