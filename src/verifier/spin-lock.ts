/**
 * bpf_spin_lock / bpf_spin_unlock on map values whose BTF value type holds a struct
 * bpf_spin_lock (process_spin_lock): one lock at a time, identified by the map value's id and
 * map; no helper calls but the unlock while it is held (do_check), no exit with it held
 * (check_resource_leak, see refs.ts).
 */
import { notModelled, VerifyAbort } from "./errors.js";
import { fieldOf, mapFields } from "./map-fields.js";
import { acquireLock, activeLock, findLock, heldLock, releaseLock } from "./refs.js";
import { isConst } from "./scalar.js";
import { type Reg, regTypeStr, type VState } from "./state.js";

export const BPF_FUNC_spin_unlock = 94;

/** The kernel map name (BPF_OBJ_NAME_LEN). */
const kname = (name: string): string => name.slice(0, 15);

/**
 * process_spin_lock's checks shared by both lock kinds: a map value at a constant offset, with
 * BTF, whose value type has the lock field exactly there. Returns the map's kernel name.
 */
export function checkLockField(
  t: number,
  regno: number,
  reg: Reg,
  lockType: "bpf_spin_lock" | "bpf_res_spin_lock",
): string {
  if (!isConst(reg)) {
    throw new VerifyAbort(
      t,
      `R${regno} doesn't have constant offset. ${lockType} has to be at the constant offset`,
    );
  }
  const name = kname(reg.map!.name);
  if (!mapFields(reg.map!).hasBtf)
    throw new VerifyAbort(t, `map '${name}' has to have BTF in order to use ${lockType}`);
  const lock = fieldOf(reg.map!, lockType);
  if (!lock) throw new VerifyAbort(t, `map '${name}' has no valid ${lockType}`);
  const off = BigInt.asIntN(64, reg.varOff.value) + BigInt(reg.off);
  if (off !== BigInt(lock.offset))
    throw new VerifyAbort(t, `off ${off} doesn't point to 'struct ${lockType}' that is at ${lock.offset}`);
  return name;
}

/** check_reg_type for ARG_PTR_TO_SPIN_LOCK, then process_spin_lock. */
export function processSpinLock(st: VState, t: number, regno: number, reg: Reg, isLock: boolean): void {
  if (reg.type === "btf_id") throw notModelled(t, "bpf_spin_lock in an allocated object");
  if (reg.type !== "map_value" || reg.maybeNull)
    throw new VerifyAbort(t, `R${regno} type=${regTypeStr(reg)} expected=map_value, ptr_`);
  const name = checkLockField(t, regno, reg, "bpf_spin_lock");
  if (isLock) {
    if (findLock(st, "lock")) throw new VerifyAbort(t, "Locking two bpf_spin_locks are not allowed");
    acquireLock(st, reg.id, t, name);
    return;
  }
  const held = heldLock(st);
  if (!held) throw new VerifyAbort(t, "bpf_spin_unlock without taking a lock");
  if (!findLock(st, "lock", reg.id, name)) throw new VerifyAbort(t, "bpf_spin_unlock of different lock");
  // a bpf_res_spin_lock taken inside this one is still held (res-spin-lock.ts)
  const active = activeLock(st);
  if (active?.id !== reg.id || active.ptr !== name)
    throw new VerifyAbort(t, "bpf_spin_unlock cannot be out of order");
  releaseLock(st, reg.id, name);
}

/** do_check's rule for calls while a lock is held (`pseudo`: a bpf-to-bpf call, `global` one). */
export function checkCallUnderLock(st: VState, t: number, src: number, imm: number, global: boolean): void {
  if (!heldLock(st)) return;
  if (src === 0 && imm !== BPF_FUNC_spin_unlock)
    throw new VerifyAbort(t, "function calls are not allowed while holding a lock");
  const why = src === 1 && global ? lockedGlobalCall(st) : undefined;
  if (why) throw new VerifyAbort(t, why);
}

/** check_func_call's refusal of a global function call while a lock is held, if one is. */
export const lockedGlobalCall = (st: VState): string | undefined =>
  heldLock(st)
    ? "global function calls are not allowed while holding a lock,\nuse static function instead"
    : undefined;
