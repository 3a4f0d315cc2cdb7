// `tsbpf inspect`: its figures checked against libbpf's own (golden/libbpf-objects) and bpftool's.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { registerInspect, runInspect } from "../../src/cli/commands/inspect.js";
import { captureIo } from "../../src/cli/io.js";
import { TsbpfError } from "../../src/errors.js";

const ROOT: string = fileURLToPath(new URL("../..", import.meta.url));
const OBJ = join(ROOT, "test/fixtures/obj");
const GOLD = join(ROOT, "test/fixtures/golden/libbpf-objects");

async function inspect(args: string[]): Promise<{ out: string; err: string }> {
  const io = captureIo();
  const program = new Command().exitOverride();
  registerInspect(program, io);
  await program.parseAsync(["node", "tsbpf", "inspect", ...args]);
  return io;
}

/** Linked size of each program from libbpf's log: its code size plus every appended subprogram. */
function libbpfLinkedSizes(base: string): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const l of readFileSync(join(GOLD, `${base}.log`), "utf8").split("\n")) {
    let m = /^libbpf: sec '(.*)': found program '(\w+)' .* code size (\d+) insns/.exec(l);
    if (m && m[1] !== ".text") sizes.set(m[2]!, Number(m[3]));
    m = /^libbpf: prog '(\w+)': added (\d+) insns from sub-prog/.exec(l);
    if (m) sizes.set(m[1]!, sizes.get(m[1]!)! + Number(m[2]));
  }
  return sizes;
}

describe("tsbpf inspect", () => {
  it("--format json: linked instruction counts as libbpf's, map shapes as bpftool's", async () => {
    for (const base of ["subprogs.el.v3", "loops.el.v4", "map_in_map.el.v3", "global_data.el.v2"]) {
      const { out } = await inspect(["--format", "json", join(OBJ, `${base}.o`)]);
      const doc = JSON.parse(out) as {
        programs: { name: string; insns: number }[];
        maps: {
          name: string;
          type: string;
          keySize: number;
          valueSize: number;
          maxEntries: number;
          flags: number;
        }[];
      };
      const sizes = libbpfLinkedSizes(base);
      expect(new Map(doc.programs.map((p) => [p.name, p.insns]))).toEqual(sizes);
      const show = JSON.parse(readFileSync(join(GOLD, `${base}.json`), "utf8")) as {
        maps: {
          name: string;
          type: string;
          bytes_key: number;
          bytes_value: number;
          max_entries: number;
          flags: number;
        }[];
      };
      const ours = doc.maps
        .map((m) => ({
          name: m.name.slice(0, 15),
          type: m.type,
          bytes_key: m.keySize,
          bytes_value: m.valueSize,
          max_entries: m.maxEntries,
          flags: m.flags,
        }))
        .sort((a, b) => a.name.localeCompare(b.name));
      expect(ours).toEqual(show.maps);
    }
  });

  it("counts BTF.ext records per section and lists CO-RE relocations", async () => {
    const { out } = await inspect(["--format", "json", join(OBJ, "core.el.v3.o")]);
    const doc = JSON.parse(out) as {
      btfExt: { section: string; coreRelos: number }[];
      coreRelocations: { section: string; kind: string; access: string }[];
    };
    // libbpf: "sec 'X': found N CO-RE relocations".
    for (const l of readFileSync(join(GOLD, "core.el.v3.log"), "utf8").split("\n")) {
      const m = /^libbpf: sec '(.+)': found (\d+) CO-RE relocations$/.exec(l);
      if (!m) continue;
      expect(doc.btfExt.find((s) => s.section === m[1])?.coreRelos).toBe(Number(m[2]));
      expect(doc.coreRelocations.filter((r) => r.section === m[1]).length).toBe(Number(m[2]));
    }
  });

  it("several files give a JSON array, one object per file", async () => {
    const files = ["xdp_parse.el.v3.o", "ringbuf.eb.v2.o"].map((f) => join(OBJ, f));
    const doc = JSON.parse((await inspect(["--format", "json", ...files])).out) as { file: string }[];
    expect(doc.map((d) => d.file)).toEqual(files);
  });

  it("text output names programs, types, maps and the BTF.ext counts", async () => {
    const { out } = await inspect([join(OBJ, "subprogs.el.v3.o")]);
    expect(out).toContain("histogram  section 'tracepoint/raw_syscalls/sys_enter'  type tracepoint");
    expect(out).toContain("xdp_len_hist  section 'xdp'  type xdp  attach xdp");
    expect(out).toContain("buckets  array  key 4 (__u32)  value 8 (__u64)  max_entries 64");
    expect(out).toMatch(/\.text: func_info 4, line_info \d+, CO-RE 0/);
  });

  it("bad input is one typed error line", async () => {
    for (const args of [
      ["/nonexistent.o"],
      [join(ROOT, "package.json")],
      ["--format", "yaml", join(OBJ, "xdp_parse.el.v3.o")],
    ]) {
      const io = captureIo();
      const err = await runInspect(
        args.filter((a) => !a.startsWith("--") && a !== "yaml"),
        io,
        {
          format: args.includes("yaml") ? "yaml" : "text",
        },
      ).catch((e: unknown) => e);
      expect(err, args.join(" ")).toBeInstanceOf(TsbpfError);
      expect((err as Error).message).not.toContain("\n");
    }
  });
});
