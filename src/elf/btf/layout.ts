/**
 * Sizes, alignments and modifier resolution, following the C layout rules libbpf applies to BTF
 * (a struct whose members are not naturally aligned, or whose size is not a multiple of its
 * alignment, must have been packed: alignment 1). Every walk is bounded, so a malformed type
 * graph with cycles ends in a BtfError instead of a hang or a stack overflow.
 */
import { BtfError } from "../../errors.js";
import type { BtfImpl } from "./btf.js";
import { BtfKind } from "./types.js";

const LONG_NAMES: ReadonlySet<string> = new Set([
  "long",
  "long int",
  "int long",
  "unsigned long",
  "long unsigned",
  "unsigned long int",
  "unsigned int long",
  "long unsigned int",
  "long int unsigned",
  "int unsigned long",
  "int long unsigned",
]);

/** Pointer size guessed from the first 4- or 8-byte `long` integer; 8 (the host's) if none. */
export function pointerSize(btf: BtfImpl): number {
  for (let id = 1; id < btf.typeCount; id++) {
    if (btf.kindOf(id) !== BtfKind.INT) continue;
    const size = btf.word(id, 2);
    if (size !== 4 && size !== 8) continue;
    if (LONG_NAMES.has(btf.nameOf(id))) return size;
  }
  return 8;
}

function cycle(id: number): never {
  throw new BtfError("BTF_TYPE_CYCLE", "type reference cycle", { typeId: id });
}

function isModOrTypedef(kind: number): boolean {
  return (
    kind === BtfKind.TYPEDEF ||
    kind === BtfKind.CONST ||
    kind === BtfKind.VOLATILE ||
    kind === BtfKind.RESTRICT ||
    kind === BtfKind.TYPE_TAG
  );
}

export function resolve(btf: BtfImpl, id: number): number {
  const start = id;
  for (let steps = 0; isModOrTypedef(btf.kindOf(id)); steps++) {
    if (steps > btf.typeCount) cycle(start);
    id = btf.word(id, 2);
  }
  return id;
}

/**
 * libbpf's size resolution: follows typedefs, modifiers, vars and decl tags, multiplies array
 * lengths. Returns -1 for unsized types (void, fwd, func...) or more than `maxDepth` steps,
 * -2 when the size overflows 32 bits.
 */
export function resolveSize(btf: BtfImpl, id: number, maxDepth: number): number {
  let nelems = 1;
  let size = -1;
  for (let i = 0; i < maxDepth; i++) {
    if (id === 0) break;
    const kind = btf.kindOf(id);
    if (kind === BtfKind.FWD) break;
    switch (kind) {
      case BtfKind.INT:
      case BtfKind.STRUCT:
      case BtfKind.UNION:
      case BtfKind.ENUM:
      case BtfKind.ENUM64:
      case BtfKind.DATASEC:
      case BtfKind.FLOAT:
        size = btf.word(id, 2);
        break;
      case BtfKind.PTR:
        size = btf.pointerSize;
        break;
      case BtfKind.TYPEDEF:
      case BtfKind.VOLATILE:
      case BtfKind.CONST:
      case BtfKind.RESTRICT:
      case BtfKind.VAR:
      case BtfKind.DECL_TAG:
      case BtfKind.TYPE_TAG:
        id = btf.word(id, 2);
        continue;
      case BtfKind.ARRAY: {
        const n = btf.word(id, 5);
        if (nelems && n > Math.floor(0xffffffff / nelems)) return -2;
        nelems *= n;
        id = btf.word(id, 3);
        continue;
      }
      default:
        return -1;
    }
    break;
  }
  if (size < 0) return -1;
  if (nelems && size > Math.floor(0xffffffff / nelems)) return -2;
  return nelems * size;
}

export function sizeOf(btf: BtfImpl, id: number): number {
  const size = resolveSize(btf, id, btf.typeCount + 1);
  if (size === -2) throw new BtfError("BTF_SIZE_OVERFLOW", "size does not fit in 32 bits", { typeId: id });
  if (size < 0) {
    // Either unsized or a cycle through typedefs/modifiers (the walk above is bounded).
    const kind = btf.kindOf(resolveLoose(btf, id));
    if (kind === BtfKind.TYPEDEF || kind === BtfKind.CONST || kind === BtfKind.VOLATILE) cycle(id);
    throw new BtfError("BTF_UNSIZED", "type has no size", { typeId: id });
  }
  return size;
}

/** Like resolve but stops (instead of throwing) after typeCount steps. */
function resolveLoose(btf: BtfImpl, id: number): number {
  for (let steps = 0; steps <= btf.typeCount && isModOrTypedef(btf.kindOf(id)); steps++) id = btf.word(id, 2);
  return id;
}

/** libbpf's btf__align_of; 0 for types without alignment (void, fwd, func, var...). */
export function alignOf(btf: BtfImpl, id: number): number {
  const start = id;
  for (let steps = 0; ; steps++) {
    if (steps > btf.typeCount) cycle(start);
    const kind = btf.kindOf(id);
    switch (kind) {
      case BtfKind.INT:
      case BtfKind.ENUM:
      case BtfKind.ENUM64:
      case BtfKind.FLOAT:
        return Math.min(btf.pointerSize, btf.word(id, 2));
      case BtfKind.PTR:
        return btf.pointerSize;
      case BtfKind.TYPEDEF:
      case BtfKind.VOLATILE:
      case BtfKind.CONST:
      case BtfKind.RESTRICT:
      case BtfKind.TYPE_TAG:
        id = btf.word(id, 2);
        continue;
      case BtfKind.ARRAY:
        id = btf.word(id, 3);
        continue;
      case BtfKind.STRUCT:
      case BtfKind.UNION:
        return structAlign(btf, id);
      default:
        return 0;
    }
  }
}

function structAlign(btf: BtfImpl, id: number): number {
  let cache = btf.alignCache;
  if (!cache) {
    cache = new Int32Array(btf.typeCount);
    btf.alignCache = cache;
  }
  const c = cache[id];
  if (c > 0) return c - 1;
  if (c === -1) throw new BtfError("BTF_TYPE_CYCLE", "struct/union contains itself", { typeId: id });
  cache[id] = -1;
  const result = computeStructAlign(btf, id);
  cache[id] = result + 1;
  return result;
}

function computeStructAlign(btf: BtfImpl, id: number): number {
  const vlen = btf.vlenOf(id);
  const kflag = btf.kindFlagOf(id);
  let maxAlign = 1;
  for (let i = 0; i < vlen; i++) {
    const mtype = btf.word(id, 3 + i * 3 + 1);
    const moff = btf.word(id, 3 + i * 3 + 2);
    const align = alignOf(btf, mtype);
    if (align <= 0) return align;
    if (align > maxAlign) maxAlign = align;
    const bitSize = kflag ? moff >>> 24 : 0;
    const bitOff = kflag ? moff & 0xffffff : moff;
    if (bitSize === 0 && bitOff % (8 * align) !== 0) return 1;
  }
  if (btf.word(id, 2) % maxAlign !== 0) return 1;
  return maxAlign;
}
