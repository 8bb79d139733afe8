/**
 * Reservations are self-contained: the (key, entry) pairs a call recorded, as JSON. Stores keep no table of
 * reservations, so there is nothing to expire, and a refund after the entries left the window is a no-op.
 */
import { AirlockError } from '../errors/airlock-error.js';

export type ReservedEntry = readonly [key: string, entry: string];

export function encodeReservation(entries: readonly ReservedEntry[]): string {
  return JSON.stringify(entries);
}

export function decodeReservation(reservation: string): ReservedEntry[] {
  let entries: unknown;
  try {
    entries = JSON.parse(reservation);
  } catch {
    entries = undefined;
  }
  if (!Array.isArray(entries) || !entries.every(isEntry)) {
    throw new AirlockError('INTERNAL', 'Not a reservation returned by this limit store');
  }
  return entries;
}

function isEntry(value: unknown): value is ReservedEntry {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string';
}
