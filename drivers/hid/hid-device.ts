// The tiny seam between the HID wedge driver and node-hid. Everything the driver knows about a
// device is: it emits 'data' (one input report per event, a Buffer) and 'error' (read failure —
// node-hid emits this when the device is unplugged), and it can be closed. Tests feed recorded
// report sequences through a fake HidSource, which is exactly the path node-hid's events take.
import { EventEmitter } from 'node:events';

export interface HidSourceEvents {
  data: [report: Buffer];
  error: [err: Error];
}

export interface HidSource extends EventEmitter<HidSourceEvents> {
  /** hidraw device path (/dev/hidrawN on Linux), when known: used to find the evdev nodes to grab. */
  readonly path?: string;
  close(): Promise<void> | void;
}

export interface HidSelector {
  vendorId: number;
  productId: number;
  serialNumber?: string;
  path?: string;
}

/** Minimal shape of node-hid's module that we use (kept local: node-hid is an optional dependency). */
interface NodeHidDevice {
  vendorId: number;
  productId: number;
  path?: string;
  serialNumber?: string;
  usagePage?: number;
  usage?: number;
  interface: number;
}
interface NodeHidAsync extends EventEmitter {
  close(): Promise<void>;
}
interface NodeHidModule {
  devicesAsync(vid: number, pid: number): Promise<NodeHidDevice[]>;
  HIDAsync: { open(path: string): Promise<NodeHidAsync> };
}

const hex4 = (n: number) => n.toString(16).padStart(4, '0');

/** Error thrown when no matching device is attached (the driver retries with backoff). */
export class HidDeviceMissingError extends Error {
  constructor(sel: HidSelector) {
    super(`no HID device ${hex4(sel.vendorId)}:${hex4(sel.productId)}${sel.serialNumber ? ` serial ${sel.serialNumber}` : ''}${sel.path ? ` at ${sel.path}` : ''} is attached`);
    this.name = 'HidDeviceMissingError';
  }
}

async function loadNodeHid(): Promise<NodeHidModule> {
  try {
    const mod = (await import('node-hid')) as unknown as Partial<NodeHidModule> & { default?: NodeHidModule };
    return (mod.devicesAsync ? mod : mod.default) as NodeHidModule;
  } catch (err) {
    throw new Error(`node-hid is not available (optional dependency; install it with "npm install node-hid"): ${(err as Error).message}`);
  }
}

/**
 * Opens the reader with node-hid (hidraw backend on Linux). When the reader exposes several HID
 * interfaces, the boot keyboard one (usage page 1, usage 6) is preferred.
 */
export async function openNodeHid(sel: HidSelector): Promise<HidSource> {
  const hid = await loadNodeHid();
  const candidates = (await hid.devicesAsync(sel.vendorId, sel.productId)).filter(
    (d) => d.path && (sel.serialNumber === undefined || d.serialNumber === sel.serialNumber) && (sel.path === undefined || d.path === sel.path),
  );
  const keyboard = candidates.find((d) => d.usagePage === 0x01 && d.usage === 0x06) ?? candidates[0];
  if (!keyboard?.path) throw new HidDeviceMissingError(sel);
  const device = await hid.HIDAsync.open(keyboard.path);
  return new NodeHidSource(device, keyboard.path);
}

class NodeHidSource extends EventEmitter<HidSourceEvents> implements HidSource {
  private closed = false;
  constructor(
    private readonly device: NodeHidAsync,
    readonly path: string,
  ) {
    super();
    // Error listener first: node-hid emits 'error' on unplug and an unheard 'error' would throw.
    device.on('error', (err: unknown) => {
      if (!this.closed) this.emit('error', err instanceof Error ? err : new Error(String(err)));
    });
    device.on('data', (data: Buffer) => {
      if (!this.closed) this.emit('data', Buffer.from(data));
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.device.close();
    } catch {
      /* already gone (unplugged) */
    }
  }
}
