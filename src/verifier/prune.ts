/**
 * Helpers of state pruning (is_state_visited) kept out of the main loop's module: the id
 * correspondence of two states being compared, and the cheap "maybe looping" filter the kernel
 * runs before its exact comparison of a state with one of its own ancestors.
 */
import type { Reg, VState } from "./state.js";

/**
 * The kernel's bpf_idmap: ids of the old state paired one-to-one with ids of the current one.
 * A flat [old, cur, ...] array scanned linearly (states hold a handful of ids), allocated only
 * when a non-zero id shows up: most comparisons never need it.
 */
export class IdMap {
  private pairs: number[] | undefined;
  private tmp = 1 << 30;
  check(oldId: number, curId: number, scalar: boolean): boolean {
    let o = oldId;
    let c = curId;
    if (scalar) {
      if (!o && !c) return true;
      if (!o) o = ++this.tmp;
      if (!c) c = ++this.tmp;
    } else if (!o && !c) return true;
    else if (!o || !c) return false;
    if (!this.pairs) this.pairs = [];
    const p = this.pairs;
    for (let k = 0; k < p.length; k += 2) {
      const po = p[k]!;
      const pc = p[k + 1]!;
      if (po === o || pc === c) return po === o && pc === c;
    }
    p.push(o, c);
    return true;
  }
}

/** Every field of two registers equal (the kernel's memcmp up to frameno). */
export function regsIdentical(a: Reg, b: Reg): boolean {
  if (a === b) return true;
  // the fields that differ most often first (a loop's counter, a scalar's value)
  return (
    a.varOff.value === b.varOff.value &&
    a.umin === b.umin &&
    a.umax === b.umax &&
    a.type === b.type &&
    a.maybeNull === b.maybeNull &&
    a.ringbuf === b.ringbuf &&
    a.rdonly === b.rdonly &&
    a.off === b.off &&
    a.id === b.id &&
    a.refObjId === b.refObjId &&
    a.range === b.range &&
    a.map === b.map &&
    a.memSize === b.memSize &&
    a.subprog === b.subprog &&
    a.smin === b.smin &&
    a.smax === b.smax &&
    a.s32min === b.s32min &&
    a.s32max === b.s32max &&
    a.u32min === b.u32min &&
    a.u32max === b.u32max &&
    a.varOff.mask === b.varOff.mask
  );
}

/**
 * states_maybe_looping: the same call depth and every register of the innermost frame
 * identical. Only then is the exact comparison (infinite loop detection) worth running.
 */
export function statesMaybeLooping(old: VState, cur: VState): boolean {
  if (old.frames.length !== cur.frames.length) return false;
  const fo = old.frames[old.frames.length - 1]!.regs;
  const fc = cur.frames[cur.frames.length - 1]!.regs;
  for (let r = 0; r < fo.length; r++) if (!regsIdentical(fo[r]!, fc[r]!)) return false;
  return true;
}
