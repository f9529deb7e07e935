/*
 * ChaCha20-Poly1305 (RFC 8439) per packet, on the OpenSSL that Node itself
 * carries. node:crypto reaches the same cipher only through a stream object
 * built per call (about 5 us per packet); libsodium's build in sodium-native
 * runs about 2x slower per byte than OpenSSL's vectorised code. This addon
 * calls OpenSSL directly: its ChaCha20 and Poly1305 where the node binary
 * exports them, else its EVP interface, one context per direction.
 *
 * The symbols come from the running node binary (it exports OpenSSL's API
 * for addons), so nothing is linked here; where they are missing, loading
 * fails and rudp falls back to libsodium or node:crypto (see
 * src/node/openssl-aead.ts). Built by scripts/build-native.mjs.
 *
 * Every argument is checked here, not only in JavaScript: a wrong length
 * would otherwise be a write past a buffer. Failures of `open` are `false`;
 * misuse of `seal` throws.
 *
 * Two paths compute the same RFC 8439 construction. EVP (OpenSSL 3's
 * provider dispatch) has a cost of its own per packet: re-initialisation
 * (about 0.15 us), an update for the associated data (0.06-0.1 us), the
 * tag through a parameter lookup (0.05 us). Node's binary also exports the
 * functions under EVP, ChaCha20_ctr32 and Poly1305_{Init,Update,Final}
 * (the same vectorised code); `seal`/`open` call them directly where they
 * are exported (a 1,400-byte packet sealed in 0.93 us instead of 1.15), and
 * the EVP path otherwise (`evpSeal`/`evpOpen` always). These are OpenSSL's internal
 * interfaces, stable since 1.1.0 but in no public header: they are declared
 * weak, so a runtime without them still loads this addon (and takes the EVP
 * path), and the JavaScript side trusts the addon only after RFC 8439's
 * known answer; where the direct path fails it (the internals changed under
 * the same names), `useEvp` moves every call to EVP and the answer is
 * checked again, so OpenSSL still serves through its public interface.
 */
#include <node_api.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KEY_LEN 32
#define NONCE_LEN 12
#define TAG_LEN 16

/*
 * One sealing and one opening context per thread (N-API instance data: a
 * worker thread gets its own), re-keyed on every call. ChaCha20 has no key
 * schedule, so re-keying costs nothing measurable, and no connection keeps
 * any native state: its keys stay where the caller keeps them.
 */
typedef struct {
  EVP_CIPHER_CTX *seal;
  EVP_CIPHER_CTX *open;
} Contexts;

/* At the environment's teardown (a worker's end, or the process's exit) OpenSSL is not called: its own
 * exit-time cleanup may already have run, and a context left over is a few hundred bytes per thread. */
