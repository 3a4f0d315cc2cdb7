/**
 * Ring buffer reservations against the kernel: XDP programs reserve records of fixed sizes
 * (the verifier wants a constant size) and submit or discard them, or bpf_ringbuf_output them;
 * nobody consumes; which reservations
 * succeed, and bpf_ringbuf_query's producer position, must agree with the simulator. Then the
 * records read back through the simulator's view are the ones written.
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { insn, ldImm64 } from "../../src/isa/instruction.js";
import { createMap, loadProgram, testRun } from "../../src/loader/bpf.js";
import type { Fd } from "../../src/loader/fd.js";
import { buildContext } from "../../src/vm/context.js";
import type { RingBuf } from "../../src/vm/maps/ringbuf.js";
import { SimMapView } from "../../src/vm/maps/view.js";
import { simEnv } from "./sim-env.js";

const XDP = 6;
const SIZE = 4096;
const SIZES = [4, 8, 100, 500, 1000, 2040, 4000, 4088, 4096];

function probe(): string | undefined {
  try {
    createMap({ type: 27, keySize: 0, valueSize: 0, maxEntries: SIZE }).close();
    return undefined;
  } catch (e) {
    return `ring buffer maps unavailable: ${e instanceof Error ? e.message : String(e)}`;
  }
}
const unavailable = probe();
if (unavailable) console.warn(`skipping ring buffer differential: ${unavailable}`);

/** reserve(size) (size constant); if it worked write the size in, submit, return 1 + producer pos << 8; else the producer pos << 8. */
function program(mapFd: number, size: number, discard: boolean) {
  return [
    ldImm64(1, BigInt(mapFd), 1),
    insn(0xb7, 2, 0, 0, size),
    insn(0xb7, 3, 0, 0, 0),
    insn(0x85, 0, 0, 0, 131),
    insn(0xb7, 6, 0, 0, 0),
    insn(0x15, 0, 0, 5, 0), // NULL: skip to the query
    insn(0x62, 0, 0, 0, size), // *(u32 *)(r0 + 0) = size
    insn(0xbf, 1, 0),
    insn(0xb7, 2, 0, 0, 0),
    insn(0x85, 0, 0, 0, discard ? 133 : 132),
    insn(0xb7, 6, 0, 0, 1),
    ldImm64(1, BigInt(mapFd), 1),
    insn(0xb7, 2, 0, 0, 3), // BPF_RB_PROD_POS
    insn(0x85, 0, 0, 0, 134),
    insn(0x67, 0, 0, 0, 8),
    insn(0x4f, 0, 6, 0), // r0 |= r6
    insn(0x95),
  ];
}

/** ringbuf_output of `size` (<= 64) bytes from the stack; returns (producer pos << 8) | (result & 0xff). */
function outputProgram(mapFd: number, size: number) {
  const zero = [];
  for (let off = -64; off < 0; off += 8) zero.push(insn(0x7a, 10, 0, off, 0)); // *(u64 *)(r10 + off) = 0
  return [
    ...zero,
    insn(0x62, 10, 0, -64, size), // *(u32 *)(r10 - 64) = size
    ldImm64(1, BigInt(mapFd), 1),
    insn(0xbf, 2, 10),
    insn(0x07, 2, 0, 0, -64),
    insn(0xb7, 3, 0, 0, size),
    insn(0xb7, 4, 0, 0, 0),
    insn(0x85, 0, 0, 0, 130),
    insn(0xbf, 6, 0),
    insn(0x57, 6, 0, 0, 0xff),
    ldImm64(1, BigInt(mapFd), 1),
    insn(0xb7, 2, 0, 0, 3), // BPF_RB_PROD_POS
    insn(0x85, 0, 0, 0, 134),
    insn(0x67, 0, 0, 0, 8),
    insn(0x4f, 0, 6, 0),
    insn(0x95),
  ];
}

const fds: Fd[] = [];
afterAll(() => {
  for (const f of fds) if (!f.closed) f.close();
});

describe.skipIf(unavailable !== undefined)("ring buffer reservations agree with the kernel", () => {
  it("random record sizes until the ring is full", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            size: fc.constantFrom(...SIZES),
            discard: fc.boolean(),
            output: fc.oneof(fc.constant(undefined), fc.constantFrom(4, 8, 40, 64)),
          }),
          { minLength: 1, maxLength: 24 },
        ),
        (ops) => {
          const fd = createMap({ type: 27, keySize: 0, valueSize: 0, maxEntries: SIZE });
          fds.push(fd);
          const env = simEnv();
          const rb = env.addMap({
            type: 27,
            typeName: "ringbuf",
            keySize: 0,
            valueSize: 0,
            maxEntries: SIZE,
          });
          const written: number[] = [];
          for (const [i, o] of ops.entries()) {
            const code = (mapFd: number) =>
              o.output !== undefined ? outputProgram(mapFd, o.output) : program(mapFd, o.size, o.discard);
            const p = loadProgram({ type: XDP, insns: code(fd.value), license: "GPL" });
            const k = testRun(p.fd, { data: new Uint8Array(64) });
            p.fd.close();
            const ctx = buildContext(env.memory, { progType: "xdp", packet: new Uint8Array(64) });
            const r = env.program(code(0)).run({ args: [ctx.region.address(0)] });
            expect(Number(r.r0 & 0xffffffffn), `op ${i} ${JSON.stringify(o)}`).toBe(k.retval);
            if (o.output !== undefined) {
              if ((k.retval & 0xff) === 0) written.push(o.output);
            } else if (k.retval & 1 && !o.discard) written.push(o.size);
          }
          const view = new SimMapView({
            map: rb,
            cpus: 1,
            mapByName: () => undefined,
            hasProgram: () => false,
          });
          const recs = view.records();
          expect(recs.map((b) => b.length)).toEqual(written);
          expect(
            recs.map((b) => (b.length >= 4 ? new DataView(b.buffer, b.byteOffset).getUint32(0, true) : -1)),
          ).toEqual(written.map((s) => (s >= 4 ? s : -1)));
          expect((rb as RingBuf).consumer).toBe((rb as RingBuf).producer);
          fd.close();
        },
      ),
      { numRuns: Number(process.env.RB_RUNS ?? 30) },
    );
  });
});
