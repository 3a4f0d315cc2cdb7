/**
 * Reader for a BPF_MAP_TYPE_RINGBUF map.
 *
 * Memory layout the kernel exposes through mmap of the map fd:
 *   offset 0:          consumer page (we write consumer_pos; mapped read-write)
 *   offset page:       producer page (kernel writes producer_pos; read-only)
 *   offset 2 * page:   data area of `max_entries` bytes, mapped twice back to back, so a record
 *                      that wraps past the end can be read as one contiguous range.
 * Each record starts with an 8-byte header: u32 length (bit 31 BUSY = not yet committed, bit 30
 * DISCARD = skip it) and u32 page offset (kernel use). Records are 8-byte aligned. Positions are
 * free-running u64 byte counters; the data offset is position & (size - 1).
 */

import { mapInfo } from "./bpf.js";
import { BpfSyscallError, LoaderError } from "./errors.js";
import { type FdLike, fdNumber } from "./fd.js";
import {
  EPOLL_CTL_ADD,
  EPOLLIN,
  getSys,
  MAP_SHARED,
  type MappedRegion,
  PROT_READ,
  PROT_WRITE,
  type Sys,
} from "./sys.js";
import { EpollWaiter, WAIT_SLICE_MS } from "./waiter.js";

const BUSY_BIT = 0x80000000;
const DISCARD_BIT = 0x40000000;
const HDR_SIZE = 8;
const RINGBUF_MAP_TYPE = 27;

export interface RingBufferOptions {
  /** The ring size (map max_entries); read from the kernel when omitted. */
  readonly size?: number;
  readonly sys?: Sys;
}

export interface RingBufferStats {
  /** Records delivered. */
  readonly records: number;
  /** Records the producer discarded (skipped). */
  readonly discarded: number;
}

/**
 * Maps a ring buffer and reads its records in order. `poll()` drains what is committed now;
 * `wait()` blocks (asynchronously) until the kernel signals data; iterate with `for await`.
 */
export class RingBuffer implements Disposable, AsyncIterable<Uint8Array> {
  readonly #sys: Sys;
  readonly #size: number;
  readonly #mask: number;
  readonly #page: number;
  #consumer: MappedRegion | undefined;
  #producer: MappedRegion | undefined;
  #consPos: BigUint64Array;
  #prodPos: BigUint64Array;
  #data: Uint8Array;
  #dataView: DataView;
  #epfd = -1;
  #closed = false;
  #waiter: EpollWaiter | undefined;
  #records = 0;
  #discarded = 0;

