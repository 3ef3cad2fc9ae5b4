/**
 * Reads a request body as JSON with a size limit: past the limit the request
 * is refused with 413 as soon as it is known (from `Content-Length` or while
 * streaming), never buffered whole.
 *
 * @example
 * const entries = await readJsonBody(req, 4 * 1024 * 1024)
 */
import type { IncomingMessage } from 'node:http';
import { HttpProblem } from './apiErrors.js';

function tooLarge(limit: number): HttpProblem {
  return new HttpProblem(413, 'PayloadTooLarge', `request body is larger than ${limit} bytes`, {
    suggestion: 'split the entries over several requests',
    headers: { connection: 'close' },
  });
}

/** The parsed JSON body of `req`; `PayloadTooLarge` (413) or `InvalidJson` (400) otherwise. */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim().length === 0) {
    throw new HttpProblem(400, 'InvalidJson', 'request body is empty', { suggestion: 'send one entry as a JSON object or several as a JSON array' });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpProblem(400, 'InvalidJson', `request body is not valid JSON: ${(err as Error).message}`, {
      suggestion: 'send one entry as a JSON object or several as a JSON array',
    });
  }
}
