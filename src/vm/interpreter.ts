/**
 * The interpreter: runs a list of Instructions with the kernel's (RFC 9669) semantics. The
 * program is first flattened into typed arrays indexed by slot (jump offsets count slots), then
 * a single switch loop executes it with registers as two Int32Array halves, so the hot path
 * never allocates a BigInt. Anything the program may not do ends the run with a VmFault; it
 * cannot read or write outside its regions, and the instruction budget bounds every run.
 */
import { helperById } from "../abi/helpers.js";
import { UsageError } from "../errors.js";
import type { Instruction } from "../isa/instruction.js";
import * as ATOMIC from "./atomic.js";
import * as CODE from "./code.js";
import { type Code, compile } from "./code.js";
import type { VmArrayLookup, VmEnv, VmHelper, VmHelperCall, VmRunOptions, VmRunResult } from "./env.js";
import * as ENV from "./env.js";
import { VmFault, type VmFaultKind, type VmSourceLine } from "./errors.js";
import { inlineLookups } from "./inline-lookup.js";
import * as I64 from "./int64.js";
import { compileJit, JIT_STATE, type JitFn, type JitHost } from "./jit.js";
import type { Memory, Region } from "./memory.js";
import * as MEM from "./memory.js";

// tsx and vitest run these modules as CommonJS, where every use of an imported binding is a
// call of a getter: what the run and the loop use is copied into module constants once
const { atomic } = ATOMIC;
const { CODE_HI, OP_BAD_REG, OP_TRUNCATED, OP_UNRESOLVED, OP_WIDE_SLOT, SIZE_OF } = CODE;
const { DEFAULT_BUDGET, MAX_CALL_FRAMES, MAY_GOTO_BUDGET, STACK_SIZE } = ENV;
const {
  arsh64,
  bswap,
  div32,
  lsh64,
  ltS,
  ltU,
  mod32,
  mul64,
  rsh64,
  sdiv64,
  setNumber,
  smod64,
  truncate,
  udiv64,
  umod64,
} = I64;
const {
  bytesInto,
  hookValueInto,
  loadInto,
  PTR_DATA,
  PTR_END,
  pointerField,
  REGION_HI_BASE,
  storeHalves,
  TWO_TO_MINUS_32,
} = MEM;

export interface VmOptions {
  /**
   * Refuse instructions with non-zero reserved fields when the program is created (as the
   * kernel does). Default true. With false, such fields are ignored and only unknown opcodes
   * fault, when executed.
   */
  readonly strict?: boolean;
  /** Slot where execution starts (default 0): a function that is not first in its section. */
  readonly entry?: number;
  /** The program's name, prefixed to its faults ("prog: insn 3: ..."). */
  readonly name?: string;
  /** The source line of a slot (from BTF line info), attached to every fault the run ends with. */
  readonly sourceOf?: (slot: number) => VmSourceLine | undefined;
  /**
   * "interp" (default): the reference interpreter. "jit": the program is also compiled to a
   * JavaScript function (jit.ts) that runs its straight-line code; calls, exit and the other
   * control instructions still go through the interpreter. Same results and faults.
   */
  readonly engine?: VmEngine;
}

export type VmEngine = "interp" | "jit";

export interface VmProgram {
  readonly insns: readonly Instruction[];
  /** Number of 8-byte slots. */
  readonly slots: number;
  /** The stack region of each call depth (frame 0 is the entry function). */
  readonly stacks: readonly Region[];
  run(opts?: VmRunOptions): VmRunResult;
  /**
   * Run `repeat` times over the same inputs, as BPF_PROG_TEST_RUN's repeat does: the arguments
   * (the context pointer) are converted once and the context, packet and maps are not rebuilt,
   * so what one run leaves there the next one sees, as in the kernel. Every repetition is still
   * a whole run of its own: registers reset (r1-r5 = args), stacks zeroed, the full budget, every
   * check. `after` is called after each repetition (the simulator settles its maps there).
   * Returns the last repetition's result; a fault ends the whole call.
   */
  runRepeat(opts: VmRunOptions, repeat: number, after?: () => void): VmRunResult;
}

/** A program as the machine runs it: its code and what goes with it. */
interface Prog {
  readonly code: Code;
  readonly helpers: ReadonlyArray<VmHelper | undefined>;
  readonly sourceOf: ((slot: number) => VmSourceLine | undefined) | undefined;
  readonly entry: number;
  readonly name: string | undefined;
  readonly memory: Memory;
  /** The compiled fast path (engine "jit"), entered at any slot with the registers in L/H. */
  readonly jit: JitFn | undefined;
  /** Its entry for the start of a run, which does not read L/H (jit.ts's JitCode.fresh). */
  readonly jitFresh: JitFn | undefined;
  /** Per slot: the array a helper call there looks up inline (inline-lookup.ts). */
  readonly arrays: ReadonlyArray<VmArrayLookup | undefined>;
}

/** The Prog behind each VmProgram, for tail calls between programs. */
const PROGS = new WeakMap<VmProgram, Prog>();

/** The kernel's MAX_TAIL_CALL_CNT: tail calls one run may chain. */
export const MAX_TAIL_CALLS = 33;

/** Create a runnable program bound to an environment (adds its stack regions to the memory). */
export function createVm(insns: readonly Instruction[], env: VmEnv, opts: VmOptions = {}): VmProgram {
  const code = compile(insns, env, opts.strict ?? true);
  const mem = env.memory;
  const stacks: Region[] = [];
  for (let f = 0; f < MAX_CALL_FRAMES; f++) {
    stacks.push(mem.add({ kind: "stack", name: `stack frame ${f}`, size: STACK_SIZE }));
  }
  const helpers: Array<VmHelper | undefined> = [];
  for (const h of env.helpers ?? []) helpers[h.id] = h;
  const entry = opts.entry ?? 0;
  const arrays = inlineLookups(code, helpers, [entry]);
  const jit = opts.engine === "jit" ? compileJit(code, mem, [entry], arrays) : undefined;
  const prog: Prog = {
    code,
    helpers,
    sourceOf: opts.sourceOf,
    entry,
    name: opts.name,
    memory: mem,
    jit: jit?.run,
    jitFresh: jit?.fresh,
    arrays,
  };
  const machine = new Machine(prog, env, stacks);
  const vm: VmProgram = {
    insns,
    slots: code.n,
    stacks,
    run: (runOpts: VmRunOptions = {}) => machine.run(runOpts, 1, undefined),
    runRepeat: (runOpts: VmRunOptions, repeat: number, after?: () => void) =>
      machine.run(runOpts, repeat, after),
  };
  PROGS.set(vm, prog);
  return vm;
}

/** Recorded by a helper's stop(): the loop returns right after the call with this r0. */
class Stop {
  constructor(
    readonly r0lo: number,
    readonly r0hi: number,
  ) {}
}

/** r0 values below this are returned from a table: most programs return a small verdict. */
const SMALL_R0 = 256;
const NO_ARGS: readonly (bigint | number)[] = [];
/** The largest budget compiled code is handed at once (an int32). */
const JIT_LEFT_MAX = 0x7fff_ffff;
const SMALL_R0_BIG: readonly bigint[] = Array.from({ length: SMALL_R0 }, (_, i) => BigInt(i));

