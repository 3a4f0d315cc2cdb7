import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HELPERS } from "../../src/abi/helpers.js";
import { LSM_HOOK_DEFS, LSM_HOOK_SETS } from "../../src/abi/lsm-hooks.js";
import { lsmHelperAvailable } from "../../src/abi/lsm-rules.js";
import { openObject } from "../../src/elf/object/index.js";
import { kernelBtf } from "../../src/verifier/kernel-btf.js";
import { verifyProgram } from "../../src/verifier/verify.js";
import { isVmFault, type VmFaultKind } from "../../src/vm/errors.js";
import { simulate } from "../../src/vm/simulate.js";

/**
 * lsm programs against expectations taken from the kernel's sources and BPF selftests
 * (test/fixtures/verifier-lsm/expected.json, every entry cites its source). These are not kernel
 * goldens: the kernel here refuses lsm programs with EPERM before its verifier runs.
 */
const DIR = "test/fixtures/verifier-lsm";

interface Expected {
  readonly fixture: string;
  readonly program: string;
  readonly verdict: "accept" | "reject";
  readonly message?: string;
  readonly insn?: number;
  readonly source: string;
  /** Why tsbpf refuses this one as not modelled instead of giving the expected verdict. */
  readonly notModelled?: string;
}
const expected: readonly Expected[] = (
  JSON.parse(readFileSync(join(DIR, "expected.json"), "utf8")) as { fixtures: Expected[] }
).fixtures;

const btf = kernelBtf().btf;

/** `{btf_id}` in a message: the kernel BTF id of the program's bpf_lsm_<hook> function. */
function resolve(message: string, hookFunc: string): string {
  const id = btf.findByName(hookFunc, "FUNC")?.id;
  return message.replace("{btf_id}", String(id));
}

describe("lsm programs vs the kernel's sources and selftests", () => {
  it("has every fixture object in expected.json and no other", async () => {
    const fromDisk = ["accept", "reject"].flatMap((v) =>
      readdirNames(join(DIR, "obj", v)).map((f) => `${v}/${f.replace(/\.o$/, "")}`),
    );
    expect([...fromDisk].sort()).toEqual(expected.map((e) => e.fixture).sort());
  });

  it("agrees on verdict, message and instruction", async () => {
    const figures = {
      notModelled: 0,
      fixtures: 0,
      accept: 0,
      reject: 0,
      sameVerdict: 0,
      sameMessage: 0,
      sameInsn: 0,
      withInsn: 0,
    };
    const wrong: string[] = [];
    for (const e of expected) {
      figures.fixtures++;
      figures[e.verdict]++;
      const obj = await openObject(join(DIR, "obj", `${e.fixture}.o`));
      const prog = obj.program(e.program);
      const v = verifyProgram(obj, prog, { logLevel: 1 });
      if (e.notModelled) {
        // refused, never accepted: a tsbpf message, not the kernel's
        figures.notModelled++;
        expect(v.verdict, e.fixture).toBe("reject");
        expect(v.error?.modelled, e.fixture).toBe(false);
        continue;
      }
      if (v.verdict === e.verdict) figures.sameVerdict++;
      else wrong.push(`${e.fixture}: ${v.verdict} (${v.error?.message ?? ""}), expected ${e.verdict}`);
      if (e.verdict === "accept") continue;
      expect(v.error?.modelled, `${e.fixture}: ${v.error?.message}`).toBe(true);
      const want = resolve(e.message ?? "", `bpf_lsm_${prog.attachTarget}`);
      if (v.error?.message === want) figures.sameMessage++;
      else
        wrong.push(
          `${e.fixture}: message ${JSON.stringify(v.error?.message)}, expected ${JSON.stringify(want)}`,
        );
      if (e.insn !== undefined) {
        figures.withInsn++;
        if (v.error?.insn === e.insn) figures.sameInsn++;
        else wrong.push(`${e.fixture}: insn ${v.error?.insn}, expected ${e.insn}`);
      }
    }
    console.log(JSON.stringify({ lsm: figures }));
    expect(wrong).toEqual([]);
    expect(figures.fixtures).toBeGreaterThanOrEqual(40);
  });

  it("cites a source for every expectation", () => {
    for (const e of expected) expect(e.source.length, e.fixture).toBeGreaterThan(20);
  });
});

