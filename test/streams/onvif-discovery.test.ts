// WS-Discovery against simulator responders on loopback (unicast: no multicast needed):
// repeated probes find a device that drops the first ones, duplicates are merged, and the
// credentials check says true/false. Plus fast-check on the XML readers.
import t from 'tap';
import fc from 'fast-check';
import { discoverCameras, probe } from '../../streams/onvif/discovery.js';
import { startOnvifSim } from '../../streams/sim/onvif-sim.js';
import { buildProbe, parseProbeMatches, parseScopes } from '../../streams/onvif/ws-discovery-messages.js';
import { decodeXmlText, escapeXml, soapOperation, xmlElements, xmlText } from '../../streams/onvif/soap-xml.js';

const FIVE_HOURS = 5 * 3600 * 1000;

t.test('repeated probes, dedupe, device information and credentials check', async (t) => {
  const lossy = await startOnvifSim({
    password: 'right',
    clockOffsetMs: FIVE_HOURS,
    identity: { manufacturer: 'Hikvision', model: 'DS-2CD2143G2-I' },
    name: 'Room 101 front',
    discovery: { dropFirst: 2, duplicate: true },
  });
  const other = await startOnvifSim({
    password: 'different',
    identity: { manufacturer: 'Dahua', model: 'IPC-HDW2431T' },
    discovery: true,
  });
  t.teardown(async () => {
    await lossy.stop();
    await other.stop();
  });
  const targets = [
    { host: '127.0.0.1', port: lossy.discoveryPort! },
    { host: '127.0.0.1', port: other.discoveryPort! },
  ];

  const once = await probe({ targets, probes: 1, listenMs: 300 });
  t.same(
    once.map((d) => d.address),
    [other.endpoint],
    'a single probe misses the device that drops probes',
  );

  const found = await discoverCameras({
    targets,
    probes: 4,
    probeIntervalMs: 50,
    listenMs: 400,
    credentials: { username: 'admin', password: 'right' },
  });
  t.equal(found.length, 2, 'both devices, each once');
  t.ok(lossy.stats.probesAnswered >= 4, 'the lossy device answered twice per probe it heard');
  const a = found.find((d) => d.endpoint === lossy.endpoint)!;
  const b = found.find((d) => d.endpoint === other.endpoint)!;
  t.equal(a.address, '127.0.0.1');
  t.equal(a.port, lossy.port);
  t.same(a.xaddrs, [lossy.deviceUrl]);
  t.equal(a.manufacturer, 'Hikvision');
  t.equal(a.model, 'DS-2CD2143G2-I');
  t.equal(a.name, 'Room 101 front');
  t.match(a.firmware, /^V5/);
  t.equal(a.serial, lossy.identity.serial);
  t.equal(a.credentialsOk, true, 'works on a camera whose clock is 5 h off');
  t.equal(b.credentialsOk, false, 'the other camera refuses these credentials');
  t.equal(b.model, 'IPC-HDW2431T', 'model from the hardware scope even when refused');
  t.equal(b.manufacturer, undefined);
  t.match(b.error, /authentication refused/);
  t.notMatch(JSON.stringify(found), /right|different/, 'no password in the result');

  const anonymous = await discoverCameras({ targets: targets.slice(1), probes: 2, probeIntervalMs: 20, listenMs: 300 });
  t.equal(anonymous.length, 1);
  t.equal(anonymous[0].credentialsOk, null, 'not tried without credentials');
});

t.test('answers to a probe we did not send are ignored; garbage datagrams too', async (t) => {
  const { createSocket } = await import('node:dgram');
  const fake = createSocket('udp4');
  await new Promise<void>((r) => fake.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => fake.close());
  fake.on('message', (msg, rinfo) => {
    const stranger =
      '<e:Envelope xmlns:e="x"><e:Header><a:RelatesTo>urn:uuid:not-yours</a:RelatesTo></e:Header><e:Body><d:ProbeMatches><d:ProbeMatch>' +
      '<a:EndpointReference><a:Address>urn:uuid:stranger</a:Address></a:EndpointReference><d:XAddrs>http://10.0.0.9/onvif/device_service</d:XAddrs>' +
      '</d:ProbeMatch></d:ProbeMatches></e:Body></e:Envelope>';
    fake.send(Buffer.from(stranger), rinfo.port, rinfo.address);
    fake.send(Buffer.from([0xff, 0x00, 0x3c, 0x3c]), rinfo.port, rinfo.address);
    fake.send(Buffer.from(msg.toString().slice(0, 50)), rinfo.port, rinfo.address);
  });
  const port = (fake.address() as { port: number }).port;
  const found = await probe({ targets: [{ host: '127.0.0.1', port }], probes: 2, probeIntervalMs: 20, listenMs: 300 });
  t.same(found, []);
});

