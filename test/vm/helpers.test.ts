/**
 * Simulated helpers on small hand-written programs (LLVM assembly syntax): task and time
 * helpers, probe_read from the memory image, stack ids, strncmp, snprintf, for_each_map_elem,
 * spin locks, ring buffer query, and unknown helpers. Expected values follow the helpers'
 * documented kernel behaviour; the kernel differential tests cover the packet and map helpers.
 */
import { describe, expect, it } from "vitest";
import { assemble } from "../../src/isa/asm/index.js";
import { buildContext } from "../../src/vm/context.js";
import { VmFault } from "../../src/vm/errors.js";
import type { ArrayMap } from "../../src/vm/maps/array.js";
import type { RingBuf } from "../../src/vm/maps/ringbuf.js";
import type { StackTraceMap } from "../../src/vm/maps/stack-trace.js";
import { simEnv } from "./sim-env.js";

const run = (env: ReturnType<typeof simEnv>, text: string, args: bigint[] = []) =>
  env.program(assemble(text)).run({ args }).r0;

describe("task, CPU, time and random helpers", () => {
  it("answer from the runtime", () => {
    const env = simEnv({ cpus: 4 });
    env.runtime.cpu = 3;
    expect(run(env, "call 14\nexit")).toBe((40n << 32n) | 42n); // tgid << 32 | pid
    expect(run(env, "call 15\nexit")).toBe((100n << 32n) | 1000n); // gid << 32 | uid
    expect(run(env, "call 8\nexit")).toBe(3n);
    env.runtime.clock = () => 1_234_567_891n;
    expect(run(env, "call 5\nexit")).toBe(1_234_567_891n);
    expect(run(env, "call 160\nexit")).toBe(1_232_000_000n); // coarse: whole 4 ms ticks (HZ=250)
    env.runtime.clock = () => 2_000_000_000n;
    expect(run(env, "call 118\nexit")).toBe(2n ** 32n - 300n * 250n + 2n * 250n); // INITIAL_JIFFIES + 2 s of ticks
    env.runtime.clock = () => 1_234_567_891n;
    env.runtime.bootOffsetNs = 10n;
    expect(run(env, "call 125\nexit")).toBe(1_234_567_901n);
    const a = run(simEnv(), "call 7\nexit");
    expect(run(simEnv(), "call 7\nexit")).toBe(a); // same seed, same number
  });

  it("get_current_comm copies a NUL-terminated, zero-padded name", () => {
    const env = simEnv();
    const r0 = run(
      env,
      `r1 = r10
       r1 += -16
       r2 = 16
       call 16
       r0 = *(u64 *)(r10 - 16)
       exit`,
    );
    expect(Buffer.from(new BigUint64Array([r0]).buffer).toString("latin1")).toBe("test-tas");
    const short = run(
      env,
      `r1 = r10
       r1 += -8
       r2 = 5
       call 16
       r0 = *(u64 *)(r10 - 8)
       exit`,
    );
    expect(short & 0xffffffffffn).toBe(BigInt(`0x${Buffer.from("test").reverse().toString("hex")}`));
  });
});

describe("probe_read from the memory image", () => {
  it("copies, faults with -EFAULT and a zeroed buffer, reads strings with their length", () => {
    const env = simEnv();
    env.runtime.kernelMemory = [
      { address: 0xffff800000001000n, bytes: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]) },
    ];
    env.runtime.userMemory = [{ address: 0x7f0000001000n, bytes: Buffer.from("hi there\0junk") }];
    const read = (addr: bigint, helper: number) =>
      run(
        env,
        `r1 = r10
         r1 += -8
         r2 = 8
         r3 = ${addr} ll
         call ${helper}
         r1 = *(u64 *)(r10 - 8)
         r1 <<= 32
         r1 >>= 32
         r0 <<= 32
         r0 |= r1
         exit`,
      );
    // r0 = (helper result << 32) | low 32 bits of what was read
    expect(read(0xffff800000001000n, 113)).toBe(0x04030201n);
    expect(read(0xffff800000001004n, 113) >> 32n).toBe(BigInt.asUintN(32, -14n)); // past the segment
    expect(read(0xffff800000001004n, 113) & 0xffffffffn).toBe(0n);
    expect(read(0x7f0000001000n, 114) >> 32n).toBe(8n); // "hi there" cut to 7 + NUL
    expect(read(0x7f0000001000n, 112) >> 32n).toBe(0n);
  });
});

