import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';

/**
 * A minimal SIP UAC over UDP for tests (a phone dialling one of our numbers): sends an INVITE with
 * an SDP offer (PCMU and telephone-event) from `fromAddress`, and reports what came back. A final
 * refusal is ACKed; once the call rings (18x), it is cancelled after `cancelAfterMs` (unless
 * `cancelAfterMs` is null: then it waits for a final response or `timeoutMs`). Not a SIP
 * stack: one transaction, no authentication, no retransmission beyond a second INVITE.
 */
export interface UacResult {
  /** Every response status in arrival order (retransmissions included). */
  statuses: number[];
  /** The first final response to the INVITE (>= 200), or null when none came in time. */
  final: number | null;
  /** The final response's reason phrase. */
  reason: string;
  /** The INVITE's Call-ID (LiveKit SIP logs it as sipCallID). */
  callId: string;
}

export const dialDid = async (opts: { fromAddress: string; server: { host: string; port: number }; did: string; caller: string; cancelAfterMs?: number | null; timeoutMs?: number }): Promise<UacResult> => {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, opts.fromAddress, () => resolve());
  });
  const local = `${opts.fromAddress}:${socket.address().port}`;
  const callId = `${randomBytes(8).toString('hex')}@webdial-test`;
  const branch = `z9hG4bK${randomBytes(6).toString('hex')}`;
  const tag = randomBytes(4).toString('hex');
  const ruri = `sip:${opts.did}@${opts.server.host}:${opts.server.port}`;
  const from = `<sip:${opts.caller}@${opts.fromAddress}>;tag=${tag}`;
  const to = `<${ruri}>`;
  const sdp = [
    'v=0',
    `o=phone 1 1 IN IP4 ${opts.fromAddress}`,
    's=-',
    `c=IN IP4 ${opts.fromAddress}`,
    't=0 0',
    'm=audio 40000 RTP/AVP 0 101',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-16',
    'a=sendrecv',
    '',
  ].join('\r\n');
  const request = (method: string, cseqMethod: string, toHeader: string, body = '') =>
    [
      `${method} ${ruri} SIP/2.0`,
      `Via: SIP/2.0/UDP ${local};branch=${branch};rport`,
      'Max-Forwards: 70',
      `From: ${from}`,
      `To: ${toHeader}`,
      `Call-ID: ${callId}`,
      `CSeq: 1 ${cseqMethod}`,
      `Contact: <sip:${opts.caller}@${local}>`,
      ...(body ? ['Content-Type: application/sdp'] : []),
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ].join('\r\n');
  const send = (msg: string) => socket.send(msg, opts.server.port, opts.server.host);
  const statuses: number[] = [];
  return new Promise<UacResult>((resolve) => {
    let cancelled = false;
    const finish = (final: number | null, reason: string) => {
      clearTimeout(timer);
      setTimeout(() => socket.close(), 200); // let the ACK leave
      resolve({ statuses, final, reason, callId });
    };
    const timer = setTimeout(() => finish(null, 'timeout'), opts.timeoutMs ?? 10_000);
    socket.on('message', (buf) => {
      const text = buf.toString('latin1');
      const m = /^SIP\/2\.0 (\d{3}) ([^\r\n]*)/.exec(text);
      if (!m) return;
      const status = Number(m[1]);
      statuses.push(status);
      const cseq = /\r\nCSeq: \d+ (\w+)/i.exec(text)?.[1];
      if (cseq !== 'INVITE') return;
      const toTagged = /\r\nTo: ([^\r\n]*)/i.exec(text)?.[1] ?? to;
      if (status >= 180 && status < 200 && !cancelled && opts.cancelAfterMs !== null) {
        cancelled = true;
        setTimeout(() => send(request('CANCEL', 'CANCEL', to)), opts.cancelAfterMs ?? 500);
      } else if (status >= 300) {
        send(request('ACK', 'ACK', toTagged));
        finish(status, m[2]!);
      } else if (status >= 200) {
        send(request('ACK', 'ACK', toTagged));
        finish(status, m[2]!);
      }
    });
    send(request('INVITE', 'INVITE', to, sdp));
  });
};

/** A call placed by `callDid`: a phone that stays in the call after the 200 OK, until it sends BYE. */
export interface UacCall {
  /** The INVITE's Call-ID (LiveKit SIP logs it as sipCallID). */
  callId: string;
  /** Every response status in arrival order (retransmissions included). */
  statuses: number[];
  /** The first final response to the INVITE (>= 200; a 2xx is ACKed, so is a refusal), or status null after `timeoutMs`. */
  final: Promise<{ status: number | null; reason: string }>;
  /** Requests the server sent in the dialog (e.g. BYE), answered 200. */
  requests: string[];
  /** Sends BYE in the dialog (after a 200 OK); resolves with the response status, or null after 5 s. */
  bye(): Promise<number | null>;
  close(): void;
}

