import '../lib/styles.css';
import { render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { graphql, type ResultOf } from '../lib/graphql';
import { liveClient, request, subscribe } from '../lib/client';
import { Problem, Shell, type Session } from '../lib/shell';
import { useAction } from '../lib/hooks';
import { duration, fromLocalInput, money, percent } from '../lib/format';
import { Chart } from '../lib/chart';

const MERCHANT = graphql(`
  query DashboardMerchant($id: ID!) {
    merchant(id: $id) {
      id
      name
      callCenters {
        id
        name
        kind
      }
      links {
        id
        label
      }
      ratePlan {
        version
        currency
        connectionFeeMinor
        ratePerMinuteMinor
        firstIncrementSeconds
        nextIncrementSeconds
        minimumChargeMinor
        prefixRates {
          prefix
          ratePerMinuteMinor
        }
      }
    }
  }
`);

const LINES = graphql(`
  fragment Lines on BillingSummary {
    currency
    calls
    billableSeconds
    amountMinor
    lines {
      key
      calls
      billableSeconds
      amountMinor
    }
  }
`);

const REPORT = graphql(
  `
    query DashboardReport($m: ID!, $from: DateTime!, $to: DateTime!) {
      byDay: billingSummary(merchantId: $m, from: $from, to: $to, groupBy: DAY) {
        ...Lines
      }
      byLink: billingSummary(merchantId: $m, from: $from, to: $to, groupBy: LINK) {
        ...Lines
      }
      bySource: billingSummary(merchantId: $m, from: $from, to: $to, groupBy: SOURCE_PAGE) {
        ...Lines
      }
      byCenter: billingSummary(merchantId: $m, from: $from, to: $to, groupBy: CALL_CENTER) {
        ...Lines
      }
      byDirection: billingSummary(merchantId: $m, from: $from, to: $to, groupBy: DIRECTION) {
        ...Lines
      }
      centers: callCenterStats(merchantId: $m, from: $from, to: $to) {
        callCenterId
        name
        kind
        calls
        answered
        answerRate
        talkSeconds
        averageTalkSeconds
      }
    }
  `,
  [LINES],
);

const LIVE = graphql(`
  subscription DashboardLive($m: ID!) {
    callEvents(merchantId: $m) {
      type
      callId
    }
  }
`);

const CALLBACKS = graphql(`
  query DashboardCallbacks($m: ID!) {
    callbacks(merchantId: $m, first: 20) {
      items {
        id
        state
        number
        when {
          kind
        }
        dueAt
        attempts
        maxAttempts
        nextAttemptAt
        lastOutcome
        bookedAt
      }
    }
  }
`);

const EXPORT = graphql(`
  mutation ChargesExport($m: ID!, $from: DateTime!, $to: DateTime!) {
    createChargesExport(merchantId: $m, from: $from, to: $to) {
      url
      expiresAt
      maxDays
    }
  }
`);

const WHAT_IF = graphql(`
  query WhatIf($plan: RatePlanInput!, $from: DateTime!, $to: DateTime!) {
    rerateDryRun(plan: $plan, from: $from, to: $to) {
      currency
      calls
      currentMinor
      whatIfMinor
      diffMinor
      days {
        day
        calls
        currentMinor
        whatIfMinor
      }
    }
  }
`);

type Report = ResultOf<typeof REPORT>;
type Merchant = NonNullable<ResultOf<typeof MERCHANT>['merchant']>;

const dayInput = (d: Date) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000);
/** The period [from 00:00, to + 1 day 00:00) in local time, as ISO instants. */
const periodOf = (from: string, to: string) => ({ from: fromLocalInput(from)!, to: new Date(Date.parse(fromLocalInput(to)!) + 86_400_000).toISOString() });

