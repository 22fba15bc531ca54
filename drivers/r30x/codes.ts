// Instruction and confirmation codes of the R30x command set (Grow R30x/R503 user manual; the
// same values are used by AS608 and ZFM-20 modules and by Adafruit-Fingerprint-Sensor-Library).

export const Instruction = {
  genImg: 0x01,
  img2Tz: 0x02,
  match: 0x03,
  search: 0x04,
  regModel: 0x05,
  store: 0x06,
  loadChar: 0x07,
  upChar: 0x08,
  downChar: 0x09,
  deleteChar: 0x0c,
  empty: 0x0d,
  readSysPara: 0x0f,
  vfyPwd: 0x13,
  highSpeedSearch: 0x1b,
  templateNum: 0x1d,
  readIndexTable: 0x1f,
} as const;
export type InstructionName = keyof typeof Instruction;

/** Confirmation codes (first payload byte of every ack packet). */
export const Confirm = {
  ok: 0x00,
  packetReceiveError: 0x01,
  noFinger: 0x02,
  enrollImageFailed: 0x03,
  imageTooMessy: 0x06,
  tooFewFeatures: 0x07,
  noMatch: 0x08,
  notFound: 0x09,
  combineFailed: 0x0a,
  pageOutOfRange: 0x0b,
  readTemplateFailed: 0x0c,
  uploadTemplateFailed: 0x0d,
  receiveDataFailed: 0x0e,
  uploadImageFailed: 0x0f,
  deleteFailed: 0x10,
  clearLibraryFailed: 0x11,
  wrongPassword: 0x13,
  noValidImage: 0x15,
  flashWriteFailed: 0x18,
  undefinedError: 0x19,
  invalidRegister: 0x1a,
  badRegisterConfig: 0x1b,
  wrongNotepadPage: 0x1c,
  portFailed: 0x1d,
  mustVerifyPassword: 0x21,
} as const;
export type ConfirmName = keyof typeof Confirm;

const NAMES = new Map<number, ConfirmName>(Object.entries(Confirm).map(([k, v]) => [v, k as ConfirmName]));

const TEXT: Partial<Record<ConfirmName, string>> = {
  packetReceiveError: 'the module reported an error receiving the packet',
  noFinger: 'no finger on the sensor',
  enrollImageFailed: 'failed to capture the finger image',
  imageTooMessy: 'finger image too messy',
  tooFewFeatures: 'too few feature points in the image',
  noMatch: 'fingers do not match',
  notFound: 'no matching template found',
  combineFailed: 'the two captures could not be combined (different fingers?)',
  pageOutOfRange: 'page id beyond the library',
  readTemplateFailed: 'no valid template at that page',
  uploadTemplateFailed: 'template upload failed',
  receiveDataFailed: 'the module could not receive the data packets',
  deleteFailed: 'deleting the template failed',
  clearLibraryFailed: 'clearing the library failed',
  wrongPassword: 'wrong module password',
  noValidImage: 'no valid image in the buffer',
  flashWriteFailed: 'writing the module flash failed',
  mustVerifyPassword: 'the module requires its password (VfyPwd) first',
};

export function confirmName(code: number): ConfirmName | `unknown-0x${string}` {
  return NAMES.get(code) ?? `unknown-0x${code.toString(16).padStart(2, '0')}`;
}

export function confirmText(code: number): string {
  const name = NAMES.get(code);
  return (name && TEXT[name]) ?? `confirmation code 0x${code.toString(16).padStart(2, '0')}`;
}
