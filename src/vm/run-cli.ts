/**
 * `tsbpf run` without --kernel: the program runs in the simulator. Prints
 * {"retval", "packetOut"?, "maps"?, "printk"?, "insnsExecuted", "durationNs"} (the fields
 * `run --kernel` shares come first); a VM fault prints the fault with its source line on stderr
 * and exits 1. `--ctx` takes JSON (named context fields, or an argument list for raw
 * tracepoints) or hex bytes.
 *
 * src/cli/commands/run.ts calls `runOfflineCli` when --kernel is absent (or plugs
 * `offlineRunner` into its OfflineRunner hook).
 */
import { openObject } from "../elf/object/open.js";
import type { ObjectSpec } from "../elf/object/types.js";
import { UsageError } from "../errors.js";
import type { BtfValue } from "../loader/values.js";
import type { CtxInput } from "./context.js";
import { VmFault } from "./errors.js";
import { type SimRunResult, type Simulation, simulate } from "./simulate.js";

export interface OfflineRunOptions {
  readonly program?: string;
  /** Packet as hex. */
  readonly packet?: string;
  /** Context as JSON or hex. */
  readonly ctx?: string;
  readonly repeat?: string | number;
  /** Target BTF file for CO-RE. */
  readonly btf?: string;
  readonly format?: string;
  /** Instruction budget. */
  readonly budget?: string | number;
  /** "interp" (default) or "jit". */
  readonly engine?: string;
}

/** The streams and exit status a command reports through (src/cli/io.ts's CliIo). */
export interface OfflineIo {
  stdout(text: string): void;
  stderr(text: string): void;
  exitCode?: 0 | 1 | 2;
}

const MAP_TYPES_NOT_LISTED = new Set(["perf_event_array", "ringbuf", "prog_array", "queue", "stack"]);

function hexBytes(text: string, what: string): Uint8Array {
  const clean = text.replace(/^0x/i, "").replace(/[\s:]/g, "");
  if (clean.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(clean)) {
    throw new UsageError("E_USAGE", `${what} must be hex bytes (e.g. 0a0b0c), got '${text}'`);
  }
  return Uint8Array.from(Buffer.from(clean, "hex"));
}

/** --ctx: JSON when it parses as an object or array, else hex bytes. */
export function parseCtx(text: string): CtxInput {
  const t = text.trim();
  if (t.startsWith("{") || t.startsWith("[")) {
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch (e) {
      throw new UsageError("E_USAGE", `--ctx is not valid JSON: ${(e as Error).message}`);
    }
    return v as CtxInput;
  }
  return hexBytes(t, "--ctx");
}

function intArg(v: string | number | undefined, what: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new UsageError("E_USAGE", `${what} '${v}' must be a positive integer`);
  return n;
}

/** JSON-safe form of a decoded value: bigints as numbers when exact, else strings; bytes as hex. */
export function jsonValue(v: unknown): unknown {
  if (typeof v === "bigint")
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(v)
      : v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
  if (Array.isArray(v)) return v.map(jsonValue);
  if (v && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonValue(x)]));
  return v;
}

function isZero(v: BtfValue): boolean {
  if (typeof v === "number" || typeof v === "bigint") return Number(v) === 0;
  if (typeof v === "boolean") return !v;
  if (typeof v === "string") return v === "";
  if (v instanceof Uint8Array) return v.every((b) => b === 0);
  if (Array.isArray(v)) return v.every(isZero);
  return Object.values(v).every(isZero);
}

/** Map contents after a run: hash-like maps in full, arrays without their all-zero elements. */
export function mapsSnapshot(sim: Simulation): Record<string, [unknown, unknown][]> {
  const out: Record<string, [unknown, unknown][]> = {};
  for (const m of sim.spec.maps) {
    if (MAP_TYPES_NOT_LISTED.has(m.typeName)) continue;
    const view = sim.map(m.name);
    const array = m.typeName.includes("array");
    const entries: [unknown, unknown][] = [];
    for (const [k, v] of view.entries()) {
      if (array && isZero(v)) continue;
      entries.push([jsonValue(k), jsonValue(v)]);
    }
    if (entries.length > 0) out[m.name] = entries;
  }
  return out;
}

export interface OfflineRunReport {
  readonly retval: number;
  readonly packetOut?: string;
  readonly maps?: Record<string, [unknown, unknown][]>;
  readonly printk?: readonly string[];
  readonly insnsExecuted: number;
  readonly durationNs: number;
}

export function reportOf(r: SimRunResult, sim: Simulation): OfflineRunReport {
  const maps = mapsSnapshot(sim);
  return {
    retval: r.retval,
    ...(r.packetOut ? { packetOut: Buffer.from(r.packetOut).toString("hex") } : {}),
    ...(Object.keys(maps).length ? { maps } : {}),
    ...(r.printk.length ? { printk: r.printk } : {}),
    insnsExecuted: r.insnsExecuted,
    durationNs: r.durationNs,
  };
}

