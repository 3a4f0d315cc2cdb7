/**
 * Open-coded numeric iterators (the kfuncs bpf_iter_num_new / _next / _destroy on a
 * `struct bpf_iter_num` stack object, one 8-byte slot of kind 'i'), as the 6.18 verifier checks
 * them: process_iter_arg (an uninitialised slot for _new, which acquires a reference; an
 * initialised one for _next and _destroy, which releases it), and process_iter_next_call: at
 * _next the current path sees the iterator drained (R0 = NULL) and a queued path sees it active
 * (R0 a read-only pointer to the int, depth + 1), with imprecise scalars widened against the
 * previous checkpoint at that call. The loop converges in is_state_visited when a state at the
 * _next call is within one seen there with the iterator active (iterLoopConverged).
 *
 * Hook: verify.ts sends a kfunc CALL (src 2) here first (iterKfuncCall); anything but these
 * three kfuncs is left to the general kfunc model (refused as not modelled if there is none).
 */
import type { Instruction } from "../isa/instruction.js";
import { VerifyAbort } from "./errors.js";
import { acquireRef } from "./refs.js";
import { isConst } from "./scalar.js";
import {
  cloneState,
  constScalar,
  copyReg,
  type Frame,
  notInit,
  pointer,
  type Reg,
  unknownScalar,
  type VState,
} from "./state.js";

export const ITER_SLOT = "i";
const ITER_KFUNCS: ReadonlySet<string> = new Set([
  "bpf_iter_num_new",
  "bpf_iter_num_next",
  "bpf_iter_num_destroy",
]);

/**
 * A kfunc CALL: src BPF_PSEUDO_KFUNC_CALL (2) after load, or in an object a call relocated
 * against an extern function (clang emits it as a pseudo call until libbpf resolves it).
 */
export const isKfuncCall = (i: Instruction): boolean =>
  i.opcode === 0x85 && (i.src === 2 || (i.ref?.kind === "extern" && i.src !== 0));

/** The kfunc a CALL names (its extern relocation), if it is one of the numeric iterator kfuncs. */
export function iterKfuncName(i: Instruction): string | undefined {
  const r = i.ref;
  return isKfuncCall(i) && r?.kind === "extern" && ITER_KFUNCS.has(r.symbol) ? r.symbol : undefined;
}

/** Argument count of an iterator kfunc CALL (its live registers R1..Rn), else undefined. */
export function iterKfuncArgCount(i: Instruction): number | undefined {
  const n = iterKfuncName(i);
  return n === undefined ? undefined : n === "bpf_iter_num_new" ? 3 : 1;
}

/** Is insn t a bpf_iter_num_next call (a forced checkpoint and prune point)? */
export const isIterNext = (i: Instruction | undefined): boolean =>
  i !== undefined && i.opcode === 0x85 && iterKfuncName(i) === "bpf_iter_num_next";

export interface IterEnv {
  newId(): number;
  /** An 8-byte stack write through register regno at offset off (check_mem_access). */
  writeStack(regno: number, off: number): void;
  /** Checkpoints at this instruction (for widening against the previous iteration). */
  widen(queued: VState): void;
}

/** iter_get_spi for a one-slot iterator: the slot, or undefined when the offset is unusable. */
function iterSpi(reg: Reg): number | string {
  if (!isConst(reg)) return "iter has to be at a constant offset";
  const off = reg.off + Number(BigInt.asIntN(64, reg.varOff.value));
  if (off % 8 !== 0) return `cannot pass in iter at an offset=${off}`;
  return Math.floor((-off - 1) / 8);
}

const isIterSlot = (f: Frame, spi: number): boolean => f.stack[spi]?.kinds[0] === ITER_SLOT;

/**
 * A bpf_iter_num_* call at insn t (name from iterKfuncName). Returns the next instruction.
 * `push` queues the active-iterator path of _next.
 */
