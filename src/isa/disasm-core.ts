/**
 * The CO-RE relocation lines `llvm-objdump -d -r` prints under an instruction ("CO-RE <byte_off>
 * [22] struct task_struct::pid (0:3)"). llvm-objdump reads .BTF and .BTF.ext with a deliberately
 * simple parser (type records sliced by kind, no validation) and describes each record from the
 * type graph; this module reproduces that description, including its fallback text for records
 * it cannot interpret. It reads only what the printer needs, so it is separate from src/elf/btf.
 */

import { BTF_MAGIC, BtfKind } from "../elf/btf/types.js";
import { CORE_RELO_KINDS } from "../elf/btf-ext.js";
import type { ElfFile, ElfSection } from "../elf/types.js";

/** Section index -> instruction byte offset -> CO-RE description. */
export type CoreRelocIndex = ReadonlyMap<number, ReadonlyMap<number, string>>;

// The record walk stays lax on purpose (llvm-objdump's own parser): only the constants are shared.
const KIND = BtfKind;
const RELOC_KIND_NAMES: readonly string[] = CORE_RELO_KINDS;

/** A BTF type record as words (the common header, then its kind-specific tail). */
interface RawType {
  readonly at: number;
  readonly nameOff: number;
  readonly info: number;
  readonly sizeOrType: number;
}

interface Btf {
  readonly words: DataView;
  readonly le: boolean;
  readonly strings: Uint8Array;
  readonly types: RawType[];
}

const latin = new TextDecoder("utf-8");

function str(btf: Btf, off: number): string {
  const t = btf.strings;
  if (off >= t.length) return "";
  let end = t.indexOf(0, off);
  if (end < 0) end = t.length;
  return latin.decode(t.subarray(off, end));
}

const kindOf = (t: RawType): number => (t.info >>> 24) & 0x1f;
const vlenOf = (t: RawType): number => t.info & 0xffff;

function recordSize(kind: number, vlen: number): number {
  switch (kind) {
    case KIND.INT:
    case KIND.VAR:
    case KIND.DECL_TAG:
      return 16;
    case KIND.ARRAY:
      return 24;
    case KIND.STRUCT:
    case KIND.UNION:
    case KIND.DATASEC:
    case KIND.ENUM64:
      return 12 + 12 * vlen;
    case KIND.ENUM:
    case KIND.FUNC_PROTO:
      return 12 + 8 * vlen;
    default:
      return 12;
  }
}

/** Parse .BTF like llvm's BTFParser; undefined when it would refuse the section. */
function parseBtf(sec: ElfSection, le: boolean): Btf | undefined {
  const d = sec.data;
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  if (d.length < 24) return undefined;
  if (v.getUint16(0, le) !== BTF_MAGIC || d[2] !== 1) return undefined;
  const hdrLen = v.getUint32(4, le);
  if (hdrLen < 8) return undefined;
  const typeOff = v.getUint32(8, le);
  const typeLen = v.getUint32(12, le);
  const strOff = v.getUint32(16, le);
  const strLen = v.getUint32(20, le);
  const strStart = hdrLen + strOff;
  const typesStart = hdrLen + typeOff;
  if (d.length < Math.max(strStart + strLen, typesStart + typeLen)) return undefined;
  const btf: Btf = { words: v, le, strings: d.subarray(strStart, strStart + strLen), types: [] };
  // Type 0 is void.
  btf.types.push({ at: -1, nameOff: 0, info: 0, sizeOrType: 0 });
  let pos = 0;
  while (pos < typeLen) {
    const at = typesStart + pos;
    // llvm refuses the whole section on a truncated record (and then prints no CO-RE line).
    if (typeLen - pos < 12) return undefined;
    const t: RawType = {
      at,
      nameOff: v.getUint32(at, le),
      info: v.getUint32(at + 4, le),
      sizeOrType: v.getUint32(at + 8, le),
    };
    const size = recordSize(kindOf(t), vlenOf(t));
    if (typeLen - pos < size) return undefined;
    btf.types.push(t);
    pos += size;
  }
  return btf;
}

function typeAt(btf: Btf, id: number): RawType | undefined {
  return id < btf.types.length ? btf.types[id] : undefined;
}

/** Member i of a struct/union: [nameOff, type]. */
function member(btf: Btf, t: RawType, i: number): [number, number] {
  const at = t.at + 12 + 12 * i;
  return [btf.words.getUint32(at, btf.le), btf.words.getUint32(at + 4, btf.le)];
}

