/**
 * A parsed BTF blob. Types live as host-order words (see parse.ts); `typeById` builds the plain
 * object for one type on first use and caches it. Ids below `startId` belong to the base BTF.
 */
import { BtfError } from "../../errors.js";
import type { ByteOrder } from "../../isa/instruction.js";
import { declString } from "./c-dump.js";
import { alignOf, pointerSize, resolve, sizeOf } from "./layout.js";
import {
  BTF_KIND_NAMES,
  BtfKind,
  type BtfKindName,
  type BtfMember,
  type BtfType,
  type BtfVarSecinfo,
} from "./types.js";

export interface Btf {
  readonly byteOrder: ByteOrder;
  /** The base BTF of a split BTF. */
  readonly base: Btf | undefined;
  /** First type id defined by this blob (1, or the base's typeCount for split BTF). */
  readonly startId: number;
  /** Number of type ids including void (id 0) and the base's types: valid ids are 0..typeCount-1. */
  readonly typeCount: number;
  /** Length of the string section including the base's (the next string offset). */
  readonly stringsLength: number;
  /** Every type, indexed by id (index 0 is void). Built on first access. */
  readonly types: readonly BtfType[];
  typeById(id: number): BtfType;
  /** First type (lowest id) with this name, optionally of one kind. */
  findByName(name: string, kind?: BtfKindName): BtfType | undefined;
  /** All type ids with this name, ascending. */
  findAllByName(name: string, kind?: BtfKindName): readonly number[];
  /** Follow typedef/const/volatile/restrict/type_tag to the underlying type id. */
  resolve(id: number): number;
  /** Size in bytes (arrays multiplied out, pointers pointerSize); BtfError for void, fwd, func. */
  sizeOf(id: number): number;
  /**
   * Alignment in bytes by libbpf's rules (btf__align_of): integers, enums and floats align to
   * their size capped at the pointer size (so `__int128` gives 8), structs whose layout is not
   * natural must have been packed (1). Throws BtfError for types without one (void, fwd, func).
   */
  alignOf(id: number): number;
  /** The C spelling of a type, like `struct task_struct *` or `int (*)(void *)`. */
  typeString(id: number): string;
  /** The NUL-terminated string at a (global) string offset. */
  stringAt(offset: number): string;
  /** Pointer size in bytes guessed from the `long` integer types (8 when there is none). */
  readonly pointerSize: number;
  /** Kind number of a type id (0 for void). */
  kindOf(id: number): number;
}

interface BtfInit {
  readonly base: BtfImpl | undefined;
  readonly byteOrder: ByteOrder;
  readonly words: Uint32Array;
  readonly offs: Uint32Array;
  readonly strings: Uint8Array;
  readonly startId: number;
  readonly startStrOff: number;
  readonly pointerSize?: number;
}

const utf8 = new TextDecoder();

const KIND_NAMES_LOOKUP: ReadonlyMap<string, number> = new Map(
  BTF_KIND_NAMES.map((n, i) => [i === 0 ? "VOID" : n, i]),
);

export class BtfImpl implements Btf {
  readonly base: BtfImpl | undefined;
  readonly byteOrder: ByteOrder;
  /** Host-order type section words. */
  readonly words: Uint32Array;
  /** Word offset of each own type, indexed by id - startId. */
  readonly offs: Uint32Array;
  readonly startId: number;
  readonly typeCount: number;
  readonly startStrOff: number;
  readonly stringsLength: number;
  /** This blob's own string section bytes (offsets from startStrOff). */
  readonly strBytes: Uint8Array;
  private readonly strText: string;
  private readonly strAscii: boolean;
  private cache: (BtfType | undefined)[] | undefined;
  private allTypes: readonly BtfType[] | undefined;
  private nameIndex: Map<string, number[]> | undefined;
  private ptrSz = 0;
  private maxStrLen = -1;
  /** Memoized alignments (layout.ts): 0 unknown, -1 in progress, else align + 1. */
  alignCache: Int32Array | undefined;

  constructor(init: BtfInit) {
    this.base = init.base;
    this.byteOrder = init.byteOrder;
    this.words = init.words;
    this.offs = init.offs;
    this.startId = init.startId;
    this.typeCount = init.startId + init.offs.length;
    this.startStrOff = init.startStrOff;
    this.stringsLength = init.startStrOff + init.strings.length;
    this.strBytes = init.strings;
    this.ptrSz = init.pointerSize ?? 0;
    this.strText = Buffer.from(init.strings.buffer, init.strings.byteOffset, init.strings.length).toString(
      "latin1",
    );
    this.strAscii = !/[^\x00-\x7f]/.test(this.strText);
  }

  // ---- raw accessors (hot paths: dumpers and layout) ----

