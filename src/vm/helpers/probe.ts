/**
 * probe_read_kernel / probe_read_user / probe_read (and the _str variants): copy from the
 * memory image the test provides (or from the program's own regions, which are kernel memory
 * too). As in the kernel, a fault returns -EFAULT and zeroes the destination; the _str variants
 * return the length copied including the NUL.
 */
import type { VmHelperCall, VmHelperFn } from "../env.js";
import { EFAULT } from "../maps/errno.js";
import type { MemorySegment, Runtime } from "./runtime.js";
import { readUnsafe, readUnsafeString } from "./util.js";

function read(rt: Runtime, image: () => readonly MemorySegment[]): VmHelperFn {
  return (call: VmHelperCall) => {
    const size = Number(call.arg(2));
    const dst = call.memory.slice(call.arg(1), size, true);
    const src = readUnsafe(rt, image(), call.arg(3), size);
    if (src === undefined) {
      dst.fill(0);
      return -EFAULT;
    }
    dst.set(src);
    return 0;
  };
}

function readStr(rt: Runtime, image: () => readonly MemorySegment[]): VmHelperFn {
  return (call: VmHelperCall) => {
    const size = Number(call.arg(2));
    const dst = call.memory.slice(call.arg(1), size, true);
    if (size === 0) return 0;
    const s = readUnsafeString(rt, image(), call.arg(3), size);
    if (s === undefined) {
      dst.fill(0);
      return -EFAULT;
    }
    dst.set(s);
    return s.length;
  };
}

export function probeHelpers(rt: Runtime): Record<string, VmHelperFn> {
  const kernel = () => rt.kernelMemory;
  const user = () => rt.userMemory;
  // bpf_probe_read (compat): kernel memory first, then user memory, as x86-64 kernels do
  const both = () => [...rt.kernelMemory, ...rt.userMemory];
  return {
    probe_read_kernel: read(rt, kernel),
    probe_read_user: read(rt, user),
    probe_read: read(rt, both),
    probe_read_kernel_str: readStr(rt, kernel),
    probe_read_user_str: readStr(rt, user),
    probe_read_str: readStr(rt, both),
  };
}
