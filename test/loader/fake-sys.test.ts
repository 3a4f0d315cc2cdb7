// The syscall layer is swappable: these tests install an in-memory fake Sys (no kernel, no
// koffi) and drive the same wrappers through it: map commands, the PROG_LOAD log retry,
// errno mapping, fd closing, and the ring buffer parser over fake mmap'd memory.
import { execFileSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { BpfCmd, MAP_CREATE, MAP_ELEM, PROG_LOAD } from "../../src/loader/attr.js";
import { createMap, loadProgram, mapLookup, mapUpdate } from "../../src/loader/bpf.js";
import { BpfSyscallError } from "../../src/loader/errors.js";
import { type Field, readNumber } from "../../src/loader/layout.js";
import { RingBuffer } from "../../src/loader/ringbuf.js";
import { type EpollEvent, getSys, type MappedRegion, type Sys, setSys } from "../../src/loader/sys.js";
import { exit, mov64Imm } from "./asm.js";

const EACCES = 13;
const ENOENT = 2;
const ENOSPC = 28;

/** Memory the fake kernel reaches through "addresses". */
class FakeMemory {
  #next = 0x10000n;
  readonly #bufs = new Map<bigint, Uint8Array>();
  address(buf: Uint8Array): bigint {
    const a = this.#next;
    this.#next += 0x100000n;
    this.#bufs.set(a, buf);
    return a;
  }
  at(attr: Uint8Array, f: Field): Uint8Array {
    const a = new DataView(attr.buffer, attr.byteOffset).getBigUint64(f.offset, true);
    const b = this.#bufs.get(a);
    if (!b) throw new Error(`fake: bad address ${a}`);
    return b;
  }
}

interface FakeKernel extends Sys {
  readonly calls: string[];
  readonly closed: number[];
  verifierLog: string;
  /** Bytes of data area; records are written by the test. */
  ring?: { consumer: ArrayBuffer; producer: ArrayBuffer };
}

function fakeSys(): FakeKernel {
  const mem = new FakeMemory();
  const maps = new Map<number, { keySize: number; valueSize: number; data: Map<string, Uint8Array> }>();
  let nextFd = 100;
  const k: FakeKernel = {
    calls: [],
    closed: [],
    verifierLog: "0: (95) exit\nR0 !read_ok\nprocessed 1 insns\n",
    bpf(cmd, attr) {
      k.calls.push(`${cmd}:${attr.byteLength}`);
      switch (cmd) {
        case BpfCmd.MAP_CREATE: {
          const f = MAP_CREATE.fields;
          const fd = nextFd++;
          maps.set(fd, {
            keySize: readNumber(attr, f.key_size),
            valueSize: readNumber(attr, f.value_size),
            data: new Map(),
          });
          return fd;
        }
        case BpfCmd.MAP_UPDATE_ELEM:
        case BpfCmd.MAP_LOOKUP_ELEM: {
          const f = MAP_ELEM.fields;
          const m = maps.get(readNumber(attr, f.map_fd));
          if (!m) return -9;
          const key = mem.at(attr, f.key).slice(0, m.keySize).join(",");
          const value = mem.at(attr, f.value);
          if (cmd === BpfCmd.MAP_UPDATE_ELEM) {
            m.data.set(key, value.slice(0, m.valueSize));
            return 0;
          }
          const v = m.data.get(key);
          if (!v) return -ENOENT;
          value.set(v);
          return 0;
        }
        case BpfCmd.PROG_LOAD: {
          const f = PROG_LOAD.fields;
          const level = readNumber(attr, f.log_level);
          if (level === 0) return -EACCES;
          const size = readNumber(attr, f.log_size);
          const buf = mem.at(attr, f.log_buf);
          const text = new TextEncoder().encode(k.verifierLog);
          const need = text.byteLength + 1;
          new DataView(attr.buffer).setUint32(f.log_true_size.offset, need, true);
          // Like kernels >= 6.4: keep what fits, report the full size, fail with ENOSPC.
          buf.set(text.subarray(0, Math.min(size - 1, text.byteLength)));
          return need > size ? -ENOSPC : -EACCES;
        }
        default:
          return -22;
      }
    },
    address: (buf) => mem.address(buf),
    close(fd) {
      k.closed.push(fd);
      return 0;
    },
    perfEventOpen: () => -38,
    ioctl: () => -38,
    mmap(length, _prot, _flags, _fd, offset): MappedRegion | number {
      if (!k.ring) return -19;
      const buffer = offset === 0 ? k.ring.consumer : k.ring.producer;
      return { buffer, length, handle: offset };
    },
    munmap: () => 0,
    epollCreate: () => nextFd++,
    epollCtl: () => 0,
    epollWait: (): EpollEvent[] => [],
    epollWaitAsync: async (): Promise<EpollEvent[]> => [],
    socket: () => -38,
    setsockopt: () => -38,
    pageSize: () => 4096,
  };
  return k;
}

let prev: Sys | undefined;
afterEach(() => {
  setSys(prev);
});

function install(): FakeKernel {
  const k = fakeSys();
  prev = setSys(k);
  return k;
}

describe("a fake Sys replaces the kernel", () => {
  it("map wrappers run against the fake, fds close through it once", () => {
    const k = install();
    expect(getSys()).toBe(k);
    const m = createMap({ type: 1, keySize: 4, valueSize: 4, maxEntries: 8 });
    expect(m.value).toBe(100);
    mapUpdate(m, new Uint8Array([1, 2, 3, 4]), new Uint8Array([5, 6, 7, 8]));
    expect(mapLookup(m, new Uint8Array([1, 2, 3, 4]), 4)).toEqual(new Uint8Array([5, 6, 7, 8]));
    expect(mapLookup(m, new Uint8Array([9, 9, 9, 9]), 4)).toBeUndefined();
    // Each command passes exactly its layout's size.
    expect(k.calls).toEqual([
      `${BpfCmd.MAP_CREATE}:${MAP_CREATE.size}`,
      `${BpfCmd.MAP_UPDATE_ELEM}:${MAP_ELEM.size}`,
      `${BpfCmd.MAP_LOOKUP_ELEM}:${MAP_ELEM.size}`,
      `${BpfCmd.MAP_LOOKUP_ELEM}:${MAP_ELEM.size}`,
    ]);
    m.close();
    m.close();
    expect(k.closed).toEqual([100]);
  });

  it("PROG_LOAD: a silent failure is retried with a log, grown on ENOSPC to log_true_size", () => {
    const k = install();
    k.verifierLog = `${"x".repeat(70_000)}\nR0 !read_ok\n`;
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
    expect(e.log).toBe(k.verifierLog);
    expect(e.logTruncated).toBe(false);
    // no log, then a 64 KiB log (ENOSPC), then the size the fake kernel asked for.
    expect(k.calls.length).toBe(3);
  });

  it("ring buffer parsing: order, discard, busy stop, wrap-around, consumer position", () => {
    const k = install();
    const size = 4096;
    const page = 4096;
    const consumer = new ArrayBuffer(page);
    const producer = new ArrayBuffer(page + 2 * size);
    k.ring = { consumer, producer };
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
