/**
 * Simulated helpers never throw anything but their own VmFaults: random calls of every simulated helper
 * and kfunc
 * with arguments drawn from valid pointers (stack, map, map value, ring buffer, context,
 * packet), bad pointers and random scalars, in XDP and tc contexts.
 */
import fc from "fast-check";
import { describe, it } from "vitest";
import { insn, ldImm64 } from "../../src/isa/instruction.js";
import { buildContext } from "../../src/vm/context.js";
import { VmFault } from "../../src/vm/errors.js";
import { simHelpers } from "../../src/vm/helpers/index.js";
import { kfuncHelpers } from "../../src/vm/helpers/kfuncs.js";
import type { UserRingBuf } from "../../src/vm/maps/user-ringbuf.js";
import { simEnv } from "./sim-env.js";

describe("simulated helpers on random arguments", () => {
  it("only ever fault with VmFault", () => {
    const env = simEnv({ cpus: 2 });
    const maps = [
      env.addMap({ type: 1, typeName: "hash", keySize: 4, valueSize: 8, maxEntries: 4 }),
      env.addMap({ type: 2, typeName: "array", keySize: 4, valueSize: 16, maxEntries: 4 }),
      env.addMap({ type: 27, typeName: "ringbuf", keySize: 0, valueSize: 0, maxEntries: 4096 }),
      env.addMap({ type: 22, typeName: "queue", keySize: 0, valueSize: 8, maxEntries: 2 }),
      env.addMap({ type: 4, typeName: "perf_event_array", keySize: 4, valueSize: 4, maxEntries: 2 }),
      env.addMap({ type: 7, typeName: "stack_trace", keySize: 4, valueSize: 32, maxEntries: 2 }),
      env.addMap({ type: 3, typeName: "prog_array", keySize: 4, valueSize: 4, maxEntries: 2 }),
      env.addMap({ type: 6, typeName: "percpu_array", keySize: 4, valueSize: 8, maxEntries: 2 }),
      env.addMap({ type: 31, typeName: "user_ringbuf", keySize: 0, valueSize: 0, maxEntries: 4096 }),
      env.addMap({ type: 29, typeName: "task_storage", keySize: 4, valueSize: 8, maxEntries: 0 }),
      env.addMap({ type: 15, typeName: "sockmap", keySize: 4, valueSize: 8, maxEntries: 2 }),
    ];
    (maps[8] as UserRingBuf).submit(new Uint8Array(12).fill(3));
    env.runtime.stacks = { kernel: [1n, 2n, 3n], user: [4n] };
    env.runtime.kernelMemory = [{ address: 0xffff800000000000n, bytes: new Uint8Array(64).fill(65) }];
    const ids = [...simHelpers(env.runtime), ...kfuncHelpers(env.runtime, [], [])].map((h) => h.id);
    const arg = fc.oneof(
      fc.constantFrom("stack", "stack-end", "map", "value", "ctx", "packet", "zero", "ring", "kmem"),
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      fc.integer({ min: -600, max: 600 }).map(BigInt),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...ids),
        fc.array(arg, { minLength: 5, maxLength: 5 }),
        fc.integer({ min: 0, max: maps.length - 1 }),
        fc.constantFrom("xdp", "sched_cls"),
        (id, args, mi, progType) => {
          const ctx = buildContext(env.memory, { progType, packet: new Uint8Array(64).fill(7) });
          env.runtime.packet = ctx.packet;
          env.runtime.progType = progType;
          const ring = maps[2] as unknown as { reserve(n: number, f: number): bigint };
          const value = maps[1].lookup(new Uint8Array(4), 0);
          const resolve = (a: string | bigint): bigint => {
            if (typeof a === "bigint") return BigInt.asUintN(64, a);
            switch (a) {
              case "map":
                return maps[mi].region.address(0);
              case "value":
                return value;
              case "ctx":
                return ctx.region.address(0);
              case "packet":
                return ctx.packet ? ctx.packet.region.address(ctx.packet.region.dataStart) : 0n;
              case "ring":
                return ring.reserve(16, 0);
              case "kmem":
                return 0xffff800000000000n;
              default:
                return 0n;
            }
          };
          // stack pointers are made by the program (r10 - 64, or r10 itself: the end of the frame)
          const code = [
            ...args.map((a, i) =>
              a === "stack" || a === "stack-end" ? insn(0xbf, i + 1, 10) : ldImm64(i + 1, resolve(a)),
            ),
            ...args.flatMap((a, i) => (a === "stack" ? [insn(0x07, i + 1, 0, 0, -64)] : [])),
            insn(0x85, 0, 0, 0, id),
            insn(0x95),
          ];
          const vm = env.program(code);
          try {
            vm.run({ args: [], budget: 10_000 });
          } catch (e) {
            // the interpreter wraps a helper's stray JS error as "helper X failed: ...": that is a bug here too
            if (!(e instanceof VmFault) || / failed: |not an integer/.test(e.detail)) throw e;
          } finally {
            for (const m of maps) m.settle();
            ctx.release();
          }
        },
      ),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 3000) },
    );
  });
});
