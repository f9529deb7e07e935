/*
 * ChaCha20-Poly1305 (RFC 8439) per packet, on the OpenSSL that Node itself
 * carries. node:crypto reaches the same cipher only through a stream object
 * built per call (about 5 us per packet); libsodium's build in sodium-native
 * runs about 2x slower per byte than OpenSSL's vectorised code. This addon
 * keeps one cipher context per key and direction and re-keys only the nonce
 * per packet.
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

/* One packet key: its bytes, and a context per direction made on first use (a key seals or opens, rarely both). */
typedef struct {
  unsigned char key[KEY_LEN];
  EVP_CIPHER_CTX *seal;
  EVP_CIPHER_CTX *open;
  int disposed;
} PacketKey;

static void dispose_key(PacketKey *k) {
  EVP_CIPHER_CTX_free(k->seal); /* frees and cleanses the expanded key state */
  EVP_CIPHER_CTX_free(k->open);
  k->seal = NULL;
  k->open = NULL;
  OPENSSL_cleanse(k->key, KEY_LEN);
  k->disposed = 1;
}

static void finalize_key(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  dispose_key((PacketKey *)data);
  free(data);
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

static PacketKey *key_arg(napi_env env, napi_value value) {
  void *k = NULL;
  if (napi_get_value_external(env, value, &k) != napi_ok) return NULL;
  return (PacketKey *)k;
}

/* The context of one direction, initialised with the key on first use; NULL if OpenSSL fails. */
static EVP_CIPHER_CTX *context(PacketKey *k, int encrypt) {
  EVP_CIPHER_CTX **slot = encrypt ? &k->seal : &k->open;
  if (*slot != NULL) return *slot;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (ctx == NULL) return NULL;
  if (EVP_CipherInit_ex(ctx, EVP_chacha20_poly1305(), NULL, k->key, NULL, encrypt) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return NULL;
  }
  *slot = ctx;
  return ctx;
}

/* createKey(key: Uint8Array(32)) -> external */
static napi_value create_key(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  unsigned char *key;
  size_t key_len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 || !uint8_bytes(env, argv[0], &key, &key_len) || key_len != KEY_LEN) {
    napi_throw_range_error(env, NULL, "ChaCha20-Poly1305 needs a 32-byte key");
    return NULL;
  }
  PacketKey *k = calloc(1, sizeof(PacketKey));
  if (k == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  memcpy(k->key, key, KEY_LEN);
  napi_value external;
  if (napi_create_external(env, k, finalize_key, NULL, &external) != napi_ok) {
    dispose_key(k);
    free(k);
    napi_throw_error(env, NULL, "could not wrap the key");
    return NULL;
  }
  return external;
}

/* disposeKey(key): wipes it now instead of at garbage collection; the key seals and opens nothing after. */
static napi_value dispose(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  PacketKey *k;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 1 && (k = key_arg(env, argv[0])) != NULL) dispose_key(k);
  return NULL;
}

/* seal(key, nonce, ad, plaintext, out): out = ciphertext || tag, exactly plaintext + 16 bytes. Throws on misuse. */
static napi_value seal(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  PacketKey *k;
  unsigned char *nonce, *ad, *plaintext, *out;
  size_t nonce_len, ad_len, plaintext_len, out_len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5 || (k = key_arg(env, argv[0])) == NULL || k->disposed ||
      !uint8_bytes(env, argv[1], &nonce, &nonce_len) || !uint8_bytes(env, argv[2], &ad, &ad_len) || !uint8_bytes(env, argv[3], &plaintext, &plaintext_len) ||
      !uint8_bytes(env, argv[4], &out, &out_len) || nonce_len != NONCE_LEN || ad_len > INT_MAX || plaintext_len > INT_MAX - TAG_LEN ||
      out_len != plaintext_len + TAG_LEN) {
    napi_throw_range_error(env, NULL, "ChaCha20-Poly1305: a live key, a 12-byte nonce and an output of plaintext + 16 bytes");
    return NULL;
  }
  EVP_CIPHER_CTX *ctx = context(k, 1);
  int n;
  if (ctx == NULL || EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, 1) != 1 || (ad_len > 0 && EVP_CipherUpdate(ctx, NULL, &n, ad, (int)ad_len) != 1) ||
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
  PacketKey *k;
  unsigned char *nonce, *ad, *ciphertext, *out;
  size_t nonce_len, ad_len, ciphertext_len, out_len;
  int ok = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 5 && (k = key_arg(env, argv[0])) != NULL && !k->disposed &&
      uint8_bytes(env, argv[1], &nonce, &nonce_len) && uint8_bytes(env, argv[2], &ad, &ad_len) && uint8_bytes(env, argv[3], &ciphertext, &ciphertext_len) &&
      uint8_bytes(env, argv[4], &out, &out_len) && nonce_len == NONCE_LEN && ad_len <= INT_MAX && ciphertext_len >= TAG_LEN && ciphertext_len <= INT_MAX &&
      out_len == ciphertext_len - TAG_LEN) {
    EVP_CIPHER_CTX *ctx = context(k, 0);
    unsigned char tag[TAG_LEN];
    int n;
    /* The tag is copied out first: opening in place overwrites the body, never the tag, but the copy keeps that obvious. */
    memcpy(tag, ciphertext + out_len, TAG_LEN);
    ok = ctx != NULL && EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, 0) == 1 && (ad_len == 0 || EVP_CipherUpdate(ctx, NULL, &n, ad, (int)ad_len) == 1) &&
         (out_len == 0 || EVP_CipherUpdate(ctx, out, &n, ciphertext, (int)out_len) == 1) && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, tag) == 1 &&
         EVP_CipherFinal_ex(ctx, out + out_len, &n) == 1;
    /* A forgery's plaintext is never handed out: clear what was decrypted, as libsodium does. */
    if (!ok && out_len > 0) OPENSSL_cleanse(out, out_len);
  }
  napi_value result;
  napi_get_boolean(env, ok, &result);
  return result;
}

static void export_function(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) == napi_ok) napi_set_named_property(env, exports, name, fn);
}

NAPI_MODULE_INIT() {
  export_function(env, exports, "createKey", create_key);
  export_function(env, exports, "disposeKey", dispose);
  export_function(env, exports, "seal", seal);
  export_function(env, exports, "open", open_packet);
  return exports;
}
