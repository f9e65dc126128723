/* A probe of the layer walls (tests/test_layers.sh): the face layer may use the image layer, so
 * this include compiles, showing that the forbidden probe fails for the wall alone.
 * expect: allowed */
#include "image/image.h"
