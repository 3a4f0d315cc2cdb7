/**
 * Precision tracking as the 6.18 kernel does it for privileged programs (mark_chain_precision,
 * backtrack_insn, propagate_precision, mark_all_scalars_precise): every scalar starts imprecise;
 * when a check needs a scalar's exact range (a pointer offset, a decided branch, a helper size,
 * the return value ...), the path is walked backwards through the instructions it ran since
 * its checkpoints and the registers and stack slots that value came from are marked precise in
 * those checkpoints. Pruning (regsafe) then ignores imprecise scalars of a stored state.
 *
 * Scope: programs of one function (no subprograms, no callbacks). Elsewhere every stored scalar
 * is precise, as before (safe: it only prunes less). Anything the walk does not handle makes
 * every scalar of every checkpoint of the path precise, as the kernel's fallback does.
 * Facts read in kernel/bpf/verifier.c; the code is ours.
 */
import type { Instruction } from "../isa/instruction.js";
import type { Cfg } from "./cfg.js";
import { isConst } from "./scalar.js";
import type { HistNode, Reg, StoredState, VState } from "./state.js";

const MAX_SLOTS = 64;

/** Whether precision is tracked for this program (one function, so one frame). */
export function precisionTracked(cfg: Cfg): boolean {
  if (cfg.subprogs.length !== 1) return false;
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
    const ids: number[] = [];
    if (s && s.type === "scalar" && s.id) ids.push(s.id);
    if (d && d.type === "scalar" && d.id) ids.push(d.id);
    if (ids.length) {
      const f = st.frames[0]!;
      const out: number[] = [];
      for (let r = 0; r < 10; r++) {
        const g = f.regs[r]!;
        if (g.type === "scalar" && ids.includes(g.id)) out.push(r);
      }
      for (let spi = 0; spi < f.stack.length && spi < MAX_SLOTS; spi++) {
        const sl = f.stack[spi]!;
        if (sl.kinds[0] === "r" && sl.spilled.type === "scalar" && ids.includes(sl.spilled.id))
          out.push(16 + spi);
      }
      if (out.length > 1) linked = out;
    }
  }
  st.hist = { t, slot, flags, linked, prev: st.hist };
}

/** Registers (bit r) and stack slots of frame 0 still to be traced (the kernel's backtrack_state). */
class Backtrack {
  regs = 0;
  readonly slots = new Uint8Array(MAX_SLOTS);
  nslots = 0;
  setSlot(spi: number): void {
    if (!this.slots[spi]) {
      this.slots[spi] = 1;
      this.nslots++;
    }
  }
  clearSlot(spi: number): void {
    if (this.slots[spi]) {
      this.slots[spi] = 0;
      this.nslots--;
    }
  }
  has(k: number): boolean {
    return k < 16 ? (this.regs & (1 << k)) !== 0 : this.slots[k - 16] === 1;
  }
  set(k: number): void {
    if (k < 16) this.regs |= 1 << k;
    else this.setSlot(k - 16);
  }
  empty(): boolean {
    return this.regs === 0 && this.nslots === 0;
  }
}

/** bt_sync_linked_regs: one linked scalar traced means all of them are. */
function syncLinked(bt: Backtrack, h: HistNode): void {
  if (!h.linked) return;
  if (!h.linked.some((k) => bt.has(k))) return;
  for (const k of h.linked) bt.set(k);
}

const FALLBACK = false;

