/**
 * BTF from a file's bytes: a raw BTF blob (as in /sys/kernel/btf/) or an ELF object's `.BTF`
 * section, told apart by their magic numbers, as libbpf's btf__parse does.
 */
import { readFile } from "node:fs/promises";
import { BtfError } from "../../errors.js";
import { readElf } from "../reader.js";
import type { Btf } from "./btf.js";
import { parseBtf } from "./parse.js";
import { BTF_MAGIC } from "./types.js";

export interface LoadBtfOptions {
  /** Base BTF when the blob is split BTF (kernel module BTF on top of vmlinux). */
  readonly base?: Btf;
  /** Path for error messages. */
  readonly file?: string;
}

function isRawBtf(bytes: Uint8Array): boolean {
  if (bytes.length < 2) return false;
  const le = bytes[0] | (bytes[1] << 8);
  const be = (bytes[0] << 8) | bytes[1];
  return le === BTF_MAGIC || be === BTF_MAGIC;
}

function isElf(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46
  );
}

/** Parse raw BTF, or the `.BTF` section of an ELF object. */
export function btfFromBytes(bytes: Uint8Array, opts: LoadBtfOptions = {}): Btf {
  const where = opts.file ? `${opts.file}: ` : "";
  if (isRawBtf(bytes)) return withFile(opts.file, () => parseBtf(bytes, { base: opts.base }));
  if (isElf(bytes)) {
    const elf = readElf(bytes, { file: opts.file });
    const sec = elf.section(".BTF");
    if (!sec) throw new BtfError("BTF_NO_SECTION", `${where}no .BTF section`);
    // libbpf takes the pointer size from the ELF class; readElf only accepts ELF64.
    return withFile(opts.file, () => parseBtf(sec.data, { base: opts.base, pointerSize: 8 }));
  }
  throw new BtfError("BTF_BAD_MAGIC", `${where}neither raw BTF nor an ELF object`);
}

function withFile(file: string | undefined, fn: () => Btf): Btf {
  try {
    return fn();
  } catch (e) {
    if (file && e instanceof BtfError) {
      const err = new BtfError(e.code, `${file}: ${e.message}`);
      Object.defineProperty(err, "typeId", { value: e.typeId });
      throw err;
    }
    throw e;
  }
}

export async function loadBtfFile(path: string, opts: Omit<LoadBtfOptions, "file"> = {}): Promise<Btf> {
  const bytes = await readFile(path);
  return btfFromBytes(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
    ...opts,
    file: path,
  });
}
