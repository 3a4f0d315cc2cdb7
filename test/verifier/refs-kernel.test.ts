import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { openObjectSync } from "../../src/elf/object/open.js";
import { verifyWithKernel } from "../../src/loader/kernel-verify.js";
import { probeBpf } from "../../src/loader/probe.js";
import { verifyProgram } from "../../src/verifier/verify.js";
import { errorBlock } from "../fixtures/verifier-corpus/golden.js";

/**
 * Edge cases of socket references, spin locks and timers (test/fixtures/verifier-refs: calls
 * under a lock, unlock in a subprogram, spilled sockets, casts of referenced sockets, callbacks
 * that leak or hold locks, xskmap/sockhash lookups ...): the offline verifier against the running
 * kernel, asked at test time. Same verdict; on a reject, our message is the kernel's error block.
 */
const DIR = "test/fixtures/verifier-refs/obj";
const probe = probeBpf();
const live = probe.ok && process.getuid?.() === 0;
if (!live) {
  console.warn(
    `SKIP verifier-refs kernel comparison: ${probe.ok ? "not root (needs CAP_BPF + CAP_PERFMON)" : probe.reason}`,
  );
}

describe.skipIf(!live)(
  "socket references, spin locks, timers: offline verifier vs the running kernel",
  () => {
    for (const file of readdirSync(DIR).filter((f) => f.endsWith(".o"))) {
      it(file, async () => {
        const path = `${DIR}/${file}`;
        const obj = openObjectSync(new Uint8Array(readFileSync(path)), { file: path });
        const kernel = await verifyWithKernel(obj, { logLevel: 1 });
        expect(obj.programs.length).toBeGreaterThan(3);
        for (const p of obj.programs) {
          const k = kernel.programs.find((x) => x.name === p.name)!;
          const ours = verifyProgram(obj, p, { logLevel: 1 });
          expect({ program: p.name, verdict: ours.verdict, modelled: ours.error?.modelled ?? true }).toEqual({
            program: p.name,
            verdict: k.verdict,
            modelled: true,
          });
          if (k.verdict === "reject") expect(ours.error?.message).toBe(errorBlock(k.log ?? ""));
        }
      });
    }
  },
);
