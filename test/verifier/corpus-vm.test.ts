import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { openObject } from "../../src/elf/object/index.js";
import { verifyProgram } from "../../src/verifier/verify.js";
import { isVmFault, type VmFaultKind } from "../../src/vm/errors.js";
import { simulate } from "../../src/vm/simulate.js";
import { corpusVerdicts } from "../fixtures/verifier-corpus/golden.js";

/** Faults that mean the program touched memory or code it may not: what the verifier rules out. */
const UNSAFE: ReadonlySet<VmFaultKind> = new Set([
  "out-of-bounds",
  "read-only",
  "bad-jump",
  "call-depth",
  "invalid-insn",
]);
const PACKET_TYPES = new Set(["xdp", "sched_cls", "sched_act", "socket_filter", "cgroup_skb"]);

/** Ethernet frames with IPv4/IPv6 (optionally VLAN-tagged) TCP/UDP/ICMP headers, cut at any length >= 14. */
const arbPacket: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.constantFrom(0x0800, 0x86dd, 0x8100, 0x0806),
    fc.constantFrom(6, 17, 1, 58, 0, 43),
    fc.uint8Array({ minLength: 120, maxLength: 120 }),
    fc.integer({ min: 14, max: 120 }),
    fc.integer({ min: 0, max: 15 }),
  )
  .map(([ethType, proto, noise, len, ihlNoise]) => {
    const p = Uint8Array.from(noise);
    let o = 12;
    if (ethType === 0x8100) {
      p[o] = 0x81;
      p[o + 1] = 0x00;
      o += 4;
      p[o] = 0x08;
      p[o + 1] = 0x00;
    } else {
      p[o] = ethType >> 8;
      p[o + 1] = ethType & 255;
    }
    o += 2;
    if (ethType === 0x86dd) {
      p[o] = 0x60;
      p[o + 6] = proto;
    } else {
      p[o] = 0x40 | (ihlNoise < 12 ? 5 : ihlNoise);
      p[o + 9] = proto;
    }
    return p.slice(0, len);
  });

describe("corpus programs our verifier accepts run safely in the VM", () => {
  it("no memory fault on generated packets and default contexts", async () => {
    const stats = { programs: 0, runs: 0, refusedInputs: 0, otherFaults: 0 };
    const unsafe: string[] = [];
    /** Programs stopped by a helper, kfunc or map type the VM does not simulate (listed below). */
    const notSimulated = new Set<string>();
    for (const r of corpusVerdicts()) {
      const obj = await openObject(r.file);
      const v = verifyProgram(obj, obj.program(r.program), { logLevel: 0, maxMillis: 5000 });
      if (v.verdict !== "accept") continue;
      stats.programs++;
      const sim = simulate(obj, { tracefs: false, budget: 200_000 });
      const prog = sim.program(r.program);
      const runOnce = (packet?: Uint8Array): void => {
        stats.runs++;
        try {
          prog.run(packet ? { packet } : {});
        } catch (e) {
          if (isVmFault(e) && UNSAFE.has(e.kind)) unsafe.push(`${r.file}:${r.program}: ${e.message}`);
          else if (isVmFault(e) && (e.kind === "unsupported" || e.kind === "unknown-helper"))
            notSimulated.add(`${r.file.split("/").pop()}:${r.program}: ${e.detail}`);
          else if (!isVmFault(e) && /too short for its/.test(String(e))) stats.refusedInputs++;
          else stats.otherFaults++;
        }
      };
      if (PACKET_TYPES.has(obj.program(r.program).type.name)) {
        for (const packet of fc.sample(arbPacket, { numRuns: 60, seed: stats.programs })) runOnce(packet);
      } else runOnce();
    }
    console.log(JSON.stringify({ corpusVm: { ...stats, notSimulated: notSimulated.size } }));
    if (notSimulated.size) console.log(`not simulated:\n  ${[...notSimulated].join("\n  ")}`);
    expect(unsafe).toEqual([]);
    expect(stats.programs).toBeGreaterThan(30);
  }, 120_000);
});
