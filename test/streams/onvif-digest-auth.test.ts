// HTTP Digest: the RFC 7616/2617 examples, the challenge parser under fast-check, and the
// authenticated GET against the ONVIF simulator's own Digest implementation.
import t from 'tap';
import fc from 'fast-check';
import {
  DigestAuthError,
  DigestSession,
  digestAuthorization,
  digestResponse,
  parseWwwAuthenticate,
  pickDigestChallenge,
  toDigestChallenge,
} from '../../streams/onvif/digest-auth.js';
import { authenticatedGet, HttpAuthError, HttpFetchError } from '../../streams/onvif/authenticated-get.js';
import { startOnvifSim } from '../../streams/sim/onvif-sim.js';
import { validJpeg } from '../../streams/snapshots/jpeg.js';

t.test('RFC 7616 §3.9.1 example, MD5 and SHA-256', async (t) => {
  const common = {
    realm: 'http-auth@example.org',
    nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
    opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
    qop: 'auth' as const,
    stale: false,
    userhash: false,
  };
  const input = {
    username: 'Mufasa',
    password: 'Circle of Life',
    method: 'GET',
    uri: '/dir/index.html',
    nc: 1,
    cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
  };
  t.equal(digestResponse({ ...input, challenge: { ...common, algorithm: 'MD5' } }), '8ca523f5e9506fed4657c9700eebdbec');
  t.equal(
    digestResponse({ ...input, challenge: { ...common, algorithm: 'SHA-256' } }),
    '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
  );
  const header = digestAuthorization({ ...input, challenge: { ...common, algorithm: 'MD5' } });
  t.match(header, /^Digest /);
  t.match(header, /nc=00000001/);
  t.match(header, /qop=auth/);
  t.match(header, /opaque="FQhe/);
});

t.test('RFC 2617 §3.5 example (qop=auth, MD5 default)', async (t) => {
  const [ch] = parseWwwAuthenticate(
    'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
  );
  const challenge = toDigestChallenge(ch);
  t.equal(challenge.algorithm, 'MD5');
  t.equal(challenge.qop, 'auth');
  const response = digestResponse({
    challenge,
    username: 'Mufasa',
    password: 'Circle Of Life',
    method: 'GET',
    uri: '/dir/index.html',
    nc: 1,
    cnonce: '0a4f113b',
  });
  t.equal(response, '6629fae49393a05397450978507c4ef1');
});

t.test('challenge parsing: several challenges, escapes, strongest Digest wins', async (t) => {
  const list = parseWwwAuthenticate([
    'Basic realm="cam", Digest realm="IP Camera", qop="auth", nonce="abc", stale="FALSE"',
    'Digest qop="auth", realm="IP Camera", nonce="def", algorithm="SHA-256", opaque="o\\"q"',
  ]);
  t.same(
    list.map((c) => c.scheme),
    ['basic', 'digest', 'digest'],
  );
  t.equal(list[2].params.opaque, 'o"q');
  const best = pickDigestChallenge([
    'Digest realm="IP Camera", qop="auth", nonce="abc"',
    'Digest realm="IP Camera", qop="auth", nonce="def", algorithm=SHA-256',
  ]);
  t.equal(best?.algorithm, 'SHA-256');
  t.equal(best?.nonce, 'def');
  t.equal(pickDigestChallenge('Basic realm="x"'), null, 'no Digest offered');
  t.equal(parseWwwAuthenticate('Bearer abc.def==')[0].scheme, 'bearer', 'token68 skipped');
  t.throws(() => pickDigestChallenge('Digest realm="r"'), DigestAuthError, 'no nonce');
  t.throws(() => pickDigestChallenge('Digest realm="r", nonce="n", algorithm=SHA-512-256x'), DigestAuthError);
  t.throws(() => parseWwwAuthenticate('Digest realm="unterminated'), DigestAuthError);
  t.throws(() => parseWwwAuthenticate('realm="x"'), DigestAuthError, 'parameter before a scheme');
});

t.test('fast-check: any header text parses or fails with DigestAuthError only', async () => {
  const piece = fc.oneof(
    fc.string(),
    fc.constantFrom('Digest ', 'Basic ', 'realm=', 'nonce=', '"', '\\', ',', '=', ' qop="auth"', 'algorithm=MD5', '=='),
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 12 }), (parts) => {
      const s = parts.join('');
      try {
        const d = pickDigestChallenge(s);
        if (d) {
          // Whatever was accepted must be answerable.
          digestAuthorization({ challenge: d, username: 'u', password: 'p', method: 'GET', uri: '/', nc: 1, cnonce: 'c' });
        }
      } catch (err) {
        if (!(err instanceof DigestAuthError)) throw err;
      }
    }),
    { numRuns: 3000 },
  );
});

