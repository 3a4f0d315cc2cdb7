/**
 * simulate(): an ObjectSpec in memory, ready to run offline. Maps are created from the
 * MapSpecs (global data initialised, .rodata read-only to programs), ld_imm64 references
 * resolved to them, CO-RE relocated against a target BTF, programs created on one shared
 * memory (so tail calls work), and helpers simulated from a Runtime the test controls (time,
 * task, CPU, random, memory image, fake stacks), so runs are deterministic.
 *
 *   const sim = simulate(await openObject("count.o"));
 *   sim.program("trace_sys_enter").run({ ctx: { id: 59 } });
 *   sim.map("syscall_counts").get(59);   // 1n, decoded via BTF like the live loader's maps
 */
import { readFileSync } from "node:fs";
import type { CtxLayout } from "../abi/contexts.js";
import { kfuncId } from "../abi/kfuncs.js";
import { parseTracepointFormat } from "../abi/tracepoint-format.js";
import type { Btf } from "../elf/btf/btf.js";
import { btfFromBytes } from "../elf/btf/load.js";
import { relocate } from "../elf/core/relocate.js";
import { KERNEL_BTF_PATH } from "../elf/core/target.js";
import type { MapSpec, ObjectSpec, ProgramSpec } from "../elf/object/types.js";
import { UsageError } from "../errors.js";
import { type Instruction, OP_LD_IMM64 } from "../isa/instruction.js";
import { PSEUDO_LD } from "../isa/opcodes.js";
import { fixedObjectBtf } from "../loader/btf-fixup.js";
import { fillKconfig } from "../loader/kconfig.js";
import { encodeInto, encodeValue, parseValueText } from "../loader/values.js";
import { type BuiltContext, buildContext, type CtxInput, layoutFromFormat, RegionPool } from "./context.js";
import { VmFault, type VmSourceLine } from "./errors.js";
import { simHelpers } from "./helpers/index.js";
import { btfLayout } from "./helpers/kernel-objects.js";
import { kfuncCallId, kfuncFns, kfuncHelpers } from "./helpers/kfuncs.js";
import type { MemorySegment, Runtime, TaskInfo } from "./helpers/runtime.js";
import { TimerTable } from "./helpers/timers.js";
import { createVm, type VmEngine, type VmProgram } from "./interpreter.js";
import { ArrayMap } from "./maps/array.js";
import { createSimMap } from "./maps/create.js";
import { ArrayOfMaps, HashOfMaps, ProgArray } from "./maps/fd-maps.js";
import type { MapDef, SimMap } from "./maps/types.js";
import { SimMapView } from "./maps/view.js";
import { Memory, type Region } from "./memory.js";

export interface SimulateOptions {
  /** Target BTF for CO-RE programs: a Btf or a file; default /sys/kernel/btf/vmlinux (read only when needed). */
  readonly btf?: Btf | string;
  /** Possible CPUs (per-CPU maps hold this many values). Default 1. */
  readonly cpus?: number;
  /** The CPU programs run on (bpf_get_smp_processor_id). Default 0. */
  readonly cpu?: number;
  /** The current task. Defaults: pid = tgid = 1000, uid = gid = 0, comm "tsbpf-sim", task 0xffff888000100000. */
  readonly task?: Partial<TaskInfo>;
  /** CLOCK_MONOTONIC for time helpers. Default: starts at 1 s and advances 1 µs per reading. */
  readonly clock?: () => bigint;
  /** CLOCK_BOOTTIME - CLOCK_MONOTONIC. Default 0. */
  readonly bootOffsetNs?: bigint;
  /** u32 source for bpf_get_prandom_u32. Default: a xorshift32 seeded with 1. */
  readonly random?: () => number;
  /** Memory bpf_probe_read_kernel / _user (and %s in printk) can read. */
  readonly kernelMemory?: readonly MemorySegment[];
  readonly userMemory?: readonly MemorySegment[];
  /** Instruction pointers bpf_get_stackid / bpf_get_stack "capture". */
  readonly stacks?: { readonly kernel?: readonly bigint[]; readonly user?: readonly bigint[] };
  /**
   * Values of __kconfig externs by name (default 0), or "running": the running kernel's, as the
   * loader fills them (uname, /proc/config.gz).
   */
  readonly kconfig?: { readonly [name: string]: number | bigint | boolean } | "running";
  /**
   * Addresses of kernel symbols (`extern ... __ksym`) by name, what libbpf takes from
   * /proc/kallsyms. Without one, a weak symbol is 0 and a strong one faults when loaded (kfuncs:
   * see the kfunc rules in helpers/kfuncs.ts).
   */
  readonly ksyms?: { readonly [name: string]: bigint };
  /** Global variables to set before running (`.rodata` knobs, `.data`, `.bss`), by name, as the loader's `set`. */
  readonly set?: Readonly<Record<string, unknown>>;
  /** Instruction budget per run. Default 1,000,000. */
  readonly budget?: number;
  /** "interp" (default, the reference) or "jit" (the compiled fast path): same results. */
  readonly engine?: VmEngine;
  /**
   * Where tracepoint `format` files are read from, to lay out named fields of a tracepoint
   * context (raw_syscalls/sys_enter needs none). Default /sys/kernel/tracing; false: never.
   */
  readonly tracefs?: string | false;
}

