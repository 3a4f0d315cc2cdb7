/**
 * The plain-text listing of `bpftool btf dump file X` (format raw): one line per type, then one
 * tab-indented line per member, enumerator, parameter or section variable. For split BTF only
 * the split part's own types are listed, as bpftool does. Written as bytes (names copied from
 * the string table) because this is the hot path for a 126k-type vmlinux.
 */
import type { Btf, BtfImpl } from "./btf.js";
import { BTF_KIND_NAMES, BtfKind as K } from "./types.js";

const encoder = new TextEncoder();
function ascii(s: string): Uint8Array {
  return encoder.encode(s);
}

const KIND_PREFIX = BTF_KIND_NAMES.map((n) => ascii(`] ${n} '`));
const KIND_PAREN = BTF_KIND_NAMES.map((n) => ascii(` (${n} '`));
const INT_ENCODINGS: Record<number, Uint8Array> = {
  0: ascii("(none)"),
  1: ascii("SIGNED"),
  2: ascii("CHAR"),
  4: ascii("BOOL"),
};
const UNKN = ascii("UNKN");
const LINKAGE = [ascii("static"), ascii("global"), ascii("extern")];
const UNKNOWN_LINKAGE = ascii("(unknown)");
const ANON = ascii("(anon)");
const S = {
  size: ascii(" size="),
  bitsOffset: ascii(" bits_offset="),
  nrBits: ascii(" nr_bits="),
  encoding: ascii(" encoding="),
  typeId: ascii(" type_id="),
  indexTypeId: ascii(" index_type_id="),
  nrElems: ascii(" nr_elems="),
  vlen: ascii(" vlen="),
  memberStart: ascii("\n\t'"),
  memberTypeId: ascii("' type_id="),
  bitfieldSize: ascii(" bitfield_size="),
  signedEnc: ascii(" encoding=SIGNED size="),
  unsignedEnc: ascii(" encoding=UNSIGNED size="),
  val: ascii("' val="),
  fwdStruct: ascii(" fwd_kind=struct"),
  fwdUnion: ascii(" fwd_kind=union"),
  linkage: ascii(" linkage="),
  varLinkage: ascii(", linkage="),
  retTypeId: ascii(" ret_type_id="),
  secTypeId: ascii("\n\ttype_id="),
  offset: ascii(" offset="),
  componentIdx: ascii(" component_idx="),
  quoteParen: ascii("')"),
};
const QUOTE = 0x27;
const NL = 0x0a;
const LBRACKET = 0x5b;

/** Room for everything a record prints besides names (numbers are at most 20 bytes). */
const FIXED_PER_RECORD = 160;
const FIXED_PER_ENTRY = 100;

function grow(buf: Uint8Array, at: number, need: number): Uint8Array {
  let size = buf.length * 2;
  while (size < at + need) size *= 2;
  const out = new Uint8Array(size);
  out.set(buf.subarray(0, at));
  return out;
}

function put(buf: Uint8Array, at: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) buf[at++] = bytes[i];
  return at;
}

function putU32(buf: Uint8Array, at: number, n: number): number {
  if (n < 10) {
    buf[at] = 48 + n;
    return at + 1;
  }
  if (n < 100) {
    const q = (n * 205) >>> 11; // n / 10 for n < 1029
    buf[at] = 48 + q;
    buf[at + 1] = 48 + n - q * 10;
    return at + 2;
  }
  const digits =
    n < 1000
      ? 3
      : n < 10000
        ? 4
        : n < 100000
          ? 5
          : n < 1e6
            ? 6
            : n < 1e7
              ? 7
              : n < 1e8
                ? 8
                : n < 1e9
                  ? 9
                  : 10;
  const end = at + digits;
  let i = end;
  while (n >= 10) {
    const q = Math.floor(n / 10);
    buf[--i] = 48 + (n - q * 10);
    n = q;
  }
  buf[--i] = 48 + n;
  return end;
}

