/* A probe of the layer walls (tests/test_layers.sh): the server sees only mien.h (and its own
 * headers), not the operations layer it used to reach into, so this include must fail to
 * compile. expect: forbidden */
#include "api/ops.h"
