// udev rules for a keyboard-wedge reader, as shipped by systemd/ (the installer writes one file per
// reader into /etc/udev/rules.d). They give the service's group access to
//   - the hidraw node, which node-hid reads (root-only by default), and
//   - the evdev nodes, which the optional exclusive grab (EVIOCGRAB, see evdev-grab.ts) opens;
// and tell libinput (X/Wayland desktops) to ignore the reader as a keyboard. The virtual console
// cannot be told this by udev: only the grab keeps codes out of a console login prompt.

export interface UdevRuleInput {
  vendorId: number;
  productId: number;
  /** Group of the tpgw service user (default "tpgw"). */
  group?: string;
  /** Comment naming the clock, e.g. its id. */
  label?: string;
}

const hex4 = (n: number) => n.toString(16).padStart(4, '0');

export function hidWedgeUdevRules(r: UdevRuleInput): string {
  const group = r.group ?? 'tpgw';
  if (!/^[a-z_][a-z0-9_-]*$/.test(group)) throw new Error(`invalid group name: ${group}`);
  const label = (r.label ?? '').replace(/[^\w .:-]/g, '');
  const match = `ATTRS{idVendor}=="${hex4(r.vendorId)}", ATTRS{idProduct}=="${hex4(r.productId)}"`;
  return [
    `# tpgw keyboard-wedge reader ${hex4(r.vendorId)}:${hex4(r.productId)}${label ? ` (${label})` : ''}`,
    `SUBSYSTEM=="hidraw", ${match}, MODE="0660", GROUP="${group}"`,
    `SUBSYSTEM=="input", KERNEL=="event*", ${match}, MODE="0660", GROUP="${group}", ENV{LIBINPUT_IGNORE_DEVICE}="1"`,
    '',
  ].join('\n');
}
