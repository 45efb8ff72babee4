import type { DomainEvent } from '../shared/decider';

export interface PortConfig {
  number: number;
  /** E.164 caller ID the call center sees for calls on this port. */
  ani: string;
}

/** Stream gateway-<id>: the gateway's configuration. */
export type GatewayCreated = DomainEvent<
  'GatewayCreated',
  { gatewayId: string; name: string; region: string; ports: PortConfig[]; at: string }
>;
export type GatewayEvent = GatewayCreated;

export type CreateGateway = {
  type: 'CreateGateway';
  data: { gatewayId: string; name: string; region: string; ports: PortConfig[]; at: string };
};

/**
 * Stream port-<gatewayId>_<n>: one stream per port is the consistency boundary for "at most one
 * active call per port". Seizing appends with the expected revision read just before, so two
 * processes racing for a port cannot both win: the loser gets a version conflict and tries another.
 */
export type PortSeized = DomainEvent<
  'PortSeized',
  { gatewayId: string; port: number; ani: string; callId: string; merchantId: string; at: string }
>;
export type PortReleased = DomainEvent<
  'PortReleased',
  {
    gatewayId: string;
    port: number;
    ani: string;
    callId: string;
    merchantId: string;
    /** The ANI is not handed to another call before this instant (CRM look-ups by ANI stay unambiguous). */
    quarantineUntil: string;
    at: string;
  }
>;
export type PortEvent = PortSeized | PortReleased;

export type SeizePort = {
  type: 'SeizePort';
  data: { gatewayId: string; port: number; ani: string; callId: string; merchantId: string; at: string };
};
export type ReleasePort = {
  type: 'ReleasePort';
  data: { gatewayId: string; port: number; callId: string; quarantineSeconds: number; at: string };
};
export type PortCommand = SeizePort | ReleasePort;
