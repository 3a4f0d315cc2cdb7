/**
 * `tsbpf load`, `run --kernel`, `prog list`, `map list/dump` against the kernel: the syscall
 * counter names this process's syscalls with their counts, maps print decoded through BTF,
 * bad input (missing file, unknown program, bad --set, unsupported attach, no permission) is one
 * line and exit 2, a verifier rejection exit 1.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { accessSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runVerifyKernel, type VerifyKernelCliOptions } from "../../src/cli/commands/load.js";
import { captureIo } from "../../src/cli/io.js";
import { openObjectSync } from "../../src/elf/object/open.js";
import { loadObject } from "../../src/loader/object.js";
import { probeBpf } from "../../src/loader/probe.js";
import { X86_64_SYSCALLS } from "../../src/loader/syscalls-x86_64.js";
import { runLoaderCli } from "./load-entry.js";

const ROOT = join(import.meta.dirname, "..", "..");
const probe = probeBpf();
if (!probe.ok) console.warn(`SKIP tsbpf load CLI tests: ${probe.reason}`);
const kit = probe.ok ? it : it.skip;

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo();
  const cwd = process.cwd();
  process.chdir(ROOT);
  try {
    const code = await runLoaderCli(["node", "tsbpf", ...args], io);
    return { code, out: io.out, err: io.err };
  } finally {
    process.chdir(cwd);
  }
}

const COUNTER = "examples/syscall-count/syscall_count.bpf.o";

function accessLoop(n: number): void {
  for (let i = 0; i < n; i++) {
    try {
      accessSync("/nonexistent-tsbpf-cli");
    } catch {
      // one syscall each
    }
  }
}

describe("tsbpf load", () => {
  kit(
    "the syscall counter prints syscall names with counts, this process's access() among them",
    async () => {
      setTimeout(() => accessLoop(5000), 300);
      const r = await cli("load", COUNTER, "--attach", "--duration", "1");
      expect(r.code).toBe(0);
      expect(r.out).toContain("attached tracepoint raw_syscalls/sys_enter");
      const rows = r.out
        .split("\n")
        .map((l) => /^ {2}(\w+)\s+(\d+)\s+(\d+)$/.exec(l))
        .filter((m) => m !== null)
        .map((m) => ({ name: m[1]!, nr: Number(m[2]), count: Number(m[3]) }));
      expect(rows.length).toBeGreaterThan(3);
      for (const row of rows) expect(X86_64_SYSCALLS[row.nr]).toBe(row.name);
      // Sorted by count, largest first.
      for (let i = 1; i < rows.length; i++) expect(rows[i]!.count).toBeLessThanOrEqual(rows[i - 1]!.count);
      const access = rows
        .filter((x) => /^(access|faccessat2?)$/.test(x.name))
        .reduce((a, x) => a + x.count, 0);
      expect(access).toBeGreaterThanOrEqual(5000);
    },
  );

  kit("--format json gives entries with syscall names; --set and --dump-maps decode globals", async () => {
    const j = await cli("load", COUNTER, "--attach", "--duration", "0.3", "--format", "json");
    expect(j.code).toBe(0);
    const doc = JSON.parse(j.out) as {
      maps: { name: string; entries: { key: number; value: number; syscall: string }[] }[];
    };
    const m = doc.maps.find((x) => x.name === "syscall_counts")!;
    expect(m.entries.length).toBeGreaterThan(0);
    for (const e of m.entries) expect(e.syscall).toBe(X86_64_SYSCALLS[e.key]);

    const g = await cli(
      "load",
      "test/fixtures/obj/global_data.el.v1.o",
      "--set",
      "target_pid=77",
      "--set",
      "greeting=yo",
      "--dump-maps",
    );
    expect(g.code).toBe(0);
    expect(g.out).toContain('target_pid: 77, verbose: false, greeting: "yo"');
    expect(g.out).toContain("per_family: [1, 2, 3, 4]");
  });

  kit("--pin pins maps and programs under a bpffs directory", async () => {
    const dir = mkdtempSync("/sys/fs/bpf/tsbpf-cli-");
    try {
      const r = await cli("load", COUNTER, "--pin", dir);
      expect(r.code).toBe(0);
      const d = await cli("map", "dump", `${dir}/syscall_counts`, "--format", "json");
      expect(d.code).toBe(0);
      expect(JSON.parse(d.out)).toMatchObject({ name: "syscall_counts", type: "hash", entries: [] });
      expect(
        execFileSync("bpftool", ["prog", "show", "pinned", `${dir}/trace_sys_enter`]).toString(),
      ).toContain("trace_sys_enter");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  kit("bad input is one line and exit 2", async () => {
    const cases: [string[], RegExp][] = [
      [["load", "/nonexistent.o"], /cannot read/],
      [["load", COUNTER, "--program", "nope"], /no program 'nope' \(known: trace_sys_enter\)/],
      [["load", "test/fixtures/obj/global_data.el.v1.o", "--set", "target_pid=abc"], /'abc' is not a number/],
      [["load", "test/fixtures/obj/global_data.el.v1.o", "--set", "nosuch=1"], /no global variable 'nosuch'/],
      [["load", "test/fixtures/obj/socket_filter.el.v1.o", "--attach"], /socket filter attaches to a socket/],
      [["load", "test/fixtures/obj/xdp_parse.el.v1.o", "--attach"], /needs an interface/],
      [["load", COUNTER, "--format", "xml"], /--format must be text or json/],
      [["load", COUNTER, "--pin", "/tmp"], /\/tmp is not on a bpf file system/],
      [
        [
          "run",
          "test/fixtures/obj/xdp_parse.el.v1.o",
          "--program",
          "xdp_udp_filter",
          "--kernel",
          "--packet",
          "zz",
        ],
        /hex bytes/,
      ],
      [["map", "dump", "/sys/fs/bpf/nonexistent-tsbpf"], /no pinned object/],
    ];
    for (const [args, re] of cases) {
      const r = await cli(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err, args.join(" ")).toMatch(re);
      expect(r.err.trim().split("\n"), args.join(" ")).toHaveLength(1);
    }
  });

  kit("a verifier rejection exits 1 with the verifier's line", async () => {
    const r = await cli("load", "test/fixtures/obj/reject/null_check.el.v1.o");
    expect(r.code).toBe(1);
    expect(r.err.split("\n")[0]).toBe(
      "tsbpf: program 'missing_null_check' (tracepoint/raw_syscalls/sys_enter): R0 invalid mem access 'map_value_or_null'",
    );
  });

  kit(
    "Ctrl-C stops an open-ended --attach cleanly: maps printed, links and fds closed, exit 0",
    async () => {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", "test/cli/load-entry.ts", "load", COUNTER, "--attach"],
        {
          cwd: ROOT,
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on("data", (d: Buffer) => {
        err += d.toString();
      });
      // Interrupt once it says it is running.
      await new Promise<void>((resolve) => {
        const t = setInterval(() => {
          if (err.includes("running until Ctrl-C")) {
            clearInterval(t);
            resolve();
          }
        }, 50);
      });
      child.kill("SIGINT");
      const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
      expect(code).toBe(0);
      expect(out).toContain("attached tracepoint raw_syscalls/sys_enter");
      expect(out).toMatch(/map syscall_counts \(hash, \d+ entries\)/);
    },
    30_000,
  );

  kit("without privileges: one line naming what is needed, exit 2", () => {
    const r = spawnSync(
      "setpriv",
      [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        process.execPath,
        "--import",
        "tsx",
        "test/cli/load-entry.ts",
        "load",
        COUNTER,
      ],
      { cwd: ROOT, encoding: "utf8" },
    );
    if (r.error) {
      console.warn(`SKIP unprivileged run: ${r.error.message}`);
      return;
    }
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/EPERM.*needs root/);
  });
});

describe("tsbpf run --kernel, prog list, map list/dump", () => {
  kit("run --kernel prints retval, packetOut and durationNs", async () => {
    const pkt = `${"00".repeat(12)}0800450000320000000040110000${"00".repeat(36)}`;
    const r = await cli(
      "run",
      "test/fixtures/obj/xdp_parse.el.v1.o",
      "--program",
      "xdp_udp_filter",
      "--kernel",
      "--packet",
      pkt,
      "--repeat",
      "10",
      "--format",
      "json",
    );
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { retval: number; packetOut: string; durationNs: number };
    expect(j.retval).toBe(2);
    expect(j.packetOut).toBe(pkt);
    expect(j.durationNs).toEqual(expect.any(Number));
    // The offline VM agrees with the kernel on the same input.
    const off = await cli(
      "run",
      "test/fixtures/obj/xdp_parse.el.v1.o",
      "--program",
      "xdp_udp_filter",
      "--packet",
      pkt,
      "--format",
      "json",
    );
    expect(off.code).toBe(0);
    expect(JSON.parse(off.out)).toMatchObject({ retval: j.retval, packetOut: j.packetOut });
    const t = await cli(
      "run",
      "test/fixtures/obj/xdp_parse.el.v1.o",
      "--program",
      "xdp_udp_filter",
      "--kernel",
      "--packet",
      `${"00".repeat(12)}0800`,
    );
    expect(t.out).toMatch(/^retval: 1\n/); // IPv4 without room for its header: XDP_DROP
  });

  kit(
    "prog list and map list show a loaded object like bpftool; map dump decodes via the kernel's BTF",
    async () => {
      const spec = openObjectSync(
        new Uint8Array(readFileSync(join(ROOT, "test/fixtures/obj/maps_btf.el.v1.o"))),
      );
      using obj = await loadObject(spec);
      const progId = obj.program("touch_maps").id;
      const p = await cli("prog", "list", "--format", "json");
      const mine = (
        JSON.parse(p.out) as { id: number; name: string; type: string; map_ids: number[] }[]
      ).find((x) => x.id === progId);
      const bpftool = JSON.parse(
        execFileSync("bpftool", ["-j", "prog", "show", "id", String(progId)]).toString(),
      );
      expect(mine).toMatchObject({
        name: bpftool.name,
        type: bpftool.type,
        tag: bpftool.tag,
        map_ids: bpftool.map_ids,
      });
      const text = await cli("prog", "list");
      expect(text.out).toContain(`${progId}: tracepoint  name touch_maps  tag ${bpftool.tag}  gpl`);

      const flows = obj.map("flows");
      const ml = await cli("map", "list");
      expect(ml.out).toContain(`${flows.id}: hash  name flows  flags 0x1`);
      const key = flows.decodeKey(Uint8Array.from({ length: flows.keySize }, (_, i) => i + 1));
      // Small numbers: bpftool's JSON numbers lose precision past 2^53.
      const value = flows.decodeValue(
        Uint8Array.from({ length: flows.valueSize }, (_, i) => (i % 8 < 4 ? 100 + i : 0)),
      );
      flows.set(key, value);
      const d = await cli("map", "dump", String(flows.id), "--format", "json");
      const dumped = JSON.parse(d.out) as { entries: { key: unknown; value: unknown }[] };
      const theirs = JSON.parse(
        execFileSync("bpftool", ["-j", "map", "dump", "id", String(flows.id)]).toString(),
      );
      expect(dumped.entries).toHaveLength(1);
      // bpftool decodes the same struct the same way (numbers; no char arrays in these types).
      expect(dumped.entries[0]).toEqual({ key: theirs[0].formatted.key, value: theirs[0].formatted.value });
    },
  );
});

describe("verify --kernel (runVerifyKernel, for verify.ts)", () => {
  async function verify(
    paths: string[],
    o: VerifyKernelCliOptions = {},
  ): Promise<{ code: number; out: string }> {
    const io = captureIo();
    const cwd = process.cwd();
    process.chdir(ROOT);
    try {
      await runVerifyKernel(paths, o, io);
      return { code: io.exitCode ?? 0, out: io.out };
    } finally {
      process.chdir(cwd);
    }
  }

  kit("one file: a JSON object; several: an array; a reject exits 1 with the verifier's line", async () => {
    const one = await verify([COUNTER], { format: "json" });
    expect(one.code).toBe(0);
    expect(JSON.parse(one.out)).toEqual({
      file: COUNTER,
      programs: [
        {
          name: "trace_sys_enter",
          section: "tracepoint/raw_syscalls/sys_enter",
          type: "tracepoint",
          verdict: "accept",
          processedInsns: expect.any(Number),
        },
      ],
    });
    const two = await verify([COUNTER, "test/fixtures/obj/reject/pkt_oob.el.v1.o"], {
      format: "json",
      logLevel: 1,
    });
    expect(two.code).toBe(1);
    const arr = JSON.parse(two.out) as {
      programs: { verdict: string; error?: { message: string; insn: number }; log?: string }[];
    }[];
    expect(arr).toHaveLength(2);
    expect(arr[1]!.programs[0]).toMatchObject({
      verdict: "reject",
      error: { message: "R1 offset is outside of the packet" },
    });
    expect(arr[1]!.programs[0]!.log).toMatch(/processed \d+ insns/);
    const text = await verify(["test/fixtures/obj/reject/pkt_oob.el.v1.o"]);
    expect(text.out).toMatch(
      /packet_out_of_bounds \(xdp, xdp\): reject \(\d+ insns processed\)\n {2}insn \d+: R1 offset is outside of the packet/,
    );
    await expect(verify([COUNTER], { program: ["nope"] })).rejects.toThrow(/no program 'nope'/);
    await expect(verify([COUNTER], { logLevel: 7 })).rejects.toThrow(/--log-level/);
  });
});
