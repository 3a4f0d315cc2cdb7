/**
 * Precision tracking as the 6.18 kernel does it for privileged programs (mark_chain_precision,
 * backtrack_insn, propagate_precision, mark_all_scalars_precise): every scalar starts imprecise;
 * when a check needs a scalar's exact range (a pointer offset, a decided branch, a helper size,
 * the return value ...), the path is walked backwards through the instructions it ran since
 * its checkpoints and the registers and stack slots that value came from are marked precise in
 * those checkpoints. Pruning (regsafe) then ignores imprecise scalars of a stored state.
 *
 * Scope: programs without callbacks (bpf_loop ...: there every stored scalar is precise, as
 * before, which only prunes less); subprogram frames are walked as the kernel does. Anything
 * the walk does not handle makes every scalar of every checkpoint of the path precise, as the
 * kernel's fallback does. Where a check of ours reads a scalar the kernel does not mark (NULL
 * helper arguments, the tail call index), we mark it too: more marks only prune less.
 * Facts read in kernel/bpf/verifier.c; the code is ours.
 */
import type { Instruction } from "../isa/instruction.js";
import type { Cfg } from "./cfg.js";
import { isConst } from "./scalar.js";
import type { Reg, StoredState, VState } from "./state.js";

const MAX_SLOTS = 64;

/** Whether precision is tracked for this program (no callbacks). */
export function precisionTracked(cfg: Cfg): boolean {
  for (const i of cfg.code) {
    // bpf_loop and other callbacks take a function pointer: ld_imm64 src 4
    if (i && i.opcode === 0x18 && i.src === 4) return false;
  }
  return true;
}

/** The stack slot (frameno * 64 + spi) of a fixed-offset stack access through `ptr`, or -1. */
function stackSlot(ptr: Reg | undefined, off: number): number {
  if (ptr?.type !== "stack" || !isConst(ptr)) return -1;
  const at = ptr.off + Number(BigInt.asIntN(64, ptr.varOff.value)) + off;
  if (at >= 0) return -1;
  const spi = Math.floor((-at - 1) / 8);
  return spi < MAX_SLOTS ? ptr.frameno * MAX_SLOTS + spi : -1;
}

/**
 * Record instruction `t` (about to run in `st`) in the path's history: the stack slot it
 * accesses, and for a conditional jump its linked scalars and stack-pointer operands.
 */
export function recordInsn(st: VState, t: number, i: Instruction): void {
  const regs = st.frames[st.frames.length - 1]!.regs;
  const cls = i.opcode & 7;
  let slot = -1;
  let flags = 0;
  let linked: number[] | undefined;
  if (cls === 1) slot = stackSlot(regs[i.src], i.off);
  else if (cls === 2 || cls === 3) slot = stackSlot(regs[i.dst], i.off);
  else if ((cls === 5 || cls === 6) && (i.opcode & 0xf0) !== 0x80 && (i.opcode & 0xf0) !== 0x90) {
    const x = (i.opcode & 8) !== 0;
    const d = regs[i.dst];
    const s = x ? regs[i.src] : undefined;
    if (s?.type === "stack") flags |= 1;
    if (d?.type === "stack") flags |= 2;
    // the operands' scalar ids (0: none), without an array per jump
    const id1 = s && s.type === "scalar" ? s.id : 0;
    const id2 = d && d.type === "scalar" ? d.id : 0;
    if (id1 || id2) {
      const out: number[] = [];
      for (let fr = 0; fr < st.frames.length; fr++) {
        const f = st.frames[fr]!;
        for (let r = 0; r < 10; r++) {
          const g = f.regs[r]!;
          if (g.type === "scalar" && g.id !== 0 && (g.id === id1 || g.id === id2)) out.push((fr << 8) | r);
        }
        for (let spi = 0; spi < f.stack.length && spi < MAX_SLOTS; spi++) {
          const sl = f.stack[spi]!;
          const g = sl.spilled;
          if (sl.kinds[0] === "r" && g.type === "scalar" && g.id !== 0 && (g.id === id1 || g.id === id2))
            out.push((fr << 8) | (16 + spi));
        }
      }
      if (out.length > 1) linked = out;
    }
  }
  const h = st.hist;
  // the run of a previous instruction with nothing to record goes on (in its node when no copy
  // of the state shares it, else in a new node replacing it)
  if (h && h.t === t - 1 && h.slot === -1 && h.flags === 0 && h.linked === undefined) {
    if (st.histOwn) {
      h.t = t;
      h.slot = slot;
      h.flags = flags;
      h.linked = linked;
    } else st.hist = { first: h.first, t, slot, flags, linked, prev: h.prev };
  } else st.hist = { first: t, t, slot, flags, linked, prev: h };
  st.histOwn = true;
}

