/** Sizes as the config writes them ("4mb", "512kb", "100"), in bytes; the units are Express's (1 kb = 1024 b). */
export function parseByteSize(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(value.trim());
  if (!match) throw new Error(`"${value}" is not a size (use e.g. "4mb")`);
  const unit = (match[2] ?? 'b').toLowerCase() as 'b' | 'kb' | 'mb' | 'gb';
  return Math.floor(Number(match[1]) * { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[unit]);
}
