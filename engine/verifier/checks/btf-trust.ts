// How much of a trusted (or RCU-protected) kernel pointer's trust a pointer field read
// through it keeps (6.18 check_ptr_to_btf_access). By default none: the field's value is
// not known to be alive. The kernel names the exceptions in vmlinux BTF itself, as structs
// called `<struct>__safe_trusted`, `__safe_trusted_or_null`, `__safe_rcu` and
// `__safe_rcu_or_null` whose pointer members (name and pointee type) list the fields that
// stay trusted, trusted-but-NULL-able, RCU-protected, or RCU-protected-and-NULL-able
// (e.g. bpf_iter_meta.seq, task_struct.real_parent). They are read from the running
// kernel's BTF, so the lists are always the kernel's own.

import type { Btf } from '../../btf/index.ts';
import { typeById, skipModifiers, findByName } from '../../btf/index.ts';
import type { RegState } from '../state/types.ts';
import { PTR_TRUSTED, PTR_UNTRUSTED, PTR_MAYBE_NULL, MEM_RCU, MEM_USER, MEM_PERCPU, BASE_TYPE_MASK, mayBeNull } from '../state/types.ts';

type SafeList = '__safe_trusted' | '__safe_trusted_or_null' | '__safe_rcu' | '__safe_rcu_or_null';

/** btf_nested_type_is_trusted: `field` of the struct `structId`, pointing at `pointeeId`,
 *  is a pointer member of the struct's `<name><suffix>` list. */
export function isSafeField(btf: Btf, structId: number, field: string, pointeeId: number, suffix: SafeList): boolean {
  const st = typeById(btf, structId);
  if (st.kind !== 'STRUCT' && st.kind !== 'UNION') return false;
  const safe = findByName(btf, st.name + suffix, st.kind);
  if (!safe) return false;
  return safe.members.some((m) => {
    const mt = typeById(btf, m.type);
    return mt.kind === 'PTR' && m.name === field && skipModifiers(btf, mt.type) === pointeeId;
  });
}

/** is_trusted_reg / is_rcu_reg for a PTR_TO_BTF_ID: referenced, or PTR_TRUSTED with no
 *  flag that weakens it; or RCU-protected. */
export function isTrustedOrRcu(reg: RegState): boolean {
  if (reg.type & MEM_RCU) return true;
  if (reg.refObjId) return true;
  // Any other flag (NULL-able, untrusted, __user, ...) weakens PTR_TRUSTED.
  return (reg.type & PTR_TRUSTED) !== 0 && (reg.type & ~BASE_TYPE_MASK & ~PTR_TRUSTED) === 0;
}

/** The flags of a pointer read from field `field` (pointee `pointeeId`, flags `walked` from
 *  the walk: __rcu/__user/__percpu tags, PTR_UNTRUSTED below a union) through `reg`, a
 *  trusted or RCU pointer. `inRcuCs`: an RCU read section holds (non-sleepable programs
 *  always, sleepable ones under bpf_rcu_read_lock or a spin lock). */
export function inheritedTrust(btf: Btf, reg: RegState, field: string, pointeeId: number, walked: number, inRcuCs: boolean): number {
  const structId = reg.btfId ?? 0;
  const listed = (suffix: SafeList): boolean => isSafeField(btf, structId, field, pointeeId, suffix);
  if (listed('__safe_trusted')) return walked | PTR_TRUSTED;
  if (listed('__safe_trusted_or_null')) return walked | PTR_TRUSTED | PTR_MAYBE_NULL;
  // Outside an RCU section, or from a pointer that may be NULL, nothing is kept.
  if (!inRcuCs || mayBeNull(reg.type)) return PTR_UNTRUSTED;
  if (listed('__safe_rcu')) return walked | MEM_RCU;
  const rcuOrNull = listed('__safe_rcu_or_null');
  if (rcuOrNull || walked & MEM_RCU) {
    // __rcu fields may be NULL; listed ones are trusted even below a union.
    const f = walked | MEM_RCU | PTR_MAYBE_NULL;
    return rcuOrNull ? f & ~PTR_UNTRUSTED : f;
  }
  if (walked & (MEM_PERCPU | MEM_USER)) return walked;
  // Any other field: an old-style plain pointer (no trust flags).
  return walked & ~(PTR_TRUSTED | MEM_RCU);
}
