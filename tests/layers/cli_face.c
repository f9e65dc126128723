/* A probe of the layer walls (tests/test_layers.sh): the CLI uses the public API (mien.h) alone,
 * so an internal header of the face layer must fail to compile. expect: forbidden */
#include "face/face.h"
