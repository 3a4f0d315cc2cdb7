/**
 * `tsbpf load <obj>`: load an object into the running kernel, optionally attach its programs
 * for a while (Ctrl-C stops early), then print its maps decoded through BTF, detach and close.
 * Maps keyed by syscall number (a map named *syscall*) print the x86_64 syscall names, sorted by
 * count: that is the syscall-count example's output.
 */
import type { Command } from "commander";
import { openObject } from "../../elf/object/open.js";
import { UsageError } from "../../errors.js";
import { type AttachOptions, attachProgram, ensureBpffs, type Link } from "../../loader/attach.js";
import { MapType } from "../../loader/consts.js";
import { BpfSyscallError } from "../../loader/errors.js";
import { formatVerifyReport, verifyWithKernel } from "../../loader/kernel-verify.js";
import { loadObject, ProgramLoadError } from "../../loader/object.js";
import type { LiveMap } from "../../loader/object-map.js";
import { syscallName } from "../../loader/syscalls-x86_64.js";
import { type BtfValue, formatValue, toJsonValue } from "../../loader/values.js";
import { type CliIo, ExitCode } from "../io.js";

export interface LoadCliOptions {
  program?: string[];
  set?: string[];
  maxEntries?: string[];
  attach?: boolean;
  duration?: string;
  pin?: string;
  dumpMaps?: boolean;
  format?: string;
  interface?: string;
  direction?: string;
  cgroup?: string;
  pid?: string;
  btf?: string;
  logLevel?: string;
}

/** EPERM from bpf() at the CLI: say what is needed, in one line. */
export async function withPermissionHint<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof BpfSyscallError && e.errnoName === "EPERM")
      throw new UsageError(
        "E_PERM",
        `${e.command}: permission denied (EPERM): this needs root (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN)`,
      );
    throw e;
  }
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

function parseAssignments(list: readonly string[] | undefined, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of list ?? []) {
    const i = a.indexOf("=");
    if (i <= 0) throw new UsageError("E_USAGE", `${what} '${a}' must be NAME=VALUE`);
    out[a.slice(0, i)] = a.slice(i + 1);
  }
  return out;
}

const NOT_DUMPABLE: ReadonlySet<number> = new Set([
  MapType.RINGBUF,
  MapType.USER_RINGBUF,
  MapType.PERF_EVENT_ARRAY,
  MapType.QUEUE,
  MapType.STACK,
  MapType.BLOOM_FILTER,
  MapType.STRUCT_OPS,
]);

export interface MapDump {
  readonly name: string;
  readonly type: string;
  readonly entries?: readonly { key: BtfValue; value: BtfValue; syscall?: string }[];
  readonly note?: string;
}

function numeric(v: BtfValue): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (Array.isArray(v) && v.every((x) => typeof x === "number" || typeof x === "bigint"))
    return v.reduce<number>((a, x) => a + Number(x), 0);
  return undefined;
}

/** A map's entries (syscall-keyed maps named and sorted by count, largest first). */
export function dumpMap(m: LiveMap, typeName: string): MapDump {
  if (NOT_DUMPABLE.has(m.type)) return { name: m.name, type: typeName, note: "not dumpable (no keys)" };
  const entries: { key: BtfValue; value: BtfValue; syscall?: string }[] = [];
  for (const [key, value] of m.entries()) entries.push({ key, value });
  if (/syscall/i.test(m.name) && entries.every((e) => typeof e.key === "number")) {
    for (const e of entries) e.syscall = syscallName(e.key as number);
    entries.sort((a, b) => (numeric(b.value) ?? 0) - (numeric(a.value) ?? 0));
  }
  return { name: m.name, type: typeName, entries };
}

export function formatMapDump(d: MapDump, limit?: number): string {
  if (d.note) return `map ${d.name} (${d.type}): ${d.note}\n`;
  const entries = d.entries ?? [];
  const shown = limit !== undefined ? entries.slice(0, limit) : entries;
  const lines = [`map ${d.name} (${d.type}, ${entries.length} entries)`];
  if (shown.some((e) => e.syscall !== undefined)) {
    const w = Math.max(7, ...shown.map((e) => (e.syscall ?? "").length));
    lines.push(`  ${"syscall".padEnd(w)}  ${"nr".padStart(4)}  count`);
    for (const e of shown)
      lines.push(`  ${(e.syscall ?? "").padEnd(w)}  ${String(e.key).padStart(4)}  ${formatValue(e.value)}`);
  } else {
    for (const e of shown) lines.push(`  ${formatValue(e.key)}: ${formatValue(e.value)}`);
  }
  if (shown.length < entries.length) lines.push(`  ... ${entries.length - shown.length} more`);
  return `${lines.join("\n")}\n`;
}

