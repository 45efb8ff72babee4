import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from './config';

/** The variables issue 13 added: OTEL_*, REDIS_URL, the webhook URL policy (pure: no I/O). */
describe('configuration of traces, shared limits and webhooks', () => {
  test('an invalid OTEL_* value is refused at start-up with one line naming it', () => {
    for (const [name, value, message] of [
      ['OTEL_TRACES_SAMPLER', 'sometimes', /must be one of always_on/],
      ['OTEL_TRACES_SAMPLER_ARG', '1.5', /from 0 to 1/],
      ['OTEL_EXPORTER_OTLP_ENDPOINT', 'collector:4318', /http\(s\) URL/],
      ['OTEL_EXPORTER_OTLP_PROTOCOL', 'grpc', /http\/json/],
      ['OTEL_TRACES_EXPORTER', 'jaeger', /otlp, console or none/],
      ['OTEL_EXPORTER_OTLP_HEADERS', 'no-equals-sign', /key=value/],
      ['OTEL_BSP_SCHEDULE_DELAY', '-1', /integer/],
      ['OTEL_PROPAGATORS', 'b3', /tracecontext and baggage/],
      ['OTEL_SDK_DISABLED', 'maybe', /true or false/],
    ] as const) {
      assert.throws(
        () => loadConfig({ [name]: value }),
        (e: unknown) => e instanceof ConfigError && e.variable === name && message.test(e.message) && !e.message.includes('\n'),
        `${name}=${value}`,
      );
    }
    assert.equal(loadConfig({}).tracing, null, 'off by default');
    assert.equal(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }).tracing, null);
    assert.equal(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing?.otlp.url, 'http://collector:4318/v1/traces');
  });

  it('REDIS_URL must be a redis:// or rediss:// URL; unset, limits are in-process', () => {
    assert.equal(loadConfig({}).redisUrl, null);
    assert.equal(loadConfig({ REDIS_URL: 'rediss://cache.example:6380/0' }).redisUrl, 'rediss://cache.example:6380/0');
    assert.throws(() => loadConfig({ REDIS_URL: 'http://cache:6379' }), (e: unknown) => e instanceof ConfigError && e.variable === 'REDIS_URL');
  });

  it('webhook URLs: any http(s) on a loopback bind, https on public addresses otherwise, whatever the storage; a bad policy is refused', () => {
    assert.equal(loadConfig({ WEBDIAL_BUS: 'kafka', KAFKA_BROKERS: '127.0.0.1:9092' }).webhooks.urlPolicy, 'any');
    assert.equal(loadConfig({ HOST: '10.1.2.3' }).webhooks.urlPolicy, 'public');
    assert.equal(loadConfig({ WEBDIAL_WEBHOOK_URL_POLICY: 'public' }).webhooks.urlPolicy, 'public');
    // The default follows the bind address, not the storage mode (issue 20): internal targets only on loopback.
    assert.equal(loadConfig({}).webhooks.urlPolicy, 'any');
    assert.equal(loadConfig({ HOST: '0.0.0.0' }).webhooks.urlPolicy, 'public');
    assert.equal(loadConfig({ HOST: '::' }).webhooks.urlPolicy, 'public');
    assert.throws(() => loadConfig({ WEBDIAL_WEBHOOK_URL_POLICY: 'open' }), /WEBDIAL_WEBHOOK_URL_POLICY: must be one of public, any/);
    assert.throws(() => loadConfig({ WEBDIAL_WEBHOOK_FAILING_AFTER: '0' }), /WEBDIAL_WEBHOOK_FAILING_AFTER/);
    assert.equal(loadConfig({ WEBDIAL_WEBHOOK_FAILING_AFTER: '60' }).webhooks.failingAfterMs, 60_000);
  });
});

describe('WEBDIAL_DID_BLOCKS (issue 23)', () => {
  it('E.164 prefixes, comma-separated; unset: none (any number)', () => {
    assert.deepEqual(loadConfig({}).didBlocks, []);
    assert.deepEqual(loadConfig({ WEBDIAL_DID_BLOCKS: '+3319000, +4420' }).didBlocks, ['+3319000', '+4420']);
  });
  it('anything else stops start-up with one line naming it', () => {
    for (const bad of ['3319000', '+0331', '+33 19', '+1234567890123456'])
      assert.throws(() => loadConfig({ WEBDIAL_DID_BLOCKS: bad }), (e: unknown) => e instanceof ConfigError && e.variable === 'WEBDIAL_DID_BLOCKS', bad);
  });
});

describe('LIVEKIT_SIP_INBOUND_ALLOWED_ADDRESSES (issue 23)', () => {
  it('addresses or CIDRs; anything else stops start-up', () => {
    assert.deepEqual(loadConfig({ LIVEKIT_SIP_INBOUND_ALLOWED_ADDRESSES: '203.0.113.0/24,198.51.100.7' }).livekit.inboundAllowedAddresses, ['203.0.113.0/24', '198.51.100.7']);
    assert.deepEqual(loadConfig({}).livekit.inboundAllowedAddresses, []);
    assert.throws(() => loadConfig({ LIVEKIT_SIP_INBOUND_ALLOWED_ADDRESSES: 'carrier.example' }), (e: unknown) => e instanceof ConfigError && e.variable === 'LIVEKIT_SIP_INBOUND_ALLOWED_ADDRESSES');
  });
});
