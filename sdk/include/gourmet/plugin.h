/* The Gourmet analyzer plugin C ABI.
 *
 * A plugin is a shared library exporting one function, gourmet_plugin_entry,
 * that returns a static gourmet_plugin_api. The host checks abi_version before
 * calling anything else and refuses a mismatch. Only C types cross this
 * boundary, so a plugin built by another compiler or release still loads.
 * Bump GOURMET_PLUGIN_ABI_VERSION on any incompatible change to this file. */
#ifndef GOURMET_PLUGIN_H_
#define GOURMET_PLUGIN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GOURMET_PLUGIN_ABI_VERSION 1u
#define GOURMET_PLUGIN_ENTRY_SYMBOL "gourmet_plugin_entry"

typedef struct gourmet_str {
  const char* data; /* not NUL-terminated in general */
  size_t len;
} gourmet_str;

enum gourmet_direction { GOURMET_DIR_ORIG = 0, GOURMET_DIR_RESP = 1 };

/* One run of payload in one direction; chunks come in arrival order. */
typedef struct gourmet_chunk {
  int32_t direction; /* enum gourmet_direction */
  int64_t ts_us;     /* microseconds since the epoch */
  const uint8_t* data;
  size_t len;
  uint64_t gap_before; /* bytes missing in this direction just before data */
} gourmet_chunk;

typedef struct gourmet_endpoint {
  gourmet_str addr; /* printable address, e.g. "10.0.0.1" or "fd00::1" */
  uint16_t port;
} gourmet_endpoint;

/* A result an earlier plugin produced: its key and its JSON text. */
typedef struct gourmet_result {
  gourmet_str key;
  gourmet_str json;
} gourmet_result;

/* Read-only view of a finished connection, valid for the duration of a call. */
typedef struct gourmet_connection {
  gourmet_str uid;
  gourmet_str proto; /* "tcp", "udp", "icmp", ... */
  gourmet_endpoint orig;
  gourmet_endpoint resp;
  int64_t ts_us;
  int64_t duration_us;
  uint64_t orig_pkts, resp_pkts;
  uint64_t orig_bytes, resp_bytes;
  uint64_t missed_bytes;
  gourmet_str conn_state;
  gourmet_str history;
  const gourmet_chunk* chunks;
  size_t n_chunks;
  const gourmet_result* results; /* results of plugins that ran before */
  size_t n_results;
} gourmet_connection;

/* Where analyze() puts its answer. Both calls copy their arguments. */
typedef struct gourmet_output {
  void* host;
  void (*set_result)(void* host, const char* json, size_t len);
  void (*set_error)(void* host, const char* message, size_t len);
} gourmet_output;

typedef struct gourmet_plugin_api {
  uint32_t abi_version; /* GOURMET_PLUGIN_ABI_VERSION the plugin was built with */
  uint32_t struct_size; /* sizeof(gourmet_plugin_api) in the plugin's build */
  const char* name;     /* default result key, e.g. "http" */
  const char* version;  /* the plugin's own version string */

  /* Creates an instance from its config (JSON text, "{}" when absent).
   * Returns NULL on error after writing a NUL-terminated message into err. */
  void* (*create)(const char* config_json, size_t config_len, char* err, size_t err_cap);
  void (*destroy)(void* instance);
  /* Returns non-zero when analyze() should run on this connection. */
  int (*filter)(void* instance, const gourmet_connection* conn);
  /* Analyses the connection and calls out->set_result or out->set_error.
   * Returns non-zero when the protocol was recognised (listed in `service`). */
  int (*analyze)(void* instance, const gourmet_connection* conn, const gourmet_output* out);
} gourmet_plugin_api;

typedef const gourmet_plugin_api* (*gourmet_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* GOURMET_PLUGIN_H_ */
