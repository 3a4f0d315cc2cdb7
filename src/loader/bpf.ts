/**
 * Typed wrappers over the bpf() commands. Each encodes its attr from the layout tables, calls
 * `Sys.bpf`, and turns a negative return into a BpfSyscallError naming the command. Returned
 * fds are `Fd`s (close once, `using`-friendly). Keys and values are raw bytes here; typed
 * decoding belongs to the layer above.
 */

import { encode } from "../isa/codec.js";
import type { Instruction } from "../isa/instruction.js";
import {
  BpfCmd,
  BTF_LOAD,
  cmdName,
  GET_ID,
  LINK_CREATE,
  LINK_DETACH,
  LINK_UPDATE,
  MAP_BATCH,
  MAP_CREATE,
  MAP_ELEM,
  MAP_FREEZE,
  OBJ,
  OBJ_GET_INFO_BY_FD,
  PROG_ATTACH,
  PROG_BIND_MAP,
  PROG_LOAD,
  PROG_QUERY,
  PROG_TEST_RUN,
  RAW_TRACEPOINT_OPEN,
} from "./attr.js";
import { UpdateFlags } from "./consts.js";
import { BpfSyscallError, LoaderError } from "./errors.js";
import { Fd, type FdLike, fdNumber } from "./fd.js";
import {
  BTF_INFO,
  type BtfInfo,
  LINK_INFO,
  type LinkInfo,
  MAP_INFO,
  type MapInfo,
  PROG_INFO,
  type ProgInfo,
  parseBtfInfo,
  parseLinkInfo,
  parseMapInfo,
  parseProgInfo,
} from "./info.js";
import { encodeStruct, type Layout, readField, readNumber, type Values } from "./layout.js";
import { getSys, type Sys } from "./sys.js";

const EPERM = 1;
const ENOENT = 2;
const ENOSPC = 28;
const EINTR = 4;
const EAGAIN = 11;

/** Fresh zeroed bytes off the V8 heap (their address stays put while the kernel uses it). */
function alloc(n: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(n));
}

/** NUL-terminated UTF-8 copy of a string, for attr pointer fields (paths, license, names). */
export function cstr(s: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  const out = alloc(b.byteLength + 1);
  out.set(b);
  return out;
}

interface Call {
  readonly ret: number;
  /** The attr as the kernel left it (some commands write results back into it). */
  readonly attr: Uint8Array;
}

/**
 * Encode and issue one command. Returns the raw result (negative = -errno) so callers that
 * treat some errnos as answers (ENOENT at the end of an iteration) can; `call` throws instead.
 * EINTR is retried for any command (nothing happened), EAGAIN for PROG_LOAD (the verifier can
 * be interrupted and asks to be called again), a few times each.
 */
function rawCall<F extends string>(sys: Sys, cmd: number, l: Layout<F>, values: Values<F>): Call {
  const keep: Uint8Array[] = [];
  const attr = encodeStruct(l, values, (buf) => {
    keep.push(buf);
    return sys.address(buf);
  });
  let ret = sys.bpf(cmd, attr);
  for (let i = 0; i < 5 && (ret === -EINTR || (ret === -EAGAIN && cmd === BpfCmd.PROG_LOAD)); i++) {
    ret = sys.bpf(cmd, attr);
  }
  // The kernel read `keep`'s buffers through raw addresses; hold them until here.
  keep.length = 0;
  return { ret, attr };
}

function call<F extends string>(sys: Sys, cmd: number, l: Layout<F>, values: Values<F>): Call {
  const c = rawCall(sys, cmd, l, values);
  if (c.ret < 0) throw new BpfSyscallError(cmdName(cmd), -c.ret);
  return c;
}

// ---------------------------------------------------------------------------------------- maps

export interface MapCreateOptions {
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags?: number;
  /** Up to 15 characters ([A-Za-z0-9_.]); longer names are cut. */
  readonly name?: string;
  readonly innerMapFd?: FdLike;
  readonly numaNode?: number;
  readonly ifindex?: number;
  readonly btfFd?: FdLike;
  readonly btfKeyTypeId?: number;
  readonly btfValueTypeId?: number;
  readonly btfVmlinuxValueTypeId?: number;
  readonly mapExtra?: bigint;
  readonly valueTypeBtfObjFd?: FdLike;
}

/**
 * Kernel object names hold 15 characters plus NUL, and only [A-Za-z0-9_.] (EINVAL otherwise):
 * other characters become '_' and the rest is cut, so a section-derived name never fails a load.
 */
export function objName(name: string | undefined): string | undefined {
  return name === undefined ? undefined : name.replace(/[^A-Za-z0-9_.]/g, "_").slice(0, 15);
}

