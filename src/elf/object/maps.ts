/**
 * Map definitions, in libbpf's order: BTF-defined maps of `.maps` (DATASEC order), the legacy
 * `maps` section (struct bpf_map_def, which libbpf >= 1.0 refuses but other loaders accept),
 * then one array map per global data section (`.rodata*`, `.data*`, `.bss*`, in section order)
 * and the `.kconfig` map when there are kconfig externs.
 */
import { mapTypeById } from "../../abi/map-types.js";
import type { Btf } from "../btf/btf.js";
import type { BtfComposite, BtfType } from "../btf/types.js";
import { ELF, type ElfSection } from "../types.js";
import { OBJECT_ERROR, type ObjectContext, objError, u32 } from "./context.js";
import type { MapOrigin, MapSpec } from "./types.js";

export const MAP_TYPE = { PROG_ARRAY: 3, ARRAY_OF_MAPS: 12, HASH_OF_MAPS: 13, ARRAY: 2 } as const;
export const BPF_F_RDONLY_PROG = 0x80;
export const BPF_F_MMAPABLE = 0x400;
const BPF_OBJ_NAME_LEN = 16;

/** libbpf's internal_map_name: up to 8 characters of the object name, then the section name. */
export function internalMapName(objName: string, section: string): string {
  const sfxLen = Math.max(7, section.length);
  const pfxLen =
    sfxLen >= BPF_OBJ_NAME_LEN || section.indexOf(".", 1) >= 0
      ? 0
      : Math.min(BPF_OBJ_NAME_LEN - sfxLen - 1, objName.length);
  const name = (objName.slice(0, pfxLen) + section.slice(0, sfxLen)).slice(0, BPF_OBJ_NAME_LEN - 1);
  return name.replace(/[^A-Za-z0-9_.]/g, "_");
}

/** Kind of global data a section holds, as libbpf classifies sections; undefined for others. */
export function dataSectionKind(s: ElfSection): "data" | "rodata" | "bss" | undefined {
  if ((s.flags & ELF.SHF_EXECINSTR) !== 0n) return undefined;
  const is = (base: string): boolean => s.name === base || s.name.startsWith(`${base}.`);
  if (s.type === ELF.SHT_PROGBITS && is(".data")) return "data";
  if (s.type === ELF.SHT_PROGBITS && is(".rodata")) return "rodata";
  if (s.type === ELF.SHT_NOBITS && is(".bss")) return "bss";
  return undefined;
}

function typeName(type: number): string {
  return mapTypeById(type)?.name ?? `type_${type}`;
}

interface Def {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  numaNode: number;
  pinning: number;
  mapExtra: bigint;
  keyTypeId: number;
  valueTypeId: number;
  inner?: MapSpec;
  valuesOffset?: number;
}

function emptyDef(): Def {
  return {
    type: 0,
    keySize: 0,
    valueSize: 0,
    maxEntries: 0,
    flags: 0,
    numaNode: 0,
    pinning: 0,
    mapExtra: 0n,
    keyTypeId: 0,
    valueTypeId: 0,
  };
}

/** Skip typedefs and modifiers to the type object. */
function skip(btf: Btf, id: number): BtfType {
  return btf.typeById(btf.resolve(id));
}

