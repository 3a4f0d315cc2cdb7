/**
 * The loader's only door to the kernel: a small `Sys` interface over the few libc entry points
 * the loader needs (bpf() and perf_event_open() through syscall(2), close, mmap, ioctl, epoll,
 * socket options). Everything above this file speaks `Sys`, so tests can swap in a fake with
 * `setSys()` and run without a kernel, koffi or root.
 *
 * Convention: every call returns a non-negative result or `-errno`, so a fake never has to
 * emulate a thread-local errno and callers never read a stale one.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { LoaderError } from "./errors.js";

/** A mapping made by `Sys.mmap`. `buffer` aliases the mapped pages (no copy). */
export interface MappedRegion {
  readonly buffer: ArrayBuffer;
  readonly length: number;
  /** Implementation detail of the Sys that made it (the native pointer for the real one). */
  readonly handle: unknown;
}

/** One ready fd reported by epoll_wait. */
export interface EpollEvent {
  readonly events: number;
  readonly data: number;
}

export interface Sys {
  /** bpf(2): `attr` is the command's `union bpf_attr` bytes; the size passed is `attr.byteLength`. */
  bpf(cmd: number, attr: Uint8Array): number;
  /**
   * The address of `buf`'s first byte, to store in an attr pointer field. Valid while `buf` is
   * reachable; callers keep the buffer alive across the call that uses the address.
   */
  address(buf: Uint8Array): bigint;
  close(fd: number): number;
  /** perf_event_open(2) with `attr` = struct perf_event_attr bytes. */
  perfEventOpen(attr: Uint8Array, pid: number, cpu: number, groupFd: number, flags: number): number;
  ioctl(fd: number, request: number, arg: number | bigint): number;
  mmap(length: number, prot: number, flags: number, fd: number, offset: number): MappedRegion | number;
  munmap(region: MappedRegion): number;
  epollCreate(): number;
  epollCtl(epfd: number, op: number, fd: number, events: number, data: number): number;
  /** epoll_wait; returns the ready events or -errno. */
  epollWait(epfd: number, maxEvents: number, timeoutMs: number): EpollEvent[] | number;
  /** epoll_wait on a worker thread, so a blocking wait does not stall the event loop. */
  epollWaitAsync(epfd: number, maxEvents: number, timeoutMs: number): Promise<EpollEvent[] | number>;
  /**
   * Optional: call `onReadable` (on the event loop) whenever `fd` polls readable, until the
   * returned watch is stopped. Without it, readers fall back to epollWaitAsync.
   */
  pollReadable?(fd: number, onReadable: () => void): { stop(): void };
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, optname: number, value: Uint8Array): number;
  pageSize(): number;
}

export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const MAP_SHARED = 0x1;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLLIN = 0x1;
export const EPOLL_CLOEXEC = 0x80000;

/** Syscall numbers: x86_64 has its own table; arm64 and riscv64 share the asm-generic one. */
const NR: Readonly<Record<string, { readonly bpf: number; readonly perfEventOpen: number }>> = {
  x64: { bpf: 321, perfEventOpen: 298 },
  arm64: { bpf: 280, perfEventOpen: 241 },
  riscv64: { bpf: 280, perfEventOpen: 241 },
};

/** struct epoll_event is packed (12 bytes) on x86_64 only. */
const EPOLL_EVENT_SIZE = process.arch === "x64" ? 12 : 16;

// Typed loosely on purpose: koffi is loaded lazily and its function objects are untyped.
// biome-ignore lint/suspicious/noExplicitAny: FFI function table
type NativeFn = (...args: any[]) => any;

interface Native {
  // biome-ignore lint/suspicious/noExplicitAny: the koffi module object
  readonly koffi: any;
  readonly syscall: NativeFn;
  readonly close: NativeFn;
  readonly ioctl: NativeFn;
  readonly mmap: NativeFn;
  readonly munmap: NativeFn;
  readonly epollCreate1: NativeFn & { async: NativeFn };
  readonly epollCtl: NativeFn;
  readonly epollWait: NativeFn & { async: NativeFn };
  readonly socket: NativeFn;
  readonly setsockopt: NativeFn;
  readonly getpagesize: NativeFn;
}

let native: Native | undefined;
let nativeError: Error | undefined;

