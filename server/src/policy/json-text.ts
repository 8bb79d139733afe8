/**
 * The policy text as JSON with positions: syntax errors, duplicate keys and 1-based line:column for any path.
 * Strict JSON on purpose (no comments, no trailing commas, no duplicate keys): a policy must read the same in
 * every tool, and with duplicate keys JSON readers disagree about which one wins.
 */
import { findNodeAtLocation, parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser';

import type { Segment } from './paths.js';

export interface TextProblem {
  offset: number;
  path: Segment[];
  message: string;
}

/** When `ok`, the value can be validated; `problems` may still hold key problems found beside it. */
export type ParsedText =
  | { ok: true; tree: Node; value: unknown; lines: LineIndex; problems: TextProblem[] }
  | { ok: false; problems: TextProblem[]; lines: LineIndex };

const MAX_DEPTH = 64;

const SYNTAX_MESSAGES: Record<string, string> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'invalid number',
  PropertyNameExpected: 'expected a property name in double quotes',
  ValueExpected: 'expected a value',
  ColonExpected: 'expected ":"',
  CommaExpected: 'expected ","',
  CloseBraceExpected: 'expected "}"',
  CloseBracketExpected: 'expected "]"',
  EndOfFileExpected: 'unexpected content after the end of the policy',
  InvalidCommentToken: 'comments are not allowed in a policy (it is strict JSON)',
  UnexpectedEndOfComment: 'unterminated comment',
  UnexpectedEndOfString: 'unterminated string',
  UnexpectedEndOfNumber: 'unterminated number',
  InvalidUnicode: 'invalid unicode escape',
  InvalidEscapeCharacter: 'invalid escape character',
  InvalidCharacter: 'invalid character in string (control characters must be escaped)',
};

export function parseJsonText(text: string): ParsedText {
  const lines = new LineIndex(text);
  const errors: ParseError[] = [];
  const tree = parseTree(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  if (errors.length > 0 || tree === undefined) {
    const problems: TextProblem[] = [];
    for (const error of errors) {
      // The parser often reports one mistake twice at the same place ("name expected", "value expected").
      if (problems.at(-1)?.offset === error.offset) continue;
      problems.push({ offset: error.offset, path: [], message: `JSON syntax error: ${syntaxMessage(text, error)}` });
    }
    if (problems.length === 0) problems.push({ offset: 0, path: [], message: 'JSON syntax error: the policy is empty' });
    return { ok: false, problems, lines };
  }
  if (tree.type !== 'object') {
    return { ok: false, problems: [{ offset: tree.offset, path: [], message: `a policy must be a JSON object (got ${tree.type})` }], lines };
  }
  const problems: TextProblem[] = [];
  checkKeys(tree, [], 0, problems);
  // The text is strict JSON, so JSON.parse reads it as the tree does and gives plain objects. With a duplicate
  // key it keeps the last; that is already a problem, and validation goes on to report the others.
  return { ok: true, tree, value: JSON.parse(text) as unknown, lines, problems };
}

function syntaxMessage(text: string, error: ParseError): string {
  const code = printParseErrorCode(error.error);
  const next = text[error.offset];
  if ((next === '}' || next === ']') && text.slice(0, error.offset).trimEnd().endsWith(',')) {
    return 'trailing commas are not allowed in a policy (it is strict JSON)';
  }
  if (code === 'InvalidSymbol' && /^[A-Za-z_$][\w$]*\s*:/.test(text.slice(error.offset, error.offset + 130))) {
    return 'property names must be in double quotes';
  }
  return SYNTAX_MESSAGES[code] ?? code;
}

/** Duplicate keys, `__proto__` keys and runaway nesting: all ambiguities JSON itself allows. */
function checkKeys(node: Node, path: Segment[], depth: number, problems: TextProblem[]): void {
  if (depth > MAX_DEPTH) {
    problems.push({ offset: node.offset, path, message: `nested more than ${MAX_DEPTH} levels deep` });
    return;
  }
  if (node.type === 'array') {
    node.children?.forEach((child, i) => checkKeys(child, [...path, i], depth + 1, problems));
    return;
  }
  if (node.type !== 'object') return;
  const seen = new Set<string>();
  for (const property of node.children ?? []) {
    const [keyNode, valueNode] = property.children ?? [];
    if (keyNode === undefined) continue;
    const key = String(keyNode.value);
    if (key === '__proto__') {
      problems.push({ offset: keyNode.offset, path: [...path, key], message: '"__proto__" is not allowed as a key' });
    } else if (seen.has(key)) {
      problems.push({ offset: keyNode.offset, path: [...path, key], message: `duplicate key "${key}"; JSON readers disagree about which one wins` });
    }
    seen.add(key);
    if (valueNode !== undefined) checkKeys(valueNode, [...path, key], depth + 1, problems);
  }
}

/**
 * Offset of the best place to point at for `path`: the key itself when `atKey` (an unknown key), else the
 * value, else the nearest enclosing node that exists (a missing key points at its object).
 */
export function offsetOf(tree: Node, path: readonly Segment[], atKey = false): number {
  for (let length = path.length; length >= 0; length--) {
    const node = findNodeAtLocation(tree, path.slice(0, length) as Segment[]);
    if (node === undefined) continue;
    const keyNode = node.parent?.type === 'property' ? node.parent.children?.[0] : undefined;
    return atKey && length === path.length && keyNode !== undefined ? keyNode.offset : node.offset;
  }
  return tree.offset;
}

export class LineIndex {
  readonly #starts: number[] = [0];

  constructor(text: string) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) this.#starts.push(i + 1);
    }
  }

  /** 1-based line and column (UTF-16 units) of an offset. */
  position(offset: number): { line: number; column: number } {
    let low = 0;
    let high = this.#starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if ((this.#starts[mid] ?? 0) <= offset) low = mid;
      else high = mid - 1;
    }
    return { line: low + 1, column: offset - (this.#starts[low] ?? 0) + 1 };
  }
}
