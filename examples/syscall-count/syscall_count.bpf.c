// SPDX-License-Identifier: GPL-2.0
/* Counts system calls by number, system-wide.
 *
 * Attached to the raw_syscalls:sys_enter tracepoint, which fires on entry to
 * every system call. The key of `syscall_counts` is the syscall number
 * (x86-64 numbering on this machine), the value how many times it was made.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* The tracepoint record, as described by
 * /sys/kernel/tracing/events/raw_syscalls/sys_enter/format. */
struct sys_enter_args {
	__u64 common;        /* common_type, flags, preempt_count, pid */
	long id;             /* the syscall number */
	unsigned long args[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);   /* syscall number */
	__type(value, __u64); /* count */
} syscall_counts SEC(".maps");

SEC("tracepoint/raw_syscalls/sys_enter")
int trace_sys_enter(struct sys_enter_args *ctx)
{
	__u32 id = (__u32)ctx->id;
	__u64 one = 1;
	__u64 *count;

	count = bpf_map_lookup_elem(&syscall_counts, &id);
	if (count) {
		__sync_fetch_and_add(count, 1);
		return 0;
	}
	/* First time this syscall is seen. Another CPU may insert the same key
	 * in between; BPF_NOEXIST makes the loser fail instead of resetting
	 * the count, and that lost increment is accepted. */
	bpf_map_update_elem(&syscall_counts, &id, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
