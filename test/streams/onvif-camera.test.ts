// ONVIF client against our simulator: clock-offset compensation for WS-Security (and proof the
// simulator rejects a client without it), Digest on SOAP, profile choice, stream URI with
// credentials injected and redacted, and resolveStream() as the Cameras service uses it.
import t from 'tap';
import fc from 'fast-check';
import { OnvifCamera, OnvifError, resolveOnvifStream, resolveStream, toOnvifProfile } from '../../streams/onvif/onvif-camera.js';
import { chooseProfile, ProfileChoiceError, type OnvifProfile } from '../../streams/onvif/profile-choice.js';
import { hasCredentials, redactUrl, withCredentials } from '../../streams/onvif/url-credentials.js';
import { startOnvifSim } from '../../streams/sim/onvif-sim.js';
import { freePort } from '../helpers/free-port.js';
import type { CameraConfig } from '../../config/cameras.js';

const FIVE_HOURS = 5 * 3600 * 1000;
const PASSWORD = 'p@ss:w/rd%41#?';

function camera(sim: { host: string; port: number }, extra: Partial<CameraConfig> = {}, password = PASSWORD): CameraConfig {
  return {
    id: 'room101',
    record: 'always',
    onvif: { host: sim.host, port: sim.port, username: 'admin', password },
    ...extra,
  };
}

