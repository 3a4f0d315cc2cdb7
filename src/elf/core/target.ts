/**
 * The target BTF CO-RE relocates for: a file the caller names (raw BTF such as
 * /sys/kernel/btf/vmlinux or a saved copy, or an ELF with a .BTF section), else the running
 * kernel's /sys/kernel/btf/vmlinux.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { access, readFile } from "node:fs/promises";
import { join } from "node:path";
import { BtfError } from "../../errors.js";
import type { Btf } from "../btf/btf.js";
import { btfFromBytes } from "../btf/load.js";
import { CORE_ERROR } from "./btf-access.js";
import type { ModuleBtf } from "./resolve.js";

export const KERNEL_BTF_PATH = "/sys/kernel/btf/vmlinux";
const KERNEL_BTF_DIR = "/sys/kernel/btf";

export interface TargetBtf {
  readonly btf: Btf;
  /** Where it came from. */
  readonly path: string;
  /** SHA-256 of the file's bytes, hex (tells one kernel's BTF from another's). */
  readonly sha256: string;
  /**
   * For the running kernel only: its modules' BTF (/sys/kernel/btf/<module>, split on vmlinux),
   * read when first asked for. libbpf searches them when vmlinux has no candidate, and not at
   * all when the target BTF is a file the caller chose; so do we.
   */
  readonly modules?: () => readonly ModuleBtf[];
}

/** The running kernel's module BTFs on top of `base`; unreadable ones are skipped. */
export function loadKernelModuleBtfs(base: Btf, dir: string = KERNEL_BTF_DIR): ModuleBtf[] {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => n !== "vmlinux")
      .sort();
  } catch {
    return [];
  }
  const out: ModuleBtf[] = [];
  for (const name of names) {
    try {
      const bytes = readFileSync(join(dir, name));
      const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      out.push({ name, btf: btfFromBytes(view, { base, file: join(dir, name) }) });
    } catch (e) {
      // A module unloaded while we read, or BTF we cannot parse: libbpf skips vanished ones too.
      if (!(e instanceof BtfError) && (e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }
  return out;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Load the target BTF from `path`, or from /sys/kernel/btf/vmlinux when no path is given. */
export async function loadTargetBtf(path?: string): Promise<TargetBtf> {
  const file = path ?? KERNEL_BTF_PATH;
  if (!(await exists(file))) {
    const why =
      path === undefined
        ? `no target BTF: ${KERNEL_BTF_PATH} does not exist (kernel built without CONFIG_DEBUG_INFO_BTF?); give one with --btf FILE`
        : `no target BTF: ${path} does not exist`;
    throw new BtfError(CORE_ERROR.NO_TARGET_BTF, why);
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new BtfError(CORE_ERROR.NO_TARGET_BTF, `cannot read target BTF ${file}: ${(e as Error).message}`);
  }
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const btf = btfFromBytes(view, { file });
  const sha256 = createHash("sha256").update(view).digest("hex");
  if (path !== undefined) return { btf, path: file, sha256 };
  let mods: ModuleBtf[] | undefined;
  const modules = (): readonly ModuleBtf[] => {
    mods ??= loadKernelModuleBtfs(btf);
    return mods;
  };
  return { btf, path: file, sha256, modules };
}