const MAX_FRAMES = 8;

/** Registers (bit r per frame) and stack slots still to be traced (the kernel's backtrack_state). */
class Backtrack {
  /** The frame the walk is in. */
  frame = 0;
  readonly regs = new Int32Array(MAX_FRAMES);
  readonly slots = new Uint8Array(MAX_FRAMES * MAX_SLOTS);
  nslots = 0;
  setSlot(fr: number, spi: number): void {
    const k = fr * MAX_SLOTS + spi;
    if (!this.slots[k]) {
      this.slots[k] = 1;
      this.nslots++;
    }
  }
  clearSlot(fr: number, spi: number): void {
    const k = fr * MAX_SLOTS + spi;
    if (this.slots[k]) {
      this.slots[k] = 0;
      this.nslots--;
    }
  }
  /** Linked-register keys: frame << 8 | r, or frame << 8 | (16 + spi). */
  has(key: number): boolean {
    const fr = key >> 8;
    const k = key & 0xff;
    return k < 16 ? (this.regs[fr]! & (1 << k)) !== 0 : this.slots[fr * MAX_SLOTS + k - 16] === 1;
  }
  set(key: number): void {
    const fr = key >> 8;
    const k = key & 0xff;
    if (k < 16) this.regs[fr]! |= 1 << k;
    else this.setSlot(fr, k - 16);
  }
  empty(): boolean {
    if (this.nslots) return false;
    for (let f = 0; f < MAX_FRAMES; f++) if (this.regs[f]) return false;
    return true;
  }
}

/** bt_sync_linked_regs: one linked scalar traced means all of them are. */
function syncLinked(bt: Backtrack, linked: readonly number[] | undefined): void {
  if (!linked) return;
  if (!linked.some((k) => bt.has(k))) return;
  for (const k of linked) bt.set(k);
}

/** What backtrackInsn reads of one instruction's history. */
interface HistEntry {
  t: number;
  slot: number;
  flags: number;
}

const FALLBACK = false;
const ARGS = 0x3e;

/**
 * backtrack_insn: what instruction `i` (at `h.t`) needed, given what is traced after it; `next`
 * is the instruction the path ran after it (-1 at the asking end). False = give up.
 */