class Machine implements VmHelperCall, JitHost {
  readonly L = new Int32Array(16);
  readonly H = new Int32Array(16);
  /** r1-r5 at the start of every run of the current run() call, as int32 halves. */
  a1l = 0;
  a1h = 0;
  a2l = 0;
  a2h = 0;
  a3l = 0;
  a3h = 0;
  a4l = 0;
  a4h = 0;
  a5l = 0;
  a5h = 0;
  readonly memory: Memory;
  insn = 0;
  /** Saved per frame: return slot, r6..r9 halves, may_goto counter. */
  private readonly retPc = new Int32Array(MAX_CALL_FRAMES);
  private readonly savedL = new Int32Array(MAX_CALL_FRAMES * 4);
  private readonly savedH = new Int32Array(MAX_CALL_FRAMES * 4);
  private readonly loops = new Float64Array(MAX_CALL_FRAMES);
  private stopped: Stop | undefined;
  private packet: Region | undefined;
  /** Budget of the run, what is left of it, and the current frame depth (kept in fields across helper calls). */
  private budget = 0;
  private left = 0;
  private depth = 0;
  /** The program executing now (a tail call replaces it), and the one of each caller frame. */
  private cur: Prog;
  private readonly frameProg: Prog[] = [];
  /** A tail call the last helper asked for, with the context it passes as r1. */
  private tail: Prog | undefined;
  private tailR1L = 0;
  private tailR1H = 0;
  private tailCalls = 0;
  /** The budget beyond the int32 compiled code was given (see jitLeft). */
  private jitExtra = 0;
  /** How many helper callbacks (invoke) are running: tail calls are refused inside them. */
  private nested = 0;
  private running = false;
  /** The deepest frame used since the stacks were last zeroed (all of them at first). */
  private deepest = MAX_CALL_FRAMES - 1;
  /** The stacks' bytes as 8-byte words, to zero a few words without a fill() call. */
  private readonly stackWords: readonly Float64Array[];
  /** High half of frame 0's stack: frame f's is stackHi + f (createVm adds them in a row). */
  readonly stackHi: number;

  constructor(
    private readonly prog: Prog,
    readonly env: VmEnv,
    private readonly stacks: readonly Region[],
  ) {
    this.memory = env.memory;
    this.cur = prog;
    this.stackWords = stacks.map((s) => new Float64Array(s.bytes.buffer, s.bytes.byteOffset, STACK_SIZE / 8));
    this.stackHi = stacks[0].hi;
    if (stacks.some((s, f) => s.hi !== this.stackHi + f)) throw new Error("stack regions not in a row");
  }

  // VmHelperCall
  arg(n: 1 | 2 | 3 | 4 | 5): bigint {
    return (BigInt(this.H[n] >>> 0) << 32n) | BigInt(this.L[n] >>> 0);
  }
  argLo(n: 1 | 2 | 3 | 4 | 5): number {
    return this.L[n] >>> 0;
  }
  argHi(n: 1 | 2 | 3 | 4 | 5): number {
    return this.H[n] >>> 0;
  }
  stop(r0: bigint): void {
    const v = BigInt.asUintN(64, r0);
    this.stopped = new Stop(Number(BigInt.asIntN(32, v)), Number(BigInt.asIntN(32, v >> 32n)));
  }
  fault(detail: string, kind: VmFaultKind = "helper", address?: bigint): VmFault {
    return new VmFault(kind, detail, { insn: this.insn, address });
  }

  run(opts: VmRunOptions, repeat: number, after: (() => void) | undefined): VmRunResult {
    if (this.running) {
      throw new UsageError(
        "E_VM_REENTRANT",
        "run() of a program that is already running (from one of its helpers)",
      );
    }
    if (!Number.isSafeInteger(repeat) || repeat < 1) {
      throw new UsageError("E_VM_REPEAT", `repeat must be a positive integer, got ${repeat}`);
    }
    this.running = true;
    try {
      this.prepare(opts);
      const jit = this.prog.jit;
      const fresh = this.prog.jitFresh;
      for (let i = 0; i < repeat; i++) {
        // a fresh compiled entry starts from the arguments, not from L/H
        if (fresh === undefined) this.resetRegisters();
        this.resetStacks();
        this.stopped = undefined;
        this.left = this.budget;
        this.depth = 0;
        this.loops[0] = MAY_GOTO_BUDGET;
        this.cur = this.prog;
        this.tail = undefined;
        this.tailCalls = 0;
        this.nested = 0;
        if (fresh !== undefined) this.runCompiled(fresh);
        else if (jit !== undefined) this.runCompiled(jit);
        else this.exec(this.prog.entry, 0);
        if (after !== undefined) after();
      }
      const { L, H } = this;
      const lo = L[0];
      const r0 =
        H[0] === 0 && lo >= 0 && lo < SMALL_R0
          ? SMALL_R0_BIG[lo]
          : (BigInt(H[0] >>> 0) << 32n) | BigInt(lo >>> 0);
      return { r0, insns: this.budget - this.left };
    } finally {
      this.running = false;
    }
  }

  /** Once per run() call: the arguments as halves, the budget and the packet, checked. */
  private prepare(opts: VmRunOptions): void {
    const args = opts.args ?? NO_ARGS;
    this.a1l =
      this.a1h =
      this.a2l =
      this.a2h =
      this.a3l =
      this.a3h =
      this.a4l =
      this.a4h =
      this.a5l =
      this.a5h =
        0;
    for (let i = 0; i < 5 && i < args.length; i++) this.setArg(i + 1, args[i]);
    const budget = opts.budget ?? DEFAULT_BUDGET;
    if (!Number.isSafeInteger(budget) || budget < 0) {
      throw new UsageError("E_VM_BUDGET", `instruction budget must be a non-negative integer, got ${budget}`);
    }
    this.budget = budget;
    this.packet = opts.packet;
  }

  /** Argument register r`r` (1-5) of every run of this run() call. */
  private setArg(r: number, a: bigint | number): void {
    let lo: number;
    let hi: number;
    if (typeof a === "number") {
      if (!Number.isSafeInteger(a)) {
        throw new UsageError("E_VM_ARG", `argument r${r} = ${a} is not an integer`);
      }
      // no BigInt: addresses are safe integers (ToInt32 keeps the low 32 bits, negatives too)
      lo = a | 0;
      hi = Math.floor(a / 4294967296) | 0;
    } else {
      const v = BigInt.asUintN(64, BigInt(a));
      lo = Number(BigInt.asIntN(32, v));
      hi = Number(BigInt.asIntN(32, v >> 32n));
    }
    if (r === 1) {
      this.a1l = lo;
      this.a1h = hi;
    } else if (r === 2) {
      this.a2l = lo;
      this.a2h = hi;
    } else if (r === 3) {
      this.a3l = lo;
      this.a3h = hi;
    } else if (r === 4) {
      this.a4l = lo;
      this.a4h = hi;
    } else {
      this.a5l = lo;
      this.a5h = hi;
    }
  }

  /**
   * Before every run (each repetition) but one that starts in compiled code's fresh entry:
   * r0-r9 = 0 but for the arguments, r10 = the top of frame 0's stack (r11-r15 are never
   * written: slots naming them fault). Straight-line stores: a loop, or TypedArray.fill, costs
   * several times more at this size.
   */
  private resetRegisters(): void {
    const { L, H } = this;
    L[0] = H[0] = L[6] = H[6] = L[7] = H[7] = L[8] = H[8] = L[9] = H[9] = 0;
    L[1] = this.a1l;
    H[1] = this.a1h;
    L[2] = this.a2l;
    H[2] = this.a2h;
    L[3] = this.a3l;
    H[3] = this.a3h;
    L[4] = this.a4l;
    H[4] = this.a4h;
    L[5] = this.a5l;
    H[5] = this.a5h;
    L[10] = STACK_SIZE;
    H[10] = this.stackHi;
  }

  /**
   * Before every run: every run starts from zeroed stacks; only the frames the last run reached
   * need it (frames above the deepest one used were left untouched, end 0, since the last
   * reset); each is zeroed from the lowest offset written since (Region.low: every store path
   * lowers it), which for most programs is a few words below the top.
   */
  private resetStacks(): void {
    for (let f = 0; f <= this.deepest; f++) {
      const s = this.stacks[f];
      const low = s.low;
      if (low < STACK_SIZE) {
        if (low < STACK_SIZE / 2) s.bytes.fill(0, low);
        else {
          const w = this.stackWords[f];
          for (let i = low >>> 3; i < STACK_SIZE / 8; i++) w[i] = 0;
        }
        s.low = STACK_SIZE;
      }
      s.start = 0;
      s.end = f === 0 ? STACK_SIZE : 0; // frames above the current depth are not addressable
    }
    this.deepest = 0;
  }

