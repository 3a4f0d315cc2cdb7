// Kernel tests of BTF load, pinning, and attachment: raw tracepoint, perf event link, cgroup
// attach (legacy PROG_ATTACH and LINK_CREATE), with the info and query commands that observe them.
import { execFileSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmdirSync,
  statfsSync,
  statSync,
  unlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Instruction } from "../../src/isa/instruction.js";
import { insn } from "../../src/isa/instruction.js";
import {
  btfData,
  btfInfo,
  createMap,
  fdById,
  ids,
  linkCreate,
  linkDetach,
  linkInfo,
  loadBtf,
  loadProgram,
  mapInfo,
  mapLookup,
  mapUpdate,
  objGet,
  objPin,
  progAttach,
  progDetach,
  progInfo,
  progQuery,
  rawTracepointOpen,
} from "../../src/loader/bpf.js";
import { AttachType, LinkType, MapType, ProgType } from "../../src/loader/consts.js";
import { BpfSyscallError } from "../../src/loader/errors.js";
import {
  PERF_EVENT_IOC_ENABLE,
  PERF_EVENT_IOC_SET_BPF,
  PerfType,
  perfEventOpen,
  perfIoctl,
} from "../../src/loader/perf.js";
import { probeBpf } from "../../src/loader/probe.js";
import { add64Imm, call, exit, jeqImm, ldMapFd, mov64Imm, mov64Reg } from "./asm.js";

const probe = probeBpf();
if (!probe.ok) console.warn(`SKIP loader object tests: ${probe.reason}`);
const kit = probe.ok ? it : it.skip;

/** A BTF blob with one type: [1] INT 'int' size=4 bits=32 SIGNED (`kind` replaceable to break it). */
function tinyBtf(kind = 1): Uint8Array {
  const b = new Uint8Array(45);
  const v = new DataView(b.buffer);
  v.setUint16(0, 0xeb9f, true); // magic
  v.setUint8(2, 1); // version
  v.setUint32(4, 24, true); // hdr_len
  v.setUint32(8, 0, true); // type_off
  v.setUint32(12, 16, true); // type_len
  v.setUint32(16, 16, true); // str_off
  v.setUint32(20, 5, true); // str_len
  v.setUint32(24, 1, true); // name_off -> "int"
  v.setUint32(28, kind << 24, true); // info: kind, vlen 0
  v.setUint32(32, 4, true); // size
  v.setUint32(36, (1 << 24) | 32, true); // BTF_INT_SIGNED, offset 0, 32 bits
  b.set([0, 0x69, 0x6e, 0x74, 0], 40);
  return b;
}

/** Count program runs in slot 0 of an array map: r0 = lookup(map, &0); if r0: *(u64 *)r0 += 1. */
function counter(mapFd: number, ret: number): Instruction[] {
  return [
    mov64Imm(0, 0),
    insn(0x62, 10, 0, -4, 0), // *(u32 *)(fp - 4) = 0
    ldMapFd(1, mapFd),
    mov64Reg(2, 10),
    add64Imm(2, -4),
    call(1), // bpf_map_lookup_elem
    jeqImm(0, 0, 2),
    mov64Imm(1, 1),
    insn(0xdb, 0, 1, 0, 0), // lock *(u64 *)(r0 + 0) += r1
    mov64Imm(0, ret),
    exit(),
  ];
}

const key0 = new Uint8Array(4);
const readCount = (m: { value: number }): bigint =>
  new DataView(mapLookup(m.value, key0, 8)!.buffer).getBigUint64(0, true);

describe("BTF", () => {
  kit("a hand-built BTF blob loads, round-trips through BTF info, and types a map", () => {
    const blob = tinyBtf();
    const { fd, log } = loadBtf(blob, { logLevel: 1 });
    using btf = fd;
    expect(log).toContain("[1] INT int size=4 bits_offset=0 nr_bits=32 encoding=SIGNED");
    const info = btfInfo(btf);
    expect(info.size).toBe(blob.byteLength);
    expect(info.kernelBtf).toBe(false);
    expect(btfData(btf)).toEqual(blob);
    expect([...ids("btf")]).toContain(info.id);
    using b2 = fdById("btf", info.id);
    expect(btfData(b2)).toEqual(blob);
    using m = createMap({
      type: MapType.ARRAY,
      keySize: 4,
      valueSize: 4,
      maxEntries: 1,
      btfFd: btf,
      btfKeyTypeId: 1,
      btfValueTypeId: 1,
    });
    const mi = mapInfo(m);
    expect(mi.btfId).toBe(info.id);
    expect(mi.btfKeyTypeId).toBe(1);
  });

  kit("a broken BTF blob fails with the kernel's BTF log", () => {
    let err: unknown;
    try {
      loadBtf(tinyBtf(31));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfSyscallError);
    const e = err as BpfSyscallError;
    expect(e.command).toBe("BPF_BTF_LOAD");
    expect(e.errnoName).toBe("EINVAL");
    expect(e.log).toContain("[1] Invalid kind:31");
  });
});

