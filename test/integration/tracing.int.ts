import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { SpanKind } from '@opentelemetry/api';
import { loadConfig } from '../../src/composition/config';
import { createLogger } from '../../src/composition/logger';
import { startWebdial, type Webdial } from '../../src/composition/app';
import { gql } from '../../src/cli/client';
import { startTracing, type RunningTracing } from '../../src/observability/otel';
import { useKafka, type TestBroker } from '../support/kafka-broker';
import { collect, eventually, wsClient } from '../support/server';
import { PROJECTION_NAMES } from '../../src/projections';

const ADMIN = 'tracing-admin-key-0123456789abcdef';

/** The spans of one trace as an indented tree: `name [KIND]`, children in start order. */
const treeOf = (spans: ReadableSpan[], rootId: string): string[] => {
  const byParent = new Map<string, ReadableSpan[]>();
  for (const s of spans) {
    const parent = s.parentSpanContext?.spanId ?? '';
    byParent.set(parent, [...(byParent.get(parent) ?? []), s]);
  }
  const lines: string[] = [];
  const walk = (s: ReadableSpan, depth: number) => {
    lines.push(`${'  '.repeat(depth)}${s.name} [${SpanKind[s.kind]}]`);
    for (const c of (byParent.get(s.spanContext().spanId) ?? []).sort((a, b) => (a.startTime[0] - b.startTime[0]) * 1e9 + (a.startTime[1] - b.startTime[1]))) walk(c, depth + 1);
  };
  walk(spans.find((s) => s.spanContext().spanId === rootId)!, 0);
  return lines;
};

/**
 * Issue 13, traces across the bus: one GraphQL mutation on the Kafka bus, followed through the
 * in-memory exporter: operation → command → append → relay → Kafka produce → Kafka consume →
 * projection batches, webhook planning and the subscription delivery, all one trace (the context
 * rides on the event envelope and in the Kafka `traceparent` header).
 */
describe('OpenTelemetry: the span tree of one call on Kafka', () => {
  let broker: TestBroker | null = null;
  let app: Webdial | null = null;
  let tracing: RunningTracing | null = null;
  let dataDir = '';
  const exporter = new InMemorySpanExporter();

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'webdial-tracing-'));
  });
  after(async () => {
    await app?.stop();
    await tracing?.shutdown();
    await broker?.release();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('recordDownload: one trace from the mutation to the projections and the subscriber', async (t: TestContext) => {
    broker = await useKafka(t);
    if (!broker) return;
    const config = loadConfig({
      PORT: '0',
      WEBDIAL_DATA_DIR: dataDir,
      WEBDIAL_ADMIN_KEY: ADMIN,
      WEBDIAL_DEMO: '0',
      WEBDIAL_MEDIA: 'external',
      WEBDIAL_BUS: 'kafka',
      KAFKA_BROKERS: broker.brokers.join(','),
      KAFKA_TOPIC_PREFIX: `trace${randomBytes(4).toString('hex')}.`,
      KAFKA_PARTITIONS: '2',
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_SERVICE_NAME: 'webdial-test',
    });
    assert.ok(config.tracing, 'OTEL_TRACES_EXPORTER=otlp switches tracing on');
    tracing = startTracing(config.tracing, { exporter });
    app = await startWebdial(config, createLogger('warn'));
    const admin = (q: string, v: Record<string, unknown> = {}) => gql(app!.url, q, v, ADMIN);
    const m = (await admin(`mutation { createMerchant(input: { name: "Traced" }) { id } }`)).createMerchant.id as string;
    const c = (await admin(`mutation($m: ID!) { addCallCenter(input: { merchantId: $m, name: "C", phoneNumber: "+12125550100", timeZone: "UTC", capacity: 5, region: "us" }) { id } }`, { m })).addCallCenter.id;
    const l = (await admin(`mutation($m: ID!, $c: ID!) { createLink(input: { merchantId: $m, label: "L", callCenterIds: [$c] }) { id } }`, { m, c })).createLink.id;
    const crm = (await admin(`mutation($m: ID) { createApiKey(role: CRM, merchantId: $m) { key } }`, { m })).createApiKey.key;
    await app.settle(30_000);

    const ws = wsClient(app.url.replace(/^http/, 'ws'), crm);
    const sub = collect<{ type: string }>(ws, `subscription($m: ID!) { callEvents(merchantId: $m) { type callId } }`, { m }, (items) => items.length >= 1, 30_000);
    await new Promise((r) => setTimeout(r, 500));
    exporter.reset();

    const { recordDownload } = await gql(app.url, `mutation Download($i: DownloadInput!) { recordDownload(input: $i) { callId } }`, { i: { merchantId: m, linkId: l, pageUrl: 'https://shop.example/p/1' } });
    assert.ok(recordDownload.callId);
    await sub.done;
    await ws.dispose();

    const root = await eventually(async () => exporter.getFinishedSpans().find((s) => s.name === 'mutation Download'), 10_000, 'the operation span');
    const traceId = root.spanContext().traceId;
    const inTrace = () => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    // Everything downstream of the bus has finished: the four projections, the webhook planner, the subscriber.
    await eventually(
      async () => {
        await tracing!.flush();
        const names = inTrace().map((s) => s.name);
        return names.includes('projection.batch') && names.includes('webhook.plan') && names.some((n) => n.startsWith('subscription.deliver'));
      },
      30_000,
      'every consumer span of the trace',
    );
    const spans = inTrace();
    const tree = treeOf(spans, root.spanContext().spanId);
    console.log(`# span tree of one recordDownload on Kafka (${spans.length} spans):\n${tree.map((l) => `#   ${l}`).join('\n')}`);

    const byName = (n: string) => spans.filter((s) => s.name === n);
    const parentOf = (s: ReadableSpan) => spans.find((p) => p.spanContext().spanId === s.parentSpanContext?.spanId);
    assert.equal(root.kind, SpanKind.SERVER);
    assert.equal(root.parentSpanContext, undefined, 'the operation is the root');
    assert.equal(root.attributes['graphql.operation.type'], 'mutation');
    const command = spans.find((s) => s.name.startsWith('command ') && parentOf(s) === root)!;
    assert.ok(command, 'the command handler under the operation');
    const append = byName('eventstore.append').find((s) => parentOf(s) === command)!;
    assert.ok(append, 'the append under the command');
    const relay = byName('relay.publish').find((s) => parentOf(s) === append)!;
    assert.ok(relay, 'the relay continues from the envelope: under the append');
    const produce = byName('kafka.produce').find((s) => parentOf(s) === relay)!;
    assert.equal(produce.kind, SpanKind.PRODUCER);
    const consumers = spans.filter((s) => s.kind === SpanKind.CONSUMER);
    assert.ok(consumers.length >= 3, 'a consume span per consumer group (projections, webhooks, the subscriptions hub)');
    assert.ok(consumers.every((s) => parentOf(s) === produce), 'every consume continues from the Kafka header (the producer span)');
    const batch = byName('projection.batch')[0]!;
    assert.match(parentOf(batch)!.name, /^kafka\.consume .*webdial\.projections$/, 'every projection in one batch transaction');
    assert.equal(batch.attributes['webdial.projections'], PROJECTION_NAMES.length);
    assert.match(parentOf(byName('webhook.plan')[0]!)!.name, /^kafka\.consume .*webdial\.webhooks$/);
    const deliver = spans.find((s) => s.name === 'subscription.deliver CallDownloaded')!;
    assert.match(parentOf(deliver)!.name, /^kafka\.consume .*webdial\.api\./);
    assert.equal(deliver.attributes['webdial.subscribers'], 1);
  });
});
