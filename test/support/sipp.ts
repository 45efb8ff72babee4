import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * sipp (Debian's sip-tester) as the call center behind LiveKit SIP's outbound trunk: a UAS that
 * rings, then answers (echoing the RTP it receives, so the caller hears itself through the whole
 * path), keys RFC 4733 DTMF and hangs up — or answers 486 Busy, or never answers.
 */

/** What the call center does with the INVITE. */
export type CallCenterScript =
  /** `keys`: DTMF keys, or raw RFC 4733 event codes (e.g. 16, "flash", which is no DTMF digit). */
  | { kind: 'answer'; ringMs: number; dtmf: Array<{ atMs: number; keys: Array<string | number> }>; hangUpAfterMs: number }
  /** Answers and talks until the other side hangs up (BYE from LiveKit). */
  | { kind: 'answerUntilBye'; ringMs: number }
  | { kind: 'busy'; ringMs: number }
  | { kind: 'noAnswer' };

export interface SippRun {
  port: number;
  mediaPort: number;
    done: Promise<SippResult>;
  /** Ends sipp if it still runs (its port is free again when this resolves). */
  stop(): Promise<void>;
}

export interface SippResult {
  exitCode: number | null;
  /** "Total echo RTP pckts 1st stream": RTP packets sipp received (and echoed back). */
  echoedRtpPackets: number;
  /** RTP packets sipp played from the pcap (the DTMF). */
  playedRtpPackets: number;
  /** When sipp received the INVITE (epoch ms), from its message log. */
  inviteAt: number | null;
  screen: string;
  messages: string;
}

export const sippAvailable = (): string | null => {
  const r = spawnSync('sipp', ['-v'], { encoding: 'utf8' });
  if (r.error) return `sipp is not installed (Debian package sip-tester): ${r.error.message}`;
  return /SIPp v3/.test(`${r.stdout}${r.stderr}`) ? null : 'sipp -v printed no version';
};

/** A free UDP port on 127.0.0.1 (and the one after it, for RTCP). */
export const freeUdpPort = async (): Promise<number> => {
  for (;;) {
    const s = createSocket('udp4');
    const port = await new Promise<number>((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, '127.0.0.1', () => resolve(s.address().port));
    });
    s.close();
    if (port % 2 === 0 && port < 65000) return port;
  }
};

// ---- RFC 4733 telephone-events in a pcap that sipp plays (play_pcap_audio) -----------------------

const EVENT_CODES: Record<string, number> = { '*': 10, '#': 11, A: 12, B: 13, C: 14, D: 15 };
/** RFC 4733 event code of a key; any number 0-255 may be given as `{code}` (16 is "flash"). */
export const eventCode = (d: string): number => (/^[0-9]$/.test(d) ? Number(d) : EVENT_CODES[d.toUpperCase()] ?? Number(d));

const ipChecksum = (buf: Buffer): number => {
  let sum = 0;
  for (let i = 0; i < buf.length; i += 2) sum += buf.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
};

/**
 * Writes a pcap (Ethernet, IPv4, UDP) of RFC 4733 events, payload type `pt`, one event per key,
 * each with its own RTP timestamp (receivers tell events apart by it): 5 packets of 20 ms, then the
 * end packet three times. Keys start at `atMs` of each group; sipp rewrites addresses and ports.
 */
export const writeDtmfPcap = (path: string, groups: Array<{ atMs: number; keys: Array<string | number> }>, pt = 101): void => {
  const ssrc = randomBytes(4).readUInt32BE(0);
  let seq = randomBytes(2).readUInt16BE(0);
  const tsBase = randomBytes(4).readUInt32BE(0) >>> 1;
  const packets: Array<{ ms: number; payload: Buffer; marker: boolean; ts: number }> = [];
  for (const g of groups)
    g.keys.forEach((k, i) => {
      const start = g.atMs + i * 250; // 100 ms tone, 150 ms gap
      const code = typeof k === 'number' ? k : eventCode(k);
      const ts = (tsBase + start * 8) >>> 0;
      for (let n = 1; n <= 5; n++) {
        const end = n === 5;
        for (let r = 0; r < (end ? 3 : 1); r++) {
          const p = Buffer.alloc(4);
          p.writeUInt8(code, 0);
          p.writeUInt8((end ? 0x80 : 0) | 10, 1); // E bit, volume -10 dBm0
          p.writeUInt16BE(n * 160, 2); // duration in 8 kHz units
          packets.push({ ms: start + (n - 1) * 20 + r, payload: p, marker: n === 1, ts });
        }
      }
    });
  const records: Buffer[] = [];
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(1, 20); // DLT_EN10MB
  records.push(header);
  for (const p of packets) {
    const rtp = Buffer.alloc(12);
    rtp.writeUInt8(0x80, 0);
    rtp.writeUInt8((p.marker ? 0x80 : 0) | pt, 1);
    rtp.writeUInt16BE(seq++ & 0xffff, 2);
    rtp.writeUInt32BE(p.ts, 4);
    rtp.writeUInt32BE(ssrc, 8);
    const udpLen = 8 + rtp.length + p.payload.length;
    const udp = Buffer.alloc(8);
    udp.writeUInt16BE(6000, 0);
    udp.writeUInt16BE(10000, 2);
    udp.writeUInt16BE(udpLen, 4);
    const ip = Buffer.alloc(20);
    ip.writeUInt8(0x45, 0);
    ip.writeUInt16BE(20 + udpLen, 2);
    ip.writeUInt8(64, 8);
    ip.writeUInt8(17, 9);
    Buffer.from([127, 0, 0, 1]).copy(ip, 12);
    Buffer.from([127, 0, 0, 1]).copy(ip, 16);
    ip.writeUInt16BE(ipChecksum(ip), 10);
    const eth = Buffer.alloc(14);
    eth.writeUInt16BE(0x0800, 12);
    const frame = Buffer.concat([eth, ip, udp, rtp, p.payload]);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(Math.floor(p.ms / 1000), 0);
    rec.writeUInt32LE((p.ms % 1000) * 1000, 4);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    records.push(rec, frame);
  }
  writeFileSync(path, Buffer.concat(records));
};

