// The syscall layer is swappable: these tests install the in-memory fake Sys (no kernel, no
// koffi) and drive the same wrappers through it: map commands, the PROG_LOAD log retry,
// errno mapping, fd closing, and the ring buffer parser over fake mmap'd memory.
import { execFileSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { BpfCmd, MAP_CREATE, MAP_ELEM, PROG_LOAD } from "../../src/loader/attr.js";
import {
  createMap,
  loadProgram,
  mapDelete,
  mapInfo,
  mapKeys,
  mapLookup,
  mapUpdate,
} from "../../src/loader/bpf.js";
import { BpfSyscallError } from "../../src/loader/errors.js";
import { createFakeSys } from "../../src/loader/fake.js";
import { readNumber } from "../../src/loader/layout.js";
import { RingBuffer } from "../../src/loader/ringbuf.js";
import { getSys, type MappedRegion, type Sys, setSys } from "../../src/loader/sys.js";
import { exit, mov64Imm } from "./asm.js";

const EACCES = 13;
const ENOSPC = 28;

let prev: Sys | undefined;
afterEach(() => {
  setSys(prev);
});

function install<T extends Sys>(sys: T): T {
  prev = setSys(sys);
  return sys;
}

const u32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);

describe("a fake Sys replaces the kernel", () => {
  it("map wrappers run against the fake, fds close through it once", () => {
    const k = install(createFakeSys());
    expect(getSys()).toBe(k);
    const m = createMap({ type: 1, keySize: 4, valueSize: 4, maxEntries: 8, name: "fake" });
    expect(m.value).toBe(100);
    mapUpdate(m, u32(1), u32(11));
    mapUpdate(m, u32(2), u32(22));
    expect(mapLookup(m, u32(1), 4)).toEqual(u32(11));
    expect(mapLookup(m, u32(9), 4)).toBeUndefined();
    expect([...mapKeys(m, 4)]).toEqual([u32(1), u32(2)]);
    expect(mapDelete(m, u32(1))).toBe(true);
    expect(mapDelete(m, u32(1))).toBe(false);
    expect(mapInfo(m)).toMatchObject({ type: 1, keySize: 4, valueSize: 4, maxEntries: 8, name: "fake" });
    // Each command passes exactly its layout's size.
    expect(k.calls.slice(0, 3)).toEqual([
      { cmd: BpfCmd.MAP_CREATE, size: MAP_CREATE.size },
      { cmd: BpfCmd.MAP_UPDATE_ELEM, size: MAP_ELEM.size },
      { cmd: BpfCmd.MAP_UPDATE_ELEM, size: MAP_ELEM.size },
    ]);
    m.close();
    m.close();
    expect(k.closed).toEqual([100]);
  });

  it("PROG_LOAD: the fake records the program; a scripted failure is retried with a growing log", () => {
    const k = install(createFakeSys());
    using ok = loadProgram({ type: 1, insns: [mov64Imm(0, 0), exit()], name: "p", license: "MIT" }).fd;
    expect(k.programs.get(ok.value)).toMatchObject({ type: 1, name: "p", license: "MIT" });
    expect(k.programs.get(ok.value)!.insns.byteLength).toBe(16);

    const log = `${"x".repeat(70_000)}\nR0 !read_ok\n`;
    k.on(BpfCmd.PROG_LOAD, (c) => {
      const f = PROG_LOAD.fields;
      if (readNumber(c.attr, f.log_level) === 0) return -EACCES;
      const size = readNumber(c.attr, f.log_size);
      const text = new TextEncoder().encode(log);
      new DataView(c.attr.buffer).setUint32(f.log_true_size.offset, text.byteLength + 1, true);
      // Like kernels >= 6.4: keep what fits, report the full size, fail with ENOSPC.
      c.deref(f.log_buf)!.set(text.subarray(0, Math.min(size - 1, text.byteLength)));
      return text.byteLength + 1 > size ? -ENOSPC : -EACCES;
    });
    const before = k.calls.length;
    let err: unknown;
    try {
      loadProgram({ type: 1, insns: [mov64Imm(0, 0), exit()] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfSyscallError);
    const e = err as BpfSyscallError;
    expect(e.errnoName).toBe("EACCES");
    expect(e.code).toBe("E_SYSCALL_EACCES");
    expect(e.log).toBe(log);
    expect(e.logTruncated).toBe(false);
    // no log, then a 64 KiB log (ENOSPC), then the size the fake kernel asked for.
    expect(k.calls.length - before).toBe(3);
  });

  it("ring buffer parsing: order, discard, busy stop, wrap-around, consumer position", () => {
    const size = 4096;
    const page = 4096;
    const consumer = new ArrayBuffer(page);
    const producer = new ArrayBuffer(page + 2 * size);
    install({
      ...createFakeSys(),
      mmap: (length: number, _p: number, _f: number, _fd: number, offset: number): MappedRegion => ({
        buffer: offset === 0 ? consumer : producer,
        length,
        handle: offset,
      }),
    });
    const data = new DataView(producer, page);
    const prod = new BigUint64Array(producer, 0, 1);
    let pos = 0;
    // Write one record at the producer position into both copies of the (double-mapped) area.
    const put = (payload: number[], flags = 0): void => {
      const n = payload.length;
      const rec = new Uint8Array(8 + n);
      new DataView(rec.buffer).setUint32(0, (n | flags) >>> 0, true);
      rec.set(payload, 8);
      for (let i = 0; i < rec.byteLength; i++) {
        const at = (pos + i) % size;
        data.setUint8(at, rec[i]);
        data.setUint8(at + size, rec[i]);
      }
      pos += (8 + n + 7) & ~7;
    };
    const rb = new RingBuffer(3, { size });
    put([1, 2, 3]);
    put([4], 0x40000000); // discarded
    put([5, 6]);
    prod[0] = BigInt(pos);
    expect(rb.poll()).toEqual([new Uint8Array([1, 2, 3]), new Uint8Array([5, 6])]);
    expect(new BigUint64Array(consumer, 0, 1)[0]).toBe(BigInt(pos));
    // A BUSY record stops the reader until it is committed.
    const busyAt = pos;
    put([7, 7], 0x80000000);
    put([8]);
    prod[0] = BigInt(pos);
    expect(rb.poll()).toEqual([]);
    data.setUint32(busyAt % size, 2, true);
    data.setUint32((busyAt % size) + size, 2, true);
    expect(rb.poll()).toEqual([new Uint8Array([7, 7]), new Uint8Array([8])]);
    // Wrap: fill to near the end, then a record that straddles the boundary.
    while (pos % size < size - 16) put([0]);
    prod[0] = BigInt(pos);
    rb.poll();
    const straddle = Array.from({ length: 40 }, (_, i) => i + 100);
    put(straddle);
    prod[0] = BigInt(pos);
    expect(rb.poll()).toEqual([new Uint8Array(straddle)]);
    expect(rb.stats.discarded).toBe(1);
    rb.close();
    expect(() => rb.poll()).toThrow(/after close/);
  });
});

describe("lazy FFI", () => {
  it("importing the loader does not load koffi; the first native call does", () => {
    const script = `
      const m = await import("./src/loader/index.ts");
      const { createRequire } = await import("node:module");
      const req = createRequire(process.cwd() + "/x.js");
      const count = () => Object.keys(req.cache).filter((k) => k.includes("/koffi/")).length;
      const before = count();
      m.getSys().pageSize();
      console.log(JSON.stringify({ before, after: count() }));`;
    const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: process.cwd(),
      encoding: "utf8",
    });
    const r = JSON.parse(out.trim().split("\n").pop()!);
    expect(r.before).toBe(0);
    expect(r.after).toBeGreaterThan(0);
  });
});
