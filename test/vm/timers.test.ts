/**
 * bpf_timer in the VM. Kernel differential: test/vm/fixtures/timers.o records the return value
 * of every bpf_timer call of a fixed sequence; BPF_PROG_TEST_RUN and the simulator must give the
 * same codes and the same hash map (timer fields read as zero), in both engines. Offline: the
 * callbacks the kernel would run later, fired with Simulation.fireTimers on a clock the test
 * sets, with the results computed here (the corpus's flow-expiry and rate-decay programs).
 */
import { afterAll, describe, expect, it } from "vitest";
import { openObject } from "../../src/elf/object/open.js";
import { type LoadedObject, loadObject } from "../../src/loader/object.js";
import type { VmEngine } from "../../src/vm/interpreter.js";
import { simulate } from "../../src/vm/simulate.js";
import { testRunUnavailable } from "./kernel-probe.js";

const unavailable = testRunUnavailable();
if (unavailable) console.warn(`skipping the bpf_timer kernel differential: ${unavailable}`);

function frame(len: number): Uint8Array {
  const b = new Uint8Array(len);
  b[12] = 0x88;
  b[13] = 0xb5;
  return b;
}

const json = (v: unknown): string => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? String(x) : x));
const sorted = (m: { entries(): Iterable<[unknown, unknown]> }): string[] =>
  [...m.entries()].map(json).sort();

const loaded: LoadedObject[] = [];
afterAll(() => {
  for (const l of loaded) l.close();
});

const ENGINES: readonly VmEngine[] = ["interp", "jit"];

describe.skipIf(unavailable !== undefined)("bpf_timer: the simulator equals BPF_PROG_TEST_RUN", () => {
  for (const engine of ENGINES) {
    it(`return codes and the map after each run (${engine})`, async () => {
      const spec = await openObject("test/vm/fixtures/timers.o");
      const live = await loadObject(spec);
      loaded.push(live);
      const sim = simulate(spec, { engine });
      for (const len of [60, 61, 60, 62, 63, 64, 61]) {
        const k = live.program("timer_codes").testRun({ data: frame(len) });
        const s = sim.program("timer_codes").run({ packet: frame(len) });
        expect(s.retval, `len ${len}`).toBe(k.retval);
        expect(sorted(sim.map("codes")), `codes, len ${len}`).toEqual(sorted(live.map("codes")));
        expect(sorted(sim.map("timers")), `timers, len ${len}`).toEqual(sorted(live.map("timers")));
      }
      // the sequence really ran: init succeeded, the double init was refused
      expect(sim.map("codes").get(4)).toBe(0n);
      expect(sim.map("codes").get(5)).toBe(BigInt.asUintN(64, -16n));
      live.close();
    });
  }
});

for (const engine of ENGINES) {
  describe(`fireTimers (${engine})`, () => {
    it("runs a due callback once, on the element's value", async () => {
      let now = 5_000_000_000n;
      const sim = simulate(await openObject("test/vm/fixtures/timers.o"), { engine, clock: () => now });
      sim.program("timer_codes").run({ packet: frame(60) }); // key 0, armed 1000 s ahead
      const timers = sim.map("timers");
      expect(sim.fireTimers(now + 999_000_000_000n)).toBe(0);
      expect((timers.get(0) as { fired: bigint }).fired).toBe(7n);
      now += 1000_000_000_000n;
      expect(sim.fireTimers(now)).toBe(1);
      expect((timers.get(0) as { fired: bigint }).fired).toBe(8n);
      expect(sim.fireTimers()).toBe(0); // fired timers are disarmed
      // a replaced element takes its timer with it
      sim.program("timer_codes").run({ packet: frame(61) }); // key 1, armed
      sim.program("timer_codes").run({ packet: frame(61) }); // key 1 replaced: a new timer, armed
      expect(sim.fireTimers()).toBe(1);
      expect((timers.get(1) as { fired: bigint }).fired).toBe(8n);
    });

    it("ref_tc_timer_flow_expiry: a flow expires 10 s after its last packet", async () => {
      let now = 1_000_000_000n;
      const spec = await openObject("test/fixtures/verifier-corpus/obj/accept/ref_tc_timer_flow_expiry.o");
      const sim = simulate(spec, { engine, clock: () => now });
      const flows = sim.map("flows");
      sim.program("tc_flow_expiry").run({ packet: frame(64) });
      now += 4_000_000_000n;
      sim.program("tc_flow_expiry").run({ packet: frame(64) }); // restarts the 10 s
      expect((flows.get(0) as { packets: bigint }).packets).toBe(2n);
      expect(sim.fireTimers(now + 9_999_999_999n)).toBe(0);
      expect(flows.get(0)).toBeDefined();
      expect(sim.fireTimers(now + 10_000_000_000n)).toBe(1);
      expect(flows.get(0)).toBeUndefined();
    });

    it("ref_tc_timer_callback_rearm: the callback halves the rate each second until it deletes the flow", async () => {
      let now = 1_000_000_000n;
      const spec = await openObject("test/fixtures/verifier-corpus/obj/accept/ref_tc_timer_callback_rearm.o");
      const sim = simulate(spec, { engine, clock: () => now });
      const flows = sim.map("flows");
      const len = 1234;
      sim.program("tc_rate_sample").run({ packet: frame(len) });
      let rate = BigInt(len);
      expect((flows.get(0) as { rate: bigint }).rate).toBe(rate);
      while (rate > 0n) {
        now += 1_000_000_000n;
        // one callback per second: the one it re-arms is due a second later
        expect(sim.fireTimers(now)).toBe(1);
        rate >>= 1n;
        const v = flows.get(0) as { rate: bigint } | undefined;
        if (rate > 0n) expect(v?.rate).toBe(rate);
        else expect(v).toBeUndefined();
      }
      expect(sim.fireTimers()).toBe(0);
    });
  });
}
