/**
 * Special fields of a map value (the kernel's btf_record, built by btf_parse_fields from the map's
 * BTF value type): bpf_spin_lock, bpf_timer and the fields this verifier does not model (kptrs,
 * graph roots/nodes, bpf_wq, ...). Load/store rules over them (check_map_access) and the program
 * types that may not use them (check_map_prog_compatibility) live here too.
 */
import type { Btf } from "../elf/btf/btf.js";
import type { MapSpec, ObjectSpec } from "../elf/object/types.js";
import type { Instruction } from "../isa/instruction.js";
import { notModelled, VerifyAbort } from "./errors.js";
import type { Reg } from "./state.js";

export type MapFieldKind =
  | "bpf_spin_lock"
  | "bpf_res_spin_lock"
  | "bpf_timer"
  | "bpf_wq"
  | "bpf_task_work"
  | "bpf_list_head"
  | "bpf_list_node"
  | "bpf_rb_root"
  | "bpf_rb_node"
  | "bpf_refcount"
  | "kptr";

export interface MapField {
  readonly kind: MapFieldKind;
  /** Byte offset in the value. */
  readonly offset: number;
  readonly size: number;
}

/** The special fields of one map value, in offset order (empty without BTF). */
export interface MapFields {
  readonly hasBtf: boolean;
  readonly fields: readonly MapField[];
}

const STRUCT_FIELDS: Readonly<Record<string, MapFieldKind>> = {
  bpf_spin_lock: "bpf_spin_lock",
  bpf_res_spin_lock: "bpf_res_spin_lock",
  bpf_timer: "bpf_timer",
  bpf_wq: "bpf_wq",
  bpf_task_work: "bpf_task_work",
  bpf_list_head: "bpf_list_head",
  bpf_list_node: "bpf_list_node",
  bpf_rb_root: "bpf_rb_root",
  bpf_rb_node: "bpf_rb_node",
  bpf_refcount: "bpf_refcount",
};

const byMap = new WeakMap<MapSpec, MapFields>();

/** Reads the special fields of every map of an object (once per object). */
export function indexMapFields(obj: ObjectSpec): void {
  for (const m of obj.maps) {
    if (byMap.has(m)) continue;
    byMap.set(m, parseFields(obj.btf, m));
  }
}

export function mapFields(map: MapSpec): MapFields {
  return byMap.get(map) ?? { hasBtf: map.btfValueTypeId !== 0, fields: [] };
}

export const fieldOf = (map: MapSpec, kind: MapFieldKind): MapField | undefined =>
  mapFields(map).fields.find((f) => f.kind === kind);

/** reg_may_point_to_spin_lock: map values whose id must survive the NULL check. */
export const mayPointToSpinLock = (r: Reg): boolean =>
  r.type === "map_value" &&
  r.map !== undefined &&
  mapFields(r.map).fields.some((f) => f.kind === "bpf_spin_lock" || f.kind === "bpf_res_spin_lock");

function parseFields(btf: Btf | undefined, map: MapSpec): MapFields {
  if (!btf || map.btfValueTypeId === 0) return { hasBtf: false, fields: [] };
  const out: MapField[] = [];
  try {
    const v = btf.typeById(map.btfValueTypeId);
    if (v.kind === "DATASEC") {
      for (const s of v.vars) {
        const varT = btf.typeById(s.type);
        if (varT.kind === "VAR") walk(btf, varT.type, s.offset, out, 0);
      }
    } else walk(btf, map.btfValueTypeId, 0, out, 0);
  } catch {
    // a value type we cannot read is treated as having no special field; the kernel would have
    // refused such a map at creation
  }
  out.sort((a, b) => a.offset - b.offset);
  return { hasBtf: true, fields: out };
}

