/**
 * Attach a loaded program where its section says (or where the caller says): tracepoints and
 * uprobes through perf events + BPF_LINK_CREATE (ioctl fallback), raw_tp/tp_btf/fentry/fexit/lsm
 * through raw_tracepoint_open or links, XDP and tcx links on an interface, cgroup links on a
 * cgroup directory, SO_ATTACH_BPF for socket filters, perf_event on a perf fd. Every attachment
 * is a Link that detaches and closes its fds on close()/dispose.
 * The most common mistake, a tracepoint that does not exist (tracepoint/syscalls/sys_enter), gets
 * a message naming the real ones from tracefs instead of a bare ENOENT.
 */
import { execFileSync } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from "node:fs";
import { editDistance } from "../abi/program-types.js";
import { readElf } from "../elf/reader.js";
import { findSymbolOffset } from "../elf/uprobe.js";
import { UsageError } from "../errors.js";
import {
  attachSocketFilter,
  cstr,
  detachSocketFilter,
  linkCreate,
  objPin,
  rawTracepointOpen,
} from "./bpf.js";
import { AttachType, ProgType } from "./consts.js";
import { BpfSyscallError, LoaderError } from "./errors.js";
import type { Fd } from "./fd.js";
import type { LiveProgram } from "./object-program.js";
import { PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_SET_BPF, PerfType, perfEventOpen, perfIoctl } from "./perf.js";
import { possibleCpuCount } from "./sys.js";

export interface AttachOptions {
  /** Overrides the section's target: `category/name`, raw tracepoint name, `binary:symbol[+off]`. */
  readonly target?: string;
  /** XDP / tcx: interface name or index. */
  readonly interface?: string | number;
  /** tc/tcx direction when the section does not say (default ingress). */
  readonly direction?: "ingress" | "egress";
  /** cgroup programs: the cgroup directory (default: the cgroup2 root). */
  readonly cgroup?: string;
  /** Socket filters: the socket fd to attach to. */
  readonly socketFd?: number;
  /** uprobes: only this process (default: every process). */
  readonly pid?: number;
  /** perf_event programs: the perf event fd(s) to attach to (default: a 99 Hz cpu-clock event per CPU). */
  readonly perfEventFds?: readonly Fd[];
  /** XDP flags (BPF_F_XDP_* modes). */
  readonly xdpFlags?: number;
}

/** An attachment; close() detaches it. */
export class Link implements Disposable {
  readonly kind: string;
  readonly description: string;
  /** The bpf link fd when the attachment is a link (pinnable). */
  readonly linkFd: Fd | undefined;
  readonly #fds: Fd[];
  readonly #onClose: (() => void) | undefined;
  #closed = false;

  constructor(kind: string, description: string, linkFd: Fd | undefined, fds: Fd[], onClose?: () => void) {
    this.kind = kind;
    this.description = description;
    this.linkFd = linkFd;
    this.#fds = fds;
    this.#onClose = onClose;
  }

  get closed(): boolean {
    return this.#closed;
  }

