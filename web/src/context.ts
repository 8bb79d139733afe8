/** What every signed-in page gets from the shell. */
import type { Session } from './api.js';
import type { Live } from './live.js';

export interface Context {
  session: Session;
  live: Live;
  /** Client-side navigation to a console path. */
  navigate(path: string): void;
  /** True when the signed-in role may decide (the server still checks the policy's approvers). */
  canDecide: boolean;
}

/** Draws a page into `main`; returns what to undo when the page is left. */
export type Page = (main: HTMLElement, context: Context, params: string[]) => (() => void) | void;