  /** The owning blob and word offset of a non-void type id. */
  private loc(id: number): BtfImpl {
    let b: BtfImpl = this;
    while (id < b.startId) {
      if (!b.base) throw new BtfError("BTF_BAD_TYPE_ID", `type id ${id} out of range`, { typeId: id });
      b = b.base;
    }
    if (id >= b.typeCount) {
      throw new BtfError("BTF_BAD_TYPE_ID", `type id ${id} out of range (last is ${b.typeCount - 1})`, {
        typeId: id,
      });
    }
    return b;
  }

  /** Word k of type `id`'s record (0 name_off, 1 info, 2 size/type, 3.. extra). Void reads as zeros. */
  word(id: number, k: number): number {
    if (id === 0) return 0;
    if (id >= this.startId && id < this.typeCount) return this.words[this.offs[id - this.startId] + k];
    const b = this.loc(id);
    return b.words[b.offs[id - b.startId] + k];
  }

  info(id: number): number {
    return this.word(id, 1);
  }

  kindOf(id: number): number {
    return (this.word(id, 1) >>> 24) & 0x1f;
  }

  vlenOf(id: number): number {
    return this.word(id, 1) & 0xffff;
  }

  kindFlagOf(id: number): boolean {
    return this.word(id, 1) >>> 31 === 1;
  }

  nameOffOf(id: number): number {
    return this.word(id, 0);
  }

  nameOf(id: number): string {
    return this.stringAt(this.word(id, 0));
  }

  stringAt(offset: number): string {
    if (offset < this.startStrOff) return this.base!.stringAt(offset);
    const off = offset - this.startStrOff;
    if (off >= this.strBytes.length) {
      throw new BtfError("BTF_BAD_STRING_OFFSET", `string offset ${offset} out of range`);
    }
    const end = this.strText.indexOf("\0", off);
    if (this.strAscii) return this.strText.slice(off, end);
    return utf8.decode(this.strBytes.subarray(off, end));
  }

  /** Length of the longest string (this blob's and the base's), for sizing output buffers. */
  get maxStringLength(): number {
    if (this.maxStrLen < 0) {
      let max = 0;
      const t = this.strBytes;
      for (let start = 0; start < t.length; ) {
        let end = t.indexOf(0, start);
        if (end < 0) end = t.length;
        if (end - start > max) max = end - start;
        start = end + 1;
      }
      this.maxStrLen = Math.max(max, this.base?.maxStringLength ?? 0);
    }
    return this.maxStrLen;
  }

  /** Whether every string (this blob's and the base's) is ASCII. */
  get asciiStrings(): boolean {
    return this.strAscii && (this.base?.asciiStrings ?? true);
  }

  get pointerSize(): number {
    if (this.ptrSz === 0) this.ptrSz = pointerSize(this);
    return this.ptrSz;
  }

  // ---- object view ----

  typeById(id: number): BtfType {
    if (!Number.isInteger(id) || id < 0 || id >= this.typeCount) {
      throw new BtfError("BTF_BAD_TYPE_ID", `type id ${id} out of range (last is ${this.typeCount - 1})`, {
        typeId: id,
      });
    }
    if (id !== 0 && id < this.startId) return this.base!.typeById(id);
    if (!this.cache) this.cache = new Array(this.typeCount);
    let t = this.cache[id];
    if (!t) {
      t = this.build(id);
      this.cache[id] = t;
    }
    return t;
  }

  get types(): readonly BtfType[] {
    if (!this.allTypes) {
      const all: BtfType[] = new Array(this.typeCount);
      for (let i = 0; i < this.typeCount; i++) all[i] = this.typeById(i);
      this.allTypes = all;
    }
    return this.allTypes;
  }

