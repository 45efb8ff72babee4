/**
 * PSTN gateways and their ports.
 *
 * Consistency boundary: a gateway's configuration lives in `gateway-<id>`, but each port has its own
 * stream `port-<gatewayId>_<n>`. "At most one active call per port" is then a single-stream invariant:
 * SeizePort is decided on the port's folded state and appended with the expected version just read,
 * so of two processes racing for one port exactly one append succeeds; the other gets a version
 * conflict, re-reads, and this decider answers NO_PORT (the port is taken). Streams per port, rather
 * than one per gateway, keep seizures of different ports from conflicting with each other.
 *
 * ANI quarantine: a released port's caller ID is not handed out again before `quarantineUntil`
 * (from PortReleased), so a CRM looking a call up by ANI never gets the next caller's context.
 */
import type { Decider } from '../shared/decider';
import { unreachable } from '../shared/decider';
import { badInput, conflict, DomainError } from '../shared/errors';
import { assertE164, assertInstant, assertNonEmpty } from '../shared/validation';
import type { CreateGateway, GatewayEvent, PortCommand, PortConfig, PortEvent } from './events';

// ---------------------------------------------------------------- gateway

export type GatewayState =
  | { status: 'Absent' }
  | { status: 'Active'; gatewayId: string; name: string; region: string; ports: PortConfig[] };

const MAX_PORT_NUMBER = 65_535;

const assertPorts = (ports: PortConfig[]): void => {
  if (!Array.isArray(ports) || ports.length === 0) throw badInput('a gateway needs at least one port', { field: 'ports' });
  const numbers = new Set<number>();
  const anis = new Set<string>();
  ports.forEach((p, i) => {
    const field = `ports[${i}]`;
    if (!Number.isInteger(p.number) || p.number < 0 || p.number > MAX_PORT_NUMBER)
      throw badInput(`${field}.number must be an integer from 0 to ${MAX_PORT_NUMBER}, got ${p.number}`, { field });
    if (numbers.has(p.number)) throw badInput(`port number ${p.number} appears twice`, { field });
    numbers.add(p.number);
    assertE164(p.ani, `${field}.ani`);
    // Two ports with one caller ID would make look-ups by ANI ambiguous.
    if (anis.has(p.ani)) throw badInput(`ANI ${p.ani} is used by two ports`, { field });
    anis.add(p.ani);
  });
};

const decideGateway = (command: CreateGateway, state: GatewayState): GatewayEvent[] => {
  switch (command.type) {
    case 'CreateGateway': {
      const d = command.data;
      assertNonEmpty(d.gatewayId, 'gatewayId');
      assertNonEmpty(d.name, 'name');
      assertNonEmpty(d.region, 'region', 64);
      assertPorts(d.ports);
      if (state.status !== 'Absent') throw conflict(`gateway ${d.gatewayId} already exists`);
      return [{ type: 'GatewayCreated', data: { ...d, ports: d.ports.map((p) => ({ number: p.number, ani: p.ani })) } }];
    }
    default:
      return unreachable(command.type);
  }
};

const evolveGateway = (state: GatewayState, event: GatewayEvent): GatewayState => {
  switch (event.type) {
    case 'GatewayCreated': {
      const { at: _at, ...d } = event.data;
      return { status: 'Active', ...d };
    }
    default:
      return unreachable(event.type);
  }
};

export const gatewayDecider: Decider<GatewayState, CreateGateway, GatewayEvent> = {
  name: 'gateway@1',
  decide: decideGateway,
  evolve: evolveGateway,
  initialState: { status: 'Absent' },
};

// ---------------------------------------------------------------- port

export type PortState =
  | {
      status: 'Free';
      /** ISO instant before which the port's ANI must not be reused; null when never used. */
      quarantineUntil: string | null;
      lastCallId: string | null;
    }
  | { status: 'Seized'; callId: string; merchantId: string; ani: string; seizedAt: string };

export const initialPortState: PortState = { status: 'Free', quarantineUntil: null, lastCallId: null };

/** Free and out of quarantine at `at` (the quarantine ends exactly at quarantineUntil). */
export const isPortFree = (state: PortState, at: Date): boolean =>
  state.status === 'Free' && (state.quarantineUntil === null || at.getTime() >= Date.parse(state.quarantineUntil));

const instant = (at: string): Date => new Date(assertInstant(at));

const decidePort = (command: PortCommand, state: PortState): PortEvent[] => {
  switch (command.type) {
    case 'SeizePort': {
      const d = command.data;
      const at = instant(d.at);
      assertE164(d.ani, 'ani');
      assertNonEmpty(d.callId, 'callId');
      // The same call seizing again (a retried command) already holds the port.
      if (state.status === 'Seized' && state.callId === d.callId) return [];
      if (state.status === 'Seized') throw new DomainError('NO_PORT', `port ${d.gatewayId}/${d.port} is busy`, { gatewayId: d.gatewayId, port: d.port });
      if (!isPortFree(state, at))
        throw new DomainError('NO_PORT', `port ${d.gatewayId}/${d.port} is in ANI quarantine until ${state.quarantineUntil}`, {
          gatewayId: d.gatewayId,
          port: d.port,
          quarantineUntil: state.quarantineUntil,
        });
      return [{ type: 'PortSeized', data: { ...d } }];
    }
    case 'ReleasePort': {
      const d = command.data;
      const at = instant(d.at);
      if (!Number.isInteger(d.quarantineSeconds) || d.quarantineSeconds < 0)
        throw badInput('quarantineSeconds must be a non-negative integer', { field: 'quarantineSeconds' });
      // Releasing a port this call does not hold (already released, or never seized) changes nothing.
      if (state.status !== 'Seized' || state.callId !== d.callId) return [];
      const quarantineUntil = new Date(at.getTime() + d.quarantineSeconds * 1000).toISOString();
      return [
        {
          type: 'PortReleased',
          data: { gatewayId: d.gatewayId, port: d.port, ani: state.ani, callId: d.callId, merchantId: state.merchantId, quarantineUntil, at: d.at },
        },
      ];
    }
    default:
      return unreachable(command);
  }
};

const evolvePort = (state: PortState, event: PortEvent): PortState => {
  switch (event.type) {
    case 'PortSeized': {
      const d = event.data;
      return { status: 'Seized', callId: d.callId, merchantId: d.merchantId, ani: d.ani, seizedAt: d.at };
    }
    case 'PortReleased':
      return { status: 'Free', quarantineUntil: event.data.quarantineUntil, lastCallId: event.data.callId };
    default:
      return unreachable(event);
  }
};

export const portDecider: Decider<PortState, PortCommand, PortEvent> = {
  name: 'port@1',
  decide: decidePort,
  evolve: evolvePort,
  initialState: initialPortState,
};
