import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { WebhookUrlPolicy } from '../domain/webhook/events';
import { guardedLookup, isNonPublicAddress } from './url-policy';

export type PostOutcome = { ok: true; status: number } | { ok: false; status: number | null; error: string };

export type Post = (url: string, headers: Record<string, string>, body: string, timeoutMs: number) => Promise<PostOutcome>;

/**
 * One webhook POST over node's http(s), with keep-alive agents (a busy endpoint is not re-dialled
 * per delivery). Redirects are not followed (a 3xx is a failure: the merchant registers the final
 * URL), the response body is read up to 1 KiB for the error message (only from a public address), and under the `public` policy
 * the connection can only go to a public address (the lookup refuses the rest, IP literals included).
 */
export const createPost = (policy: WebhookUrlPolicy): { post: Post; close(): void } => {
  const lookup = guardedLookup(policy);
  const agents = { http: new HttpAgent({ keepAlive: true, maxSockets: 16 }), https: new HttpsAgent({ keepAlive: true, maxSockets: 16 }) };
  const post: Post = (url, headers, body, timeoutMs) =>
    new Promise((resolve) => {
      let u: URL;
      try {
        u = new URL(url);
      } catch {
        return resolve({ ok: false, status: null, error: `invalid url ${url}` });
      }
      const host = u.hostname.replace(/^\[|\]$/g, '');
      if (policy === 'public' && isIP(host) && isNonPublicAddress(host)) return resolve({ ok: false, status: null, error: `${host} is not a public address` });
      const secure = u.protocol === 'https:';
      const req = (secure ? httpsRequest : httpRequest)(
        u,
        {
          method: 'POST',
          agent: secure ? agents.https : agents.http,
          headers: { ...headers, 'content-length': Buffer.byteLength(body) },
          ...(lookup ? { lookup } : {}),
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            if (text.length < 1024) text += chunk;
          });
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve({ ok: true, status });
            // What an internal service answers stays inside: a merchant reads lastError, and must not
            // learn through it what a private address (reached under the `any` policy) says.
            const peer = res.socket?.remoteAddress;
            const shown = text && peer && !isNonPublicAddress(peer) ? `: ${text.slice(0, 200).replace(/\s+/g, ' ')}` : '';
            resolve({ ok: false, status, error: `HTTP ${status}${shown}` });
          });
          res.on('error', (e) => resolve({ ok: false, status: res.statusCode ?? null, error: e.message }));
        },
      );
      // A deadline on the whole exchange, not only on idle sockets: a receiver that trickles its answer is cut too.
      const deadline = setTimeout(() => req.destroy(new Error(`no response within ${timeoutMs} ms`)), timeoutMs);
      req.on('close', () => clearTimeout(deadline));
      req.on('error', (e: NodeJS.ErrnoException) => resolve({ ok: false, status: null, error: e.code && !e.message.includes(e.code) ? `${e.code}: ${e.message}` : e.message }));
      req.end(body);
    });
  return {
    post,
    close: () => {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
};