static void free_contexts(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

/* This thread's context of one direction, made on first use; NULL if OpenSSL fails. */
static EVP_CIPHER_CTX *context(napi_env env, int encrypt) {
  Contexts *c = NULL;
  if (napi_get_instance_data(env, (void **)&c) != napi_ok || c == NULL) return NULL;
  EVP_CIPHER_CTX **slot = encrypt ? &c->seal : &c->open;
  if (*slot != NULL) return *slot;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (ctx == NULL) return NULL;
  if (EVP_CipherInit_ex(ctx, EVP_chacha20_poly1305(), NULL, NULL, NULL, encrypt) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return NULL;
  }
  *slot = ctx;
  return ctx;
}


/*
 * OpenSSL's internal ChaCha20 and Poly1305 (crypto/chacha.h, crypto/poly1305.h in its sources),
 * declared weak: NULL where the runtime does not export them. Mach-O has no weak undefined symbols
 * of this kind under -undefined dynamic_lookup, so there only the EVP path is built.
 */
#if defined(__ELF__)
#define DIRECT_DECL __attribute__((weak))
extern void ChaCha20_ctr32(unsigned char *out, const unsigned char *inp, size_t len, const unsigned int key[8], const unsigned int counter[4]) DIRECT_DECL;
extern size_t Poly1305_ctx_size(void) DIRECT_DECL;
extern void Poly1305_Init(void *ctx, const unsigned char key[32]) DIRECT_DECL;
extern void Poly1305_Update(void *ctx, const unsigned char *inp, size_t len) DIRECT_DECL;
extern void Poly1305_Final(void *ctx, unsigned char mac[16]) DIRECT_DECL;
#endif

/* Room for OpenSSL's POLY1305 state (248 bytes in 3.0 on x86-64); a larger one takes the EVP path. */
#define POLY1305_ROOM 512

/* Whether the direct path is usable: every function exported and the Poly1305 state fits. Same for every thread. */
static int direct_available(void) {
#if defined(__ELF__)
  return ChaCha20_ctr32 != NULL && Poly1305_ctx_size != NULL && Poly1305_Init != NULL && Poly1305_Update != NULL && Poly1305_Final != NULL &&
         Poly1305_ctx_size() <= POLY1305_ROOM;
#else
  return 0;
#endif
}

/* Whether `seal` and `open` take the direct path: set when the addon loads (a worker's load sets the same), unless `useEvp` refused it. */
static int direct = 0;
/* Set by `useEvp` (the direct path failed JavaScript's known answer) and never cleared: a worker loading later does not take it back. */
static volatile int evp_only = 0;

#if defined(__ELF__)
static const unsigned char ZEROS[16];

static unsigned int le32(const unsigned char *p) {
  return (unsigned int)p[0] | (unsigned int)p[1] << 8 | (unsigned int)p[2] << 16 | (unsigned int)p[3] << 24;
}

/* Key and nonce as ChaCha20_ctr32 takes them: eight key words, then block counter and the three nonce words. */
static void chacha_words(const unsigned char *key, const unsigned char *nonce, unsigned int k[8], unsigned int counter[4]) {
  for (int i = 0; i < 8; i++) k[i] = le32(key + 4 * i);
  counter[0] = 0;
  for (int i = 0; i < 3; i++) counter[1 + i] = le32(nonce + 4 * i);
}

/* RFC 8439 §2.8's tag over `ad` and `ciphertext`, with the one-time key of block 0 (counter[0] must be 0). */
static void poly_tag(const unsigned int k[8], const unsigned int counter[4], const unsigned char *ad, size_t ad_len, const unsigned char *ciphertext,
                     size_t len, unsigned char tag[TAG_LEN]) {
  unsigned char block[64] = {0};
  _Alignas(64) unsigned char poly[POLY1305_ROOM];
  unsigned char lengths[16];
  ChaCha20_ctr32(block, block, sizeof block, k, counter);
  Poly1305_Init(poly, block);
  if (ad_len > 0) Poly1305_Update(poly, ad, ad_len);
  if (ad_len % 16 != 0) Poly1305_Update(poly, ZEROS, 16 - ad_len % 16);
  if (len > 0) Poly1305_Update(poly, ciphertext, len);
  if (len % 16 != 0) Poly1305_Update(poly, ZEROS, 16 - len % 16);
  for (int i = 0; i < 8; i++) {
    lengths[i] = (unsigned char)((unsigned long long)ad_len >> (8 * i));
    lengths[8 + i] = (unsigned char)((unsigned long long)len >> (8 * i));
  }
  Poly1305_Update(poly, lengths, sizeof lengths);
  /* Final cleanses the Poly1305 state itself. */
  Poly1305_Final(poly, tag);
  OPENSSL_cleanse(block, sizeof block);
}

/* Seals with the direct path: out = ChaCha20(plaintext) from block 1, then the tag. */
static void direct_seal(const unsigned char *key, const unsigned char *nonce, const unsigned char *ad, size_t ad_len, const unsigned char *plaintext, size_t len,
                        unsigned char *out) {
  unsigned int k[8], counter[4];
  chacha_words(key, nonce, k, counter);
  counter[0] = 1;
  if (len > 0) ChaCha20_ctr32(out, plaintext, len, k, counter);
  counter[0] = 0;
  poly_tag(k, counter, ad, ad_len, out, len, out + len);
  OPENSSL_cleanse(k, sizeof k);
}

/* Opens with the direct path: the tag is checked (in constant time) before anything is decrypted. */
static int direct_open(const unsigned char *key, const unsigned char *nonce, const unsigned char *ad, size_t ad_len, const unsigned char *ciphertext, size_t len,
                       unsigned char *out) {
  unsigned int k[8], counter[4];
  unsigned char tag[TAG_LEN];
  chacha_words(key, nonce, k, counter);
  poly_tag(k, counter, ad, ad_len, ciphertext, len, tag);
  int ok = CRYPTO_memcmp(tag, ciphertext + len, TAG_LEN) == 0;
  if (ok && len > 0) {
    counter[0] = 1;
    ChaCha20_ctr32(out, ciphertext, len, k, counter);
  }
  OPENSSL_cleanse(k, sizeof k);
  /* The right tag for what arrived: a forger who could read this stack later would hold a valid forgery. */
  OPENSSL_cleanse(tag, sizeof tag);
  return ok;
}
#endif

/* The bytes of a Uint8Array argument; 0 if it is not one. */
static int uint8_bytes(napi_env env, napi_value value, unsigned char **data, size_t *length) {
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  void *p = NULL;
  if (napi_get_typedarray_info(env, value, &type, length, &p, &buffer, &offset) != napi_ok || type != napi_uint8_array) return 0;
  *data = p;
  return 1;
}

/* Whether two byte ranges share a byte (compared as addresses: they may lie in different buffers). */
static int overlap(const unsigned char *a, size_t a_len, const unsigned char *b, size_t b_len) {
  uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
  return a_len > 0 && b_len > 0 && x < y + b_len && y < x + a_len;
}

/* Seals `len` bytes of `plaintext` into `out` (ciphertext, then the tag); 0 if OpenSSL failed (EVP only). Lengths are checked by the caller. */
static int seal_bytes(napi_env env, int use_direct, const unsigned char *key, const unsigned char *nonce, const unsigned char *ad, size_t ad_len,
                      const unsigned char *plaintext, size_t len, unsigned char *out) {
#if defined(__ELF__)
  if (use_direct) {
    direct_seal(key, nonce, ad, ad_len, plaintext, len, out);
    return 1;
  }
#else
  (void)use_direct;
#endif
  EVP_CIPHER_CTX *ctx = context(env, 1);
  int n;
  return ctx != NULL && EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, 1) == 1 && (ad_len == 0 || EVP_CipherUpdate(ctx, NULL, &n, ad, (int)ad_len) == 1) &&
         (len == 0 || EVP_CipherUpdate(ctx, out, &n, plaintext, (int)len) == 1) && EVP_CipherFinal_ex(ctx, out + len, &n) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, out + len) == 1;
}

