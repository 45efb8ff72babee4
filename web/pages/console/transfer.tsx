import { useEffect, useState } from 'preact/hooks';
import { graphql } from '../lib/graphql';
import { request } from '../lib/client';
import { Problem, type Session } from '../lib/shell';
import { useAction } from '../lib/hooks';
import { keyIdOf, type Derived, type Transfer } from './model';

const TRANSFER_CALL = graphql(`
  mutation TransferCall($c: ID!, $to: ID!) {
    transferCall(callId: $c, toCallCenterId: $to) { callId transferId mode status toCallCenterId toAgent }
  }
`);
const CONSULT = graphql(`
  mutation ConsultTransfer($c: ID!, $to: ID!) {
    consultTransfer(callId: $c, toAgent: $to) { callId transferId mode status toCallCenterId toAgent }
  }
`);
const COMPLETE = graphql(`
  mutation CompleteTransfer($c: ID!, $t: ID!) {
    completeTransfer(callId: $c, transferId: $t) { callId transferId mode status toCallCenterId toAgent }
  }
`);
const CANCEL = graphql(`
  mutation CancelTransfer($c: ID!, $t: ID!) {
    cancelTransfer(callId: $c, transferId: $t) { callId transferId mode status toCallCenterId toAgent }
  }
`);
const COLLEAGUES = graphql(`
  query TransferColleagues($c: ID!) {
    transferColleagues(callId: $c) {
      agent
      callCenterId
    }
  }
`);

type Center = { id: string; name: string; kind: string };

/** What this console may do about the call's open transfer, if any. */
export const transferRole = (d: Derived, session: Session): 'from' | 'take' | 'consulted' | 'watch' | null => {
  const me = keyIdOf(session.key);
  const t: Transfer | null = d.open;
  if (!t) return null;
  if (t.from.agent === me) return 'from';
  if (t.mode === 'WARM') return t.to.agent === me ? 'consulted' : 'watch';
  return session.callCenterId === null || session.callCenterId === t.to.callCenterId ? 'take' : 'watch';
};

/**
 * The console's Transfer controls (issue 25). The agent who holds an answered call: a blind transfer
 * to another browser center of the merchant, or a consultation with a named colleague (warm). While a
 * transfer is open: its starter cancels it (and completes a warm one once the colleague is in); the
 * target center's consoles take a blind one (the microphone first, then the call's room); the
 * colleague joins a consultation or declines it.
 */