function waitFor(seconds: number | undefined): Promise<"timeout" | "interrupted"> {
  return new Promise((resolve) => {
    // Signal listeners do not keep the event loop alive: a timer does, until we are done.
    const keepAlive = setInterval(() => {}, 1 << 30);
    const finish = (why: "timeout" | "interrupted"): void => {
      clearInterval(keepAlive);
      if (timer) clearTimeout(timer);
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      resolve(why);
    };
    const onSignal = (): void => finish("interrupted");
    const timer = seconds !== undefined ? setTimeout(() => finish("timeout"), seconds * 1000) : undefined;
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
  });
}

export async function runLoad(path: string, o: LoadCliOptions, io: CliIo): Promise<void> {
  const format = o.format ?? "text";
  if (format !== "text" && format !== "json")
    throw new UsageError("E_USAGE", `--format must be text or json, not '${format}'`);
  const duration = o.duration !== undefined ? Number(o.duration) : undefined;
  if (duration !== undefined && !(duration >= 0))
    throw new UsageError("E_USAGE", `--duration '${o.duration}' is not a number of seconds`);
  const maxEntries: Record<string, number> = {};
  for (const [k, v] of Object.entries(parseAssignments(o.maxEntries, "--max-entries"))) {
    if (!/^\d+$/.test(v)) throw new UsageError("E_USAGE", `--max-entries ${k}=${v}: not a number`);
    maxEntries[k] = Number(v);
  }
  const spec = await openObject(path);
  for (const p of o.program ?? []) spec.program(p);

  let obj: Awaited<ReturnType<typeof loadObject>>;
  try {
    obj = await loadObject(spec, {
      programs: o.program,
      set: parseAssignments(o.set, "--set"),
      maxEntries,
      targetBtf: o.btf,
      logLevel: o.logLevel !== undefined ? Number(o.logLevel) : undefined,
    });
  } catch (e) {
    if (e instanceof ProgramLoadError && e.log) {
      io.stderr(`tsbpf: ${e.message}\n`);
      const tail = e.log.trimEnd().split("\n").slice(-15);
      io.stderr(`${tail.map((l) => `  | ${l}`).join("\n")}\n`);
      io.exitCode = ExitCode.Failed;
      return;
    }
    throw e;
  }
  const links: Link[] = [];
  try {
    for (const w of obj.warnings) io.stderr(`tsbpf: warning: ${w}\n`);
    if (o.pin) {
      ensureBpffs(o.pin);
      obj.pin(o.pin);
    }
    if (o.direction !== undefined && o.direction !== "ingress" && o.direction !== "egress")
      throw new UsageError("E_USAGE", `--direction must be ingress or egress, not '${o.direction}'`);
    if (o.pid !== undefined && !/^\d+$/.test(o.pid))
      throw new UsageError("E_USAGE", `--pid '${o.pid}' is not a process id`);
    const attachOpts: AttachOptions = {
      interface: o.interface,
      cgroup: o.cgroup,
      direction: o.direction as "ingress" | "egress" | undefined,
      pid: o.pid !== undefined ? Number(o.pid) : undefined,
    };
    if (o.attach) {
      for (const p of obj.programs.values()) links.push(attachProgram(p, attachOpts));
    }
    if (format === "text") {
      io.stdout(
        `loaded ${spec.file ?? spec.name}: ${[...obj.programs.values()].map((p) => `${p.name} (${p.section})`).join(", ") || "no programs"}\n`,
      );
      for (const l of links) io.stdout(`attached ${l.description}\n`);
    }
    let stopped: string | undefined;
    if (o.attach && (duration === undefined || duration > 0)) {
      if (format === "text")
        io.stderr(
          duration !== undefined ? `running for ${duration} s (Ctrl-C stops)\n` : "running until Ctrl-C\n",
        );
      stopped = await waitFor(duration);
    }
    for (const l of links.splice(0)) l.close();
    const showMaps = o.dumpMaps || o.attach;
    const typeName = (m: LiveMap): string =>
      spec.maps.find((s) => s.name === m.name)?.typeName ?? String(m.type);
    const dumps = showMaps ? [...obj.maps.values()].map((m) => dumpMap(m, typeName(m))) : [];
    if (format === "json") {
      io.stdout(
        `${JSON.stringify(
          {
            file: spec.file ?? spec.name,
            programs: [...obj.programs.values()].map((p) => ({
              name: p.name,
              section: p.section,
              type: p.spec.type.name,
            })),
            ...(stopped ? { stopped } : {}),
            ...(showMaps
              ? {
                  maps: dumps.map((d) => ({
                    name: d.name,
                    type: d.type,
                    ...(d.note ? { note: d.note } : {}),
                    ...(d.entries
                      ? {
                          entries: d.entries.map((e) => ({
                            key: toJsonValue(e.key),
                            value: toJsonValue(e.value),
                            ...(e.syscall ? { syscall: e.syscall } : {}),
                          })),
                        }
                      : {}),
                  })),
                }
              : {}),
          },
          null,
          2,
        )}\n`,
      );
    } else {
      for (const d of dumps) io.stdout(formatMapDump(d, d.entries?.some((e) => e.syscall) ? 20 : undefined));
    }
  } finally {
    for (const l of links) l.close();
    obj.close();
  }
}

