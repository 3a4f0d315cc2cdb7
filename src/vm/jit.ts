/**
 * The fast path: a program's Code translated to one JavaScript function (`new Function`), a
 * straight-line translation per basic block inside a `switch` on the block's first slot in a
 * loop (so jumps are `pc = T; continue top`; a block that jumps back to its own start loops
 * inside its case, `bN: for (;;)`, without going through the switch). Registers are int32 locals (low and high halves),
 * written back to the interpreter's Int32Arrays when control leaves the function; 64-bit
 * multiply, divide, shifts and byte swaps go through the same int64.ts functions on those
 * arrays, so no BigInt in the hot path and no second copy of the corner cases. Memory accesses inline the interpreter's region check
 * and fall back to the same loadInto/storeHalves (which fault the same way).
 *
 * Only the instructions with local effects are compiled: ALU, jumps, ld_imm64, loads, stores and
 * atomics. Calls, exit, may_goto, LD_ABS/LD_IND and bad slots end the compiled run and return
 * their slot to the interpreter loop, which executes that one instruction (frames, helpers,
 * tail calls, callbacks) and enters the compiled function again at the next slot. The
 * interpreter therefore stays the single reference for everything with control effects.
 *
 * Budget: each block checks once on entry that the budget covers all its instructions; if not,
 * it hands back to the interpreter, which steps one instruction at a time and faults at exactly
 * the instruction the interpreter alone would.
 */
import { atomic } from "./atomic.js";
import type { Code } from "./code.js";
import { STACK_SIZE, type VmArrayLookup } from "./env.js";
import {
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
  smod64,
  truncate,
  udiv64,
  umod64,
} from "./int64.js";
import {
  bytesInto,
  hookValueInto,
  loadInto,
  type Memory,
  PTR_DATA,
  PTR_END,
  pointerField,
  REGION_HI_BASE,
  storeHalves,
} from "./memory.js";

/**
 * Runs compiled blocks from slot `pc` with `left` instructions of budget (an int32: the machine
 * hands out at most 2^31 - 1 at a time, so V8 counts it down as an integer); returns the slot the
 * interpreter must execute next. The budget left is in JIT_STATE[0]; when it throws, JIT_STATE[1]
 * holds the faulting slot (and JIT_STATE[0] the budget left). JIT_STATE[2] says why it returned:
 * 0 the slot is outside the compiled code, 1 the interpreter must execute it, 2 a helper stopped
 * the program or asked for a tail call, 3 the exit at that slot was executed (and counted).
 */
export type JitFn = (
  pc: number,
  left: number,
  L: Int32Array,
  H: Int32Array,
  m: JitHost,
  /** Whether the frame is the run's (or callback's) first: its exit ends the run, and then only r0 is read. */
  top: boolean,
) => number;

/** What compiled code calls back into: the machine running it. */
export interface JitHost {
  /** r1-r5 at the start of a run, as int32 halves (what a fresh entry starts its locals from). */
  readonly a1l: number;
  readonly a1h: number;
  readonly a2l: number;
  readonly a2h: number;
  readonly a3l: number;
  readonly a3h: number;
  readonly a4l: number;
  readonly a4h: number;
  readonly a5l: number;
  readonly a5h: number;
  /** High half of frame 0's stack (r10 at the start of a run). */
  readonly stackHi: number;
  /**
   * Call helper `id` from slot `pc` with `left` budget (registers in L/H): returns the budget
   * left, or its complement when the compiled code must return to the interpreter (with
   * JIT_STATE[2] = 2) because the helper stopped the program or asked for a tail call.
   */
  jitCall(pc: number, id: number, left: number): number;
}

/**
 * A program's compiled code: `run` enters at any slot with the registers in L/H; `fresh` starts
 * a run at the entry (entries[0]) with the registers a run starts with (r1-r5 from the host's
 * a1l..a5h, r10 the top of frame 0's stack, the rest 0) without reading L/H, and writes every
 * register r0-r10 to L/H whenever it leaves other than by the top frame's exit (which writes r0
 * only), so the caller need not reset L/H before it.
 */
export interface JitCode {
  readonly run: JitFn;
  /** Undefined when the entry is not compiled code: a run then starts with `run` from L/H. */
  readonly fresh: JitFn | undefined;
}

/** Out-values of a JitFn (one machine runs compiled code at a time: JS is single-threaded). */
export const JIT_STATE = new Float64Array(3);

const RUNTIME = {
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
  smod64,
  truncate,
  udiv64,
  umod64,
  loadInto,
  storeHalves,
  atomic,
  hookValueInto,
  bytesInto,
  pointerField,
};