  pin(path: string): void {
    if (!this.linkFd) throw new LoaderError("E_LINK_PIN", `${this.description}: not a bpf link, cannot pin`);
    objPin(this.linkFd, path);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#onClose?.();
    } finally {
      this.linkFd?.close();
      for (const fd of this.#fds) fd.close();
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

// ---------------------------------------------------------------------------------- tracefs

const TRACEFS_CANDIDATES = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

function mountpoints(): { dir: string; type: string }[] {
  try {
    return readFileSync("/proc/mounts", "utf8")
      .split("\n")
      .map((l) => l.split(" "))
      .filter((f) => f.length > 2)
      .map((f) => ({ dir: f[1]!, type: f[2]! }));
  } catch {
    return [];
  }
}

/** Mount a pseudo file system as root (tests and the CLI need tracefs and bpffs). */
function tryMount(type: string, dir: string): boolean {
  if (process.getuid?.() !== 0 || !existsSync(dir)) return false;
  try {
    execFileSync("mount", ["-t", type, type === "bpf" ? "bpf" : "nodev", dir], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Make sure `dir` is on a bpf file system (pins live there): mount bpffs at /sys/fs/bpf when
 * nothing is mounted there yet (root only), else a clear error.
 */
export function ensureBpffs(dir = "/sys/fs/bpf"): void {
  const onBpf = (): boolean => {
    const best = mountpoints()
      .filter((m) => dir === m.dir || dir.startsWith(m.dir.endsWith("/") ? m.dir : `${m.dir}/`))
      .sort((a, b) => b.dir.length - a.dir.length)[0];
    return best?.type === "bpf";
  };
  if (onBpf()) return;
  if (dir.startsWith("/sys/fs/bpf") && tryMount("bpf", "/sys/fs/bpf") && onBpf()) return;
  throw new UsageError("E_NOT_BPFFS", `${dir} is not on a bpf file system (mount -t bpf bpf /sys/fs/bpf)`);
}

export function tracefsRoot(): string {
  for (const d of TRACEFS_CANDIDATES) if (existsSync(`${d}/events`)) return d;
  const first = TRACEFS_CANDIDATES[0]!;
  if (tryMount("tracefs", first) && existsSync(`${first}/events`)) return first;
  throw new LoaderError(
    "E_NO_TRACEFS",
    "tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)",
  );
}

function listDir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

/** Every tracepoint as `category/name`. */
export function listTracepoints(root: string = tracefsRoot()): string[] {
  const out: string[] = [];
  for (const cat of listDir(`${root}/events`)) {
    for (const name of listDir(`${root}/events/${cat}`)) {
      if (existsSync(`${root}/events/${cat}/${name}/id`)) out.push(`${cat}/${name}`);
    }
  }
  return out;
}

/** Real tracepoints close to a missing `category/name` (same name elsewhere, name as a prefix...). */
export function suggestTracepoints(target: string, all: readonly string[]): string[] {
  const [cat = "", name = target] = target.includes("/") ? target.split("/", 2) : ["", target];
  const score = (tp: string): number => {
    const [c, n] = tp.split("/", 2) as [string, string];
    if (n === name) return 0;
    if (c === cat && n.startsWith(`${name}_`)) return 1;
    if (n.startsWith(`${name}_`)) return 2;
    if (c === cat && (n.includes(name) || name.includes(n))) return 3;
    // Typos: a name a couple of edits away.
    if (Math.abs(n.length - name.length) <= 2 && editDistance(n, name) <= 2) return c === cat ? 4 : 5;
    return 99;
  };
  return all
    .map((tp) => [tp, score(tp)] as const)
    .filter(([, s]) => s < 99)
    .sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))
    .map(([tp]) => tp);
}

/** The message for a tracepoint that does not exist, with the real candidates. */
export function missingTracepointMessage(target: string, all: readonly string[]): string {
  const found = suggestTracepoints(target, all);
  let hint = "";
  const exact = found.filter((tp) => tp.split("/")[1] === target.split("/").pop());
  const prefixed = found.filter((tp) => !exact.includes(tp));
  const parts: string[] = [];
  if (exact.length > 0) parts.push(exact.slice(0, 3).join(", "));
  if (prefixed.length > 0) {
    const [c, n] = prefixed[0]!.split("/", 2) as [string, string];
    const stem = n.replace(/_[^_]+$/, "");
    const same = prefixed.filter((tp) => tp.startsWith(`${c}/${stem}_`));
    parts.push(
      same.length > 3
        ? `${c}/${stem}_<name> (${same.length} of them, e.g. ${same.slice(0, 3).join(", ")})`
        : prefixed.slice(0, 3).join(", "),
    );
  }
  if (parts.length > 0) hint = `; did you mean ${parts.join(" or ")}?`;
  return `tracepoint '${target}' does not exist (no events/${target} in tracefs)${hint}`;
}

function tracepointId(target: string): number {
  const root = tracefsRoot();
  const parts = target.split("/");
  if (parts.length !== 2 || !parts[0] || !parts[1])
    throw new UsageError("E_TRACEPOINT", `tracepoint '${target}' must be written category/name`);
  const idFile = `${root}/events/${target}/id`;
  if (!existsSync(idFile))
    throw new UsageError("E_NO_TRACEPOINT", missingTracepointMessage(target, listTracepoints(root)));
  return Number(readFileSync(idFile, "utf8").trim());
}

// ------------------------------------------------------------------------------------ helpers

/** A perf event fd with the program: BPF_LINK_CREATE (BPF_PERF_EVENT), or SET_BPF + ENABLE. */
function attachPerf(prog: LiveProgram, perf: Fd, kind: string, description: string): Link {
  try {
    const link = linkCreate({ prog: prog.fd, target: perf, attachType: AttachType.PERF_EVENT });
    return new Link(kind, description, link, [perf]);
  } catch (e) {
    if (!(e instanceof BpfSyscallError) || (e.errnoName !== "EINVAL" && e.errnoName !== "EOPNOTSUPP")) {
      perf.close();
      throw e;
    }
  }
  try {
    perfIoctl(perf, PERF_EVENT_IOC_SET_BPF, prog.fd.value);
    perfIoctl(perf, PERF_EVENT_IOC_ENABLE, 0);
  } catch (e) {
    perf.close();
    throw e;
  }
  return new Link(kind, description, undefined, [perf]);
}

function ifindexOf(iface: string | number | undefined, what: string): number {
  if (iface === undefined)
    throw new UsageError("E_NO_INTERFACE", `${what} needs an interface (--interface NAME)`);
  if (typeof iface === "number" || /^\d+$/.test(iface)) return Number(iface);
  try {
    return Number(readFileSync(`/sys/class/net/${iface}/ifindex`, "utf8").trim());
  } catch {
    throw new UsageError("E_NO_INTERFACE", `no network interface '${iface}'`);
  }
}

const LIB_DIRS = [
  "/lib/x86_64-linux-gnu",
  "/usr/lib/x86_64-linux-gnu",
  "/lib64",
  "/usr/lib64",
  "/lib",
  "/usr/lib",
];

/** A uprobe binary as written in a section (`libc.so.6`) or given (`./prog`): an existing path. */
export function resolveBinary(binary: string): string {
  if (binary.includes("/")) {
    if (!existsSync(binary)) throw new UsageError("E_NO_BINARY", `uprobe binary '${binary}' does not exist`);
    return binary;
  }
  for (const d of LIB_DIRS) if (existsSync(`${d}/${binary}`)) return `${d}/${binary}`;
  for (const d of (process.env.PATH ?? "").split(":"))
    if (d && existsSync(`${d}/${binary}`)) return `${d}/${binary}`;
  throw new UsageError(
    "E_NO_BINARY",
    `uprobe binary '${binary}' not found in ${LIB_DIRS.join(", ")} or PATH`,
  );
}

function readSysfsNumber(path: string): number | undefined {
  try {
    return Number(readFileSync(path, "utf8").trim());
  } catch {
    return undefined;
  }
}

/** Parse `binary:symbol[+offset]`. */
export function parseProbeTarget(target: string): { binary: string; symbol: string; offset: number } {
  const i = target.lastIndexOf(":");
  if (i <= 0)
    throw new UsageError("E_UPROBE_TARGET", `uprobe target '${target}' must be BINARY:SYMBOL[+OFFSET]`);
  const binary = target.slice(0, i);
  const rest = target.slice(i + 1);
  const m = /^([^+]*)(?:\+(0x[0-9a-f]+|\d+))?$/i.exec(rest);
  if (!m) throw new UsageError("E_UPROBE_TARGET", `uprobe target '${target}' must be BINARY:SYMBOL[+OFFSET]`);
  return { binary, symbol: m[1] ?? "", offset: m[2] ? Number(m[2]) : 0 };
}

function attachUprobe(prog: LiveProgram, target: string, retprobe: boolean, pid: number | undefined): Link {
  const { binary, symbol, offset } = parseProbeTarget(target);
  const path = resolveBinary(binary);
  let fileOffset = offset;
  if (symbol) {
    const elf = readElf(new Uint8Array(readFileSync(path)), { file: path });
    fileOffset += findSymbolOffset(elf, symbol);
  }
  const dev = "/sys/bus/event_source/devices/uprobe";
  const type = readSysfsNumber(`${dev}/type`);
  if (type === undefined)
    throw new LoaderError("E_NO_UPROBE", "this kernel has no uprobe PMU (CONFIG_UPROBE_EVENTS)");
  let retBit = 0;
  try {
    const m = /config:(\d+)/.exec(readFileSync(`${dev}/format/retprobe`, "utf8"));
    retBit = m ? Number(m[1]) : 0;
  } catch {
    retBit = 0;
  }
  const perf = perfEventOpen(
    {
      type,
      config: retprobe ? 1n << BigInt(retBit) : 0n,
      uprobe_path: cstr(path),
      probe_offset: BigInt(fileOffset),
      sample_period: 1n,
      wakeup_events: 1,
    },
    // All processes: pid -1 on cpu 0 (the program still runs on every CPU).
    pid === undefined ? { pid: -1, cpu: 0 } : { pid, cpu: -1 },
  );
  return attachPerf(
    prog,
    perf,
    retprobe ? "uretprobe" : "uprobe",
    `${retprobe ? "uretprobe" : "uprobe"} ${path}:${symbol || ""}+0x${fileOffset.toString(16)}`,
  );
}

/**
 * kprobe/kretprobe through the kprobe PMU (perf_event_open with the function name and offset),
 * then a perf link as for uprobes. Not exercised on the development kernel, which has no
 * kprobes (CONFIG_KPROBES unset); it mirrors the uprobe path that is tested there.
 */
function attachKprobe(prog: LiveProgram, target: string, retprobe: boolean): Link {
  const m = /^([^+]+)(?:\+(0x[0-9a-fA-F]+|\d+))?$/.exec(target);
  if (!m) throw new UsageError("E_KPROBE_TARGET", `kprobe target '${target}' must be FUNCTION[+OFFSET]`);
  const [, fn, off] = m;
  const dev = "/sys/bus/event_source/devices/kprobe";
  const type = readSysfsNumber(`${dev}/type`);
  if (type === undefined)
    throw new LoaderError("E_NO_KPROBE", "this kernel has no kprobe PMU (CONFIG_KPROBES)");
  let retBit = 0;
  try {
    const r = /config:(\d+)/.exec(readFileSync(`${dev}/format/retprobe`, "utf8"));
    retBit = r ? Number(r[1]) : 0;
  } catch {
    retBit = 0;
  }
  const perf = perfEventOpen(
    {
      type,
      config: retprobe ? 1n << BigInt(retBit) : 0n,
      kprobe_func: cstr(fn),
      probe_offset: off === undefined ? 0n : BigInt(off),
      sample_period: 1n,
      wakeup_events: 1,
    },
    { pid: -1, cpu: 0 },
  );
  const kind = retprobe ? "kretprobe" : "kprobe";
  return attachPerf(prog, perf, kind, `${kind} ${fn}${off === undefined ? "" : `+${off}`}`);
}

function cgroupRoot(): string {
  for (const d of ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]) {
    try {
      if (readFileSync("/proc/mounts", "utf8").includes(` ${d} cgroup2 `)) return d;
    } catch {
      // fall through
    }
  }
  return "/sys/fs/cgroup";
}

// --------------------------------------------------------------------------------------- main

const TRACING_LINK_TYPES: ReadonlySet<number> = new Set([
  AttachType.TRACE_FENTRY,
  AttachType.TRACE_FEXIT,
  AttachType.MODIFY_RETURN,
  AttachType.LSM_MAC,
]);

/** Attach `prog` as its section says (see AttachOptions for what sections leave open). */
export function attachProgram(prog: LiveProgram, o: AttachOptions = {}): Link {
  const spec = prog.spec;
  const section = spec.section.replace(/^\?/, "");
  const target = o.target ?? spec.attachTarget;
  const expected = spec.expectedAttachType?.id;
  switch (spec.type.id) {
    case ProgType.TRACEPOINT: {
      if (!target)
        throw new UsageError(
          "E_ATTACH_TARGET",
          `${section}: no tracepoint given (tracepoint/<category>/<name>)`,
        );
      const id = tracepointId(target);
      const perf = perfEventOpen(
        { type: PerfType.TRACEPOINT, config: BigInt(id), sample_period: 1n, wakeup_events: 1 },
        { pid: -1, cpu: 0 },
      );
      return attachPerf(prog, perf, "tracepoint", `tracepoint ${target}`);
    }
    case ProgType.RAW_TRACEPOINT:
    case ProgType.RAW_TRACEPOINT_WRITABLE: {
      if (!target) throw new UsageError("E_ATTACH_TARGET", `${section}: no raw tracepoint name given`);
      try {
        return new Link("raw_tracepoint", `raw_tp ${target}`, rawTracepointOpen(target, prog.fd), []);
      } catch (e) {
        if (e instanceof BpfSyscallError && e.errnoName === "ENOENT") {
          let hint = "";
          try {
            const all = listTracepoints();
            const s = suggestTracepoints(`x/${target}`, all).map((tp) => tp.split("/")[1]);
            if (s.length > 0) hint = `; did you mean ${[...new Set(s)].slice(0, 3).join(", ")}?`;
          } catch {
            // no tracefs: no hint
          }
          throw new UsageError("E_NO_TRACEPOINT", `raw tracepoint '${target}' does not exist${hint}`);
        }
        throw e;
      }
    }
    case ProgType.TRACING:
    case ProgType.LSM:
    case ProgType.EXT: {
      if (expected !== undefined && TRACING_LINK_TYPES.has(expected)) {
        return new Link("tracing", `${section}`, linkCreate({ prog: prog.fd, attachType: expected }), []);
      }
      return new Link("tracing", `${section}`, rawTracepointOpen(undefined, prog.fd), []);
    }
    case ProgType.KPROBE: {
      if (/^u(ret)?probe/.test(section)) {
        if (!target)
          throw new UsageError("E_ATTACH_TARGET", `${section}: no uprobe target (uprobe/BINARY:SYMBOL)`);
        return attachUprobe(prog, target, section.startsWith("uretprobe"), o.pid);
      }
      if (!existsSync("/sys/bus/event_source/devices/kprobe"))
        throw new LoaderError(
          "E_NO_KPROBE",
          `${section}: this kernel has no kprobe support (CONFIG_KPROBES is not set; no kprobe PMU in /sys/bus/event_source/devices); use a tracepoint, raw_tp or tp_btf instead`,
        );
      if (/^(kprobe|kretprobe|ksyscall|kretsyscall)\//.test(section)) {
        if (!target)
          throw new UsageError("E_ATTACH_TARGET", `${section}: no kprobe target (kprobe/FUNCTION[+OFFSET])`);
        const ret = section.startsWith("kret");
        // ksyscall names the syscall; the kernel function is the arch wrapper (x86-64 here).
        const fn =
          section.startsWith("ksyscall") || section.startsWith("kretsyscall")
            ? `__x64_sys_${target}`
            : target;
        return attachKprobe(prog, fn, ret);
      }
      throw new LoaderError(
        "E_ATTACH_UNSUPPORTED",
        `${section}: attaching kprobe.multi/kprobe.session sections is not supported; use kprobe/FUNCTION`,
      );
    }
    case ProgType.PERF_EVENT: {
      const fds =
        o.perfEventFds ??
        Array.from({ length: possibleCpuCount() }, (_, cpu) =>
          perfEventOpen(
            { type: PerfType.SOFTWARE, config: 0n /* CPU_CLOCK */, sample_freq: 99n, freq: true },
            { pid: -1, cpu },
          ),
        );
      const links = fds.map((fd) => attachPerf(prog, fd, "perf_event", "perf_event"));
      return new Link("perf_event", `perf_event on ${fds.length} event(s)`, undefined, [], () => {
        for (const l of links) l.close();
      });
    }
    case ProgType.XDP: {
      const ifindex = ifindexOf(o.interface, "XDP");
      const link = linkCreate({
        prog: prog.fd,
        target: ifindex,
        attachType: AttachType.XDP,
        flags: o.xdpFlags,
      });
      return new Link("xdp", `xdp on ifindex ${ifindex}`, link, []);
    }
    case ProgType.SCHED_CLS: {
      const ifindex = ifindexOf(o.interface, "tc");
      const type =
        expected === AttachType.TCX_INGRESS || expected === AttachType.TCX_EGRESS
          ? expected
          : o.direction === "egress"
            ? AttachType.TCX_EGRESS
            : AttachType.TCX_INGRESS;
      const link = linkCreate({ prog: prog.fd, target: ifindex, attachType: type });
      return new Link(
        "tcx",
        `tcx ${type === AttachType.TCX_EGRESS ? "egress" : "ingress"} on ifindex ${ifindex}`,
        link,
        [],
      );
    }
    case ProgType.SOCKET_FILTER: {
      const sock = o.socketFd;
      if (sock === undefined)
        throw new UsageError(
          "E_ATTACH_UNSUPPORTED",
          `${section}: a socket filter attaches to a socket the caller owns (socketFd)`,
        );
      attachSocketFilter(sock, prog.fd);
      return new Link("socket_filter", `socket filter on fd ${sock}`, undefined, [], () => {
        try {
          detachSocketFilter(sock);
        } catch {
          // The socket may be closed already; nothing to detach then.
        }
      });
    }
    case ProgType.CGROUP_SKB:
    case ProgType.CGROUP_SOCK:
    case ProgType.CGROUP_SOCK_ADDR:
    case ProgType.CGROUP_SOCKOPT:
    case ProgType.CGROUP_SYSCTL:
    case ProgType.CGROUP_DEVICE:
    case ProgType.SOCK_OPS: {
      if (expected === undefined)
        throw new UsageError(
          "E_ATTACH_TARGET",
          `${section}: the section does not say which cgroup hook (e.g. cgroup_skb/ingress)`,
        );
      const dir = o.cgroup ?? cgroupRoot();
      let cg: number;
      try {
        cg = openSync(dir, "r");
      } catch {
        throw new UsageError("E_NO_CGROUP", `cannot open cgroup '${dir}'`);
      }
      try {
        const link = linkCreate({ prog: prog.fd, target: cg, attachType: expected });
        return new Link("cgroup", `${section} on ${dir}`, link, []);
      } finally {
        closeSync(cg);
      }
    }
    default:
      throw new UsageError(
        "E_ATTACH_UNSUPPORTED",
        `${section}: attaching ${spec.type.name} programs is not supported (attach it yourself with the program fd)`,
      );
  }
}
