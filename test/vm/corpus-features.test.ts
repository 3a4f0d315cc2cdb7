/**
 * Verifier-corpus programs the VM could not run before (kfuncs, dynptrs, user ring buffer, task
 * storage, cpumasks), run offline with the results computed here from the inputs: the kernel
 * cannot test-run tracepoint and tp_btf programs, so the inputs are the oracle. Their kfunc and
 * dynptr machinery is compared with the kernel in kfunc-dynptr.test.ts.
 */
import { describe, expect, it } from "vitest";
import { openObject } from "../../src/elf/object/open.js";
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