function walk(btf: Btf, id: number, base: number, out: MapField[], depth: number): void {
  if (depth > 8) return;
  const rid = btf.resolve(id);
  const t = btf.typeById(rid);
  if (t.kind === "STRUCT" || t.kind === "UNION") {
    const special = STRUCT_FIELDS[t.name];
    if (special) {
      out.push({ kind: special, offset: base, size: t.size });
      return;
    }
    for (const m of t.members) {
      const off = base + Math.floor(m.bitOffset / 8);
      const mt = btf.typeById(btf.resolve(m.type));
      if (mt.kind === "PTR") {
        // `struct foo __kptr *p`: a pointer whose pointee is a type tag
        const to = btf.typeById(mt.type);
        if (to.kind === "TYPE_TAG") out.push({ kind: "kptr", offset: off, size: 8 });
        continue;
      }
      walk(btf, m.type, off, out, depth + 1);
    }
    return;
  }
  if (t.kind === "ARRAY") {
    const et = btf.resolve(t.type);
    const probe: MapField[] = [];
    walk(btf, et, 0, probe, depth + 1);
    if (probe.length === 0) return;
    const size = btf.sizeOf(et);
    for (let k = 0; k < t.nelems && k < 64; k++)
      for (const f of probe) out.push({ ...f, offset: base + k * size + f.offset });
  }
}

/**
 * check_map_access's field rule: a load/store (or helper access) touching a special field is
 * refused. `off` is the fixed offset (reg.off + insn off), the variable part comes from the register.
 */
export function checkMapFieldAccess(
  insn: number,
  reg: Reg,
  off: number,
  size: number,
  helper: boolean,
): void {
  if (!reg.map) return;
  const { fields } = mapFields(reg.map);
  for (const f of fields) {
    const lo = reg.smin + BigInt(off);
    const hi = reg.umax + BigInt(off + size);
    if (!(lo < BigInt(f.offset + f.size) && BigInt(f.offset) < hi)) continue;
    if (f.kind === "bpf_spin_lock" || f.kind === "bpf_timer") {
      throw new VerifyAbort(insn, `${f.kind} cannot be accessed directly by load/store`);
    }
    throw notModelled(insn, `${helper ? "helper access" : "load/store"} touching a ${f.kind} map field`);
  }
}

/** Program types of is_tracing_prog_type (kprobe, tracepoint, perf_event, raw_tracepoint[_writable]). */
const TRACING = new Set(["kprobe", "tracepoint", "perf_event", "raw_tracepoint", "raw_tracepoint_writable"]);

/** check_map_prog_compatibility for the fields modelled here (checked where the map is loaded). */
export function checkMapProgCompat(insn: number, progType: string, map: MapSpec): void {
  const { fields } = mapFields(map);
  const has = (k: MapFieldKind): boolean => fields.some((f) => f.kind === k);
  if (has("bpf_spin_lock") || has("bpf_res_spin_lock")) {
    if (progType === "socket_filter")
      throw new VerifyAbort(insn, "socket filter progs cannot use bpf_spin_lock yet");
    if (TRACING.has(progType)) throw new VerifyAbort(insn, "tracing progs cannot use bpf_spin_lock yet");
  }
  if (has("bpf_timer") && TRACING.has(progType))
    throw new VerifyAbort(insn, "tracing progs cannot use bpf_timer yet");
  if ((has("bpf_list_head") || has("bpf_rb_root")) && TRACING.has(progType))
    throw new VerifyAbort(insn, "tracing progs cannot use bpf_{list_head,rb_root} yet");
  if (has("bpf_wq") && TRACING.has(progType))
    throw new VerifyAbort(insn, "tracing progs cannot use bpf_wq yet");
}

/**
 * resolve_pseudo_ldimm64 runs check_map_prog_compatibility on every map an ld_imm64 names, before
 * any instruction is verified (so nothing is processed when it refuses).
 */
export function checkProgramMaps(
  obj: ObjectSpec,
  code: readonly (Instruction | undefined)[],
  progType: string,
): void {
  code.forEach((i, t) => {
    const ref = i?.opcode === 0x18 ? i.ref : undefined;
    if (ref?.kind !== "map" && ref?.kind !== "mapValue") return;
    const map = obj.maps.find((m) => m.name === ref.map);
    if (map) checkMapProgCompat(t, progType, map);
  });
}