const isMod = (k: number): boolean =>
  k === KIND.VOLATILE || k === KIND.CONST || k === KIND.RESTRICT || k === KIND.TYPE_TAG;

function skipModsAndTypedefs(btf: Btf, t: RawType): RawType {
  let cur = t;
  while (isMod(kindOf(cur)) || kindOf(cur) === KIND.TYPEDEF) {
    const next = typeAt(btf, cur.sizeOrType);
    if (next === undefined) break;
    cur = next;
  }
  return cur;
}

function nameOrAnon(btf: Btf, off: number, idx: number): string {
  const s = str(btf, off);
  return s === "" ? `<anon ${idx}>` : s;
}

function kindName(kind: number): string {
  const n = RELOC_KIND_NAMES[kind];
  return `<${n ?? `reloc kind #${kind}`}>`;
}

/** llvm's BTFParser::symbolize for one field relocation record. */
function describeCoreReloc(btf: Btf, typeId: number, specOff: number, relocKind: number): string {
  const spec = str(btf, specOff);
  const fail = (msg: string): string => `${kindName(relocKind)} [${typeId}] '${spec}' <${msg}>`;
  const raw: number[] = [];
  let rest = spec;
  while (rest.length > 0) {
    const m = /^[0-9]+/.exec(rest);
    if (m === null) return fail("spec string is not a number");
    // consumeUnsignedInteger refuses values that overflow 64 bits; anything real is small.
    const n = Number(m[0]);
    raw.push(n >>> 0);
    rest = rest.slice(m[0].length);
    if (rest.length === 0) break;
    if (rest[0] !== ":") return fail(`unexpected spec string delimiter: '${rest[0]}'`);
    rest = rest.slice(1);
  }
  let out = kindName(relocKind);
  let curId = typeId;
  let t = typeAt(btf, curId);
  if (t === undefined) return fail(`unknown type id: ${curId | 0}`);
  out += ` [${curId}]`;
  for (let chain = 0; ; chain++) {
    const k = kindOf(t);
    if (k === KIND.CONST) out += " const";
    else if (k === KIND.VOLATILE) out += " volatile";
    else if (k === KIND.RESTRICT) out += " restrict";
    else if (k === KIND.TYPE_TAG) out += ` type_tag("${str(btf, t.nameOff)}")`;
    else break;
    if (chain >= 32) return fail("modifiers chain is too long");
    curId = t.sizeOrType;
    const next = typeAt(btf, curId);
    if (next === undefined) return fail(`unknown type id: ${curId | 0} in modifiers chain`);
    t = next;
  }
  if (curId === 0) {
    out += " void";
  } else {
    switch (kindOf(t)) {
      case KIND.TYPEDEF:
        out += " typedef";
        break;
      case KIND.STRUCT:
        out += " struct";
        break;
      case KIND.UNION:
        out += " union";
        break;
      case KIND.ENUM:
      case KIND.ENUM64:
        out += " enum";
        break;
      case KIND.FWD:
        out += (t.info & 0x80000000) !== 0 ? " fwd union" : " fwd struct";
        break;
    }
    out += " " + nameOrAnon(btf, t.nameOff, curId);
  }
  if (relocKind >= 6 && relocKind <= 9) {
    // type-based: the access string must be "0"
    if (raw.length !== 1 || raw[0] !== 0) return fail("unexpected type-based relocation spec: should be '0'");
    return out;
  }
  if (relocKind === 12) {
    if (raw.length !== 1 || raw[0] !== 0) return fail("unexpected type-based relocation spec: should be '0'");
    return out;
  }
  out += "::";
  if (relocKind === 10 || relocKind === 11) {
    t = skipModsAndTypedefs(btf, t);
    if (raw.length !== 1) return fail("unexpected enumval relocation spec size");
    const idx = raw[0];
    const k = kindOf(t);
    let nameOff: number;
    let val: bigint;
    const v = btf.words;
    const le = btf.le;
    if (k === KIND.ENUM) {
      if (vlenOf(t) <= idx) return fail(`bad value index: ${idx | 0}`);
      const at = t.at + 12 + 8 * idx;
      nameOff = v.getUint32(at, le);
      const u = v.getUint32(at + 4, le);
      val = BigInt(u);
    } else if (k === KIND.ENUM64) {
      if (vlenOf(t) <= idx) return fail(`bad value index: ${idx | 0}`);
      const at = t.at + 12 + 12 * idx;
      nameOff = v.getUint32(at, le);
      val = (BigInt(v.getUint32(at + 8, le)) << 32n) | BigInt(v.getUint32(at + 4, le));
    } else {
      return fail(`unexpected type kind for enum relocation: ${k}`);
    }
    out += nameOrAnon(btf, nameOff, idx);
    // BTF::BTFEnum keeps Val as int32, widened to the printed 64 bits by sign.
    if (k === KIND.ENUM) val = BigInt.asIntN(32, val);
    const signed = (t.info & 0x80000000) !== 0;
    out += " = " + (signed ? BigInt.asIntN(64, val) : BigInt.asUintN(64, val)).toString();
    return out;
  }
  if (relocKind <= 5) {
    if (raw.length < 1) return fail("field spec too short");
    if (raw[0] !== 0) out += `[${raw[0]}]`;
    for (let i = 1; i < raw.length; i++) {
      t = skipModsAndTypedefs(btf, t);
      const idx = raw[i];
      const k = kindOf(t);
      if (k === KIND.STRUCT || k === KIND.UNION) {
        if (vlenOf(t) <= idx) return fail(`member index ${idx | 0} for spec sub-string ${i} is out of range`);
        const [mName, mType] = member(btf, t, idx);
        if (i !== 1 || raw[0] !== 0) out += ".";
        out += nameOrAnon(btf, mName, idx);
        const next = typeAt(btf, mType);
        if (next === undefined) return fail(`unknown member type id ${mType | 0} for spec sub-string ${i}`);
        t = next;
      } else if (k === KIND.ARRAY) {
        out += `[${idx}]`;
        const elem = btf.words.getUint32(t.at + 12, btf.le);
        const next = typeAt(btf, elem);
        if (next === undefined) return fail(`unknown element type id ${elem | 0} for spec sub-string ${i}`);
        t = next;
      } else {
        return fail(`unexpected type kind ${k} for spec sub-string ${i}`);
      }
    }
    return `${out} (${spec})`;
  }
  return fail(`unknown relocation kind: ${relocKind | 0}`);
}

