/**
 * BTF to C header text, matching `bpftool btf dump file X format c` (libbpf's btf_dump) byte for
 * byte. Two passes per requested type: a depth-first ordering that queues the named definitions a
 * type needs (embedding needs the full definition first; a pointer only needs a forward
 * declaration), then emission of each queued definition, which prints forward declarations for
 * types reached through pointers that are not yet defined. Anonymous structs, unions and enums are
 * printed inline where they are used. Repeated names get a `___N` suffix, counted in emission
 * order, with one namespace for struct/union/enum tags and one for typedefs and enumerators.
 */
import { BtfError } from "../../errors.js";
import type { Btf, BtfImpl } from "./btf.js";
import { alignOf, resolveSize } from "./layout.js";
import { BtfKind } from "./types.js";

const K = BtfKind;

// Ordering states (0: not ordered yet).
const ORDERING = 1;
const ORDERED = 2;
// Emission states.
const NOT_EMITTED = 0;
const EMITTING = 1;
const EMITTED = 2;

/** Deeper recursion than this is taken as a cycle that the state machine cannot break. */
const MAX_DEPTH = 3000;
/** Larger gaps (16 MiB) would print millions of padding lines: only malformed BTF has them. */
const MAX_PAD_BITS = 1 << 27;
/** Output beyond this (with nested anonymous types inlined repeatedly) means malformed BTF. */
const MIN_OUTPUT_LIMIT = 1 << 26;
/** libbpf resolves member sizes at most this many steps deep. */
const MAX_RESOLVE_DEPTH = 32;

const encoder = new TextEncoder();
const TABS = "\t".repeat(13);
function pfx(lvl: number): string {
  return lvl >= 13 ? TABS : TABS.slice(0, lvl);
}

function roundUp(x: number, y: number): number {
  return Math.ceil(x / y) * y;
}

const MISSING_BASE_TYPES: ReadonlyMap<string, string> = new Map([
  ["__Poly8_t", "unsigned char"],
  ["__Poly16_t", "unsigned short"],
  ["__Poly64_t", "unsigned long long"],
  ["__Poly128_t", "unsigned __int128"],
]);

function cycleError(id: number, what = "unsatisfiable type cycle"): never {
  throw new BtfError("BTF_TYPE_CYCLE", what, { typeId: id });
}

/** Mutable state of one dump; `out` collects the text pieces. */
class CDumper {
  readonly btf: BtfImpl;
  /** Output bytes (UTF-8): pieces are copied in at once so no string outlives its print. */
  private buf: Uint8Array;
  private len = 0;
  readonly ptrSz: number;
  /** typeString mode: original names, anonymous types shown as `struct {...}`. */
  readonly plain: boolean;
  private orderState!: Uint8Array;
  private emitState!: Uint8Array;
  private fwdEmitted!: Uint8Array;
  private nameResolved!: Uint8Array;
  private referenced!: Uint8Array;
  private cachedNames: (string | undefined)[] = [];
  private readonly typeNames = new Map<string, number>();
  private readonly identNames = new Map<string, number>();
  private readonly emitQueue: number[] = [];
  private readonly stack: number[] = [];
  private stackCnt = 0;
  private readonly outLimit: number;

  constructor(btf: BtfImpl, plain: boolean) {
    this.btf = btf;
    this.plain = plain;
    this.ptrSz = btf.pointerSize;
    this.outLimit = Math.max(MIN_OUTPUT_LIMIT, btf.words.length * 4 * 16);
    // A C header is usually smaller than the type section it comes from.
    this.buf = new Uint8Array(plain ? 256 : Math.max(1 << 16, btf.words.length * 4));
    if (!plain) {
      const n = btf.typeCount;
      this.orderState = new Uint8Array(n);
      this.emitState = new Uint8Array(n);
      this.fwdEmitted = new Uint8Array(n);
      this.nameResolved = new Uint8Array(n);
      this.referenced = new Uint8Array(n);
      this.orderState[0] = ORDERED;
      this.emitState[0] = EMITTED;
      this.markReferenced();
    }
  }

