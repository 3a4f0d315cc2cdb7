/**
 * Verifier state: registers with types and ids, stack slots, call frames, acquired references.
 * Shapes follow the kernel's bpf_reg_state / bpf_func_state / bpf_verifier_state.
 */
import type { MapSpec } from "../elf/object/types.js";
import {
  type Bounds,
  constBounds,
  isConst,
  S32_MAX,
  S32_MIN,
  S64_MAX,
  S64_MIN,
  unknownBounds,
} from "./scalar.js";
import { tnumIsUnknown, tnumStr, U32, U64 } from "./tnum.js";

export type RegType =
  | "not_init"
  | "scalar"
  | "ctx"
  | "map_ptr"
  | "map_value"
  | "map_key"
  | "stack"
  | "pkt"
  | "pkt_meta"
  | "pkt_end"
  | "mem"
  | "btf_id"
  | "func"
  | "sock"
  | "sock_common"
  | "tcp_sock"
  | "xdp_sock"
  | "flow_keys"
  | "tp_buffer"
  /** CONST_PTR_TO_DYNPTR: a dynptr handed in by the kernel (callback or global function argument). */
  | "dynptr_ptr";

export interface Reg extends Bounds {
  type: RegType;
  maybeNull: boolean;
  /** MEM_RINGBUF for `mem`. */
  ringbuf: boolean;
  rdonly: boolean;
  /** Fixed offset of a pointer. */
  off: number;
  id: number;
  refObjId: number;
  /** Packet range (bytes from the pointer's base known to be in the packet). */
  range: number;
  map?: MapSpec;
  memSize: number;
  /** Frame a stack pointer points into. */
  frameno: number;
  /** Subprogram (instruction index) of a func pointer. */
  subprog: number;
  /** For `btf_id`: the kernel BTF type id and name of the struct pointed to. */
  btfId?: number;
  btfName?: string;
  /**
   * For `btf_id`: PTR_TRUSTED, MEM_RCU, PTR_UNTRUSTED or MEM_PERCPU (none: the legacy plain
   * PTR_TO_BTF_ID); for `mem`: "untrusted" is PTR_UNTRUSTED (read through probes, global-args.ts).
   */
  btfFlag?: BtfPtrFlag;
  /**
   * For the spilled register of a dynptr stack slot: its kind and whether it is the first slot;
   * for a `mem` slice of an skb or xdp dynptr, its dynptr's kind (DYNPTR_TYPE_SKB/XDP).
   */
  dynptr?: { readonly kind: "local" | "ringbuf" | "skb" | "xdp" | "skb_meta"; readonly first: boolean };
  /** For a dynptr slice (bpf_dynptr_data): the id of its dynptr (dynptr.ts). */
  dynptrId?: number;
  /** For the spilled register of an iterator slot: active or drained, and the loop depth (iter.ts). */
  iter?: { readonly active: boolean; readonly depth: number };
  /** For the spilled register of an irq flag slot: the kfuncs that saved it (irq-flag.ts). */
  irqClass?: "native" | "lock";
  /** For scalars: origin tokens of the checkpoint values it derives from (callback-widening.ts). */
  origin?: readonly number[];
  /**
   * A scalar whose exact range mattered to some check on the paths explored from this stored
   * state (set by precision.ts on checkpoints only); pruning ignores imprecise scalars.
   */
  precise: boolean;
}

/** "percpu": MEM_PERCPU, a per-CPU typed ksym (ksym.ts). */
export type BtfPtrFlag = "trusted" | "rcu" | "untrusted" | "percpu";

/**
 * The rare fields of a register (BTF pointer, dynptr, iterator, irq flag, origin): one
 * immutable object shared by copies and replaced on every write, so a register carries one
 * field for all of them and a copy (at every branch and checkpoint) is that much smaller.
 */