export function createMap(o: MapCreateOptions, sys: Sys = getSys()): Fd {
  const { ret } = call(sys, BpfCmd.MAP_CREATE, MAP_CREATE, {
    map_type: o.type,
    key_size: o.keySize,
    value_size: o.valueSize,
    max_entries: o.maxEntries,
    map_flags: o.flags,
    map_name: objName(o.name),
    inner_map_fd: o.innerMapFd === undefined ? undefined : fdNumber(o.innerMapFd),
    numa_node: o.numaNode,
    map_ifindex: o.ifindex,
    btf_fd: o.btfFd === undefined ? undefined : fdNumber(o.btfFd),
    btf_key_type_id: o.btfKeyTypeId,
    btf_value_type_id: o.btfValueTypeId,
    btf_vmlinux_value_type_id: o.btfVmlinuxValueTypeId,
    map_extra: o.mapExtra,
    value_type_btf_obj_fd: o.valueTypeBtfObjFd === undefined ? undefined : fdNumber(o.valueTypeBtfObjFd),
  });
  return new Fd(ret, "map", sys);
}

/**
 * Look up `key`; the value buffer is `valueSize` bytes (for per-CPU maps: the value size rounded
 * up to 8, times the number of possible CPUs). Returns undefined when the key is absent.
 */
export function mapLookup(
  map: FdLike,
  key: Uint8Array,
  valueSize: number,
  flags = 0,
  sys: Sys = getSys(),
): Uint8Array | undefined {
  const value = alloc(valueSize);
  const { ret } = rawCall(sys, BpfCmd.MAP_LOOKUP_ELEM, MAP_ELEM, {
    map_fd: fdNumber(map),
    key: key,
    value,
    flags,
  });
  if (ret === -ENOENT) return undefined;
  if (ret < 0) throw new BpfSyscallError("BPF_MAP_LOOKUP_ELEM", -ret);
  return value;
}

export function mapUpdate(
  map: FdLike,
  key: Uint8Array,
  value: Uint8Array,
  flags: number = UpdateFlags.ANY,
  sys: Sys = getSys(),
): void {
  call(sys, BpfCmd.MAP_UPDATE_ELEM, MAP_ELEM, {
    map_fd: fdNumber(map),
    key: key,
    value: value,
    flags,
  });
}

/** Delete `key`; false when it was not there. */
export function mapDelete(map: FdLike, key: Uint8Array, sys: Sys = getSys()): boolean {
  const { ret } = rawCall(sys, BpfCmd.MAP_DELETE_ELEM, MAP_ELEM, {
    map_fd: fdNumber(map),
    key: key,
  });
  if (ret === -ENOENT) return false;
  if (ret < 0) throw new BpfSyscallError("BPF_MAP_DELETE_ELEM", -ret);
  return true;
}

/** The key after `key` (the first key when `key` is undefined); undefined at the end. */
export function mapGetNextKey(
  map: FdLike,
  key: Uint8Array | undefined,
  keySize: number,
  sys: Sys = getSys(),
): Uint8Array | undefined {
  const next = alloc(keySize);
  const { ret } = rawCall(sys, BpfCmd.MAP_GET_NEXT_KEY, MAP_ELEM, {
    map_fd: fdNumber(map),
    key: key === undefined ? 0n : key,
    next_key: next,
  });
  if (ret === -ENOENT) return undefined;
  if (ret < 0) throw new BpfSyscallError("BPF_MAP_GET_NEXT_KEY", -ret);
  return next;
}

/** Every key, in the kernel's iteration order. */
export function* mapKeys(map: FdLike, keySize: number, sys: Sys = getSys()): Generator<Uint8Array> {
  let key = mapGetNextKey(map, undefined, keySize, sys);
  while (key !== undefined) {
    yield key;
    key = mapGetNextKey(map, key, keySize, sys);
  }
}

/** Pop (queue/stack: key undefined) or look up and delete `key`. */
export function mapLookupAndDelete(
  map: FdLike,
  key: Uint8Array | undefined,
  valueSize: number,
  flags = 0,
  sys: Sys = getSys(),
): Uint8Array | undefined {
  const value = alloc(valueSize);
  const { ret } = rawCall(sys, BpfCmd.MAP_LOOKUP_AND_DELETE_ELEM, MAP_ELEM, {
    map_fd: fdNumber(map),
    key: key === undefined ? 0n : key,
    value,
    flags,
  });
  if (ret === -ENOENT) return undefined;
  if (ret < 0) throw new BpfSyscallError("BPF_MAP_LOOKUP_AND_DELETE_ELEM", -ret);
  return value;
}

/** Make the map read-only for syscalls (programs may still write unless RDONLY_PROG). */
export function mapFreeze(map: FdLike, sys: Sys = getSys()): void {
  call(sys, BpfCmd.MAP_FREEZE, MAP_FREEZE, { map_fd: fdNumber(map) });
}

