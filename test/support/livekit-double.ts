import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  AttributesEvent,
  DtmfEvent,
  ParticipantLeftEvent,
  RoomParticipant,
  RoomParticipantEvents,
  RoomParticipantFactory,
} from '../../src/media/livekit/room-participant';

/**
 * A wire-level LiveKit test double on node:http. It answers the Twirp JSON API the way
 * livekit-server (RoomService) and livekit/sip (SIP) do, verifies the HS256 JWT the SDK sends and
 * its grants, and signs webhooks like LiveKit. Facts: /work/shared/LIVEKIT.md.
 *
 * What it cannot be: LiveKit's WebRTC signalling. For the server-run room participant it offers an
 * in-process `roomParticipantFactory` that verifies the join token the same way and replays the
 * SIP leg's scripted progress as room events (attributes, DTMF, participant left).
 */

/** How the scripted callee answers a CreateSIPParticipant for one number. */
export type DialScript =
  | { outcome: 'answer'; ringAfterMs?: number; afterMs?: number }
  /** 486 Busy Here → Twirp resource_exhausted; the leg leaves with USER_REJECTED. */
  | { outcome: 'busy'; ringAfterMs?: number; afterMs?: number }
  /** 603 Decline → Twirp permission_denied; USER_REJECTED. */
  | { outcome: 'decline'; ringAfterMs?: number; afterMs?: number }
  /** No SIP code at all: Twirp `canceled` ("sip request timed out") or `failed_precondition`. */
  | { outcome: 'noAnswer'; code?: 'canceled' | 'failed_precondition'; ringAfterMs?: number; afterMs?: number }
  /** A SIP error status, e.g. 503 → failed_precondition with sip_status_code; SIP_TRUNK_FAILURE. */
  | { outcome: 'sipError'; sipStatus: number; afterMs?: number };

export interface RecordedRequest {
  service: string;
  method: string;
  body: Record<string, unknown>;
  claims: Record<string, unknown>;
  authorization: string | undefined;
  userAgent: string | undefined;
  at: number;
}

export interface RecordedJoin {
  room: string;
  claims: Record<string, unknown>;
  at: number;
}

export interface WebhookParticipant {
  identity: string;
  kind?: 'STANDARD' | 'SIP' | 'AGENT';
  disconnectReason?: string;
  attributes?: Record<string, string>;
}

