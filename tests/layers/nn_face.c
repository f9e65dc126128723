/* A probe of the layer walls (tests/test_layers.sh): the engine knows nothing of faces.
 * expect: forbidden */
#include "face/face.h"
