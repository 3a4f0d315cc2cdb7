/**
 * Resilient queued spin locks (6.18: kernel/bpf/rqspinlock.c kfuncs, the verifier's
 * process_spin_lock with PROCESS_RES_LOCK): bpf_res_spin_lock(&val->lock) returns 0 with the lock
 * held or a negative error without it, so the verifier follows both outcomes (check_kfunc_call
 * pushes the failure first: R0 in [-MAX_ERRNO, -1], no lock). Several res locks may be held at
 * once, but not the same one twice (AA deadlock), and they are released in the reverse order.
 * While any lock is held only the lock kfuncs and the bpf_iter_num ones may be called
 * (kfunc_spin_allowed). The _irqsave / _irqrestore variants also save / restore an IRQ flag on
 * the stack (irq-flag.ts), as do bpf_local_irq_save / bpf_local_irq_restore.
 */
import { notModelled, VerifyAbort } from "./errors.js";
import { type IrqFlagEnv, processIrqFlag } from "./irq-flag.js";
import { acquireLock, activeLock, findLock, heldLock, releaseLock } from "./refs.js";
import { isConst, syncBounds } from "./scalar.js";
import { checkLockField } from "./spin-lock.js";
import { constScalar, notInit, type Reg, regTypeStr, unknownScalar, type VState } from "./state.js";

const LOCK = "bpf_res_spin_lock";
const UNLOCK = "bpf_res_spin_unlock";
const IRQ_VARIANTS: ReadonlySet<string> = new Set([
  "bpf_res_spin_lock_irqsave",
  "bpf_res_spin_unlock_irqrestore",
]);

/** The res spin lock kfunc a call names, if it is one. */
export function resSpinLockKfunc(name: string | undefined): string | undefined {
  return name === LOCK || name === UNLOCK || (name !== undefined && IRQ_VARIANTS.has(name))
    ? name
    : undefined;
}

/** kfunc_spin_allowed: the kfuncs callable while a lock is held (graph kfuncs are not modelled). */
const SPIN_ALLOWED: ReadonlySet<string> = new Set([
  LOCK,
  UNLOCK,
  ...IRQ_VARIANTS,
  "bpf_iter_num_new",
  "bpf_iter_num_next",
  "bpf_iter_num_destroy",
]);

const IRQ_KFUNCS: ReadonlySet<string> = new Set(["bpf_local_irq_save", "bpf_local_irq_restore"]);

/** bpf_local_irq_save / bpf_local_irq_restore, if the call names one. */
export const localIrqKfunc = (name: string | undefined): string | undefined =>
  name !== undefined && IRQ_KFUNCS.has(name) ? name : undefined;

/** bpf_local_irq_save(&flags) / bpf_local_irq_restore(&flags): the native IRQ flag kfuncs. */
export function localIrqCall(env: IrqFlagEnv, st: VState, t: number, name: string): void {
  processIrqFlag(env, st, t, 1, name === "bpf_local_irq_save", "native");
  const regs = st.frames[st.frames.length - 1]!.regs;
  for (let r = 0; r <= 5; r++) regs[r] = notInit();
}

/** do_check's refusal of a kfunc call while a lock is held. */
export function checkKfuncUnderLock(st: VState, t: number, name: string | undefined): void {
  if (heldLock(st) && !(name !== undefined && SPIN_ALLOWED.has(name)))
    throw new VerifyAbort(t, "function calls are not allowed while holding a lock");
}

/** MAX_ERRNO: a failed acquisition returns an errno in [-4095, -1]. */
const MAX_ERRNO = 4095n;

/**
 * A bpf_res_spin_lock / bpf_res_spin_unlock call at insn t: `fork` queues the failed acquisition
 * (the state at t+1). Leaves R0 (0 for a taken lock) and clobbers R1-R5.
 */
export function resSpinLockCall(
  env: IrqFlagEnv,
  st: VState,
  t: number,
  name: string,
  fork: (s: VState) => void,
  clone: (s: VState) => VState,
): void {
  const irq = IRQ_VARIANTS.has(name);
  const isLock = name === LOCK || name === "bpf_res_spin_lock_irqsave";
  const regs = st.frames[st.frames.length - 1]!.regs;
  if (isLock) {
    // check_kfunc_call pushes the failed outcome before it looks at the argument
    const failed = clone(st);
    const fr = failed.frames[failed.frames.length - 1]!.regs;
    for (let r = 0; r <= 5; r++) fr[r] = notInit();
    fr[0] = s32Range(unknownScalar(), -MAX_ERRNO, -1n);
    fork(failed);
  }
  const reg = regs[1]!;
  if (reg.type === "not_init") throw new VerifyAbort(t, "R1 !read_ok");
  processResLock(st, t, reg, isLock, irq);
  // the IRQ flag argument comes second (check_kfunc_args goes in argument order)
  if (irq) processIrqFlag(env, st, t, 2, isLock, "lock");
  for (let r = 0; r <= 5; r++) regs[r] = notInit();
  if (isLock) regs[0] = constScalar(0n);
}

/** __mark_reg_s32_range: an unknown scalar narrowed to [lo, hi] as a signed 32-bit value. */
function s32Range(r: Reg, lo: bigint, hi: bigint): Reg {
  if (r.s32min < lo) r.s32min = lo;
  if (r.s32max > hi) r.s32max = hi;
  if (r.smin < lo) r.smin = lo;
  if (r.smax > hi) r.smax = hi;
  syncBounds(r);
  return r;
}

/** The KF_ARG_PTR_TO_RES_SPIN_LOCK checks and process_spin_lock(PROCESS_RES_LOCK). */
function processResLock(st: VState, t: number, reg: Reg, isLock: boolean, irq: boolean): void {
  const kind = irq ? "res_lock_irq" : "res_lock";
  if (reg.type === "btf_id") throw notModelled(t, "bpf_res_spin_lock in an allocated object");
  // check_func_arg_reg_off (ARG_DONTCARE) passes map values and scalars alike
  if (reg.type !== "map_value" && reg.type !== "scalar" && (reg.off !== 0 || !isConst(reg)))
    throw notModelled(t, `bpf_res_spin_lock given a moved ${regTypeStr(reg)}`);
  if (reg.type !== "map_value" || reg.maybeNull)
    throw new VerifyAbort(t, "arg#0 doesn't point to map value or allocated object");
  const name = checkLockField(t, 1, reg, "bpf_res_spin_lock");
  if (isLock) {
    if (findLock(st, "res_lock", reg.id, name) || findLock(st, "res_lock_irq", reg.id, name))
      throw new VerifyAbort(t, "Acquiring the same lock again, AA deadlock detected");
    acquireLock(st, reg.id, t, name, kind);
    return;
  }
  if (!heldLock(st)) throw new VerifyAbort(t, "bpf_res_spin_unlock without taking a lock");
  if (!findLock(st, kind, reg.id, name)) throw new VerifyAbort(t, "bpf_res_spin_unlock of different lock");
  const active = activeLock(st);
  if (active?.id !== reg.id || active.ptr !== name)
    throw new VerifyAbort(t, "bpf_res_spin_unlock cannot be out of order");
  releaseLock(st, reg.id, name, kind);
}