export interface BatchResult {
  /** `count` keys back to back. */
  readonly keys: Uint8Array;
  readonly values: Uint8Array;
  readonly count: number;
  /** Pass as `inBatch` to continue; undefined when the map has been walked to the end. */
  readonly next: Uint8Array | undefined;
}

/**
 * One BPF_MAP_LOOKUP_BATCH (or LOOKUP_AND_DELETE_BATCH) step of up to `count` elements. `valueSize`
 * is the per-element value size as the kernel copies it (per-CPU maps: rounded size × CPUs).
 */
export function mapLookupBatch(
  map: FdLike,
  o: {
    readonly keySize: number;
    readonly valueSize: number;
    readonly count: number;
    readonly inBatch?: Uint8Array;
    readonly andDelete?: boolean;
    readonly elemFlags?: number;
  },
  sys: Sys = getSys(),
): BatchResult {
  // The batch token is opaque: a bucket index for hash maps, a key for others. 8 bytes or the
  // key size, whichever is larger, holds either.
  const tokenSize = Math.max(o.keySize, 8);
  const out = alloc(tokenSize);
  const keys = alloc(o.keySize * o.count);
  const values = alloc(o.valueSize * o.count);
  const cmd = o.andDelete ? BpfCmd.MAP_LOOKUP_AND_DELETE_BATCH : BpfCmd.MAP_LOOKUP_BATCH;
  const { ret, attr } = rawCall(sys, cmd, MAP_BATCH, {
    in_batch: o.inBatch === undefined ? 0n : o.inBatch,
    out_batch: out,
    keys,
    values,
    count: o.count,
    map_fd: fdNumber(map),
    elem_flags: o.elemFlags,
  });
  if (ret < 0 && ret !== -ENOENT) throw new BpfSyscallError(cmdName(cmd), -ret);
  const count = readNumber(attr, MAP_BATCH.fields.count);
  return {
    keys: keys.subarray(0, count * o.keySize),
    values: values.subarray(0, count * o.valueSize),
    count,
    // ENOENT means the walk reached the end (possibly with a last partial batch).
    next: ret === -ENOENT ? undefined : out,
  };
}

/** Update `count` elements at once; returns how many the kernel processed. */
export function mapUpdateBatch(
  map: FdLike,
  keys: Uint8Array,
  values: Uint8Array,
  count: number,
  o: { readonly elemFlags?: number } = {},
  sys: Sys = getSys(),
): number {
  const { attr } = call(sys, BpfCmd.MAP_UPDATE_BATCH, MAP_BATCH, {
    keys: keys,
    values: values,
    count,
    map_fd: fdNumber(map),
    elem_flags: o.elemFlags,
  });
  return readNumber(attr, MAP_BATCH.fields.count);
}

/** Delete `count` keys at once; returns how many were deleted. */
export function mapDeleteBatch(map: FdLike, keys: Uint8Array, count: number, sys: Sys = getSys()): number {
  const { attr } = call(sys, BpfCmd.MAP_DELETE_BATCH, MAP_BATCH, {
    keys: keys,
    count,
    map_fd: fdNumber(map),
  });
  return readNumber(attr, MAP_BATCH.fields.count);
}

// ------------------------------------------------------------------------------------ programs

export interface ProgramLoadOptions {
  readonly type: number;
  /** Instructions, or their encoding (8 bytes each). */
  readonly insns: readonly Instruction[] | Uint8Array;
  readonly license?: string;
  readonly name?: string;
  readonly flags?: number;
  readonly kernVersion?: number;
  readonly ifindex?: number;
  readonly expectedAttachType?: number;
  readonly attachBtfId?: number;
  readonly attachBtfObjFd?: FdLike;
  readonly attachProgFd?: FdLike;
  readonly btfFd?: FdLike;
  /** bpf_func_info records (8 bytes each: insn_off, type_id), already encoded. */
  readonly funcInfo?: Uint8Array;
  readonly funcInfoRecSize?: number;
  /** bpf_line_info records (16 bytes each), already encoded. */
  readonly lineInfo?: Uint8Array;
  readonly lineInfoRecSize?: number;
  /** Map/BTF fds for BPF_PSEUDO_MAP_IDX and kfunc calls. */
  readonly fdArray?: readonly FdLike[];
  /**
   * Verifier log level (bits: 1 branches, 2 every insn, 4 stats). 0/undefined: load without a log
   * and, only if the load fails, load again at level 1 to capture why.
   */
  readonly logLevel?: number;
  /** First log buffer size (default 64 KiB); grown on ENOSPC up to `maxLogSize`. */
  readonly logSize?: number;
  readonly maxLogSize?: number;
}