/** Whether slot `pc`'s opcode is translated (the rest go back to the interpreter). */
function compiled(op: number): boolean {
  const cls = op & 7;
  if (op === 0x18) return true;
  if (cls === 4 || cls === 7) return ALU_OPS.has(op);
  if (cls === 5 || cls === 6)
    return op !== 0x85 && op !== 0x8d && op !== 0x95 && op !== 0xe5 && JMP_OPS.has(op);
  if (cls === 1)
    return (
      op === 0x61 || op === 0x69 || op === 0x71 || op === 0x79 || op === 0x81 || op === 0x89 || op === 0x91
    );
  if (cls === 2) return op === 0x62 || op === 0x6a || op === 0x72 || op === 0x7a;
  if (cls === 3)
    return (
      op === 0x63 ||
      op === 0x6b ||
      op === 0x73 ||
      op === 0x7b ||
      op === 0xc3 ||
      op === 0xcb ||
      op === 0xd3 ||
      op === 0xdb
    );
  return false;
}

const ALU_OPS = new Set<number>();
for (const base of [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0, 0xb0, 0xc0]) {
  for (const cls of [4, 7]) for (const src of [0, 8]) ALU_OPS.add(base | cls | src);
}
ALU_OPS.add(0x84).add(0x87).add(0xd4).add(0xdc).add(0xd7);
const JMP_OPS = new Set<number>([0x05, 0x06]);
for (const base of [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0]) {
  for (const cls of [5, 6]) for (const src of [0, 8]) JMP_OPS.add(base | cls | src);
}

/** Whether `op` ends a block with a (possibly conditional) jump. */
function isJump(op: number): boolean {
  const cls = op & 7;
  return (cls === 5 || cls === 6) && JMP_OPS.has(op);
}

function jumpTarget(code: Code, pc: number): number {
  return code.op[pc] === 0x06 ? pc + code.imm[pc] + 1 : pc + code.off[pc] + 1;
}

/** Slots where a block starts: entries, jump and call targets, and slots after jumps or non-compiled slots. */
function leaders(code: Code, entries: readonly number[]): boolean[] {
  const n = code.n;
  const lead = new Array<boolean>(n + 1).fill(false);
  const mark = (t: number): void => {
    if (t >= 0 && t <= n) lead[t] = true;
  };
  for (const e of entries) mark(e);
  mark(0);
  for (let pc = 0; pc < n; pc++) {
    const op = code.op[pc];
    if (op === 0x18) {
      // a function's address (ld_imm64 src 4): a callback entry
      if (code.src[pc] === 4) mark(code.imm[pc]);
      pc++;
      continue;
    }
    if (isJump(op)) {
      mark(jumpTarget(code, pc));
      mark(pc + 1);
    } else if (!compiled(op)) {
      if (op === 0x85 && code.src[pc] === 1) mark(pc + code.imm[pc] + 1);
      if (op === 0xe5) mark(pc + code.off[pc] + 1);
      mark(pc + 1);
    }
  }
  // long straight-line code is cut into blocks of at most MAX_BLOCK slots, so every compiled
  // function stays small enough for V8 to optimize
  let run = 0;
  for (let pc = 0; pc < n; pc++) {
    if (lead[pc]) run = 0;
    else if (++run >= MAX_BLOCK && code.op[pc] !== OP_WIDE_SLOT_) {
      lead[pc] = true;
      run = 0;
    }
  }
  return lead;
}

/** Longest straight-line block, and the source size after which a new function starts. */
const MAX_BLOCK = 64;
const MAX_CHUNK_SOURCE = 12_000;
/** code.ts's marker of an ld_imm64's second slot. */
const OP_WIDE_SLOT_ = 0x100;

/**
 * Registers live in locals l0..l10 / h0..h10 (int32 halves) inside the compiled function: a
 * chunk function loads on entry only the registers its code mentions and writes back to the
 * machine's L/H only those its code can change (the others stay equal to the arrays).
 */
const NREGS = 11;
/** Write registers back to the machine's L/H (before leaving, or a call that reads them). */
const spill = (regs: Iterable<number>): string =>
  [...regs].map((r) => `L[${r}]=l${r};H[${r}]=h${r};`).join("");
/** Read registers from L/H (after a call that wrote them). */
const reload = (regs: Iterable<number>): string =>
  [...regs].map((r) => `l${r}=L[${r}];h${r}=H[${r}];`).join("");
/**
 * Placeholders in a block's source, replaced per chunk function: write back every register the
 * chunk can change (after which L/H hold all registers), and read back every register it loaded.
 */
const SPILL_ALL = "/*spill*/";
/** FALL + "N" + a comment end closes a block that goes on at slot N: nothing when case N comes next. */
const FALL = "/*fall:";
const RELOAD_ALL = "/*reload*/";
/** Write back r0 if the chunk can change it. */
const SPILL_R0 = "/*spill0*/";

/**
 * The registers slot `pc` mentions (`use`) and may change (`def`), conservatively: what a chunk
 * function must load and write back.
 */