export interface SimRunInput {
  /** The context: named fields, raw bytes, or (raw tracepoints) the argument list. */
  readonly ctx?: CtxInput;
  /** The packet (XDP, tc, socket filter, cgroup_skb...). */
  readonly packet?: Uint8Array;
  /** Raw tracepoint arguments (the same as `ctx: [...]`). */
  readonly args?: readonly (number | bigint)[];
  /** Instruction budget of this run. */
  readonly budget?: number;
  /** Run this many times (like BPF_PROG_TEST_RUN's repeat); results are the last run's, durationNs the mean. */
  readonly repeat?: number;
}

export interface SimRunResult {
  /** r0 at exit, low 32 bits unsigned: what BPF_PROG_TEST_RUN reports. */
  readonly retval: number;
  /** All 64 bits of r0. */
  readonly r0: bigint;
  /** The packet after the run (from data_meta for XDP, from the Ethernet header for skb programs). */
  readonly packetOut?: Uint8Array;
  /**
   * The context after the run, as BPF_PROG_TEST_RUN's ctx_out: skb programs, the __sk_buff fields
   * it copies back (mark, priority, cb...), 192 bytes; sk_lookup, the bpf_sk_lookup given with
   * cookie 0; sock_ops (no kernel test run), the bpf_sock_ops with the program's reply.
   */
  readonly ctxOut?: Uint8Array;
  /** bpf_printk messages of this run. */
  readonly printk: readonly string[];
  /** Instructions executed (of the last run). */
  readonly insnsExecuted: number;
  /** Mean wall time per run in ns, measured in this process. */
  readonly durationNs: number;
  /** bpf_redirect target, when the program called it. */
  readonly redirect?: { readonly ifindex: number; readonly flags: number };
}

export interface SimProgram {
  readonly spec: ProgramSpec;
  readonly vm: VmProgram;
  run(input?: SimRunInput): SimRunResult;
}

export interface Simulation {
  /** The spec after CO-RE relocation. */
  readonly spec: ObjectSpec;
  /** The helpers' world: change cpu, task, clock... between runs. */
  readonly runtime: Runtime;
  readonly memory: Memory;
  program(name: string): SimProgram;
  map(name: string): SimMapView;
  /** Every bpf_printk message since the simulation started. */
  readonly printk: readonly string[];
  /**
   * Run the callbacks of the bpf_timers due by `untilNs` on their clock (default: every timer
   * armed now), soonest first, as the kernel would once that time has come; a callback that
   * re-arms its timer within the horizon runs again. Returns how many callbacks ran.
   */
  fireTimers(untilNs?: bigint): number;
  /** Nothing to release offline; here so code written for the live LoadedObject runs unchanged. */
  close(): void;
  [Symbol.dispose](): void;
}

let kernelBtfCache: Btf | undefined;

/** Where the fake addresses of kfuncs start (kernel text, 16 bytes apart by VM kfunc id). */
const FAKE_KFUNC_TEXT = 0xffffffffc0000000n;

