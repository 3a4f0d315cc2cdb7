/**
 * Verifier-corpus programs the VM could not run before (kfuncs, dynptrs, user ring buffer, task
 * storage, cpumasks, kernel objects read through bpf_task_pt_regs / bpf_skc_to_tcp_sock), run offline with the results computed here from the inputs: the kernel
 * cannot test-run tracepoint and tp_btf programs, so the inputs are the oracle. Their kfunc and
 * dynptr machinery is compared with the kernel in kfunc-dynptr.test.ts.
 */
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { btfFromBytes } from "../../src/elf/btf/load.js";
import { openObject } from "../../src/elf/object/open.js";
import { btfLayout } from "../../src/vm/helpers/kernel-objects.js";
import type { VmEngine } from "../../src/vm/interpreter.js";
import { type SimulateOptions, type Simulation, simulate } from "../../src/vm/simulate.js";

const CORPUS = "test/fixtures/verifier-corpus/obj/accept";

async function sim(name: string, opts: SimulateOptions = {}): Promise<Simulation> {
  return simulate(await openObject(`${CORPUS}/${name}.o`), { tracefs: false, ...opts });
}

/** struct sys_enter_args (the corpus's raw syscalls record): common, id, args[6]. */
function sysEnter(id: bigint, args: readonly bigint[]): Uint8Array {
  const b = new Uint8Array(64);
  const v = new DataView(b.buffer);
  v.setBigInt64(8, id, true);
  args.forEach((a, i) => {
    v.setBigUint64(16 + i * 8, a, true);
  });
  return b;
}

/** A global variable's value from the object's data maps. */
function global(s: Simulation, section: ".bss" | ".data", name: string): unknown {
  const m = s.spec.maps.find((x) => x.name.endsWith(section));
  if (!m) throw new Error(`no ${section}`);
  return (s.map(m.name).get(0) as Record<string, unknown>)[name];
}

const u64 = (b: Uint8Array, off: number): bigint =>
  new DataView(b.buffer, b.byteOffset).getBigUint64(off, true);

for (const engine of ["interp", "jit"] as VmEngine[]) {
  describe(`corpus programs with kfuncs and dynptrs (${engine})`, () => {
    it("misc_iter_num_sum: bpf_iter_num over 0..15 sums the weights", async () => {
      const weights = Array.from({ length: 16 }, (_, i) => BigInt(i * i + 3));
      const s = await sim("misc_iter_num_sum", { engine, set: { weights } });
      s.program("sum_weights").run();
      expect(global(s, ".bss", "total")).toBe(weights.reduce((a, b) => a + b, 0n));
    });

    it("misc_dynptr_from_mem_parse: reads args[3] back through a local dynptr", async () => {
      const s = await sim("misc_dynptr_from_mem_parse", { engine });
      s.program("sum_flags").run({ ctx: sysEnter(257n, [1n, 2n, 0o101n, 0o644n]) });
      s.program("sum_flags").run({ ctx: sysEnter(257n, [1n, 2n, 7n, 1000n]) });
      expect(global(s, ".bss", "flag_sum")).toBe(0o644n + 1000n);
    });

    it("misc_global_dynptr_arg: a global function reads the dynptr it is given", async () => {
      const s = await sim("misc_global_dynptr_arg", { engine });
      s.program("openat_flags").run({ ctx: sysEnter(257n, [0n, 0n, 0x1234n]) });
      expect(global(s, ".bss", "low_flags")).toBe(0x34n);
    });

    it("misc_dynptr_ringbuf_event / misc_dynptr_data_slice: ring buffer records through dynptrs", async () => {
      const task = { pid: 4321, tgid: 4300 };
      const a = await sim("misc_dynptr_ringbuf_event", { engine, task });
      a.program("log_openat").run({ ctx: sysEnter(257n, []) });
      const [ra] = a.map("events").records();
      expect(ra.length).toBe(16);
      expect(new DataView(ra.buffer, ra.byteOffset).getUint32(0, true)).toBe(4300); // pid: the tgid
      expect(u64(ra, 8)).toBe(257n);
      const b = await sim("misc_dynptr_data_slice", { engine, task });
      b.program("log_openat").run({ ctx: sysEnter(56n, []) });
      const [rb] = b.map("events").records();
      expect([u64(rb, 0), u64(rb, 8)]).toEqual([56n, 4300n]);
    });

    it("misc_user_ringbuf_drain_sum: drains the samples the test submitted", async () => {
      const s = await sim("misc_user_ringbuf_drain_sum", { engine });
      const words = [11n, 22n, 0xffff_ffff_0000n];
      for (const w of words) {
        const b = new Uint8Array(12);
        new DataView(b.buffer).setBigUint64(0, w, true);
        s.map("requests").submit(b);
      }
      s.program("drain_requests").run();
      expect(global(s, ".bss", "drained")).toBe(words.reduce((x, y) => x + y, 0n));
      s.program("drain_requests").run(); // nothing left
      expect(global(s, ".bss", "drained")).toBe(0n);
    });

    it("btf_task_storage_runqlat: task storage from wakeup to switch, log2 histogram of the delay", async () => {
      let now = 1_000_000_000n;
      const s = await sim("btf_task_storage_runqlat", { engine, clock: () => now });
      const task = 0xffff_8880_0010_0000n;
      const delays = [5_000n, 900_000n, 0n];
      const expected = new Array<bigint>(32).fill(0n);
      for (const d of delays) {
        s.program("on_wakeup").run({ args: [task] });
        now += d;
        s.program("on_switch").run({ args: [0n, 0n, task] });
        let us = d / 1000n;
        let slot = 0;
        while (us > 1n && slot < 31) {
          us >>= 1n;
          slot++;
        }
        expected[slot]++;
      }
      // switched in again without a wakeup: the storage was deleted, nothing counted
      s.program("on_switch").run({ args: [0n, 0n, task] });
      expect(global(s, ".bss", "hist")).toEqual(expected);
    });

    it("btf_cpumask_build: create, set, clear, release", async () => {
      const s = await sim("btf_cpumask_build", { engine, cpus: 4, cpu: 2 });
      for (let i = 0; i < 3; i++) s.program("on_migrate").run({ args: [0n, 3n] });
      expect(global(s, ".bss", "migrations")).toBe(3n);
    });
  });
}

