import { describe, expect, it } from "vitest";
import type { OfflineRunner } from "../../src/cli/commands/run.js";
import { captureIo } from "../../src/cli/io.js";
import { offlineRunner, parseCtx, runOfflineCli } from "../../src/vm/run-cli.js";

const SYSCALL = "examples/syscall-count/syscall_count.bpf.o";
const XDP = "test/fixtures/obj/xdp_parse.el.v3.o";
// Ethernet + IPv4 (protocol 17) + UDP to port 9999: xdp_udp_filter drops it
const UDP_9999 =
  `${"00".repeat(12)}0800` + `4500002400000000401100000a0000010a000002` + `04d2270f000000000000000000000000`;

describe("tsbpf run (offline)", () => {
  it("takes a tracepoint context as JSON and prints the map it filled", async () => {
    const io = captureIo();
    await runOfflineCli(SYSCALL, { program: "trace_sys_enter", ctx: '{"id": 59}', format: "json" }, io);
    expect(io.exitCode).toBeUndefined();
    const out = JSON.parse(io.out);
    expect(out.retval).toBe(0);
    expect(out.maps.syscall_counts).toEqual([[59, 1]]);
    expect(out.insnsExecuted).toBeGreaterThan(0);
    expect(typeof out.durationNs).toBe("number");
  });

  it("runs an XDP program on a hex packet and prints the packet out", async () => {
    const io = captureIo();
    await runOfflineCli(
      XDP,
      { program: "xdp_udp_filter", packet: UDP_9999, format: "json", repeat: "3", engine: "jit" },
      io,
    );
    const out = JSON.parse(io.out);
    expect(out.retval).toBe(1); // XDP_DROP
    expect(out.packetOut).toBe(UDP_9999);
    // proto_counts[17] counted all three runs
    expect(out.maps.proto_counts).toEqual([[17, 3]]);
  });

  it("text format", async () => {
    const io = captureIo();
    await runOfflineCli(XDP, { program: "xdp_udp_filter", packet: UDP_9999 }, io);
    expect(io.out).toMatch(
      /^retval: 1\npacket out: [0-9a-f]+\nmap proto_counts:\n {2}17: 1\ninsns executed: \d+\nduration: \d+ ns\n$/,
    );
  });

  it("exits 1 on a VM fault, naming the instruction and its source line", async () => {
    const io = captureIo();
    await runOfflineCli(SYSCALL, { program: "trace_sys_enter", ctx: '{"id": 1}', budget: 4 }, io);
    expect(io.exitCode).toBe(1);
    expect(io.err).toMatch(
      /trace_sys_enter: insn \d+: instruction budget of 4 exhausted \(.*syscall_count\.bpf\.c:\d+\)/,
    );
    expect(io.err).toMatch(/syscall_count\.bpf\.c:\d+: \S/);
  });

  it("refuses bad input with UsageErrors", async () => {
    await expect(
      runOfflineCli(XDP, { program: "xdp_udp_filter", packet: "zz" }, captureIo()),
    ).rejects.toThrow(/hex/);
    await expect(runOfflineCli(XDP, { program: "nope" }, captureIo())).rejects.toThrow(/nope/);
    await expect(runOfflineCli(XDP, { program: "xdp_udp_filter", repeat: "0" }, captureIo())).rejects.toThrow(
      /repeat/,
    );
    await expect(
      runOfflineCli(XDP, { program: "xdp_udp_filter", engine: "fast" }, captureIo()),
    ).rejects.toThrow(/engine/);
    expect(() => parseCtx("{bad")).toThrow(/JSON/);
    expect(parseCtx("0a0b")).toEqual(Uint8Array.from([10, 11]));
  });

  it("plugs into run.ts's OfflineRunner hook", async () => {
    const runner: OfflineRunner = offlineRunner;
    const { openObject } = await import("../../src/elf/object/open.js");
    const r = await runner(await openObject(XDP), {
      program: "xdp_udp_filter",
      packet: Uint8Array.from(Buffer.from(UDP_9999, "hex")),
      repeat: 1,
    });
    expect(r.retval).toBe(1);
  });
});
