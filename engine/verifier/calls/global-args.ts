// What a global function's parameters are to the verifier (6.18 btf_prepare_func_args), from
// the C types and `arg:` decl tags of its BTF prototype (FuncDef.params):
//   - integers and enums: any scalar;
//   - `arg:ctx`, or a pointer to the program type's context struct: the context;
//   - `arg:trusted` (maybe with `arg:nullable`): a trusted pointer to the kernel struct of
//     the same name (a `___flavor` suffix dropped);
//   - any other pointer: memory of the pointee's size, NULL allowed unless `arg:nonnull`.
// Dynptr and arena parameters are not modelled (NotImplementedError).

import type { FuncDef, ProgType } from '../../program/types.ts';
import { scalarSize } from '../../kernel/btf-writer.ts';
import { typeSize } from '../../btf/index.ts';
import { kernelBtf, structIdByName } from '../btf-types.ts';
import { NotImplementedError } from '../errors.ts';
import { reject, EINVAL } from '../reject.ts';

export type GlobalArg =
  | { readonly kind: 'scalar' }
  | { readonly kind: 'ctx' }
  | { readonly kind: 'mem'; readonly size: number; readonly nullable: boolean }
  | { readonly kind: 'btf'; readonly btfId: number; readonly nullable: boolean };

const EOPNOTSUPP = 95;

/** A C type as written: qualifiers dropped, pointer depth counted. */
interface CType {
  readonly base: string;
  readonly ptr: number;
  readonly tag: 'struct' | 'union' | 'enum' | undefined;
  readonly name: string;
}

function parseCType(text: string): CType {
  let t = text.replace(/\b(const|volatile|restrict)\b/g, ' ').replace(/\s+/g, ' ').trim();
  let ptr = 0;
  while (t.endsWith('*')) {
    ptr++;
    t = t.slice(0, -1).trim();
  }
  const m = /^(struct|union|enum) (\S+)$/.exec(t);
  return { base: t, ptr, tag: m ? (m[1] as CType['tag']) : undefined, name: m ? m[2] : t };
}

/** The struct a program type's context argument points at (bpf_types.h), or undefined for
 *  the `void *` / scalar context types. */
function ctxStructName(progType: ProgType): string | undefined {
  switch (progType) {
    case 'SOCKET_FILTER': case 'SCHED_CLS': case 'SCHED_ACT': case 'CGROUP_SKB': case 'LWT_IN': case 'LWT_OUT':
    case 'LWT_XMIT': case 'LWT_SEG6LOCAL': case 'SK_SKB': case 'FLOW_DISSECTOR':
      return '__sk_buff';
    case 'XDP': return 'xdp_md';
    case 'CGROUP_SOCK': return 'bpf_sock';
    case 'CGROUP_SOCK_ADDR': return 'bpf_sock_addr';
    case 'SOCK_OPS': return 'bpf_sock_ops';
    case 'SK_MSG': return 'sk_msg_md';
    case 'KPROBE': return 'pt_regs';
    case 'PERF_EVENT': return 'bpf_perf_event_data';
    case 'RAW_TRACEPOINT': case 'RAW_TRACEPOINT_WRITABLE': return 'bpf_raw_tracepoint_args';
    case 'CGROUP_DEVICE': return 'bpf_cgroup_dev_ctx';
    case 'CGROUP_SYSCTL': return 'bpf_sysctl';
    case 'CGROUP_SOCKOPT': return 'bpf_sockopt';
    case 'SK_REUSEPORT': return 'sk_reuseport_md';
    case 'SK_LOOKUP': return 'bpf_sk_lookup';
    case 'NETFILTER': return 'bpf_nf_ctx';
    default: return undefined;
  }
}

/** btf_is_prog_ctx_type: an untagged pointer to the context struct (or the kernel struct
 *  it projects, sk_buff / xdp_buff) is the context. */
function isProgCtxType(t: CType, progType: ProgType): boolean {
  if (progType === 'KPROBE' && t.base === 'bpf_user_pt_regs_t') return true;
  if (t.tag !== 'struct') return false;
  const want = ctxStructName(progType);
  if (!want) return false;
  return t.name === want || (want === '__sk_buff' && t.name === 'sk_buff') || (want === 'xdp_md' && t.name === 'xdp_buff');
}

const isU64 = (t: CType): boolean => scalarSize(t.base)?.size === 8 && !t.tag;