t.test('parseProbeMatches and parseScopes on a real-world shaped answer', async (t) => {
  const xml =
    '<?xml version="1.0"?><SOAP-ENV:Envelope><SOAP-ENV:Header><wsa:RelatesTo>urn:uuid:1</wsa:RelatesTo></SOAP-ENV:Header>' +
    '<SOAP-ENV:Body><d:ProbeMatches><d:ProbeMatch><wsa:EndpointReference><wsa:Address>urn:uuid:abc</wsa:Address></wsa:EndpointReference>' +
    '<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>' +
    '<d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/Profile/Streaming onvif://www.onvif.org/hardware/DS-2CD2043G0-I ' +
    'onvif://www.onvif.org/name/HIKVISION%20DS-2CD2043G0-I onvif://www.onvif.org/location/city/hangzhou</d:Scopes>' +
    '<d:XAddrs>http://192.168.1.64/onvif/device_service http://[fe80::1]/onvif/device_service bogus</d:XAddrs>' +
    '<d:MetadataVersion>10</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>';
  const r = parseProbeMatches(xml);
  t.equal(r.relatesTo, 'urn:uuid:1');
  t.equal(r.matches.length, 1);
  t.same(r.matches[0].xaddrs, ['http://192.168.1.64/onvif/device_service', 'http://[fe80::1]/onvif/device_service']);
  t.equal(r.matches[0].metadataVersion, 10);
  t.same(parseScopes(r.matches[0].scopes), {
    name: 'HIKVISION DS-2CD2043G0-I',
    hardware: 'DS-2CD2043G0-I',
    location: 'city/hangzhou',
    profiles: ['Streaming'],
  });
  t.same(parseProbeMatches('<ProbeMatch><Address>urn:x</Address></ProbeMatch>').matches, [], 'no XAddrs: dropped');
  t.equal(soapOperation(buildProbe('urn:uuid:9')), 'Probe');
});

t.test('fast-check: the XML readers never throw and find a match after garbage', async () => {
  const safeText = fc.stringMatching(/^[A-Za-z0-9:._-]{1,20}$/);
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), fc.constantFrom('ProbeMatch', 'XAddrs', 'Body', 'Address', 'Scopes'), (junk, name) => {
      xmlElements(junk, name);
      xmlText(junk, name);
      soapOperation(junk);
      parseProbeMatches(junk);
      parseScopes(junk.split(' '));
      decodeXmlText(junk);
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), safeText, fc.integer({ min: 1, max: 65535 }), fc.nat(), (junk, id, port, cut) => {
      const match =
        `<d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>urn:uuid:${escapeXml(id)}</a:Address></a:EndpointReference>` +
        `<d:XAddrs>http://10.0.0.1:${port}/onvif/device_service</d:XAddrs></d:ProbeMatch></d:ProbeMatches>`;
      // Garbage (even with unbalanced tags) in front does not hide a whole match behind it.
      const cleanJunk = junk.replace(/ProbeMatch|Address|XAddrs|EndpointReference/g, '');
      const whole = parseProbeMatches(`${cleanJunk}${match}`);
      if (!whole.matches.some((m) => m.address === `urn:uuid:${id}`)) throw new Error('match lost after garbage');
      // Truncated: no throw, and never an invented device.
      const at = cut % match.length;
      const truncated = parseProbeMatches(match.slice(0, at));
      const complete = at >= match.indexOf('</d:ProbeMatch>') + '</d:ProbeMatch>'.length;
      if (!complete && truncated.matches.length > 0) throw new Error('invented a device from a truncated datagram');
      if (truncated.matches.some((m) => m.address !== `urn:uuid:${id}`)) throw new Error('wrong address');
    }),
    { numRuns: 1000 },
  );
});

t.test('fast-check: escapeXml / decodeXmlText round trip', async () => {
  fc.assert(
    fc.property(fc.string(), (s) => decodeXmlText(escapeXml(s)) === s),
  );
});

t.test('multicast probe to 239.255.255.250:3702 (the default target)', async (t) => {
  const sim = await startOnvifSim({ discovery: { multicast: true } }).catch((e: Error) => e);
  if (sim instanceof Error) {
    const why = `cannot join the WS-Discovery group here: ${sim.message}`;
    t.test(why, { skip: why }, () => {});
    return;
  }
  t.teardown(() => sim.stop());
  const found = await probe({ probes: 3, probeIntervalMs: 100, listenMs: 500 });
  if (sim.stats.probesSeen === 0) {
    const why = 'this host does not deliver multicast to itself (no multicast route)';
    t.test(why, { skip: why }, () => {});
    return;
  }
  t.ok(
    found.some((d) => d.address === sim.endpoint),
    'the simulator answered the multicast probe and was found',
  );
});