interface RegExt {
  readonly btfId?: number;
  readonly btfName?: string;
  readonly btfFlag?: BtfPtrFlag;
  readonly dynptr?: Reg["dynptr"];
  readonly dynptrId?: number;
  readonly iter?: Reg["iter"];
  readonly irqClass?: Reg["irqClass"];
  readonly origin?: readonly number[];
}

const NO_EXT: RegExt = Object.freeze({});

/** The rare fields of a register that is not a RegObj (a plain object literal, in tests). */
function extOf(r: Reg): RegExt {
  const e: { -readonly [K in keyof RegExt]: RegExt[K] } = {};
  if (r.btfId !== undefined) e.btfId = r.btfId;
  if (r.btfName !== undefined) e.btfName = r.btfName;
  if (r.btfFlag !== undefined) e.btfFlag = r.btfFlag;
  if (r.dynptr !== undefined) e.dynptr = r.dynptr;
  if (r.dynptrId !== undefined) e.dynptrId = r.dynptrId;
  if (r.iter !== undefined) e.iter = r.iter;
  if (r.irqClass !== undefined) e.irqClass = r.irqClass;
  if (r.origin !== undefined) e.origin = r.origin;
  return Object.keys(e).length === 0 ? NO_EXT : e;
}

/**
 * Every register: the common fields as own fields, assigned in one order in one constructor
 * (one hidden class; an object spread would make V8 build a slow dictionary-mode object), the
 * rare ones behind accessors on `ext`.
 */
class RegObj implements Reg {
  varOff: Bounds["varOff"];
  smin: bigint;
  smax: bigint;
  umin: bigint;
  umax: bigint;
  s32min: bigint;
  s32max: bigint;
  u32min: bigint;
  u32max: bigint;
  type: RegType;
  maybeNull: boolean;
  ringbuf: boolean;
  rdonly: boolean;
  off: number;
  id: number;
  refObjId: number;
  range: number;
  map: MapSpec | undefined;
  memSize: number;
  frameno: number;
  subprog: number;
  precise: boolean;
  ext: RegExt;
  /** A copy of `r`, or (with `type`) a fresh register of that type with bounds `r`. */
  constructor(r: Reg | Bounds, type?: RegType) {
    this.varOff = r.varOff;
    this.smin = r.smin;
    this.smax = r.smax;
    this.umin = r.umin;
    this.umax = r.umax;
    this.s32min = r.s32min;
    this.s32max = r.s32max;
    this.u32min = r.u32min;
    this.u32max = r.u32max;
    if (type !== undefined) {
      this.type = type;
      this.maybeNull = false;
      this.ringbuf = false;
      this.rdonly = false;
      this.off = 0;
      this.id = 0;
      this.refObjId = 0;
      this.range = 0;
      this.map = undefined;
      this.memSize = 0;
      this.frameno = 0;
      this.subprog = 0;
      this.precise = false;
      this.ext = NO_EXT;
      return;
    }
    const g = r as Reg;
    this.type = g.type;
    this.maybeNull = g.maybeNull;
    this.ringbuf = g.ringbuf;
    this.rdonly = g.rdonly;
    this.off = g.off;
    this.id = g.id;
    this.refObjId = g.refObjId;
    this.range = g.range;
    this.map = g.map;
    this.memSize = g.memSize;
    this.frameno = g.frameno;
    this.subprog = g.subprog;
    this.precise = g.precise;
    this.ext = g instanceof RegObj ? g.ext : extOf(g);
  }
  get btfId(): number | undefined {
    return this.ext.btfId;
  }
  set btfId(v: number | undefined) {
    this.ext = { ...this.ext, btfId: v };
  }
  get btfName(): string | undefined {
    return this.ext.btfName;
  }
  set btfName(v: string | undefined) {
    this.ext = { ...this.ext, btfName: v };
  }
  get btfFlag(): BtfPtrFlag | undefined {
    return this.ext.btfFlag;
  }
  set btfFlag(v: BtfPtrFlag | undefined) {
    this.ext = { ...this.ext, btfFlag: v };
  }
  get dynptr(): Reg["dynptr"] {
    return this.ext.dynptr;
  }
  set dynptr(v: Reg["dynptr"]) {
    this.ext = { ...this.ext, dynptr: v };
  }
  get dynptrId(): number | undefined {
    return this.ext.dynptrId;
  }
  set dynptrId(v: number | undefined) {
    this.ext = { ...this.ext, dynptrId: v };
  }
  get iter(): Reg["iter"] {
    return this.ext.iter;
  }
  set iter(v: Reg["iter"]) {
    this.ext = { ...this.ext, iter: v };
  }
  get irqClass(): Reg["irqClass"] {
    return this.ext.irqClass;
  }
  set irqClass(v: Reg["irqClass"]) {
    this.ext = { ...this.ext, irqClass: v };
  }
  get origin(): readonly number[] | undefined {
    return this.ext.origin;
  }
  set origin(v: readonly number[] | undefined) {
    this.ext = { ...this.ext, origin: v };
  }
}

