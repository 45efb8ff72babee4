import '../lib/styles.css';
import { render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { graphql } from '../lib/graphql';
import { liveClient, request, subscribe, type ApiError } from '../lib/client';
import type { Client } from 'graphql-ws/client';
import { Problem, Shell, type Session } from '../lib/shell';
import { useAction, useNow } from '../lib/hooks';
import { dateTime, duration, time } from '../lib/format';
import { prepareMedia, type MediaSession } from '../lib/media';
import '../lib/livekit-connector';
import { TransferControls, transferRole } from './transfer';
import { callLabel, derive, describeCallerMedia, describeCommand, keyIdOf, POP, ringAnnouncement, transferItems, type CallEventItem, type CallModel, type Pop } from './model';

const MERCHANT = graphql(`
  query ConsoleMerchant($id: ID!) {
    merchant(id: $id) {
      id
      name
      allowedOrigins
      callCenters {
        id
        name
        kind
      }
      dtmfCommands {
        sequence
        action
        argument
      }
    }
  }
`);

const LIVE_CALLS = graphql(
  `
    query LiveCalls($m: ID!, $state: CallState!) {
      calls(filter: { merchantId: $m, state: $state }, first: 20) {
        edges {
          node {
            id
            context {
              ...Pop
            }
          }
        }
      }
    }
  `,
  [POP],
);

const SCREEN_POPS = graphql(
  `
    subscription ScreenPops($m: ID!) {
      screenPops(merchantId: $m) {
        ...Pop
      }
    }
  `,
  [POP],
);

const CALL_EVENTS = graphql(`
  subscription ConsoleCallEvents($m: ID!, $c: ID!) {
    callEvents(merchantId: $m, callId: $c) {
      eventId
      type
      occurredAt
      data
    }
  }
`);

const TIMELINE = graphql(`
  query ConsoleTimeline($c: ID!) {
    callTimeline(callId: $c) {
      eventId
      type
      occurredAt
      data
    }
  }
`);

const TRANSFERS = graphql(`
  query ConsoleTransfers($c: ID!) {
    callTransfers(callId: $c) {
      transferId
      mode
      status
      fromCallCenterId
      fromAgent
      toCallCenterId
      toAgent
      startedAt
      endedAt
      cancelReason
    }
  }
`);

const ANSWER = graphql(`
  mutation Answer($c: ID!) {
    answerCall(callId: $c) {
      id
      state
    }
  }
`);
const HANG_UP = graphql(`
  mutation AgentHangUp($c: ID!) {
    agentHangUp(callId: $c) {
      id
      state
    }
  }
`);
const COMMAND = graphql(`
  mutation AgentCommand($c: ID!, $action: DtmfAction!, $argument: String) {
    agentCommand(callId: $c, action: $action, argument: $argument) {
      action
      argument
      sequence
      accepted
      reason
    }
  }
`);
const CHAT = graphql(`
  mutation AgentChat($c: ID!, $channel: String!, $text: String!) {
    sendChannelMessage(callId: $c, channelId: $channel, text: $text)
  }
`);
const MEDIA_JOIN = graphql(`
  query AgentMediaJoin($c: ID!) {
    agentMediaJoin(callId: $c) {
      provider
      url
      token
      room
    }
  }
`);

type Merchant = NonNullable<Awaited<ReturnType<typeof loadMerchant>>>;

/** A browser call's audio, as the console shows it. */
type Audio =
  | { kind: 'none'; reason: string } // no audio in this mode
  | { kind: 'refused'; reason: string } // the microphone was refused: the call was not taken
  | { kind: 'connecting'; hearing: boolean }
  | { kind: 'connected'; session: MediaSession; hearing: boolean; muted: boolean }
  | { kind: 'failed'; reason: string } // answered, but the room could not be joined
  | { kind: 'lost' };

/**
 * The audio of each call, kept by the console rather than by the call's panel: looking at another
 * call must not drop the room of the one the agent is talking on.
 */
const useCallAudio = () => {
  const [audio, setAudio] = useState<Map<string, Audio>>(new Map());
  const sessions = useRef(new Map<string, MediaSession>());
  const update = (callId: string, next: (a: Audio | undefined) => Audio | undefined) =>
    setAudio((prev) => {
      const a = next(prev.get(callId));
      if (a === prev.get(callId)) return prev;
      const m = new Map(prev);
      if (a === undefined) m.delete(callId);
      else m.set(callId, a);
      return m;
    });
  const leave = (callId: string) => {
    const s = sessions.current.get(callId);
    sessions.current.delete(callId);
    void s?.leave();
  };
  useEffect(() => () => [...sessions.current.keys()].forEach(leave), []);
  return {
    of: (callId: string) => audio.get(callId) ?? null,
    set: (callId: string, a: Audio) => update(callId, () => a),
    update,
    connected(callId: string, session: MediaSession) {
      sessions.current.set(callId, session);
      // The caller's audio may have started while the room was being joined.
      update(callId, (a) => ({ kind: 'connected', session, hearing: a?.kind === 'connecting' && a.hearing, muted: false }));
    },
    leave,
  };
};
type CallAudio = ReturnType<typeof useCallAudio>;
const NUMBERS = graphql(`
  query ConsoleNumbers($m: ID!) {
    dids(merchantId: $m) {
      number
      destination
      callCenterId
      agentKeyId
      linkId
      menu {
        id
        destination
        callCenterId
        agentKeyId
        linkId
      }
    }
  }
`);

type Destination = { destination: string; callCenterId: string | null; agentKeyId: string | null; linkId: string | null };

/**
 * The merchant's phone numbers (issue 23) and where each rings, so that an agent knows which calls
 * reach this console: a center's consoles, one agent (this one: "you"), a link's routing, or a main
 * number's menu of IDs keyed on the phone.
 */
const Numbers = ({ session, merchant }: { session: Session; merchant: Merchant | null }) => {
  const [dids, setDids] = useState<Array<Destination & { number: string; menu: Array<Destination & { id: string }> }> | null>(null);
  const me = keyIdOf(session.key);
  useEffect(() => {
    request(session.key, NUMBERS, { m: session.merchantId })
      .then((d) => setDids(d.dids))
      .catch(() => setDids([]));
  }, [session.key, session.merchantId]);
  const center = (id: string | null) => merchant?.callCenters.find((c) => c.id === id)?.name ?? id ?? '?';
  const where = (d: Destination) =>
    d.destination === 'CALL_CENTER' ? `${center(d.callCenterId)}'s consoles` : d.destination === 'AGENT' ? (d.agentKeyId === me ? 'you' : `agent ${d.agentKeyId}`) : `link ${d.linkId}`;
  if (dids === null || dids.length === 0) return null;
  return (
    <section class="card" aria-labelledby="numbers-h" data-testid="numbers">
      <h2 id="numbers-h">Phone numbers</h2>
      <ul>
        {dids.map((d) => (
          <li>
            <strong>{d.number}</strong>: {d.destination === 'MENU' ? `main number, the caller keys ${d.menu.map((e) => `${e.id}# for ${where(e)}`).join(', ')}` : `rings ${where(d)}`}
          </li>
        ))}
      </ul>
    </section>
  );
};

const QUEUE = graphql(`
  subscription ConsoleQueue($c: ID!) {
    queueChanges(callCenterId: $c) {
      callId
      callCenterId
      position
      linkId
      linkLabel
      joinedAt
      estimatedWaitSeconds
    }
  }
`);

/** How long the Queue card waits before following a queue again after its live connection failed. */
const QUEUE_RETRY_MS = 2000;

type Queued = { callId: string; callCenterId: string; position: number; linkId: string; linkLabel: string | null; joinedAt: string; estimatedWaitSeconds: number };

/**
 * The calls waiting for a slot (issue 25): an AGENT key's own center, or every center of the merchant
 * for a CRM key; the next first, with the time each has waited and the link it came from. Followed
 * live (`queueChanges`: the list on subscribe, then after each change of that center's queue, from
 * the server's memory, at most 20 rows a center); a failed subscription is followed again.
 */
const QueueCard = ({ session, merchant, client }: { session: Session; merchant: Merchant | null; client: Client }) => {
  const now = useNow();
  const [rows, setRows] = useState<Queued[] | null>(null);
  const [failed, setFailed] = useState(false);
  const centers = session.callCenterId ? [session.callCenterId] : (merchant?.callCenters.map((c) => c.id) ?? []);
  const key = centers.join(',');
  useEffect(() => {
    if (centers.length === 0) return;
    let live = true;
    const lists = new Map<string, Queued[]>();
    const stops = new Map<string, () => void>();
    const timers = new Set<ReturnType<typeof setTimeout>>();
    const follow = (c: string) => {
      stops.set(
        c,
        subscribe(client, QUEUE, { c }, {
          next: (d) => {
            if (!live) return;
            lists.set(c, d.queueChanges);
            // The centers' lists in the centers' order (an AGENT key has one).
            setRows(centers.flatMap((id) => lists.get(id) ?? []));
            setFailed(false);
          },
          error: () => {
            if (!live) return;
            setFailed(true);
            const t = setTimeout(() => {
              timers.delete(t);
              if (live) follow(c);
            }, QUEUE_RETRY_MS);
            timers.add(t);
          },
        }),
      );
    };
    centers.forEach(follow);
    return () => {
      live = false;
      for (const stop of stops.values()) stop();
      for (const t of timers) clearTimeout(t);
    };
  }, [client, key]);
  const center = (id: string) => merchant?.callCenters.find((c) => c.id === id)?.name ?? id;
  return (
    <section class="card" aria-labelledby="queue-h" data-testid="queue">
      <h2 id="queue-h">Queue</h2>
      {failed && <p class="note">The queue could not be read; trying again.</p>}
      {rows !== null && rows.length === 0 && (
        <p class="note" data-testid="queue-empty">
          No call is waiting.
        </p>
      )}
      {rows !== null && rows.length > 0 && (
        <ul class="calls">
          {rows.map((r) => (
            <li data-testid="queued-call" data-call-id={r.callId} data-position={r.position}>
              <strong>{r.position}.</strong> waiting {duration((now - Date.parse(r.joinedAt)) / 1000)} · {r.linkLabel ?? `link ${r.linkId}`}
              {centers.length > 1 ? ` · ${center(r.callCenterId)}` : ''} · about {Math.max(1, Math.round(r.estimatedWaitSeconds / 60))} min left
            </li>
          ))}
        </ul>
      )}
    </section>
  );
};

const loadMerchant = async (s: Session) => (await request(s.key, MERCHANT, { id: s.merchantId })).merchant;

const Console = ({ session }: { session: Session }) => {
  const client = useMemo(() => liveClient(session.key), [session.key]);
  const [merchant, setMerchant] = useState<Merchant | null>(null);
  const [calls, setCalls] = useState<Map<string, CallModel>>(new Map());
  const [selected, setSelected] = useState<string | null>(null);
  const [problem, setProblem] = useState<unknown>(null);
  const [announce, setAnnounce] = useState('');
  const followed = useRef(new Map<string, () => void>());
  const audio = useCallAudio();

  const ended = useRef(new Set<string>());

  const addEvents = (callId: string, items: CallEventItem[]) => {
    // An ended call changes no more: stop following it (its events so far stay on screen).
    if (items.some((e) => e.type === 'CallTerminated')) {
      ended.current.add(callId);
      followed.current.get(callId)?.();
      followed.current.set(callId, () => {});
    }
    setCalls((prev) => {
      const m = prev.get(callId);
      if (!m) return prev;
      const events = new Map(m.events);
      for (const e of items) events.set(e.eventId, e);
      return new Map(prev).set(callId, { ...m, events });
    });
  };

  /** Shows a call and follows its events: live from now on, plus its timeline so far. */
  const follow = (pop: Pop) => {
    // The newest 30 calls stay listed.
    setCalls((prev) => (prev.has(pop.callId) ? prev : new Map([...prev].slice(-29)).set(pop.callId, { pop, events: new Map() })));
    // A new call takes the panel unless the agent is on a call that goes on.
    setSelected((s) => (s === null || ended.current.has(s) ? pop.callId : s));
    if (followed.current.has(pop.callId)) return;
    const stop = subscribe(client, CALL_EVENTS, { m: session.merchantId, c: pop.callId }, {
      next: (d) => addEvents(pop.callId, [d.callEvents]),
      error: (e) => setProblem(e),
    });
    followed.current.set(pop.callId, stop);
    void request(session.key, TIMELINE, { c: pop.callId }).then((t) => addEvents(pop.callId, t.callTimeline), setProblem);
    // Issue 25: its transfers so far (a console the call was transferred to saw none of them live).
    void request(session.key, TRANSFERS, { c: pop.callId }).then((t) => addEvents(pop.callId, transferItems(t.callTransfers)), setProblem);
  };

  useEffect(() => {
    void loadMerchant(session).then(setMerchant, setProblem);
    // Calls already ringing or under way when the console opens, then every new pop.
    for (const state of ['RINGING', 'ANSWERED'] as const)
      void request(session.key, LIVE_CALLS, { m: session.merchantId, state }).then(
        (r) => r.calls.edges.forEach((e) => e.node.context && follow(e.node.context)),
        setProblem,
      );
    const stopPops = subscribe(client, SCREEN_POPS, { m: session.merchantId }, {
      next: (d) => {
        const pop: Pop = d.screenPops;
        setAnnounce(ringAnnouncement(pop));
        follow(pop);
      },
      error: (e: ApiError) => setProblem(e),
    });
    return () => {
      stopPops();
      for (const stop of followed.current.values()) stop();
      void client.dispose();
    };
  }, [session.key]);

  const list = [...calls.values()].reverse();
  const current = selected ? calls.get(selected) ?? null : null;
  return (
    <>
      <p class="sr-only" aria-live="polite" data-testid="announce">
        {announce}
      </p>
      <Problem error={problem} />
      <div class="grid">
        <section class="card" aria-labelledby="calls-h">
          <h2 id="calls-h">Calls</h2>
          {list.length === 0 && (
            <p class="note" data-testid="waiting">
              Waiting for calls{session.callCenterId ? ` to call center ${session.callCenterId}` : ''}… A screen pop appears here as soon as a call rings.
            </p>
          )}
          <ul class="calls">
            {list.map((m) => {
              const d = derive(m);
              return (
                <li>
                  <button type="button" aria-pressed={m.pop.callId === selected} onClick={() => setSelected(m.pop.callId)} data-testid="call-item">
                    <span class={`badge state-${d.state}`}>{d.state}</span>{' '}
                    {callLabel(m.pop)} · {time(d.ringingAt)}
                  </button>
                </li>
              );
            })}
          </ul>
        </section>
        {current && <CallPanel key={current.pop.callId} session={session} model={current} merchant={merchant} audio={audio} />}
        <QueueCard session={session} merchant={merchant} client={client} />
        <Numbers session={session} merchant={merchant} />
      </div>
    </>
  );
};

const CallPanel = ({ session, model, merchant, audio }: { session: Session; model: CallModel; merchant: Merchant | null; audio: CallAudio }) => {
  const now = useNow();
  const d = derive(model);
  const pop = model.pop;
  const me = keyIdOf(session.key);
  const browser = pop.media === 'BROWSER';
  // A phone call to one of the merchant's numbers (issue 23): answered here like a browser call.
  const inbound = pop.direction === 'INBOUND';
  const ended = d.state === 'TERMINATED';
  // Commands need an answered call; on a browser call, the agent who holds it (answered it, or took it by a transfer).
  // No holder: not answered yet, or (issue 25) handed over to a PSTN center's phone, which is no one's here.
  const toPhone = d.holder === null && d.transfers.some((t) => t.status === 'COMPLETED');
  const mine = !browser || (d.holder === null && !toPhone) || d.holder === me;
  const canCommand = d.state === 'ANSWERED' && mine;
  const center = merchant?.callCenters.find((c) => c.id === pop.callCenterId);
  const media = audio.of(pop.callId);
  const [result, setResult] = useState<{ text: string; refused: boolean } | null>(null);

  /** The microphone first: a refused one leaves the call ringing (for this agent to retry, or another). */
  const prepare = async () => prepareMedia((await request(session.key, MEDIA_JOIN, { c: pop.callId })).agentMediaJoin);
  const connect = async (plan: Awaited<ReturnType<typeof prepare>>) => {
    if (plan.kind !== 'ready') return audio.set(pop.callId, plan);
    audio.set(pop.callId, { kind: 'connecting', hearing: false });
    try {
      const joined = await plan.media.connect(plan.join, {
        onRemoteAudio: () => audio.update(pop.callId, (a) => (a?.kind === 'connected' || a?.kind === 'connecting' ? { ...a, hearing: true } : a)),
        onLost: () => audio.update(pop.callId, (a) => (a?.kind === 'connected' ? { kind: 'lost' } : a)),
      });
      audio.connected(pop.callId, joined);
    } catch (e) {
      audio.set(pop.callId, { kind: 'failed', reason: (e as Error).message });
    }
  };
  /** The microphone first, then `act` (answer, take a transfer), then the room. */
  const withMedia = async (act: () => Promise<unknown>) => {
    const plan = await prepare();
    if (plan.kind === 'refused') return audio.set(pop.callId, plan);
    try {
      await act();
    } catch (e) {
      if (plan.kind === 'ready') plan.media.release(); // another agent was quicker
      throw e;
    }
    await connect(plan);
  };
  const answer = useAction(() => withMedia(() => request(session.key, ANSWER, { c: pop.callId })));
  const reconnect = useAction(async () => {
    audio.leave(pop.callId);
    const plan = await prepare();
    await connect(plan);
  });
  const hangUp = useAction(async () => {
    await request(session.key, HANG_UP, { c: pop.callId });
    audio.leave(pop.callId);
  });
  const mute = useAction(async () => {
    if (media?.kind !== 'connected') return;
    await media.session.setMuted(!media.muted);
    audio.update(pop.callId, (a) => (a?.kind === 'connected' ? { ...a, muted: !media.muted } : a));
  });
  const ownSound = useAction(async (choice: OwnChoice) => {
    if (media?.kind !== 'connected' || !media.session.setSound) return;
    setOwnSound(`${OWN_CHOICES[choice]}: ${await media.session.setSound(choice)}`);
  });
  const [ownSoundText, setOwnSound] = useState<string | null>(null);
  const command = useAction(async (action: CommandAction, argument: string) => {
    setResult(null);
    const r = (await request(session.key, COMMAND, { c: pop.callId, action, argument })).agentCommand;
    setResult(
      r.accepted
        ? { text: `Done: ${describeCommand({ ...r, source: 'AGENT', at: '' })}`, refused: false }
        : { text: `Refused: ${r.reason ?? 'not allowed'}. The attempt is recorded on the call.`, refused: true },
    );
  });
  useEffect(() => {
    if (ended) audio.leave(pop.callId);
  }, [ended]);
  // Issue 25: this console handed the call over, or its consultation was cancelled. The server removes
  // it from the room at once (so that the caller stops hearing it whatever this page does); the page
  // leaves by itself only if it is still there a moment later (the server's removal failed).
  const handedOver = d.transfers.some((t) => (t.status === 'COMPLETED' && t.from.agent === me && t.to.agent !== me) || (t.status === 'CANCELLED' && t.to.agent === me)) && d.holder !== me;
  useEffect(() => {
    if (!handedOver) return;
    const timer = setTimeout(() => audio.leave(pop.callId), 3000);
    return () => clearTimeout(timer);
  }, [handedOver]);

  const timer = ended
    ? `Talked ${duration(d.ended?.talkSeconds ?? 0)}`
    : d.answeredAt
      ? duration((now - Date.parse(d.answeredAt)) / 1000)
      : d.ringingAt
        ? `Ringing ${duration((now - Date.parse(d.ringingAt)) / 1000)}`
        : '—';

  return (
    <section class="card" aria-labelledby="pop-h" data-testid="call-panel">
      <h2 id="pop-h">
        Screen pop <span class={`badge state-${d.state}`} data-testid="call-state">{d.state}</span>
      </h2>
      <p class="timer" aria-live="off" data-testid="timer">
        {timer}
      </p>
      <dl class="facts" data-testid="pop">
        <dt>Caller</dt>
        <dd data-testid="caller">
          {inbound
            ? `a phone: ${pop.earlierCalls.length > 0 ? `called ${pop.earlierCalls.length === 5 ? '5 or more' : pop.earlierCalls.length} time(s) before` : 'first call from this number'}`
            : (pop.customerId ?? (pop.sessionId ? `session ${pop.sessionId}` : 'anonymous visitor'))}
        </dd>
        <dt>Caller ID</dt>
        <dd data-testid="caller-id">{pop.ani ?? (inbound ? 'withheld by the caller' : browser ? 'none: a browser call (PC-to-PC) has no phone line' : 'not known yet')}</dd>
        {inbound && (
          <>
            <dt>Number dialled</dt>
            <dd data-testid="did">{pop.did}</dd>
          </>
        )}
        <dt>Page</dt>
        <dd>{pop.pageUrl ?? '—'}</dd>
        <dt>Came from</dt>
        <dd>{pop.referrer ?? 'no referrer'}</dd>
        <dt>Call center</dt>
        <dd>
          {center?.name ?? pop.callCenterId ?? '—'} ({browser ? 'browser: answer here' : 'phone: answer on the phone'})
        </dd>
        <dt>Cart and context</dt>
        <dd>{pop.context === null || pop.context === undefined ? 'none' : <pre data-testid="context">{JSON.stringify(pop.context, null, 2)}</pre>}</dd>
        <dt>Earlier calls</dt>
        <dd data-testid="earlier-calls">
          {pop.earlierCalls.length === 0 ? (
            'none'
          ) : (
            <ul>
              {pop.earlierCalls.map((c) => (
                <li>
                  {dateTime(c.downloadedAt)}: {c.state.toLowerCase()}
                  {c.talkSeconds ? `, talked ${duration(c.talkSeconds)}` : ''}
                </li>
              ))}
            </ul>
          )}
        </dd>
      </dl>

      <div class="row" style="margin-top:0.8rem">
        {browser && d.state === 'RINGING' && (
          <button type="button" onClick={() => void answer.run()} disabled={answer.busy}>
            Answer
          </button>
        )}
        {(d.state === 'ANSWERED' || d.state === 'RINGING') && (browser || d.state === 'ANSWERED') && (
          <button type="button" class="danger" onClick={() => void hangUp.run()} disabled={hangUp.busy || (browser && !mine)}>
            Hang up
          </button>
        )}
      </div>
      {!mine && !['take', 'consulted'].includes(transferRole(d, session) ?? '') && <p class="note">{d.transfers.some((t) => t.status === 'COMPLETED') ? `The call was transferred to ${d.holder ? `agent ${d.holder}` : (merchant?.callCenters.find((c) => c.id === d.holderCenter)?.name ?? 'another center')}.` : 'Another agent answered this call.'}</p>}
      <TransferControls
        session={session}
        callId={pop.callId}
        d={d}
        centers={merchant?.callCenters ?? []}
        holds={d.state === 'ANSWERED' && browser && mine}
        withMedia={withMedia}
        centerName={(id) => merchant?.callCenters.find((c) => c.id === id)?.name ?? id ?? '?'}
      />
      {media && <AudioStatus audio={media} ended={ended} />}
      {media?.kind === 'connected' && !ended && (
        <div class="row">
          <button type="button" class="secondary" aria-pressed={media.muted} onClick={() => void mute.run()} disabled={mute.busy} data-testid="mute">
            {media.muted ? 'Unmute microphone' : 'Mute microphone'}
          </button>
        </div>
      )}
      {(media?.kind === 'failed' || media?.kind === 'lost') && d.state === 'ANSWERED' && mine && (
        <div class="row">
          <button type="button" onClick={() => void reconnect.run()} disabled={reconnect.busy}>
            Connect audio again
          </button>
        </div>
      )}
      {media?.kind === 'connected' && !ended && media.session.setSound && (
        <div class="row" role="group" aria-label="Your microphone" data-testid="own-sound">
          {(Object.keys(OWN_CHOICES) as OwnChoice[]).map((c) => (
            <button type="button" class="secondary" onClick={() => void ownSound.run(c)} disabled={ownSound.busy}>
              {OWN_CHOICES[c]}
            </button>
          ))}
        </div>
      )}
      {ownSoundText && (
        <p class="note" role="status" data-testid="own-sound-result">
          Your microphone: {ownSoundText}
        </p>
      )}
      {d.callerMedia && (
        <p class={d.callerMedia.honoured ? 'note' : 'error'} role="status" data-testid="caller-media">
          Caller's microphone: {describeCallerMedia(d.callerMedia)}
        </p>
      )}
      <Problem error={answer.error ?? hangUp.error ?? reconnect.error ?? mute.error ?? ownSound.error} />

      <Commands
        disabled={!canCommand}
        ended={ended}
        busy={command.busy}
        table={merchant?.dtmfCommands ?? []}
        channels={d.channels}
        onCommand={(a, arg) => void command.run(a, arg)}
      />
      {result && (
        <p role={result.refused ? 'alert' : 'status'} class={result.refused ? 'error' : 'ok'} data-testid="command-result">
          {result.text}
        </p>
      )}
      <Problem error={command.error} />
      <Chat session={session} callId={pop.callId} channels={d.channels} messages={d.chat} disabled={!canCommand} />

      <h3>What happened</h3>
      <ul class="log" data-testid="call-log" tabIndex={0} aria-label="What happened on this call">
        {[...model.events.values()]
          .sort((a, b) => (a.occurredAt < b.occurredAt ? -1 : 1))
          .map((e) => (
            <li>
              {time(e.occurredAt)} {e.type}
              {e.type === 'DtmfCommandRecognized' ? `: ${describeCommand({ ...(e.data as any), source: (e.data as any).source ?? 'DTMF' })}` : ''}
              {e.type === 'DtmfReceived' ? `: ${(e.data as any).digits}` : ''}
              {e.type === 'CallerMediaSettingsApplied' ? `: ${describeCallerMedia(e.data as any)}` : ''}
              {e.type === 'CallTerminated' ? `: ${(e.data as any).cause} by ${(e.data as any).by}` : ''}
            </li>
          ))}
      </ul>
    </section>
  );
};

const AudioStatus = ({ audio, ended }: { audio: Audio; ended: boolean }) => {
  const [text, alert] = ((): [string, boolean] => {
    switch (audio.kind) {
      case 'none':
        return [audio.reason, false];
      case 'refused':
        return [audio.reason, true];
      case 'connecting':
        return ['Connecting the audio…', false];
      case 'connected':
        if (ended) return ['The call has ended: audio disconnected.', false];
        return [
          `Audio connected${audio.muted ? ' (your microphone is muted)' : ''}: ${audio.hearing ? 'you hear the caller.' : "waiting for the caller's audio…"}`,
          false,
        ];
      case 'failed':
        return [`The call is answered, but its audio could not be connected: ${audio.reason}`, true];
      case 'lost':
        return [ended ? 'The call has ended: audio disconnected.' : 'The audio connection was lost: the caller cannot hear you.', !ended];
    }
  })();
  return (
    <p class={alert ? 'error' : 'note'} role={alert ? 'alert' : 'status'} data-testid="media" data-audio={audio.kind}>
      {text}
    </p>
  );
};

interface CommandsProps {
  disabled: boolean;
  ended: boolean;
  busy: boolean;
  table: Array<{ sequence: string; action: string; argument: string | null }>;
  channels: string[];
  onCommand(action: CommandAction, argument: string): void;
}

type CommandAction = 'PUSH_PAGE' | 'VOLUME' | 'OPEN_CHANNEL' | 'MEDIA_SETTING';
/** The caller's microphone processing, as buttons: [argument, label]; the keypad's ##FS gives the same. */
const MEDIA_BUTTONS: Array<[string, string]> = [
  ['ECHO_CANCELLATION:OFF', 'Echo cancellation off (##10)'],
  ['ECHO_CANCELLATION:ON', 'Echo cancellation on (##11)'],
  ['ECHO_SUPPRESSION:ON', 'Echo suppression on (##21)'],
  ['ECHO_SUPPRESSION:OFF', 'Echo suppression off (##20)'],
  ['NOISE_SUPPRESSION:OFF', 'Noise suppression off (##30)'],
  ['NOISE_SUPPRESSION:ON', 'Noise suppression on (##31)'],
  ['AUTO_GAIN:OFF', 'Automatic gain off (##40)'],
  ['AUTO_GAIN:ON', 'Automatic gain on (##41)'],
];
type OwnChoice = 'HEADSET' | 'SPEAKERS' | 'ECHO_HEARD';
/** The agent's own microphone on a PC-to-PC call: the shopper's menu, for this end. */
const OWN_CHOICES: Record<OwnChoice, string> = { HEADSET: 'I use a headset', SPEAKERS: 'I use speakers', ECHO_HEARD: 'The caller hears an echo' };

/** The DTMF commands as buttons: the merchant's pages, any page, volume, and chat. */
const Commands = (p: CommandsProps) => {
  const [url, setUrl] = useState('');
  const pages = p.table.filter((c) => c.action === 'PUSH_PAGE' && c.argument);
  const off = p.disabled || p.busy;
  const nextChannel = String(Array.from({ length: 99 }, (_, i) => i + 1).find((n) => !p.channels.includes(String(n).padStart(2, '0'))) ?? 1).padStart(2, '0');
  return (
    <fieldset class="card" style="background:var(--paper)" disabled={off} aria-describedby="commands-note">
      <legend>Commands (the same as the keypad)</legend>
      <p id="commands-note" class="note" data-testid="commands-note">
        {p.ended ? 'The call has ended: commands are refused.' : p.disabled ? 'Commands work once the call is answered.' : 'Each button is recorded on the call exactly as the DTMF command would be.'}
      </p>
      <div class="row">
        {pages.map((c) => (
          <button type="button" class="secondary" onClick={() => p.onCommand('PUSH_PAGE', c.argument!)}>
            Push {c.argument} ({c.sequence})
          </button>
        ))}
      </div>
      <form
        class="row"
        style="margin-top:0.5rem"
        onSubmit={(e) => {
          e.preventDefault();
          if (url.trim()) p.onCommand('PUSH_PAGE', url.trim());
        }}
      >
        <label class="field">
          Page to push
          <input type="url" name="push-url" placeholder="https://shop.example/offers" value={url} onInput={(e) => setUrl((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit">Push page</button>
      </form>
      <div class="row" style="margin-top:0.5rem">
        <button type="button" onClick={() => p.onCommand('VOLUME', '+20')}>
          Volume +20 %
        </button>
        <button type="button" onClick={() => p.onCommand('VOLUME', '-20')}>
          Volume −20 %
        </button>
        <button type="button" onClick={() => p.onCommand('OPEN_CHANNEL', nextChannel)}>
          Open chat {nextChannel}
        </button>
      </div>
      <div class="row" style="margin-top:0.5rem" role="group" aria-label="The caller's microphone" data-testid="media-commands">
        {MEDIA_BUTTONS.map(([argument, label]) => (
          <button type="button" class="secondary" onClick={() => p.onCommand('MEDIA_SETTING', argument)}>
            {label}
          </button>
        ))}
      </div>
    </fieldset>
  );
};

const Chat = (p: { session: Session; callId: string; channels: string[]; messages: Array<{ channelId: string; from: string; text: string; at: string }>; disabled: boolean }) => {
  const [text, setText] = useState('');
  const channel = p.channels[p.channels.length - 1];
  const send = useAction(async () => {
    await request(p.session.key, CHAT, { c: p.callId, channel: channel!, text });
    setText('');
  });
  if (!channel) return null;
  return (
    <section class="chat" aria-labelledby="chat-h">
      <h3 id="chat-h">Chat on channel {channel}</h3>
      <ol data-testid="chat-log" aria-live="polite">
        {p.messages.map((m) => (
          <li class={`from-${m.from}`}>
            <b>{m.from === 'AGENT' ? 'You' : 'Caller'}:</b> {m.text}
          </li>
        ))}
      </ol>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          if (text.trim()) void send.run();
        }}
      >
        <label class="field" style="flex:1">
          Message to the caller
          <input name="chat-text" value={text} maxLength={1000} onInput={(e) => setText((e.target as HTMLInputElement).value)} disabled={p.disabled} />
        </label>
        <button type="submit" disabled={p.disabled || send.busy}>
          Send
        </button>
      </form>
      <Problem error={send.error} />
    </section>
  );
};

render(<Shell page="console" roles={['CRM', 'AGENT']}>{(s) => <Console session={s} />}</Shell>, document.getElementById('app')!);
