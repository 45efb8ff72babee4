/**
 * The call client, loaded by the loader on the first click: places the call through webdial's public
 * widget operations, follows it over `customerSession`, and — when the call's media is LiveKit —
 * joins the call's room with the microphone (room.ts, loaded only then).
 */
import type { WidgetHost } from './loader';
import type { AppliedProcessing, JoinedRoom } from './room';
import { BUSY, playCadence, RINGBACK, toneCountryOf, type PlayingTone, type ToneCountry } from './tones';

type State = 'DOWNLOADED' | 'INITIATED' | 'RINGING' | 'ANSWERED' | 'TERMINATED';
interface Push {
  kind: 'CALL_STATE' | 'PAGE' | 'VOLUME' | 'CHANNEL_OPENED' | 'CHAT_MESSAGE' | 'MEDIA_SETTING' | 'QUEUE_POSITION' | 'CALLBACK';
  state: State | null;
  url: string | null;
  volumePercent: number | null;
  channelId: string | null;
  text: string | null;
  cause: string | null;
  sipStatus: number | null;
  setting?: Setting | null;
  enabled?: boolean | null;
  position?: number | null;
  estimatedWaitSeconds?: number | null;
  /** CALLBACK (issue 25): a callback booked from this click, where it stands, whether it rings this browser now. */
  callbackId?: string | null;
  callbackState?: 'PENDING' | 'ATTEMPTING' | 'DONE' | 'FAILED' | 'CANCELLED' | null;
  ringing?: boolean | null;
  at: string;
}
/** A place in a call center's queue (issue 25). */
interface Place {
  position: number;
  estimatedWaitSeconds: number;
}
/** 1st, 2nd, 3rd, 4th… 11th, 12th, 13th… 21st. */
const ordinal = (n: number) => {
  const teen = n % 100 >= 11 && n % 100 <= 13;
  return `${n}${teen ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th')}`;
};
type Setting = 'ECHO_CANCELLATION' | 'ECHO_SUPPRESSION' | 'NOISE_SUPPRESSION' | 'AUTO_GAIN';
interface Change {
  setting: Setting;
  enabled: boolean;
}
type Choice = 'HEADSET' | 'SPEAKERS' | 'ECHO_HEARD';
const SETTING_NAME: Record<Setting, string> = {
  ECHO_CANCELLATION: 'echo cancellation',
  ECHO_SUPPRESSION: 'echo suppression',
  NOISE_SUPPRESSION: 'noise suppression',
  AUTO_GAIN: 'automatic gain',
};
const CONSTRAINT = { ECHO_CANCELLATION: 'echoCancellation', NOISE_SUPPRESSION: 'noiseSuppression', AUTO_GAIN: 'autoGainControl' } as const;
/** The shopper's menu: what each choice changes (the same as src/domain/call/media-settings.ts changesOfChoice). */
const CHOICES: Array<[Choice, string, Change[]]> = [
  ['HEADSET', 'I use a headset', [{ setting: 'ECHO_CANCELLATION', enabled: false }, { setting: 'ECHO_SUPPRESSION', enabled: false }]],
  ['SPEAKERS', 'I use speakers', [{ setting: 'ECHO_CANCELLATION', enabled: true }]],
  ['ECHO_HEARD', 'The agent hears an echo', [{ setting: 'ECHO_CANCELLATION', enabled: true }, { setting: 'ECHO_SUPPRESSION', enabled: true }]],
];
/** Ends with a tone: busy, or the faster failure tone. */
const TONE_AT_END: Record<string, 'busy' | 'failure'> = { BUSY: 'busy', NO_PORT: 'busy', REJECTED: 'failure', FAILED: 'failure', NO_ROUTE: 'failure', NO_ANSWER: 'failure' };
interface MediaJoin {
  provider: string;
  url: string | null;
  room: string | null;
  token: string | null;
}