/**
 * A phone dialling one of our numbers and staying in the call: an INVITE whose SDP offer (PCMU and
 * telephone-event) points at `mediaPort` on `fromAddress` (where the test's RTP endpoint listens), the
 * 200 OK ACKed, then BYE when the test hangs up. One dialog, UDP, no authentication.
 */
export const callDid = async (opts: { fromAddress: string; server: { host: string; port: number }; did: string; caller: string; mediaPort: number; timeoutMs?: number }): Promise<UacCall> => {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, opts.fromAddress, () => resolve());
  });
  const local = `${opts.fromAddress}:${socket.address().port}`;
  const id = (n: number) => randomBytes(n).toString('hex');
  const callId = `${id(8)}@webdial-test`;
  const tag = id(4);
  const ruri = `sip:${opts.did}@${opts.server.host}:${opts.server.port}`;
  const from = `<sip:${opts.caller}@${opts.fromAddress}>;tag=${tag}`;
  const sdp = `v=0\r\no=phone 1 1 IN IP4 ${opts.fromAddress}\r\ns=-\r\nc=IN IP4 ${opts.fromAddress}\r\nt=0 0\r\nm=audio ${opts.mediaPort} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n`;
  // The dialog once answered: the callee's tag and where in-dialog requests go (its Contact).
  let to = `<${ruri}>`;
  let target = ruri;
  const message = (start: string, headers: string[], body = '') =>
    [start, ...headers, ...(body ? ['Content-Type: application/sdp'] : []), `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n');
  const request = (method: string, uri: string, cseq: number, branch: string, body = '') =>
    message(`${method} ${uri} SIP/2.0`, [`Via: SIP/2.0/UDP ${local};branch=${branch};rport`, 'Max-Forwards: 70', `From: ${from}`, `To: ${to}`, `Call-ID: ${callId}`, `CSeq: ${cseq} ${method}`, `Contact: <sip:${opts.caller}@${local}>`], body);
  const send = (msg: string) => socket.send(msg, opts.server.port, opts.server.host);
  const statuses: number[] = [];
  const requests: string[] = [];
  let settle: (r: { status: number | null; reason: string }) => void = () => undefined;
  const final = new Promise<{ status: number | null; reason: string }>((resolve) => (settle = resolve));
  let finalSeen = false;
  const timer = setTimeout(() => settle({ status: null, reason: 'timeout' }), opts.timeoutMs ?? 30_000);
  let byeAnswered: (status: number) => void = () => undefined;
  const inviteBranch = `z9hG4bK${id(6)}`;
  let closed = false;
  socket.on('message', (buf) => {
    const text = buf.toString('latin1');
    const header = (name: string) => new RegExp(`\\r\\n${name}: ([^\\r\\n]*)`, 'i').exec(text)?.[1];
    const m = /^SIP\/2\.0 (\d{3}) ([^\r\n]*)/.exec(text);
    if (!m) {
      // A request from the server in our dialog (BYE): answered 200 with its own headers.
      const method = /^([A-Z]+) /.exec(text)?.[1];
      if (!method || method === 'ACK') return;
      requests.push(method);
      send(message('SIP/2.0 200 OK', ['Via', 'From', 'To', 'Call-ID', 'CSeq'].map((h) => `${h}: ${header(h) ?? ''}`)));
      return;
    }
    const status = Number(m[1]);
    statuses.push(status);
    const cseq = /^\d+ (\w+)/.exec(header('CSeq') ?? '')?.[1];
    if (cseq === 'BYE') return byeAnswered(status);
    if (cseq !== 'INVITE' || status < 200) return;
    if (status >= 300) send(request('ACK', ruri, 1, inviteBranch)); // same transaction as the INVITE
    else {
      to = header('To') ?? to;
      target = /<([^>]+)>/.exec(header('Contact') ?? '')?.[1] ?? ruri;
      send(request('ACK', target, 1, `z9hG4bK${id(6)}`)); // a 2xx's ACK is a transaction of its own (and re-sent for each retransmitted 200)
    }
    if (!finalSeen) {
      finalSeen = true;
      clearTimeout(timer);
      settle({ status, reason: m[2]! });
    }
  });
  send(request('INVITE', ruri, 1, inviteBranch, sdp));
  return {
    callId,
    statuses,
    final,
    requests,
    bye: () =>
      new Promise<number | null>((resolve) => {
        const t = setTimeout(() => resolve(null), 5000);
        byeAnswered = (s) => {
          clearTimeout(t);
          resolve(s);
        };
        send(request('BYE', target, 2, `z9hG4bK${id(6)}`));
      }),
    close: () => {
      clearTimeout(timer);
      if (!closed) socket.close();
      closed = true;
    },
  };
};
