// Ring buffer reader against the kernel: XDP programs run through PROG_TEST_RUN produce records
// (bpf_ringbuf_output, reserve/submit/discard); the reader must return them in order, skip
// discarded ones, survive wrap-around and deliver through async iteration.
import { describe, expect, it } from "vitest";
import type { Instruction } from "../../src/isa/instruction.js";
import { createMap, loadProgram, testRun } from "../../src/loader/bpf.js";
import { MapType, ProgType } from "../../src/loader/consts.js";
import type { Fd } from "../../src/loader/fd.js";
import { probeBpf } from "../../src/loader/probe.js";
import { RingBuffer } from "../../src/loader/ringbuf.js";
import { getSys, type Sys } from "../../src/loader/sys.js";
import {
  add64Imm,
  and64Imm,
  call,
  exit,
  ja,
  jeqImm,
  jgtReg,
  ldMapFd,
  ldxB,
  ldxDW,
  ldxW,
  mov64Imm,
  mov64Reg,
  stxDW,
  XDP_PASS,
} from "./asm.js";

const probe = probeBpf();
if (!probe.ok) console.warn(`SKIP ringbuf kernel tests: ${probe.reason}`);
const kit = probe.ok ? it : it.skip;

const RINGBUF_OUTPUT = 130;
const RINGBUF_RESERVE = 131;
const RINGBUF_SUBMIT = 132;
const RINGBUF_DISCARD = 133;

/**
 * XDP: copy the first `len` packet bytes to the stack (helpers may not read packet memory here)
 * and bpf_ringbuf_output(map, fp - 8 * words, len, 0).
 */
function outputProgram(mapFd: number, len: number): Instruction[] {
  const words = Math.ceil(len / 8);
  const copy: Instruction[] = [];
  for (let i = 0; i < words; i++) copy.push(ldxDW(5, 2, 8 * i), stxDW(10, 5, -8 * words + 8 * i));
  return [
    ldxW(2, 1, 0),
    ldxW(3, 1, 4),
    mov64Reg(4, 2),
    add64Imm(4, 8 * words),
    jgtReg(4, 3, 2 * words + 7),
    ...copy,
    ldMapFd(1, mapFd), // two slots
    mov64Reg(2, 10),
    add64Imm(2, -8 * words),
    mov64Imm(3, len),
    mov64Imm(4, 0),
    call(RINGBUF_OUTPUT),
    mov64Imm(0, XDP_PASS),
    exit(),
  ];
}

/** XDP: reserve 8 bytes, copy the first packet u64, discard if the first byte is odd else submit. */
function reserveProgram(mapFd: number): Instruction[] {
  return [
    ldxW(2, 1, 0),
    ldxW(3, 1, 4),
    mov64Reg(4, 2),
    add64Imm(4, 8),
    jgtReg(4, 3, 16),
    ldxDW(7, 2, 0),
    ldxB(8, 2, 0),
    ldMapFd(1, mapFd),
    mov64Imm(2, 8),
    mov64Imm(3, 0),
    call(RINGBUF_RESERVE),
    jeqImm(0, 0, 8),
    stxDW(0, 7, 0),
    mov64Reg(1, 0),
    mov64Imm(2, 0),
    and64Imm(8, 1),
    jeqImm(8, 0, 2),
    call(RINGBUF_DISCARD),
    ja(1),
    call(RINGBUF_SUBMIT),
    mov64Imm(0, XDP_PASS),
    exit(),
  ];
}

function packet(seq: number, len = 64): Uint8Array {
  const p = new Uint8Array(len);
  const v = new DataView(p.buffer);
  v.setUint32(0, seq, true);
  v.setUint32(4, seq * 7 + 1, true);
  v.setUint32(8, ~seq >>> 0, true);
  return p;
}

function setup(
  size: number,
  program: (fd: number) => Instruction[],
  sys?: Sys,
): { map: Fd; prog: Fd; rb: RingBuffer } {
  const map = createMap({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: size });
  const prog = loadProgram({ type: ProgType.XDP, insns: program(map.value) }).fd;
  const rb = new RingBuffer(map, { sys });
  return { map, prog, rb };
}

function cleanup(s: { map: Fd; prog: Fd; rb: RingBuffer }): void {
  s.rb.close();
  s.prog.close();
  s.map.close();
}

