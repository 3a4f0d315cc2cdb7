/** The errno values helpers and map operations return (negated), as on Linux x86-64. */
export const EPERM = 1;
export const ENOENT = 2;
export const E2BIG = 7;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const EINVAL = 22;
export const ENOSPC = 28;
export const ERANGE = 34;
export const EOPNOTSUPP = 95;
/** The kernel-internal ENOTSUPP that some helpers leak to programs. */
export const ENOTSUPP = 524;

/** Update flags of map_update_elem. */
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;
export const BPF_F_LOCK = 4;

const NAMES: Readonly<Record<number, string>> = {
  [EPERM]: "EPERM",
  [ENOENT]: "ENOENT",
  [E2BIG]: "E2BIG",
  [EAGAIN]: "EAGAIN",
  [ENOMEM]: "ENOMEM",
  [EFAULT]: "EFAULT",
  [EBUSY]: "EBUSY",
  [EEXIST]: "EEXIST",
  [EINVAL]: "EINVAL",
  [ENOSPC]: "ENOSPC",
  [ERANGE]: "ERANGE",
  [EOPNOTSUPP]: "EOPNOTSUPP",
  [ENOTSUPP]: "ENOTSUPP",
};

/** "ENOENT" for 2 or -2. */
export function errnoName(code: number): string {
  return NAMES[Math.abs(code)] ?? `errno ${Math.abs(code)}`;
}