const Dashboard = ({ session }: { session: Session }) => {
  const [from, setFrom] = useState(dayInput(daysAgo(29)));
  const [to, setTo] = useState(dayInput(new Date()));
  const [period, setPeriod] = useState(periodOf(from, to));
  const [merchant, setMerchant] = useState<Merchant | null>(null);
  const [report, setReport] = useState<Report | null>(null);
  const [updated, setUpdated] = useState<string>('');
  const [problem, setProblem] = useState<unknown>(null);
  const client = useMemo(() => liveClient(session.key), [session.key]);
  const reload = useRef<() => void>(() => {});

  reload.current = () =>
    void request(session.key, REPORT, { m: session.merchantId, ...period }).then((r) => {
      setReport(r);
      setUpdated(new Date().toLocaleTimeString());
      setProblem(null);
    }, setProblem);

  useEffect(() => {
    void request(session.key, MERCHANT, { id: session.merchantId }).then((r) => setMerchant(r.merchant), setProblem);
    // Live: a call that ends (and so is billed) refreshes the figures, a moment later for the read side.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = subscribe(client, LIVE, { m: session.merchantId }, {
      next: (d) => {
        if (d.callEvents.type !== 'CallTerminated' && d.callEvents.type !== 'CallAnswered') return;
        clearTimeout(timer);
        timer = setTimeout(() => reload.current(), 700);
      },
      error: setProblem,
    });
    return () => {
      stop();
      clearTimeout(timer);
      void client.dispose();
    };
  }, [session.key]);
  useEffect(() => reload.current(), [period.from, period.to]);

  const currency = report?.byDay.currency ?? merchant?.ratePlan?.currency ?? 'XXX';
  const m = (minor: number) => money(minor, currency);
  const linkLabel = (id: string) => merchant?.links.find((l) => l.id === id)?.label ?? (id || '(no link)');

  return (
    <>
      <form
        class="card row"
        aria-label="Period"
        onSubmit={(e) => {
          e.preventDefault();
          setPeriod(periodOf(from, to));
        }}
      >
        <label class="field">
          From
          <input type="date" name="from" value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} required />
        </label>
        <label class="field">
          To (included)
          <input type="date" name="to" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} required />
        </label>
        <button type="submit">Show</button>
        <ExportButton session={session} period={period} />
        <span class="note" aria-live="polite" data-testid="updated">
          {updated && `Updated ${updated} · live`}
        </span>
      </form>
      <Problem error={problem} />
      {report && (
        <>
          <section class="card" aria-labelledby="totals-h">
            <h2 id="totals-h">Calls and charges by day</h2>
            <div class="kpis" data-testid="kpis">
              <div class="kpi">
                Billed calls <b data-testid="kpi-calls">{report.byDay.calls}</b>
              </div>
              <div class="kpi">
                Billable time <b>{duration(report.byDay.billableSeconds)}</b>
              </div>
              <div class="kpi">
                Charges <b data-testid="kpi-amount">{m(report.byDay.amountMinor)}</b>
              </div>
            </div>
            <DayChart period={period} lines={report.byDay.lines} money={m} />
            <Table
              caption="Per day"
              head={['Day', 'Billed calls', 'Billable time', 'Charges']}
              rows={report.byDay.lines.map((l) => [l.key, l.calls, duration(l.billableSeconds), m(l.amountMinor)])}
            />
          </section>
          <div class="grid">
            <section class="card" aria-labelledby="links-h">
              <h2 id="links-h">By link</h2>
              <Table caption="Charges per call button (link)" head={['Link', 'Billed calls', 'Charges']} rows={report.byLink.lines.map((l) => [linkLabel(l.key), l.calls, m(l.amountMinor)])} />
            </section>
            <section class="card" aria-labelledby="source-h">
              <h2 id="source-h">By source page</h2>
              <Table
                caption="Charges credited to the page the call came from"
                head={['Page', 'Billed calls', 'Charges']}
                rows={report.bySource.lines.map((l) => [l.key || '(phone call in: no page)', l.calls, m(l.amountMinor)])}
                testId="by-source"
              />
            </section>
            <section class="card" aria-labelledby="direction-h">
              <h2 id="direction-h">By direction</h2>
              <Table
                caption="Clicks on the merchant's pages (outbound) and phone calls to its numbers (inbound), each rated at its own rate"
                head={['Direction', 'Billed calls', 'Minutes', 'Charges']}
                rows={report.byDirection.lines.map((l) => [DIRECTION_LABEL[l.key] ?? 'Outbound (clicks)', l.calls, duration(l.billableSeconds), m(l.amountMinor)])}
                testId="by-direction"
              />
            </section>
          </div>
          <Centers report={report} money={m} />
        </>
      )}
      <Callbacks session={session} tick={updated} />
      {merchant && <WhatIf session={session} merchant={merchant} period={period} />}
    </>
  );
};

