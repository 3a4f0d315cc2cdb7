/**
 * The kernel BTF the offline verifier judges BTF-typed programs with (tp_btf/fentry/lsm contexts,
 * PTR_TO_BTF_ID walks, kfunc prototypes, CO-RE): a file the caller names, else the running
 * kernel's /sys/kernel/btf/vmlinux, else the 6.18 BTF shipped with the package
 * (data/vmlinux-6.18.btf.gz), so verification works on machines without BTF. Parsed once per
 * path per process: a vmlinux BTF is megabytes and every program of a run shares it.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import type { Btf } from "../elf/btf/btf.js";
import { btfFromBytes } from "../elf/btf/load.js";
import { BtfError } from "../errors.js";

export const KERNEL_BTF_DEFAULT = "/sys/kernel/btf/vmlinux";

/** The shipped copy: src/verifier and dist/verifier both sit two levels below the package root. */
export const SHIPPED_KERNEL_BTF: string = fileURLToPath(
  new URL("../../data/vmlinux-6.18.btf.gz", import.meta.url),
);

export interface KernelBtf {
  readonly btf: Btf;
  /** The file it was read from. */
  readonly path: string;
  /** True when it is the shipped 6.18 copy (no BTF at the default path). */
  readonly shipped: boolean;
}

const cache = new Map<string, KernelBtf>();

function readBtf(path: string, shipped: boolean): KernelBtf {
  const hit = cache.get(path);
  if (hit) return hit;
  let bytes: Uint8Array;
  try {
    const raw = readFileSync(path);
    bytes = path.endsWith(".gz") ? gunzipSync(raw) : raw;
  } catch (e) {
    throw new BtfError("BTF_READ", `cannot read kernel BTF ${path}: ${(e as Error).message}`);
  }
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const kb: KernelBtf = { btf: btfFromBytes(view, { file: path }), path, shipped };
  cache.set(path, kb);
  return kb;
}

/**
 * The kernel BTF for `opt`: a Btf as is, a path (raw BTF, gzip'd raw BTF, or an ELF with .BTF),
 * or nothing: the running kernel's (`defaultPath`), falling back to the shipped 6.18 copy.
 */
export function kernelBtf(opt?: string | Btf, defaultPath: string = KERNEL_BTF_DEFAULT): KernelBtf {
  if (opt !== undefined && typeof opt !== "string") return { btf: opt, path: "<given>", shipped: false };
  // every lookup after the first is a cache hit without a filesystem call (this runs several
  // times per verified program)
  if (opt !== undefined) {
    const hit = cache.get(opt);
    if (hit) return hit;
    if (!existsSync(opt)) throw new BtfError("BTF_READ", `kernel BTF ${opt} does not exist`);
    return readBtf(opt, false);
  }
  let kb = byDefault.get(defaultPath);
  if (!kb) {
    kb = existsSync(defaultPath) ? readBtf(defaultPath, false) : shippedKernelBtf();
    byDefault.set(defaultPath, kb);
  }
  return kb;
}

/** The BTF chosen for each default path (the running kernel's, or the shipped copy without it). */
const byDefault = new Map<string, KernelBtf>();

/** The 6.18 BTF shipped with tsbpf. */
export function shippedKernelBtf(): KernelBtf {
  return readBtf(SHIPPED_KERNEL_BTF, true);
}