function makeReg(type: RegType, b: Bounds): Reg {
  return new RegObj(b, type);
}

export function notInit(): Reg {
  return makeReg("not_init", unknownBounds());
}

export function unknownScalar(): Reg {
  return makeReg("scalar", unknownBounds());
}

export function constScalar(v: bigint): Reg {
  return makeReg("scalar", constBounds(v));
}

/** A pointer with a zero variable part. */
export function pointer(type: RegType, extra: Partial<Reg> = {}): Reg {
  return Object.assign(makeReg(type, constBounds(0n)), extra);
}

/** A copy of every field, the rare ones (BTF pointer, dynptr, iterator, origin) included. */
export function copyReg(r: Reg): Reg {
  return new RegObj(r);
}

export const isPointer = (r: Reg): boolean => r.type !== "scalar" && r.type !== "not_init";

/** One 8-byte stack slot: byte kinds (index 0 = lowest address) and the spilled register. */
export interface Slot {
  /** '?' invalid, 'r' spill, 'm' misc, '0' zero, 'd' dynptr (dynptr.ts), 'i' iterator (iter.ts). */
  kinds: string[];
  spilled: Reg;
}

export interface Frame {
  regs: Reg[];
  /** stack[spi] covers fp-8*(spi+1) .. fp-8*spi-1. */
  stack: Slot[];
  frameno: number;
  /** Instruction index of the call that made this frame (-1 for the main frame). */
  callsite: number;
  /** First instruction of the function this frame runs. */
  subprog: number;
  /** Allowed R0 range at return, for callbacks. */
  callbackRet?: readonly [number, number];
  /** For callbacks: return to the caller with R0 unknown rather than the callee's R0. */
  isCallback: boolean;
  /** Callback entries queued from this frame at its current call (the kernel's callback_depth). */
  callbackDepth?: number;
  /** Callback iterations queued from this frame along the path (a cap, see callbacks.ts). */
  unroll?: number;
  /** An async callback (bpf_timer): verified as its own program from a fresh frame 0. */
  isAsync?: boolean;
}

export interface RefState {
  id: number;
  insn: number;
  /**
   * Absent for an acquired pointer (REF_TYPE_PTR); "lock" for a held bpf_spin_lock
   * (REF_TYPE_LOCK), "res_lock" / "res_lock_irq" for a held bpf_res_spin_lock taken without / with
   * irqsave (REF_TYPE_RES_LOCK / _IRQ, res-spin-lock.ts),
   * "irq" for saved interrupt state (REF_TYPE_IRQ, irq-flag.ts).
   */
  kind?: "lock" | "res_lock" | "res_lock_irq" | "irq";
  /** For a lock: the map whose value holds it (the kernel's lock ptr). */
  ptr?: string;
}

/**
 * A why-trace entry: a string, or an object whose text is built only when it is printed (a
 * branch's condition formats registers, and almost every path's trace is dropped unread).
 */