// ---- scenarios --------------------------------------------------------------------------------

const response = (status: string, extra = '', sdp = false) => `
  <send${sdp ? ' retrans="500"' : ''}>
    <![CDATA[
      SIP/2.0 ${status}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>${extra ? `\n      ${extra}` : ''}
      ${sdp ? 'Content-Type: application/sdp\n      Content-Length: [len]\n\n      v=0\n      o=callcenter 53655765 2353687637 IN IP[local_ip_type] [local_ip]\n      s=-\n      c=IN IP[media_ip_type] [media_ip]\n      t=0 0\n      m=audio [media_port] RTP/AVP 0 101\n      a=rtpmap:0 PCMU/8000\n      a=rtpmap:101 telephone-event/8000\n      a=fmtp:101 0-16\n      a=ptime:20\n      a=sendrecv' : 'Content-Length: 0'}
    ]]>
  </send>`;

const scenarioXml = (script: CallCenterScript, pcap: string | null): string => {
  // sipp refuses a variable that is assigned but never used: From/To serve the BYE, CSeq the 487.
  const invite = `
  <recv request="INVITE" rrs="true">
    <action>
      ${script.kind === 'answer' ? '<ereg regexp=".*" search_in="hdr" header="From:" assign_to="invite_from"/>' : ''}
      ${script.kind === 'answer' ? '<ereg regexp=".*" search_in="hdr" header="To:" assign_to="invite_to"/>' : ''}
      ${script.kind === 'noAnswer' ? '<ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" assign_to="invite_cseq"/>' : ''}
    </action>
  </recv>
  <send><![CDATA[
      SIP/2.0 100 Trying
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]></send>`;
  const ring = (ms: number) => `${response('180 Ringing')}\n  <pause milliseconds="${ms}"/>`;
  let body: string;
  switch (script.kind) {
    case 'noAnswer':
      // Ring until LiveKit gives up and cancels: 487 to the INVITE, 200 to the CANCEL.
      body = `${response('180 Ringing')}
  <recv request="CANCEL"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]></send>
  <send><![CDATA[
      SIP/2.0 487 Request Terminated
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      CSeq: [$invite_cseq] INVITE
      Content-Length: 0
    ]]></send>
  <recv request="ACK"/>`;
      break;
    case 'answerUntilBye':
      body = `${ring(script.ringMs)}
${response('200 OK', '', true)}
  <recv request="ACK"/>
  <recv request="BYE"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]></send>`;
      break;
    case 'busy':
      body = `${ring(script.ringMs)}
${response('486 Busy Here')}
  <recv request="ACK"/>`;
      break;
    case 'answer': {
      let t = 0;
      const steps: string[] = [];
      if (pcap) {
        const first = Math.min(...script.dtmf.map((d) => d.atMs));
        steps.push(`<pause milliseconds="${first}"/>`, `<nop><action><exec play_pcap_audio="${pcap}"/></action></nop>`);
        t = first;
      }
      steps.push(`<pause milliseconds="${Math.max(0, script.hangUpAfterMs - t)}"/>`);
      body = `${ring(script.ringMs)}
${response('200 OK', '', true)}
  <recv request="ACK"/>
  ${steps.join('\n  ')}
  <send retrans="500"><![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: [$invite_to];tag=[pid]SIPpTag01[call_number]
      To: [$invite_from]
      [last_Call-ID:]
      CSeq: 2 BYE
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Length: 0
    ]]></send>
  <recv response="200"/>`;
      break;
    }
  }
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="webdial call center">
  ${invite}
  ${body}
</scenario>
`;
};

/**
 * Replays what sipp drew on its terminal (it redraws only what changed, by cursor addressing) and
 * returns every screen line it showed, so that counters can be read as they were during the call.
 */
const terminalLines = (raw: string): string[] => {
  const grid: string[][] = [];
  const seen: string[] = [];
  let row = 0;
  let col = 0;
  const snapshot = () => {
    for (const r of grid) if (r) seen.push(r.join('').trimEnd());
  };
  const tokens = raw.split(/(\u001b\[[0-9;?]*[A-Za-z]|\r|\n)/);
  for (const t of tokens) {
    if (!t) continue;
    const esc = /^\u001b\[([0-9;?]*)([A-Za-z])$/.exec(t);
    if (esc) {
      const [a = '1', b = '1'] = esc[1]!.split(';');
      if (esc[2] === 'H' || esc[2] === 'f') {
        snapshot();
        row = Number(a || 1) - 1;
        col = Number(b || 1) - 1;
      } else if (esc[2] === 'J') grid.length = 0;
      else if (esc[2] === 'K') grid[row]?.splice(col);
      continue;
    }
    if (t === '\r') col = 0;
    else if (t === '\n') row++;
    else
      for (const ch of t) {
        (grid[row] ??= [])[col] = ch;
        for (let i = 0; i < col; i++) grid[row]![i] ??= ' ';
        col++;
      }
  }
  snapshot();
  return seen;
};

/**
 * Starts sipp as a UAS on 127.0.0.1:`port` for one call (`-m 1`), with RTP echo on `mediaPort`.
 * Resolves `done` when sipp exits; its statistics come from the final screen dump.
 */
export const startSipp = (port: number, mediaPort: number, script: CallCenterScript, timeoutMs = 60_000): SippRun => {
  const dir = mkdtempSync(join(tmpdir(), 'webdial-sipp-'));
  let pcap: string | null = null;
  if (script.kind === 'answer' && script.dtmf.length > 0) {
    pcap = join(dir, 'dtmf.pcap');
    const first = Math.min(...script.dtmf.map((d) => d.atMs));
    writeDtmfPcap(pcap, script.dtmf.map((d) => ({ atMs: d.atMs - first, keys: d.keys })));
  }
  const scenario = join(dir, 'callcenter.xml');
  writeFileSync(scenario, scenarioXml(script, pcap));
  const args = ['-sf', scenario, '-i', '127.0.0.1', '-p', String(port), '-mi', '127.0.0.1', '-mp', String(mediaPort), '-rtp_echo', '-m', '1', '-f', '1', '-trace_screen', '-trace_msg', '-timeout', `${Math.ceil(timeoutMs / 1000)}s`, '-timeout_error', '-nostdin'];
  // Under a pseudo-terminal (util-linux `script`): sipp prints its screens every second only to a
  // terminal, and only those show the RTP echo counter (its final dump comes after the media sockets
  // closed). Its own group, so that stop() reaches sipp through `script`.
  const child: ChildProcess = spawn('script', ['-qfec', ['sipp', ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' '), '/dev/null'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const done = new Promise<SippResult>((resolve) => {
    child.once('exit', (code) => {
      const read = (suffix: string) => {
        const f = readdirSync(dir).find((n) => n.endsWith(suffix));
        return f ? readFileSync(join(dir, f), 'latin1') : '';
      };
      const screen = read('_screen.log');
      const messages = read('_messages.log');
      // sipp closes its media sockets before the final screen dump, which then lacks the RTP lines:
      // the screens it printed while the call ran (stdout, every second) have them. Counters only grow.
      const text = `${terminalLines(out).join('\n')}\n${screen}`;
      const num = (re: RegExp) => Math.max(0, ...[...text.matchAll(new RegExp(re.source, 'g'))].map((m) => Number(m[1])));
      const invite = /----------------------------------------------- (\S+ \S+)\s*\n\s*UDP message received[^\n]*\n\n\s*INVITE /.exec(messages);
      resolve({
        exitCode: code,
        echoedRtpPackets: num(/(\d+) Total echo RTP pckts 1st stream/),
        playedRtpPackets: num(/(\d+) Total RTP pckts sent/),
        inviteAt: invite ? Date.parse(invite[1]!.replace(' ', 'T')) : null,
        screen: `${out}\n${screen}`,
        messages,
      });
      if (process.env.WEBDIAL_KEEP_SIPP) writeFileSync(join(dir, 'stdout.txt'), out);
      else rmSync(dir, { recursive: true, force: true });
    });
  });
  return {
    port,
    mediaPort,
    done,
    stop: () => {
      const group = (signal: NodeJS.Signals) => {
        try {
          process.kill(-child.pid!, signal);
        } catch {
          /* already gone */
        }
      };
      if (child.exitCode !== null) return done.then(() => undefined);
      group('SIGUSR1'); // sipp: quit after dumping its screens
      const kill = setTimeout(() => group('SIGKILL'), 3000);
      return done.then(() => clearTimeout(kill));
    },
  };
};

