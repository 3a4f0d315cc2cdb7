import { readFileSync } from "node:fs";
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { registerVerify } from "../../src/cli/commands/verify.js";
import { captureIo } from "../../src/cli/io.js";
import type { UnprivGolden } from "../fixtures/verifier-unpriv/golden.js";

async function run(args: string[], tty = false): Promise<ReturnType<typeof captureIo>> {
  const io = Object.assign(captureIo(), { stderrIsTTY: tty, stderrColumns: 60 });
  const program = new Command().exitOverride();
  registerVerify(program, io);
  await program.parseAsync(["node", "tsbpf", "verify", ...args]);
  return io;
}

describe("tsbpf verify", () => {
  it("json for one file, exit 1 on a reject, with the source line", async () => {
    const io = await run(["--format", "json", "test/fixtures/obj/reject/null_check.el.v3.o"]);
    const j = JSON.parse(io.out);
    expect(j.file).toBe("test/fixtures/obj/reject/null_check.el.v3.o");
    expect(j.programs[0].verdict).toBe("reject");
    expect(j.programs[0].error.message).toBe("R0 invalid mem access 'map_value_or_null'");
    expect(j.programs[0].error.source.line).toBeGreaterThan(0);
    expect(io.exitCode).toBe(1);
  });
  it("an array for several files, exit 0 when all accepted", async () => {
    const io = await run([
      "--format",
      "json",
      "test/fixtures/verifier/obj/a_xdp_eth.o",
      "test/fixtures/verifier/obj/a_null_hash.o",
    ]);
    const j = JSON.parse(io.out);
    expect(j).toHaveLength(2);
    expect(io.exitCode).toBe(0);
  });
  it("sarif 2.1.0 and text with a caret", async () => {
    const s = await run(["--format", "sarif", "test/fixtures/verifier/obj/r_xdp_no_check.o"]);
    const j = JSON.parse(s.out);
    expect(j.version).toBe("2.1.0");
    expect(j.runs[0].results[0].locations[0].physicalLocation.region.startLine).toBeGreaterThan(0);
    const t = await run(["test/fixtures/verifier/obj/r_xdp_no_check.o"]);
    expect(t.out).toMatch(/REJECTED/);
    expect(t.out).toMatch(/\^/);
  });
  it("--unprivileged judges as a loader without capabilities (kernel golden message)", async () => {
    const golden = JSON.parse(
      readFileSync("test/fixtures/verifier-unpriv/golden/unpriv_leak_return.json", "utf8"),
    ) as UnprivGolden;
    const obj = golden.object;
    const root = await run(["--format", "json", obj]);
    expect(JSON.parse(root.out).programs[0].verdict).toBe(golden.programs[0]!.root.verdict);
    expect(root.exitCode).toBe(0);
    const io = await run(["--format", "json", "--unprivileged", obj]);
    const p = JSON.parse(io.out).programs[0];
    expect(p.verdict).toBe("reject");
    expect(p.error.message).toBe(golden.programs[0]!.unprivileged.error!.message);
    expect(io.exitCode).toBe(1);
  });
  it("draws a progress bar on a terminal's stderr for many files, and erases it", async () => {
    const files = [
      "test/fixtures/verifier/obj/a_xdp_eth.o",
      "test/fixtures/verifier/obj/a_null_hash.o",
      "test/fixtures/verifier/obj/r_xdp_no_check.o",
    ];
    const tty = await run(["--format", "json", ...files], true);
    expect(tty.err).toContain("3/3");
    expect(tty.err.endsWith("\r\x1b[K")).toBe(true);
    for (const line of tty.err.split("\r")) expect(line.replace("\x1b[K", "").length).toBeLessThan(60);
    const piped = await run(["--format", "json", ...files]);
    expect(piped.err).toBe("");
    expect(JSON.parse(piped.out)).toEqual(JSON.parse(tty.out));
  });
});
