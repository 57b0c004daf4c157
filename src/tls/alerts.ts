/**
 * TLS alerts (RFC 9846 §6). In QUIC they are never sent as records: a TLS failure closes the
 * connection with CRYPTO_ERROR 0x100 + alert (RFC 9001 §4.8).
 */
export const Alert = {
  close_notify: 0,
  unexpected_message: 10,
  bad_record_mac: 20,
  record_overflow: 22,
  handshake_failure: 40,
  bad_certificate: 42,
  unsupported_certificate: 43,
  certificate_revoked: 44,
  certificate_expired: 45,
  certificate_unknown: 46,
  illegal_parameter: 47,
  unknown_ca: 48,
  access_denied: 49,
  decode_error: 50,
  decrypt_error: 51,
  protocol_version: 70,
  insufficient_security: 71,
  internal_error: 80,
  inappropriate_fallback: 86,
  user_canceled: 90,
  missing_extension: 109,
  unsupported_extension: 110,
  unrecognized_name: 112,
  bad_certificate_status_response: 113,
  unknown_psk_identity: 115,
  certificate_required: 116,
  no_application_protocol: 120,
} as const;
export type Alert = (typeof Alert)[keyof typeof Alert];

const NAMES = new Map<number, string>(Object.entries(Alert).map(([k, v]) => [v, k]));

export function alertName(alert: number): string {
  return NAMES.get(alert) ?? `alert_${alert}`;
}

/** A fatal TLS error. `quicCode` is the QUIC CRYPTO_ERROR code for it. */
export class TlsAlert extends Error {
  /** Always `'TlsAlert'`. */
  override readonly name = 'TlsAlert';
  /** The alert's code (RFC 8446 §6); on the wire it becomes the QUIC error 0x100 + alert (RFC 9001 §4.8). */
  readonly alert: number;

  constructor(alert: number, message: string) {
    super(`${alertName(alert)}: ${message}`);
    this.alert = alert;
  }

  /** RFC 9001 §4.8: CRYPTO_ERROR = 0x100 + the alert description. */
  get quicCode(): number {
    return 0x100 + this.alert;
  }
}
