import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { goldenOf } from "../../src/verifier/diff.js";
import { kernelVerify } from "../../src/verifier/kernel.js";
import { verifyProgram } from "../../src/verifier/verify.js";
import { arbProgram, newAgreementStats, objectOf, tallyAgreement } from "./generate.js";

const kernelWhy = process.getuid?.() !== 0 ? "not root" : undefined;

describe("generated programs: offline verifier vs the live kernel", () => {
  it.skipIf(kernelWhy !== undefined)(
    "no false accepts; verdict and message agreement",
    () => {
      const stats = newAgreementStats();
      const bad: string[] = [];
      fc.assert(
        fc.property(arbProgram, (insns) => {
          const { obj, prog } = objectOf(insns);
          const ours = verifyProgram(obj, prog, { logLevel: 0, maxMillis: 5000 });
          const k = goldenOf("gen", "gen", kernelVerify(obj, prog));
          if (k.unavailable) return;
          if (ours.error && !ours.error.modelled) {
            stats.notModelled++;
            return;
          }
          tallyAgreement(stats, bad, ours, k, () => JSON.stringify(insns));
        }),
        { numRuns: 2000, seed: 6 },
      );
      console.log(JSON.stringify({ generated: stats }));
      expect(bad).toEqual([]);
    },
    300_000,
  );
});
