import type { NextFunction, Request, Response } from 'express';

/**
 * CORS for the widget's GraphQL operations, so that a merchant's own pages can embed the button.
 *
 * - A cross-origin request is allowed only from an origin that is in some merchant's
 *   `allowedOrigins` (`isAllowedOrigin`); the call itself is still refused by `recordDownload` when
 *   the page is not in *that* merchant's list.
 * - Only what the widget sends may cross origins: POST with `content-type` (and `x-correlation-id`).
 *   A preflight asking for `authorization` is refused, so keyed requests stay same-origin or
 *   server-to-server, and Apollo's CSRF prevention (on) still blocks simple cross-site POSTs.
 * - Every answer says `Vary: Origin`, so a cache never serves one origin's headers to another.
 */
export const WIDGET_REQUEST_HEADERS = ['content-type', 'x-correlation-id'] as const;

export const widgetCors =
  (isAllowedOrigin: (origin: string) => boolean) =>
  (req: Request, res: Response, next: NextFunction): void => {
    res.vary('Origin');
    const origin = req.headers.origin;
    if (!origin) return next();
    const allowed = isAllowedOrigin(origin);
    if (req.method !== 'OPTIONS') {
      if (allowed) res.set('Access-Control-Allow-Origin', origin);
      return next();
    }
    const refuse = (why: string) => void res.status(403).type('text/plain').send(why);
    if (!allowed) return refuse(`origin ${origin} is not in any merchant's allowedOrigins`);
    const method = String(req.headers['access-control-request-method'] ?? '').toUpperCase();
    if (method !== 'POST') return refuse(`only POST may be sent cross-origin, not ${method || 'nothing'}`);
    const asked = String(req.headers['access-control-request-headers'] ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean);
    const extra = asked.filter((h) => !(WIDGET_REQUEST_HEADERS as readonly string[]).includes(h));
    if (extra.length > 0) return refuse(`headers not allowed cross-origin: ${extra.join(', ')} (keyed requests are same-origin only)`);
    res
      .status(204)
      .set({
        'Access-Control-Allow-Origin': origin,
        'Access-Control-Allow-Methods': 'POST',
        'Access-Control-Allow-Headers': WIDGET_REQUEST_HEADERS.join(', '),
        'Access-Control-Max-Age': '600',
      })
      .end();
  };

/** Public static code (the widget's lazily imported modules): any page may load it, without credentials. */
export const publicAsset = (_req: Request, res: Response, next: NextFunction): void => {
  res.set({ 'Access-Control-Allow-Origin': '*', 'Cross-Origin-Resource-Policy': 'cross-origin' });
  next();
};
