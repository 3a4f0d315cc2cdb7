/**
 * Minimal bpf() access for the abi tests (the loader proper lives in src/loader): BPF_MAP_CREATE
 * only, through koffi, when running as root on Linux x86_64. `kernel` is undefined otherwise, and
 * tests that need it skip with the reason in `kernelSkipReason`.
 */
import { existsSync } from "node:fs";
import koffi from "koffi";

export interface KernelProbe {
  /** errno of BPF_MAP_CREATE, 0 on success (the map is closed again). */
  mapCreate(type: number, keySize: number, valueSize: number, maxEntries: number, flags: number): number;
}

function open(): KernelProbe | string {
  if (process.platform !== "linux" || process.arch !== "x64") return "not Linux x86_64";
  if (process.getuid?.() !== 0) return "not root";
  if (!existsSync("/sys/kernel/btf/vmlinux")) return "no /sys/kernel/btf/vmlinux";
  const libc = koffi.load("libc.so.6");
  const syscall = libc.func("long syscall(long number, ...)");
  const close = libc.func("int close(int fd)");
  return {
    mapCreate(type, keySize, valueSize, maxEntries, flags) {
      const attr = Buffer.alloc(128);
      attr.writeUInt32LE(type, 0);
      attr.writeUInt32LE(keySize, 4);
      attr.writeUInt32LE(valueSize, 8);
      attr.writeUInt32LE(maxEntries, 12);
      attr.writeUInt32LE(flags, 16);
      const fd = Number(syscall(321, "int", 0, "void *", attr, "uint", attr.length));
      if (fd < 0) return koffi.errno();
      close(fd);
      return 0;
    },
  };
}

const opened = open();
export const kernel: KernelProbe | undefined = typeof opened === "string" ? undefined : opened;
export const kernelSkipReason: string = typeof opened === "string" ? opened : "";
