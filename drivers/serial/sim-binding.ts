// In-process simulated serial devices for paths `sim:<name>`, built on serialport's MockBinding.
// Demo mode uses these because a fresh machine may lack socat; tests of real behaviour use socat
// pseudo-terminals instead. Real device paths always go through the OS binding (see
// binding.ts): a `sim:` path is the only way to reach this code.
//
// MockBinding is one-ended (the host side), so this module keeps the opened host port per path and
// gives the simulator the device end: bytes sent by the device become host reads, bytes the host
// writes are handed to the device's listeners, and unplug() fails the host's pending read the way
// a vanished USB adapter does (the stream closes as "disconnected"; reopening fails with ENOENT).
import type { OpenOptions } from '@serialport/stream';
import { SerialPortMock } from 'serialport';

// The MockBinding instance serialport itself uses (importing @serialport/binding-mock directly
// from ESM would load a second copy with its own port registry).
const MockBinding = SerialPortMock.binding;
type MockPortBinding = Awaited<ReturnType<typeof MockBinding.open>>;

export const SIM_PREFIX = 'sim:';

export function isSimPath(path: string): boolean {
  return path.startsWith(SIM_PREFIX);
}

interface SimDeviceState {
  plugged: boolean;
  host: MockPortBinding | null;
  hostWriteListeners: Set<(data: Buffer) => void>;
  /** Rejects the host's in-flight reads when the device is unplugged. */
  unplugWaiters: Set<(err: Error) => void>;
}

const devices = new Map<string, SimDeviceState>();

function stateOf(path: string): SimDeviceState {
  let s = devices.get(path);
  if (!s) {
    // MockBinding.createPort resets a port's state, so each path is created exactly once.
    MockBinding.createPort(path);
    s = { plugged: false, host: null, hostWriteListeners: new Set(), unplugWaiters: new Set() };
    devices.set(path, s);
  }
  return s;
}

/** Binding for `sim:` paths. Opening a device that is not plugged in fails with ENOENT, like a tty. */
export const simBinding: OpenOptions['binding'] = {
  list: () => MockBinding.list(),
  async open(options: Parameters<typeof MockBinding.open>[0]) {
    const state = isSimPath(options.path) ? devices.get(options.path) : undefined;
    if (!state?.plugged) {
      throw Object.assign(new Error(`ENOENT: no simulated device at ${options.path}`), { code: 'ENOENT' });
    }
    const port = await MockBinding.open(options);
    const read = port.read.bind(port);
    port.read = (buffer: Buffer, offset: number, length: number) =>
      new Promise((resolve, reject) => {
        state.unplugWaiters.add(reject);
        read(buffer, offset, length)
          .then(resolve, reject)
          .finally(() => state.unplugWaiters.delete(reject));
      });
    const write = port.write.bind(port);
    port.write = async (data: Buffer) => {
      await write(data);
      for (const listener of state.hostWriteListeners) listener(Buffer.from(data));
    };
    state.host = port;
    return port;
  },
};

/** The device end of a simulated port. */
export interface SimDeviceEnd {
  /** Bytes from the device to the host. False (bytes dropped) when the host has not opened the port. */
  send(data: Buffer | string): boolean;
  /** Listens to bytes the host writes; returns the function that stops listening. */
  onHostWrite(listener: (data: Buffer) => void): () => void;
  /** True while the host has the port open. */
  readonly hostOpen: boolean;
  /** Pulls the cable: the host's port closes as disconnected and cannot reopen until plugSimDevice(). */
  unplug(): void;
}

/** Plugs a simulated device in at `path` (again, after an unplug) and returns its device end. */
export function plugSimDevice(path: string): SimDeviceEnd {
  if (!isSimPath(path)) throw new Error(`simulated ports are named ${SIM_PREFIX}<name>, got ${path}`);
  const state = stateOf(path);
  state.plugged = true;
  return {
    send(data) {
      const host = state.host;
      if (!state.plugged || !host?.isOpen) return false;
      host.emitData(Buffer.isBuffer(data) ? data : Buffer.from(data, 'latin1'));
      return true;
    },
    onHostWrite(listener) {
      state.hostWriteListeners.add(listener);
      return () => state.hostWriteListeners.delete(listener);
    },
    get hostOpen() {
      return state.host?.isOpen ?? false;
    },
    unplug() {
      state.plugged = false;
      const err = Object.assign(new Error('EIO: simulated device unplugged'), { code: 'EIO' });
      for (const reject of state.unplugWaiters) reject(err);
      state.unplugWaiters.clear();
    },
  };
}
