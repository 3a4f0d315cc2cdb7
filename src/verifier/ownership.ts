/**
 * A test aid for the rule the in-place scalar ALU relies on: a register object belongs to one
 * slot (register or spilled stack slot) of one state. A register shared by two slots, or by the
 * current state and a pending branch or a stored checkpoint, would be changed in both by one
 * instruction. Checking costs a walk of every live state per instruction, so it runs only when
 * VerifyOptions.checkOwnership asks (the tests do).
 */
import type { Reg, VState } from "./state.js";

function eachRegObject(st: VState, fn: (r: Reg, where: string) => void): void {
  for (const f of st.frames) {
    for (let i = 0; i < f.regs.length; i++) fn(f.regs[i]!, `frame ${f.frameno} R${i}`);
    for (let k = 0; k < f.stack.length; k++) fn(f.stack[k]!.spilled, `frame ${f.frameno} fp-${8 * (k + 1)}`);
  }
}

/**
 * The first register object the current state shares with one of its own other slots or with
 * one of `others`, described; undefined when each is owned once. Frozen objects (the shared
 * not-initialised register) are immutable and may be shared.
 */
export function sharedRegister(cur: VState, others: Iterable<VState>): string | undefined {
  const owner = new Map<Reg, string>();
  let found: string | undefined;
  eachRegObject(cur, (r, where) => {
    if (found || Object.isFrozen(r)) return;
    const first = owner.get(r);
    if (first !== undefined) found = `${where} and ${first} are one register object`;
    else owner.set(r, where);
  });
  if (found) return found;
  for (const o of others) {
    if (o === cur) continue;
    eachRegObject(o, (r, where) => {
      if (found || Object.isFrozen(r)) return;
      const mine = owner.get(r);
      if (mine !== undefined) found = `${mine} is shared with ${where} of another state`;
    });
    if (found) return found;
  }
  return undefined;
}
