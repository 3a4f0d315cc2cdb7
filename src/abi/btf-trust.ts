/**
 * Kernel struct fields whose pointers keep their parent's trust when a BTF pointer is walked
 * (the verifier's BTF_TYPE_SAFE_RCU / _RCU_OR_NULL / _TRUSTED / _TRUSTED_OR_NULL allow lists in
 * kernel/bpf/verifier.c, 6.18 era): walking a trusted or RCU pointer through one of these fields
 * gives an RCU (or trusted) pointer instead of the legacy untyped-trust PTR_TO_BTF_ID.
 * Keys are `struct.field`.
 */
export type FieldTrust = "rcu" | "rcu_or_null" | "trusted" | "trusted_or_null";

export const BTF_FIELD_TRUST: ReadonlyMap<string, FieldTrust> = new Map([
  ["task_struct.cpus_ptr", "rcu"],
  ["task_struct.cgroups", "rcu"],
  ["task_struct.real_parent", "rcu"],
  ["task_struct.group_leader", "rcu"],
  ["cgroup.kn", "rcu"],
  ["css_set.dfl_cgrp", "rcu"],
  ["cgroup_subsys_state.cgroup", "rcu"],
  ["mm_struct.exe_file", "rcu_or_null"],
  ["mm_struct.owner", "rcu_or_null"],
  ["sk_buff.sk", "rcu_or_null"],
  ["request_sock.sk", "rcu_or_null"],
  ["bpf_iter_meta.seq", "trusted"],
  ["bpf_iter__task.meta", "trusted"],
  ["bpf_iter__task.task", "trusted"],
  ["linux_binprm.file", "trusted"],
  ["file.f_inode", "trusted"],
]);

/**
 * Fields whose class we could not pin down for 6.18 (the lists moved between releases): walking
 * them through a trusted pointer is refused as not modelled rather than guessed.
 */
export const BTF_FIELD_TRUST_UNSURE: ReadonlySet<string> = new Set([
  "dentry.d_inode",
  "dentry.d_parent",
  "socket.sk",
  "vm_area_struct.vm_file",
  "file.f_path",
]);