export function iterKfuncCall(
  env: IterEnv,
  st: VState,
  t: number,
  name: string,
  push: (s: VState, insn: number, from: number) => void,
): number {
  const frame = st.frames[st.frames.length - 1]!;
  const r1 = frame.regs[1]!;
  if (r1.type === "not_init") throw new VerifyAbort(t, "R1 !read_ok");
  if (r1.type !== "stack") throw new VerifyAbort(t, "arg#0 expected pointer to an iterator on stack");
  const f = st.frames[r1.frameno]!;
  const spi = iterSpi(r1);
  if (name === "bpf_iter_num_new") {
    for (const r of [2, 3]) {
      const a = frame.regs[r]!;
      if (a.type === "not_init") throw new VerifyAbort(t, `R${r} !read_ok`);
      if (a.type !== "scalar") throw new VerifyAbort(t, `R${r} is not a scalar`);
    }
    if (typeof spi === "string" || isIterSlot(f, spi)) {
      const head = typeof spi === "string" ? `${spi}\n` : "";
      throw new VerifyAbort(t, `${head}expected uninitialized iter_num as arg #0`);
    }
    env.writeStack(1, 0);
    const ref = env.newId();
    acquireRef(st, ref, t);
    const s = f.stack[spi]!;
    s.kinds = Array(8).fill(ITER_SLOT);
    s.spilled = pointer("stack", { refObjId: ref, iter: { active: true, depth: 0 } });
    clobber(frame);
    frame.regs[0] = unknownScalar();
    return t + 1;
  }
  if (typeof spi === "string" || !isIterSlot(f, spi) || !f.stack[spi]!.spilled.refObjId) {
    const head = typeof spi === "string" ? `${spi}\n` : "";
    throw new VerifyAbort(t, `${head}expected an initialized iter_num as arg #0`);
  }
  const slot = f.stack[spi]!;
  if (name === "bpf_iter_num_destroy") {
    const ref = slot.spilled.refObjId;
    st.refs = st.refs.filter((r) => r.id !== ref);
    // release_reference: element pointers of this iterator become unusable
    for (const fr of st.frames) {
      fr.regs.forEach((r, k) => {
        if (r.refObjId === ref && r.type !== "stack") fr.regs[k] = unknownScalar();
      });
      for (const sl of fr.stack)
        if (sl.kinds[0] === "r" && sl.spilled.refObjId === ref) sl.spilled = unknownScalar();
    }
    slot.kinds = ["?", "?", "?", "?", "?", "?", "?", "?"];
    slot.spilled = notInit();
    clobber(frame);
    frame.regs[0] = notInit();
    return t + 1;
  }
  // bpf_iter_num_next: R0 = rdonly_mem_or_null(sz=4); the active path is queued, this one drains
  clobber(frame);
  const id = env.newId();
  if (slot.spilled.iter?.active) {
    const queued = cloneState(st);
    const qf = queued.frames[r1.frameno]!;
    const qs = qf.stack[spi]!;
    qs.spilled = Object.assign(copyReg(qs.spilled), {
      iter: { active: true, depth: (qs.spilled.iter?.depth ?? 0) + 1 },
    });
    env.widen(queued);
    // the element pointer carries the iterator's reference (meta.ref_obj_id)
    queued.frames[queued.frames.length - 1]!.regs[0] = pointer("mem", {
      rdonly: true,
      memSize: 4,
      id,
      refObjId: qs.spilled.refObjId,
    });
    queued.trace.push(`${t}: ${name} -> active`);
    push(queued, t + 1, t);
  }
  slot.spilled = Object.assign(copyReg(slot.spilled), {
    iter: { active: false, depth: slot.spilled.iter?.depth ?? 0 },
  });
  frame.regs[0] = constScalar(0n);
  st.trace.push(`${t}: ${name} -> drained`);
  return t + 1;
}

function clobber(f: Frame): void {
  for (let r = 1; r <= 5; r++) f.regs[r] = notInit();
}

/**
 * is_state_visited at a bpf_iter_num_next call: the loop converged when the (range-within) equal
 * state still on the path has the iterator of R1 active.
 */
export function iterLoopConverged(cur: VState): boolean {
  const frame = cur.frames[cur.frames.length - 1]!;
  const r1 = frame.regs[1]!;
  if (r1.type !== "stack") return false;
  const spi = iterSpi(r1);
  if (typeof spi === "string") return false;
  return cur.frames[r1.frameno]!.stack[spi]?.spilled.iter?.active === true;
}

/** stacksafe for STACK_ITER: same state and consistent reference ids (the depth is ignored). */
export function iterSlotsSafe(o: Reg, c: Reg, sameRef: (a: number, b: number) => boolean): boolean {
  return o.iter?.active === c.iter?.active && sameRef(o.refObjId, c.refObjId);
}

/** The infinite-loop check must not fire between iterations at different depths (iter_active_depths_differ). */
export function iterDepthsDiffer(old: VState, cur: VState): boolean {
  for (let fr = 0; fr < old.frames.length && fr < cur.frames.length; fr++) {
    const a = old.frames[fr]!.stack;
    const b = cur.frames[fr]!.stack;
    for (let spi = 0; spi < a.length && spi < b.length; spi++) {
      const x = a[spi]!.spilled.iter;
      const y = b[spi]!.spilled.iter;
      if (a[spi]!.kinds[0] === ITER_SLOT && x?.active && x.depth !== y?.depth) return true;
    }
  }
  return false;
}

/** Does [lo, hi) of the stack touch an iterator slot? (such accesses are refused as not modelled) */
export function touchesIter(f: Frame, lo: number, hi: number): boolean {
  for (let b = lo; b < hi; b++) if (isIterSlot(f, Math.floor((-b - 1) / 8))) return true;
  return false;
}
