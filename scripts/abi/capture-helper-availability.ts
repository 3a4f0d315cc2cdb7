/**
 * Measures, on the running kernel, which helpers each program type may call, and writes
 * test/fixtures/golden/helper-availability.json (committed; src/abi/helper-availability.ts is
 * generated from it by scripts/abi/gen-helper-availability.ts).
 *
 * Method: for every program type and helper id, BPF_PROG_LOAD `call <id>; r0 = 1; exit` (license
 * GPL, log level 1) and read the verifier's verdict on the call instruction. The kernel checks
 * availability before anything else about the call, so:
 *   "program of this type cannot use helper"  -> not available
 *   "invalid func"                            -> id unknown to the kernel
 *   anything else (accepted, or a later argument error such as "R1 !read_ok") -> available
 * Needs root (CAP_BPF + CAP_PERFMON + CAP_NET_ADMIN); run: npx tsx scripts/abi/capture-helper-availability.ts
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { release } from "node:os";
import { fileURLToPath } from "node:url";
import koffi from "koffi";
import { KERNEL_ATTACH_TYPES, KERNEL_HELPER_IDS, KERNEL_PROG_TYPES } from "../../src/abi/kernel-enums.js";

const libc = koffi.load("libc.so.6");
const syscall = libc.func("long syscall(long number, ...)");
const close = libc.func("int close(int fd)");
const NR_BPF = 321; // x86_64
const BPF_PROG_LOAD = 5;

function attachName(kernelName: string): string {
  const e = KERNEL_ATTACH_TYPES.find((a) => a.kernelName === kernelName);
  if (!e) throw new Error(`no attach type ${kernelName}`);
  return e.name;
}

function attachId(name: string): number {
  const e = KERNEL_ATTACH_TYPES.find((a) => a.kernelName === name);
  if (!e) throw new Error(`no attach type ${name}`);
  return e.id;
}

/** BTF id of a named FUNC or TYPEDEF in vmlinux (for program types that must name an attach target). */
function vmlinuxBtfId(name: string): number {
  const raw = execFileSync("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux"], {
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
  const m = new RegExp(`^\\[(\\d+)\\] (?:FUNC|TYPEDEF) '${name}'`, "m").exec(raw);
  if (!m) throw new Error(`${name} not in vmlinux BTF`);
  return Number(m[1]);
}

/**
 * Load settings per program type: what libbpf's section table would pass, and an attach target
 * for the types that cannot load without one. Types missing here load with attach type 0.
 */
interface LoadSetup {
  readonly expectedAttachType?: string;
  readonly attachBtfFunc?: string;
  readonly progFlags?: number;
}
const SETUP: Record<string, LoadSetup> = {
  BPF_PROG_TYPE_CGROUP_SOCK_ADDR: { expectedAttachType: "BPF_CGROUP_INET4_CONNECT" },
  BPF_PROG_TYPE_CGROUP_SOCKOPT: { expectedAttachType: "BPF_CGROUP_GETSOCKOPT" },
  BPF_PROG_TYPE_SK_LOOKUP: { expectedAttachType: "BPF_SK_LOOKUP" },
  BPF_PROG_TYPE_NETFILTER: { expectedAttachType: "BPF_NETFILTER" },
  // fentry/fexit and lsm loads fail with EPERM on this machine (bpftool too), tp_btf loads.
  BPF_PROG_TYPE_TRACING: { expectedAttachType: "BPF_TRACE_RAW_TP", attachBtfFunc: "btf_trace_sched_switch" },
  BPF_PROG_TYPE_LSM: { expectedAttachType: "BPF_LSM_MAC", attachBtfFunc: "bpf_lsm_file_open" },
  BPF_PROG_TYPE_SYSCALL: { progFlags: 0x10 /* BPF_F_SLEEPABLE: syscall programs must be */ },
};

function encodeProgram(helperId: number | null): Buffer {
  const insns: [number, number, number, number][] = [];
  if (helperId !== null) insns.push([0x85, 0, 0, helperId]); // call helperId
  insns.push([0xb7, 0, 0, 1]); // r0 = 1: inside every return range (recvmsg-style hooks need 1)
  insns.push([0x95, 0, 0, 0]); // exit
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach(([op, regs, off, imm], i) => {
    buf.writeUInt8(op, i * 8);
    buf.writeUInt8(regs, i * 8 + 1);
    buf.writeInt16LE(off, i * 8 + 2);
    buf.writeInt32LE(imm, i * 8 + 4);
  });
  return buf;
}

const license = Buffer.from("GPL\0");
/** Buffers the kernel is reading through raw addresses: kept reachable until the call returns. */
const inFlight = new Set<Buffer[]>();
const logBuf = Buffer.alloc(1 << 16);

/** Returns the fd (>= 0, closed here) or -1, and the verifier log. */
function load(progType: number, setup: LoadSetup & { btfId?: number }, helperId: number | null) {
  const prog = encodeProgram(helperId);
  const attr = Buffer.alloc(168);
  attr.writeUInt32LE(progType, 0);
  attr.writeUInt32LE(prog.length / 8, 4);
  attr.writeBigUInt64LE(koffi.address(prog), 8);
  attr.writeBigUInt64LE(koffi.address(license), 16);
  attr.writeUInt32LE(1, 24); // log_level
  attr.writeUInt32LE(logBuf.length, 28);
  attr.writeBigUInt64LE(koffi.address(logBuf), 32);
  attr.writeUInt32LE(setup.progFlags ?? 0, 44);
  if (setup.expectedAttachType) attr.writeUInt32LE(attachId(setup.expectedAttachType), 68);
  if (setup.btfId !== undefined) attr.writeUInt32LE(setup.btfId, 108);
  logBuf.fill(0);
  const keep = [attr, prog, license, logBuf];
  inFlight.add(keep);
  const fd = Number(syscall(NR_BPF, "int", BPF_PROG_LOAD, "void *", attr, "uint", attr.length));
  inFlight.delete(keep);
  const errno = fd < 0 ? koffi.errno() : 0;
  if (fd >= 0) close(fd);
  const end = logBuf.indexOf(0);
  return { fd, errno, log: logBuf.toString("utf8", 0, end < 0 ? logBuf.length : end) };
}

interface ProgTypeResult {
  readonly attachType: string | null;
  readonly attachBtfFunc: string | null;
  readonly progFlags: number;
  /** null when even an empty program of this type does not load here (type not probed). */
  readonly baseline: string | null;
  readonly available: string[];
  readonly unavailable: string[];
}

function measure(ptId: number, ptName: string, setup: LoadSetup): ProgTypeResult {
  const btfId = setup.attachBtfFunc ? vmlinuxBtfId(setup.attachBtfFunc) : undefined;
  const full = { ...setup, ...(btfId !== undefined ? { btfId } : {}) };
  const base = load(ptId, full, null);
  const entry: ProgTypeResult = {
    attachType: setup.expectedAttachType ?? null,
    attachBtfFunc: setup.attachBtfFunc ?? null,
    progFlags: setup.progFlags ?? 0,
    baseline: base.fd >= 0 ? "loads" : null,
    available: [],
    unavailable: [],
  };
  if (base.fd >= 0) {
    for (const h of KERNEL_HELPER_IDS) {
      if (h.id === 0) continue;
      const r = load(ptId, full, h.id);
      if (r.log.includes("program of this type cannot use helper")) entry.unavailable.push(h.name);
      else if (r.log.includes("invalid func")) throw new Error(`kernel does not know helper ${h.name}`);
      else if (r.fd >= 0 || r.log.includes(`call bpf_${h.name}#${h.id}`)) entry.available.push(h.name);
      else throw new Error(`${ptName} ${h.name}: no verdict on the call (errno ${r.errno}): ${r.log}`);
    }
  } else {
    console.error(
      `${ptName}: empty program does not load (errno ${base.errno}): ${base.log.trim().split("\n").pop()}`,
    );
  }
  console.error(
    `${ptName} ${setup.expectedAttachType ?? ""}: ${entry.available.length} available, ${entry.unavailable.length} not`,
  );
  return entry;
}

const result: Record<string, ProgTypeResult> = {};
for (const pt of KERNEL_PROG_TYPES) {
  if (pt.id === 0) continue;
  result[pt.name] = measure(pt.id, pt.name, SETUP[pt.kernelName] ?? {});
}

/**
 * Attach types whose helper set differs from the default one measured above (the kernel's
 * get_func_proto functions switch on expected_attach_type for some helpers).
 */
const VARIANTS: [string, string][] = [
  ["BPF_PROG_TYPE_CGROUP_SKB", "BPF_CGROUP_INET_EGRESS"],
  ["BPF_PROG_TYPE_CGROUP_SOCK", "BPF_CGROUP_INET_SOCK_RELEASE"],
  ["BPF_PROG_TYPE_CGROUP_SOCK", "BPF_CGROUP_INET4_POST_BIND"],
  ["BPF_PROG_TYPE_CGROUP_SOCK_ADDR", "BPF_CGROUP_INET4_BIND"],
  ["BPF_PROG_TYPE_CGROUP_SOCK_ADDR", "BPF_CGROUP_UDP4_SENDMSG"],
  ["BPF_PROG_TYPE_CGROUP_SOCK_ADDR", "BPF_CGROUP_UDP4_RECVMSG"],
  ["BPF_PROG_TYPE_CGROUP_SOCK_ADDR", "BPF_CGROUP_INET4_GETPEERNAME"],
  ["BPF_PROG_TYPE_CGROUP_SOCK_ADDR", "BPF_CGROUP_UNIX_CONNECT"],
  ["BPF_PROG_TYPE_CGROUP_SOCKOPT", "BPF_CGROUP_SETSOCKOPT"],
  ["BPF_PROG_TYPE_SOCK_OPS", "BPF_CGROUP_SOCK_OPS"],
  ["BPF_PROG_TYPE_XDP", "BPF_XDP_DEVMAP"],
  ["BPF_PROG_TYPE_XDP", "BPF_XDP_CPUMAP"],
  ["BPF_PROG_TYPE_SK_SKB", "BPF_SK_SKB_STREAM_VERDICT"],
  ["BPF_PROG_TYPE_SK_REUSEPORT", "BPF_SK_REUSEPORT_SELECT_OR_MIGRATE"],
  ["BPF_PROG_TYPE_KPROBE", "BPF_TRACE_KPROBE_MULTI"],
  ["BPF_PROG_TYPE_KPROBE", "BPF_TRACE_UPROBE_MULTI"],
  ["BPF_PROG_TYPE_KPROBE", "BPF_TRACE_KPROBE_SESSION"],
  ["BPF_PROG_TYPE_KPROBE", "BPF_TRACE_UPROBE_SESSION"],
];
const variants: Record<string, ProgTypeResult> = {};
for (const [ptName, attach] of VARIANTS) {
  const pt = KERNEL_PROG_TYPES.find((p) => p.kernelName === ptName)!;
  const r = measure(pt.id, pt.name, { expectedAttachType: attach });
  if (r.baseline !== null) variants[`${pt.name}:${attachName(attach)}`] = r;
}

const golden = {
  comment:
    "Captured by scripts/abi/capture-helper-availability.ts: per program type, the helpers the running kernel lets it call (license GPL, root).",
  kernel: release(),
  progTypes: result,
  variants,
};
const target = fileURLToPath(new URL("../../test/fixtures/golden/helper-availability.json", import.meta.url));
writeFileSync(target, `${JSON.stringify(golden, null, 1)}\n`);
console.error(`wrote ${target}`);
