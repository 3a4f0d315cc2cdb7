/**
 * Synchronous callbacks (bpf_loop, bpf_for_each_map_elem) as the 6.18 verifier checks them
 * (push_callback_call, set_loop_callback_state, map_set_for_each_callback_args,
 * prepare_func_exit): at the helper call a state entering the callback in a new frame is queued
 * and the caller goes on past the call; the callback's exit checks R0 against [0, 1] and returns
 * to the CALL instruction itself, which runs again and queues one more callback entry. The
 * iteration ends when the state back at the call is within one seen there before
 * (is_state_visited on the call, a forced checkpoint) or, for bpf_loop, when the caller frame's
 * callback depth reaches the loop count's maximum.
 *
 * Not modelled: the kernel widens imprecise scalars when a callback returns
 * (widen_imprecise_scalars); without precision tracking every scalar counts as precise here, so a
 * callback whose state converges only by widening iterates longer (refused past
 * MAX_UNROLL iterations rather than guessed).
 */
import type { MapSpec } from "../elf/object/types.js";
import { constDynptr } from "./dynptr.js";
import { notModelled, VerifyAbort } from "./errors.js";
import {
  cloneState,
  copyReg,
  curFrame,
  type Frame,
  newFrame,
  pointer,
  type Reg,
  unknownScalar,
  type VState,
} from "./state.js";

/** Helper ids whose calls run a callback synchronously: for_each_map_elem, loop, user_ringbuf_drain. */
const SYNC_CALLBACK_HELPERS: ReadonlySet<number> = new Set([164, 181, 209]);
/** Helpers taking a callback that are not modelled: timer_set_callback, find_vma. */
const OTHER_CALLBACK_HELPERS: ReadonlySet<number> = new Set([170, 180]);

/** Is a CALL of helper `imm` a sync-callback call (a forced checkpoint and prune point)? */
export const callsCallback = (imm: number): boolean =>
  SYNC_CALLBACK_HELPERS.has(imm) || OTHER_CALLBACK_HELPERS.has(imm);

/** Callback iterations along one path before we give up (see the module comment). */
const MAX_UNROLL = 1024;
const MAX_CALL_FRAMES = 8;

/** Map types with a for_each callback (map_set_for_each_callback_args). */
const FOR_EACH_MAPS: ReadonlySet<number> = new Set([1, 2, 5, 6, 9, 10]);

const depthOf = (f: Frame): number => f.callbackDepth ?? 0;

/** func_states_equal: an old state with a deeper callback depth is never equal. */
export const callbackDepthOk = (old: Frame, cur: Frame): boolean => depthOf(old) <= depthOf(cur);

/** The infinite-loop check compares only states at the same callback iteration (callback_unroll_depth). */
export function sameUnroll(old: VState, cur: VState): boolean {
  const sum = (s: VState): number => s.frames.reduce((a, f) => a + (f.unroll ?? 0), 0);
  return sum(old) === sum(cur);
}

/**
 * The callback part of a helper call at insn t (after its arguments were checked, before R0-R5
 * are clobbered). `callback` is the callback's first instruction. Queues the callback entry
 * with `push` when the kernel would.
 */
export function callbackCall(
  st: VState,
  t: number,
  helper: string,
  callback: number,
  map: MapSpec | undefined,
  push: (s: VState, insn: number, from: number) => void,
  newId: () => number,
): void {
  const caller = curFrame(st);
  if (helper === "bpf_loop") {
    // bpf_loop: the caller's loop count bounds the iterations
    if (depthOf(caller) >= Number(caller.regs[1]!.umax > 1n << 40n ? 1n << 40n : caller.regs[1]!.umax)) {
      caller.callbackDepth = 0;
      return;
    }
  } else if (helper !== "bpf_for_each_map_elem" && helper !== "bpf_user_ringbuf_drain") {
    throw notModelled(t, `callbacks of ${helper}`);
  }
  if (st.frames.length >= MAX_CALL_FRAMES)
    throw new VerifyAbort(t, `the call stack of ${st.frames.length + 1} frames is too deep`);
  const cb = cloneState(st);
  const cbCaller = curFrame(cb);
  const unroll = (cbCaller.unroll ?? 0) + 1;
  if (unroll > MAX_UNROLL)
    throw notModelled(t, `${helper} callback iterations that converge only by widening imprecise scalars`);
  const callee = newFrame(cb.frames.length, t, callback);
  const regs = callee.regs;
  if (helper === "bpf_loop") {
    // callback_fn(u64 index, void *ctx)
    regs[1] = unknownScalar();
    regs[2] = copyReg(cbCaller.regs[3]!);
  } else if (helper === "bpf_user_ringbuf_drain") {
    // callback_fn(const struct bpf_dynptr *dynptr, void *ctx): a local const dynptr per sample
    regs[1] = constDynptr("local", newId());
    regs[2] = copyReg(cbCaller.regs[3]!);
  } else {
    // callback_fn(struct bpf_map *map, void *key, void *value, void *ctx)
    if (!map || !FOR_EACH_MAPS.has(map.type))
      throw notModelled(t, `bpf_for_each_map_elem on ${map?.typeName ?? "this map"}`);
    regs[1] = copyReg(cbCaller.regs[1]!);
    regs[2] = pointer("map_key", { map });
    regs[3] = pointer("map_value", { map });
    regs[4] = copyReg(cbCaller.regs[3]!);
  }
  callee.isCallback = true;
  callee.callbackRet = [0, 1];
  cbCaller.callbackDepth = depthOf(cbCaller) + 1;
  cbCaller.unroll = unroll;
  cb.frames.push(callee);
  cb.trace.push(`${t}: ${helper} callback at ${callback}`);
  push(cb, callback, t);
  caller.callbackDepth = 0;
}

/**
 * The exit of a callback frame (prepare_func_exit with in_callback_fn): R0 must be a scalar in
 * the callback's return range; the frame is dropped and verification goes back to the CALL.
 * `invalid` formats the kernel's out-of-range message. Returns the instruction to go on at.
 */
export function callbackExit(
  st: VState,
  t: number,
  invalid: (r0: Reg, lo: number, hi: number) => string,
): number {
  const f = curFrame(st);
  const r0 = f.regs[0]!;
  if (r0.type !== "scalar") throw new VerifyAbort(t, "R0 not a scalar value");
  const [lo, hi] = f.callbackRet ?? [0, 1];
  if (r0.smin < BigInt(lo) || r0.smax > BigInt(hi)) throw new VerifyAbort(t, invalid(r0, lo, hi));
  st.frames.pop();
  return f.callsite;
}