export interface LoadedProgram {
  readonly fd: Fd;
  /** The verifier log ("" when none was asked for). */
  readonly log: string;
  /** How many times PROG_LOAD was issued (log retries included). */
  readonly attempts: number;
}

const MIN_LOG = 128;
const DEFAULT_LOG = 64 * 1024;
/** The kernel's limit is UINT32_MAX >> 2. */
const MAX_LOG = (0xffffffff >>> 2) >>> 0;
const DEFAULT_MAX_LOG = 256 * 1024 * 1024;
const dec = new TextDecoder();

function logText(buf: Uint8Array): string {
  const end = buf.indexOf(0);
  return dec.decode(end < 0 ? buf : buf.subarray(0, end));
}

/**
 * Log-capturing retry shared by PROG_LOAD and BTF_LOAD: issue `attempt(level, size)`; on ENOSPC
 * (log too small; kernels ≥ 6.4 also report the size needed) grow the buffer and try again.
 */
function withLog(
  o: { logLevel?: number; logSize?: number; maxLogSize?: number },
  attempt: (level: number, log: Uint8Array | undefined) => { ret: number; trueSize: number },
): { ret: number; log: string; attempts: number; truncated: boolean } {
  const max = Math.min(o.maxLogSize ?? DEFAULT_MAX_LOG, MAX_LOG);
  let attempts = 0;
  let level = o.logLevel ?? 0;
  if (level === 0) {
    attempts++;
    const first = attempt(0, undefined);
    if (first.ret >= 0) return { ret: first.ret, log: "", attempts, truncated: false };
    // Any failure is worth a second look with a log, as libbpf does: EPERM too, which the
    // verifier returns with its reason for an unprivileged loader (a missing capability before
    // verification comes back with an empty log either way).
    level = 1;
  }
  let size = Math.min(Math.max(o.logSize ?? DEFAULT_LOG, MIN_LOG), max);
  for (;;) {
    const log = alloc(size);
    attempts++;
    const r = attempt(level, log);
    if (r.ret !== -ENOSPC || size >= max) {
      return { ret: r.ret, log: logText(log), attempts, truncated: r.ret === -ENOSPC };
    }
    // log_true_size (kernels >= 6.4) is the size needed, NUL included; older kernels leave 0.
    size = Math.min(r.trueSize > size ? r.trueSize : size * 2, max);
  }
}

export function loadProgram(o: ProgramLoadOptions, sys: Sys = getSys()): LoadedProgram {
  const code = o.insns instanceof Uint8Array ? o.insns : encode(o.insns);
  if (code.byteLength === 0 || code.byteLength % 8 !== 0) {
    throw new LoaderError(
      "E_PROG_EMPTY",
      `program must be a non-empty multiple of 8 bytes, got ${code.byteLength}`,
    );
  }
  const license = cstr(o.license ?? "GPL");
  let fdArray: Uint8Array | undefined;
  if (o.fdArray && o.fdArray.length > 0) {
    fdArray = alloc(4 * o.fdArray.length);
    const v = new DataView(fdArray.buffer);
    o.fdArray.forEach((f, i) => {
      v.setInt32(i * 4, fdNumber(f), true);
    });
  }
  const funcInfo = o.funcInfo && o.funcInfo.byteLength > 0 ? o.funcInfo : undefined;
  const lineInfo = o.lineInfo && o.lineInfo.byteLength > 0 ? o.lineInfo : undefined;
  const fiSize = o.funcInfoRecSize ?? 8;
  const liSize = o.lineInfoRecSize ?? 16;
  const attachFd = o.attachProgFd ?? o.attachBtfObjFd;

  const r = withLog(o, (level, log) => {
    const c = rawCall(sys, BpfCmd.PROG_LOAD, PROG_LOAD, {
      prog_type: o.type,
      insn_cnt: code.byteLength / 8,
      insns: code,
      license,
      log_level: level || undefined,
      log_size: log?.byteLength,
      log_buf: log,
      kern_version: o.kernVersion,
      prog_flags: o.flags,
      prog_name: objName(o.name),
      prog_ifindex: o.ifindex,
      expected_attach_type: o.expectedAttachType,
      prog_btf_fd: o.btfFd === undefined ? undefined : fdNumber(o.btfFd),
      func_info_rec_size: funcInfo ? fiSize : undefined,
      func_info: funcInfo,
      func_info_cnt: funcInfo ? funcInfo.byteLength / fiSize : undefined,
      line_info_rec_size: lineInfo ? liSize : undefined,
      line_info: lineInfo,
      line_info_cnt: lineInfo ? lineInfo.byteLength / liSize : undefined,
      attach_btf_id: o.attachBtfId,
      attach_prog_fd: attachFd === undefined ? undefined : fdNumber(attachFd),
      fd_array: fdArray,
    });
    return { ret: c.ret, trueSize: readNumber(c.attr, PROG_LOAD.fields.log_true_size) };
  });
  if (r.ret < 0) {
    const detail =
      r.ret === -EPERM && r.log === ""
        ? "the kernel refused before verification (needs CAP_BPF + CAP_PERFMON or CAP_SYS_ADMIN; an LSM policy may forbid this program type)"
        : undefined;
    throw new BpfSyscallError("BPF_PROG_LOAD", -r.ret, { log: r.log, logTruncated: r.truncated, detail });
  }
  return { fd: new Fd(r.ret, "prog", sys), log: r.log, attempts: r.attempts };
}

