// The few Node-API functions the addon uses, declared here (the API's C ABI
// is stable), so that building it needs no Node headers.
#ifndef TSBUILD_NAPI_H
#define TSBUILD_NAPI_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
typedef struct napi_callback_info__ *napi_callback_info;
typedef napi_value (*napi_callback)(napi_env, napi_callback_info);
typedef int napi_status; // napi_ok is 0
#define NAPI_AUTO_LENGTH SIZE_MAX

extern napi_status napi_create_function(napi_env, const char *, size_t, napi_callback, void *, napi_value *);
extern napi_status napi_set_named_property(napi_env, napi_value, const char *, napi_value);
extern napi_status napi_get_cb_info(napi_env, napi_callback_info, size_t *, napi_value *, napi_value *, void **);
extern napi_status napi_get_value_int32(napi_env, napi_value, int32_t *);
extern napi_status napi_get_value_string_utf8(napi_env, napi_value, char *, size_t, size_t *);
extern napi_status napi_get_array_length(napi_env, napi_value, uint32_t *);
extern napi_status napi_get_element(napi_env, napi_value, uint32_t, napi_value *);
extern napi_status napi_create_array_with_length(napi_env, size_t, napi_value *);
extern napi_status napi_set_element(napi_env, napi_value, uint32_t, napi_value);
extern napi_status napi_create_int32(napi_env, int32_t, napi_value *);
extern napi_status napi_get_undefined(napi_env, napi_value *);
extern napi_status napi_throw_error(napi_env, const char *, const char *);
typedef void (*napi_finalize)(napi_env, void *, void *);
extern napi_status napi_create_external(napi_env, void *, napi_finalize, void *, napi_value *);
extern napi_status napi_get_value_external(napi_env, napi_value, void **);
extern napi_status napi_get_typedarray_info(napi_env, napi_value, int *, size_t *, void **, napi_value *, size_t *);
extern napi_status napi_create_buffer_copy(napi_env, size_t, const void *, void **, napi_value *);
extern napi_status napi_get_boolean(napi_env, bool, napi_value *);

// Throws an Error with that code (an errno's name, ...) and message; returns NULL for the caller to return (addon.c).
napi_value addon_throw(napi_env env, const char *code, const char *message);

// The addon's functions (exit.c, spawn.c, sha256.c).
napi_value addon_exit(napi_env env, napi_callback_info info);
napi_value addon_spawn(napi_env env, napi_callback_info info);
napi_value addon_reap(napi_env env, napi_callback_info info);
napi_value addon_sha256_available(napi_env env, napi_callback_info info);
napi_value addon_sha256_new(napi_env env, napi_callback_info info);
napi_value addon_sha256_update(napi_env env, napi_callback_info info);
napi_value addon_sha256_digest(napi_env env, napi_callback_info info);
napi_value addon_random_fill(napi_env env, napi_callback_info info);

#endif
