/**
 * BTF value codec: map keys/values and global variables as plain JS values, both ways. No
 * syscalls here, so the VM and the simulator can share it (it lives in src/loader only because
 * the BTF folder was still being edited when it was written).
 *
 * Mapping (decode; encode accepts the same shapes):
 * - INT: size <= 4 -> number (two's complement when signed); size 8/16 -> bigint; BOOL -> boolean
 *   (a bool byte other than 0/1, invalid in C, stays a number so it round-trips).
 *   Encode also accepts a number or bigint for any size, and a decimal/hex string.
 * - ENUM -> number (ENUM64 -> bigint); encode also accepts an enumerator name.
 * - FLOAT -> number (4 or 8 bytes; other sizes as bytes).
 * - PTR -> bigint (an address means nothing to JS but round-trips).
 * - STRUCT -> object keyed by member name; members of anonymous struct/union members are merged
 *   into the parent (C's access path). Bitfields decode to number (bigint past 53 bits).
 *   Encode fills missing members with zero.
 * - UNION -> object with every named member decoded over the same bytes; encode writes the
 *   members present smallest first (the largest wins where it has fields), so `{ member: v }`
 *   picks one and a decoded union re-encodes as it was.
 * - ARRAY of a 1-byte char INT (C `char name[N]`) -> string up to the first NUL (the C view of a
 *   name buffer) when the bytes are valid UTF-8 and only NULs follow the first NUL; otherwise an
 *   array of numbers (as bpftool prints it), so decoding never loses bytes. Encode takes a
 *   string (UTF-8, NUL-padded, must fit), a byte array or an array of numbers.
 *   Other arrays -> JS arrays.
 * - DATASEC -> object keyed by variable name (global data maps).
 * - void / FWD / FUNC / anything without a layout, and type id 0 (no BTF) -> Uint8Array of the raw
 *   bytes. Without BTF, encode also takes a number/bigint for 1/2/4/8-byte sizes.
 */

import type { Btf } from "../elf/btf/btf.js";
import type { BtfMember, BtfType } from "../elf/btf/types.js";
import { BtfError, UsageError } from "../errors.js";

export type BtfValue =
  | number
  | bigint
  | boolean
  | string
  | Uint8Array
  | readonly BtfValue[]
  | { readonly [name: string]: BtfValue };

const CHAR_ENC = 2;
const SIGNED_ENC = 1;
const BOOL_ENC = 4;
const MAX_DEPTH = 64;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const utf8enc = new TextEncoder();

/** How to read one type: the byte order comes from the BTF. */
interface Ctx {
  readonly btf: Btf;
  readonly le: boolean;
}

function readUint(ctx: Ctx, b: Uint8Array, off: number, size: number): bigint {
  let v = 0n;
  for (let i = 0; i < size; i++) {
    const byte = BigInt(b[ctx.le ? off + size - 1 - i : off + i] ?? 0);
    v = (v << 8n) | byte;
  }
  return v;
}