export type TraceEntry = string | { toString(): string };

export interface VState {
  frames: Frame[];
  refs: RefState[];
  /** bpf_rcu_read_lock nesting (active_rcu_locks); absent when zero. */
  rcuLocks?: number;
  /** The last stored checkpoint this path descends from (for branch counting). */
  parent?: StoredState;
  /**
   * Why-trace: branch decisions along this path (String() of an entry is its text), the newest
   * ones; the older ones are in traceTail (pathTrace gives them all).
   */
  trace: TraceEntry[];
  /** The older why-trace entries, shared with the copies of this state (see cloneState). */
  traceTail?: TraceChain | undefined;
  /** traceTail's entries numbered up to this one are not this path's (cut at a copy); absent: 0. */
  traceFloor?: number;
  /** A path only the CPU's speculation takes (unprivileged Spectre v1 exploration). */
  speculative?: boolean;
  /** Instructions processed since the last checkpoint, newest first (precision.ts). */
  hist?: HistNode;
  /** Whether `hist`'s newest node is this state's alone (not shared with a copy): it may grow in place. */
  histOwn?: boolean;
}

/**
 * A straight run of processed instructions of a path, `first`, first+1 ... `t`, for precision
 * backtracking (the kernel's jmp history). Only `t` carries the fields below; the run's other
 * instructions accessed no stack slot and are no jumps. (One node per run rather than per
 * instruction: the history of a long path is kept alive by its checkpoints.)
 */
export interface HistNode {
  readonly first: number;
  // t, slot, flags and linked change only while the node is its state's alone (histOwn)
  t: number;
  /** Fixed-offset stack slot the instruction accessed (frameno * 64 + spi), or -1. */
  slot: number;
  /** Cond jumps: BPF_X operands that were stack pointers (1 src, 2 dst). */
  flags: number;
  /** Cond jumps: scalars linked (same id) to an operand: frameno << 8 | r, or frameno << 8 | (16 + spi). */
  linked: readonly number[] | undefined;
  readonly prev: HistNode | undefined;
}

export interface StoredState {
  state: VState;
  insn: number;
  branches: number;
  parent?: StoredState;
  hit: number;
  miss: number;
}

export function newSlot(): Slot {
  return { kinds: ["?", "?", "?", "?", "?", "?", "?", "?"], spilled: notInit() };
}

export function newFrame(frameno: number, callsite: number, subprog: number): Frame {
  const regs: Reg[] = [];
  for (let i = 0; i < 11; i++) regs.push(notInit());
  regs[10] = pointer("stack", { frameno });
  return { regs, stack: [], frameno, callsite, subprog, isCallback: false };
}

/**
 * The one register object an unwritten register of a copied state shares with its original:
 * a register is never written in place while it is not initialised (an instruction writing it
 * puts a new object in its slot), so copies of it are not needed; frozen, so a write in place
 * would throw rather than change two states.
 */
const SHARED_NOT_INIT: Reg = Object.freeze(notInit());

/** Whether `r` is a fresh notInit(), so SHARED_NOT_INIT can stand for it. */
function pristineNotInit(r: Reg): boolean {
  const d = SHARED_NOT_INIT;
  return (
    r.type === "not_init" &&
    r.varOff.value === d.varOff.value &&
    r.varOff.mask === d.varOff.mask &&
    r.smin === d.smin &&
    r.smax === d.smax &&
    r.umin === d.umin &&
    r.umax === d.umax &&
    r.s32min === d.s32min &&
    r.s32max === d.s32max &&
    r.u32min === d.u32min &&
    r.u32max === d.u32max &&
    !r.maybeNull &&
    !r.ringbuf &&
    !r.rdonly &&
    r.off === 0 &&
    r.id === 0 &&
    r.refObjId === 0 &&
    r.range === 0 &&
    r.map === undefined &&
    r.memSize === 0 &&
    r.frameno === 0 &&
    r.subprog === 0 &&
    !r.precise &&
    r.btfId === undefined &&
    r.btfName === undefined &&
    r.btfFlag === undefined &&
    r.dynptr === undefined &&
    r.dynptrId === undefined &&
    r.iter === undefined &&
    r.origin === undefined
  );
}