t.test('camera clock 5 hours ahead: WS-Security works through the time offset', async (t) => {
  const sim = await startOnvifSim({ password: PASSWORD, clockOffsetMs: FIVE_HOURS, rtspUrl: 'rtsp://127.0.0.1:8554/live/main' });
  t.teardown(() => sim.stop());

  const r = await resolveOnvifStream(camera(sim));
  t.ok(Math.abs(r.timeOffsetMs - FIVE_HOURS) < 5000, `offset measured: ${r.timeOffsetMs} ms`);
  t.equal(sim.stats.wsSecurityRejected, 0, 'no request was refused');
  t.ok(sim.stats.operations.GetProfiles && sim.stats.operations.GetStreamUri, 'authenticated operations were served');
  t.equal(r.manufacturer, 'TPGW Sim');
  t.equal(r.model, 'SimCam 1080');
  t.equal(r.profile.token, 'Profile_1', 'highest-resolution H.264 by default');
  t.equal(r.profile.width, 1920);

  // Credentials injected, percent-encoded so ffmpeg reads them back exactly.
  const u = new URL(r.streamUrl);
  t.equal(decodeURIComponent(u.username), 'admin');
  t.equal(decodeURIComponent(u.password), PASSWORD);
  t.equal(u.host, '127.0.0.1:8554');
  t.equal(u.pathname, '/live/main');
  const redacted = redactUrl(r.streamUrl);
  t.equal(redacted, 'rtsp://127.0.0.1:8554/live/main');
  t.notOk(hasCredentials(redacted));
  t.match(r.snapshotUrl, /^http:\/\/127\.0\.0\.1:\d+\/snapshot\.jpg\?profile=Profile_1$/);
  t.notOk(hasCredentials(r.snapshotUrl!), 'snapshot URI carries no credentials');

  // Negative control: the same client stamping tokens with its own clock is refused, so the
  // simulator really checks the time and the success above is the compensation's doing.
  const naive = new OnvifCamera({ host: sim.host, port: sim.port, username: 'admin', password: PASSWORD }, { clockCompensation: false });
  await naive.syncClock();
  const err = await naive.deviceInformation().catch((e) => e);
  t.type(err, OnvifError);
  t.equal(err.kind, 'auth');
  t.match(err.message, /authentication refused \(camera clock offset 1(7999|8000) s\)/);
  t.notMatch(err.message, new RegExp(PASSWORD.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'no password in the error');
  t.equal(sim.stats.wsSecurityRejected, 1);
  t.match(sim.stats.lastRejection, /off the camera clock/);
});

t.test('camera clock 5 hours behind, and the offset follows a clock change on reconnect', async (t) => {
  const sim = await startOnvifSim({ password: PASSWORD, clockOffsetMs: -FIVE_HOURS });
  t.teardown(() => sim.stop());
  const r1 = await resolveOnvifStream(camera(sim));
  t.ok(Math.abs(r1.timeOffsetMs + FIVE_HOURS) < 5000);
  sim.setClockOffset(0); // someone fixed NTP on the camera
  const r2 = await resolveOnvifStream(camera(sim));
  t.ok(Math.abs(r2.timeOffsetMs) < 5000);
  t.equal(sim.stats.wsSecurityRejected, 0);
});

t.test('wrong password over WS-Security is an auth error', async (t) => {
  const sim = await startOnvifSim({ password: PASSWORD, clockOffsetMs: FIVE_HOURS });
  t.teardown(() => sim.stop());
  const err = await resolveOnvifStream(camera(sim, {}, 'not-it')).catch((e) => e);
  t.type(err, OnvifError);
  t.equal(err.kind, 'auth');
  t.match(sim.stats.lastRejection, /wrong password digest/);
});

t.test('non-ASCII password over WS-Security (hashed as UTF-8, like cameras do)', async (t) => {
  const password = 'Pässwörd-教室';
  const sim = await startOnvifSim({ password, clockOffsetMs: -FIVE_HOURS });
  t.teardown(() => sim.stop());
  const r = await resolveOnvifStream(camera(sim, {}, password));
  t.equal(r.profile.token, 'Profile_1');
  t.equal(sim.stats.wsSecurityRejected, 0);
});

t.test('HTTP Digest on SOAP (camera without WS-Security)', async (t) => {
  const sim = await startOnvifSim({ password: PASSWORD, soapAuth: 'digest', clockOffsetMs: FIVE_HOURS });
  t.teardown(() => sim.stop());
  const r = await resolveOnvifStream(camera(sim));
  t.equal(r.profile.token, 'Profile_1');
  t.ok(sim.stats.digestChallenges >= 4, 'SOAP requests were answered with Digest');
  t.equal(sim.stats.digestRejected, 0);

  const err = await resolveOnvifStream(camera(sim, {}, 'bad')).catch((e) => e);
  t.type(err, OnvifError);
  t.equal(err.kind, 'auth');
  t.match(err.message, /Digest authentication failed/);
});

t.test('profile named in config, by name or token', async (t) => {
  const sim = await startOnvifSim({ password: PASSWORD, rtspUrl: (tok) => `rtsp://127.0.0.1:8554/${tok}` });
  t.teardown(() => sim.stop());
  const byName = await resolveOnvifStream(camera(sim, { profile: 'subStream' }));
  t.equal(byName.profile.token, 'Profile_2');
  t.match(byName.streamUrl, /\/Profile_2$/);
  const byToken = await resolveOnvifStream(camera(sim, { profile: 'Profile_2' }));
  t.equal(byToken.profile.name, 'subStream');
  await t.rejects(resolveOnvifStream(camera(sim, { profile: 'thirdStream' })), {
    name: 'ProfileChoiceError',
    message: /not found; the camera offers: subStream \(Profile_2\), mainStream \(Profile_1\)/,
  });
});

t.test('chooseProfile rules', async (t) => {
  const p = (token: string, encoding: string | null, width: number | null, height: number | null, name = token): OnvifProfile => ({
    token,
    name,
    encoding,
    width,
    height,
    fps: null,
  });
  const list = [p('a', 'H264', 640, 360), p('b', 'JPEG', 3840, 2160), p('c', 'H265', 2560, 1440), p('d', 'H264', 1920, 1080)];
  t.equal(chooseProfile(list).token, 'c', 'largest H.264/H.265; a bigger MJPEG does not count');
  t.equal(chooseProfile([p('x', 'JPEG', 640, 480), p('y', 'JPEG', 1280, 720)]).token, 'y', 'no H.26x: largest video');
  t.equal(chooseProfile([p('x', null, null, null)]).token, 'x', 'nothing known: first');
  t.equal(chooseProfile(list, 'b').token, 'b');
  t.equal(chooseProfile([p('t1', 'H264', 1, 1, 'Main'), p('Main', 'H264', 2, 2, 'other')], 'Main').token, 'Main', 'token beats name');
  t.equal(chooseProfile([p('t1', 'H264', 1, 1, 'MainStream')], 'mainstream').token, 't1', 'name ignoring case');
  t.throws(() => chooseProfile([]), ProfileChoiceError);
  t.throws(() => chooseProfile(list, 'zzz'), ProfileChoiceError);

  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          token: fc.string({ minLength: 1, maxLength: 5 }),
          name: fc.string({ maxLength: 5 }),
          encoding: fc.constantFrom('H264', 'H265', 'JPEG', 'MPEG4', null),
          width: fc.option(fc.integer({ min: 1, max: 8000 })),
          height: fc.option(fc.integer({ min: 1, max: 8000 })),
          fps: fc.constant(null),
        }),
        { minLength: 1, maxLength: 8 },
      ),
      (generated) => {
        const profiles: OnvifProfile[] = generated;
        const chosen = chooseProfile(profiles);
        const h = profiles.filter((x) => x.encoding === 'H264' || x.encoding === 'H265');
        if (h.length) {
          const px = (x: OnvifProfile) => (x.width ?? 0) * (x.height ?? 0);
          return h.includes(chosen) && h.every((x) => px(x) <= px(chosen));
        }
        return profiles.includes(chosen);
      },
    ),
  );
});

