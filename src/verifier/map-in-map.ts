/**
 * Map-in-map (BPF_MAP_TYPE_ARRAY_OF_MAPS / HASH_OF_MAPS). A lookup in the outer map returns a
 * maybe-NULL map value of the outer map (the kernel prints `map_value_or_null(map=outer,...)`);
 * once NULL-checked it becomes a map pointer to the outer map's inner map meta
 * (mark_ptr_not_null_reg: PTR_TO_MAP_VALUE of a map with inner_map_meta -> CONST_PTR_TO_MAP),
 * usable as the map argument of further helpers. The meta is a copy of the inner map's
 * definition without a name (the kernel prints `map_ptr(ks=4,vs=8)`).
 */
import type { MapSpec } from "../elf/object/types.js";
import { notModelled } from "./errors.js";
import type { Reg } from "./state.js";

/** BPF_MAP_TYPE_ARRAY_OF_MAPS, BPF_MAP_TYPE_HASH_OF_MAPS. */
const MAP_IN_MAP_TYPES: ReadonlySet<number> = new Set([12, 13]);

export const isMapInMap = (map: MapSpec): boolean => MAP_IN_MAP_TYPES.has(map.type);

/** One meta per outer map, so register comparisons (same map) see the same object. */
const metas = new WeakMap<MapSpec, MapSpec>();

/**
 * The inner map meta of an outer map: the definition the verifier checks inner lookups against.
 * Refused when the object gives no inner definition (libbpf then has none to create either).
 */
export function innerMapMeta(outer: MapSpec, insn: number): MapSpec {
  const known = metas.get(outer);
  if (known) return known;
  if (!outer.inner) throw notModelled(insn, `map-in-map ${outer.name} without an inner map definition`);
  const meta: MapSpec = { ...outer.inner, name: "" };
  metas.set(outer, meta);
  return meta;
}

/**
 * mark_ptr_not_null_reg for a NULL-checked lookup result: a map value of a map-in-map becomes
 * the inner map's pointer (in place, as the other not-NULL conversions). Returns false when the
 * register is not such a value.
 */
export function innerMapOnNotNull(r: Reg, insn: number): boolean {
  if (r.type !== "map_value" || !r.map || !isMapInMap(r.map)) return false;
  r.map = innerMapMeta(r.map, insn);
  r.type = "map_ptr";
  r.maybeNull = false;
  r.id = 0;
  return true;
}
