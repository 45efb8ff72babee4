import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { orderGateways, regionDistance } from './gateway-choice';

describe('gateway choice', () => {
  const gws = [
    { gatewayId: 'fra', region: 'eu-central' },
    { gatewayId: 'sfo', region: 'us-west' },
    { gatewayId: 'nyc', region: 'us-east' },
    { gatewayId: 'dub', region: 'eu-west' },
    { gatewayId: 'nyc2', region: 'US-East' },
  ];
  it('same region first, then the same area, then the rest, each in input order', () => {
    assert.deepEqual(orderGateways(gws, 'us-east'), ['nyc', 'nyc2', 'sfo', 'fra', 'dub']);
    assert.deepEqual(orderGateways(gws, 'eu-west'), ['dub', 'fra', 'sfo', 'nyc', 'nyc2']);
  });
  it('an unknown region keeps the input order', () => assert.deepEqual(orderGateways(gws, 'mars'), gws.map((g) => g.gatewayId)));
  it('no gateway → []', () => assert.deepEqual(orderGateways([], 'us-east'), []));
  it('region distance: equal 0, same area 1, else 2', () => {
    assert.equal(regionDistance('us-east', 'US-EAST'), 0);
    assert.equal(regionDistance('us-east', 'us-west'), 1);
    assert.equal(regionDistance('us-east', 'eu-west'), 2);
  });
  it('property: a permutation of the input, ordered by distance', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.record({ gatewayId: fc.uuid(), region: fc.constantFrom('us-east', 'us-west', 'eu-west', 'ap') }), { selector: (g) => g.gatewayId }),
        fc.constantFrom('us-east', 'eu-west', 'ap', 'x'),
        (list, region) => {
          const out = orderGateways(list, region);
          assert.deepEqual([...out].sort(), list.map((g) => g.gatewayId).sort());
          const d = out.map((id) => regionDistance(list.find((g) => g.gatewayId === id)!.region, region));
          for (let i = 1; i < d.length; i++) assert.ok(d[i - 1]! <= d[i]!);
        },
      ),
    );
  });
});
