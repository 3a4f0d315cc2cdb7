/**
 * What BPF_OBJ_GET_INFO_BY_FD returns: struct bpf_prog_info, bpf_map_info, bpf_btf_info and
 * bpf_link_info as layouts (checked against vmlinux BTF by a test), and plain-object views of
 * them. We pass our struct size as info_len; the kernel fills min(ours, its) and zero-extends.
 */
import { bit, bytes, cString, type Layout, layout, readField, readNumber, s32, u32, u64 } from "./layout.js";

export const PROG_INFO = layout(
  "struct bpf_prog_info",
  "",
  {
    type: u32(0),
    id: u32(4),
    tag: bytes(8, 8),
    jited_prog_len: u32(16),
    xlated_prog_len: u32(20),
    jited_prog_insns: u64(24),
    xlated_prog_insns: u64(32),
    load_time: u64(40),
    created_by_uid: u32(48),
    nr_map_ids: u32(52),
    map_ids: u64(56),
    name: bytes(64, 16),
    ifindex: u32(80),
    gpl_compatible: bit(84, 0),
    netns_dev: u64(88),
    netns_ino: u64(96),
    nr_jited_ksyms: u32(104),
    nr_jited_func_lens: u32(108),
    jited_ksyms: u64(112),
    jited_func_lens: u64(120),
    btf_id: u32(128),
    func_info_rec_size: u32(132),
    func_info: u64(136),
    nr_func_info: u32(144),
    nr_line_info: u32(148),
    line_info: u64(152),
    jited_line_info: u64(160),
    nr_jited_line_info: u32(168),
    line_info_rec_size: u32(172),
    jited_line_info_rec_size: u32(176),
    nr_prog_tags: u32(180),
    prog_tags: u64(184),
    run_time_ns: u64(192),
    run_cnt: u64(200),
    recursion_misses: u64(208),
    verified_insns: u32(216),
    attach_btf_obj_id: u32(220),
    attach_btf_id: u32(224),
  },
  232,
);

export const MAP_INFO = layout(
  "struct bpf_map_info",
  "",
  {
    type: u32(0),
    id: u32(4),
    key_size: u32(8),
    value_size: u32(12),
    max_entries: u32(16),
    map_flags: u32(20),
    name: bytes(24, 16),
    ifindex: u32(40),
    btf_vmlinux_value_type_id: u32(44),
    netns_dev: u64(48),
    netns_ino: u64(56),
    btf_id: u32(64),
    btf_key_type_id: u32(68),
    btf_value_type_id: u32(72),
    btf_vmlinux_id: u32(76),
    map_extra: u64(80),
  },
  104,
);

export const BTF_INFO = layout(
  "struct bpf_btf_info",
  "",
  {
    btf: u64(0),
    btf_size: u32(8),
    id: u32(12),
    name: u64(16),
    name_len: u32(24),
    kernel_btf: u32(28),
  },
  32,
);

/** struct bpf_link_info: the common head and the per-type union members we decode. */
export const LINK_INFO = layout(
  "struct bpf_link_info",
  "",
  {
    type: u32(0),
    id: u32(4),
    prog_id: u32(8),
    "raw_tracepoint.tp_name": u64(16),
    "raw_tracepoint.tp_name_len": u32(24),
    "tracing.attach_type": u32(16),
    "tracing.target_obj_id": u32(20),
    "tracing.target_btf_id": u32(24),
    "cgroup.cgroup_id": u64(16),
    "cgroup.attach_type": u32(24),
    "netns.netns_ino": u32(16),
    "netns.attach_type": u32(20),
    "xdp.ifindex": u32(16),
    "netfilter.pf": u32(16),
    "netfilter.hooknum": u32(20),
    "netfilter.priority": s32(24),
    "netfilter.flags": u32(28),
    "perf_event.type": u32(16),
    "tcx.ifindex": u32(16),
    "tcx.attach_type": u32(20),
  },
  64,
);

export const INFO_LAYOUTS = { PROG_INFO, MAP_INFO, BTF_INFO, LINK_INFO } as const;