function slotRegs(code: Code, pc: number, use: Set<number>, def: Set<number>): void {
  const op = code.op[pc];
  const d = code.dst[pc];
  const s = code.src[pc];
  const cls = op & 7;
  if (op === 0x85) {
    // a helper call: r0 (its result) and r10 (reset when a callback returns) are read back;
    // an inline array lookup reads the key pointer r2
    def.add(0).add(10);
    use.add(0).add(10).add(2);
  } else if (op === 0x18) {
    def.add(d);
    use.add(d);
  } else if (cls === 4 || cls === 7) {
    def.add(d);
    use.add(d);
    if ((op & 8) !== 0) use.add(s);
  } else if (cls === 1) {
    def.add(d);
    use.add(d).add(s);
  } else if (cls === 2) {
    use.add(d);
  } else if (cls === 3) {
    use.add(d).add(s);
    if ((op & 0xe0) === 0xc0) {
      // atomics: fetch writes src, cmpxchg r0, load_acquire dst
      use.add(0);
      def.add(d).add(s).add(0);
    }
  } else {
    use.add(d);
    if ((op & 8) !== 0) use.add(s);
  }
}

/** A call of an int64.ts function on register d: d goes through L/H, the operand by value. */
function viaArrays(d: number, call: string): string {
  return `${spill([d])}${call}${reload([d])}`;
}

/** A 64-bit shift by a known count (int64.ts's lsh64/rsh64/arsh64, specialised). */
function shiftByConstant(op: number, d: number, n: number): string {
  const l = `l${d}`;
  const h = `h${d}`;
  if (n === 0) return "";
  if (op === 0x67) {
    return n < 32 ? `${h}=(${h}<<${n})|(${l}>>>${32 - n});${l}=${l}<<${n};` : `${h}=${l}<<${n - 32};${l}=0;`;
  }
  if (op === 0x77) {
    return n < 32
      ? `${l}=(${l}>>>${n})|(${h}<<${32 - n});${h}=(${h}>>>${n})|0;`
      : `${l}=(${h}>>>${n - 32})|0;${h}=0;`;
  }
  return n < 32
    ? `${l}=(${l}>>>${n})|(${h}<<${32 - n});${h}=${h}>>${n};`
    : `${l}=${h}>>${n - 32};${h}=${h}>>31;`;
}

/** JS source of one compiled, non-jump instruction at `pc`. Every local stays an int32. */
function emitInsn(code: Code, pc: number): string {
  const op = code.op[pc];
  const d = code.dst[pc];
  const s = code.src[pc];
  const off = code.off[pc];
  const b = code.imm[pc];
  const bh = b >> 31;
  const D = `l${d}`;
  const DH = `h${d}`;
  // the operand: a register's halves or the sign-extended immediate
  const isReg = (op & 8) !== 0;
  const SL = isReg ? `l${s}` : `(${b})`;
  const SH = isReg ? `h${s}` : `(${bh})`;
  const U = isReg ? `(l${s}>>>0)` : `${b >>> 0}`;
  switch (op) {
    case 0x18:
      return `${D}=${b};${DH}=${code.imm[pc + 1]};`;
    case 0x07:
    case 0x0f:
      return `{const s=(${D}>>>0)+${U};const bh=${SH};${D}=s|0;${DH}=(${DH}+bh+(s>4294967295?1:0))|0;}`;
    case 0x17:
    case 0x1f:
      return `{const s=(${D}>>>0)-${U};const bh=${SH};${D}=s|0;${DH}=(${DH}-bh-(s<0?1:0))|0;}`;
    case 0x27:
    case 0x2f:
      return viaArrays(d, `mul64(L,H,${d},${SL},${SH});`);
    case 0x37:
    case 0x3f:
      return viaArrays(d, `${off === 1 ? "sdiv64" : "udiv64"}(L,H,${d},${SL},${SH});`);
    case 0x97:
    case 0x9f:
      return viaArrays(d, `${off === 1 ? "smod64" : "umod64"}(L,H,${d},${SL},${SH});`);
    case 0x47:
    case 0x4f:
      return `${D}|=${SL};${DH}|=${SH};`;
    case 0x57:
    case 0x5f:
      return `${D}&=${SL};${DH}&=${SH};`;
    case 0xa7:
    case 0xaf:
      return `${D}^=${SL};${DH}^=${SH};`;
    case 0x67:
    case 0x77:
    case 0xc7:
      return shiftByConstant(op, d, b & 63);
    case 0x6f:
      return viaArrays(d, `lsh64(L,H,${d},${SL});`);
    case 0x7f:
      return viaArrays(d, `rsh64(L,H,${d},${SL});`);
    case 0xcf:
      return viaArrays(d, `arsh64(L,H,${d},${SL});`);
    case 0x87:
      return `{const lo=${D};${D}=(-lo)|0;${DH}=(~${DH}+(lo===0?1:0))|0;}`;
    case 0xb7:
      return `${D}=${b};${DH}=${bh};`;
    case 0xbf:
      if (off === 8 || off === 16 || off === 32) {
        const x = off === 8 ? `(l${s}<<24)>>24` : off === 16 ? `(l${s}<<16)>>16` : `l${s}`;
        return `{const x=${x};${D}=x;${DH}=x>>31;}`;
      }
      return `${D}=l${s};${DH}=h${s};`;
    case 0xd7:
      return viaArrays(d, `bswap(L,H,${d},${b});`);
    // ALU32
    case 0x04:
    case 0x0c:
      return `${D}=(${D}+${SL})|0;${DH}=0;`;
    case 0x14:
    case 0x1c:
      return `${D}=(${D}-${SL})|0;${DH}=0;`;
    case 0x24:
    case 0x2c:
      return `${D}=Math.imul(${D},${SL});${DH}=0;`;
    case 0x34:
    case 0x3c:
      return viaArrays(d, `div32(L,H,${d},${SL},${off === 1});`);
    case 0x94:
    case 0x9c:
      return viaArrays(d, `mod32(L,H,${d},${SL},${off === 1});`);
    case 0x44:
    case 0x4c:
      return `${D}|=${SL};${DH}=0;`;
    case 0x54:
    case 0x5c:
      return `${D}&=${SL};${DH}=0;`;
    case 0xa4:
    case 0xac:
      return `${D}^=${SL};${DH}=0;`;
    case 0x64:
    case 0x6c:
      return `${D}<<=${SL};${DH}=0;`;
    case 0x74:
    case 0x7c:
      return `${D}=(${D}>>>${SL})|0;${DH}=0;`;
    case 0xc4:
    case 0xcc:
      return `${D}>>=${SL};${DH}=0;`;
    case 0x84:
      return `${D}=(-${D})|0;${DH}=0;`;
    case 0xb4:
      return `${D}=${b};${DH}=0;`;
    case 0xbc: {
      const x = off === 8 ? `(l${s}<<24)>>24` : off === 16 ? `(l${s}<<16)>>16` : `l${s}`;
      return `${D}=${x};${DH}=0;`;
    }
    case 0xd4:
      return viaArrays(d, `truncate(L,H,${d},${b});`);
    case 0xdc:
      return viaArrays(d, `bswap(L,H,${d},${b});`);
  }
  return emitMemory(code, pc);
}

