// Attach kinds against the kernel, each triggered and observed through the program's maps:
// tracepoint and raw_tp (syscalls this process makes), tp_btf (+ kfuncs and a typeless ksym
// checked against /proc/kallsyms), .kconfig values (against uname and the kernel config read by
// zcat), uprobe/uretprobe on the native fixture binaries run as children, XDP and tcx on a veth
// pair (UDP sent through it), socket filter (UDP on loopback), cgroup_skb (a child in a temporary
// cgroup); ring buffer 100k records in order with delivered + drops = produced; the
// missing-tracepoint diagnostic; kprobe refused clearly.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import { accessSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { release } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attachTypeById } from "../../src/abi/program-types.js";
import { openObjectSync } from "../../src/elf/object/open.js";
import type { ObjectSpec, ProgramSpec } from "../../src/elf/object/types.js";
import { insn } from "../../src/isa/instruction.js";
import { attachProgram, listTracepoints, missingTracepointMessage } from "../../src/loader/attach.js";
import { createMap, loadProgram, testRun } from "../../src/loader/bpf.js";
import { MapType, ProgType } from "../../src/loader/consts.js";
import { loadObject } from "../../src/loader/object.js";
import { LiveMap } from "../../src/loader/object-map.js";
import { LiveProgram } from "../../src/loader/object-program.js";
import { probeBpf } from "../../src/loader/probe.js";
import { RingBuffer } from "../../src/loader/ringbuf.js";
import { X86_64_SYSCALLS } from "../../src/loader/syscalls-x86_64.js";
import type { BtfValue } from "../../src/loader/values.js";
import { add64Imm, call, exit, ja, jeqImm, ldMapFd, mov64Imm, mov64Reg, stxDW } from "./asm.js";

const probe = probeBpf();
if (!probe.ok) console.warn(`SKIP attach tests: ${probe.reason}`);
const kit = probe.ok ? it : it.skip;

const open = (f: string): ObjectSpec => openObjectSync(new Uint8Array(readFileSync(f)), { file: f });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sum = (v: BtfValue | undefined): bigint =>
  v === undefined
    ? 0n
    : Array.isArray(v)
      ? v.reduce<bigint>((a, x) => a + BigInt(x as number | bigint), 0n)
      : BigInt(v as number | bigint);
const nr = (name: string): number => Number(Object.entries(X86_64_SYSCALLS).find(([, n]) => n === name)![0]);

/** Make `n` faccessat2/access syscalls from this process. */
function accessLoop(n: number): void {
  for (let i = 0; i < n; i++) {
    try {
      accessSync("/nonexistent-tsbpf-probe");
    } catch {
      // ENOENT is the point: one syscall each.
    }
  }
}
const ACCESS_NRS = ["access", "faccessat", "faccessat2"].map(nr);