export function registerLoad(program: Command, io: CliIo): void {
  program
    .command("load")
    .description("load an object into the running kernel, optionally attach it, then print its maps")
    .argument("<obj>", "BPF object file")
    .option("--program <name>", "load only this program (repeatable)", collect)
    .option("--set <var=value>", "set a global variable before load (repeatable)", collect)
    .option("--max-entries <map=n>", "change a map's max_entries before load (repeatable)", collect)
    .option("--attach", "attach every loaded program as its section says")
    .option("--duration <seconds>", "with --attach: run this long (default: until Ctrl-C)")
    .option("--pin <dir>", "pin maps and programs under this bpffs directory")
    .option("--dump-maps", "print the maps after loading")
    .option("--interface <name>", "XDP/tc programs: the interface to attach to")
    .option("--direction <dir>", "tc programs without a direction in the section: ingress or egress")
    .option("--cgroup <dir>", "cgroup programs: the cgroup directory")
    .option("--pid <pid>", "uprobes: only this process")
    .option("--btf <file>", "CO-RE target BTF (default /sys/kernel/btf/vmlinux)")
    .option("--log-level <n>", "verifier log level")
    .option("--format <format>", "text or json", "text")
    .action(async (path: string, o: LoadCliOptions) => {
      await withPermissionHint(() => runLoad(path, o, io));
    });
}

export interface VerifyKernelCliOptions {
  readonly program?: readonly string[];
  readonly format?: string;
  readonly logLevel?: string | number;
  readonly btf?: string;
  /** Load as an unprivileged user (nobody, no capabilities) from a child process. */
  readonly unprivileged?: boolean;
}

/**
 * `tsbpf verify <obj>... --kernel`: the whole command behaviour, for verify.ts to call.
 * JSON: one report per file (an array when several files are given); exit 0 when every program
 * is accepted, 1 when any is rejected, 2 on bad input (thrown as UsageError).
 */
export async function runVerifyKernel(
  paths: readonly string[],
  o: VerifyKernelCliOptions,
  io: CliIo,
): Promise<void> {
  const format = o.format ?? "text";
  if (format !== "text" && format !== "json")
    throw new UsageError("E_USAGE", `--format must be text or json, not '${format}'`);
  const level = o.logLevel === undefined ? 0 : Number(o.logLevel);
  if (![0, 1, 2].includes(level))
    throw new UsageError("E_USAGE", `--log-level must be 0, 1 or 2, not '${o.logLevel}'`);
  if (paths.length === 0) throw new UsageError("E_USAGE", "verify needs at least one object file");
  const specs = [];
  for (const p of paths) {
    const spec = await openObject(p);
    for (const name of o.program ?? []) spec.program(name);
    specs.push(spec);
  }
  const reports = [];
  for (const spec of specs) {
    reports.push(
      await withPermissionHint(() =>
        verifyWithKernel(spec, {
          programs: o.program,
          logLevel: level,
          targetBtf: o.btf,
          ...(o.unprivileged ? { unprivileged: true } : {}),
        }),
      ),
    );
  }
  if (format === "json")
    io.stdout(`${JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2)}\n`);
  else io.stdout(reports.map(formatVerifyReport).join(""));
  io.exitCode = reports.some((r) => r.programs.some((p) => p.verdict === "reject"))
    ? ExitCode.Failed
    : ExitCode.Ok;
}