  /**
   * A run from the entry, compiled code first: a program whose compiled code reaches its exit
   * (the usual case) never enters the interpreter's loop, whose entry costs more than a small
   * program's whole run; anything else goes on in the loop exactly as exec() would have.
   */
  private runCompiled(jit: JitFn): void {
    let pc: number;
    try {
      pc = jit(this.prog.entry, this.jitLeft(this.left), this.L, this.H, this, true);
    } catch (e) {
      this.left = JIT_STATE[0] + this.jitExtra;
      throw this.located(e, JIT_STATE[1]);
    }
    this.left = JIT_STATE[0] + this.jitExtra;
    const why = JIT_STATE[2];
    if (why === 3) return;
    if (why === 2) {
      // a helper stopped the program or asked for a tail call
      if (this.stopped !== undefined) return;
      pc = this.enterTail(0);
    }
    this.exec(pc, 0);
  }

  /**
   * Call a BPF function from a helper (bpf_loop, bpf_for_each_map_elem...): `fn` is the value an
   * ld_imm64 of a function (src 4) loaded. It runs in a new frame with r1-r5 = args and its
   * own stack; the helper's own r0-r5 are kept for it. Returns the function's r0, or 0 without
   * running it once the program has been stopped.
   */
  invoke(fn: bigint, args: readonly bigint[]): bigint {
    const f = BigInt.asUintN(64, fn);
    if (f >> 32n !== BigInt(CODE_HI) || Number(f & 0xffffffffn) >= this.cur.code.n) {
      throw this.fault(`callback 0x${f.toString(16)} is not a function of the program`, "bad-jump");
    }
    if (this.stopped !== undefined) return 0n;
    const { L, H } = this;
    const depth = this.depth;
    if (depth + 1 >= MAX_CALL_FRAMES) {
      throw this.fault(`call stack deeper than ${MAX_CALL_FRAMES} frames`, "call-depth");
    }
    const keepL = L.slice(0, 6);
    const keepH = H.slice(0, 6);
    for (let i = 0; i < 5; i++) {
      const v = BigInt.asUintN(64, args[i] ?? 0n);
      L[i + 1] = Number(BigInt.asIntN(32, v));
      H[i + 1] = Number(BigInt.asIntN(32, v >> 32n));
    }
    for (let i = 0; i < 4; i++) {
      this.savedL[depth * 4 + i] = L[6 + i];
      this.savedH[depth * 4 + i] = H[6 + i];
    }
    if (depth + 1 > this.deepest) this.deepest = depth + 1;
    const st = this.stacks[depth + 1];
    st.end = STACK_SIZE;
    L[10] = STACK_SIZE;
    H[10] = st.hi;
    this.loops[depth + 1] = MAY_GOTO_BUDGET;
    const insn = this.insn;
    const cur = this.cur;
    this.nested++;
    try {
      this.exec(Number(f & 0xffffffffn), depth + 1);
    } finally {
      this.nested--;
    }
    this.cur = cur;
    // back in the helper's frame
    this.depth = depth;
    this.insn = insn;
    st.end = 0;
    for (let i = 0; i < 4; i++) {
      L[6 + i] = this.savedL[depth * 4 + i];
      H[6 + i] = this.savedH[depth * 4 + i];
    }
    L[10] = STACK_SIZE;
    H[10] = this.stacks[depth].hi;
    const r0 = (BigInt(H[0] >>> 0) << 32n) | BigInt(L[0] >>> 0);
    L.set(keepL, 0);
    H.set(keepH, 0);
    return r0;
  }

  /**
   * bpf_tail_call's success: once the helper returns, `target` replaces the running program in
   * the current frame, entered with r1 = the helper's r1 (the context) and the other registers
   * and the frame's stack as they are. False, and nothing happens, when the run already made
   * MAX_TAIL_CALLS tail calls or when called from a callback.
   */
  tailCall(target: VmProgram): boolean {
    const p = PROGS.get(target);
    if (p === undefined) throw this.fault("tail call target is not a VM program");
    if (p.memory !== this.memory)
      throw this.fault("tail call into a program of another memory", "unsupported");
    if (this.nested > 0 || this.tailCalls >= MAX_TAIL_CALLS) return false;
    this.tailCalls++;
    this.tail = p;
    this.tailR1L = this.L[1];
    this.tailR1H = this.H[1];
    return true;
  }

  /**
   * A helper call made by compiled code (jit.ts) at slot `pc` with `left` budget: returns the
   * budget left, or its complement (negative) when the compiled code must hand back to the loop
   * because the helper stopped the program or asked for a tail call. this.depth is set by exec.
   */
  jitCall(pc: number, id: number, left: number): number {
    this.insn = pc;
    this.left = left + this.jitExtra;
    this.callHelper(id, 0);
    // callbacks may have run compiled code with views of their own: a new one from here
    const l = this.jitLeft(this.left);
    return this.stopped !== undefined || this.tail !== undefined ? ~l : l;
  }

  /**
   * The budget as compiled code sees it: an int32 (V8 then counts it down in integer registers,
   * not as a double), at most 2^31 - 1; the rest is kept in jitExtra and added back to what
   * the code returns (a bigger budget only makes compiled code hand back every 2^31 slots).
   */
  private jitLeft(left: number): number {
    const part = Math.min(left, JIT_LEFT_MAX);
    this.jitExtra = left - part;
    return part | 0;
  }

  /** Enter the program a helper's tail call chose, in frame `depth`; returns its entry slot. */
  private enterTail(depth: number): number {
    const t = this.tail as Prog;
    this.tail = undefined;
    this.cur = t;
    this.L[1] = this.tailR1L;
    this.H[1] = this.tailR1H;
    this.loops[depth] = MAY_GOTO_BUDGET;
    return t.entry;
  }