export interface LiveKitDouble {
  /** http://127.0.0.1:<port>: give it to the SDK as the LiveKit URL. */
  url: string;
  apiKey: string;
  apiSecret: string;
  /** Every Twirp request that passed authentication, in arrival order. */
  requests: RecordedRequest[];
  /** Rooms that exist now. */
  rooms: Set<string>;
  /** Joins of in-process room participants (their verified token claims). */
  joins: RecordedJoin[];
  /** DTMF published by room participants, per room, in order. */
  dtmfSent: Map<string, string[]>;
  /** Scripts the callee behind `number`; unscripted numbers answer after 20 ms. */
  script(number: string, script: DialScript): void;
  /** An in-process stand-in for the rtc-node participant, wired to this double's rooms. */
  roomParticipantFactory: RoomParticipantFactory;
  /** The callee keys a digit (or sends any RFC 4733 event code) on a live SIP leg in `room` (a SipDTMF packet); `identity`: which leg (default: the room's first). */
  keyDtmf(room: string, key: string | number, identity?: string): void;
  /** The callee hangs up (BYE) on the SIP leg in `room`; `identity`: which leg (default: the room's first). */
  calleeHangsUp(room: string, identity?: string): void;
  /**
   * The next DeleteRoom of `room` races LiveKit closing it by itself (its last participant left):
   * the room is gone, and the delete answers `internal` instead of `not_found`.
   */
  closeWhileDeleting(room: string): void;
  /** The next `times` DeleteRoom of `room` fail with `unavailable` (503, LiveKit unreachable behind its proxy) and leave the room as it is. */
  failDeletes(room: string, times: number): void;
  /** Waits until `predicate` holds, polling; rejects after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs?: number): Promise<void>;
  /** The Authorization value LiveKit sends with a webhook for `body` (a raw JWT, no "Bearer"). */
  signWebhook(body: string, opts?: { secret?: string; issuer?: string; expiresInSeconds?: number }): string;
  /** A webhook body exactly as LiveKit serialises it (protobuf JSON, camelCase, enums by name). */
  webhookBody(event: 'participant_left' | 'participant_joined' | 'room_finished', room: string, participant?: WebhookParticipant, id?: string): string;
  /** POSTs a signed webhook to `url` as LiveKit does. */
  postWebhook(url: string, body: string, authorization?: string): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

export interface LiveKitDoubleOptions {
  apiKey?: string;
  apiSecret?: string;
  /** Outbound trunks that already exist (e.g. the configured LIVEKIT_SIP_TRUNK_ID). */
  trunks?: string[];
}

/** Twirp error code → HTTP status, as in twitchtv/twirp's ServerHTTPStatusFromErrorCode. */
const TWIRP_STATUS: Record<string, number> = {
  canceled: 408,
  invalid_argument: 400,
  malformed: 400,
  deadline_exceeded: 408,
  not_found: 404,
  bad_route: 404,
  already_exists: 409,
  permission_denied: 403,
  unauthenticated: 401,
  resource_exhausted: 429,
  failed_precondition: 412,
  aborted: 409,
  out_of_range: 400,
  unimplemented: 501,
  internal: 500,
  unavailable: 503,
  dataloss: 500,
};

class TwirpFailure extends Error {
  constructor(readonly code: string, msg: string, readonly meta?: Record<string, string>) {
    super(msg);
  }
}

const b64url = (buf: Buffer | string) => Buffer.from(buf).toString('base64url');

const signJwt = (payload: Record<string, unknown>, secret: string): string => {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(payload));
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
};

/** Verifies an HS256 JWT signed with `secret` by `apiKey`; returns its claims or throws unauthenticated. */
const verifyJwt = (token: string, apiKey: string, secret: string): Record<string, unknown> => {
  const parts = token.split('.');
  if (parts.length !== 3) throw new TwirpFailure('unauthenticated', 'malformed token');
  const [head, body, sig] = parts as [string, string, string];
  const header = JSON.parse(Buffer.from(head, 'base64url').toString()) as { alg?: string };
  if (header.alg !== 'HS256') throw new TwirpFailure('unauthenticated', `unexpected alg ${header.alg}`);
  const expected = createHmac('sha256', secret).update(`${head}.${body}`).digest();
  const got = Buffer.from(sig, 'base64url');
  if (got.length !== expected.length || !timingSafeEqual(got, expected)) throw new TwirpFailure('unauthenticated', 'invalid token signature');
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
  const now = Math.floor(Date.now() / 1000);
  if (claims.iss !== apiKey) throw new TwirpFailure('unauthenticated', 'unknown API key');
  if (typeof claims.exp !== 'number' || claims.exp < now) throw new TwirpFailure('unauthenticated', 'token expired');
  if (typeof claims.nbf === 'number' && claims.nbf > now + 5) throw new TwirpFailure('unauthenticated', 'token not yet valid');
  return claims;
};

type Grants = { video?: Record<string, unknown>; sip?: Record<string, unknown> };