/**
 * The address of register r + off, as the interpreter computes it, in int32 arithmetic only
 * (V8 compares mixed signed/unsigned values as doubles): `lo` is the low half as a signed
 * int32 (the unsigned one is lo>>>0), `hi` the high half with the carry or borrow. The inline
 * bounds check `lo >= g.start && lo <= g.end - size` then holds only for lo in [0, 2^31): an
 * access above 2^31 in a huge region takes the general path, which is exact.
 */
function address(r: number, off: number): string {
  // the carry wraps the high half as an int32 (every use of hi is modulo 2^32): a plain
  // h+1 could leave int32 range, and V8 would then compare hi with the cached ch as doubles
  const hi =
    off > 0
      ? `(lo>>>0)<(l${r}>>>0)?(h${r}+1)|0:h${r}`
      : off < 0
        ? `(lo>>>0)>(l${r}>>>0)?(h${r}-1)|0:h${r}`
        : `h${r}`;
  return `const lo=(l${r}+(${off}))|0;const hi=${hi};`;
}

/**
 * The region of an access through register r: the last one looked up is kept in locals (its high
 * half and the region), one pair for r10 (the stack) and one for the other registers, since
 * consecutive accesses mostly hit the same region (a packet parsed field by field, the stack).
 * Regions are only ever appended to Memory.regions, so a cached entry never goes stale.
 */
const regionOf = (r: number): string => {
  const [h, g] = r === 10 ? ["sh", "sg"] : ["ch", "cg"];
  return `const g=hi===${h}?${g}:(${h}=hi,${g}=regions[(hi-${REGION_HI_BASE})>>>0]);`;
};

/** The inline check of an access of `size` bytes (see address()). */
const inBounds = (size: number): string => `g!==undefined&&lo>=g.start&&lo<=g.end-${size}&&g.hooks===null`;

const GET: Record<number, string> = { 1: "getUint8(lo)", 2: "getUint16(lo,true)", 4: "getInt32(lo,true)" };
const SIZE: Record<number, number> = { 0: 4, 8: 2, 16: 1, 24: 8 };

