// Exclusive grab of a keyboard-wedge reader on Linux.
//
// What "grab" means here: node-hid reads the reader's hidraw node (/dev/hidrawN), which receives a
// copy of every report. The kernel's HID input layer ALSO turns the same reports into key events on
// /dev/input/eventN, and every input handler gets them — including the virtual-console keyboard
// handler, so card numbers get typed into whatever has the console (a getty login prompt, a shell).
// Opening hidraw does not stop that. The kernel's answer is EVIOCGRAB on the evdev node: while one
// open file holds the grab, events go to that file only, so the console and X/Wayland see nothing,
// and hidraw (a separate path inside the HID core) keeps delivering reports to us.
//
// Node has no ioctl(), so the grab is held by a small child process: the system Python's fcntl
// module issues the real EVIOCGRAB ioctl on each evdev node of the reader, prints "grabbed", then
// drains the (now private) event queue until its stdin closes. The grab lives exactly as long as
// that child: release() closes stdin; if the gateway dies, even by SIGKILL, the pipe closes and the
// kernel drops the grab with the file. Spawned with an argument array, never a shell.
//
// Without a grab the reader still works (hidraw is unaffected): a failed grab is reported, never
// fatal. The udev rule from udev-rules.ts gives the service user access to the evdev nodes.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';

/** _IOW('E', 0x90, int): the generic Linux ioctl encoding used on ARM, arm64 and x86. */
export const EVIOCGRAB = 0x40044590;

const GRAB_SCRIPT = `
import fcntl, os, select, sys
fds = []
for path in sys.argv[1:]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        fcntl.ioctl(fd, ${EVIOCGRAB}, 1)
    except OSError as e:
        sys.stderr.write("%s: %s\\n" % (path, e.strerror or e))
        sys.exit(2)
    fds.append(fd)
sys.stdout.write("grabbed\\n")
sys.stdout.flush()
while True:
    ready = select.select([0] + fds, [], [])[0]
    if 0 in ready and not os.read(0, 64):
        sys.exit(0)
    for fd in fds:
        if fd in ready:
            try:
                os.read(fd, 4096)
            except BlockingIOError:
                pass
            except OSError:
                sys.exit(3)
`;

/**
 * The evdev nodes (/dev/input/eventN) that the kernel created for the HID device behind a hidraw
 * node, found through sysfs: /sys/class/hidraw/hidrawN/device/input/inputM/eventK.
 */
export function evdevNodesForHidraw(hidrawPath: string, sysRoot = '/sys', devRoot = '/dev'): string[] {
  const hidDevice = join(sysRoot, 'class', 'hidraw', basename(hidrawPath), 'device', 'input');
  if (!existsSync(hidDevice)) return [];
  const nodes: string[] = [];
  for (const input of readdirSync(hidDevice)) {
    if (!/^input\d+$/.test(input)) continue;
    for (const ev of readdirSync(join(hidDevice, input))) if (/^event\d+$/.test(ev)) nodes.push(join(devRoot, 'input', ev));
  }
  return nodes.sort();
}

export interface EvdevGrab {
  readonly nodes: string[];
  /** Settles when the grab ends for any reason (release, device unplugged, helper killed). */
  readonly ended: Promise<void>;
  /** Ends the grab (the kernel's console handler gets the keys again). */
  release(): Promise<void>;
}

export interface GrabOptions {
  /** Interpreter with the fcntl module (default /usr/bin/python3, the system one). */
  python?: string;
  /** How long to wait for the helper to confirm (default 5 s). */
  timeoutMs?: number;
}

/** Grabs every given evdev node exclusively. Rejects with the reason when any grab fails. */
export function grabEvdev(nodes: string[], opts: GrabOptions = {}): Promise<EvdevGrab> {
  if (nodes.length === 0) return Promise.reject(new Error('no evdev node found for the reader (is it a keyboard interface?)'));
  const child = spawn(opts.python ?? '/usr/bin/python3', ['-c', GRAB_SCRIPT, ...nodes], { stdio: ['pipe', 'pipe', 'pipe'] });
  return new Promise<EvdevGrab>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    let settled = false;
    const timer = setTimeout(() => fail(new Error('evdev grab helper did not answer')), opts.timeoutMs ?? 5000);
    const exited = new Promise<void>((r) => child.once('close', () => r()));
    function fail(err: Error) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGTERM');
      reject(err);
    }
    child.on('error', (err) => fail(new Error(`cannot start the evdev grab helper: ${err.message}`)));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.on('error', () => undefined);
    child.once('close', (code) => fail(new Error(`evdev grab failed (exit ${code}): ${stderr.trim() || 'no reason given'}`)));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (settled || !stdout.includes('grabbed\n')) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        nodes,
        ended: exited,
        release: async () => {
          child.stdin.end();
          await exited;
        },
      });
    });
  });
}
