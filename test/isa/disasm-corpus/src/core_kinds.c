#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct inner { int a; union { int u1; long u2; }; };
typedef const volatile struct inner inner_t;
struct outer {
	int x;
	unsigned int bf1 : 3, bf2 : 5;
	int signed_bf : 7;
	struct inner arr[4];
	inner_t *ptr;
	struct { int anon_m; };
} __attribute__((preserve_access_index));
enum small_e { S_A = 1, S_B = -2 };
enum big_e { B_A = 1, B_B = 0x100000000ULL, B_C = 0xffffffffffffffffULL };
typedef struct outer outer_td;

SEC("tp/core") int core_kinds(void *ctx)
{
	struct outer *o = ctx;
	long r = 0;
	r += BPF_CORE_READ_BITFIELD_PROBED(o, bf2);
	r += BPF_CORE_READ_BITFIELD_PROBED(o, signed_bf);
	r += BPF_CORE_READ(o, arr[2].a);
	r += BPF_CORE_READ(o, arr[3].u2);
	r += bpf_core_field_exists(o->anon_m);
	r += bpf_core_type_id_local(struct outer);
	r += bpf_core_type_id_kernel(outer_td);
	r += bpf_core_type_matches(struct outer);
	r += bpf_core_type_size(inner_t);
	r += bpf_core_enum_value_exists(enum small_e, S_B);
	r += bpf_core_enum_value(enum small_e, S_B);
	r += bpf_core_enum_value(enum big_e, B_B);
	r += bpf_core_enum_value(enum big_e, B_C);
	r += bpf_core_field_size(o->ptr);
	r += __builtin_preserve_field_info(o->signed_bf, BPF_FIELD_SIGNED);
	return r;
}
char LICENSE[] SEC("license") = "GPL";
