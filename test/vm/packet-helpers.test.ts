/**
 * Packet helpers against the kernel: bpf_xdp_adjust_head/tail/meta with random deltas on random
 * packets (return code and packet out), and for tc programs bpf_l3/l4_csum_replace,
 * bpf_csum_diff, bpf_skb_store_bytes and bpf_skb_load_bytes with random arguments, all under
 * BPF_PROG_TEST_RUN and in the simulator.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Instruction, insn } from "../../src/isa/instruction.js";
import { loadProgram, testRun } from "../../src/loader/bpf.js";
import { buildContext } from "../../src/vm/context.js";
import { testRunUnavailable } from "./kernel-probe.js";
import { simEnv } from "./sim-env.js";

const XDP = 6;
const SCHED_CLS = 3;

const unavailable = testRunUnavailable();
if (unavailable) console.warn(`skipping packet helper differential: ${unavailable}`);

/** Run the same program in the kernel and the simulator on one packet. */
function both(progType: "xdp" | "sched_cls", insns: readonly Instruction[], packet: Uint8Array) {
  const p = loadProgram({ type: progType === "xdp" ? XDP : SCHED_CLS, insns, license: "GPL" });
  try {
    let kernel: { retval: number; data: string } | { error: string };
    try {
      const k = testRun(p.fd, { data: packet });
      kernel = { retval: k.retval, data: Buffer.from(k.data).toString("hex") };
    } catch (e) {
      kernel = { error: (e as Error).message };
    }
    const env = simEnv();
    env.runtime.progType = progType;
    const vm = env.program(insns);
    let sim: { retval: number; data: string } | { error: string };
    try {
      const ctx = buildContext(env.memory, { progType, packet });
      env.runtime.packet = ctx.packet;
      const r = vm.run({
        args: [ctx.region.address(0)],
        ...(ctx.packet ? { packet: ctx.packet.region } : {}),
      });
      sim = { retval: Number(r.r0 & 0xffffffffn), data: Buffer.from(ctx.packetOut() ?? []).toString("hex") };
    } catch (e) {
      sim = { error: (e as Error).message };
    }
    return { kernel, sim };
  } finally {
    p.fd.close();
  }
}

// r6 = ctx; r7 = data; r8 = data_end; bounds-check `need` bytes; then `body`; exit with r0
function withPacket(
  dataOff: number,
  endOff: number,
  need: number,
  body: readonly Instruction[],
): Instruction[] {
  return [
    insn(0xbf, 6, 1),
    insn(0x61, 7, 6, dataOff),
    insn(0x61, 8, 6, endOff),
    insn(0xbf, 1, 7),
    insn(0x07, 1, 0, 0, need),
    insn(0x2d, 1, 8, body.length + 1), // too short: r0 = 99
    ...body,
    insn(0x95),
    insn(0xb7, 0, 0, 0, 99),
    insn(0x95),
  ];
}