const RANK: Record<State, number> = { DOWNLOADED: 0, INITIATED: 1, RINGING: 2, ANSWERED: 3, TERMINATED: 4 };
const ENDED: Record<string, string> = {
  HANGUP: 'Call ended',
  BUSY: 'Call ended: the line is busy',
  NO_ANSWER: 'Call ended: no answer',
  REJECTED: 'Call ended: the call was declined',
  // Issue 22: FAILED is the line itself (no response from the trunk, 5xx, transport), not the agents.
  FAILED: 'Call ended: the line could not be reached. Please try again later.',
  NO_ROUTE: 'Call ended: no one can take your call right now',
  NO_PORT: 'Call ended: all our lines are busy',
  MAX_DURATION: 'Call ended: the maximum call length was reached',
  ABANDONED: 'Call ended',
};

class GraphQLFailure extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

const el = <K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
};

// `[hidden]` first: `.row{display:flex}` would otherwise beat the attribute (the Mute button showed always).
const STYLE = `[hidden]{display:none!important}.row{display:flex;gap:6px;margin-top:8px;flex-wrap:wrap}.note{margin-top:8px;font-size:12px;color:#8a5a00;background:#fff6e0;border-radius:6px;padding:4px 6px}
.sound button{display:block;margin-top:4px}.err{color:#a00}.page,.chat{margin-top:8px;border-top:1px solid #eee;padding-top:6px}.msgs{max-height:120px;overflow:auto;font-size:13px}.chat input{width:160px}.callback{margin-top:8px;border-top:1px solid #eee;padding-top:6px;font-size:13px}.callback input{width:140px}.callback select{display:block;margin:4px 0}.callback input[type=datetime-local]{width:auto;display:block;margin-bottom:4px}.callback label{display:block}.callback input[type=radio]{width:auto}.ringing{margin-top:8px;font-weight:600}`;

