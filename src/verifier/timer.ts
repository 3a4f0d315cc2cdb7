/**
 * bpf_timer helpers on map values whose BTF value type holds a struct bpf_timer
 * (process_timer_func / check_map_field_pointer), and the timer callback: an async callback the
 * kernel verifies as a program of its own (push_async_cb), from a fresh frame 0 holding
 * R1 = the map, R2 = a key and R3 = the value (set_timer_callback_state), which must return 0.
 */
import type { MapSpec } from "../elf/object/types.js";
import { VerifyAbort } from "./errors.js";
import { fieldOf, mapFields } from "./map-fields.js";
import { isConst } from "./scalar.js";
import { newFrame, pointer, type Reg, regTypeStr, type VState } from "./state.js";

/** The timer's map (meta->map_ptr) after checking the ARG_PTR_TO_TIMER register. */
export function processTimerArg(t: number, regno: number, reg: Reg): MapSpec {
  if (reg.type !== "map_value" || reg.maybeNull)
    throw new VerifyAbort(t, `R${regno} type=${regTypeStr(reg)} expected=map_value`);
  if (!isConst(reg)) {
    throw new VerifyAbort(
      t,
      `R${regno} doesn't have constant offset. bpf_timer has to be at the constant offset`,
    );
  }
  const map = reg.map!;
  const name = map.name.slice(0, 15);
  if (!mapFields(map).hasBtf)
    throw new VerifyAbort(t, `map '${name}' has to have BTF in order to use bpf_timer`);
  const timer = fieldOf(map, "bpf_timer");
  if (!timer) throw new VerifyAbort(t, `map '${name}' has no valid bpf_timer`);
  const off = BigInt.asIntN(64, reg.varOff.value) + BigInt(reg.off);
  if (off !== BigInt(timer.offset))
    throw new VerifyAbort(t, `off ${off} doesn't point to 'struct bpf_timer' that is at ${timer.offset}`);
  return map;
}

/** ARG_CONST_MAP_PTR after a timer argument: it must be the timer's own map. */
export function checkTimerMap(t: number, timerMap: MapSpec, reg: Reg): void {
  if (reg.map !== timerMap)
    throw new VerifyAbort(t, "timer pointer in R1 map_uid=0 doesn't match map pointer in R2 map_uid=0");
}

/** The state a timer callback starts from (a program of its own: no caller frame, no references). */
export function timerCallbackState(map: MapSpec, callback: number): VState {
  const f = newFrame(0, -1, callback);
  f.regs[1] = pointer("map_ptr", { map });
  f.regs[2] = pointer("map_key", { map });
  f.regs[3] = pointer("map_value", { map });
  f.isAsync = true;
  f.callbackRet = [0, 0];
  return { frames: [f], refs: [], trace: [`timer callback at ${callback}`] };
}