  p(s: string): void {
    const n = s.length;
    if (this.len + n * 3 > this.buf.length) this.grow(n * 3);
    const buf = this.buf;
    let at = this.len;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        // Rare: a non-ASCII name. Encode the rest of the piece properly.
        at += encoder.encodeInto(s.slice(i), buf.subarray(at)).written;
        break;
      }
      buf[at++] = c;
    }
    this.len = at;
  }

  private grow(extra: number): void {
    if (this.len + extra > this.outLimit) {
      throw new BtfError("BTF_TOO_LARGE", `C dump exceeds ${this.outLimit} bytes; the BTF is malformed`);
    }
    let size = this.buf.length * 2;
    while (size < this.len + extra) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.len));
    this.buf = grown;
  }

  /** The output so far as a string. */
  text(): string {
    return Buffer.from(this.buf.buffer, this.buf.byteOffset, this.len).toString("utf8");
  }

  /** Types used by another type; an unreferenced anonymous enum is a top-level constant list. */
  private markReferenced(): void {
    const b = this.btf;
    const r = this.referenced;
    for (let id = 1; id < b.typeCount; id++) {
      const kind = b.kindOf(id);
      const vlen = b.vlenOf(id);
      switch (kind) {
        case K.VOLATILE:
        case K.CONST:
        case K.RESTRICT:
        case K.PTR:
        case K.TYPEDEF:
        case K.FUNC:
        case K.VAR:
        case K.DECL_TAG:
        case K.TYPE_TAG:
          r[b.word(id, 2)] = 1;
          break;
        case K.ARRAY:
          r[b.word(id, 4)] = 1;
          r[b.word(id, 3)] = 1;
          break;
        case K.STRUCT:
        case K.UNION:
          for (let j = 0; j < vlen; j++) r[b.word(id, 3 + j * 3 + 1)] = 1;
          break;
        case K.FUNC_PROTO:
          for (let j = 0; j < vlen; j++) r[b.word(id, 3 + j * 2 + 1)] = 1;
          break;
        case K.DATASEC:
          for (let j = 0; j < vlen; j++) r[b.word(id, 3 + j * 3)] = 1;
          break;
        default:
          break;
      }
    }
  }

  reset(): void {
    this.len = 0;
    this.stackCnt = 0;
  }

  dumpType(id: number): void {
    const q = this.emitQueue;
    q.length = 0;
    this.orderType(id, false, 0);
    for (let i = 0; i < q.length; i++) this.emitType(q[i], 0, 0);
  }

  // ---- pass 1: ordering ----

  /** 1 if `id` is part of a strong (must be fully defined) link, 0 for a weak one. */
  private orderType(id: number, throughPtr: boolean, depth: number): number {
    if (depth > MAX_DEPTH) cycleError(id);
    const st = this.orderState[id];
    if (st === ORDERED) return 1;
    const b = this.btf;
    const kind = b.kindOf(id);
    const named = b.nameOffOf(id) !== 0;
    if (st === ORDERING) {
      if ((kind === K.STRUCT || kind === K.UNION) && throughPtr && named) return 0;
      cycleError(id);
    }
    switch (kind) {
      case K.INT:
      case K.FLOAT:
        this.orderState[id] = ORDERED;
        return 0;
      case K.PTR: {
        const r = this.orderType(b.word(id, 2), true, depth + 1);
        this.orderState[id] = ORDERED;
        return r;
      }
      case K.ARRAY:
        return this.orderType(b.word(id, 3), false, depth + 1);
      case K.STRUCT:
      case K.UNION: {
        if (throughPtr && named) return 0;
        this.orderState[id] = ORDERING;
        const vlen = b.vlenOf(id);
        for (let j = 0; j < vlen; j++) this.orderType(b.word(id, 3 + j * 3 + 1), false, depth + 1);
        if (named) this.emitQueue.push(id);
        this.orderState[id] = ORDERED;
        return 1;
      }
      case K.ENUM:
      case K.ENUM64:
      case K.FWD:
        if (named || !this.referenced[id]) this.emitQueue.push(id);
        this.orderState[id] = ORDERED;
        return 1;
      case K.TYPEDEF: {
        const strong = this.orderType(b.word(id, 2), throughPtr, depth + 1);
        if (throughPtr && !strong) return 0;
        this.emitQueue.push(id);
        this.orderState[id] = ORDERED;
        return 1;
      }
      case K.VOLATILE:
      case K.CONST:
      case K.RESTRICT:
      case K.TYPE_TAG:
        return this.orderType(b.word(id, 2), throughPtr, depth + 1);
      case K.FUNC_PROTO: {
        let strong = this.orderType(b.word(id, 2), throughPtr, depth + 1) > 0;
        const vlen = b.vlenOf(id);
        for (let j = 0; j < vlen; j++) {
          if (this.orderType(b.word(id, 3 + j * 2 + 1), throughPtr, depth + 1) > 0) strong = true;
        }
        return strong ? 1 : 0;
      }
      default:
        // FUNC, VAR, DATASEC, DECL_TAG: nothing to define.
        this.orderState[id] = ORDERED;
        return 0;
    }
  }

  // ---- pass 2: emission ----

  private isBlacklisted(id: number): boolean {
    const off = this.btf.nameOffOf(id);
    return off !== 0 && this.btf.stringAt(off) === "__builtin_va_list";
  }

  private emitType(id: number, contId: number, depth: number): void {
    if (depth > MAX_DEPTH) cycleError(id);
    const es = this.emitState[id];
    if (es === EMITTED) return;
    const b = this.btf;
    const kind = b.kindOf(id);
    const topLevel = contId === 0;
    if (es === EMITTING) {
      if (this.fwdEmitted[id]) return;
      if (kind === K.STRUCT || kind === K.UNION) {
        // A member referring back to the struct being defined needs no forward declaration.
        if (id === contId) return;
        if (b.nameOffOf(id) === 0) return; // anonymous struct/union loop (libbpf warns)
        this.emitStructFwd(id);
        this.p(";\n\n");
        this.fwdEmitted[id] = 1;
      } else if (kind === K.TYPEDEF) {
        // Emitted early so pointers to it work; it cannot be embedded before its target is.
        if (!this.isBlacklisted(id)) {
          this.emitTypedefDef(id, 0);
          this.p(";\n\n");
        }
        this.fwdEmitted[id] = 1;
      }
      return;
    }
    switch (kind) {
      case K.INT: {
        const name = this.typeName(id);
        const alias = MISSING_BASE_TYPES.get(name);
        if (alias !== undefined) this.p(`typedef ${alias} ${name};\n\n`);
        this.emitState[id] = EMITTED;
        break;
      }
      case K.ENUM:
      case K.ENUM64:
        if (topLevel) {
          this.emitEnumDef(id, 0);
          this.p(";\n\n");
        }
        this.emitState[id] = EMITTED;
        break;
      case K.PTR:
      case K.VOLATILE:
      case K.CONST:
      case K.RESTRICT:
      case K.TYPE_TAG:
        this.emitType(b.word(id, 2), contId, depth + 1);
        break;
      case K.ARRAY:
        this.emitType(b.word(id, 3), contId, depth + 1);
        break;
      case K.FWD:
        this.emitFwdDef(id);
        this.p(";\n\n");
        this.emitState[id] = EMITTED;
        break;
      case K.TYPEDEF:
        this.emitState[id] = EMITTING;
        this.emitType(b.word(id, 2), id, depth + 1);
        if (!this.fwdEmitted[id] && !this.isBlacklisted(id)) {
          this.emitTypedefDef(id, 0);
          this.p(";\n\n");
        }
        this.emitState[id] = EMITTED;
        break;
      case K.STRUCT:
      case K.UNION: {
        this.emitState[id] = EMITTING;
        const named = b.nameOffOf(id) !== 0;
        if (topLevel || !named) {
          // Its members will be spelled out, so their types need declarations first.
          const vlen = b.vlenOf(id);
          const newCont = named ? id : contId;
          for (let j = 0; j < vlen; j++) this.emitType(b.word(id, 3 + j * 3 + 1), newCont, depth + 1);
        } else if (!this.fwdEmitted[id] && id !== contId) {
          this.emitStructFwd(id);
          this.p(";\n\n");
          this.fwdEmitted[id] = 1;
        }
        if (topLevel) {
          this.emitStructDef(id, 0);
          this.p(";\n\n");
          this.emitState[id] = EMITTED;
        } else {
          this.emitState[id] = NOT_EMITTED;
        }
        break;
      }
      case K.FUNC_PROTO: {
        this.emitType(b.word(id, 2), contId, depth + 1);
        const vlen = b.vlenOf(id);
        for (let j = 0; j < vlen; j++) this.emitType(b.word(id, 3 + j * 2 + 1), contId, depth + 1);
        break;
      }
      default:
        break;
    }
  }

  // ---- names ----

  private nameDups(map: Map<string, number>, name: string): number {
    const n = (map.get(name) ?? 0) + 1;
    map.set(name, n);
    return n;
  }

  private resolveName(id: number, map: Map<string, number>): string {
    const b = this.btf;
    const off = b.nameOffOf(id);
    if (off === 0) return "";
    const orig = b.stringAt(off);
    if (this.plain) return orig;
    if (this.nameResolved[id]) return this.cachedNames[id] ?? orig;
    const kind = b.kindOf(id);
    this.nameResolved[id] = 1;
    if (kind === K.FWD || (kind === K.ENUM && b.vlenOf(id) === 0)) return orig;
    const dups = this.nameDups(map, orig);
    if (dups > 1) {
      // libbpf formats into a 256-byte buffer.
      const name = `${orig}___${dups}`.slice(0, 255);
      this.cachedNames[id] = name;
      return name;
    }
    return orig;
  }

  private typeName(id: number): string {
    return this.resolveName(id, this.typeNames);
  }

  private identName(id: number): string {
    return this.resolveName(id, this.identNames);
  }

  // ---- definitions ----

  private emitStructFwd(id: number): void {
    const b = this.btf;
    const kw = b.kindOf(id) === K.STRUCT ? "struct" : "union";
    if (b.nameOffOf(id) === 0) this.p(this.plain ? `${kw} {...}` : kw);
    else this.p(`${kw} ${this.typeName(id)}`);
  }

  private isStructPacked(id: number): boolean {
    const b = this.btf;
    const vlen = b.vlenOf(id);
    const kflag = b.kindFlagOf(id);
    let maxAlign = 1;
    for (let i = 0; i < vlen; i++) {
      const mtype = b.word(id, 3 + i * 3 + 1);
      const moff = b.word(id, 3 + i * 3 + 2);
      const align = alignOf(b, mtype);
      const bitSize = kflag ? moff >>> 24 : 0;
      if (align && bitSize === 0 && moff % (8 * align) !== 0) return true;
      if (align > maxAlign) maxAlign = align;
    }
    return b.word(id, 2) % maxAlign !== 0;
  }

  private emitBitPadding(
    curOff: number,
    nextOff: number,
    nextAlign: number,
    inBitfield: boolean,
    lvl: number,
  ) {
    if (curOff >= nextOff) return;
    if (nextOff - curOff > MAX_PAD_BITS) {
      throw new BtfError("BTF_TOO_LARGE", `padding gap of ${nextOff - curOff} bits is too large to print`);
    }
    const pads: readonly (readonly [string, number])[] = [
      ["long", this.ptrSz * 8],
      ["int", 32],
      ["short", 16],
      ["char", 8],
    ];
    let padType = "";
    let padBits = 0;
    let newOff = 0;
    for (let i = 0; i < pads.length; i++) {
      padType = pads[i][0];
      padBits = pads[i][1];
      newOff = roundUp(curOff, padBits);
      if (newOff <= nextOff) break;
    }
    if (newOff > curOff && newOff <= nextOff) {
      if (
        inBitfield ||
        (newOff === nextOff && roundUp(curOff, nextAlign * 8) !== newOff) ||
        (newOff !== nextOff && nextOff - newOff <= newOff - curOff)
      ) {
        this.p(`\n${pfx(lvl)}${padType}: ${inBitfield ? newOff - curOff : 0};`);
      }
      curOff = newOff;
    }
    while (curOff !== nextOff) {
      const bits = Math.min(nextOff - curOff, padBits);
      if (bits === padBits) {
        this.p(`\n${pfx(lvl)}${padType}: ${padBits};`);
        curOff += bits;
        continue;
      }
      // The remainder: the smallest padding type that covers it.
      for (let i = pads.length - 1; i >= 0; i--) {
        padType = pads[i][0];
        padBits = pads[i][1];
        if (padBits < bits) continue;
        this.p(`\n${pfx(lvl)}${padType}: ${bits};`);
        curOff += bits;
        break;
      }
    }
  }

  private emitStructDef(id: number, lvl: number): void {
    const b = this.btf;
    const isStruct = b.kindOf(id) === K.STRUCT;
    const vlen = b.vlenOf(id);
    const kflag = b.kindFlagOf(id);
    const size = b.word(id, 2);
    const align = alignOf(b, id);
    const packed = isStruct ? this.isStructPacked(id) : false;
    const named = b.nameOffOf(id) !== 0;
    this.p(`${isStruct ? "struct" : "union"}${named ? " " : ""}${this.typeName(id)} {`);
    let off = 0;
    let prevBitfield = false;
    for (let i = 0; i < vlen; i++) {
      const fname = b.stringAt(b.word(id, 3 + i * 3));
      const mtype = b.word(id, 3 + i * 3 + 1);
      const raw = b.word(id, 3 + i * 3 + 2);
      let mSz = kflag ? raw >>> 24 : 0;
      const mOff = kflag ? raw & 0xffffff : raw;
      const mAlign = packed ? 1 : alignOf(b, mtype);
      const inBitfield = prevBitfield && mSz !== 0;
      this.emitBitPadding(off, mOff, mAlign, inBitfield, lvl + 1);
      this.p(`\n${pfx(lvl + 1)}`);
      this.emitTypeDecl(mtype, fname, lvl + 1);
      if (mSz) {
        this.p(`: ${mSz}`);
        off = mOff + mSz;
        prevBitfield = true;
      } else {
        mSz = Math.max(0, resolveSize(b, mtype, MAX_RESOLVE_DEPTH));
        off = mOff + mSz * 8;
        prevBitfield = false;
      }
      this.p(";");
    }
    if (isStruct) this.emitBitPadding(off, size * 8, align, false, lvl + 1);
    if (vlen || size) this.p(`\n${pfx(lvl)}}`);
    else this.p("}");
    if (packed) this.p(" __attribute__((packed))");
  }

  private emitEnumDef(id: number, lvl: number): void {
    const b = this.btf;
    const vlen = b.vlenOf(id);
    const named = b.nameOffOf(id) !== 0;
    const is64 = b.kindOf(id) === K.ENUM64;
    const signed = b.kindFlagOf(id);
    this.p(`enum${named ? " " : ""}${this.typeName(id)}`);
    if (!vlen) return;
    this.p(" {");
    const ind = pfx(lvl + 1);
    for (let i = 0; i < vlen; i++) {
      const q = 3 + i * (is64 ? 3 : 2);
      const name = b.stringAt(b.word(id, q));
      const dups = this.plain ? 1 : this.nameDups(this.identNames, name);
      let val: string;
      if (is64) {
        const u = (BigInt(b.word(id, q + 2)) << 32n) | BigInt(b.word(id, q + 1));
        val = signed ? `${BigInt.asIntN(64, u)}LL` : `${u}ULL`;
      } else {
        const v = b.word(id, q + 1);
        val = signed ? String(v | 0) : String(v);
      }
      this.p(dups > 1 ? `\n${ind}${name}___${dups} = ${val},` : `\n${ind}${name} = ${val},`);
    }
    // No mode(byte)/mode(word) attribute for 1- and 8-byte enums: this bpftool's libbpf (the
    // Debian 6.1 kernel tree's) predates them, and matching its output is the contract.
    this.p(`\n${pfx(lvl)}}`);
  }

  private emitFwdDef(id: number): void {
    const name = this.typeName(id);
    this.p(this.btf.kindFlagOf(id) ? `union ${name}` : `struct ${name}`);
  }

  private emitTypedefDef(id: number, lvl: number): void {
    const name = this.identName(id);
    const target = this.btf.word(id, 2);
    if (target === 0 && name === "__gnuc_va_list") {
      this.p("typedef __builtin_va_list __gnuc_va_list");
      return;
    }
    this.p("typedef ");
    this.emitTypeDecl(target, name, lvl);
  }

  // ---- declarations ----

  /** Push the declarator chain of `id` down to its terminal type, then print it around `fname`. */
  emitTypeDecl(id: number, fname: string, lvl: number): void {
    const b = this.btf;
    const stackStart = this.stackCnt;
    const limit = b.typeCount + 1;
    for (let steps = 0; ; steps++) {
      if (steps > limit) {
        this.stackCnt = stackStart;
        cycleError(id, "declaration chain loops");
      }
      this.stack[this.stackCnt++] = id;
      if (id === 0) break;
      const kind = b.kindOf(id);
      if (
        kind === K.PTR ||
        kind === K.VOLATILE ||
        kind === K.CONST ||
        kind === K.RESTRICT ||
        kind === K.FUNC_PROTO ||
        kind === K.TYPE_TAG
      ) {
        id = b.word(id, 2);
      } else if (kind === K.ARRAY) {
        id = b.word(id, 3);
      } else {
        break;
      }
    }
    this.emitTypeChain(stackStart, this.stackCnt - stackStart, fname, lvl);
    this.stackCnt = stackStart;
  }

  /** Pops const/volatile/restrict off the frame top, printing them; returns the new count. */
  private emitMods(start: number, cnt: number): number {
    while (cnt) {
      const kind = this.btf.kindOf(this.stack[start + cnt - 1]);
      if (kind === K.VOLATILE) this.p("volatile ");
      else if (kind === K.CONST) this.p("const ");
      else if (kind === K.RESTRICT) this.p("restrict ");
      else return cnt;
      cnt--;
    }
    return cnt;
  }

  private dropMods(start: number, cnt: number): number {
    while (cnt) {
      const kind = this.btf.kindOf(this.stack[start + cnt - 1]);
      if (kind !== K.VOLATILE && kind !== K.CONST && kind !== K.RESTRICT && kind !== K.TYPE_TAG) return cnt;
      cnt--;
    }
    return cnt;
  }

  private emitName(name: string, lastWasPtr: boolean): void {
    if (name.length > 0 && !lastWasPtr) this.p(` ${name}`);
    else this.p(name);
  }

  /** Prints the frame stack[start .. start+cnt) (terminal type on top) around `fname`. */
  private emitTypeChain(start: number, cnt: number, fname: string, lvl: number): void {
    const b = this.btf;
    // `int ***`, not `int * * *`; true at the start for a lone pointer inside a func proto.
    let lastWasPtr = true;
    while (cnt) {
      const id = this.stack[start + --cnt];
      if (id === 0) {
        cnt = this.emitMods(start, cnt);
        this.p("void");
        lastWasPtr = false;
        continue;
      }
      const kind = b.kindOf(id);
      switch (kind) {
        case K.INT:
        case K.FLOAT:
          cnt = this.emitMods(start, cnt);
          this.p(b.nameOf(id));
          break;
        case K.STRUCT:
        case K.UNION:
          cnt = this.emitMods(start, cnt);
          if (b.nameOffOf(id) === 0 && !this.plain) this.emitStructDef(id, lvl);
          else this.emitStructFwd(id);
          break;
        case K.ENUM:
        case K.ENUM64:
          cnt = this.emitMods(start, cnt);
          if (b.nameOffOf(id) === 0) {
            if (this.plain) this.p("enum {...}");
            else this.emitEnumDef(id, lvl);
          } else {
            this.p(`enum ${this.typeName(id)}`);
          }
          break;
        case K.FWD:
          cnt = this.emitMods(start, cnt);
          this.emitFwdDef(id);
          break;
        case K.TYPEDEF:
          cnt = this.emitMods(start, cnt);
          this.p(this.identName(id));
          break;
        case K.PTR:
          this.p(lastWasPtr ? "*" : " *");
          break;
        case K.VOLATILE:
          this.p(" volatile");
          break;
        case K.CONST:
          this.p(" const");
          break;
        case K.RESTRICT:
          this.p(" restrict");
          break;
        case K.TYPE_TAG:
          cnt = this.emitMods(start, cnt);
          this.p(` __attribute__((btf_type_tag("${b.nameOf(id)}")))`);
          break;
        case K.ARRAY: {
          const nelems = b.word(id, 5);
          // const/volatile on arrays (a GCC quirk) carry no meaning; drop them.
          cnt = this.dropMods(start, cnt);
          if (cnt === 0) {
            this.emitName(fname, lastWasPtr);
            this.p(`[${nelems}]`);
            return;
          }
          const multidim = b.kindOf(this.stack[start + cnt - 1]) === K.ARRAY;
          if (fname.length > 0 && !lastWasPtr) this.p(" ");
          if (!multidim) this.p("(");
          this.emitTypeChain(start, cnt, fname, lvl);
          if (!multidim) this.p(")");
          this.p(`[${nelems}]`);
          return;
        }
        case K.FUNC_PROTO: {
          const vlen = b.vlenOf(id);
          cnt = this.dropMods(start, cnt);
          if (cnt) {
            this.p(" (");
            this.emitTypeChain(start, cnt, fname, lvl);
            this.p(")");
          } else {
            this.emitName(fname, lastWasPtr);
          }
          this.p("(");
          // No parameters (or clang's single void parameter): `(void)`, as this bpftool build prints.
          if (vlen === 0 || (vlen === 1 && b.word(id, 4) === 0)) {
            this.p("void)");
            return;
          }
          for (let i = 0; i < vlen; i++) {
            if (i > 0) this.p(", ");
            const ptype = b.word(id, 3 + i * 2 + 1);
            if (i === vlen - 1 && ptype === 0) {
              this.p("...");
              break;
            }
            this.emitTypeDecl(ptype, b.stringAt(b.word(id, 3 + i * 2)), lvl);
          }
          this.p(")");
          return;
        }
        default:
          // FUNC, VAR, DATASEC, DECL_TAG cannot appear in a declaration (libbpf warns and stops).
          return;
      }
      lastWasPtr = kind === K.PTR;
    }
    this.emitName(fname, lastWasPtr);
  }
}