/*
 * Opens `len` bytes of ciphertext followed by its tag into `out` (may be `ciphertext` itself); whether the tag verified.
 * A forgery's plaintext is never handed out: the output is cleared, as libsodium does (the direct path decrypted nothing,
 * but in place the output held the ciphertext: both paths leave the same zeros).
 */
static int open_bytes(napi_env env, int use_direct, const unsigned char *key, const unsigned char *nonce, const unsigned char *ad, size_t ad_len,
                      const unsigned char *ciphertext, size_t len, unsigned char *out) {
  int ok;
#if defined(__ELF__)
  if (use_direct) {
    ok = direct_open(key, nonce, ad, ad_len, ciphertext, len, out);
  } else
#else
  (void)use_direct;
#endif
  {
    EVP_CIPHER_CTX *ctx = context(env, 0);
    unsigned char tag[TAG_LEN];
    int n;
    /* The tag is copied out first: opening in place overwrites the body, never the tag, but the copy keeps that obvious. */
    memcpy(tag, ciphertext + len, TAG_LEN);
    ok = ctx != NULL && EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, 0) == 1 && (ad_len == 0 || EVP_CipherUpdate(ctx, NULL, &n, ad, (int)ad_len) == 1) &&
         (len == 0 || EVP_CipherUpdate(ctx, out, &n, ciphertext, (int)len) == 1) && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, tag) == 1 &&
         EVP_CipherFinal_ex(ctx, out + len, &n) == 1;
  }
  if (!ok && len > 0) OPENSSL_cleanse(out, len);
  return ok;
}

/* seal(key, nonce, ad, plaintext, out): out = ciphertext || tag, exactly plaintext + 16 bytes. Throws on misuse. */
static napi_value seal_with(napi_env env, napi_callback_info info, int use_direct) {
  size_t argc = 5;
  napi_value argv[5];
  unsigned char *key, *nonce, *ad, *plaintext, *out;
  size_t key_len, nonce_len, ad_len, plaintext_len, out_len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5 || !uint8_bytes(env, argv[0], &key, &key_len) ||
      !uint8_bytes(env, argv[1], &nonce, &nonce_len) || !uint8_bytes(env, argv[2], &ad, &ad_len) || !uint8_bytes(env, argv[3], &plaintext, &plaintext_len) ||
      !uint8_bytes(env, argv[4], &out, &out_len) || key_len != KEY_LEN || nonce_len != NONCE_LEN || ad_len > INT_MAX || plaintext_len > INT_MAX - TAG_LEN ||
      out_len != plaintext_len + TAG_LEN ||
      /* The direct path writes the ciphertext before it reads the associated data (EVP reads it first): an output over it
       * would seal different bytes on each path. The plaintext is the output's own first bytes, or apart from it. */
      overlap(ad, ad_len, out, out_len) || (plaintext != out && overlap(plaintext, plaintext_len, out, out_len))) {
    napi_throw_range_error(env, NULL,
                           "ChaCha20-Poly1305: a 32-byte key, a 12-byte nonce and an output of plaintext + 16 bytes, apart from the associated data, "
                           "and the plaintext in place or apart");
    return NULL;
  }
  if (!seal_bytes(env, use_direct, key, nonce, ad, ad_len, plaintext, plaintext_len, out)) napi_throw_error(env, NULL, "OpenSSL could not seal the packet");
  return NULL;
}

