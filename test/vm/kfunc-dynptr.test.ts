/**
 * kfuncs and dynptrs in the VM. Kernel differential: test/vm/fixtures/kfunc_dynptr.o (XDP, tc and
 * cgroup_skb programs using open-coded iterators, skb/xdp/local/ring buffer dynptrs, the dynptr kfuncs and
 * bpf_user_ringbuf_drain on an empty ring) runs under BPF_PROG_TEST_RUN and in the simulator on
 * the same packets; retval, the packet out, every array map (results, .bss) and the ring buffer
 * records must agree, in both engines; and bpf_user_ringbuf_drain over the same samples, put in
 * the kernel's user ring buffer by a test producer (user-ringbuf-producer.ts). Offline: bpf_user_ringbuf_drain over samples the test
 * submits (expected sums computed here from the samples), and the fault of an unsimulated kfunc.
 */
import { afterAll, describe, expect, it } from "vitest";
import { kfuncId } from "../../src/abi/kfuncs.js";
import { openObject } from "../../src/elf/object/open.js";
import type { ObjectSpec } from "../../src/elf/object/types.js";
import { UsageError } from "../../src/errors.js";
import { type LoadedObject, loadObject } from "../../src/loader/object.js";
import type { BpfMapLike } from "../../src/loader/object-map.js";
import { openRingBuffer } from "../../src/loader/ringbuf.js";
import { isVmFault } from "../../src/vm/errors.js";
import { KFUNC_CALL_BASE, kfuncCallId, kfuncFns } from "../../src/vm/helpers/kfuncs.js";
import type { VmEngine } from "../../src/vm/interpreter.js";
import { simulate } from "../../src/vm/simulate.js";
import { testRunUnavailable } from "./kernel-probe.js";
import { UserRingProducer } from "./user-ringbuf-producer.js";

const FIXTURE = "test/vm/fixtures/kfunc_dynptr.o";

const unavailable = testRunUnavailable();
if (unavailable) console.warn(`skipping the kfunc/dynptr kernel differential: ${unavailable}`);

/** Frames of several lengths (a non-IP EtherType, so the kernel's skb test run takes short ones). */
function frame(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (i * 37 + seed * 101 + 11) & 0xff;
  b[12] = 0x88;
  b[13] = 0xb5;
  return b;
}
const PACKETS: readonly Uint8Array[] = [14, 15, 16, 20, 33, 34, 64, 68, 200, 1500].map((n, i) => frame(n, i));

function entries(m: BpfMapLike): string[] {
  return [...m.entries()].map(
    ([k, v]) => `${String(k)}=${JSON.stringify(v, (_, x) => (typeof x === "bigint" ? x.toString() : x))}`,
  );
}

const loaded: LoadedObject[] = [];
afterAll(() => {
  for (const l of loaded) l.close();
});

describe.skipIf(unavailable !== undefined)(
  "kfuncs and dynptrs: the simulator equals BPF_PROG_TEST_RUN",
  () => {
    for (const engine of ["interp", "jit"] as VmEngine[]) {
      for (const prog of ["xdp_dynptr", "tc_dynptr", "cg_dynptr"]) {
        it(`${prog} (${engine})`, async () => {
          const spec: ObjectSpec = await openObject(FIXTURE);
          const live = await loadObject(spec, { programs: [prog] });
          loaded.push(live);
          const sim = simulate(spec, { engine });
          const ring = openRingBuffer(live.map("events").fd);
          const arrays = spec.maps.filter((m) => m.typeName === "array").map((m) => m.name);
          expect(arrays).toContain("results");
          let compared = 0;
          for (const [i, packet] of PACKETS.entries()) {
            const what = `${prog} packet ${i} (${packet.length} bytes)`;
            let k: ReturnType<ReturnType<LoadedObject["program"]>["testRun"]>;
            try {
              k = live.program(prog).testRun({ data: packet });
            } catch (e) {
              expect(
                () => sim.program(prog).run({ packet }),
                `${what}: kernel said ${(e as Error).message}`,
              ).toThrow(UsageError);
              continue;
            }
            const s = sim.program(prog).run({ packet });
            expect(s.retval, what).toBe(k.retval);
            expect(Buffer.from(s.packetOut ?? []).toString("hex"), what).toBe(
              Buffer.from(k.data).toString("hex"),
            );
            for (const name of arrays) {
              expect(entries(sim.map(name)), `${what} map ${name}`).toEqual(entries(live.map(name)));
            }
            const kr = ring.poll().map((r) => Buffer.from(r).toString("hex"));
            const sr = sim
              .map("events")
              .records()
              .map((r) => Buffer.from(r).toString("hex"));
            expect(sr, `${what} ring buffer records`).toEqual(kr);
            expect(kr.length, `${what}: one record per run`).toBe(1);
            compared++;
          }
          ring.close();
          expect(compared).toBeGreaterThan(5);
          // cgroup_skb may not write its packet: its skb dynptr is read-only, a read slice works
          if (prog === "cg_dynptr")
            expect([sim.map("results").get(25), sim.map("results").get(24)]).toEqual([1n, 1n]);
          live.close();
        });
      }
    }
  },
);

