/**
 * What a program runs against: the memory (regions for maps, globals, context, packet), the
 * helper table, the ld_imm64 resolver and the hooks for time and randomness. Later parts (maps,
 * kernel helpers, program-type contexts) plug in here; the interpreter knows none of them.
 */
import type { Instruction } from "../isa/instruction.js";
import type { VmFault, VmFaultKind } from "./errors.js";
import type { VmProgram } from "./interpreter.js";
import type { Memory, Region } from "./memory.js";

/** What a helper sees of the machine during a call. */
export interface VmHelperCall {
  readonly memory: Memory;
  readonly env: VmEnv;
  /** Slot index of the call instruction. */
  readonly insn: number;
  /** Argument register r1..r5 as unsigned 64-bit. */
  arg(n: 1 | 2 | 3 | 4 | 5): bigint;
  /** Low 32 bits of argument register r1..r5 (unsigned), without building a BigInt. */
  argLo(n: 1 | 2 | 3 | 4 | 5): number;
  /** High 32 bits of argument register r1..r5 (unsigned): with argLo, a pointer without BigInt. */
  argHi(n: 1 | 2 | 3 | 4 | 5): number;
  /**
   * End the whole run now with this r0 (what the conformance suite's "unwind" helper does).
   * The helper's own return value is then ignored.
   */
  stop(r0: bigint): void;
  /**
   * Call a function of the program (the value an ld_imm64 with src 4 loaded, passed to the
   * helper as an argument) with r1..r5 = args, in a new frame; returns its r0. What bpf_loop and
   * bpf_for_each_map_elem do with their callback. The helper's own arguments stay readable.
   */
  invoke(fn: bigint, args: readonly bigint[]): bigint;
  /**
   * bpf_tail_call's success path: after the helper returns, `target` (created on the same
   * memory) replaces the running program in the current frame, entered with r1 = this call's r1.
   * False when the run already chained MAX_TAIL_CALLS (33) tail calls or inside a callback;
   * the helper then returns its error and the program goes on.
   */
  tailCall(target: VmProgram): boolean;
  /** A fault attributed to the call instruction (kind "helper" unless told). */
  fault(detail: string, kind?: VmFaultKind, address?: bigint): VmFault;
}

/**
 * A helper implementation. The result goes to r0: a bigint is taken modulo 2^64; a number must
 * be a safe integer (negative numbers are two's complement, so `return -22` is -EINVAL).
 */
export type VmHelperFn = (call: VmHelperCall) => bigint | number;

export interface VmHelper {
  readonly id: number;
  readonly name: string;
  readonly fn: VmHelperFn;
  /**
   * A declarative fast path for a map-lookup helper (bpf_map_lookup_elem), what the kernel's
   * JIT inlines for array maps: given a map pointer's halves (r1), the array it names when a
   * lookup on it is plain index arithmetic, else undefined. Asked once per call site whose r1 is
   * a known ld_imm64 constant when the program is created; both engines then read the u32 key
   * at r2 themselves and answer NULL or the element's address, and take `fn` for anything
   * unusual (a key pointer that is not plain readable memory), so results and faults are fn's.
   */
  readonly arrayLookup?: (mapLo: number, mapHi: number) => VmArrayLookup | undefined;
}

/** An array map as a lookup fast path sees it (see VmHelper.arrayLookup). */
export interface VmArrayLookup {
  /** Keys (u32 indexes) at or above this give NULL. */
  readonly maxEntries: number;
  /**
   * High half of element i's address by index, 0 where not known yet (then elemHi(i)); every
   * element's low half is 0 (each element is its own region).
   */
  readonly elemHis: Int32Array;
  /** High half of element i's address (i < maxEntries); fills elemHis[i]. */
  elemHi(i: number): number;
}

export interface VmEnv {
  /** The address space. Regions the program should see (maps, globals) are added by the caller. */
  readonly memory: Memory;
  /** Helpers by id. */
  readonly helpers?: readonly VmHelper[];
  /**
   * Resolve an ld_imm64 whose src is a pseudo source (map fd, map value, BTF id, func...) to its
   * 64-bit value. Called once per such instruction when the program is prepared; an instruction
   * it cannot resolve (undefined or a throw) faults with kind "unresolved" when executed.
   */
  readonly resolveLdImm64?: (insn: Instruction, slot: number) => bigint | undefined;
  /** Monotonic clock in ns for time helpers (tests make it deterministic). */
  readonly clock?: () => bigint;
  /** Random u32 source for bpf_get_prandom_u32. */
  readonly random?: () => number;
}

/** Per-run inputs. */
export interface VmRunOptions {
  /** Initial r1..r5 (missing ones are 0). */
  readonly args?: readonly (bigint | number)[];
  /** Instructions the run may execute before faulting with kind "budget". Default 1,000,000. */
  readonly budget?: number;
  /** The packet LD_ABS / LD_IND read (the kernel's skb data behind the context in r6). */
  readonly packet?: Region;
}

export interface VmRunResult {
  /** r0 at exit, unsigned 64-bit. */
  readonly r0: bigint;
  /** Instructions executed (the budget consumed). */
  readonly insns: number;
}

export const DEFAULT_BUDGET = 1_000_000;
/**
 * may_goto's loop budget per function invocation: the kernel's counter (BPF_MAX_LOOPS, kept in a
 * stack slot each function's prologue sets). Deliberately deterministic: x86-64 kernels since
 * 6.13 use a time budget instead (measured on this 6.18 kernel: a tight may_goto loop stops
 * after ~250 ms, some 450M iterations).
 */
export const MAY_GOTO_BUDGET = 8 * 1024 * 1024;
export const MAX_CALL_FRAMES = 8;
export const STACK_SIZE = 512;