function emitMemory(code: Code, pc: number): string {
  const op = code.op[pc];
  const d = code.dst[pc];
  const s = code.src[pc];
  const off = code.off[pc];
  const b = code.imm[pc];
  const size = SIZE[op & 0x18];
  const cls = op & 7;
  // the slot a fault is attributed to (the catch reads p): set only on the paths that can
  // throw (the general ones and hooks); the inline fast paths are checked and cannot
  const at = `p=${pc};`;
  if (cls === 1) {
    const slow = `${at}loadInto(mem,hi,lo>>>0,${size},${op >= 0x80},L,H,${d});${reload([d])}`;
    if (op >= 0x80) return `{${address(s, off)}${slow}}`;
    const fast =
      size === 8
        ? `l${d}=g.view.getInt32(lo,true);h${d}=g.view.getInt32(lo+4,true);`
        : `l${d}=g.view.${GET[size]};h${d}=0;`;
    // a context field (a region with hooks): a declared packet pointer (4-byte loads) inline,
    // else its load hook straight away, and a pointer it answers as a number split inline; the
    // rest exactly as loadInto does it
    const hook =
      `const v=g.hooks.load===undefined?undefined:g.hooks.load(lo,${size});` +
      `if(typeof v==="number"&&Number.isSafeInteger(v)){l${d}=v|0;h${d}=Math.floor(v*2.3283064365386963e-10)|0;}` +
      `else{if(v===undefined)bytesInto(g,lo,${size},false,L,H,${d});else hookValueInto(g,v,L,H,${d});${reload([d])}}`;
    const pointer =
      size === 4
        ? // memory.ts pointerField and pointerLo written out (calls through the factory's
          // bindings are not inlined), the first three fields without a loop (xdp_md and
          // __sk_buff declare three; a loop here costs ~3 ns per run of the XDP parser)
          `const P=g.hooks.pointers;const f=P===undefined?undefined:P.length>0&&P[0].offset===lo?P[0]:P.length>1&&P[1].offset===lo?P[1]:P.length>2&&P[2].offset===lo?P[2]:P.length>3?pointerField(g.hooks,lo):undefined;` +
          `if(f!==undefined){const q=f.region;const e=f.edge;l${d}=(e===${PTR_DATA}?q.dataStart:e===${PTR_END}?q.end:q.start)|0;h${d}=q.hi;}else{${at}${hook}}`
        : `${at}${hook}`;
    const hooked = `else if(g!==undefined&&g.hooks!==null&&lo>=g.start&&lo<=g.end-${size}){${pointer}}`;
    return `{${address(s, off)}` + regionOf(s) + `if(${inBounds(size)}){${fast}}${hooked}else{${slow}}}`;
  }
  if (cls === 3 && (op & 0xe0) === 0xc0) {
    // atomics read and write registers (src, r0) through the arrays
    const slow = `${at}${SPILL_ALL}atomic(mem,L,H,${size},${d},${s},${off},${b});${RELOAD_ALL}`;
    const inline = atomicInline(size, s, b);
    if (inline === undefined) return slow;
    return (
      `{${address(d, off)}` +
      regionOf(d) +
      `if(${inBounds(size)}&&g.writable){${inline}if(lo<g.low)g.low=lo;}else{${slow}}}`
    );
  }
  // ST (imm) or STX (register)
  const vlo = cls === 2 ? `(${b})` : `l${s}`;
  const vhi = cls === 2 ? `(${b >> 31})` : `h${s}`;
  const fast =
    (size === 8
      ? `g.view.setInt32(lo,${vlo},true);g.view.setInt32(lo+4,${vhi},true);`
      : size === 1
        ? `g.view.setUint8(lo,${vlo}&255);`
        : size === 2
          ? `g.view.setUint16(lo,${vlo}&65535,true);`
          : `g.view.setInt32(lo,${vlo},true);`) + "if(lo<g.low)g.low=lo;";
  return (
    `{${address(d, off)}` +
    regionOf(d) +
    `if(${inBounds(size)}&&g.writable){${fast}}else{${at}storeHalves(mem,hi,lo>>>0,${size},${vlo},${vhi});}}`
  );
}

/**
 * The arithmetic atomics (add/or/and/xor, with or without fetch) of 4 or 8 bytes on a plain
 * writable region, as atomic.ts computes them; undefined for the rest (xchg, cmpxchg,
 * load_acquire, store_release, other sizes), which always go through atomic().
 */
function atomicInline(size: number, s: number, imm: number): string | undefined {
  if (size !== 4 && size !== 8) return undefined;
  const fetch = (imm & 1) !== 0;
  const sl = `l${s}`;
  const sh = `h${s}`;
  let lo: string;
  let hi: string;
  switch (imm & ~1) {
    case 0x00:
      return (
        "const v=g.view;const o=v.getInt32(lo,true);" +
        (size === 8 ? "const oh=v.getInt32(lo+4,true);" : "") +
        `const x=(o>>>0)+(${sl}>>>0);v.setInt32(lo,x|0,true);` +
        (size === 8 ? `v.setInt32(lo+4,(oh+${sh}+(x>4294967295?1:0))|0,true);` : "") +
        (fetch ? `${sl}=o;${sh}=${size === 8 ? "oh" : "0"};` : "")
      );
    case 0x40:
      lo = `o|${sl}`;
      hi = `oh|${sh}`;
      break;
    case 0x50:
      lo = `o&${sl}`;
      hi = `oh&${sh}`;
      break;
    case 0xa0:
      lo = `o^${sl}`;
      hi = `oh^${sh}`;
      break;
    default:
      return undefined;
  }
  return (
    "const v=g.view;const o=v.getInt32(lo,true);" +
    (size === 8 ? "const oh=v.getInt32(lo+4,true);" : "") +
    `v.setInt32(lo,${lo},true);` +
    (size === 8 ? `v.setInt32(lo+4,${hi},true);` : "") +
    (fetch ? `${sl}=o;${sh}=${size === 8 ? "oh" : "0"};` : "")
  );
}

