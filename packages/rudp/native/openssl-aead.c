/*
 * ChaCha20-Poly1305 (RFC 8439) per packet, on the OpenSSL that Node itself
 * carries. node:crypto reaches the same cipher only through a stream object
 * built per call (about 5 us per packet); libsodium's build in sodium-native
 * runs about 2x slower per byte than OpenSSL's vectorised code. This addon
 * calls OpenSSL's EVP interface directly, one context per direction.
 *
 * The symbols come from the running node binary (it exports OpenSSL's API
 * for addons), so nothing is linked here; where they are missing, loading
 * fails and rudp falls back to libsodium or node:crypto (see
 * src/node/openssl-aead.ts). Built by scripts/build-native.mjs.
 *
 * Every argument is checked here, not only in JavaScript: a wrong length
 * would otherwise be a write past a buffer. Failures of `open` are `false`;
 * misuse of `seal` throws.
 */
#include <node_api.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <limits.h>
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

/* seal(key, nonce, ad, plaintext, out): out = ciphertext || tag, exactly plaintext + 16 bytes. Throws on misuse. */
static napi_value seal(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  unsigned char *key, *nonce, *ad, *plaintext, *out;
  size_t key_len, nonce_len, ad_len, plaintext_len, out_len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5 || !uint8_bytes(env, argv[0], &key, &key_len) ||
      !uint8_bytes(env, argv[1], &nonce, &nonce_len) || !uint8_bytes(env, argv[2], &ad, &ad_len) || !uint8_bytes(env, argv[3], &plaintext, &plaintext_len) ||
      !uint8_bytes(env, argv[4], &out, &out_len) || key_len != KEY_LEN || nonce_len != NONCE_LEN || ad_len > INT_MAX || plaintext_len > INT_MAX - TAG_LEN ||
      out_len != plaintext_len + TAG_LEN) {
    napi_throw_range_error(env, NULL, "ChaCha20-Poly1305: a 32-byte key, a 12-byte nonce and an output of plaintext + 16 bytes");
    return NULL;
  }
  EVP_CIPHER_CTX *ctx = context(env, 1);
  int n;
  if (ctx == NULL || EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, 1) != 1 || (ad_len > 0 && EVP_CipherUpdate(ctx, NULL, &n, ad, (int)ad_len) != 1) ||
      (plaintext_len > 0 && EVP_CipherUpdate(ctx, out, &n, plaintext, (int)plaintext_len) != 1) || EVP_CipherFinal_ex(ctx, out + plaintext_len, &n) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, out + plaintext_len) != 1) {
    napi_throw_error(env, NULL, "OpenSSL could not seal the packet");
    return NULL;
  }
  return NULL;
}

/* open(key, nonce, ad, ciphertext, out) -> boolean: out = plaintext (ciphertext - 16 bytes; may be ciphertext's own first bytes). */
static napi_value open_packet(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  unsigned char *key, *nonce, *ad, *ciphertext, *out;
  size_t key_len, nonce_len, ad_len, ciphertext_len, out_len;
  int ok = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 5 && uint8_bytes(env, argv[0], &key, &key_len) &&
      uint8_bytes(env, argv[1], &nonce, &nonce_len) && uint8_bytes(env, argv[2], &ad, &ad_len) && uint8_bytes(env, argv[3], &ciphertext, &ciphertext_len) &&
      uint8_bytes(env, argv[4], &out, &out_len) && key_len == KEY_LEN && nonce_len == NONCE_LEN && ad_len <= INT_MAX && ciphertext_len >= TAG_LEN &&
      ciphertext_len <= INT_MAX && out_len == ciphertext_len - TAG_LEN) {
    EVP_CIPHER_CTX *ctx = context(env, 0);
    unsigned char tag[TAG_LEN];
    int n;
    /* The tag is copied out first: opening in place overwrites the body, never the tag, but the copy keeps that obvious. */
    memcpy(tag, ciphertext + out_len, TAG_LEN);
    ok = ctx != NULL && EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, 0) == 1 && (ad_len == 0 || EVP_CipherUpdate(ctx, NULL, &n, ad, (int)ad_len) == 1) &&
         (out_len == 0 || EVP_CipherUpdate(ctx, out, &n, ciphertext, (int)out_len) == 1) && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, tag) == 1 &&
         EVP_CipherFinal_ex(ctx, out + out_len, &n) == 1;
    /* A forgery's plaintext is never handed out: clear what was decrypted, as libsodium does. */
    if (!ok && out_len > 0) OPENSSL_cleanse(out, out_len);
  }
  napi_value result;
  napi_get_boolean(env, ok, &result);
  return result;
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
  Contexts *c = calloc(1, sizeof(Contexts));
  if (c == NULL || napi_set_instance_data(env, c, free_contexts, NULL) != napi_ok) {
    free(c);
    napi_throw_error(env, NULL, "openssl-aead: out of memory");
    return NULL;
  }
  export_function(env, exports, "seal", seal);
  export_function(env, exports, "open", open_packet);
  export_function(env, exports, "scrub", scrub);
  return exports;
}