  /**
   * The loop, from slot `start` in frame `base` until that frame exits (or a helper stops the
   * program). It consumes this.left, the budget shared by nested callback runs.
   */
  private exec(start: number, base: number): void {
    const { L, H, memory: mem } = this;
    const code = this.cur.code;
    const regions = mem.regions;
    let W = code.word;
    let IMM = code.imm;
    let JIT = this.cur.jit;
    let pc = start;
    let depth = base;
    let left = this.left;
    try {
      run: for (;;) {
        if (JIT !== undefined) {
          // the compiled blocks run up to the next instruction only the interpreter executes
          this.depth = depth; // for callbacks of the helpers compiled code calls
          try {
            pc = JIT(pc, this.jitLeft(left), L, H, this, depth === base);
          } catch (e) {
            pc = JIT_STATE[1];
            left = JIT_STATE[0] + this.jitExtra;
            throw e;
          }
          left = JIT_STATE[0] + this.jitExtra;
          if (JIT_STATE[2] === 3) {
            // an exit the compiled code already counted: the run ends, or the loop below
            // returns from the frame (counting the slot once more, so it is given back first)
            if (depth === base) break;
            left++;
          } else if (JIT_STATE[2] === 2) {
            // a helper called from compiled code stopped the program or asked for a tail call
            if (this.stopped !== undefined) break;
            pc = this.enterTail(depth);
            const c = this.cur.code;
            W = c.word;
            IMM = c.imm;
            JIT = this.cur.jit;
            continue;
          }
        }
        if (--left < 0) {
          left = 0;
          throw new VmFault("budget", `instruction budget of ${this.budget} exhausted`);
        }
        const w = W[pc];
        switch (w & 0xff) {
          // ---- ALU64 ----
          case 0x07: {
            const d = (w >> 8) & 15;
            const b = IMM[pc];
            const s = (L[d] >>> 0) + (b >>> 0);
            L[d] = s;
            H[d] = H[d] + (b >> 31) + (s > 0xffffffff ? 1 : 0);
            break;
          }
          case 0x0f: {
            const d = (w >> 8) & 15;
            const r = (w >> 12) & 15;
            const s = (L[d] >>> 0) + (L[r] >>> 0);
            const bh = H[r];
            L[d] = s;
            H[d] = H[d] + bh + (s > 0xffffffff ? 1 : 0);
            break;
          }
          case 0x17: {
            const d = (w >> 8) & 15;
            const b = IMM[pc];
            const s = (L[d] >>> 0) - (b >>> 0);
            L[d] = s;
            H[d] = H[d] - (b >> 31) - (s < 0 ? 1 : 0);
            break;
          }
          case 0x1f: {
            const d = (w >> 8) & 15;
            const r = (w >> 12) & 15;
            const s = (L[d] >>> 0) - (L[r] >>> 0);
            const bh = H[r];
            L[d] = s;
            H[d] = H[d] - bh - (s < 0 ? 1 : 0);
            break;
          }
          case 0x27:
            mul64(L, H, (w >> 8) & 15, IMM[pc], IMM[pc] >> 31);
            break;
          case 0x2f:
            mul64(L, H, (w >> 8) & 15, L[(w >> 12) & 15], H[(w >> 12) & 15]);
            break;
          case 0x37:
            if (w >> 16 === 1) sdiv64(L, H, (w >> 8) & 15, IMM[pc], IMM[pc] >> 31);
            else udiv64(L, H, (w >> 8) & 15, IMM[pc], IMM[pc] >> 31);
            break;
          case 0x3f:
            if (w >> 16 === 1) sdiv64(L, H, (w >> 8) & 15, L[(w >> 12) & 15], H[(w >> 12) & 15]);
            else udiv64(L, H, (w >> 8) & 15, L[(w >> 12) & 15], H[(w >> 12) & 15]);
            break;
          case 0x47: {
            const d = (w >> 8) & 15;
            L[d] |= IMM[pc];
            H[d] |= IMM[pc] >> 31;
            break;
          }
          case 0x4f: {
            const d = (w >> 8) & 15;
            const r = (w >> 12) & 15;
            L[d] |= L[r];
            H[d] |= H[r];
            break;
          }
          case 0x57: {
            const d = (w >> 8) & 15;
            L[d] &= IMM[pc];
            H[d] &= IMM[pc] >> 31;
            break;
          }
          case 0x5f: {
            const d = (w >> 8) & 15;
            const r = (w >> 12) & 15;
            L[d] &= L[r];
            H[d] &= H[r];
            break;
          }
          case 0x67:
            lsh64(L, H, (w >> 8) & 15, IMM[pc]);
            break;
          case 0x6f:
            lsh64(L, H, (w >> 8) & 15, L[(w >> 12) & 15]);
            break;
          case 0x77:
            rsh64(L, H, (w >> 8) & 15, IMM[pc]);
            break;
          case 0x7f:
            rsh64(L, H, (w >> 8) & 15, L[(w >> 12) & 15]);
            break;
          case 0x87: {
            const d = (w >> 8) & 15;
            const lo = L[d];
            L[d] = -lo;
            H[d] = ~H[d] + (lo === 0 ? 1 : 0);
            break;
          }
          case 0x97:
            if (w >> 16 === 1) smod64(L, H, (w >> 8) & 15, IMM[pc], IMM[pc] >> 31);
            else umod64(L, H, (w >> 8) & 15, IMM[pc], IMM[pc] >> 31);
            break;
          case 0x9f:
            if (w >> 16 === 1) smod64(L, H, (w >> 8) & 15, L[(w >> 12) & 15], H[(w >> 12) & 15]);
            else umod64(L, H, (w >> 8) & 15, L[(w >> 12) & 15], H[(w >> 12) & 15]);
            break;
          case 0xa7: {
            const d = (w >> 8) & 15;
            L[d] ^= IMM[pc];
            H[d] ^= IMM[pc] >> 31;
            break;
          }
          case 0xaf: {
            const d = (w >> 8) & 15;
            const r = (w >> 12) & 15;
            L[d] ^= L[r];
            H[d] ^= H[r];
            break;
          }
          case 0xb7: {
            const d = (w >> 8) & 15;
            L[d] = IMM[pc];
            H[d] = IMM[pc] >> 31;
            break;
          }
          case 0x01: {
            // OP_FUSED_MOV_ADD: rD = rS at this slot, then rD += imm at the next one, which
            // runs alone (and faults there) when the budget ends between the two
            const d = (w >> 8) & 15;
            const r = (w >> 12) & 15;
            if (left === 0) {
              L[d] = L[r];
              H[d] = H[r];
              break;
            }
            left--;
            pc++;
            const b = IMM[pc];
            const s = (L[r] >>> 0) + (b >>> 0);
            H[d] = H[r] + (b >> 31) + (s > 0xffffffff ? 1 : 0);
            L[d] = s;
            break;
          }
          case 0x09: {
            // OP_FUSED_MOV32_JGT: wD = imm at this slot, then `if rA > rB goto` at the next one,
            // which runs alone (and faults there) when the budget ends between the two
            L[(w >> 8) & 15] = IMM[pc];
            H[(w >> 8) & 15] = 0;
            if (left === 0) break;
            left--;
            const j = W[++pc];
            if (ltU(L[(j >> 12) & 15], H[(j >> 12) & 15], L[(j >> 8) & 15], H[(j >> 8) & 15])) pc += j >> 16;
            break;
          }
          case 0x11: {
            // OP_FUSED_MOV32_JNE32: wD = imm, then `if wA != imm goto` (as above)
            L[(w >> 8) & 15] = IMM[pc];
            H[(w >> 8) & 15] = 0;
            if (left === 0) break;
            left--;
            const j = W[++pc];
            if (L[(j >> 8) & 15] !== IMM[pc]) pc += j >> 16;
            break;
          }
          case 0xbf: {
            const d = (w >> 8) & 15;
            const r = (w >> 12) & 15;
            const o = w >> 16;
            if (o === 8 || o === 16 || o === 32) {
              // movsx: sign-extend the low 8/16/32 bits to 64
              const x = o === 8 ? (L[r] << 24) >> 24 : o === 16 ? (L[r] << 16) >> 16 : L[r];
              L[d] = x;
              H[d] = x >> 31;
            } else {
              L[d] = L[r];
              H[d] = H[r];
            }
            break;
          }
          case 0xc7:
            arsh64(L, H, (w >> 8) & 15, IMM[pc]);
            break;
          case 0xcf:
            arsh64(L, H, (w >> 8) & 15, L[(w >> 12) & 15]);
            break;
          case 0xd7:
            bswap(L, H, (w >> 8) & 15, IMM[pc]);
            break;

          // ---- ALU32: results zero-extended ----
          case 0x04: {
            const d = (w >> 8) & 15;
            L[d] = L[d] + IMM[pc];
            H[d] = 0;
            break;
          }
          case 0x0c: {
            const d = (w >> 8) & 15;
            L[d] = L[d] + L[(w >> 12) & 15];
            H[d] = 0;
            break;
          }
          case 0x14: {
            const d = (w >> 8) & 15;
            L[d] = L[d] - IMM[pc];
            H[d] = 0;
            break;
          }
          case 0x1c: {
            const d = (w >> 8) & 15;
            L[d] = L[d] - L[(w >> 12) & 15];
            H[d] = 0;
            break;
          }
          case 0x24: {
            const d = (w >> 8) & 15;
            L[d] = Math.imul(L[d], IMM[pc]);
            H[d] = 0;
            break;
          }
          case 0x2c: {
            const d = (w >> 8) & 15;
            L[d] = Math.imul(L[d], L[(w >> 12) & 15]);
            H[d] = 0;
            break;
          }
          case 0x34:
            div32(L, H, (w >> 8) & 15, IMM[pc], w >> 16 === 1);
            break;
          case 0x3c:
            div32(L, H, (w >> 8) & 15, L[(w >> 12) & 15], w >> 16 === 1);
            break;
          case 0x44: {
            const d = (w >> 8) & 15;
            L[d] |= IMM[pc];
            H[d] = 0;
            break;
          }
          case 0x4c: {
            const d = (w >> 8) & 15;
            L[d] |= L[(w >> 12) & 15];
            H[d] = 0;
            break;
          }
          case 0x54: {
            const d = (w >> 8) & 15;
            L[d] &= IMM[pc];
            H[d] = 0;
            break;
          }
          case 0x5c: {
            const d = (w >> 8) & 15;
            L[d] &= L[(w >> 12) & 15];
            H[d] = 0;
            break;
          }
          case 0x64: {
            const d = (w >> 8) & 15;
            L[d] <<= IMM[pc]; // JS masks the count to 5 bits, as RFC 9669 does for 32-bit shifts
            H[d] = 0;
            break;
          }
          case 0x6c: {
            const d = (w >> 8) & 15;
            L[d] <<= L[(w >> 12) & 15];
            H[d] = 0;
            break;
          }
          case 0x74: {
            const d = (w >> 8) & 15;
            L[d] = L[d] >>> IMM[pc];
            H[d] = 0;
            break;
          }
          case 0x7c: {
            const d = (w >> 8) & 15;
            L[d] = L[d] >>> L[(w >> 12) & 15];
            H[d] = 0;
            break;
          }
          case 0x84: {
            const d = (w >> 8) & 15;
            L[d] = -L[d];
            H[d] = 0;
            break;
          }
          case 0x94:
            mod32(L, H, (w >> 8) & 15, IMM[pc], w >> 16 === 1);
            break;
          case 0x9c:
            mod32(L, H, (w >> 8) & 15, L[(w >> 12) & 15], w >> 16 === 1);
            break;
          case 0xa4: {
            const d = (w >> 8) & 15;
            L[d] ^= IMM[pc];
            H[d] = 0;
            break;
          }
          case 0xac: {
            const d = (w >> 8) & 15;
            L[d] ^= L[(w >> 12) & 15];
            H[d] = 0;
            break;
          }
          case 0xb4: {
            const d = (w >> 8) & 15;
            L[d] = IMM[pc];
            H[d] = 0;
            break;
          }
          case 0xbc: {
            const d = (w >> 8) & 15;
            const o = w >> 16;
            const x = L[(w >> 12) & 15];
            L[d] = o === 8 ? (x << 24) >> 24 : o === 16 ? (x << 16) >> 16 : x;
            H[d] = 0;
            break;
          }
          case 0xc4: {
            const d = (w >> 8) & 15;
            L[d] >>= IMM[pc];
            H[d] = 0;
            break;
          }
          case 0xcc: {
            const d = (w >> 8) & 15;
            L[d] >>= L[(w >> 12) & 15];
            H[d] = 0;
            break;
          }
          case 0xd4: // le: a truncation on this little-endian machine
            truncate(L, H, (w >> 8) & 15, IMM[pc]);
            break;
          case 0xdc: // be: a byte swap
            bswap(L, H, (w >> 8) & 15, IMM[pc]);
            break;

          // ---- JMP (64-bit compares) ----
          case 0x05:
            pc += w >> 16;
            break;
          case 0x15:
            if (L[(w >> 8) & 15] === IMM[pc] && H[(w >> 8) & 15] === IMM[pc] >> 31) pc += w >> 16;
            break;
          case 0x1d:
            if (L[(w >> 8) & 15] === L[(w >> 12) & 15] && H[(w >> 8) & 15] === H[(w >> 12) & 15])
              pc += w >> 16;
            break;
          case 0x25:
            if (ltU(IMM[pc], IMM[pc] >> 31, L[(w >> 8) & 15], H[(w >> 8) & 15])) pc += w >> 16;
            break;
          case 0x2d:
            if (ltU(L[(w >> 12) & 15], H[(w >> 12) & 15], L[(w >> 8) & 15], H[(w >> 8) & 15])) pc += w >> 16;
            break;
          case 0x35:
            if (!ltU(L[(w >> 8) & 15], H[(w >> 8) & 15], IMM[pc], IMM[pc] >> 31)) pc += w >> 16;
            break;
          case 0x3d:
            if (!ltU(L[(w >> 8) & 15], H[(w >> 8) & 15], L[(w >> 12) & 15], H[(w >> 12) & 15])) pc += w >> 16;
            break;
          case 0x45:
            if ((L[(w >> 8) & 15] & IMM[pc]) !== 0 || (H[(w >> 8) & 15] & (IMM[pc] >> 31)) !== 0)
              pc += w >> 16;
            break;
          case 0x4d:
            if ((L[(w >> 8) & 15] & L[(w >> 12) & 15]) !== 0 || (H[(w >> 8) & 15] & H[(w >> 12) & 15]) !== 0)
              pc += w >> 16;
            break;
          case 0x55:
            if (L[(w >> 8) & 15] !== IMM[pc] || H[(w >> 8) & 15] !== IMM[pc] >> 31) pc += w >> 16;
            break;
          case 0x5d:
            if (L[(w >> 8) & 15] !== L[(w >> 12) & 15] || H[(w >> 8) & 15] !== H[(w >> 12) & 15])
              pc += w >> 16;
            break;
          case 0x65:
            if (ltS(IMM[pc], IMM[pc] >> 31, L[(w >> 8) & 15], H[(w >> 8) & 15])) pc += w >> 16;
            break;
          case 0x6d:
            if (ltS(L[(w >> 12) & 15], H[(w >> 12) & 15], L[(w >> 8) & 15], H[(w >> 8) & 15])) pc += w >> 16;
            break;
          case 0x75:
            if (!ltS(L[(w >> 8) & 15], H[(w >> 8) & 15], IMM[pc], IMM[pc] >> 31)) pc += w >> 16;
            break;
          case 0x7d:
            if (!ltS(L[(w >> 8) & 15], H[(w >> 8) & 15], L[(w >> 12) & 15], H[(w >> 12) & 15])) pc += w >> 16;
            break;
          case 0xa5:
            if (ltU(L[(w >> 8) & 15], H[(w >> 8) & 15], IMM[pc], IMM[pc] >> 31)) pc += w >> 16;
            break;
          case 0xad:
            if (ltU(L[(w >> 8) & 15], H[(w >> 8) & 15], L[(w >> 12) & 15], H[(w >> 12) & 15])) pc += w >> 16;
            break;
          case 0xb5:
            if (!ltU(IMM[pc], IMM[pc] >> 31, L[(w >> 8) & 15], H[(w >> 8) & 15])) pc += w >> 16;
            break;
          case 0xbd:
            if (!ltU(L[(w >> 12) & 15], H[(w >> 12) & 15], L[(w >> 8) & 15], H[(w >> 8) & 15])) pc += w >> 16;
            break;
          case 0xc5:
            if (ltS(L[(w >> 8) & 15], H[(w >> 8) & 15], IMM[pc], IMM[pc] >> 31)) pc += w >> 16;
            break;
          case 0xcd:
            if (ltS(L[(w >> 8) & 15], H[(w >> 8) & 15], L[(w >> 12) & 15], H[(w >> 12) & 15])) pc += w >> 16;
            break;
          case 0xd5:
            if (!ltS(IMM[pc], IMM[pc] >> 31, L[(w >> 8) & 15], H[(w >> 8) & 15])) pc += w >> 16;
            break;
          case 0xdd:
            if (!ltS(L[(w >> 12) & 15], H[(w >> 12) & 15], L[(w >> 8) & 15], H[(w >> 8) & 15])) pc += w >> 16;
            break;
          case 0xe5: // may_goto: taken once this invocation's loop budget is spent
            if (this.loops[depth] === 0) pc += w >> 16;
            else this.loops[depth]--;
            break;

          // ---- JMP32 (compare the low halves) ----
          case 0x06: // gotol: the offset is in imm
            pc += IMM[pc];
            break;
          case 0x16:
            if (L[(w >> 8) & 15] === IMM[pc]) pc += w >> 16;
            break;
          case 0x1e:
            if (L[(w >> 8) & 15] === L[(w >> 12) & 15]) pc += w >> 16;
            break;
          case 0x26:
            if (L[(w >> 8) & 15] >>> 0 > IMM[pc] >>> 0) pc += w >> 16;
            break;
          case 0x2e:
            if (L[(w >> 8) & 15] >>> 0 > L[(w >> 12) & 15] >>> 0) pc += w >> 16;
            break;
          case 0x36:
            if (L[(w >> 8) & 15] >>> 0 >= IMM[pc] >>> 0) pc += w >> 16;
            break;
          case 0x3e:
            if (L[(w >> 8) & 15] >>> 0 >= L[(w >> 12) & 15] >>> 0) pc += w >> 16;
            break;
          case 0x46:
            if ((L[(w >> 8) & 15] & IMM[pc]) !== 0) pc += w >> 16;
            break;
          case 0x4e:
            if ((L[(w >> 8) & 15] & L[(w >> 12) & 15]) !== 0) pc += w >> 16;
            break;
          case 0x56:
            if (L[(w >> 8) & 15] !== IMM[pc]) pc += w >> 16;
            break;
          case 0x5e:
            if (L[(w >> 8) & 15] !== L[(w >> 12) & 15]) pc += w >> 16;
            break;
          case 0x66:
            if (L[(w >> 8) & 15] > IMM[pc]) pc += w >> 16;
            break;
          case 0x6e:
            if (L[(w >> 8) & 15] > L[(w >> 12) & 15]) pc += w >> 16;
            break;
          case 0x76:
            if (L[(w >> 8) & 15] >= IMM[pc]) pc += w >> 16;
            break;
          case 0x7e:
            if (L[(w >> 8) & 15] >= L[(w >> 12) & 15]) pc += w >> 16;
            break;
          case 0xa6:
            if (L[(w >> 8) & 15] >>> 0 < IMM[pc] >>> 0) pc += w >> 16;
            break;
          case 0xae:
            if (L[(w >> 8) & 15] >>> 0 < L[(w >> 12) & 15] >>> 0) pc += w >> 16;
            break;
          case 0xb6:
            if (L[(w >> 8) & 15] >>> 0 <= IMM[pc] >>> 0) pc += w >> 16;
            break;
          case 0xbe:
            if (L[(w >> 8) & 15] >>> 0 <= L[(w >> 12) & 15] >>> 0) pc += w >> 16;
            break;
          case 0xc6:
            if (L[(w >> 8) & 15] < IMM[pc]) pc += w >> 16;
            break;
          case 0xce:
            if (L[(w >> 8) & 15] < L[(w >> 12) & 15]) pc += w >> 16;
            break;
          case 0xd6:
            if (L[(w >> 8) & 15] <= IMM[pc]) pc += w >> 16;
            break;
          case 0xde:
            if (L[(w >> 8) & 15] <= L[(w >> 12) & 15]) pc += w >> 16;
            break;

          // ---- calls and exit ----
          case 0x85: {
            const kind = (w >> 12) & 15;
            if (kind === 1) {
              // bpf-to-bpf call: a fresh frame, r6-r9 saved, r10 the new frame's stack top
              if (depth + 1 >= MAX_CALL_FRAMES) {
                throw new VmFault("call-depth", `call stack deeper than ${MAX_CALL_FRAMES} frames`);
              }
              this.retPc[depth] = pc + 1;
              this.frameProg[depth] = this.cur;
              for (let i = 0; i < 4; i++) {
                this.savedL[depth * 4 + i] = L[6 + i];
                this.savedH[depth * 4 + i] = H[6 + i];
              }
              depth++;
              if (depth > this.deepest) this.deepest = depth;
              const st = this.stacks[depth];
              st.end = STACK_SIZE;
              L[10] = STACK_SIZE;
              H[10] = st.hi;
              this.loops[depth] = MAY_GOTO_BUDGET;
              pc += IMM[pc];
            } else if (kind === 0) {
              const a = this.cur.arrays[pc];
              if (a !== undefined && this.lookupInline(a)) break;
              this.insn = pc;
              this.depth = depth;
              this.left = left;
              this.callHelper(IMM[pc], 0);
              left = this.left;
              if (this.stopped !== undefined) break run;
              if (this.tail !== undefined) {
                pc = this.enterTail(depth);
                const c = this.cur.code;
                W = c.word;
                IMM = c.imm;
                JIT = this.cur.jit;
                continue;
              }
            } else {
              throw new VmFault(
                "unsupported",
                kind === 2 ? `kfunc call (btf id ${IMM[pc]}) is not simulated` : `call with src ${kind}`,
              );
            }
            break;
          }
          case 0x8d: {
            // callx: the conformance suite's call through a register holding a helper id
            this.insn = pc;
            this.depth = depth;
            this.left = left;
            const r = (w >> 8) & 15;
            this.callHelper(L[r], H[r]);
            left = this.left;
            if (this.stopped !== undefined) break run;
            break;
          }
          case 0x95:
            if (depth === base) break run;
            this.stacks[depth].end = 0;
            depth--;
            if (this.frameProg[depth] !== this.cur) {
              // returning into a caller of another program (the callee was tail-called into)
              const back = this.frameProg[depth];
              this.cur = back;
              W = back.code.word;
              IMM = back.code.imm;
              JIT = back.jit;
            }
            for (let i = 0; i < 4; i++) {
              L[6 + i] = this.savedL[depth * 4 + i];
              H[6 + i] = this.savedH[depth * 4 + i];
            }
            L[10] = STACK_SIZE;
            H[10] = this.stacks[depth].hi;
            pc = this.retPc[depth];
            continue;

          // ---- ld_imm64 ----
          case 0x18: {
            const d = (w >> 8) & 15;
            L[d] = IMM[pc];
            H[d] = IMM[pc + 1];
            pc += 2;
            continue;
          }

          // ---- LDX / LDX sign-extending ----
          // The common sizes inline the region check; anything unusual (hooks, faults) takes
          // the general path in memory.ts.
          case 0x61: {
            const r = (w >> 12) & 15;
            const l = L[r];
            const o = w >> 16;
            // int32 arithmetic only (see inBounds in jit.ts): lo is the signed low half
            const lo = (l + o) | 0;
            const u = lo >>> 0;
            const hi = o >= 0 ? (u < l >>> 0 ? H[r] + 1 : H[r]) : u > l >>> 0 ? H[r] - 1 : H[r];
            const g = regions[(hi - REGION_HI_BASE) >>> 0];
            const d = (w >> 8) & 15;
            if (g === undefined || lo < g.start || lo > g.end - 4) {
              loadInto(mem, hi, u, 4, false, L, H, d);
            } else if (g.hooks === null) {
              L[d] = g.view.getInt32(lo, true);
              H[d] = 0;
            } else {
              // a context field: a declared packet pointer inline, else its hook straight away
              // (what loadInto would do after its checks)
              // (memory.ts pointerField and pointerLo written out: this function is too large for
              // V8 to inline calls into it)
              // (the first three fields without a loop: xdp_md and __sk_buff declare three)
              const P = g.hooks.pointers;
              const f =
                P === undefined
                  ? undefined
                  : P.length > 0 && P[0].offset === lo
                    ? P[0]
                    : P.length > 1 && P[1].offset === lo
                      ? P[1]
                      : P.length > 2 && P[2].offset === lo
                        ? P[2]
                        : P.length > 3
                          ? pointerField(g.hooks, lo)
                          : undefined;
              if (f !== undefined) {
                const q = f.region;
                L[d] = f.edge === PTR_DATA ? q.dataStart : f.edge === PTR_END ? q.end : q.start;
                H[d] = q.hi;
                break;
              }
              const v = g.hooks.load === undefined ? undefined : g.hooks.load(lo, 4);
              if (v === undefined) bytesInto(g, lo, 4, false, L, H, d);
              else if (typeof v === "number" && Number.isSafeInteger(v)) {
                L[d] = v;
                H[d] = Math.floor(v * TWO_TO_MINUS_32);
              } else hookValueInto(g, v, L, H, d);
            }
            break;
          }
          case 0x79: {
            const r = (w >> 12) & 15;
            const l = L[r];
            const o = w >> 16;
            // int32 arithmetic only (see inBounds in jit.ts): lo is the signed low half
            const lo = (l + o) | 0;
            const u = lo >>> 0;
            const hi = o >= 0 ? (u < l >>> 0 ? H[r] + 1 : H[r]) : u > l >>> 0 ? H[r] - 1 : H[r];
            const g = regions[(hi - REGION_HI_BASE) >>> 0];
            const d = (w >> 8) & 15;
            if (g === undefined || lo < g.start || lo > g.end - 8 || g.hooks !== null) {
              loadInto(mem, hi, u, 8, false, L, H, d);
            } else {
              L[d] = g.view.getInt32(lo, true);
              H[d] = g.view.getInt32(lo + 4, true);
            }
            break;
          }
          case 0x63: {
            const r = (w >> 8) & 15;
            const l = L[r];
            const o = w >> 16;
            // int32 arithmetic only (see inBounds in jit.ts): lo is the signed low half
            const lo = (l + o) | 0;
            const u = lo >>> 0;
            const hi = o >= 0 ? (u < l >>> 0 ? H[r] + 1 : H[r]) : u > l >>> 0 ? H[r] - 1 : H[r];
            const g = regions[(hi - REGION_HI_BASE) >>> 0];
            const s = (w >> 12) & 15;
            if (g === undefined || lo < g.start || lo > g.end - 4 || g.hooks !== null || !g.writable) {
              storeHalves(mem, hi, u, 4, L[s], H[s]);
            } else {
              g.view.setInt32(lo, L[s], true);
              if (lo < g.low) g.low = lo;
            }
            break;
          }
          case 0x7b: {
            const r = (w >> 8) & 15;
            const l = L[r];
            const o = w >> 16;
            // int32 arithmetic only (see inBounds in jit.ts): lo is the signed low half
            const lo = (l + o) | 0;
            const u = lo >>> 0;
            const hi = o >= 0 ? (u < l >>> 0 ? H[r] + 1 : H[r]) : u > l >>> 0 ? H[r] - 1 : H[r];
            const g = regions[(hi - REGION_HI_BASE) >>> 0];
            const s = (w >> 12) & 15;
            if (g === undefined || lo < g.start || lo > g.end - 8 || g.hooks !== null || !g.writable) {
              storeHalves(mem, hi, u, 8, L[s], H[s]);
            } else {
              g.view.setInt32(lo, L[s], true);
              g.view.setInt32(lo + 4, H[s], true);
              if (lo < g.low) g.low = lo;
            }
            break;
          }
          case 0x71: {
            const r = (w >> 12) & 15;
            const l = L[r];
            const o = w >> 16;
            // int32 arithmetic only (see inBounds in jit.ts): lo is the signed low half
            const lo = (l + o) | 0;
            const u = lo >>> 0;
            const hi = o >= 0 ? (u < l >>> 0 ? H[r] + 1 : H[r]) : u > l >>> 0 ? H[r] - 1 : H[r];
            const g = regions[(hi - REGION_HI_BASE) >>> 0];
            const d = (w >> 8) & 15;
            if (g === undefined || lo < g.start || lo > g.end - 1 || g.hooks !== null) {
              loadInto(mem, hi, u, 1, false, L, H, d);
            } else {
              L[d] = g.bytes[lo];
              H[d] = 0;
            }
            break;
          }
          case 0x69: {
            const r = (w >> 12) & 15;
            const l = L[r];
            const o = w >> 16;
            // int32 arithmetic only (see inBounds in jit.ts): lo is the signed low half
            const lo = (l + o) | 0;
            const u = lo >>> 0;
            const hi = o >= 0 ? (u < l >>> 0 ? H[r] + 1 : H[r]) : u > l >>> 0 ? H[r] - 1 : H[r];
            const g = regions[(hi - REGION_HI_BASE) >>> 0];
            const d = (w >> 8) & 15;
            if (g === undefined || lo < g.start || lo > g.end - 2 || g.hooks !== null) {
              loadInto(mem, hi, u, 2, false, L, H, d);
            } else {
              L[d] = g.view.getUint16(lo, true);
              H[d] = 0;
            }
            break;
          }
          case 0x81:
          case 0x89:
          case 0x91: {
            const op = w & 0xff;
            const r = (w >> 12) & 15;
            const a = (L[r] >>> 0) + (w >> 16);
            const hi = a < 0 ? H[r] - 1 : a > 0xffffffff ? H[r] + 1 : H[r];
            loadInto(mem, hi, a >>> 0, SIZE_OF[op], op >= 0x80, L, H, (w >> 8) & 15);
            break;
          }
          // ---- ST / STX ----
          case 0x62:
          case 0x6a:
          case 0x72:
          case 0x7a: {
            const r = (w >> 8) & 15;
            const a = (L[r] >>> 0) + (w >> 16);
            const hi = a < 0 ? H[r] - 1 : a > 0xffffffff ? H[r] + 1 : H[r];
            storeHalves(mem, hi, a >>> 0, SIZE_OF[w & 0xff], IMM[pc], IMM[pc] >> 31);
            break;
          }
          case 0x6b:
          case 0x73: {
            const r = (w >> 8) & 15;
            const s = (w >> 12) & 15;
            const a = (L[r] >>> 0) + (w >> 16);
            const hi = a < 0 ? H[r] - 1 : a > 0xffffffff ? H[r] + 1 : H[r];
            storeHalves(mem, hi, a >>> 0, SIZE_OF[w & 0xff], L[s], H[s]);
            break;
          }
          case 0xdb: {
            // lock *(u64 *)(dst + off) += src, the common counter update, inline; the other
            // atomics, and anything unusual, in atomic.ts
            const r = (w >> 8) & 15;
            const l = L[r];
            const o = w >> 16;
            const lo = (l + o) | 0;
            const u = lo >>> 0;
            const hi = o >= 0 ? (u < l >>> 0 ? H[r] + 1 : H[r]) : u > l >>> 0 ? H[r] - 1 : H[r];
            const g = regions[(hi - REGION_HI_BASE) >>> 0];
            if (
              IMM[pc] !== 0 ||
              g === undefined ||
              lo < g.start ||
              lo > g.end - 8 ||
              g.hooks !== null ||
              !g.writable
            ) {
              atomic(mem, L, H, 8, r, (w >> 12) & 15, o, IMM[pc]);
            } else {
              const s = (w >> 12) & 15;
              const v = g.view;
              const old = v.getInt32(lo, true);
              const sum = (old >>> 0) + (L[s] >>> 0);
              v.setInt32(lo, sum | 0, true);
              v.setInt32(lo + 4, (v.getInt32(lo + 4, true) + H[s] + (sum > 0xffffffff ? 1 : 0)) | 0, true);
              if (lo < g.low) g.low = lo;
            }
            break;
          }
          case 0xc3:
          case 0xcb:
          case 0xd3:
            atomic(mem, L, H, SIZE_OF[w & 0xff], (w >> 8) & 15, (w >> 12) & 15, w >> 16, IMM[pc]);
            break;

          // ---- legacy packet loads ----
          case 0x20:
          case 0x28:
          case 0x30:
          case 0x40:
          case 0x48:
          case 0x50: {
            const op = w & 0xff;
            const offset = op >= 0x40 ? (L[(w >> 12) & 15] + IMM[pc]) | 0 : IMM[pc];
            if (!this.loadPacket(offset, SIZE_OF[op])) {
              // out of the packet: the kernel's rewrite returns 0 from the current function
              L[0] = 0;
              H[0] = 0;
              if (depth === base) break run;
              pc = this.retPc[depth - 1] - 1;
              this.stacks[depth].end = 0;
              depth--;
              if (this.frameProg[depth] !== this.cur) {
                const back = this.frameProg[depth];
                this.cur = back;
                W = back.code.word;
                IMM = back.code.imm;
                JIT = back.jit;
              }
              for (let i = 0; i < 4; i++) {
                L[6 + i] = this.savedL[depth * 4 + i];
                H[6 + i] = this.savedH[depth * 4 + i];
              }
              L[10] = STACK_SIZE;
              H[10] = this.stacks[depth].hi;
            }
            break;
          }

          default:
            throw this.badSlot(pc);
        }
        pc++;
      }
      this.left = left;
    } catch (e) {
      this.left = left;
      throw this.located(e, pc);
    }
  }