/** Callbacks one fireTimers call may run. */
const MAX_TIMER_FIRES = 1_000_000;

/** Program types whose loads through BTF pointers the kernel makes non-faulting (BPF_PROBE_MEM). */
const PROBE_MEM_TYPES: ReadonlySet<string> = new Set(["tracing", "lsm", "struct_ops"]);

function targetBtf(opt: Btf | string | undefined): Btf {
  if (opt !== undefined && typeof opt !== "string") return opt;
  if (opt === undefined && kernelBtfCache) return kernelBtfCache;
  const path = opt ?? KERNEL_BTF_PATH;
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new UsageError(
      "E_VM_BTF",
      `cannot read target BTF ${path}: ${(e as Error).message}; give one with btf`,
    );
  }
  const btf = btfFromBytes(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), { file: path });
  if (opt === undefined) kernelBtfCache = btf;
  return btf;
}

/** Whether a value type holds a struct bpf_spin_lock (directly or in a nested struct). */
function hasSpinLock(btf: Btf | undefined, id: number, depth = 0): boolean {
  if (!btf || id === 0 || depth > 8) return false;
  const t = btf.typeById(btf.resolve(id));
  if (t.kind !== "STRUCT" && t.kind !== "UNION") return false;
  if (t.name === "bpf_spin_lock") return true;
  return t.members.some((m) => hasSpinLock(btf, m.type, depth + 1));
}

function defOf(m: MapSpec, btf?: Btf): MapDef {
  return {
    name: m.name,
    type: m.type,
    typeName: m.typeName,
    keySize: m.keySize,
    valueSize: m.valueSize,
    maxEntries: m.maxEntries,
    flags: m.flags,
    readonly: m.readonly,
    ...(m.data ? { data: m.data } : {}),
    ...(hasSpinLock(btf, m.btfValueTypeId) ? { spinLock: true } : {}),
    ...(m.inner ? { inner: defOf(m.inner, btf) } : {}),
  };
}

function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function sourceLines(p: ProgramSpec): ((slot: number) => VmSourceLine | undefined) | undefined {
  if (p.lineInfo.length === 0) return undefined;
  const lines = [...p.lineInfo].sort((a, b) => a.insn - b.insn);
  return (slot) => {
    let best: (typeof lines)[number] | undefined;
    for (const l of lines) {
      if (l.insn > slot) break;
      best = l;
    }
    return best && { file: best.file, line: best.line, column: best.column, text: best.text.trim() };
  };
}

function writeInt(b: Uint8Array, off: number, size: number, v: bigint): void {
  let x = BigInt.asUintN(size * 8, v);
  for (let i = 0; i < size && off + i < b.length; i++) {
    b[off + i] = Number(x & 0xffn);
    x >>= 8n;
  }
}

