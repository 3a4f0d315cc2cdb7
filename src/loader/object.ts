/**
 * ObjectSpec -> live kernel objects, in libbpf's order: object BTF (fixed up) -> CO-RE
 * relocation against the target BTF -> maps (pinned ones reused, global data initialised,
 * .rodata/.kconfig frozen, map-in-map with an inner template, .kconfig filled from the running
 * kernel) -> programs (refs patched to map fds/values, externs resolved, func/line info, attach
 * BTF ids) -> prog arrays and map-in-map slots filled. Everything created is closed on failure.
 */
import { existsSync } from "node:fs";
import type { Btf } from "../elf/btf/btf.js";
import { btfFromBytes } from "../elf/btf/load.js";
import { relocate } from "../elf/core/relocate.js";
import { loadTargetBtf } from "../elf/core/target.js";
import type { ExternSpec, MapSpec, ObjectSpec, ProgramSpec } from "../elf/object/types.js";
import { UsageError } from "../errors.js";
import { encode } from "../isa/codec.js";
import { type Instruction, OP_LD_IMM64 } from "../isa/instruction.js";
import {
  createMap,
  type LoadedProgram,
  loadBtf,
  loadProgram,
  mapFreeze,
  mapInfo,
  mapUpdate,
  objGet,
  objPin,
} from "./bpf.js";
import { fixedObjectBtf } from "./btf-fixup.js";
import { AttachType, MapType, ProgFlags } from "./consts.js";
import { BpfSyscallError, LoaderError } from "./errors.js";
import type { Fd } from "./fd.js";
import { kallsymsLookup } from "./kallsyms.js";
import { fillKconfig, kernelVersionCode } from "./kconfig.js";
import { LiveMap } from "./object-map.js";
import { LiveProgram } from "./object-program.js";
import { openRingBuffer, type RingBuffer } from "./ringbuf.js";
import { possibleCpuCount } from "./sys.js";
import { type BtfValue, decodeValue, encodeInto, encodeValue, parseValueText } from "./values.js";

export interface LoadObjectOptions {
  /** Load only these programs (by function name); default: every autoload program. */
  readonly programs?: readonly string[];
  /** Global variables to set before load (`.rodata` knobs, `.data`, `.bss`), by name. Strings are parsed for the variable's type. */
  readonly set?: Readonly<Record<string, unknown>>;
  /** max_entries overrides by map name. */
  readonly maxEntries?: Readonly<Record<string, number>>;
  /** Reuse an existing pinned map instead of creating one: map name -> bpffs path. */
  readonly pinnedMaps?: Readonly<Record<string, string>>;
  /** Directory for maps declared with `pinning = LIBBPF_PIN_BY_NAME` (default /sys/fs/bpf). */
  readonly pinRoot?: string;
  /** Target BTF for CO-RE (a path or a parsed Btf); default /sys/kernel/btf/vmlinux. */
  readonly targetBtf?: string | Btf;
  /** Verifier log level for every program (0: only on failure). */
  readonly logLevel?: number;
  readonly logSize?: number;
}

/** A program the kernel refused (or that failed before the kernel saw it). */
export class ProgramLoadError extends LoaderError {
  readonly program: string;
  readonly section: string;
  readonly log: string;
  readonly errno: number | undefined;
  /** The verifier's (or our) one-line reason. */
  readonly reason: string;
  /** Instruction index the verifier stopped at, when the log says. */
  readonly insn: number | undefined;
  constructor(
    prog: ProgramSpec,
    reason: string,
    o: { log?: string; errno?: number; insn?: number; code?: string; cause?: unknown } = {},
  ) {
    super(o.code ?? "E_PROG_LOAD", `program '${prog.name}' (${prog.section}): ${reason}`);
    this.program = prog.name;
    this.section = prog.section;
    this.log = o.log ?? "";
    this.errno = o.errno;
    this.reason = reason;
    this.insn = o.insn;
  }
}

let kernelBtfCache: Btf | undefined;

