/**
 * Inline array-map lookups (what the kernel's JIT does for array maps): a helper call whose
 * helper declares VmHelper.arrayLookup and whose r1 is a known ld_imm64 constant naming an
 * array gets that array here, once, when the program is created. Both engines then do the
 * lookup themselves (key read, bounds check, element address) and fall back to the helper's
 * fn for anything unusual, so results and faults stay the helper's own.
 */
import { type Code, OP_WIDE_SLOT } from "./code.js";
import type { VmArrayLookup, VmHelper } from "./env.js";

/** Slots control can reach other than from the slot before: entries, jump and call targets. */
function targets(code: Code, entries: readonly number[]): Uint8Array {
  const t = new Uint8Array(code.n + 1);
  const mark = (k: number): void => {
    if (k >= 0 && k <= code.n) t[k] = 1;
  };
  for (const e of entries) mark(e);
  for (let pc = 0; pc < code.n; pc++) {
    const op = code.op[pc];
    const cls = op & 7;
    if (op === 0x18) {
      if (code.src[pc] === 4) mark(code.imm[pc]); // a callback's entry
    } else if (op === 0x85) {
      if (code.src[pc] === 1) mark(pc + code.imm[pc] + 1);
    } else if (op === 0x06) {
      mark(pc + code.imm[pc] + 1);
    } else if (op <= 0xff && (cls === 5 || cls === 6)) {
      mark(pc + code.off[pc] + 1);
    }
  }
  return t;
}

/**
 * r1's value at slot `pc` when the straight-line code before it (no jump target in between)
 * sets it with an ld_imm64 and nothing after that can change it; undefined otherwise.
 */
function knownR1(code: Code, pc: number, t: Uint8Array): { lo: number; hi: number } | undefined {
  let k = pc;
  while (k > 0 && t[k] === 0) {
    k--;
    const op = code.op[k];
    if (op === OP_WIDE_SLOT) {
      if (k === 0 || code.op[k - 1] !== 0x18) return undefined;
      k--;
      if (code.dst[k] === 1) return { lo: code.imm[k], hi: code.imm[k + 1] };
      continue;
    }
    const cls = op & 7;
    if (op > 0xff || op === 0x18) return undefined; // an unresolved or bad slot
    if (cls === 4 || cls === 7 || cls === 1) {
      if (code.dst[k] === 1) return undefined;
      continue;
    }
    if (cls === 2) continue; // ST: no register written
    if (cls === 3) {
      if ((op & 0xe0) === 0xc0) return undefined; // atomics may write src or r0
      continue;
    }
    if ((cls === 5 || cls === 6) && op !== 0x85 && op !== 0x8d && op !== 0x95 && op !== 0xe5) {
      // a conditional jump falls through here with r1 unchanged (unconditional ones leave the
      // slot after them reachable only as a jump target, which stops the walk)
      continue;
    }
    return undefined; // calls, exit, may_goto, LD_ABS/LD_IND
  }
  return undefined;
}

/** Per slot: the array a helper call there looks up inline, or undefined. */
export function inlineLookups(
  code: Code,
  helpers: ReadonlyArray<VmHelper | undefined>,
  entries: readonly number[],
): (VmArrayLookup | undefined)[] {
  const out: (VmArrayLookup | undefined)[] = new Array(code.n).fill(undefined);
  let t: Uint8Array | undefined;
  for (let pc = 0; pc < code.n; pc++) {
    if (code.op[pc] !== 0x85 || code.src[pc] !== 0) continue;
    const id = code.imm[pc];
    const h = id >= 0 ? helpers[id] : undefined;
    if (h?.arrayLookup === undefined) continue;
    t ??= targets(code, entries);
    const r1 = knownR1(code, pc, t);
    if (r1 !== undefined) out[pc] = h.arrayLookup(r1.lo, r1.hi);
  }
  return out;
}
