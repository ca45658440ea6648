/**
 * What arrived at the receiver, checked against what the app processes of the crash and
 * multi-instance tests journaled: event n of a run is record `rec-${n % records}` at revision
 * `n / records + 1`.
 *
 * @internal test helper
 */
import { expect } from 'vitest';
import { deliveryIdOf } from '../../src/events/deliveryId.js';
import type { RecordedRequest } from './receiver.js';

/** The record and revision each delivery id carries. */
export type Journaled = ReadonlyMap<string, { readonly recordId: string; readonly revision: number }>;

/** The deliveries to `endpoint` of the events `eventIds`, event `eventIds[i]` being event number `numbers[i]` (default: i). */
export function journaledDeliveries(endpoint: string, records: number, eventIds: readonly string[], numbers?: readonly number[]): Map<string, { recordId: string; revision: number }> {
  const expected = new Map<string, { recordId: string; revision: number }>();
  eventIds.forEach((eventId, i) => {
    const n = numbers === undefined ? i : (numbers[i] ?? -1);
    expected.set(deliveryIdOf(eventId, endpoint), { recordId: `rec-${n % records}`, revision: Math.floor(n / records) + 1 });
  });
  return expected;
}

/**
 * Checks the requests against what was journaled: every delivery id arrived, none unknown,
 * each (record, revision) under one delivery id only, and per record the revisions never go
 * back (a duplicate re-sends the request in flight, before the next one). Returns the figures.
 */
export function checkArrivals(
  requests: readonly RecordedRequest[],
  expected: Journaled,
): { readonly unique: number; readonly duplicates: number; readonly missing: readonly string[]; readonly unknown: readonly string[]; readonly orderViolations: readonly string[]; readonly contentUnderOtherIds: readonly string[] } {
  const seen = new Set<string>();
  const unknown: string[] = [];
  const idOfContent = new Map<string, string>();
  const contentUnderOtherIds: string[] = [];
  const lastRevision = new Map<string, number>();
  const orderViolations: string[] = [];
  for (const request of requests) {
    const wanted = expected.get(request.deliveryId);
    if (wanted === undefined) unknown.push(request.deliveryId);
    seen.add(request.deliveryId);
    const content = `${request.recordId}@${request.revision}`;
    const firstId = idOfContent.get(content);
    if (firstId === undefined) idOfContent.set(content, request.deliveryId);
    else if (firstId !== request.deliveryId) contentUnderOtherIds.push(`${content}: ${firstId} and ${request.deliveryId}`);
    const last = lastRevision.get(request.recordId) ?? -Infinity;
    if (request.revision < last) orderViolations.push(`${request.recordId}: revision ${request.revision} after ${last}`);
    lastRevision.set(request.recordId, Math.max(last, request.revision));
  }
  const missing = [...expected.keys()].filter((id) => !seen.has(id));
  return { unique: seen.size, duplicates: requests.length - seen.size, missing, unknown, orderViolations, contentUnderOtherIds };
}

/**
 * Expects none of `expected` lost, none unknown, no content under two delivery ids, the
 * order per record kept, `expected.size` distinct deliveries and at most `maxDuplicates`
 * repeats (the requests in flight when a process died). Returns the figures.
 */
export function expectEveryDeliveryOnceInOrder(requests: readonly RecordedRequest[], expected: Journaled, maxDuplicates: number): ReturnType<typeof checkArrivals> {
  const check = checkArrivals(requests, expected);
  expect(check.missing).toEqual([]);
  expect(check.unknown).toEqual([]);
  expect(check.contentUnderOtherIds).toEqual([]);
  expect(check.orderViolations).toEqual([]);
  expect(check.unique).toBe(expected.size);
  expect(check.duplicates).toBeLessThanOrEqual(maxDuplicates);
  return check;
}
