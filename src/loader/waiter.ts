/**
 * Asynchronous wait on an epoll fd for the ring and perf buffer readers.
 *
 * Preferred: `Sys.pollReadable` (the native Sys watches the epoll fd on Node's own event loop
 * through libuv, no thread involved, cancellable at once). Fallback: `epoll_wait` on a koffi
 * worker thread in short slices; there a worker may still be inside epoll_wait when the reader
 * closes, so `busy` tells the owner to delay releasing the fd until the slice returns.
 */
import { BpfSyscallError } from "./errors.js";
import type { Sys } from "./sys.js";

/** How long one blocking fallback wait lasts at most; bounds how late a close takes effect. */
export const WAIT_SLICE_MS = 100;
const EINTR = 4;

export class EpollWaiter {
  readonly #sys: Sys;
  readonly #epfd: number;
  readonly #watch: readonly number[];
  #cancel: (() => void) | undefined;
  #inSlice = false;
  #noPoll = false;

  /**
   * `watchFds`: what the event-loop path watches (default: the epoll fd itself). Perf event fds
   * must be watched directly: their readiness is consumed by the first poll, so it does not
   * reach an event loop watching them through a nested epoll fd.
   */
  constructor(sys: Sys, epfd: number, watchFds?: readonly number[]) {
    this.#sys = sys;
    this.#epfd = epfd;
    this.#watch = watchFds ?? [epfd];
  }

  /** A worker thread is inside epoll_wait on our fd right now (fallback path only). */
  get busy(): boolean {
    return this.#inSlice;
  }

  /**
   * Resolve true once the fd is readable or `ready()` holds, false on timeout (-1: none) or
   * cancel(). `ready` is checked first, so data already there never waits.
   */
  async wait(timeoutMs: number, ready: () => boolean): Promise<boolean> {
    if (ready()) return true;
    if (this.#sys.pollReadable && !this.#noPoll) {
      try {
        return await this.#waitPoll(timeoutMs, ready);
      } catch (e) {
        if ((e as { code?: string }).code !== "E_NO_POLL") throw e;
        this.#noPoll = true;
      }
    }
    return this.#waitSlices(timeoutMs, ready);
  }

  /** End a wait in progress (it resolves false). */
  cancel(): void {
    this.#cancel?.();
  }

  #waitPoll(timeoutMs: number, ready: () => boolean): Promise<boolean> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let recheck: NodeJS.Timeout | undefined;
      let done = false;
      const finish = (v: boolean): void => {
        if (done) return;
        done = true;
        if (timer) clearTimeout(timer);
        if (recheck) clearInterval(recheck);
        for (const w of watches) w.stop();
        this.#cancel = undefined;
        resolve(v);
      };
      const watches: Array<{ stop(): void }> = [];
      try {
        for (const fd of this.#watch) watches.push(this.#sys.pollReadable!(fd, () => finish(true)));
      } catch (e) {
        for (const w of watches) w.stop();
        throw e;
      }
      // The event loop registers the watch only on its next turn, and a perf event's readiness
      // is consumed by the first poll: a record produced in between (same tick) may never signal.
      // Look at the ring itself right after registration and then every slice, so no wake-up is
      // lost for longer than that.
      const look = (): void => {
        if (ready()) finish(true);
      };
      setImmediate(look);
      recheck = setInterval(look, WAIT_SLICE_MS);
      if (timeoutMs >= 0) timer = setTimeout(() => finish(false), timeoutMs);
      this.#cancel = () => finish(false);
    });
  }

  async #waitSlices(timeoutMs: number, ready: () => boolean): Promise<boolean> {
    let cancelled = false;
    this.#cancel = () => {
      cancelled = true;
    };
    const deadline = timeoutMs < 0 ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
    try {
      for (;;) {
        if (cancelled) return false;
        if (ready()) return true;
        const left = deadline - Date.now();
        if (left <= 0) return false;
        this.#inSlice = true;
        let r: Awaited<ReturnType<Sys["epollWaitAsync"]>>;
        try {
          r = await this.#sys.epollWaitAsync(this.#epfd, 8, Math.ceil(Math.min(WAIT_SLICE_MS, left)));
        } finally {
          this.#inSlice = false;
        }
        if (cancelled) return false;
        if (typeof r !== "number") {
          if (r.length > 0) return true;
        } else if (r !== -EINTR) {
          throw new BpfSyscallError("epoll_wait", -r);
        }
      }
    } finally {
      this.#cancel = undefined;
    }
  }
}