/**
 * BTF for one function: [1] INT int, [2] FUNC_PROTO int (void), [3] FUNC prog (global), and the
 * strings a line_info record needs ("t.c", "r0 = 0").
 */
function funcBtf(): Uint8Array {
  const strs = new TextEncoder().encode("\0int\0prog\0t.c\0r0 = 0\0");
  const b = new Uint8Array(24 + 40 + strs.byteLength);
  const v = new DataView(b.buffer);
  v.setUint16(0, 0xeb9f, true);
  v.setUint8(2, 1);
  v.setUint32(4, 24, true);
  v.setUint32(12, 40, true); // type_len
  v.setUint32(16, 40, true); // str_off
  v.setUint32(20, strs.byteLength, true);
  const words = [1, 1 << 24, 4, (1 << 24) | 32, 0, 13 << 24, 1, 5, (12 << 24) | 1, 2];
  words.forEach((w, i) => {
    v.setUint32(24 + 4 * i, w >>> 0, true);
  });
  b.set(strs, 64);
  return b;
}

describe("program BTF", () => {
  kit("func_info and line_info reach the kernel with prog_btf_fd", () => {
    using btf = loadBtf(funcBtf()).fd;
    const funcInfo = new Uint8Array(8);
    new DataView(funcInfo.buffer).setUint32(4, 3, true); // insn 0 -> FUNC [3]
    const lineInfo = new Uint8Array(16);
    const lv = new DataView(lineInfo.buffer);
    lv.setUint32(4, 10, true); // file "t.c"
    lv.setUint32(8, 14, true); // line text "r0 = 0"
    lv.setUint32(12, (7 << 10) | 3, true); // line 7, column 3
    using prog = loadProgram({
      type: ProgType.SOCKET_FILTER,
      insns: [mov64Imm(0, 0), exit()],
      btfFd: btf,
      funcInfo,
      lineInfo,
    }).fd;
    const info = progInfo(prog);
    expect(info.btfId).toBe(btfInfo(btf).id);
    expect(info.nrFuncInfo).toBe(1);
    expect(info.nrLineInfo).toBe(1);
    // A func_info naming a type that is not a FUNC is refused with the verifier's reason.
    new DataView(funcInfo.buffer).setUint32(4, 1, true);
    expect(() =>
      loadProgram({ type: ProgType.SOCKET_FILTER, insns: [mov64Imm(0, 0), exit()], btfFd: btf, funcInfo }),
    ).toThrow(/BPF_PROG_LOAD: EINVAL[\s\S]*invalid type id 1 in func info/);
  });
});

describe("pinning", () => {
  kit("pin a map and a program in bpffs, get them back by path", () => {
    const BPF_FS_MAGIC = 0xcafe4a11;
    let root = "/sys/fs/bpf";
    let privateMount: string | undefined;
    if (!existsSync(root) || statfsSync(root).type !== BPF_FS_MAGIC) {
      // No bpffs at the usual place: mount a private one for this test, removed afterwards.
      privateMount = mkdtempSync(join(tmpdir(), "tsbpf-bpffs-"));
      execFileSync("mount", ["-t", "bpf", "bpf", privateMount], { stdio: "pipe" });
      root = privateMount;
    }
    const mapPath = `${root}/tsbpf_test_${process.pid}_map`;
    const progPath = `${root}/tsbpf_test_${process.pid}_prog`;
    try {
      using m = createMap({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 4, name: "t_pin" });
      mapUpdate(m, new Uint8Array([1, 0, 0, 0]), new Uint8Array([9, 0, 0, 0]));
      objPin(m, mapPath);
      expect(statSync(mapPath).isFile()).toBe(true);
      using again = objGet(mapPath);
      expect(mapInfo(again).id).toBe(mapInfo(m).id);
      expect(mapLookup(again, new Uint8Array([1, 0, 0, 0]), 4)).toEqual(new Uint8Array([9, 0, 0, 0]));
      // Pinning twice at the same path is EEXIST; a missing path is ENOENT.
      expect(() => objPin(m, mapPath)).toThrow(/BPF_OBJ_PIN: EEXIST/);
      expect(() => objGet(`${root}/tsbpf_test_${process.pid}_missing`)).toThrow(/BPF_OBJ_GET: ENOENT/);

      using prog = loadProgram({ type: ProgType.SOCKET_FILTER, insns: [mov64Imm(0, 0), exit()] }).fd;
      objPin(prog, progPath);
      using p2 = objGet(progPath);
      expect(progInfo(p2).id).toBe(progInfo(prog).id);
    } finally {
      for (const p of [mapPath, progPath]) if (existsSync(p)) unlinkSync(p);
      if (privateMount) {
        execFileSync("umount", [privateMount], { stdio: "pipe" });
        rmdirSync(privateMount);
      }
    }
  });
});