describe("tracing attach kinds", () => {
  kit("tracepoint: the syscall counter counts this process's access() calls", async () => {
    using obj = await loadObject(open("examples/syscall-count/syscall_count.bpf.o"));
    const m = obj.map("syscall_counts");
    const before = ACCESS_NRS.map((n) => sum(m.get(n)));
    {
      using link = attachProgram(obj.program("trace_sys_enter"));
      expect(link.kind).toBe("tracepoint");
      accessLoop(2000);
    }
    const after = ACCESS_NRS.map((n) => sum(m.get(n)));
    const delta = after.reduce((a, x, i) => a + x - before[i]!, 0n);
    expect(delta).toBeGreaterThanOrEqual(2000n);
    // Detached: no more counting from our calls.
    const frozen = ACCESS_NRS.map((n) => sum(m.get(n)));
    accessLoop(500);
    const later = ACCESS_NRS.map((n) => sum(m.get(n)));
    expect(later.reduce((a, x, i) => a + x - frozen[i]!, 0n)).toBeLessThan(500n);
  });

  kit("raw_tp: the id histogram fills at this process's syscall's bucket", async () => {
    using obj = await loadObject(open("test/fixtures/obj/raw_tp.el.v1.o"));
    const hist = obj.map("id_hist");
    const buckets = [...new Set(ACCESS_NRS.map((n) => n & 63))];
    const before = buckets.map((b) => sum(hist.get(b)));
    {
      using _l = attachProgram(obj.program("raw_sys_enter"));
      accessLoop(1000);
    }
    const after = buckets.map((b) => sum(hist.get(b)));
    expect(after.reduce((a, x, i) => a + x - before[i]!, 0n)).toBeGreaterThanOrEqual(1000n);
  });

  kit(
    "tp_btf with kfuncs and a typeless ksym: the address is jiffies_to_msecs's in /proc/kallsyms",
    async () => {
      using obj = await loadObject(open("test/fixtures/obj/ksym.el.v1.o"));
      {
        using _l = attachProgram(obj.program("use_ksyms"));
        accessLoop(10);
      }
      const bss = obj.map("ksym.bss").get(0) as { fn_addr: bigint; have_fake: number };
      const line = readFileSync("/proc/kallsyms", "utf8")
        .split("\n")
        .find((l) => l.endsWith(" jiffies_to_msecs"));
      expect(line).toBeDefined();
      expect(bss.fn_addr).toBe(BigInt(`0x${line!.split(" ")[0]}`));
      expect(bss.have_fake).toBe(0);
    },
  );

  kit(".kconfig externs hold this kernel's version and config", async () => {
    using obj = await loadObject(open("test/fixtures/obj/kconfig.el.v1.o"));
    {
      using _l = attachProgram(obj.program("read_kconfig"));
      accessLoop(10);
    }
    const bss = obj.map("kconfig.bss").get(0) as { observed_version: bigint; observed_hz: bigint };
    const [a, b, c] = release().split(/[.-]/).map(Number);
    expect(bss.observed_version).toBe(BigInt(a! * 65536 + b! * 256 + Math.min(c!, 255)));
    const hz = /^CONFIG_HZ=(\d+)$/m.exec(
      execFileSync("sh", [
        "-c",
        "zcat /proc/config.gz 2>/dev/null || cat /boot/config-$(uname -r)",
      ]).toString(),
    );
    expect(bss.observed_hz).toBe(BigInt(hz![1]!));
  });

  kit("uprobe on a native binary's function records its argument for the child's pid", async () => {
    using obj = await loadObject(open("test/fixtures/obj/uprobe.el.v1.o"));
    const pending = obj.map("pending_size");
    let pid: number;
    {
      using link = attachProgram(obj.program("malloc_enter"), {
        target: "test/fixtures/native/native_pie:tsbpf_probe_me",
      });
      expect(link.kind).toBe("uprobe");
      const r = spawnSync("test/fixtures/native/native_pie", ["a", "b", "c"]);
      expect(r.status).toBe(0);
      pid = r.pid!;
    }
    // tsbpf_probe_me(argc): argc = 4.
    expect(pending.get(pid)).toBe(4n);
  });

  kit("uretprobe fires on return: the entry for the child's pid is consumed", async () => {
    using obj = await loadObject(open("test/fixtures/obj/uprobe.el.v1.o"));
    const pending = obj.map("pending_size");
    using _link = attachProgram(obj.program("malloc_exit"), {
      target: "test/fixtures/native/native_nopie:tsbpf_probe_me",
    });
    // sh becomes the native binary (same pid) once we let it go.
    const child = spawn("sh", ["-c", "read x; exec test/fixtures/native/native_nopie"], {
      stdio: ["pipe", "ignore", "ignore"],
    });
    const pid = child.pid!;
    pending.set(pid, 123n);
    expect(pending.get(pid)).toBe(123n);
    const done = new Promise((r) => child.on("exit", r));
    child.stdin!.end("go\n");
    await done;
    expect(pending.get(pid)).toBeUndefined();
  });

  kit("ring buffer records (execve and exit_group tracepoints) decode through the object's BTF", async () => {
    using obj = await loadObject(open("test/fixtures/obj/ringbuf.el.v1.o"));
    // Both record kinds start with the pid (a __u32): struct exec_event is not in the object's
    // BTF (only a local's type), the exit_group record is a bare pid.
    using rb = obj.ringBuffer("rb", "__u32");
    let pid: number;
    {
      using _a = attachProgram(obj.program("on_execve"));
      using _b = attachProgram(obj.program("on_exit_group"));
      const r = spawnSync("/bin/true");
      expect(r.status).toBe(0);
      pid = r.pid!;
    }
    const pids = rb.poll();
    expect(pids.filter((p) => p === pid).length, `${pids.length} records`).toBeGreaterThanOrEqual(2);
    expect(() => obj.ringBuffer("rb", "struct exec_event")).toThrow(/no BTF type 'struct exec_event'/);
    expect(() => obj.ringBuffer("dropped")).toThrow(/not a ring buffer/);
  });

  kit("a tracepoint that does not exist names the real ones instead of a bare ENOENT", async () => {
    using obj = await loadObject(open("examples/syscall-count/syscall_count.bpf.o"));
    let msg = "";
    try {
      attachProgram(obj.program("trace_sys_enter"), { target: "syscalls/sys_enter" }).close();
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/tracepoint 'syscalls\/sys_enter' does not exist/);
    expect(msg).toContain("raw_syscalls/sys_enter");
    expect(msg).toMatch(/syscalls\/sys_enter_<name>/);
    expect(missingTracepointMessage("sched/sched_swich", listTracepoints())).toContain("sched/sched_switch");
  });

  kit("fentry: the kernel's EPERM (for every loader here) is explained, not bare", async () => {
    const spec = open("test/fixtures/obj/ksym.el.v1.o");
    const p = spec.programs[0]!;
    const fentry = attachTypeById(24);
    const fake = Object.assign(Object.create(Object.getPrototypeOf(spec)), spec, {
      programs: [
        { ...p, section: "fentry/do_unlinkat", expectedAttachType: fentry, attachTarget: "do_unlinkat" },
      ],
    }) as ObjectSpec;
    await expect(loadObject(fake)).rejects.toThrow(
      /fentry\/do_unlinkat.*EPERM before verification: this kernel refuses fentry programs \(BPF trampolines\) to every loader/,
    );
  });

  kit("perf_event: a cpu-clock sampling program runs; a raw_tp link pins to bpffs", async () => {
    using counts = new LiveMap({
      name: "n",
      fd: createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 }),
      type: MapType.ARRAY,
      keySize: 4,
      valueSize: 8,
      maxEntries: 1,
      flags: 0,
    });
    const prog = [
      insn(0x62, 10, 0, -4, 0),
      mov64Reg(2, 10),
      add64Imm(2, -4),
      ldMapFd(1, counts.fd.value),
      call(1),
      jeqImm(0, 0, 2),
      mov64Imm(1, 1),
      insn(0xdb, 0, 1, 0, 0x00),
      mov64Imm(0, 0),
      exit(),
    ];
    const fd = loadProgram({ type: ProgType.PERF_EVENT, insns: prog, license: "GPL" }).fd;
    const spec = {
      name: "sampler",
      section: "perf_event",
      type: { id: ProgType.PERF_EVENT, name: "perf_event" },
    } as unknown as ProgramSpec;
    using p = new LiveProgram(spec, fd, "");
    {
      using link = attachProgram(p);
      expect(link.kind).toBe("perf_event");
      const end = Date.now() + 400;
      while (Date.now() < end) accessLoop(100);
    }
    expect(counts.get(0) as bigint).toBeGreaterThan(0n);

    using obj = await loadObject(open("test/fixtures/obj/raw_tp.el.v1.o"));
    const dir = mkdtempSync("/sys/fs/bpf/tsbpf-link-");
    try {
      using link = attachProgram(obj.program("raw_sys_enter"));
      link.pin(`${dir}/link`);
      expect(execFileSync("bpftool", ["link", "show", "pinned", `${dir}/link`]).toString()).toContain(
        "raw_tracepoint",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  kit("kprobe sections are refused clearly (this kernel has no kprobes)", () => {
    using fd = loadProgram({ type: ProgType.KPROBE, insns: [mov64Imm(0, 0), exit()], license: "GPL" }).fd;
    const spec = {
      name: "kp",
      section: "kprobe/do_unlinkat",
      type: { id: ProgType.KPROBE, name: "kprobe", kernelName: "" },
      attachTarget: "do_unlinkat",
    } as unknown as ProgramSpec;
    const prog = new LiveProgram(spec, fd, "");
    expect(() => attachProgram(prog)).toThrow(/no kprobe support/);
  });
});

// --------------------------------------------------------------------------------- networking

const tag = String(process.pid % 100000);
const VA = `tsbA${tag}`;
const VB = `tsbB${tag}`;
const NET = `10.${200 + (process.pid % 50)}.${process.pid % 250}`;
let vethOk = false;

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: "ignore" });
}

