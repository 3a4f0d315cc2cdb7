/**
 * C struct layouts as data: a field table per struct (offset, size, kind), and one encoder and
 * one decoder that read the table. The tables live in attr.ts, info.ts and perf.ts; a test checks
 * every entry against the running kernel's BTF (member path, offset and size).
 */
import { LoaderError } from "./errors.js";

export type FieldKind = "u8" | "u16" | "u32" | "s32" | "u64" | "bytes" | "bit";

export interface Field {
  readonly offset: number;
  readonly size: number;
  readonly kind: FieldKind;
  /** For kind "bit": the bit number inside the u32 at `offset`. */
  readonly bit?: number;
}

export interface Layout<F extends string = string> {
  /** C name, e.g. "union bpf_attr" or "struct bpf_prog_info". */
  readonly struct: string;
  /** Member path of these fields inside `struct` ("" or e.g. "test." for attr.test). */
  readonly prefix: string;
  /** Bytes to pass: the end of the last field (offsetofend), or the struct size for info structs. */
  readonly size: number;
  readonly fields: { readonly [K in F]: Field };
}

export const u8 = (offset: number): Field => ({ offset, size: 1, kind: "u8" });
export const u16 = (offset: number): Field => ({ offset, size: 2, kind: "u16" });
export const u32 = (offset: number): Field => ({ offset, size: 4, kind: "u32" });
export const s32 = (offset: number): Field => ({ offset, size: 4, kind: "s32" });
export const u64 = (offset: number): Field => ({ offset, size: 8, kind: "u64" });
export const bytes = (offset: number, size: number): Field => ({ offset, size, kind: "bytes" });
export const bit = (offset: number, bitNo: number): Field => ({ offset, size: 4, kind: "bit", bit: bitNo });

/** Build a layout whose size is the end of its furthest field (what the kernel should be passed). */
export function layout<F extends string>(
  struct: string,
  prefix: string,
  fields: { readonly [K in F]: Field },
  size?: number,
): Layout<F> {
  let end = 0;
  for (const f of Object.values<Field>(fields)) end = Math.max(end, f.offset + f.size);
  return { struct, prefix, size: size ?? end, fields };
}

/**
 * A value for one field. u64 fields take a Uint8Array to mean "a pointer to these bytes"
 * (resolved by `address`); bytes fields take the inline contents (a string is UTF-8, NUL padded).
 */
export type FieldValue = number | bigint | boolean | string | Uint8Array;
export type Values<F extends string> = { readonly [K in F]?: FieldValue | undefined };

const encoder = new TextEncoder();

/** Encode `values` into a fresh zeroed buffer of `l.size` bytes (off the V8 heap). */
export function encodeStruct<F extends string>(
  l: Layout<F>,
  values: Values<F>,
  address: (buf: Uint8Array) => bigint,
): Uint8Array {
  const out = new Uint8Array(new ArrayBuffer(l.size));
  const view = new DataView(out.buffer);
  for (const name of Object.keys(values) as F[]) {
    const v = values[name];
    if (v === undefined) continue;
    const f = l.fields[name];
    if (!f) throw new LoaderError("E_LAYOUT", `${l.struct}: no field ${l.prefix}${name}`);
    writeField(view, out, f, v, address, `${l.prefix}${name}`);
  }
  return out;
}

function asBigInt(v: FieldValue, what: string): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "boolean") return v ? 1n : 0n;
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  throw new LoaderError("E_LAYOUT", `${what}: not an integer: ${String(v)}`);
}

function writeField(
  view: DataView,
  out: Uint8Array,
  f: Field,
  v: FieldValue,
  address: (buf: Uint8Array) => bigint,
  what: string,
): void {
  switch (f.kind) {
    case "bytes": {
      const src = typeof v === "string" ? encoder.encode(v) : v;
      if (!(src instanceof Uint8Array)) throw new LoaderError("E_LAYOUT", `${what}: expected bytes`);
      if (src.byteLength > f.size) {
        throw new LoaderError("E_LAYOUT", `${what}: ${src.byteLength} bytes do not fit in ${f.size}`);
      }
      out.set(src, f.offset);
      return;
    }
    case "u64": {
      const n = v instanceof Uint8Array ? address(v) : asBigInt(v as FieldValue, what);
      if (n < -(1n << 63n) || n >= 1n << 64n) throw new LoaderError("E_LAYOUT", `${what}: ${n} out of range`);
      view.setBigUint64(f.offset, BigInt.asUintN(64, n), true);
      return;
    }
    case "bit": {
      const cur = view.getUint32(f.offset, true);
      const on = asBigInt(v, what) !== 0n;
      const mask = 1 << (f.bit ?? 0);
      view.setUint32(f.offset, on ? (cur | mask) >>> 0 : cur & ~mask, true);
      return;
    }
    default: {
      // Plain numbers (the common case) stay out of BigInt: this runs on every map operation.
      const n = typeof v === "number" && Number.isInteger(v) ? v : Number(asBigInt(v, what));
      const span = 2 ** (f.size * 8);
      // Accept both the signed and the unsigned spelling of a value (-1 == 0xffffffff).
      if (!(n >= -span / 2 && n < span))
        throw new LoaderError("E_LAYOUT", `${what}: ${String(v)} out of range`);
      const u = n < 0 ? n + span : n;
      if (f.size === 1) view.setUint8(f.offset, u);
      else if (f.size === 2) view.setUint16(f.offset, u, true);
      else view.setUint32(f.offset, u, true);
    }
  }
}

export type Decoded<F extends string> = { readonly [K in F]: number | bigint | Uint8Array };

/** Read one field. */
export function readField(buf: Uint8Array, f: Field): number | bigint | Uint8Array {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (f.offset + f.size > buf.byteLength)
    return f.kind === "u64" ? 0n : f.kind === "bytes" ? new Uint8Array(0) : 0;
  switch (f.kind) {
    case "u8":
      return view.getUint8(f.offset);
    case "u16":
      return view.getUint16(f.offset, true);
    case "u32":
      return view.getUint32(f.offset, true);
    case "s32":
      return view.getInt32(f.offset, true);
    case "u64":
      return view.getBigUint64(f.offset, true);
    case "bit":
      return (view.getUint32(f.offset, true) >>> (f.bit ?? 0)) & 1;
    case "bytes":
      return buf.slice(f.offset, f.offset + f.size);
  }
}

/** Read a numeric field as a JS number (u64 values above 2^53 lose precision; use readField). */
export function readNumber(buf: Uint8Array, f: Field): number {
  const v = readField(buf, f);
  return typeof v === "bigint" ? Number(v) : typeof v === "number" ? v : 0;
}

/** Decode every field of a layout. Fields past the end of `buf` read as zero. */
export function decodeStruct<F extends string>(l: Layout<F>, buf: Uint8Array): Decoded<F> {
  const out: Record<string, number | bigint | Uint8Array> = {};
  for (const [name, f] of Object.entries<Field>(l.fields)) out[name] = readField(buf, f);
  return out as Decoded<F>;
}

/** A NUL-terminated C string inside a fixed-size char array. */
export function cString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return new TextDecoder().decode(end < 0 ? b : b.subarray(0, end));
}