describe("stack ids", () => {
  it("same stack, same id; a different stack in the same bucket is -EEXIST unless REUSE", () => {
    const env = simEnv();
    const m = env.addMap({ type: 7, typeName: "stack_trace", keySize: 4, valueSize: 8 * 4, maxEntries: 1 });
    env.runtime.stacks = { kernel: [0xffffffff81000010n, 0xffffffff81000020n], user: [0x401000n] };
    const prog = (flags: number) => `r2 = 0 ll\nr3 = ${flags}\ncall 27\nexit`;
    const mapped = (text: string) =>
      assemble(text).map((i) => (i.opcode === 0x18 && i.dst === 2 ? { ...i, src: 1 } : i));
    const id = env.program(mapped(prog(0))).run().r0;
    expect(id).toBe(0n);
    expect(env.program(mapped(prog(0))).run().r0).toBe(0n);
    expect(BigInt.asIntN(64, env.program(mapped(prog(1 << 8))).run().r0)).toBe(-17n); // user stack collides
    expect(env.program(mapped(prog((1 << 8) | (1 << 10)))).run().r0).toBe(0n); // REUSE_STACKID replaces
    expect((m as StackTraceMap).userLookup(new Uint8Array(4))?.subarray(0, 8)).toEqual(
      Uint8Array.from([0x00, 0x10, 0x40, 0, 0, 0, 0, 0]),
    );
    expect(BigInt.asIntN(64, env.program(mapped(prog(5))).run().r0)).toBe(-14n); // skipped past the stack
  });
});

describe("strings and formatting", () => {
  it("strncmp compares like the kernel's strncmp (-1 / 0 / 1)", () => {
    const env = simEnv();
    const m = env.addMap({ type: 2, typeName: "array", keySize: 4, valueSize: 8, maxEntries: 1 }) as ArrayMap;
    m.stores[0].set(Buffer.from("abc\0"));
    const cmp = (s: string, n: number) => {
      const v = Buffer.alloc(8);
      v.write(s, "latin1");
      return BigInt.asIntN(
        64,
        env
          .program(
            assemble(
              `r1 = ${v.readBigUInt64LE()} ll
               *(u64 *)(r10 - 8) = r1
               r1 = r10
               r1 += -8
               r2 = ${n}
               r3 = ${m.elemRegion(0).address(0)} ll
               call 182
               exit`,
            ),
          )
          .run().r0,
      );
    };
    expect(cmp("abc", 8)).toBe(0n);
    expect(cmp("abd", 8)).toBe(1n);
    expect(cmp("abb", 8)).toBe(-1n);
    expect(cmp("abz", 2)).toBe(0n);
    expect(cmp("ab", 8)).toBe(-1n);
  });

  it("snprintf formats u64 arguments and returns the length with the NUL", () => {
    const env = simEnv();
    const m = env.addMap({
      type: 2,
      typeName: "array",
      keySize: 4,
      valueSize: 32,
      maxEntries: 1,
    }) as ArrayMap;
    m.stores[0].set(Buffer.from("pid=%d hex=%04x\0"));
    const r0 = env
      .program(
        assemble(
          `r1 = 42
           *(u64 *)(r10 - 32) = r1
           r1 = 255
           *(u64 *)(r10 - 24) = r1
           r1 = r10
           r1 += -16
           r2 = 16
           r3 = ${m.elemRegion(0).address(0)} ll
           r4 = r10
           r4 += -32
           r5 = 16
           call 165
           r1 = *(u64 *)(r10 - 16)
           r2 = *(u64 *)(r10 - 8)
           exit`,
        ),
      )
      .run().r0;
    expect(r0).toBe(BigInt("pid=42 hex=00ff".length + 1));
  });
});

describe("callbacks and locks", () => {
  it("for_each_map_elem visits elements in order until the callback returns 1", () => {
    const env = simEnv();
    const m = env.addMap({ type: 2, typeName: "array", keySize: 4, valueSize: 8, maxEntries: 6 }) as ArrayMap;
    new BigUint64Array(m.stores[0].buffer).set([5n, 7n, 11n, 100n, 13n, 17n]);
    // callback(map, key, value, ctx): *ctx += *value; stop after a value >= 100
    // slots: ld_imm64 map (0-1), ld_pseudo callback (2-3), ..., exit (13), callback from 14
    const fixed = assemble(
      `r1 = 0 ll
       ld_pseudo r2, 4, 11
       r3 = 0
       *(u64 *)(r10 - 8) = r3
       r3 = r10
       r3 += -8
       r4 = 0
       call 164
       r1 = *(u64 *)(r10 - 8)
       r0 <<= 32
       r0 |= r1
       exit
       r1 = *(u64 *)(r4 + 0)
       r5 = *(u64 *)(r3 + 0)
       r1 += r5
       *(u64 *)(r4 + 0) = r1
       r0 = 0
       if r5 < 100 goto +1
       r0 = 1
       exit`,
    ).map((i, n) => (n === 0 ? { ...i, src: 1 } : i));
    const r0 = env.program(fixed).run().r0;
    expect(r0 >> 32n).toBe(4n); // visited 4 elements
    expect(r0 & 0xffffffffn).toBe(123n);
  });

  it("a second bpf_spin_lock on a held lock faults (a deadlock in the kernel)", () => {
    const env = simEnv();
    const prog = env.program(
      assemble(`r1 = r10
        r1 += -8
        r6 = r1
        call 93
        r1 = r6
        call 93
        exit`),
    );
    expect(() => prog.run()).toThrow(/bpf_spin_lock: lock already held/);
  });
});

