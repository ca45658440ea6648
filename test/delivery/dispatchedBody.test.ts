import { describe, expect, it } from 'vitest';
import { DispatchedBody } from '../../src/delivery/dispatchedBody.js';

/** A body with counters for what it asked of its connection. */
function newBody(): { body: DispatchedBody; aborted: () => number; resumed: () => number } {
  let aborted = 0;
  let resumed = 0;
  const body = new DispatchedBody(
    () => {
      aborted += 1;
    },
    () => {
      resumed += 1;
    },
  );
  return { body, aborted: () => aborted, resumed: () => resumed };
}

const KIB = 1024;

describe('DispatchedBody', () => {
  it('gives the chunks that arrived before and after the reader started, in order', async () => {
    const { body } = newBody();
    body.push(Buffer.from('first '));
    const reading = body.readAll(Number.POSITIVE_INFINITY);
    body.push(Buffer.from('second'));
    body.end();
    const { bytes, truncated } = await reading;
    expect(bytes.toString()).toBe('first second');
    expect(truncated).toBe(false);
  });

  it('asks for the socket to pause past 64 KiB unread, and resumes it once the reader took them', async () => {
    const { body, resumed } = newBody();
    expect(body.push(Buffer.alloc(40 * KIB, 1))).toBe(true);
    expect(body.push(Buffer.alloc(40 * KIB, 2))).toBe(false);
    expect(resumed()).toBe(0);
    const first = await body.read();
    expect(first?.length).toBe(40 * KIB);
    expect(resumed()).toBe(1);
    body.end();
    expect((await body.read())?.[0]).toBe(2);
    expect(await body.read()).toBeNull();
  });

  it('cuts a body longer than the cap, drops the connection and says so', async () => {
    const { body, aborted } = newBody();
    body.push(Buffer.from('0123456789'));
    const { bytes, truncated } = await body.readAll(4);
    expect(bytes.toString()).toBe('0123');
    expect(truncated).toBe(true);
    expect(aborted()).toBe(1);
  });

  it('does not drop a connection whose body already arrived whole', () => {
    const { body, aborted } = newBody();
    body.push(Buffer.from('done'));
    body.end();
    body.cancel();
    expect(aborted()).toBe(0);
  });

  it('rejects the read of a body that fails before its end, after the part that came', async () => {
    const { body } = newBody();
    body.push(Buffer.from('part'));
    const reading = body.read().then(async (chunk) => [chunk?.toString(), await body.read().catch((error: Error) => error.message)]);
    body.fail(new Error('other side closed'));
    expect(await reading).toEqual(['part', 'other side closed']);
    await expect(body.readAll(100)).rejects.toThrow('other side closed');
  });

  it('ignores a failure that comes after the end', async () => {
    const { body } = newBody();
    body.push(Buffer.from('whole'));
    body.end();
    body.fail(new Error('late'));
    expect((await body.readAll(100)).bytes.toString()).toBe('whole');
  });
});