/** backtrack_insn: what instruction `i` needed, given what is traced after it; false = give up. */
function backtrackInsn(i: Instruction, h: HistNode, bt: Backtrack): boolean {
  const cls = i.opcode & 7;
  const op = i.opcode & 0xf0;
  const x = (i.opcode & 8) !== 0;
  const dbit = 1 << i.dst;
  if (cls === 4 || cls === 7) {
    if (!(bt.regs & dbit)) return true;
    if (op === 0xd0 || op === 0x80) return true; // BPF_END, BPF_NEG
    if (op === 0xb0) {
      bt.regs &= ~dbit;
      if (x && i.src !== 10) bt.regs |= 1 << i.src;
      return true;
    }
    if (x && i.src !== 10) bt.regs |= 1 << i.src;
    return true;
  }
  const stackSpi = h.slot >= 0 && h.slot < MAX_SLOTS ? h.slot : -1;
  if (cls === 1 || (cls === 3 && (i.opcode & 0xe0) === 0xc0 && i.imm === 0x100)) {
    // LDX, load-acquire
    if (!(bt.regs & dbit)) return true;
    bt.regs &= ~dbit;
    if (h.slot < 0) return true;
    if (stackSpi < 0) return FALLBACK; // another frame's stack
    bt.setSlot(stackSpi);
    return true;
  }
  if (cls === 2 || cls === 3) {
    if (bt.regs & dbit) return FALLBACK;
    // atomic fetch/xchg/cmpxchg load the old memory value into src (R0 for cmpxchg)
    if (cls === 3 && (i.opcode & 0xe0) === 0xc0 && (i.imm & 1) !== 0) {
      const loaded = i.imm === 0xf1 ? 1 : 1 << i.src;
      if (bt.regs & loaded) return FALLBACK;
    }
    if (h.slot < 0) return true;
    if (stackSpi < 0) return FALLBACK;
    if (!bt.slots[stackSpi]) return true;
    bt.clearSlot(stackSpi);
    if (cls === 3) bt.regs |= 1 << i.src;
    return true;
  }
  if (cls === 5 || cls === 6) {
    if (op === 0x80) {
      if (i.src !== 0) return FALLBACK; // bpf-to-bpf or kfunc call: not tracked here
      bt.regs &= ~1;
      return (bt.regs & 0x3e) === 0 ? true : FALLBACK;
    }
    if (op === 0x90) return FALLBACK;
    if (op === 0x00) return true;
    if (x) {
      if (!(bt.regs & dbit) && !(bt.regs & (1 << i.src))) return true;
      if (!(h.flags & 1)) bt.regs |= 1 << i.src;
      if (!(h.flags & 2)) bt.regs |= dbit;
    }
    return true;
  }
  // BPF_LD: ld_imm64 defines dst; LD_ABS/IND define R0 from the packet
  if (i.opcode === 0x18) {
    bt.regs &= ~dbit;
    return true;
  }
  if (!(bt.regs & 1)) return true;
  return FALLBACK;
}

/** Mark what `bt` holds in the checkpoint `s` (frame 0); drop what is not a scalar or already precise. */
function markInCheckpoint(s: VState, bt: Backtrack): void {
  const f = s.frames[0]!;
  for (let r = 0; r < 10; r++) {
    if (!(bt.regs & (1 << r))) continue;
    const reg = f.regs[r]!;
    if (reg.type !== "scalar" || reg.precise) bt.regs &= ~(1 << r);
    else reg.precise = true;
  }
  if (bt.nslots === 0) return;
  for (let spi = 0; spi < MAX_SLOTS; spi++) {
    if (!bt.slots[spi]) continue;
    const sl = f.stack[spi];
    if (sl?.kinds[0] !== "r" || sl.spilled.type !== "scalar" || sl.spilled.precise) bt.clearSlot(spi);
    else sl.spilled.precise = true;
  }
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
): void {
  if (bt.empty()) return;
  let s = st;
  let h = st.hist;
  if (skipLast && h) h = h.prev;
  for (;;) {
    for (; h; h = h.prev) {
      const i = code[h.t];
      syncLinked(bt, h);
      if (!i || !backtrackInsn(i, h, bt)) {
        markAllPrecise(st);
        return;
      }
      syncLinked(bt, h);
      if (bt.empty()) return;
    }
    const p = s.parent;
    if (!p) break;
    markInCheckpoint(p.state, bt);
    if (bt.empty()) return;
    s = p.state;
    h = s.hist;
  }
  // traced back to the program start with something left: give up on this path
  markAllPrecise(st);
}

/** mark_chain_precision for registers (bit mask) and stack slots of frame 0, asked at the current insn. */
export function markPrecise(
  code: readonly (Instruction | undefined)[],
  st: VState,
  regMask: number,
  slots: readonly number[] = [],
): void {
  const bt = new Backtrack();
  const regs = st.frames[st.frames.length - 1]!.regs;
  for (let r = 0; r < 10; r++) if (regMask & (1 << r) && regs[r]!.type === "scalar") bt.regs |= 1 << r;
  for (const spi of slots) if (spi >= 0 && spi < MAX_SLOTS) bt.setSlot(spi);
  markChain(code, st, bt, true);
}

/** propagate_precision: `cur` was pruned by `old`; what was precise in `old` is needed in `cur`'s path. */
export function propagatePrecision(
  code: readonly (Instruction | undefined)[],
  old: VState,
  cur: VState,
): void {
  const bt = new Backtrack();
  const f = old.frames[0]!;
  for (let r = 0; r < 10; r++) {
    const reg = f.regs[r]!;
    if (reg.type === "scalar" && reg.precise) bt.regs |= 1 << r;
  }
  for (let spi = 0; spi < f.stack.length && spi < MAX_SLOTS; spi++) {
    const sl = f.stack[spi]!;
    if (sl.kinds[0] === "r" && sl.spilled.type === "scalar" && sl.spilled.precise) bt.setSlot(spi);
  }
  markChain(code, cur, bt, false);
}