describe("ring buffer", () => {
  kit("bpf_ringbuf_output records come back in order, 12-byte records padded to 8", () => {
    const s = setup(4096, (fd) => outputProgram(fd, 12));
    try {
      expect(s.rb.size).toBe(4096);
      expect(s.rb.poll()).toEqual([]);
      for (let i = 0; i < 5; i++) expect(testRun(s.prog, { data: packet(i) }).retval).toBe(XDP_PASS);
      // 5 records of 8-byte header + 12 bytes, each rounded up to 24.
      expect(s.rb.pending).toBe(5 * 24);
      expect(s.rb.waitSync(0)).toBe(true);
      const recs = s.rb.poll();
      expect(recs).toEqual(Array.from({ length: 5 }, (_, i) => packet(i).slice(0, 12)));
      expect(s.rb.pending).toBe(0);
      expect(s.rb.poll()).toEqual([]);
      expect(s.rb.stats).toEqual({ records: 5, discarded: 0 });
      // consume(): zero-copy views, same records, same order.
      for (let i = 5; i < 8; i++) testRun(s.prog, { data: packet(i) });
      const seen: Uint8Array[] = [];
      expect(s.rb.consume((r) => seen.push(r.slice()))).toBe(3);
      expect(seen).toEqual([5, 6, 7].map((i) => packet(i).slice(0, 12)));
    } finally {
      cleanup(s);
    }
  });

  kit("reserve/submit/discard: discarded records are skipped, order kept", () => {
    const s = setup(4096, reserveProgram);
    try {
      for (let i = 0; i < 10; i++) testRun(s.prog, { data: packet(i) });
      const recs = s.rb.poll();
      expect(recs).toEqual([0, 2, 4, 6, 8].map((i) => packet(i).slice(0, 8)));
      expect(s.rb.stats).toEqual({ records: 5, discarded: 5 });
      // poll(max) stops early and resumes where it stopped.
      for (let i = 10; i < 20; i += 2) testRun(s.prog, { data: packet(i) });
      expect(s.rb.poll(2)).toEqual([10, 12].map((i) => packet(i).slice(0, 8)));
      expect(s.rb.poll()).toEqual([14, 16, 18].map((i) => packet(i).slice(0, 8)));
    } finally {
      cleanup(s);
    }
  });

  kit("wrap-around: 1,000 records through a one-page ring, read in rounds", () => {
    const s = setup(4096, (fd) => outputProgram(fd, 40));
    try {
      const got: Uint8Array[] = [];
      let seq = 0;
      for (let round = 0; round < 20; round++) {
        // 50 records x 48 bytes = 2,400 bytes per round: the ring wraps every other round.
        for (let i = 0; i < 50; i++) testRun(s.prog, { data: packet(seq++) });
        got.push(...s.rb.poll());
      }
      expect(got.length).toBe(1000);
      got.forEach((r, i) => {
        expect(r).toEqual(packet(i).slice(0, 40));
      });
    } finally {
      cleanup(s);
    }
  });

  // Two wait strategies: libuv poll on the event loop (native default), and epoll_wait slices on
  // a koffi worker thread (any Sys without pollReadable).
  const modes: ReadonlyArray<readonly [string, () => Sys | undefined]> = [
    ["event-loop poll", () => undefined],
    ["worker epoll_wait", () => ({ ...getSys(), pollReadable: undefined })],
  ];
  for (const [mode, sysFor] of modes)
    kit(`async iteration (${mode}) delivers records produced later, ends on close`, async () => {
      const s = setup(8192, (fd) => outputProgram(fd, 16), sysFor());
      try {
        const got: number[] = [];
        const consumer = (async () => {
          for await (const rec of s.rb) {
            got.push(new DataView(rec.buffer).getUint32(0, true));
            if (got.length === 30) break;
          }
        })();
        for (let i = 0; i < 30; i++) {
          await new Promise((r) => setTimeout(r, i % 10 === 0 ? 20 : 0));
          testRun(s.prog, { data: packet(i) });
        }
        await consumer;
        expect(got).toEqual(Array.from({ length: 30 }, (_, i) => i));
        // A wait with nothing to read times out.
        const t0 = Date.now();
        expect(await s.rb.wait(50)).toBe(false);
        expect(Date.now() - t0).toBeGreaterThanOrEqual(40);
        // close() during a wait ends the wait.
        const pending = s.rb.wait();
        s.rb.close();
        expect(await pending).toBe(false);
        expect(() => s.rb.poll()).toThrow(/after close/);
      } finally {
        cleanup(s);
      }
    });

  kit("a non-ringbuf map is refused by name", () => {
    using m = createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, name: "not_rb" });
    expect(() => new RingBuffer(m)).toThrow(/not_rb is type 2, not a ring buffer/);
  });
});
