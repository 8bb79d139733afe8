/**
 * Console roles: what a signed-in person may do. Reading is open to every role; deciding needs `approver` or
 * `admin` (and the policy must still name the person: the approval service checks that); `admin` also manages
 * the console. Kept apart so the CLI, the sign-in and the routes agree on one list.
 */
export const ROLES = ['viewer', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function mayDecide(role: Role): boolean {
  return role === 'approver' || role === 'admin';
}