/** The grant each method needs, as livekit-server and livekit/sip check it. */
const requireGrants = (method: string, claims: Grants, body: Record<string, unknown>): void => {
  const video = claims.video ?? {};
  const sip = claims.sip ?? {};
  const deny = (what: string) => {
    throw new TwirpFailure('permission_denied', `permissions denied: ${method} needs ${what}`);
  };
  switch (method) {
    case 'CreateSIPParticipant':
      if (sip.call !== true) deny('sip.call');
      return;
    case 'CreateSIPOutboundTrunk':
    case 'ListSIPOutboundTrunk':
    case 'UpdateSIPOutboundTrunk':
    case 'DeleteSIPTrunk':
      if (sip.admin !== true) deny('sip.admin');
      return;
    case 'RemoveParticipant':
      if (video.roomAdmin !== true || video.room !== body.room) deny('roomAdmin for this room');
      return;
    case 'DeleteRoom':
    case 'CreateRoom':
      if (video.roomCreate !== true) deny('roomCreate');
      return;
    case 'ListRooms':
      if (video.roomList !== true) deny('roomList');
      return;
    default:
      throw new TwirpFailure('bad_route', `no handler for ${method}`);
  }
};

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Listeners {
  attributes: RoomParticipantEvents['attributes'][];
  dtmf: RoomParticipantEvents['dtmf'][];
  participantLeft: RoomParticipantEvents['participantLeft'][];
}