/** The condition of a conditional jump at `pc`, or undefined for an unconditional one. */
function condition(code: Code, pc: number): string | undefined {
  const op = code.op[pc];
  if (op === 0x05 || op === 0x06) return undefined;
  const d = code.dst[pc];
  const s = code.src[pc];
  const b = code.imm[pc];
  const isReg = (op & 8) !== 0;
  const dl = `l${d}`;
  const sl = isReg ? `l${s}` : `(${b})`;
  if ((op & 7) === 6) {
    const du = `(l${d}>>>0)`;
    const su = isReg ? `(l${s}>>>0)` : `${b >>> 0}`;
    switch (op & 0xf0) {
      case 0x10:
        return `${dl}===${sl}`;
      case 0x20:
        return `${du}>${su}`;
      case 0x30:
        return `${du}>=${su}`;
      case 0x40:
        return `(${dl}&${sl})!==0`;
      case 0x50:
        return `${dl}!==${sl}`;
      case 0x60:
        return `${dl}>${sl}`;
      case 0x70:
        return `${dl}>=${sl}`;
      case 0xa0:
        return `${du}<${su}`;
      case 0xb0:
        return `${du}<=${su}`;
      case 0xc0:
        return `${dl}<${sl}`;
      case 0xd0:
        return `${dl}<=${sl}`;
    }
    throw new Error(`jit: no condition for 0x${op.toString(16)}`);
  }
  const dh = `h${d}`;
  const sh = isReg ? `h${s}` : `(${b >> 31})`;
  switch (op & 0xf0) {
    case 0x10:
      return `${dl}===${sl}&&${dh}===${sh}`;
    case 0x20:
      return `ltU(${sl},${sh},${dl},${dh})`;
    case 0x30:
      return `!ltU(${dl},${dh},${sl},${sh})`;
    case 0x40:
      return `(${dl}&${sl})!==0||(${dh}&${sh})!==0`;
    case 0x50:
      return `${dl}!==${sl}||${dh}!==${sh}`;
    case 0x60:
      return `ltS(${sl},${sh},${dl},${dh})`;
    case 0x70:
      return `!ltS(${dl},${dh},${sl},${sh})`;
    case 0xa0:
      return `ltU(${dl},${dh},${sl},${sh})`;
    case 0xb0:
      return `!ltU(${sl},${sh},${dl},${dh})`;
    case 0xc0:
      return `ltS(${dl},${dh},${sl},${sh})`;
    case 0xd0:
      return `!ltS(${sl},${sh},${dl},${dh})`;
  }
  throw new Error(`jit: no condition for 0x${op.toString(16)}`);
}

/** Translated only when its registers are r0..r10 (anything else is the interpreter's to fault on). */
function translatable(code: Code, pc: number): boolean {
  if (isHelperCall(code, pc) || code.op[pc] === 0x95) return true;
  return compiled(code.op[pc]) && code.dst[pc] < NREGS && code.src[pc] < NREGS;
}

/** A call of a helper (src 0): compiled as a call into the machine that ends its block. */
function isHelperCall(code: Code, pc: number): boolean {
  return code.op[pc] === 0x85 && code.src[pc] === 0;
}

/**
 * A helper call through the machine (the interpreter's own callHelper, so the same helper
 * table, faults and callbacks). The helper reads r1-r5 and callbacks see every register, so all
 * are written back first; afterwards only r0 (the result) and r10 (reset by a callback's
 * return, as in the interpreter) can differ from the locals. When the helper stopped the
 * program or asked for a tail call, the arrays hold the state and the interpreter takes over.
 */
function emitCall(code: Code, pc: number, inline: boolean): string {
  const call =
    `p=${pc};${SPILL_ALL}{const r=m.jitCall(${pc},${code.imm[pc]},left);` +
    `if(r<0){S[0]=~r;S[2]=2;return ${pc + 1};}left=r|0;}` +
    reload([0, 10]);
  if (!inline) return `${call}${FALL}${pc + 1}*/`;
  // an inline array lookup (inline-lookup.ts): the u32 key at r2 read when it is plain memory
  // (signed lo: see address()), NULL past the end, else the element's address (low half 0);
  // any other key pointer goes through the helper, which faults as it does
  return (
    `{const g=regions[(h2-${REGION_HI_BASE})>>>0];const lo=l2;` +
    "if(g!==undefined&&g.live&&g.hooks===null&&lo>=g.start&&lo<=g.end-4){" +
    `const i=g.view.getUint32(lo,true);l0=0;h0=i<A${pc}.maxEntries?(AH${pc}[i]||A${pc}.elemHi(i)):0;}` +
    `else{${call}}}${FALL}${pc + 1}*/`
  );
}

