/**
 * `bpftool -j btf dump file X`: the raw listing as one compact JSON object, `{"types":[...]}`,
 * with bpftool's field names and order and its string escaping (which, faithfully, writes a
 * backslash as `\n` and escapes single quotes).
 */
import type { Btf, BtfImpl } from "./btf.js";
import { BTF_KIND_NAMES, BtfKind as K } from "./types.js";

const INT_ENCODINGS: Record<number, string> = { 0: "(none)", 1: "SIGNED", 2: "CHAR", 4: "BOOL" };
const LINKAGE = ["static", "global", "extern"];

function quote(s: string): string {
  let out = '"';
  for (const ch of s) {
    switch (ch) {
      case "\t":
        out += "\\t";
        break;
      case "\n":
        out += "\\n";
        break;
      case "\r":
        out += "\\r";
        break;
      case "\f":
        out += "\\f";
        break;
      case "\b":
        out += "\\b";
        break;
      case "\\":
        out += "\\n"; // sic: bpftool's json_writer
        break;
      case '"':
        out += '\\"';
        break;
      case "'":
        out += "\\'";
        break;
      default:
        out += ch;
    }
  }
  return `${out}"`;
}

export function dumpBtfJson(btf: Btf): string {
  const b = btf as BtfImpl;
  const name = (off: number): string => quote(off === 0 ? "(anon)" : b.stringAt(off));
  const types: string[] = [];
  for (let id = b.startId; id < b.typeCount; id++) {
    const info = b.word(id, 1);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const kflag = info >>> 31 === 1;
    const st = b.word(id, 2);
    let o = `{"id":${id},"kind":"${BTF_KIND_NAMES[kind]}","name":${name(b.word(id, 0))}`;
    const list = (key: string, items: string[]): void => {
      o += `,"${key}":[${items.join(",")}]`;
    };
    switch (kind) {
      case K.INT: {
        const v = b.word(id, 3);
        o += `,"size":${st},"bits_offset":${(v >>> 16) & 0xff},"nr_bits":${v & 0xff},"encoding":"${INT_ENCODINGS[(v >>> 24) & 0x0f] ?? "UNKN"}"`;
        break;
      }
      case K.PTR:
      case K.CONST:
      case K.VOLATILE:
      case K.RESTRICT:
      case K.TYPEDEF:
      case K.TYPE_TAG:
        o += `,"type_id":${st}`;
        break;
      case K.ARRAY:
        o += `,"type_id":${b.word(id, 3)},"index_type_id":${b.word(id, 4)},"nr_elems":${b.word(id, 5)}`;
        break;
      case K.STRUCT:
      case K.UNION: {
        o += `,"size":${st},"vlen":${vlen}`;
        const items: string[] = [];
        for (let j = 0, q = 3; j < vlen; j++, q += 3) {
          const off = b.word(id, q + 2);
          const bitSz = kflag ? off >>> 24 : 0;
          items.push(
            `{"name":${name(b.word(id, q))},"type_id":${b.word(id, q + 1)},"bits_offset":${kflag ? off & 0xffffff : off}${bitSz ? `,"bitfield_size":${bitSz}` : ""}}`,
          );
        }
        list("members", items);
        break;
      }
      case K.ENUM:
      case K.ENUM64: {
        o += `,"encoding":"${kflag ? "SIGNED" : "UNSIGNED"}","size":${st},"vlen":${vlen}`;
        const items: string[] = [];
        const is64 = kind === K.ENUM64;
        for (let j = 0, q = 3; j < vlen; j++, q += is64 ? 3 : 2) {
          let val: string;
          if (is64) {
            const u = (BigInt(b.word(id, q + 2)) << 32n) | BigInt(b.word(id, q + 1));
            val = String(kflag ? BigInt.asIntN(64, u) : u);
          } else {
            // The 32-bit value is a signed int in bpftool, widened to u64 when unsigned.
            const v = b.word(id, q + 1) | 0;
            val = kflag || v >= 0 ? String(v) : String(BigInt.asUintN(64, BigInt(v)));
          }
          items.push(`{"name":${name(b.word(id, q))},"val":${val}}`);
        }
        list("values", items);
        break;
      }
      case K.FWD:
        o += `,"fwd_kind":"${kflag ? "union" : "struct"}"`;
        break;
      case K.FUNC:
        o += `,"type_id":${st},"linkage":"${LINKAGE[vlen] ?? "(unknown)"}"`;
        break;
      case K.FUNC_PROTO: {
        o += `,"ret_type_id":${st},"vlen":${vlen}`;
        const items: string[] = [];
        for (let j = 0, q = 3; j < vlen; j++, q += 2) {
          items.push(`{"name":${name(b.word(id, q))},"type_id":${b.word(id, q + 1)}}`);
        }
        list("params", items);
        break;
      }
      case K.VAR:
        o += `,"type_id":${st},"linkage":"${LINKAGE[b.word(id, 3)] ?? "(unknown)"}"`;
        break;
      case K.DATASEC: {
        o += `,"size":${st},"vlen":${vlen}`;
        const items: string[] = [];
        for (let j = 0, q = 3; j < vlen; j++, q += 3) {
          items.push(
            `{"type_id":${b.word(id, q)},"offset":${b.word(id, q + 1)},"size":${b.word(id, q + 2)}}`,
          );
        }
        list("vars", items);
        break;
      }
      case K.FLOAT:
        o += `,"size":${st}`;
        break;
      case K.DECL_TAG:
        o += `,"type_id":${st},"component_idx":${b.word(id, 3) | 0}`;
        break;
      default:
        break;
    }
    types.push(`${o}}`);
  }
  return `{"types":[${types.join(",")}]}\n`;
}
