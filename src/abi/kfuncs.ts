/**
 * Kernel functions (kfuncs) BPF programs call with BPF_PSEUDO_KFUNC_CALL: their flags from the
 * kernel's BTF_ID_FLAGS registrations (6.18: kernel/bpf/helpers.c, kernel/bpf/cpumask.c) and the
 * kfunc id sets they belong to, which decide the program types allowed to call them
 * (register_btf_kfunc_id_set per program type / hook). Prototypes come from the kernel BTF, not
 * from here. Only the common kfuncs are listed; the verifier refuses the others as not modelled.
 */

export type KfuncFlag =
  | "KF_ACQUIRE"
  | "KF_RELEASE"
  | "KF_RET_NULL"
  | "KF_TRUSTED_ARGS"
  | "KF_SLEEPABLE"
  | "KF_DESTRUCTIVE"
  | "KF_RCU"
  | "KF_RCU_PROTECTED"
  | "KF_ITER_NEW"
  | "KF_ITER_NEXT"
  | "KF_ITER_DESTROY";

/** The id set a kfunc is registered in. */
export type KfuncSet = "common" | "generic" | "cpumask" | "skb" | "xdp";

export interface Kfunc {
  readonly name: string;
  readonly flags: readonly KfuncFlag[];
  readonly set: KfuncSet;
}

const k = (name: string, set: KfuncSet, ...flags: KfuncFlag[]): Kfunc => ({ name, set, flags });

export const KFUNCS: readonly Kfunc[] = [
  // generic_btf_ids (kernel/bpf/helpers.c)
  k("bpf_task_acquire", "generic", "KF_ACQUIRE", "KF_RCU", "KF_RET_NULL"),
  k("bpf_task_release", "generic", "KF_RELEASE"),
  k("bpf_task_from_pid", "generic", "KF_ACQUIRE", "KF_RET_NULL"),
  k("bpf_task_from_vpid", "generic", "KF_ACQUIRE", "KF_RET_NULL"),
  k("bpf_cgroup_acquire", "generic", "KF_ACQUIRE", "KF_RCU", "KF_RET_NULL"),
  k("bpf_cgroup_release", "generic", "KF_RELEASE"),
  k("bpf_cgroup_ancestor", "generic", "KF_ACQUIRE", "KF_RCU", "KF_RET_NULL"),
  k("bpf_cgroup_from_id", "generic", "KF_ACQUIRE", "KF_RET_NULL"),
  k("bpf_task_under_cgroup", "generic", "KF_RCU"),
  k("bpf_task_get_cgroup1", "generic", "KF_ACQUIRE", "KF_RCU", "KF_RET_NULL"),
  // common_btf_ids (kernel/bpf/helpers.c): every program type
  k("bpf_rcu_read_lock", "common"),
  k("bpf_rcu_read_unlock", "common"),
  k("bpf_copy_from_user_str", "common", "KF_SLEEPABLE"),
  k("bpf_iter_num_new", "common", "KF_ITER_NEW"),
  k("bpf_iter_num_next", "common", "KF_ITER_NEXT", "KF_RET_NULL"),
  k("bpf_iter_num_destroy", "common", "KF_ITER_DESTROY"),
  k("bpf_dynptr_slice", "common", "KF_RET_NULL"),
  k("bpf_dynptr_slice_rdwr", "common", "KF_RET_NULL"),
  k("bpf_dynptr_adjust", "common"),
  k("bpf_dynptr_is_null", "common"),
  k("bpf_dynptr_is_rdonly", "common"),
  k("bpf_dynptr_size", "common"),
  k("bpf_dynptr_clone", "common"),
  // bpf_kfunc_check_set_skb / _xdp (net/core/filter.c)
  k("bpf_dynptr_from_skb", "skb"),
  k("bpf_dynptr_from_xdp", "xdp"),
  // cpumask_kfunc_btf_ids (kernel/bpf/cpumask.c)
  k("bpf_cpumask_create", "cpumask", "KF_ACQUIRE", "KF_RET_NULL"),
  k("bpf_cpumask_release", "cpumask", "KF_RELEASE"),
  k("bpf_cpumask_acquire", "cpumask", "KF_ACQUIRE", "KF_TRUSTED_ARGS"),
  k("bpf_cpumask_first", "cpumask", "KF_RCU"),
  k("bpf_cpumask_set_cpu", "cpumask", "KF_RCU"),
  k("bpf_cpumask_clear_cpu", "cpumask", "KF_RCU"),
  k("bpf_cpumask_test_cpu", "cpumask", "KF_RCU"),
];

const BY_NAME: ReadonlyMap<string, Kfunc> = new Map(KFUNCS.map((f) => [f.name, f]));

export function kfuncByName(name: string): Kfunc | undefined {
  return BY_NAME.get(name);
}

const ID_BY_NAME: ReadonlyMap<string, number> = new Map(KFUNCS.map((f, i) => [f.name, i]));

/**
 * tsbpf's own number for a kfunc: its index in KFUNCS (the kernel's number, a BTF id, differs
 * from kernel to kernel). The VM calls kfuncs by it.
 */
export function kfuncId(name: string): number | undefined {
  return ID_BY_NAME.get(name);
}

/**
 * Program types (bpftool names) whose kfunc hook has each set registered; `undefined` from
 * kfuncAllowed means we do not know for that program type (6.18's cgroup hooks changed around
 * then). The tracing hook serves tracing and lsm; sched_cls has its own (tc) hook, sched_act not.
 */
const SET_PROG_TYPES: Readonly<Record<KfuncSet, ReadonlySet<string> | "all">> = {
  common: "all",
  generic: new Set(["tracing", "lsm", "sched_cls", "xdp", "struct_ops", "syscall", "cgroup_skb"]),
  cpumask: new Set(["tracing", "lsm", "struct_ops", "syscall"]),
  skb: new Set([
    "sched_cls",
    "sched_act",
    "socket_filter",
    "cgroup_skb",
    "sk_skb",
    "lwt_in",
    "lwt_out",
    "lwt_xmit",
    "lwt_seg6local",
    "netfilter",
    "tracing",
  ]),
  xdp: new Set(["xdp"]),
};

const UNSURE_PROG_TYPES: ReadonlySet<string> = new Set([
  "cgroup_sock",
  "cgroup_device",
  "cgroup_sock_addr",
  "cgroup_sysctl",
  "cgroup_sockopt",
  "netfilter",
  "ext",
]);

/** Whether a program of `progType` may call `f` (false: "calling kernel function %s is not allowed"). */
export function kfuncAllowed(f: Kfunc, progType: string): boolean | undefined {
  const set = SET_PROG_TYPES[f.set];
  if (set === "all" || set.has(progType)) return true;
  return UNSURE_PROG_TYPES.has(progType) ? undefined : false;
}
