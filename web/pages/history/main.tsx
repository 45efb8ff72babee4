import '../lib/styles.css';
import { render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { graphql, type ResultOf } from '../lib/graphql';
import { liveClient, request, subscribe } from '../lib/client';
import { Problem, Shell, type Session } from '../lib/shell';
import { useAction } from '../lib/hooks';
import { dateTime, duration, fromLocalInput, money, time, toLocalInput } from '../lib/format';

const MERCHANT = graphql(`
  query HistoryMerchant($id: ID!) {
    merchant(id: $id) {
      id
      links {
        id
        label
      }
      callCenters {
        id
        name
      }
    }
  }
`);

const CALLS = graphql(`
  query HistoryCalls($filter: CallFilter!, $after: String) {
    calls(filter: $filter, first: 25, after: $after) {
      edges {
        node {
          id
          state
          direction
          did
          linkId
          callCenterId
          media
          ani
          downloadedAt
          answeredAt
          terminatedAt
          terminationCause
          talkSeconds
          charge {
            amountMinor
            currency
          }
        }
      }
      pageInfo {
        endCursor
        hasNextPage
      }
    }
  }
`);

const TIMELINE = graphql(`
  query HistoryTimeline($c: ID!) {
    callTimeline(callId: $c) {
      eventId
      type
      position
      occurredAt
      data
    }
  }
`);

const REPLAY = graphql(`
  subscription Replay($m: ID, $from: DateTime!, $to: DateTime, $speed: Float) {
    replayCallEvents(merchantId: $m, from: $from, to: $to, speed: $speed) {
      eventId
      callId
      type
      occurredAt
    }
  }
`);

const BY_ANI = graphql(`
  query ByAni($ani: String!, $at: DateTime) {
    callContextByAni(ani: $ani, at: $at) {
      callId
      customerId
      pageUrl
      referrer
      callCenterId
      state
      context
    }
  }
`);

type CallRow = ResultOf<typeof CALLS>['calls']['edges'][number]['node'];
type Merchant = NonNullable<ResultOf<typeof MERCHANT>['merchant']>;
const STATES = ['DOWNLOADED', 'INITIATED', 'RINGING', 'ANSWERED', 'TERMINATED'] as const;

const History = ({ session }: { session: Session }) => {
  const [merchant, setMerchant] = useState<Merchant | null>(null);
  const [selected, setSelected] = useState<string | null>(new URLSearchParams(location.search).get('call'));
  const [problem, setProblem] = useState<unknown>(null);
  useEffect(() => void request(session.key, MERCHANT, { id: session.merchantId }).then((r) => setMerchant(r.merchant), setProblem), [session.key]);
  return (
    <>
      <Problem error={problem} />
      <Calls session={session} merchant={merchant} selected={selected} onSelect={setSelected} />
      {selected && <Timeline session={session} callId={selected} />}
      <Replay session={session} />
      <AniLookup session={session} />
    </>
  );
};

const Calls = (p: { session: Session; merchant: Merchant | null; selected: string | null; onSelect(id: string): void }) => {
  const [state, setState] = useState('');
  const [linkId, setLinkId] = useState('');
  const [centerId, setCenterId] = useState('');
  const [from, setFrom] = useState(toLocalInput(new Date(Date.now() - 7 * 86_400_000).toISOString()));
  const [to, setTo] = useState('');
  const [rows, setRows] = useState<CallRow[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const filter = () => ({
    merchantId: p.session.merchantId,
    state: (state || null) as (typeof STATES)[number] | null,
    linkId: linkId || null,
    callCenterId: centerId || null,
    from: fromLocalInput(from),
    to: fromLocalInput(to),
  });
  const load = useAction(async (after: string | null) => {
    const r = await request(p.session.key, CALLS, { filter: filter(), after });
    setRows((prev) => (after ? [...prev, ...r.calls.edges.map((e) => e.node)] : r.calls.edges.map((e) => e.node)));
    setNext(r.calls.pageInfo.hasNextPage ? r.calls.pageInfo.endCursor : null);
  });
  useEffect(() => void load.run(null), []);
  const center = (id: string | null) => p.merchant?.callCenters.find((c) => c.id === id)?.name ?? id ?? '—';
  const link = (id: string | null) => p.merchant?.links.find((l) => l.id === id)?.label ?? id ?? '—';
  return (
    <section class="card" aria-labelledby="calls-h">
      <h2 id="calls-h">Calls</h2>
      <form
        class="row"
        aria-label="Filter calls"
        onSubmit={(e) => {
          e.preventDefault();
          void load.run(null);
        }}
      >
        <label class="field">
          State
          <select name="state" value={state} onChange={(e) => setState((e.target as HTMLSelectElement).value)}>
            <option value="">any</option>
            {STATES.map((s) => (
              <option value={s}>{s.toLowerCase()}</option>
            ))}
          </select>
        </label>
        <label class="field">
          Link
          <select name="link" value={linkId} onChange={(e) => setLinkId((e.target as HTMLSelectElement).value)}>
            <option value="">any</option>
            {p.merchant?.links.map((l) => <option value={l.id}>{l.label}</option>)}
          </select>
        </label>
        <label class="field">
          Call center
          <select name="center" value={centerId} onChange={(e) => setCenterId((e.target as HTMLSelectElement).value)}>
            <option value="">any</option>
            {p.merchant?.callCenters.map((c) => <option value={c.id}>{c.name}</option>)}
          </select>
        </label>
        <label class="field">
          Downloaded from
          <input type="datetime-local" name="from" value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} />
        </label>
        <label class="field">
          until
          <input type="datetime-local" name="to" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit" disabled={load.busy}>
          Filter
        </button>
      </form>
      <Problem error={load.error} />
      <table data-testid="calls-table">
        <caption class="sr-only">Calls matching the filter, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Call</th>
            <th scope="col">State</th>
            <th scope="col">Downloaded</th>
            <th scope="col">Link</th>
            <th scope="col">Call center</th>
            <th scope="col">Caller ID</th>
            <th scope="col" class="num">
              Talk
            </th>
            <th scope="col" class="num">
              Charge
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 && (
            <tr>
              <td colSpan={8} class="note">
                No calls match.
              </td>
            </tr>
          )}
          {rows.map((c) => (
            <tr>
              <th scope="row">
                <button type="button" class="secondary" aria-pressed={c.id === p.selected} onClick={() => p.onSelect(c.id)} aria-label={`Open the timeline of call ${c.id}`}>
                  {c.id}
                </button>
              </th>
              <td>
                <span class={`badge state-${c.state}`}>{c.state}</span> {c.terminationCause?.toLowerCase() ?? ''}
              </td>
              <td>{dateTime(c.downloadedAt)}</td>
              <td>{c.direction === 'INBOUND' ? `phone call in, to ${c.did ?? '?'}` : link(c.linkId)}</td>
              <td>
                {center(c.callCenterId)}
                {c.media === 'BROWSER' ? ' (browser)' : ''}
              </td>
              <td>{c.ani ?? '—'}</td>
              <td class="num">{c.talkSeconds === null ? '—' : duration(c.talkSeconds)}</td>
              <td class="num">{c.charge ? money(c.charge.amountMinor, c.charge.currency) : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {next && (
        <button type="button" class="secondary" onClick={() => void load.run(next)} disabled={load.busy}>
          More calls
        </button>
      )}
    </section>
  );
};

const Timeline = ({ session, callId }: { session: Session; callId: string }) => {
  const [events, setEvents] = useState<ResultOf<typeof TIMELINE>['callTimeline'] | null>(null);
  const [problem, setProblem] = useState<unknown>(null);
  useEffect(() => void request(session.key, TIMELINE, { c: callId }).then((r) => setEvents(r.callTimeline), setProblem), [callId]);
  const t0 = events?.[0] ? Date.parse(events[0].occurredAt) : 0;
  return (
    <section class="card" aria-labelledby="timeline-h" data-testid="timeline">
      <h2 id="timeline-h">Timeline of call {callId}</h2>
      <Problem error={problem} />
      {events && events.length === 0 && (
        <p class="error" role="alert" data-testid="timeline-empty">
          No such call for this merchant: it does not exist, or it is another merchant's (which this key cannot see).
        </p>
      )}
      {events && events.length > 0 && (
        <ol class="log">
          {events.map((e) => (
            <li>
              <b>+{((Date.parse(e.occurredAt) - t0) / 1000).toFixed(1)} s</b> {time(e.occurredAt)} {e.type} <code>{summary(e.type, e.data)}</code>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
};

const summary = (type: string, data: unknown): string => {
  const d = (data ?? {}) as Record<string, unknown>;
  switch (type) {
    case 'CallDownloaded':
      return `${d.pageUrl}${d.customerId ? ` · ${d.customerId}` : ''}`;
    case 'CallInitiated':
      return `${d.media ?? 'PSTN'} → ${d.callCenterId}${d.ani ? ` · caller ID ${d.ani}` : ''}`;
    case 'CallAnswered':
      return d.answeredBy ? `in the console by ${d.answeredBy}` : '';
    case 'DtmfReceived':
      return String(d.digits);
    case 'DtmfCommandRecognized':
      return `${d.source ?? 'DTMF'} ${d.action} ${d.argument ?? ''}${d.accepted ? '' : ` refused: ${d.reason}`}`;
    case 'ChannelMessageSent':
      return `${d.from}: ${d.text}`;
    case 'CallerMediaSettingsApplied': {
      const x = (d.settings ?? {}) as Record<string, unknown>;
      const f = (v: unknown) => (v === true ? 'on' : v === false ? 'off' : '?');
      return `caller's microphone: EC ${f(x.echoCancellation)}, ES ${f(x.echoSuppression)}, NS ${f(x.noiseSuppression)}, AGC ${f(x.autoGainControl)}${d.choice ? ` (chose ${String(d.choice)})` : ''}${d.honoured ? '' : ', NOT applied'}`;
    }
    case 'CallTerminated':
      return `${d.cause} by ${d.by}, talked ${d.talkSeconds} s`;
    default:
      return '';
  }
};

const COLORS: Record<string, string> = {
  CallDownloaded: '#4a4f57',
  CallInitiated: '#0a4f96',
  CallRinging: '#7a4a00',
  CallAnswered: '#1a6b2a',
  DtmfReceived: '#6b2a8a',
  DtmfCommandRecognized: '#6b2a8a',
  ChannelMessageSent: '#005f73',
  CallTerminated: '#a3001b',
};

type ReplayEvent = ResultOf<typeof REPLAY>['replayCallEvents'];

/** Replays a period's events from replayCallEvents at 1×, 10× or 100× onto a timeline: one lane per call. */
const Replay = ({ session }: { session: Session }) => {
  const [from, setFrom] = useState(toLocalInput(new Date(Date.now() - 3600_000).toISOString()));
  const [to, setTo] = useState(toLocalInput(new Date(Date.now() + 60_000).toISOString()));
  const [speed, setSpeed] = useState('10');
  const [events, setEvents] = useState<ReplayEvent[]>([]);
  const [status, setStatus] = useState<'idle' | 'playing' | 'done'>('idle');
  const [problem, setProblem] = useState<unknown>(null);
  const [range, setRange] = useState<[number, number] | null>(null);
  const client = useMemo(() => liveClient(session.key), [session.key]);
  const stop = useRef<(() => void) | null>(null);
  useEffect(() => () => {
    stop.current?.();
    void client.dispose();
  }, []);

  const start = () => {
    const f = fromLocalInput(from);
    const t = fromLocalInput(to);
    if (!f || !t || f >= t) {
      setProblem(new Error('Give a period: from before to.'));
      return;
    }
    stop.current?.();
    setEvents([]);
    setProblem(null);
    setRange([Date.parse(f), Date.parse(t)]);
    setStatus('playing');
    stop.current = subscribe(client, REPLAY, { m: session.merchantId, from: f, to: t, speed: Number(speed) }, {
      next: (d) => setEvents((prev) => [...prev, d.replayCallEvents]),
      error: (e) => {
        setProblem(e);
        setStatus('idle');
      },
      complete: () => setStatus('done'),
    });
  };

  const lanes = [...new Set(events.map((e) => e.callId))];
  const width = 900;
  const laneHeight = 22;
  const left = 110;
  // The axis spans the events replayed so far (the period may be far wider than its calls).
  const times = events.map((e) => Date.parse(e.occurredAt));
  const span: [number, number] | null = times.length ? [Math.min(...times), Math.max(...times)] : range;
  const pad = span ? Math.max(1000, (span[1] - span[0]) * 0.03) : 0;
  const x = (iso: string) => (span ? left + ((Date.parse(iso) - span[0] + pad) / (span[1] - span[0] + 2 * pad)) * (width - left - 10) : left);
  const last = events[events.length - 1];
  return (
    <section class="card" aria-labelledby="replay-h">
      <h2 id="replay-h">Replay a period</h2>
      <form
        class="row"
        aria-label="Replay"
        onSubmit={(e) => {
          e.preventDefault();
          start();
        }}
      >
        <label class="field">
          From
          <input type="datetime-local" name="replay-from" value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} required />
        </label>
        <label class="field">
          To
          <input type="datetime-local" name="replay-to" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} required />
        </label>
        <label class="field">
          Speed
          <select name="speed" value={speed} onChange={(e) => setSpeed((e.target as HTMLSelectElement).value)}>
            <option value="1">1× (as it happened)</option>
            <option value="10">10×</option>
            <option value="100">100×</option>
          </select>
        </label>
        <button type="submit">{status === 'playing' ? 'Restart' : 'Replay'}</button>
        {status === 'playing' && (
          <button
            type="button"
            class="secondary"
            onClick={() => {
              stop.current?.();
              setStatus('idle');
            }}
          >
            Stop
          </button>
        )}
      </form>
      <Problem error={problem} />
      <p aria-live="polite" data-testid="replay-status">
        {status === 'idle' && events.length === 0 ? 'Choose a period and a speed.' : `${events.length} events replayed${last ? `, now at ${dateTime(last.occurredAt)}` : ''}${status === 'done' ? ' — done.' : status === 'playing' ? '…' : ''}`}
      </p>
      {lanes.length > 0 && range && (
        <svg class="timeline-svg" viewBox={`0 0 ${width} ${lanes.length * laneHeight + 24}`} role="img" aria-label={`Timeline of ${lanes.length} calls, ${events.length} events`} data-testid="replay-timeline">
          {lanes.map((id, i) => (
            <g>
              <text x={4} y={i * laneHeight + 15} class="lane-label">
                {id.slice(0, 14)}
              </text>
              <line x1={left} x2={width - 10} y1={i * laneHeight + 11} y2={i * laneHeight + 11} stroke="#c9ced6" />
            </g>
          ))}
          {events.map((e) => (
            <circle cx={x(e.occurredAt)} cy={lanes.indexOf(e.callId) * laneHeight + 11} r={4} fill={COLORS[e.type] ?? '#1b1b1f'} fill-opacity={0.85}>
              <title>
                {e.type} at {dateTime(e.occurredAt)}
              </title>
            </circle>
          ))}
          <text x={left} y={lanes.length * laneHeight + 18} class="lane-label">
            {dateTime(new Date(span![0]).toISOString())}
          </text>
          <text x={width - 10} y={lanes.length * laneHeight + 18} class="lane-label" text-anchor="end">
            {dateTime(new Date(span![1]).toISOString())}
          </text>
        </svg>
      )}
      {lanes.length > 0 && (
        <ul class="row" aria-label="Legend" style="list-style:none;padding:0;margin:0.4rem 0;font-size:0.85rem">
          {Object.entries(COLORS).map(([type, color]) => (
            <li>
              <svg width="10" height="10" aria-hidden="true">
                <circle cx="5" cy="5" r="4" fill={color} />
              </svg>{' '}
              {type}
            </li>
          ))}
        </ul>
      )}
      {events.length > 0 && (
        <details>
          <summary>Replayed events</summary>
          <ol class="log" data-testid="replay-log">
            {events.map((e) => (
              <li>
                {time(e.occurredAt)} {e.callId} {e.type}
              </li>
            ))}
          </ol>
        </details>
      )}
    </section>
  );
};

/** Which call held a caller ID (ANI) at an instant: what a call center sees on its phone, looked up later. */
const AniLookup = ({ session }: { session: Session }) => {
  const [ani, setAni] = useState('');
  const [at, setAt] = useState(toLocalInput(new Date().toISOString()));
  const [found, setFound] = useState<ResultOf<typeof BY_ANI>['callContextByAni'] | undefined>(undefined);
  const look = useAction(async () => setFound((await request(session.key, BY_ANI, { ani: ani.trim(), at: fromLocalInput(at) })).callContextByAni));
  return (
    <section class="card" aria-labelledby="ani-h">
      <h2 id="ani-h">Caller ID look-up</h2>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          void look.run();
        }}
      >
        <label class="field">
          Caller ID (E.164)
          <input name="ani" value={ani} placeholder="+14155550201" onInput={(e) => setAni((e.target as HTMLInputElement).value)} required />
        </label>
        <label class="field">
          At
          <input type="datetime-local" name="ani-at" step={1} value={at} onInput={(e) => setAt((e.target as HTMLInputElement).value)} required />
        </label>
        <button type="submit" disabled={look.busy}>
          Look up
        </button>
      </form>
      <Problem error={look.error} />
      {found === null && <p data-testid="ani-result">No call of this merchant held that caller ID at that instant.</p>}
      {found && (
        <dl class="facts" data-testid="ani-result">
          <dt>Call</dt>
          <dd>{found.callId}</dd>
          <dt>Customer</dt>
          <dd>{found.customerId ?? 'anonymous'}</dd>
          <dt>Page</dt>
          <dd>{found.pageUrl ?? '—'}</dd>
          <dt>Referrer</dt>
          <dd>{found.referrer ?? '—'}</dd>
          <dt>State now</dt>
          <dd>{found.state}</dd>
        </dl>
      )}
    </section>
  );
};

render(<Shell page="history" roles={['ANALYST']}>{(s) => <History session={s} />}</Shell>, document.getElementById('app')!);