describe("network attach kinds", () => {
  beforeAll(() => {
    if (!probe.ok) return;
    try {
      ip("link", "add", VA, "type", "veth", "peer", "name", VB);
      ip("addr", "add", `${NET}.1/24`, "dev", VA);
      ip("link", "set", VA, "up");
      ip("link", "set", VB, "up");
      const mac = readFileSync(`/sys/class/net/${VB}/address`, "utf8").trim();
      ip("neigh", "add", `${NET}.2`, "lladdr", mac, "dev", VA);
      vethOk = true;
    } catch (e) {
      console.warn(`SKIP veth tests: cannot create a veth pair (${(e as Error).message.split("\n")[0]})`);
    }
  });
  afterAll(() => {
    try {
      ip("link", "del", VA);
    } catch {
      // already gone
    }
  });

  async function sendUdp(host: string, port: number, n: number, from?: Socket): Promise<void> {
    const s = from ?? createSocket("udp4");
    for (let i = 0; i < n; i++)
      await new Promise<void>((r, j) => s.send(Buffer.alloc(100, i), port, host, (e) => (e ? j(e) : r())));
    if (!from) s.close();
  }

  kit("XDP link and tcx ingress link on a veth: UDP sent through the pair is counted by both", async () => {
    if (!vethOk) return;
    using xdp = await loadObject(open("test/fixtures/obj/xdp_parse.el.v1.o"));
    using tc = await loadObject(open("test/fixtures/obj/tc_classifier.el.v1.o"));
    const ifindex = Number(readFileSync(`/sys/class/net/${VB}/ifindex`, "utf8"));
    {
      using l1 = attachProgram(xdp.program("xdp_udp_filter"), { interface: VB });
      using l2 = attachProgram(tc.program("tc_mark_http"), { interface: VB });
      expect([l1.kind, l2.kind]).toEqual(["xdp", "tcx"]);
      await sendUdp(`${NET}.2`, 7777, 20);
      await sleep(200);
    }
    expect(sum(xdp.map("proto_counts").get(17))).toBeGreaterThanOrEqual(20n);
    expect(sum(tc.map("bytes_by_ifindex").get(ifindex))).toBeGreaterThanOrEqual(20n * 128n);
  });

  kit("XDP through BPF_PROG_TEST_RUN: an IPv4 UDP packet is counted and passed", async () => {
    using xdp = await loadObject(open("test/fixtures/obj/xdp_parse.el.v1.o"));
    const pkt = new Uint8Array(64);
    pkt.set([0x08, 0x00], 12);
    pkt.set([0x45, 0, 0, 50, 0, 0, 0, 0, 64, 17], 14);
    const r = xdp.program("xdp_udp_filter").testRun({ data: pkt });
    expect(r.retval).toBe(2); // XDP_PASS
    expect(xdp.map("proto_counts").get(17)).toBe(1n);
  });

  kit("socket filter on a UDP socket: sees every datagram and drops loopback ones", async () => {
    using obj = await loadObject(open("test/fixtures/obj/socket_filter.el.v1.o"));
    const rx = createSocket("udp4");
    await new Promise<void>((r) => rx.bind(0, "127.0.0.1", () => r()));
    let received = 0;
    rx.on("message", () => received++);
    const fd = (rx as unknown as { _handle: { fd: number } })._handle.fd;
    expect(fd).toBeGreaterThan(0);
    const before = sum(obj.map("seen").get(0));
    {
      using _l = attachProgram(obj.program("socket_udp_only"), { socketFd: fd });
      await sendUdp("127.0.0.1", rx.address().port, 10);
      await sleep(200);
    }
    rx.close();
    expect(sum(obj.map("seen").get(0)) - before).toBe(10n);
    expect(received).toBe(0);
  });

  kit("cgroup_skb egress link on a temporary cgroup counts a child's UDP bytes", async () => {
    const root = "/sys/fs/cgroup/unified";
    const dir = `${root}/tsbpf-test-${tag}`;
    try {
      mkdirSync(dir);
    } catch (e) {
      console.warn(`SKIP cgroup test: ${(e as Error).message}`);
      return;
    }
    try {
      using obj = await loadObject(open("test/fixtures/obj/cgroup_skb.el.v1.o"));
      {
        using l = attachProgram(obj.program("cgroup_egress"), { cgroup: dir });
        expect(l.kind).toBe("cgroup");
        // A listening receiver, so no ICMP error cuts the child's sends short.
        const rx = createSocket("udp4");
        await new Promise<void>((r) => rx.bind(0, "127.0.0.1", () => r()));
        const r = spawnSync("bash", [
          "-c",
          `echo $$ > ${dir}/cgroup.procs && exec 3<>/dev/udp/127.0.0.1/${rx.address().port} && for i in 1 2 3 4 5; do echo hello-cgroup >&3; done`,
        ]);
        rx.close();
        expect(r.status).toBe(0);
      }
      // 5 datagrams of 13 payload bytes + UDP/IP headers each, at least.
      expect(sum(obj.map("cgroup_bytes").get(1))).toBeGreaterThanOrEqual(5n * (13n + 28n));
    } finally {
      await sleep(50);
      rmdirSync(dir);
    }
  });
});