/** Faults that mean the program touched memory or code it may not: what the verifier rules out. */
const UNSAFE: ReadonlySet<VmFaultKind> = new Set([
  "out-of-bounds",
  "read-only",
  "bad-jump",
  "call-depth",
  "invalid-insn",
]);

describe("accepted lsm programs in the VM", () => {
  it("never fault on memory with zeroed or random argument slots", async () => {
    const stats = { programs: 0, runs: 0, otherFaults: 0, kfuncSkipped: 0 };
    const unsafe: string[] = [];
    const other: string[] = [];
    for (const e of expected.filter((x) => x.verdict === "accept")) {
      const obj = await openObject(join(DIR, "obj", `${e.fixture}.o`));
      const prog = obj.program(e.program);
      if (verifyProgram(obj, prog, { logLevel: 0 }).verdict !== "accept") continue;
      if (prog.insns.some((i) => i.opcode === 0x85 && i.ref?.kind === "extern")) {
        stats.kfuncSkipped++;
        continue;
      }
      stats.programs++;
      const sim = simulate(obj, { tracefs: false, budget: 100_000 });
      const run = sim.program(e.program);
      const contexts = [
        new Uint8Array(96),
        ...fc.sample(fc.uint8Array({ minLength: 96, maxLength: 96 }), { numRuns: 20, seed: 7 }),
      ];
      for (const ctx of contexts) {
        stats.runs++;
        try {
          run.run({ ctx });
        } catch (err) {
          if (isVmFault(err) && UNSAFE.has(err.kind)) unsafe.push(`${e.fixture}: ${err.message}`);
          else {
            stats.otherFaults++;
            other.push(`${e.fixture}: ${String(err).split("\n")[0]}`);
          }
        }
      }
    }
    console.log(JSON.stringify({ lsmVm: stats, notRun: [...new Set(other)] }));
    expect(unsafe).toEqual([]);
    expect(stats.programs).toBeGreaterThan(10);
  });
});

describe("the LSM hook table (scripts/abi/gen-lsm-hooks.ts) against the kernel BTF", () => {
  it("every hook the BTF has is a void or non-void function as the header says", () => {
    let found = 0;
    for (const h of LSM_HOOK_DEFS) {
      const fn = btf.findByName(`bpf_lsm_${h.name}`, "FUNC");
      if (fn?.kind !== "FUNC") {
        // only hooks under a configuration condition may be missing
        expect(h.config, `bpf_lsm_${h.name} missing from the kernel BTF`).toBeDefined();
        continue;
      }
      found++;
      const proto = btf.typeById(fn.type);
      expect(proto.kind).toBe("FUNC_PROTO");
      if (proto.kind === "FUNC_PROTO") expect(proto.returnType === 0, h.name).toBe(h.ret === "void");
    }
    expect(found).toBeGreaterThan(200);
    const names = new Set(LSM_HOOK_DEFS.map((h) => h.name));
    for (const set of Object.values(LSM_HOOK_SETS)) for (const n of set) expect(names.has(n), n).toBe(true);
  });
});

function readdirNames(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith(".o"));
}

describe("bpf_lsm_func_proto (src/abi/lsm-rules.ts)", () => {
  it("decides only for helpers the helper table knows, and differently per lsm flavour where the kernel does", () => {
    const decided = HELPERS.filter((h) => lsmHelperAvailable(h.name, "lsm_mac", "file_open") !== undefined);
    expect(decided.length).toBeGreaterThan(15);
    // lsm_cgroup: cgroup_common_func_proto first, no trampoline helpers
    const differ = HELPERS.filter(
      (h) =>
        lsmHelperAvailable(h.name, "lsm_mac", "sock_graft") !==
        lsmHelperAvailable(h.name, "lsm_cgroup", "sock_graft"),
    ).map((h) => h.name);
    expect(differ.sort()).toEqual(
      [
        "bpf_get_attach_cookie",
        "bpf_get_func_arg",
        "bpf_get_func_arg_cnt",
        "bpf_get_func_ret",
        "bpf_get_local_storage",
        "bpf_get_retval",
        "bpf_getsockopt",
        "bpf_set_retval",
        "bpf_setsockopt",
      ].sort(),
    );
  });
});