/** Parse one BTF map definition struct (libbpf's parse_btf_map_def). */
function parseDef(ctx: ObjectContext, btf: Btf, mapName: string, typeId: number, inner: boolean): Def {
  const bad = (msg: string): never => {
    throw objError(ctx, OBJECT_ERROR.MAP_DEF, `map '${mapName}': ${msg}`, ".maps");
  };
  const st = skip(btf, typeId);
  if (st.kind !== "STRUCT") bad(`definition must be a struct, is ${st.kind}`);
  const def = emptyDef();
  // `__uint(name, N)` is `int (*name)[N]`: the value is the array's element count.
  const intField = (m: BtfComposite["members"][number]): number => {
    const p = skip(btf, m.type);
    if (p.kind !== "PTR") return bad(`attr '${m.name}': expected PTR, got ${p.kind}`);
    const a = skip(btf, p.type);
    if (a.kind !== "ARRAY") return bad(`attr '${m.name}': expected ARRAY, got ${a.kind}`);
    return a.nelems;
  };
  const typeField = (m: BtfComposite["members"][number]): [number, number] => {
    const p = skip(btf, m.type);
    if (p.kind !== "PTR") return bad(`${m.name} spec is not PTR: ${p.kind}`);
    try {
      return [p.type, btf.sizeOf(p.type)];
    } catch {
      return bad(`can't determine ${m.name} size for type [${p.type}]`);
    }
  };
  for (const m of (st as BtfComposite).members) {
    switch (m.name) {
      case "type":
        def.type = intField(m);
        break;
      case "max_entries":
        def.maxEntries = intField(m);
        break;
      case "map_flags":
        def.flags = intField(m);
        break;
      case "numa_node":
        def.numaNode = intField(m);
        break;
      case "map_extra":
        def.mapExtra = BigInt(intField(m));
        break;
      case "pinning":
        if (inner) bad("inner def can't be pinned");
        def.pinning = intField(m);
        if (def.pinning > 1) bad(`invalid pinning value ${def.pinning}`);
        break;
      case "key_size": {
        const sz = intField(m);
        if (def.keySize && def.keySize !== sz) bad(`conflicting key size ${def.keySize} != ${sz}`);
        def.keySize = sz;
        break;
      }
      case "value_size": {
        const sz = intField(m);
        if (def.valueSize && def.valueSize !== sz) bad(`conflicting value size ${def.valueSize} != ${sz}`);
        def.valueSize = sz;
        break;
      }
      case "key": {
        const [id, sz] = typeField(m);
        if (def.keySize && def.keySize !== sz) bad(`conflicting key size ${def.keySize} != ${sz}`);
        def.keyTypeId = id;
        def.keySize = sz;
        break;
      }
      case "value": {
        const [id, sz] = typeField(m);
        if (def.valueSize && def.valueSize !== sz) bad(`conflicting value size ${def.valueSize} != ${sz}`);
        def.valueTypeId = id;
        def.valueSize = sz;
        break;
      }
      case "values": {
        if (inner) bad("multi-level inner maps not supported");
        const isMapInMap = def.type === MAP_TYPE.ARRAY_OF_MAPS || def.type === MAP_TYPE.HASH_OF_MAPS;
        const isProgArray = def.type === MAP_TYPE.PROG_ARRAY;
        if (!isMapInMap && !isProgArray) bad(`should be map-in-map or prog-array to have 'values'`);
        if (def.valueSize && def.valueSize !== 4) bad(`conflicting value size ${def.valueSize} != 4`);
        def.valueSize = 4;
        const arr = skip(btf, m.type);
        if (arr.kind !== "ARRAY") bad(`'values' must be an array, is ${arr.kind}`);
        const ptr = skip(btf, (arr as { type: number }).type);
        if (ptr.kind !== "PTR") bad(`'values' must hold pointers, holds ${ptr.kind}`);
        const target = skip(btf, (ptr as { type: number }).type);
        if (isMapInMap) {
          if (target.kind !== "STRUCT") bad(`map-in-map inner def must be a struct, is ${target.kind}`);
          const innerName = `${mapName}.inner`;
          const d = parseDef(ctx, btf, innerName, target.id, true);
          def.inner = toSpec(innerName, "btf", ".maps", d, 0, false);
        } else if (target.kind !== "FUNC_PROTO") {
          bad(`prog-array value def must be a function pointer, is ${target.kind}`);
        }
        def.valuesOffset = m.bitOffset / 8;
        break;
      }
      default:
        bad(`unknown field '${m.name}'`);
    }
  }
  if (def.type === 0) bad("map type is not specified");
  return def;
}