export const start = (host: WidgetHost): void => {
  const endpoint = `${host.base}/graphql`;
  const { root, button, status, config } = host;
  const box = status.parentElement as HTMLElement;
  root.appendChild(el('style', {}, STYLE));
  const controls = el('div', { class: 'row' });
  const mute = el('button', { class: 'mute', type: 'button' }, 'Mute');
  controls.append(mute);
  // The shopper's own sound settings (issue 24), shown with the call's controls.
  const menu = el('details', { class: 'sound' });
  menu.append(el('summary', {}, 'Sound settings'));
  for (const [choice, label] of CHOICES) {
    const b = el('button', { type: 'button', 'data-choice': choice }, label);
    b.onclick = () => void chosen(choice);
    menu.append(b);
  }
  menu.hidden = true;
  const timerEl = el('span', { class: 'timer' });
  const extras = el('div', { class: 'extras' });
  box.append(controls, menu, extras);
  controls.hidden = true;

  const gql = async <T>(query: string, variables: Record<string, unknown>): Promise<T> => {
    const r = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
    const body = (await r.json().catch(() => null)) as { data?: T; errors?: Array<{ message: string; extensions?: { code?: string } }> } | null;
    if (!body || body.errors?.length || !body.data) {
      const e = body?.errors?.[0];
      throw new GraphQLFailure(e?.extensions?.code ?? `HTTP_${r.status}`, e?.message ?? `request failed (${r.status})`);
    }
    return body.data;
  };

  /** graphql-transport-ws, one subscription; resolves once the server acknowledged the connection. */
  const subscribe = (query: string, variables: Record<string, unknown>, onData: (d: { customerSession: Push }) => void) =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(endpoint.replace(/^http/, 'ws'), 'graphql-transport-ws');
      ws.onopen = () => ws.send(JSON.stringify({ type: 'connection_init', payload: {} }));
      ws.onerror = () => reject(new Error('the call service cannot be reached'));
      ws.onmessage = (m) => {
        const msg = JSON.parse(String(m.data)) as { type: string; payload?: { data?: { customerSession: Push } } };
        if (msg.type === 'connection_ack') {
          ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables } }));
          resolve(ws);
        }
        if (msg.type === 'next' && msg.payload?.data) onData(msg.payload.data);
        if (msg.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
      };
    });

  let token: string | null = null;
  let ws: WebSocket | null = null;
  let media: JoinedRoom | null = null;
  let state: State | null = null;
  let answeredAt = 0;
  let timer: ReturnType<typeof setInterval> | null = null;
  let muted = false;
  let volume = 1;
  let audio: AudioContext | null = null;
  let ringback: PlayingTone | null = null;
  let country: ToneCountry = 'EU';
  /** While the call waits in a queue: its place (a place only gets better while waiting, so the best seen wins). */
  let place: Place | null = null;
  /** The last click's call token, kept after the call ends: "Call me back" books from it (issue 25). */
  let bookable: string | null = null;
  /** Media changes are applied one after the other, in the order they arrived. */
  let applying: Promise<unknown> = Promise.resolve();

  const stopRingback = () => {
    ringback?.stop();
    ringback = null;
    delete box.dataset.ringback;
  };
  const startRingback = () => {
    if (!audio || ringback) return;
    void audio.resume().catch(() => undefined);
    // Ringing lasts as long as the call center lets it (ringing timeout): 10 minutes of cadence are scheduled, stop() ends it.
    ringback = playCadence(audio, RINGBACK[country], 600);
    box.dataset.ringback = country;
  };
  const endTone = (cause: string | null) => {
    const kind = cause ? TONE_AT_END[cause] : undefined;
    if (!audio || !kind) return;
    const busy = BUSY[country];
    const tone = playCadence(audio, kind === 'busy' ? busy : { freqs: busy.freqs, pattern: [0.25, 0.25] }, 3);
    box.dataset.endTone = kind;
    setTimeout(() => {
      tone.stop();
      delete box.dataset.endTone;
    }, 3100);
  };

  /** Applies changes to the microphone, then records what the browser really applied (reportMediaSettings). */
  const applyChanges = (changes: Change[], choice: Choice | null) =>
    (applying = applying.then(async () => {
      const t = token;
      if (!t) return;
      let applied: AppliedProcessing | null = null;
      if (media) {
        const constraints: Record<string, boolean> = {};
        for (const c of changes) if (c.setting !== 'ECHO_SUPPRESSION') constraints[CONSTRAINT[c.setting]] = c.enabled;
        const es = changes.find((c) => c.setting === 'ECHO_SUPPRESSION');
        if (es) applied = media.setEchoSuppression(es.enabled, (closed) => (box.dataset.gate = closed ? 'closed' : 'open'), audio ?? undefined);
        if (es && !es.enabled) delete box.dataset.gate;
        if (Object.keys(constraints).length > 0) applied = await media.applyProcessing(constraints);
        applied ??= media.processing();
      }
      const input = {
        echoCancellation: applied?.echoCancellation ?? null,
        noiseSuppression: applied?.noiseSuppression ?? null,
        autoGainControl: applied?.autoGainControl ?? null,
        echoSuppression: applied?.echoSuppression ?? false,
        requested: changes,
        choice,
        note: applied ? applied.note || null : 'no microphone in this call (no media room)',
      };
      await gql('mutation($t: String!, $i: CallerMediaSettingsInput!) { reportMediaSettings(callToken: $t, input: $i) }', { t, i: input }).catch(
        (e: Error) => note(`Sound settings not recorded: ${e.message}`, 'media'),
      );
    }));
  const chosen = (choice: Choice) => {
    const found = CHOICES.find(([c]) => c === choice)!;
    for (const b of menu.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.choice === choice));
    note(`Sound settings: ${found[1]}`, 'media');
    return applyChanges(found[2], choice);
  };

  const show = (text: string, cls = '') => {
    status.textContent = text;
    status.className = `s ${cls}`.trim();
  };
  /** The call waits: "You are 3rd in line · about 2 min" (in the status, which is aria-live polite). */
  const queued = (next: Place) => {
    // Only before the call is placed: a late push does not bring the queue back.
    if (state !== null && state !== 'DOWNLOADED') return;
    if (place && place.position <= next.position) return;
    place = next;
    box.dataset.state = 'queued';
    const minutes = Math.max(1, Math.round(next.estimatedWaitSeconds / 60));
    show('');
    status.append(el('span', { 'data-testid': 'queue-position', 'data-position': String(next.position) }, `You are ${ordinal(next.position)} in line \u00b7 about ${minutes} min`));
    // A long wait (over 2 minutes): rather be called back?
    if (next.estimatedWaitSeconds > 120) offerCallback('Rather not wait?');
  };
  const note = (text: string, cls: string) => {
    extras.querySelector(`.${cls}`)?.remove();
    extras.append(el('div', { class: `note ${cls}` }, text));
  };
  /**
   * "Call me back" (issue 25): offered when the click finds every center busy or closed, or has to wait
   * in a queue. The shopper gives a phone number and when: as soon as an agent is free (the default;
   * after the center opens if it is closed), now (the center must be open), or at a time (inside the
   * center's hours, up to 7 days ahead); requestCallback books it from this click's token. Refusals
   * show their message.
   */
  const offerCallback = (why: string) => {
    const t = bookable;
    if (!t || extras.querySelector('.callback')) return;
    const form = el('form', { class: 'callback', 'data-testid': 'callback-form' });
    const input = el('input', { type: 'tel', name: 'phone', maxlength: '16', placeholder: '+33612345678', 'aria-label': 'Your phone number (international, +…)', required: '' });
    // Where: a phone number, or this browser (the page stays open; it rings here when an agent calls).
    const toPhone = el('input', { type: 'radio', name: 'to', value: 'PHONE', checked: '' });
    const toBrowser = el('input', { type: 'radio', name: 'to', value: 'BROWSER', 'data-testid': 'callback-to-browser' });
    const phoneChoice = el('label', {});
    phoneChoice.append(toPhone, ' My phone: ', input);
    const browserChoice = el('label', {});
    browserChoice.append(toBrowser, ' Call this browser (keep this page open)');
    const where = () => {
      input.disabled = toBrowser.checked;
      input.required = !toBrowser.checked;
    };
    toPhone.onchange = where;
    toBrowser.onchange = where;
    const when = el('select', { name: 'when', 'aria-label': 'When to call you back' });
    for (const [value, label] of [
      ['AGENT_FREE', 'As soon as an agent is free'],
      ['NOW', 'Right now'],
      ['AT', 'At a time\u2026'],
    ])
      when.append(el('option', { value }, label));
    const at = el('input', { type: 'datetime-local', name: 'at', 'aria-label': 'Call me back at' });
    at.hidden = true;
    when.onchange = () => {
      at.hidden = when.value !== 'AT';
      at.required = when.value === 'AT';
    };
    const submit = el('button', { type: 'submit' }, 'Call me back');
    const out = el('div', { 'data-testid': 'callback-status', 'aria-live': 'polite' });
    form.append(el('div', {}, `${why} We can call you back:`), phoneChoice, browserChoice, when, at, submit, out);
    form.onsubmit = (e) => {
      e.preventDefault();
      // The page's local time, as the shopper typed it, sent as an instant.
      const instant = when.value === 'AT' ? new Date(at.value) : null;
      if (instant && Number.isNaN(instant.getTime())) {
        out.className = 'err';
        out.textContent = 'Choose a day and a time.';
        return;
      }
      submit.disabled = true;
      const chosen = instant ? { kind: 'AT', at: instant.toISOString() } : { kind: when.value };
      const here = toBrowser.checked;
      gql<{ requestCallback: { id: string; number: string | null; dueAt: string } }>(
        'mutation($t: String!, $w: CallbackWhenInput!, $p: String, $b: Boolean) { requestCallback(callToken: $t, when: $w, phoneNumber: $p, toBrowser: $b) { id number dueAt } }',
        here ? { t, w: chosen, b: true } : { t, w: chosen, p: input.value.trim() },
      ).then(
        (r) => {
          form.dataset.callbackId = r.requestCallback.id;
          for (const x of [input, toPhone, toBrowser, when, at]) x.disabled = true;
          out.className = '';
          const whom = here ? 'you back here, in this browser,' : `${r.requestCallback.number ?? 'you'} back`;
          out.textContent = instant
            ? `Booked: we will call ${whom} at ${new Date(r.requestCallback.dueAt).toLocaleString()}.`
            : `Booked: we will call ${whom} as soon as an agent is free.`;
          if (here) {
            out.textContent += ' Keep this page open.';
            void awaitCallback(t, r.requestCallback.id, out);
          }
        },
        (err: Error) => {
          submit.disabled = false;
          out.className = 'err';
          out.textContent = err.message;
        },
      );
    };
    extras.append(form);
  };
  /**
   * A callback to this browser (issue 25): the click's customerSession stays open (a new one: the click's
   * own ended with its call); when an agent takes a try, a CALLBACK push with ringing: true arrives and
   * the widget rings (the ringback cadence) with Answer and Decline. Answer opens the microphone, then
   * answerCallback gives the try's call (its token and room): joined as a click's call, with Hang up.
   */
  let callbackWs: WebSocket | null = null;
  const awaitCallback = async (t: string, callbackId: string, out: HTMLElement) => {
    let ring: HTMLElement | null = null;
    const stopRinging = () => {
      ring?.remove();
      ring = null;
      stopRingback();
      if (box.dataset.state === 'callback-ringing') box.dataset.state = 'callback-booked';
    };
    box.dataset.state = 'callback-booked';
    const onCallback = (p: Push) => {
      if (p.kind !== 'CALLBACK' || p.callbackId !== callbackId) return;
      if (p.ringing && !ring && !token) {
        ring = el('div', { class: 'ringing', role: 'alert', 'data-testid': 'callback-ringing' }, 'We are calling you back');
        const answer = el('button', { type: 'button', 'data-testid': 'callback-answer' }, 'Answer');
        const decline = el('button', { type: 'button', 'data-testid': 'callback-decline' }, 'Decline');
        const buttons = el('div', { class: 'row' });
        buttons.append(answer, decline);
        ring.append(buttons);
        extras.append(ring);
        box.dataset.state = 'callback-ringing';
        startRingback();
        answer.onclick = () => {
          answer.disabled = decline.disabled = true;
          stopRinging();
          answerCallback(t, callbackId).catch((e: Error) => void fail(e.message));
        };
        decline.onclick = () => {
          answer.disabled = decline.disabled = true;
          stopRinging();
          gql('mutation($t: String!, $c: ID!) { declineCallback(callToken: $t, callbackId: $c) { state } }', { t, c: callbackId }).then(
            () => (out.textContent = 'Declined: we will try again in 5 minutes.'),
            (e: Error) => (out.textContent = e.message),
          );
        };
        return;
      }
      if (p.ringing) return;
      if (ring) {
        stopRinging();
        if (p.callbackState === 'PENDING') out.textContent = 'We missed you: we will try again in 5 minutes. Keep this page open.';
      }
      if (p.callbackState === 'FAILED') out.textContent = 'We could not reach you.';
      if (p.callbackState === 'CANCELLED') out.textContent = 'The callback was cancelled.';
      if (p.callbackState === 'DONE' || p.callbackState === 'FAILED' || p.callbackState === 'CANCELLED') {
        callbackWs?.close();
        callbackWs = null;
      }
    };
    callbackWs?.close();
    callbackWs = await subscribe(
      'subscription($t: String!) { customerSession(callToken: $t) { kind state callbackId callbackState ringing at } }',
      { t },
      (data) => onCallback(data.customerSession),
    ).catch((e: Error) => {
      out.textContent = `${out.textContent} (${e.message})`;
      return null;
    });
  };
  /** Answer: the microphone first (as a click), then answerCallback; the try's call is joined like a placed call. */
  const answerCallback = async (t: string, callbackId: string) => {
    if (!audio && typeof AudioContext === 'function') audio = new AudioContext();
    const rooms = await import('./room');
    let microphone;
    try {
      microphone = await rooms.openMicrophone();
    } catch (e) {
      if (e instanceof rooms.MicrophoneDeniedError) return fail('Microphone access was denied. Allow the microphone for this page to talk to us.');
      return fail(`No microphone could be opened: ${(e as Error).message}`);
    }
    const r = await gql<{ answerCallback: { callId: string; callToken: string; media: MediaJoin } }>(
      'mutation($t: String!, $c: ID!) { answerCallback(callToken: $t, callbackId: $c) { callId callToken media { provider url room token } } }',
      { t, c: callbackId },
    );
    const a = r.answerCallback;
    token = a.callToken;
    state = null;
    box.dataset.callId = a.callId;
    button.textContent = 'Hang up';
    button.disabled = false;
    ws = await subscribe(
      'subscription($t: String!) { customerSession(callToken: $t) { kind state url volumePercent channelId text cause sipStatus setting enabled at } }',
      { t: token },
      (data) => onPush(data.customerSession),
    );
    if (a.media.provider === 'livekit') await joinMedia(rooms, a.media, microphone);
    else microphone.stop?.();
    setState('ANSWERED');
  };
  const tick = () => {
    const s = Math.max(0, Math.floor((Date.now() - answeredAt) / 1000));
    timerEl.textContent = ` ${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  };
  const idle = () => {
    button.textContent = host.label;
    button.disabled = false;
    controls.hidden = true;
    menu.hidden = true;
    stopRingback();
    if (timer) clearInterval(timer);
    timer = null;
    token = null;
  };

  /** Shows a state; a state never goes back (pushes and mutation answers may arrive in any order). */
  const setState = (next: State, push?: Push) => {
    if (state !== null && RANK[next] <= RANK[state]) return;
    state = next;
    // A wait that ends the call (its deadline passed, no other center free: the queue's fall-through) offers a callback.
    const waited = place !== null;
    if (next !== 'DOWNLOADED') place = null;
    box.dataset.state = place ? 'queued' : next.toLowerCase();
    if ((next === 'DOWNLOADED' && !place) || next === 'INITIATED') show('Calling\u2026');
    if (next === 'RINGING') {
      show('Ringing\u2026');
      startRingback();
    }
    if (next === 'ANSWERED' || next === 'TERMINATED') stopRingback();
    if (next === 'ANSWERED') {
      answeredAt = push ? Date.parse(push.at) : Date.now();
      show('Connected');
      if (media) controls.hidden = false; // Mute: only while talking, only with a microphone
      status.append(timerEl);
      tick();
      timer = setInterval(tick, 1000);
    }
    if (next === 'TERMINATED') {
      const cause = push?.cause ?? null;
      if (cause) box.dataset.cause = cause;
      show(cause ? (ENDED[cause] ?? 'Call ended') : 'Call ended');
      endTone(cause);
      void media?.leave();
      media = null;
      ws?.close();
      ws = null;
      idle();
      if (waited && cause === 'NO_ROUTE') offerCallback('No one was free in time.');
    }
  };

  const chatOpened = (channelId: string) => {
    if (extras.querySelector(`[data-channel="${CSS.escape(channelId)}"]`)) return;
    const chat = el('div', { class: 'chat', 'data-channel': channelId });
    const msgs = el('div', { class: 'msgs' });
    const input = el('input', { type: 'text', maxlength: '1000', placeholder: 'Message the agent', 'aria-label': 'Message the agent' });
    const send = el('button', { type: 'button' }, 'Send');
    const line = (who: string, text: string) => msgs.append(el('div', {}, `${who}: ${text}`));
    chat.append(el('div', {}, `Chat with the agent (channel ${channelId})`), msgs, input, send);
    send.onclick = () => {
      const text = input.value.trim();
      if (!text || !token) return;
      gql('mutation($c: String!, $x: String!, $t: String) { sendChannelMessage(channelId: $c, text: $x, callToken: $t) }', { c: channelId, x: text, t: token }).then(
        () => {
          line('You', text);
          input.value = '';
        },
        (e: Error) => line('Not sent', e.message),
      );
    };
    extras.append(chat);
    (chat as HTMLElement & { line?: typeof line }).line = line;
  };

  const onPush = (p: Push) => {
    switch (p.kind) {
      case 'CALL_STATE':
        if (p.state) setState(p.state, p);
        return;
      case 'PAGE': {
        extras.querySelector('.page')?.remove();
        const page = el('div', { class: 'page' }, 'The agent sent you a page: ');
        page.append(el('a', { href: p.url ?? '#', target: '_blank', rel: 'noopener' }, p.url ?? ''));
        extras.append(page);
        return;
      }
      case 'VOLUME':
        volume = Math.min(1, Math.max(0, volume * (1 + (p.volumePercent ?? 0) / 100)));
        media?.setVolume(volume);
        note(`Volume ${(p.volumePercent ?? 0) > 0 ? '+' : ''}${p.volumePercent} %`, 'vol');
        return;
      case 'CHANNEL_OPENED':
        if (p.channelId) chatOpened(p.channelId);
        return;
      case 'MEDIA_SETTING':
        if (!p.setting || typeof p.enabled !== 'boolean') return;
        note(`The agent turned ${SETTING_NAME[p.setting]} ${p.enabled ? 'on' : 'off'}`, 'media');
        void applyChanges([{ setting: p.setting, enabled: p.enabled }], null);
        return;
      case 'QUEUE_POSITION':
        if (typeof p.position === 'number') queued({ position: p.position, estimatedWaitSeconds: p.estimatedWaitSeconds ?? 0 });
        return;
      case 'CHAT_MESSAGE': {
        if (!p.channelId) return;
        chatOpened(p.channelId);
        const chat = extras.querySelector(`[data-channel="${CSS.escape(p.channelId)}"]`) as (HTMLElement & { line?: (w: string, t: string) => void }) | null;
        chat?.line?.('Agent', p.text ?? '');
        return;
      }
    }
  };

  const hangUp = async () => {
    const t = token;
    if (!t) return;
    button.disabled = true;
    try {
      const r = await gql<{ hangUp: { state: State; terminationCause: string | null } }>(
        'mutation($t: String!) { hangUp(callToken: $t) { state terminationCause } }',
        { t },
      );
      setState(r.hangUp.state, { kind: 'CALL_STATE', state: r.hangUp.state, cause: r.hangUp.terminationCause } as Push);
    } catch (e) {
      button.disabled = false;
      show((e as Error).message, 'err');
    }
  };

  const fail = async (message: string) => {
    await media?.leave();
    media = null;
    ws?.close();
    ws = null;
    const t = token;
    idle();
    if (t) await gql('mutation($t: String!) { hangUp(callToken: $t) { state } }', { t }).catch(() => undefined);
    box.dataset.state = 'failed';
    state = null;
    show(message, 'err');
  };

  /** Joins a call's room with the opened microphone (a click's call, or a callback's try answered here). */
  const joinMedia = async (rooms: typeof import('./room'), join: MediaJoin, microphone: Awaited<ReturnType<typeof import('./room').openMicrophone>>) => {
    media = await rooms.joinRoom({
      url: join.url!,
      token: join.token!,
      microphone,
      audioContainer: box,
      onDisconnected: () => {
        if (state !== 'TERMINATED') note('The audio connection was lost.', 'lost');
      },
    });
    media.setVolume(volume);
    if (state === 'ANSWERED') controls.hidden = false; // answered while joining
    // Sound settings from the join on: a shopper may say "headset" while it still rings.
    menu.hidden = false;
  };

  const placeCall = async () => {
    state = null;
    place = null;
    muted = false;
    mute.textContent = 'Mute';
    mute.setAttribute('aria-pressed', 'false');
    delete box.dataset.cause;
    extras.replaceChildren();
    bookable = null;
    // Created in the click, so that the page's autoplay policy lets the ringback play.
    if (!audio && typeof AudioContext === 'function') audio = new AudioContext();
    button.textContent = 'Hang up';
    show('Calling\u2026');
    const d = await gql<{ recordDownload: { callId: string; callToken: string; media: MediaJoin } }>(
      'mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken media { provider url room } } }',
      {
        i: {
          merchantId: config.merchant,
          linkId: config.link,
          customerId: config.customer || null,
          sessionId: config.session || null,
          pageUrl: location.href,
          referrer: document.referrer || null,
          context: config.context ? JSON.parse(config.context) : null,
        },
      },
    );
    token = d.recordDownload.callToken;
    bookable = token;
    box.dataset.callId = d.recordDownload.callId;
    const provider = d.recordDownload.media.provider;
    ws = await subscribe(
      'subscription($t: String!) { customerSession(callToken: $t) { kind state url volumePercent channelId text cause sipStatus setting enabled position estimatedWaitSeconds at } }',
      { t: token },
      (data) => onPush(data.customerSession),
    );
    if (provider === 'livekit') {
      const rooms = await import('./room');
      if (config.debug !== undefined) rooms.setMediaLogLevel('debug');
      let microphone;
      try {
        microphone = await rooms.openMicrophone();
      } catch (e) {
        if (e instanceof rooms.MicrophoneDeniedError)
          return fail('Microphone access was denied. Allow the microphone for this page to talk to us, then call again.');
        return fail(`No microphone could be opened: ${(e as Error).message}`);
      }
      const join = await gql<{ joinMedia: MediaJoin }>('mutation($t: String!) { joinMedia(callToken: $t) { provider url room token } }', { t: token });
      await joinMedia(rooms, join.joinMedia, microphone);
    } else {
      note(provider === 'simulator' ? 'Simulator: no audio will flow. The call center is simulated.' : 'No audio in this mode: the call is handled outside the browser.', 'sim');
    }
    if (!token) return; // hung up meanwhile
    const r = await gql<{ initiateCall: { state: State; destination: string | null; queue: Place | null } }>(
      'mutation($t: String!) { initiateCall(callToken: $t) { state destination queue { position estimatedWaitSeconds } } }',
      { t: token },
    );
    const wasRinging = ringback !== null;
    country = toneCountryOf(r.initiateCall.destination);
    // A RINGING push may have come before this answer: ring in the destination's cadence.
    if (wasRinging && box.dataset.ringback !== country) {
      stopRingback();
      startRingback();
    }
    // Every slot is busy and the link lets it wait: its place, then QUEUE_POSITION pushes until a slot takes it (INITIATED).
    if (r.initiateCall.queue) queued(r.initiateCall.queue);
    setState(r.initiateCall.state);
  };

  mute.onclick = () => {
    if (!media) return;
    muted = !muted;
    void media.setMuted(muted);
    mute.textContent = muted ? 'Unmute' : 'Mute';
    mute.setAttribute('aria-pressed', String(muted));
  };
  const clicked = () => {
    if (token) return void hangUp();
    placeCall().catch((e: Error) => {
      const code = e instanceof GraphQLFailure ? e.code : '';
      const busy = code === 'NO_ROUTE' || code === 'NO_PORT' || code === 'LIMIT_EXCEEDED';
      if (busy) {
        setState('TERMINATED', { kind: 'CALL_STATE', state: 'TERMINATED', cause: code === 'LIMIT_EXCEEDED' ? 'NO_PORT' : code } as Push);
        offerCallback('Everyone is busy or we are closed.');
      } else void fail(e.message);
    });
  };
  button.onclick = clicked;
  clicked(); // the click that loaded this module
};
