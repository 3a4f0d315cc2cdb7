/**
 * Reference tracking (the kernel's bpf_reference_state): pointers acquired by a helper or kfunc
 * (sockets from bpf_sk_lookup_*, ring buffer records, ...) that must be released before the
 * program exits, and held bpf_spin_locks. Generic over what acquired them: callers allocate the
 * id, `acquireRef` records it, `releaseRef` drops it and invalidates every copy of the pointer,
 * `resourceLeak` is check_resource_leak's verdict at an exit, a tail call or LD_ABS.
 */
import { forEachReg, type RefState, unknownScalar, type VState } from "./state.js";

/** acquire_reference: records pointer reference `id` (from the id generator) acquired at `insn`. */
export function acquireRef(st: VState, id: number, insn: number): void {
  st.refs.push({ id, insn });
}

/**
 * release_reference: drops pointer reference `id` and turns every register holding a pointer
 * with that ref_obj_id into an unknown scalar (mark_reg_invalid for a privileged loader).
 * False when no such reference is held ("reference has not been acquired before").
 */
export function releaseRef(st: VState, id: number): boolean {
  const k = st.refs.findIndex((r) => r.kind === undefined && r.id === id);
  if (k < 0) return false;
  st.refs.splice(k, 1);
  forEachReg(st, (r, set) => {
    if (r.refObjId === id) set(unknownScalar());
  });
  return true;
}

/** Pointer references still held (REF_TYPE_PTR). */
export const heldPointers = (st: VState): readonly RefState[] => st.refs.filter((r) => r.kind === undefined);

export type LockKind = "lock" | "res_lock" | "res_lock_irq";

/** A held lock of any kind, if any (active_locks != 0). */
export const heldLock = (st: VState): RefState | undefined =>
  st.refs.find((r) => r.kind === "lock" || r.kind === "res_lock" || r.kind === "res_lock_irq");

/** A held lock of one kind, `id` in `ptr` if given (find_lock_state). */
export const findLock = (st: VState, kind: LockKind, id?: number, ptr?: string): RefState | undefined =>
  st.refs.find((r) => r.kind === kind && (id === undefined || (r.id === id && r.ptr === ptr)));

/** The lock taken last and not yet released (active_lock_id / active_lock_ptr). */
export const activeLock = (st: VState): RefState | undefined =>
  st.refs.findLast((r) => r.kind === "lock" || r.kind === "res_lock" || r.kind === "res_lock_irq");

export function acquireLock(
  st: VState,
  id: number,
  insn: number,
  ptr: string,
  kind: LockKind = "lock",
): void {
  st.refs.push({ id, insn, kind, ptr });
}

/** Releases the held lock if it is lock `id` in `ptr`; false when it is another one. */
export function releaseLock(st: VState, id: number, ptr: string, kind: LockKind = "lock"): boolean {
  const k = st.refs.findIndex((r) => r.kind === kind && r.id === id && r.ptr === ptr);
  if (k < 0) return false;
  st.refs.splice(k, 1);
  return true;
}

/**
 * check_resource_leak: the kernel's message (lines joined by "\n") when leaving the program (or
 * a tail call / LD_ABS) is not allowed with the references and locks held, else undefined.
 * `checkLock` is whether held locks count (main frame exits, tail calls, LD_ABS); pointer
 * references only count in frame 0 (check_reference_leak skips nested frames).
 */
export function resourceLeak(
  st: VState,
  prefix: string,
  checkLock: boolean,
  frameno: number,
): string | undefined {
  if (checkLock && heldLock(st)) return `${prefix} cannot be used inside bpf_spin_lock-ed region`;
  const irq = checkLock && st.refs.some((r) => r.kind === "irq");
  const irqHeld = `${prefix} cannot be used inside bpf_local_irq_save-ed region`;
  if (frameno !== 0) return irq ? irqHeld : undefined;
  const leaked = heldPointers(st);
  if (leaked.length === 0) return irq ? irqHeld : undefined;
  return [
    ...leaked.map((r) => `Unreleased reference id=${r.id} alloc_insn=${r.insn}`),
    `${prefix} would lead to reference leak`,
  ].join("\n");
}

/** print_verifier_state's " refs=..." part: the ids of held references and locks (empty when none). */
export function refsStr(st: VState): string {
  if (st.refs.length === 0 || !st.refs[0]!.id) return "";
  const ids = st.refs.map((r) => r.id).filter((id, k) => k === 0 || id !== 0);
  return `refs=${ids.join(",")}`;
}

/** refsafe's per-reference part: same kinds and locks in the same place (ids go through the idmap). */
export const sameRefShape = (a: RefState, b: RefState): boolean => a.kind === b.kind && a.ptr === b.ptr;
