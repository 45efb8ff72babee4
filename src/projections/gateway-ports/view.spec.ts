import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { viewSpecFor } from '../testing/view-spec';
import { busyHoursAdded, gatewayView, portView, type GatewayPortsEvent, type PortRow } from './view';

const created: GatewayPortsEvent = {
  type: 'GatewayCreated',
  data: { gatewayId: 'gw1', name: 'Paris 1', region: 'eu', ports: [{ number: 3, ani: '+33100000003' }], at: '2026-11-20T09:00:00.000Z' },
};
const seized: GatewayPortsEvent = { type: 'PortSeized', data: { gatewayId: 'gw1', port: 3, ani: '+33100000003', callId: 'c1', merchantId: 'm1', at: '2026-11-20T10:59:00.000Z' } };
const released = (callId: string, at = '2026-11-20T11:00:30.000Z'): GatewayPortsEvent => ({
  type: 'PortReleased',
  data: { gatewayId: 'gw1', port: 3, ani: '+33100000003', callId, merchantId: 'm1', quarantineUntil: at, at },
});

const idle: PortRow = { gateway_id: 'gw1', number: 3, ani: '+33100000003', busy: 0, call_id: null, busy_since: null };
const busy: PortRow = { ...idle, busy: 1, call_id: 'c1', busy_since: '2026-11-20T10:59:00.000Z' };

const gateway = viewSpecFor(gatewayView);
const port = viewSpecFor(portView);

describe('gateway view (gateway-ports): given events, when one more, then the row', () => {
  it('the creation records the gateway', () => gateway([]).when(created).then({ id: 'gw1', name: 'Paris 1', region: 'eu' }));
  it('seizures do not touch it', () => gateway([created]).when(seized).then({ id: 'gw1', name: 'Paris 1', region: 'eu' }));
});

describe('port view (gateway-ports)', () => {
  it('the gateway’s creation declares the port idle', () => port([]).when(created).then(idle));
  it('a seizure makes it busy with the call, from the seizure on', () => port([created]).when(seized).then(busy));
  it('the release by the call that holds it frees it', () => port([created, seized]).when(released('c1')).then(idle));
  it('a release by another call changes nothing', () => port([created, seized]).when(released('c9')).then(busy));
  it('a seizure seen before the gateway’s creation (another stream) is kept by the creation', () => port([seized]).when(created).then(busy));
  it('a release of a port never seen creates nothing', () => port([]).when(released('c1')).then(null));
});

describe('busy hours (gp_busy): what a release adds', () => {
  it('the seizure it ends, split at UTC hours', () =>
    assert.deepEqual(busyHoursAdded(busy, released('c1')), [
      { gateway_id: 'gw1', number: 3, hour: '2026-11-20T10:00:00.000Z', busy_ms: 60_000 },
      { gateway_id: 'gw1', number: 3, hour: '2026-11-20T11:00:00.000Z', busy_ms: 30_000 },
    ]));
  it('nothing for a release by another call, or for any other event', () => {
    assert.deepEqual(busyHoursAdded(busy, released('c9')), []);
    assert.deepEqual(busyHoursAdded(null, released('c1')), []);
    assert.deepEqual(busyHoursAdded(idle, seized), []);
  });
});
