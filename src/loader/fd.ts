/**
 * An owned file descriptor: closes once, through the Sys that created it, and refuses use
 * after close (a stale number could name some unrelated file opened later).
 */
import { LoaderError } from "./errors.js";
import { getSys, type Sys } from "./sys.js";

export class Fd implements Disposable {
  #fd: number;
  readonly #sys: Sys;
  /** What the fd is ("map", "prog", "btf", "link", "perf_event"...), for messages. */
  readonly kind: string;

  constructor(fd: number, kind: string, sys: Sys = getSys()) {
    if (!Number.isInteger(fd) || fd < 0) throw new LoaderError("E_BAD_FD", `invalid ${kind} fd ${fd}`);
    this.#fd = fd;
    this.kind = kind;
    this.#sys = sys;
  }

  /** The fd number; throws once closed. */
  get value(): number {
    if (this.#fd < 0) throw new LoaderError("E_CLOSED", `${this.kind} fd used after close`);
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Close the fd. A second call does nothing, so `using` and an explicit close can coexist. */
  close(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    this.#sys.close(fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  toString(): string {
    return this.#fd < 0 ? `${this.kind} fd (closed)` : `${this.kind} fd ${this.#fd}`;
  }
}

/** A raw fd number or an Fd. */
export type FdLike = Fd | number;

export function fdNumber(fd: FdLike): number {
  return typeof fd === "number" ? fd : fd.value;
}
