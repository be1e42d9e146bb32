// tsbuild-addon.node (built by scripts/build-native.js): what Node's API
// cannot do cheaply. exit(): the CLI's exit (exit.c); spawn() and reap(): a
// helper process started without copying this one (spawn.c); sha256*() and
// randomFill(): digests and random names without loading node:crypto
// (sha256.c).
#include "napi.h"

napi_value addon_throw(napi_env env, const char *code, const char *message) {
  napi_throw_error(env, code, message);
  return NULL;
}

napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  static const struct { const char *name; napi_callback fn; } fns[] = {
    { "exit", addon_exit }, { "spawn", addon_spawn }, { "reap", addon_reap },
    { "sha256Available", addon_sha256_available }, { "sha256New", addon_sha256_new },
    { "sha256Update", addon_sha256_update }, { "sha256Digest", addon_sha256_digest },
    { "randomFill", addon_random_fill },
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value fn;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &fn) == 0) napi_set_named_property(env, exports, fns[i].name, fn);
  }
  return exports;
}