describe.skipIf(unavailable !== undefined)("bpf_user_ringbuf_drain: the simulator equals the kernel", () => {
  for (const engine of ["interp", "jit"] as VmEngine[]) {
    it(`the same samples drained, counted and summed (${engine})`, async () => {
      const spec: ObjectSpec = await openObject(FIXTURE);
      const live = await loadObject(spec, { programs: ["xdp_dynptr"] });
      loaded.push(live);
      const sim = simulate(spec, { engine });
      const ring = openRingBuffer(live.map("events").fd);
      const producer = new UserRingProducer(live.map("requests").fd, 4096);
      const sample = (first: bigint, len: number): Uint8Array => {
        const b = new Uint8Array(len);
        if (len >= 8) new DataView(b.buffer).setBigUint64(0, first, true);
        else b.fill(0xee);
        return b;
      };
      // batches: several samples, one cut short (the callback stops after it), an empty ring,
      // samples that wrap around the end of the ring
      const batches: readonly (readonly Uint8Array[])[] = [
        [sample(5n, 16), sample(7n, 8), sample(0xffffffffn, 40)],
        [sample(1n, 8), sample(0n, 3), sample(1000n, 8)],
        [],
        Array.from({ length: 12 }, (_, i) => sample(BigInt(i * 1000 + 1), 300)),
        Array.from({ length: 12 }, (_, i) => sample(BigInt(i + 77), 290)),
      ];
      const seen: string[] = [];
      try {
        for (const [i, batch] of batches.entries()) {
          for (const s of batch) {
            expect(producer.submit(s), `batch ${i}: kernel ring has room`).toBe(true);
            sim.map("requests").submit(s);
          }
          // run until both have drained everything (a short sample stops one drain)
          for (let run = 0; run < 3; run++) {
            const k = live.program("xdp_dynptr").testRun({ data: PACKETS[6] });
            const s = sim.program("xdp_dynptr").run({ packet: PACKETS[6] });
            expect(s.retval).toBe(k.retval);
            const what = `batch ${i} run ${run}`;
            const kd = [live.map("results").get(21), live.map("results").get(22)];
            expect([sim.map("results").get(21), sim.map("results").get(22)], what).toEqual(kd);
            seen.push(kd.join("/"));
            ring.poll();
            sim.map("events").records();
          }
        }
      } finally {
        producer.close();
        ring.close();
      }
      // samples were really drained in the kernel: counts and sums, short samples stopping a drain
      expect(seen.slice(0, 3)).toEqual([`3/${5n + 7n + 0xffffffffn}`, "0/0", "0/0"]);
      expect(seen[3]).toBe("2/1"); // 1, then the 3-byte sample stops the drain
      live.close();
    });
  }
});

