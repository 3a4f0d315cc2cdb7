/**
 * Just enough scalar precision for callback convergence. When a callback returns, the 6.18 kernel
 * widens every scalar that differs from the state saved at the callback-calling instruction and
 * that is not precise (widen_imprecise_scalars): a counter bumped by each bpf_loop iteration
 * becomes unknown and the iterations converge. A scalar is precise when its value was needed
 * exactly (a branch decided by it, pointer arithmetic, a helper's size argument, a checked return
 * value), which the kernel finds by walking back to the instructions the value came from.
 *
 * Here the walk is forward instead: a checkpoint at a callback-calling CALL gives each of its
 * scalars (registers and spilled slots) a fresh origin token, shared with the state going on;
 * copies, spills, fills and ALU results carry the union of their operands' tokens; a use that
 * needs the exact value marks its tokens precise. At the callback's return, a scalar of that
 * checkpoint whose token was never marked, and which differs from the returning state's, is
 * widened there to unknown, as the kernel does.
 */
import { copyReg, type Reg, type StoredState, unknownScalar, type VState } from "./state.js";
import { tnumEquals } from "./tnum.js";

export interface PrecisionEnv {
  tokenGen: number;
  readonly preciseTokens: Set<number>;
}

export function newPrecision(): PrecisionEnv {
  return { tokenGen: 0, preciseTokens: new Set() };
}

/** The union of two registers' origins (an ALU result depends on both operands). */
export function joinOrigin(a: Reg, b: Reg): readonly number[] | undefined {
  if (!b.origin?.length) return a.origin;
  if (!a.origin?.length) return b.origin;
  return [...new Set([...a.origin, ...b.origin])];
}

/** mark_chain_precision: the scalar's exact value was needed. */
export function markPrecise(p: PrecisionEnv, r: Reg | undefined): void {
  if (r?.type !== "scalar" || !r.origin) return;
  for (const t of r.origin) p.preciseTokens.add(t);
}

const isPrecise = (p: PrecisionEnv, r: Reg): boolean =>
  r.origin?.some((t) => p.preciseTokens.has(t)) ?? false;

/** Every scalar register and spilled scalar of a state, by position, with a setter. */
function scalars(st: VState): { key: string; reg: Reg; set: (r: Reg) => void }[] {
  const out: { key: string; reg: Reg; set: (r: Reg) => void }[] = [];
  st.frames.forEach((f, fr) => {
    f.regs.forEach((r, i) => {
      if (r.type === "scalar")
        out.push({
          key: `${fr}r${i}`,
          reg: r,
          set: (v) => {
            f.regs[i] = v;
          },
        });
    });
    f.stack.forEach((s, spi) => {
      if (s.kinds[0] === "r" && s.spilled.type === "scalar")
        out.push({
          key: `${fr}s${spi}`,
          reg: s.spilled,
          set: (v) => {
            s.spilled = v;
          },
        });
    });
  });
  return out;
}

/** A checkpoint at a callback-calling CALL: fresh origin tokens in the stored copy and in cur. */
export function tagCheckpoint(p: PrecisionEnv, stored: VState, cur: VState): void {
  const curByKey = new Map(scalars(cur).map((x) => [x.key, x]));
  for (const x of scalars(stored)) {
    const c = curByKey.get(x.key);
    if (!c) continue;
    const token = ++p.tokenGen;
    const origin = [...(x.reg.origin ?? []), token];
    x.set(Object.assign(copyReg(x.reg), { origin }));
    c.set({ ...c.reg, origin: [...(c.reg.origin ?? []), token] });
  }
}

/** regs_exact for two scalars (ids compared as they are). */
const exactScalar = (a: Reg, b: Reg): boolean =>
  a.id === b.id &&
  a.smin === b.smin &&
  a.smax === b.smax &&
  a.umin === b.umin &&
  a.umax === b.umax &&
  a.s32min === b.s32min &&
  a.s32max === b.s32max &&
  a.u32min === b.u32min &&
  a.u32max === b.u32max &&
  tnumEquals(a.varOff, b.varOff);

/**
 * find_prev_entry + widen_imprecise_scalars, after a callback returned to `callsite`: the
 * checkpoint there that is still on this path (branches > 0, same call sites), and the widening
 * of cur's imprecise scalars that differ from it.
 */
export function widenAfterCallback(
  p: PrecisionEnv,
  explored: readonly StoredState[] | undefined,
  cur: VState,
): void {
  if (!explored) return;
  let prev: StoredState | undefined;
  for (let k = explored.length - 1; k >= 0; k--) {
    const sl = explored[k]!;
    if (sl.branches <= 0 || sl.state.frames.length !== cur.frames.length) continue;
    if (sl.state.frames.some((f, i) => f.callsite !== cur.frames[i]!.callsite)) continue;
    prev = sl;
    break;
  }
  if (!prev) return;
  const curByKey = new Map(scalars(cur).map((x) => [x.key, x]));
  for (const o of scalars(prev.state)) {
    const c = curByKey.get(o.key);
    if (!c) continue;
    if (isPrecise(p, o.reg) || isPrecise(p, c.reg) || exactScalar(o.reg, c.reg)) continue;
    c.set(unknownScalar());
  }
}
