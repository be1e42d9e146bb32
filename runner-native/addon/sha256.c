// sha256New(), sha256Update(hash, bytes), sha256Digest(hash) and
// randomFill(bytes): SHA-256 and random bytes without node:crypto
// (cache/hash.ts).
//
// node:crypto loads ~46 internal modules on its first use: ~2 ms of a
// one-file rebuild, which hashes a few small files. The same OpenSSL does
// the work here: Node exports its symbols for addons. They are looked up
// as the first hash starts, so a Node built without them only leaves this
// part unused (sha256Available() is false) and the rest of the addon works.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>
#include "napi.h"

typedef struct evp_md_ctx_st EVP_MD_CTX;
typedef struct evp_md_st EVP_MD;
typedef struct engine_st ENGINE;

static struct {
  EVP_MD_CTX *(*ctx_new)(void);
  void (*ctx_free)(EVP_MD_CTX *);
  const EVP_MD *(*sha256)(void);
  int (*init)(EVP_MD_CTX *, const EVP_MD *, ENGINE *);
  int (*update)(EVP_MD_CTX *, const void *, size_t);
  int (*final)(EVP_MD_CTX *, unsigned char *, unsigned int *);
  int state; // 0: not looked up yet, 1: found, -1: missing
} evp;

static bool evp_found(void) {
  if (evp.state == 0) {
    *(void **)&evp.ctx_new = dlsym(RTLD_DEFAULT, "EVP_MD_CTX_new");
    *(void **)&evp.ctx_free = dlsym(RTLD_DEFAULT, "EVP_MD_CTX_free");
    *(void **)&evp.sha256 = dlsym(RTLD_DEFAULT, "EVP_sha256");
    *(void **)&evp.init = dlsym(RTLD_DEFAULT, "EVP_DigestInit_ex");
    *(void **)&evp.update = dlsym(RTLD_DEFAULT, "EVP_DigestUpdate");
    *(void **)&evp.final = dlsym(RTLD_DEFAULT, "EVP_DigestFinal_ex");
    evp.state = evp.ctx_new && evp.ctx_free && evp.sha256 && evp.init && evp.update && evp.final ? 1 : -1;
  }
  return evp.state == 1;
}

// What a hash's JavaScript handle holds: NULL once digested.
struct hash {
  EVP_MD_CTX *ctx;
};

static void free_hash(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct hash *h = data;
  if (h->ctx) evp.ctx_free(h->ctx);
  free(h);
}

static struct hash *hash_arg(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != 0 || argc < want || napi_get_value_external(env, argv[0], &data) != 0) return NULL;
  return data;
}

static int bytes_arg(napi_env env, napi_value v, void **data, size_t *length) {
  int type;
  napi_value buffer;
  size_t offset;
  // 1: Uint8Array (a Buffer is one)
  if (napi_get_typedarray_info(env, v, &type, length, data, &buffer, &offset) != 0 || type != 1) return -1;
  return 0;
}

napi_value addon_sha256_available(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_get_boolean(env, evp_found(), &result);
  return result;
}

napi_value addon_sha256_new(napi_env env, napi_callback_info info) {
  (void)info;
  if (!evp_found()) return addon_throw(env, "ENOSYS", "sha256New: this Node exports no OpenSSL digest functions");
  struct hash *h = malloc(sizeof *h);
  if (!h) return addon_throw(env, "ENOMEM", "sha256New: out of memory");
  h->ctx = evp.ctx_new();
  if (!h->ctx || evp.init(h->ctx, evp.sha256(), NULL) != 1) {
    if (h->ctx) evp.ctx_free(h->ctx);
    free(h);
    return addon_throw(env, "EIO", "sha256New: OpenSSL could not start a SHA-256 digest");
  }
  napi_value result;
  if (napi_create_external(env, h, free_hash, NULL, &result) != 0) {
    free_hash(env, h, NULL);
    return addon_throw(env, "ENOMEM", "sha256New: out of memory");
  }
  return result;
}

napi_value addon_sha256_update(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct hash *h = hash_arg(env, info, 2, argv);
  void *data;
  size_t length;
  if (!h || bytes_arg(env, argv[1], &data, &length) != 0) return addon_throw(env, "EINVAL", "sha256Update(hash, bytes): a hash and a Uint8Array");
  if (!h->ctx) return addon_throw(env, "ERR_CRYPTO_HASH_FINALIZED", "Digest already called");
  if (evp.update(h->ctx, data, length) != 1) return addon_throw(env, "EIO", "sha256Update: OpenSSL failed");
  return NULL;
}

napi_value addon_sha256_digest(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct hash *h = hash_arg(env, info, 1, argv);
  if (!h) return addon_throw(env, "EINVAL", "sha256Digest(hash): a hash");
  if (!h->ctx) return addon_throw(env, "ERR_CRYPTO_HASH_FINALIZED", "Digest already called");
  unsigned char md[32];
  unsigned int len = 0;
  int ok = evp.final(h->ctx, md, &len) == 1 && len == sizeof md;
  evp.ctx_free(h->ctx);
  h->ctx = NULL;
  if (!ok) return addon_throw(env, "EIO", "sha256Digest: OpenSSL failed");
  napi_value result;
  void *copy;
  if (napi_create_buffer_copy(env, sizeof md, md, &copy, &result) != 0) return addon_throw(env, "ENOMEM", "sha256Digest: out of memory");
  return result;
}

// Fills the bytes with getrandom(2)'s, as node:crypto's randomBytes() (OpenSSL's generator, seeded from it) would.
napi_value addon_random_fill(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *data;
  size_t length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != 0 || argc < 1 || bytes_arg(env, argv[0], &data, &length) != 0)
    return addon_throw(env, "EINVAL", "randomFill(bytes): a Uint8Array");
  for (size_t done = 0; done < length;) {
    ssize_t n = getrandom((char *)data + done, length - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return addon_throw(env, "EIO", "randomFill: getrandom failed");
    }
    done += (size_t)n;
  }
  return NULL;
}
