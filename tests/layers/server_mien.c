/* A probe of the layer walls (tests/test_layers.sh): what the server may include, mien.h and its
 * own headers, compiles as the server; so server_ops fails because of the wall. expect: allowed */
#include "server/server.h"