function backtrackInsn(
  code: readonly (Instruction | undefined)[],
  i: Instruction,
  h: HistEntry,
  next: number,
  bt: Backtrack,
): boolean {
  const cls = i.opcode & 7;
  const op = i.opcode & 0xf0;
  const x = (i.opcode & 8) !== 0;
  const dbit = 1 << i.dst;
  const fr = bt.frame;
  let m = bt.regs[fr]!;
  if (cls === 4 || cls === 7) {
    if (!(m & dbit)) return true;
    if (op === 0xd0 || op === 0x80) return true; // BPF_END, BPF_NEG
    if (op === 0xb0) m &= ~dbit;
    if (x && i.src !== 10) m |= 1 << i.src;
    bt.regs[fr] = m;
    return true;
  }
  const slotFr = h.slot >= 0 ? Math.floor(h.slot / MAX_SLOTS) : -1;
  const spi = h.slot >= 0 ? h.slot % MAX_SLOTS : -1;
  if (cls === 1 || (cls === 3 && (i.opcode & 0xe0) === 0xc0 && i.imm === 0x100)) {
    // LDX, load-acquire
    if (!(m & dbit)) return true;
    bt.regs[fr] = m & ~dbit;
    if (h.slot >= 0) bt.setSlot(slotFr, spi);
    return true;
  }
  if (cls === 2 || cls === 3) {
    if (m & dbit) return FALLBACK;
    // atomic fetch/xchg/cmpxchg load the old memory value into src (R0 for cmpxchg)
    if (cls === 3 && (i.opcode & 0xe0) === 0xc0 && (i.imm & 1) !== 0) {
      const loaded = i.imm === 0xf1 ? 1 : 1 << i.src;
      if (m & loaded) return FALLBACK;
    }
    if (h.slot < 0 || !bt.slots[slotFr * MAX_SLOTS + spi]) return true;
    bt.clearSlot(slotFr, spi);
    if (cls === 3) bt.regs[fr] = m | (1 << i.src);
    return true;
  }
  if (cls === 5 || cls === 6) {
    if (op === 0x80) {
      if (i.src === 1) {
        if (next === h.t + 1) {
          // a global function, not entered: R0 is its unknown result
          bt.regs[fr] = m & ~1;
          return (m & ARGS) === 0;
        }
        // leaving the callee backwards: its argument registers come from the caller's
        if (fr === 0 || m & ~ARGS) return FALLBACK;
        for (let k = 0; k < MAX_SLOTS; k++) if (bt.slots[fr * MAX_SLOTS + k]) return FALLBACK;
        bt.regs[fr] = 0;
        bt.regs[fr - 1]! |= m;
        bt.frame = fr - 1;
        return true;
      }
      if (i.src !== 0) return FALLBACK; // kfunc
      bt.regs[fr] = m & ~1;
      return (m & ARGS) === 0;
    }
    if (op === 0x90) {
      // entering the callee backwards from the instruction after its call
      const call = next >= 1 ? code[next - 1] : undefined;
      const fromCall = call !== undefined && call.opcode === 0x85 && call.src === 1;
      if (m & ARGS || !fromCall || fr + 1 >= MAX_FRAMES) return FALLBACK;
      bt.regs[fr] = m & ~1;
      bt.frame = fr + 1;
      if (m & 1) bt.regs[fr + 1]! |= 1;
      return true;
    }
    if (op === 0x00) return true;
    if (x) {
      if (!(m & dbit) && !(m & (1 << i.src))) return true;
      if (!(h.flags & 1)) m |= 1 << i.src;
      if (!(h.flags & 2)) m |= dbit;
      bt.regs[fr] = m;
    }
    return true;
  }
  // BPF_LD: ld_imm64 defines dst; LD_ABS/IND define R0 from the packet
  if (i.opcode === 0x18) {
    bt.regs[fr] = m & ~dbit;
    return true;
  }
  if (!(m & 1)) return true;
  return FALLBACK;
}

/**
 * Mark what `bt` holds in the checkpoint `s` (frames up to the walk's), dropping what is not a
 * scalar or is already precise; false when the checkpoint has fewer frames than the walk.
 */
function markInCheckpoint(s: VState, bt: Backtrack): boolean {
  if (s.frames.length <= bt.frame) return false;
  for (let fr = bt.frame; fr >= 0; fr--) {
    const f = s.frames[fr]!;
    let m = bt.regs[fr]!;
    for (let r = 0; r < 10; r++) {
      if (!(m & (1 << r))) continue;
      const reg = f.regs[r]!;
      if (reg.type !== "scalar" || reg.precise) m &= ~(1 << r);
      else reg.precise = true;
    }
    bt.regs[fr] = m;
    if (bt.nslots === 0) continue;
    for (let spi = 0; spi < MAX_SLOTS; spi++) {
      if (!bt.slots[fr * MAX_SLOTS + spi]) continue;
      const sl = f.stack[spi];
      if (sl?.kinds[0] !== "r" || sl.spilled.type !== "scalar" || sl.spilled.precise) bt.clearSlot(fr, spi);
      else sl.spilled.precise = true;
    }
  }
  return true;
}

/** mark_all_scalars_precise: every scalar of every checkpoint above `st`. */
export function markAllPrecise(st: VState): void {
  for (let p: StoredState | undefined = st.parent; p; p = p.state.parent) markStatePrecise(p.state);
}

/** Every scalar (registers and spills, all frames) of one state precise. */
export function markStatePrecise(s: VState): void {
  for (const f of s.frames) {
    for (const r of f.regs) if (r.type === "scalar") r.precise = true;
    for (const sl of f.stack)
      if (sl.kinds[0] === "r" && sl.spilled.type === "scalar") sl.spilled.precise = true;
  }
}

/**
 * __mark_chain_precision from `st` for what `bt` holds: walk the path's history back (the last
 * entry skipped when it is the instruction asking), checkpoint by checkpoint.
 */
