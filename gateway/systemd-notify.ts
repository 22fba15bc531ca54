// sd_notify without a native module: systemd ships `systemd-notify`, which sends the datagram
// to $NOTIFY_SOCKET for us. With Type=notify + NotifyAccess=all the unit sees READY=1 once the
// store is open and the drivers run, and WATCHDOG=1 keeps WatchdogSec from restarting us.
import { execFile } from 'node:child_process';

export interface SystemdNotifier {
  ready(status?: string): void;
  stopping(): void;
  stop(): void;
}

export function createSystemdNotifier(env: NodeJS.ProcessEnv = process.env): SystemdNotifier {
  const socket = env.NOTIFY_SOCKET;
  let watchdog: NodeJS.Timeout | undefined;
  const send = (...args: string[]) => {
    if (!socket) return;
    execFile('systemd-notify', args, { timeout: 5000 }, () => {
      /* best effort: a missing systemd-notify must not disturb the service */
    });
  };
  return {
    ready(status) {
      send('--ready', ...(status ? [`--status=${status}`] : []));
      const usec = Number(env.WATCHDOG_USEC);
      if (socket && usec > 0) {
        watchdog = setInterval(() => send('WATCHDOG=1'), Math.max(1000, usec / 2000));
        watchdog.unref();
      }
    },
    stopping() {
      send('STOPPING=1');
    },
    stop() {
      if (watchdog) clearInterval(watchdog);
    },
  };
}
