// tp_btf arguments that may be NULL (6.18): a pointer argument of a vmlinux tracepoint is a
// trusted pointer, except for the ones below, which are trusted but NULL-able.
//
// Derived from the live 6.18 kernel, not from source: one tp_btf program per vmlinux
// tracepoint (1340 of them, every struct-pointer argument loaded) showed these arguments as
// `trusted_ptr_or_null_*`, and no argument marked as a possible ERR_PTR. Tracepoints of
// kernel modules (module BTF, where every pointer argument may be NULL) are not modelled.

/** Tracepoint name (without `btf_trace_`) -> indexes of its NULL-able arguments. */
const NULLABLE: Readonly<Record<string, readonly number[]>> = {
  break_lease_block: [1],
  break_lease_noblock: [1],
  break_lease_unblock: [1],
  ext4_mballoc_discard: [1],
  ext4_mballoc_free: [1],
  fcntl_setlk: [1],
  fib_table_lookup: [2],
  flock_lock_inode: [1],
  folio_wait_writeback: [1],
  generic_delete_lease: [1],
  hugetlbfs_alloc_inode: [1],
  kfree_skb: [3],
  locks_remove_posix: [1],
  mm_collapse_huge_page_isolate: [0],
  mm_khugepaged_collapse_file: [1],
  mm_khugepaged_scan_file: [1],
  mm_khugepaged_scan_pmd: [1],
  mm_page_alloc: [0],
  mm_page_alloc_zone_locked: [0],
  mm_page_pcpu_drain: [0],
  posix_lock_inode: [1],
  qdisc_dequeue: [3],
  sched_pi_setprio: [1],
  sched_stick_numa: [2],
  sched_swap_numa: [2],
  tcp_send_reset: [0, 1],
  tcp_sendmsg_locked: [2],
  time_out_leases: [1],
  writeback_dirty_folio: [1],
  xfs_blockgc_flush_all: [0],
  xfs_blockgc_free_space: [1],
  xfs_blockgc_start: [0],
  xfs_blockgc_stop: [0],
  xfs_blockgc_worker: [0],
  xfs_btree_overlapped_query_range: [2],
  xfs_btree_updkeys: [2],
  xfs_defer_add_item: [0],
  xfs_defer_cancel_item: [0],
  xfs_defer_cancel_list: [0],
  xfs_defer_create_intent: [0],
  xfs_defer_finish_item: [0],
  xfs_defer_isolate_paused: [0],
  xfs_defer_item_pause: [0],
  xfs_defer_item_unpause: [0],
  xfs_defer_pending_abort: [0],
  xfs_defer_pending_finish: [0],
  xfs_defer_relog_intent: [0],
  xfs_fs_sync_fs: [0],
  xfs_inodegc_flush: [0],
  xfs_inodegc_push: [0],
  xfs_inodegc_queue: [0],
  xfs_inodegc_start: [0],
  xfs_inodegc_stop: [0],
  xfs_inodegc_throttle: [0],
  xfs_ioc_free_eofblocks: [1],
  xfs_map_blocks_alloc: [4],
  xfs_map_blocks_found: [4],
};

/** Whether argument `arg` (0-based, after the hidden `void *__data`) of tracepoint `tp` may
 *  be NULL. */
export function rawTpArgNullable(tp: string, arg: number): boolean {
  return Object.hasOwn(NULLABLE, tp) && NULLABLE[tp].includes(arg);
}
