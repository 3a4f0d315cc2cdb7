/**
 * Socket pointers: PTR_TO_SOCK_COMMON / PTR_TO_SOCKET / PTR_TO_TCP_SOCK (and their _or_null
 * forms), as helper arguments (check_reg_type's sock_types, btf_id_sock_common_types,
 * fullsock_types), as helper results (acquiring bpf_sk_lookup_*, casting bpf_sk_fullsock /
 * bpf_tcp_sock, the unreferenced bpf_get_listener_sock) and as memory (check_sock_access).
 */
import { checkSockAccess, checkTcpSockAccess } from "../abi/context-access.js";
import { type HelperArg, PTR_CAST_HELPERS } from "../abi/helpers.js";
import { mapTypeById } from "../abi/map-types.js";
import type { MapSpec } from "../elf/object/types.js";
import { notModelled, VerifyAbort } from "./errors.js";
import { acquireRef } from "./refs.js";
import { isConst, truncate } from "./scalar.js";
import { pointer, type Reg, type RegType, regTypeStr, unknownScalar, type VState } from "./state.js";

export const SOCK_ARG_KINDS: readonly string[] = [
  "ARG_PTR_TO_SOCK_COMMON",
  "ARG_PTR_TO_BTF_ID_SOCK_COMMON",
  "ARG_PTR_TO_SOCKET",
];

export const SOCK_RET_KINDS: readonly string[] = [
  "RET_PTR_TO_SOCKET",
  "RET_PTR_TO_SOCK_COMMON",
  "RET_PTR_TO_TCP_SOCK",
];

export const isSockType = (t: RegType): boolean =>
  t === "sock" || t === "sock_common" || t === "tcp_sock" || t === "xdp_sock";

const mapTypeName = (r: Reg): string | undefined => (r.map ? mapTypeById(r.map.type)?.name : undefined);

/**
 * mark_ptr_not_null_reg: a NULL-checked value from an xskmap is the AF_XDP socket, from a
 * sockmap/sockhash the socket; other types stay.
 */
export function notNullType(r: Reg): RegType {
  if (r.type !== "map_value") return r.type;
  const mt = mapTypeName(r);
  if (mt === "xskmap") return "xdp_sock";
  if (mt === "sockmap" || mt === "sockhash") return "sock";
  return r.type;
}

/** is_acquire_function's map part: bpf_map_lookup_elem on a sockmap or sockhash. */
export const acquiresFromMap = (map: MapSpec): boolean => {
  const mt = mapTypeById(map.type)?.name;
  return mt === "sockmap" || mt === "sockhash";
};

/** The register types each socket argument kind accepts, in the kernel's order (for its message). */
const COMPATIBLE: Readonly<Record<string, readonly string[]>> = {
  ARG_PTR_TO_SOCK_COMMON: ["sock_common", "sock", "tcp_sock", "xdp_sock"],
  ARG_PTR_TO_BTF_ID_SOCK_COMMON: ["sock_common", "sock", "tcp_sock", "xdp_sock", "ptr_", "trusted_ptr_"],
  ARG_PTR_TO_SOCKET: ["sock"],
};

/** Helpers whose result is a new reference (is_acquire_function, socket part). */
const ACQUIRE = new Set(["bpf_sk_lookup_tcp", "bpf_sk_lookup_udp", "bpf_skc_lookup_tcp"]);
/** Helpers whose result shares the argument's reference (is_ptr_cast_function). */
const PTR_CAST: ReadonlySet<string> = new Set(PTR_CAST_HELPERS);

/**
 * check_reg_type + check_func_arg_reg_off for a socket argument (a NULL constant for a
 * PTR_MAYBE_NULL argument is handled by the caller). Returns the register's ref_obj_id.
 */
export function checkSockArg(t: number, regno: number, reg: Reg, arg: HelperArg): number {
  const allowed = COMPATIBLE[arg.base]!;
  // the arg's PTR_MAYBE_NULL folds the register's
  const nullOk = arg.flags.includes("PTR_MAYBE_NULL");
  if (reg.type === "btf_id") throw notModelled(t, `a BTF pointer passed as ${arg.base}`);
  const ok = isSockType(reg.type) && (!reg.maybeNull || nullOk) && allowed.includes(reg.type);
  if (!ok) throw new VerifyAbort(t, `R${regno} type=${regTypeStr(reg)} expected=${allowed.join(", ")}`);
  if (arg.flags.includes("OBJ_RELEASE")) {
    if (reg.off !== 0) {
      throw new VerifyAbort(
        t,
        `R${regno} must have zero offset when passed to release func or trusted arg to kfunc`,
      );
    }
    if (!reg.refObjId)
      throw new VerifyAbort(t, `R${regno} must be referenced when passed to release function`);
  }
  return reg.refObjId;
}

/**
 * R0 after a helper returning a socket pointer: a maybe-NULL result gets an id for its NULL
 * check; an acquiring helper's result is a new reference (its id is also the pointer's id), a
 * casting helper's result carries the argument's reference.
 */
export function sockReturn(
  st: VState,
  t: number,
  helper: string,
  base: string,
  maybeNull: boolean,
  argRefObjId: number,
  nextId: () => number,
): Reg {
  const type: RegType =
    base === "RET_PTR_TO_SOCKET" ? "sock" : base === "RET_PTR_TO_SOCK_COMMON" ? "sock_common" : "tcp_sock";
  const r = pointer(type, { maybeNull });
  if (maybeNull) r.id = nextId();
  if (PTR_CAST.has(helper)) r.refObjId = argRefObjId;
  else if (ACQUIRE.has(helper)) {
    const id = nextId();
    acquireRef(st, id, t);
    r.id = id;
    r.refObjId = id;
  }
  return r;
}

/** check_mem_access on a socket pointer: read-only, per-type field rules; loads give unknown scalars. */
export function sockAccess(
  insn: number,
  regno: number,
  reg: Reg,
  off: number,
  size: number,
  write: boolean,
): Reg {
  const name = regTypeStr(reg);
  if (write) throw new VerifyAbort(insn, `R${regno} cannot write into ${name}`);
  if (reg.smin < 0n) {
    throw new VerifyAbort(
      insn,
      `R${regno} min value is negative, either use unsigned index or do a if (index >=0) check.`,
    );
  }
  if (!isConst(reg)) throw notModelled(insn, `a variable offset into ${name}`);
  const valid =
    reg.type === "tcp_sock" || reg.type === "xdp_sock"
      ? checkTcpSockAccess(reg.type, off, size)
      : checkSockAccess(reg.type === "sock" ? "sock" : "sock_common", off, size).ok;
  if (!valid) throw new VerifyAbort(insn, `R${regno} invalid ${name} access off=${off} size=${size}`);
  const v = unknownScalar();
  truncate(v, size);
  return v;
}
