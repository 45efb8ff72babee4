import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * sipp (Debian's sip-tester) as the call center behind LiveKit SIP's outbound trunk: a UAS that
 * rings, then answers and hangs up — or refuses (486 Busy, 603 Decline, 503), never answers, or
 * never responds at all. The media of an answered call is not sipp's: its SDP answer points at the
 * test's RTP endpoint (rtp-endpoint.ts), which plays a known tone and the DTMF and keeps what it hears
 * (issue 22: sipp's RTP echo proved only that packets flowed, codec noise included).
 *
 * And sipp as a phone dialling one of our numbers (`startSippPhone`, a UAC): the same split, its SDP
 * offer naming the RTP endpoint.
 */

/** What the call center does with the INVITE. */
export type CallCenterScript =
  /** Answers after `ringMs`, hangs up (BYE) `hangUpAfterMs` after the ACK. */
  | { kind: 'answer'; ringMs: number; hangUpAfterMs: number }
  /**
   * Answers and talks until the other side hangs up (BYE from LiveKit). `expectHeaders`: header name →
   * regexp its value must match, checked by sipp itself (`ereg check_it`: a missing or different header
   * fails the scenario, so sipp exits non-zero); each value is echoed as `X-Seen-<i>` in the 200 OK.
   */
  | { kind: 'answerUntilBye'; ringMs: number; expectHeaders?: Record<string, string> }
  | { kind: 'busy'; ringMs: number }
  /** A final refusal after ringing: e.g. '603 Decline', '503 Service Unavailable'. */
  | { kind: 'reject'; ringMs: number; status: string }
  /** Rings until LiveKit cancels (its ringing timeout): 200 to the CANCEL, 487 to the INVITE, then waits for the ACK. */
  | { kind: 'noAnswer' }
  /** A dead trunk: receives the INVITE and never answers anything (no 100, no 180, no final response). */
  | { kind: 'silent' };

export interface SippRun {
  port: number;
  /** The RTP port sipp's SDP answer gives (the test's RTP endpoint listens there). */
  mediaPort: number;
    done: Promise<SippResult>;
  /** Ends sipp if it still runs (its port is free again when this resolves). */
  stop(): Promise<void>;
}

export interface SippResult {
  exitCode: number | null;
  /** When sipp received the INVITE (epoch ms), from its message log. */
  inviteAt: number | null;
  /** Every INVITE sipp received (retransmissions too), in order: when (epoch ms) and its text. */
  invites: Array<{ at: number; text: string }>;
  /** When sipp sent its 200 OK to the INVITE (epoch ms; the first, retransmissions aside), from its message log. */
  answeredAt: number | null;
  /** Requests sipp received, by method (INVITE retransmissions included), from its message log. */
  received: Record<string, number>;
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

// ---- scenarios --------------------------------------------------------------------------------

const response = (status: string, extra = '', sdpPort: number | string | null = null) => {
  const sdp = sdpPort !== null;
  return `
  <send${sdp ? ' retrans="500"' : ''}>
    <![CDATA[
      SIP/2.0 ${status}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>${extra ? `\n      ${extra}` : ''}
      ${sdp ? `Content-Type: application/sdp\n      Content-Length: [len]\n\n      v=0\n      o=callcenter 53655765 2353687637 IN IP[local_ip_type] [local_ip]\n      s=-\n      c=IN IP[media_ip_type] [media_ip]\n      t=0 0\n      m=audio ${sdpPort} RTP/AVP 0 101\n      a=rtpmap:0 PCMU/8000\n      a=rtpmap:101 telephone-event/8000\n      a=fmtp:101 0-16\n      a=ptime:20\n      a=sendrecv` : 'Content-Length: 0'}
    ]]>
  </send>`;
};

/** A response without a body to the request just received (100 to an INVITE, 200 to a CANCEL or a BYE), its To as it came. */
const toLastRequest = (status: string) => `  <send><![CDATA[
      SIP/2.0 ${status}
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]></send>`;

const scenarioXml = (script: CallCenterScript, sdpPort: number | string): string => {
  // sipp refuses a variable that is assigned but never used: From/To serve the BYE, CSeq the 487.
  const expected = script.kind === 'answerUntilBye' ? Object.entries(script.expectHeaders ?? {}) : [];
  const xmlAttr = (v: string) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  const invite = `
  <recv request="INVITE" rrs="true">
    <action>
      ${expected.map(([name, re], i) => `<ereg regexp="${xmlAttr(re)}" search_in="hdr" header="${xmlAttr(name)}:" check_it="true" assign_to="seen_${i}"/>`).join('\n      ')}
      ${script.kind === 'answer' ? '<ereg regexp=".*" search_in="hdr" header="From:" assign_to="invite_from"/>' : ''}
      ${script.kind === 'answer' ? '<ereg regexp=".*" search_in="hdr" header="To:" assign_to="invite_to"/>' : ''}
      ${script.kind === 'noAnswer' ? '<ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" assign_to="invite_cseq"/>' : ''}
    </action>
  </recv>${
    script.kind === 'silent'
      ? ''
      : `
${toLastRequest('100 Trying')}`
  }`;
  const ring = (ms: number) => `${response('180 Ringing')}\n  <pause milliseconds="${ms}"/>`;
  let body: string;
  switch (script.kind) {
    case 'noAnswer':
      // Ring until LiveKit gives up and cancels: 487 to the INVITE, 200 to the CANCEL.
      body = `${response('180 Ringing')}
  <recv request="CANCEL"/>
${toLastRequest('200 OK')}
  <send><![CDATA[
      SIP/2.0 487 Request Terminated
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      CSeq: [$invite_cseq] INVITE
      Content-Length: 0
    ]]></send>
  <recv request="ACK" timeout="20000" ontimeout="no_ack"/>
  <label id="no_ack"/>
  <pause milliseconds="1"/>`;
      break;
    case 'silent':
      // Nothing is ever answered. LiveKit gives up (its ringing timeout, or Timer B) and may CANCEL.
      body = `<recv request="CANCEL" timeout="15000" ontimeout="gave_up"/>
  <label id="gave_up"/>
  <pause milliseconds="1"/>`;
      break;
    case 'answerUntilBye':
      body = `${ring(script.ringMs)}
${response('200 OK', expected.map((_, i) => `X-Seen-${i}: [$seen_${i}]`).join('\n      '), sdpPort)}
  <recv request="ACK"/>
  <recv request="BYE"/>
${toLastRequest('200 OK')}`;
      break;
    case 'busy':
      body = `${ring(script.ringMs)}
${response('486 Busy Here')}
  <recv request="ACK"/>`;
      break;
    case 'reject':
      body = `${ring(script.ringMs)}
${response(script.status)}
  <recv request="ACK"/>`;
      break;
    case 'answer': {
      body = `${ring(script.ringMs)}
${response('200 OK', '', sdpPort)}
  <recv request="ACK"/>
  <pause milliseconds="${script.hangUpAfterMs}"/>
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

/** sipp under a pseudo-terminal in `dir`, its exit, and a way to end it. */
interface SippProcess<T> {
  done: Promise<T>;
  /** Ends sipp if it still runs (its port is free again when this resolves). */
  stop(): Promise<void>;
}

/**
 * Runs sipp with `args` in `dir` under a pseudo-terminal (util-linux `script`): sipp prints its
 * screens every second only to a terminal, and only those show the RTP echo counter (its final dump
 * comes after the media sockets closed). Its own group, so that stop() reaches sipp through `script`.
 * When sipp exits, `result` reads its logs (`read(suffix)`: the file of `dir` whose name ends so) and
 * what it drew on its terminal; then `dir` is removed (kept, with stdout.txt, under WEBDIAL_KEEP_SIPP).
 */
const runSipp = <T>(dir: string, args: string[], result: (exitCode: number | null, read: (suffix: string) => string, screenLines: string[]) => T): SippProcess<T> => {
  const child: ChildProcess = spawn('script', ['-qfec', ['sipp', ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' '), '/dev/null'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const done = new Promise<T>((resolve) => {
    child.once('exit', (code) => {
      const read = (suffix: string) => {
        const f = readdirSync(dir).find((n) => n.endsWith(suffix));
        return f ? readFileSync(join(dir, f), 'latin1') : '';
      };
      resolve(result(code, read, terminalLines(out)));
      if (process.env.WEBDIAL_KEEP_SIPP) writeFileSync(join(dir, 'stdout.txt'), out);
      else rmSync(dir, { recursive: true, force: true });
    });
  });
  return {
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

/**
 * Starts sipp as a UAS on 127.0.0.1:`port` for one call (`-m 1`); its SDP answer gives `mediaPort`
 * (where the test's RTP endpoint listens; sipp's own media socket, unused, is on the port after it).
 * Resolves `done` when sipp exits.
 */
export const startSipp = (port: number, mediaPort: number, script: CallCenterScript, timeoutMs = 60_000): SippRun => startSippUas(port, [mediaPort], mediaPort + 2, script, timeoutMs);

/**
 * sipp as a UAS on 127.0.0.1:`port` for `mediaPorts.length` calls in a row (`-m n`), each answered with
 * the same script: the n-th call's SDP answer gives the n-th media port (an injection file, read in
 * order), so that each call's media reaches its own RTP endpoint. E.g. a callback from a PSTN center:
 * the center's INVITE, then the shopper's, both from LiveKit SIP's one outbound trunk. `ownMediaPort`:
 * sipp's own (unused) media socket.
 */
export const startSippCalls = (port: number, mediaPorts: number[], ownMediaPort: number, script: CallCenterScript, timeoutMs = 60_000): SippRun => startSippUas(port, mediaPorts, ownMediaPort, script, timeoutMs);

const startSippUas = (port: number, mediaPorts: number[], ownMediaPort: number, script: CallCenterScript, timeoutMs: number): SippRun => {
  const dir = mkdtempSync(join(tmpdir(), 'webdial-sipp-'));
  const scenario = join(dir, 'callcenter.xml');
  const many = mediaPorts.length > 1;
  writeFileSync(scenario, scenarioXml(script, many ? '[field0]' : mediaPorts[0]!));
  const inject = many ? ['-inf', join(dir, 'media.csv')] : [];
  if (many) writeFileSync(join(dir, 'media.csv'), `SEQUENTIAL\n${mediaPorts.map((p) => `${p};`).join('\n')}\n`);
  const args = ['-sf', scenario, ...inject, '-i', '127.0.0.1', '-p', String(port), '-mi', '127.0.0.1', '-mp', String(ownMediaPort), '-m', String(mediaPorts.length), '-f', '1', '-trace_screen', '-trace_msg', '-timeout', `${Math.ceil(timeoutMs / 1000)}s`, '-timeout_error', '-nostdin'];
  const run = runSipp(dir, args, (exitCode, read, screenLines): SippResult => {
    const messages = read('_messages.log');
    const invite = /----------------------------------------------- (\S+ \S+)\s*\n\s*UDP message received[^\n]*\n\n\s*INVITE /.exec(messages);
    const received: Record<string, number> = {};
    for (const m of messages.matchAll(/UDP message received[^\n]*\n\n\s*([A-Z]+) sip:/g)) received[m[1]!] = (received[m[1]!] ?? 0) + 1;
    const invites = [...messages.matchAll(/----------------------------------------------- (\S+ \S+)\s*\n\s*UDP message received[^\n]*\n\n\s*(INVITE [\s\S]*?)(?=\n-{47} |$)/g)].map((m) => ({ at: Date.parse(m[1]!.replace(' ', 'T')), text: m[2]! }));
    const ok = messages
      .split(/-{47} /)
      .find((b) => /^\S+ \S+\s*\n\s*UDP message sent[^\n]*\n\n\s*SIP\/2\.0 200 /.test(b) && /CSeq:\s*\d+ INVITE/.test(b));
    return {
      exitCode,
      inviteAt: invite ? Date.parse(invite[1]!.replace(' ', 'T')) : null,
      invites,
      answeredAt: ok ? Date.parse(ok.split(/\s+/).slice(0, 2).join('T')) : null,
      received,
      screen: `${screenLines.join('\n')}\n${read('_screen.log')}`,
      messages,
    };
  });
  return { port, mediaPort: mediaPorts[0]!, ...run };
};

// ---- the phone: sipp as a UAC dialling one of our numbers -------------------------------------

export type SippPhoneOptions = SippPhoneLine &
  (
    | {
        /** The phone hangs up (the default): `talkMs` after its ACK it sends BYE and expects its 200. */
        hangUp?: 'phone';
        /** How long the phone stays in the call after its ACK, before it sends BYE. */
        talkMs: number;
      }
    | {
        /** The other end hangs up: after its ACK the phone waits for a BYE and answers it 200 (anything else fails the run). */
        hangUp: 'remote';
      }
  );

interface SippPhoneLine {
  /** The address sipp sends from (`-i`): the carrier's address that the inbound trunk allows. */
  fromAddress: string;
  /** Where the INVITE goes (LiveKit SIP). */
  server: { host: string; port: number };
  /** The number dialled: the Request-URI's and To's user. */
  did: string;
  /** The caller's number (E.164): the From user. */
  caller: string;
  /** The RTP port the SDP offer gives on 127.0.0.1 (the test's RTP endpoint listens there). */
  mediaPort: number;
  /** sipp's whole run (ringing until answered included); past it sipp fails (exit status non-zero). */
  timeoutMs: number;
}

/** One SIP message the phone sent or received, from sipp's short message trace. */
export interface PhoneMessage {
  /** Epoch ms (sipp's clock: the machine's). */
  at: number;
  direction: 'sent' | 'received';
  /** e.g. `1 INVITE`, `2 BYE`. */
  cseq: string;
  /** The request or status line, e.g. `SIP/2.0 180 Ringing`. */
  firstLine: string;
  /** The status of a response, else null. */
  status: number | null;
}

export interface SippPhoneResult {
  /** 0 when the scenario ran to its end: answered, ACKed, then BYE sent and answered 200 (or, `hangUp: 'remote'`, BYE received and answered 200). */
  exitCode: number | null;
  messages: PhoneMessage[];
  /** sipp's screens (what it drew, then its final dump) and its error log. */
  screen: string;
}

export interface SippPhone {
  sipPort: number;
  /** The SIP messages so far (read from sipp's trace as it writes it). */
  messages(): PhoneMessage[];
  /** The statuses of the responses to the INVITE so far, retransmissions included. */
  statuses(): number[];
  /** Whether sipp still runs. */
  running(): boolean;
  /** When the INVITE's 200 OK arrived (epoch ms), or null when sipp ended without one. */
  answered: Promise<number | null>;
  /** When sipp sent its BYE (epoch ms), or null when it ended without sending one. */
  byeSent: Promise<number | null>;
  done: Promise<SippPhoneResult>;
  /** Ends sipp if it still runs. */
  stop(): Promise<void>;
}

const phoneScenarioXml = (o: SippPhoneOptions): string => {
  const from = `<sip:${o.caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]`;
  const headers = `Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: ${from}`;
  const tail = `Call-ID: [call_id]
      Contact: <sip:${o.caller}@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70`;
  // 100, 180 and 183 optional (LiveKit SIP repeats its 180 while it rings: sipp matches those against
  // the optional receptions just before the 200); the 200 may take as long as the run (the agent answers).
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="webdial phone">
  <send retrans="500" start_txn="invite">
    <![CDATA[
      INVITE sip:${o.did}@[remote_ip]:[remote_port] SIP/2.0
      ${headers}
      To: <sip:${o.did}@[remote_ip]:[remote_port]>
      ${tail}
      CSeq: 1 INVITE
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=phone 53655765 2353687637 IN IP4 127.0.0.1
      s=-
      c=IN IP4 127.0.0.1
      t=0 0
      m=audio ${o.mediaPort} RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-16
      a=ptime:20
      a=sendrecv
    ]]>
  </send>
  <recv response="100" optional="true" response_txn="invite"/>
  <recv response="180" optional="true" response_txn="invite"/>
  <recv response="183" optional="true" response_txn="invite"/>
  <recv response="200" rrs="true" response_txn="invite"/>
  <send ack_txn="invite">
    <![CDATA[
      ACK [next_url] SIP/2.0
      ${headers}
      [last_To:]
      ${tail}
      CSeq: 1 ACK
      Content-Length: 0
    ]]>
  </send>
  ${
    o.hangUp === 'remote'
      ? `<recv request="BYE"/>
${toLastRequest('200 OK')}`
      : `<pause milliseconds="${o.talkMs}"/>
  <send retrans="500" start_txn="bye">
    <![CDATA[
      BYE [next_url] SIP/2.0
      ${headers}
      [last_To:]
      ${tail}
      CSeq: 2 BYE
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" response_txn="bye"/>`
  }
</scenario>
`;
};

/** sipp's short message trace: date, time, epoch seconds, S|R, Call-ID, `CSeq:<n> <method>`, first line; tab-separated. */
const parseShortMessages = (text: string): PhoneMessage[] =>
  text.split('\n').flatMap((line) => {
    const [, , epoch, dir, , cseq, firstLine] = line.split('\t');
    if (!firstLine || (dir !== 'S' && dir !== 'R')) return [];
    return [
      {
        at: Math.round(Number(epoch) * 1000),
        direction: dir === 'S' ? ('sent' as const) : ('received' as const),
        cseq: (cseq ?? '').replace(/^CSeq:\s*/, ''),
        firstLine: firstLine.trim(),
        status: Number(/^SIP\/2\.0 (\d{3})/.exec(firstLine)?.[1] ?? NaN) || null,
      },
    ];
  });

/**
 * sipp as a phone (a UAC, `-m 1`) dialling `did` at `server` from `fromAddress`: an INVITE whose SDP
 * offers PCMU and telephone-event at `mediaPort` on 127.0.0.1 (the test's RTP endpoint: its tone and
 * DTMF, and what it hears), then the 200 OK ACKed, `talkMs` in the call, BYE, its 200 (or, with
 * `hangUp: 'remote'`, the call until the other end's BYE, answered 200). The test
 * follows the SIP side through sipp's short message trace, which sipp flushes at every message.
 */
export const startSippPhone = async (o: SippPhoneOptions): Promise<SippPhone> => {
  const dir = mkdtempSync(join(tmpdir(), 'webdial-sipp-phone-'));
  const scenario = join(dir, 'phone.xml');
  writeFileSync(scenario, phoneScenarioXml(o));
  const trace = join(dir, 'phone_shortmessages.tsv');
  const sipPort = await freeUdpPort();
  const sippMediaPort = await freeUdpPort(); // sipp's own media sockets, unused: the SDP names the RTP endpoint
  const args = [
    ...['-sf', scenario, '-i', o.fromAddress, '-p', String(sipPort), '-mi', '127.0.0.1', '-mp', String(sippMediaPort), '-m', '1', '-f', '1'],
    ...['-trace_screen', '-trace_err', '-trace_shortmsg', '-shortmessage_file', trace],
    ...['-timeout', `${Math.ceil(o.timeoutMs / 1000)}s`, '-timeout_error', '-nostdin', `${o.server.host}:${o.server.port}`],
  ];
  let messages: PhoneMessage[] = [];
  let exited = false;
  const waiters: Array<() => void> = [];
  const poll = () => {
    try {
      messages = parseShortMessages(readFileSync(trace, 'latin1'));
    } catch {
      /* not written yet */
    }
    for (const w of [...waiters]) w();
  };
  const timer = setInterval(poll, 50);
  const when = (pick: (m: PhoneMessage) => boolean) =>
    new Promise<number | null>((resolve) => {
      const check = () => {
        const m = messages.find(pick);
        if (!m && !exited) return;
        waiters.splice(waiters.indexOf(check), 1);
        resolve(m ? m.at : null);
      };
      waiters.push(check);
    });
  const run = runSipp(dir, args, (exitCode, read, screenLines): SippPhoneResult => {
    clearInterval(timer);
    poll(); // the last messages, before the directory goes
    exited = true;
    poll();
    return { exitCode, messages, screen: `${screenLines.join('\n')}\n${read('_screen.log')}\n${read('_errors.log')}` };
  });
  return {
    sipPort,
    messages: () => messages,
    statuses: () => messages.filter((m) => m.direction === 'received' && m.cseq.endsWith('INVITE') && m.status !== null).map((m) => m.status!),
    running: () => !exited,
    answered: when((m) => m.direction === 'received' && m.cseq.endsWith('INVITE') && m.status !== null && m.status >= 200 && m.status < 300),
    byeSent: when((m) => m.direction === 'sent' && m.cseq.endsWith('BYE')),
    ...run,
  };
};