function toSpec(
  name: string,
  origin: MapOrigin,
  section: string,
  d: Def,
  sectionOffset: number,
  readonly: boolean,
  extra: Partial<Pick<MapSpec, "data" | "initSlots">> = {},
): MapSpec {
  return {
    name,
    origin,
    section,
    type: d.type,
    typeName: typeName(d.type),
    keySize: d.keySize,
    valueSize: d.valueSize,
    maxEntries: d.maxEntries,
    flags: d.flags,
    numaNode: d.numaNode,
    pinning: d.pinning,
    mapExtra: d.mapExtra,
    btfKeyTypeId: d.keyTypeId,
    btfValueTypeId: d.valueTypeId,
    ...(d.inner ? { inner: d.inner } : {}),
    ...extra,
    readonly,
    sectionOffset,
  };
}

/** BTF-defined maps of `.maps`, with map-in-map / prog-array initial slots from `.rel.maps`. */
export function collectBtfMaps(ctx: ObjectContext): MapSpec[] {
  const sec = ctx.elf.section(".maps");
  if (!sec) return [];
  const syms = ctx.elf.symbols.filter(
    (s) => s.shndx === sec.index && s.name !== "" && s.type !== ELF.STT_SECTION,
  );
  const btf = ctx.btf;
  if (!btf) {
    const first = syms[0]?.name ?? "?";
    throw objError(
      ctx,
      OBJECT_ERROR.NO_BTF,
      `map '${first}': BTF-defined maps need BTF, but the object has no .BTF section: compile with -g`,
      ".maps",
    );
  }
  const ds = btf.findByName(".maps", "DATASEC");
  if (ds?.kind !== "DATASEC") throw objError(ctx, OBJECT_ERROR.MAP_DEF, "no DATASEC '.maps' in BTF", ".maps");
  const maps: { spec: MapSpec; size: number; valuesOffset?: number }[] = [];
  for (const vi of ds.vars) {
    const v = btf.typeById(vi.type);
    if (v.kind !== "VAR")
      throw objError(ctx, OBJECT_ERROR.MAP_DEF, `DATASEC entry [${vi.type}] is ${v.kind}, not VAR`, ".maps");
    const sym = syms.find((s) => s.name === v.name);
    const offset = sym ? Number(sym.value) : vi.offset;
    const d = parseDef(ctx, btf, v.name, v.type, false);
    let size = vi.size;
    if (size === 0) {
      try {
        size = btf.sizeOf(v.type);
      } catch {
        size = 0;
      }
    }
    maps.push({ spec: toSpec(v.name, "btf", ".maps", d, offset, false), size, valuesOffset: d.valuesOffset });
  }
  // Initial slots: each relocation in .rel.maps points a `values[i]` at a map or a program.
  const rel = ctx.elf.relocations.find((r) => r.target.index === sec.index);
  if (rel) {
    const slots = new Map<string, { index: number; name: string }[]>();
    for (const [i, r] of rel.entries.entries()) {
      const off = Number(r.offset);
      const sym = rel.symbols[r.symbol];
      const owner = maps.find((m) => off >= m.spec.sectionOffset && off < m.spec.sectionOffset + m.size);
      if (!owner || owner.valuesOffset === undefined || !sym)
        throw objError(
          ctx,
          OBJECT_ERROR.MAP_DEF,
          `.maps relo #${i}: offset ${off} is in no map's 'values'`,
          ".rel.maps",
        );
      const moff = off - owner.spec.sectionOffset - owner.valuesOffset;
      if (moff < 0 || moff % 8 !== 0)
        throw objError(
          ctx,
          OBJECT_ERROR.MAP_DEF,
          `.maps relo #${i}: offset ${off} is not a 'values' slot of map '${owner.spec.name}'`,
          ".rel.maps",
        );
      let target = sym.name;
      if (owner.spec.type !== MAP_TYPE.PROG_ARRAY) {
        const m = maps.find((x) => x.spec.sectionOffset === Number(sym.value) && sym.shndx === sec.index);
        if (!m)
          throw objError(
            ctx,
            OBJECT_ERROR.MAP_DEF,
            `.maps relo #${i}: no map at offset ${sym.value}`,
            ".rel.maps",
          );
        target = m.spec.name;
      } else if (sym.type !== ELF.STT_FUNC) {
        throw objError(
          ctx,
          OBJECT_ERROR.MAP_DEF,
          `.maps relo #${i}: '${sym.name}' is not a program`,
          ".rel.maps",
        );
      }
      const list = slots.get(owner.spec.name) ?? [];
      list.push({ index: moff / 8, name: target });
      slots.set(owner.spec.name, list);
    }
    return maps.map(({ spec }) => {
      const s = slots.get(spec.name);
      return s ? { ...spec, initSlots: s.sort((a, b) => a.index - b.index) } : spec;
    });
  }
  return maps.map((m) => m.spec);
}

