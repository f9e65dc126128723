/* A probe of the layer walls (tests/test_layers.sh): the face layer may not see the store, which
 * lies above it, so this include must fail to compile. expect: forbidden */
#include "store/store.h"