describe("LRU eviction (the simulator's documented approximation)", () => {
  it("evicts the least recently used element, before looking the key up, when full", () => {
    const env = simEnv();
    const m = env.addMap({ type: 9, typeName: "lru_hash", keySize: 4, valueSize: 8, maxEntries: 3 });
    const k = (n: number) => Uint8Array.from([n, 0, 0, 0]);
    const v = new Uint8Array(8);
    for (const n of [1, 2, 3]) expect(m.update(k(n), v, 0, 0)).toBe(0);
    expect(m.lookup(k(1), 0)).not.toBe(0n); // 1 is now the most recently used
    expect(m.update(k(4), v, 0, 0)).toBe(0); // evicts 2
    expect(m.lookup(k(2), 0)).toBe(0n);
    // updating a present key of a full map still takes a free element first: 3 goes
    expect(m.update(k(1), v, 0, 0)).toBe(0);
    expect(m.lookup(k(3), 0)).toBe(0n);
    expect([1, 4].map((n) => m.lookup(k(n), 0) !== 0n)).toEqual([true, true]);
  });
});

describe("perf event output", () => {
  it("records the data, then the packet bytes BPF_F_CTXLEN_MASK asks for (skb programs)", () => {
    const env = simEnv({ cpus: 2 });
    env.runtime.cpu = 1;
    const m = env.addMap({ type: 4, typeName: "perf_event_array", keySize: 4, valueSize: 4, maxEntries: 2 });
    const frame = Uint8Array.from({ length: 40 }, (_, i) => i);
    frame[12] = 0x08;
    const ctx = buildContext(env.memory, { progType: "sched_cls", packet: frame });
    env.runtime.packet = ctx.packet;
    env.runtime.progType = "sched_cls";
    const out = (flags: bigint) =>
      env
        .program(
          assemble(
            `r6 = r1
             r1 = 0x1122334455667788 ll
             *(u64 *)(r10 - 8) = r1
             r1 = r6
             r2 = 0 ll
             r3 = ${flags} ll
             r4 = r10
             r4 += -8
             r5 = 8
             call 25
             exit`,
          ).map((i, n) => (n === 4 ? { ...i, src: 1 } : i)),
        )
        .run({ args: [ctx.region.address(0)] }).r0;
    expect(out(0xffffffffn | (6n << 32n))).toBe(0n);
    expect(BigInt.asIntN(64, out(2n))).toBe(-7n); // index past max_entries: -E2BIG
    const recs = (m as unknown as { drain(): { index: number; data: Uint8Array }[] }).drain();
    expect(recs).toEqual([
      { index: 1, data: Uint8Array.from([0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0, 1, 2, 3, 4, 5]) },
    ]);
  });
});

describe("ring buffer query and unknown helpers", () => {
  it("ringbuf_query reports positions and size", () => {
    const env = simEnv();
    const rb = env.addMap({
      type: 27,
      typeName: "ringbuf",
      keySize: 0,
      valueSize: 0,
      maxEntries: 4096,
    }) as RingBuf;
    rb.reserve(10, 0);
    const q = (flag: number) =>
      env
        .program(
          assemble(`r1 = 0 ll\nr2 = ${flag}\ncall 134\nexit`).map((i, n) => (n === 0 ? { ...i, src: 1 } : i)),
        )
        .run().r0;
    expect(q(0)).toBe(24n);
    expect(q(1)).toBe(4096n);
    expect(q(3)).toBe(24n);
    expect(q(2)).toBe(0n);
  });

  it("an unsimulated helper is a fault naming it", () => {
    const env = simEnv();
    let f: unknown;
    try {
      run(env, "call 107\nexit");
    } catch (e) {
      f = e;
    }
    expect(f).toBeInstanceOf(VmFault);
    expect((f as VmFault).kind).toBe("unknown-helper");
    expect((f as VmFault).message).toMatch(/bpf_sk_storage_get/);
  });
});