/* open(key, nonce, ad, ciphertext, out) -> boolean: out = plaintext (ciphertext - 16 bytes; ciphertext's own first bytes, or apart from it: a
 * shifted output would be read after it was written). */
static napi_value open_with(napi_env env, napi_callback_info info, int use_direct) {
  size_t argc = 5;
  napi_value argv[5];
  unsigned char *key, *nonce, *ad, *ciphertext, *out;
  size_t key_len, nonce_len, ad_len, ciphertext_len, out_len;
  int ok = napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 5 && uint8_bytes(env, argv[0], &key, &key_len) &&
           uint8_bytes(env, argv[1], &nonce, &nonce_len) && uint8_bytes(env, argv[2], &ad, &ad_len) && uint8_bytes(env, argv[3], &ciphertext, &ciphertext_len) &&
           uint8_bytes(env, argv[4], &out, &out_len) && key_len == KEY_LEN && nonce_len == NONCE_LEN && ad_len <= INT_MAX && ciphertext_len >= TAG_LEN &&
           ciphertext_len <= INT_MAX && out_len == ciphertext_len - TAG_LEN && (out == ciphertext || !overlap(ciphertext, ciphertext_len, out, out_len)) &&
           open_bytes(env, use_direct, key, nonce, ad, ad_len, ciphertext, out_len, out);
  napi_value result;
  napi_get_boolean(env, ok, &result);
  return result;
}

/* Whether this call takes the direct path. */
static int direct_path(void) { return direct && !evp_only; }

static napi_value seal(napi_env env, napi_callback_info info) { return seal_with(env, info, direct_path()); }
static napi_value open_packet(napi_env env, napi_callback_info info) { return open_with(env, info, direct_path()); }
static napi_value evp_seal(napi_env env, napi_callback_info info) { return seal_with(env, info, 0); }
static napi_value evp_open(napi_env env, napi_callback_info info) { return open_with(env, info, 0); }

/*
 * Whole datagrams, for the transport's per-packet path: the key and IV come in one array (RFC 9001 §5.1's packet key),
 * and the nonce is made here (§5.3: the IV with the packet number, big-endian, XORed into its last 8 bytes). Per packet
 * that is two or three array arguments instead of five, and no views: each array argument costs N-API some 30 ns, and
 * each view JavaScript cuts for one is a heap object.
 */
#define KEY_IV_LEN (KEY_LEN + NONCE_LEN)
/* 2^53 - 1: the largest packet number a JavaScript number carries exactly. */
#define MAX_PACKET_NUMBER 9007199254740991.0

/* A packet number argument: an integer 0 … 2^53-1; 0 if it is not one. */
static int packet_number(napi_env env, napi_value value, unsigned long long *pn) {
  double d;
  if (napi_get_value_double(env, value, &d) != napi_ok || !(d >= 0 && d <= MAX_PACKET_NUMBER) || d != (double)(unsigned long long)d) return 0;
  *pn = (unsigned long long)d;
  return 1;
}

/* A length argument: an integer 0 … INT_MAX; 0 if it is not one. */
static int length_arg(napi_env env, napi_value value, size_t *length) {
  double d;
  if (napi_get_value_double(env, value, &d) != napi_ok || !(d >= 0 && d <= INT_MAX) || d != (double)(int)d) return 0;
  *length = (size_t)d;
  return 1;
}

/* The nonce of packet `pn` under `iv`. */
static void packet_nonce(const unsigned char *iv, unsigned long long pn, unsigned char nonce[NONCE_LEN]) {
  memcpy(nonce, iv, NONCE_LEN);
  for (int i = 0; i < 8; i++) nonce[NONCE_LEN - 1 - i] ^= (unsigned char)(pn >> (8 * i));
}

/*
 * sealPacket(keyIv, pn, source, headerLength, end, datagram): datagram = source[0, headerLength) (the header, as written),
 * then source[headerLength, end) sealed with that header as associated data: exactly end + 16 bytes. `source` and
 * `datagram` must not overlap. Throws on misuse.
 */