const DIRECTION_LABEL: Record<string, string> = { OUTBOUND: 'Outbound (clicks)', INBOUND: 'Inbound (phone calls to your numbers)', CALLBACK: 'Callbacks (shoppers called back)' };

/** The callbacks shoppers booked (issue 25), newest first: pending, being tried, done, failed, cancelled. Reloaded with the figures. */
const Callbacks = ({ session, tick }: { session: Session; tick: string }) => {
  const [items, setItems] = useState<ResultOf<typeof CALLBACKS>['callbacks']['items'] | null>(null);
  const [problem, setProblem] = useState<unknown>(null);
  useEffect(() => {
    void request(session.key, CALLBACKS, { m: session.merchantId }).then((r) => setItems(r.callbacks.items), setProblem);
  }, [session.key, tick]);
  const count = (state: string) => items?.filter((c) => c.state === state).length ?? 0;
  return (
    <section class="card" aria-labelledby="callbacks-h" data-testid="callbacks">
      <h2 id="callbacks-h">Callbacks</h2>
      <Problem error={problem} />
      <p class="note">
        Pending <b data-testid="callbacks-pending">{count('PENDING') + count('ATTEMPTING')}</b> · done <b data-testid="callbacks-done">{count('DONE')}</b> · failed <b data-testid="callbacks-failed">{count('FAILED')}</b>
      </p>
      <Table
        caption="The latest callbacks shoppers booked"
        head={['Booked', 'Number', 'When', 'State', 'Tries', 'Last outcome', 'Next try']}
        rows={(items ?? []).map((c) => [
          new Date(c.bookedAt).toLocaleString(),
          c.number ?? 'this browser',
          c.when.kind === 'AT' ? new Date(c.dueAt).toLocaleString() : c.when.kind === 'NOW' ? 'now' : 'when an agent is free',
          c.state,
          `${c.attempts}/${c.maxAttempts}`,
          c.lastOutcome ?? '—',
          c.nextAttemptAt ? new Date(c.nextAttemptAt).toLocaleTimeString() : '—',
        ])}
        testId="callbacks-table"
      />
    </section>
  );
};

/** UTC days of [from, to): the billing queries' DAY keys. */
const daysOf = (period: { from: string; to: string }): string[] => {
  const out: string[] = [];
  for (let t = Date.parse(period.from.slice(0, 10) + 'T00:00:00Z'); t < Date.parse(period.to) && out.length < 400; t += 86_400_000) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
};

/** Charges (bars) and billed calls (line) for every day of the period, zero where there were none. */
const DayChart = (p: { period: { from: string; to: string }; lines: Report['byDay']['lines']; money: (minor: number) => string }) => {
  const byKey = new Map(p.lines.map((l) => [l.key, l]));
  const days = daysOf(p.period);
  const x = days.map((d) => Date.parse(`${d}T12:00:00Z`) / 1000);
  return (
    <Chart
      label={`Charges and billed calls per day, ${days[0]} to ${days[days.length - 1]}`}
      x={x}
      xRange={[x[0]! - 43_200, x[x.length - 1]! + 43_200]}
      series={[
        { label: 'Charges', values: days.map((d) => byKey.get(d)?.amountMinor ?? 0), color: '#0a4f96', format: (v) => p.money(v) },
        { label: 'Billed calls', values: days.map((d) => byKey.get(d)?.calls ?? 0), color: '#a3001b', kind: 'line', scale: 'calls' },
      ]}
    />
  );
};

