/**
 * Running bpf() work as an unprivileged user, for the unprivileged verifier oracle: a child
 * process started through setpriv(1) as nobody (uid/gid 65534, no groups, no capabilities in any
 * set) imports a module and calls one of its exported functions on each job, answering in JSON.
 * The kernel only lets such a process load programs while kernel.unprivileged_bpf_disabled is 0;
 * withUnprivilegedBpf() sets it for the duration of a run and puts the old value back, also on
 * failure. It never writes 1 (that value cannot be undone until reboot).
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { UsageError } from "../errors.js";

const SYSCTL = "/proc/sys/kernel/unprivileged_bpf_disabled";
const NOBODY = 65534;

/** Why the unprivileged oracle cannot run here, or undefined when it can. */
export function unprivilegedOracleUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "not root (setting the sysctl and dropping privileges needs root)";
  if (!existsSync(SYSCTL)) return `${SYSCTL} is missing`;
  const v = readSysctl();
  if (v === 1) return "kernel.unprivileged_bpf_disabled is 1 (cannot be changed until reboot)";
  const setpriv = ["/usr/bin/setpriv", "/bin/setpriv", "/usr/sbin/setpriv"].find((p) => existsSync(p));
  if (!setpriv) return "setpriv(1) is not installed";
  return undefined;
}

function readSysctl(): number {
  return Number(readFileSync(SYSCTL, "utf8").trim());
}

let holders = 0;
let saved: number | undefined;

/**
 * Run `fn` with kernel.unprivileged_bpf_disabled = 0, restoring the previous value afterwards
 * (nested and concurrent calls in one process share one change).
 */
export async function withUnprivilegedBpf<T>(fn: () => Promise<T>): Promise<T> {
  if (holders === 0) {
    const old = readSysctl();
    if (old === 1) {
      throw new UsageError(
        "E_PERM",
        "kernel.unprivileged_bpf_disabled is 1: unprivileged BPF is disabled until reboot",
      );
    }
    if (old !== 0) {
      writeFileSync(SYSCTL, "0\n");
      saved = old;
    } else saved = undefined;
  }
  holders++;
  try {
    return await fn();
  } finally {
    holders--;
    if (holders === 0 && saved !== undefined) {
      // never 1: only a value we read (0 or 2) goes back
      writeFileSync(SYSCTL, `${saved}\n`);
      saved = undefined;
    }
  }
}

/** JSON with bigints (as {"$bigint": "123"}) and Uint8Arrays (as {"$bytes": base64}). */
export function toWire(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === "bigint") return { $bigint: x.toString() };
    if (x instanceof Uint8Array) return { $bytes: Buffer.from(x).toString("base64") };
    return x;
  });
}

export function fromWire(s: string): unknown {
  return JSON.parse(s, (_k, x: unknown) => {
    if (x && typeof x === "object" && !Array.isArray(x)) {
      const o = x as Record<string, unknown>;
      if (typeof o.$bigint === "string" && Object.keys(o).length === 1) return BigInt(o.$bigint);
      if (typeof o.$bytes === "string" && Object.keys(o).length === 1)
        return new Uint8Array(Buffer.from(o.$bytes, "base64"));
    }
    return x;
  });
}

/** The request a child reads on stdin. */
export interface ChildRequest {
  /** file: URL of the module to import. */
  readonly module: string;
  /** Exported async or sync function called once per job. */
  readonly fn: string;
  readonly jobs: readonly unknown[];
}

/** A job's outcome: its value, or the error the function threw. */
export type ChildResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: string };

/**
 * Call `fn` of `moduleUrl` on each job in one child process running as nobody without
 * capabilities (the caller must hold withUnprivilegedBpf for bpf() to be allowed there).
 */
export async function runUnprivileged(
  moduleUrl: string,
  fn: string,
  jobs: readonly unknown[],
): Promise<ChildResult[]> {
  const why = unprivilegedOracleUnavailable();
  if (why) throw new UsageError("E_PERM", `unprivileged oracle unavailable: ${why}`);
  const self = fileURLToPath(import.meta.url);
  const ts = self.endsWith(".ts");
  const child = self.replace(/unprivileged\.(ts|js)$/, `unprivileged-child.$1`);
  const nodeArgs: string[] = [];
  if (ts) {
    // running from source (tests, tsx): the child needs the same TypeScript loader
    const pkg = createRequire(import.meta.url).resolve("tsx/package.json");
    nodeArgs.push("--import", pathToFileURL(pkg.replace(/package\.json$/, "dist/loader.mjs")).href);
  }
  const args = [
    `--reuid=${NOBODY}`,
    `--regid=${NOBODY}`,
    "--clear-groups",
    "--inh-caps=-all",
    "--bounding-set=-all",
    "--no-new-privs",
    process.execPath,
    ...nodeArgs,
    child,
  ];
  const request: ChildRequest = { module: moduleUrl, fn, jobs };
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawn("setpriv", args, {
      stdio: ["pipe", "pipe", "pipe"],
      cwd: "/",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/tmp", TMPDIR: "/tmp" },
    });
    const so: Buffer[] = [];
    const se: Buffer[] = [];
    p.stdout.on("data", (b: Buffer) => so.push(b));
    p.stderr.on("data", (b: Buffer) => se.push(b));
    p.on("error", reject);
    p.on("close", (code) => {
      if (code !== 0)
        reject(
          new Error(`unprivileged child exited ${code}: ${Buffer.concat(se).toString().slice(0, 2000)}`),
        );
      else resolve(Buffer.concat(so).toString());
    });
    p.stdin.end(toWire(request));
  });
  return fromWire(out) as ChildResult[];
}
