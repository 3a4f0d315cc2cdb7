/**
 * bpf_timer: bpf_timer_init / set_callback / start / cancel on a struct bpf_timer inside a map
 * value, with the kernel's return values. The timer's state lives beside the value's bytes
 * (which stay zero, as user space reads them: the kernel hides special fields), keyed by the value
 * region and offset, and goes when the element is freed (MapEnv.freed).
 *
 * The kernel runs a callback asynchronously when its timer expires; offline nothing runs by
 * itself: the test fires the timers that are due with Simulation.fireTimers(untilNs), which runs
 * each callback (map, key, value) as a program of its own, in expiry order. Clocks: CLOCK_MONOTONIC
 * and CLOCK_BOOTTIME read the simulation's clock (plus its boot offset); CLOCK_REALTIME, which the
 * simulation does not have, reads as CLOCK_MONOTONIC.
 */
import type { VmHelperCall, VmHelperFn } from "../env.js";
import { EBUSY, EINVAL } from "../maps/errno.js";
import type { SimMap } from "../maps/types.js";
import type { Region } from "../memory.js";
import type { Runtime } from "./runtime.js";
import { mapArg } from "./util.js";

const EDEADLK = 35;
const CLOCK_REALTIME = 0;
const CLOCK_MONOTONIC = 1;
const CLOCK_BOOTTIME = 7;
/** bpf_timer_start flags: BPF_F_TIMER_ABS, BPF_F_TIMER_CPU_PIN. */
const BPF_F_TIMER_ABS = 1n;
const TIMER_START_FLAGS = 3n;
/** sizeof(struct bpf_timer). */
const BPF_TIMER_SIZE = 16;

export interface SimTimer {
  readonly region: Region;
  readonly offset: number;
  readonly map: SimMap;
  readonly key: Uint8Array;
  readonly clock: number;
  /** The callback: the program that set it and the slot of the function in its code. */
  callback: { readonly program: string; readonly slot: number } | undefined;
  /** Expiry on the timer's clock while armed. */
  expires: bigint | undefined;
  /** Arming order, to fire timers with the same expiry in the order they were started. */
  seq: number;
}

/** Every timer of a simulation. */
export class TimerTable {
  private readonly byRegion = new Map<Region, Map<number, SimTimer>>();
  private seq = 0;
  /** The timer whose callback is running (bpf_timer_cancel of it is -EDEADLK). */
  firing: SimTimer | undefined;

  get(region: Region, offset: number): SimTimer | undefined {
    return this.byRegion.get(region)?.get(offset);
  }

  add(t: SimTimer): void {
    let m = this.byRegion.get(t.region);
    if (m === undefined) {
      m = new Map();
      this.byRegion.set(t.region, m);
    }
    m.set(t.offset, t);
  }

  arm(t: SimTimer, expires: bigint): void {
    t.expires = expires;
    t.seq = this.seq++;
  }

  /** The element holding these timers was freed: they are cancelled and gone. */
  drop(region: Region): void {
    this.byRegion.delete(region);
  }

  /** Armed timers due at `until` (every armed one when undefined), soonest first. */
  due(until: bigint | undefined): SimTimer[] {
    const out: SimTimer[] = [];
    for (const m of this.byRegion.values())
      for (const t of m.values())
        if (t.expires !== undefined && (until === undefined || t.expires <= until)) out.push(t);
    return out.sort((a, b) =>
      a.expires === b.expires ? a.seq - b.seq : (a.expires as bigint) < (b.expires as bigint) ? -1 : 1,
    );
  }
}

/** The timer an argument points to (a map value's 16 writable bytes), as region and offset. */
function timerAt(call: VmHelperCall, helper: string): { region: Region; offset: number } {
  const { region, offset } = call.memory.check(call.arg(1), BPF_TIMER_SIZE, true);
  if (region.kind !== "map-value")
    throw call.fault(`${helper}: argument 1 is not a bpf_timer in a map value`);
  return { region, offset };
}

/** The time now on a timer's clock. */
export function timerNow(rt: Runtime, clock: number): bigint {
  const mono = rt.clock();
  return clock === CLOCK_BOOTTIME ? mono + rt.bootOffsetNs : mono;
}

export function timerHelpers(rt: Runtime): Record<string, VmHelperFn> {
  const timers = rt.timers;
  const find = (call: VmHelperCall, helper: string): SimTimer | undefined => {
    const { region, offset } = timerAt(call, helper);
    return timers.get(region, offset);
  };
  return {
    timer_init: (call) => {
      const { region, offset } = timerAt(call, "bpf_timer_init");
      const map = mapArg(rt, call, 2, "bpf_timer_init");
      const clock = Number(call.arg(3) & 0xffffffffn);
      if (
        call.arg(3) > 0xffffffffn ||
        (clock !== CLOCK_REALTIME && clock !== CLOCK_MONOTONIC && clock !== CLOCK_BOOTTIME)
      )
        return -EINVAL;
      if (timers.get(region, offset) !== undefined) return -EBUSY;
      const key = map.keyOfValue?.(region);
      if (key === undefined)
        throw call.fault(`bpf_timer_init: the timer is not in a value of map ${map.def.name}`);
      timers.add({ region, offset, map, key, clock, callback: undefined, expires: undefined, seq: 0 });
      return 0;
    },
    timer_set_callback: (call) => {
      const t = find(call, "bpf_timer_set_callback");
      if (t === undefined) return -EINVAL;
      t.callback = { program: rt.progName, slot: Number(call.arg(2) & 0xffffffffn) };
      return 0;
    },
    timer_start: (call) => {
      const t = find(call, "bpf_timer_start");
      const flags = call.arg(3);
      if (flags & ~TIMER_START_FLAGS) return -EINVAL;
      if (t === undefined || t.callback === undefined) return -EINVAL;
      const ns = call.arg(2);
      timers.arm(t, flags & BPF_F_TIMER_ABS ? ns : timerNow(rt, t.clock) + ns);
      return 0;
    },
    timer_cancel: (call) => {
      const t = find(call, "bpf_timer_cancel");
      if (t === undefined) return -EINVAL;
      if (timers.firing === t) return -EDEADLK;
      const was = t.expires !== undefined;
      t.expires = undefined;
      // measured on 6.18: a cancelled timer also drops its callback (bpf_timer_start then fails
      // with -EINVAL until bpf_timer_set_callback gives one again)
      t.callback = undefined;
      return was ? 1 : 0;
    },
  };
}
