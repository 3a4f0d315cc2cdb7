// Perf event array reader against the kernel: an XDP program run through PROG_TEST_RUN calls
// bpf_perf_event_output(ctx, map, BPF_F_CURRENT_CPU, data, 16); every sample comes back.
import { describe, expect, it } from "vitest";
import type { Instruction } from "../../src/isa/instruction.js";
import { insn } from "../../src/isa/instruction.js";
import { createMap, loadProgram, testRun } from "../../src/loader/bpf.js";
import { MapType, ProgType } from "../../src/loader/consts.js";
import { PerfBuffer } from "../../src/loader/perfbuf.js";
import { probeBpf } from "../../src/loader/probe.js";
import { possibleCpuCount } from "../../src/loader/sys.js";
import {
  add64Imm,
  call,
  exit,
  jgtReg,
  ldMapFd,
  ldxDW,
  ldxW,
  mov64Imm,
  mov64Reg,
  stxDW,
  XDP_PASS,
} from "./asm.js";

const probe = probeBpf();
if (!probe.ok) console.warn(`SKIP perf buffer kernel tests: ${probe.reason}`);
const kit = probe.ok ? it : it.skip;

const PERF_EVENT_OUTPUT = 25;

function outputProgram(mapFd: number): Instruction[] {
  return [
    mov64Reg(6, 1),
    ldxW(2, 1, 0),
    ldxW(3, 1, 4),
    mov64Reg(4, 2),
    add64Imm(4, 16),
    jgtReg(4, 3, 12),
    ldxDW(5, 2, 0),
    stxDW(10, 5, -16),
    ldxDW(5, 2, 8),
    stxDW(10, 5, -8),
    mov64Reg(1, 6),
    ldMapFd(2, mapFd),
    insn(0xb4, 3, 0, 0, -1), // w3 = BPF_F_CURRENT_CPU (0xffffffff, zero-extended)
    mov64Reg(4, 10),
    add64Imm(4, -16),
    mov64Imm(5, 16),
    call(PERF_EVENT_OUTPUT),
    mov64Imm(0, XDP_PASS),
    exit(),
  ];
}

function packet(seq: number): Uint8Array {
  const p = new Uint8Array(64);
  const v = new DataView(p.buffer);
  v.setUint32(0, seq, true);
  v.setUint32(12, seq ^ 0x5a5a5a5a, true);
  return p;
}

describe("perf buffer", () => {
  kit("samples from bpf_perf_event_output arrive on the CPU rings, wrap-around included", async () => {
    using map = createMap({
      type: MapType.PERF_EVENT_ARRAY,
      keySize: 4,
      valueSize: 4,
      maxEntries: possibleCpuCount(),
    });
    using prog = loadProgram({ type: ProgType.XDP, insns: outputProgram(map.value) }).fd;
    // One data page per CPU: 32-byte records (8 header + 4 size + 16 data + 4 pad) wrap every 128.
    using pb = new PerfBuffer(map, { pages: 1 });
    expect(pb.cpus.length).toBeGreaterThan(0);
    const seen: number[] = [];
    let seq = 0;
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 50; i++) expect(testRun(prog, { data: packet(seq++) }).retval).toBe(XDP_PASS);
      for (const r of pb.poll()) {
        expect(r.kind).toBe("sample");
        if (r.kind !== "sample") continue;
        // The raw size is padded so header + size word + data stay 8-byte aligned: 16 -> 20.
        expect(r.data.byteLength).toBe(20);
        const v = new DataView(r.data.buffer);
        const s = v.getUint32(0, true);
        expect(v.getUint32(12, true)).toBe((s ^ 0x5a5a5a5a) >>> 0);
        seen.push(s);
      }
    }
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    // Async wait: a sample produced after the wait starts wakes it.
    const waiting = pb.wait(2000);
    testRun(prog, { data: packet(9999) });
    expect(await waiting).toBe(true);
    const last = pb.poll();
    expect(last.length).toBe(1);
  });

  kit("a full ring reports lost samples", () => {
    using map = createMap({
      type: MapType.PERF_EVENT_ARRAY,
      keySize: 4,
      valueSize: 4,
      maxEntries: possibleCpuCount(),
    });
    using prog = loadProgram({ type: ProgType.XDP, insns: outputProgram(map.value) }).fd;
    using pb = new PerfBuffer(map, { pages: 1 });
    // 4096 / 32 = 128 records fit; 300 without reading must overflow. The kernel reports the
    // loss with the next sample written to that ring after we make room, so keep producing (one
    // run, one poll) until every run is accounted for.
    let runs = 0;
    let samples = 0;
    let lost = 0;
    const take = (): void => {
      for (const r of pb.poll()) {
        if (r.kind === "sample") samples++;
        else lost += Number(r.lost);
      }
    };
    for (; runs < 300; runs++) testRun(prog, { data: packet(runs) });
    take();
    expect(samples).toBeLessThan(300);
    for (let i = 0; i < 5000 && samples + lost !== runs; i++, runs++) {
      testRun(prog, { data: packet(runs) });
      take();
    }
    expect(lost).toBeGreaterThan(0);
    expect(samples + lost).toBe(runs);
  });
});