const Table = (p: { caption: string; head: string[]; rows: Array<Array<string | number>>; testId?: string }) => (
  <table data-testid={p.testId}>
    <caption class="sr-only">{p.caption}</caption>
    <thead>
      <tr>
        {p.head.map((h, i) => (
          <th scope="col" class={i > 0 ? 'num' : undefined}>
            {h}
          </th>
        ))}
      </tr>
    </thead>
    <tbody>
      {p.rows.length === 0 ? (
        <tr>
          <td colSpan={p.head.length} class="note">
            Nothing in this period.
          </td>
        </tr>
      ) : (
        p.rows.map((r) => (
          <tr>
            {r.map((c, i) => (i === 0 ? <th scope="row">{c}</th> : <td class="num">{c}</td>))}
          </tr>
        ))
      )}
    </tbody>
  </table>
);

const Centers = ({ report, money: m }: { report: Report; money: (minor: number) => string }) => {
  const amount = new Map(report.byCenter.lines.map((l) => [l.key, l.amountMinor]));
  const rows = report.centers;
  return (
    <section class="card" aria-labelledby="centers-h">
      <h2 id="centers-h">By call center</h2>
      {rows.length > 0 && (
        <Chart
          label="Answer rate per call center"
          x={rows.map((_, i) => i)}
          categories={rows.map((r) => r.name ?? r.callCenterId)}
          series={[{ label: 'Answer rate', values: rows.map((r) => Math.round(r.answerRate * 1000) / 10), color: '#1a6b2a', format: (v) => `${v} %` }]}
          height={180}
        />
      )}
      <Table
        caption="Calls, answer rate, talk time and charges per call center"
        head={['Call center', 'Kind', 'Calls', 'Answered', 'Answer rate', 'Talk time', 'Average talk', 'Charges']}
        rows={rows.map((r) => [
          r.name ?? r.callCenterId,
          r.kind === 'BROWSER' ? 'browser' : 'phone',
          r.calls,
          r.answered,
          percent(r.answerRate),
          duration(r.talkSeconds),
          duration(r.averageTalkSeconds),
          m(amount.get(r.callCenterId) ?? 0),
        ])}
        testId="by-center"
      />
    </section>
  );
};

/** The CSV export: a one-time ticket from the API, then a plain download (no key in the address). */
const ExportButton = ({ session, period }: { session: Session; period: { from: string; to: string } }) => {
  const exp = useAction(async () => {
    const { createChargesExport: e } = await request(session.key, EXPORT, { m: session.merchantId, ...period });
    const a = document.createElement('a');
    a.href = e.url;
    a.download = '';
    document.body.appendChild(a);
    a.click();
    a.remove();
  });
  return (
    <>
      <button type="button" class="secondary" onClick={() => void exp.run()} disabled={exp.busy} aria-describedby="export-note">
        Export charges (CSV)
      </button>
      <span id="export-note" class="note">
        streamed; at most 366 days per file
      </span>
      <Problem error={exp.error} />
    </>
  );
};

type PlanFields = { currency: string; connectionFeeMinor: number; ratePerMinuteMinor: number; firstIncrementSeconds: number; nextIncrementSeconds: number; minimumChargeMinor: number };
const FIELDS: Array<[keyof PlanFields, string]> = [
  ['connectionFeeMinor', 'Connection fee (minor units)'],
  ['ratePerMinuteMinor', 'Rate per minute (minor units)'],
  ['firstIncrementSeconds', 'First increment (s)'],
  ['nextIncrementSeconds', 'Next increments (s)'],
  ['minimumChargeMinor', 'Minimum charge (minor units)'],
];