describe("bpf_user_ringbuf_drain over samples the test submits", () => {
  const u64s = (...v: bigint[]): Uint8Array => {
    const b = new Uint8Array(v.length * 8);
    for (const [i, x] of v.entries()) new DataView(b.buffer).setBigUint64(i * 8, x, true);
    return b;
  };
  for (const engine of ["interp", "jit"] as VmEngine[]) {
    it(`sums the first word of each sample, stops at a short one (${engine})`, async () => {
      const sim = simulate(await openObject(FIXTURE), { engine });
      const req = sim.map("requests");
      const samples = [u64s(5n, 99n), u64s(7n), u64s(0xffffffffn), new Uint8Array(3), u64s(1000n)];
      for (const s of samples) req.submit(s);
      sim.program("xdp_dynptr").run({ packet: PACKETS[6] });
      const results = sim.map("results");
      // the callback reads 8 bytes: the 3-byte sample fails the read and stops the drain after it
      expect(results.get(21)).toBe(4n);
      expect(results.get(22)).toBe(5n + 7n + 0xffffffffn);
      // the rest is drained by the next run
      sim.program("xdp_dynptr").run({ packet: PACKETS[6] });
      expect(results.get(21)).toBe(1n);
      expect(results.get(22)).toBe(1000n);
      sim.program("xdp_dynptr").run({ packet: PACKETS[6] });
      expect(results.get(21)).toBe(0n);
    });
  }

  it("refuses a sample the ring has no room for (ENOSPC)", async () => {
    const sim = simulate(await openObject(FIXTURE));
    const req = sim.map("requests");
    // 4096-byte ring: a 4088-byte sample takes 4096 with its header
    req.submit(new Uint8Array(4088));
    expect(() => req.submit(new Uint8Array(1))).toThrow(/ENOSPC|full/);
    expect(() => sim.map("results").submit(new Uint8Array(8))).toThrow(/not a user ring buffer/);
  });
});

describe("kfuncs the VM does not simulate", () => {
  for (const [prog, kfunc] of [
    ["in_table", "bpf_task_get_cgroup1"],
    ["not_in_table", "bpf_send_signal_task"],
  ] as const) {
    it(`${prog}: a fault naming ${kfunc}`, async () => {
      const sim = simulate(await openObject("test/vm/fixtures/kfunc_unsimulated.o"));
      let fault: unknown;
      try {
        sim.program(prog).run({ args: [0n, 0n] });
      } catch (e) {
        fault = e;
      }
      expect(isVmFault(fault)).toBe(true);
      if (!isVmFault(fault)) return;
      expect(fault.kind).toBe("unsupported");
      expect(fault.detail).toBe(`kfunc ${kfunc} is not simulated`);
      expect(fault.insn).toBeGreaterThanOrEqual(0);
    });
  }
});

describe("__ksym addresses (test/fixtures/obj/ksym: a typeless ksym, a weak kfunc probed with bpf_ksym_exists)", () => {
  const bss = async (ksyms?: Record<string, bigint>) => {
    const spec = await openObject("test/fixtures/obj/ksym.el.v3.o");
    const sim = simulate(spec, ksyms ? { ksyms } : {});
    sim.program("use_ksyms").run({ args: [0n] });
    return sim.map(spec.maps.find((m) => m.name.endsWith(".bss"))?.name ?? "").get(0);
  };

  it("a typeless ksym loads the address the test gives; an unsimulated weak kfunc does not exist", async () => {
    expect(await bss({ jiffies_to_msecs: 0xffffffff81234560n })).toEqual({
      fn_addr: 0xffffffff81234560n,
      have_fake: 0,
    });
  });

  it("a strong ksym without an address faults when loaded", async () => {
    await expect(bss()).rejects.toThrow(/ld_imm64/);
  });

  it("a weak kfunc given an address exists, and its call faults naming it", async () => {
    await expect(bss({ jiffies_to_msecs: 1n, tsbpf_no_such_kfunc: 0xffffffff80000000n })).rejects.toThrow(
      "kfunc tsbpf_no_such_kfunc is not simulated",
    );
  });
});

describe("the kfunc table", () => {
  it("every simulated kfunc is in src/abi's kfunc table (its VM id comes from there)", async () => {
    const sim = simulate(await openObject(FIXTURE));
    const names = Object.keys(kfuncFns(sim.runtime));
    expect(names.length).toBeGreaterThan(20);
    expect(names.filter((n) => kfuncId(n) === undefined)).toEqual([]);
    const ids = names.map((n) => kfuncCallId(n, []));
    expect(new Set(ids).size).toBe(ids.length);
    expect(Math.min(...ids)).toBe(KFUNC_CALL_BASE + Math.min(...names.map((n) => kfuncId(n) ?? 0)));
  });
});
