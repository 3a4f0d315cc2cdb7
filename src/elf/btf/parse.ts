/**
 * BTF parsing. The type section is copied once into a host-order Uint32Array (every field of every
 * BTF record is a 32-bit word), with a per-type word offset table; type objects are built only on
 * demand. Everything that indexes (string offsets, type references, record lengths) is checked
 * here, so later walks over the words never read out of range.
 */
import { BtfError } from "../../errors.js";
import { type Btf, BtfImpl } from "./btf.js";
import { BTF_HEADER_MIN, BTF_KIND_MAX, BTF_MAGIC, BtfKind } from "./types.js";

export interface ParseBtfOptions {
  /** Base BTF for split BTF (e.g. vmlinux for a kernel module's BTF). */
  readonly base?: Btf;
  /** Pointer size to assume (libbpf takes it from the ELF class); guessed from `long` otherwise. */
  readonly pointerSize?: 4 | 8;
}

const HOST_LITTLE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Words each record of a kind takes after its 3-word header: [fixed, per vlen entry]. */
const EXTRA_WORDS: readonly (readonly [number, number])[] = [
  [0, 0], // VOID (never in the type section)
  [1, 0], // INT
  [0, 0], // PTR
  [3, 0], // ARRAY
  [0, 3], // STRUCT
  [0, 3], // UNION
  [0, 2], // ENUM
  [0, 0], // FWD
  [0, 0], // TYPEDEF
  [0, 0], // VOLATILE
  [0, 0], // CONST
  [0, 0], // RESTRICT
  [0, 0], // FUNC
  [0, 2], // FUNC_PROTO
  [1, 0], // VAR
  [0, 3], // DATASEC
  [0, 0], // FLOAT
  [1, 0], // DECL_TAG
  [0, 0], // TYPE_TAG
  [0, 3], // ENUM64
];