  constructor(map: FdLike, o: RingBufferOptions = {}) {
    const sys = o.sys ?? getSys();
    this.#sys = sys;
    const fd = fdNumber(map);
    let size = o.size;
    if (size === undefined) {
      const info = mapInfo(fd, sys);
      if (info.type !== RINGBUF_MAP_TYPE) {
        throw new LoaderError(
          "E_NOT_RINGBUF",
          `map ${info.name || info.id} is type ${info.type}, not a ring buffer`,
        );
      }
      size = info.maxEntries;
    }
    if (size <= 0 || (size & (size - 1)) !== 0) {
      throw new LoaderError("E_RINGBUF_SIZE", `ring buffer size ${size} is not a power of two`);
    }
    this.#size = size;
    this.#mask = size - 1;
    this.#page = sys.pageSize();
    try {
      this.#consumer = mapOrThrow(sys, this.#page, PROT_READ | PROT_WRITE, fd, 0);
      this.#producer = mapOrThrow(sys, this.#page + 2 * size, PROT_READ, fd, this.#page);
      this.#epfd = sys.epollCreate();
      if (this.#epfd < 0) throw new BpfSyscallError("epoll_create1", -this.#epfd);
      const r = sys.epollCtl(this.#epfd, EPOLL_CTL_ADD, fd, EPOLLIN, 0);
      if (r < 0) throw new BpfSyscallError("epoll_ctl", -r);
      this.#waiter = new EpollWaiter(sys, this.#epfd);
    } catch (e) {
      this.#release();
      throw e;
    }
    this.#consPos = new BigUint64Array(this.#consumer.buffer, 0, 1);
    this.#prodPos = new BigUint64Array(this.#producer.buffer, 0, 1);
    this.#data = new Uint8Array(this.#producer.buffer, this.#page, 2 * size);
    this.#dataView = new DataView(this.#producer.buffer, this.#page, 2 * size);
  }

  get size(): number {
    return this.#size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get stats(): RingBufferStats {
    return { records: this.#records, discarded: this.#discarded };
  }

  /** Bytes committed or reserved but not yet consumed. */
  get pending(): number {
    this.#check();
    return Number(Atomics.load(this.#prodPos, 0) - Atomics.load(this.#consPos, 0));
  }

  /**
   * Read every committed record available now (up to `max`), in order, without waiting. Each
   * record is a copy, valid after the ring moves on. Stops at the first record still being
   * written (BUSY), which keeps order: later records wait for it.
   */
  poll(max = Number.POSITIVE_INFINITY): Uint8Array[] {
    const out: Uint8Array[] = [];
    this.consume((rec) => {
      out.push(rec.slice());
    }, max);
    return out;
  }

  /**
   * Zero-copy variant of poll(): `fn` sees each record as a view into the mapped ring, valid only
   * during the call (the producer may reuse the space right after). Returns the count delivered.
   */
  consume(fn: (record: Uint8Array) => void, max = Number.POSITIVE_INFINITY): number {
    this.#check();
    const start = Atomics.load(this.#consPos, 0);
    const avail = Number(Atomics.load(this.#prodPos, 0) - start);
    // Positions only grow; work in Number offsets from `start` (a poll never spans 2^53 bytes).
    const base = Number(start & BigInt(this.#mask));
    const mask = this.#mask;
    let done = 0;
    let delivered = 0;
    try {
      while (done < avail && delivered < max) {
        const at = (base + done) & mask;
        // The length word is written last by the producer (commit clears BUSY).
        const len = this.#dataView.getUint32(at, true);
        if (len & BUSY_BIT) break;
        const n = len & ~(BUSY_BIT | DISCARD_BIT);
        done += (n + HDR_SIZE + 7) & ~7;
        if (len & DISCARD_BIT) {
          this.#discarded++;
          continue;
        }
        this.#records++;
        delivered++;
        fn(this.#data.subarray(at + HDR_SIZE, at + HDR_SIZE + n));
        // Give space back as we go on big drains, so the producer is not starved meanwhile.
        if ((delivered & 255) === 0) Atomics.store(this.#consPos, 0, start + BigInt(done));
      }
    } finally {
      if (done > 0) Atomics.store(this.#consPos, 0, start + BigInt(done));
    }
    return delivered;
  }

  /** Block up to `timeoutMs` (-1: forever) on the calling thread until data may be available. */
  waitSync(timeoutMs: number): boolean {
    this.#check();
    const r = this.#sys.epollWait(this.#epfd, 1, timeoutMs);
    if (typeof r === "number") {
      if (r === -4) return false; // EINTR
      throw new BpfSyscallError("epoll_wait", -r);
    }
    return r.length > 0;
  }

  /**
   * Wait without blocking the event loop until the kernel signals data or `timeoutMs` passes
   * (-1: until data or close). Resolves true when records may be ready, false on timeout/close.
   */
  async wait(timeoutMs = -1): Promise<boolean> {
    this.#check();
    const waiter = this.#waiter!;
    const r = await waiter.wait(timeoutMs, () => !this.#closed && this.pending > 0);
    // A close() during a fallback wait left the release to us, once the worker let go.
    if (this.#closed) {
      if (!waiter.busy) this.#release();
      return false;
    }
    return r;
  }

  /** Records as they arrive, until close() or `signal` aborts. */
  async *records(signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    while (!this.#closed && !signal?.aborted) {
      const batch = this.poll();
      for (const rec of batch) yield rec;
      if (batch.length === 0 && !this.#closed) await this.wait(signal ? WAIT_SLICE_MS : -1);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.records();
  }

  /** Unmap and close. Safe to call twice; a wait in progress ends within one wait slice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#waiter?.cancel();
    // A worker thread may still be inside epoll_wait on our epoll fd: then wait() releases.
    if (!this.#waiter?.busy) this.#release();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #check(): void {
    if (this.#closed) throw new LoaderError("E_CLOSED", "ring buffer used after close");
  }

  #release(): void {
    this.#consPos = new BigUint64Array(0);
    this.#prodPos = new BigUint64Array(0);
    this.#data = new Uint8Array(0);
    this.#dataView = new DataView(new ArrayBuffer(0));
    if (this.#consumer) this.#sys.munmap(this.#consumer);
    if (this.#producer) this.#sys.munmap(this.#producer);
    this.#consumer = undefined;
    this.#producer = undefined;
    if (this.#epfd >= 0) this.#sys.close(this.#epfd);
    this.#epfd = -1;
  }
}

function mapOrThrow(sys: Sys, length: number, prot: number, fd: number, offset: number): MappedRegion {
  const r = sys.mmap(length, prot, MAP_SHARED, fd, offset);
  if (typeof r === "number")
    throw new BpfSyscallError("mmap", -r, { detail: `ring buffer at offset ${offset}` });
  return r;
}

/** Open a reader over a ring buffer map. */
export function openRingBuffer(map: FdLike, o: RingBufferOptions = {}): RingBuffer {
  return new RingBuffer(map, o);
}