/** The legacy `maps` section: `struct bpf_map_def` records named by their symbols. */
export function collectLegacyMaps(ctx: ObjectContext): MapSpec[] {
  const sec = ctx.elf.section("maps");
  if (!sec) return [];
  const syms = ctx.elf.symbols
    .filter((s) => s.shndx === sec.index && s.name !== "" && s.type !== ELF.STT_SECTION)
    .sort((a, b) => Number(a.value - b.value));
  if (syms.length === 0) return [];
  const defSize = Math.floor(sec.size / syms.length);
  if (defSize < 20 || sec.size % syms.length !== 0)
    throw objError(
      ctx,
      OBJECT_ERROR.MAP_DEF,
      `unable to determine legacy map definition size (${sec.size} bytes, ${syms.length} maps)`,
      "maps",
    );
  return syms.map((s) => {
    const at = Number(s.value);
    if (at % defSize !== 0 || at + defSize > sec.data.length)
      throw objError(
        ctx,
        OBJECT_ERROR.MAP_DEF,
        `map '${s.name}': definition at ${at} outside the section`,
        "maps",
      );
    const w = (i: number): number => u32(ctx, sec.data, at + 4 * i);
    const d: Def = {
      ...emptyDef(),
      type: w(0),
      keySize: w(1),
      valueSize: w(2),
      maxEntries: w(3),
      flags: w(4),
    };
    return toSpec(s.name, "legacy", "maps", d, at, false);
  });
}

/** The largest value_size the kernel's array maps take (INT_MAX; larger is E2BIG). */
const MAX_DATA_SECTION_SIZE = 0x7fff_ffff;

/** Global data sections as single-entry array maps (libbpf's internal maps). */
export function collectDataMaps(ctx: ObjectContext): MapSpec[] {
  const out: MapSpec[] = [];
  for (const s of ctx.elf.sections) {
    const kind = dataSectionKind(s);
    if (!kind || s.size === 0) continue;
    // a .bss size has no bytes in the file to bound it; an array map's value_size is an int
    if (s.size > MAX_DATA_SECTION_SIZE)
      throw objError(
        ctx,
        OBJECT_ERROR.MAP_DEF,
        `global data section of ${s.size} bytes is larger than a map value can be (${MAX_DATA_SECTION_SIZE})`,
        s.name,
      );
    const ro = kind === "rodata";
    const ds = ctx.btf?.findByName(s.name, "DATASEC");
    const d: Def = {
      ...emptyDef(),
      type: MAP_TYPE.ARRAY,
      keySize: 4,
      valueSize: s.size,
      maxEntries: 1,
      flags: BPF_F_MMAPABLE | (ro ? BPF_F_RDONLY_PROG : 0),
      valueTypeId: ds?.id ?? 0,
    };
    const data = kind === "bss" ? new Uint8Array(s.size) : Uint8Array.from(s.data);
    out.push(toSpec(internalMapName(ctx.name, s.name), kind, s.name, d, 0, ro, { data }));
  }
  return out;
}

/** The `.kconfig` map holding kconfig extern values (size from their layout). */
export function kconfigMap(ctx: ObjectContext, size: number): MapSpec {
  const ds = ctx.btf?.findByName(".kconfig", "DATASEC");
  const d: Def = {
    ...emptyDef(),
    type: MAP_TYPE.ARRAY,
    keySize: 4,
    valueSize: size,
    maxEntries: 1,
    flags: BPF_F_MMAPABLE | BPF_F_RDONLY_PROG,
    valueTypeId: ds?.id ?? 0,
  };
  return toSpec(internalMapName(ctx.name, ".kconfig"), "kconfig", ".kconfig", d, 0, true, {
    data: new Uint8Array(size),
  });
}