static napi_value seal_whole(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  unsigned char *key_iv, *source, *datagram, nonce[NONCE_LEN];
  size_t key_iv_len, source_len, header_len, end, datagram_len;
  unsigned long long pn;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 6 || !uint8_bytes(env, argv[0], &key_iv, &key_iv_len) ||
      !packet_number(env, argv[1], &pn) || !uint8_bytes(env, argv[2], &source, &source_len) || !length_arg(env, argv[3], &header_len) ||
      !length_arg(env, argv[4], &end) || !uint8_bytes(env, argv[5], &datagram, &datagram_len) || key_iv_len != KEY_IV_LEN || header_len > end ||
      end > source_len || end > INT_MAX - TAG_LEN || datagram_len != end + TAG_LEN || overlap(source, source_len, datagram, datagram_len)) {
    napi_throw_range_error(env, NULL,
                           "sealPacket: a 44-byte key and IV, a packet number 0 to 2^53-1, headerLength <= end <= source length, and a datagram of end + 16 "
                           "bytes apart from the source");
    return NULL;
  }
  packet_nonce(key_iv + KEY_LEN, pn, nonce);
  memcpy(datagram, source, header_len);
  if (!seal_bytes(env, direct_path(), key_iv, nonce, source, header_len, source + header_len, end - header_len, datagram + header_len))
    napi_throw_error(env, NULL, "OpenSSL could not seal the packet");
  return NULL;
}

/*
 * openPacket(keyIv, pn, datagram, headerLength, end) -> boolean: opens datagram[headerLength, end) (ciphertext and tag)
 * in place, with datagram[0, headerLength) as associated data: the plaintext is datagram[headerLength, end - 16). False,
 * never a throw, for anything that does not verify or does not fit.
 */
static napi_value open_whole(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  unsigned char *key_iv, *datagram, nonce[NONCE_LEN];
  size_t key_iv_len, datagram_len, header_len, end;
  unsigned long long pn;
  int ok = napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 5 && uint8_bytes(env, argv[0], &key_iv, &key_iv_len) &&
           packet_number(env, argv[1], &pn) && uint8_bytes(env, argv[2], &datagram, &datagram_len) && length_arg(env, argv[3], &header_len) &&
           length_arg(env, argv[4], &end) && key_iv_len == KEY_IV_LEN && end <= datagram_len && header_len <= end && end - header_len >= TAG_LEN;
  if (ok) {
    packet_nonce(key_iv + KEY_LEN, pn, nonce);
    size_t len = end - header_len - TAG_LEN;
    ok = open_bytes(env, direct_path(), key_iv, nonce, datagram, header_len, datagram + header_len, len, datagram + header_len);
  }
  napi_value result;
  napi_get_boolean(env, ok, &result);
  return result;
}

/* path() -> "direct" | "evp": which path `seal` and `open` take in this runtime. */
static napi_value path(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_create_string_utf8(env, direct_path() ? "direct" : "evp", NAPI_AUTO_LENGTH, &result);
  return result;
}

/* useEvp(): `seal`, `open`, `sealPacket` and `openPacket` take the EVP path from now on, in every thread: the direct path
 * failed the known answer (OpenSSL's internals changed under the same names), and EVP is OpenSSL's public interface. */
static napi_value use_evp(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  evp_only = 1;
  return NULL;
}

/* scrub(): frees this thread's contexts (OpenSSL cleanses them), so nothing of the last key used, its
 * one-time Poly1305 key or keystream lingers; the next call makes them afresh. For wiped keys: rare. */
static napi_value scrub(napi_env env, napi_callback_info info) {
  (void)info;
  Contexts *c = NULL;
  if (napi_get_instance_data(env, (void **)&c) == napi_ok && c != NULL) {
    EVP_CIPHER_CTX_free(c->seal);
    EVP_CIPHER_CTX_free(c->open);
    c->seal = NULL;
    c->open = NULL;
  }
  return NULL;
}

static void export_function(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) == napi_ok) napi_set_named_property(env, exports, name, fn);
}

NAPI_MODULE_INIT() {
  direct = direct_available();
  Contexts *c = calloc(1, sizeof(Contexts));
  if (c == NULL || napi_set_instance_data(env, c, free_contexts, NULL) != napi_ok) {
    free(c);
    napi_throw_error(env, NULL, "openssl-aead: out of memory");
    return NULL;
  }
  export_function(env, exports, "seal", seal);
  export_function(env, exports, "open", open_packet);
  export_function(env, exports, "scrub", scrub);
  export_function(env, exports, "evpSeal", evp_seal);
  export_function(env, exports, "evpOpen", evp_open);
  export_function(env, exports, "path", path);
  export_function(env, exports, "useEvp", use_evp);
  export_function(env, exports, "sealPacket", seal_whole);
  export_function(env, exports, "openPacket", open_whole);
  return exports;
}
