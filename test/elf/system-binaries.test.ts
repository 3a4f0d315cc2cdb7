/**
 * Live differential test on this machine's own binaries (large, versioned, RELA-heavy: libc,
 * libbpf, bpftool...): readElf against llvm-readobj-19 run now. Skips with a reason when
 * llvm-readobj-19 or the files are missing; the committed goldens cover the rest.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { describe, it } from "vitest";
import { readElf } from "../../src/elf/index.js";
import { compareWithReadobj } from "./compare.js";
import { parseReadobjJson } from "./goldens.js";

const READOBJ = "llvm-readobj-19";
const CANDIDATES = [
  "/usr/lib/x86_64-linux-gnu/libc.so.6",
  "/usr/lib/x86_64-linux-gnu/libbpf.so.1",
  "/usr/lib/x86_64-linux-gnu/libz.so.1",
  "/usr/sbin/bpftool",
  "/usr/bin/ls",
  "/usr/lib/x86_64-linux-gnu/crt1.o",
];

function readobjAvailable(): boolean {
  try {
    execFileSync(READOBJ, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const haveReadobj = readobjAvailable();
const files = CANDIDATES.filter((f) => existsSync(f));
if (!haveReadobj) console.warn(`system-binaries: skipped, ${READOBJ} not found`);
if (files.length === 0) console.warn("system-binaries: skipped, none of the candidate files exist");

describe.skipIf(!haveReadobj || files.length === 0)(
  "readElf against llvm-readobj-19 on system binaries",
  () => {
    it.each(files)("%s", (file) => {
      const json = execFileSync(
        READOBJ,
        [
          "--elf-output-style=JSON",
          "--file-header",
          "--sections",
          "--symbols",
          "--dyn-syms",
          "--relocations",
          "--program-headers",
          file,
        ],
        { encoding: "utf8", maxBuffer: 512 * 1024 * 1024 },
      );
      compareWithReadobj(readElf(readFileSync(file), { file }), parseReadobjJson(json));
    });
  },
);