t.test('toOnvifProfile never throws on odd library output', async () => {
  fc.assert(
    fc.property(fc.anything(), (raw) => {
      const p = toOnvifProfile(raw);
      if (p !== null && typeof p.token !== 'string') throw new Error('bad token');
    }),
  );
});

t.test('withCredentials / redactUrl round trip for any username and password', async () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1 }), fc.string(), (user, pass) => {
      const url = withCredentials('rtsp://10.0.0.5:554/Streaming/Channels/101?transportmode=unicast', user, pass);
      const u = new URL(url);
      if (decodeURIComponent(u.username) !== user) throw new Error('username changed');
      if (decodeURIComponent(u.password) !== pass) throw new Error('password changed');
      if (u.hostname !== '10.0.0.5' || u.pathname !== '/Streaming/Channels/101') throw new Error('url damaged');
      const r = new URL(redactUrl(url));
      if (r.username || r.password) throw new Error('credentials survived redaction');
    }),
  );
  // Existing credentials are kept unless asked; query secrets are masked.
  Object.entries({
    'rtsp://a:b@h/x': withCredentials('rtsp://a:b@h/x', 'c', 'd'),
  }).forEach(([want, got]) => {
    if (want !== got) throw new Error(got);
  });
  if (redactUrl('http://h/snap.cgi?user=admin&pwd=secret') !== 'http://h/snap.cgi?user=admin&pwd=***') throw new Error('query');
  if (redactUrl('not a url rtsp://u:p@h/x') !== 'not a url rtsp://***@h/x') throw new Error(redactUrl('not a url rtsp://u:p@h/x'));
});

t.test('resolveStream: rtspUrl overrides, onvif-less cameras, and neither', async (t) => {
  const sim = await startOnvifSim({ password: PASSWORD });
  t.teardown(() => sim.stop());

  const plain = await resolveStream({ id: 'c1', record: 'always', rtspUrl: 'rtsp://10.1.1.1/stream' });
  t.same(plain, { streamUrl: 'rtsp://10.1.1.1/stream' });

  const override = await resolveStream(camera(sim, { rtspUrl: 'rtsp://10.1.1.2/main' }));
  t.equal(redactUrl(override.streamUrl), 'rtsp://10.1.1.2/main');
  t.equal(decodeURIComponent(new URL(override.streamUrl).password), PASSWORD, 'onvif credentials added to a bare rtspUrl');
  t.match(override.snapshotUrl, /snapshot\.jpg/, 'snapshot URI still from ONVIF');

  const own = await resolveStream(camera(sim, { rtspUrl: 'rtsp://x:y@10.1.1.2/main' }));
  t.equal(own.streamUrl, 'rtsp://x:y@10.1.1.2/main', 'credentials already in rtspUrl are kept');

  const dead = { ...camera({ host: '127.0.0.1', port: await freePort() }), rtspUrl: 'rtsp://10.1.1.3/main' };
  const fallback = await resolveStream(dead, { timeoutMs: 2000 });
  t.equal(redactUrl(fallback.streamUrl), 'rtsp://10.1.1.3/main');
  t.equal(fallback.snapshotUrl, undefined, 'ONVIF unreachable: rtspUrl alone');

  const viaOnvif = await resolveStream(camera(sim));
  t.match(redactUrl(viaOnvif.streamUrl), /^rtsp:\/\/127\.0\.0\.1:8554\/Profile_1$/);

  await t.rejects(resolveStream({ id: 'c9', record: 'always' }), { message: /neither onvif nor rtspUrl/ });
});

t.test('unreachable camera is a network error', async (t) => {
  const port = await freePort();
  const err = await resolveOnvifStream(camera({ host: '127.0.0.1', port }), { timeoutMs: 2000 }).catch((e) => e);
  t.type(err, OnvifError);
  t.equal(err.kind, 'network');
});
