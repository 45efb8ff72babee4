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