// ----------------------------------------------------------------------------------- ringbuf

describe("ring buffer through a loaded program", () => {
  kit(
    "100k records arrive in order; delivered + failed reserves (counted by the program) = produced",
    async () => {
      using counter = new LiveMap({
        name: "seq",
        fd: createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 }),
        type: MapType.ARRAY,
        keySize: 4,
        valueSize: 8,
        maxEntries: 1,
        flags: 0,
      });
      using drops = new LiveMap({
        name: "drops",
        fd: createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 }),
        type: MapType.ARRAY,
        keySize: 4,
        valueSize: 8,
        maxEntries: 1,
        flags: 0,
      });
      using rbFd = createMap({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 64 * 1024 });
      // XDP: seq = fetch_add(counter, 1); reserve 8 bytes; on success store seq and submit, else
      // drops += 1. Slots are counted for the jumps (ld_imm64 is two).
      const st0 = insn(0x62, 10, 0, -4, 0); // *(u32 *)(r10 - 4) = 0
      const prog = [
        mov64Reg(6, 1),
        st0,
        mov64Reg(2, 10),
        add64Imm(2, -4),
        ldMapFd(1, counter.fd.value),
        call(1),
        jeqImm(0, 0, 23),
        mov64Imm(1, 1),
        insn(0xdb, 0, 1, 0, 0x01), // r1 = atomic_fetch_add((u64 *)(r0 + 0), r1)
        mov64Reg(7, 1),
        ldMapFd(1, rbFd.value),
        mov64Imm(2, 8),
        mov64Imm(3, 0),
        call(131),
        jeqImm(0, 0, 5),
        stxDW(0, 7, 0),
        mov64Reg(1, 0),
        mov64Imm(2, 0),
        call(132),
        ja(9),
        st0,
        mov64Reg(2, 10),
        add64Imm(2, -4),
        ldMapFd(1, drops.fd.value),
        call(1),
        jeqImm(0, 0, 2),
        mov64Imm(1, 1),
        insn(0xdb, 0, 1, 0, 0x00), // lock *(u64 *)(r0 + 0) += r1
        mov64Imm(0, 2),
        exit(),
      ];
      using fd = loadProgram({ type: ProgType.XDP, insns: prog, license: "GPL" }).fd;
      using rb = new RingBuffer(rbFd);
      const seqs: bigint[] = [];
      const TOTAL = 100_000;
      const BATCH = 5_000; // more than the ring holds (64 KiB / 16 B), so some reserves fail
      const pkt = new Uint8Array(64);
      for (let done = 0; done < TOTAL; done += BATCH) {
        testRun(fd, { data: pkt, repeat: BATCH });
        rb.consume((r) => {
          seqs.push(new DataView(r.buffer, r.byteOffset, 8).getBigUint64(0, true));
        });
      }
      const produced = counter.get(0) as bigint;
      const dropped = drops.get(0) as bigint;
      expect(produced).toBe(BigInt(TOTAL));
      expect(BigInt(seqs.length) + dropped).toBe(produced);
      expect(dropped).toBeGreaterThan(0n);
      for (let i = 1; i < seqs.length; i++)
        if (seqs[i]! <= seqs[i - 1]!) throw new Error(`out of order at ${i}`);
      expect(seqs[seqs.length - 1]!).toBeLessThan(BigInt(TOTAL));
    },
  );
});
