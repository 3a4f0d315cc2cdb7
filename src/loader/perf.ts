/**
 * perf_event_open(2) for the loader: struct perf_event_attr and the ring's control page
 * (struct perf_event_mmap_page) as layouts checked against vmlinux BTF, and a wrapper that
 * returns an Fd. Used by the perf buffer reader and by tracepoint/uprobe attachment.
 */
import { BpfSyscallError } from "./errors.js";
import { Fd } from "./fd.js";
import { bit, encodeStruct, layout, u16, u32, u64, type Values } from "./layout.js";
import { getSys, type Sys } from "./sys.js";

export const PERF_EVENT_ATTR = layout(
  "struct perf_event_attr",
  "",
  {
    type: u32(0),
    size: u32(4),
    config: u64(8),
    sample_period: u64(16),
    sample_freq: u64(16),
    sample_type: u64(24),
    read_format: u64(32),
    disabled: bit(40, 0),
    inherit: bit(40, 1),
    pinned: bit(40, 2),
    exclude_user: bit(40, 4),
    exclude_kernel: bit(40, 5),
    freq: bit(40, 10),
    watermark: bit(40, 14),
    wakeup_events: u32(48),
    wakeup_watermark: u32(48),
    bp_type: u32(52),
    config1: u64(56),
    uprobe_path: u64(56),
    kprobe_func: u64(56),
    config2: u64(64),
    probe_offset: u64(64),
    sample_max_stack: u16(108),
    config3: u64(128),
  },
  136,
);

export const PERF_EVENT_MMAP_PAGE = layout(
  "struct perf_event_mmap_page",
  "",
  {
    version: u32(0),
    compat_version: u32(4),
    data_head: u64(1024),
    data_tail: u64(1032),
    data_offset: u64(1040),
    data_size: u64(1048),
  },
  1088,
);

export const PERF_LAYOUTS = { PERF_EVENT_ATTR, PERF_EVENT_MMAP_PAGE } as const;

export const PerfType = {
  HARDWARE: 0,
  SOFTWARE: 1,
  TRACEPOINT: 2,
  HW_CACHE: 3,
  RAW: 4,
  BREAKPOINT: 5,
} as const;
export const PERF_COUNT_SW_BPF_OUTPUT = 10;
export const PERF_SAMPLE_RAW = 0x400;
export const PERF_FLAG_FD_CLOEXEC = 0x8;
export const PERF_RECORD_LOST = 2;
export const PERF_RECORD_SAMPLE = 9;
/** _IO('$', 0) and _IO('$', 1); SET_BPF is _IOW('$', 8, u32). */
export const PERF_EVENT_IOC_ENABLE = 0x2400;
export const PERF_EVENT_IOC_DISABLE = 0x2401;
export const PERF_EVENT_IOC_SET_BPF = 0x40042408;

export type PerfEventAttr = Values<keyof typeof PERF_EVENT_ATTR.fields>;

/** perf_event_open(attr, pid, cpu, groupFd, flags | CLOEXEC). `size` defaults to our struct size. */
export function perfEventOpen(
  attr: PerfEventAttr,
  o: {
    readonly pid?: number;
    readonly cpu?: number;
    readonly groupFd?: number;
    readonly flags?: number;
  } = {},
  sys: Sys = getSys(),
): Fd {
  const keep: Uint8Array[] = [];
  const bytes = encodeStruct(PERF_EVENT_ATTR, { size: PERF_EVENT_ATTR.size, ...attr }, (b) => {
    keep.push(b);
    return sys.address(b);
  });
  const fd = sys.perfEventOpen(
    bytes,
    o.pid ?? -1,
    o.cpu ?? -1,
    o.groupFd ?? -1,
    (o.flags ?? 0) | PERF_FLAG_FD_CLOEXEC,
  );
  keep.length = 0;
  if (fd < 0) throw new BpfSyscallError("perf_event_open", -fd, { detail: `cpu ${o.cpu ?? -1}` });
  return new Fd(fd, "perf_event", sys);
}

/** ioctl on a perf event fd (ENABLE, DISABLE, SET_BPF). */
export function perfIoctl(fd: Fd, request: number, arg: number, sys: Sys = getSys()): void {
  const r = sys.ioctl(fd.value, request, arg);
  if (r < 0)
    throw new BpfSyscallError("ioctl", -r, { detail: `perf event request 0x${request.toString(16)}` });
}