export interface TestRunOptions {
  readonly data?: Uint8Array;
  /** Size of the data_out buffer (default: input size + 256). Grown once if the kernel needs more. */
  readonly dataSizeOut?: number;
  readonly ctx?: Uint8Array;
  readonly ctxSizeOut?: number;
  readonly repeat?: number;
  readonly flags?: number;
  readonly cpu?: number;
  readonly batchSize?: number;
}

export interface TestRunResult {
  readonly retval: number;
  readonly data: Uint8Array;
  readonly ctx: Uint8Array;
  /** Average run time per repetition in nanoseconds, as the kernel measured it. */
  readonly duration: number;
}

/** BPF_PROG_TEST_RUN: run a loaded program once (or `repeat` times) on the given input. */
export function testRun(prog: FdLike, o: TestRunOptions = {}, sys: Sys = getSys()): TestRunResult {
  const run = (outSize: number, ctxOutSize: number): Call & { out: Uint8Array; ctxOut: Uint8Array } => {
    const out = alloc(outSize);
    const ctxOut = alloc(ctxOutSize);
    const c = rawCall(sys, BpfCmd.PROG_TEST_RUN, PROG_TEST_RUN, {
      prog_fd: fdNumber(prog),
      data_size_in: o.data?.byteLength,
      data_in: o.data ? o.data : undefined,
      data_size_out: outSize || undefined,
      data_out: outSize ? out : undefined,
      repeat: o.repeat,
      ctx_size_in: o.ctx?.byteLength,
      ctx_in: o.ctx ? o.ctx : undefined,
      ctx_size_out: ctxOutSize || undefined,
      ctx_out: ctxOutSize ? ctxOut : undefined,
      flags: o.flags,
      cpu: o.cpu,
      batch_size: o.batchSize,
    });
    return { ...c, out, ctxOut };
  };
  const dataOut = o.dataSizeOut ?? (o.data ? o.data.byteLength + 256 : 0);
  const ctxOut = o.ctxSizeOut ?? (o.ctx ? o.ctx.byteLength : 0);
  let c = run(dataOut, ctxOut);
  if (c.ret === -ENOSPC) {
    // The kernel copied what fit and reports the full sizes; run again with room for them.
    const needData = readNumber(c.attr, PROG_TEST_RUN.fields.data_size_out);
    const needCtx = readNumber(c.attr, PROG_TEST_RUN.fields.ctx_size_out);
    c = run(Math.max(needData, dataOut), Math.max(needCtx, ctxOut));
  }
  if (c.ret < 0) throw new BpfSyscallError("BPF_PROG_TEST_RUN", -c.ret);
  const f = PROG_TEST_RUN.fields;
  const outLen = Math.min(readNumber(c.attr, f.data_size_out), c.out.byteLength);
  const ctxLen = Math.min(readNumber(c.attr, f.ctx_size_out), c.ctxOut.byteLength);
  return {
    retval: readNumber(c.attr, f.retval),
    data: c.out.slice(0, outLen),
    ctx: c.ctxOut.slice(0, ctxLen),
    duration: readNumber(c.attr, f.duration),
  };
}

/** BPF_PROG_BIND_MAP: keep `map` alive as long as `prog` (maps only referenced at runtime). */
export function progBindMap(prog: FdLike, map: FdLike, sys: Sys = getSys()): void {
  call(sys, BpfCmd.PROG_BIND_MAP, PROG_BIND_MAP, { prog_fd: fdNumber(prog), map_fd: fdNumber(map) });
}

// ----------------------------------------------------------------------------------------- BTF

export interface BtfLoadOptions {
  /** 0/undefined: no log unless the load fails, then level 1. */
  readonly logLevel?: number;
  readonly logSize?: number;
  readonly maxLogSize?: number;
}

