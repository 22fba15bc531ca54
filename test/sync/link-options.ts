// MqttLink options for tests: fast reconnects, gateway G1, a unique client id each time.
import type { MqttLinkOptions } from '../../sync/mqtt/link.js';
import { makeTopics } from '../../sync/mqtt/topics.js';

export const topics = makeTopics('tpgw', 'G1');
export const startedAt = new Date().toISOString();

export function linkOpts(url: string, over: Partial<MqttLinkOptions> = {}): MqttLinkOptions {
  return {
    url,
    clientId: `tpgw-test-${Math.random().toString(16).slice(2)}`,
    rejectUnauthorized: true,
    keepalive: 30,
    protocolVersion: 5,
    reconnectMinMs: 50,
    reconnectMaxMs: 400,
    topics,
    statusOnline: () => ({ version: '0.1.0', startedAt }),
    ...over,
  };
}
