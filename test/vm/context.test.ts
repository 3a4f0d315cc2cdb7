/** Program contexts: layouts, pointer fields, tracefs record layouts, bad input. */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseTracepointFormat } from "../../src/abi/tracepoint-format.js";
import { openObject } from "../../src/elf/object/open.js";
import { UsageError } from "../../src/errors.js";
import { buildContext, layoutFromFormat } from "../../src/vm/context.js";
import { Memory } from "../../src/vm/memory.js";
import { simulate } from "../../src/vm/simulate.js";

const EXECVE_FORMAT = `name: sys_enter_execve
ID: 862
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
\tfield:const char * filename;\toffset:16;\tsize:8;\tsigned:0;
\tfield:const char *const * argv;\toffset:24;\tsize:8;\tsigned:0;
\tfield:const char *const * envp;\toffset:32;\tsize:8;\tsigned:0;
`;

describe("contexts", () => {
  it("xdp_md data/data_end/data_meta load packet pointers", () => {
    const mem = new Memory();
    const c = buildContext(mem, {
      progType: "xdp",
      packet: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]),
    });
    const a = c.region.address(0);
    const data = mem.load(a, 4);
    const end = mem.load(a + 4n, 4);
    expect(end - data).toBe(15n);
    expect(mem.load(a + 8n, 4)).toBe(data);
    expect(mem.load(data, 1)).toBe(1n);
    expect(mem.load(a + 12n, 4)).toBe(1n); // ingress_ifindex: loopback
    expect(() => mem.load(end, 1)).toThrow(/outside/);
  });

  it("__sk_buff for tc sees the Ethernet header, for socket filters the network header", () => {
    const frame = new Uint8Array(40);
    frame[12] = 0x08;
    frame[14] = 0x45;
    for (const [t, off] of [
      ["sched_cls", 0],
      ["socket_filter", 14],
    ] as const) {
      const mem = new Memory();
      const c = buildContext(mem, { progType: t, packet: frame, ctx: { mark: 7 } });
      const a = c.region.address(0);
      expect(mem.load(a, 4)).toBe(BigInt(40 - off)); // len
      expect(mem.load(a + 16n, 4)).toBe(0x0008n); // protocol, network order as stored
      expect(mem.load(a + 8n, 4)).toBe(7n); // mark
      expect(mem.load(mem.load(a + 76n, 4), 1)).toBe(BigInt(frame[off]));
    }
  });

  it("tracepoint records from tracefs format files; unknown fields are named", () => {
    const layout = layoutFromFormat(parseTracepointFormat(EXECVE_FORMAT));
    const mem = new Memory();
    const c = buildContext(mem, {
      progType: "tracepoint",
      tracepointLayout: layout,
      ctx: { __syscall_nr: 59, filename: 0x1234n, common_pid: 9 },
    });
    const a = c.region.address(0);
    expect(mem.load(a + 8n, 4)).toBe(59n);
    expect(mem.load(a + 16n, 8)).toBe(0x1234n);
    expect(mem.load(a + 4n, 4)).toBe(9n);
    expect(() =>
      buildContext(mem, { progType: "tracepoint", tracepointLayout: layout, ctx: { nope: 1 } }),
    ).toThrow(/no field 'nope' \(fields: common_type, .*filename/);
  });

  it("simulate() reads the format file of a tracepoint whose fields a context names", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-tracefs-"));
    mkdirSync(join(dir, "events/syscalls/sys_enter_execve"), { recursive: true });
    writeFileSync(join(dir, "events/syscalls/sys_enter_execve/format"), EXECVE_FORMAT);
    const sim = simulate(await openObject("test/fixtures/obj/ringbuf.el.v3.o"), { tracefs: dir });
    expect(sim.program("on_execve").run({ ctx: { filename: 0x1000n } }).retval).toBe(0);
    expect(() => sim.program("on_execve").run({ ctx: { bogus: 1 } })).toThrow(UsageError);
  });

  const exitProg = "test/fixtures/verifier-corpus/obj/accept/tp_process_exit_percpu.o";
  it.skipIf(!existsSync(exitProg))(
    "a tracepoint record without a given context is the event's size (or 512 bytes), zeroed",
    async () => {
      const f = exitProg;
      const spec = await openObject(f);
      for (const tracefs of [undefined, false] as const) {
        const sim = simulate(spec, tracefs === false ? { tracefs } : {});
        expect(sim.program(spec.programs[0].name).run().retval).toBe(0);
      }
    },
  );

  it("bad inputs are UsageErrors", () => {
    const mem = new Memory();
    expect(() => buildContext(mem, { progType: "xdp", packet: new Uint8Array(4000) })).toThrow(
      /at most 3520/,
    );
    expect(() => buildContext(mem, { progType: "sched_cls" })).toThrow(/need a packet/);
    expect(() => buildContext(mem, { progType: "kprobe", packet: new Uint8Array(20) })).toThrow(
      /do not take a packet/,
    );
    expect(() => buildContext(mem, { progType: "kprobe", ctx: { rdi: "x" } })).toThrow(UsageError);
    expect(() => buildContext(mem, { progType: "raw_tracepoint", ctx: new Uint8Array(200) })).toThrow(
      /larger/,
    );
    const regs = buildContext(mem, { progType: "kprobe", ctx: { di: 5, rsi: 6 } });
    expect(mem.load(regs.region.address(14 * 8), 8)).toBe(5n);
    expect(mem.load(regs.region.address(13 * 8), 8)).toBe(6n);
  });
});
