/**
 * `union bpf_attr` (168 bytes on Linux 6.18) as one layout per command group, and the bpf()
 * command numbers. Offsets are facts of the kernel UAPI, read from this kernel's vmlinux BTF;
 * test/loader/layouts.test.ts checks each entry against /sys/kernel/btf/vmlinux.
 *
 * Each layout's size is the end of its last field, which is what we pass to bpf(): the kernel
 * copies min(size, its own size) and requires any bytes it does not know to be zero, so passing
 * only what a command uses works on older kernels too.
 */
import { bytes, layout, s32, u32, u64 } from "./layout.js";

const ATTR = "union bpf_attr";

/** enum bpf_cmd. */
export const BpfCmd = {
  MAP_CREATE: 0,
  MAP_LOOKUP_ELEM: 1,
  MAP_UPDATE_ELEM: 2,
  MAP_DELETE_ELEM: 3,
  MAP_GET_NEXT_KEY: 4,
  PROG_LOAD: 5,
  OBJ_PIN: 6,
  OBJ_GET: 7,
  PROG_ATTACH: 8,
  PROG_DETACH: 9,
  PROG_TEST_RUN: 10,
  PROG_GET_NEXT_ID: 11,
  MAP_GET_NEXT_ID: 12,
  PROG_GET_FD_BY_ID: 13,
  MAP_GET_FD_BY_ID: 14,
  OBJ_GET_INFO_BY_FD: 15,
  PROG_QUERY: 16,
  RAW_TRACEPOINT_OPEN: 17,
  BTF_LOAD: 18,
  BTF_GET_FD_BY_ID: 19,
  TASK_FD_QUERY: 20,
  MAP_LOOKUP_AND_DELETE_ELEM: 21,
  MAP_FREEZE: 22,
  BTF_GET_NEXT_ID: 23,
  MAP_LOOKUP_BATCH: 24,
  MAP_LOOKUP_AND_DELETE_BATCH: 25,
  MAP_UPDATE_BATCH: 26,
  MAP_DELETE_BATCH: 27,
  LINK_CREATE: 28,
  LINK_UPDATE: 29,
  LINK_GET_FD_BY_ID: 30,
  LINK_GET_NEXT_ID: 31,
  ENABLE_STATS: 32,
  ITER_CREATE: 33,
  LINK_DETACH: 34,
  PROG_BIND_MAP: 35,
} as const;
export type BpfCmdName = keyof typeof BpfCmd;

/** "BPF_PROG_LOAD" for 5: the name errors carry. */
export function cmdName(cmd: number): string {
  for (const [k, v] of Object.entries(BpfCmd)) if (v === cmd) return `BPF_${k}`;
  return `BPF_CMD_${cmd}`;
}

export const MAP_CREATE = layout(ATTR, "", {
  map_type: u32(0),
  key_size: u32(4),
  value_size: u32(8),
  max_entries: u32(12),
  map_flags: u32(16),
  inner_map_fd: u32(20),
  numa_node: u32(24),
  map_name: bytes(28, 16),
  map_ifindex: u32(44),
  btf_fd: u32(48),
  btf_key_type_id: u32(52),
  btf_value_type_id: u32(56),
  btf_vmlinux_value_type_id: u32(60),
  map_extra: u64(64),
  value_type_btf_obj_fd: s32(72),
  map_token_fd: s32(76),
});

/** MAP_{LOOKUP,UPDATE,DELETE}_ELEM, MAP_GET_NEXT_KEY, MAP_LOOKUP_AND_DELETE_ELEM, MAP_FREEZE. */
export const MAP_ELEM = layout(ATTR, "", {
  map_fd: u32(0),
  key: u64(8),
  value: u64(16),
  next_key: u64(16),
  flags: u64(24),
});

/** MAP_FREEZE only reads map_fd. */
export const MAP_FREEZE = layout(ATTR, "", { map_fd: u32(0) });