  /** A fault (or any error, as an internal fault) at slot `pc`, with its slot, source and program. */
  private located(e: unknown, pc: number): VmFault {
    const fault =
      e instanceof VmFault
        ? e
        : new VmFault("internal", `internal error: ${e instanceof Error ? e.message : String(e)}`);
    const insn = fault.insn < 0 ? pc : fault.insn;
    const source = fault.source ?? this.cur.sourceOf?.(insn);
    const program = fault.program ?? this.cur.name;
    return insn === fault.insn && source === fault.source && program === fault.program
      ? fault
      : fault.with({ insn, source, program });
  }

  private badSlot(pc: number): VmFault {
    const code = this.cur.code;
    const op = code.op[pc];
    if (pc < 0 || pc >= code.n) {
      return new VmFault(
        "bad-jump",
        `jump or fall-through to slot ${pc}, outside the program (0..${code.n - 1})`,
      );
    }
    if (op === OP_WIDE_SLOT) return new VmFault("bad-jump", "jump into the middle of ld_imm64");
    if (op === OP_UNRESOLVED) {
      return new VmFault("unresolved", `ld_imm64 with pseudo source ${code.src[pc]} has no value here`);
    }
    if (op === OP_BAD_REG) return new VmFault("invalid-insn", "register number above r10");
    if (op === OP_TRUNCATED) return new VmFault("invalid-insn", "ld_imm64 without its second slot");
    return new VmFault("invalid-insn", `unknown opcode 0x${op.toString(16).padStart(2, "0")}`);
  }

