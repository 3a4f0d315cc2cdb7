/**
 * Loader errors. A failed bpf() command becomes a BpfSyscallError naming the command and the
 * errno, and for BPF_PROG_LOAD / BPF_BTF_LOAD carrying the kernel's log, so callers can print
 * what the verifier said instead of a bare "EACCES".
 */
import { TsbpfError } from "../errors.js";

/** Linux errno numbers (generic table, shared by x86_64 and arm64) to names. */
const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: "EPERM",
  2: "ENOENT",
  3: "ESRCH",
  4: "EINTR",
  5: "EIO",
  6: "ENXIO",
  7: "E2BIG",
  8: "ENOEXEC",
  9: "EBADF",
  10: "ECHILD",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  15: "ENOTBLK",
  16: "EBUSY",
  17: "EEXIST",
  18: "EXDEV",
  19: "ENODEV",
  20: "ENOTDIR",
  21: "EISDIR",
  22: "EINVAL",
  23: "ENFILE",
  24: "EMFILE",
  25: "ENOTTY",
  26: "ETXTBSY",
  27: "EFBIG",
  28: "ENOSPC",
  29: "ESPIPE",
  30: "EROFS",
  31: "EMLINK",
  32: "EPIPE",
  33: "EDOM",
  34: "ERANGE",
  35: "EDEADLK",
  36: "ENAMETOOLONG",
  37: "ENOLCK",
  38: "ENOSYS",
  39: "ENOTEMPTY",
  40: "ELOOP",
  42: "ENOMSG",
  61: "ENODATA",
  62: "ETIME",
  67: "ENOLINK",
  71: "EPROTO",
  74: "EBADMSG",
  75: "EOVERFLOW",
  77: "EBADFD",
  88: "ENOTSOCK",
  90: "EMSGSIZE",
  92: "ENOPROTOOPT",
  93: "EPROTONOSUPPORT",
  95: "EOPNOTSUPP",
  97: "EAFNOSUPPORT",
  98: "EADDRINUSE",
  99: "EADDRNOTAVAIL",
  105: "ENOBUFS",
  107: "ENOTCONN",
  110: "ETIMEDOUT",
  114: "EALREADY",
  116: "ESTALE",
  122: "EDQUOT",
  125: "ECANCELED",
  126: "ENOKEY",
  // Kernel-internal codes that bpf() is known to leak to userspace.
  512: "ERESTARTSYS",
  524: "ENOTSUPP",
};

/** Short human descriptions for the errnos bpf() commonly returns. */
const ERRNO_TEXT: Readonly<Record<string, string>> = {
  EPERM: "operation not permitted",
  ENOENT: "no such entry",
  E2BIG: "argument too big",
  EBADF: "bad file descriptor",
  EAGAIN: "try again",
  ENOMEM: "out of memory",
  EACCES: "permission denied",
  EFAULT: "bad address",
  EBUSY: "busy",
  EEXIST: "already exists",
  EINVAL: "invalid argument",
  ENOSPC: "no space left",
  ENOTSUPP: "not supported",
  EOPNOTSUPP: "operation not supported",
  ENOSYS: "function not implemented",
};

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E${errno}`;
}

/** Number of a known errno name, or undefined. */
export function errnoNumber(name: string): number | undefined {
  for (const [k, v] of Object.entries(ERRNO_NAMES)) if (v === name) return Number(k);
  return undefined;
}

/** Every errno this module can name (for tests that cross-check the table). */
export function knownErrnos(): ReadonlyArray<readonly [number, string]> {
  return Object.entries(ERRNO_NAMES).map(([k, v]) => [Number(k), v] as const);
}

/** Something the loader cannot do here (no FFI, bad argument shape, use after close...). */
export class LoaderError extends TsbpfError {}

/** A failed bpf() (or related) system call. */
export class BpfSyscallError extends TsbpfError {
  /** Command name, e.g. "BPF_PROG_LOAD" (or "perf_event_open", "mmap"...). */
  readonly command: string;
  readonly errno: number;
  /** errno name, e.g. "EACCES". */
  readonly errnoName: string;
  /** The verifier (or BTF) log, when the command produced one. */
  readonly log: string | undefined;
  /** Whether the kernel had more log than the buffer held. */
  readonly logTruncated: boolean;

  constructor(
    command: string,
    errno: number,
    opts: { log?: string; logTruncated?: boolean; detail?: string } = {},
  ) {
    const name = errnoName(errno);
    const text = ERRNO_TEXT[name];
    const head = `${command}: ${name}${text ? ` (${text})` : ""}${opts.detail ? `: ${opts.detail}` : ""}`;
    const tail = opts.log ? `\n${lastLines(opts.log, 20)}` : "";
    super(`E_SYSCALL_${name}`, head + tail);
    this.command = command;
    this.errno = errno;
    this.errnoName = name;
    this.log = opts.log;
    this.logTruncated = opts.logTruncated ?? false;
  }
}

/** The end of a log is where the verifier says why it gave up; keep the message readable. */
function lastLines(log: string, n: number): string {
  const lines = log.trimEnd().split("\n");
  return lines.length <= n ? lines.join("\n") : ["...", ...lines.slice(-n)].join("\n");
}