/**
 * The CO-RE relocation descriptions of a file, keyed by section and instruction offset, or
 * undefined when the file lacks .BTF or .BTF.ext (llvm-objdump then prints none). Like
 * llvm-objdump, the first record (by offset, stable) wins when several name one instruction.
 */
export function indexCoreRelocs(elf: ElfFile): CoreRelocIndex | undefined {
  const byName = new Map<string, ElfSection>();
  for (const s of elf.sections) byName.set(s.name, s);
  const btfSec = byName.get(".BTF");
  const extSec = byName.get(".BTF.ext");
  if (btfSec === undefined || extSec === undefined) return undefined;
  const le = elf.header.byteOrder === "le";
  const out = new Map<number, Map<number, string>>();
  const btf = parseBtf(btfSec, le);
  if (btf === undefined) return out;
  const d = extSec.data;
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  if (d.length < 32 || v.getUint16(0, le) !== BTF_MAGIC || d[2] !== 1) return out;
  const hdrLen = v.getUint32(4, le);
  if (hdrLen < 8) return out;
  const relOff = v.getUint32(24, le);
  const relLen = v.getUint32(28, le);
  if (relLen === 0) return out;
  const start = hdrLen + relOff;
  const end = start + relLen;
  if (start + 4 > d.length) return out;
  const recSize = v.getUint32(start, le);
  if (recSize < 16) return out;
  let at = start + 4;
  while (at < end) {
    if (at + 8 > d.length) break;
    const secName = str(btf, v.getUint32(at, le));
    const num = v.getUint32(at + 4, le);
    at += 8;
    const target = byName.get(secName);
    const recs: { off: number; type: number; spec: number; kind: number }[] = [];
    for (let i = 0; i < num; i++) {
      if (at + 16 > d.length) break;
      recs.push({
        off: v.getUint32(at, le),
        type: v.getUint32(at + 4, le),
        spec: v.getUint32(at + 8, le),
        kind: v.getUint32(at + 12, le),
      });
      at += recSize;
    }
    if (target === undefined) continue;
    let map = out.get(target.index);
    if (map === undefined) {
      map = new Map();
      out.set(target.index, map);
    }
    for (const r of recs) {
      if (!map.has(r.off)) map.set(r.off, describeCoreReloc(btf, r.type, r.spec, r.kind));
    }
  }
  return out;
}
