/**
 * The object's .BTF as the kernel will accept it: the raw section bytes with libbpf's fixups
 * applied in place (every record keeps its size, so type ids and string offsets do not move):
 * - DATASEC sizes and VAR offsets, which clang leaves zero (ObjectSpec.datasecFixups);
 * - extern VARs (linkage 2, refused by the kernel) become allocated globals; extern FUNCs
 *   (kfuncs, linkage 2, refused too) become typedefs of their prototype;
 * - the `.ksyms` DATASEC, whose entries are FUNCs or void VARs the kernel will not take in a
 *   DATASEC, becomes an anonymous union of ints (nothing refers to it once externs are resolved).
 */

import type { ObjectSpec } from "../elf/object/types.js";
import { LoaderError } from "./errors.js";

const KIND_INT = 1;
const KIND_ARRAY = 3;
const KIND_STRUCT = 4;
const KIND_UNION = 5;
const KIND_ENUM = 6;
const KIND_TYPEDEF = 8;
const KIND_FUNC = 12;
const KIND_FUNC_PROTO = 13;
const KIND_VAR = 14;
const KIND_DATASEC = 15;
const KIND_DECL_TAG = 17;
const KIND_ENUM64 = 19;

interface Raw {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly le: boolean;
  /** Byte offset of each type record, indexed by id (index 0 unused). */
  readonly offsets: number[];
}

function recordExtra(kind: number, vlen: number): number {
  switch (kind) {
    case KIND_INT:
      return 4;
    case KIND_ARRAY:
      return 12;
    case KIND_STRUCT:
    case KIND_UNION:
      return 12 * vlen;
    case KIND_ENUM:
      return 8 * vlen;
    case KIND_FUNC_PROTO:
      return 8 * vlen;
    case KIND_VAR:
      return 4;
    case KIND_DATASEC:
      return 12 * vlen;
    case KIND_DECL_TAG:
      return 4;
    case KIND_ENUM64:
      return 12 * vlen;
    default:
      return 0;
  }
}

function index(bytes: Uint8Array, le: boolean): Raw {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 24 || view.getUint16(0, le) !== 0xeb9f)
    throw new LoaderError("E_BTF_RAW", ".BTF section has no BTF header");
  const hdrLen = view.getUint32(4, le);
  const typeOff = view.getUint32(8, le);
  const typeLen = view.getUint32(12, le);
  const start = hdrLen + typeOff;
  const end = start + typeLen;
  if (end > bytes.length) throw new LoaderError("E_BTF_RAW", ".BTF type section runs past the section");
  const offsets: number[] = [0];
  let p = start;
  while (p < end) {
    offsets.push(p);
    const info = view.getUint32(p + 4, le);
    const kind = (info >>> 24) & 0x1f;
    p += 12 + recordExtra(kind, info & 0xffff);
  }
  return { bytes, view, le, offsets };
}

/** The fixed-up .BTF bytes of an object (a copy), or undefined when it has no .BTF. */
export function fixedObjectBtf(spec: ObjectSpec): Uint8Array | undefined {
  const sec = spec.elf.sections.find((s) => s.name === ".BTF");
  if (!sec || !spec.btf) return undefined;
  const bytes = sec.data.slice();
  const raw = index(bytes, spec.byteOrder === "le");
  const { view, le, offsets } = raw;
  const info = (id: number): number => view.getUint32(offsets[id]! + 4, le);
  const kindOf = (id: number): number => (info(id) >>> 24) & 0x1f;

  for (const f of spec.datasecFixups) {
    const at = offsets[f.datasecId];
    if (at === undefined) continue;
    view.setUint32(at + 8, f.size, le);
    const vlen = info(f.datasecId) & 0xffff;
    const entries: [number, number, number][] = [];
    for (let i = 0; i < vlen; i++) {
      const e = at + 12 + 12 * i;
      const varId = view.getUint32(e, le);
      const fix = f.vars.find((v) => v.varId === varId);
      entries.push([varId, fix ? fix.offset : view.getUint32(e + 4, le), view.getUint32(e + 8, le)]);
    }
    // The kernel wants the entries in offset order (.kconfig's are laid out by alignment).
    entries.sort((a, b) => a[1] - b[1]);
    entries.forEach(([varId, off, size], i) => {
      const e = at + 12 + 12 * i;
      view.setUint32(e, varId, le);
      view.setUint32(e + 4, off, le);
      view.setUint32(e + 8, size, le);
    });
  }

  const intId = spec.btf.types.find((t) => t.kind === "INT" && t.size === 4)?.id;
  const kconfigVars = new Set(spec.externs.filter((e) => e.kind === "kconfig").map((e) => e.btfId));
  for (let id = 1; id < offsets.length; id++) {
    const at = offsets[id]!;
    const k = kindOf(id);
    const vlen = info(id) & 0xffff;
    if (k === KIND_VAR && view.getUint32(at + 12, le) === 2) {
      view.setUint32(at + 12, 1, le);
      // A ksym VAR may be `const void` (typeless), which the kernel refuses: nothing refers to
      // it once resolved, so give it an int type.
      if (intId !== undefined && !kconfigVars.has(id)) view.setUint32(at + 8, intId, le);
    } else if (k === KIND_FUNC && vlen === 2) view.setUint32(at + 4, KIND_TYPEDEF << 24, le);
    else if (k === KIND_DATASEC && spec.btf.typeById(id).name === ".ksyms") {
      if (intId === undefined) continue;
      view.setUint32(at, 0, le);
      view.setUint32(at + 4, (KIND_UNION << 24) | vlen, le);
      view.setUint32(at + 8, 4, le);
      for (let i = 0; i < vlen; i++) {
        const e = at + 12 + 12 * i;
        view.setUint32(e, 0, le);
        view.setUint32(e + 4, intId, le);
        view.setUint32(e + 8, 0, le);
      }
    }
  }
  return bytes;
}