  /** Frame f's stack may be written from offset `lo` (a helper got a pointer there). */
  private touchStack(f: number, lo: number): void {
    const s = this.stacks[f];
    const u = lo >>> 0;
    if (u < s.low) s.low = u;
  }

  /**
   * An inline array lookup (VmHelper.arrayLookup): r0 = the element the u32 key at r2 names, or
   * NULL past the end. False, with nothing done, when the key is not plain readable memory: the
   * helper itself then runs (and faults as it does).
   */
  private lookupInline(a: VmArrayLookup): boolean {
    const { L, H } = this;
    const g = this.memory.regions[(H[2] - REGION_HI_BASE) >>> 0];
    const lo = L[2] >>> 0;
    if (g === undefined || !g.live || g.hooks !== null || lo < g.start || lo + 4 > g.end) return false;
    const i = g.view.getUint32(lo, true);
    L[0] = 0;
    H[0] = i < a.maxEntries ? a.elemHis[i] || a.elemHi(i) : 0;
    return true;
  }

  /** Call helper `id` (given as 64-bit halves): r0 = helper(r1..r5). */
  private callHelper(idLo: number, idHi: number): void {
    const h = idHi === 0 && idLo >= 0 ? this.cur.helpers[idLo] : undefined;
    if (h === undefined) {
      if (idHi !== 0 || idLo < 0) {
        const id = (BigInt(idHi >>> 0) << 32n) | BigInt(idLo >>> 0);
        throw new VmFault("unknown-helper", `unknown helper 0x${id.toString(16)}`);
      }
      const known = helperById(idLo);
      throw new VmFault(
        "unknown-helper",
        known
          ? `helper ${known.name}#${idLo} is not in this environment's helper table`
          : `unknown helper ${idLo}`,
      );
    }
    // a helper may write where its pointer arguments point, by any means (not all go through
    // checkAccess): a stack they point into is re-zeroed from there before the next run
    const { L, H } = this;
    const hi0 = this.stackHi;
    if ((H[1] - hi0) >>> 0 < MAX_CALL_FRAMES) this.touchStack(H[1] - hi0, L[1]);
    if ((H[2] - hi0) >>> 0 < MAX_CALL_FRAMES) this.touchStack(H[2] - hi0, L[2]);
    if ((H[3] - hi0) >>> 0 < MAX_CALL_FRAMES) this.touchStack(H[3] - hi0, L[3]);
    if ((H[4] - hi0) >>> 0 < MAX_CALL_FRAMES) this.touchStack(H[4] - hi0, L[4]);
    if ((H[5] - hi0) >>> 0 < MAX_CALL_FRAMES) this.touchStack(H[5] - hi0, L[5]);
    let v: bigint | number;
    try {
      v = h.fn(this);
    } catch (e) {
      if (e instanceof VmFault) throw e;
      throw new VmFault("helper", `helper ${h.name} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (this.stopped !== undefined) {
      this.L[0] = this.stopped.r0lo;
      this.H[0] = this.stopped.r0hi;
      return;
    }
    if (typeof v === "number") {
      if ((v | 0) === v) {
        // the common results (0, an errno, a small count) without the division of setNumber
        this.L[0] = v;
        this.H[0] = v >> 31;
        return;
      }
      if (!Number.isSafeInteger(v)) {
        throw new VmFault("helper", `helper ${h.name} returned ${v}, not an integer`);
      }
      setNumber(this.L, this.H, 0, v);
    } else {
      const u = BigInt.asUintN(64, v);
      this.L[0] = Number(BigInt.asIntN(32, u));
      this.H[0] = Number(BigInt.asIntN(32, u >> 32n));
    }
  }

  /**
   * LD_ABS / LD_IND: a big-endian load of 1/2/4 bytes into r0 (zero-extended), as the kernel's
   * skb load helpers do. A non-negative offset counts from the packet's data and must stay
   * below its end; offsets from SKF_NET_OFF (-0x100000) and SKF_LL_OFF (-0x200000) count from
   * the network and link-layer headers and may reach back to the start of the buffer (the skb
   * head). False when the bytes are not there (the program then returns 0).
   */
  private loadPacket(offset: number, size: number): boolean {
    const p = this.packet;
    if (p === undefined)
      throw new VmFault("unsupported", "LD_ABS/LD_IND without a packet (VmRunOptions.packet)");
    let at: number;
    if (offset >= 0) at = p.dataStart + offset;
    else if (offset >= SKF_NET_OFF) at = p.netStart + (offset - SKF_NET_OFF);
    else if (offset >= SKF_LL_OFF) at = p.macStart + (offset - SKF_LL_OFF);
    else return false;
    if (at < 0 || at + size > p.end) return false;
    const v = p.view;
    this.L[0] = size === 1 ? v.getUint8(at) : size === 2 ? v.getUint16(at, false) : v.getInt32(at, false);
    this.H[0] = 0;
    return true;
  }
}

const SKF_NET_OFF = -0x100000;
const SKF_LL_OFF = -0x200000;
