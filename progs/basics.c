// Our own C programs for specs/c_basics.yaml. `make progs` compiles them with clang-19 and
// writes each function's bytecode into the spec tests that name it with `from:`.

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* A bounded loop whose trip count comes from the packet (64 / 6 = 10): 1 + 2 + ... + 10. */
SEC("tc")
int sum_to_ten(struct __sk_buff *skb)
{
	int n = skb->len / 6, sum = 0;

	for (int i = 1; i <= n && i <= 16; i++)
		sum += i;
	return sum;
}

static __attribute__((noinline)) int fib(int n)
{
	int a = 0, b = 1;

	for (int i = 0; i < n && i < 32; i++) {
		int t = a + b;

		a = b;
		b = t;
	}
	return a;
}

/* A bpf-to-bpf call into a static subprogram: fib(64 / 6). */
SEC("tc")
int call_fib(struct __sk_buff *skb)
{
	return fib(skb->len / 6);
}

/* Array map update through a looked-up pointer, read back. */
SEC("tc")
int count_twice(struct __sk_buff *skb)
{
	__u32 key = 2;
	__u64 *v = bpf_map_lookup_elem(&counters, &key);

	if (!v)
		return -1;
	*v += 20;
	*v += 22;
	return *v;
}

/* The packet length through xdp_md's data/data_end pointers. */
SEC("xdp")
int xdp_len(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	return data_end - data;
}

/* A bounds-checked packet read: the first byte of a zero packet, plus 7. */
SEC("tc")
int first_byte(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	unsigned char *data_end = (void *)(long)skb->data_end;

	if (data + 1 > data_end)
		return -1;
	return data[0] + 7;
}

char _license[] SEC("license") = "GPL";
