import { test } from 'node:test';
import assert from 'node:assert/strict';
import { haproxyConfig } from './haproxy';

test('the HAProxy configuration: round-robin over every instance, each checked on /readyz, WebSockets as tunnels, X-Forwarded-For', () => {
  const cfg = haproxyConfig({
    bind: { host: '127.0.0.1', port: 4700 },
    servers: [
      { name: 'webdial0', host: '127.0.0.1', port: 4701 },
      { name: 'webdial1', host: '127.0.0.1', port: 4702 },
    ],
    stats: { host: '127.0.0.1', port: 4799 },
    adminSocket: '/tmp/stack/haproxy.sock',
  });
  assert.match(cfg, /^ {2}stats socket \/tmp\/stack\/haproxy\.sock mode 600 level admin$/m, 'the runtime API a rolling restart drains through');
  assert.match(cfg, /^ {2}bind 127\.0\.0\.1:4700$/m);
  assert.match(cfg, /^ {2}balance roundrobin$/m);
  assert.match(cfg, /^ {2}option httpchk GET \/readyz$/m);
  assert.match(cfg, /^ {2}http-check expect status 200$/m);
  assert.match(cfg, /^ {2}server webdial0 127\.0\.0\.1:4701 check$/m);
  assert.match(cfg, /^ {2}server webdial1 127\.0\.0\.1:4702 check$/m);
  assert.match(cfg, /^ {2}timeout tunnel 1h$/m, 'an idle graphql-ws connection is not cut after a request timeout');
  assert.match(cfg, /^ {2}option forwardfor$/m);
  assert.match(cfg, /^ {2}timeout check 5s$/m, 'a busy last instance is not marked down for a slow /readyz');
  // Only a request that never reached an instance is sent again: a mutation must not run twice.
  assert.match(cfg, /^ {2}retry-on conn-failure$/m);
  assert.doesNotMatch(cfg, /retry-on .*(empty-response|response-timeout|all-retryable-errors)/);
  assert.match(cfg, /^ {2}bind 127\.0\.0\.1:4799$/m);
  assert.doesNotMatch(haproxyConfig({ bind: { host: '0.0.0.0', port: 80 }, servers: [], stats: null }), /stats enable/);
});
