/**
 * The plain-text listing of `bpftool btf dump file X` (format raw): one line per type, then one
 * tab-indented line per member, enumerator, parameter or section variable. For split BTF only
 * the split part's own types are listed, as bpftool does. Written as bytes (names copied from
 * the string table) because this is the hot path for a 126k-type vmlinux.
 */
import type { Btf, BtfImpl } from "./btf.js";
import { BTF_KIND_NAMES, BtfKind as K } from "./types.js";

const encoder = new TextEncoder();

/**
 * A constant piece of text as [byte length, then the bytes packed little-endian into 32-bit
 * words]: written with one DataView store per 4 bytes (stores may spill up to 3 bytes past the
 * piece; they are overwritten by what follows, and the buffer always has slack).
 */
type Piece = Uint32Array;
function ascii(s: string): Piece {
  const bytes = encoder.encode(s);
  const out = new Uint32Array(1 + Math.ceil(bytes.length / 4));
  out[0] = bytes.length;
  for (let i = 0; i < bytes.length; i++) out[1 + (i >> 2)] |= bytes[i] << ((i & 3) * 8);
  return out;
}

const KIND_PREFIX = BTF_KIND_NAMES.map((n) => ascii(`] ${n} '`));
const KIND_PAREN = BTF_KIND_NAMES.map((n) => ascii(` (${n} '`));
const INT_ENCODINGS: Record<number, Piece> = {
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

function put(dv: DataView, at: number, piece: Piece): number {
  const n = piece.length;
  for (let k = 1, a = at; k < n; k++, a += 4) dv.setUint32(a, piece[k], true);
  return at + piece[0];
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

/** Copy the name at global string offset `off` ("(anon)" for 0); capacity is ensured by the caller. */
function putName(buf: Uint8Array, dv: DataView, at: number, b: BtfImpl, off: number): number {
  if (off === 0) return put(dv, at, ANON);
  let blob = b;
  while (off < blob.startStrOff) blob = blob.base!;
  const table = blob.strBytes;
  for (let i = off - blob.startStrOff, c = table[i]; c !== 0; c = table[++i]) buf[at++] = c;
  return at;
}

/**
 * The dump works on a local buffer and write position (no closures over them, so they stay in
 * registers), growing the buffer before each record by a bound on what the record can print.
 */
export function dumpBtfRaw(btf: Btf): string {
  const b = btf as BtfImpl;
  const words = b.words;
  const offs = b.offs;
  const perEntry = FIXED_PER_ENTRY + 2 * b.maxStringLength;
  let buf: Uint8Array = new Uint8Array(Math.max(1 << 16, words.length * 16));
  let dv = new DataView(buf.buffer);
  let at = 0;

  for (let id = b.startId; id < b.typeCount; id++) {
    const p = offs[id - b.startId];
    const info = words[p + 1];
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const kflag = info >>> 31 === 1;
    const st = words[p + 2];
    const need = FIXED_PER_RECORD + perEntry + vlen * perEntry;
    if (at + need > buf.length) {
      buf = grow(buf, at, need);
      dv = new DataView(buf.buffer);
    }
    buf[at++] = LBRACKET;
    at = putU32(buf, at, id);
    at = put(dv, at, KIND_PREFIX[kind]);
    at = putName(buf, dv, at, b, words[p]);
    buf[at++] = QUOTE;
    switch (kind) {
      case K.INT: {
        const v = words[p + 3];
        at = put(dv, at, S.size);
        at = putU32(buf, at, st);
        at = put(dv, at, S.bitsOffset);
        at = putU32(buf, at, (v >>> 16) & 0xff);
        at = put(dv, at, S.nrBits);
        at = putU32(buf, at, v & 0xff);
        at = put(dv, at, S.encoding);
        at = put(dv, at, INT_ENCODINGS[(v >>> 24) & 0x0f] ?? UNKN);
        break;
      }
      case K.PTR:
      case K.CONST:
      case K.VOLATILE:
      case K.RESTRICT:
      case K.TYPEDEF:
      case K.TYPE_TAG:
        at = put(dv, at, S.typeId);
        at = putU32(buf, at, st);
        break;
      case K.ARRAY:
        at = put(dv, at, S.typeId);
        at = putU32(buf, at, words[p + 3]);
        at = put(dv, at, S.indexTypeId);
        at = putU32(buf, at, words[p + 4]);
        at = put(dv, at, S.nrElems);
        at = putU32(buf, at, words[p + 5]);
        break;
      case K.STRUCT:
      case K.UNION:
        at = put(dv, at, S.size);
        at = putU32(buf, at, st);
        at = put(dv, at, S.vlen);
        at = putU32(buf, at, vlen);
        for (let j = 0, q = p + 3; j < vlen; j++, q += 3) {
          const o = words[q + 2];
          at = put(dv, at, S.memberStart);
          at = putName(buf, dv, at, b, words[q]);
          at = put(dv, at, S.memberTypeId);
          at = putU32(buf, at, words[q + 1]);
          at = put(dv, at, S.bitsOffset);
          if (kflag) {
            at = putU32(buf, at, o & 0xffffff);
            if (o >>> 24) {
              at = put(dv, at, S.bitfieldSize);
              at = putU32(buf, at, o >>> 24);
            }
          } else {
            at = putU32(buf, at, o);
          }
        }
        break;
      case K.ENUM:
        at = put(dv, at, kflag ? S.signedEnc : S.unsignedEnc);
        at = putU32(buf, at, st);
        at = put(dv, at, S.vlen);
        at = putU32(buf, at, vlen);
        for (let j = 0, q = p + 3; j < vlen; j++, q += 2) {
          at = put(dv, at, S.memberStart);
          at = putName(buf, dv, at, b, words[q]);
          at = put(dv, at, S.val);
          at = kflag ? putI32(buf, at, words[q + 1]) : putU32(buf, at, words[q + 1]);
        }
        break;
      case K.ENUM64:
        at = put(dv, at, kflag ? S.signedEnc : S.unsignedEnc);
        at = putU32(buf, at, st);
        at = put(dv, at, S.vlen);
        at = putU32(buf, at, vlen);
        for (let j = 0, q = p + 3; j < vlen; j++, q += 3) {
          const u = (BigInt(words[q + 2]) << 32n) | BigInt(words[q + 1]);
          at = put(dv, at, S.memberStart);
          at = putName(buf, dv, at, b, words[q]);
          at = put(dv, at, S.val);
          at = put(dv, at, ascii(kflag ? `${BigInt.asIntN(64, u)}LL` : `${u}ULL`));
        }
        break;
      case K.FWD:
        at = put(dv, at, kflag ? S.fwdUnion : S.fwdStruct);
        break;
      case K.FUNC:
        at = put(dv, at, S.typeId);
        at = putU32(buf, at, st);
        at = put(dv, at, S.linkage);
        at = put(dv, at, LINKAGE[vlen] ?? UNKNOWN_LINKAGE);
        break;
      case K.FUNC_PROTO:
        at = put(dv, at, S.retTypeId);
        at = putU32(buf, at, st);
        at = put(dv, at, S.vlen);
        at = putU32(buf, at, vlen);
        for (let j = 0, q = p + 3; j < vlen; j++, q += 2) {
          at = put(dv, at, S.memberStart);
          at = putName(buf, dv, at, b, words[q]);
          at = put(dv, at, S.memberTypeId);
          at = putU32(buf, at, words[q + 1]);
        }
        break;
      case K.VAR:
        at = put(dv, at, S.typeId);
        at = putU32(buf, at, st);
        at = put(dv, at, S.varLinkage);
        at = put(dv, at, LINKAGE[words[p + 3]] ?? UNKNOWN_LINKAGE);
        break;
      case K.DATASEC:
        at = put(dv, at, S.size);
        at = putU32(buf, at, st);
        at = put(dv, at, S.vlen);
        at = putU32(buf, at, vlen);
        for (let j = 0, q = p + 3; j < vlen; j++, q += 3) {
          const vt = words[q];
          at = put(dv, at, S.secTypeId);
          at = putU32(buf, at, vt);
          at = put(dv, at, S.offset);
          at = putU32(buf, at, words[q + 1]);
          at = put(dv, at, S.size);
          at = putU32(buf, at, words[q + 2]);
          if (vt < b.typeCount) {
            at = put(dv, at, KIND_PAREN[b.kindOf(vt)]);
            at = putName(buf, dv, at, b, b.nameOffOf(vt));
            at = put(dv, at, S.quoteParen);
          }
        }
        break;
      case K.FLOAT:
        at = put(dv, at, S.size);
        at = putU32(buf, at, st);
        break;
      case K.DECL_TAG:
        at = put(dv, at, S.typeId);
        at = putU32(buf, at, st);
        at = put(dv, at, S.componentIdx);
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