t.test('fast-check: a valid challenge survives garbage challenges around it', async () => {
  const tokenish = fc.stringMatching(/^[A-Za-z0-9]{1,12}$/);
  fc.assert(
    fc.property(tokenish, tokenish, fc.string(), (realm, nonce, junk) => {
      const good = `Digest realm="${realm}", nonce="${nonce}", qop="auth"`;
      let garbageChallenges: string[] = [];
      try {
        parseWwwAuthenticate(junk);
        garbageChallenges = [junk];
      } catch {
        /* unparseable junk would come as its own header and be dropped by the caller */
      }
      try {
        const d = pickDigestChallenge([...garbageChallenges, good]);
        if (!d) throw new Error('lost the good challenge');
        if (d.algorithm === 'MD5' && d.nonce !== nonce && d.realm !== realm) throw new Error('picked junk over good');
      } catch (err) {
        if (!(err instanceof DigestAuthError)) throw err;
      }
    }),
    { numRuns: 1000 },
  );
});

t.test('authenticated GET against the simulator: 401 challenge, then the JPEG', async (t) => {
  const password = 'p@ss:w%rd/ü';
  const sim = await startOnvifSim({ username: 'admin', password, snapshotAuth: 'digest' });
  t.teardown(() => sim.stop());

  const session = new DigestSession('admin', password);
  const res = await authenticatedGet(sim.snapshotUrl, { username: 'admin', password, session });
  t.equal(res.status, 200);
  t.equal(res.contentType, 'image/jpeg');
  t.ok(validJpeg(res.body).length > 100);
  t.equal(sim.stats.digestChallenges, 1, 'first request was challenged once');

  // The session reuses the nonce with the next nonce count: no second challenge.
  await authenticatedGet(sim.snapshotUrl, { username: 'admin', password, session });
  t.equal(sim.stats.digestChallenges, 1, 'second request authenticated up front');
  t.equal(sim.stats.snapshotsServed, 2);

  // Credentials in the URL work too (percent-encoded).
  const u = new URL(sim.snapshotUrl);
  u.username = 'admin';
  u.password = encodeURIComponent(password);
  t.equal((await authenticatedGet(u.href)).status, 200);

  await t.rejects(
    authenticatedGet(sim.snapshotUrl, { username: 'admin', password: 'wrong' }),
    { name: 'HttpAuthError', message: /wrong username or password/ },
    'wrong password is a clear auth error',
  );
  const err = await authenticatedGet(sim.snapshotUrl, { username: 'admin', password: 'wrong' }).catch((e) => e);
  t.type(err, HttpAuthError);
  t.notMatch(err.message, /wrong@|admin:/, 'no credentials in the message');
  await t.rejects(authenticatedGet(sim.snapshotUrl), HttpAuthError, 'no credentials configured');
  await t.rejects(
    authenticatedGet(sim.snapshotUrl.replace('/snapshot.jpg', '/nope'), { username: 'admin', password }),
    HttpFetchError,
  );
});

t.test('authenticated GET: Basic-only camera, and the size cap', async (t) => {
  const sim = await startOnvifSim({ username: 'admin', password: 'secret', snapshotAuth: 'basic' });
  t.teardown(() => sim.stop());
  const res = await authenticatedGet(sim.snapshotUrl, { username: 'admin', password: 'secret' });
  t.equal(res.status, 200);
  await t.rejects(authenticatedGet(sim.snapshotUrl, { username: 'admin', password: 'nope' }), HttpAuthError);
  await t.rejects(
    authenticatedGet(sim.snapshotUrl, { username: 'admin', password: 'secret', maxBytes: 100 }),
    { message: /larger than 100 bytes/ },
  );
});

t.test('stale nonce: retried once with the new nonce; SHA-256 chosen over MD5', async (t) => {
  const { createServer } = await import('node:http');
  const { createHash } = await import('node:crypto');
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  const seen: string[] = [];
  const server = createServer((req, res) => {
    const auth = req.headers.authorization;
    seen.push(auth ? (/nonce="([^"]+)"/.exec(auth)?.[1] ?? '?') : 'none');
    const challenge = (nonce: string, stale: boolean) => {
      res.writeHead(401, [
        ['WWW-Authenticate', `Digest realm="cam", qop="auth", nonce="${nonce}"${stale ? ', stale=true' : ''}`],
        ['WWW-Authenticate', `Digest realm="cam", qop="auth", algorithm=SHA-256, nonce="${nonce}"${stale ? ', stale=true' : ''}`],
      ]);
      res.end();
    };
    if (!auth) return challenge('n1', false);
    const p = Object.fromEntries([...auth.matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]+))/g)].map((m) => [m[1], m[2] ?? m[3]]));
    if (p.nonce === 'n1') return challenge('n2', true); // the first nonce expired meanwhile
    const ha1 = sha(`admin:cam:pw`);
    const expected = sha(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:auth:${sha(`GET:${p.uri}`)}`);
    if (p.algorithm !== 'SHA-256' || p.response !== expected || p.uri !== '/snap?ch=1') return challenge('n3', false);
    res.writeHead(200, { 'Content-Type': 'image/jpeg' }).end(Buffer.from([0xff, 0xd8, 0xff, 0xd9]));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as { port: number }).port;
  const res = await authenticatedGet(`http://127.0.0.1:${port}/snap?ch=1`, { username: 'admin', password: 'pw' });
  t.equal(res.status, 200);
  t.same(seen, ['none', 'n1', 'n2']);
});
