/**
 * bpf_trace_printk, bpf_trace_vprintk and bpf_snprintf. Messages are captured in
 * Runtime.printk as trace_pipe shows their message part (after "bpf_trace_printk: "), without
 * the trailing newline the format usually ends with.
 */
import type { VmHelperCall, VmHelperFn } from "../env.js";
import { EINVAL } from "../maps/errno.js";
import { bpfFormat, type FormatArgs } from "./format.js";
import type { Runtime } from "./runtime.js";
import { le64, readUnsafe, readUnsafeString } from "./util.js";

/** MAX_BPRINTF_BUF: the formatted text is cut to this many bytes (NUL included). */
const MAX_BPRINTF_BUF = 1024;
const MAX_BPRINTF_VARARGS = 12;
const MAX_BPRINTF_STR = 1024;

const latin1 = new TextDecoder("latin1");

/** The format string: `size` bytes that must contain a NUL. */
function formatArg(call: VmHelperCall, addr: bigint, size: number): string | undefined {
  const b = call.memory.slice(addr, size);
  const end = b.indexOf(0);
  return end < 0 ? undefined : latin1.decode(b.subarray(0, end));
}

function formatArgs(rt: Runtime, value: (i: number) => bigint): FormatArgs {
  return {
    value,
    string: (address, user) => {
      const s = readUnsafeString(rt, user ? rt.userMemory : rt.kernelMemory, address, MAX_BPRINTF_STR);
      return s === undefined ? undefined : latin1.decode(s.subarray(0, s.length - 1));
    },
    bytes: (address, n) => readUnsafe(rt, rt.kernelMemory, address, n),
  };
}

function emit(rt: Runtime, text: string): void {
  // the trace event copies a C string: it ends at a NUL a %c may have printed
  const nul = text.indexOf("\0");
  const str = nul >= 0 ? text.slice(0, nul) : text;
  const cut = str.length >= MAX_BPRINTF_BUF ? str.slice(0, MAX_BPRINTF_BUF - 1) : str;
  rt.printk.push(cut.endsWith("\n") ? cut.slice(0, -1) : cut);
}

export function printkHelpers(rt: Runtime): Record<string, VmHelperFn> {
  return {
    trace_printk: (call) => {
      const fmt = formatArg(call, call.arg(1), Number(call.arg(2)));
      if (fmt === undefined) return -EINVAL;
      const regs = [call.arg(3), call.arg(4), call.arg(5)];
      const text = bpfFormat(
        fmt,
        3,
        formatArgs(rt, (i) => regs[i]),
      );
      if (typeof text === "number") return text;
      emit(rt, text);
      return text.length;
    },
    trace_vprintk: (call) => {
      const fmt = formatArg(call, call.arg(1), Number(call.arg(2)));
      const dataLen = Number(call.arg(4));
      if (fmt === undefined || dataLen % 8 !== 0 || dataLen > MAX_BPRINTF_VARARGS * 8) return -EINVAL;
      const data = call.memory.slice(call.arg(3), dataLen);
      const text = bpfFormat(
        fmt,
        dataLen / 8,
        formatArgs(rt, (i) => le64(data, i * 8)),
      );
      if (typeof text === "number") return text;
      emit(rt, text);
      return text.length;
    },
    snprintf: (call) => {
      const size = Number(call.arg(2));
      const out = call.memory.slice(call.arg(1), size, true);
      const dataLen = Number(call.arg(5));
      if (dataLen % 8 !== 0 || dataLen > MAX_BPRINTF_VARARGS * 8) return -EINVAL;
      // the format is a read-only string the verifier checked to be NUL-terminated
      const fmtRegion = call.memory.find(call.arg(3));
      if (fmtRegion === undefined) throw call.fault("bpf_snprintf: format is not a pointer");
      const bytes = fmtRegion.region.bytes.subarray(fmtRegion.offset, fmtRegion.region.end);
      const end = bytes.indexOf(0);
      if (end < 0) return -EINVAL;
      const data = dataLen === 0 ? new Uint8Array(0) : call.memory.slice(call.arg(4), dataLen);
      const text = bpfFormat(
        latin1.decode(bytes.subarray(0, end)),
        dataLen / 8,
        formatArgs(rt, (i) => le64(data, i * 8)),
      );
      if (typeof text === "number") return text;
      const enc = Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
      if (size > 0) {
        const n = Math.min(enc.length, size - 1);
        out.set(enc.subarray(0, n));
        out[n] = 0;
      }
      return enc.length + 1;
    },
  };
}
