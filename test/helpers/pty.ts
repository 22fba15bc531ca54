// A real pseudo-terminal pair made by socat: the driver opens `device`, the simulator opens
// `peer`. Both are real tty devices, so termios, baud rates and unplug behave as on hardware.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { which } from './which.js';

export interface PtyPair {
  /** Path the gateway's driver opens. */
  device: string;
  /** Path the simulated device opens. */
  peer: string;
  /** Kills socat: both ends vanish, like a USB unplug. */
  close(): Promise<void>;
}

export const socatMissing = which('socat') ? false : 'socat not installed (apt-get install -y socat)';

export async function ptyPair(dir?: string): Promise<PtyPair> {
  const base = dir ?? mkdtempSync(join(tmpdir(), 'tpgw-pty-'));
  const device = join(base, 'device');
  const peer = join(base, 'peer');
  const child: ChildProcess = spawn(
    'socat',
    ['-d', '-d', `pty,raw,echo=0,link=${device}`, `pty,raw,echo=0,link=${peer}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  const deadline = Date.now() + 10_000;
  while (!(existsSync(device) && existsSync(peer))) {
    if (child.exitCode !== null) throw new Error(`socat exited: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`socat did not create ptys: ${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    device,
    peer,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => {
          if (!dir) rmSync(base, { recursive: true, force: true });
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}
