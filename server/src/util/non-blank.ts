/** A setting's value with blank meaning unset: `VAR=` or `VAR=${UNSET:-}` in a compose file leaves it empty. */
export function nonBlank(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
