/**
 * The target BTF CO-RE relocates for: a file the caller names (raw BTF such as
 * /sys/kernel/btf/vmlinux or a saved copy, or an ELF with a .BTF section), else the running
 * kernel's /sys/kernel/btf/vmlinux.
 */

import { createHash } from "node:crypto";
import { access, readFile } from "node:fs/promises";
import { BtfError } from "../../errors.js";
import type { Btf } from "../btf/btf.js";
import { btfFromBytes } from "../btf/load.js";
import { CORE_ERROR } from "./btf-access.js";

export const KERNEL_BTF_PATH = "/sys/kernel/btf/vmlinux";

export interface TargetBtf {
  readonly btf: Btf;
  /** Where it came from. */
  readonly path: string;
  /** SHA-256 of the file's bytes, hex (tells one kernel's BTF from another's). */
  readonly sha256: string;
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
  return { btf, path: file, sha256: createHash("sha256").update(view).digest("hex") };
}