export interface ProgInfo {
  readonly type: number;
  readonly id: number;
  /** The program tag (SHA-1 prefix of the instructions) as 16 hex digits, as bpftool shows it. */
  readonly tag: string;
  readonly name: string;
  readonly jitedProgLen: number;
  readonly xlatedProgLen: number;
  readonly loadTime: bigint;
  readonly createdByUid: number;
  readonly mapIds: readonly number[];
  readonly btfId: number;
  readonly gplCompatible: boolean;
  readonly verifiedInsns: number;
  readonly runTimeNs: bigint;
  readonly runCnt: bigint;
  readonly recursionMisses: bigint;
  readonly attachBtfObjId: number;
  readonly attachBtfId: number;
  readonly nrFuncInfo: number;
  readonly nrLineInfo: number;
}

export interface MapInfo {
  readonly type: number;
  readonly id: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly name: string;
  readonly btfId: number;
  readonly btfKeyTypeId: number;
  readonly btfValueTypeId: number;
  readonly mapExtra: bigint;
}

export interface BtfInfo {
  readonly id: number;
  readonly size: number;
  readonly name: string;
  readonly kernelBtf: boolean;
}

export interface LinkInfo {
  readonly type: number;
  readonly id: number;
  readonly progId: number;
  /** Type-specific numeric fields of the union, keyed by their BTF path ("tcx.ifindex"). */
  readonly extra: Readonly<Record<string, number | bigint>>;
}

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

export function parseProgInfo(buf: Uint8Array, mapIds: readonly number[] = []): ProgInfo {
  const f = PROG_INFO.fields;
  const n = (x: (typeof f)[keyof typeof f]): number => readNumber(buf, x);
  const b = (x: (typeof f)[keyof typeof f]): bigint => readField(buf, x) as bigint;
  return {
    type: n(f.type),
    id: n(f.id),
    tag: hex(readField(buf, f.tag) as Uint8Array),
    name: cString(readField(buf, f.name) as Uint8Array),
    jitedProgLen: n(f.jited_prog_len),
    xlatedProgLen: n(f.xlated_prog_len),
    loadTime: b(f.load_time),
    createdByUid: n(f.created_by_uid),
    mapIds,
    btfId: n(f.btf_id),
    gplCompatible: n(f.gpl_compatible) === 1,
    verifiedInsns: n(f.verified_insns),
    runTimeNs: b(f.run_time_ns),
    runCnt: b(f.run_cnt),
    recursionMisses: b(f.recursion_misses),
    attachBtfObjId: n(f.attach_btf_obj_id),
    attachBtfId: n(f.attach_btf_id),
    nrFuncInfo: n(f.nr_func_info),
    nrLineInfo: n(f.nr_line_info),
  };
}

export function parseMapInfo(buf: Uint8Array): MapInfo {
  const f = MAP_INFO.fields;
  return {
    type: readNumber(buf, f.type),
    id: readNumber(buf, f.id),
    keySize: readNumber(buf, f.key_size),
    valueSize: readNumber(buf, f.value_size),
    maxEntries: readNumber(buf, f.max_entries),
    flags: readNumber(buf, f.map_flags),
    name: cString(readField(buf, f.name) as Uint8Array),
    btfId: readNumber(buf, f.btf_id),
    btfKeyTypeId: readNumber(buf, f.btf_key_type_id),
    btfValueTypeId: readNumber(buf, f.btf_value_type_id),
    mapExtra: readField(buf, f.map_extra) as bigint,
  };
}

export function parseBtfInfo(buf: Uint8Array, name = ""): BtfInfo {
  const f = BTF_INFO.fields;
  return {
    id: readNumber(buf, f.id),
    size: readNumber(buf, f.btf_size),
    name,
    kernelBtf: readNumber(buf, f.kernel_btf) !== 0,
  };
}

/** Link types whose union members we decode, by enum bpf_link_type value. */
const LINK_PREFIX: Readonly<Record<number, string>> = {
  1: "raw_tracepoint.",
  2: "tracing.",
  3: "cgroup.",
  5: "netns.",
  6: "xdp.",
  7: "perf_event.",
  10: "netfilter.",
  11: "tcx.",
};

export function parseLinkInfo(buf: Uint8Array): LinkInfo {
  const l: Layout<string> = LINK_INFO;
  const type = readNumber(buf, l.fields.type);
  const prefix = LINK_PREFIX[type];
  const extra: Record<string, number | bigint> = {};
  if (prefix) {
    for (const [k, f] of Object.entries(l.fields)) {
      if (k.startsWith(prefix)) extra[k] = readField(buf, f) as number | bigint;
    }
  }
  return { type, id: readNumber(buf, l.fields.id), progId: readNumber(buf, l.fields.prog_id), extra };
}
