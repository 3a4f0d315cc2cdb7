/**
 * What simulated helpers read and change besides the program's registers: the task and CPU
 * the program "runs on", the clock, randomness, the memory image probe_read sees, fake stacks,
 * the maps and programs of the simulation, the packet of the current run, and what the run
 * produced (printk lines, redirect). A simulation owns one and resets the per-run parts.
 */
import type { VmProgram } from "../interpreter.js";
import type { SimMap } from "../maps/types.js";
import type { Memory, Region } from "../memory.js";
import type { KernelLayout } from "./kernel-objects.js";
import type { TimerTable } from "./timers.js";

/** A piece of the kernel's or a process's memory that bpf_probe_read_* can read. */
export interface MemorySegment {
  readonly address: bigint;
  readonly bytes: Uint8Array;
}

/** The current task as the task helpers report it. */
export interface TaskInfo {
  readonly pid: number;
  readonly tgid: number;
  readonly uid: number;
  readonly gid: number;
  readonly comm: string;
  /** What bpf_get_current_task returns: an address in the kernel memory image, or any value. */
  readonly task: bigint;
}

/** The packet of the current run and how the program type sees it. */
export interface PacketState {
  readonly region: Region;
  readonly kind: "skb" | "xdp";
  /** Offset in region.bytes where the buffer's usable area ends (xdp: frame end minus shared info). */
  readonly hardEnd: number;
  /** Offset of the first byte data_meta may reach (xdp: after struct xdp_frame). */
  readonly hardStart: number;
}

export interface Runtime {
  readonly memory: Memory;
  readonly cpus: number;
  cpu: number;
  task: TaskInfo;
  /** CLOCK_MONOTONIC in ns (bpf_ktime_get_ns). */
  clock: () => bigint;
  /** CLOCK_BOOTTIME minus CLOCK_MONOTONIC (time spent suspended), ns. */
  bootOffsetNs: bigint;
  random: () => number;
  kernelMemory: readonly MemorySegment[];
  userMemory: readonly MemorySegment[];
  stacks: { kernel: readonly bigint[]; user: readonly bigint[] };
  /** Program type name of the program being run (helpers whose meaning depends on it). */
  progType: string;
  /** Name of the program being run (a bpf_timer callback belongs to it). */
  progName: string;
  /** The simulation's bpf_timers. */
  readonly timers: TimerTable;
  /** Kernel struct layouts (from the target BTF) for helpers that read kernel objects; undefined: none. */
  readonly kernelLayout?: KernelLayout;
  packet: PacketState | undefined;
  /** Captured bpf_printk / bpf_trace_printk messages (trace_pipe's message part). */
  readonly printk: string[];
  /** Last bpf_redirect target of the run. */
  redirect: { ifindex: number; flags: number } | undefined;
  mapAt(address: bigint): SimMap | undefined;
  /** The map whose region has this id (a map pointer's high half names it), or undefined. */
  mapByRegion(regionId: number): SimMap | undefined;
  /** Every map of the simulation (inner maps included). */
  maps(): Iterable<SimMap>;
  programByName(name: string): VmProgram | undefined;
}
