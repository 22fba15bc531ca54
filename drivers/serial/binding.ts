// Which serialport binding opens a path. Real device paths always use the operating system's
// binding; only `sim:<name>` paths use the in-process simulator (demo mode). Tests may inject any.
import type { OpenOptions } from '@serialport/stream';
import { SerialPort } from 'serialport';
import { isSimPath, simBinding } from './sim-binding.js';

/** A serialport binding (bindings-interface's BindingInterface, named through a public export). */
export type SerialBinding = OpenOptions['binding'];

export function defaultBindingFor(path: string): SerialBinding {
  return isSimPath(path) ? simBinding : SerialPort.binding;
}
