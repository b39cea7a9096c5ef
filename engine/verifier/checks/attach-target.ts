// The attach target of a BTF-attached program (tp_btf, fentry/fexit/fmod_ret, lsm, iter):
// the vmlinux FUNC it names, its FUNC_PROTO, and what that means for the program's
// return value (6.18 check_return_code, bpf_lsm_get_retval_range) and for load-time
// refusals (bpf_lsm_verify_prog's disabled hooks).

import { findByName, typeById } from '../../btf/index.ts';
import type { Btf, BtfType } from '../../btf/index.ts';
import type { Program } from '../../program/types.ts';
import { kernelBtf } from '../btf-types.ts';
import { NotImplementedError } from '../errors.ts';
import { reject, EINVAL } from '../reject.ts';
import { iterTarget } from './iter-targets.ts';

export interface AttachTarget {
  readonly btf: Btf;
  /** attach_btf_id: the FUNC (or the btf_trace_ TYPEDEF for tp_btf). */
  readonly id: number;
  readonly name: string;
  /** The target's prototype. For tp_btf the first (`void *`) parameter is already dropped. */
  readonly proto: Extract<BtfType, { kind: 'FUNC_PROTO' }>;
  readonly params: Extract<BtfType, { kind: 'FUNC_PROTO' }>['params'];
}

const isLsm = (p: Program): boolean => p.expectedAttachType === 'LSM_MAC' || p.expectedAttachType === 'LSM_CGROUP';

/** libbpf's prefix and BTF kind for the section's target name. */
function targetLookup(p: Program): [string, 'FUNC' | 'TYPEDEF'] {
  if (p.expectedAttachType === 'TRACE_RAW_TP') return ['btf_trace_', 'TYPEDEF'];
  if (isLsm(p)) return ['bpf_lsm_', 'FUNC'];
  if (p.expectedAttachType === 'TRACE_ITER') return ['bpf_iter_', 'FUNC'];
  return ['', 'FUNC'];
}

/** The program's attach target, or undefined when it names none. */
export function attachTarget(p: Program): AttachTarget | undefined {
  if (!p.attachTo) return undefined;
  const btf = kernelBtf();
  const [prefix, kind] = targetLookup(p);
  const t = findByName(btf, prefix + p.attachTo, kind);
  if (!t) throw new NotImplementedError(`attach target ${prefix}${p.attachTo} missing from vmlinux BTF`);
  let protoId = t.type;
  // tp_btf: typedef -> pointer -> FUNC_PROTO whose first argument is the tracepoint's data.
  if (kind === 'TYPEDEF') {
    const ptr = typeById(btf, protoId);
    if (ptr.kind !== 'PTR') throw new NotImplementedError(`${t.name} is not a pointer typedef`);
    protoId = ptr.type;
  }
  const proto = typeById(btf, protoId);
  if (proto.kind !== 'FUNC_PROTO') throw new NotImplementedError(`${t.name} has no FUNC_PROTO`);
  const params = kind === 'TYPEDEF' ? proto.params.slice(1) : proto.params;
  return { btf, id: t.id, name: t.name, proto, params };
}

// bpf_lsm_disabled_hooks (6.18: hooks whose calling convention BPF cannot honour).
const LSM_DISABLED = new Set([
  'vm_enough_memory', 'inode_need_killpriv', 'inode_getsecurity', 'inode_listsecurity',
  'inode_copy_up_xattr', 'getselfattr', 'getprocattr', 'setprocattr', 'key_getsecurity',
  'audit_rule_match', 'xfrm_decode_session', 'ismaclabel',
].map((h) => `bpf_lsm_${h}`));

// bool_lsm_hooks: hooks whose int return is really a boolean.
const LSM_BOOL = new Set(['xfrm_state_pol_flow_match', 'audit_rule_known', 'inode_xattr_skipcap'].map((h) => `bpf_lsm_${h}`));

/** Load-time refusals that depend on the target (bpf_lsm_verify_prog, bpf_iter_prog_supported). */
export function checkAttachTarget(p: Program): void {
  // bpf_iter_prog_supported: the target must be registered (no log line).
  if (p.expectedAttachType === 'TRACE_ITER' && p.attachTo && !iterTarget(p.attachTo)) throw reject(EINVAL, '');
  if (p.progType !== 'LSM' || !p.attachTo) return;
  const t = attachTarget(p);
  if (t && LSM_DISABLED.has(t.name)) throw reject(EINVAL, `attach_btf_id ${t.id} points to disabled hook ${t.name}`);
}

export type RetvalRule =
  | { readonly kind: 'any' }
  /** Return without even reading R0 (void LSM / struct_ops members). */
  | { readonly kind: 'void' }
  | { readonly kind: 'range'; readonly lo: number; readonly hi: number; readonly bits32: boolean };

const MAX_ERRNO = 4095;
const ANY: RetvalRule = { kind: 'any' };
const range = (lo: number, hi: number, bits32 = false): RetvalRule => ({ kind: 'range', lo, hi, bits32 });

/** The main program's return rule for TRACING, LSM, STRUCT_OPS, EXT and tp_btf. */
export function tracingRetval(p: Program): RetvalRule | undefined {
  switch (p.progType) {
    case 'RAW_TRACEPOINT':
      return p.attachTo ? range(0, 0) : ANY;
    case 'TRACING':
      switch (p.expectedAttachType) {
        case 'TRACE_FENTRY': case 'TRACE_FEXIT': return range(0, 0);
        case 'TRACE_RAW_TP': case 'MODIFY_RETURN': return ANY;
        case 'TRACE_ITER': return range(0, 1);
        default: throw new NotImplementedError(`return code of TRACING attach type ${p.expectedAttachType ?? '?'}`);
      }
    case 'LSM': {
      const t = attachTarget(p);
      if (!t) throw new NotImplementedError('LSM program without an attach target');
      const isVoid = t.proto.type === 0;
      if (p.expectedAttachType === 'LSM_CGROUP') return isVoid ? range(1, 1) : range(0, 1);
      if (isVoid) return { kind: 'void' };
      return LSM_BOOL.has(t.name) ? range(0, 1, true) : range(-MAX_ERRNO, 0, true);
    }
    case 'EXT':
      return ANY;
    case 'STRUCT_OPS':
      throw new NotImplementedError('return code check for STRUCT_OPS programs');
    default:
      return undefined;
  }
}
