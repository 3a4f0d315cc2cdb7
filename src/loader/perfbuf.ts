/**
 * Reader for a BPF_MAP_TYPE_PERF_EVENT_ARRAY: one PERF_COUNT_SW_BPF_OUTPUT event per CPU, each
 * with its own mmap'd ring, its fd stored in the map at key = CPU so bpf_perf_event_output()
 * with BPF_F_CURRENT_CPU lands in the ring of the CPU the program ran on.
 *
 * Ring layout: one control page (struct perf_event_mmap_page: data_head written by the kernel,
 * data_tail written by us) followed by 2^n data pages. Records are `perf_event_header {u32 type,
 * u16 misc, u16 size}` + body and may wrap around the end of the data area (no double mapping
 * here, unlike the BPF ring buffer).
 */
import { readFileSync } from "node:fs";
import { mapDelete, mapUpdate } from "./bpf.js";
import { BpfSyscallError, LoaderError } from "./errors.js";
import type { Fd, FdLike } from "./fd.js";
import { fdNumber } from "./fd.js";
import {
  PERF_COUNT_SW_BPF_OUTPUT,
  PERF_EVENT_IOC_DISABLE,
  PERF_EVENT_IOC_ENABLE,
  PERF_EVENT_MMAP_PAGE,
  PERF_RECORD_LOST,
  PERF_RECORD_SAMPLE,
  PERF_SAMPLE_RAW,
  PerfType,
  perfEventOpen,
  perfIoctl,
} from "./perf.js";
import {
  EPOLL_CTL_ADD,
  EPOLLIN,
  getSys,
  MAP_SHARED,
  type MappedRegion,
  PROT_READ,
  PROT_WRITE,
  parseCpuList,
  type Sys,
} from "./sys.js";
import { EpollWaiter, WAIT_SLICE_MS } from "./waiter.js";

export type PerfRecord =
  | {
      readonly kind: "sample";
      readonly cpu: number;
      /** The raw sample: what the program passed, padded by the kernel to keep 8-byte alignment. */
      readonly data: Uint8Array;
    }
  | { readonly kind: "lost"; readonly cpu: number; readonly lost: bigint };

export interface PerfBufferOptions {
  /** Data pages per CPU, a power of two (default 8). */
  readonly pages?: number;
  /** CPUs to open (default: the online CPUs from /sys). */
  readonly cpus?: readonly number[];
  /** Wake the reader after this many samples (default 1). */
  readonly wakeupEvents?: number;
  readonly sys?: Sys;
}

interface CpuRing {
  readonly cpu: number;
  readonly fd: Fd;
  readonly region: MappedRegion;
  readonly head: BigUint64Array;
  readonly tail: BigUint64Array;
  readonly data: Uint8Array;
  readonly size: number;
}

export class PerfBuffer implements Disposable, AsyncIterable<PerfRecord> {
  readonly #sys: Sys;
  #rings: CpuRing[] = [];
  readonly #map: number;
  #epfd = -1;
  #closed = false;
  #waiter: EpollWaiter | undefined;

  constructor(map: FdLike, o: PerfBufferOptions = {}) {
    const sys = o.sys ?? getSys();
    this.#sys = sys;
    this.#map = fdNumber(map);
    const pages = o.pages ?? 8;
    if (pages <= 0 || (pages & (pages - 1)) !== 0) {
      throw new LoaderError("E_PERFBUF_PAGES", `perf buffer pages ${pages} is not a power of two`);
    }
    const page = sys.pageSize();
    const cpus = o.cpus ?? parseCpuList(readFileSync("/sys/devices/system/cpu/online", "utf8"));
    try {
      this.#epfd = sys.epollCreate();
      if (this.#epfd < 0) throw new BpfSyscallError("epoll_create1", -this.#epfd);
      for (const cpu of cpus) {
        const fd = perfEventOpen(
          {
            type: PerfType.SOFTWARE,
            config: PERF_COUNT_SW_BPF_OUTPUT,
            sample_type: PERF_SAMPLE_RAW,
            sample_period: 1,
            wakeup_events: o.wakeupEvents ?? 1,
          },
          { cpu },
          sys,
        );
        const region = sys.mmap(page * (pages + 1), PROT_READ | PROT_WRITE, MAP_SHARED, fd.value, 0);
        if (typeof region === "number") {
          fd.close();
          throw new BpfSyscallError("mmap", -region, { detail: `perf ring of CPU ${cpu}` });
        }
        const f = PERF_EVENT_MMAP_PAGE.fields;
        this.#rings.push({
          cpu,
          fd,
          region,
          head: new BigUint64Array(region.buffer, f.data_head.offset, 1),
          tail: new BigUint64Array(region.buffer, f.data_tail.offset, 1),
          data: new Uint8Array(region.buffer, page, page * pages),
          size: page * pages,
        });
        const key = new Uint8Array(4);
        new DataView(key.buffer).setUint32(0, cpu, true);
        const val = new Uint8Array(4);
        new DataView(val.buffer).setUint32(0, fd.value, true);
        mapUpdate(this.#map, key, val, 0, sys);
        const r = sys.epollCtl(this.#epfd, EPOLL_CTL_ADD, fd.value, EPOLLIN, cpu);
        if (r < 0) throw new BpfSyscallError("epoll_ctl", -r);
        perfIoctl(fd, PERF_EVENT_IOC_ENABLE, 0, sys);
      }
      this.#waiter = new EpollWaiter(
        sys,
        this.#epfd,
        this.#rings.map((r) => r.fd.value),
      );
    } catch (e) {
      this.#release();
      throw e;
    }
  }