export const TransferControls = (p: {
  session: Session;
  callId: string;
  d: Derived;
  centers: Center[];
  /** The call is answered and this console holds it. */
  holds: boolean;
  /** Runs `act` with the microphone ready and joins the call's room after it (as Answer does). */
  withMedia: (act: () => Promise<unknown>) => Promise<void>;
  centerName: (id: string | null) => string;
}) => {
  const { session, callId, d } = p;
  const [center, setCenter] = useState('');
  const [colleague, setColleague] = useState('');
  const [colleagues, setColleagues] = useState<Array<{ agent: string; callCenterId: string }>>([]);
  const role = transferRole(d, session);
  // A PSTN center is dialled into the call (issue 25): its phone takes the call when it answers.
  const targets = p.centers.filter((c) => c.id !== d.holderCenter);
  const onPhone = (id: string) => p.centers.some((c) => c.id === id && c.kind !== 'BROWSER');
  useEffect(() => {
    if (!p.holds) return;
    request(session.key, COLLEAGUES, { c: callId }).then((r) => setColleagues(r.transferColleagues), () => setColleagues([]));
  }, [p.holds, callId]);
  const blind = useAction(async () => void (await request(session.key, TRANSFER_CALL, { c: callId, to: center || targets[0]?.id || '' })));
  const consult = useAction(async () => void (await request(session.key, CONSULT, { c: callId, to: colleague || colleagues[0]?.agent || '' })));
  const complete = useAction(async (t: string) => void (await request(session.key, COMPLETE, { c: callId, t })));
  const cancel = useAction(async (t: string) => void (await request(session.key, CANCEL, { c: callId, t })));
  const take = useAction(async (t: string) => p.withMedia(() => request(session.key, COMPLETE, { c: callId, t })));
  const join = useAction(async () => p.withMedia(async () => {}));
  const t = d.open;
  const ended = d.state === 'TERMINATED';
  const who = (x: Transfer['to']) => (x.agent ? `agent ${x.agent} (${p.centerName(x.callCenterId)})` : p.centerName(x.callCenterId));
  if (ended || (!p.holds && !role && d.transfers.length === 0)) return null;
  return (
    <section aria-labelledby={`transfer-h-${callId}`} data-testid="transfer" data-role={role ?? 'none'}>
      <h3 id={`transfer-h-${callId}`}>Transfer</h3>
      {d.transfers.length > 0 && (
        <ul class="log" data-testid="transfers">
          {d.transfers.map((x) => (
            <li data-status={x.status}>
              {x.mode === 'BLIND' ? 'Blind' : 'Warm'} from {who(x.from)} to {who(x.to)}: {x.status.toLowerCase()}
              {x.reason ? ` (${x.reason.toLowerCase().replace(/_/g, ' ')})` : ''}
            </li>
          ))}
        </ul>
      )}
      {p.holds && !t && (
        <>
          <div class="row">
            <label>
              To call center{' '}
              <select value={center} onChange={(e) => setCenter((e.target as HTMLSelectElement).value)} data-testid="transfer-center">
                {targets.map((c) => (
                  <option value={c.id}>
                    {c.name}
                    {c.kind === 'BROWSER' ? '' : ' (phone)'}
                  </option>
                ))}
              </select>
            </label>
            <button type="button" onClick={() => void blind.run()} disabled={blind.busy || targets.length === 0}>
              Blind transfer
            </button>
          </div>
          <div class="row">
            <label>
              To a colleague{' '}
              <select value={colleague} onChange={(e) => setColleague((e.target as HTMLSelectElement).value)} data-testid="transfer-colleague">
                {colleagues.map((c) => (
                  <option value={c.agent}>
                    agent {c.agent} ({p.centerName(c.callCenterId)})
                  </option>
                ))}
              </select>
            </label>
            <button type="button" onClick={() => void consult.run()} disabled={consult.busy || colleagues.length === 0}>
              Consult
            </button>
          </div>
        </>
      )}
      {t && role === 'from' && (
        <div class="row">
          <p class="note" role="status">
            {t.mode === 'WARM'
              ? `Consulting ${who(t.to)}: the caller is on hold and hears neither of you.`
              : onPhone(t.to.callCenterId)
                ? `Dialling ${who(t.to)}: you stay with the caller until its phone answers.`
                : `Offered to ${who(t.to)}: you stay with the caller until an agent there takes the call.`}
          </p>
          {t.mode === 'WARM' && (
            <button type="button" onClick={() => void complete.run(t.transferId)} disabled={complete.busy}>
              Complete transfer
            </button>
          )}
          <button type="button" class="secondary" onClick={() => void cancel.run(t.transferId)} disabled={cancel.busy}>
            Cancel transfer
          </button>
        </div>
      )}
      {t && role === 'take' && (
        <div class="row">
          <p class="note" role="status">
            Transferred to your center by {who(t.from)}.
          </p>
          <button type="button" onClick={() => void take.run(t.transferId)} disabled={take.busy}>
            Take the call
          </button>
          <button type="button" class="secondary" onClick={() => void cancel.run(t.transferId)} disabled={cancel.busy}>
            Decline
          </button>
        </div>
      )}
      {t && role === 'consulted' && (
        <div class="row">
          <p class="note" role="status">
            {who(t.from)} asks to consult you before handing the call over; the caller does not hear you.
          </p>
          <button type="button" onClick={() => void join.run()} disabled={join.busy}>
            Join the consultation
          </button>
          <button type="button" onClick={() => void complete.run(t.transferId)} disabled={complete.busy}>
            Take the call
          </button>
          <button type="button" class="secondary" onClick={() => void cancel.run(t.transferId)} disabled={cancel.busy}>
            Decline
          </button>
        </div>
      )}
      <Problem error={blind.error ?? consult.error ?? complete.error ?? cancel.error ?? take.error ?? join.error} />
    </section>
  );
};
