import { describe, expect, it } from 'vitest';
import type { ReadableSpan, Span } from '@opentelemetry/sdk-trace-base';
import { OpenSpans } from '../src/pipeline/in-progress.js';

const span = (name: string, frozen = false): Span => {
  const made = { name } as unknown as Span;
  return frozen ? Object.freeze(made) : made;
};
const names = (open: OpenSpans) => open.takeUnended().map((record) => record.span.name);

describe('OpenSpans', () => {
  it('gives the spans still open in start order, whatever ended in between', () => {
    const open = new OpenSpans(false, 100);
    const spans = ['a', 'b', 'c', 'd', 'e'].map((name, i) => span(name, i % 2 === 1));
    for (const s of spans) expect(open.started(s, () => true)).toBe('tracked');
    open.ended(spans[0] as unknown as ReadableSpan);
    open.ended(spans[3] as unknown as ReadableSpan);
    open.ended(spans[3] as unknown as ReadableSpan);
    expect(open.size).toBe(3);
    expect(names(open)).toEqual(['b', 'c', 'e']);
    expect(open.size).toBe(0);
  });

  it('two trackers of the same spans (two processors) each keep their own books, and a span carries one slot for both', () => {
    const first = new OpenSpans(false, 100);
    const second = new OpenSpans(false, 100);
    const spans = ['a', 'b', 'c', 'd', 'e', 'f'].map((name) => span(name));
    for (const s of spans) {
      first.started(s, () => true);
      second.started(s, () => true);
    }
    // A span only the second tracker sees, started after the first one's positions moved around.
    first.ended(spans[0] as unknown as ReadableSpan);
    const late = span('g');
    second.started(late, () => true);
    for (const at of [2, 4]) {
      first.ended(spans[at] as unknown as ReadableSpan);
      second.ended(spans[at] as unknown as ReadableSpan);
    }
    second.ended(spans[5] as unknown as ReadableSpan);
    expect(spans.every((s) => Object.getOwnPropertySymbols(s).length === 1)).toBe(true);
    expect(names(first)).toEqual(['b', 'd', 'f']);
    expect(names(second)).toEqual(['a', 'b', 'd', 'g']);
  });

  it('a span ended after takeUnended() does not remove a span started since', () => {
    const open = new OpenSpans(false, 100);
    const old = span('old');
    const frozen = span('frozen', true);
    open.started(old, () => true);
    open.started(frozen, () => true);
    open.takeUnended();
    const fresh = span('fresh');
    open.started(fresh, () => true);
    open.ended(old as unknown as ReadableSpan);
    open.ended(frozen as unknown as ReadableSpan);
    expect(names(open)).toEqual(['fresh']);
  });

  it('marks a queued start record superseded when its span ends, and leaves it out at shutdown', () => {
    const open = new OpenSpans(true, 2);
    const [a, b, c] = [span('a'), span('b'), span('c')];
    const records: unknown[] = [];
    expect(open.started(a, (record) => records.push(record) > 0)).toBe('start queued');
    expect(open.started(b, () => false)).toBe('start dropped');
    expect(open.started(c, () => true)).toBe('untracked');
    open.ended(a as unknown as ReadableSpan);
    expect(records).toEqual([expect.objectContaining({ superseded: true })]);
    expect(names(open)).toEqual(['b']);
  });
});
