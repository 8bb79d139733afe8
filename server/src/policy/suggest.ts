/**
 * "Did you mean" for policy authors: the nearest valid word to a misspelled key, op, action, window or scope.
 * Owns only string distance; callers decide which words are valid at a location.
 */

/**
 * Edit distance counting insert, delete, substitute and swapping two neighbours ("nqe" → "neq") as one edit
 * each (optimal string alignment), case-insensitive, with `-` read as `_`.
 */
export function editDistance(a: string, b: string): number {
  const x = normalise(a);
  const y = normalise(b);
  const rows: number[][] = [Array.from({ length: y.length + 1 }, (_, j) => j)];
  for (let i = 1; i <= x.length; i++) {
    const row = [i];
    for (let j = 1; j <= y.length; j++) {
      const above = rows[i - 1] ?? [];
      let best = Math.min((above[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (above[j - 1] ?? 0) + (x[i - 1] === y[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) best = Math.min(best, (rows[i - 2]?.[j - 2] ?? 0) + 1);
      row.push(best);
    }
    rows.push(row);
  }
  return rows[x.length]?.[y.length] ?? 0;
}

/**
 * The closest candidate, or undefined when none is close enough to be a plausible typo. Short words get a
 * tight bound so that "in" does not suggest "eq".
 */
export function nearestWord(word: string, candidates: readonly string[]): string | undefined {
  if (word.length > 64) return undefined; // a paragraph is not a typo, and distance is quadratic
  const bound = word.length <= 3 ? 1 : word.length <= 6 ? 2 : 3;
  let best: string | undefined;
  let bestDistance = bound + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** `; did you mean "x"?` or the empty string, ready to append to a message. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const nearest = nearestWord(word, candidates);
  return nearest === undefined || nearest === word ? '' : `; did you mean "${nearest}"?`;
}

function normalise(word: string): string {
  return word.toLowerCase().replaceAll('-', '_');
}