export const startLiveKitDouble = async (options: LiveKitDoubleOptions = {}): Promise<LiveKitDouble> => {
  const apiKey = options.apiKey ?? 'APIdouble';
  const apiSecret = options.apiSecret ?? randomBytes(24).toString('hex');
  const requests: RecordedRequest[] = [];
  const rooms = new Set<string>();
  const trunks = new Map<string, Record<string, unknown>>((options.trunks ?? []).map((id) => [id, { sipTrunkId: id, name: '', address: '', numbers: [] }]));
  const scripts = new Map<string, DialScript>();
  const joins: RecordedJoin[] = [];
  const dtmfSent = new Map<string, string[]>();
  /** In-process participants per room. */
  const members = new Map<string, Set<Listeners>>();
  /** Live SIP legs per room (a call's own, and its second legs: DialRequest.intoCallId), by identity. */
  const sipLegs = new Map<string, Map<string, { identity: string; attributes: Record<string, string> }>>();
  /** The SIP leg `identity` in `room`; without an identity, the room's first one. */
  const sipLeg = (room: string, identity?: string) => {
    const legs = sipLegs.get(room);
    return identity === undefined ? legs?.values().next().value : legs?.get(identity);
  };

  const emit = <K extends keyof Listeners>(room: string, event: K, payload: Parameters<Listeners[K][number]>[0]) => {
    for (const m of members.get(room) ?? []) for (const l of m[event]) (l as (p: typeof payload) => void)(payload);
  };
  const setCallStatus = (room: string, identity: string | undefined, status: string) => {
    const leg = sipLeg(room, identity);
    if (!leg) return;
    leg.attributes = { ...leg.attributes, 'sip.callStatus': status };
    emit(room, 'attributes', { identity: leg.identity, attributes: { ...leg.attributes } } satisfies AttributesEvent);
  };
  /** SIP leg `identity` leaves `room`; without an identity, every SIP leg in it (the room deleted). */
  const legLeaves = (room: string, disconnectReason: string, identity?: string) => {
    const legs = sipLegs.get(room);
    for (const leg of [...(legs?.values() ?? [])]) {
      if (identity !== undefined && leg.identity !== identity) continue;
      legs!.delete(leg.identity);
      emit(room, 'participantLeft', { identity: leg.identity, disconnectReason, attributes: { ...leg.attributes } } satisfies ParticipantLeftEvent);
    }
    if (legs?.size === 0) sipLegs.delete(room);
  };

  /** Plays one CreateSIPParticipant: progress as room events, then the RPC's answer or error. */
  const dial = async (body: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const trunkId = String(body.sipTrunkId ?? '');
    if (!trunks.has(trunkId)) throw new TwirpFailure('not_found', `requested sip trunk does not exist: ${trunkId}`);
    const to = String(body.sipCallTo ?? '');
    const room = String(body.roomName ?? '');
    if (!to || !room) throw new TwirpFailure('invalid_argument', 'missing sipCallTo or roomName');
    const identity = String(body.participantIdentity ?? 'sip-participant');
    const attributes = {
      ...((body.participantAttributes as Record<string, string>) ?? {}),
      'sip.callID': `SCL_${randomBytes(6).toString('hex')}`,
      'sip.trunkID': trunkId,
      'sip.phoneNumber': to,
      'sip.trunkPhoneNumber': String(body.sipNumber ?? ''),
      'sip.hostname': 'trunk.example:5060', // the outbound trunk's address, as livekit/sip sets it
      'sip.callStatus': 'dialing',
    };
    rooms.add(room);
    if (!sipLegs.has(room)) sipLegs.set(room, new Map());
    sipLegs.get(room)!.set(identity, { identity, attributes });
    emit(room, 'attributes', { identity, attributes: { ...attributes } });
    const script = scripts.get(to) ?? { outcome: 'answer', afterMs: 20 };
    const info = { participantId: `PA_${randomBytes(6).toString('hex')}`, participantIdentity: identity, roomName: room, sipCallId: attributes['sip.callID'] };
    const play = async () => {
      if (script.outcome !== 'sipError') {
        await sleep(script.ringAfterMs ?? 5);
        setCallStatus(room, identity, 'ringing');
      }
      await sleep(script.afterMs ?? 20);
      if (!sipLeg(room, identity)) throw new TwirpFailure('canceled', 'room deleted while dialling');
      switch (script.outcome) {
        case 'answer': {
          // As livekit/sip v1.8.0: the 200 OK adds the dialog's ids, then the status turns active.
          const leg = sipLeg(room, identity)!;
          leg.attributes = { ...leg.attributes, 'sip.callTag': randomBytes(6).toString('hex'), 'sip.callIDFull': randomBytes(12).toString('base64url') };
          emit(room, 'attributes', { identity: leg.identity, attributes: { ...leg.attributes } });
          setCallStatus(room, identity, 'active');
          return info;
        }
        case 'busy':
          legLeaves(room, 'USER_REJECTED', identity);
          throw new TwirpFailure('resource_exhausted', 'sip status: 486: Busy Here', { sip_status_code: '486', sip_status: 'Busy Here' });
        case 'decline':
          legLeaves(room, 'USER_REJECTED', identity);
          throw new TwirpFailure('permission_denied', 'sip status: 603: Decline', { sip_status_code: '603', sip_status: 'Decline' });
        case 'noAnswer': {
          legLeaves(room, 'USER_UNAVAILABLE', identity);
          const code = script.code ?? 'canceled';
          throw new TwirpFailure(code, code === 'canceled' ? 'sip request timed out' : 'context deadline exceeded');
        }
        case 'sipError':
          legLeaves(room, 'SIP_TRUNK_FAILURE', identity);
          throw new TwirpFailure('failed_precondition', `sip status: ${script.sipStatus}`, { sip_status_code: String(script.sipStatus), sip_status: 'Service Unavailable' });
        default: {
          const never: never = script;
          throw new Error(`unknown script ${JSON.stringify(never)}`);
        }
      }
    };
    if (body.waitUntilAnswered === true) return play();
    void play().catch(() => undefined);
    return info;
  };

  const closing = new Set<string>();
  const failingDeletes = new Map<string, number>();
  const deleteRoom = (room: string) => {
    const failures = failingDeletes.get(room) ?? 0;
    if (failures > 0) {
      failingDeletes.set(room, failures - 1);
      throw new TwirpFailure('unavailable', 'LiveKit is unavailable');
    }
    if (closing.delete(room) && rooms.has(room)) {
      legLeaves(room, 'ROOM_DELETED');
      rooms.delete(room);
      members.delete(room);
      throw new TwirpFailure('internal', 'room is closing');
    }
    if (!rooms.has(room)) throw new TwirpFailure('not_found', 'requested room does not exist');
    legLeaves(room, 'ROOM_DELETED');
    rooms.delete(room);
    members.delete(room);
    return {};
  };

  const handle = async (method: string, body: Record<string, unknown>): Promise<Record<string, unknown>> => {
    switch (method) {
      case 'CreateSIPParticipant':
        return dial(body);
      case 'CreateSIPOutboundTrunk': {
        const trunk = (body.trunk ?? {}) as Record<string, unknown>;
        if (!trunk.address || !Array.isArray(trunk.numbers) || trunk.numbers.length === 0)
          throw new TwirpFailure('invalid_argument', 'trunk needs an address and numbers');
        const sipTrunkId = `ST_${randomBytes(6).toString('hex')}`;
        trunks.set(sipTrunkId, { ...trunk, sipTrunkId });
        return { ...trunk, sipTrunkId };
      }
      case 'ListSIPOutboundTrunk':
        return { items: [...trunks.values()] };
      case 'UpdateSIPOutboundTrunk': {
        const id = String(body.sipTrunkId ?? '');
        const replace = body.replace as Record<string, unknown> | undefined;
        if (!trunks.has(id)) throw new TwirpFailure('not_found', 'trunk not found');
        if (!replace) throw new TwirpFailure('unimplemented', 'the double only replaces trunks');
        trunks.set(id, { ...replace, sipTrunkId: id });
        return { ...replace, sipTrunkId: id };
      }
      case 'DeleteSIPTrunk': {
        const id = String(body.sipTrunkId ?? '');
        if (!trunks.delete(id)) throw new TwirpFailure('not_found', 'trunk not found');
        return { sipTrunkId: id };
      }
      case 'DeleteRoom':
        return deleteRoom(String(body.room ?? ''));
      case 'ListRooms': {
        const names = Array.isArray(body.names) ? (body.names as string[]) : null;
        return { rooms: [...rooms].filter((r) => names === null || names.includes(r)).map((name) => ({ name })) };
      }
      case 'CreateRoom': {
        const name = String(body.name ?? '');
        rooms.add(name);
        return { name, sid: `RM_${randomBytes(6).toString('hex')}` };
      }
      case 'RemoveParticipant': {
        const room = String(body.room ?? '');
        const leg = sipLeg(room, String(body.identity ?? ''));
        if (!leg) throw new TwirpFailure('not_found', 'participant not found');
        legLeaves(room, 'PARTICIPANT_REMOVED', leg.identity);
        return {};
      }
      default:
        throw new TwirpFailure('bad_route', `no handler for ${method}`);
    }
  };

  const sendJson = (res: ServerResponse, status: number, payload: unknown) => {
    // The SDK parses an error body only when content-type is exactly application/json.
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(payload));
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      const match = /^\/twirp\/livekit\.(SIP|RoomService)\/([A-Za-z]+)$/.exec(req.url ?? '');
      try {
        if (req.method !== 'POST' || !match) throw new TwirpFailure('bad_route', `no route ${req.method} ${req.url}`);
        const [, service, method] = match as unknown as [string, string, string];
        const raw = await readBody(req);
        const auth = req.headers.authorization;
        if (!auth?.startsWith('Bearer ')) throw new TwirpFailure('unauthenticated', 'missing bearer token');
        const claims = verifyJwt(auth.slice(7), apiKey, apiSecret);
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(raw) as Record<string, unknown>;
        } catch {
          throw new TwirpFailure('malformed', 'body is not JSON');
        }
        requireGrants(method, claims as Grants, body);
        requests.push({ service, method, body, claims, authorization: auth, userAgent: req.headers['user-agent'], at: Date.now() });
        sendJson(res, 200, await handle(method, body));
      } catch (e) {
        const f = e instanceof TwirpFailure ? e : new TwirpFailure('internal', (e as Error).message);
        sendJson(res, TWIRP_STATUS[f.code] ?? 500, { code: f.code, msg: f.message, ...(f.meta ? { meta: f.meta } : {}) });
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const signWebhook: LiveKitDouble['signWebhook'] = (body, opts = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return signJwt(
      {
        iss: opts.issuer ?? apiKey,
        nbf: now,
        exp: now + (opts.expiresInSeconds ?? 300),
        sha256: createHash('sha256').update(body).digest('base64'),
      },
      opts.secret ?? apiSecret,
    );
  };

  const roomParticipantFactory: RoomParticipantFactory = (): RoomParticipant => {
    const listeners: Listeners = { attributes: [], dtmf: [], participantLeft: [] };
    let room: string | null = null;
    return {
      async connect(name, token) {
        const claims = verifyJwt(token, apiKey, apiSecret);
        const video = (claims.video ?? {}) as Record<string, unknown>;
        if (video.roomJoin !== true || video.room !== name) throw new Error(`token does not grant joining ${name}`);
        joins.push({ room: name, claims, at: Date.now() });
        rooms.add(name);
        room = name;
        if (!members.has(name)) members.set(name, new Set());
        members.get(name)!.add(listeners);
        for (const leg of sipLegs.get(name)?.values() ?? []) for (const l of listeners.attributes) l({ identity: leg.identity, attributes: { ...leg.attributes } });
      },
      on(event, listener) {
        (listeners[event] as unknown[]).push(listener);
      },
      async publishDtmf(_code, digit) {
        if (!room || !members.get(room)?.has(listeners)) throw new Error('not connected');
        if (!dtmfSent.has(room)) dtmfSent.set(room, []);
        dtmfSent.get(room)!.push(digit);
      },
      // No media in the double: a track that plays at once.
      async publishAudio() {
        return { play: async () => undefined, close: async () => undefined };
      },
      async disconnect() {
        if (room) members.get(room)?.delete(listeners);
        room = null;
      },
    };
  };

  return {
    url,
    apiKey,
    apiSecret,
    requests,
    rooms,
    joins,
    dtmfSent,
    script: (number, s) => void scripts.set(number, s),
    closeWhileDeleting: (room) => void closing.add(room),
    failDeletes: (room, times) => void failingDeletes.set(room, times),
    roomParticipantFactory,
    keyDtmf(room, key, identity) {
      const leg = sipLeg(room, identity);
      if (!leg) throw new Error(`no SIP leg in ${room}`);
      // As livekit/sip v1.8.0 broadcasts a telephone-event: A-D as "a"-"d", any other event as "\u0000".
      const code = typeof key === 'number' ? key : '0123456789*#ABCD'.indexOf(key.toUpperCase());
      const digit = code >= 0 && code <= 11 ? '0123456789*#'[code]! : code >= 12 && code <= 15 ? 'abcd'[code - 12]! : '\u0000';
      emit(room, 'dtmf', { identity: leg.identity, code, digit } satisfies DtmfEvent);
    },
    calleeHangsUp(room, identity) {
      const leg = sipLeg(room, identity);
      if (!leg) return;
      setCallStatus(room, leg.identity, 'hangup');
      legLeaves(room, 'CLIENT_INITIATED', leg.identity);
    },
    async waitFor(predicate, timeoutMs = 3000) {
      const until = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > until) throw new Error('waitFor: condition not met in time');
        await sleep(5);
      }
    },
    signWebhook,
    webhookBody(event, room, participant, id) {
      const now = Math.floor(Date.now() / 1000);
      const payload: Record<string, unknown> = {
        event,
        room: { sid: `RM_${room}`, name: room },
        id: id ?? `EV_${randomBytes(8).toString('hex')}`,
        createdAt: String(now),
      };
      if (participant)
        payload.participant = {
          sid: `PA_${participant.identity}`,
          identity: participant.identity,
          state: event === 'participant_left' ? 'DISCONNECTED' : 'ACTIVE',
          ...(participant.kind && participant.kind !== 'STANDARD' ? { kind: participant.kind } : {}),
          ...(participant.attributes ? { attributes: participant.attributes } : {}),
          ...(participant.disconnectReason ? { disconnectReason: participant.disconnectReason } : {}),
        };
      return JSON.stringify(payload);
    },
    async postWebhook(target, body, authorization) {
      const res = await fetch(target, {
        method: 'POST',
        headers: { 'content-type': 'application/webhook+json', authorization: authorization ?? signWebhook(body) },
        body,
      });
      return { status: res.status, body: await res.text() };
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
};
