/**
 * simulate() on the fixtures whose program types the kernel cannot test-run (tracepoints,
 * kprobes): expected values are computed independently from the C sources' logic.
 */

import { readFileSync } from "node:fs";
import { release } from "node:os";
import { describe, expect, it } from "vitest";
import { openObject, openObjectSync } from "../../src/elf/object/open.js";
import { BpfSyscallError } from "../../src/loader/errors.js";
import { VmFault } from "../../src/vm/errors.js";
import { simulate } from "../../src/vm/simulate.js";

const obj = (name: string) => openObject(`test/fixtures/obj/${name}.el.v3.o`);
const openObjectSyncEb = () => openObjectSync(readFileSync("test/fixtures/obj/xdp_parse.eb.v3.o"));

describe("simulate() on fixtures", () => {
  it("ringbuf: reserve/submit records with task, time and comm; output; overflow counts drops", async () => {
    const sim = simulate(await obj("ringbuf"), {
      task: { pid: 7, tgid: 1234, uid: 1000, gid: 50, comm: "bash" },
      clock: () => 5_000_000_123n,
    });
    sim.program("on_execve").run();
    sim.program("on_exit_group").run();
    const recs = sim.map("rb").records();
    expect(recs.length).toBe(2);
    const e = new DataView(recs[0].buffer, recs[0].byteOffset);
    expect(e.getUint32(0, true)).toBe(1234);
    expect(e.getUint32(4, true)).toBe(1000);
    expect(e.getBigUint64(8, true)).toBe(5_000_000_123n);
    expect(Buffer.from(recs[0].subarray(16, 21)).toString()).toBe("bash\0");
    expect(recs[1]).toEqual(Uint8Array.from([0xd2, 0x04, 0, 0]));
    // fill the 256 KiB ring without consuming: 32-byte records take 40 bytes each
    const fits = Math.floor((256 * 1024 - 1) / 40);
    for (let i = 0; i < fits + 10; i++) sim.program("on_execve").run();
    expect(sim.map("dropped").get(0)).toBe(10n);
    expect(sim.map("rb").records().length).toBe(fits);
  });

  it("tail calls through the prog array initialised from the object", async () => {
    const sim = simulate(await obj("tailcall"));
    const run = (id: number) => sim.program("dispatch").run({ ctx: { id } });
    for (const id of [0, 3, 41, 42, 43, 59, 60]) run(id);
    expect([...sim.map("hits").entries()]).toEqual([
      [0, 2n],
      [1, 3n],
      [2, 2n],
      [3, 0n],
    ]);
    // emptying a slot makes the tail call fail and the program fall through
    sim.map("jump_table").delete(1);
    run(41);
    expect(sim.map("hits").get(2)).toBe(3n);
    expect(sim.map("jump_table").get(0)).toBe("handle_file");
  });

  it("bpf_loop and bounded loops", async () => {
    const sim = simulate(await obj("loops"));
    const values = sim.map("values");
    for (let i = 0; i < 32; i++) values.set(i, BigInt(i * 3 + 1));
    const limit = 5;
    const x = 27n;
    sim.program("loops").run({ ctx: { args: [limit, x] } });
    // raw tracepoint programs take their arguments as `args`
    const raw = simulate(await obj("raw_tp"));
    expect(raw.program("raw_sys_enter").run({ args: [0, 59] }).retval).toBe(
      raw.program("raw_sys_enter").run({ ctx: [0, 59] }).retval,
    );
    // the C logic, recomputed
    let acc = 0n;
    for (let i = 0; i < 32; i++) acc += BigInt(i * 3 + 1);
    for (let i = 0; i < 8; i++) acc ^= (x >> BigInt(i * 8)) & 0xffn;
    let y = x;
    let n = 0n;
    while (y > 1n && n < 64n) {
      y = y & 1n ? 3n * y + 1n : y / 2n;
      n++;
    }
    let sum = 0n;
    for (let i = 0; i < limit; i++) sum += BigInt(i * 3 + 1);
    expect(values.get(0)).toBe(acc + sum + n);
  });

  it("global data: initial values, read-only .rodata, knobs set before running", async () => {
    const sim = simulate(await obj("global_data"));
    const data = sim.spec.maps.find((m) => m.origin === "data" && m.section === ".data")!.name;
    const bss = sim.spec.maps.find((m) => m.origin === "bss")!.name;
    const rodata = sim.spec.maps.find((m) => m.origin === "rodata" && m.section === ".rodata")!.name;
    const prog = sim.program("global_vars");
    for (const [id, a0] of [
      [59, 10],
      [41, 5],
      [7, 1],
    ])
      prog.run({ ctx: { id, args: [a0] } });
    const d = sim.map(data).get(0) as Record<string, unknown>;
    expect(d.calls).toBe(0xfeedn + 3n);
    expect(d.last_id).toBe(7);
    expect(d.tag).toBe("tsbf");
    const b = sim.map(bss).get(0) as Record<string, unknown>;
    expect(b.total_args).toBe(16n);
    expect(b.id_range).toEqual({ min: 7, max: 59 });
    const counters = sim.spec.maps.find((m) => m.section === ".data.counters")!.name;
    expect(sim.map(counters).get(0)).toEqual({
      per_family: [1n, 3n, 4n, 4n],
    });
    // knobs set by name before running, as the loader's `set`
    const knob = simulate(await obj("global_data"), { set: { target_pid: "77", verbose: true } });
    expect(knob.map(rodata).get(0)).toMatchObject({ target_pid: 77, verbose: true, greeting: "hello" });
    const spec = await obj("global_data");
    expect(() => simulate(spec, { set: { nope: 1 } })).toThrow(/no global variable 'nope'/);
    // target_pid filters by tgid: set the knob, runs from another process change nothing
    const ro = sim.map(rodata).get(0) as Record<string, unknown>;
    sim.map(rodata).set(0, { ...ro, target_pid: 99 });
    prog.run({ ctx: { id: 1 } });
    expect((sim.map(data).get(0) as Record<string, unknown>).calls).toBe(0xfeedn + 3n);
    sim.runtime.task = { ...sim.runtime.task, tgid: 99 };
    prog.run({ ctx: { id: 1 } });
    expect((sim.map(data).get(0) as Record<string, unknown>).calls).toBe(0xfeedn + 4n);
  });

  it("bpf_printk with %s from .rodata, %u and %c, captured per run", async () => {
    const sim = simulate(await obj("global_data"), { set: { verbose: true } });
    // the program prints on every 1024th call
    const r = sim.program("global_vars").run({ ctx: { id: 3 }, repeat: 1024 });
    expect(r.printk).toEqual([`hello: ${0xfeed + 1024} calls, tag t`]);
    expect(sim.printk).toEqual(r.printk);
  });

  it("maps in maps: lookups through array and hash of maps", async () => {
    const sim = simulate(await obj("map_in_map"), { task: { tgid: 321 } });
    const p = sim.program("use_map_in_map");
    p.run({ ctx: { id: 0, args: [3] } }); // outer_arr[0] = inner_a, slot 3
    p.run({ ctx: { id: 2, args: [9] } }); // outer_arr[2] = inner_b, slot 1
    p.run({ ctx: { id: 1, args: [0] } }); // outer_arr[1] empty
    expect(sim.map("inner_a").get(3)).toBe(1n);
    expect(sim.map("inner_b").get(1)).toBe(1n);
    expect(sim.map("inner_h").get(321)).toBe(2);
    expect(sim.map("outer_arr").get(2)).toBe("inner_b");
    sim.map("outer_arr").set(1, "inner_b");
    p.run({ ctx: { id: 1, args: [1] } });
    expect(sim.map("inner_b").get(1)).toBe(2n);
  });

  it("per-CPU maps hold one value per CPU; the program sees the CPU it runs on", async () => {
    const sim = simulate(await obj("socket_filter"), { cpus: 4 });
    const pkt = new Uint8Array(60);
    pkt[12] = 0x08;
    pkt[14] = 0x45;
    sim.program("socket_udp_only").run({ packet: pkt });
    sim.runtime.cpu = 2;
    sim.program("socket_udp_only").run({ packet: pkt });
    sim.program("socket_udp_only").run({ packet: pkt });
    expect(sim.map("seen").get(0)).toEqual([1n, 0n, 2n, 0n]);
    sim.map("seen").set(0, [5n, 6n, 7n, 8n]);
    expect(sim.map("seen").get(0)).toEqual([5n, 6n, 7n, 8n]);
  });

  it("can be used with `using`, like the live object", async () => {
    using sim = simulate(await obj("xdp_parse"));
    expect(sim.program("xdp_udp_filter").run({ packet: new Uint8Array(14) }).retval).toBe(2); // XDP_PASS: not IPv4
  });

  it("refuses big-endian objects and unknown programs/maps with UsageErrors", async () => {
    expect(() => simulate(openObjectSyncEb())).toThrow(/big-endian/);
    const sim = simulate(await obj("xdp_parse"));
    expect(() => sim.program("nope")).toThrow(/nope/);
    expect(() => sim.map("nope")).toThrow(/no map 'nope' \(maps: proto_counts\)/);
  });

  it("map API errors are the kernel's errnos", async () => {
    const sim = simulate(await openObject("examples/syscall-count/syscall_count.bpf.o"));
    const m = sim.map("syscall_counts");
    m.set(1, 5n);
    expect(() => m.set(1, 6n, 1)).toThrow(BpfSyscallError);
    try {
      m.set(1, 6n, 1);
    } catch (e) {
      expect((e as BpfSyscallError).errnoName).toBe("EEXIST");
    }
    expect(() => m.set(2, 1n, 2)).toThrow(/ENOENT/);
    for (let i = 0; i < 1023; i++) m.set(100 + i, 1n);
    expect(() => m.set(5000, 1n)).toThrow(/E2BIG/);
    expect(m.delete(7777)).toBe(false);
    expect(m.delete(1)).toBe(true);
    m.freeze();
    expect(() => m.set(3, 1n)).toThrow(/EPERM/);
    expect(() => m.delete(100)).toThrow(/EPERM/);
    sim.program("trace_sys_enter").run({ ctx: { id: 100 } }); // the program still writes
    expect(m.get(100)).toBe(2n);
  });

  it("uprobe pt_regs contexts and perf event output", async () => {
    const sim = simulate(await obj("uprobe"), { cpus: 2, cpu: 1, task: { tgid: 555 } });
    // malloc(2 MiB) returns 0x7f00deadbeef; malloc(16) returns 0x5000
    sim.program("malloc_enter").run({ ctx: { rdi: 2 << 20 } });
    sim.program("malloc_exit").run({ ctx: { rax: 0x7f00deadbeefn } });
    sim.program("malloc_enter").run({ ctx: { di: 16 } });
    sim.program("malloc_exit").run({ ctx: { ax: 0x5000 } });
    const recs = sim.map("big_allocs").perfRecords();
    expect(recs.length).toBe(1);
    expect(recs[0].index).toBe(1); // BPF_F_CURRENT_CPU
    const v = new DataView(recs[0].data.buffer, recs[0].data.byteOffset);
    expect(v.getUint32(0, true)).toBe(555);
    expect(v.getBigUint64(8, true)).toBe(2n << 20n);
    expect(v.getBigUint64(16, true)).toBe(0x7f00deadbeefn);
    expect(sim.map("pending_size").size).toBe(0);
  });

  it("__kconfig externs read the values the test gives (0 for the rest)", async () => {
    const version = (6 << 16) | (18 << 8);
    const sim = simulate(await obj("kconfig"), {
      kconfig: { LINUX_KERNEL_VERSION: version, CONFIG_BPF_SYSCALL: true, CONFIG_HZ: 250, CONFIG_BPF_JIT: 1 },
    });
    sim.program("read_kconfig").run({ ctx: { id: 0 } });
    const bss = sim.spec.maps.find((m) => m.origin === "bss")!.name;
    expect(sim.map(bss).get(0)).toEqual({
      observed_version: BigInt(version),
      observed_hz: 250n,
      observed_flags: 7,
    });
    const running = simulate(await obj("kconfig"), { kconfig: "running" });
    running.program("read_kconfig").run({ ctx: { id: 0 } });
    const [major, minor] = release().split(".").map(Number);
    const seen = (running.map(bss).get(0) as Record<string, bigint>).observed_version;
    expect(seen >> 8n).toBe(BigInt((major << 8) | minor));
    const bare = simulate(await obj("kconfig"));
    bare.program("read_kconfig").run({ ctx: { id: 0 } });
    expect(bare.map(bss).get(0)).toEqual({ observed_version: 0n, observed_hz: 0n, observed_flags: 0 });
  });

  it("repeated runs reuse their context and packet regions", async () => {
    const sim = simulate(await obj("xdp_parse"));
    const pkt = new Uint8Array(64);
    sim.program("xdp_udp_filter").run({ packet: pkt });
    const regions = sim.memory.regions.length;
    for (let i = 0; i < 500; i++) sim.program("xdp_udp_filter").run({ packet: pkt });
    expect(sim.memory.regions.length).toBe(regions);
  });

  it("a VM fault names the program, instruction and source line", async () => {
    const sim = simulate(await openObject("examples/syscall-count/syscall_count.bpf.o"));
    let fault: unknown;
    try {
      sim.program("trace_sys_enter").run({ ctx: { id: 1 }, budget: 3 });
    } catch (e) {
      fault = e;
    }
    expect(fault).toBeInstanceOf(VmFault);
    const f = fault as VmFault;
    expect(f.kind).toBe("budget");
    expect(f.program).toBe("trace_sys_enter");
    expect(f.source?.file).toMatch(/syscall_count\.bpf\.c$/);
    expect(f.source?.text).toBeTruthy();
  });
});