const HEADER =
  "#ifndef __VMLINUX_H__\n" +
  "#define __VMLINUX_H__\n" +
  "\n" +
  "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n" +
  "#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n" +
  "#endif\n\n";

const FOOTER =
  "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n" +
  "#pragma clang attribute pop\n" +
  "#endif\n" +
  "\n" +
  "#endif /* __VMLINUX_H__ */\n";

function guardDepth<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    // A pathological but acyclic graph can still nest deeper than the JS stack.
    if (e instanceof RangeError) throw new BtfError("BTF_TOO_DEEP", "type graph nests too deeply to dump");
    throw e;
  }
}

/** The whole BTF as a C header, exactly as `bpftool btf dump file X format c` prints it. */
export function dumpBtfC(btf: Btf): string {
  const impl = btf as BtfImpl;
  return guardDepth(() => {
    const d = new CDumper(impl, false);
    d.p(HEADER);
    for (let id = 1; id < impl.typeCount; id++) d.dumpType(id);
    d.p(FOOTER);
    return d.text();
  });
}

const plainDumpers = new WeakMap<BtfImpl, CDumper>();

/** C spelling of type `id` declaring `fname` ("" for an abstract declarator), without definitions. */
export function declString(btf: BtfImpl, id: number, fname: string): string {
  // Kinds that are not C types: spell what they declare.
  const kind = btf.kindOf(id);
  if (kind === K.FUNC || kind === K.VAR) {
    fname = btf.nameOf(id);
    id = btf.word(id, 2);
  }
  if (kind === K.DATASEC) return `SEC("${btf.nameOf(id)}")`;
  if (kind === K.DECL_TAG) return `__attribute__((btf_decl_tag("${btf.nameOf(id)}")))`;
  let d = plainDumpers.get(btf);
  if (!d) {
    d = new CDumper(btf, true);
    plainDumpers.set(btf, d);
  }
  const dumper = d;
  return guardDepth(() => {
    dumper.reset();
    dumper.emitTypeDecl(id, fname, 0);
    const s = dumper.text();
    dumper.reset();
    return s;
  });
}