/** The re-rate what-if: a plan drawn against today's charges of the period, through the dry-run API. */
const WhatIf = ({ session, merchant, period }: { session: Session; merchant: Merchant; period: { from: string; to: string } }) => {
  const today = merchant.ratePlan;
  const [plan, setPlan] = useState<PlanFields>({
    currency: today?.currency ?? 'USD',
    connectionFeeMinor: today?.connectionFeeMinor ?? 0,
    ratePerMinuteMinor: today?.ratePerMinuteMinor ?? 0,
    firstIncrementSeconds: today?.firstIncrementSeconds ?? 60,
    nextIncrementSeconds: today?.nextIncrementSeconds ?? 60,
    minimumChargeMinor: today?.minimumChargeMinor ?? 0,
  });
  const [result, setResult] = useState<ResultOf<typeof WHAT_IF>['rerateDryRun'] | null>(null);
  const draw = useAction(async () => {
    const prefixRates = today?.prefixRates.map((p) => ({ prefix: p.prefix, ratePerMinuteMinor: p.ratePerMinuteMinor })) ?? [];
    setResult((await request(session.key, WHAT_IF, { plan: { merchantId: session.merchantId, ...plan, prefixRates }, ...period })).rerateDryRun);
  });
  const m = (minor: number) => money(minor, result?.currency ?? plan.currency);
  return (
    <section class="card" aria-labelledby="whatif-h">
      <h2 id="whatif-h">Re-rate what-if</h2>
      <p class="note">
        {today
          ? `Today's plan (version ${today.version}): ${money(today.connectionFeeMinor, today.currency)} per call + ${money(today.ratePerMinuteMinor, today.currency)} a minute, ${today.firstIncrementSeconds}/${today.nextIncrementSeconds} s.`
          : 'No plan yet.'}{' '}
        Change it below and draw it against the charges of the period: a dry run, nothing is billed.
      </p>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          void draw.run();
        }}
      >
        <label class="field">
          Currency
          <input name="currency" value={plan.currency} size={4} onInput={(e) => setPlan({ ...plan, currency: (e.target as HTMLInputElement).value.toUpperCase() })} />
        </label>
        {FIELDS.map(([k, label]) => (
          <label class="field">
            {label}
            <input name={k} type="number" min={0} value={plan[k]} onInput={(e) => setPlan({ ...plan, [k]: Number((e.target as HTMLInputElement).value) })} />
          </label>
        ))}
        <button type="submit" disabled={draw.busy}>
          Draw against today's
        </button>
      </form>
      <Problem error={draw.error} />
      {result && (
        <div data-testid="whatif-result">
          <div class="kpis" style="margin:0.6rem 0">
            <div class="kpi">
              Calls <b>{result.calls}</b>
            </div>
            <div class="kpi">
              Today <b>{m(result.currentMinor)}</b>
            </div>
            <div class="kpi">
              What-if <b data-testid="whatif-amount">{m(result.whatIfMinor)}</b>
            </div>
            <div class="kpi">
              Difference <b>{(result.diffMinor > 0 ? '+' : '') + m(result.diffMinor)}</b>
            </div>
          </div>
          {result.days.length > 0 && (
            <Chart
              label="Charges per day: today's plan against the what-if plan"
              x={result.days.map((d) => Date.parse(`${d.day}T12:00:00Z`) / 1000)}
              xRange={[Date.parse(`${result.days[0]!.day}T00:00:00Z`) / 1000 - 86_400, Date.parse(`${result.days[result.days.length - 1]!.day}T00:00:00Z`) / 1000 + 2 * 86_400]}
              series={[
                { label: "Today's plan", values: result.days.map((d) => d.currentMinor), color: '#4a4f57', format: (v) => m(v) },
                { label: 'What-if', values: result.days.map((d) => d.whatIfMinor), color: '#0a4f96', barSize: 0.3, format: (v) => m(v) },
              ]}
            />
          )}
        </div>
      )}
    </section>
  );
};

render(<Shell page="dashboard" roles={['MERCHANT']}>{(s) => <Dashboard session={s} />}</Shell>, document.getElementById('app')!);
