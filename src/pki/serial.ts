/**
 * One spelling for certificate serial numbers: lower-case hex without
 * leading zeros. Node prints them upper-case, @peculiar/x509 keeps the DER
 * leading zero of a positive integer (RFC 5280 §4.1.2.2); comparing either
 * with the other needs this.
 */
export function normalizeSerial(serial: string): string {
  return serial.toLowerCase().replace(/^0+/, '');
}
