import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HELPERS } from "../../src/abi/helpers.js";
import { LSM_HOOK_DEFS, LSM_HOOK_SETS } from "../../src/abi/lsm-hooks.js";
import { lsmHelperAvailable } from "../../src/abi/lsm-rules.js";
import { attachTypeByName, progTypeByName } from "../../src/abi/program-types.js";
import { openObject } from "../../src/elf/object/index.js";
import type { ObjectSpec, ProgramSpec } from "../../src/elf/object/types.js";
import { type Instruction, insn } from "../../src/isa/instruction.js";
import { kernelBtf } from "../../src/verifier/kernel-btf.js";
import { verifyProgram } from "../../src/verifier/verify.js";
import { isVmFault, type VmFaultKind } from "../../src/vm/errors.js";
import { simulate } from "../../src/vm/simulate.js";
import { syntheticObject } from "./generate.js";

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

/** Random lsm programs: context loads at any offset and size, walks through loaded pointers, ALU,
 * branches and returns, on hooks of every shape (int, bool, void, untrusted, lsm_cgroup). */
const HOOKS = [
  ["lsm_mac", "file_open"],
  ["lsm_mac", "file_mprotect"],
  ["lsm_mac", "task_free"],
  ["lsm_mac", "audit_rule_known"],
  ["lsm_mac", "sb_eat_lsm_opts"],
  ["lsm_mac", "file_free_security"],
  ["lsm_cgroup", "socket_bind"],
  ["lsm_cgroup", "sock_graft"],
] as const;
const REGS = [6, 7, 8, 9];
const arbR = fc.constantFrom(...REGS);
const SIZE_BITS: Record<number, number> = { 1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18 };
const arbBlock: fc.Arbitrary<(Instruction | { readonly toEnd: Instruction })[]> = fc.oneof(
  fc
    .tuple(arbR, fc.constantFrom(-8, 0, 4, 8, 16, 24, 32, 40, 88, 96), fc.constantFrom(1, 2, 4, 8))
    .map(([d, off, size]) => [insn(0x61 | SIZE_BITS[size]!, d, 1, off)]),
  fc
    .tuple(arbR, arbR, fc.constantFrom(-8, 0, 8, 16, 4000), fc.constantFrom(4, 8))
    .map(([d, s, off, size]) => [insn(0x61 | SIZE_BITS[size]!, d, s, off)]),
  fc
    .tuple(
      fc.constantFrom(0x00, 0x10, 0x50, 0x70, 0xa0, 0xb0, 0x80),
      fc.boolean(),
      arbR,
      fc.integer({ min: -5000, max: 5000 }),
    )
    .map(([op, is64, d, imm]) => [
      insn(
        (is64 ? 7 : 4) | op,
        d,
        0,
        0, // neg has no immediate (the VM refuses reserved fields even in dead code, the kernel patches it out)
        op === 0x70 ? Math.abs(imm) % 32 : op === 0x80 ? 0 : imm,
      ),
    ]),
  fc
    .tuple(
      fc.constantFrom(0x10, 0x50, 0x20, 0xa0, 0x60, 0xc0),
      fc.boolean(),
      arbR,
      fc.integer({ min: -4096, max: 4 }),
    )
    .map(([op, is64, r, imm]) => [{ toEnd: insn((is64 ? 5 : 6) | op, r, 0, 0, imm) }]),
  fc.tuple(arbR).map(([r]) => [insn(0xbf, 0, r), insn(0x95)]),
);
const arbLsmProgram = fc.tuple(
  fc.constantFrom(...HOOKS),
  fc.array(fc.integer({ min: -4096, max: 2 }), { minLength: 4, maxLength: 4 }),
  fc.array(arbBlock, { minLength: 1, maxLength: 8 }),
  fc.integer({ min: -4100, max: 2 }),
);

function lsmObject(
  attach: string,
  hook: string,
  insns: readonly Instruction[],
): { obj: ObjectSpec; prog: ProgramSpec } {
  const shape = {
    section: `${attach === "lsm_cgroup" ? "lsm_cgroup" : "lsm"}/${hook}`,
    type: progTypeByName("lsm")!,
    expectedAttachType: attachTypeByName(attach)!,
    attachTarget: hook,
  };
  return syntheticObject(insns, shape, []);
}

describe("generated lsm programs", () => {
  it("our verifier never accepts one the VM then faults on", () => {
    const stats = { programs: 0, accepted: 0, runs: 0 };
    const unsafe: string[] = [];
    fc.assert(
      fc.property(
        arbLsmProgram,
        fc.array(fc.uint8Array({ minLength: 96, maxLength: 96 }), { minLength: 1, maxLength: 3 }),
        ([[attach, hook], inits, blocks, ret], ctxs) => {
          stats.programs++;
          const items = [...REGS.map((r, k) => insn(0xb7, r, 0, 0, inits[k]!)), ...blocks.flat()];
          const end = items.length;
          const insns = [
            ...items.map((it, k) => ("toEnd" in it ? { ...it.toEnd, off: end - k - 1 } : it)),
            insn(0xb7, 0, 0, 0, ret),
            insn(0x95),
          ];
          const { obj, prog } = lsmObject(attach, hook, insns);
          const v = verifyProgram(obj, prog, { logLevel: 0, maxMillis: 5000 });
          if (v.verdict !== "accept") return;
          stats.accepted++;
          const sim = simulate(obj, { tracefs: false, budget: 10_000 });
          for (const ctx of ctxs) {
            stats.runs++;
            try {
              sim.program("gen").run({ ctx });
            } catch (e) {
              if (isVmFault(e) && e.kind === "budget") continue;
              unsafe.push(`${attach}/${hook}: ${String(e)} :: ${JSON.stringify(insns)}`);
            }
          }
        },
      ),
      { numRuns: 3000, seed: 29 },
    );
    console.log(JSON.stringify({ lsmGenerated: stats }));
    expect(unsafe.slice(0, 3)).toEqual([]);
    expect(stats.accepted).toBeGreaterThan(50);
  }, 120_000);
});
