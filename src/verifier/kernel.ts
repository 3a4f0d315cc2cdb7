/**
 * The oracles: `kernelVerifyAsLoaded` loads one program of an object as `verify --kernel` (and
 * libbpf) would: BTF, func/line info, CO-RE, attach btf_id, maps with BTF. `kernelVerify` is the
 * bare one for synthetic objects without BTF: maps created from their MapSpecs, ld_imm64
 * references patched with map fds and value offsets. Both read the verdict, error line(s),
 * instruction and processed count from the log.
 */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { attachTypeByName, progTypeByName } from "../abi/program-types.js";
import type { MapSpec, ObjectSpec, ProgramSpec } from "../elf/object/types.js";
import type { Instruction } from "../isa/instruction.js";
import { createMap, loadProgram, mapFreeze, mapUpdate } from "../loader/bpf.js";
import { BpfSyscallError } from "../loader/errors.js";
import { type Fd, fdNumber } from "../loader/fd.js";
import { verifyWithKernel } from "../loader/kernel-verify.js";
import { runUnprivileged, withUnprivilegedBpf } from "../loader/unprivileged.js";

const cpus = (): number => {
  try {
    const t = readFileSync("/sys/devices/system/cpu/possible", "utf8").trim();
    const m = /(\d+)$/.exec(t);
    return m ? Number(m[1]) + 1 : availableParallelism();
  } catch {
    return availableParallelism();
  }
};

export interface KernelVerdict {
  readonly verdict: "accept" | "reject";
  /** Errors that are not a verifier verdict (map creation failed, EPERM ...). */
  readonly loadError?: string;
  readonly message?: string;
  readonly insn?: number;
  readonly processedInsns?: number;
  readonly log: string;
}

/** Error lines and instruction of a kernel verifier log (level 1). */
export function parseKernelLog(log: string): { message?: string; insn?: number; processed?: number } {
  // Some kernel messages lack their newline ("expected prog array map for tail call").
  const lines = log.replace(/(\S)(processed \d+ insns)/, "$1\n$2").split("\n");
  const pm = /processed (\d+) insns/.exec(log);
  const processed = pm ? Number(pm[1]) : undefined;
  let end = lines.findIndex((l) => l.startsWith("processed "));
  if (end < 0) end = lines.length;
  let lastInsn = -1;
  let insn: number | undefined;
  for (let k = 0; k < end; k++) {
    const m = /^(\d+): \([0-9a-f]{2}\)/.exec(lines[k]!);
    if (m) {
      lastInsn = k;
      insn = Number(m[1]);
    }
  }
  const msg = lines
    .slice(lastInsn + 1, end)
    .filter(
      (l) =>
        l.trim() !== "" &&
        !/^verification time|^stack depth|^; |^\d+: (frame\d+: )?R\d|^from \d+ to \d+|^\d+: safe|^mark_precise|^(frame\d+: )?R\d+(_w)?=/.test(
          l,
        ),
    );
  return {
    ...(msg.length ? { message: msg.join("\n") } : {}),
    ...(insn !== undefined ? { insn } : {}),
    ...(processed !== undefined ? { processed } : {}),
  };
}

export function kernelVerify(obj: ObjectSpec, prog: ProgramSpec, logLevel = 1): KernelVerdict {
  const fds = new Map<string, Fd>();
  try {
    for (const m of obj.maps) {
      if (m.inner) return { verdict: "reject", loadError: "map-in-map not supported by the oracle", log: "" };
      const fd = createMap({
        type: m.type,
        keySize: m.keySize,
        valueSize: m.valueSize,
        // libbpf sizes a perf event array with max_entries 0 to the number of possible CPUs
        maxEntries: m.maxEntries === 0 && m.type === 4 ? cpus() : m.maxEntries,
        flags: m.flags,
        name: m.name,
      });
      fds.set(m.name, fd);
      if (m.data) {
        const key = new Uint8Array(4);
        mapUpdate(fd, key, m.data);
      }
      if (m.readonly) mapFreeze(fd);
    }
    const insns: Instruction[] = prog.insns.map((i) => {
      const r = i.ref;
      if (!r || i.opcode !== 0x18) return i;
      if (r.kind === "map")
        return { ...i, src: 1, imm: fdNumber(fds.get(r.map)!), wide: { ...i.wide!, imm: 0 } };
      if (r.kind === "mapValue") {
        return { ...i, src: 2, imm: fdNumber(fds.get(r.map)!), wide: { ...i.wide!, imm: r.offset } };
      }
      return i;
    });
    const res = loadProgram({
      type: prog.type.id,
      insns,
      license: prog.license,
      name: prog.name,
      ...(prog.expectedAttachType ? { expectedAttachType: prog.expectedAttachType.id } : {}),
      flags: prog.sleepable ? 1 << 4 : 0,
      logLevel,
      kernVersion: prog.kernelVersion,
    });
    res.fd.close();
    const p = parseKernelLog(res.log);
    return {
      verdict: "accept",
      log: res.log,
      ...(p.processed !== undefined ? { processedInsns: p.processed } : {}),
    };
  } catch (e) {
    if (e instanceof BpfSyscallError && e.command === "BPF_PROG_LOAD" && e.log) {
      const p = parseKernelLog(e.log);
      return {
        verdict: "reject",
        log: e.log,
        ...(p.message !== undefined ? { message: p.message } : {}),
        ...(p.insn !== undefined ? { insn: p.insn } : {}),
        ...(p.processed !== undefined ? { processedInsns: p.processed } : {}),
      };
    }
    return {
      verdict: "reject",
      loadError: e instanceof Error ? e.message.split("\n")[0]! : String(e),
      log: "",
    };
  } finally {
    for (const f of fds.values()) f.close();
  }
}

