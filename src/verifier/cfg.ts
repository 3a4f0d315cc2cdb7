/**
 * Program-level checks before simulation (check_subprogs, check_cfg) and static facts the
 * simulation uses: subprogram starts, prune points, registers live before each instruction.
 */

import { helperById } from "../abi/helpers.js";
import type { Instruction } from "../isa/instruction.js";
import { callsCallback } from "./callbacks.js";
import { VerifyAbort } from "./errors.js";
import { isIterNext, isKfuncCall, iterKfuncArgCount } from "./iter.js";

export interface Cfg {
  /** Instruction at each slot (undefined for the second half of ld_imm64). */
  readonly code: readonly (Instruction | undefined)[];
  /** Sorted subprogram start slots (0 first). */
  readonly subprogs: readonly number[];
  readonly prunePoints: ReadonlySet<number>;
  /** Bit set of registers read before being written, from each slot on. */
  readonly liveBefore: readonly number[];
}

export function toSlots(insns: readonly Instruction[]): (Instruction | undefined)[] {
  const code: (Instruction | undefined)[] = [];
  for (const i of insns) {
    code.push(i);
    if (i.opcode === 0x18) code.push(undefined);
  }
  return code;
}

const isJmpClass = (op: number): boolean => (op & 7) === 5 || (op & 7) === 6;

function jumpTarget(t: number, i: Instruction): number | undefined {
  if (!isJmpClass(i.opcode)) return undefined;
  const op = i.opcode & 0xf0;
  if (op === 0x80 || op === 0x90) return undefined;
  if (op === 0x00) return (i.opcode & 7) === 6 ? t + i.imm + 1 : t + i.off + 1;
  return t + i.off + 1;
}

/** The check_cfg walk's state: instructions seen, prune points, the work list. */
interface CfgWalk {
  readonly n: number;
  readonly seen: Uint8Array;
  readonly prune: Set<number>;
  readonly work: number[];
}

/** An edge from `from` to `w` (a branch edge makes `w` a prune point). */
function visit(walk: CfgWalk, from: number, w: number, branch: boolean): void {
  if (w < 0 || w >= walk.n) throw new VerifyAbort(from, `jump out of range from insn ${from} to ${w}`);
  if (branch) walk.prune.add(w);
  if (!walk.seen[w]) {
    walk.seen[w] = 1;
    walk.work.push(w);
  }
}

export function buildCfg(
  code: readonly (Instruction | undefined)[],
  /** Argument count of a kfunc call (src 2), from the kernel BTF; default all of R1-R5. */
  kfuncArgs?: (i: Instruction) => number,
): Cfg {
  const n = code.length;
  // Subprograms: targets of bpf-to-bpf calls and of callback address loads.
  const starts = new Set<number>([0]);
  for (let t = 0; t < n; t++) {
    const i = code[t];
    if (!i) continue;
    if (i.opcode === 0x85 && i.src === 1 && !isKfuncCall(i)) {
      const w = t + i.imm + 1;
      if (w < 0 || w >= n) throw new VerifyAbort(t, "call to invalid destination");
      starts.add(w);
    }
    if (i.opcode === 0x18 && i.src === 4) {
      const w = t + i.imm + 1;
      if (w < 0 || w >= n) throw new VerifyAbort(t, "call to invalid destination");
      starts.add(w);
    }
  }
  const subprogs = [...starts].sort((a, b) => a - b);
  // check_subprogs: jumps stay in their subprogram; each ends with exit or an unconditional jump.
  for (let s = 0; s < subprogs.length; s++) {
    const start = subprogs[s]!;
    const end = s + 1 < subprogs.length ? subprogs[s + 1]! : n;
    for (let t = start; t < end; t++) {
      const i = code[t];
      if (!i) continue;
      const w = jumpTarget(t, i);
      if (w !== undefined && (w < start || w >= end)) {
        throw new VerifyAbort(t, `jump out of range from insn ${t} to ${w}`);
      }
    }
    let last = end - 1;
    if (code[last] === undefined && last > start) last--;
    const li = code[last];
    const ok = li && (li.opcode === 0x95 || li.opcode === 0x05 || li.opcode === 0x06);
    if (!ok) throw new VerifyAbort(last, "last insn is not an exit or jmp");
  }
  // check_cfg: every instruction reachable from insn 0 (calls and callbacks reach their targets).
  const seen = new Uint8Array(n);
  const prune = new Set<number>();
  const work = [0];
  seen[0] = 1;
  const walk: CfgWalk = { n, seen, prune, work };
  while (work.length) {
    const t = work.pop()!;
    const i = code[t];
    if (!i) continue;
    if (i.opcode === 0x18) {
      seen[t + 1] = 1;
      if (i.src === 4) visit(walk, t, t + i.imm + 1, true);
      visit(walk, t, t + 2, false);
      continue;
    }
    if (!isJmpClass(i.opcode)) {
      visit(walk, t, t + 1, false);
      continue;
    }
    const op = i.opcode & 0xf0;
    if (op === 0x90) continue;
    if (op === 0x80) {
      visit(walk, t, t + 1, false);
      prune.add(t + 1);
      // a callback-calling helper's CALL is where its callback iterations converge
      if (i.src === 0 && callsCallback(i.imm)) prune.add(t);
      // as is an iterator's _next call, where its loop converges
      if (isIterNext(i)) prune.add(t);
      if (i.src === 1 && !isKfuncCall(i)) {
        prune.add(t);
        visit(walk, t, t + i.imm + 1, true);
      }
      continue;
    }
    if (op === 0x00) {
      const w = jumpTarget(t, i)!;
      visit(walk, t, w, false);
      prune.add(w);
      continue;
    }
    prune.add(t);
    visit(walk, t, t + 1, false);
    visit(walk, t, jumpTarget(t, i)!, true);
  }
  for (let t = 0; t < n; t++) if (!seen[t]) throw new VerifyAbort(t, `unreachable insn ${t}`);
  return { code, subprogs, prunePoints: prune, liveBefore: liveness(code, kfuncArgs) };
}

