/**
 * `.kconfig` externs filled from the running kernel, with libbpf's conventions:
 * LINUX_KERNEL_VERSION = KERNEL_VERSION(a, b, min(c, 255)) from uname; CONFIG_* from
 * /proc/config.gz or /boot/config-$(uname -r). A tristate/bool value is 0/1/2 (n/y/m) for
 * integer and enum types and 'n'/'y'/'m' for char; numbers go to integer types; quoted strings
 * to char arrays. A missing strong extern is an error, a missing weak one stays zero.
 */
import { readFileSync } from "node:fs";
import { release } from "node:os";
import { gunzipSync } from "node:zlib";
import type { Btf } from "../elf/btf/btf.js";
import type { ExternSpec } from "../elf/object/types.js";
import { LoaderError } from "./errors.js";

/** KERNEL_VERSION(a,b,c) of a release string like "6.18.44-generic". */
export function kernelVersionCode(rel: string = release()): number {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(rel);
  if (!m) return 0;
  return (Number(m[1]) << 16) | (Number(m[2]) << 8) | Math.min(Number(m[3] ?? 0), 255);
}

let cachedConfig: ReadonlyMap<string, string> | undefined;

/** The running kernel's config as CONFIG_X -> raw value text; empty when none is readable. */
export function kernelConfig(): ReadonlyMap<string, string> {
  if (cachedConfig) return cachedConfig;
  let text = "";
  try {
    text = gunzipSync(readFileSync("/proc/config.gz")).toString("utf8");
  } catch {
    try {
      text = readFileSync(`/boot/config-${release()}`, "utf8");
    } catch {
      text = "";
    }
  }
  cachedConfig = parseKernelConfig(text);
  return cachedConfig;
}

export function parseKernelConfig(text: string): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

function writeInt(buf: Uint8Array, off: number, size: number, v: bigint, le: boolean): void {
  let x = BigInt.asUintN(size * 8, v);
  for (let i = 0; i < size; i++) {
    buf[le ? off + i : off + size - 1 - i] = Number(x & 0xffn);
    x >>= 8n;
  }
}

let syscallWrapper: boolean | undefined;
/** Whether syscalls enter through arch wrappers (`__x64_sys_bpf` and the like), as libbpf checks. */
function hasSyscallWrapper(): boolean {
  if (syscallWrapper === undefined) {
    try {
      syscallWrapper = /^\S+ [tT] __(x64|ia32|arm64|s390x|s390|riscv|powerpc)_sys_bpf$/m.test(
        readFileSync("/proc/kallsyms", "utf8"),
      );
    } catch {
      syscallWrapper = false;
    }
  }
  return syscallWrapper;
}

/** Write every kconfig extern's value into the `.kconfig` map's initial bytes. */
export function fillKconfig(
  btf: Btf,
  externs: readonly ExternSpec[],
  data: Uint8Array,
  config: ReadonlyMap<string, string> = kernelConfig(),
  rel: string = release(),
): void {
  const le = btf.byteOrder === "le";
  for (const ext of externs) {
    if (ext.kind !== "kconfig" || ext.offset < 0) continue;
    const t = btf.typeById(btf.resolve(ext.btfTypeId));
    let value: string | undefined;
    if (ext.name === "LINUX_KERNEL_VERSION") value = String(kernelVersionCode(rel));
    // libbpf's two feature externs: bool (or int) answers about this kernel, like a tristate
    else if (ext.name === "LINUX_HAS_BPF_COOKIE")
      value = "y"; // bpf_get_attach_cookie: 5.15+, older loads fail anyway
    else if (ext.name === "LINUX_HAS_SYSCALL_WRAPPER") value = hasSyscallWrapper() ? "y" : "n";
    else if (ext.name.startsWith("CONFIG_")) value = config.get(ext.name);
    if (value === undefined) {
      if (ext.weak) continue;
      throw new LoaderError("E_KCONFIG", `extern (kcfg) '${ext.name}': value not found in the kernel config`);
    }
    const tri = value === "y" ? 1n : value === "m" ? 2n : value === "n" ? 0n : undefined;
    if (t.kind === "ARRAY") {
      const s = value.replace(/^"(.*)"$/, "$1");
      const bytes = new TextEncoder().encode(s);
      data.set(bytes.subarray(0, Math.max(0, ext.size - 1)), ext.offset);
      continue;
    }
    if (t.kind === "INT" && t.size === 1 && (t.encoding & 2) !== 0 && tri !== undefined) {
      data[ext.offset] = value.charCodeAt(0);
      continue;
    }
    let n: bigint;
    if (tri !== undefined) n = tri;
    else {
      try {
        n = BigInt(value);
      } catch {
        throw new LoaderError("E_KCONFIG", `extern (kcfg) '${ext.name}': value '${value}' is not a number`);
      }
    }
    if (t.kind === "INT" && (t.encoding & 4) !== 0 && tri === undefined)
      throw new LoaderError("E_KCONFIG", `extern (kcfg) '${ext.name}': value '${value}' is not a bool`);
    writeInt(data, ext.offset, ext.size, n, le);
  }
}
