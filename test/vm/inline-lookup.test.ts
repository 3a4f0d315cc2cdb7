/**
 * Inline array-map lookups (VmHelper.arrayLookup, src/vm/inline-lookup.ts) against the generic
 * helper call, in both engines: the same r0 (element address or NULL), the same map contents
 * after writing through it, the same budget used, and the same fault for a bad key pointer.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Instruction, insn, ldImm64 } from "../../src/isa/instruction.js";
import { PSEUDO_LD } from "../../src/isa/opcodes.js";
import { compile } from "../../src/vm/code.js";
import type { VmHelper } from "../../src/vm/env.js";
import { VmFault } from "../../src/vm/errors.js";
import { mapLookupHelper } from "../../src/vm/helpers/maps.js";
import { inlineLookups } from "../../src/vm/inline-lookup.js";
import { createVm, type VmEngine } from "../../src/vm/interpreter.js";
import { jitSource } from "../../src/vm/jit.js";
import { createSimMap } from "../../src/vm/maps/create.js";
import type { SimMap } from "../../src/vm/maps/types.js";
import { Memory } from "../../src/vm/memory.js";

const MAX = 16;

interface Setup {
  readonly memory: Memory;
  readonly map: SimMap;
  readonly helper: VmHelper;
  readonly ctx: bigint;
}

function setup(typeName: "array" | "percpu_array" = "array"): Setup {
  const memory = new Memory();
  const map = createSimMap(
    {
      name: "arr",
      type: typeName === "array" ? 2 : 6,
      typeName,
      keySize: 4,
      valueSize: 8,
      maxEntries: MAX,
      flags: 0,
    },
    { memory, cpus: 1 },
  );
  const rt = {
    memory,
    cpu: 0,
    cpus: 1,
    mapByRegion: (id: number) => (id === map.region.id ? map : undefined),
  };
  // a context-like region with a load hook: a key there is not plain memory
  const ctx = memory.add({ kind: "ctx", name: "ctx", size: 8, writable: false, hooks: { load: () => 3 } });
  return { memory, map, helper: mapLookupHelper(rt), ctx: ctx.address(0) };
}

/**
 * r1 = map; r2 = key pointer; call lookup; if r0 != 0, *(u64 *)r0 += 1 (then r0 is still the
 * pointer). `keyPtr` sets r2 (the key u32 is stored at r10 - 4 first).
 */
function program(key: number, keyPtr: Instruction[]): Instruction[] {
  return [
    insn(0x62, 10, 0, -4, key | 0), // *(u32 *)(r10 - 4) = key
    ...keyPtr,
    ldImm64(1, 0n, PSEUDO_LD.MAP_FD),
    insn(0x85, 0, 0, 0, 1), // bpf_map_lookup_elem
    insn(0x15, 0, 0, 3, 0), // if r0 == 0 goto exit
    insn(0x79, 3, 0, 0), // r3 = *(u64 *)r0
    insn(0x07, 3, 0, 0, 1),
    insn(0x7b, 0, 3, 0), // *(u64 *)r0 = r3
    insn(0x95),
  ];
}

const ON_STACK = [insn(0xbf, 2, 10), insn(0x07, 2, 0, 0, -4)];

type Outcome = { r0: bigint; insns: number; values: string } | { fault: string };

function outcome(s: Setup, prog: Instruction[], engine: VmEngine, inline: boolean, args: bigint[]): Outcome {
  const helper: VmHelper = inline ? s.helper : { id: s.helper.id, name: s.helper.name, fn: s.helper.fn };
  const vm = createVm(
    prog,
    {
      memory: s.memory,
      helpers: [helper],
      resolveLdImm64: (i) => (i.src === PSEUDO_LD.MAP_FD ? s.map.region.address(0) : undefined),
    },
    { engine },
  );
  try {
    const r = vm.run({ args });
    const values: string[] = [];
    for (let k = 0; k < MAX; k++) {
      const key = new Uint8Array(new Uint32Array([k]).buffer);
      values.push(Buffer.from(s.map.userLookup(key) ?? []).toString("hex"));
    }
    return { r0: r.r0, insns: r.insns, values: values.join(",") };
  } catch (e) {
    if (!(e instanceof VmFault)) throw e;
    return { fault: `${e.kind} @${e.insn} ${e.address ?? ""}: ${e.message}` };
  }
}