/** btf_validate_prog_ctx_type for an `arg:ctx` parameter; the complaint, or undefined. */
function validateCtxType(t: CType, i: number, progType: ProgType, attach: string): string | undefined {
  if (t.base === 'void') return undefined;
  if ((progType === 'KPROBE' || progType === 'PERF_EVENT') && t.base === 'bpf_user_pt_regs_t') return undefined;
  const struct = t.tag === 'struct';
  switch (progType) {
    case 'KPROBE': case 'PERF_EVENT':
      if (struct && t.name === 'pt_regs') return undefined;
      break;
    case 'RAW_TRACEPOINT': case 'RAW_TRACEPOINT_WRITABLE': case 'LSM': case 'STRUCT_OPS':
      if (isU64(t)) return undefined;
      break;
    case 'TRACING':
      if (attach === 'TRACE_RAW_TP' && struct && t.name === 'bpf_raw_tracepoint_args') return undefined;
      if (attach === 'TRACE_ITER' && struct && t.name.startsWith('bpf_iter__')) return undefined;
      if (['TRACE_RAW_TP', 'TRACE_FENTRY', 'TRACE_FEXIT', 'MODIFY_RETURN'].includes(attach) && isU64(t)) return undefined;
      break;
    case 'TRACEPOINT': case 'SYSCALL': case 'EXT':
      return undefined;
    default:
      break;
  }
  const want = ctxStructName(progType);
  if (!want) return `arg#${i} should be void pointer`;
  if (!struct || t.name !== want) return `arg#${i} should be \`struct ${want} *\``;
  return undefined;
}

/** The pointee's size for a memory parameter (btf_resolve_size). */
function pointeeSize(t: CType, i: number): number {
  if (t.ptr) return 8;
  const s = scalarSize(t.base);
  if (s && !t.tag) return s.size;
  if (t.tag === 'struct') {
    const id = structIdByName(t.name);
    const size = id ? typeSize(kernelBtf(), id) : undefined;
    if (size !== undefined) return size;
  }
  if (t.base === 'void') throw reject(EINVAL, `arg#${i} reference type('UNKNOWN ') size cannot be determined: -22`);
  throw new NotImplementedError(`size of global function parameter type ${t.base}`);
}

const KNOWN_TAGS = ['ctx', 'trusted', 'nonnull', 'nullable', 'arena'];

/** btf_prepare_func_args for a global function: its parameters, or the complaint. */
export function prepareGlobalArgs(f: FuncDef, progType: ProgType, attach: string): GlobalArg[] {
  if (f.ret !== undefined) {
    const r = parseCType(f.ret);
    if (r.ptr || (r.tag && r.tag !== 'enum') || r.base === 'void' || (!r.tag && !scalarSize(r.base))) {
      throw reject(EINVAL, `Global function ${f.name}() doesn't return scalar. Only those are supported.`);
    }
  }
  return (f.params ?? []).map((p, i) => {
    const tags = new Set<string>();
    for (const tag of p.tags ?? []) {
      const name = tag.replace(/^arg:/, '');
      if (!tag.startsWith('arg:') || !KNOWN_TAGS.includes(name)) throw reject(EOPNOTSUPP, `arg#${i} has unsupported set of tags`);
      tags.add(name);
    }
    const t = parseCType(p.type);
    const invalid = (): never => {
      throw reject(EINVAL, `arg#${i} has invalid combination of tags`);
    };
    if (!t.ptr) {
      if (tags.size) throw reject(EINVAL, `arg#${i} has pointer tag, but is not a pointer type`);
      if (t.tag === 'enum' || (!t.tag && scalarSize(t.base))) return { kind: 'scalar' } as const;
      const kind = t.tag === 'union' ? 'UNION' : t.tag === 'struct' ? 'STRUCT' : 'UNKNOWN';
      throw reject(EINVAL, `Arg#${i} type ${kind} in ${f.name}() is not supported yet.`);
    }
    const pointee = parseCType(p.type.replace(/\*\s*$/, ''));
    if (tags.has('ctx') || isProgCtxType(pointee, progType)) {
      if ([...tags].some((x) => x !== 'ctx')) invalid();
      if (tags.has('ctx')) {
        const bad = validateCtxType(pointee, i, progType, attach);
        if (bad) throw reject(EINVAL, bad);
      }
      return { kind: 'ctx' } as const;
    }
    if (pointee.tag === 'struct' && pointee.name === 'bpf_dynptr') {
      if (tags.size) invalid();
      throw new NotImplementedError('global function dynptr parameters');
    }
    if (tags.has('trusted')) {
      if (tags.has('nonnull')) invalid();
      if (pointee.tag !== 'struct') throw reject(EINVAL, `arg#${i} reference type('${pointee.tag ?? 'UNKNOWN'} ${pointee.name}') is not a struct`);
      const btfId = structIdByName(pointee.name.replace(/___.*$/, ''));
      if (!btfId) throw reject(EINVAL, `arg#${i} reference type('STRUCT ${pointee.name}') is not found in kernel`);
      return { kind: 'btf', btfId, nullable: tags.has('nullable') } as const;
    }
    if (tags.has('arena')) {
      if (tags.size > 1) throw reject(EINVAL, `arg#${i} arena cannot be combined with any other tags`);
      throw new NotImplementedError('global function arena parameters');
    }
    if (tags.has('nullable')) invalid();
    return { kind: 'mem', size: pointeeSize(pointee, i), nullable: !tags.has('nonnull') } as const;
  });
}
