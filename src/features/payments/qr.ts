/**
 * QR codes of checkout links. Only ever called with a URL zia has just created or stored for an order,
 * so the endpoints cannot be used as a QR service for arbitrary URLs. `qrcode` is loaded on demand.
 */

export async function qrPng(text: string): Promise<Buffer> {
  const { default: QRCode } = await import('qrcode');
  return QRCode.toBuffer(text, { type: 'png', errorCorrectionLevel: 'M', margin: 4, scale: 8 });
}

export async function qrSvg(text: string): Promise<string> {
  const { default: QRCode } = await import('qrcode');
  return QRCode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 4 });
}

/** A QR of half-block characters on a light background the renderer sets itself, so it scans on any terminal. */
export async function qrTerminal(text: string): Promise<string> {
  const { default: QRCode } = await import('qrcode');
  return QRCode.toString(text, { type: 'terminal', small: true, errorCorrectionLevel: 'M' });
}