/** A register of a state being copied: its own copy, or the shared unwritten one. */
function cloneReg(r: Reg): Reg {
  if (r === SHARED_NOT_INIT) return r;
  return r.type === "not_init" && pristineNotInit(r) ? SHARED_NOT_INIT : copyReg(r);
}

export function cloneFrame(f: Frame): Frame {
  // plain loops and one literal shape (a conditional spread before more properties makes V8
  // build a slow dictionary object)
  const regs: Reg[] = new Array(f.regs.length);
  for (let k = 0; k < f.regs.length; k++) regs[k] = cloneReg(f.regs[k]!);
  const stack: Slot[] = new Array(f.stack.length);
  for (let k = 0; k < f.stack.length; k++) {
    const s = f.stack[k]!;
    stack[k] = { kinds: s.kinds.slice(), spilled: cloneReg(s.spilled) };
  }
  return {
    regs,
    stack,
    frameno: f.frameno,
    callsite: f.callsite,
    subprog: f.subprog,
    callbackRet: f.callbackRet,
    isCallback: f.isCallback,
    callbackDepth: f.callbackDepth,
    unroll: f.unroll,
    isAsync: f.isAsync,
  };
}

/** Why-trace entries as an immutable list, newest first; `n` counts this one and the older ones. */
export interface TraceChain {
  readonly e: TraceEntry;
  readonly prev: TraceChain | undefined;
  readonly n: number;
}

/** Every why-trace entry of a path, oldest first. */
export function pathTrace(s: VState): TraceEntry[] {
  const out: TraceEntry[] = [];
  const floor = s.traceFloor ?? 0;
  for (let c = s.traceTail; c && c.n > floor; c = c.prev) out.push(c.e);
  out.reverse();
  for (const e of s.trace) out.push(e);
  return out;
}

/**
 * The why-trace a copy of `s` starts from: the path's last 32 entries when it has more than 48
 * (copying whole paths would be quadratic), else all of them. The entries `s` gathered since
 * its last copy move into its shared tail, so a copy costs a few list nodes, not an array.
 */
/** The floor (VState.traceFloor) of the chain copiedTrace returned last. */
let copiedFloor = 0;
/**
 * Entries a chain may hold below its floor before a copy rebuilds its kept entries as a fresh
 * chain: until then a copy shares the chain and only moves its floor up (no nodes built), and
 * the rebuild bounds what one path keeps alive.
 */
const TRACE_SLACK = 256;

function copiedTrace(s: VState): TraceChain | undefined {
  let c = s.traceTail;
  if (s.trace.length) {
    for (const e of s.trace) c = { e, prev: c, n: (c?.n ?? 0) + 1 };
    s.traceTail = c;
    s.trace = [];
  }
  const floor = s.traceFloor ?? 0;
  copiedFloor = floor;
  if (!c || c.n - floor <= 48) return c;
  // the last 32 entries: the ones numbered above c.n - 32
  const keepAbove = c.n - 32;
  if (keepAbove <= TRACE_SLACK) {
    copiedFloor = keepAbove;
    return c;
  }
  const last: TraceEntry[] = [];
  for (let k: TraceChain | undefined = c; k && last.length < 32; k = k.prev) last.push(k.e);
  let out: TraceChain | undefined;
  for (let k = last.length - 1; k >= 0; k--) out = { e: last[k]!, prev: out, n: (out?.n ?? 0) + 1 };
  copiedFloor = 0;
  return out;
}