/**
 * The JS source of the program: a factory returning the entry function. Blocks are grouped in
 * slot order into chunk functions of bounded size (V8 does not optimize very large functions);
 * each chunk runs its own blocks and returns the next slot with JIT_STATE[2] = 1 when the
 * interpreter must execute it, or 0 when the slot belongs to another chunk, which the entry
 * function then enters.
 */
export function jitSource(
  code: Code,
  entries: readonly number[],
  arrays: ReadonlyArray<VmArrayLookup | undefined> = [],
): string {
  const lead = leaders(code, entries);
  const n = code.n;
  const chunks: { start: number; text: string }[][] = [[]];
  const uses: Set<number>[] = [new Set()];
  const defs: Set<number>[] = [new Set()];
  let size = 0;
  const chunkOf = new Int32Array(n + 1).fill(-1);
  const leave = (at: string): string => `S[0]=left;S[2]=1;${SPILL_ALL}return ${at};`;
  for (let start = 0; start < n; start++) {
    if (!lead[start]) continue;
    // one block: compiled slots until a jump, a leader or a slot the interpreter executes
    const body: string[] = [];
    const use = new Set<number>();
    const def = new Set<number>();
    let count = 0;
    let pc = start;
    let tail = "";
    let selfLoop = false;
    for (;;) {
      if (pc >= n) {
        tail = leave(String(pc));
        break;
      }
      if (pc !== start && lead[pc]) {
        // into the next block: falls through when it is the next case of the same chunk
        tail = `${FALL}${pc}*/`;
        break;
      }
      const op = code.op[pc];
      if (!translatable(code, pc)) {
        tail = leave(String(pc));
        break;
      }
      count++;
      slotRegs(code, pc, use, def);
      if (isHelperCall(code, pc)) {
        body.push(emitCall(code, pc, arrays[pc] !== undefined));
        break;
      }
      if (op === 0x95) {
        // exit, counted here: the interpreter ends the run (or returns from a frame) without
        // executing the slot again
        // at the top frame only r0 is read afterwards (run() and invoke() restore the rest)
        body.push(`S[0]=left;S[2]=3;if(top){${SPILL_R0}}else{${SPILL_ALL}}return ${pc};`);
        break;
      }
      if (isJump(op)) {
        const t = jumpTarget(code, pc);
        const c = condition(code, pc);
        // a jump back to the block's own start loops inside its case, without the switch
        const go = t === start ? `continue b${start};` : `pc=${t};continue top;`;
        if (t === start) selfLoop = true;
        body.push(c === undefined ? go : `if(${c}){${go}}`);
        if (c === undefined) break;
        pc++;
        continue;
      }
      body.push(emitInsn(code, pc));
      if (op === 0x18 && lead[pc + 1]) {
        // a jump into its second slot: that slot is a case of its own
        body.push(`pc=${pc + 2};continue top;`);
        break;
      }
      pc += op === 0x18 ? 2 : 1;
    }
    const block = `if(left<${count}){${leave(String(start))}}left-=${count};${body.join("")}`;
    const text = `case ${start}:${selfLoop ? `b${start}:for(;;){${block}break;}` : block}${tail}`;
    if (size > 0 && size + text.length > MAX_CHUNK_SOURCE) {
      chunks.push([]);
      uses.push(new Set());
      defs.push(new Set());
      size = 0;
    }
    chunks[chunks.length - 1].push({ start, text });
    for (const r of use) uses[uses.length - 1].add(r);
    for (const r of def) defs[defs.length - 1].add(r);
    size += text.length;
    chunkOf[start] = chunks.length - 1;
  }
  const chunkFn = (i: number, fresh: boolean): string => {
    const cases = chunks[i];
    const loaded = [...uses[i], ...defs[i]].filter((r, k, a) => a.indexOf(r) === k).sort((a, b) => a - b);
    const written = [...defs[i]].sort((a, b) => a - b);
    const locals = loaded.length
      ? `let ${loaded.map((r) => `l${r}=${fresh ? FRESH_LO[r] : `L[${r}]`},h${r}=${fresh ? FRESH_HI[r] : `H[${r}]`}`).join(",")};`
      : "";
    const body = cases.map(({ text }, k) => {
      const next = cases[k + 1]?.start;
      const fall = `${FALL}${next}*/`;
      // the fall-through marker is only ever at the end of a case's text
      return text.endsWith(fall) ? text.slice(0, -fall.length) : text;
    });
    const src =
      `function ${fresh ? "f" : "c"}${i}(pc,left,L,H,m,top){left|=0;let p=pc,ch=0,cg=undefined,sh=0,sg=undefined;${locals}try{top:for(;;){switch(pc){` +
      body.join("\n").replace(/\/\*fall:(\d+)\*\//g, "pc=$1;continue top;") +
      `\ndefault:S[0]=left;S[2]=0;${SPILL_ALL}return pc;}}}catch(e){S[0]=left;S[1]=p;${SPILL_ALL}throw e;}}`;
    // a fresh entry leaves L/H stale: when it leaves, every register goes there (the ones the
    // chunk never mentions still have their starting values)
    const all = Array.from({ length: NREGS }, (_, r) => r);
    const spillAll = fresh
      ? all
          .map((r) =>
            loaded.includes(r)
              ? `L[${r}]=l${r};H[${r}]=h${r};`
              : `L[${r}]=${FRESH_LO[r]};H[${r}]=${FRESH_HI[r]};`,
          )
          .join("")
      : spill(written);
    const spillR0 = fresh
      ? loaded.includes(0)
        ? spill([0])
        : "L[0]=0;H[0]=0;"
      : spill(written.filter((r) => r === 0));
    return src
      .replaceAll(SPILL_ALL, spillAll)
      .replaceAll(SPILL_R0, spillR0)
      .replaceAll(RELOAD_ALL, reload(loaded));
  };
  const fns = chunks.map((_, i) => chunkFn(i, false));
  const entry = entries[0] ?? 0;
  const entryChunk = entry >= 0 && entry < n ? chunkOf[entry] : -1;
  // the inlined arrays and their address tables, as constants of the factory
  let consts = "";
  arrays.forEach((a, pc) => {
    if (a !== undefined) consts += `const A${pc}=ARR[${pc}],AH${pc}=A${pc}.elemHis;`;
  });
  const freshName = entryChunk < 0 ? "null" : "fresh";
  if (chunks.length === 1) {
    // one chunk: it is the entry (slots outside it go back to the interpreter either way)
    const f0 = entryChunk < 0 ? "" : chunkFn(0, true);
    return `${PRELUDE}${consts}${fns[0]}\n${f0}\nreturn {run:c0,fresh:${entryChunk < 0 ? "null" : "f0"}};`;
  }
  // the fresh entry: the entry's chunk with fresh locals, then on as `run` (L/H are whole then);
  // an entry outside the compiled code starts from L/H, which the caller must then have set
  const fresh =
    entryChunk < 0
      ? ""
      : `${chunkFn(entryChunk, true)}\nfunction fresh(pc,left,L,H,m,top){pc=f${entryChunk}(pc,left,L,H,m,top);` +
        "if(S[2]!==0)return pc;return run(pc,S[0]|0,L,H,m,top);}";
  return (
    `${PRELUDE}${consts}${fns.join("\n")}\nconst CH=[${chunks.map((_, i) => `c${i}`).join(",")}];` +
    `const OF=new Int32Array([${Array.from(chunkOf).join(",")}]);` +
    "function run(pc,left,L,H,m,top){for(;;){const c=pc>=0&&pc<OF.length?OF[pc]:-1;" +
    "if(c<0){S[0]=left;S[2]=0;return pc;}pc=CH[c](pc,left,L,H,m,top);left=S[0]|0;if(S[2]!==0)return pc;}}" +
    `${fresh}\nreturn {run,fresh:${freshName}};`
  );
}

/** A fresh entry's starting value of each register's halves (r11-r15 are never compiled). */
const FRESH_LO: readonly string[] = [
  "0",
  "m.a1l",
  "m.a2l",
  "m.a3l",
  "m.a4l",
  "m.a5l",
  "0",
  "0",
  "0",
  "0",
  String(STACK_SIZE),
];
const FRESH_HI: readonly string[] = [
  "0",
  "m.a1h",
  "m.a2h",
  "m.a3h",
  "m.a4h",
  "m.a5h",
  "0",
  "0",
  "0",
  "0",
  "m.stackHi",
];

const PRELUDE =
  "const {arsh64,bswap,div32,lsh64,ltS,ltU,mod32,mul64,rsh64,sdiv64,smod64,truncate,udiv64,umod64,loadInto,storeHalves,atomic,hookValueInto,bytesInto,pointerField}=R;";

/** Compile a program's code over a memory; `entries` are the slots runs start at. */
export function compileJit(
  code: Code,
  memory: Memory,
  entries: readonly number[],
  arrays: ReadonlyArray<VmArrayLookup | undefined> = [],
): JitCode {
  const src = jitSource(code, entries, arrays);
  const factory = new Function("R", "mem", "regions", "S", "ARR", src) as (
    r: typeof RUNTIME,
    mem: Memory,
    regions: Memory["regions"],
    s: Float64Array,
    arr: ReadonlyArray<VmArrayLookup | undefined>,
  ) => { run: JitFn; fresh: JitFn | null };
  const made = factory(RUNTIME, memory, memory.regions, JIT_STATE, arrays);
  return { run: made.run, fresh: made.fresh ?? undefined };
}
