/**
 * Minimal bpf() access for the abi tests (the loader proper lives in src/loader): BPF_MAP_CREATE
 * only, through koffi, when running as root on Linux x86_64. `kernel` is undefined otherwise, and
 * tests that need it skip with the reason in `kernelSkipReason`.
 */
import { existsSync } from "node:fs";
import koffi from "koffi";

export interface ProgLoadResult {
  /** 0 when the program loaded (its fd is closed again), else errno. */
  readonly errno: number;
  /** Verifier log at level 1. */
  readonly log: string;
}

export interface KernelProbe {
  /** errno of BPF_MAP_CREATE, 0 on success (the map is closed again). */
  mapCreate(
    type: number,
    keySize: number,
    valueSize: number,
    maxEntries: number,
    flags: number,
    btf?: { fd: number; keyTypeId: number; valueTypeId: number },
  ): number;
  /** BPF_BTF_LOAD of a raw BTF blob: the fd (caller closes it with closeFd) or -errno. */
  btfLoad(blob: Buffer): number;
  closeFd(fd: number): void;
  /** BPF_PROG_LOAD of raw instructions (8 bytes each, little endian). */
  progLoad(
    progType: number,
    insns: Buffer,
    opts?: { license?: string; expectedAttachType?: number; progFlags?: number; attachBtfId?: number },
  ): ProgLoadResult;
}

/** Encodes simple instructions: [opcode, dst | src << 4, off, imm]. */
export function encodeInsns(insns: readonly (readonly [number, number, number, number])[]): Buffer {
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach(([op, regs, off, imm], i) => {
    buf.writeUInt8(op, i * 8);
    buf.writeUInt8(regs, i * 8 + 1);
    buf.writeInt16LE(off, i * 8 + 2);
    buf.writeInt32LE(imm, i * 8 + 4);
  });
  return buf;
}

/** Buffers the kernel is reading through raw addresses: kept reachable until the call returns. */
const inFlight = new Set<Buffer[]>();

function open(): KernelProbe | string {
  if (process.platform !== "linux" || process.arch !== "x64") return "not Linux x86_64";
  if (process.getuid?.() !== 0) return "not root";
  if (!existsSync("/sys/kernel/btf/vmlinux")) return "no /sys/kernel/btf/vmlinux";
  const libc = koffi.load("libc.so.6");
  const syscall = libc.func("long syscall(long number, ...)");
  const close = libc.func("int close(int fd)");
  return {
    mapCreate(type, keySize, valueSize, maxEntries, flags, btf) {
      const attr = Buffer.alloc(128);
      if (btf) {
        attr.writeUInt32LE(btf.fd, 48);
        attr.writeUInt32LE(btf.keyTypeId, 52);
        attr.writeUInt32LE(btf.valueTypeId, 56);
      }
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
    btfLoad(blob) {
      const attr = Buffer.alloc(40);
      attr.writeBigUInt64LE(koffi.address(blob), 0);
      attr.writeUInt32LE(blob.length, 16);
      const keep = [attr, blob];
      inFlight.add(keep);
      const fd = Number(syscall(321, "int", 18, "void *", attr, "uint", attr.length));
      inFlight.delete(keep);
      return fd < 0 ? -koffi.errno() : fd;
    },
    closeFd(fd) {
      close(fd);
    },
    progLoad(progType, insns, opts = {}) {
      const license = Buffer.from(`${opts.license ?? "GPL"}\0`);
      const logBuf = Buffer.alloc(1 << 16);
      const attr = Buffer.alloc(152);
      attr.writeUInt32LE(progType, 0);
      attr.writeUInt32LE(insns.length / 8, 4);
      attr.writeBigUInt64LE(koffi.address(insns), 8);
      attr.writeBigUInt64LE(koffi.address(license), 16);
      attr.writeUInt32LE(1, 24);
      attr.writeUInt32LE(logBuf.length, 28);
      attr.writeBigUInt64LE(koffi.address(logBuf), 32);
      attr.writeUInt32LE(opts.progFlags ?? 0, 44);
      attr.writeUInt32LE(opts.expectedAttachType ?? 0, 68);
      attr.writeUInt32LE(opts.attachBtfId ?? 0, 108);
      const keep = [attr, insns, license, logBuf];
      inFlight.add(keep);
      const fd = Number(syscall(321, "int", 5, "void *", attr, "uint", attr.length));
      inFlight.delete(keep);
      const errno = fd < 0 ? koffi.errno() : 0;
      if (fd >= 0) close(fd);
      const end = logBuf.indexOf(0);
      return { errno, log: logBuf.toString("utf8", 0, end < 0 ? logBuf.length : end) };
    },
  };
}

const opened = open();
export const kernel: KernelProbe | undefined = typeof opened === "string" ? undefined : opened;
export const kernelSkipReason: string = typeof opened === "string" ? opened : "";
