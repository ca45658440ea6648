/**
 * The body of a response sent with a `content-encoding`, decoded as `fetch` decodes it, and
 * incrementally: a small compressed body that inflates to gigabytes is only ever inflated as far
 * as its reader reads.
 */
import { Transform } from 'node:stream';
import zlib from 'node:zlib';
import { DispatchedBody, type ResponseBody } from './dispatchedBody.js';

/** The most codings a response may list, as in undici's `fetch` (more is an attack, not a body). */
const MAX_CODINGS = 5;

/**
 * The decoders of a `content-encoding` header, the first one to apply first (codings are listed
 * in the order they were applied, so they are undone right to left). gzip, x-gzip, deflate (zlib
 * or raw), br and zstd are decoded; an empty list means the body is left as it is, because there
 * is no coding or one of them is unknown (what undici's `fetch` does too).
 *
 * @throws Error when the header lists more than 5 codings, as undici's `fetch` does.
 * @example
 * ```ts
 * decodersFor('gzip'); // [Gunzip]
 * decodersFor('gzip, br'); // [BrotliDecompress, Gunzip]
 * decodersFor('compress'); // []: left as it is
 * ```
 * @internal
 */
export function decodersFor(contentEncoding: string | undefined): Transform[] {
  if (contentEncoding === undefined || contentEncoding === '') return [];
  const codings = contentEncoding.toLowerCase().split(',');
  if (codings.length > MAX_CODINGS) {
    throw new Error(`Expected a response with at most ${MAX_CODINGS} content codings, got ${codings.length} (content-encoding: ${contentEncoding.slice(0, 200)})`);
  }
  const decoders: Transform[] = [];
  for (let i = codings.length - 1; i >= 0; i -= 1) {
    const decoder = decoderOf((codings[i] as string).trim());
    if (decoder === undefined) return [];
    decoders.push(decoder);
  }
  return decoders;
}

// Lenient flushing, as undici's `fetch` (and curl) decode: a body cut short still yields what it has.
function decoderOf(coding: string): Transform | undefined {
  switch (coding) {
    case 'gzip':
    case 'x-gzip':
      return zlib.createGunzip({ flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    case 'deflate':
      return new DeflateDecoder();
    case 'br':
      return zlib.createBrotliDecompress({ flush: zlib.constants.BROTLI_OPERATION_FLUSH, finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH });
    case 'zstd':
      return zlib.createZstdDecompress({
        flush: zlib.constants.ZSTD_e_continue,
        finishFlush: zlib.constants.ZSTD_e_end,
        // RFC 9659 §3: a decoder need not accept windows above 8 MB.
        params: { [zlib.constants.ZSTD_d_windowLogMax]: 23 },
      });
    default:
      return undefined;
  }
}

/**
 * `deflate` as servers send it: in a zlib wrapper (as RFC 9110 says) or raw (as some do), told
 * apart by the first byte, as browsers and undici's `fetch` do. The inner decoder waits while
 * this one's output is unread, so a deflate bomb inflates no faster than it is read.
 */
class DeflateDecoder extends Transform {
  #inner: zlib.Inflate | zlib.InflateRaw | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    let inner = this.#inner;
    if (inner === undefined) {
      if (chunk.length === 0) {
        callback();
        return;
      }
      const options = { flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH };
      const created = ((chunk[0] as number) & 0x0f) === 0x08 ? zlib.createInflate(options) : zlib.createInflateRaw(options);
      created.on('data', (decoded: Buffer) => {
        if (!this.push(decoded)) created.pause();
      });
      created.on('end', () => this.push(null));
      created.on('error', (error) => this.destroy(error));
      this.#inner = inner = created;
    }
    inner.write(chunk, callback);
  }

  override _read(size: number): void {
    this.#inner?.resume();
    super._read(size);
  }

  override _final(callback: (error?: Error | null) => void): void {
    const inner = this.#inner;
    if (inner === undefined) {
      this.push(null);
      callback();
      return;
    }
    inner.once('end', () => callback());
    inner.end();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#inner?.destroy();
    callback(error);
  }
}

/**
 * `raw` decoded by `decoders` (from {@link decodersFor}; `raw` itself when there are none). The
 * decoded body is a {@link DispatchedBody} of its own, so reading it is bounded the same way: at
 * most 64 KiB decoded and unread (the decoders then wait, and the raw body and its socket pause
 * behind them), and a reader that stops at its cap cancels it, which stops the decoders and drops
 * the connection if the raw body is still arriving. A body that does not decode fails with an
 * error that names its coding.
 *
 * @example
 * ```ts
 * const body = decodedBody(rawBody, decodersFor(headers['content-encoding']), headers['content-encoding']);
 * const { bytes, truncated } = await body.readAll(1024 * 1024); // the cap counts decoded bytes
 * ```
 * @internal
 */
export function decodedBody(raw: DispatchedBody, decoders: readonly Transform[], contentEncoding: string | undefined): ResponseBody {
  const first = decoders[0];
  const last = decoders[decoders.length - 1];
  if (first === undefined || last === undefined) return raw;
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    for (const decoder of decoders) decoder.destroy();
    raw.cancel();
  };
  const decoded = new DispatchedBody(stop, () => last.resume());
  const fail = (error: Error): void => {
    decoded.fail(error);
    stop();
  };
  const onDecoderError = (error: Error): void => {
    fail(new Error(`Expected a response body encoded as ${contentEncoding ?? 'its content-encoding says'}, got one that does not decode (${error.message})`, { cause: error }));
  };
  for (let i = 0; i < decoders.length; i += 1) {
    const decoder = decoders[i] as Transform;
    decoder.on('error', onDecoderError);
    const next = decoders[i + 1];
    if (next !== undefined) decoder.pipe(next);
  }
  last.on('data', (chunk: Buffer) => {
    if (!decoded.push(chunk)) last.pause();
  });
  last.on('end', () => decoded.end());

  const pump = async (): Promise<void> => {
    for (;;) {
      const chunk = await raw.read();
      if (stopped) return;
      if (chunk === null) {
        first.end();
        return;
      }
      if (!first.write(chunk)) await drained(first);
      if (stopped) return;
    }
  };
  pump().catch((error: unknown) => {
    if (!stopped) fail(error instanceof Error ? error : new Error(String(error)));
  });
  return decoded;
}

/** Resolves when `stream` takes writes again, or is destroyed. */
function drained(stream: Transform): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      stream.removeListener('drain', done);
      stream.removeListener('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