const VMLINUX = "/sys/kernel/btf/vmlinux";
const noBtf = existsSync(VMLINUX) ? undefined : `no kernel BTF at ${VMLINUX}`;
if (noBtf) console.warn(`skipping the kernel-object helper tests: ${noBtf}`);

describe.skipIf(noBtf !== undefined)(
  "helpers reading kernel objects from the memory image (target BTF layouts)",
  () => {
    const layout = btfLayout(() => {
      const b = readFileSync(VMLINUX);
      return btfFromBytes(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    });
    const off = (struct: string, path: string): number => {
      const o = layout.offsetOf(struct, path);
      if (o === undefined) throw new Error(`no ${struct}.${path}`);
      return o;
    };
    /** A segment of kernel memory with little-endian fields written at offsets. */
    const segment = (address: bigint, size: number, fields: [number, number, bigint][]) => {
      const bytes = new Uint8Array(size);
      const v = new DataView(bytes.buffer);
      for (const [o, n, x] of fields) {
        if (n === 1) v.setUint8(o, Number(x));
        else if (n === 2) v.setUint16(o, Number(x), true);
        else if (n === 4) v.setUint32(o, Number(x), true);
        else v.setBigUint64(o, x, true);
      }
      return { address, bytes };
    };

    for (const engine of ["interp", "jit"] as VmEngine[]) {
      it(`btf_task_pt_regs_ip: the ip saved at the top of the task's stack (${engine})`, async () => {
        const task = 0xffff_8880_0100_0000n;
        const stack = 0xffff_c900_0002_0000n;
        const regs = stack + 16384n - 168n; // x86-64: THREAD_SIZE - sizeof(struct pt_regs)
        const kernelMemory = [
          segment(task, 8192, [
            [off("task_struct", "stack"), 8, stack],
            [off("task_struct", "pid"), 4, 4242n],
          ]),
          segment(regs, 168, [[off("pt_regs", "ip"), 8, 0x40_1234n]]),
        ];
        const s = await sim("btf_task_pt_regs_ip", { engine, kernelMemory });
        s.program("on_switch").run({ args: [0n, task, 0n] });
        expect([...s.map("last_ip").entries()]).toEqual([[4242, 0x40_1234n]]);
      });

      it(`btf_tcp_state_srtt: only a full TCP socket is a tcp_sock (${engine})`, async () => {
        const socket = (address: bigint, state: number, protocol: number, srtt: number) =>
          segment(address, 4096, [
            [off("sock", "__sk_common.skc_state"), 1, BigInt(state)],
            [off("sock", "sk_protocol"), 2, BigInt(protocol)],
            [off("tcp_sock", "srtt_us"), 4, BigInt(srtt)],
          ]);
        const tcp = 0xffff_8880_0200_0000n;
        const udp = 0xffff_8880_0300_0000n;
        const timeWait = 0xffff_8880_0400_0000n;
        const kernelMemory = [
          socket(tcp, 1, 6, 8000),
          socket(udp, 7, 17, 16000),
          socket(timeWait, 6, 6, 24000),
        ];
        const s = await sim("btf_tcp_state_srtt", { engine, kernelMemory });
        s.program("on_state").run({ args: [tcp, 2n, 1n] });
        s.program("on_state").run({ args: [udp, 1n, 2n] });
        s.program("on_state").run({ args: [timeWait, 1n, 3n] });
        s.program("on_state").run({ args: [0n, 1n, 4n] });
        const expected = new Array<number>(16).fill(0); // __u32 srtt_by_state[16]
        expected[1] = 8000 >> 3;
        expect(global(s, ".bss", "srtt_by_state")).toEqual(expected);
      });
    }
  },
);
