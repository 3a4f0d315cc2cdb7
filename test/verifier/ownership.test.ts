import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { openObject } from "../../src/elf/object/index.js";
import { verifyProgram } from "../../src/verifier/verify.js";
import { arbProgram, objectOf } from "./generate.js";

/**
 * The in-place scalar ALU changes the destination register's object: that is right only while
 * every register object belongs to one slot of one state. These runs check it after every
 * instruction (VerifyOptions.checkOwnership) on every committed verifier fixture and on
 * generated programs; a module that stores one register in two places fails here.
 */
const ROOTS = [
  "test/fixtures/verifier/obj",
  "test/fixtures/verifier-corpus/obj",
  "test/fixtures/verifier-lsm/obj",
  "test/fixtures/verifier-unpriv/obj",
  "test/fixtures/obj",
];

function objects(dir: string): string[] {
  let out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(objects(p));
    else if (name.endsWith(".o")) out.push(p);
  }
  return out;
}

describe("register ownership (one slot of one state per register object)", () => {
  it("holds after every instruction of every verifier fixture", async () => {
    let programs = 0;
    const broken: string[] = [];
    for (const root of ROOTS) {
      for (const file of objects(root)) {
        let obj: Awaited<ReturnType<typeof openObject>>;
        try {
          obj = await openObject(file);
        } catch {
          continue; // malformed-input fixtures belong to the ELF tests
        }
        for (const prog of obj.programs) {
          programs++;
          for (const unprivileged of [false, true]) {
            try {
              // 1M-instruction loops are cut short: the check is per instruction, not per verdict
              verifyProgram(obj, prog, {
                logLevel: 0,
                maxInsns: 20_000,
                maxMillis: 20_000,
                checkOwnership: true,
                unprivileged,
              });
            } catch (e) {
              broken.push(`${file}:${prog.name}${unprivileged ? " (unprivileged)" : ""}: ${String(e)}`);
            }
          }
        }
      }
    }
    console.log(JSON.stringify({ ownership: { programs } }));
    expect(broken).toEqual([]);
    expect(programs).toBeGreaterThan(400);
  }, 600_000);

  it("holds on generated programs", () => {
    fc.assert(
      fc.property(arbProgram, (insns) => {
        const { obj, prog } = objectOf(insns);
        verifyProgram(obj, prog, { logLevel: 0, maxMillis: 5000, checkOwnership: true });
      }),
      { numRuns: 1500, seed: 23 },
    );
  }, 300_000);
});