/** A deep copy; `withTrace` false gives the copy an empty why-trace (checkpoints keep none). */
export function cloneState(s: VState, withTrace = true): VState {
  // the copy shares the history's newest node
  s.histOwn = false;
  const frames: Frame[] = new Array(s.frames.length);
  for (let k = 0; k < s.frames.length; k++) frames[k] = cloneFrame(s.frames[k]!);
  return {
    frames,
    refs: s.refs.length === 0 ? [] : s.refs.map((r) => ({ ...r })),
    rcuLocks: s.rcuLocks,
    parent: s.parent,
    trace: [],
    traceTail: withTrace ? copiedTrace(s) : undefined,
    // after traceTail: copiedTrace sets it
    traceFloor: withTrace ? copiedFloor : 0,
    speculative: s.speculative,
    hist: s.hist,
    histOwn: false,
  };
}

export const curFrame = (s: VState): Frame => s.frames[s.frames.length - 1]!;

/** Every register and spilled register of every frame, with a setter to replace it. */
export function forEachReg(st: VState, fn: (r: Reg, set: (v: Reg) => void) => void): void {
  for (const f of st.frames) {
    f.regs.forEach((r, i) => {
      fn(r, (v) => {
        f.regs[i] = v;
      });
    });
    for (const s of f.stack) {
      if (s.kinds[0] !== "r") continue;
      fn(s.spilled, (v) => {
        s.spilled = v;
      });
    }
  }
}

// ------------------------------------------------------------------------------ printing

/** The kernel's reg_type_str. */
export function regTypeStr(r: Reg): string {
  let base: string;
  switch (r.type) {
    case "not_init":
      return "?";
    case "stack":
      base = "fp";
      break;
    case "btf_id":
      // one prefix (the kernel's last matching flag wins), "or_null_" before the struct name
      return `${r.btfFlag ? `${r.btfFlag}_` : ""}ptr_${r.maybeNull ? "or_null_" : ""}`;
    default:
      base = r.type;
  }
  let prefix = "";
  if (r.rdonly) prefix += "rdonly_";
  if (r.ringbuf) prefix += "ringbuf_";
  if (r.btfFlag === "untrusted") prefix += "untrusted_";
  const postfix = r.maybeNull ? "_or_null" : "";
  return `${prefix}${base}${postfix}`;
}

const isSnumDecimal = (v: bigint): boolean => v >= -(1n << 15n) && v <= 0xffffn;
/** The kernel's number format: small values in decimal, others in hex (negatives as u64). */
const fmtS = (v: bigint): string =>
  isSnumDecimal(v) ? v.toString() : `0x${BigInt.asUintN(64, v).toString(16)}`;
const fmtU = (v: bigint): string => (v <= 0xffffn ? v.toString() : `0x${v.toString(16)}`);

/** Bounds as the kernel prints them (log.c print_scalar_ranges): equal mins/maxes share one value. */
function boundsStr(r: Reg): string[] {
  const m: { name: string; val: bigint; omit: boolean }[] = [
    { name: "smin", val: r.smin, omit: r.smin === S64_MIN },
    { name: "smax", val: r.smax, omit: r.smax === S64_MAX },
    { name: "umin", val: r.umin, omit: r.umin === 0n },
    { name: "umax", val: r.umax, omit: r.umax === U64 },
    { name: "smin32", val: r.s32min, omit: r.s32min === S32_MIN },
    { name: "smax32", val: r.s32max, omit: r.s32max === S32_MAX },
    { name: "umin32", val: r.u32min, omit: r.u32min === 0n },
    { name: "umax32", val: r.u32max, omit: r.u32max === U32 },
  ];
  const out: string[] = [];
  for (let i = 0; i < m.length; i++) {
    const a = m[i]!;
    if (a.omit) continue;
    const negA = a.name[0] === "s" && a.val < 0n;
    let text = `${a.name}=`;
    for (let j = i + 2; j < m.length; j += 2) {
      const b = m[j]!;
      if (b.omit) continue;
      const negB = b.name[0] === "s" && b.val < 0n;
      if (negA !== negB || BigInt.asUintN(64, a.val) !== BigInt.asUintN(64, b.val)) continue;
      text += `${b.name}=`;
      b.omit = true;
    }
    out.push(text + (a.name[0] === "s" ? fmtS(a.val) : fmtU(a.val)));
  }
  if (!tnumIsUnknown(r.varOff) && !isConst(r)) out.push(`var_off=${tnumStr(r.varOff)}`);
  return out;
}

