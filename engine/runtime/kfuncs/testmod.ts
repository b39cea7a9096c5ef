// bpf_testmod companions of the stack-arg kfuncs: the testmod seq iterator and the
// acquire/release pair. The iterator is the kernel side's struct bpf_iter_testmod_seq
// { s64 value; int cnt; } inside the program's 16-byte opaque iterator.

import type { KfuncFn, Machine } from '../machine.ts';
import type { Region } from '../memory.ts';
import { regionLo } from '../memory.ts';
import { viewAt } from './mem.ts';

export const ITER_VALUE_OFF = 0;
const ITER_CNT_OFF = 8;
const ITER_BYTES = 16;
const EINVAL = 22;

const iterNew: KfuncFn = (m) => {
  const v = viewAt(m, m.argU64(1), ITER_BYTES, true);
  const cnt = m.argI32(3);
  v.setBigInt64(ITER_VALUE_OFF, m.argI64(2), true);
  v.setInt32(ITER_CNT_OFF, Math.max(cnt, 0), true);
  m.setR0(cnt < 0 ? -EINVAL : 0);
};

/** Returns &it->value while the count lasts, then NULL. */
const iterNext: KfuncFn = (m) => {
  const p = m.argU64(1);
  const v = viewAt(m, p, ITER_BYTES, true);
  const cnt = v.getInt32(ITER_CNT_OFF, true);
  if (cnt <= 0) return void m.setR0(0);
  v.setInt32(ITER_CNT_OFF, cnt - 1, true);
  m.setR0(p + BigInt(ITER_VALUE_OFF));
};

const iterDestroy: KfuncFn = (m) => {
  viewAt(m, m.argU64(1), ITER_BYTES, true).setInt32(ITER_CNT_OFF, 0, true);
  m.setR0(0);
};

/** struct prog_test_ref_kfunc { int a; int b; struct prog_test_ref_kfunc *next; refcount_t cnt; },
 *  one per run, as bpf_testmod's static instance (a = 42, b = 108). */
const refObjects = new WeakMap<Machine, Region>();

function refObject(m: Machine): Region {
  let r = refObjects.get(m);
  if (!r) {
    r = m.space.add('prog_test_ref_kfunc', new Uint8Array(24));
    r.view.setInt32(0, 42, true);
    r.view.setInt32(4, 108, true);
    r.view.setUint32(8, regionLo(0), true);
    r.view.setUint32(12, r.hi, true);
    refObjects.set(m, r);
  }
  return r;
}

const acquire: KfuncFn = (m) => {
  const r = refObject(m);
  r.view.setInt32(16, r.view.getInt32(16, true) + 1, true);
  m.setR0((BigInt(r.hi) << 32n) | BigInt(regionLo(0)));
};

const release: KfuncFn = (m) => {
  const v = viewAt(m, m.argU64(1), 24, true);
  v.setInt32(16, v.getInt32(16, true) - 1, true);
  m.setR0(0);
};

export const TESTMOD_KFUNCS: Readonly<Record<string, KfuncFn>> = {
  bpf_iter_testmod_seq_new: iterNew,
  bpf_iter_testmod_seq_next: iterNext,
  bpf_iter_testmod_seq_destroy: iterDestroy,
  bpf_kfunc_call_test_acquire: acquire,
  bpf_kfunc_call_test_release: release,
};
