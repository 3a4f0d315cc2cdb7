import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { verifyProgram } from "../../src/verifier/verify.js";
import { isVmFault } from "../../src/vm/errors.js";
import { simulate } from "../../src/vm/simulate.js";
import { arbProgram, objectOf } from "./generate.js";

/**
 * Soundness against the VM: a program our verifier accepts must run without faulting (other than
 * running out of budget) on any packet (the kernel runs XDP on 14 bytes or more), with the map empty or holding the looked-up key.
 */
describe("offline verifier vs the VM", () => {
  it("never accepts a program the VM then faults on", () => {
    const stats = { programs: 0, accepted: 0, runs: 0 };
    const faults: string[] = [];
    fc.assert(
      fc.property(
        arbProgram,
        fc.array(fc.uint8Array({ minLength: 14, maxLength: 80 }), { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        (insns, packets, filled) => {
          stats.programs++;
          const { obj, prog } = objectOf(insns);
          const v = verifyProgram(obj, prog, { logLevel: 0, maxMillis: 5000 });
          if (v.verdict !== "accept") return;
          stats.accepted++;
          const sim = simulate(obj, { tracefs: false, budget: 100_000 });
          if (filled) sim.map("m").set(0n, new Uint8Array(16));
          for (const packet of packets) {
            stats.runs++;
            try {
              sim.program("gen").run({ packet });
            } catch (e) {
              if (isVmFault(e) && e.kind === "budget") continue;
              faults.push(`${JSON.stringify(insns)} packet=${packet.length}B: ${String(e)}`);
            }
          }
        },
      ),
      { numRuns: 4000, seed: 11 },
    );
    console.log(JSON.stringify({ vmSafety: stats }));
    expect(faults.slice(0, 5)).toEqual([]);
    expect(stats.accepted).toBeGreaterThan(50);
  }, 300_000);
});