  private build(id: number): BtfType {
    if (id === 0) return { kind: "VOID", id: 0, name: "" };
    const w = this.words;
    const p = this.offs[id - this.startId];
    const name = this.stringAt(w[p]);
    const info = w[p + 1];
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const kflag = info >>> 31 === 1;
    const st = w[p + 2];
    switch (kind) {
      case BtfKind.INT: {
        const v = w[p + 3];
        return {
          kind: "INT",
          id,
          name,
          size: st,
          encoding: (v >>> 24) & 0x0f,
          bitsOffset: (v >>> 16) & 0xff,
          bits: v & 0xff,
        };
      }
      case BtfKind.PTR:
      case BtfKind.TYPEDEF:
      case BtfKind.VOLATILE:
      case BtfKind.CONST:
      case BtfKind.RESTRICT:
      case BtfKind.TYPE_TAG:
        return { kind: BTF_KIND_NAMES[kind] as "PTR", id, name, type: st };
      case BtfKind.ARRAY:
        return { kind: "ARRAY", id, name, type: w[p + 3], indexType: w[p + 4], nelems: w[p + 5] };
      case BtfKind.STRUCT:
      case BtfKind.UNION: {
        const members: BtfMember[] = new Array(vlen);
        for (let j = 0, q = p + 3; j < vlen; j++, q += 3) {
          const o = w[q + 2];
          members[j] = {
            name: this.stringAt(w[q]),
            type: w[q + 1],
            bitOffset: kflag ? o & 0xffffff : o,
            bitfieldSize: kflag ? o >>> 24 : 0,
          };
        }
        return {
          kind: kind === BtfKind.STRUCT ? "STRUCT" : "UNION",
          id,
          name,
          size: st,
          kindFlag: kflag,
          members,
        };
      }
      case BtfKind.ENUM: {
        const values = new Array(vlen);
        for (let j = 0, q = p + 3; j < vlen; j++, q += 2) {
          values[j] = { name: this.stringAt(w[q]), value: kflag ? w[q + 1] | 0 : w[q + 1] };
        }
        return { kind: "ENUM", id, name, size: st, signed: kflag, values };
      }
      case BtfKind.ENUM64: {
        const values = new Array(vlen);
        for (let j = 0, q = p + 3; j < vlen; j++, q += 3) {
          const u = (BigInt(w[q + 2]) << 32n) | BigInt(w[q + 1]);
          values[j] = { name: this.stringAt(w[q]), value: kflag ? BigInt.asIntN(64, u) : u };
        }
        return { kind: "ENUM64", id, name, size: st, signed: kflag, values };
      }
      case BtfKind.FWD:
        return { kind: "FWD", id, name, union: kflag };
      case BtfKind.FUNC:
        return { kind: "FUNC", id, name, type: st, linkage: vlen };
      case BtfKind.FUNC_PROTO: {
        const params = new Array(vlen);
        for (let j = 0, q = p + 3; j < vlen; j++, q += 2) {
          params[j] = { name: this.stringAt(w[q]), type: w[q + 1] };
        }
        return { kind: "FUNC_PROTO", id, name, returnType: st, params };
      }
      case BtfKind.VAR:
        return { kind: "VAR", id, name, type: st, linkage: w[p + 3] };
      case BtfKind.DATASEC: {
        const vars: BtfVarSecinfo[] = new Array(vlen);
        for (let j = 0, q = p + 3; j < vlen; j++, q += 3) {
          vars[j] = { type: w[q], offset: w[q + 1], size: w[q + 2] };
        }
        return { kind: "DATASEC", id, name, size: st, vars };
      }
      case BtfKind.FLOAT:
        return { kind: "FLOAT", id, name, size: st };
      case BtfKind.DECL_TAG:
        return { kind: "DECL_TAG", id, name, type: st, componentIdx: w[p + 3] | 0 };
      default:
        throw new BtfError("BTF_UNKNOWN_KIND", `unsupported BTF kind ${kind}`, { typeId: id });
    }
  }

  // ---- lookup ----

  /** Name -> ids of this blob's own types (the base keeps its own index). */
  private index(): Map<string, number[]> {
    if (!this.nameIndex) {
      const m = new Map<string, number[]>();
      for (let id = this.startId; id < this.typeCount; id++) {
        const off = this.word(id, 0);
        if (off === 0) continue;
        const name = this.stringAt(off);
        const list = m.get(name);
        if (list) list.push(id);
        else m.set(name, [id]);
      }
      this.nameIndex = m;
    }
    return this.nameIndex;
  }

  findAllByName(name: string, kind?: BtfKindName): readonly number[] {
    const own = this.index().get(name) ?? [];
    const fromBase = this.base ? this.base.findAllByName(name, kind) : [];
    const k = kind === undefined ? -1 : KIND_NAMES_LOOKUP.get(kind);
    const mine = k === -1 ? own : own.filter((id) => this.kindOf(id) === k);
    return fromBase.length === 0 ? mine : [...fromBase, ...mine];
  }

  findByName(name: string, kind?: BtfKindName): BtfType | undefined {
    const ids = this.findAllByName(name, kind);
    return ids.length > 0 ? this.typeById(ids[0]) : undefined;
  }

  // ---- layout ----

  resolve(id: number): number {
    this.checkId(id);
    return resolve(this, id);
  }

  sizeOf(id: number): number {
    this.checkId(id);
    return sizeOf(this, id);
  }

  alignOf(id: number): number {
    this.checkId(id);
    const a = alignOf(this, id);
    if (a <= 0) {
      throw new BtfError("BTF_NO_ALIGN", `${BTF_KIND_NAMES[this.kindOf(id)]} has no alignment`, {
        typeId: id,
      });
    }
    return a;
  }

  typeString(id: number): string {
    this.checkId(id);
    return declString(this, id, "");
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.typeCount) {
      throw new BtfError("BTF_BAD_TYPE_ID", `type id ${id} out of range (last is ${this.typeCount - 1})`, {
        typeId: id,
      });
    }
  }
}
