/**
 * Choosing the target BTF, and the same decisions for an object's big-endian build as for its
 * little-endian build (libbpf refuses to load big-endian objects on this machine, so there is no
 * golden for them; their BTF is the same, only FIELD_LSHIFT_U64 depends on the byte order, and it
 * is checked on its own by the bitfield property test).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CORE_ERROR, KERNEL_BTF_PATH, loadTargetBtf, relocate } from "../../src/elf/core/index.js";
import { openObject } from "../../src/elf/object/open.js";
import { BtfError } from "../../src/errors.js";

const FIX = join(import.meta.dirname, "..", "fixtures");
const CUSTOM = join(FIX, "golden", "core", "custom");
const HAVE_KERNEL_BTF = existsSync(KERNEL_BTF_PATH);
if (!HAVE_KERNEL_BTF) console.warn(`SKIP default target BTF test: ${KERNEL_BTF_PATH} does not exist`);

describe("loadTargetBtf", () => {
  it("a missing file is a BtfError naming it", async () => {
    const err = await loadTargetBtf("/nonexistent/vmlinux").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BtfError);
    expect((err as BtfError).code).toBe(CORE_ERROR.NO_TARGET_BTF);
    expect((err as BtfError).message).toContain("/nonexistent/vmlinux");
  });

  it("a file that is not BTF is a BtfError", async () => {
    const err = await loadTargetBtf(join(CUSTOM, "prog.c")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BtfError);
  });

  it("an ELF object's .BTF is a target", async () => {
    const t = await loadTargetBtf(join(CUSTOM, "targets", "t_same.o"));
    expect(t.btf.findByName("tsbpf_task", "STRUCT")).toBeDefined();
    expect(t.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it.skipIf(!HAVE_KERNEL_BTF)("defaults to the running kernel's BTF", async () => {
    const t = await loadTargetBtf();
    expect(t.path).toBe(KERNEL_BTF_PATH);
    expect(t.btf.findByName("task_struct", "STRUCT")).toBeDefined();
  });
});

describe("big-endian builds relocate as their little-endian twins", () => {
  const sources = ["core", "core_fields", "core_types", "core_subprog", "core_multi", "core_sections"];
  for (const src of sources) {
    for (const v of ["v1", "v3"]) {
      it(`${src} ${v}`, async () => {
        const target = await loadTargetBtf(join(CUSTOM, "targets", "t_moved.o"));
        const kernel = HAVE_KERNEL_BTF ? await loadTargetBtf() : target;
        for (const t of [target, kernel]) {
          const el = relocate(await openObject(join(FIX, "obj", `${src}.el.${v}.o`)), t.btf).results;
          const eb = relocate(await openObject(join(FIX, "obj", `${src}.eb.${v}.o`)), t.btf).results;
          // clang may emit slightly different code per byte order (one more size read of a
          // bitfield), so compare decisions per program and spec, not record by record.
          const view = (list: typeof el): string[] =>
            [
              ...new Set(
                list.map((r) =>
                  JSON.stringify([
                    r.program,
                    r.localSpecText,
                    r.targetSpecText,
                    r.outcome,
                    // LSHIFT depends on the byte order.
                    r.kind === "lshift_u64" ? undefined : r.newValue?.toString(),
                    r.error?.code,
                  ]),
                ),
              ),
            ].sort();
          expect(view(eb)).toEqual(view(el));
          expect(el.length).toBeGreaterThan(0);
        }
      });
    }
  }
});