/** One program judged by the running kernel as `tsbpf verify --kernel` loads it (log level 1). */
export async function kernelVerifyAsLoaded(obj: ObjectSpec, prog: ProgramSpec): Promise<KernelVerdict> {
  try {
    const r = await verifyWithKernel(obj, { programs: [prog.name], logLevel: 1 });
    const p = r.programs[0]!;
    const log = p.log ?? "";
    const parsed = parseKernelLog(log);
    const processedInsns = p.processedInsns ?? parsed.processed;
    const base = { log, ...(processedInsns !== undefined ? { processedInsns } : {}) };
    if (p.verdict === "accept") return { verdict: "accept", ...base };
    // No verifier log: the load failed before the verifier (CO-RE, BTF, attach target...).
    if (!log) return { verdict: "reject", loadError: p.error?.message ?? "load failed", log };
    const insn = parsed.insn ?? p.error?.insn ?? undefined;
    return {
      verdict: "reject",
      ...base,
      ...(parsed.message !== undefined ? { message: parsed.message } : {}),
      ...(insn !== undefined ? { insn } : {}),
    };
  } catch (e) {
    return {
      verdict: "reject",
      loadError: e instanceof Error ? e.message.split("\n")[0]! : String(e),
      log: "",
    };
  }
}

/**
 * One program for the unprivileged oracle's child process: plain data (instructions with their
 * map references, the maps' specs), rebuilt there into a minimal object for kernelVerify.
 */
export interface RawProgramJob {
  readonly progType: string;
  readonly expectedAttachType?: string;
  readonly license?: string;
  readonly insns: readonly Instruction[];
  readonly maps: readonly MapSpec[];
  readonly logLevel?: number;
}

/** Runs in the unprivileged child: load one raw program, as kernelVerify does. */
export function kernelVerifyJob(job: RawProgramJob): KernelVerdict {
  const type = progTypeByName(job.progType);
  if (!type) throw new Error(`unknown program type ${job.progType}`);
  const attach = job.expectedAttachType ? attachTypeByName(job.expectedAttachType) : undefined;
  const prog = {
    name: "prog",
    section: job.progType,
    type,
    ...(attach ? { expectedAttachType: attach } : {}),
    sleepable: false,
    insns: job.insns,
    funcInfo: [],
    lineInfo: [],
    license: job.license ?? "GPL",
    kernelVersion: 0,
  } as unknown as ProgramSpec;
  const obj = { name: "prog", maps: job.maps, programs: [prog] } as unknown as ObjectSpec;
  return kernelVerify(obj, prog, job.logLevel ?? 1);
}

/** The job that asks the kernel about `prog` of `obj` (its maps, its instructions). */
export function rawJobOf(obj: ObjectSpec, prog: ProgramSpec, logLevel = 1): RawProgramJob {
  return {
    progType: prog.type.name,
    ...(prog.expectedAttachType ? { expectedAttachType: prog.expectedAttachType.name } : {}),
    license: prog.license,
    insns: prog.insns,
    maps: obj.maps,
    logLevel,
  };
}

/**
 * The kernel's verdicts as an unprivileged loader (nobody, no capabilities) on many raw programs,
 * in one child process, with kernel.unprivileged_bpf_disabled=0 for the run (root only).
 */
export async function kernelVerifyUnprivileged(jobs: readonly RawProgramJob[]): Promise<KernelVerdict[]> {
  const results = await withUnprivilegedBpf(() => runUnprivileged(import.meta.url, "kernelVerifyJob", jobs));
  return results.map((r) => {
    if (!r.ok) return { verdict: "reject", loadError: r.error, log: "" };
    return r.value as KernelVerdict;
  });
}
