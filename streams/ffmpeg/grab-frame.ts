// One JPEG frame from a stream with ffmpeg: the Cameras service's own fallback for
// snapshot(camera) when gateway/ plugs in no snapshotter. Short-lived, so not supervised, but
// bounded by a timeout (SIGTERM, then SIGKILL) and by a maximum output size.
import { spawn } from 'node:child_process';
import { redactCredentials } from './redact.js';

export interface GrabFrameOptions {
  timeoutMs?: number;
  maxBytes?: number;
}

export function grabJpegFrame(ffmpeg: string, url: string, o: GrabFrameOptions = {}): Promise<Buffer> {
  const timeoutMs = o.timeoutMs ?? 15_000;
  const maxBytes = o.maxBytes ?? 4 * 1024 * 1024;
  const input = url.startsWith('rtsp') ? ['-rtsp_transport', 'tcp'] : [];
  const args = [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    ...input, '-i', url,
    '-frames:v', '1', '-f', 'image2', '-c:v', 'mjpeg', '-q:v', '5', 'pipe:1',
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let size = 0;
    let stderr = '';
    let failure: Error | null = null;
    const fail = (err: Error): void => {
      if (failure) return;
      failure = err;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 2000).unref();
    };
    const timer = setTimeout(() => fail(new Error(`no frame within ${timeoutMs} ms`)), timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      size += d.length;
      if (size > maxBytes) return fail(new Error(`frame larger than ${maxBytes} bytes`));
      chunks.push(d);
    });
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    child.once('error', (err) => fail(err));
    child.once('close', (code) => {
      clearTimeout(timer);
      const jpeg = Buffer.concat(chunks);
      if (failure) return reject(failure);
      if (code !== 0 || jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8) {
        return reject(new Error(`frame grab failed: ${redactCredentials(stderr.trim().split('\n').pop() ?? `exit ${code}`)}`));
      }
      resolve(jpeg);
    });
  });
}
