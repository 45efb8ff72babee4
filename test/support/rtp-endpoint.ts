import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { muLawDecode, muLawEncode } from './audio';

/**
 * The call center's phone on the media side: sipp does the SIP, and its SDP answer points LiveKit
 * SIP at this socket. It sends a known tone as PCMU (20 ms packets) and RFC 4733 DTMF events in the
 * same RTP stream (each key with its own timestamp), and keeps every PCMU sample it receives, with
 * the arrival time of each packet, for the test to look for the shopper's tone in.
 *
 * Sending starts with the first packet received (LiveKit SIP sends RTP from the answer on, codec
 * noise when nobody speaks; we answer to where it comes from: symmetric RTP). DTMF times count from
 * there. Not a general RTP stack: no jitter buffer, no RTCP, one remote.
 */
export interface RtpEndpoint {
  port: number;
  /** Samples received (8 kHz, -1..1), in arrival order. */
  samples(): Float32Array;
  /** Epoch ms when each received packet arrived, and its first sample's index in samples(). */
  arrivals(): ReadonlyArray<{ at: number; index: number }>;
  /** RFC 4733 events received, as keys (0-9 * # A-D, or the code), one per event (by its RTP timestamp), in order. */
  dtmfReceived(): string[];
  readonly packetsReceived: number;
  readonly packetsSent: number;
  /** When the first packet arrived (epoch ms), 0 before. */
  readonly firstPacketAt: number;
  close(): Promise<void>;
}

export interface RtpEndpointOptions {
  /** The tone to send (Hz), or null for silence (PCMU 0xff). */
  toneHz: number | null;
  /** When the tone sounds, in ms from the first packet received (default: always); silence otherwise. */
  toneWindows?: Array<{ fromMs: number; toMs: number }>;
  /** DTMF keys or raw RFC 4733 event codes, at ms from the first packet received. */
  dtmf?: Array<{ atMs: number; keys: Array<string | number> }>;
  /** Payload types as in sipp's SDP answer: PCMU 0, telephone-event 101. */
  audioPt?: number;
  eventPt?: number;
}

const EVENT_CODES: Record<string, number> = { '*': 10, '#': 11, A: 12, B: 13, C: 14, D: 15 };
const codeOf = (k: string | number): number => (typeof k === 'number' ? k : /^[0-9]$/.test(k) ? Number(k) : EVENT_CODES[k.toUpperCase()]!);

export const startRtpEndpoint = async (port: number, opts: RtpEndpointOptions): Promise<RtpEndpoint> => {
  const audioPt = opts.audioPt ?? 0;
  const eventPt = opts.eventPt ?? 101;
  const socket: Socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, '127.0.0.1', () => resolve());
  });
  const received: number[] = [];
  const arrivals: Array<{ at: number; index: number }> = [];
  let packetsReceived = 0;
  let packetsSent = 0;
  let firstPacketAt = 0;
  let remote: { address: string; port: number } | null = null;
  // Each event's packets (and the retransmitted end) share the event's start timestamp.
  const eventsIn = new Map<number, number>();
  let timer: NodeJS.Timeout | null = null;

  // Sender state: one SSRC, one sequence, one 8 kHz clock for audio and events.
  const ssrc = randomBytes(4).readUInt32BE(0);
  let seq = randomBytes(2).readUInt16BE(0);
  let ts = randomBytes(4).readUInt32BE(0) >>> 1;
  let phase = 0;
  let tick = 0;
  // Each key: 5 event packets of 20 ms (the last one, E bit set, sent three times), then 150 ms of tone.
  const events: Array<{ startTick: number; code: number }> = [];
  for (const g of opts.dtmf ?? [])
    g.keys.forEach((k, i) => events.push({ startTick: Math.round((g.atMs + i * 250) / 20), code: codeOf(k) }));

  const rtp = (pt: number, marker: boolean, timestamp: number, payload: Buffer): Buffer => {
    const h = Buffer.alloc(12);
    h.writeUInt8(0x80, 0);
    h.writeUInt8((marker ? 0x80 : 0) | pt, 1);
    h.writeUInt16BE(seq, 2);
    seq = (seq + 1) & 0xffff;
    h.writeUInt32BE(timestamp >>> 0, 4);
    h.writeUInt32BE(ssrc, 8);
    return Buffer.concat([h, payload]);
  };
  const send = (packet: Buffer) => {
    if (!remote) return;
    socket.send(packet, remote.port, remote.address);
    packetsSent++;
  };
  const everyTwentyMs = () => {
    const ev = events.find((e) => tick >= e.startTick && tick < e.startTick + 5);
    if (ev) {
      const n = tick - ev.startTick + 1;
      const end = n === 5;
      const p = Buffer.alloc(4);
      p.writeUInt8(ev.code, 0);
      p.writeUInt8((end ? 0x80 : 0) | 10, 1); // E bit, volume -10 dBm0
      p.writeUInt16BE(n * 160, 2);
      const evTs = ts - (n - 1) * 160; // every packet of one event carries the event's start timestamp
      for (let r = 0; r < (end ? 3 : 1); r++) send(rtp(eventPt, n === 1, evTs, p));
    } else {
      const frame = Buffer.alloc(160);
      const speaking = opts.toneHz !== null && (!opts.toneWindows || opts.toneWindows.some((w) => tick * 20 >= w.fromMs && tick * 20 < w.toMs));
      for (let i = 0; i < 160; i++) {
        frame[i] = !speaking ? 0xff : muLawEncode(0.25 * 32767 * Math.sin(phase));
        if (opts.toneHz !== null) phase += (2 * Math.PI * opts.toneHz) / 8000;
      }
      send(rtp(audioPt, tick === 0, ts, frame));
    }
    ts = (ts + 160) >>> 0;
    tick++;
  };

  socket.on('message', (msg, rinfo) => {
    if (msg.length < 12 || msg[0]! >> 6 !== 2) return;
    packetsReceived++;
    if (!remote) {
      remote = { address: rinfo.address, port: rinfo.port };
      firstPacketAt = Date.now();
      timer = setInterval(everyTwentyMs, 20);
    }
    if ((msg[1]! & 0x7f) === eventPt && msg.length >= 16) {
      const ts = msg.readUInt32BE(4);
      if (!eventsIn.has(ts)) eventsIn.set(ts, msg[12 + 4 * (msg[0]! & 0x0f)]!);
      return;
    }
    if ((msg[1]! & 0x7f) !== audioPt) return;
    const csrc = msg[0]! & 0x0f;
    let offset = 12 + 4 * csrc;
    if (msg[0]! & 0x10) offset += 4 + 4 * msg.readUInt16BE(offset + 2);
    const padding = msg[0]! & 0x20 ? msg[msg.length - 1]! : 0;
    arrivals.push({ at: Date.now(), index: received.length });
    for (let i = offset; i < msg.length - padding; i++) received.push(muLawDecode(msg[i]!) / 32768);
  });

  return {
    port,
    samples: () => Float32Array.from(received),
    arrivals: () => arrivals,
    dtmfReceived: () => [...eventsIn.values()].map((code) => (code <= 9 ? String(code) : (Object.keys(EVENT_CODES).find((k) => EVENT_CODES[k] === code) ?? String(code)))),
    get packetsReceived() {
      return packetsReceived;
    },
    get packetsSent() {
      return packetsSent;
    },
    get firstPacketAt() {
      return firstPacketAt;
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (timer) clearInterval(timer);
        socket.close(() => resolve());
      }),
  };
};