  get cpus(): number[] {
    return this.#rings.map((r) => r.cpu);
  }

  /** Everything available now, CPU by CPU (order is kept within a CPU, not across CPUs). */
  poll(): PerfRecord[] {
    if (this.#closed) throw new LoaderError("E_CLOSED", "perf buffer used after close");
    const out: PerfRecord[] = [];
    for (const ring of this.#rings) readRing(ring, out);
    return out;
  }

  /** Wait without blocking the event loop until some CPU's ring signals data, or timeout. */
  async wait(timeoutMs = -1): Promise<boolean> {
    if (this.#closed) return false;
    const waiter = this.#waiter!;
    const r = await waiter.wait(
      timeoutMs,
      () => !this.#closed && this.#rings.some((x) => Atomics.load(x.head, 0) !== Atomics.load(x.tail, 0)),
    );
    if (this.#closed) {
      if (!waiter.busy) this.#release();
      return false;
    }
    return r;
  }

  async *records(signal?: AbortSignal): AsyncGenerator<PerfRecord> {
    while (!this.#closed && !signal?.aborted) {
      const batch = this.poll();
      for (const rec of batch) yield rec;
      if (batch.length === 0 && !this.#closed) await this.wait(signal ? WAIT_SLICE_MS : -1);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<PerfRecord> {
    return this.records();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#waiter?.cancel();
    if (!this.#waiter?.busy) this.#release();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #release(): void {
    for (const r of this.#rings) {
      try {
        perfIoctl(r.fd, PERF_EVENT_IOC_DISABLE, 0, this.#sys);
      } catch {
        // Closing the fd below disables the event anyway.
      }
      this.#sys.munmap(r.region);
      r.fd.close();
      // The map slot holds its own reference to the event; drop it so the event really goes.
      try {
        const key = new Uint8Array(4);
        new DataView(key.buffer).setUint32(0, r.cpu, true);
        mapDelete(this.#map, key, this.#sys);
      } catch {
        // The map may already be closed by its owner.
      }
    }
    this.#rings = [];
    if (this.#epfd >= 0) this.#sys.close(this.#epfd);
    this.#epfd = -1;
  }
}

/** Copy `n` bytes starting at ring offset `at`, wrapping around the end of the data area. */
function copyWrapped(ring: CpuRing, at: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  const first = Math.min(n, ring.size - at);
  out.set(ring.data.subarray(at, at + first));
  if (first < n) out.set(ring.data.subarray(0, n - first), first);
  return out;
}

function readRing(ring: CpuRing, out: PerfRecord[]): void {
  const head = Atomics.load(ring.head, 0);
  let tail = Atomics.load(ring.tail, 0);
  const mask = BigInt(ring.size - 1);
  while (tail < head) {
    const at = Number(tail & mask);
    const hdr = copyWrapped(ring, at, 8);
    const hv = new DataView(hdr.buffer);
    const type = hv.getUint32(0, true);
    const size = hv.getUint16(6, true);
    if (size < 8) break; // corrupt header: stop rather than spin
    const body = copyWrapped(ring, (at + 8) % ring.size, size - 8);
    const bv = new DataView(body.buffer);
    if (type === PERF_RECORD_SAMPLE && body.byteLength >= 4) {
      const n = bv.getUint32(0, true);
      out.push({ kind: "sample", cpu: ring.cpu, data: body.slice(4, 4 + n) });
    } else if (type === PERF_RECORD_LOST && body.byteLength >= 16) {
      out.push({ kind: "lost", cpu: ring.cpu, lost: bv.getBigUint64(8, true) });
    }
    tail += BigInt(size);
    Atomics.store(ring.tail, 0, tail);
  }
}

export function openPerfBuffer(map: FdLike, o: PerfBufferOptions = {}): PerfBuffer {
  return new PerfBuffer(map, o);
}