/** Build a simulation of an object (relocating CO-RE programs against the target BTF first). */
export function simulate(spec0: ObjectSpec, opts: SimulateOptions = {}): Simulation {
  if (spec0.byteOrder !== "le") {
    throw new UsageError(
      "E_VM_ENDIAN",
      `${spec0.file ?? spec0.name}: big-endian object; the simulator runs little-endian programs, as this kernel does`,
    );
  }
  const needsCore = spec0.programs.some((p) => p.coreRelos.length > 0);
  const spec = needsCore ? relocate(spec0, targetBtf(opts.btf)).spec : spec0;
  const cpus = opts.cpus ?? 1;
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 4096)
    throw new UsageError("E_VM_CPUS", `cpus must be 1..4096, got ${cpus}`);
  const memory = new Memory();
  const pool = new RegionPool(memory);
  const maps = new Map<string, SimMap>();
  const byRegion = new Map<number, SimMap>();
  const timers = new TimerTable();
  const env = { memory, cpus, freed: (r: Region) => timers.drop(r) };
  /** Maps by the address a program holds for them (bigint keys compare by value). */
  const byAddress = new Map<bigint, SimMap>();
  const addMap = (def: MapDef): SimMap => {
    const m = createSimMap(def, env);
    byRegion.set(m.region.id, m);
    byAddress.set(m.region.address(0), m);
    return m;
  };
  // kconfig values land in the .kconfig map's initial bytes
  const kconfigData = new Map<string, Uint8Array>();
  for (const m of spec.maps) {
    if (m.origin !== "kconfig") continue;
    const data = new Uint8Array(m.valueSize);
    const kc = opts.kconfig;
    if (kc === "running") {
      if (spec.btf) fillKconfig(spec.btf, spec.externs, data);
    } else {
      for (const x of spec.externs) {
        const v = kc?.[x.name];
        if (x.kind === "kconfig" && x.offset >= 0 && v !== undefined)
          writeInt(data, x.offset, x.size, BigInt(v));
      }
    }
    kconfigData.set(m.name, data);
  }
  for (const m of spec.maps) {
    const def = defOf(m, spec.btf);
    const data = kconfigData.get(m.name);
    maps.set(m.name, addMap(data ? { ...def, data } : def));
  }
  // map-in-map initial slots (inner maps named in `values = { ... }`)
  for (const m of spec.maps) {
    const sm = maps.get(m.name);
    for (const s of m.initSlots ?? []) {
      if (sm instanceof ArrayOfMaps) {
        const inner = maps.get(s.name);
        if (inner) sm.set(s.index, inner);
      } else if (sm instanceof HashOfMaps) {
        const inner = maps.get(s.name);
        const key = new Uint8Array(m.keySize);
        writeInt(key, 0, Math.min(4, m.keySize), BigInt(s.index));
        if (inner) sm.set(key, inner);
      } else if (sm instanceof ProgArray) {
        sm.set(s.index, s.name);
      }
    }
  }

  // global variables set by name, as the loader's `set` (strings parsed for the variable's type)
  for (const [name, raw] of Object.entries(opts.set ?? {})) {
    const v = spec.variables.find((x) => x.name === name);
    if (!v) {
      const known = spec.variables.filter((x) => x.global).map((x) => x.name);
      throw new UsageError(
        "E_NO_VARIABLE",
        `no global variable '${name}' (globals: ${known.join(", ") || "none"})`,
      );
    }
    const m = maps.get(v.map);
    if (!(m instanceof ArrayMap))
      throw new UsageError("E_NO_VARIABLE", `variable '${name}': no data map '${v.map}'`);
    const value = typeof raw === "string" ? parseValueText(spec.btf, v.btfTypeId, raw) : raw;
    const store = m.stores[0];
    if (spec.btf && v.btfTypeId) encodeInto(spec.btf, v.btfTypeId, value, store, v.offset);
    else store.set(encodeValue(undefined, 0, value, v.size), v.offset);
  }

  let clockNs = 1_000_000_000n;
  const printk: string[] = [];
  const programs = new Map<string, SimProgram>();
  const runtime: Runtime = {
    memory,
    cpus,
    cpu: opts.cpu ?? 0,
    task: {
      pid: 1000,
      tgid: 1000,
      uid: 0,
      gid: 0,
      comm: "tsbpf-sim",
      task: 0xffff888000100000n,
      ...opts.task,
    },
    clock:
      opts.clock ??
      (() => {
        clockNs += 1000n;
        return clockNs;
      }),
    bootOffsetNs: opts.bootOffsetNs ?? 0n,
    random: opts.random ?? xorshift(1),
    kernelMemory: opts.kernelMemory ?? [],
    userMemory: opts.userMemory ?? [],
    stacks: { kernel: opts.stacks?.kernel ?? [], user: opts.stacks?.user ?? [] },
    progType: "",
    progName: "",
    timers,
    kernelLayout: btfLayout(() => targetBtf(opts.btf)),
    packet: undefined,
    printk,
    redirect: undefined,
    mapAt: (address) => byAddress.get(address),
    mapByRegion: (id) => byRegion.get(id),
    maps: () => byRegion.values(),
    programByName: (name) => (spec.programs.some((p) => p.name === name) ? program(name).vm : undefined),
  };
  // kfunc calls (ksym externs) become VM helper calls by tsbpf's kfunc ids (helpers/kfuncs.ts)
  const kfuncNames = new Set<string>();
  for (const p of spec.programs)
    for (const i of p.insns) if (i.opcode === 0x85 && i.ref?.kind === "extern") kfuncNames.add(i.ref.symbol);
  const unlistedKfuncs = [...kfuncNames].filter((n) => kfuncId(n) === undefined);
  const helpers = [...simHelpers(runtime), ...kfuncHelpers(runtime, kfuncNames, unlistedKfuncs)];

  const kconfigMap = spec.maps.find((m) => m.origin === "kconfig")?.name;
  const simulatedKfuncs = new Set(Object.keys(kfuncFns(runtime)));
  /**
   * The address an ld_imm64 of a __ksym loads: the test's (opts.ksyms), else for a kfunc a fake
   * kernel text address when the VM simulates it or it is not weak (a call then faults naming
   * it), and 0 for a weak one it does not simulate, so bpf_ksym_exists() guards take their
   * fallback; a weak symbol otherwise is 0 (libbpf's missing weak ksym), a strong one unresolved.
   */
  const ksymAddress = (name: string, isFunction: boolean, weak: boolean): bigint | undefined => {
    const given = opts.ksyms?.[name];
    if (given !== undefined) return BigInt.asUintN(64, given);
    if (isFunction && (!weak || simulatedKfuncs.has(name)))
      return FAKE_KFUNC_TEXT + BigInt(kfuncCallId(name, unlistedKfuncs)) * 16n;
    return weak ? 0n : undefined;
  };
  const resolve = (insn: Instruction): bigint | undefined => {
    const ref = insn.ref;
    if (ref?.kind === "map") return maps.get(ref.map)?.region.address(0);
    if (ref?.kind === "mapValue") {
      const m = maps.get(ref.map);
      return m instanceof ArrayMap ? m.elemRegion(0).address(ref.offset) : undefined;
    }
    if (ref?.kind === "extern") {
      const k = spec.externs.find((e) => e.name === ref.symbol && e.kind === "ksym");
      if (k !== undefined) return ksymAddress(k.name, k.isFunction, k.weak);
    }
    if (ref?.kind === "extern" && kconfigMap !== undefined) {
      const x = spec.externs.find((e) => e.name === ref.symbol && e.kind === "kconfig");
      const m = maps.get(kconfigMap);
      if (x && m instanceof ArrayMap) return m.elemRegion(0).address(x.offset + insn.imm);
    }
    return undefined;
  };
  /** Mark ld_imm64 references with the pseudo source libbpf would give them, so the VM resolves them. */
  const prepare = (insns: readonly Instruction[]): Instruction[] =>
    insns.map((i) => {
      // a call of a ksym extern is a kfunc call: a helper call by the kfunc's VM id
      if (i.opcode === 0x85 && i.ref?.kind === "extern")
        return { ...i, src: 0, imm: kfuncCallId(i.ref.symbol, unlistedKfuncs) };
      if (i.opcode !== OP_LD_IMM64 || i.src !== 0 || !i.ref) return i;
      if (i.ref.kind === "map") return { ...i, src: PSEUDO_LD.MAP_FD };
      if (i.ref.kind === "mapValue") return { ...i, src: PSEUDO_LD.MAP_VALUE };
      if (i.ref.kind === "extern") return { ...i, src: PSEUDO_LD.MAP_VALUE };
      return i;
    });

  function program(name: string): SimProgram {
    const cached = programs.get(name);
    if (cached) return cached;
    const p = spec.program(name);
    const vm = createVm(
      prepare(p.insns),
      { memory, helpers, resolveLdImm64: resolve },
      { name: p.name, sourceOf: sourceLines(p), ...(opts.engine ? { engine: opts.engine } : {}) },
    );
    const sp: SimProgram = { spec: p, vm, run: (input = {}) => runProgram(p, vm, input) };
    programs.set(name, sp);
    return sp;
  }

  /** A bpf_timer callback as a program of its own: the program's code entered at the callback. */
  const callbacks = new Map<string, VmProgram>();
  const callbackVm = (name: string, slot: number): VmProgram => {
    const id = `${name}@${slot}`;
    let vm = callbacks.get(id);
    if (vm === undefined) {
      const p = spec.program(name);
      vm = createVm(
        prepare(p.insns),
        { memory, helpers, resolveLdImm64: resolve },
        {
          name: `${p.name} (timer callback)`,
          entry: slot,
          sourceOf: sourceLines(p),
          ...(opts.engine ? { engine: opts.engine } : {}),
        },
      );
      callbacks.set(id, vm);
    }
    return vm;
  };

  function fireTimers(untilNs?: bigint): number {
    const simMaps = [...byRegion.values()];
    // elements deleted since the last run are freed first, and their timers with them
    for (const m of simMaps) m.settle();
    // timers re-armed by a callback fire in this call only if due by the first batch's horizon
    const horizon = untilNs ?? timers.due(undefined).at(-1)?.expires;
    if (horizon === undefined) return 0;
    let fired = 0;
    for (;;) {
      // a callback that keeps re-arming itself at the same instant would never let time pass
      if (fired >= MAX_TIMER_FIRES)
        throw new VmFault("budget", `fireTimers: ${fired} callbacks ran without reaching ${horizon} ns`);
      const t = timers.due(horizon)[0];
      if (t === undefined || t.callback === undefined) break;
      t.expires = undefined; // the kernel disarms a timer before its callback runs
      const cb = t.callback;
      const p = spec.program(cb.program);
      const key = memory.add({ kind: "map-key", name: `${t.map.def.name} key`, bytes: t.key.slice() });
      key.writable = false;
      runtime.progType = p.type.name;
      runtime.progName = p.name;
      memory.probeRead = PROBE_MEM_TYPES.has(p.type.name) ? probeKernel : undefined;
      timers.firing = t;
      try {
        callbackVm(cb.program, cb.slot).run({
          args: [t.map.region.address(0), key.address(0), t.region.address(t.offset)],
          ...(opts.budget !== undefined ? { budget: opts.budget } : {}),
        });
      } finally {
        timers.firing = undefined;
        memory.probeRead = undefined;
        memory.remove(key);
        for (const m of simMaps) m.settle();
      }
      fired++;
    }
    return fired;
  }

  const probeKernel = (address: bigint, size: number): bigint | undefined => {
    for (const seg of runtime.kernelMemory) {
      const off = address - seg.address;
      if (off >= 0n && off + BigInt(size) <= BigInt(seg.bytes.length)) {
        let v = 0n;
        for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(seg.bytes[Number(off) + i]);
        return v;
      }
    }
    return undefined;
  };

  const formats = new Map<string, CtxLayout | undefined>();
  /** The record layout of a tracepoint from tracefs (field names, and the record's size). */
  const tracepointLayout = (p: ProgramSpec, ctx: CtxInput | undefined): CtxLayout | undefined => {
    const target = p.attachTarget;
    if (p.type.name !== "tracepoint" || target === undefined || target === "raw_syscalls/sys_enter")
      return undefined;
    if (ctx instanceof Uint8Array || Array.isArray(ctx) || opts.tracefs === false) return undefined;
    if (!formats.has(target)) {
      let layout: CtxLayout | undefined;
      try {
        const text = readFileSync(`${opts.tracefs ?? "/sys/kernel/tracing"}/events/${target}/format`, "utf8");
        layout = layoutFromFormat(parseTracepointFormat(text));
      } catch {
        layout = undefined; // no tracefs here: only the common fields can be named
      }
      formats.set(target, layout);
    }
    return formats.get(target);
  };

  /**
   * The maps settled after every repetition of a run: one function for the simulation's life
   * (a new closure per run would cost V8's optimized repeat loop a deoptimization per run).
   */
  let settling: SimMap[] = [];
  const settleAll = (): void => {
    for (let i = 0; i < settling.length; i++) settling[i].settle();
  };

  function runProgram(p: ProgramSpec, vm: VmProgram, input: SimRunInput): SimRunResult {
    const repeat = input.repeat ?? 1;
    if (!Number.isInteger(repeat) || repeat < 1)
      throw new UsageError("E_VM_REPEAT", `repeat must be >= 1, got ${repeat}`);
    const budget = input.budget ?? opts.budget;
    // like BPF_PROG_TEST_RUN, every repetition runs on the same context and packet
    if (input.args !== undefined && input.ctx !== undefined) {
      throw new UsageError("E_VM_CTX", "give ctx or args, not both");
    }
    const ctxIn: CtxInput | undefined = input.args ?? input.ctx;
    const tpLayout = tracepointLayout(p, ctxIn);
    const built: BuiltContext = buildContext(pool, {
      progType: p.type.name,
      ...(tpLayout ? { tracepointLayout: tpLayout } : {}),
      ...(p.attachTarget !== undefined ? { attachTarget: p.attachTarget } : {}),
      ...(ctxIn !== undefined ? { ctx: ctxIn } : {}),
      ...(input.packet !== undefined ? { packet: input.packet } : {}),
    });
    runtime.progType = p.type.name;
    runtime.progName = p.name;
    runtime.packet = built.packet;
    // tracing programs load through BTF pointers as BPF_PROBE_MEM: from the kernel image, else 0
    memory.probeRead = PROBE_MEM_TYPES.has(p.type.name) ? probeKernel : undefined;
    runtime.redirect = undefined;
    let r0 = 0n;
    let insns = 0;
    const first = printk.length;
    const runOpts = {
      args: [built.region.address(0)],
      ...(budget !== undefined ? { budget } : {}),
      ...(built.packet ? { packet: built.packet.region } : {}),
    };
    let out: Uint8Array | undefined;
    let ctxOut: Uint8Array | undefined;
    const t0 = process.hrtime.bigint();
    let total = 0n;
    try {
      // only the maps that can have work (hash maps free elements): a no-op call per
      // repetition costs more than some short programs take
      settling = [...byRegion.values()].filter((m) => m.settleFree !== true);
      // one VM call for all repetitions (the context pointer converted once, as the kernel's
      // test run reuses its ctx); elements deleted or replaced during a run are freed after it
      // (the kernel's RCU grace period)
      const res = vm.runRepeat(runOpts, repeat, settling.length > 0 ? settleAll : undefined);
      r0 = res.r0;
      insns = res.insns;
      total = process.hrtime.bigint() - t0;
      out = built.packetOut();
      ctxOut = built.ctxOut();
    } finally {
      for (const m of byRegion.values()) m.settle();
      runtime.packet = undefined;
      memory.probeRead = undefined;
      built.release();
    }

    const result: SimRunResult = {
      retval: Number(r0 & 0xffffffffn),
      r0,
      ...(out !== undefined ? { packetOut: out } : {}),
      ...(ctxOut !== undefined ? { ctxOut } : {}),
      printk: printk.slice(first),
      insnsExecuted: insns,
      durationNs: Number(total / BigInt(repeat)),
      ...(runtime.redirect ? { redirect: runtime.redirect } : {}),
    };
    return result;
  }

  const views = new Map<string, SimMapView>();
  // values decode through the BTF with DATASEC offsets fixed up (clang leaves them zero), as the loader does
  let decodeBtf: Btf | undefined;
  const valueBtf = (): Btf | undefined => {
    if (decodeBtf === undefined && spec.btf) {
      const raw = fixedObjectBtf(spec);
      decodeBtf = raw ? btfFromBytes(raw) : spec.btf;
    }
    return decodeBtf;
  };
  return {
    spec,
    runtime,
    memory,
    program,
    printk,
    fireTimers,
    close: () => {},
    [Symbol.dispose]: () => {},
    map(name: string): SimMapView {
      const cached = views.get(name);
      if (cached) return cached;
      const m = maps.get(name);
      const ms = spec.maps.find((x) => x.name === name);
      if (!m || !ms) {
        throw new UsageError(
          "E_VM_NO_MAP",
          `no map '${name}' (maps: ${[...maps.keys()].join(", ") || "none"})`,
        );
      }
      const v = new SimMapView({
        map: m,
        cpus,
        ...(spec.btf ? { btf: valueBtf() } : {}),
        keyTypeId: ms.btfKeyTypeId,
        valueTypeId: ms.btfValueTypeId,
        mapByName: (n) => maps.get(n),
        hasProgram: (n) => spec.programs.some((p) => p.name === n),
      });
      views.set(name, v);
      return v;
    },
  };
}