/** The running kernel's BTF (parsed once per process). */
export async function kernelBtf(): Promise<Btf> {
  kernelBtfCache ??= (await loadTargetBtf()).btf;
  return kernelBtfCache;
}

/**
 * The verifier's telling line and the instruction it stopped at.
 */
export function verifierErrorLine(log: string): { message: string; insn: number | undefined } {
  // The verdict is the line just before the "processed N insns" summary (how the libbpf
  // goldens were captured too); without a summary, the last line.
  const lines = log.split("\n").map((l) => l.trimEnd());
  let end = lines.findIndex((l) => /^processed \d+ insns/.test(l));
  if (end < 0) {
    end = lines.length;
    while (end > 0 && lines[end - 1] === "") end--;
  }
  const message = end > 0 ? lines[end - 1]! : "";
  let insn: number | undefined;
  for (let i = end - 1; i >= 0; i--) {
    const m = /^(\d+): \(/.exec(lines[i]!);
    if (m) {
      insn = Number(m[1]);
      break;
    }
  }
  return { message, insn };
}

function attachBtfName(p: ProgramSpec): string | undefined {
  const t = p.expectedAttachType?.id;
  const target = p.attachTarget;
  if (target === undefined || (p.type.id !== 26 /* TRACING */ && p.type.id !== 29) /* LSM */)
    return undefined;
  if (t === AttachType.TRACE_RAW_TP) return `btf_trace_${target}`;
  if (t === AttachType.LSM_MAC || t === 43) return `bpf_lsm_${target}`;
  if (t === AttachType.TRACE_ITER) return `bpf_iter_${target}`;
  return target;
}

function kallsyms(name: string): bigint | undefined {
  return kallsymsLookup(name).address;
}

/** Attach types whose programs run through a BPF trampoline (fentry, fexit, fmod_ret, lsm). */
const TRAMPOLINE_TYPES: ReadonlySet<number> = new Set([
  AttachType.TRACE_FENTRY,
  AttachType.TRACE_FEXIT,
  AttachType.MODIFY_RETURN,
  AttachType.LSM_MAC,
  AttachType.LSM_CGROUP,
]);

const MAP_IN_MAP: ReadonlySet<number> = new Set([MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS]);

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

/** A ring buffer reader whose records decode through BTF. */
export class TypedRingBuffer implements Disposable {
  readonly reader: RingBuffer;
  readonly #btf: Btf | undefined;
  readonly #typeId: number;

  constructor(reader: RingBuffer, btf: Btf | undefined, typeId: number) {
    this.reader = reader;
    this.#btf = btf;
    this.#typeId = typeId;
  }

  decode(record: Uint8Array): BtfValue {
    if (!this.#typeId || !this.#btf) return record.slice();
    // Records may be shorter than the type (bpf_ringbuf_output of a prefix): zero-extend.
    const size = this.#btf.sizeOf(this.#typeId);
    const buf = record.length >= size ? record : Uint8Array.from({ length: size }, (_, i) => record[i] ?? 0);
    return decodeValue(this.#btf, this.#typeId, buf);
  }

  /** Records available now, decoded. */
  poll(max?: number): BtfValue[] {
    return this.reader.poll(max).map((r) => this.decode(r));
  }

  /** Decoded records as they arrive, until `signal` aborts or the reader closes. */
  async *records(signal?: AbortSignal): AsyncGenerator<BtfValue> {
    for await (const r of this.reader.records(signal)) yield this.decode(r);
  }

  close(): void {
    this.reader.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** A loaded object: its maps and programs, all closed by close()/dispose. */
export class LoadedObject implements Disposable {
  readonly spec: ObjectSpec;
  readonly maps: ReadonlyMap<string, LiveMap>;
  readonly programs: ReadonlyMap<string, LiveProgram>;
  /** The object's BTF in the kernel (undefined when it has none or the kernel refused it). */
  readonly btfFd: Fd | undefined;
  /** Non-fatal notes (BTF refused, maps created without BTF). */
  readonly warnings: readonly string[];
  #closed = false;

  constructor(
    spec: ObjectSpec,
    maps: Map<string, LiveMap>,
    programs: Map<string, LiveProgram>,
    btfFd: Fd | undefined,
    warnings: string[],
  ) {
    this.spec = spec;
    this.maps = maps;
    this.programs = programs;
    this.btfFd = btfFd;
    this.warnings = warnings;
  }

  program(name: string): LiveProgram {
    const p = this.programs.get(name);
    if (!p)
      throw new UsageError(
        "E_NO_PROGRAM",
        `no loaded program '${name}' (loaded: ${[...this.programs.keys()].join(", ") || "none"})`,
      );
    return p;
  }

  map(name: string): LiveMap {
    const m = this.maps.get(name);
    if (!m)
      throw new UsageError(
        "E_NO_MAP",
        `no map '${name}' (maps: ${[...this.maps.keys()].join(", ") || "none"})`,
      );
    return m;
  }

  /**
   * A reader on a ring buffer map whose records decode through a BTF type of the object
   * (`"struct exec_event"`, a typedef name, or a type id); raw bytes without one.
   */
  ringBuffer(name: string, recordType?: string | number): TypedRingBuffer {
    const m = this.map(name);
    if (m.type !== MapType.RINGBUF)
      throw new UsageError("E_NOT_RINGBUF", `map '${name}' is not a ring buffer`);
    let typeId = 0;
    const btf = m.btf;
    if (recordType !== undefined) {
      if (!btf) throw new UsageError("E_NO_BTF", `${this.spec.name}: no BTF to decode ring buffer records`);
      if (typeof recordType === "number") typeId = recordType;
      else {
        const [kw, ...rest] = recordType.trim().split(/\s+/);
        const kind =
          kw === "struct" ? "STRUCT" : kw === "union" ? "UNION" : kw === "enum" ? "ENUM" : undefined;
        const typeName = kind ? rest.join(" ") : recordType.trim();
        typeId = (kind ? btf.findByName(typeName, kind) : btf.findByName(typeName))?.id ?? 0;
        if (!typeId) throw new UsageError("E_NO_TYPE", `${this.spec.name}: no BTF type '${recordType}'`);
      }
    }
    return new TypedRingBuffer(openRingBuffer(m.fd), btf, typeId);
  }

  /** Pin every map at `<dir>/<map>` and every program at `<dir>/<program>` (bpffs). */
  pin(dir: string): string[] {
    const out: string[] = [];
    for (const m of this.maps.values()) {
      const p = `${dir}/${m.name}`;
      objPin(m.fd, p);
      out.push(p);
    }
    for (const p of this.programs.values()) {
      const path = `${dir}/${p.name}`;
      objPin(p.fd, path);
      out.push(path);
    }
    return out;
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.programs.values()) p.close();
    for (const m of this.maps.values()) m.close();
    this.btfFd?.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function globalData(spec: ObjectSpec, m: MapSpec): Uint8Array | undefined {
  if (!m.data) return undefined;
  const data = new Uint8Array(m.valueSize);
  data.set(m.data.subarray(0, m.valueSize));
  if (m.origin === "kconfig" && spec.btf) fillKconfig(spec.btf, spec.externs, data);
  return data;
}

function applySets(
  spec: ObjectSpec,
  data: Map<string, Uint8Array>,
  set: Readonly<Record<string, unknown>>,
): void {
  for (const [name, raw] of Object.entries(set)) {
    const v = spec.variables.find((x) => x.name === name);
    if (!v) {
      const known = spec.variables.filter((x) => x.global).map((x) => x.name);
      throw new UsageError(
        "E_NO_VARIABLE",
        `no global variable '${name}' (globals: ${known.join(", ") || "none"})`,
      );
    }
    const buf = data.get(v.map);
    if (!buf) throw new UsageError("E_NO_VARIABLE", `variable '${name}': its map '${v.map}' is not loaded`);
    const value = typeof raw === "string" ? parseValueText(spec.btf, v.btfTypeId, raw) : raw;
    if (spec.btf && v.btfTypeId) encodeInto(spec.btf, v.btfTypeId, value, buf, v.offset);
    else buf.set(encodeValue(undefined, 0, value, v.size), v.offset);
  }
}

function compatible(m: MapSpec, fd: Fd, maxEntries: number): string | undefined {
  const info = mapInfo(fd);
  if (info.type !== m.type) return `type ${info.type} != ${m.type}`;
  if (info.keySize !== m.keySize) return `key size ${info.keySize} != ${m.keySize}`;
  if (info.valueSize !== m.valueSize) return `value size ${info.valueSize} != ${m.valueSize}`;
  if (info.maxEntries !== maxEntries) return `max_entries ${info.maxEntries} != ${maxEntries}`;
  if (info.flags !== m.flags) return `flags ${info.flags} != ${m.flags}`;
  return undefined;
}

interface MapCreation {
  readonly fd: Fd;
  readonly btf: boolean;
}

function createSpecMap(
  m: MapSpec,
  maxEntries: number,
  btfFd: Fd | undefined,
  inner: Fd | undefined,
): MapCreation {
  const base = {
    type: m.type,
    keySize: m.keySize,
    valueSize: m.valueSize,
    maxEntries,
    flags: m.flags,
    name: m.name,
    numaNode: m.numaNode || undefined,
    mapExtra: m.mapExtra || undefined,
    innerMapFd: inner,
  };
  if (btfFd && (m.btfKeyTypeId || m.btfValueTypeId)) {
    try {
      return {
        fd: createMap({ ...base, btfFd, btfKeyTypeId: m.btfKeyTypeId, btfValueTypeId: m.btfValueTypeId }),
        btf: true,
      };
    } catch (e) {
      // libbpf retries without BTF too: some map types refuse key/value types.
      if (!(e instanceof BpfSyscallError)) throw e;
    }
  }
  return { fd: createMap(base), btf: false };
}

function patchInsns(
  prog: ProgramSpec,
  mapFds: ReadonlyMap<string, Fd>,
  kconfigMap: string | undefined,
  externs: readonly ExternSpec[],
  vmlinux: Btf | undefined,
): Instruction[] {
  const out: Instruction[] = [];
  for (const insn of prog.insns) {
    const ref = insn.ref;
    if (!ref || ref.kind === "subprog") {
      out.push(insn);
      continue;
    }
    const { ref: _drop, ...plain } = insn;
    const mapFd = (name: string): number => {
      const fd = mapFds.get(name);
      if (!fd) throw new ProgramLoadError(prog, `map '${name}' was not created`, { code: "E_MAP_MISSING" });
      return fd.value;
    };
    const wide = (imm: number) => ({ opcode: 0, dst: 0, src: 0, off: 0, imm });
    if (ref.kind === "map") {
      out.push({ ...plain, src: 1, imm: mapFd(ref.map), wide: wide(0) });
    } else if (ref.kind === "mapValue") {
      out.push({ ...plain, src: 2, imm: mapFd(ref.map), wide: wide(ref.offset) });
    } else if (ref.kind === "extern") {
      const ext = externs.find((e) => e.name === ref.symbol);
      if (!ext) throw new ProgramLoadError(prog, `unknown extern '${ref.symbol}'`, { code: "E_EXTERN" });
      if (ext.kind === "kconfig") {
        if (!kconfigMap) throw new ProgramLoadError(prog, "no .kconfig map", { code: "E_EXTERN" });
        out.push({ ...plain, src: 2, imm: mapFd(kconfigMap), wide: wide(ext.offset) });
        continue;
      }
      const btfId = vmlinux
        ? (vmlinux.findAllByName(ext.name).find((id) => {
            const k = vmlinux.typeById(id).kind;
            return ext.isFunction ? k === "FUNC" : k === "VAR";
          }) ?? 0)
        : 0;
      if (insn.opcode === OP_LD_IMM64) {
        if (btfId) out.push({ ...plain, src: 3, imm: btfId, wide: wide(0) });
        else {
          const addr = ext.isFunction ? undefined : kallsyms(ext.name);
          if (addr === undefined && !ext.weak)
            throw new ProgramLoadError(prog, `extern (ksym) '${ext.name}': not found in kernel`, {
              code: "E_KSYM",
            });
          const a = addr ?? 0n;
          out.push({
            ...plain,
            src: 0,
            imm: Number(BigInt.asIntN(32, a & 0xffffffffn)),
            wide: wide(Number(BigInt.asIntN(32, a >> 32n))),
          });
        }
      } else {
        // kfunc call: imm = vmlinux FUNC id; a missing weak kfunc stays imm 0 (dead code).
        if (!btfId && !ext.weak)
          throw new ProgramLoadError(prog, `extern (kfunc) '${ext.name}': not found in kernel BTF`, {
            code: "E_KSYM",
          });
        out.push({ ...plain, src: 2, imm: btfId, off: 0 });
      }
    } else {
      throw new ProgramLoadError(prog, `unresolved reference to '${ref.symbol}'`, { code: "E_RELOC" });
    }
  }
  return out;
}

function funcInfoBytes(p: ProgramSpec): Uint8Array {
  const b = new Uint8Array(8 * p.funcInfo.length);
  const v = new DataView(b.buffer);
  p.funcInfo.forEach((f, i) => {
    v.setUint32(i * 8, f.insn, true);
    v.setUint32(i * 8 + 4, f.typeId, true);
  });
  return b;
}

function lineInfoBytes(p: ProgramSpec): Uint8Array {
  const b = new Uint8Array(16 * p.lineInfo.length);
  const v = new DataView(b.buffer);
  p.lineInfo.forEach((l, i) => {
    v.setUint32(i * 16, l.insn, true);
    v.setUint32(i * 16 + 4, l.fileNameOff, true);
    v.setUint32(i * 16 + 8, l.lineOff, true);
    v.setUint32(i * 16 + 12, ((l.line << 10) | (l.column & 0x3ff)) >>> 0, true);
  });
  return b;
}

/** Which programs to load: the named ones, else every autoload program. */
export function selectPrograms(spec: ObjectSpec, names: readonly string[] | undefined): ProgramSpec[] {
  if (!names || names.length === 0) return spec.programs.filter((p) => p.autoload);
  return names.map((n) => spec.program(n));
}

/** Load an object into the kernel. See the module comment for the order of steps. */
export async function loadObject(spec0: ObjectSpec, opts: LoadObjectOptions = {}): Promise<LoadedObject> {
  if (spec0.byteOrder !== "le")
    throw new UsageError(
      "E_ENDIAN",
      `${spec0.file ?? spec0.name}: big-endian object cannot load on this little-endian kernel`,
    );
  const chosen = selectPrograms(spec0, opts.programs);
  const warnings: string[] = [];

  // CO-RE first: it only touches instructions.
  let spec = spec0;
  const needsCore = chosen.some((p) => p.coreRelos.length > 0);
  let coreResults: ReturnType<typeof relocate>["results"] = [];
  if (needsCore) {
    const target =
      typeof opts.targetBtf === "object"
        ? opts.targetBtf
        : opts.targetBtf
          ? (await loadTargetBtf(opts.targetBtf)).btf
          : await kernelBtf();
    const r = relocate(spec0, target);
    spec = r.spec;
    coreResults = r.results;
  }
  const needsVmlinux =
    chosen.some((p) => attachBtfName(p) !== undefined) || spec.externs.some((e) => e.kind === "ksym");
  const vmlinux = needsVmlinux ? await kernelBtf() : undefined;

  const maps = new Map<string, LiveMap>();
  const programs = new Map<string, LiveProgram>();
  let btfFd: Fd | undefined;
  let decodeBtf: Btf | undefined;
  const templates: Fd[] = [];
  const cleanup = (): void => {
    for (const p of programs.values()) p.close();
    for (const m of maps.values()) m.close();
    for (const t of templates) t.close();
    btfFd?.close();
  };
  try {
    const rawBtf = fixedObjectBtf(spec);
    // Values decode through the fixed-up BTF: clang's DATASECs have zero offsets.
    decodeBtf = rawBtf ? btfFromBytes(rawBtf) : spec.btf;
    if (rawBtf) {
      try {
        btfFd = loadBtf(rawBtf).fd;
      } catch (e) {
        if (!(e instanceof BpfSyscallError)) throw e;
        const line = e.log?.trim().split("\n").pop() ?? "";
        warnings.push(
          `kernel refused the object's BTF (${e.message}${line ? `: ${line}` : ""}); loading without it`,
        );
      }
    }

    // Initial bytes of every global data map, then --set on top.
    const data = new Map<string, Uint8Array>();
    for (const m of spec.maps) {
      const d = globalData(spec, m);
      if (d) data.set(m.name, d);
    }
    if (opts.set) applySets(spec, data, opts.set);

    const ordered = [
      ...spec.maps.filter((m) => !MAP_IN_MAP.has(m.type)),
      ...spec.maps.filter((m) => MAP_IN_MAP.has(m.type)),
    ];
    for (const m of ordered) {
      // libbpf sizes a perf event array without max_entries to the possible CPUs.
      const maxEntries =
        opts.maxEntries?.[m.name] ??
        (m.type === MapType.PERF_EVENT_ARRAY && m.maxEntries === 0 ? possibleCpuCount() : m.maxEntries);
      const pinned =
        opts.pinnedMaps?.[m.name] ??
        (m.pinning === 1 ? `${opts.pinRoot ?? "/sys/fs/bpf"}/${m.name}` : undefined);
      let fd: Fd | undefined;
      let withBtf = false;
      if (pinned && existsSync(pinned)) {
        fd = objGet(pinned);
        const why = compatible(m, fd, maxEntries);
        if (why) {
          fd.close();
          throw new LoaderError(
            "E_PIN_MISMATCH",
            `map '${m.name}': pinned map ${pinned} is incompatible (${why})`,
          );
        }
      } else {
        let inner: Fd | undefined;
        if (MAP_IN_MAP.has(m.type)) {
          if (!m.inner)
            throw new LoaderError(
              "E_INNER_MAP",
              `map '${m.name}': map-in-map without an inner map definition`,
            );
          inner = createSpecMap(m.inner, m.inner.maxEntries, undefined, undefined).fd;
          templates.push(inner);
        }
        const c = createSpecMap(m, maxEntries, btfFd, inner);
        fd = c.fd;
        withBtf = c.btf;
        if (inner) {
          inner.close();
          templates.pop();
        }
        const d = data.get(m.name);
        if (d) mapUpdate(fd, u32(0), d);
        if (m.readonly && d) mapFreeze(fd);
        if (pinned) objPin(fd, pinned);
      }
      maps.set(
        m.name,
        new LiveMap({
          name: m.name,
          fd,
          type: m.type,
          keySize: m.keySize,
          valueSize: m.valueSize,
          maxEntries,
          flags: m.flags,
          btf: decodeBtf,
          keyTypeId: m.btfKeyTypeId,
          valueTypeId: m.btfValueTypeId,
        }),
      );
      if (!withBtf && btfFd && (m.btfKeyTypeId || m.btfValueTypeId) && !pinned)
        warnings.push(`map '${m.name}' created without BTF (the kernel refused its key/value types)`);
    }
    // Map-in-map slots.
    for (const m of spec.maps) {
      if (!MAP_IN_MAP.has(m.type) || !m.initSlots) continue;
      const outer = maps.get(m.name)!;
      for (const s of m.initSlots) {
        const inner = maps.get(s.name);
        if (inner) mapUpdate(outer.fd, u32(s.index), u32(inner.fd.value));
      }
    }

    const mapFds = new Map([...maps].map(([k, v]) => [k, v.fd] as const));
    const kconfigMap = spec.maps.find((m) => m.origin === "kconfig")?.name;
    const relocated = chosen.map((c) => spec.programs.find((p) => p.name === c.name) ?? c);
    for (const p of relocated) {
      const failed = coreResults.find((r) => r.program === p.name && r.error);
      if (failed)
        throw new ProgramLoadError(
          p,
          `CO-RE relocation failed: ${failed.kind} ${failed.localSpec} (access string ${failed.accessString}): ${failed.error!.message}`,
          { code: "E_CORE" },
        );
      const insns = patchInsns(p, mapFds, kconfigMap, spec.externs, vmlinux);
      let attachBtfId: number | undefined;
      const target = attachBtfName(p);
      if (target !== undefined) {
        const kind = target.startsWith("btf_trace_") ? "TYPEDEF" : "FUNC";
        attachBtfId = vmlinux?.findByName(target, kind)?.id;
        if (!attachBtfId)
          throw new ProgramLoadError(
            p,
            `attach target '${p.attachTarget}' not found in the kernel's BTF (${kind} ${target})`,
            {
              code: "E_ATTACH_TARGET",
            },
          );
      }
      let flags = 0;
      if (p.sleepable) flags |= ProgFlags.SLEEPABLE;
      if (p.xdpFrags) flags |= ProgFlags.XDP_HAS_FRAGS;
      let loaded: LoadedProgram;
      try {
        loaded = loadProgram({
          type: p.type.id,
          insns: encode(insns, "le"),
          license: p.license,
          name: p.name,
          flags: flags || undefined,
          kernVersion: p.kernelVersion || kernelVersionCode(),
          expectedAttachType: p.expectedAttachType?.id,
          attachBtfId,
          btfFd,
          funcInfo: btfFd ? funcInfoBytes(p) : undefined,
          lineInfo: btfFd ? lineInfoBytes(p) : undefined,
          logLevel: opts.logLevel,
          logSize: opts.logSize,
        });
      } catch (e) {
        if (!(e instanceof BpfSyscallError)) throw e;
        const log = e.log ?? "";
        const { message, insn } = verifierErrorLine(log);
        const poisoned = coreResults.filter((r) => r.program === p.name && r.outcome === "poisoned");
        let reason = message || `${e.command}: ${e.errnoName}`;
        if (poisoned.length > 0 && /unknown#195896080|invalid func unknown/.test(log)) {
          // The record whose instruction the verifier stopped at, else the first one.
          const r = poisoned.find((x) => x.slot === insn) ?? poisoned[0]!;
          reason = `${reason} (CO-RE: ${r.localSpec}, access string ${r.accessString}, not found in target BTF: instruction ${r.insn} poisoned)`;
        }
        if (e.errno === 1 && !log) {
          const trampoline =
            p.expectedAttachType !== undefined && TRAMPOLINE_TYPES.has(p.expectedAttachType.id);
          reason = trampoline
            ? `${e.command}: EPERM before verification: this kernel refuses ${p.section.split("/")[0]} programs (BPF trampolines) to every loader, libbpf included`
            : process.getuid?.() === 0
              ? `${e.command}: EPERM before verification, with no verifier log (a kernel security policy refuses this program type)`
              : `${e.command}: EPERM: loading BPF programs needs root (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN)`;
        }
        throw new ProgramLoadError(p, reason, { log, errno: e.errno, insn, cause: e });
      }
      programs.set(p.name, new LiveProgram(p, loaded.fd, loaded.log));
    }

    // Prog arrays: slots name programs, filled once they exist.
    for (const m of spec.maps) {
      if (m.type !== MapType.PROG_ARRAY || !m.initSlots) continue;
      const arr = maps.get(m.name)!;
      for (const s of m.initSlots) {
        const prog = programs.get(s.name);
        if (prog) mapUpdate(arr.fd, u32(s.index), u32(prog.fd.value));
      }
    }
  } catch (e) {
    cleanup();
    throw e;
  }
  return new LoadedObject(spec, maps, programs, btfFd, warnings);
}