function writeUint(ctx: Ctx, b: Uint8Array, off: number, size: number, value: bigint): void {
  let v = BigInt.asUintN(size * 8, value);
  for (let i = 0; i < size; i++) {
    b[ctx.le ? off + i : off + size - 1 - i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** A bool holds 0 or 1; any other byte (invalid in C) stays a number so nothing is lost. */
function boolOf(raw: bigint): boolean | number {
  return raw === 0n ? false : raw === 1n ? true : Number(raw);
}

function isCharArray(ctx: Ctx, t: BtfType): boolean {
  if (t.kind !== "ARRAY") return false;
  const e = ctx.btf.typeById(ctx.btf.resolve(t.type));
  return e.kind === "INT" && e.size === 1 && ((e.encoding & CHAR_ENC) !== 0 || e.name === "char");
}

function resolved(ctx: Ctx, id: number): BtfType {
  return ctx.btf.typeById(ctx.btf.resolve(id));
}

function sizeOrUndefined(ctx: Ctx, id: number): number | undefined {
  try {
    return ctx.btf.sizeOf(id);
  } catch {
    return undefined;
  }
}

function need(b: Uint8Array, off: number, size: number, id: number): void {
  if (off + size > b.length)
    throw new BtfError(
      "E_VALUE_SHORT",
      `value of ${size} bytes at offset ${off} does not fit in ${b.length}`,
      {
        typeId: id,
      },
    );
}

/** Decode `bytes` (from `offset`) as BTF type `typeId`; typeId 0 gives the bytes themselves. */
export function decodeValue(btf: Btf | undefined, typeId: number, bytes: Uint8Array, offset = 0): BtfValue {
  if (!btf || typeId === 0) return bytes.slice(offset);
  return decodeAt({ btf, le: btf.byteOrder === "le" }, typeId, bytes, offset, 0);
}

function decodeBits(
  ctx: Ctx,
  b: Uint8Array,
  base: number,
  m: BtfMember,
  t: BtfType,
): number | bigint | boolean {
  const bitOff = m.bitOffset;
  const byteOff = base + Math.floor(bitOff / 8);
  const startBit = bitOff % 8;
  const nbytes = Math.ceil((startBit + m.bitfieldSize) / 8);
  // Little endian: bits counted from the least significant end; big endian from the most.
  let raw = 0n;
  if (ctx.le) {
    for (let i = nbytes - 1; i >= 0; i--) raw = (raw << 8n) | BigInt(b[byteOff + i] ?? 0);
    raw >>= BigInt(startBit);
  } else {
    for (let i = 0; i < nbytes; i++) raw = (raw << 8n) | BigInt(b[byteOff + i] ?? 0);
    raw >>= BigInt(nbytes * 8 - startBit - m.bitfieldSize);
  }
  raw = BigInt.asUintN(m.bitfieldSize, raw);
  const signed = (t.kind === "INT" && (t.encoding & SIGNED_ENC) !== 0) || (t.kind === "ENUM" && t.signed);
  if (t.kind === "INT" && (t.encoding & BOOL_ENC) !== 0) return boolOf(raw);
  const v = signed ? BigInt.asIntN(m.bitfieldSize, raw) : raw;
  return m.bitfieldSize <= 53 ? Number(v) : v;
}

function decodeMembers(
  ctx: Ctx,
  members: readonly BtfMember[],
  b: Uint8Array,
  off: number,
  depth: number,
  out: Record<string, BtfValue>,
): void {
  for (const m of members) {
    const mt = resolved(ctx, m.type);
    if (m.bitfieldSize > 0) {
      if (m.name) out[m.name] = decodeBits(ctx, b, off, m, mt);
      continue;
    }
    const at = off + m.bitOffset / 8;
    if (!m.name && (mt.kind === "STRUCT" || mt.kind === "UNION")) {
      decodeMembers(ctx, mt.members, b, at, depth + 1, out);
      continue;
    }
    out[m.name || `__anon${m.bitOffset}`] = decodeAt(ctx, m.type, b, at, depth + 1);
  }
}

function decodeAt(ctx: Ctx, id: number, b: Uint8Array, off: number, depth: number): BtfValue {
  if (depth > MAX_DEPTH) throw new BtfError("E_VALUE_DEPTH", "type nests too deeply", { typeId: id });
  const t = resolved(ctx, id);
  switch (t.kind) {
    case "INT": {
      if (t.bits !== t.size * 8 || t.bitsOffset !== 0) {
        // An INT narrower than its storage (rare outside bitfields): read it as a bitfield.
        need(b, off, t.size, id);
        return decodeBits(
          ctx,
          b,
          off,
          { name: "", type: t.id, bitOffset: t.bitsOffset, bitfieldSize: t.bits },
          t,
        );
      }
      need(b, off, t.size, id);
      const raw = readUint(ctx, b, off, t.size);
      if ((t.encoding & BOOL_ENC) !== 0) return boolOf(raw);
      const v = (t.encoding & SIGNED_ENC) !== 0 ? BigInt.asIntN(t.size * 8, raw) : raw;
      return t.size <= 4 ? Number(v) : v;
    }
    case "ENUM": {
      need(b, off, t.size, id);
      const raw = readUint(ctx, b, off, t.size);
      return Number(t.signed ? BigInt.asIntN(t.size * 8, raw) : raw);
    }
    case "ENUM64": {
      need(b, off, t.size, id);
      const raw = readUint(ctx, b, off, t.size);
      return t.signed ? BigInt.asIntN(t.size * 8, raw) : raw;
    }
    case "FLOAT": {
      need(b, off, t.size, id);
      const dv = new DataView(b.buffer, b.byteOffset + off, t.size);
      if (t.size === 4) return dv.getFloat32(0, ctx.le);
      if (t.size === 8) return dv.getFloat64(0, ctx.le);
      return b.slice(off, off + t.size);
    }
    case "PTR":
      need(b, off, ctx.btf.pointerSize, id);
      return readUint(ctx, b, off, ctx.btf.pointerSize);
    case "ARRAY": {
      const esize = ctx.btf.sizeOf(t.type);
      need(b, off, esize * t.nelems, id);
      if (isCharArray(ctx, t)) {
        // A C string when it is one (valid UTF-8, nothing but NULs after the first NUL), so
        // the value round-trips; otherwise the bytes as numbers, as bpftool prints them.
        const s = b.subarray(off, off + t.nelems);
        const end = s.indexOf(0);
        const text = end < 0 ? s : s.subarray(0, end);
        if (end < 0 || s.subarray(end).every((x) => x === 0)) {
          try {
            return strictUtf8.decode(text);
          } catch {
            // not UTF-8: fall through to numbers
          }
        }
        const elem = resolved(ctx, t.type);
        const signed = elem.kind === "INT" && (elem.encoding & SIGNED_ENC) !== 0;
        return [...s].map((x) => (signed ? (x << 24) >> 24 : x));
      }
      const out: BtfValue[] = [];
      for (let i = 0; i < t.nelems; i++) out.push(decodeAt(ctx, t.type, b, off + i * esize, depth + 1));
      return out;
    }
    case "STRUCT":
    case "UNION": {
      need(b, off, t.size, id);
      const out: Record<string, BtfValue> = {};
      decodeMembers(ctx, t.members, b, off, depth, out);
      return out;
    }
    case "DATASEC": {
      const out: Record<string, BtfValue> = {};
      for (const v of t.vars) {
        const vt = ctx.btf.typeById(v.type);
        const name = vt.name || `__var${v.offset}`;
        out[name] = decodeAt(ctx, vt.kind === "VAR" ? vt.type : v.type, b, off + v.offset, depth + 1);
      }
      return out;
    }
    case "VAR":
      return decodeAt(ctx, t.type, b, off, depth + 1);
    default: {
      const size = sizeOrUndefined(ctx, id);
      return b.slice(off, size === undefined ? b.length : off + size);
    }
  }
}

// ------------------------------------------------------------------------------------ encode

function bad(id: number, what: string): never {
  throw new UsageError("E_VALUE_TYPE", `type [${id}]: ${what}`);
}

function toBig(id: number, v: unknown, names?: readonly { name: string; value: number | bigint }[]): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "number") {
    if (!Number.isInteger(v)) bad(id, `${v} is not an integer`);
    return BigInt(v);
  }
  if (typeof v === "boolean") return v ? 1n : 0n;
  if (typeof v === "string") {
    const e = names?.find((n) => n.name === v);
    if (e) return BigInt(e.value);
    const s = v.trim();
    if (/^[-+]?(0x[0-9a-f]+|0o[0-7]+|0b[01]+|\d+)$/i.test(s)) {
      const neg = s.startsWith("-");
      const body = s.replace(/^[-+]/, "");
      const n = BigInt(body);
      return neg ? -n : n;
    }
    if (s === "true" || s === "y") return 1n;
    if (s === "false" || s === "n") return 0n;
    bad(
      id,
      `'${v}' is not a number${names ? ` or enumerator (${names.map((n) => n.name).join(", ")})` : ""}`,
    );
  }
  return bad(id, `expected a number, got ${describe(v)}`);
}

function describe(v: unknown): string {
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (Array.isArray(v)) return "an array";
  return typeof v;
}

function checkRange(id: number, v: bigint, bits: number, signed: boolean): bigint {
  const min = signed ? -(1n << BigInt(bits - 1)) : -(1n << BigInt(bits - 1));
  const max = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
  // Unsigned fields also take negative numbers (two's complement), as C assignment does.
  if (v < min || v > max) bad(id, `${v} does not fit in ${bits} bits`);
  return v;
}

/** Encode `value` as BTF type `typeId` into a new buffer of the type's size (or `size` without BTF). */
export function encodeValue(btf: Btf | undefined, typeId: number, value: unknown, size?: number): Uint8Array {
  if (!btf || typeId === 0) return encodeRaw(value, size ?? 0);
  const n = size ?? btf.sizeOf(typeId);
  const out = new Uint8Array(n);
  encodeInto(btf, typeId, value, out, 0);
  return out;
}

/** Encode into an existing buffer at `offset` (global variables in a data section). */
export function encodeInto(btf: Btf, typeId: number, value: unknown, out: Uint8Array, offset: number): void {
  encodeAt({ btf, le: btf.byteOrder === "le" }, typeId, value, out, offset, 0);
}

function encodeRaw(value: unknown, size: number): Uint8Array {
  if (value instanceof Uint8Array) {
    if (size && value.length !== size) bad(0, `expected ${size} bytes, got ${value.length}`);
    return value.slice();
  }
  if (Array.isArray(value) && value.every((x) => typeof x === "number"))
    return encodeRaw(Uint8Array.from(value), size);
  if (
    (typeof value === "number" || typeof value === "bigint" || typeof value === "string") &&
    [1, 2, 4, 8].includes(size)
  ) {
    const out = new Uint8Array(size);
    writeUint({ btf: undefined as unknown as Btf, le: true }, out, 0, size, toBig(0, value));
    return out;
  }
  return bad(0, `without BTF a value must be ${size} bytes, got ${describe(value)}`);
}

function writeBits(ctx: Ctx, b: Uint8Array, base: number, m: BtfMember, v: bigint): void {
  const startBit = m.bitOffset % 8;
  const byteOff = base + Math.floor(m.bitOffset / 8);
  const nbytes = Math.ceil((startBit + m.bitfieldSize) / 8);
  const mask = (1n << BigInt(m.bitfieldSize)) - 1n;
  const val = BigInt.asUintN(m.bitfieldSize, v);
  let raw = 0n;
  if (ctx.le) {
    for (let i = nbytes - 1; i >= 0; i--) raw = (raw << 8n) | BigInt(b[byteOff + i] ?? 0);
    const sh = BigInt(startBit);
    raw = (raw & ~(mask << sh)) | (val << sh);
    for (let i = 0; i < nbytes; i++) {
      b[byteOff + i] = Number(raw & 0xffn);
      raw >>= 8n;
    }
  } else {
    for (let i = 0; i < nbytes; i++) raw = (raw << 8n) | BigInt(b[byteOff + i] ?? 0);
    const sh = BigInt(nbytes * 8 - startBit - m.bitfieldSize);
    raw = (raw & ~(mask << sh)) | (val << sh);
    for (let i = nbytes - 1; i >= 0; i--) {
      b[byteOff + i] = Number(raw & 0xffn);
      raw >>= 8n;
    }
  }
}

function encodeMembers(
  ctx: Ctx,
  id: number,
  members: readonly BtfMember[],
  obj: Record<string, unknown>,
  b: Uint8Array,
  off: number,
  depth: number,
  used: Set<string>,
  union: boolean,
): void {
  let chosen = members;
  if (union) {
    // Members of a union overlay each other and a decoded union carries all of them: write
    // the smallest first, so the largest has the last word where it has fields and the others
    // keep the bytes that are its padding.
    const size = (m: BtfMember): number => (m.bitfieldSize > 0 ? 0 : (sizeOrUndefined(ctx, m.type) ?? 0));
    chosen = members
      .map((m, i) => [m, i] as const)
      .sort((a, c) => size(a[0]) - size(c[0]) || a[1] - c[1])
      .map(([m]) => m);
  }
  for (const m of chosen) {
    const mt = resolved(ctx, m.type);
    if (!m.name && m.bitfieldSize === 0 && (mt.kind === "STRUCT" || mt.kind === "UNION")) {
      encodeMembers(ctx, id, mt.members, obj, b, off + m.bitOffset / 8, depth + 1, used, mt.kind === "UNION");
      continue;
    }
    const key = m.name || `__anon${m.bitOffset}`;
    if (!(key in obj)) continue;
    used.add(key);
    if (m.bitfieldSize > 0) {
      const signed = mt.kind === "INT" && (mt.encoding & SIGNED_ENC) !== 0;
      writeBits(ctx, b, off, m, checkRange(id, toBig(id, obj[key]), m.bitfieldSize, signed));
    } else encodeAt(ctx, m.type, obj[key], b, off + m.bitOffset / 8, depth + 1);
  }
}

function encodeAt(ctx: Ctx, id: number, v: unknown, b: Uint8Array, off: number, depth: number): void {
  if (depth > MAX_DEPTH) throw new BtfError("E_VALUE_DEPTH", "type nests too deeply", { typeId: id });
  const t = resolved(ctx, id);
  if (v instanceof Uint8Array && t.kind !== "ARRAY") {
    const size = sizeOrUndefined(ctx, id) ?? v.length;
    if (v.length !== size) bad(id, `expected ${size} bytes for ${ctx.btf.typeString(id)}, got ${v.length}`);
    need(b, off, size, id);
    b.set(v, off);
    return;
  }
  switch (t.kind) {
    case "INT": {
      need(b, off, t.size, id);
      const signed = (t.encoding & SIGNED_ENC) !== 0;
      writeUint(ctx, b, off, t.size, checkRange(id, toBig(id, v), t.bits || t.size * 8, signed));
      return;
    }
    case "ENUM":
    case "ENUM64": {
      need(b, off, t.size, id);
      writeUint(ctx, b, off, t.size, checkRange(id, toBig(id, v, t.values), t.size * 8, t.signed));
      return;
    }
    case "FLOAT": {
      need(b, off, t.size, id);
      const dv = new DataView(b.buffer, b.byteOffset + off, t.size);
      const x = typeof v === "string" ? Number(v) : v;
      if (typeof x !== "number" || (Number.isNaN(x) && typeof v === "string"))
        bad(id, `expected a float, got ${describe(v)}`);
      if (t.size === 4) dv.setFloat32(0, x as number, ctx.le);
      else if (t.size === 8) dv.setFloat64(0, x as number, ctx.le);
      else bad(id, `float of ${t.size} bytes`);
      return;
    }
    case "PTR":
      need(b, off, ctx.btf.pointerSize, id);
      writeUint(ctx, b, off, ctx.btf.pointerSize, toBig(id, v));
      return;
    case "ARRAY": {
      const esize = ctx.btf.sizeOf(t.type);
      need(b, off, esize * t.nelems, id);
      if (isCharArray(ctx, t) && (typeof v === "string" || v instanceof Uint8Array)) {
        const bytes = typeof v === "string" ? utf8enc.encode(v) : v;
        if (bytes.length > t.nelems)
          bad(id, `'${typeof v === "string" ? v : "bytes"}' is longer than ${t.nelems} bytes`);
        b.fill(0, off, off + t.nelems);
        b.set(bytes, off);
        return;
      }
      if (v instanceof Uint8Array && esize === 1) {
        if (v.length !== t.nelems) bad(id, `expected ${t.nelems} bytes, got ${v.length}`);
        b.set(v, off);
        return;
      }
      if (!Array.isArray(v)) bad(id, `expected an array of ${t.nelems}, got ${describe(v)}`);
      if (v.length > t.nelems) bad(id, `array of ${v.length} elements does not fit in ${t.nelems}`);
      v.forEach((x, i) => {
        encodeAt(ctx, t.type, x, b, off + i * esize, depth + 1);
      });
      return;
    }
    case "STRUCT":
    case "UNION":
    case "DATASEC": {
      if (typeof v !== "object" || v === null || Array.isArray(v))
        bad(id, `expected an object for ${ctx.btf.typeString(id)}, got ${describe(v)}`);
      const obj = v as Record<string, unknown>;
      const used = new Set<string>();
      if (t.kind === "DATASEC") {
        for (const sv of t.vars) {
          const vt = ctx.btf.typeById(sv.type);
          if (vt.kind !== "VAR" || !(vt.name in obj)) continue;
          used.add(vt.name);
          encodeAt(ctx, vt.type, obj[vt.name], b, off + sv.offset, depth + 1);
        }
      } else encodeMembers(ctx, id, t.members, obj, b, off, depth, used, t.kind === "UNION");
      const extra = Object.keys(obj).filter((k) => !used.has(k));
      if (extra.length > 0) bad(id, `${ctx.btf.typeString(id)} has no member '${extra[0]}'`);
      return;
    }
    case "VAR":
      encodeAt(ctx, t.type, v, b, off, depth + 1);
      return;
    default:
      bad(id, `cannot encode a ${ctx.btf.typeString(id)} from ${describe(v)}; give its bytes`);
  }
}

/**
 * Parse a command-line text (`--set VAR=VALUE`, `map update` keys) for a BTF type: integers in
 * decimal/hex, enumerator names, true/false, strings for char arrays, JSON for structs/arrays.
 */
export function parseValueText(btf: Btf | undefined, typeId: number, text: string): unknown {
  if (!btf || typeId === 0) {
    if (
      /^(0x)?[0-9a-f]+$/i.test(text) &&
      text.length % 2 === 0 &&
      text.startsWith("0x") === false &&
      text.length > 16
    )
      return Uint8Array.from(Buffer.from(text, "hex"));
    return text;
  }
  const t = btf.typeById(btf.resolve(typeId));
  if (t.kind === "ARRAY" && isCharArray({ btf, le: true }, t)) return text;
  if (t.kind === "STRUCT" || t.kind === "UNION" || t.kind === "ARRAY" || t.kind === "DATASEC") {
    try {
      return JSON.parse(text, (_k, x) =>
        typeof x === "string" && /^-?\d+n$/.test(x) ? BigInt(x.slice(0, -1)) : x,
      );
    } catch {
      return bad(typeId, `'${text}' is not JSON for ${btf.typeString(typeId)}`);
    }
  }
  return text;
}

/** JSON.stringify replacer-friendly form: bigints as decimal strings, bytes as hex. */
export function toJsonValue(v: BtfValue): unknown {
  if (typeof v === "bigint")
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(v)
      : v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toJsonValue(x as BtfValue);
    return out;
  }
  return v;
}

/** One-line text form, as bpftool's formatted dump would show it. */
export function formatValue(v: BtfValue): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Uint8Array) return [...v].map((x) => x.toString(16).padStart(2, "0")).join(" ");
  if (Array.isArray(v)) return `[${v.map(formatValue).join(", ")}]`;
  if (typeof v === "object")
    return `{${Object.entries(v)
      .map(([k, x]) => `${k}: ${formatValue(x as BtfValue)}`)
      .join(", ")}}`;
  return String(v);
}
