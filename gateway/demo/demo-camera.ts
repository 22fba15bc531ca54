// Demo mode's camera: the pure-Node RTSP camera simulator fed by ffmpeg's test pattern, so a
// fresh machine (Node + ffmpeg, system or bundled) records a real H.264 stream. Without any
// ffmpeg the demo runs without a camera and says why.
import type { CameraConfig } from '../../config/cameras.js';
import { resolveFfmpeg } from '../../streams/ffmpeg/resolve-binary.js';
import { RtspCameraSim } from '../../streams/sim/rtsp-camera.js';
import type { Logger } from '../logger.js';

export interface DemoCamera {
  config: CameraConfig;
  stop(): Promise<void>;
}

export async function demoCamera(log: Logger): Promise<DemoCamera | null> {
  let ffmpegPath: string;
  try {
    ffmpegPath = (await resolveFfmpeg()).path;
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'demo: no ffmpeg, running without the simulated camera');
    return null;
  }
  const sim = new RtspCameraSim({ ffmpegPath, width: 640, height: 360, fps: 10 });
  try {
    const { url } = await sim.start();
    log.info({ url }, 'demo: simulated RTSP camera streaming');
    return {
      config: { id: 'demo-cam', name: 'Simulated classroom camera', rtspUrl: url, record: 'always' },
      stop: () => sim.stop(),
    };
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'demo: simulated camera failed to start, running without it');
    await sim.stop().catch(() => {});
    return null;
  }
}