function putI32(buf: Uint8Array, at: number, word: number): number {
  const v = word | 0;
  if (v >= 0) return putU32(buf, at, v);
  buf[at] = 45; // '-'
  return putU32(buf, at + 1, -v);
}

/**
 * The dump works on a local buffer and write position, growing it before each record: every
 * record's fixed text is bounded, and names are measured before they are copied.
 */
export function dumpBtfRaw(btf: Btf): string {
  const b = btf as BtfImpl;
  const words = b.words;
  const offs = b.offs;
  const table = b.strBytes;
  const tableStart = b.startStrOff;
  let buf: Uint8Array = new Uint8Array(Math.max(1 << 16, words.length * 16));
  let at = 0;

  // Copies the name at `off` ("(anon)" for 0) into buf at `at`; returns the new position.
  const name = (off: number): number => {
    if (off === 0) {
      if (at + 8 > buf.length) buf = grow(buf, at, 8);
      return put(buf, at, ANON);
    }
    let src: Uint8Array = table;
    let i = off - tableStart;
    if (off < tableStart) {
      // A base BTF string: rare (DATASEC entries only), take the slow path.
      const s = new TextEncoder().encode(b.stringAt(off));
      src = new Uint8Array(s.length + 1);
      src.set(s);
      i = 0;
    }
    let end = i;
    while (src[end] !== 0) end++;
    if (at + (end - i) + FIXED_PER_ENTRY > buf.length) buf = grow(buf, at, end - i + FIXED_PER_ENTRY);
    for (; i < end; i++) buf[at++] = src[i];
    return at;
  };

  for (let id = b.startId; id < b.typeCount; id++) {
    const p = offs[id - b.startId];
    const info = words[p + 1];
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const kflag = info >>> 31 === 1;
    const st = words[p + 2];
    if (at + FIXED_PER_RECORD + vlen * FIXED_PER_ENTRY > buf.length) {
      buf = grow(buf, at, FIXED_PER_RECORD + vlen * FIXED_PER_ENTRY);
    }
    buf[at++] = LBRACKET;
    at = putU32(buf, at, id);
    at = put(buf, at, KIND_PREFIX[kind]);
    at = name(words[p]);
    buf[at++] = QUOTE;
    switch (kind) {
      case K.INT: {
        const v = words[p + 3];
        at = put(buf, at, S.size);
        at = putU32(buf, at, st);
        at = put(buf, at, S.bitsOffset);
        at = putU32(buf, at, (v >>> 16) & 0xff);
        at = put(buf, at, S.nrBits);
        at = putU32(buf, at, v & 0xff);
        at = put(buf, at, S.encoding);
        at = put(buf, at, INT_ENCODINGS[(v >>> 24) & 0x0f] ?? UNKN);
        break;
      }
      case K.PTR:
      case K.CONST:
      case K.VOLATILE:
      case K.RESTRICT:
      case K.TYPEDEF:
      case K.TYPE_TAG:
        at = put(buf, at, S.typeId);
        at = putU32(buf, at, st);
        break;
      case K.ARRAY:
        at = put(buf, at, S.typeId);
        at = putU32(buf, at, words[p + 3]);
        at = put(buf, at, S.indexTypeId);
        at = putU32(buf, at, words[p + 4]);
        at = put(buf, at, S.nrElems);
        at = putU32(buf, at, words[p + 5]);
        break;
      case K.STRUCT:
      case K.UNION:
        at = put(buf, at, S.size);
        at = putU32(buf, at, st);
        at = put(buf, at, S.vlen);
        at = putU32(buf, at, vlen);
        for (let j = 0, q = p + 3; j < vlen; j++, q += 3) {
          const o = words[q + 2];
          at = put(buf, at, S.memberStart);
          at = name(words[q]);
          at = put(buf, at, S.memberTypeId);
          at = putU32(buf, at, words[q + 1]);
          at = put(buf, at, S.bitsOffset);
          if (kflag) {
            at = putU32(buf, at, o & 0xffffff);
            if (o >>> 24) {
              at = put(buf, at, S.bitfieldSize);
              at = putU32(buf, at, o >>> 24);
            }
          } else {
            at = putU32(buf, at, o);
          }
        }
        break;
      case K.ENUM:
        at = put(buf, at, kflag ? S.signedEnc : S.unsignedEnc);
        at = putU32(buf, at, st);
        at = put(buf, at, S.vlen);
        at = putU32(buf, at, vlen);
        for (let j = 0, q = p + 3; j < vlen; j++, q += 2) {
          at = put(buf, at, S.memberStart);
          at = name(words[q]);
          at = put(buf, at, S.val);
          at = kflag ? putI32(buf, at, words[q + 1]) : putU32(buf, at, words[q + 1]);
        }
        break;
      case K.ENUM64:
        at = put(buf, at, kflag ? S.signedEnc : S.unsignedEnc);
        at = putU32(buf, at, st);
        at = put(buf, at, S.vlen);
        at = putU32(buf, at, vlen);
        for (let j = 0, q = p + 3; j < vlen; j++, q += 3) {
          const u = (BigInt(words[q + 2]) << 32n) | BigInt(words[q + 1]);
          at = put(buf, at, S.memberStart);
          at = name(words[q]);
          at = put(buf, at, S.val);
          at = put(buf, at, ascii(kflag ? `${BigInt.asIntN(64, u)}LL` : `${u}ULL`));
        }
        break;
      case K.FWD:
        at = put(buf, at, kflag ? S.fwdUnion : S.fwdStruct);
        break;
      case K.FUNC:
        at = put(buf, at, S.typeId);
        at = putU32(buf, at, st);
        at = put(buf, at, S.linkage);
        at = put(buf, at, LINKAGE[vlen] ?? UNKNOWN_LINKAGE);
        break;
      case K.FUNC_PROTO:
        at = put(buf, at, S.retTypeId);
        at = putU32(buf, at, st);
        at = put(buf, at, S.vlen);
        at = putU32(buf, at, vlen);
        for (let j = 0, q = p + 3; j < vlen; j++, q += 2) {
          at = put(buf, at, S.memberStart);
          at = name(words[q]);
          at = put(buf, at, S.memberTypeId);
          at = putU32(buf, at, words[q + 1]);
        }
        break;
      case K.VAR:
        at = put(buf, at, S.typeId);
        at = putU32(buf, at, st);
        at = put(buf, at, S.varLinkage);
        at = put(buf, at, LINKAGE[words[p + 3]] ?? UNKNOWN_LINKAGE);
        break;
      case K.DATASEC:
        at = put(buf, at, S.size);
        at = putU32(buf, at, st);
        at = put(buf, at, S.vlen);
        at = putU32(buf, at, vlen);
        for (let j = 0, q = p + 3; j < vlen; j++, q += 3) {
          const vt = words[q];
          at = put(buf, at, S.secTypeId);
          at = putU32(buf, at, vt);
          at = put(buf, at, S.offset);
          at = putU32(buf, at, words[q + 1]);
          at = put(buf, at, S.size);
          at = putU32(buf, at, words[q + 2]);
          if (vt < b.typeCount) {
            at = put(buf, at, KIND_PAREN[b.kindOf(vt)]);
            at = name(b.nameOffOf(vt));
            at = put(buf, at, S.quoteParen);
          }
        }
        break;
      case K.FLOAT:
        at = put(buf, at, S.size);
        at = putU32(buf, at, st);
        break;
      case K.DECL_TAG:
        at = put(buf, at, S.typeId);
        at = putU32(buf, at, st);
        at = put(buf, at, S.componentIdx);
        at = putI32(buf, at, words[p + 3]);
        break;
      default:
        break;
    }
    buf[at++] = NL;
  }
  const out = Buffer.from(buf.buffer, buf.byteOffset, at);
  return b.asciiStrings ? out.toString("latin1") : out.toString("utf8");
}