export function loadBtf(
  btf: Uint8Array,
  o: BtfLoadOptions = {},
  sys: Sys = getSys(),
): { readonly fd: Fd; readonly log: string } {
  const data = btf;
  const r = withLog(o, (level, log) => {
    const c = rawCall(sys, BpfCmd.BTF_LOAD, BTF_LOAD, {
      btf: data,
      btf_size: data.byteLength,
      btf_log_buf: log,
      btf_log_size: log?.byteLength,
      btf_log_level: level || undefined,
    });
    return { ret: c.ret, trueSize: readNumber(c.attr, BTF_LOAD.fields.btf_log_true_size) };
  });
  if (r.ret < 0) throw new BpfSyscallError("BPF_BTF_LOAD", -r.ret, { log: r.log, logTruncated: r.truncated });
  return { fd: new Fd(r.ret, "btf", sys), log: r.log };
}

// --------------------------------------------------------------------------------- pin and get

export function objPin(obj: FdLike, path: string, sys: Sys = getSys()): void {
  call(sys, BpfCmd.OBJ_PIN, OBJ, { pathname: cstr(path), bpf_fd: fdNumber(obj) });
}

/** Open a pinned object. `fileFlags`: BPF_F_RDONLY (8) / BPF_F_WRONLY (16). */
export function objGet(path: string, fileFlags = 0, sys: Sys = getSys()): Fd {
  const { ret } = call(sys, BpfCmd.OBJ_GET, OBJ, { pathname: cstr(path), file_flags: fileFlags });
  return new Fd(ret, "pinned", sys);
}

// -------------------------------------------------------------------------------------- attach

export interface LinkCreateOptions {
  readonly prog: FdLike;
  /** Target fd (cgroup, perf event, netns, program) or interface index (XDP, tcx). */
  readonly target?: number | FdLike;
  readonly attachType: number;
  readonly flags?: number;
  readonly targetBtfId?: number;
  /** perf_event / tracing cookie (bpf_get_attach_cookie). */
  readonly cookie?: bigint;
  /** tcx/netkit/cgroup ordering. */
  readonly relativeFd?: FdLike;
  readonly relativeId?: number;
  readonly expectedRevision?: bigint;
  /**
   * Any other link_create field by its BTF path ("uprobe_multi.path", "netfilter.pf"...), for
   * link types without a dedicated option. Values win over the options above.
   */
  readonly extra?: Values<keyof typeof LINK_CREATE.fields>;
}

/** Which union member of link_create carries the cookie / relative fields, per attach type. */
function linkUnion(attachType: number): "perf_event" | "tracing" | "tcx" | "netkit" | "cgroup" | undefined {
  if (attachType === 41) return "perf_event";
  if (attachType >= 23 && attachType <= 28) return "tracing";
  if (attachType === 46 || attachType === 47) return "tcx";
  if (attachType === 54 || attachType === 55) return "netkit";
  if (attachType <= 22 || attachType === 43 || (attachType >= 49 && attachType <= 53)) return "cgroup";
  return undefined;
}

export function linkCreate(o: LinkCreateOptions, sys: Sys = getSys()): Fd {
  const u = linkUnion(o.attachType);
  const v: Record<string, unknown> = {
    prog_fd: fdNumber(o.prog),
    target_fd: o.target === undefined ? undefined : fdNumber(o.target),
    attach_type: o.attachType,
    flags: o.flags,
  };
  if (u === "perf_event") v["perf_event.bpf_cookie"] = o.cookie;
  else if (u === "tracing") {
    v["tracing.target_btf_id"] = o.targetBtfId;
    v["tracing.cookie"] = o.cookie;
  } else {
    if (o.targetBtfId !== undefined) v.target_btf_id = o.targetBtfId;
    if (u === "tcx" || u === "netkit" || u === "cgroup") {
      v[`${u}.relative_fd`] = o.relativeFd === undefined ? undefined : fdNumber(o.relativeFd);
      if (o.relativeId !== undefined) v[`${u}.relative_id`] = o.relativeId;
      v[`${u}.expected_revision`] = o.expectedRevision;
    }
  }
  Object.assign(v, o.extra ?? {});
  const { ret } = call(sys, BpfCmd.LINK_CREATE, LINK_CREATE, v as Values<keyof typeof LINK_CREATE.fields>);
  return new Fd(ret, "link", sys);
}

/** Swap the program behind a link (optionally only if it still runs `oldProg`). */
export function linkUpdate(link: FdLike, newProg: FdLike, oldProg?: FdLike, sys: Sys = getSys()): void {
  call(sys, BpfCmd.LINK_UPDATE, LINK_UPDATE, {
    link_fd: fdNumber(link),
    new_prog_fd: fdNumber(newProg),
    old_prog_fd: oldProg === undefined ? undefined : fdNumber(oldProg),
    flags: oldProg === undefined ? undefined : 4 /* BPF_F_REPLACE */,
  });
}