/** Load koffi and libc on first use, so importing the loader never needs them. */
function loadNative(): Native {
  if (native) return native;
  if (nativeError) throw nativeError;
  try {
    const require = createRequire(import.meta.url);
    const koffi = require("koffi");
    const libc = koffi.load("libc.so.6");
    native = {
      koffi,
      // syscall and ioctl are variadic in C; koffi wants a type before each extra argument.
      syscall: libc.func("long syscall(long number, ...)"),
      ioctl: libc.func("int ioctl(int fd, unsigned long request, ...)"),
      close: libc.func("int close(int fd)"),
      mmap: libc.func("void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)"),
      munmap: libc.func("int munmap(void *addr, size_t length)"),
      epollCreate1: libc.func("int epoll_create1(int flags)"),
      epollCtl: libc.func("int epoll_ctl(int epfd, int op, int fd, void *event)"),
      // Declared non-variadic so it can run on koffi's worker threads (`.async`).
      epollWait: libc.func("int epoll_wait(int epfd, void *events, int maxevents, int timeout)"),
      socket: libc.func("int socket(int domain, int type, int protocol)"),
      setsockopt: libc.func("int setsockopt(int fd, int level, int optname, void *optval, uint32_t optlen)"),
      getpagesize: libc.func("int getpagesize(void)"),
    };
    return native;
  } catch (e) {
    nativeError = new LoaderError("E_NO_FFI", `koffi/libc unavailable: ${(e as Error).message}`);
    throw nativeError;
  }
}

function negErrno(n: Native, ret: number | bigint): number {
  const r = Number(ret);
  return r === -1 ? -n.koffi.errno() : r;
}

/** Force a typed array's bytes off the V8 heap, so their address is stable during the call. */
function stable(buf: Uint8Array): Uint8Array {
  void buf.buffer;
  return buf;
}

function parseEvents(raw: Uint8Array, count: number): EpollEvent[] {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: EpollEvent[] = [];
  for (let i = 0; i < count; i++) {
    const at = i * EPOLL_EVENT_SIZE;
    out.push({ events: view.getUint32(at, true), data: view.getUint32(at + 4, true) });
  }
  return out;
}

function nr(): { readonly bpf: number; readonly perfEventOpen: number } {
  const n = NR[process.arch];
  if (!n) throw new LoaderError("E_NO_FFI", `no syscall numbers for architecture ${process.arch}`);
  return n;
}

