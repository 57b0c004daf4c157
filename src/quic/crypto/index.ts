/** QUIC packet protection keys (RFC 9001 §5, §6). */
export { AEAD_TAG_LENGTH, AeadPacketKey, type PacketKey } from './aead.js';
export {
  HP_SAMPLE_LENGTH,
  HP_SAMPLE_OFFSET,
  AesHeaderProtectionKey,
  ChaChaHeaderProtectionKey,
  HeaderProtectionBatch,
  HeaderProtectionPrimer,
  headerProtectionKey,
  protectHeader,
  unprotectHeader,
  type HeaderProtectionKey,
} from './header-protection.js';
export {
  OneRttKeys,
  deriveDirectionalKeys,
  deriveHeaderProtectionKey,
  deriveKeyMaterial,
  derivePacketKey,
  nextTrafficSecret,
  type DirectionalKeys,
  type KeyMaterial,
  type KeyPhase,
  type KeySet,
} from './keys.js';
export { INITIAL_SALT_V1, INITIAL_SUITE, initialKeys, initialSecrets, type InitialSecrets } from './initial.js';
export {
  RETRY_INTEGRITY_KEY_V1,
  RETRY_INTEGRITY_NONCE_V1,
  RETRY_INTEGRITY_TAG_LENGTH,
  retryIntegrityTag,
  verifyRetryIntegrity,
} from './retry.js';
export { NullHeaderProtectionKey, NullPacketKey, nullDirectionalKeys, nullKeySet } from './null.js';