export function formatReport(r: OfflineRunReport, format: string): string {
  if (format === "json") return `${JSON.stringify(r)}\n`;
  let s = `retval: ${r.retval}\n`;
  if (r.packetOut !== undefined) s += `packet out: ${r.packetOut}\n`;
  for (const line of r.printk ?? []) s += `printk: ${line}\n`;
  for (const [name, entries] of Object.entries(r.maps ?? {})) {
    s += `map ${name}:\n`;
    for (const [k, v] of entries) s += `  ${JSON.stringify(k)}: ${JSON.stringify(v)}\n`;
  }
  s += `insns executed: ${r.insnsExecuted}\nduration: ${r.durationNs} ns\n`;
  return s;
}

/** A VM fault as the CLI prints it: the message, then the source line when BTF has one. */
export function formatFault(f: VmFault): string {
  let s = `error: ${f.message}\n`;
  if (f.source?.text) s += `  ${f.source.file}:${f.source.line}: ${f.source.text}\n`;
  return s;
}

/** Run one program of an object offline on the given input. */
export function runSpecOffline(
  spec: ObjectSpec,
  o: OfflineRunOptions,
): { sim: Simulation; result: SimRunResult } {
  if (!o.program) throw new UsageError("E_USAGE", "run needs --program NAME");
  if (o.packet !== undefined && o.ctx !== undefined)
    throw new UsageError("E_USAGE", "give --packet or --ctx, not both");
  spec.program(o.program);
  const repeat = intArg(o.repeat, "--repeat", 1);
  const budget = o.budget !== undefined ? intArg(o.budget, "--budget", 1) : undefined;
  if (o.engine !== undefined && o.engine !== "interp" && o.engine !== "jit") {
    throw new UsageError("E_USAGE", `--engine must be interp or jit, not '${o.engine}'`);
  }
  const sim = simulate(spec, {
    ...(o.btf !== undefined ? { btf: o.btf } : {}),
    ...(o.engine !== undefined ? { engine: o.engine } : {}),
  });
  const result = sim.program(o.program).run({
    ...(o.packet !== undefined ? { packet: hexBytes(o.packet, "--packet") } : {}),
    ...(o.ctx !== undefined ? { ctx: parseCtx(o.ctx) } : {}),
    ...(budget !== undefined ? { budget } : {}),
    repeat,
  });
  return { sim, result };
}

/** The whole offline `run` command: parse, run, print; exit status 1 on a VM fault. */
export async function runOfflineCli(path: string, o: OfflineRunOptions, io: OfflineIo): Promise<void> {
  const format = o.format ?? "text";
  if (format !== "text" && format !== "json") {
    throw new UsageError("E_USAGE", `--format must be text or json, not '${format}'`);
  }
  const spec = await openObject(path);
  try {
    const { sim, result } = runSpecOffline(spec, o);
    io.stdout(formatReport(reportOf(result, sim), format));
  } catch (e) {
    if (!(e instanceof VmFault)) throw e;
    if (format === "json") {
      io.stdout(
        `${JSON.stringify({
          error: e.message,
          fault: {
            kind: e.kind,
            insn: e.insn,
            ...(e.address !== undefined ? { address: `0x${e.address.toString(16)}` } : {}),
            ...(e.program !== undefined ? { program: e.program } : {}),
            ...(e.source ? { source: e.source } : {}),
          },
        })}\n`,
      );
    } else io.stderr(formatFault(e));
    io.exitCode = 1;
  }
}

/**
 * The adapter for run.ts's OfflineRunner hook (input already parsed; ctx as bytes): returns the
 * shared fields plus insnsExecuted, printk and maps.
 */
export async function offlineRunner(
  spec: ObjectSpec,
  input: {
    readonly program: string;
    readonly packet?: Uint8Array;
    readonly ctx?: Uint8Array;
    readonly repeat: number;
  },
): Promise<
  { retval: number; packetOut?: Uint8Array; durationNs: number } & Omit<
    OfflineRunReport,
    "retval" | "packetOut" | "durationNs"
  >
> {
  const sim = simulate(spec);
  const r = sim.program(input.program).run({
    ...(input.packet !== undefined ? { packet: input.packet } : {}),
    ...(input.ctx !== undefined ? { ctx: input.ctx } : {}),
    repeat: input.repeat,
  });
  const rep = reportOf(r, sim);
  return {
    retval: r.retval,
    ...(r.packetOut ? { packetOut: r.packetOut } : {}),
    ...(rep.maps ? { maps: rep.maps } : {}),
    ...(rep.printk ? { printk: rep.printk } : {}),
    insnsExecuted: r.insnsExecuted,
    durationNs: r.durationNs,
  };
}
