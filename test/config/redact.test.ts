// redactConfig: secrets never reach logs, /api or tpgw/G/info.
import t from 'tap';
import { loadConfig } from '../../config/load.js';
import { redactConfig, redactUrl } from '../../config/redact.js';

t.test('passwords, tokens and keys are replaced, everything else kept', async (t) => {
  const r = loadConfig({ file: new URL('../../config/examples/classroom.yaml', import.meta.url).pathname, env: {} });
  if (!r.ok) throw new Error(r.errors.join('\n'));
  const red = redactConfig(r.config) as any;
  t.equal(red.center.mqtt.password, '***');
  t.equal(red.center.mqtt.username, 'tp-hanoi-b204', 'user names are not secrets');
  t.equal(red.center.mqtt.ca, '/etc/tpgw/tls/center-ca.pem', 'file paths are kept');
  t.equal(red.http.token, '***');
  t.equal(red.clocks[1].password, '***', 'r30x module password');
  t.equal(red.clocks[3].commKey, '***', 'zk comm key, even though it is a number');
  t.equal(red.cameras[0].onvif.password, '***');
  t.equal(red.cameras[1].rtspUrl, 'rtsp://tpgw:***@192.168.10.32:554/stream1');
  t.equal(red.gateway.id, r.config.gateway.id);
  t.equal(red.clocks[0].port, (r.config.clocks[0] as { port: string }).port);

  const text = JSON.stringify(red);
  for (const secret of ['change-me', 'replace-with-a-long-random-token', 'camera-password', '00000000']) t.notMatch(text, secret);
  t.equal((r.config.center.mqtt as { password?: string }).password, 'change-me', 'the original is not modified');

  const withKey = redactConfig({ ...r.config, center: { ...r.config.center, mqtt: { ...r.config.center.mqtt, keyPassphrase: 'pass-phrase-7' } } }) as any;
  t.equal(withKey.center.mqtt.keyPassphrase, '***', 'the TLS key passphrase');
  t.notMatch(JSON.stringify(withKey), 'pass-phrase-7');
});

t.test('URL credentials and secret query parameters', async (t) => {
  t.equal(redactUrl('mqtts://gw:p%40ss@center.example:8883'), 'mqtts://gw:***@center.example:8883');
  t.equal(redactUrl('mqtt://gw@center.example'), 'mqtt://gw@center.example', 'no password, nothing to hide');
  t.equal(redactUrl('rtsp://admin:a:b@c@10.0.0.1/live?channel=1&password=x&token=y'), 'rtsp://admin:***@10.0.0.1/live?channel=1&password=***&token=***');
  t.equal(redactUrl('http://cam/snap.jpg?user=admin&pwd=12345'), 'http://cam/snap.jpg?user=admin&pwd=***');
  t.equal(redactUrl('/dev/ttyUSB0'), '/dev/ttyUSB0');
  const red = redactConfig({ center: { mqtt: { url: 'mqtts://u:secret@host:8883' } }, extra: ['wss://u:pw@h/mqtt'] });
  t.same(red, { center: { mqtt: { url: 'mqtts://u:***@host:8883' } }, extra: ['wss://u:***@h/mqtt'] });
});

t.test('inline PEM is redacted; unset secrets stay unset', async (t) => {
  const red = redactConfig({ center: { mqtt: { key: '-----BEGIN PRIVATE KEY-----\nMIIE...\n-----END PRIVATE KEY-----\n', password: undefined } }, http: { token: '' } });
  t.same(red, { center: { mqtt: { key: '***', password: undefined } }, http: { token: '' } });
});
