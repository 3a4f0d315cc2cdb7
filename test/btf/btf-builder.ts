/**
 * A minimal BTF writer for tests: hand-made blobs (split BTF, odd headers, cycles) that clang
 * would never emit. Records are written as the uapi lays them out; nothing is validated here.
 */
export const KIND = {
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const;

export function info(kind: number, vlen = 0, kflag = false): number {
  return ((kflag ? 1 : 0) * 0x80000000 + ((kind & 0x1f) << 24) + (vlen & 0xffff)) >>> 0;
}

export class BtfBuilder {
  private readonly strs: number[] = [];
  private readonly strIndex = new Map<string, number>();
  private readonly words: number[] = [];
  /** First string offset this blob's strings start at (the base's string length for split BTF). */
  readonly strBase: number;
  /** Next type id. */
  nextId: number;

  constructor(opts: { startId?: number; strBase?: number } = {}) {
    this.nextId = opts.startId ?? 1;
    this.strBase = opts.strBase ?? 0;
    if (this.strBase === 0) this.strs.push(0);
  }

  str(s: string): number {
    if (s === "") return 0;
    const have = this.strIndex.get(s);
    if (have !== undefined) return have;
    const off = this.strBase + this.strs.length;
    for (const b of Buffer.from(s, "utf8")) this.strs.push(b);
    this.strs.push(0);
    this.strIndex.set(s, off);
    return off;
  }

  /** Append one raw record; returns its type id. */
  raw(...words: number[]): number {
    for (const w of words) this.words.push(w >>> 0);
    return this.nextId++;
  }

  int(name: string, size: number, bits = size * 8, encoding = 0): number {
    return this.raw(this.str(name), info(KIND.INT), size, (encoding << 24) | bits);
  }
  ref(kind: number, type: number, name = ""): number {
    return this.raw(this.str(name), info(kind), type);
  }
  array(type: number, indexType: number, nelems: number): number {
    return this.raw(0, info(KIND.ARRAY), 0, type, indexType, nelems);
  }
  struct(
    name: string,
    size: number,
    members: readonly { name: string; type: number; bitOffset: number; bitfieldSize?: number }[],
    union = false,
  ): number {
    const kflag = members.some((m) => (m.bitfieldSize ?? 0) > 0);
    const w = [this.str(name), info(union ? KIND.UNION : KIND.STRUCT, members.length, kflag), size];
    for (const m of members) {
      w.push(this.str(m.name), m.type, kflag ? ((m.bitfieldSize ?? 0) << 24) | m.bitOffset : m.bitOffset);
    }
    return this.raw(...w);
  }
  enumType(name: string, size: number, values: readonly [string, number][], signed = false): number {
    const w = [this.str(name), info(KIND.ENUM, values.length, signed), size];
    for (const [n, v] of values) w.push(this.str(n), v >>> 0);
    return this.raw(...w);
  }
  funcProto(ret: number, params: readonly [string, number][]): number {
    const w = [0, info(KIND.FUNC_PROTO, params.length), ret];
    for (const [n, t] of params) w.push(this.str(n), t);
    return this.raw(...w);
  }

  get typeWords(): readonly number[] {
    return this.words;
  }

  /** Serialize: header (hdr_len bytes, zero-extended), types, strings. */
  bytes(opts: { littleEndian?: boolean; hdrLen?: number; gap?: number } = {}): Uint8Array {
    const le = opts.littleEndian ?? true;
    const hdrLen = opts.hdrLen ?? 24;
    const gap = opts.gap ?? 0;
    const typeLen = this.words.length * 4;
    const strLen = this.strs.length;
    const out = new Uint8Array(hdrLen + typeLen + gap + strLen);
    const v = new DataView(out.buffer);
    v.setUint16(0, 0xeb9f, le);
    out[2] = 1;
    out[3] = 0;
    v.setUint32(4, hdrLen, le);
    v.setUint32(8, 0, le);
    v.setUint32(12, typeLen, le);
    v.setUint32(16, typeLen + gap, le);
    v.setUint32(20, strLen, le);
    this.words.forEach((w, i) => {
      v.setUint32(hdrLen + i * 4, w, le);
    });
    out.set(this.strs, hdrLen + typeLen + gap);
    return out;
  }
}