/** The outcome with the inline path, and the generic helper's on a fresh copy of the setup. */
function both(
  prog: Instruction[],
  engine: VmEngine,
  args: (s: Setup) => bigint[] = () => [],
): [Outcome, Outcome] {
  const a = setup();
  const b = setup();
  return [outcome(a, prog, engine, true, args(a)), outcome(b, prog, engine, false, args(b))];
}

const cases: [string, Instruction[], ((s: Setup) => bigint[])?][] = [
  ["hit", program(3, ON_STACK)],
  ["last index", program(MAX - 1, ON_STACK)],
  ["miss: key = max_entries", program(MAX, ON_STACK)],
  ["out-of-range key 0xffffffff", program(-1, ON_STACK)],
  ["key pointer past the stack", program(3, [insn(0xbf, 2, 10), insn(0x07, 2, 0, 0, -2)])],
  ["key pointer NULL", program(3, [insn(0xb7, 2, 0, 0, 0)])],
  ["key pointer into a hooked context", program(3, [insn(0xbf, 2, 1)]), (s) => [s.ctx]],
];

describe("inline array lookups equal the generic bpf_map_lookup_elem", () => {
  it("the lookup call is inlined (both engines see the array)", () => {
    const s = setup();
    const env = {
      memory: s.memory,
      resolveLdImm64: () => s.map.region.address(0),
    };
    const code = compile(program(3, ON_STACK), env, true);
    const helpers: VmHelper[] = [];
    helpers[1] = s.helper;
    const arrays = inlineLookups(code, helpers, [0]);
    const call = code.op.indexOf(0x85);
    expect(arrays[call]).toBeDefined();
    expect(jitSource(code, [0], arrays)).toContain(`A${call}.maxEntries`);
    // not for a per-CPU array
    const p = setup("percpu_array");
    const pc = compile(
      program(3, ON_STACK),
      { memory: p.memory, resolveLdImm64: () => p.map.region.address(0) },
      true,
    );
    const ph: VmHelper[] = [];
    ph[1] = p.helper;
    expect(inlineLookups(pc, ph, [0])[call]).toBeUndefined();
  });

  it("not inlined when r1 is not a known constant at the call (a jump target in between)", () => {
    const s = setup();
    const prog = [
      ldImm64(1, 0n, PSEUDO_LD.MAP_FD),
      insn(0x05, 0, 0, 0, 0), // ja +0: the call is a jump target
      ...ON_STACK,
      insn(0x85, 0, 0, 0, 1),
      insn(0x95),
    ];
    const code = compile(prog, { memory: s.memory, resolveLdImm64: () => s.map.region.address(0) }, true);
    const helpers: VmHelper[] = [];
    helpers[1] = s.helper;
    expect(inlineLookups(code, helpers, [0]).every((a) => a === undefined)).toBe(true);
  });

  for (const engine of ["interp", "jit"] as const) {
    it.each(cases)(`${engine}: %s`, (_name, prog, args) => {
      const [inl, gen] = both(prog, engine, args);
      expect(inl).toEqual(gen);
    });

    it(`${engine}: any key, repeated runs (property)`, () => {
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: -4, max: MAX + 4 }), { minLength: 1, maxLength: 6 }),
          (keys) => {
            const a = setup();
            const b = setup();
            for (const k of keys) {
              const prog = program(k, ON_STACK);
              expect(outcome(a, prog, engine, true, [])).toEqual(outcome(b, prog, engine, false, []));
            }
          },
        ),
        { numRuns: 40 },
      );
    });
  }

  it("the hit and miss cases do differ (the comparison is not vacuous)", () => {
    const [hit] = both(program(3, ON_STACK), "interp");
    const [miss] = both(program(MAX, ON_STACK), "interp");
    expect(hit).toHaveProperty("r0");
    expect(miss).toHaveProperty("r0", 0n);
    expect((hit as { r0: bigint }).r0).not.toBe(0n);
    expect(both(program(3, [insn(0xb7, 2, 0, 0, 0)]), "jit")[0]).toHaveProperty("fault");
  });
});