describe("attach", () => {
  kit("raw tracepoint sys_enter: the program runs while the link is open", () => {
    using m = createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 });
    using prog = loadProgram({ type: ProgType.RAW_TRACEPOINT, insns: counter(m.value, 0) }).fd;
    const link = rawTracepointOpen("sys_enter", prog);
    try {
      for (let i = 0; i < 20; i++) statSync("/");
      expect(readCount(m)).toBeGreaterThan(0n);
      const li = linkInfo(link);
      expect(li.type).toBe(LinkType.RAW_TRACEPOINT);
      expect(li.progId).toBe(progInfo(prog).id);
      // Every kind of object is reachable by id: listed by *_GET_NEXT_ID, opened by *_GET_FD_BY_ID.
      const progId = progInfo(prog).id;
      expect([...ids("prog")]).toContain(progId);
      expect([...ids("link")]).toContain(li.id);
      using p2 = fdById("prog", progId);
      expect(progInfo(p2).id).toBe(progId);
      using l2 = fdById("link", li.id);
      expect(linkInfo(l2).progId).toBe(progId);
    } finally {
      link.close();
    }
  });

  kit("tp_btf on sys_enter: attach_btf_id at load, attached by LINK_CREATE and RAW_TRACEPOINT_OPEN", () => {
    // The target's BTF id comes from bpftool (the kernel's own BTF is the oracle here).
    let id: number | undefined;
    try {
      const dump = execFileSync("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux"], {
        maxBuffer: 256 * 1024 * 1024,
        encoding: "utf8",
      });
      const m = /^\[(\d+)\] TYPEDEF 'btf_trace_sys_enter'/m.exec(dump);
      id = m ? Number(m[1]) : undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    if (id === undefined) {
      console.warn("SKIP tp_btf: bpftool or btf_trace_sys_enter not available");
      return;
    }
    using m = createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 });
    using prog = loadProgram({
      type: ProgType.TRACING,
      insns: counter(m.value, 0),
      expectedAttachType: AttachType.TRACE_RAW_TP,
      attachBtfId: id,
    }).fd;
    expect(progInfo(prog).attachBtfId).toBe(id);
    for (let i = 0; i < 5; i++) statSync("/");
    expect(readCount(m)).toBe(0n);
    {
      using link = linkCreate({ prog, attachType: AttachType.TRACE_RAW_TP, cookie: 7n });
      for (let i = 0; i < 5; i++) statSync("/");
      expect(readCount(m)).toBeGreaterThan(0n);
      expect(linkInfo(link).progId).toBe(progInfo(prog).id);
    }
    mapUpdate(m, key0, new Uint8Array(8));
    using raw = rawTracepointOpen(undefined, prog);
    for (let i = 0; i < 5; i++) statSync("/");
    expect(readCount(m)).toBeGreaterThan(0n);
    expect(linkInfo(raw).type).toBe(LinkType.RAW_TRACEPOINT);
  });

  kit("perf event link: a PERF_EVENT program sampling this thread's CPU clock", () => {
    using m = createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 });
    using prog = loadProgram({ type: ProgType.PERF_EVENT, insns: counter(m.value, 0) }).fd;
    // PERF_COUNT_SW_CPU_CLOCK (0) every 100 µs of this thread's CPU time.
    using ev = perfEventOpen(
      { type: PerfType.SOFTWARE, config: 0, sample_period: 100_000 },
      { pid: 0, cpu: -1 },
    );
    using link = linkCreate({ prog, target: ev, attachType: AttachType.PERF_EVENT, cookie: 42n });
    const t0 = Date.now();
    let x = 0;
    while (Date.now() - t0 < 30) x += Math.sqrt(x + 1);
    expect(readCount(m)).toBeGreaterThan(0n);
    expect(linkInfo(link).type).toBe(LinkType.PERF_EVENT);
    link.close();
    // The pre-link way: PERF_EVENT_IOC_SET_BPF then ENABLE on a second event.
    mapUpdate(m, key0, new Uint8Array(8));
    using ev2 = perfEventOpen(
      { type: PerfType.SOFTWARE, config: 0, sample_period: 100_000, disabled: true },
      { pid: 0, cpu: -1 },
    );
    perfIoctl(ev2, PERF_EVENT_IOC_SET_BPF, prog.value);
    perfIoctl(ev2, PERF_EVENT_IOC_ENABLE, 0);
    const t1 = Date.now();
    while (Date.now() - t1 < 30) x += Math.sqrt(x + 1);
    expect(readCount(m)).toBeGreaterThan(0n);
  });

  kit("XDP and tcx links on a veth device, observed through link info and PROG_QUERY", () => {
    const a = `tsbpf${process.pid % 100000}a`;
    const b = `tsbpf${process.pid % 100000}b`;
    try {
      execFileSync("ip", ["link", "add", a, "type", "veth", "peer", "name", b], { stdio: "pipe" });
    } catch (e) {
      // Only a missing `ip` tool is a reason to skip; any other failure is a test failure.
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      console.warn("SKIP XDP/tcx links: the ip tool is not installed");
      return;
    }
    try {
      const ifindex = Number(readFileSync(`/sys/class/net/${a}/ifindex`, "utf8"));
      using xdp = loadProgram({ type: ProgType.XDP, insns: [mov64Imm(0, 2), exit()] }).fd;
      using xdpLink = linkCreate({ prog: xdp, target: ifindex, attachType: AttachType.XDP });
      const xi = linkInfo(xdpLink);
      expect(xi.type).toBe(LinkType.XDP);
      expect(xi.extra["xdp.ifindex"]).toBe(ifindex);
      // A second XDP link on the same device is refused while the first holds it.
      expect(() => linkCreate({ prog: xdp, target: ifindex, attachType: AttachType.XDP })).toThrow(
        /BPF_LINK_CREATE: EBUSY/,
      );

      using cls = loadProgram({
        type: ProgType.SCHED_CLS,
        insns: [mov64Imm(0, -1), exit()],
        expectedAttachType: AttachType.TCX_INGRESS,
      }).fd;
      using tcx = linkCreate({ prog: cls, target: ifindex, attachType: AttachType.TCX_INGRESS });
      const ti = linkInfo(tcx);
      expect(ti.type).toBe(LinkType.TCX);
      expect(ti.extra).toMatchObject({ "tcx.ifindex": ifindex, "tcx.attach_type": AttachType.TCX_INGRESS });
      const q = progQuery(ifindex, AttachType.TCX_INGRESS);
      expect(q.progIds).toEqual([progInfo(cls).id]);
      expect(q.revision).toBeGreaterThan(0n);
    } finally {
      execFileSync("ip", ["link", "del", a], { stdio: "pipe" });
    }
  });

  kit("cgroup: PROG_ATTACH / PROG_QUERY / PROG_DETACH and a cgroup link", () => {
    const base = "/sys/fs/cgroup/unified";
    if (!existsSync(`${base}/cgroup.procs`)) {
      console.warn(`SKIP cgroup attach: no cgroup2 hierarchy at ${base}`);
      return;
    }
    const dir = `${base}/tsbpf_loader_test_${process.pid}`;
    mkdirSync(dir);
    const cg = openSync(dir, "r");
    try {
      using prog = loadProgram({ type: ProgType.CGROUP_SKB, insns: [mov64Imm(0, 1), exit()] }).fd;
      const id = progInfo(prog).id;
      progAttach({ target: cg, prog, attachType: AttachType.CGROUP_INET_INGRESS });
      expect(progQuery(cg, AttachType.CGROUP_INET_INGRESS).progIds).toEqual([id]);
      progDetach({ target: cg, prog, attachType: AttachType.CGROUP_INET_INGRESS });
      expect(progQuery(cg, AttachType.CGROUP_INET_INGRESS).progIds).toEqual([]);

      using link = linkCreate({ prog, target: cg, attachType: AttachType.CGROUP_INET_EGRESS });
      expect(progQuery(cg, AttachType.CGROUP_INET_EGRESS).progIds).toEqual([id]);
      const li = linkInfo(link);
      expect(li.type).toBe(LinkType.CGROUP);
      expect(li.extra["cgroup.attach_type"]).toBe(AttachType.CGROUP_INET_EGRESS);
      expect(li.extra["cgroup.cgroup_id"]).toBe(BigInt(statSync(dir).ino));
      linkDetach(link);
      expect(progQuery(cg, AttachType.CGROUP_INET_EGRESS).progIds).toEqual([]);
    } finally {
      closeSync(cg);
      rmdirSync(dir);
    }
  });
});