describe.skipIf(unavailable !== undefined)("packet helpers agree with the kernel", () => {
  it("bpf_xdp_adjust_head / adjust_tail / adjust_meta", () => {
    // packet [0] s32 delta, [4] u32 which helper, [8] s32 second delta (meta after head)
    const prog = withPacket(0, 4, 12, [
      insn(0x61, 2, 7, 0),
      insn(0x67, 2, 0, 0, 32),
      insn(0xc7, 2, 0, 0, 32), // r2 = (s32) delta
      insn(0x61, 9, 7, 8),
      insn(0x67, 9, 0, 0, 32),
      insn(0xc7, 9, 0, 0, 32), // r9 = (s32) second delta
      insn(0x61, 3, 7, 4),
      insn(0xbf, 1, 6),
      insn(0x15, 3, 0, 4, 1), // head
      insn(0x15, 3, 0, 5, 2), // tail
      insn(0x15, 3, 0, 6, 3), // meta then head
      insn(0x85, 0, 0, 0, 54), // meta
      insn(0x05, 0, 0, 9),
      insn(0x85, 0, 0, 0, 44), // head
      insn(0x05, 0, 0, 7),
      insn(0x85, 0, 0, 0, 65), // tail
      insn(0x05, 0, 0, 5),
      insn(0x85, 0, 0, 0, 54), // meta(delta)
      insn(0xbf, 1, 6),
      insn(0xbf, 2, 9),
      insn(0xbf, 7, 0),
      insn(0x85, 0, 0, 0, 44), // head(second)
      insn(0x05, 0, 0, 0),
    ]);
    const deltas = fc.oneof(
      fc.integer({ min: -300, max: 300 }),
      fc.constantFrom(0, 4, -4, 32, -32, 36, -36, -216, -256, -260, 3520, -14, 14),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 14, max: 300 }),
        fc.integer({ min: 1, max: 4 }),
        deltas,
        deltas,
        fc.integer({ min: 0, max: 255 }),
        (len, which, d1, d2, fill) => {
          const pkt = new Uint8Array(len).map((_, i) => (i * 7 + fill) & 0xff);
          const v = new DataView(pkt.buffer);
          if (len >= 12) {
            v.setInt32(0, d1, true);
            v.setUint32(4, which, true);
            v.setInt32(8, d2, true);
          }
          const { kernel, sim } = both("xdp", prog, pkt);
          expect(JSON.stringify(sim), JSON.stringify({ len, which, d1, d2 })).toBe(JSON.stringify(kernel));
        },
      ),
      { numRuns: Number(process.env.PKT_RUNS ?? 150) },
    );
  });

  it("bpf_l3_csum_replace / bpf_l4_csum_replace / bpf_skb_store_bytes / bpf_skb_load_bytes", () => {
    // packet: eth (14), then [14] u32 offset, [18] u32 from, [22] u32 to, [26] u32 flags, [30] u32 which, payload
    const prog = withPacket(76, 80, 34, [
      insn(0x61, 2, 7, 14),
      insn(0x61, 3, 7, 18),
      insn(0x61, 4, 7, 22),
      insn(0x61, 5, 7, 26),
      insn(0x61, 9, 7, 30),
      // keep 8 bytes of the packet on the stack for store_bytes' source
      insn(0x79, 0, 7, 18),
      insn(0x7b, 10, 0, -8),
      insn(0xbf, 1, 6),
      insn(0x15, 9, 0, 5, 1),
      insn(0x15, 9, 0, 6, 2),
      insn(0x15, 9, 0, 7, 3),
      // load_bytes(skb, off, fp-16, 8)
      insn(0xbf, 3, 10),
      insn(0x07, 3, 0, 0, -16),
      insn(0x05, 0, 0, 9),
      insn(0x85, 0, 0, 0, 10), // l3
      insn(0x95),
      insn(0x85, 0, 0, 0, 11), // l4
      insn(0x95),
      // store_bytes(skb, off, fp-8, 8, flags)
      insn(0xbf, 3, 10),
      insn(0x07, 3, 0, 0, -8),
      insn(0xb7, 4, 0, 0, 8),
      insn(0x85, 0, 0, 0, 9),
      insn(0x95),
      insn(0xb7, 4, 0, 0, 8),
      insn(0x85, 0, 0, 0, 26),
      insn(0x79, 1, 10, -16),
      insn(0x07, 0, 0, 0, 0),
      insn(0x0f, 0, 1, 0), // r0 += loaded bytes (so the result shows them)
    ]);
    const flagsArb = fc.oneof(
      fc.constantFrom(0, 2, 4, 3, 0x10 | 4, 0x20 | 2, 0x20 | 4, 0x40 | 0x20 | 4, 0x80, 1, 0x100),
      fc.integer({ min: 0, max: 0xff }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 34, max: 120 }),
        fc.integer({ min: 0, max: 130 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        flagsArb,
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 255 }),
        (len, off, from, to, flags, which, fill) => {
          const pkt = new Uint8Array(len).map((_, i) => (i * 13 + fill) & 0xff);
          pkt[12] = 0x08;
          pkt[13] = 0x00;
          if (len - 14 < 20) return;
          const v = new DataView(pkt.buffer);
          v.setUint32(14, off, true);
          v.setUint32(18, from, true);
          v.setUint32(22, to, true);
          v.setUint32(26, flags, true);
          v.setUint32(30, which, true);
          const { kernel, sim } = both("sched_cls", prog, pkt);
          expect(sim, JSON.stringify({ len, off, from, to, flags, which })).toEqual(kernel);
        },
      ),
      { numRuns: Number(process.env.PKT_RUNS ?? 150) },
    );
  });

  it("bpf_xdp_load_bytes / bpf_xdp_store_bytes / bpf_xdp_get_buff_len", () => {
    // [0] u32 offset, [4] u32 len - 1 (masked to 0..15), [8] u32 which, [12] 16 bytes for the stack buffer
    const prog = withPacket(0, 4, 28, [
      insn(0x79, 1, 7, 12),
      insn(0x7b, 10, 1, -16),
      insn(0x79, 1, 7, 20),
      insn(0x7b, 10, 1, -8),
      insn(0x61, 2, 7, 0),
      insn(0x61, 4, 7, 4),
      insn(0x57, 4, 0, 0, 15),
      insn(0x07, 4, 0, 0, 1),
      insn(0x61, 9, 7, 8),
      insn(0xbf, 1, 6),
      insn(0xbf, 3, 10),
      insn(0x07, 3, 0, 0, -16),
      insn(0x15, 9, 0, 3, 1),
      insn(0x15, 9, 0, 4, 2),
      insn(0x85, 0, 0, 0, 188), // get_buff_len
      insn(0x95),
      insn(0x85, 0, 0, 0, 189), // load
      insn(0x05, 0, 0, 1),
      insn(0x85, 0, 0, 0, 190), // store
      insn(0x79, 1, 10, -16),
      insn(0xaf, 0, 1, 0),
      insn(0x79, 1, 10, -8),
      insn(0xaf, 0, 1, 0),
      insn(0xbf, 1, 0),
      insn(0x77, 1, 0, 0, 32),
      insn(0xaf, 0, 1, 0),
    ]);
    fc.assert(
      fc.property(
        fc.integer({ min: 28, max: 200 }),
        fc.oneof(fc.integer({ min: 0, max: 220 }), fc.constantFrom(0xffff, 0x10000, 0xffffffff)),
        fc.integer({ min: 0, max: 15 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 255 }),
        (len, off, n, which, fill) => {
          const pkt = new Uint8Array(len).map((_, i) => (i * 29 + fill) & 0xff);
          const v = new DataView(pkt.buffer);
          v.setUint32(0, off, true);
          v.setUint32(4, n, true);
          v.setUint32(8, which, true);
          const { kernel, sim } = both("xdp", prog, pkt);
          expect(sim, JSON.stringify({ len, off, n, which })).toEqual(kernel);
        },
      ),
      { numRuns: Number(process.env.PKT_RUNS ?? 150) },
    );
  });

  it("bpf_csum_diff", () => {
    // [14] u32 from_size, [18] u32 to_size, [22] u32 seed, then 32 + 32 bytes of buffers at [26]
    const body: Instruction[] = [];
    for (let i = 0; i < 8; i++) {
      body.push(insn(0x79, 0, 7, 26 + i * 8), insn(0x7b, 10, 0, -64 + i * 8));
    }
    const prog = withPacket(76, 80, 90, [
      ...body,
      insn(0x61, 2, 7, 14),
      insn(0x57, 2, 0, 0, 0x1f),
      insn(0x61, 4, 7, 18),
      insn(0x57, 4, 0, 0, 0x1f),
      insn(0x61, 5, 7, 22),
      insn(0xbf, 1, 10),
      insn(0x07, 1, 0, 0, -64),
      insn(0xbf, 3, 10),
      insn(0x07, 3, 0, 0, -32),
      insn(0x85, 0, 0, 0, 28),
    ]);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 31 }),
        fc.integer({ min: 0, max: 31 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        fc.boolean(),
        (fs, ts, seed, bufs, aligned) => {
          const a = aligned ? fs & ~3 : fs;
          const b = aligned ? ts & ~3 : ts;
          const pkt = new Uint8Array(96);
          pkt[12] = 0x08;
          const v = new DataView(pkt.buffer);
          v.setUint32(14, a, true);
          v.setUint32(18, b, true);
          v.setUint32(22, seed, true);
          pkt.set(bufs, 26);
          const { kernel, sim } = both("sched_cls", prog, pkt);
          expect(sim, JSON.stringify({ a, b, seed })).toEqual(kernel);
        },
      ),
      { numRuns: Number(process.env.PKT_RUNS ?? 150) },
    );
  });
});