export function linkDetach(link: FdLike, sys: Sys = getSys()): void {
  call(sys, BpfCmd.LINK_DETACH, LINK_DETACH, { link_fd: fdNumber(link) });
}

/** BPF_RAW_TRACEPOINT_OPEN: attach a raw_tp (by name) or a tracing program (name undefined). */
export function rawTracepointOpen(
  name: string | undefined,
  prog: FdLike,
  cookie?: bigint,
  sys: Sys = getSys(),
): Fd {
  const { ret } = call(sys, BpfCmd.RAW_TRACEPOINT_OPEN, RAW_TRACEPOINT_OPEN, {
    name: name === undefined ? 0n : cstr(name),
    prog_fd: fdNumber(prog),
    cookie,
  });
  return new Fd(ret, "link", sys);
}

/** Legacy BPF_PROG_ATTACH (cgroup, sockmap, flow dissector, lirc). */
export function progAttach(
  o: {
    readonly target: number | FdLike;
    readonly prog: FdLike;
    readonly attachType: number;
    readonly flags?: number;
    readonly replaceProg?: FdLike;
  },
  sys: Sys = getSys(),
): void {
  call(sys, BpfCmd.PROG_ATTACH, PROG_ATTACH, {
    target_fd: fdNumber(o.target),
    attach_bpf_fd: fdNumber(o.prog),
    attach_type: o.attachType,
    attach_flags: o.flags,
    replace_bpf_fd: o.replaceProg === undefined ? undefined : fdNumber(o.replaceProg),
  });
}

export function progDetach(
  o: { readonly target: number | FdLike; readonly prog?: FdLike; readonly attachType: number },
  sys: Sys = getSys(),
): void {
  call(sys, BpfCmd.PROG_DETACH, PROG_ATTACH, {
    target_fd: fdNumber(o.target),
    attach_bpf_fd: o.prog === undefined ? undefined : fdNumber(o.prog),
    attach_type: o.attachType,
  });
}

/** BPF_PROG_QUERY: the programs attached to a target at a hook. */
export function progQuery(
  target: number | FdLike,
  attachType: number,
  o: { readonly maxProgs?: number; readonly queryFlags?: number } = {},
  sys: Sys = getSys(),
): { readonly attachFlags: number; readonly progIds: number[]; readonly revision: bigint } {
  const max = o.maxProgs ?? 64;
  const ids = alloc(4 * max);
  const { attr } = call(sys, BpfCmd.PROG_QUERY, PROG_QUERY, {
    target_fd: fdNumber(target),
    attach_type: attachType,
    query_flags: o.queryFlags,
    prog_ids: ids,
    prog_cnt: max,
  });
  const f = PROG_QUERY.fields;
  const n = Math.min(readNumber(attr, f.prog_cnt), max);
  const view = new DataView(ids.buffer);
  return {
    attachFlags: readNumber(attr, f.attach_flags),
    progIds: Array.from({ length: n }, (_, i) => view.getUint32(i * 4, true)),
    revision: readField(attr, f.revision) as bigint,
  };
}

// ------------------------------------------------------------------------------ ids and info

export type ObjectKind = "prog" | "map" | "btf" | "link";

const NEXT_ID: Record<ObjectKind, number> = {
  prog: BpfCmd.PROG_GET_NEXT_ID,
  map: BpfCmd.MAP_GET_NEXT_ID,
  btf: BpfCmd.BTF_GET_NEXT_ID,
  link: BpfCmd.LINK_GET_NEXT_ID,
};
const FD_BY_ID: Record<ObjectKind, number> = {
  prog: BpfCmd.PROG_GET_FD_BY_ID,
  map: BpfCmd.MAP_GET_FD_BY_ID,
  btf: BpfCmd.BTF_GET_FD_BY_ID,
  link: BpfCmd.LINK_GET_FD_BY_ID,
};

/** The next id of a kind after `startId`; undefined past the last one. */
export function nextId(kind: ObjectKind, startId: number, sys: Sys = getSys()): number | undefined {
  const { ret, attr } = rawCall(sys, NEXT_ID[kind], GET_ID, { start_id: startId });
  if (ret === -ENOENT) return undefined;
  if (ret < 0) throw new BpfSyscallError(cmdName(NEXT_ID[kind]), -ret);
  return readNumber(attr, GET_ID.fields.next_id);
}

/** Every id of a kind currently alive in the kernel. */
export function* ids(kind: ObjectKind, sys: Sys = getSys()): Generator<number> {
  let id = nextId(kind, 0, sys);
  while (id !== undefined) {
    yield id;
    id = nextId(kind, id, sys);
  }
}