/** MAP_{LOOKUP,LOOKUP_AND_DELETE,UPDATE,DELETE}_BATCH. */
export const MAP_BATCH = layout(ATTR, "batch.", {
  in_batch: u64(0),
  out_batch: u64(8),
  keys: u64(16),
  values: u64(24),
  count: u32(32),
  map_fd: u32(36),
  elem_flags: u64(40),
  flags: u64(48),
});

export const PROG_LOAD = layout(ATTR, "", {
  prog_type: u32(0),
  insn_cnt: u32(4),
  insns: u64(8),
  license: u64(16),
  log_level: u32(24),
  log_size: u32(28),
  log_buf: u64(32),
  kern_version: u32(40),
  prog_flags: u32(44),
  prog_name: bytes(48, 16),
  prog_ifindex: u32(64),
  expected_attach_type: u32(68),
  prog_btf_fd: u32(72),
  func_info_rec_size: u32(76),
  func_info: u64(80),
  func_info_cnt: u32(88),
  line_info_rec_size: u32(92),
  line_info: u64(96),
  line_info_cnt: u32(104),
  attach_btf_id: u32(108),
  attach_prog_fd: u32(112),
  attach_btf_obj_fd: u32(112),
  core_relo_cnt: u32(116),
  fd_array: u64(120),
  core_relos: u64(128),
  core_relo_rec_size: u32(136),
  log_true_size: u32(140),
  prog_token_fd: s32(144),
  fd_array_cnt: u32(148),
});

/** OBJ_PIN and OBJ_GET. */
export const OBJ = layout(ATTR, "", {
  pathname: u64(0),
  bpf_fd: u32(8),
  file_flags: u32(12),
  path_fd: s32(16),
});

/** PROG_ATTACH and PROG_DETACH. */
export const PROG_ATTACH = layout(ATTR, "", {
  target_fd: u32(0),
  target_ifindex: u32(0),
  attach_bpf_fd: u32(4),
  attach_type: u32(8),
  attach_flags: u32(12),
  replace_bpf_fd: u32(16),
  relative_fd: u32(20),
  relative_id: u32(20),
  expected_revision: u64(24),
});

/** PROG_TEST_RUN (a.k.a. PROG_RUN). */
export const PROG_TEST_RUN = layout(ATTR, "test.", {
  prog_fd: u32(0),
  retval: u32(4),
  data_size_in: u32(8),
  data_size_out: u32(12),
  data_in: u64(16),
  data_out: u64(24),
  repeat: u32(32),
  duration: u32(36),
  ctx_size_in: u32(40),
  ctx_size_out: u32(44),
  ctx_in: u64(48),
  ctx_out: u64(56),
  flags: u32(64),
  cpu: u32(68),
  batch_size: u32(72),
});

/** *_GET_NEXT_ID and *_GET_FD_BY_ID. */
export const GET_ID = layout(ATTR, "", {
  start_id: u32(0),
  prog_id: u32(0),
  map_id: u32(0),
  btf_id: u32(0),
  link_id: u32(0),
  next_id: u32(4),
  open_flags: u32(8),
  fd_by_id_token_fd: s32(12),
});

export const OBJ_GET_INFO_BY_FD = layout(ATTR, "info.", {
  bpf_fd: u32(0),
  info_len: u32(4),
  info: u64(8),
});

export const PROG_QUERY = layout(ATTR, "query.", {
  target_fd: u32(0),
  target_ifindex: u32(0),
  attach_type: u32(4),
  query_flags: u32(8),
  attach_flags: u32(12),
  prog_ids: u64(16),
  prog_cnt: u32(24),
  count: u32(24),
  prog_attach_flags: u64(32),
  link_ids: u64(40),
  link_attach_flags: u64(48),
  revision: u64(56),
});

export const RAW_TRACEPOINT_OPEN = layout(ATTR, "raw_tracepoint.", {
  name: u64(0),
  prog_fd: u32(8),
  cookie: u64(16),
});

export const BTF_LOAD = layout(ATTR, "", {
  btf: u64(0),
  btf_log_buf: u64(8),
  btf_size: u32(16),
  btf_log_size: u32(20),
  btf_log_level: u32(24),
  btf_log_true_size: u32(28),
  btf_flags: u32(32),
  btf_token_fd: s32(36),
});

