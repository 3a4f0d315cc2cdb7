/**
 * The plain-text listing of `bpftool btf dump file X` (format raw): one line per type, then one
 * tab-indented line per member, enumerator, parameter or section variable. For split BTF only
 * the split part's own types are listed, as bpftool does.
 */
import type { Btf, BtfImpl } from "./btf.js";
import { BTF_KIND_NAMES, BtfKind as K } from "./types.js";

const INT_ENCODINGS: Record<number, string> = { 0: "(none)", 1: "SIGNED", 2: "CHAR", 4: "BOOL" };
const VAR_LINKAGE = ["static", "global", "extern"];
const FUNC_LINKAGE = ["static", "global", "extern"];

export function dumpBtfRaw(btf: Btf): string {
  const b = btf as BtfImpl;
  const out: string[] = [];
  const name = (off: number): string => (off === 0 ? "(anon)" : b.stringAt(off));
  for (let id = b.startId; id < b.typeCount; id++) {
    const info = b.word(id, 1);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const kflag = info >>> 31 === 1;
    const st = b.word(id, 2);
    let line = `[${id}] ${BTF_KIND_NAMES[kind]} '${name(b.word(id, 0))}'`;
    switch (kind) {
      case K.INT: {
        const v = b.word(id, 3);
        line += ` size=${st} bits_offset=${(v >>> 16) & 0xff} nr_bits=${v & 0xff} encoding=${INT_ENCODINGS[(v >>> 24) & 0x0f] ?? "UNKN"}`;
        break;
      }
      case K.PTR:
      case K.CONST:
      case K.VOLATILE:
      case K.RESTRICT:
      case K.TYPEDEF:
      case K.TYPE_TAG:
        line += ` type_id=${st}`;
        break;
      case K.ARRAY:
        line += ` type_id=${b.word(id, 3)} index_type_id=${b.word(id, 4)} nr_elems=${b.word(id, 5)}`;
        break;
      case K.STRUCT:
      case K.UNION:
        line += ` size=${st} vlen=${vlen}`;
        for (let j = 0, q = 3; j < vlen; j++, q += 3) {
          const o = b.word(id, q + 2);
          const bitOff = kflag ? o & 0xffffff : o;
          const bitSz = kflag ? o >>> 24 : 0;
          line += `\n\t'${name(b.word(id, q))}' type_id=${b.word(id, q + 1)} bits_offset=${bitOff}`;
          if (bitSz) line += ` bitfield_size=${bitSz}`;
        }
        break;
      case K.ENUM:
        line += ` encoding=${kflag ? "SIGNED" : "UNSIGNED"} size=${st} vlen=${vlen}`;
        for (let j = 0, q = 3; j < vlen; j++, q += 2) {
          const v = b.word(id, q + 1);
          line += `\n\t'${name(b.word(id, q))}' val=${kflag ? v | 0 : v}`;
        }
        break;
      case K.ENUM64:
        line += ` encoding=${kflag ? "SIGNED" : "UNSIGNED"} size=${st} vlen=${vlen}`;
        for (let j = 0, q = 3; j < vlen; j++, q += 3) {
          const u = (BigInt(b.word(id, q + 2)) << 32n) | BigInt(b.word(id, q + 1));
          line += `\n\t'${name(b.word(id, q))}' val=${kflag ? `${BigInt.asIntN(64, u)}LL` : `${u}ULL`}`;
        }
        break;
      case K.FWD:
        line += ` fwd_kind=${kflag ? "union" : "struct"}`;
        break;
      case K.FUNC:
        line += ` type_id=${st} linkage=${FUNC_LINKAGE[vlen] ?? "(unknown)"}`;
        break;
      case K.FUNC_PROTO:
        line += ` ret_type_id=${st} vlen=${vlen}`;
        for (let j = 0, q = 3; j < vlen; j++, q += 2) {
          line += `\n\t'${name(b.word(id, q))}' type_id=${b.word(id, q + 1)}`;
        }
        break;
      case K.VAR:
        line += ` type_id=${st}, linkage=${VAR_LINKAGE[b.word(id, 3)] ?? "(unknown)"}`;
        break;
      case K.DATASEC:
        line += ` size=${st} vlen=${vlen}`;
        for (let j = 0, q = 3; j < vlen; j++, q += 3) {
          const vt = b.word(id, q);
          line += `\n\ttype_id=${vt} offset=${b.word(id, q + 1)} size=${b.word(id, q + 2)}`;
          if (vt < b.typeCount) {
            line += ` (${BTF_KIND_NAMES[b.kindOf(vt)]} '${name(b.word(vt, 0))}')`;
          }
        }
        break;
      case K.FLOAT:
        line += ` size=${st}`;
        break;
      case K.DECL_TAG:
        line += ` type_id=${st} component_idx=${b.word(id, 3) | 0}`;
        break;
      default:
        break;
    }
    out.push(line);
  }
  out.push("");
  return out.join("\n");
}