export function parseBtf(bytes: Uint8Array, opts: ParseBtfOptions = {}): Btf {
  const base = opts.base as BtfImpl | undefined;
  if (bytes.length < BTF_HEADER_MIN) {
    throw new BtfError("BTF_TRUNCATED_HEADER", `truncated BTF header: ${bytes.length} bytes, need 24`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let little: boolean;
  const magicLe = view.getUint16(0, true);
  if (magicLe === BTF_MAGIC) little = true;
  else if (view.getUint16(0, false) === BTF_MAGIC) little = false;
  else {
    throw new BtfError("BTF_BAD_MAGIC", `bad BTF magic 0x${magicLe.toString(16).padStart(4, "0")}`);
  }
  const hdrLen = view.getUint32(4, little);
  const typeOff = view.getUint32(8, little);
  const typeLen = view.getUint32(12, little);
  const strOff = view.getUint32(16, little);
  const strLen = view.getUint32(20, little);
  if (hdrLen < BTF_HEADER_MIN) {
    throw new BtfError("BTF_BAD_HEADER", `BTF header length ${hdrLen} is less than 24`);
  }
  if (hdrLen > bytes.length) {
    throw new BtfError("BTF_BAD_HEADER", `BTF header length ${hdrLen} larger than data size ${bytes.length}`);
  }
  const metaLeft = bytes.length - hdrLen;
  if (strOff + strLen > metaLeft) {
    throw new BtfError(
      "BTF_BAD_HEADER",
      `string section at ${strOff} + ${strLen} exceeds BTF data (${metaLeft} bytes after header)`,
    );
  }
  if (typeOff + typeLen > strOff) {
    throw new BtfError(
      "BTF_BAD_HEADER",
      `invalid BTF section layout: type data at ${typeOff} + ${typeLen}, strings at ${strOff} + ${strLen}`,
    );
  }
  if (typeOff % 4 !== 0) {
    throw new BtfError("BTF_BAD_HEADER", `BTF type section offset ${typeOff} is not aligned to 4 bytes`);
  }

  // Strings.
  const strStart = hdrLen + strOff;
  const strings = bytes.subarray(strStart, strStart + strLen);
  if (!(base && strLen === 0)) {
    if (strLen === 0 || strings[strLen - 1] !== 0) {
      throw new BtfError("BTF_BAD_STRINGS", "invalid BTF string section: empty or not NUL-terminated");
    }
    if (!base && strings[0] !== 0) {
      throw new BtfError(
        "BTF_BAD_STRINGS",
        "invalid BTF string section: does not start with an empty string",
      );
    }
  }

  // Types: copy into host-order words.
  const typeStart = hdrLen + typeOff;
  const nWords = typeLen >>> 2;
  let words: Uint32Array;
  if (little === HOST_LITTLE && (bytes.byteOffset + typeStart) % 4 === 0) {
    words = new Uint32Array(nWords);
    words.set(new Uint32Array(bytes.buffer, bytes.byteOffset + typeStart, nWords));
  } else {
    words = new Uint32Array(nWords);
    for (let i = 0; i < nWords; i++) words[i] = view.getUint32(typeStart + i * 4, little);
  }
  const startId = base ? base.typeCount : 1;
  const startStrOff = base ? base.stringsLength : 0;
  let offs = new Uint32Array(Math.max(16, (nWords / 4) | 0));
  let n = 0;
  let p = 0;
  const typeLenWords = typeLen / 4;
  while (p + 3 <= typeLenWords) {
    const info = words[p + 1];
    const kind = (info >>> 24) & 0x1f;
    const id = startId + n;
    if (kind === 0 || kind > BTF_KIND_MAX) {
      throw new BtfError("BTF_UNKNOWN_KIND", `unsupported BTF kind ${kind}`, { typeId: id });
    }
    const ex = EXTRA_WORDS[kind];
    const vlen = info & 0xffff;
    const size = 3 + ex[0] + ex[1] * vlen;
    if (p + size > typeLenWords) {
      throw new BtfError(
        "BTF_TRUNCATED_TYPE",
        `${vlen > 0 ? `vlen ${vlen} overflows` : "record truncated by"} the end of the type section`,
        { typeId: id },
      );
    }
    if (n === offs.length) {
      const grown = new Uint32Array(offs.length * 2);
      grown.set(offs);
      offs = grown;
    }
    offs[n++] = p;
    p += size;
  }
  if (p * 4 !== typeLen) {
    throw new BtfError("BTF_TRAILING_DATA", `BTF types data is malformed: ${typeLen - p * 4} trailing bytes`);
  }
  offs = offs.slice(0, n);
  const btf = new BtfImpl({
    base,
    byteOrder: little ? "le" : "be",
    words,
    offs,
    strings,
    startId,
    startStrOff,
    pointerSize: opts.pointerSize,
  });
  validateRefs(words, offs, startId, startId + n, startStrOff + strLen);
  return btf;
}

/** Every type reference and name offset must point inside this BTF (plus its base). */
function validateRefs(
  words: Uint32Array,
  offs: Uint32Array,
  startId: number,
  typeCount: number,
  strTotal: number,
): void {
  const badName = (id: number, off: number, what: string): never => {
    throw new BtfError(
      "BTF_BAD_STRING_OFFSET",
      `${what} name offset ${off} out of range (string section is ${strTotal} bytes)`,
      { typeId: id },
    );
  };
  const badRef = (id: number, ref: number, what: string): never => {
    throw new BtfError(
      "BTF_BAD_TYPE_REF",
      `${what} type id ${ref} out of range (last type id is ${typeCount - 1})`,
      { typeId: id },
    );
  };
  for (let i = 0; i < offs.length; i++) {
    const id = startId + i;
    const p = offs[i];
    const nameOff = words[p];
    if (nameOff >= strTotal) badName(id, nameOff, "type");
    const info = words[p + 1];
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const t = words[p + 2];
    switch (kind) {
      case BtfKind.PTR:
      case BtfKind.TYPEDEF:
      case BtfKind.VOLATILE:
      case BtfKind.CONST:
      case BtfKind.RESTRICT:
      case BtfKind.FUNC:
      case BtfKind.VAR:
      case BtfKind.DECL_TAG:
      case BtfKind.TYPE_TAG:
      case BtfKind.FUNC_PROTO:
        if (t >= typeCount) badRef(id, t, "referenced");
        break;
      case BtfKind.ARRAY:
        if (words[p + 3] >= typeCount) badRef(id, words[p + 3], "element");
        if (words[p + 4] >= typeCount) badRef(id, words[p + 4], "index");
        break;
      default:
        break;
    }
    switch (kind) {
      case BtfKind.STRUCT:
      case BtfKind.UNION:
        for (let j = 0, q = p + 3; j < vlen; j++, q += 3) {
          if (words[q] >= strTotal) badName(id, words[q], `member ${j}`);
          if (words[q + 1] >= typeCount) badRef(id, words[q + 1], `member ${j}`);
        }
        break;
      case BtfKind.ENUM:
        for (let j = 0, q = p + 3; j < vlen; j++, q += 2) {
          if (words[q] >= strTotal) badName(id, words[q], `enumerator ${j}`);
        }
        break;
      case BtfKind.ENUM64:
        for (let j = 0, q = p + 3; j < vlen; j++, q += 3) {
          if (words[q] >= strTotal) badName(id, words[q], `enumerator ${j}`);
        }
        break;
      case BtfKind.FUNC_PROTO:
        for (let j = 0, q = p + 3; j < vlen; j++, q += 2) {
          if (words[q] >= strTotal) badName(id, words[q], `parameter ${j}`);
          if (words[q + 1] >= typeCount) badRef(id, words[q + 1], `parameter ${j}`);
        }
        break;
      case BtfKind.DATASEC:
        for (let j = 0, q = p + 3; j < vlen; j++, q += 3) {
          if (words[q] >= typeCount) badRef(id, words[q], `variable ${j}`);
        }
        break;
      default:
        break;
    }
  }
}