function markChain(
  code: readonly (Instruction | undefined)[],
  st: VState,
  bt: Backtrack,
  skipLast: boolean,
  at = -1,
): void {
  if (bt.empty()) return;
  let s = st;
  let h = st.hist;
  let next = at;
  // the instruction of the run `h` being walked
  let tt = h ? h.t : 0;
  if (skipLast && h) {
    next = h.t;
    if (tt > h.first) tt--;
    else {
      h = h.prev;
      tt = h ? h.t : 0;
    }
  }
  const plain: HistEntry = { t: 0, slot: -1, flags: 0 };
  for (;;) {
    while (h) {
      // only the run's last instruction has recorded fields
      const top = tt === h.t;
      const linked = top ? h.linked : undefined;
      let e: HistEntry = h;
      if (!top) {
        plain.t = tt;
        e = plain;
      }
      const i = code[tt];
      syncLinked(bt, linked);
      if (!i || !backtrackInsn(code, i, e, next, bt)) {
        markAllPrecise(st);
        return;
      }
      syncLinked(bt, linked);
      if (bt.empty()) return;
      next = tt;
      if (tt > h.first) tt--;
      else {
        h = h.prev;
        tt = h ? h.t : 0;
      }
    }
    const p = s.parent;
    if (!p) break;
    if (!markInCheckpoint(p.state, bt)) break;
    if (bt.empty()) return;
    s = p.state;
    h = s.hist;
    tt = h ? h.t : 0;
  }
  // traced back to the start with something left, or frames that do not match: give up
  markAllPrecise(st);
}

/** mark_chain_precision for registers (bit mask) of the current frame and stack slots (frameno * 64 + spi), asked at the current insn. */
export function markPrecise(
  code: readonly (Instruction | undefined)[],
  st: VState,
  regMask: number,
  slots: readonly number[] = [],
): void {
  const bt = backtrack();
  const fr = st.frames.length - 1;
  bt.frame = fr;
  const regs = st.frames[fr]!.regs;
  for (let r = 0; r < 10; r++) if (regMask & (1 << r) && regs[r]!.type === "scalar") bt.regs[fr]! |= 1 << r;
  for (const k of slots) {
    const sf = Math.floor(k / MAX_SLOTS);
    if (k >= 0 && sf <= fr) bt.setSlot(sf, k % MAX_SLOTS);
  }
  markChain(code, st, bt, true);
}

/**
 * The one Backtrack the walks use, cleared for each: a walk runs to its end before the next
 * starts (nothing in markChain asks for precision again), and two typed arrays per request were
 * a measurable part of verifying a small program.
 */
const SHARED_BACKTRACK = new Backtrack();

function backtrack(): Backtrack {
  const bt = SHARED_BACKTRACK;
  bt.frame = 0;
  bt.regs.fill(0);
  if (bt.nslots !== 0) bt.slots.fill(0);
  bt.nslots = 0;
  return bt;
}

function hasPrecise(s: VState): boolean {
  for (const f of s.frames) {
    for (let r = 0; r < 10; r++) if (f.regs[r]!.precise) return true;
    for (const sl of f.stack) if (sl.spilled.precise) return true;
  }
  return false;
}

/** propagate_precision: `cur` was pruned by `old`; what was precise in `old` is needed in `cur`'s path. */
export function propagatePrecision(
  code: readonly (Instruction | undefined)[],
  old: VState,
  cur: VState,
  t: number,
): void {
  // most pruned states carry no precise scalar: nothing to propagate, nothing to allocate
  if (!hasPrecise(old)) return;
  const bt = backtrack();
  bt.frame = cur.frames.length - 1;
  for (let fr = 0; fr < old.frames.length && fr < MAX_FRAMES; fr++) {
    const f = old.frames[fr]!;
    for (let r = 0; r < 10; r++) {
      const reg = f.regs[r]!;
      if (reg.type === "scalar" && reg.precise) bt.regs[fr]! |= 1 << r;
    }
    for (let spi = 0; spi < f.stack.length && spi < MAX_SLOTS; spi++) {
      const sl = f.stack[spi]!;
      if (sl.kinds[0] === "r" && sl.spilled.type === "scalar" && sl.spilled.precise) bt.setSlot(fr, spi);
    }
  }
  markChain(code, cur, bt, false, t);
}