/** Open an fd to an object by id. */
export function fdById(kind: ObjectKind, id: number, openFlags = 0, sys: Sys = getSys()): Fd {
  const { ret } = call(sys, FD_BY_ID[kind], GET_ID, { start_id: id, open_flags: openFlags || undefined });
  return new Fd(ret, kind, sys);
}

/** BPF_OBJ_GET_INFO_BY_FD into a struct-sized buffer; `extra` fills pointer fields of the info. */
function infoByFd(
  sys: Sys,
  obj: FdLike,
  size: number,
  prefill?: (info: Uint8Array) => Uint8Array[],
): Uint8Array {
  const info = alloc(size);
  const keep = prefill ? prefill(info) : [];
  call(sys, BpfCmd.OBJ_GET_INFO_BY_FD, OBJ_GET_INFO_BY_FD, {
    bpf_fd: fdNumber(obj),
    info_len: size,
    info,
  });
  keep.length = 0;
  return info;
}

export function progInfo(prog: FdLike, sys: Sys = getSys()): ProgInfo {
  const first = infoByFd(sys, prog, PROG_INFO.size);
  const nMaps = readNumber(first, PROG_INFO.fields.nr_map_ids);
  if (nMaps === 0) return parseProgInfo(first);
  // Second pass: the kernel fills map_ids only when we provide room for them.
  const mapIds = alloc(4 * nMaps);
  const second = infoByFd(sys, prog, PROG_INFO.size, (info) => {
    const v = new DataView(info.buffer);
    v.setUint32(PROG_INFO.fields.nr_map_ids.offset, nMaps, true);
    v.setBigUint64(PROG_INFO.fields.map_ids.offset, sys.address(mapIds), true);
    return [mapIds];
  });
  const view = new DataView(mapIds.buffer);
  const n = Math.min(readNumber(second, PROG_INFO.fields.nr_map_ids), nMaps);
  return parseProgInfo(
    second,
    Array.from({ length: n }, (_, i) => view.getUint32(i * 4, true)),
  );
}

export function mapInfo(map: FdLike, sys: Sys = getSys()): MapInfo {
  return parseMapInfo(infoByFd(sys, map, MAP_INFO.size));
}

export function btfInfo(btf: FdLike, sys: Sys = getSys()): BtfInfo {
  const name = alloc(256);
  const info = infoByFd(sys, btf, BTF_INFO.size, (b) => {
    const v = new DataView(b.buffer);
    v.setBigUint64(BTF_INFO.fields.name.offset, sys.address(name), true);
    v.setUint32(BTF_INFO.fields.name_len.offset, name.byteLength, true);
    return [name];
  });
  return parseBtfInfo(info, logText(name));
}

/** The raw BTF blob of a loaded BTF object. */
export function btfData(btf: FdLike, sys: Sys = getSys()): Uint8Array {
  const size = btfInfo(btf, sys).size;
  const data = alloc(size);
  infoByFd(sys, btf, BTF_INFO.size, (b) => {
    const v = new DataView(b.buffer);
    v.setBigUint64(BTF_INFO.fields.btf.offset, sys.address(data), true);
    v.setUint32(BTF_INFO.fields.btf_size.offset, size, true);
    return [data];
  });
  return data;
}

export function linkInfo(link: FdLike, sys: Sys = getSys()): LinkInfo {
  return parseLinkInfo(infoByFd(sys, link, LINK_INFO.size));
}

/** Round a per-CPU value size up to 8 and multiply by the CPU count, as the kernel copies it. */
export function perCpuValueSize(valueSize: number, cpus: number): number {
  return Math.ceil(valueSize / 8) * 8 * cpus;
}

// ------------------------------------------------------------------------------ socket filters

const SOL_SOCKET = 1;
const SO_ATTACH_BPF = 50;
const SO_DETACH_BPF = 27;

/** setsockopt(SO_ATTACH_BPF): run a SOCKET_FILTER program on everything `socketFd` receives. */
export function attachSocketFilter(socketFd: number, prog: FdLike, sys: Sys = getSys()): void {
  const v = alloc(4);
  new DataView(v.buffer).setInt32(0, fdNumber(prog), true);
  const r = sys.setsockopt(socketFd, SOL_SOCKET, SO_ATTACH_BPF, v);
  if (r < 0) throw new BpfSyscallError("setsockopt", -r, { detail: "SO_ATTACH_BPF" });
}

/** setsockopt(SO_DETACH_BPF). */
export function detachSocketFilter(socketFd: number, sys: Sys = getSys()): void {
  const r = sys.setsockopt(socketFd, SOL_SOCKET, SO_DETACH_BPF, alloc(4));
  if (r < 0) throw new BpfSyscallError("setsockopt", -r, { detail: "SO_DETACH_BPF" });
}