export function regStr(r: Reg): string {
  if (r.type === "scalar") {
    if (isConst(r)) return fmtS(BigInt.asIntN(64, r.varOff.value));
    const parts = [...(r.id ? [`id=${r.id}`] : []), ...boundsStr(r)];
    return parts.length ? `scalar(${parts.join(",")})` : "scalar()";
  }
  if (r.type === "stack" && isConst(r) && r.varOff.value === 0n) return `fp${r.off}`;
  const parts: string[] = [];
  if (r.id) parts.push(`id=${r.id}`);
  if (r.refObjId) parts.push(`ref_obj_id=${r.refObjId}`);
  if (r.type === "map_value" || r.type === "map_ptr" || r.type === "map_key") {
    // an inner map meta has no name (the kernel prints only its sizes)
    if (r.map?.name) parts.push(`map=${r.map.name.slice(0, 15)}`);
    if (r.map) parts.push(`ks=${r.map.keySize}`, `vs=${r.map.valueSize}`);
  }
  if (r.off) parts.push(`off=${r.off}`);
  if (r.type === "pkt" || r.type === "pkt_meta") parts.push(`r=${r.range}`);
  if (r.type === "mem") parts.push(`sz=${r.memSize}`);
  if (!isConst(r) || r.varOff.value !== 0n) parts.push(...boundsStr(r));
  const btfName = r.type === "btf_id" ? (r.btfName ?? "") : "";
  return `${regTypeStr(r)}${btfName}${parts.length ? `(${parts.join(",")})` : "()"}`;
}

/** A frame's live state: registers and stack slots, as the kernel's print_verifier_state. */
export function frameStr(f: Frame, only?: ReadonlySet<number>): string {
  const out: string[] = [];
  f.regs.forEach((r, i) => {
    if (r.type === "not_init") return;
    if (only && !only.has(i)) return;
    out.push(`R${i}=${regStr(r)}`);
  });
  if (!only) {
    f.stack.forEach((s, spi) => {
      const kinds = [...s.kinds].reverse().join("");
      if (kinds === "????????") return;
      const off = -(spi + 1) * 8;
      if (s.kinds[0] === "d") {
        // a dynptr prints once, at its first (lower) slot
        const r = s.spilled;
        if (!r.dynptr?.first) return;
        const ids = [
          ...(r.id ? [`id=${r.id}`] : []),
          ...(r.refObjId ? [`ref_id=${r.refObjId}`] : []),
          ...(r.id ? [`dynptr_id=${r.id}`] : []),
        ];
        out.push(`fp${off}=dynptr_${r.dynptr.kind}(${ids.join(",")})`);
      } else if (s.kinds[0] === "i") {
        const r = s.spilled;
        if (!r.refObjId) return;
        const state = r.iter?.active ? "active" : "drained";
        out.push(`fp${off}=iter_num(ref_id=${r.refObjId},state=${state},depth=${r.iter?.depth ?? 0})`);
      } else if (s.kinds[0] === "r") {
        // the bytes above a narrow spill print first, highest address first (print_verifier_state)
        const above = [...s.kinds].reverse();
        const prefix = above.slice(0, above.indexOf("r")).join("");
        out.push(`fp${off}=${prefix}${regStr(s.spilled)}`);
      } else out.push(`fp${off}=${kinds}`);
    });
  }
  return out.join(" ");
}