/** The real Sys: libc through koffi. Constructed without touching koffi. */
export function createNativeSys(): Sys {
  let page = 0;
  return {
    bpf(cmd, attr) {
      const n = loadNative();
      return negErrno(n, n.syscall(nr().bpf, "int", cmd, "void *", stable(attr), "uint", attr.byteLength));
    },
    address(buf) {
      const n = loadNative();
      return BigInt(n.koffi.address(stable(buf)));
    },
    close(fd) {
      const n = loadNative();
      return negErrno(n, n.close(fd));
    },
    perfEventOpen(attr, pid, cpu, groupFd, flags) {
      const n = loadNative();
      return negErrno(
        n,
        n.syscall(
          nr().perfEventOpen,
          "void *",
          stable(attr),
          "int",
          pid,
          "int",
          cpu,
          "int",
          groupFd,
          "unsigned long",
          flags,
        ),
      );
    },
    ioctl(fd, request, arg) {
      const n = loadNative();
      return negErrno(n, n.ioctl(fd, request, "unsigned long", arg));
    },
    mmap(length, prot, flags, fd, offset) {
      const n = loadNative();
      const ptr = n.mmap(null, length, prot, flags, fd, offset);
      const addr = ptr === null ? 0n : BigInt(n.koffi.address(ptr));
      // MAP_FAILED is (void *)-1.
      if (addr === 0xffffffffffffffffn || addr === 0n) return -n.koffi.errno();
      return { buffer: n.koffi.view(ptr, length), length, handle: ptr };
    },
    munmap(region) {
      const n = loadNative();
      return negErrno(n, n.munmap(region.handle, region.length));
    },
    epollCreate() {
      const n = loadNative();
      return negErrno(n, n.epollCreate1(EPOLL_CLOEXEC));
    },
    epollCtl(epfd, op, fd, events, data) {
      const n = loadNative();
      const ev = new Uint8Array(new ArrayBuffer(EPOLL_EVENT_SIZE));
      const view = new DataView(ev.buffer);
      view.setUint32(0, events >>> 0, true);
      view.setUint32(4, data >>> 0, true);
      return negErrno(n, n.epollCtl(epfd, op, fd, ev));
    },
    epollWait(epfd, maxEvents, timeoutMs) {
      const n = loadNative();
      const raw = new Uint8Array(new ArrayBuffer(EPOLL_EVENT_SIZE * maxEvents));
      const r = negErrno(n, n.epollWait(epfd, raw, maxEvents, timeoutMs));
      return r < 0 ? r : parseEvents(raw, r);
    },
    epollWaitAsync(epfd, maxEvents, timeoutMs) {
      const n = loadNative();
      const raw = new Uint8Array(new ArrayBuffer(EPOLL_EVENT_SIZE * maxEvents));
      return new Promise((resolve, reject) => {
        n.epollWait.async(epfd, raw, maxEvents, timeoutMs, (err: Error | null, res: number) => {
          if (err) return reject(err);
          if (res >= 0) return resolve(parseEvents(raw, res));
          // errno lives on the worker thread. Ask again here without blocking: a persistent
          // error (EBADF...) repeats with its errno; a one-off EINTR reports as no events.
          const again = negErrno(n, n.epollWait(epfd, raw, maxEvents, 0));
          resolve(again < 0 ? again : parseEvents(raw, again));
        });
      });
    },
    pollReadable(fd, onReadable) {
      const n = loadNative();
      // koffi's libuv poll handle: the fd joins Node's own event loop, no worker thread.
      if (typeof n.koffi.node?.poll !== "function") {
        throw new LoaderError("E_NO_POLL", "this koffi has no node.poll");
      }
      // The callback gets (status, events); a failed poll (status < 0) also wakes the caller,
      // which looks at the ring and waits again.
      const handle = n.koffi.node.poll(
        fd,
        { readable: true },
        (status: number, ev?: { readable?: boolean }) => {
          if (status < 0 || ev?.readable) onReadable();
        },
      );
      let open = true;
      return {
        stop() {
          if (!open) return;
          open = false;
          handle.close();
        },
      };
    },
    socket(domain, type, protocol) {
      const n = loadNative();
      return negErrno(n, n.socket(domain, type, protocol));
    },
    setsockopt(fd, level, optname, value) {
      const n = loadNative();
      return negErrno(n, n.setsockopt(fd, level, optname, stable(value), value.byteLength));
    },
    pageSize() {
      if (page === 0) page = loadNative().getpagesize();
      return page;
    },
  };
}

let current: Sys | undefined;

/** The Sys in use: the native one unless a test installed another. */
export function getSys(): Sys {
  if (!current) current = createNativeSys();
  return current;
}

/** Install `sys` (a fake in tests); returns the previous one so the caller can restore it. */
export function setSys(sys: Sys | undefined): Sys | undefined {
  const prev = current;
  current = sys;
  return prev;
}

/** Run `fn` with `sys` installed, restoring the previous Sys afterwards (also on throw). */
export function withSys<T>(sys: Sys, fn: () => T): T {
  const prev = setSys(sys);
  try {
    return fn();
  } finally {
    setSys(prev);
  }
}

/** Whether koffi and libc could be loaded (does not say whether bpf() is permitted). */
export function nativeAvailable(): boolean {
  try {
    loadNative();
    return true;
  } catch {
    return false;
  }
}

/** The CPUs the kernel may ever bring up (per-CPU map value count), from /sys. */
export function possibleCpuCount(text?: string): number {
  let spec = text;
  if (spec === undefined) spec = readFileSync("/sys/devices/system/cpu/possible", "utf8");
  return parseCpuList(spec).length;
}

/** Parse a kernel CPU list such as "0-3,5,7-8". */
export function parseCpuList(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec.trim().split(",")) {
    if (part === "") continue;
    const [a, b] = part.split("-");
    const lo = Number(a);
    const hi = b === undefined ? lo : Number(b);
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo) {
      throw new LoaderError("E_CPU_LIST", `bad CPU list ${JSON.stringify(spec)}`);
    }
    for (let c = lo; c <= hi; c++) out.push(c);
  }
  return out;
}