const bit = (r: number): number => 1 << r;
/** use | def << DEF_SHIFT: one number per instruction, no object to allocate. */
const DEF_SHIFT = 16;
const ud = (use: number, def: number): number => use | (def << DEF_SHIFT);

/** Registers used/defined by one instruction, for the backward liveness pass (packed by `ud`). */
function useDef(i: Instruction, kfuncArgs?: (i: Instruction) => number): number {
  const cls = i.opcode & 7;
  const x = (i.opcode & 8) !== 0;
  const op = i.opcode & 0xf0;
  switch (cls) {
    case 4:
    case 7:
      if (op === 0xb0) return ud(x ? bit(i.src) : 0, bit(i.dst));
      return ud(bit(i.dst) | (x && op !== 0x80 && op !== 0xd0 ? bit(i.src) : 0), bit(i.dst));
    case 1:
      return ud(bit(i.src), bit(i.dst));
    case 2:
      return ud(bit(i.dst), 0);
    case 3:
      if ((i.opcode & 0xe0) === 0xc0) {
        const fetch = (i.imm & 1) !== 0;
        const cmpx = i.imm === 0xf1;
        return ud(bit(i.dst) | bit(i.src) | (cmpx ? 1 : 0), cmpx ? 1 : fetch ? bit(i.src) : 0);
      }
      return ud(bit(i.dst) | bit(i.src), 0);
    case 0:
      if (i.opcode === 0x18) return ud(0, bit(i.dst));
      // legacy packet loads: r6 (skb) and the index register; clobber r0-r5
      return ud(bit(6) | ((i.opcode & 0xe0) === 0x40 ? bit(i.src) : 0), 0x3f);
    default: {
      if (op === 0x90) return ud(1, 0);
      if (op === 0x80) {
        let use = 0x3e;
        const iterArgs = iterKfuncArgCount(i);
        if (i.src === 0 || iterArgs !== undefined || (i.src === 2 && kfuncArgs)) {
          const n =
            iterArgs ??
            (i.src === 2 && kfuncArgs ? kfuncArgs(i) : (helperById(i.imm)?.proto?.args.length ?? 5));
          use = 0;
          for (let r = 1; r <= n; r++) use |= bit(r);
        }
        return ud(use, 0x3f);
      }
      if (op === 0x00) return ud(0, 0);
      return ud(bit(i.dst) | (x ? bit(i.src) : 0), 0);
    }
  }
}

const inRange = (w: number, n: number): number => (w >= 0 && w < n ? w : -1);

function liveness(
  code: readonly (Instruction | undefined)[],
  kfuncArgs?: (i: Instruction) => number,
): number[] {
  const n = code.length;
  const live = new Array<number>(n).fill(0);
  // successors (-1: none) and use/def sets computed once, not on every pass of the fixpoint
  // (one buffer for the four tables: typed arrays cost most in their allocation for small programs)
  const buf = new Int32Array(4 * n);
  const succ1 = buf.subarray(0, n).fill(-1);
  const succ2 = buf.subarray(n, 2 * n).fill(-1);
  const uses = buf.subarray(2 * n, 3 * n);
  const defs = buf.subarray(3 * n, 4 * n);
  for (let t = 0; t < n; t++) {
    const i = code[t];
    if (!i) continue;
    const packed = useDef(i, kfuncArgs);
    uses[t] = packed & ((1 << DEF_SHIFT) - 1);
    defs[t] = packed >>> DEF_SHIFT;
    if (i.opcode === 0x18) succ1[t] = inRange(t + 2, n);
    else if (!isJmpClass(i.opcode)) succ1[t] = inRange(t + 1, n);
    else {
      const op = i.opcode & 0xf0;
      if (op === 0x90) continue;
      if (op === 0x80) succ1[t] = inRange(t + 1, n);
      else if (op === 0x00) succ1[t] = inRange(jumpTarget(t, i)!, n);
      else {
        succ1[t] = inRange(t + 1, n);
        succ2[t] = inRange(jumpTarget(t, i)!, n);
      }
    }
  }
  let changed = true;
  while (changed) {
    changed = false;
    for (let t = n - 1; t >= 0; t--) {
      if (!code[t]) continue;
      const s1 = succ1[t]!;
      const s2 = succ2[t]!;
      const out = (s1 >= 0 ? live[s1]! : 0) | (s2 >= 0 ? live[s2]! : 0);
      const v = (uses[t]! | (out & ~defs[t]!)) & 0x7ff;
      if (v !== live[t]) {
        live[t] = v;
        changed = true;
      }
    }
  }
  return live;
}