export const TASK_FD_QUERY = layout(ATTR, "task_fd_query.", {
  pid: u32(0),
  fd: u32(4),
  flags: u32(8),
  buf_len: u32(12),
  buf: u64(16),
  prog_id: u32(24),
  fd_type: u32(28),
  probe_offset: u64(32),
  probe_addr: u64(40),
});

/**
 * LINK_CREATE. The union after `flags` is one of the per-link-type structs; field names keep
 * their BTF path ("tcx.relative_fd"), so each entry is checkable against the kernel.
 */
export const LINK_CREATE = layout(ATTR, "link_create.", {
  prog_fd: u32(0),
  map_fd: u32(0),
  target_fd: u32(4),
  target_ifindex: u32(4),
  attach_type: u32(8),
  flags: u32(12),
  target_btf_id: u32(16),
  iter_info: u64(16),
  iter_info_len: u32(24),
  "perf_event.bpf_cookie": u64(16),
  "kprobe_multi.flags": u32(16),
  "kprobe_multi.cnt": u32(20),
  "kprobe_multi.syms": u64(24),
  "kprobe_multi.addrs": u64(32),
  "kprobe_multi.cookies": u64(40),
  "tracing.target_btf_id": u32(16),
  "tracing.cookie": u64(24),
  "netfilter.pf": u32(16),
  "netfilter.hooknum": u32(20),
  "netfilter.priority": s32(24),
  "netfilter.flags": u32(28),
  "tcx.relative_fd": u32(16),
  "tcx.relative_id": u32(16),
  "tcx.expected_revision": u64(24),
  "uprobe_multi.path": u64(16),
  "uprobe_multi.offsets": u64(24),
  "uprobe_multi.ref_ctr_offsets": u64(32),
  "uprobe_multi.cookies": u64(40),
  "uprobe_multi.cnt": u32(48),
  "uprobe_multi.flags": u32(52),
  "uprobe_multi.pid": u32(56),
  "netkit.relative_fd": u32(16),
  "netkit.relative_id": u32(16),
  "netkit.expected_revision": u64(24),
  "cgroup.relative_fd": u32(16),
  "cgroup.relative_id": u32(16),
  "cgroup.expected_revision": u64(24),
});

export const LINK_UPDATE = layout(ATTR, "link_update.", {
  link_fd: u32(0),
  new_prog_fd: u32(4),
  new_map_fd: u32(4),
  flags: u32(8),
  old_prog_fd: u32(12),
  old_map_fd: u32(12),
});

export const LINK_DETACH = layout(ATTR, "link_detach.", { link_fd: u32(0) });

export const ENABLE_STATS = layout(ATTR, "enable_stats.", { type: u32(0) });

export const ITER_CREATE = layout(ATTR, "iter_create.", { link_fd: u32(0), flags: u32(4) });

export const PROG_BIND_MAP = layout(ATTR, "prog_bind_map.", {
  prog_fd: u32(0),
  map_fd: u32(4),
  flags: u32(8),
});

/** Every attr layout, for the BTF cross-check test. */
export const ATTR_LAYOUTS = {
  MAP_CREATE,
  MAP_ELEM,
  MAP_FREEZE,
  MAP_BATCH,
  PROG_LOAD,
  OBJ,
  PROG_ATTACH,
  PROG_TEST_RUN,
  GET_ID,
  OBJ_GET_INFO_BY_FD,
  PROG_QUERY,
  RAW_TRACEPOINT_OPEN,
  BTF_LOAD,
  TASK_FD_QUERY,
  LINK_CREATE,
  LINK_UPDATE,
  LINK_DETACH,
  ENABLE_STATS,
  ITER_CREATE,
  PROG_BIND_MAP,
} as const;

/** sizeof(union bpf_attr) on the kernel these tables were written against (6.18). */
export const BPF_ATTR_SIZE = 168;
