/** The printable fingerprint of a public key, in the form SSH prints host keys. */
import { toBase64Unpadded } from './bytes.js';
import type { CryptoProvider } from './crypto-provider.js';

/** `SHA256:` and the unpadded base64 of the key's SHA-256, e.g. `SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU`. */
export const fingerprint = (crypto: CryptoProvider, publicKey: Uint8Array): string => `SHA256:${toBase64Unpadded(crypto.sha256(publicKey))}`;
